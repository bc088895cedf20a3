// Time <-> x on the timeline: a d3 `scaleTime` over a base domain (the stream's data,
// padded), transformed by d3-zoom's ZoomTransform. Zoom is bounded from one minute to
// a few months across the canvas.
import { scaleTime, type ScaleTime } from "d3-scale";
import { zoomIdentity, type ZoomTransform } from "d3-zoom";

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** The narrowest view: one minute across the canvas. */
export const MIN_SPAN_MS = MINUTE;
/** The widest view: about three months across the canvas. */
export const MAX_SPAN_MS = 92 * DAY;

export type TimeScale = ScaleTime<number, number>;

export type Base = { start: number; end: number; width: number };

/** The base domain for a stream's data: padded by 2 % (at least a minute) each side. */
export function baseFor(first_ms: number, last_ms: number, width: number): Base {
  const span = Math.max(last_ms - first_ms, MIN_SPAN_MS);
  const pad = Math.max(span * 0.02, MINUTE);
  return { start: first_ms - pad, end: first_ms + span + pad, width: Math.max(1, width) };
}

export function baseScale(b: Base): TimeScale {
  return scaleTime().domain([new Date(b.start), new Date(b.end)]).range([0, b.width]);
}

/** The scale the canvas draws with: the base rescaled by the zoom transform. */
export function viewScale(b: Base, t: ZoomTransform): TimeScale {
  return t.rescaleX(baseScale(b));
}

/** [kMin, kMax] for d3-zoom's scaleExtent: from MAX_SPAN_MS down to MIN_SPAN_MS across. */
export function zoomExtent(b: Base): [number, number] {
  const span = b.end - b.start;
  // Zooming out further than twice the data (or a day) shows nothing more.
  const widest = Math.min(MAX_SPAN_MS, Math.max(DAY, 2 * span));
  return [Math.min(1, span / widest), Math.max(1, span / MIN_SPAN_MS)];
}

/**
 * d3-zoom's translateExtent, in base pixels: the data plus the wider of its own length
 * and a day on each side, so day navigation can show a day just outside the data.
 */
export function panExtent(b: Base, height: number): [[number, number], [number, number]] {
  const s = baseScale(b);
  const margin = Math.max(b.end - b.start, DAY);
  return [
    [s(new Date(b.start - margin)), 0],
    [s(new Date(b.end + margin)), height],
  ];
}

/** The zoom transform whose view shows exactly [start, end]. */
export function transformFor(b: Base, start: number, end: number): ZoomTransform {
  const s = baseScale(b);
  const x0 = s(new Date(start));
  const x1 = s(new Date(end));
  const k = b.width / Math.max(1e-9, x1 - x0);
  return zoomIdentity.scale(k).translate(-x0, 0);
}

/** The visible time range of a scale. */
export function visible(s: TimeScale): [number, number] {
  const [a, b] = s.domain();
  return [a.getTime(), b.getTime()];
}

/** Local midnight of the day holding `t`, and of the next day (DST-safe). */
export function localDay(t: number): [number, number] {
  const d = new Date(t);
  const start = new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const end = new Date(d.getFullYear(), d.getMonth(), d.getDate() + 1).getTime();
  return [start, end];
}

/** The zone's short name for the axis ("GMT+8", "CET"). */
export function zoneName(t: number, lang: string): string {
  try {
    const parts = new Intl.DateTimeFormat(lang, { timeZoneName: "short" }).formatToParts(new Date(t));
    return parts.find((p) => p.type === "timeZoneName")?.value ?? "";
  } catch {
    return "";
  }
}
