// First run: a fresh config shows the setup; going through it writes the marker and
// leads to the main window; the next start goes straight to Live.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { makeConfig, startApp, startS3, waitUntil, cleanup } from "../lib/harness.mjs";

test("first run: the setup shows on a fresh config, can be completed, and is remembered", async () => {
  const ctx = await makeConfig("first-run", { firstRunDone: false });
  const before = readFileSync(ctx.config, "utf8");
  assert.equal(existsSync(ctx.marker), false);
  let app = await startApp("first-run", { ctx });
  try {
    await app.get({ role: "heading", name: "Welcome to Tapedeck Studio" });
    assert.equal(await app.has({ css: "nav.sidebar" }), false, "no main window during the setup");
    // Step 1: the folder field holds the config's data_dir.
    const folder = await app.get({ label: "Recordings folder" });
    await waitUntil(async () => (await folder.prop("value")) === ctx.dataDir, { what: "the folder field to show data_dir" });
    const steps = await app.get({ css: "ol.progress" });
    assert.match(await steps.text(), /1\. Where to save[\s\S]*2\. Bucket \(optional\)[\s\S]*3\. OBS/);
    await app.screenshot("first-run");
    assert.equal(existsSync(ctx.marker), false, "no marker before the setup is done");

    await app.click({ role: "button", name: "Next" });
    // Step 2: the optional bucket, skipped.
    await app.get({ role: "heading", name: "Upload to a bucket too? (optional)" });
    await app.click({ role: "button", name: "Skip: keep recordings on this computer only" });
    // Step 3: OBS: the ingest URL of this config is shown; finish.
    await app.get({ role: "heading", name: "Set up OBS for me" });
    const server = await app.get({ label: "Server" });
    await waitUntil(async () => (await server.prop("value")) === `rtmp://127.0.0.1:${ctx.rtmp}/live`, { what: "the server URL of this config" });
    await app.click({ role: "button", name: "Finish" });

    await app.get({ css: "nav.sidebar" });
    await app.get({ role: "heading", name: "Live", css: "h1" });
    await waitUntil(() => existsSync(ctx.marker), { what: "the first-run marker file" });
    // Nothing was changed: the folder was kept as it was.
    assert.equal(readFileSync(ctx.config, "utf8"), before);
    await app.close();

    // The next start skips the setup.
    app = await startApp("first-run", { ctx });
    await app.get({ role: "heading", name: "Live", css: "h1" });
    assert.equal(await app.has({ role: "heading", name: "Welcome to Tapedeck Studio" }), false);
  } finally {
    await app.close();
    cleanup(ctx);
  }
});

test("first run: 'Skip setup' writes the marker too", async () => {
  const ctx = await makeConfig("first-run-skip", { firstRunDone: false });
  const app = await startApp("first-run-skip", { ctx });
  try {
    await app.get({ role: "heading", name: "Welcome to Tapedeck Studio" });
    await app.click({ role: "button", name: "Skip setup" });
    await app.get({ css: "nav.sidebar" });
    await waitUntil(() => existsSync(ctx.marker), { what: "the first-run marker file" });
  } finally {
    await app.close();
    cleanup(ctx);
  }
});

test("first run: the bucket step saves a MinIO bucket and its keys, tests it, and makes every stream upload to it", { skip: process.env.E2E_KEYRING ? false : "no Secret Service (gnome-keyring): keys cannot be saved" }, async (t) => {
  const ctx = await makeConfig("first-run-bucket", { firstRunDone: false });
  const s3 = await startS3(ctx.dir);
  const app = await startApp("first-run-bucket", { ctx });
  try {
    await app.get({ role: "heading", name: "Welcome to Tapedeck Studio" });
    await app.click({ role: "button", name: "Next" });
    const form = await app.get({ css: "form[aria-labelledby=fr-bucket-h]" });
    await app.select({ label: "Service" }, "MinIO or other S3-compatible service", { within: form });
    await app.type({ label: "Service address" }, s3.endpoint, { within: form });
    await app.type({ label: "Bucket" }, s3.bucket, { within: form });
    await app.type({ label: "Access key ID" }, s3.accessKey, { within: form });
    await app.type({ label: "Secret access key" }, s3.secretKey, { within: form });
    await app.click({ role: "button", name: "Save and test" }, { within: form });
    const answer = await waitUntil(
      () =>
        app.exec(`const f = document.querySelector("form[aria-labelledby=fr-bucket-h]");
          const n = [...f.querySelectorAll(".notice, [role=alert]")].map((x) => x.innerText.trim()).filter(Boolean);
          return n.length ? n : null;`),
      { timeout: 30_000, what: "the bucket step's answer" },
    );
    t.diagnostic(`bucket step said: ${JSON.stringify(answer)}`);
    await app.get({ text: "Saved as custom-recordings: every stream uploads to it." }, { timeout: 5000 });
    await app.get({ text: "Ready: recordings will upload to this bucket." }, { timeout: 30_000 });
    const text = readFileSync(ctx.config, "utf8");
    assert.match(text, /^name = "custom-recordings"$/m);
    assert.match(text, /^storage = "custom-recordings"$/m);
  } finally {
    await app.close();
    s3.stop();
    cleanup(ctx);
  }
});
