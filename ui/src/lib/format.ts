// Numbers, sizes and times as streamers read them. Times are local, with the zone.
import type { Lang } from "../ipc/types";

/** 3725 -> "1:02:05"; 65 -> "0:01:05". */
export function hms(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return `${h}:${String(m).padStart(2, "0")}:${String(sec).padStart(2, "0")}`;
}

const UNITS = ["B", "KB", "MB", "GB", "TB", "PB"];

/** Decimal units, as disks and buckets are sold: 1_500_000_000 -> "1.5 GB". */
export function bytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "–";
  let i = 0;
  let v = n;
  while (v >= 1000 && i < UNITS.length - 1) {
    v /= 1000;
    i++;
  }
  const digits = i === 0 || v >= 100 ? 0 : 1;
  return `${v.toFixed(digits)} ${UNITS[i]}`;
}

/** Bytes per second as bits: 2_500_000 -> "20 Mbit/s". */
export function rate(bytesPerSecond: number): string {
  const bits = bytesPerSecond * 8;
  if (bits >= 1e9) return `${(bits / 1e9).toFixed(1)} Gbit/s`;
  if (bits >= 1e6) return `${(bits / 1e6).toFixed(1)} Mbit/s`;
  if (bits >= 1e3) return `${Math.round(bits / 1e3)} kbit/s`;
  return `${Math.round(bits)} bit/s`;
}

export function kbps(k: number): string {
  return k >= 1000 ? `${(k / 1000).toFixed(1)} Mbit/s` : `${Math.round(k)} kbit/s`;
}

/** A moment in local time with its zone: "14:03:22 CET" or "2026-12-06 14:03 GMT+8". */
export function localTime(ms: number | string | Date, lang: Lang, withDate = true): string {
  const d = ms instanceof Date ? ms : new Date(ms);
  if (Number.isNaN(d.getTime())) return "–";
  return new Intl.DateTimeFormat(lang, {
    year: withDate ? "numeric" : undefined,
    month: withDate ? "2-digit" : undefined,
    day: withDate ? "2-digit" : undefined,
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
    timeZoneName: "short",
  }).format(d);
}

/** Parses a `Secs` string ("30s", "15m", "1h30m", "90") like the engine; null if not one. */
export function parseSecs(text: string): number | null {
  const t = text.trim();
  if (!t) return null;
  if (/^\d+$/.test(t)) return Number(t);
  const re = /(\d+)([smh])/gy;
  let total = 0;
  let consumed = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(t))) {
    total += Number(m[1]) * (m[2] === "h" ? 3600 : m[2] === "m" ? 60 : 1);
    consumed = re.lastIndex;
  }
  return consumed === t.length ? total : null;
}

/** Seconds as the engine writes them: 21600 -> "6h", 900 -> "15m", 90 -> "90s". */
export function formatSecs(s: number): string {
  if (s > 0 && s % 3600 === 0) return `${s / 3600}h`;
  if (s > 0 && s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}

/** A moment in few characters, for lists: "Dec 3, 10:45" / "12月3日 10:45" (local time). */
export function shortTime(ms: number, lang: Lang): string {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return "–";
  return new Intl.DateTimeFormat(lang, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(d);
}
