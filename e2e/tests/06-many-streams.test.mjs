// 32 streams at once (small ones, to spare the CPU): 32 rows on Live, each recording.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startApp, waitEngineRunning, publish, waitUntil, walk, sleep, cleanup } from "../lib/harness.mjs";

const N = 32;

test(`live: ${N} streams at once show as ${N} recording rows`, async (t) => {
  const app = await startApp("many", { extra: '\n[[template]]\napp = "*"\nstream = "*"\nformats = ["m3u8"]\ninterruption_window = "3s"\n' });
  const pubs = [];
  try {
    await waitEngineRunning(app);
    const names = Array.from({ length: N }, (_, i) => `cam${String(i + 1).padStart(2, "0")}`);
    for (const n of names) {
      pubs.push(publish(app.rtmp, "live", n, { size: "320x180", rate: 15, bitrate: "150k", duration: 60 }));
      await sleep(60); // not all 32 handshakes in the same instant
    }
    const rows = () =>
      app.exec(`return [...document.querySelectorAll("ul.streams > li")].map((li) => ({
        name: li.getAttribute("aria-label"),
        media: li.querySelector(".stream-media")?.innerText ?? "",
        badge: li.querySelector(".badge")?.textContent ?? "",
        rate: li.querySelector(".stream-rate .mono")?.textContent ?? "",
      }))`);
    const all = await waitUntil(
      async () => {
        const r = await rows();
        return r.length === N && r.every((x) => /320×180/.test(x.media) && x.badge === "Recording" && !/^0 kbit/.test(x.rate)) ? r : null;
      },
      { timeout: 45_000, interval: 1000, what: `${N} rows, each 320×180 and recording` },
    );
    assert.deepEqual(all.map((r) => r.name).sort(), names.map((n) => `live/${n}`));
    await app.get({ text: `${N} live, ${N} recording` });
    // The window keeps up: a round trip to the page stays quick with 32 rows updating.
    const t0 = Date.now();
    for (let i = 0; i < 5; i++) await app.exec("return document.querySelectorAll('ul.streams > li').length");
    const rt = (Date.now() - t0) / 5;
    t.diagnostic(`page round trip with ${N} live rows: ${rt.toFixed(0)} ms`);
    assert.ok(rt < 1000, `the page answers within a second (${rt} ms)`);
    // A picture of the list: the stream list at the top of the window.
    await app.exec("document.getElementById('live-streams-h').scrollIntoView({ block: 'start' })");
    await app.screenshot("live-32-streams", { settle: 1200 });
    // Every stream writes its own files.
    const dirs = new Set(walk(join(app.dataDir, "recordings/record/live")).map((f) => f.split("/")[0]));
    t.diagnostic(`streams with files: ${dirs.size}`);
    assert.equal(dirs.size, N);
    for (const p of pubs) assert.equal(p.proc.exitCode, null, `ffmpeg still publishing: ${p.stderr}`);
  } finally {
    await Promise.all(pubs.map((p) => p.stop()));
    await app.close();
    cleanup(app);
  }
});
