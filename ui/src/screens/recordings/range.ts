// A range typed to the second in local time ("2026-12-06 14:03:22"), checked the way
// the streamer needs: a time that cannot be read, an end not after the start (errors);
// a range that reaches outside the recordings or over gaps (warnings: the export and the
// index hold only what was recorded).
import { recordedBetween, type SpanModel } from "./timeline/model";

const pad = (n: number) => String(n).padStart(2, "0");

/** 1765029802000 -> "2026-12-06 14:03:22" in local time. */
export function formatLocal(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "YYYY-MM-DD" of the local day holding `ms`. */
export function formatLocalDate(ms: number): string {
  return formatLocal(ms).slice(0, 10);
}

const LOCAL = /^\s*(\d{4})-(\d{1,2})-(\d{1,2})[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$/;

/** Local "YYYY-MM-DD HH:MM[:SS]" (or with a T) -> UTC ms; null when it is not a real time. */
export function parseLocal(text: string): number | null {
  const m = LOCAL.exec(text);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1).map((x) => (x === undefined ? 0 : Number(x)));
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return null;
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

export function checkRange(startText: string, endText: string, m: SpanModel, first_ms: number, last_ms: number): RangeCheck {
  const start = parseLocal(startText);
  const end = parseLocal(endText);
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
