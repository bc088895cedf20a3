// The bucket as the catalog, in the app: one app records with uploads to s3s-fs; a second
// app on a fresh data folder, with only the storage profile (its keys in the keyring),
// imports the bucket with "Import from bucket", sees the recording, its thumbnails (made
// from segments fetched on demand) and exports a clip from it. The import itself reads
// playlists and tags, no media; the segments fetched afterwards are the bucket's bytes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { makeConfig, startApp, startS3, waitEngineRunning, publish, waitUntil, walk, cleanup } from "../lib/harness.mjs";
import { probe, rangeText, openRecordedStream, applyRange, exportClip } from "../lib/recordings.mjs";

const keyring = !!process.env.E2E_KEYRING;

function profile(s3) {
  return `
[[storage]]
name = "shared"
provider = "custom"
endpoint = "${s3.endpoint}"
bucket = "${s3.bucket}"
path_style = true
prefix = "studio/"
`;
}

test("bucket import: a second computer sees, previews and exports what the first uploaded", { skip: keyring ? false : "no Secret Service (gnome-keyring): keys cannot be saved" }, async (t) => {
  const a = await makeConfig("import-a");
  const s3 = await startS3(a.dir);
  const { appendFileSync } = await import("node:fs");
  appendFileSync(
    a.config,
    profile(s3) +
      `
[[template]]
app = "*"
stream = "*"
storage = "shared"
formats = ["m3u8", "mp4"]
interruption_window = "1s"
[template.m3u8]
slice_duration = "2s"
`,
  );
  let app = await startApp("import-a", { ctx: a });
  let b;
  try {
    await waitEngineRunning(app);
    await app.invoke("storage_set_keys", { name: "shared", accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey });
    const ff = publish(app.rtmp, "live", "cam1", { gop: 30, duration: 10 });
    const exit = await ff.exited;
    assert.equal(exit.code, 0, ff.stderr);
    await waitUntil(
      async () => {
        const rows = await app.invoke("uploads", { withDone: true, limit: 1000 });
        return rows.length > 5 && rows.every((u) => u.state === "done") && rows.some((u) => u.kind === "mp4") ? rows : null;
      },
      { timeout: 60_000, what: "every upload of the first computer" },
    );
    const uploaded = walk(join(s3.root, s3.bucket)).filter((k) => k.endsWith(".ts")).length;
    await app.close();

    // The second computer: the profile and its keys (the same keyring), nothing recorded.
    // (and a second profile whose bucket does not exist: its import must say so).
    b = await makeConfig("import-b", { extra: profile(s3) + profile(s3).replace('name = "shared"', 'name = "missing"').replace(`bucket = "${s3.bucket}"`, 'bucket = "no-such-bucket"') });
    app = await startApp("import-b", { ctx: b });
    await waitEngineRunning(app);
    await app.nav("Recordings");
    await app.get({ text: "Recordings will appear here after your first stream." });
    await app.screenshot("recordings-empty");
    await app.click({ role: "button", name: "Import from bucket" });
    const panel = await app.get({ role: "region", name: "Import from a bucket" });
    await app.invoke("storage_set_keys", { name: "missing", accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey });
    await app.select({ label: "Bucket" }, "missing (no-such-bucket)", { within: panel });
    await app.click({ role: "button", name: "Import" }, { within: panel });
    const alert = await app.get({ role: "alert" }, { within: panel, timeout: 30_000 });
    const why = await alert.text();
    t.diagnostic(`import of a missing bucket: ${why}`);
    assert.match(why, /no-such-bucket/);
    await app.screenshot("recordings-import-error");
    await app.select({ label: "Bucket" }, "shared (recordings)", { within: panel });
    await app.click({ role: "button", name: "Import" }, { within: panel });
    const summary = await app.get({ text: "Found 1 recording in", exact: false }, { timeout: 30_000 });
    const said = await summary.text();
    t.diagnostic(`import: ${said}`);
    assert.match(said, /^Found 1 recording in \d+ files and 0 indexes; \d+ files were new\.$/);
    // The screen opens the imported stream at once, so its first thumbnails may already
    // have fetched a segment or two: never the recording.
    const cache = join(b.dataDir, "cache", "remote", "shared");
    const early = existsSync(cache) ? walk(cache) : [];
    assert.ok(early.every((k) => k.endsWith(".ts")) && early.length < uploaded, `fetched right after the import: ${early}`);

    // The recording is there; its thumbnails come from segments fetched on demand.
    const info = await openRecordedStream(app, "live", "cam1");
    await waitUntil(
      () => app.exec("return [...document.querySelectorAll('[data-testid=thumbs] img')].filter((i) => i.complete && i.naturalWidth > 0).length || null"),
      { timeout: 30_000, what: "a thumbnail of the imported recording" },
    );
    await app.screenshot("recordings-imported");

    // A 4 s clip exported from the bucket's segments.
    const from = info.first_ms + 2000;
    const facts = await applyRange(app, await rangeText(app, from), await rangeText(app, from + 4000));
    t.diagnostic(`range: ${facts}`);
    const { clip } = await exportClip(app);
    const p = probe(clip);
    const duration = Number(p.format.duration);
    assert.ok(Math.abs(duration - 4) < 0.1, `clip of ${duration} s`);
    // What was fetched (the thumbnails along a 10 s recording want every segment; the CLI
    // test shows an export alone fetching only its own) is the bucket's bytes exactly.
    const fetched = walk(cache);
    t.diagnostic(`segments in the bucket: ${uploaded}; fetched for thumbnails and the clip: ${fetched.length}`);
    assert.ok(fetched.length > 0 && fetched.length <= uploaded && fetched.every((k) => k.endsWith(".ts")), `${fetched}`);
    for (const k of fetched) {
      assert.ok(readFileSync(join(cache, k)).equals(readFileSync(join(s3.root, s3.bucket, "studio", k))), `${k} differs from the bucket's`);
    }
  } finally {
    await app.close();
    s3.stop();
    cleanup(a);
    if (b) cleanup(b);
  }
});
