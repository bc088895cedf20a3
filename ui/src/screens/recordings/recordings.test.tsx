import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { StrictMode } from "react";
import { describe, expect, it, vi } from "vitest";
import { translate } from "../../i18n";
import { localTime, shortTime } from "../../lib/format";
import { axeViolations } from "../../test/axe";
import { contextOf } from "../../test/canvas";
import { backend, renderIn } from "../../test/helpers";
import { formatLocal, formatLocalDate } from "./range";
import { RecordingsScreen } from "./RecordingsScreen";
import { tickLabel } from "./timeline/draw";
import { DAY, HOUR, localDay } from "./timeline/scale";

// "Now" of the mock catalog: fixed, so the data (and the tests) repeat. studio/cam1 is
// live until NOW, so it is the stream shown first, on its last day.
const NOW = Date.UTC(2026, 11, 6, 18, 0, 0);
const WIDTH = 960; // the timeline's width in jsdom (no layout)

const showing = (from: number, to: number) => translate("en", "rec.showing", { from: localTime(from, "en"), to: localTime(to, "en") });

async function openScreen(opts = {}, overrides = {}) {
  const b = backend({ now: NOW, ...opts }, overrides);
  const user = userEvent.setup();
  const r = renderIn(<RecordingsScreen />);
  const canvas = await screen.findByTestId("timeline");
  await waitFor(() => expect(b.of("spans").length).toBeGreaterThan(0));
  await waitFor(() => expect(b.of("thumbnail_url").length).toBeGreaterThan(0));
  const info = (await import("../../ipc")).recordedStreams;
  const streams = await info();
  const cam1 = streams.find((s) => s.app === "studio" && s.stream === "cam1")!;
  return { b, user, canvas, cam1, ...r };
}

/** Selects [from, to) by typing it, as a streamer would. */
async function typeRange(user: ReturnType<typeof userEvent.setup>, from: number, to: number) {
  const start = screen.getByLabelText("Start");
  const end = screen.getByLabelText("End");
  await user.clear(start);
  await user.type(start, formatLocal(from));
  await user.clear(end);
  await user.type(end, formatLocal(to));
  await user.click(screen.getByRole("button", { name: "Apply" }));
}

describe("Recordings: browsing", () => {
  it("lists recorded streams grouped by app, with times and sizes, and opens the latest", async () => {
    const { canvas, cam1 } = await openScreen();
    const nav = screen.getByRole("navigation", { name: "Recorded streams" });
    expect(within(nav).getByRole("heading", { name: "studio" })).toBeInTheDocument();
    expect(within(nav).getByRole("heading", { name: "live" })).toBeInTheDocument();
    const buttons = within(nav).getAllByRole("button");
    expect(buttons).toHaveLength(3);
    const current = within(nav).getByRole("button", { current: true });
    expect(current).toHaveTextContent("cam1");
    expect(current).toHaveTextContent(shortTime(cam1.first_ms, "en"));
    expect(current).toHaveTextContent(/\d+ recordings · [\d.]+ GB/);
    expect(screen.getByRole("heading", { name: "studio/cam1" })).toBeInTheDocument();
    // The last day of the stream, with its text alternative.
    await waitFor(() => expect(screen.getByText(showing(cam1.last_ms - DAY, cam1.last_ms))).toBeInTheDocument());
    const label = canvas.getAttribute("aria-label")!;
    expect(label).toMatch(/^Timeline of studio\/cam1 from .*\. Recorded: \d+:\d\d:\d\d\. Pieces: \d+\. Gaps: \d+\. Reconnects: \d+\. Chapters: \d+\./);
    expect(label).toMatch(/ at \d\d:\d\d:\d\d/); // the chapters, by title and time
    expect(canvas).toHaveAttribute("tabindex", "0");
  });

  it("draws and loads thumbnails under StrictMode (effects mounted twice, as in dev)", async () => {
    backend({ now: NOW, recordings: "month" });
    renderIn(
      <StrictMode>
        <RecordingsScreen />
      </StrictMode>,
    );
    const canvas = (await screen.findByTestId("timeline")) as HTMLCanvasElement;
    await waitFor(() => expect(contextOf(canvas).count("fillRect")).toBeGreaterThan(5));
    await waitFor(() => expect(screen.getByTestId("thumbs").querySelectorAll("img").length).toBeGreaterThan(3));
  });

  it("switches streams", async () => {
    const { b, user } = await openScreen();
    await user.click(screen.getByRole("button", { name: /^cam1.*/, current: false }));
    expect(await screen.findByRole("heading", { name: "live/cam1" })).toBeInTheDocument();
    await waitFor(() => expect(b.of("spans").some((a) => a.app === "live")).toBe(true));
  });

  it("moves a day back and forth, to a picked day, and fits all", async () => {
    const { user, cam1 } = await openScreen();
    await waitFor(() => expect(screen.getByText(showing(cam1.last_ms - DAY, cam1.last_ms))).toBeInTheDocument());
    const [today] = localDay(cam1.last_ms - DAY / 2);
    const [prevStart, prevEnd] = localDay(today - HOUR);
    await user.click(screen.getByRole("button", { name: /Previous day/ }));
    await waitFor(() => expect(screen.getByText(showing(prevStart, prevEnd))).toBeInTheDocument());
    await user.click(screen.getByRole("button", { name: /Next day/ }));
    await waitFor(() => expect(screen.getByText(showing(today, today + (prevEnd - prevStart)))).toBeInTheDocument());
    fireEvent.change(screen.getByLabelText("Day to show"), { target: { value: formatLocalDate(cam1.first_ms) } });
    const [d0, d1] = localDay(cam1.first_ms);
    await waitFor(() => expect(screen.getByText(showing(d0, d1))).toBeInTheDocument());
    await user.click(screen.getByRole("button", { name: "Fit all" }));
    await waitFor(() => expect(screen.getByText(showing(cam1.first_ms, cam1.last_ms))).toBeInTheDocument());
  });

  it("pans and zooms with the keyboard, and the thumbnails follow the zoom", async () => {
    // A month without pauses: thumbnails wherever the view goes.
    const { b, canvas, cam1 } = await openScreen({ recordings: "month" });
    await waitFor(() => expect(screen.getByText(showing(cam1.last_ms - DAY, cam1.last_ms))).toBeInTheDocument());
    const thumbs = screen.getByTestId("thumbs");
    await waitFor(() => expect(thumbs.querySelectorAll("img").length).toBeGreaterThan(0));
    const ats = () => [...thumbs.querySelectorAll("img")].map((i) => Number(i.getAttribute("data-at"))).sort((x, y) => x - y);
    const stepOf = (a: number[]) => Math.min(...a.slice(1).map((v, i) => v - a[i]));
    const before = ats();
    for (const img of thumbs.querySelectorAll("img")) expect(img).toHaveAttribute("loading", "lazy");
    canvas.focus();
    fireEvent.keyDown(canvas, { key: "+" });
    fireEvent.keyDown(canvas, { key: "+" });
    const mid = cam1.last_ms - DAY / 2;
    await waitFor(() => expect(screen.getByText(showing(mid - DAY / 8, mid + DAY / 8))).toBeInTheDocument());
    await waitFor(() => expect(stepOf(ats())).toBeLessThan(stepOf(before)));
    // Thumbnails are asked for where they are shown; answers are cached, not asked again.
    const asked = b.of("thumbnail_url").map((a) => a.atMs as number);
    expect(new Set(asked).size).toBe(asked.length);
    expect(b.of("thumbnail_url").every((a) => a.width === 192 && a.app === "studio")).toBe(true);
    // The screen reader hears the new view.
    expect(screen.getByRole("status", { name: "" }).textContent ?? "").toBeDefined();
    fireEvent.keyDown(canvas, { key: "ArrowRight" });
    await waitFor(() => expect(screen.getByText(showing(mid - DAY / 8 + DAY / 40, mid + DAY / 8 + DAY / 40))).toBeInTheDocument());
    fireEvent.keyDown(canvas, { key: "Home" });
    await waitFor(() => expect(screen.getByText(showing(cam1.first_ms, cam1.last_ms))).toBeInTheDocument());
  });

  it("drops a thumbnail the shell could not make (its URL fails to load)", async () => {
    backend({ now: NOW, recordings: "month" });
    renderIn(<RecordingsScreen />);
    const thumbs = await screen.findByTestId("thumbs");
    await waitFor(() => expect(thumbs.querySelectorAll("img").length).toBeGreaterThan(3));
    const n = thumbs.querySelectorAll("img").length;
    fireEvent.error(thumbs.querySelector("img")!);
    await waitFor(() => expect(thumbs.querySelectorAll("img")).toHaveLength(n - 1));
  });

  it("asks for the key frame where the shell made no picture, and names a codec this computer cannot show", async () => {
    // An H.265 recording: the engine answers 415 for the JPEG, then hands out the key
    // frame; jsdom has no WebCodecs, like a webview without an H.265 decoder.
    const fetched: string[] = [];
    const fetchSpy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input) => {
      fetched.push(String(input));
      return new Response(new Uint8Array([0, 0, 0, 1, 0x40]), { status: 200, headers: { "x-codec": "hvc1.1.6.L93.B0", "x-width": "1920", "x-height": "1080" } });
    });
    try {
      const b = backend({ now: NOW, recordings: "month" }, { keyframe_url: (a) => `http://127.0.0.1:9/keyframe/${a.app}/${a.stream}?at=${a.atMs}&token=t` });
      renderIn(<RecordingsScreen />);
      const thumbs = await screen.findByTestId("thumbs");
      await waitFor(() => expect(thumbs.querySelectorAll("img").length).toBeGreaterThan(3));
      const img = thumbs.querySelector("img")!;
      const at = Number(img.getAttribute("data-at"));
      fireEvent.error(img);
      expect(await within(thumbs).findByText("H.265: no picture on this computer")).toHaveAttribute("data-at", String(at));
      expect(b.of("keyframe_url").at(-1)).toMatchObject({ atMs: at });
      expect(fetched.at(-1)).toContain(`/keyframe/`);
    } finally {
      fetchSpy.mockRestore();
    }
  });

  it("draws spans, reconnect ticks and chapter titles on the canvas", async () => {
    const { canvas, cam1 } = await openScreen();
    const ctx = contextOf(canvas as HTMLCanvasElement);
    // A day is too crowded for titles: zoom to the last 3 hours (the live show).
    await waitFor(() => expect(screen.getByText(showing(cam1.last_ms - DAY, cam1.last_ms))).toBeInTheDocument());
    for (let i = 0; i < 3; i++) fireEvent.keyDown(canvas, { key: "+" });
    for (let i = 0; i < 7; i++) fireEvent.keyDown(canvas, { key: "ArrowRight", shiftKey: true });
    await waitFor(() => expect(screen.getByText(showing(cam1.last_ms - 3 * HOUR, cam1.last_ms))).toBeInTheDocument());
    const titles = ["Intro", "Q&A", "Boss fight", "Speedrun", "Break", "Sponsor", "Überraschung", "精彩时刻", "Raid", "Chat plays", "Tutorial", "Outro"];
    // Chapter flags with their titles (whole or elided), once the chapters are in.
    await waitFor(() => expect(ctx.texts().filter((t) => titles.some((x) => t.startsWith(x.slice(0, 3)))).length).toBeGreaterThanOrEqual(3));
    expect(ctx.texts()).toContain(tickLabel(new Date(cam1.last_ms - HOUR), "en")); // hours on the axis
    // The pointer's cursor line with its time to the second.
    fireEvent.mouseMove(canvas, { clientX: 480 });
    const at = new Date(cam1.last_ms - 1.5 * HOUR);
    const pad = (n: number) => String(n).padStart(2, "0");
    await waitFor(() => expect(ctx.texts()).toContain(`${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`));
    const zone = (await import("./timeline/scale")).zoneName(cam1.last_ms, "en");
    expect(ctx.texts()).toContain(zone); // the zone on the axis
    // Spans drawn as runs, a reconnect tick as a triangle.
    expect(ctx.count("fillRect")).toBeGreaterThan(5);
    expect(ctx.count("fill")).toBeGreaterThan(0);
  });

  it("keeps up with a month of 30 s segments", async () => {
    const { b, canvas } = await openScreen({ recordings: "month" });
    fireEvent.keyDown(canvas, { key: "Home" });
    await waitFor(() => expect(canvas.getAttribute("aria-label")).toMatch(/Gaps: 5\. Reconnects: 12\./), { timeout: 5000 });
    const all = b.of("spans").at(-1)!;
    expect((all.endMs as number) - (all.startMs as number)).toBeGreaterThan(29 * DAY);
    const ctx = contextOf(canvas as HTMLCanvasElement);
    ctx.reset();
    fireEvent.keyDown(canvas, { key: "ArrowLeft" });
    await waitFor(() => expect(ctx.count("fillRect")).toBeGreaterThan(0));
    expect(ctx.count("fillRect")).toBeLessThan(400); // columns, not 86,400 segments
  });
});

describe("Recordings: range and preview", () => {
  it("selects a range with Shift+drag and loads it in the preview", async () => {
    const { b, canvas, cam1 } = await openScreen();
    await waitFor(() => expect(screen.getByText(showing(cam1.last_ms - DAY, cam1.last_ms))).toBeInTheDocument());
    const v0 = cam1.last_ms - DAY;
    const at = (x: number) => v0 + (x / WIDTH) * DAY;
    fireEvent.mouseDown(canvas, { clientX: 400, button: 0, shiftKey: true });
    fireEvent.mouseMove(window, { clientX: 700 });
    fireEvent.mouseUp(window, { clientX: 700 });
    await waitFor(() => expect(screen.getByLabelText("Start")).toHaveValue(formatLocal(at(400))));
    expect(screen.getByLabelText("End")).toHaveValue(formatLocal(at(700)));
    expect(screen.getByTestId("range-facts")).toHaveTextContent("7:30:00 long");
    await waitFor(() => expect(b.of("preview_url").at(-1)).toEqual({ app: "studio", stream: "cam1", startMs: Math.round(at(400)), endMs: Math.round(at(700)) }));
    // Dragging backwards gives the same range in order.
    fireEvent.mouseDown(canvas, { clientX: 300, button: 0, shiftKey: true });
    fireEvent.mouseMove(window, { clientX: 100 });
    fireEvent.mouseUp(window, { clientX: 100 });
    await waitFor(() => expect(screen.getByLabelText("Start")).toHaveValue(formatLocal(at(100))));
    expect(screen.getByLabelText("End")).toHaveValue(formatLocal(at(300)));
  });

  it("selects with the Select mode, without Shift", async () => {
    const { user, canvas, cam1 } = await openScreen();
    await waitFor(() => expect(screen.getByText(showing(cam1.last_ms - DAY, cam1.last_ms))).toBeInTheDocument());
    await user.click(screen.getByRole("button", { name: "Select a range", pressed: false }));
    fireEvent.mouseDown(canvas, { clientX: 480, button: 0 });
    fireEvent.mouseMove(window, { clientX: 520 });
    fireEvent.mouseUp(window, { clientX: 520 });
    await waitFor(() => expect(screen.getByTestId("range-facts")).toHaveTextContent("1:00:00 long"));
  });

  it("checks typed ranges: unreadable times, end before start, gaps", async () => {
    const { user, cam1 } = await openScreen();
    const start = screen.getByLabelText("Start");
    // One date format on the screen: the placeholders are written like the times shown.
    const localFmt = /^\d\d\/\d\d\/\d{4}, \d\d:\d\d:\d\d$/;
    expect(start.getAttribute("placeholder")).toMatch(localFmt);
    expect(screen.getByLabelText("End").getAttribute("placeholder")).toMatch(localFmt);
    expect(screen.getByText(/^Showing /).textContent).toMatch(/^Showing \d\d\/\d\d\/\d{4}, \d\d:\d\d:\d\d \S+ – \d\d\/\d\d\/\d{4}, /);
    await user.type(start, "yesterday evening");
    await user.type(screen.getByLabelText("End"), "2026-12-06 10:00:00");
    await user.click(screen.getByRole("button", { name: "Apply" }));
    expect(await screen.findByText(/Write the time like \d\d\/\d\d\/\d{4}, \d\d:\d\d:\d\d\./)).toBeInTheDocument();
    expect(start).toHaveAttribute("aria-invalid", "true");
    expect(start).toHaveAccessibleDescription(/Write the time like/);
    await typeRange(user, cam1.last_ms - HOUR, cam1.last_ms - 2 * HOUR);
    expect(await screen.findByText("The end must be after the start.")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Create index" })).toBeNull();
    // The whole stream: longer than what was recorded (gaps between the shows).
    await typeRange(user, cam1.first_ms, cam1.last_ms);
    expect(await screen.findByText(/The range spans gaps/)).toBeInTheDocument();
    expect(screen.getByTestId("range-facts")).toHaveTextContent(/ d \d+:\d\d:\d\d long/);
    // Before anything was recorded: nothing to make, said plainly.
    await typeRange(user, cam1.first_ms - 3 * HOUR, cam1.first_ms - 2 * HOUR);
    expect(await screen.findByText(/Nothing was recorded in this range/)).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Export clip…" })).toBeNull();
    // To the second.
    await typeRange(user, cam1.last_ms - HOUR - 1000, cam1.last_ms - 1000);
    await waitFor(() => expect(screen.getByTestId("range-facts")).toHaveTextContent(/^.* – .*: 1:00:00 long, 0:\d\d:\d\d recorded\.$/));
    expect(screen.getByLabelText("Start")).toHaveValue(formatLocal(cam1.last_ms - HOUR - 1000));
  });

  it("a click on the timeline loads the preview around that time", async () => {
    const { b, canvas, cam1 } = await openScreen();
    await waitFor(() => expect(screen.getByText(showing(cam1.last_ms - DAY, cam1.last_ms))).toBeInTheDocument());
    fireEvent.click(canvas, { clientX: 900 });
    const t = Math.round(cam1.last_ms - DAY + (900 / WIDTH) * DAY);
    await waitFor(() => expect(b.of("preview_url")).toHaveLength(1));
    expect(b.of("preview_url")[0]).toEqual({ app: "studio", stream: "cam1", startMs: t - 3 * HOUR, endMs: cam1.last_ms });
    // jsdom plays no HLS: said plainly, not a blank player.
    expect(await screen.findByText(/This window cannot play the preview/)).toBeInTheDocument();
    // A second click inside the loaded range seeks without loading again.
    fireEvent.click(canvas, { clientX: 880 });
    await new Promise((r) => setTimeout(r, 50));
    expect(b.of("preview_url")).toHaveLength(1);
  });
});

describe("Recordings: index, export, clip", () => {
  it("creates an index and shows its path and bucket URL, each with a copy button", async () => {
    const { b, user, cam1 } = await openScreen();
    const from = cam1.last_ms - HOUR;
    await typeRange(user, from, cam1.last_ms - 1000);
    await user.click(await screen.findByRole("button", { name: "Create index" }));
    const path = (await screen.findByLabelText("Index file")) as HTMLInputElement;
    expect(path.value).toMatch(/^\/home\/me\/Videos\/Tapedeck\/indexes\/studio\/cam1\/.*\.m3u8$/);
    expect((screen.getByLabelText("Bucket URL") as HTMLInputElement).value).toMatch(/^https:\/\/my-streams\.oss-cn-hangzhou\.aliyuncs\.com\/studio\/studio\/cam1\/.*\.m3u8$/);
    expect(screen.getByRole("button", { name: "Copy Index file" })).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Copy Bucket URL" })).toBeInTheDocument();
    expect(b.of("index_create")[0]).toEqual({ query: { app: "studio", stream: "cam1", start: new Date(from).toISOString(), end: new Date(cam1.last_ms - 1000).toISOString(), object: null } });
  });

  it("says when the index is on this computer only", async () => {
    const { user, cam1 } = await openScreen({}, {
      index_create: () => ({ record: { id: 1, app: "studio", stream: "cam1", object: "x.m3u8", start_ms: 0, end_ms: 1, duration: 1, width: 0, height: 0, created_ms: 0 }, path: "/data/indexes/x.m3u8", bucket_url: null }),
    });
    await typeRange(user, cam1.last_ms - HOUR, cam1.last_ms);
    await user.click(await screen.findByRole("button", { name: "Create index" }));
    expect(await screen.findByText(/uploads to no bucket/)).toBeInTheDocument();
    expect(screen.queryByLabelText("Bucket URL")).toBeNull();
  });

  it("exports a clip with progress from the Channel, then offers the finished clip", async () => {
    const { b, user, cam1 } = await openScreen();
    b.state.rec.exportTickMs = 15;
    await typeRange(user, cam1.last_ms - HOUR, cam1.last_ms);
    await user.click(await screen.findByRole("button", { name: "Export clip…" }));
    const output = (await screen.findByLabelText("Save to")) as HTMLInputElement;
    expect(output.value).toMatch(/^\/home\/me\/Videos\/Tapedeck clips\/studio-cam1 .*\.mp4$/);
    expect(b.of("clip_path")[0]).toEqual({ app: "studio", stream: "cam1", startMs: cam1.last_ms - HOUR, endMs: cam1.last_ms });
    await user.click(screen.getByRole("checkbox", { name: /Close gaps/ }));
    await user.click(screen.getByRole("button", { name: "Export" }));
    const bar = await screen.findByRole("progressbar");
    await waitFor(() => expect(screen.getByText(/Exporting: [1-9]\d* of 40 segments/)).toBeInTheDocument());
    expect(Number(bar.getAttribute("value"))).toBeGreaterThan(0);
    expect(bar).toHaveAttribute("max", "40");
    expect(await screen.findByText(/Clip ready: \d:\d\d:\d\d, [\d.]+ [MG]B, \d+ video frames\./, {}, { timeout: 3000 })).toBeInTheDocument();
    const q = b.of("export_clip")[0];
    expect(q.query).toEqual({ app: "studio", stream: "cam1", start: new Date(cam1.last_ms - HOUR).toISOString(), end: new Date(cam1.last_ms).toISOString(), output: output.value, close_gaps: true });
    expect(String(JSON.parse(JSON.stringify(q.onProgress)))).toMatch(/^__CHANNEL__:\d+$/);
    expect(screen.getByTestId("clip-handle")).toHaveTextContent(/studio-cam1 .*\.mp4/);
  });

  it("cancels a running export", async () => {
    const { b, user, cam1 } = await openScreen();
    b.state.rec.exportTickMs = 200;
    await typeRange(user, cam1.last_ms - HOUR, cam1.last_ms);
    await user.click(await screen.findByRole("button", { name: "Export clip…" }));
    await user.click(await screen.findByRole("button", { name: "Export" }));
    await screen.findByText(/Exporting: \d+ of 40 segments/);
    await user.click(screen.getByRole("button", { name: "Cancel export" }));
    expect(await screen.findByText("Export cancelled: nothing was saved.", {}, { timeout: 3000 })).toBeInTheDocument();
    expect(b.of("export_cancel")).toHaveLength(1);
    expect(screen.queryByRole("progressbar")).toBeNull();
    expect(screen.queryByRole("alert")).toBeNull(); // a cancel is not an error
  });

  it("explains an export error in plain words with what to do", async () => {
    const { user, cam1 } = await openScreen({}, {
      export_clip: () => {
        throw { kind: "io", message: "Tapedeck could not write /media/usb/clip.mp4: the disk is full." };
      },
    });
    await typeRange(user, cam1.last_ms - HOUR, cam1.last_ms);
    await user.click(await screen.findByRole("button", { name: "Export clip…" }));
    await user.click(await screen.findByRole("button", { name: "Export" }));
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("Tapedeck could not write /media/usb/clip.mp4: the disk is full.");
    expect(alert).toHaveTextContent("check that the disk has free space");
    expect(screen.getByLabelText("Save to")).toBeInTheDocument(); // the form stays to try again
  });

  it.each([
    ["spaces", "/home/me/Videos/Tapedeck clips/my clip.mp4"],
    ["#", "/home/me/Videos/clips/#1 best.mp4"],
    ["non-ASCII", "/home/me/Videos/Tapedeck clips/Überraschung 精彩 #1.mp4"],
  ])("drags a finished clip out with its path as is (%s)", async (_what, path) => {
    const { b, user, cam1 } = await openScreen({}, { clip_path: () => path });
    b.state.rec.exportTickMs = 1;
    await typeRange(user, cam1.last_ms - HOUR, cam1.last_ms);
    await user.click(await screen.findByRole("button", { name: "Export clip…" }));
    await user.click(await screen.findByRole("button", { name: "Export" }));
    const handle = await screen.findByTestId("clip-handle", {}, { timeout: 3000 });
    expect(handle).toHaveTextContent(path.slice(path.lastIndexOf("/") + 1));
    fireEvent.mouseDown(handle, { button: 0 });
    await waitFor(() => expect(b.of("plugin:drag|start_drag")).toHaveLength(1));
    expect(b.of("plugin:drag|start_drag")[0]).toMatchObject({ item: [path], image: "/home/me/.cache/studio.tapedeck/drag-icon.png" });
    // Right button: no drag.
    fireEvent.mouseDown(handle, { button: 2 });
    await user.click(screen.getByRole("button", { name: "Save as…" }));
    expect(b.of("save_clip_as")).toEqual([{ path }]);
    expect(await screen.findByText(`Copied to /home/me/Desktop/${path.slice(path.lastIndexOf("/") + 1)}.`)).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Show in folder" }));
    expect(b.of("reveal")).toEqual([{ path }]);
    expect(b.of("plugin:drag|start_drag")).toHaveLength(1);
  });
});

describe("Recordings: import, empty and error states", () => {
  it("imports a bucket's recordings and shows the summary", async () => {
    const { b, user } = await openScreen();
    await user.click(screen.getByRole("button", { name: "Import from bucket" }));
    const panel = await screen.findByRole("region", { name: "Import from a bucket" });
    const select = await within(panel).findByLabelText("Bucket");
    expect(within(select).getAllByRole("option").map((o) => o.textContent)).toEqual(["oss-hangzhou (my-streams)", "r2-archive (archive)"]);
    // A profile without keys: the engine's words and where to fix it.
    await user.selectOptions(select, "r2-archive");
    await user.click(within(panel).getByRole("button", { name: "Import" }));
    expect(await within(panel).findByRole("alert")).toHaveTextContent(/No keys are saved for r2-archive.*Check the bucket settings and keys on the Storage screen/);
    await user.selectOptions(select, "oss-hangzhou");
    await user.click(within(panel).getByRole("button", { name: "Import" }));
    expect(await within(panel).findByText("Found 3 recordings in 412 files and 2 indexes; 412 files were new.")).toBeInTheDocument();
    expect(b.of("catalog_import").at(-1)).toMatchObject({ profile: "oss-hangzhou" });
    // What could not be read is named, with why.
    expect(within(panel).getByText("1 file could not be read and was left out:")).toBeInTheDocument();
    expect(within(panel).getByText("archive/old-show/2026-10-01/broken.m3u8")).toBeInTheDocument();
    // The imported stream appears in the list.
    expect(await screen.findByRole("heading", { name: "archive" })).toBeInTheDocument();
  });

  it("keeps the friendly empty state when nothing was recorded yet", async () => {
    backend({ now: NOW, recordings: "none" });
    renderIn(<RecordingsScreen />);
    expect(await screen.findByText("Recordings will appear here after your first stream.")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Import from bucket" })).toBeInTheDocument();
    expect(screen.queryByTestId("timeline")).toBeNull();
  });

  it("shows why the list could not load, with a retry", async () => {
    let fail = true;
    const b = backend({ now: NOW }, {
      recorded_streams: (_a, state) => {
        if (fail) throw { kind: "unavailable", message: "Tapedeck's recorder is not running." };
        return [{ app: "studio", stream: "cam1", first_ms: state.rec.streams[0].spans[0].start_ms, last_ms: NOW, recordings: 3, bytes: 1e9 }];
      },
    });
    const user = userEvent.setup();
    renderIn(<RecordingsScreen />);
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("Tapedeck's recorder is not running.");
    expect(alert).toHaveTextContent("See the message at the top of the window");
    fail = false;
    await user.click(within(alert).getByRole("button", { name: "Try again" }));
    expect(await screen.findByTestId("timeline")).toBeInTheDocument();
    expect(b.of("recorded_streams")).toHaveLength(2);
  });

  it("shows a failed spans query on the timeline with what to do", async () => {
    backend({ now: NOW }, {
      spans: () => {
        throw { kind: "not_found", message: "Nothing was recorded for studio/cam1." };
      },
    });
    renderIn(<RecordingsScreen />);
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("Nothing was recorded for studio/cam1.");
    expect(alert).toHaveTextContent("press Refresh and choose again");
  });

  it("speaks Chinese", async () => {
    backend({ now: NOW });
    renderIn(<RecordingsScreen />, "zh-CN");
    expect(await screen.findByRole("button", { name: "从存储桶导入" })).toBeInTheDocument();
    expect(await screen.findByRole("button", { name: "显示全部" })).toBeInTheDocument();
    await waitFor(() => expect(screen.getByTestId("timeline").getAttribute("aria-label")).toMatch(/^studio\/cam1 的时间轴/));
  });

  it("has no axe violations with a range, an index and a finished clip", async () => {
    const { b, user, cam1, container } = await openScreen();
    b.state.rec.exportTickMs = 1;
    await typeRange(user, cam1.last_ms - HOUR, cam1.last_ms);
    await user.click(await screen.findByRole("button", { name: "Create index" }));
    await screen.findByLabelText("Index file");
    await user.click(screen.getByRole("button", { name: "Export clip…" }));
    await user.click(await screen.findByRole("button", { name: "Export" }));
    await screen.findByTestId("clip-handle", {}, { timeout: 3000 });
    await user.click(screen.getByRole("button", { name: "Import from bucket" }));
    await screen.findByRole("region", { name: "Import from a bucket" });
    expect(await axeViolations(container)).toEqual([]);
  });
});
