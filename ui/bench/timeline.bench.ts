// How long a frame of the timeline costs with a month of one stream: 86,400 segments
// of 30 s drawn on a 1600 px canvas. `npm run bench` (vitest bench) prints the table.
// The canvas is the recording fake of the tests (jsdom has none), so "draw" measures
// our side of a frame: summing spans into columns and issuing the draw calls.
import { bench, describe } from "vitest";
import type { Span } from "../src/bindings/Span";
import { FakeContext2D } from "../src/test/canvas";
import { aggregate } from "../src/screens/recordings/timeline/buckets";
import { drawFrame, LIGHT } from "../src/screens/recordings/timeline/draw";
import { spanModel } from "../src/screens/recordings/timeline/model";
import { baseFor, DAY, transformFor, viewScale, visible } from "../src/screens/recordings/timeline/scale";
import { thumbSlots } from "../src/screens/recordings/timeline/thumbs";

const WIDTH = 1600;
const T0 = Date.UTC(2026, 10, 6);
const spans: Span[] = [];
for (let i = 0; i < 86_400; i++) {
  // A new recording every 3 days, a 40 s reconnect every 500 segments.
  const s = T0 + i * 30_000 + (i % 500 === 0 && i ? 40_000 : 0);
  spans.push({ recording: `r${Math.floor(i / 8640)}`, start_ms: s, end_ms: T0 + (i + 1) * 30_000, duration: 30, objects: [] });
}
const model = spanModel(spans);
const base = baseFor(model.first_ms, model.last_ms, WIDTH);
const month = viewScale(base, transformFor(base, model.first_ms, model.last_ms));
const day = viewScale(base, transformFor(base, T0 + 10 * DAY, T0 + 11 * DAY));
const ctx = new FakeContext2D();
const chapters = Array.from({ length: 150 }, (_, i) => ({ app: "a", stream: "s", recording: "r", at_ms: T0 + i * 4.8 * 3600_000, title: `Chapter ${i}` }));

function frame(scale: typeof month) {
  const [v0, v1] = visible(scale);
  ctx.reset();
  drawFrame(ctx as unknown as CanvasRenderingContext2D, {
    width: WIDTH, height: 96, scale, buckets: aggregate(model, v0, v1, WIDTH), first_ms: model.first_ms, last_ms: model.last_ms,
    chapters, selection: null, cursor: T0 + 5 * DAY, playhead: T0 + 6 * DAY, zone: "UTC", lang: "en", theme: LIGHT, font: "12px sans-serif",
  });
}

{
  const [v0, v1] = visible(month);
  const b = aggregate(model, v0, v1, WIDTH);
  frame(month);
  console.log(
    `a month: ${spans.length} spans -> ${b.width} columns, ${b.runs.length / 3} runs, ` +
      `${b.flags.filter(Boolean).length} marked columns; one frame issues ${ctx.calls.length} draw calls (${ctx.count("fillRect")} fillRect)`,
  );
}

describe("timeline, a month of 30 s segments on 1600 px", () => {
  bench("aggregate the whole month into columns", () => {
    const [v0, v1] = visible(month);
    aggregate(model, v0, v1, WIDTH);
  });
  bench("aggregate + draw a frame, whole month in view", () => frame(month));
  bench("aggregate + draw a frame, one day in view", () => frame(day));
  bench("thumbnail slots, whole month", () => {
    const [v0, v1] = visible(month);
    thumbSlots(model, v0, v1, WIDTH, 96);
  });
  bench("build the span model (once per load)", () => {
    spanModel(spans);
  });
});
