// Helpers of the Recordings screen's end-to-end tests (09-recordings, 10-drag-out): a
// stream's row badge on Live, opening a recorded stream, typing a range, exporting a clip.
import { execFileSync } from "node:child_process";

/** ffprobe's streams (type, codec, size) and format (start, duration) as JSON. */
export function probe(file, extra = []) {
  return JSON.parse(
    execFileSync(
      "ffprobe",
      ["-v", "error", ...extra, "-show_entries", "stream=codec_type,codec_name,width,height:format=start_time,duration", "-of", "json", file],
      { encoding: "utf8" },
    ),
  );
}

/** The badge ("Recording", ...) of a stream's row on Live; `name` is "app/stream". */
export function rowBadge(app, name) {
  return app.exec(
    `const li = [...document.querySelectorAll("ul.streams > li")].find((l) => l.getAttribute("aria-label") === arguments[0]);
     return li?.querySelector(".badge")?.textContent ?? null;`,
    name,
  );
}

/** A time as the Range panel's Start/End fields show and read it (to the second, local). */
export function rangeText(app, ms) {
  return app.exec(
    `return new Intl.DateTimeFormat("en", { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" }).format(new Date(arguments[0]));`,
    ms,
  );
}

/** Recordings: picks app/stream in the stream picker; returns its recorded_streams entry. */
export async function openRecordedStream(app, appName, stream) {
  await app.nav("Recordings");
  const picker = await app.get({ css: "nav.rec-streams" }, { timeout: 15_000 });
  await app.click({ role: "button", name: stream, exact: false }, { within: picker });
  await app.get({ role: "heading", name: `${appName}/${stream}`, css: "h2" });
  const streams = await app.invoke("recorded_streams");
  const info = streams.find((s) => s.app === appName && s.stream === stream);
  if (!info) throw new Error(`${appName}/${stream} not in recorded_streams: ${JSON.stringify(streams)}`);
  return info;
}

/** Types a range into Start and End (as `rangeText`) and applies it; returns the facts' text. */
export async function applyRange(app, fromText, toText) {
  await app.type({ label: "Start" }, fromText);
  await app.type({ label: "End" }, toText);
  await app.click({ role: "button", name: "Apply" });
  return (await app.get({ css: "[data-testid=range-facts]" })).text();
}

/**
 * "Export clip…" for the applied range; `output(suggested)` may give another path for
 * "Save to" (typed in). Waits for the finished clip card.
 */
export async function exportClip(app, { output, timeout = 60_000 } = {}) {
  await app.click({ role: "button", name: "Export clip…" });
  const field = await app.get({ label: "Save to" });
  const suggested = await field.prop("value");
  if (output) await app.type({ label: "Save to" }, output(suggested));
  await app.click({ role: "button", name: "Export" });
  const card = await app.get({ role: "group", name: "Finished clip", css: "[role=group]" }, { timeout });
  const cardText = await card.text();
  const clip = (await app.get({ css: ".clip-path" }, { within: card }).then((e) => e.text())).trim();
  return { suggested, card, cardText, clip };
}

/** The size as the clip card writes it (ui/src/lib/format.ts `bytes`). */
export function bytesText(n) {
  const units = ["B", "KB", "MB", "GB", "TB", "PB"];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(i === 0 || v >= 100 ? 0 : 1)} ${units[i]}`;
}
