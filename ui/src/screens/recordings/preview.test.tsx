// The preview with hls.js replaced by a fake that records what it was given and lets
// the test play the events hls.js would send (the playlist's fragments, a fatal error).
import { fireEvent, screen, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { localTime } from "../../lib/format";
import { backend, renderIn } from "../../test/helpers";
import { RecordingsScreen } from "./RecordingsScreen";
import { DAY, HOUR } from "./timeline/scale";

const fake = vi.hoisted(() => {
  type Handler = (event: string, data: unknown) => void;
  class FakeHls {
    static instances: FakeHls[] = [];
    static isSupported() {
      return true;
    }
    static Events = { LEVEL_LOADED: "hlsLevelLoaded", ERROR: "hlsError" };
    handlers = new Map<string, Handler[]>();
    url = "";
    media: HTMLMediaElement | null = null;
    destroyed = false;
    constructor(readonly config: unknown) {
      FakeHls.instances.push(this);
    }
    on(event: string, fn: Handler) {
      this.handlers.set(event, [...(this.handlers.get(event) ?? []), fn]);
    }
    loadSource(url: string) {
      this.url = url;
    }
    attachMedia(m: HTMLMediaElement) {
      this.media = m;
    }
    destroy() {
      this.destroyed = true;
    }
    emit(event: string, data: unknown) {
      for (const fn of this.handlers.get(event) ?? []) fn(event, data);
    }
  }
  return { FakeHls };
});
vi.mock("hls.js", () => ({ default: fake.FakeHls }));

const NOW = Date.UTC(2026, 11, 6, 18, 0, 0);

/** The fragments hls.js would parse from the mock's playlist (a data: URL). */
function fragmentsOf(url: string) {
  const text = atob(url.slice(url.indexOf(",") + 1));
  const out: { start: number; duration: number; programDateTime: number | null }[] = [];
  let pdt: number | null = null;
  let start = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("#EXT-X-PROGRAM-DATE-TIME:")) pdt = Date.parse(line.slice(25));
    if (line.startsWith("#EXTINF:")) {
      const d = parseFloat(line.slice(8));
      out.push({ start, duration: d, programDateTime: pdt });
      start += d;
      pdt = null;
    }
  }
  return out;
}

describe("Preview player", () => {
  it("loads the clicked time with hls.js and seeks to it through the program date time", async () => {
    fake.FakeHls.instances = [];
    const b = backend({ now: NOW });
    renderIn(<RecordingsScreen />);
    const canvas = await screen.findByTestId("timeline");
    const streams = await (await import("../../ipc")).recordedStreams();
    const cam1 = streams.find((s) => s.app === "studio" && s.stream === "cam1")!;
    await waitFor(() => expect(screen.getAllByText(new RegExp(localTime(cam1.last_ms - DAY, "en"))).length).toBeGreaterThan(0));
    await new Promise((r) => setTimeout(r, 200)); // the view settles
    const video = screen.getByLabelText("Preview of the recording") as HTMLVideoElement;
    let current = 0;
    let ready = 0;
    Object.defineProperty(video, "readyState", { configurable: true, get: () => ready });
    const seeks: number[] = [];
    Object.defineProperty(video, "currentTime", {
      configurable: true,
      get: () => current,
      set: (v: number) => {
        current = v;
        seeks.push(v);
      },
    });

    // Click two hours before the end: inside the live show.
    const x = 960 * (1 - 2 / 24);
    const t = Math.round(cam1.last_ms - 2 * HOUR);
    fireEvent.click(canvas, { clientX: x });
    await waitFor(() => expect(fake.FakeHls.instances).toHaveLength(1));
    const hls = fake.FakeHls.instances[0];
    await waitFor(() => expect(hls.url).toMatch(/^data:application\/vnd\.apple\.mpegurl;base64,/));
    expect(hls.media).toBe(video);
    const fragments = fragmentsOf(hls.url);
    expect(fragments.length).toBeGreaterThan(100);
    expect(fragments.every((f) => f.programDateTime !== null)).toBe(true); // EXT-X-PROGRAM-DATE-TIME on each segment
    const range = b.of("preview_url")[0] as { startMs: number; endMs: number };
    expect(range.startMs).toBe(t - 3 * HOUR);

    // hls.js starts at the clicked time (mapped through the spans until the playlist is in).
    const f = fragments.find((g) => g.programDateTime! <= t && t < g.programDateTime! + g.duration * 1000)!;
    const expected = f.start + (t - f.programDateTime!) / 1000;
    expect((hls.config as { startPosition: number }).startPosition).toBeCloseTo(expected, 3);
    hls.emit("hlsLevelLoaded", { details: { fragments } });
    // No seek before the metadata: a new source would reset it.
    expect(seeks).toEqual([]);
    ready = 1;
    fireEvent.loadedMetadata(video);
    await waitFor(() => expect(seeks.length).toBeGreaterThan(0));
    // The media time at t: the playlist's own mapping (fragment start + offset from its date).
    expect(seeks.at(-1)).toBeCloseTo(expected, 3);

    // Playing on: the wall-clock time is shown.
    current = f.start + 10;
    fireEvent.timeUpdate(video);
    expect(await screen.findByText(`Playing ${localTime(f.programDateTime! + 10_000, "en")}`)).toBeInTheDocument();

    // A click inside the loaded range seeks without a new playlist.
    fireEvent.click(canvas, { clientX: x + 20 });
    await waitFor(() => expect(seeks.length).toBeGreaterThan(1));
    expect(fake.FakeHls.instances).toHaveLength(1);
    expect(b.of("preview_url")).toHaveLength(1);
  });

  it("says when the preview cannot load", async () => {
    fake.FakeHls.instances = [];
    backend({ now: NOW });
    renderIn(<RecordingsScreen />);
    const canvas = await screen.findByTestId("timeline");
    await new Promise((r) => setTimeout(r, 200));
    fireEvent.click(canvas, { clientX: 940 });
    await waitFor(() => expect(fake.FakeHls.instances).toHaveLength(1));
    const hls = fake.FakeHls.instances[0];
    await waitFor(() => expect(hls.url).not.toBe(""));
    hls.emit("hlsError", { fatal: true, details: "fragLoadError" });
    expect(await screen.findByRole("alert")).toHaveTextContent("The preview could not load (fragLoadError).");
    expect(hls.destroyed).toBe(true);
  });
});
