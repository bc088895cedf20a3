// The recorder cannot start (its RTMP port is taken): the banner says so and leads to
// Settings, where a free port brings it back. Also the Settings screen's picture.
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { readFileSync } from "node:fs";
import { makeConfig, startApp, freePort, waitUntil, waitEngineRunning, cleanup } from "../lib/harness.mjs";

test("engine failed: a taken RTMP port shows the banner; a free port saved in Settings brings the recorder back", async (t) => {
  const taken = net.createServer(() => {});
  await new Promise((res) => taken.listen(0, "127.0.0.1", res));
  const port = taken.address().port;
  const ctx = await makeConfig("engine-failed", { rtmpPort: port });
  const app = await startApp("engine-failed", { ctx });
  try {
    const banner = await app.get({ role: "alert", name: null }, { timeout: 20_000 });
    const text = await banner.text();
    t.diagnostic(`banner: ${text.replace(/\n+/g, " | ")}`);
    assert.match(text, /Tapedeck is not recording: its recorder could not start\./);
    assert.ok(text.includes(String(port)), `the banner names the port ${port}`);
    const st = await app.invoke("engine_status");
    assert.equal(st.state, "failed");
    await app.screenshot("engine-failed", { top: true });

    // Open Settings from the banner, pick a free port, save: the recorder starts.
    await app.click({ role: "button", name: "Open Settings" }, { within: banner });
    await app.get({ role: "heading", name: "Settings", css: "h1" });
    const free = await freePort();
    await app.type({ label: "Listen address" }, `127.0.0.1:${free}`);
    await app.click({ role: "button", name: "Save settings" });
    await waitEngineRunning(app, 30_000);
    await waitUntil(async () => !(await app.has({ text: "Tapedeck is not recording: its recorder could not start." })), {
      timeout: 15_000,
      what: "the banner to go",
    });
    assert.match(readFileSync(ctx.config, "utf8"), new RegExp(`^rtmp_listen = "127\\.0\\.0\\.1:${free}"$`, "m"));
    // The engine really listens there now.
    await new Promise((res, rej) => {
      const c = net.connect(free, "127.0.0.1", () => (c.end(), res()));
      c.on("error", rej);
    });
    await app.nav("Live");
    const server = await app.get({ label: "Server" });
    await waitUntil(async () => (await server.prop("value")) === `rtmp://127.0.0.1:${free}/live`, { what: "Live to show the new address" });
    // Settings, as a person opens it.
    await app.nav("Settings");
    await app.screenshot("settings", { top: true });
  } finally {
    await app.close();
    taken.close();
    cleanup(ctx);
  }
});
