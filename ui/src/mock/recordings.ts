// The recordings catalog of the mock backend: recorded streams with spans (reconnects
// and gaps), chapters, thumbnails drawn as SVG with their time written in them, a preview
// playlist with program date times, index creation, clip export with progress on a
// Channel (cancellable), and a bucket import. `?recordings=month` makes a month of 30 s
// segments of one stream (86,400 spans), the timeline's worst case.
import type { Chapter } from "../bindings/Chapter";
import type { EngineError } from "../bindings/EngineError";
import type { ExportQuery } from "../bindings/ExportQuery";
import type { IndexQuery } from "../bindings/IndexQuery";
import type { Span } from "../bindings/Span";
import type { CreatedIndex, Exported, ExportProgress, ImportProgress, ImportSummary, RecordedStream } from "../ipc/types";
import { rng } from "./streams";

export type RecordingsKind = "default" | "month" | "none";

export type MockStream = { app: string; stream: string; spans: Span[]; chapters: Chapter[]; bytesPerSecond: number };

export type RecState = {
  streams: MockStream[];
  /** The export running now; export_cancel flips its flag. */
  exporting: { cancelled: boolean } | null;
  /** ms between two progress messages of an export. */
  exportTickMs: number;
  imported: boolean;
};

const SEG = 30_000;
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

const TITLES = [
  "Intro",
  "Q&A",
  "Boss fight",
  "Speedrun attempt #3",
  "Break",
  "Sponsor segment",
  "Überraschung",
  "精彩时刻",
  "Raid from a friend — thank you all for coming!",
  "Chat plays",
  "Tutorial: setting up OBS scenes and audio filters",
  "Outro",
];

function segKey(app: string, stream: string, t: number, seq: number) {
  return `${app}/${stream}/${Math.floor(t / 1000)}_${seq}.ts`;
}

/** A month of 30 s segments ending at `end`: 86,400 spans, a few gaps and reconnects. */
export function monthOfSegments(app: string, stream: string, end: number): MockStream {
  const start = end - 30 * DAY;
  // [offset from start, length] of the real gaps (the stream was off).
  const gaps = [
    [3 * DAY + 2 * HOUR, 8 * HOUR],
    [9 * DAY + 20 * HOUR, 30 * MIN],
    [14 * DAY, 2 * HOUR],
    [21 * DAY + 6 * HOUR, 5 * MIN],
    [26 * DAY + 12 * HOUR, 3 * HOUR],
  ].map(([o, l]) => [start + o, start + o + l]);
  // Reconnects inside the interruption window: a short hole, same recording.
  const holes = [1, 2, 5, 6, 8, 11, 13, 17, 19, 22, 24, 28].map((d, i) => start + d * DAY + ((i * 7 + 3) % 24) * HOUR);
  const spans: Span[] = [];
  let recording = `${app}/${stream}/${start}`;
  let seq = 0;
  let gi = 0;
  let hi = 0;
  // Exactly 86,400 segment slots over 30 days: gaps skip slots, holes shorten a segment.
  for (let i = 0; i < (30 * DAY) / SEG; i++) {
    const t = start + i * SEG;
    while (gi < gaps.length && t >= gaps[gi][1]) gi++;
    if (gi < gaps.length && t >= gaps[gi][0]) {
      if (!recording.endsWith(`/${gaps[gi][1]}`)) recording = `${app}/${stream}/${gaps[gi][1]}`;
      continue;
    }
    let s = t;
    if (hi < holes.length && t >= holes[hi]) {
      s = t + 20_000; // 20 s lost, then the encoder was back
      hi++;
    }
    spans.push({ recording, start_ms: s, end_ms: t + SEG, duration: (t + SEG - s) / 1000, objects: [segKey(app, stream, s, seq++)] });
  }
  const chapters: Chapter[] = [];
  const r = rng(11);
  for (let d = 0; d < 30; d++) {
    // A cluster each evening (crowded labels), one in the morning.
    for (const [h, m] of [[9, 5], [20, 0], [20, 3], [20, 40], [22, 15]]) {
      const at = start + d * DAY + h * HOUR + m * MIN + Math.floor(r() * 60) * 1000;
      const sp = spans.find((x) => x.start_ms <= at && at < x.end_ms);
      if (!sp) continue;
      chapters.push({ app, stream, recording: sp.recording, at_ms: at, title: TITLES[(d * 5 + h + m) % TITLES.length] });
    }
  }
  return { app, stream, spans, chapters, bytesPerSecond: 750_000 };
}

/** A couple of days of evening shows: one span per piece between reconnects. */
function evenings(app: string, stream: string, end: number, seed: number, live: boolean): MockStream {
  const r = rng(seed);
  const spans: Span[] = [];
  const chapters: Chapter[] = [];
  const dayStart = Math.floor(end / DAY) * DAY;
  for (let d = 2; d >= 0; d--) {
    let s = dayStart - d * DAY + (10 + Math.floor(r() * 6)) * HOUR + Math.floor(r() * 4) * 15 * MIN;
    let e = s + (2 + Math.floor(r() * 4)) * HOUR;
    if (d === 0 && live) {
      s = end - 3 * HOUR - 12 * MIN;
      e = end;
    }
    if (s >= end) continue;
    e = Math.min(e, end);
    const recording = `${app}/${stream}/${s}`;
    // One or two reconnects in a show.
    const cuts = [s + Math.floor((e - s) * 0.35), s + Math.floor((e - s) * 0.7)].slice(0, 1 + (seed + d) % 2);
    let from = s;
    for (const c of cuts) {
      spans.push({ recording, start_ms: from, end_ms: c, duration: (c - from) / 1000, objects: [`${app}/${stream}/${from}.m3u8`] });
      from = c + (25 + Math.floor(r() * 90)) * 1000;
    }
    spans.push({ recording, start_ms: from, end_ms: e, duration: (e - from) / 1000, objects: [`${app}/${stream}/${from}.m3u8`] });
    const n = 2 + Math.floor(r() * 4);
    for (let i = 0; i < n; i++) {
      const at = s + Math.floor(((i + 0.3) / n) * (e - s));
      chapters.push({ app, stream, recording, at_ms: at, title: TITLES[(seed + d * 3 + i) % TITLES.length] });
    }
  }
  return { app, stream, spans, chapters, bytesPerSecond: 500_000 + seed * 10_000 };
}

export function recState(kind: RecordingsKind, now: number): RecState {
  const end = Math.floor(now / 1000) * 1000;
  const streams =
    kind === "none"
      ? []
      : kind === "month"
        ? [monthOfSegments("studio", "cam1", end)]
        : [evenings("studio", "cam1", end, 1, true), evenings("studio", "cam5", end - 5 * HOUR, 2, false), evenings("live", "cam1", end - DAY, 3, false)];
  return { streams, exporting: null, exportTickMs: 150, imported: false };
}

function fail(kind: EngineError["kind"], message: string): never {
  throw { kind, message } satisfies EngineError;
}

function find(state: RecState, app: unknown, stream: unknown): MockStream {
  const s = state.streams.find((x) => x.app === app && x.stream === stream);
  if (!s) fail("not_found", `Nothing was recorded for ${String(app)}/${String(stream)}.`);
  return s;
}

/** Spans overlapping [from, to), by binary search (a month has 86,400). */
function overlapping(spans: Span[], from: number, to: number): Span[] {
  let lo = 0;
  let hi = spans.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (spans[mid].end_ms <= from) lo = mid + 1;
    else hi = mid;
  }
  const out: Span[] = [];
  for (let i = lo; i < spans.length && spans[i].start_ms < to; i++) out.push(spans[i]);
  return out;
}

function recorded(spans: Span[], from: number, to: number): number {
  return overlapping(spans, from, to).reduce((n, s) => n + Math.max(0, Math.min(s.end_ms, to) - Math.max(s.start_ms, from)), 0);
}

const pad = (n: number) => String(n).padStart(2, "0");
function localStamp(t: number) {
  const d = new Date(t);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}-${pad(d.getMinutes())}-${pad(d.getSeconds())}`;
}

/** A small SVG picture with the time written in it, as a data URL. */
export function thumbSvg(at: number, width: number, label: string): string {
  const h = Math.round((width * 9) / 16);
  const hue = Math.floor(at / 60_000) % 360;
  const d = new Date(at);
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${h}" viewBox="0 0 160 90"><rect width="160" height="90" fill="hsl(${hue},45%,32%)"/><circle cx="130" cy="22" r="12" fill="hsl(${(hue + 180) % 360},60%,60%)"/><text x="10" y="58" font-family="sans-serif" font-size="24" fill="#fff">${time}</text><text x="10" y="80" font-family="sans-serif" font-size="12" fill="#ddd">${label}</text></svg>`;
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}

/** A VOD playlist of 30 s segments of [from, to) with EXT-X-PROGRAM-DATE-TIME on each. */
export function previewPlaylist(spans: Span[], from: number, to: number): string {
  const lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:30", "#EXT-X-PLAYLIST-TYPE:VOD", "#EXT-X-MEDIA-SEQUENCE:0"];
  let prevEnd: number | null = null;
  for (const s of overlapping(spans, from, to)) {
    for (let t = Math.max(s.start_ms, from); t < Math.min(s.end_ms, to); t += SEG) {
      const e = Math.min(t + SEG, s.end_ms, to);
      if (prevEnd !== null && t !== prevEnd) lines.push("#EXT-X-DISCONTINUITY");
      lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(t).toISOString()}`, `#EXTINF:${((e - t) / 1000).toFixed(3)},`, `seg/${t}.ts`);
      prevEnd = e;
    }
  }
  lines.push("#EXT-X-ENDLIST");
  return lines.join("\n") + "\n";
}

/** Sends one message on a Tauri Channel the way the shell does (in order, by index). */
function send<T>(channel: unknown, index: number, message: T) {
  const id = (channel as { id?: number } | null)?.id;
  const internals = (window as unknown as { __TAURI_INTERNALS__?: { runCallback?: (id: number, data: unknown) => void } }).__TAURI_INTERNALS__;
  if (typeof id === "number" && internals?.runCallback) internals.runCallback(id, { index, message });
}

function iso(v: unknown, field: string): number {
  const t = Date.parse(String(v));
  if (Number.isNaN(t)) throw { kind: "invalid", message: `${field} is not a time.`, problems: [{ field, message: "Not an RFC 3339 time." }] } satisfies EngineError;
  return t;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Args = Record<string, unknown>;

/** The catalog commands; `undefined` for a command that is not one of them. */
export async function recordingsCommand(
  state: RecState,
  cmd: string,
  a: Args,
  ctx: { dataDir: string; hasKeys: (profile: string) => boolean; bucketBase: (app: string, stream: string) => string | null },
): Promise<unknown> {
  switch (cmd) {
    case "recorded_streams":
      return state.streams
        .filter((s) => s.spans.length)
        .map((s): RecordedStream => {
          const recs = new Set(s.spans.map((x) => x.recording));
          const secs = s.spans.reduce((n, x) => n + (x.end_ms - x.start_ms) / 1000, 0);
          return { app: s.app, stream: s.stream, first_ms: s.spans[0].start_ms, last_ms: s.spans[s.spans.length - 1].end_ms, recordings: recs.size, bytes: Math.round(secs * s.bytesPerSecond) };
        });
    case "spans":
      return overlapping(find(state, a.app, a.stream).spans, Number(a.startMs), Number(a.endMs));
    case "chapters":
      return find(state, a.app, a.stream).chapters.filter((c) => c.at_ms >= Number(a.startMs) && c.at_ms < Number(a.endMs));
    case "thumbnail_url": {
      const s = find(state, a.app, a.stream);
      const at = Number(a.atMs);
      if (!overlapping(s.spans, at, at + 1).length) return null;
      return thumbSvg(at, Number(a.width) || 160, `${s.app}/${s.stream}`);
    }
    case "keyframe_url":
      // The mock's thumbnails are all pictures: no key frame is ever needed.
      return null;
    case "preview_url": {
      const s = find(state, a.app, a.stream);
      const text = previewPlaylist(s.spans, Number(a.startMs), Number(a.endMs));
      return `data:application/vnd.apple.mpegurl;base64,${btoa(text)}`;
    }
    case "index_create": {
      const q = a.query as IndexQuery;
      const s = find(state, q.app, q.stream);
      const from = iso(q.start, "start");
      const to = iso(q.end, "end");
      if (to <= from) fail("invalid", "The end must be after the start.");
      const inRange = overlapping(s.spans, from, to);
      if (!inRange.length) fail("not_found", "Nothing was recorded in this range: choose a range with recorded time in it.");
      const d = new Date(from);
      const object = q.object ?? `${q.app}/${q.stream}/${d.toISOString().slice(0, 10)}/${pad(d.getUTCHours())}/${pad(d.getUTCMinutes())}_${pad(d.getUTCSeconds())}`;
      const base = ctx.bucketBase(q.app, q.stream);
      const res: CreatedIndex = {
        record: { id: 17, app: q.app, stream: q.stream, object: `${object}.m3u8`, start_ms: from, end_ms: to, duration: recorded(s.spans, from, to) / 1000, width: 1920, height: 1080, created_ms: Date.now() },
        path: `${ctx.dataDir}/indexes/${object}.m3u8`,
        bucket_url: base ? `${base}/${object}.m3u8` : null,
      };
      return res;
    }
    case "clip_path": {
      const s = find(state, a.app, a.stream);
      return `/home/me/Videos/Tapedeck clips/${s.app}-${s.stream} ${localStamp(Number(a.startMs))}.mp4`;
    }
    case "export_clip": {
      const q = a.query as ExportQuery;
      const s = find(state, q.app, q.stream);
      const from = iso(q.start, "start");
      const to = iso(q.end, "end");
      if (to <= from) fail("invalid", "The end must be after the start.");
      if (!q.output.trim()) fail("invalid", "Choose where to save the clip.");
      if (state.exporting) fail("conflict", "Another clip is being exported: wait for it to finish or cancel it.");
      const rec = recorded(s.spans, from, to);
      if (rec <= 0) fail("not_found", "Nothing was recorded in this range: choose a range with recorded time in it.");
      const total = Math.max(1, Math.min(40, Math.ceil(rec / SEG)));
      const job = { cancelled: false };
      state.exporting = job;
      try {
        for (let i = 0; i <= total; i++) {
          if (job.cancelled) fail("cancelled", "The export was cancelled; the unfinished file was removed.");
          send<ExportProgress>(a.onProgress, i, { segments_done: i, segments_total: total });
          if (i < total) await sleep(state.exportTickMs);
        }
      } finally {
        state.exporting = null;
      }
      const duration = q.close_gaps ? rec / 1000 : (to - from) / 1000;
      const res: Exported = { path: q.output, duration, video_frames: Math.round((rec / 1000) * 30), audio_frames: Math.round((rec / 1000) * 46.875), bytes: Math.round((rec / 1000) * s.bytesPerSecond) };
      return res;
    }
    case "export_cancel":
      if (state.exporting) state.exporting.cancelled = true;
      return null;
    case "save_clip_as": {
      const p = String(a.path);
      return `/home/me/Desktop/${p.slice(p.lastIndexOf("/") + 1)}`;
    }
    case "reveal":
      return null;
    case "catalog_import": {
      const profile = String(a.profile);
      if (!ctx.hasKeys(profile)) fail("storage", `No keys are saved for ${profile}: enter them on the Storage screen first.`);
      const first = !state.imported;
      const objects = first ? 7 : 0;
      for (let i = 0; i <= objects; i++) {
        send<ImportProgress>(a.onProgress, i, { total: objects, done: i });
        await sleep(0);
      }
      if (first) {
        state.imported = true;
        const end = Date.now() - 40 * DAY;
        state.streams.push(evenings("archive", "old-show", end, 4, false));
      }
      const res: ImportSummary = { profile, recordings: 3, files: 412, indexes: 2, new_files: first ? 412 : 0, read: first ? 7 : 0, chapters: first ? 2 : 0, skipped: first ? [{ key: "archive/old-show/2026-10-01/broken.m3u8", why: "line 3: EXTINF without a duration" }] : [] };
      return res;
    }
    default:
      return undefined;
  }
}

export const RECORDING_COMMANDS = new Set([
  "recorded_streams",
  "spans",
  "chapters",
  "thumbnail_url",
  "keyframe_url",
  "preview_url",
  "index_create",
  "clip_path",
  "export_clip",
  "export_cancel",
  "save_clip_as",
  "reveal",
  "catalog_import",
]);
