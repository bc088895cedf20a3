// H.265 thumbnails: the engine makes JPEGs from H.264 only; for an H.265 recording the
// timeline gets the key frame itself and decodes it with WebCodecs where the webview can,
// else shows a placeholder that names the codec. The recording comes from an HLS pull of
// an H.265 stream ffmpeg wrote (Debian's ffmpeg cannot publish H.265 over RTMP).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createServer } from "node:http";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startApp, waitEngineRunning, waitUntil, cleanup, makeConfig } from "../lib/harness.mjs";
import { openRecordedStream } from "../lib/recordings.mjs";

/** Serves `dir` over HTTP on 127.0.0.1 (the HLS source to pull). */
function serve(dir) {
  const server = createServer((req, res) => {
    try {
      const body = readFileSync(join(dir, decodeURIComponent(new URL(req.url, "http://x").pathname)));
      res.writeHead(200, { "content-type": req.url.includes(".m3u8") ? "application/vnd.apple.mpegurl" : "video/mp2t" });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

test("H.265 recordings get thumbnails from the webview's decoder, or a placeholder naming the codec", async () => {
  const ctx = await makeConfig("hevc");
  const src = join(ctx.dir, "hls");
  mkdirSync(src, { recursive: true });
  execFileSync("ffmpeg", [
    "-hide_banner", "-loglevel", "error", "-y",
    "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
    "-t", "12", "-c:v", "libx265", "-x265-params", "keyint=25:min-keyint=25:scenecut=0:log-level=error",
    "-tag:v", "hvc1", "-c:a", "aac",
    "-f", "hls", "-hls_time", "2", "-hls_list_size", "0", "-hls_playlist_type", "vod",
    join(src, "index.m3u8"),
  ]);
  const http = await serve(src);
  const url = `http://127.0.0.1:${http.address().port}/index.m3u8`;
  const extra = `
[[template]]
app = "*"
stream = "*"
formats = ["m3u8"]
interruption_window = "2s"
[template.m3u8]
slice_duration = "2s"

[[pull]]
url = "${url}"
app = "live"
stream = "hevc"
`;
  const { writeFileSync } = await import("node:fs");
  writeFileSync(ctx.config, readFileSync(ctx.config, "utf8") + extra);
  const app = await startApp("hevc", { ctx });
  try {
    await waitEngineRunning(app);
    await waitUntil(
      async () => (await app.invoke("recorded_streams")).some((s) => s.app === "live" && s.stream === "hevc" && s.last_ms - s.first_ms > 8000),
      { timeout: 60_000, what: "the pulled H.265 recording" },
    );
    const support = await app.s.execAsync(
      "const done = arguments[arguments.length - 1];" +
        "if (typeof VideoDecoder === 'undefined') { done('no WebCodecs'); return; }" +
        "VideoDecoder.isConfigSupported({ codec: 'hvc1.1.6.L90.B0', codedWidth: 640, codedHeight: 360 })" +
        ".then((s) => done(s.supported ? 'supported' : 'not supported'), (e) => done('error ' + e));",
    );
    await openRecordedStream(app, "live", "hevc");
    // The JPEG path answers 415 for H.265; the timeline asks for the key frames instead.
    const shown = await waitUntil(
      () =>
        app.exec(
          "const t = document.querySelector('[data-testid=thumbs]');" +
            "const decoded = t.querySelectorAll('img[data-decoded=webcodecs]').length;" +
            "const none = [...t.querySelectorAll('.tl-thumb-none')].map((e) => e.textContent);" +
            "return decoded || none.length ? { decoded, none } : null;",
        ),
      { timeout: 30_000, what: "H.265 thumbnails or their placeholder" },
    );
    console.log(`WebCodecs H.265 in this webview: ${support}; timeline: ${JSON.stringify(shown)}`);
    if (support === "supported") {
      assert.ok(shown.decoded > 0, `WebCodecs decodes H.265 here but no thumbnail was drawn: ${JSON.stringify(shown)}`);
    } else {
      assert.ok(shown.none.length > 0, JSON.stringify(shown));
      assert.ok(shown.none.every((t) => t === "H.265: no picture on this computer"), JSON.stringify(shown));
    }
    // The key frame itself is what ffmpeg decodes as H.265.
    const kf = await app.invoke("keyframe_url", { app: "live", stream: "hevc", atMs: (await app.invoke("recorded_streams")).find((s) => s.stream === "hevc").first_ms + 3000 });
    const headers = await app.s.execAsync(
      "const done = arguments[arguments.length - 1];" +
        `fetch(${JSON.stringify(kf)}).then((r) => done([r.status, r.headers.get('x-codec'), r.headers.get('x-width'), r.headers.get('x-height')]), (e) => done(String(e)));`,
    );
    assert.equal(headers[0], 200, JSON.stringify(headers));
    assert.match(headers[1], /^(hvc1|hev1)\./);
    assert.deepEqual(headers.slice(2), ["640", "360"]);
    await app.screenshot("recordings-hevc");
  } finally {
    http.close();
    await app.close();
    cleanup(ctx);
  }
});
