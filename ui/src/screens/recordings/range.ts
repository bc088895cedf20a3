// A range typed to the second in local time ("12/06/2026, 14:03:22" in English), checked the way
// the streamer needs: a time that cannot be read, an end not after the start (errors);
// a range that reaches outside the recordings or over gaps (warnings: the export and the
// index hold only what was recorded).
import { recordedBetween, type SpanModel } from "./timeline/model";

import type { Lang } from "../../ipc/types";

const pad = (n: number) => String(n).padStart(2, "0");

const formats = new Map<string, Intl.DateTimeFormat>();
/** Date and time to the second in the language's own order, 24 h, no zone. */
function localFormat(lang: Lang): Intl.DateTimeFormat {
  let f = formats.get(lang);
  if (!f) {
    f = new Intl.DateTimeFormat(lang, { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
    formats.set(lang, f);
  }
  return f;
}

/**
 * 1765029802000 -> "12/06/2026, 14:03:22" (en) or "2026/12/06 14:03:22" (zh-CN): local
 * time in the UI language's format, the same as every other date the UI shows
 * (`localTime`), so what is typed looks like what is read.
 */
export function formatLocal(ms: number, lang: Lang = "en"): string {
  return localFormat(lang).format(new Date(ms));
}

/** "YYYY-MM-DD" of the local day holding `ms` (the value of an `<input type=date>`). */
export function formatLocalDate(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** The order of year, month and day in the language's dates ("mdy" for en). */
function dateOrder(lang: Lang): string {
  return localFormat(lang)
    .formatToParts(new Date(2026, 11, 6))
    .filter((p) => p.type === "year" || p.type === "month" || p.type === "day")
    .map((p) => p.type[0])
    .join("");
}

/**
 * A local time typed in the language's format ("12/06/2026, 14:03:22") or as
 * "YYYY-MM-DD HH:MM[:SS]" (also with a T) -> UTC ms; null when it is not a real time.
 */
export function parseLocal(text: string, lang: Lang = "en"): number | null {
  if (/[^\d\s/.,:T年月日-]/.test(text.trim())) return null;
  const groups = text.match(/\d+/g);
  if (!groups || (groups.length !== 5 && groups.length !== 6)) return null;
  const nums = groups.map(Number);
  // A 4-digit first number is a year first (ISO, or a language that writes it so).
  const order = groups[0].length === 4 ? "ymd" : dateOrder(lang);
  const at = (c: string) => nums[order.indexOf(c)];
  const [y, mo, d] = [at("y"), at("m"), at("d")];
  const [h, mi, s = 0] = nums.slice(3);
  if (String(y).length !== 4 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return null;
  const date = new Date(y, mo - 1, d, h, mi, s);
  // 2026-02-31 rolls over into March: not a real day.
  if (date.getMonth() !== mo - 1 || date.getDate() !== d) return null;
  return date.getTime();
}

/** Local "YYYY-MM-DD" -> the local midnight, or null. */
export function parseLocalDate(text: string): number | null {
  return parseLocal(`${text} 00:00:00`);
}

export type RangeCheck = {
  range: [number, number] | null;
  startError: "unreadable" | null;
  endError: "unreadable" | "notAfter" | null;
  /** Milliseconds recorded inside the range. */
  recordedMs: number;
  warning: "nothing" | "outside" | "gaps" | null;
};

export function checkRange(startText: string, endText: string, m: SpanModel, first_ms: number, last_ms: number, lang: Lang = "en"): RangeCheck {
  const start = parseLocal(startText, lang);
  const end = parseLocal(endText, lang);
  const out: RangeCheck = { range: null, startError: null, endError: null, recordedMs: 0, warning: null };
  if (start === null) out.startError = "unreadable";
  if (end === null) out.endError = "unreadable";
  else if (start !== null && end <= start) out.endError = "notAfter";
  if (out.startError || out.endError || start === null || end === null) return out;
  out.range = [start, end];
  return { ...out, ...rangeFacts(m, start, end, first_ms, last_ms) };
}

/** How much of [start, end) was recorded, and what to warn about. */
export function rangeFacts(m: SpanModel, start: number, end: number, first_ms: number, last_ms: number): Pick<RangeCheck, "recordedMs" | "warning"> {
  const recordedMs = recordedBetween(m, start, end);
  let warning: RangeCheck["warning"] = null;
  if (recordedMs <= 0) warning = "nothing";
  else if (start < first_ms || end > last_ms) warning = "outside";
  else if (recordedMs < end - start - 1000) warning = "gaps";
  return { recordedMs, warning };
}
