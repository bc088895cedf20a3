import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { fakeStreams } from "../../mock/streams";
import { backend, renderIn } from "../../test/helpers";
import { LiveScreen } from "./LiveScreen";
import { pullUrlProblem } from "./PullPanel";
import { StreamList } from "./StreamList";
import { sparkPoints } from "../../components/Sparkline";

describe("Live", () => {
  it("shows OBS's server and stream key, and copies them", async () => {
    backend({ streams: 2 });
    const user = userEvent.setup();
    const writeText = vi.spyOn(navigator.clipboard, "writeText").mockResolvedValue(undefined);
    renderIn(<LiveScreen />);
    expect(await screen.findByDisplayValue("rtmp://127.0.0.1:1935/live")).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Copy Server" }));
    expect(writeText).toHaveBeenLastCalledWith("rtmp://127.0.0.1:1935/live");
    expect(await screen.findByText("Copied")).toBeInTheDocument();
    // The publish key is set in the sample config: hidden until asked, copied whole.
    await user.click(screen.getByRole("button", { name: "Copy Stream key" }));
    expect(writeText).toHaveBeenLastCalledWith("cam1?key=s3cret");
    expect(screen.queryByDisplayValue("cam1?key=s3cret")).toBeNull();
    await user.click(screen.getByRole("button", { name: "Show" }));
    expect(screen.getByDisplayValue("cam1?key=s3cret")).toBeInTheDocument();
    // Other computers on the network get the LAN address.
    expect(screen.getByDisplayValue("rtmp://192.168.1.20:1935/live")).toBeInTheDocument();
  });

  it("shows each stream's codec, resolution, fps, key frames, template and time recorded", async () => {
    const b = backend({ streams: 1 });
    b.state.live[0] = { ...b.state.live[0], recording_s: 3725, template: "live/*" };
    renderIn(<StreamList />);
    const row = await screen.findByRole("listitem", { name: "live/cam1" });
    expect(within(row).getByText("1920×1080 · 60 fps")).toBeInTheDocument();
    expect(within(row).getByText("H.264 · AAC 48 kHz")).toBeInTheDocument();
    expect(within(row).getByText("key frame every 2 s")).toBeInTheDocument();
    expect(within(row).getByText("1:02:05")).toBeInTheDocument();
    expect(within(row).getByText("live/*")).toBeInTheDocument();
    expect(within(row).getByRole("img", { name: /Bitrate of live\/cam1, last \d+ s: now/ })).toBeInTheDocument();
  });

  it("shows no frame rate until the engine has measured one (never \"0 fps\")", async () => {
    const b = backend({ streams: 1 });
    const live = b.state.live[0];
    b.state.live[0] = { ...live, video: live.video && { ...live.video, fps: 0 } };
    renderIn(<StreamList />);
    const row = await screen.findByRole("listitem", { name: "live/cam1" });
    expect(within(row).getByText("1920×1080")).toBeInTheDocument();
    expect(within(row).queryByText(/fps/)).toBeNull();
  });

  it("renders 32 streams as compact rows with their warnings in plain words", async () => {
    backend({ streams: 32 });
    renderIn(<StreamList />);
    const list = await screen.findByRole("list", { name: "Live streams" });
    expect(within(list).getAllByRole("listitem", { name: /^(live|studio)\/cam\d+$/ })).toHaveLength(32);
    expect(screen.getByText(/32 live, \d+ recording/)).toBeInTheDocument();
    expect(screen.getAllByText("Low bitrate:").length).toBeGreaterThan(0);
    expect(screen.getByText("Key frames too rare:")).toBeInTheDocument();
    expect(screen.getAllByRole("img", { name: /Bitrate of/ })).toHaveLength(32);
  });

  it("says when the publisher left and the reconnect window runs, with its stats dimmed", async () => {
    const b = backend({ streams: 2 });
    renderIn(<StreamList />);
    const row = await screen.findByRole("listitem", { name: "live/cam1" });
    expect(within(row).queryByText("Waiting for the stream to come back (reconnect window)")).toBeNull();
    const away = b.state.live.map((s, i) => (i === 0 ? { ...s, connected: false, bitrate_kbps: 0 } : s));
    await act(() => b.emit("live", away));
    const badge = await within(row).findByText("Waiting for the stream to come back (reconnect window)");
    expect(badge.closest("[role=status]")).not.toBeNull();
    expect(row).toHaveClass("away");
    expect(within(row).queryByText("0 kbit/s")).toBeNull();
    // The other row is untouched; the publisher coming back clears it.
    expect(screen.getByRole("listitem", { name: "live/cam2" })).not.toHaveClass("away");
    await act(() => b.emit("live", away.map((s) => ({ ...s, connected: true }))));
    await waitFor(() => expect(within(row).queryByText(/Waiting for the stream/)).toBeNull());
  });

  it("spreads a new stream's few samples over the graph and says how long it spans", async () => {
    const b = backend({ streams: 1 });
    b.state.live[0] = { ...b.state.live[0], bitrate_history_kbps: [1000, 2000, 1500, 1800, 2100, 1900, 2000, 2200, 2100, 2000] };
    renderIn(<StreamList />);
    const row = await screen.findByRole("listitem", { name: "live/cam1" });
    expect(within(row).getByText("last 10 s")).toBeInTheDocument();
    const pts = sparkPoints(b.state.live[0].bitrate_history_kbps, 140, 36);
    expect(pts[0][0]).toBe(0);
    expect(pts.at(-1)![0]).toBeCloseTo(140);
    // Two minutes of samples: labelled so.
    await act(() => b.emit("live", [{ ...b.state.live[0], bitrate_history_kbps: Array.from({ length: 120 }, () => 3000) }]));
    expect(await within(row).findByText("last 2 min")).toBeInTheDocument();
    expect(sparkPoints([5], 140, 36).map((p) => p[0])).toEqual([0, 140]);
  });

  it("updates rows from the live event, once a second", async () => {
    const b = backend({ streams: 3 });
    renderIn(<StreamList />);
    await screen.findByRole("listitem", { name: "live/cam1" });
    const next = b.state.live.map((s) => ({ ...s, recording_s: 7200, bitrate_history_kbps: [...s.bitrate_history_kbps, 1234] }));
    await act(() => b.emit("live", next));
    expect(await screen.findAllByText("2:00:00")).toHaveLength(3);
    await act(() => b.emit("live", []));
    expect(await screen.findByText("Nothing is streaming to Tapedeck yet.")).toBeInTheDocument();
  });

  it("stops and starts recording a stream", async () => {
    const b = backend({ streams: 1 });
    const user = userEvent.setup();
    renderIn(<StreamList />);
    await user.click(await screen.findByRole("button", { name: "Stop recording live/cam1" }));
    expect(b.of("set_recording")).toEqual([{ app: "live", stream: "cam1", on: false }]);
    await user.click(await screen.findByRole("button", { name: "Start recording live/cam1" }));
    expect(b.of("set_recording")[1]).toEqual({ app: "live", stream: "cam1", on: true });
  });

  it("shows the engine's sentence when recording cannot be changed", async () => {
    backend({ streams: 1 }, { set_recording: () => Promise.reject({ kind: "not_found", message: "live/cam1 is not live any more." }) });
    const user = userEvent.setup();
    renderIn(<StreamList />);
    await user.click(await screen.findByRole("button", { name: "Stop recording live/cam1" }));
    expect(await screen.findByText("live/cam1 is not live any more.")).toBeInTheDocument();
  });

  it("adds a chapter with the default title Chapter N", async () => {
    const b = backend({ streams: 1 });
    const user = userEvent.setup();
    renderIn(<StreamList />);
    await user.click(await screen.findByRole("button", { name: "Add a chapter to live/cam1" }));
    const dialog = screen.getByRole("dialog", { name: "Add a chapter to live/cam1" });
    expect(within(dialog).getByLabelText("Chapter title")).toHaveValue("Chapter 1");
    expect(within(dialog).getByLabelText("Chapter title")).toHaveFocus();
    await user.click(within(dialog).getByRole("button", { name: "Add chapter" }));
    expect(b.of("add_chapter")).toEqual([{ app: "live", stream: "cam1", title: "Chapter 1" }]);
    expect(await screen.findAllByText(/Chapter "Chapter 1" added to live\/cam1 at/)).not.toHaveLength(0);
    // The next one counts on; a typed title is sent as typed; Escape cancels.
    await user.click(screen.getByRole("button", { name: "Add a chapter to live/cam1" }));
    const input = screen.getByLabelText("Chapter title");
    expect(input).toHaveValue("Chapter 2");
    await user.clear(input);
    await user.type(input, "Boss fight{Enter}");
    expect(b.of("add_chapter")[1]).toEqual({ app: "live", stream: "cam1", title: "Boss fight" });
    await user.click(screen.getByRole("button", { name: "Add a chapter to live/cam1" }));
    await user.keyboard("{Escape}");
    expect(screen.queryByRole("dialog")).toBeNull();
  });

  it("shows an empty state that says what to do", async () => {
    backend({ streams: 0 });
    renderIn(<StreamList />);
    expect(await screen.findByText("Nothing is streaming to Tapedeck yet.")).toBeInTheDocument();
    expect(screen.getByText(/Start streaming in OBS/)).toBeInTheDocument();
  });

  it("warns when the disk runs low and explains the missing hotkey on Wayland", async () => {
    const b = backend({ streams: 0 });
    b.state.disk = { ...b.state.disk, free_bytes: 2_000_000_000, low: true };
    renderIn(<LiveScreen />);
    expect(await screen.findByText(/Only 2.0 GB left/)).toBeInTheDocument();
    expect(screen.getByText(/Global hotkeys need X11; this session runs Wayland/)).toBeInTheDocument();
    expect(screen.getByText("2.0 GB free of 1.0 TB")).toBeInTheDocument();
  });

  it("updates the disk from disk events", async () => {
    const b = backend({ streams: 0 });
    renderIn(<LiveScreen />);
    await screen.findByText(/38.5 GB free/);
    await act(() => b.emit("engine-event", { source: "disk", event: { free_bytes: 1_000_000_000, total_bytes: 1_000_000_000_000, low: true, threshold_bytes: 5_000_000_000 } }));
    expect(await screen.findByText(/Only 1.0 GB left/)).toBeInTheDocument();
  });
});

describe("remote pulls", () => {
  it("checks the address scheme before asking the engine", () => {
    expect(pullUrlProblem("rtmp://relay.example.net/live/a")).toBeNull();
    expect(pullUrlProblem("https://cdn.example.com/live/a.flv")).toBeNull();
    expect(pullUrlProblem("http://cdn.example.com/hls/a.m3u8?token=1")).toBeNull();
    expect(pullUrlProblem("")).toBe("pull.url.missing");
    expect(pullUrlProblem("relay.example.net/live")).toBe("pull.url.invalid");
    expect(pullUrlProblem("srt://host:9000")).toBe("pull.url.scheme");
    expect(pullUrlProblem("https://example.com/watch")).toBe("pull.url.httpKind");
  });

  it("adds a pull, lists it, and removes it", async () => {
    const b = backend({ streams: 0 });
    const user = userEvent.setup();
    renderIn(<LiveScreen />);
    await user.type(await screen.findByLabelText("Stream address"), "rtmp://relay.example.net/live/feed");
    await user.type(screen.getByLabelText("Stream name"), "feed1");
    await user.click(screen.getByRole("button", { name: "Add stream" }));
    expect(b.of("add_pull")).toEqual([{ pull: { url: "rtmp://relay.example.net/live/feed", app: "pull", stream: "feed1" } }]);
    await user.click(await screen.findByRole("button", { name: "Stop fetching pull/feed1" }));
    expect(b.of("remove_pull")).toEqual([{ app: "pull", stream: "feed1" }]);
  });

  it("refuses a wrong scheme without calling the engine and shows engine errors", async () => {
    const b = backend({ streams: 0 }, { add_pull: () => Promise.reject({ kind: "conflict", message: "pull/x is already live: choose another stream name." }) });
    const user = userEvent.setup();
    renderIn(<LiveScreen />);
    const url = await screen.findByLabelText("Stream address");
    await user.type(url, "ftp://example.com/a");
    await user.type(screen.getByLabelText("Stream name"), "x");
    await user.click(screen.getByRole("button", { name: "Add stream" }));
    expect(screen.getByText(/can fetch rtmp:\/\/, http:\/\/ and https:\/\/ addresses only/)).toBeInTheDocument();
    expect(url).toHaveAttribute("aria-invalid", "true");
    expect(b.of("add_pull")).toHaveLength(0);
    await user.clear(url);
    await user.type(url, "rtmp://a/b/c");
    await user.click(screen.getByRole("button", { name: "Add stream" }));
    expect(await screen.findByText("pull/x is already live: choose another stream name.")).toBeInTheDocument();
  });
});

describe("OBS panel", () => {
  it("connects, points OBS here and starts its stream", async () => {
    const b = backend({ streams: 0 });
    const user = userEvent.setup();
    renderIn(<LiveScreen />);
    await user.type(await screen.findByLabelText("OBS WebSocket password"), "pw");
    await user.click(screen.getByRole("button", { name: "Connect" }));
    expect(b.of("obs_connect")).toEqual([{ address: "ws://127.0.0.1:4455", password: "pw", remember: true }]);
    expect(await screen.findByText("OBS 30.2.3")).toBeInTheDocument();
    expect(screen.getByText(/OBS streams somewhere else \(rtmp:\/\/live.twitch.tv\/app\)/)).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Point OBS at Tapedeck" }));
    expect(await screen.findByText("OBS streams to this Tapedeck.")).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Start OBS stream" }));
    expect(await screen.findByRole("button", { name: "Stop OBS stream" })).toBeInTheDocument();
    expect(b.of("obs_start_stream")).toHaveLength(1);
  });

  it("shows why OBS refused", async () => {
    backend({ streams: 0 });
    const user = userEvent.setup();
    renderIn(<LiveScreen />);
    await user.type(await screen.findByLabelText("OBS WebSocket password"), "wrong");
    await user.click(screen.getByRole("button", { name: "Connect" }));
    await waitFor(() => expect(screen.getByText(/OBS refused the password/)).toBeInTheDocument());
  });
});

describe("fake streams", () => {
  it("are believable: bitrate history of at most 120 s, some warnings", () => {
    const s = fakeStreams(32);
    expect(s).toHaveLength(32);
    expect(new Set(s.map((x) => `${x.app}/${x.stream}`)).size).toBe(32);
    for (const x of s) expect(x.bitrate_history_kbps.length).toBeLessThanOrEqual(120);
    expect(s.filter((x) => x.health.length).length).toBeGreaterThan(3);
  });
});
