// Spans summed into pixel columns before anything is drawn: a month of 30 s segments
// (86,400 spans) on a 1600 px canvas is ~54 spans a column, so drawing them one by one
// would be 86,400 rectangles a frame. Here each visible span adds its share to the
// columns it covers (O(visible spans + columns)), then equal neighbours merge into runs:
// what the canvas draws is at most `width` rectangles, usually a handful.
import { firstEndingAfter, type SpanModel } from "./model";

/** Column flags. */
export const RECONNECT = 1;
export const GAP = 2;

/** Coverage levels a run is drawn with: 0 nothing, 1-3 partly recorded, 4 all. */
export const FULL = 4;

export type Buckets = {
  width: number;
  /** Fraction of each column's time that was recorded, 0..1. */
  cover: Float32Array;
  /** RECONNECT | GAP of the boundaries falling in each column. */
  flags: Uint8Array;
  /** Runs of equal level: [x0, x1, level, x0, x1, level, ...], x in columns. */
  runs: number[];
  /** Spans that fell in the visible range. */
  visibleSpans: number;
};

export function level(cover: number): number {
  if (cover >= 0.995) return FULL;
  if (cover <= 0) return 0;
  return Math.min(3, 1 + Math.floor(cover * 3));
}

/**
 * Sums the spans of [v0, v1) into `width` columns. `width` is rounded down to whole
 * pixels; every output array has exactly that many columns.
 */
export function aggregate(m: SpanModel, v0: number, v1: number, width: number): Buckets {
  const w = Math.max(0, Math.floor(width));
  const cover = new Float32Array(w);
  const flags = new Uint8Array(w);
  const runs: number[] = [];
  if (w === 0 || !(v1 > v0)) return { width: w, cover, flags, runs, visibleSpans: 0 };
  const px = w / (v1 - v0);
  const times = m.times;
  const n = m.spans.length;
  let visibleSpans = 0;
  for (let i = firstEndingAfter(m, v0); i < n; i++) {
    const s = times[2 * i];
    if (s >= v1) break;
    visibleSpans++;
    const a = Math.max(0, (s - v0) * px);
    const b = Math.min(w, (times[2 * i + 1] - v0) * px);
    if (b <= a) continue;
    const ca = Math.floor(a);
    const cb = Math.min(w - 1, Math.floor(b));
    if (ca === cb) {
      cover[ca] += b - a;
    } else {
      cover[ca] += ca + 1 - a;
      for (let c = ca + 1; c < cb; c++) cover[c] += 1;
      cover[cb] += b - cb;
    }
  }
  // Boundaries: binary search for the first one ending after v0.
  const bs = m.boundaries;
  let lo = 0;
  let hi = bs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (bs[mid].to_ms < v0) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < bs.length && bs[i].from_ms < v1; i++) {
    const b = bs[i];
    const c = Math.floor((b.from_ms - v0) * px);
    if (c >= 0 && c < w) flags[c] |= b.kind === "reconnect" ? RECONNECT : GAP;
  }
  // Merge equal neighbours into runs.
  let start = 0;
  let cur = w ? level(Math.min(1, cover[0])) : 0;
  for (let c = 1; c <= w; c++) {
    const l = c < w ? level(Math.min(1, cover[c])) : -1;
    if (l !== cur) {
      runs.push(start, c, cur);
      start = c;
      cur = l;
    }
  }
  for (let c = 0; c < w; c++) if (cover[c] > 1) cover[c] = 1;
  return { width: w, cover, flags, runs, visibleSpans };
}
