// Wall-clock time <-> the preview's media time. hls.js gives each fragment its media
// `start`, `duration` and the playlist's EXT-X-PROGRAM-DATE-TIME (`programDateTime`);
// without them (native HLS, or before the playlist is parsed) the spans give the same
// mapping: the preview plays the recorded pieces of the range back to back.
import { firstEndingAfter, type SpanModel } from "./model";

/** One fragment: media seconds and wall-clock ms of its first frame. */
export type Frag = { start: number; duration: number; pdt: number };

/** Media seconds at wall time `t`; inside a gap, the start of what comes next; null past the end. */
export function wallToMedia(frags: readonly Frag[], t: number): number | null {
  let lo = 0;
  let hi = frags.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const f = frags[mid];
    if (f.pdt + f.duration * 1000 <= t) lo = mid + 1;
    else hi = mid;
  }
  if (lo >= frags.length) return null;
  const f = frags[lo];
  return t <= f.pdt ? f.start : f.start + (t - f.pdt) / 1000;
}

/** Wall time (ms) at media second `s`, or null outside the fragments. */
export function mediaToWall(frags: readonly Frag[], s: number): number | null {
  let lo = 0;
  let hi = frags.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (frags[mid].start + frags[mid].duration <= s) lo = mid + 1;
    else hi = mid;
  }
  if (lo >= frags.length) {
    const last = frags[frags.length - 1];
    return last && Math.abs(s - (last.start + last.duration)) < 0.5 ? last.pdt + last.duration * 1000 : null;
  }
  const f = frags[lo];
  return s < f.start ? null : f.pdt + (s - f.start) * 1000;
}

/** The fragments a preview of [from, to) would have, one per recorded piece. */
export function fragsFromSpans(m: SpanModel, from: number, to: number): Frag[] {
  const out: Frag[] = [];
  let media = 0;
  let coveredTo = from;
  for (let i = firstEndingAfter(m, from); i < m.spans.length; i++) {
    const s = m.times[2 * i];
    if (s >= to) break;
    const a = Math.max(s, coveredTo);
    const b = Math.min(m.times[2 * i + 1], to);
    if (b <= a) continue;
    const last = out[out.length - 1];
    if (last && Math.abs(last.pdt + last.duration * 1000 - a) < 1) last.duration += (b - a) / 1000;
    else out.push({ start: media, duration: (b - a) / 1000, pdt: a });
    media += (b - a) / 1000;
    coveredTo = b;
  }
  return out;
}
