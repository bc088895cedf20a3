// Recordings: a stream that reconnects inside its interruption window (one recording) with
// a chapter added from Live; the Recordings timeline's text alternative tells the
// reconnect and the chapter; an 8 s range typed into the Range panel becomes a clip
// (ffprobe: 8 s, h264 1280x720, aac, starting at 0) and an index (an m3u8 ffprobe reads).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { startApp, waitEngineRunning, publish, waitUntil, sleep, cleanup } from "../lib/harness.mjs";
import { probe, rowBadge, rangeText, openRecordedStream, applyRange, exportClip } from "../lib/recordings.mjs";

const CONFIG = `
[[template]]
app = "*"
stream = "*"
formats = ["m3u8", "mp4"]
interruption_window = "20s"
[template.m3u8]
slice_duration = "2s"
`;

/**
 * The time of the first video frame shown (pts, else the best-effort timestamp), in
 * seconds. A clip cut without re-encoding starts at the key frame before the range and
 * discards the frames before it (an edit list): those first packets decode to no frame,
 * so read a few dozen.
 */
function firstVideoFrame(file) {
  const out = JSON.parse(
    execFileSync(
      "ffprobe",
      ["-v", "error", "-select_streams", "v:0", "-read_intervals", "%+#60", "-show_entries", "frame=pts_time,best_effort_timestamp_time", "-of", "json", file],
      { encoding: "utf8" },
    ),
  );
  const f = out.frames?.[0] ?? {};
  return Number(f.pts_time ?? f.best_effort_timestamp_time);
}

/** The timeline canvas's accessible label. */
function timelineLabel(app) {
  return app.exec("return document.querySelector('canvas[data-testid=timeline]')?.getAttribute('aria-label') ?? null");
}

test("recordings: a reconnect and a chapter on the timeline; an 8 s range typed in becomes a clip and an index", async (t) => {
  const started = Date.now();
  const app = await startApp("recordings", { extra: CONFIG });
  let ff;
  try {
    await waitEngineRunning(app);

    // 1. Publish ~10 s, stop, wait 3 s, publish again ~8 s: one recording with a reconnect.
    ff = publish(app.rtmp, "live", "cam1", { gop: 30, duration: 10 });
    await app.get({ role: "listitem", name: "live/cam1" }, { timeout: 20_000 });
    await waitUntil(async () => (await rowBadge(app, "live/cam1")) === "Recording", { timeout: 15_000, what: "live/cam1 recording" });
    let exit = await ff.exited;
    assert.equal(exit.code, 0, `first ffmpeg run: ${exit.code} ${exit.sig} ${ff.stderr}`);
    await sleep(3000);
    ff = publish(app.rtmp, "live", "cam1", { gop: 30, duration: 8 });

    // 2. While it runs: "Add chapter" on its row, titled "Goal".
    const row2 = await app.get({ role: "listitem", name: "live/cam1" }, { timeout: 20_000 });
    const chapterBtn = await app.get({ role: "button", name: "Add a chapter to live/cam1" }, { within: row2 });
    await waitUntil(async () => !(await chapterBtn.prop("disabled")), { timeout: 15_000, what: "Add chapter enabled (recording again)" });
    await sleep(2000); // well inside the second piece
    await chapterBtn.click();
    const dialog = await app.get({ css: "[role=dialog]" });
    await app.type({ label: "Chapter title" }, "Goal", { within: dialog });
    await app.click({ role: "button", name: "Add chapter" }, { within: dialog });
    await app.get({ text: "Chapter \"Goal\" added to live/cam1 at", exact: false });
    exit = await ff.exited;
    ff = null;
    assert.equal(exit.code, 0, `second ffmpeg run: ${exit.code} ${exit.sig}`);
    // The recording ends once the 20 s reconnect window has run out.
    await waitUntil(async () => !(await app.has({ role: "listitem", name: "live/cam1" })), { timeout: 45_000, what: "live/cam1 to go after the reconnect window" });

    // 3. Recordings: pick live/cam1; the timeline's text says 1 reconnect and the chapter.
    const info = await openRecordedStream(app, "live", "cam1");
    const spans = await app.invoke("spans", { app: "live", stream: "cam1", startMs: info.first_ms - 1000, endMs: info.last_ms + 1000 });
    t.diagnostic(`recorded stream: ${JSON.stringify(info)}; spans: ${JSON.stringify(spans.map(({ objects, ...s }) => ({ ...s, objects: objects.length })))}`);
    const label = await waitUntil(
      async () => {
        const l = await timelineLabel(app);
        return l && /Chapters: [1-9]/.test(l) ? l : null;
      },
      { timeout: 15_000, what: "the timeline's label with its chapter" },
    ).catch(async (e) => {
      e.message += `; label: ${await timelineLabel(app)}`;
      throw e;
    });
    t.diagnostic(`timeline label: ${label}`);
    assert.match(label, /^Timeline of live\/cam1 from /);
    assert.match(label, /Reconnects: 1\./, "one reconnect inside the interruption window");
    assert.match(label, /Gaps: 0\./, "a reconnect, not a gap (same recording)");
    assert.match(label, /Chapters: 1\./);
    assert.match(label, /\bGoal at \d{2}:\d{2}:\d{2}/);
    assert.equal(new Set(spans.map((s) => s.recording)).size, 1, "one recording");

    // 4. Range: 8 s inside the first piece, typed in the format the fields show.
    const startField = await app.get({ label: "Start" });
    const fmt = (ms) => rangeText(app, ms);
    assert.equal(await startField.attr("placeholder"), await fmt(info.first_ms), "the Start field shows first_ms in this format");
    const from = Math.ceil((info.first_ms + 1000) / 1000) * 1000;
    const to = from + 8000;
    const [fromText, toText] = [await fmt(from), await fmt(to)];
    t.diagnostic(`range typed: ${fromText} – ${toText} (recording from ${new Date(info.first_ms).toISOString()})`);
    assert.match(await applyRange(app, fromText, toText), /: 0:00:08 long, 0:00:08 recorded\.$/);
    assert.ok(!(await app.has({ css: ".rec-stream .notice.warn, .rec-stream .notice.error" })), "no range warning");

    // 5. Export clip with the suggested path.
    const { suggested, cardText, clip } = await exportClip(app);
    t.diagnostic(`suggested clip path: ${suggested}`);
    assert.ok(suggested && suggested.endsWith(".mp4"), `a suggested .mp4 path: ${suggested}`);
    t.diagnostic(`clip card: ${cardText.replace(/\s+/g, " ")}`);
    assert.match(cardText, /Clip ready: 0:00:0[78], /);
    assert.ok(existsSync(clip), `clip file ${clip} exists`);
    const p = probe(clip);
    t.diagnostic(`clip ffprobe: ${JSON.stringify(p)}`);
    const v = p.streams.find((s) => s.codec_type === "video");
    const a = p.streams.find((s) => s.codec_type === "audio");
    assert.equal(v?.codec_name, "h264");
    assert.deepEqual([v.width, v.height], [1280, 720]);
    assert.equal(a?.codec_name, "aac");
    const dur = Number(p.format.duration);
    const first = firstVideoFrame(clip);
    t.diagnostic(`clip duration ${dur} s, start_time ${p.format.start_time}, first video frame at ${first} s`);
    assert.ok(Math.abs(first) <= 0.05, `first video frame at ${first} s`);
    assert.ok(Math.abs(Number(p.format.start_time)) <= 0.1, `start_time ${p.format.start_time}`);
    assert.ok(Math.abs(dur - 8) <= 0.1, `clip duration ${dur} s, want 8 ± 0.1`);
    // The frames a player shows: 8 s at 30 fps. The card counts the clip's video packets,
    // the discarded lead-in from the key frame before the range included.
    const shown = Number(
      JSON.parse(execFileSync("ffprobe", ["-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries", "stream=nb_read_frames", "-of", "json", clip], { encoding: "utf8" }))
        .streams[0].nb_read_frames,
    );
    const carded = Number(/(\d+) video frames?/.exec(cardText)?.[1]);
    t.diagnostic(`clip frames: ${shown} decoded, ${carded} on the card`);
    assert.ok(Math.abs(shown - 240) <= 3, `${shown} frames decoded, want 240 (8 s at 30 fps)`);
    if (carded !== shown)
      t.diagnostic(`UI finding: the finished clip card says ${carded} video frames, a player shows ${shown} (the ${carded - shown} frames from the key frame before the range to its start are in the file but discarded by its edit list)`);

    // The picture: the typed range, its facts and the finished clip.
    await app.exec("arguments[0].scrollIntoView({block: 'start'})", await app.get({ css: "form.rec-range-form" }));
    await app.screenshot("recordings-range");

    // 6. Create index over the same range.
    await app.click({ role: "button", name: "Create index" });
    const made = await app.get({ role: "group", name: "Index created.", css: "[role=group]" }, { timeout: 30_000 });
    const indexPath = await (await app.get({ label: "Index file" }, { within: made })).prop("value");
    t.diagnostic(`index: ${indexPath}`);
    assert.ok(indexPath.endsWith(".m3u8"), `an .m3u8: ${indexPath}`);
    assert.ok(existsSync(indexPath), `index file ${indexPath} exists`);
    const ip = probe(indexPath);
    const idur = Number(ip.format.duration);
    t.diagnostic(`index ffprobe: ${JSON.stringify(ip)}`);
    assert.ok(ip.streams.some((s) => s.codec_type === "video" && s.codec_name === "h264"), "index: h264 video");
    // An index lists whole segments (2 s here): from the one holding the range's start to
    // the one holding its end, so 8 s up to 8 + 2 × 2 s.
    const m3u8 = readFileSync(indexPath, "utf8");
    const lines = m3u8.split("\n");
    const segs = lines.filter((l) => l && !l.startsWith("#"));
    const listed = lines.filter((l) => l.startsWith("#EXTINF:")).reduce((sum, l) => sum + parseFloat(l.slice(8)), 0);
    const firstAt = Date.parse(/#EXT-X-PROGRAM-DATE-TIME:(\S+)/.exec(m3u8)?.[1]);
    t.diagnostic(`index: ${segs.length} segments, ${listed.toFixed(3)} s listed from ${new Date(firstAt).toISOString()}; ffprobe ${idur} s`);
    assert.match(m3u8, /#EXT-X-ENDLIST/);
    for (const s of segs) assert.ok(existsSync(resolve(dirname(indexPath), s)), `segment ${s} exists`);
    assert.ok(firstAt <= from && firstAt + listed * 1000 >= to - 50, `the index covers the range: ${new Date(firstAt).toISOString()} + ${listed} s`);
    assert.ok(Math.abs(idur - listed) <= 0.2, `ffprobe reads the listed ${listed} s: ${idur}`);
    assert.ok(idur >= 8 - 0.1 && idur <= 8 + 2 * 2 + 0.1, `index duration ${idur} s, want 8 to 12 s (whole 2 s segments)`);
    if (Math.abs(idur - 8) > 2) t.diagnostic(`note: the index is ${idur} s, more than 8 ± 2 s, because the range starts and ends inside a segment`);

    t.diagnostic(`run time: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    if (ff) await ff.stop();
    await app.close();
    cleanup(app);
  }
});
