// A stream published with ffmpeg shows on Live (1280x720, a bitrate, its graph), is
// stopped by hand, and leaves a finished MP4 and HLS playlist that ffprobe reads.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startApp, waitEngineRunning, publish, waitUntil, walk, ffprobe, sleep, cleanup } from "../lib/harness.mjs";

/** What one stream row shows. */
function rowFacts(app, name) {
  return app.exec(
    `const li = [...document.querySelectorAll("ul.streams > li")].find((l) => l.getAttribute("aria-label") === arguments[0]);
     if (!li) return null;
     const svg = li.querySelector("svg.sparkline");
     const line = svg && svg.querySelector("polyline");
     return {
       media: li.querySelector(".stream-media")?.innerText ?? "",
       rate: li.querySelector(".stream-rate .mono")?.textContent ?? "",
       graphLabel: svg?.getAttribute("aria-label") ?? null,
       graphPoints: line ? line.getAttribute("points").trim().split(/\\s+/).length : 0,
       graphBox: svg ? [svg.getBoundingClientRect().width, svg.getBoundingClientRect().height] : null,
       badge: li.querySelector(".badge")?.textContent ?? "",
       template: li.querySelector(".stream-template .mono")?.textContent ?? "",
       time: li.querySelector(".stream-time .big")?.textContent ?? "",
       all: li.innerText,
     };`,
    name,
  );
}

/** "2.5 Mbit/s" or "812 kbit/s" in kbit/s. */
function kbit(text) {
  const m = /([\d.]+) (k|M)bit\/s/.exec(text);
  return m ? Number(m[1]) * (m[2] === "M" ? 1000 : 1) : NaN;
}

test("live: a published stream shows with its size, bitrate and graph; stopped by hand it leaves a finished MP4 and playlist", async (t) => {
  // A short reconnect window, so that the end of the stream shows within the test.
  const app = await startApp("live", { extra: '\n[[template]]\napp = "*"\nstream = "*"\ninterruption_window = "10s"\n' });
  let ff;
  try {
    await waitEngineRunning(app);
    await app.get({ text: "Nothing is streaming to Tapedeck yet." });
    await app.screenshot("live-empty", { top: true });

    ff = publish(app.rtmp, "live", "cam1");
    const row = await app.get({ role: "listitem", name: "live/cam1" }, { timeout: 20_000 });
    // Size, frame rate, codecs, a bitrate above 0 and a graph with a line.
    const facts = await waitUntil(
      async () => {
        const f = await rowFacts(app, "live/cam1");
        return f && f.graphPoints >= 4 && kbit(f.rate) > 0 ? f : null;
      },
      { timeout: 20_000, what: "a bitrate and a graph of a few seconds" },
    );
    // The rate shows once two samples have seen frames (the wait below).
    assert.match(facts.media, /^1280×720( · [\d.]+ fps)?/);
    // The frame rate is measured over a window: it reaches the encoder's 30 fps in seconds.
    const fps = async () => Number(/· ([\d.]+) fps/.exec((await rowFacts(app, "live/cam1"))?.media ?? "")?.[1]);
    t.diagnostic(`frame rate shown first: ${facts.media.split("\n")[0]}`);
    await waitUntil(async () => Math.abs((await fps()) - 30) <= 1.5, { timeout: 20_000, what: "about 30 fps" });
    assert.match(facts.media, /H\.264 · AAC 44\.1 kHz/);
    assert.ok(kbit(facts.rate) > 0, `bitrate ${facts.rate}`);
    assert.match(facts.graphLabel, /^Bitrate of live\/cam1, last (\d+ s|2 min): now [\d.]+ (k|M)bit\/s, highest [\d.]+ (k|M)bit\/s$/);
    assert.ok(facts.graphBox[0] > 50 && facts.graphBox[1] > 10, `graph drawn at ${facts.graphBox}`);
    assert.equal(facts.badge, "Recording");
    assert.equal(facts.template, "*/*");
    // The summary line counts it.
    await app.get({ text: "1 live, 1 recording" });
    // Let the numbers settle (2.5 Mbit/s asked of the encoder) for the picture.
    await sleep(3000);
    const settled = await rowFacts(app, "live/cam1");
    t.diagnostic(`row: ${JSON.stringify(settled)}`);
    assert.ok(kbit(settled.rate) > 500, `a 2.5 Mbit/s stream shows ${settled.rate}`);
    await app.screenshot("live-streaming", { top: true });

    // Stop recording by hand: the stream stays live, the recording ends.
    await app.click({ role: "button", name: "Stop recording live/cam1" }, { within: row });
    await app.get({ role: "button", name: "Start recording live/cam1" }, { within: row });
    await waitUntil(async () => (await rowFacts(app, "live/cam1"))?.badge === "Not recording", { what: "the row to say Not recording" });
    await app.get({ text: "1 live, 0 recording" });

    // The files are finished (no .part) while the stream is still live.
    const dir = join(app.dataDir, "recordings/record/live/cam1");
    const files = await waitUntil(
      () => {
        const all = walk(dir);
        const mp4 = all.filter((f) => f.endsWith(".mp4"));
        const m3u8 = all.filter((f) => f.endsWith(".m3u8"));
        return mp4.length && m3u8.length ? { all, mp4, m3u8 } : null;
      },
      { timeout: 20_000, what: `a finished .mp4 and .m3u8 in ${dir}` },
    );
    t.diagnostic(`files: ${files.all.join(", ")}`);
    assert.equal(files.mp4.length, 1);
    assert.equal(files.m3u8.length, 1);
    const stamp = "\\d{4}-\\d{2}-\\d{2}-\\d{2}-\\d{2}-\\d{2}";
    assert.match(files.mp4[0], new RegExp(`^${stamp}_${stamp}\\.mp4$`));
    assert.equal(files.m3u8[0].replace(/\.m3u8$/, ""), files.mp4[0].replace(/\.mp4$/, ""), "playlist and MP4 share the name");
    const playlist = readFileSync(join(dir, files.m3u8[0]), "utf8");
    assert.match(playlist, /#EXT-X-ENDLIST/);
    const segments = playlist.split("\n").filter((l) => l && !l.startsWith("#"));
    assert.ok(segments.length >= 1, "segments listed");
    for (const s of segments) assert.ok(files.all.includes(s) || files.all.includes(s.split("/").pop()), `segment ${s} exists`);

    const probe = ffprobe(join(dir, files.mp4[0]));
    const v = probe.streams.find((s) => s.codec_type === "video");
    const a = probe.streams.find((s) => s.codec_type === "audio");
    assert.equal(v?.codec_name, "h264");
    assert.deepEqual([v.width, v.height], [1280, 720]);
    assert.equal(a?.codec_name, "aac");
    assert.ok(Number(probe.format.duration) >= 3, `duration ${probe.format.duration}`);

    const exit = await ff.stop();
    ff = null;
    assert.equal(exit.code, 0, `ffmpeg ended cleanly: ${exit.code} ${exit.sig}`);
    // The publisher is gone: the row says it waits for the stream to come back, with no
    // bitrate; it goes once the (10 s) reconnect window of this config has run out.
    await waitUntil(
      async () => {
        const f = await rowFacts(app, "live/cam1");
        return f !== null && f.rate === "–" && /Waiting for the stream to come back/.test(f.all);
      },
      { what: "the waiting-for-the-stream state once the stream ended" },
    );
    await waitUntil(async () => !(await rowFacts(app, "live/cam1")), { timeout: 30_000, what: "the row to go after the reconnect window" });
    await app.get({ text: "Nothing is streaming to Tapedeck yet." });

    // The recording is on the Recordings screen.
    await app.nav("Recordings");
    await waitUntil(async () => /cam1/.test(await app.bodyText()), { timeout: 15_000, what: "live/cam1 on Recordings" }).catch((e) =>
      t.diagnostic(`Recordings screen: ${e.message}`),
    );
    await sleep(1500); // thumbnails
    await app.screenshot("recordings", { top: true });
  } finally {
    if (ff) await ff.stop();
    await app.close();
    cleanup(app);
  }
});
