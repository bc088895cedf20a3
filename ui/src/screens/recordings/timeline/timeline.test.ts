import { describe, expect, it, vi } from "vitest";
import type { Span } from "../../../bindings/Span";
import { monthOfSegments } from "../../../mock/recordings";
import { FakeContext2D } from "../../../test/canvas";
import { checkRange, formatLocal, parseLocal } from "../range";
import { aggregate, FULL, GAP, level, RECONNECT } from "./buckets";
import { chapterFlags, drawFrame, LIGHT, tickLabel } from "./draw";
import { elide, placeLabels } from "./labels";
import { fragsFromSpans, mediaToWall, wallToMedia } from "./mediaTime";
import { classify, recordedBetween, spanModel } from "./model";
import { baseFor, DAY, MAX_SPAN_MS, MIN_SPAN_MS, MINUTE, transformFor, viewScale, visible, zoomExtent } from "./scale";
import { summarize } from "./summary";
import { ThumbLoader, thumbSlots, thumbStep } from "./thumbs";

const T0 = Date.UTC(2026, 10, 6, 0, 0, 0);
const sp = (recording: string, start_ms: number, end_ms: number): Span => ({ recording, start_ms, end_ms, duration: (end_ms - start_ms) / 1000, objects: [] });

/** Exactly 86,400 segments of 30 s: one month, no gaps. */
function month(): Span[] {
  const out: Span[] = [];
  for (let i = 0; i < 86_400; i++) out.push(sp("r", T0 + i * 30_000, T0 + (i + 1) * 30_000));
  return out;
}

describe("time scale and zoom", () => {
  const base = baseFor(T0, T0 + 2 * DAY, 1600);

  it("maps time to x and back", () => {
    const s = viewScale(base, transformFor(base, T0, T0 + DAY));
    expect(s(new Date(T0))).toBeCloseTo(0, 6);
    expect(s(new Date(T0 + DAY))).toBeCloseTo(1600, 6);
    expect(s(new Date(T0 + DAY / 2))).toBeCloseTo(800, 6);
    expect(s.invert(400).getTime()).toBeCloseTo(T0 + DAY / 4, -1);
    const [a, b] = visible(s);
    expect(a).toBeCloseTo(T0, -1);
    expect(b).toBeCloseTo(T0 + DAY, -1);
  });

  it("zooms from one minute to months across the canvas", () => {
    const [kMin, kMax] = zoomExtent(base);
    const span = (k: number) => (base.end - base.start) / k;
    expect(span(kMax)).toBeCloseTo(MIN_SPAN_MS, 0);
    expect(span(kMin)).toBeCloseTo(4 * DAY + (base.end - base.start - 2 * DAY) * 2, -3); // twice the data
    const monthBase = baseFor(T0, T0 + 30 * DAY, 1600);
    const [mMin, mMax] = zoomExtent(monthBase);
    const mSpan = (k: number) => (monthBase.end - monthBase.start) / k;
    expect(mSpan(mMin)).toBeLessThanOrEqual(MAX_SPAN_MS);
    expect(mSpan(mMin)).toBeGreaterThan(30 * DAY);
    expect(mSpan(mMax)).toBeCloseTo(MINUTE, 0);
    // A short recording still zooms out to a whole day.
    const short = baseFor(T0, T0 + 10 * MINUTE, 1600);
    expect((short.end - short.start) / zoomExtent(short)[0]).toBeCloseTo(DAY, 0);
  });
});

describe("spans: gaps and reconnects", () => {
  it("classifies the boundary between consecutive spans", () => {
    expect(classify(sp("a", 0, 30_000), sp("a", 30_000, 60_000))).toBeNull();
    expect(classify(sp("a", 0, 30_000), sp("a", 30_800, 60_000))).toBeNull(); // under a second: continuous
    expect(classify(sp("a", 0, 30_000), sp("a", 75_000, 90_000))).toEqual({ from_ms: 30_000, to_ms: 75_000, kind: "reconnect" });
    expect(classify(sp("a", 0, 30_000), sp("b", 3_600_000, 3_700_000))).toEqual({ from_ms: 30_000, to_ms: 3_600_000, kind: "gap" });
    // A new recording right after the last one is still a new recording.
    expect(classify(sp("a", 0, 30_000), sp("b", 30_000, 60_000))?.kind).toBe("gap");
  });

  it("builds the model in time order and counts recorded time once", () => {
    const m = spanModel([sp("b", 200_000, 300_000), sp("a", 0, 100_000), sp("a", 130_000, 200_000), sp("b", 250_000, 260_000)]);
    expect(m.spans.map((s) => s.start_ms)).toEqual([0, 130_000, 200_000, 250_000]);
    // b 250-260 lies inside b 200-300: the same recording going on, no boundary.
    expect(m.boundaries.map((b) => b.kind)).toEqual(["reconnect", "gap"]);
    expect(m.recordedMs).toBe(270_000);
    expect(m.first_ms).toBe(0);
    expect(m.last_ms).toBe(300_000);
    expect(recordedBetween(m, 50_000, 150_000)).toBe(70_000);
  });

  it("summarises the view for the text alternative", () => {
    const m = spanModel([sp("a", 0, 100_000), sp("a", 130_000, 200_000), sp("b", 400_000, 500_000)]);
    const s = summarize(m, [{ app: "x", stream: "y", recording: "a", at_ms: 10_000, title: "Intro" }], 0, 500_000);
    expect(s).toMatchObject({ recordedMs: 270_000, pieces: 3, gaps: 1, reconnects: 1 });
    expect(s.chapters.map((c) => c.title)).toEqual(["Intro"]);
  });
});

describe("pixel columns", () => {
  it("sums a month of 86,400 segments into at most `width` columns, correctly", () => {
    const spans = month();
    const m = spanModel(spans);
    const t = performance.now();
    const b = aggregate(m, T0, T0 + 30 * DAY, 1600);
    const ms = performance.now() - t;
    expect(b.cover.length).toBe(1600);
    expect(b.flags.length).toBe(1600);
    expect(b.runs.length / 3).toBeLessThanOrEqual(1600);
    expect(b.visibleSpans).toBe(86_400);
    // Continuous: every column fully recorded, one run, no boundary.
    for (const c of b.cover) expect(c).toBeCloseTo(1, 4);
    expect(b.runs).toEqual([0, 1600, FULL]);
    expect(b.flags.every((f) => f === 0)).toBe(true);
    expect(ms).toBeLessThan(500); // in practice ~2 ms; generous for a loaded CI
  });

  it("keeps the recorded time: the columns add up to the spans", () => {
    const s = monthOfSegments("studio", "cam1", T0 + 30 * DAY);
    const m = spanModel(s.spans);
    const width = 1600;
    const v0 = T0 - DAY;
    const v1 = T0 + 31 * DAY;
    const b = aggregate(m, v0, v1, width);
    const msPerPx = (v1 - v0) / width;
    const summed = b.cover.reduce((n, c) => n + c, 0) * msPerPx;
    expect(Math.abs(summed - m.recordedMs)).toBeLessThan(msPerPx); // within one column
    expect(b.runs.length / 3).toBeLessThanOrEqual(width);
    // The five real gaps and the reconnects land in columns.
    expect(b.flags.filter((f) => f & GAP).length).toBe(5);
    expect(b.flags.filter((f) => f & RECONNECT).length).toBe(12);
    // Outside the data nothing is recorded.
    expect(b.cover[0]).toBe(0);
    expect(b.cover[width - 1]).toBe(0);
  });

  it("draws only what is visible, at column precision", () => {
    const m = spanModel([sp("a", 0, 1000), sp("a", 1000, 2500), sp("b", 4000, 5000)]);
    const b = aggregate(m, 0, 5000, 10); // 500 ms a column
    expect(Array.from(b.cover)).toEqual([1, 1, 1, 1, 1, 0, 0, 0, 1, 1]);
    expect(b.runs).toEqual([0, 5, FULL, 5, 8, 0, 8, 10, FULL]);
    expect(b.flags[5]).toBe(GAP);
    const half = aggregate(m, 2000, 3000, 4); // 250 ms a column, half recorded
    expect(Array.from(half.cover)).toEqual([1, 1, 0, 0]);
    expect(level(0.5)).toBe(2);
    expect(level(0)).toBe(0);
    expect(level(1)).toBe(FULL);
  });

  it("draws a month as a few rectangles, not one per segment", () => {
    const m = spanModel(monthOfSegments("studio", "cam1", T0 + 30 * DAY).spans);
    const ctx = new FakeContext2D();
    const base = baseFor(m.first_ms, m.last_ms, 1600);
    const scale = viewScale(base, transformFor(base, m.first_ms, m.last_ms));
    const [v0, v1] = visible(scale);
    drawFrame(ctx as unknown as CanvasRenderingContext2D, {
      width: 1600, height: 96, scale, buckets: aggregate(m, v0, v1, 1600), first_ms: m.first_ms, last_ms: m.last_ms,
      chapters: [], selection: null, cursor: null, playhead: null, zone: "UTC", lang: "en", theme: LIGHT, font: "12px sans-serif",
    });
    expect(ctx.count("fillRect")).toBeLessThan(200);
    expect(ctx.texts()).toContain("UTC");
  });
});

describe("axis labels", () => {
  it("never overlap where d3's ticks come denser than the labels are wide", () => {
    // 11 s across 560 px: d3 answers a tick a second (it has no 2 s step), 51 px apart;
    // "21:20:23" is 52 px here, so every other label at most.
    const ctx = new FakeContext2D();
    const first = T0;
    const last = T0 + 11_000;
    const base = baseFor(first, last, 560);
    const scale = viewScale(base, transformFor(base, first, last));
    drawFrame(ctx as unknown as CanvasRenderingContext2D, {
      width: 560, height: 96, scale, buckets: aggregate(spanModel([]), first, last, 560), first_ms: first, last_ms: last,
      chapters: [], selection: null, cursor: null, playhead: null, zone: "UTC", lang: "en", theme: LIGHT, font: "12px sans-serif",
    });
    const labels = ctx.calls
      .filter((c) => c.op === "fillText" && String(c.args[0]).includes(":"))
      .map((c) => ({ x: Number(c.args[1]), w: ctx.measureText(String(c.args[0])).width }));
    expect(labels.length).toBeGreaterThan(3);
    for (let i = 1; i < labels.length; i++) expect(labels[i].x).toBeGreaterThanOrEqual(labels[i - 1].x + labels[i - 1].w);
    // Every tick keeps its mark (6 px high rectangles on the axis).
    const marks = ctx.calls.filter((c) => c.op === "fillRect" && c.args[2] === 1 && c.args[3] === 6);
    expect(marks.length).toBeGreaterThan(labels.length);
  });

  it("are local, 24-hour, as precise as the tick, in the UI's language", () => {
    expect(tickLabel(new Date(2026, 11, 6, 14, 0, 0), "en")).toBe("14:00");
    expect(tickLabel(new Date(2026, 11, 6, 14, 3, 20), "en")).toBe("14:03:20");
    expect(tickLabel(new Date(2026, 11, 6), "en")).toBe("Dec 6");
    expect(tickLabel(new Date(2026, 11, 6), "zh-CN")).toBe("12月6日");
    expect(tickLabel(new Date(2026, 11, 1), "en")).toBe("Dec");
    expect(tickLabel(new Date(2027, 0, 1), "en")).toBe("2027");
  });
});

describe("chapter labels", () => {
  const measure = (s: string) => Array.from(s).length * 7;

  it("shows whole titles when there is room", () => {
    const p = placeLabels([{ x: 0, title: "Intro" }, { x: 300, title: "Q&A" }], 800, measure);
    expect(p.map((f) => f.label)).toEqual(["Intro", "Q&A"]);
  });

  it("elides titles when crowded and hides them when there is no room", () => {
    const p = placeLabels(
      [
        { x: 100, title: "Speedrun attempt number three" },
        { x: 200, title: "Boss fight" },
        { x: 210, title: "Break" },
        { x: 780, title: "Outro and thanks" },
      ],
      800,
      measure,
      { pad: 4, minLabel: 24 },
    );
    expect(p[0].label).toMatch(/…$/);
    expect(measure(p[0].label!)).toBeLessThanOrEqual(200 - 4 - 104);
    expect(p[1].label).toBeNull(); // 10 px to the next flag
    expect(p[2].label).toBe("Break");
    expect(p[3].label).toBeNull(); // 16 px to the edge
    expect(p.map((f) => f.title)).toContain("Boss fight"); // still known (text alternative)
  });

  it("never cuts a character in half", () => {
    expect(elide("精彩时刻 🎉 Überraschung", 40, measure)).toBe("精彩时刻…");
    expect(elide("精彩时刻 🎉 Überraschung", 50, measure)).toBe("精彩时刻 🎉…"); // the emoji whole
    expect(elide("🎉🎉🎉", 10, measure)).toBeNull();
  });

  it("places flags of the visible chapters only", () => {
    const base = baseFor(0, 1000_000, 800);
    const scale = viewScale(base, transformFor(base, 0, 1000_000));
    const ctx = new FakeContext2D();
    const flags = chapterFlags(ctx, { scale, width: 800, chapters: [
      { app: "a", stream: "s", recording: "r", at_ms: 100_000, title: "Intro" },
      { app: "a", stream: "s", recording: "r", at_ms: 2_000_000, title: "Later" },
    ] });
    expect(flags).toEqual([{ x: 80, title: "Intro", label: "Intro" }]);
  });
});

describe("thumbnails", () => {
  const m = spanModel([sp("a", T0, T0 + 3 * 3600_000), sp("b", T0 + 5 * 3600_000, T0 + 6 * 3600_000)]);

  it("picks a round step at least a thumbnail wide", () => {
    expect(thumbStep(1000, 96)).toBe(2 * 60_000); // 96 s -> 2 min
    expect(thumbStep(10, 96)).toBe(1000);
    expect(thumbStep(60_000, 96)).toBe(2 * 3600_000);
  });

  it("places thumbnails inside recorded time only, and follows the zoom", () => {
    const width = 960;
    const wide = thumbSlots(m, T0 - 3600_000, T0 + 7 * 3600_000, width, 96);
    for (const s of wide) expect(recordedBetween(m, s.at, s.at + 1)).toBe(1); // never in the gap
    const xs = wide.map((s) => s.x);
    for (let i = 1; i < xs.length; i++) expect(xs[i] - xs[i - 1]).toBeGreaterThanOrEqual(96 - 1e-6);
    const msPerPx = (8 * 3600_000) / width;
    for (const s of wide) expect(s.x).toBeCloseTo((Math.floor(s.at / thumbStep(msPerPx, 96)) * thumbStep(msPerPx, 96) - (T0 - 3600_000)) / msPerPx, 6);
    // Zoomed in 8x around the first hour: closer times, same spacing on screen.
    const close = thumbSlots(m, T0, T0 + 3600_000, width, 96);
    const step = (a: { at: number }[]) => a[2].at - a[1].at;
    expect(step(close)).toBeLessThan(step(wide));
    expect(close.length).toBeGreaterThanOrEqual(wide.length);
    // Panning by a step keeps the same times (cache hits).
    const panned = thumbSlots(m, T0 + step(close), T0 + 3600_000 + step(close), width, 96);
    expect(panned.map((s) => s.at)).toEqual(expect.arrayContaining(close.slice(1, -1).map((s) => s.at)));
  });

  it("asks at most 4 at a time and remembers the answers", async () => {
    let active = 0;
    let peak = 0;
    const load = vi.fn(async (at: number) => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 1));
      active--;
      return at % 2 ? null : `http://127.0.0.1:1/thumb/${at}`;
    });
    const loader = new ThumbLoader(load, () => {});
    loader.want([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await vi.waitFor(() => expect(loader.size).toBe(10));
    expect(peak).toBe(4);
    expect(loader.get(2)).toBe("http://127.0.0.1:1/thumb/2");
    expect(loader.get(3)).toBeNull();
    loader.want([2, 3, 11]);
    await vi.waitFor(() => expect(loader.size).toBe(11));
    expect(load).toHaveBeenCalledTimes(11);
  });
});

describe("wall time <-> preview media time", () => {
  const frags = [
    { start: 0, duration: 30, pdt: 1_000_000 },
    { start: 30, duration: 30, pdt: 1_030_000 },
    { start: 60, duration: 10, pdt: 1_200_000 }, // after a gap
  ];
  it("maps through the program date time", () => {
    expect(wallToMedia(frags, 1_000_000)).toBe(0);
    expect(wallToMedia(frags, 1_045_000)).toBe(45);
    expect(wallToMedia(frags, 1_100_000)).toBe(60); // in the gap: what comes next
    expect(wallToMedia(frags, 1_205_000)).toBe(65);
    expect(wallToMedia(frags, 1_300_000)).toBeNull();
    expect(mediaToWall(frags, 45)).toBe(1_045_000);
    expect(mediaToWall(frags, 65)).toBe(1_205_000);
    expect(mediaToWall(frags, 70)).toBe(1_210_000);
    expect(mediaToWall(frags, 99)).toBeNull();
  });
  it("computes the same fragments from spans", () => {
    const m = spanModel([sp("a", 1_000_000, 1_030_000), sp("a", 1_030_000, 1_060_000), sp("b", 1_200_000, 1_300_000)]);
    expect(fragsFromSpans(m, 1_010_000, 1_210_000)).toEqual([
      { start: 0, duration: 50, pdt: 1_010_000 },
      { start: 50, duration: 10, pdt: 1_200_000 },
    ]);
  });
});

describe("typed ranges", () => {
  const m = spanModel([sp("a", T0, T0 + 3600_000), sp("b", T0 + 2 * 3600_000, T0 + 3 * 3600_000)]);
  const first = T0;
  const last = T0 + 3 * 3600_000;

  it("reads local times to the second and rejects impossible ones", () => {
    const t = new Date(2026, 11, 6, 14, 3, 22).getTime();
    expect(parseLocal("2026-12-06 14:03:22")).toBe(t);
    expect(parseLocal("2026-12-06T14:03:22")).toBe(t);
    expect(parseLocal("2026-12-06 14:03")).toBe(t - 22_000);
    // Written in the UI language's format, read back in it (and as ISO).
    expect(formatLocal(t)).toBe("12/06/2026, 14:03:22");
    expect(formatLocal(t, "zh-CN")).toBe("2026/12/06 14:03:22");
    expect(parseLocal("12/06/2026, 14:03:22")).toBe(t);
    expect(parseLocal("2026/12/06 14:03:22", "zh-CN")).toBe(t);
    expect(parseLocal(formatLocal(t, "zh-CN"), "zh-CN")).toBe(t);
    expect(parseLocal("13/06/2026, 14:03:22")).toBeNull();
    expect(parseLocal("2026-02-31 10:00:00")).toBeNull();
    expect(parseLocal("2026-12-06 24:00:00")).toBeNull();
    expect(parseLocal("yesterday")).toBeNull();
  });

  it("checks end after start, and warns about gaps and time outside the recordings", () => {
    const f = formatLocal;
    expect(checkRange("soon", f(T0), m, first, last)).toMatchObject({ range: null, startError: "unreadable" });
    expect(checkRange(f(T0 + 60_000), f(T0), m, first, last)).toMatchObject({ range: null, endError: "notAfter" });
    expect(checkRange(f(T0), f(T0), m, first, last).endError).toBe("notAfter");
    expect(checkRange(f(T0 + 60_000), f(T0 + 120_000), m, first, last)).toMatchObject({ range: [T0 + 60_000, T0 + 120_000], warning: null, recordedMs: 60_000 });
    expect(checkRange(f(T0), f(T0 + 3 * 3600_000), m, first, last)).toMatchObject({ warning: "gaps", recordedMs: 2 * 3600_000 });
    expect(checkRange(f(T0 - 3600_000), f(T0 + 60_000), m, first, last).warning).toBe("outside");
    expect(checkRange(f(T0 + 3600_000 + 1000), f(T0 + 7000_000), m, first, last).warning).toBe("nothing");
  });
});
