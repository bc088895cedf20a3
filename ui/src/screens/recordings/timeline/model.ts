// What the spans of a stream say, read the way IPC.md describes: consecutive spans of
// the same recording are one recording (continuous, or a reconnect inside the
// interruption window when time is missing between them); a different recording after
// a span is a real gap.
import type { Span } from "../../../bindings/Span";

/** At most this much missing between two spans of one recording still reads as continuous. */
export const CONTINUOUS_MS = 1000;

export type Boundary = {
  /** End of the span before. */
  from_ms: number;
  /** Start of the span after. */
  to_ms: number;
  kind: "reconnect" | "gap";
};

export type SpanModel = {
  /** Sorted by start. */
  spans: Span[];
  /** Start and end of each span, flattened for the hot loops: [s0, e0, s1, e1, ...]. */
  times: Float64Array;
  /** Every boundary that is not continuous, in time order. */
  boundaries: Boundary[];
  recordedMs: number;
  first_ms: number;
  last_ms: number;
};

export function spanModel(input: readonly Span[]): SpanModel {
  const spans = [...input].sort((a, b) => a.start_ms - b.start_ms || a.end_ms - b.end_ms);
  const times = new Float64Array(spans.length * 2);
  const boundaries: Boundary[] = [];
  let recordedMs = 0;
  let coveredTo = -Infinity;
  for (let i = 0; i < spans.length; i++) {
    const s = spans[i];
    times[2 * i] = s.start_ms;
    times[2 * i + 1] = s.end_ms;
    // Overlapping spans (should not happen) are counted once.
    const from = Math.max(s.start_ms, coveredTo);
    if (s.end_ms > from) recordedMs += s.end_ms - from;
    coveredTo = Math.max(coveredTo, s.end_ms);
    if (i > 0) {
      const b = classify(spans[i - 1], s);
      if (b) boundaries.push(b);
    }
  }
  return {
    spans,
    times,
    boundaries,
    recordedMs,
    first_ms: spans.length ? spans[0].start_ms : 0,
    last_ms: spans.length ? coveredTo : 0,
  };
}

/** The boundary between two consecutive spans, or null when the recording just goes on. */
export function classify(before: Span, after: Span): Boundary | null {
  const missing = after.start_ms - before.end_ms;
  if (before.recording === after.recording) {
    if (missing <= CONTINUOUS_MS) return null;
    return { from_ms: before.end_ms, to_ms: after.start_ms, kind: "reconnect" };
  }
  return { from_ms: before.end_ms, to_ms: Math.max(before.end_ms, after.start_ms), kind: "gap" };
}

/** Index of the first span whose end is after `t` (binary search over `times`). */
export function firstEndingAfter(m: SpanModel, t: number): number {
  let lo = 0;
  let hi = m.spans.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (m.times[2 * mid + 1] <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Milliseconds recorded between `from` and `to`. */
export function recordedBetween(m: SpanModel, from: number, to: number): number {
  let total = 0;
  let coveredTo = from;
  for (let i = firstEndingAfter(m, from); i < m.spans.length; i++) {
    const s = m.times[2 * i];
    if (s >= to) break;
    const a = Math.max(s, coveredTo);
    const b = Math.min(m.times[2 * i + 1], to);
    if (b > a) total += b - a;
    coveredTo = Math.max(coveredTo, b);
  }
  return total;
}

/** The span holding `t`, or -1. */
export function spanAt(m: SpanModel, t: number): number {
  const i = firstEndingAfter(m, t);
  return i < m.spans.length && m.times[2 * i] <= t ? i : -1;
}

/** The first recorded moment in [from, to), or null. */
export function firstRecordedIn(m: SpanModel, from: number, to: number): number | null {
  const i = firstEndingAfter(m, from);
  if (i >= m.spans.length) return null;
  const t = Math.max(from, m.times[2 * i]);
  return t < to ? t : null;
}
