import type { T } from "../../i18n";
import { hms } from "../../lib/format";

/** 3_725_000 -> "1:02:05"; a day or more -> "2 d 3:04:05" (in the UI's language). */
export function duration(ms: number, t: T): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const days = Math.floor(s / 86400);
  return days ? t("rec.days", { n: days, hms: hms(s % 86400) }) : hms(s);
}
