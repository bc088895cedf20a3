// Where the thumbnails along the top go: one slot per `step` of time, where `step` is the
// first "round" duration that is at least a thumbnail wide at the current zoom. Slots
// start at multiples of `step` (since the epoch), so panning and zooming back ask for the
// same times again and hit the cache. A slot shows the first recorded moment inside it;
// slots with nothing recorded stay empty.
import { firstRecordedIn, type SpanModel } from "./model";

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;
export const STEPS = [S, 2 * S, 5 * S, 10 * S, 15 * S, 30 * S, M, 2 * M, 5 * M, 10 * M, 15 * M, 30 * M, H, 2 * H, 3 * H, 6 * H, 12 * H, D, 2 * D, 3 * D, 4 * D, 7 * D, 14 * D, 28 * D];

/** The smallest step at which one thumbnail of `thumbWidth` px fits in a slot. */
export function thumbStep(msPerPx: number, thumbWidth: number): number {
  const need = msPerPx * thumbWidth;
  return STEPS.find((s) => s >= need) ?? Math.ceil(need / STEPS[STEPS.length - 1]) * STEPS[STEPS.length - 1];
}

export type ThumbSlot = {
  /** The moment asked for (thumbnail_url's atMs). */
  at: number;
  /** Left edge of the slot, in canvas px. */
  x: number;
};

export function thumbSlots(m: SpanModel, v0: number, v1: number, width: number, thumbWidth: number): ThumbSlot[] {
  if (!(v1 > v0) || width <= 0) return [];
  const msPerPx = (v1 - v0) / width;
  const step = thumbStep(msPerPx, thumbWidth);
  const out: ThumbSlot[] = [];
  // Include the slot cut by the left edge: its image slides in as the view pans.
  for (let t = Math.floor(v0 / step) * step; t < v1; t += step) {
    const at = firstRecordedIn(m, t, t + step);
    if (at === null) continue;
    out.push({ at, x: (t - v0) / msPerPx });
  }
  return out;
}

/**
 * Asks for thumbnails at most `max` at a time, newest wish first, and keeps every answer
 * (the URL, or null for "no video there"); `want` replaces the wishes not started yet.
 */
export class ThumbLoader {
  private cache = new Map<number, string | null>();
  private inFlight = new Set<number>();
  private queue: number[] = [];
  private closed = false;

  constructor(
    private readonly load: (at: number) => Promise<string | null>,
    private readonly onLoaded: () => void,
    private readonly max = 4,
    private readonly keep = 2000,
  ) {}

  get(at: number): string | null | undefined {
    return this.cache.get(at);
  }

  want(ats: readonly number[]) {
    this.queue = ats.filter((a) => !this.cache.has(a) && !this.inFlight.has(a));
    this.pump();
  }

  /** Stops asking (the timeline went away); answers still coming are dropped. */
  close() {
    this.closed = true;
    this.queue = [];
  }

  /** Asks again after `close` (React's StrictMode unmounts and mounts an effect twice). */
  open() {
    this.closed = false;
  }

  /** Requests made so far (for tests). */
  get size() {
    return this.cache.size;
  }

  private pump() {
    while (!this.closed && this.inFlight.size < this.max && this.queue.length) {
      const at = this.queue.shift()!;
      this.inFlight.add(at);
      this.load(at)
        .catch(() => null)
        .then((url) => {
          this.inFlight.delete(at);
          if (this.closed) return;
          this.cache.set(at, url);
          if (this.cache.size > this.keep) {
            const oldest = this.cache.keys().next().value;
            if (oldest !== undefined) this.cache.delete(oldest);
          }
          this.onLoaded();
          this.pump();
        });
    }
  }
}
