// Chapter flags with their titles: each title gets the room up to the next flag; a title
// that does not fit is shortened with "…", and one with less room than `minLabel` shows
// its flag alone (its title stays in the text alternative and the flag's tooltip).

export type Flag = { x: number; title: string };
export type PlacedFlag = Flag & { label: string | null };

export type Measure = (text: string) => number;

export const ELLIPSIS = "…";

/** `text` shortened to fit `room` pixels (with "…"), or null when not even one letter fits. */
export function elide(text: string, room: number, measure: Measure): string | null {
  if (measure(text) <= room) return text;
  const chars = Array.from(text); // whole code points: never half of a CJK or emoji pair
  let lo = 0;
  let hi = chars.length - 1;
  // Longest prefix p with measure(p + "…") <= room.
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (measure(chars.slice(0, mid).join("").trimEnd() + ELLIPSIS) <= room) lo = mid;
    else hi = mid - 1;
  }
  if (lo === 0) return null;
  return chars.slice(0, lo).join("").trimEnd() + ELLIPSIS;
}

/**
 * Places labels left to right: a flag at `x` draws its label from `x + pad` and may use
 * the room up to `pad` before the next flag (or the canvas's right edge).
 */
export function placeLabels(
  flags: readonly Flag[],
  width: number,
  measure: Measure,
  { pad = 4, minLabel = 24 }: { pad?: number; minLabel?: number } = {},
): PlacedFlag[] {
  const sorted = [...flags].sort((a, b) => a.x - b.x);
  return sorted.map((f, i) => {
    const next = i + 1 < sorted.length ? sorted[i + 1].x - pad : width;
    const room = next - (f.x + pad);
    if (room < minLabel) return { ...f, label: null };
    return { ...f, label: elide(f.title, room, measure) };
  });
}
