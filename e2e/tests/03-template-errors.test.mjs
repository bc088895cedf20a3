// A bad template edit: the field's problem shows right under that field, saving is refused,
// and the config file on disk is byte-for-byte what it was.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { makeConfig, startApp, waitUntil, sleep, cleanup } from "../lib/harness.mjs";

const TEMPLATE = `
# e2e: a template written by hand, with comments
[[template]]
app = "show"   # the show's app
stream = "*"
formats = ["m3u8", "mp4"]
`;

/** The field is marked invalid and `message` is among the problems under it, tied to it. */
function assertFieldError(e, message) {
  assert.equal(e.invalid, true, "aria-invalid");
  assert.ok(e.below.includes(message), `"${message}" under the field: ${JSON.stringify(e.below)}`);
  assert.deepEqual(e.tied, e.below, "the problems are the field's description (aria-describedby)");
}

test("templates: out-of-range and invalid edits show next to their field and leave the file untouched", async (t) => {
  const ctx = await makeConfig("template-errors", { extra: TEMPLATE });
  const original = readFileSync(ctx.config);
  const app = await startApp("template-errors", { ctx });
  const unchanged = () => assert.ok(readFileSync(ctx.config).equals(original), `the config file changed:\n${readFileSync(ctx.config, "utf8")}`);
  try {
    await app.nav("Templates");
    await app.click({ role: "button", name: "show/*" }, { exact: false });
    await app.get({ role: "heading", name: "Template show/*", css: "h2" });
    const form = await app.get({ css: "form[aria-labelledby=tpl-form-h]" });
    const hlsBox = await app.fieldset("HLS (m3u8 playlist + .ts segments)", { within: form });
    const slice = await app.get({ label: "Segment length" }, { within: hlsBox });
    const cycle = await app.get({ label: "Start a new file after" }, { within: hlsBox });
    assert.equal(await slice.prop("value"), "30");
    assert.equal(await cycle.prop("value"), "360");
    assert.deepEqual(await app.fieldErrors(slice), { invalid: false, tied: [], below: [] });

    const saveRefused = async () => {
      await app.click({ role: "button", name: "Save" }, { within: form });
      await sleep(1500); // time for a save that should not happen
      assert.equal(await app.has({ text: "Template saved. It applies from the next stream that starts." }), false, "no 'saved' note");
      unchanged();
    };

    // Segment length 0 s, then 500 s: out of 5-30 s.
    for (const bad of ["0", "500"]) {
      await app.type({ label: "Segment length" }, bad, { within: hlsBox });
      await waitUntil(async () => (await app.fieldErrors(slice)).below.length, { what: `the segment length ${bad} s error` });
      await sleep(800); // the engine's own validation answers 300 ms after the last keystroke
      const e = await app.fieldErrors(slice);
      // One message, the engine's own (it names the field).
      assert.equal(e.below.length, 1, JSON.stringify(e.below));
      assert.match(e.below[0], new RegExp(`^${bad}s is outside 1s-60s$`), JSON.stringify(e.below));
      // Only that field complains.
      assert.deepEqual((await app.fieldErrors(cycle)).below, []);
      if (bad === "0") await app.screenshot("templates-error");
      await saveRefused();
    }

    // Back to 30 s: the error goes; the cycle at 1 minute is out of 15-360 min.
    await app.type({ label: "Segment length" }, "30", { within: hlsBox });
    await waitUntil(async () => !(await app.fieldErrors(slice)).invalid, { what: "the segment length error to go" });
    await app.type({ label: "Start a new file after" }, "1", { within: hlsBox });
    await waitUntil(async () => (await app.fieldErrors(cycle)).below.length, { what: "the cycle error" });
    await sleep(800);
    const c = await app.fieldErrors(cycle);
    assertFieldError(c, "Choose 15 to 360 minutes.");
    if (c.below.length > 1) t.diagnostic(`UI finding: a 1 min cycle shows ${c.below.length} messages: ${JSON.stringify(c.below)}`);
    assert.deepEqual((await app.fieldErrors(slice)).below, []);
    await saveRefused();
    await app.type({ label: "Start a new file after" }, "360", { within: hlsBox });
    await waitUntil(async () => !(await app.fieldErrors(cycle)).invalid, { what: "the cycle error to go" });

    // A problem only the engine knows (a segment name without {Sequence}): shown under the
    // field as you type, and the save is refused by the engine.
    const seg = await app.type({ label: "Segment name" }, "record/{AppName}/{StreamName}/{UnixTimestamp}", { within: hlsBox });
    const s = await waitUntil(async () => {
      const x = await app.fieldErrors(seg);
      return x.below.length ? x : null;
    }, { what: "the engine's problem with the segment name" });
    assert.equal(s.invalid, true);
    assert.deepEqual(s.tied, s.below);
    assert.match(s.below.join(" "), /Sequence/);
    await saveRefused();
  } finally {
    await app.close();
    cleanup(ctx);
  }
});
