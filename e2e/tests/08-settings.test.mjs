// Settings: the reconnect window for every stream is saved into the file (as the */*
// template's interruption_window), comments kept.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { makeConfig, startApp, waitEngineRunning, waitUntil, cleanup } from "../lib/harness.mjs";

test("settings: the reconnect window for every stream is saved into the file", async (t) => {
  const ctx = await makeConfig("settings", { header: "# e2e: keep me\n" });
  const app = await startApp("settings", { ctx });
  try {
    await waitEngineRunning(app);
    await app.nav("Settings");
    const win = await app.get({ label: "Reconnect window for every stream" });
    await waitUntil(async () => (await win.prop("value")) === "180", { what: "the default 180 s" });
    await app.type({ label: "Reconnect window for every stream" }, "60");
    await app.click({ role: "button", name: "Save settings" });
    const said = await waitUntil(
      () => app.exec(`const n = [...document.querySelectorAll("main .notice, main [role=alert]")].map((x) => x.innerText.trim()).filter((x) => x && !/restarts Tapedeck's recorder/.test(x)); return n.length ? n : null;`),
      { what: "an answer to the save" },
    );
    t.diagnostic(`settings said: ${JSON.stringify(said)}`);
    const text = readFileSync(ctx.config, "utf8");
    assert.ok(text.startsWith("# e2e: keep me\n"));
    assert.match(text, /^interruption_window = "(60s|1m)"$/m, text);
  } finally {
    await app.close();
    cleanup(ctx);
  }
});
