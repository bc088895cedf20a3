// What the timeline shows, counted for its text alternative.
import type { Chapter } from "../../../bindings/Chapter";
import { recordedBetween, type SpanModel } from "./model";

export type Summary = {
  recordedMs: number;
  pieces: number;
  gaps: number;
  reconnects: number;
  chapters: Chapter[];
};

export function summarize(m: SpanModel, chapters: readonly Chapter[], v0: number, v1: number): Summary {
  const recordedMs = recordedBetween(m, v0, v1);
  let gaps = 0;
  let reconnects = 0;
  for (const b of m.boundaries) {
    if (b.to_ms <= v0 || b.from_ms >= v1) continue;
    if (b.kind === "gap") gaps++;
    else reconnects++;
  }
  return {
    recordedMs,
    pieces: recordedMs > 0 ? gaps + reconnects + 1 : 0,
    gaps,
    reconnects,
    chapters: chapters.filter((c) => c.at_ms >= v0 && c.at_ms <= v1),
  };
}
