// Storage: an S3 server (s3s-fs) on this machine; a MinIO/custom profile made in the
// Storage screen, its keys in the keyring, the connection test; the catch-all template
// uploads to it; a short stream's files reach the bucket and the upload queue drains.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { makeConfig, startApp, startS3, waitEngineRunning, publish, waitUntil, walk, sleep, cleanup } from "../lib/harness.mjs";

const keyring = !!process.env.E2E_KEYRING;
const READY = "Ready: recordings will upload to this bucket.";

describe("storage", { skip: keyring ? false : "no Secret Service (gnome-keyring) in this session: keys cannot be saved" }, () => {
  let ctx, s3, app, ff;
  before(async () => {
    ctx = await makeConfig("storage");
    s3 = await startS3(ctx.dir);
    app = await startApp("storage", { ctx });
    await waitEngineRunning(app);
  });
  after(async () => {
    if (ff) await ff.stop();
    if (app) await app.close();
    if (s3) s3.stop();
    if (ctx) cleanup(ctx);
  });

  /** Clicks "Test connection" on the open profile and returns what it showed. */
  async function testConnection() {
    await app.click({ role: "button", name: "Test connection" });
    return waitUntil(
      () =>
        app.exec(`
          const sec = document.querySelector("section[aria-labelledby=test-h]");
          if (!sec || sec.querySelector("button")?.disabled) return null;
          const steps = [...sec.querySelectorAll(".check .steps li")].map((li) => li.innerText.replace(/\\s+/g, " ").trim());
          const notes = [...sec.querySelectorAll(".notice, [role=alert]")].map((n) => n.innerText.replace(/\\s+/g, " ").trim());
          return steps.length || notes.length ? { steps, notes } : null;`),
      { timeout: 30_000, what: "the connection test's answer" },
    );
  }

  async function openProfile() {
    await app.nav("Storage");
    await app.click({ role: "button", name: "minio" }, { exact: false, within: await app.get({ css: "section[aria-labelledby=profiles-h]" }) });
    await app.get({ role: "heading", name: "Bucket minio", css: "h2" });
  }

  it("a MinIO bucket made in the Storage screen goes to the file, its keys to the keyring", async () => {
    await app.nav("Storage");
    await app.get({ text: "No buckets yet: recordings stay on this computer. Add one to upload them." });
    await app.get({ text: "Nothing to upload right now." });
    await app.click({ role: "button", name: "Add a bucket" });
    const form = await app.get({ css: "form[aria-labelledby=profile-h]" });
    await app.type({ label: "Name in Tapedeck" }, "minio", { within: form });
    await app.select({ label: "Service" }, "MinIO or other S3-compatible service", { within: form });
    await app.type({ label: "Service address" }, s3.endpoint, { within: form });
    const pathStyle = await app.get({ label: "Put the bucket name in the path (path style)" }, { within: form });
    if (!(await pathStyle.prop("checked"))) await pathStyle.click();
    assert.equal(await pathStyle.prop("checked"), true);
    await app.type({ label: "Bucket" }, s3.bucket, { within: form });
    await app.get({ text: `Tapedeck will connect to ${s3.endpoint}.` });
    await app.click({ role: "button", name: "Save" }, { within: form });
    // Nothing is live: the recorder restarts at once to use the new bucket.
    await app.get({ text: "Bucket saved. Tapedeck's recorder restarted to use it", exact: false });
    await app.get({ role: "heading", name: "Bucket minio", css: "h2" });
    const cfgText = readFileSync(ctx.config, "utf8");
    assert.match(cfgText, /\[\[storage\]\]/);
    assert.match(cfgText, /^name = "minio"$/m);
    assert.match(cfgText, /^provider = "custom"$/m);
    assert.ok(cfgText.includes(`endpoint = "${s3.endpoint}"`), cfgText);
    assert.match(cfgText, /^bucket = "recordings"$/m);

    // Keys: into the keyring, never shown back, never in the file.
    const keys = await app.get({ css: "form[aria-labelledby=keys-h]" });
    await app.get({ text: "No keys saved yet: uploads to this bucket cannot start." });
    await app.type({ label: "Access key ID" }, s3.accessKey, { within: keys });
    await app.type({ label: "Secret access key" }, s3.secretKey, { within: keys });
    await app.click({ role: "button", name: "Save keys" }, { within: keys });
    await app.get({ text: "Keys saved in your system keychain." }, { timeout: 15_000 });
    assert.equal(await (await app.get({ label: "Secret access key" }, { within: keys })).prop("value"), "", "the secret field is emptied");
    assert.ok(!(await app.bodyText()).includes(s3.secretKey), "the secret is not shown");
    assert.ok(!readFileSync(ctx.config, "utf8").includes(s3.secretKey), "the secret is not in the file");
    assert.equal(await app.invoke("storage_has_keys", { name: "minio" }), true);
  });

  it("Test connection works right after the bucket is saved (no restart)", async () => {
    const r = await testConnection();
    assert.ok(r.notes.includes(READY), `the test said: ${JSON.stringify(r)}`);
  });

  it("Test connection shows three passed steps (after a restart of the app)", async (t) => {
    // A restart, so that this and the next steps run whether or not the previous one passed.
    await app.close();
    app = await startApp("storage", { ctx });
    await waitEngineRunning(app);
    await openProfile();
    await app.get({ text: "Keys saved in your system keychain." }, { timeout: 15_000 });
    const r = await testConnection();
    t.diagnostic(`check: ${JSON.stringify(r)}`);
    assert.ok(r.notes.includes(READY), JSON.stringify(r));
    assert.equal(r.steps.length, 3);
    for (const s of r.steps) assert.match(s, /^✓/);
    assert.match(r.steps[0], new RegExp(`Signed in at ${s3.endpoint.replace(/\./g, "\\.")}`));
    assert.match(r.steps[1], /The bucket recordings exists/);
    assert.match(r.steps[2], /wrote a test file and read it back/);
    await app.screenshot("storage", { top: true });
  });

  it("the catch-all template uploads to it: a short stream's files reach the bucket and the queue drains", async (t) => {
    // A new */* template (editing the built-in */* of a file without templates fails:
    // see 02-templates, "the built-in */* template can be edited").
    await app.nav("Templates");
    await app.click({ role: "button", name: "New template" });
    const tpl = await app.get({ css: "form[aria-labelledby=tpl-form-h]" });
    assert.equal(await (await app.get({ label: "App name" }, { within: tpl })).prop("value"), "*");
    assert.equal(await (await app.get({ label: "Stream name" }, { within: tpl })).prop("value"), "*");
    await app.select({ label: "Upload to" }, "minio", { within: tpl });
    await app.type({ label: "Reconnect window" }, "2", { within: tpl });
    await app.click({ role: "button", name: "Save" }, { within: tpl });
    await app.get({ text: "Template saved. It applies from the next stream that starts." });
    assert.match(readFileSync(ctx.config, "utf8"), /^storage = "minio"$/m);
    await app.get({ text: "uploads to minio", exact: false });
    // The engine reads the saved file through its file watcher: a stream that starts in the
    // same instant still gets the old template (seen: a publish 30 ms before the reload).
    await sleep(2000);

    ff = publish(app.rtmp, "live", "cam1", { size: "640x360", bitrate: "800k", duration: 6 });
    await app.nav("Live");
    await app.get({ role: "listitem", name: "live/cam1" }, { timeout: 20_000 });
    const exit = await ff.exited;
    ff = null;
    assert.equal(exit.code, 0, "ffmpeg published 6 s");

    await app.nav("Storage");
    const local = join(app.dataDir, "recordings");
    const bucketDir = join(s3.root, s3.bucket);
    const up = await waitUntil(
      () => {
        const got = walk(bucketDir).filter((f) => !f.split("/").pop().startsWith("."));
        const mp4 = got.find((f) => /^record\/live\/cam1\/[^/]+\.mp4$/.test(f));
        const m3u8 = got.find((f) => /^record\/live\/cam1\/[^/]+\.m3u8$/.test(f));
        return mp4 && m3u8 ? { got, mp4, m3u8 } : null;
      },
      { timeout: 60_000, interval: 1000, what: `the recording's MP4 and playlist in ${bucketDir}` },
    );
    t.diagnostic(`in the bucket: ${up.got.join(", ")}`);
    assert.equal(statSync(join(bucketDir, up.mp4)).size, statSync(join(local, up.mp4)).size, "the MP4 in the bucket is the local one");
    assert.ok(readFileSync(join(bucketDir, up.m3u8)).equals(readFileSync(join(local, up.m3u8))), "same playlist");
    assert.ok(up.got.some((f) => f.endsWith(".ts")), "segments uploaded");

    // The queue drains; the screen says so; finished uploads are listed as done.
    await waitUntil(async () => (await app.invoke("uploads", { withDone: false, limit: 100 })).length === 0, {
      timeout: 30_000,
      what: "the upload queue to drain",
    });
    await waitUntil(() => app.has({ text: "Nothing to upload right now." }), { timeout: 20_000, what: "the queue to say it is empty" });
    await app.click({ label: "Show finished uploads" });
    const rows = await waitUntil(
      async () => {
        const r = await app.exec(`return [...document.querySelectorAll("section[aria-labelledby=uploads-h] tbody tr")].map((tr) => tr.innerText.replace(/\\s+/g, " "))`);
        return r.length ? r : null;
      },
      { what: "finished uploads listed" },
    );
    t.diagnostic(`finished uploads listed: ${rows.length}`);
    assert.ok(rows.some((r) => r.includes(up.mp4) && /Uploaded at/.test(r)), `the MP4 listed as uploaded: ${rows.join(" | ")}`);
    assert.ok(rows.every((r) => /100%/.test(r)), rows.join(" | "));
  });
});
