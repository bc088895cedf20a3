// Templates: a new template (app "show", every stream, HLS + MP4), its name preview with
// the exact keys, saved into the config file without losing the file's comments.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { makeConfig, startApp, waitUntil, cleanup } from "../lib/harness.mjs";

const COMMENT = "# e2e: a comment the test wrote; Tapedeck Studio must keep it";

/** The preview's rows as {label: key}. */
async function previewKeys(app) {
  return app.exec(`
    const out = {};
    const box = document.querySelector(".preview-keys");
    if (!box) return null;
    for (const dt of box.querySelectorAll("dt")) out[dt.textContent.trim()] = dt.nextElementSibling?.textContent.trim();
    return out;`);
}

// "{EscapedStartTime}" of a stream starting now (UTC), give or take a few seconds.
const STAMP = "\\d{4}-\\d{2}-\\d{2}-\\d{2}-\\d{2}-\\d{2}";

test("templates: create show/* as HLS + MP4, preview its names, save it into the file with its comments", async () => {
  const ctx = await makeConfig("templates", { header: `${COMMENT}\n` });
  const app = await startApp("templates", { ctx });
  try {
    await app.nav("Templates");
    // A file without templates shows the built-in one that records every stream, marked
    // as built-in.
    await app.get({ text: "Built-in: every app and stream", exact: false });
    const list = await app.get({ css: "ul.item-list" });
    assert.doesNotMatch(await list.text(), /show/);
    await app.click({ role: "button", name: "New template" });
    await app.get({ role: "heading", name: "New template", css: "h2" });
    // The editor's fields (the "Which template" box below has fields of the same names).
    const form = await app.get({ css: "form[aria-labelledby=tpl-form-h]" });
    const within = { within: form };

    await app.type({ label: "App name" }, "show", within);
    await app.type({ label: "Stream name" }, "*", within);
    // HLS and MP4 are on, FLV off (the form's defaults): check, don't assume.
    const hls = await app.get({ label: "HLS (m3u8 playlist + .ts segments)" }, within);
    const mp4 = await app.get({ label: "MP4 file" }, within);
    const flv = await app.get({ label: "FLV file" }, within);
    if (!(await hls.prop("checked"))) await hls.click();
    if (!(await mp4.prop("checked"))) await mp4.click();
    if (await flv.prop("checked")) await flv.click();
    assert.deepEqual([await hls.prop("checked"), await mp4.prop("checked"), await flv.prop("checked")], [true, true, false]);

    // The preview follows the example names and the template.
    await app.type({ label: "Example app name" }, "show", within);
    await app.type({ label: "Example stream name" }, "cam1", within);
    const keys = await waitUntil(
      async () => {
        const k = await previewKeys(app);
        return k && k.Playlist?.startsWith("record/show/cam1/") ? k : null;
      },
      { what: "the preview for show/cam1" },
    );
    const d = new Date();
    const today = `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, "0")}-${String(d.getUTCDate()).padStart(2, "0")}`;
    assert.match(keys.Playlist, new RegExp(`^record/show/cam1/${STAMP}_${STAMP}\\.m3u8$`));
    assert.match(keys.Segment, /^record\/show\/cam1\/\d{10}_0\.ts$/);
    assert.match(keys.MP4, new RegExp(`^record/show/cam1/${STAMP}_${STAMP}\\.mp4$`));
    assert.equal(keys.FLV, undefined, "no FLV key without the FLV format");
    assert.equal(keys["Daily playlist"], `show/cam1/${today}.m3u8`);
    // The exact key: the same the engine gives for this template (same second, or the next).
    // Before saving, the saved config records show/cam1 with the built-in template.
    const before = await app.invoke("name_preview", { app: "show", stream: "cam1", template: null });
    assert.deepEqual([before.template?.app, before.template?.stream], ["*", "*"]);
    // The names follow the example stream as it is typed.
    await app.type({ label: "Example stream name" }, "interview", within);
    await waitUntil(async () => (await previewKeys(app))?.Playlist?.startsWith("record/show/interview/"), {
      what: "the preview to follow the example stream name",
    });
    // ...and the template: a playlist name without "record/" shows at once.
    await app.type({ label: "Playlist name" }, "vod/{AppName}/{StreamName}/{EscapedStartTime}_{EscapedEndTime}", within);
    const changed = await waitUntil(
      async () => {
        const k = await previewKeys(app);
        return k?.Playlist?.startsWith("vod/show/interview/") ? k : null;
      },
      { what: "the preview to follow the playlist name" },
    );
    assert.match(changed.Playlist, new RegExp(`^vod/show/interview/${STAMP}_${STAMP}\\.m3u8$`));
    await app.exec("document.getElementById('tpl-preview-h').scrollIntoView({ block: 'center' })");
    await app.screenshot("templates-preview");
    await app.screenshot("templates", { top: true });

    await app.click({ role: "button", name: "Save" }, within);
    await app.get({ text: "Template saved. It applies from the next stream that starts." });
    // The list shows it.
    await app.get({ text: "show/*" });

    const text = readFileSync(ctx.config, "utf8");
    assert.ok(text.includes(COMMENT + "\n"), `the comment line is still in the file:\n${text}`);
    assert.ok(text.startsWith(COMMENT + "\n"), "and still at the top");
    const block = text.slice(text.indexOf("[[template]]"));
    assert.ok(text.includes("[[template]]"), `a [[template]] table in:\n${text}`);
    assert.match(block, /^app = "show"$/m);
    assert.match(block, /^stream = "\*"$/m);
    // formats: written out, or left out as the default (HLS + MP4): then the file read
    // back by the app must say HLS + MP4.
    const formats = block.match(/^formats = (.*)$/m);
    if (formats) assert.equal(formats[1], '["m3u8", "mp4"]');
    const cfg = await app.invoke("config_get");
    const mine = cfg.template.filter((t) => t.app === "show" && t.stream === "*");
    assert.equal(mine.length, 1, "one show/* template in the config read back");
    assert.deepEqual(mine[0].formats, ["m3u8", "mp4"]);
    assert.match(block, /^object = "vod\/\{AppName\}\/\{StreamName\}\/\{EscapedStartTime\}_\{EscapedEndTime\}"$/m);
    // The rest of the file is as the test wrote it.
    assert.match(text, new RegExp(`^rtmp_listen = "127\\.0\\.0\\.1:${ctx.rtmp}"$`, "m"));

    // The saved config now answers the preview for show/cam1 with this template.
    const saved = await app.invoke("name_preview", { app: "show", stream: "cam1", template: null });
    assert.deepEqual([saved.template?.app, saved.template?.stream], ["show", "*"]);
    assert.match(saved.keys.playlist, new RegExp(`^vod/show/cam1/${STAMP}_${STAMP}\\.m3u8$`));
  } finally {
    await app.close();
    cleanup(ctx);
  }
});

test("templates: the built-in */* template of a file without templates can be edited and saved", async () => {
  const ctx = await makeConfig("templates-builtin", { header: `${COMMENT}\n` });
  const app = await startApp("templates-builtin", { ctx });
  try {
    await app.nav("Templates");
    await app.click({ role: "button", name: "*/*" }, { exact: false });
    await app.get({ role: "heading", name: "Template */*", css: "h2" });
    const form = await app.get({ css: "form[aria-labelledby=tpl-form-h]" });
    await app.type({ label: "Reconnect window" }, "60", { within: form });
    await app.click({ role: "button", name: "Save" }, { within: form });
    await app.get({ text: "Template saved. It applies from the next stream that starts." });
    const text = readFileSync(ctx.config, "utf8");
    assert.ok(text.startsWith(COMMENT + "\n"));
    assert.match(text, /^interruption_window = "(60s|1m)"$/m);
  } finally {
    await app.close();
    cleanup(ctx);
  }
});
