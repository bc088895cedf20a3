// Draws one frame of the timeline on a 2D canvas context, from already-aggregated
// columns (buckets.ts): rectangles per run, not per span. Bands, top to bottom:
// chapter flags and titles, recorded time (hatched where nothing was recorded),
// the time axis in local time with the zone's name.
import type { Chapter } from "../../../bindings/Chapter";
import { FULL, GAP, RECONNECT, type Buckets } from "./buckets";
import { placeLabels, type PlacedFlag } from "./labels";
import type { TimeScale } from "./scale";

export type Theme = {
  bg: string;
  band: string;
  recorded: string;
  outside: string;
  hatch: string;
  reconnect: string;
  gap: string;
  axis: string;
  text: string;
  muted: string;
  chapter: string;
  cursor: string;
  playhead: string;
  selection: string;
};

export const LIGHT: Theme = {
  bg: "#ffffff",
  band: "#eef0f3",
  recorded: "#0b63ce",
  outside: "#e3e6ea",
  hatch: "#b8bec8",
  reconnect: "#b35c00",
  gap: "#8c1d13",
  axis: "#d5d9e0",
  text: "#1b1e23",
  muted: "#545b66",
  chapter: "#7a2fb8",
  cursor: "#1b1e23",
  playhead: "#d92d20",
  selection: "rgba(26, 115, 232, 0.22)",
};

export const DARK: Theme = {
  bg: "#1e2126",
  band: "#262a30",
  recorded: "#5aa2ff",
  outside: "#17191d",
  hatch: "#4a505a",
  reconnect: "#f0a050",
  gap: "#ffb4ab",
  axis: "#363b44",
  text: "#e8eaee",
  muted: "#a5adb8",
  chapter: "#c79bff",
  cursor: "#e8eaee",
  playhead: "#ff6b5e",
  selection: "rgba(138, 180, 255, 0.25)",
};

export const LAYOUT = { flags: 22, bandTop: 24, bandHeight: 40, axisTop: 68, height: 96 };

export type Frame = {
  width: number;
  height: number;
  scale: TimeScale;
  buckets: Buckets;
  /** Data extent of the stream (outside it is dimmed, not hatched). */
  first_ms: number;
  last_ms: number;
  chapters: readonly Chapter[];
  selection: [number, number] | null;
  cursor: number | null;
  playhead: number | null;
  zone: string;
  /** The UI's language, for the axis labels. */
  lang: string;
  theme: Theme;
  font: string;
};

function hatchPattern(ctx: CanvasRenderingContext2D, theme: Theme): CanvasPattern | string {
  if (typeof document === "undefined") return theme.hatch;
  const tile = document.createElement("canvas");
  tile.width = 8;
  tile.height = 8;
  const c = tile.getContext("2d");
  if (!c) return theme.hatch;
  c.fillStyle = theme.band;
  c.fillRect(0, 0, 8, 8);
  c.strokeStyle = theme.hatch;
  c.lineWidth = 1.5;
  c.beginPath();
  c.moveTo(-2, 10);
  c.lineTo(10, -2);
  c.moveTo(6, 10);
  c.lineTo(10, 6);
  c.moveTo(-2, 2);
  c.lineTo(2, -2);
  c.stroke();
  return ctx.createPattern(tile, "repeat") ?? theme.hatch;
}

const formats = new Map<string, Intl.DateTimeFormat>();
function fmtFor(lang: string, key: string, opts: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const k = `${lang}|${key}`;
  let f = formats.get(k);
  if (!f) {
    f = new Intl.DateTimeFormat(lang, opts);
    formats.set(k, f);
  }
  return f;
}

/**
 * An axis label in local time and the UI's language, as precise as the tick: a year,
 * a month, a day ("Dec 6" / "12月6日"), or a time ("14:00", "14:03:20"), 24-hour.
 */
export function tickLabel(d: Date, lang: string): string {
  if (d.getSeconds() || d.getMilliseconds()) return fmtFor(lang, "s", { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" }).format(d);
  if (d.getMinutes() || d.getHours()) return fmtFor(lang, "m", { hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(d);
  if (d.getDate() !== 1) return fmtFor(lang, "d", { month: "short", day: "numeric" }).format(d);
  if (d.getMonth() !== 0) return fmtFor(lang, "M", { month: "short" }).format(d);
  return fmtFor(lang, "y", { year: "numeric" }).format(d);
}

const patterns = new WeakMap<CanvasRenderingContext2D, { theme: Theme; p: CanvasPattern | string }>();

/** Flags of the chapters in view, their titles placed and elided to fit. */
export function chapterFlags(ctx: Pick<CanvasRenderingContext2D, "measureText">, f: Pick<Frame, "chapters" | "scale" | "width">): PlacedFlag[] {
  const [v0, v1] = f.scale.domain().map((d) => d.getTime());
  const flags = f.chapters.filter((c) => c.at_ms >= v0 && c.at_ms <= v1).map((c) => ({ x: Math.round(f.scale(new Date(c.at_ms))), title: c.title }));
  return placeLabels(flags, f.width, (s) => ctx.measureText(s).width, { pad: 10, minLabel: 24 });
}

export function drawFrame(ctx: CanvasRenderingContext2D, f: Frame) {
  const { width: w, theme: th, scale } = f;
  const { bandTop, bandHeight, axisTop } = LAYOUT;
  ctx.clearRect(0, 0, w, f.height);
  ctx.fillStyle = th.bg;
  ctx.fillRect(0, 0, w, f.height);

  // Recorded band: dimmed outside the data, hatched (gaps) inside it, runs on top.
  const xFirst = Math.max(0, Math.min(w, scale(new Date(f.first_ms))));
  const xLast = Math.max(0, Math.min(w, scale(new Date(f.last_ms))));
  ctx.fillStyle = th.outside;
  ctx.fillRect(0, bandTop, w, bandHeight);
  if (xLast > xFirst) {
    let pat = patterns.get(ctx);
    if (!pat || pat.theme !== th) {
      pat = { theme: th, p: hatchPattern(ctx, th) };
      patterns.set(ctx, pat);
    }
    ctx.fillStyle = pat.p;
    ctx.fillRect(xFirst, bandTop, xLast - xFirst, bandHeight);
  }
  const runs = f.buckets.runs;
  for (let i = 0; i < runs.length; i += 3) {
    const l = runs[i + 2];
    if (l === 0) continue;
    ctx.globalAlpha = l === FULL ? 1 : 0.3 + 0.2 * l;
    ctx.fillStyle = th.recorded;
    ctx.fillRect(runs[i], bandTop, runs[i + 1] - runs[i], bandHeight);
  }
  ctx.globalAlpha = 1;

  // Reconnects: a tick through the band with a small triangle under it; the start of
  // a gap: a thin line (a gap of zero length is still a new recording).
  const flags = f.buckets.flags;
  for (let c = 0; c < flags.length; c++) {
    if (!flags[c]) continue;
    if (flags[c] & RECONNECT) {
      ctx.fillStyle = th.reconnect;
      ctx.fillRect(c, bandTop - 2, 2, bandHeight + 4);
      ctx.beginPath();
      ctx.moveTo(c + 1, bandTop + bandHeight - 6);
      ctx.lineTo(c + 6, bandTop + bandHeight + 2);
      ctx.lineTo(c - 4, bandTop + bandHeight + 2);
      ctx.closePath();
      ctx.fill();
    }
    if (flags[c] & GAP) {
      ctx.fillStyle = th.gap;
      ctx.fillRect(c, bandTop, 1, bandHeight);
    }
  }

  // Selection.
  if (f.selection) {
    const a = scale(new Date(f.selection[0]));
    const b = scale(new Date(f.selection[1]));
    ctx.fillStyle = th.selection;
    ctx.fillRect(a, 0, b - a, axisTop);
    ctx.fillStyle = th.cursor;
    ctx.fillRect(a, 0, 1, axisTop);
    ctx.fillRect(b - 1, 0, 1, axisTop);
  }

  // Axis: ticks in local time (d3's multi-scale format), the zone at the right.
  ctx.font = f.font;
  ctx.fillStyle = th.axis;
  ctx.fillRect(0, axisTop, w, 1);
  ctx.textBaseline = "top";
  const ticks = scale.ticks(Math.max(2, Math.floor(w / 110)));
  const fmt = (d: Date) => tickLabel(d, f.lang);
  const zoneW = f.zone ? ctx.measureText(f.zone).width + 8 : 0;
  // d3's nice steps jump (1 s to 5 s, 1 min to 5 min): where they come denser than the
  // labels are wide, every tick keeps its mark and labels skip to the next free place.
  let free = -Infinity;
  for (const t of ticks) {
    const x = Math.round(scale(t));
    ctx.fillStyle = th.axis;
    ctx.fillRect(x, axisTop, 1, 6);
    const label = fmt(t);
    const lw = ctx.measureText(label).width;
    if (x + 3 + lw > w - zoneW || x < free) continue;
    ctx.fillStyle = th.muted;
    ctx.fillText(label, x + 3, axisTop + 8);
    free = x + 3 + lw + 8;
  }
  if (f.zone) {
    ctx.fillStyle = th.text;
    ctx.fillText(f.zone, w - zoneW + 4, axisTop + 8);
  }

  // Chapters: a flag and its title, elided when crowded.
  ctx.textBaseline = "middle";
  for (const p of chapterFlags(ctx, f)) {
    ctx.fillStyle = th.chapter;
    ctx.fillRect(p.x, 2, 2, bandTop + bandHeight - 2);
    ctx.beginPath();
    ctx.moveTo(p.x + 2, 2);
    ctx.lineTo(p.x + 9, 6);
    ctx.lineTo(p.x + 2, 10);
    ctx.closePath();
    ctx.fill();
    if (p.label) {
      ctx.fillStyle = th.text;
      ctx.fillText(p.label, p.x + 10, 11);
    }
  }

  // Playhead and the pointer's cursor line with its time.
  if (f.playhead !== null) {
    const x = Math.round(scale(new Date(f.playhead)));
    if (x >= 0 && x <= w) {
      ctx.fillStyle = th.playhead;
      ctx.fillRect(x - 1, 0, 2, axisTop);
    }
  }
  if (f.cursor !== null) {
    const x = Math.round(scale(new Date(f.cursor)));
    ctx.fillStyle = th.cursor;
    ctx.fillRect(x, 0, 1, f.height);
    // The pointer's time to the second, in a box on the band, kept inside the canvas.
    const label = fmtFor(f.lang, "s", { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" }).format(new Date(f.cursor));
    const lw = ctx.measureText(label).width + 8;
    const bx = Math.min(Math.max(0, x + 4), w - lw);
    ctx.fillStyle = th.bg;
    ctx.fillRect(bx, bandTop + bandHeight - 18, lw, 16);
    ctx.fillStyle = th.text;
    ctx.textBaseline = "middle";
    ctx.fillText(label, bx + 4, bandTop + bandHeight - 10);
  }
}
