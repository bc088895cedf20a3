// One recorded stream: day navigation, the timeline, the preview, the range.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { Chapter } from "../../bindings/Chapter";
import type { EngineError } from "../../bindings/EngineError";
import type { Span } from "../../bindings/Span";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useI18n } from "../../i18n";
import * as ipc from "../../ipc";
import type { RecordedStream } from "../../ipc/types";
import { localTime } from "../../lib/format";
import { useRecErrorHints } from "./hints";
import { Preview, type PreviewRange, type Seek } from "./Preview";
import { formatLocalDate, parseLocalDate } from "./range";
import { RangePanel } from "./RangePanel";
import { keyFrameThumb } from "./timeline/keyframe";
import { spanModel } from "./timeline/model";
import { DAY, HOUR, localDay } from "./timeline/scale";
import { Timeline, type ViewRequest } from "./timeline/Timeline";

/** The longest preview asked for at once (a playlist of 720 segments of 30 s). */
export const PREVIEW_MAX_MS = 6 * HOUR;

/** What the preview loads for a click at `t`: the view if short enough, else 6 h around `t`. */
export function previewWindow(t: number, view: [number, number], first: number, last: number): PreviewRange {
  let [from, to] = view;
  if (to - from > PREVIEW_MAX_MS) {
    from = t - PREVIEW_MAX_MS / 2;
    to = t + PREVIEW_MAX_MS / 2;
  }
  return { from: Math.max(from, first), to: Math.min(to, last) };
}

/** The first view of a stream: its last day with recordings (all of it when shorter). */
export function initialView(s: RecordedStream): [number, number] {
  if (s.last_ms - s.first_ms <= DAY) return [s.first_ms, s.last_ms];
  return [s.last_ms - DAY, s.last_ms];
}

type Loaded = { from: number; to: number; spans: Span[]; chapters: Chapter[] };

export function StreamView({ info }: { info: RecordedStream }) {
  const { t, lang } = useI18n();
  const hints = useRecErrorHints();
  const { app, stream, first_ms, last_ms } = info;
  const [request, setRequest] = useState<ViewRequest>(() => {
    const [start, end] = initialView(info);
    return { start, end, seq: 0 };
  });
  const [view, setView] = useState<[number, number]>([request.start, request.end]);
  const [data, setData] = useState<Loaded | null>(null);
  const [error, setError] = useState<EngineError | null>(null);
  const [selection, setSelection] = useState<[number, number] | null>(null);
  const [selectMode, setSelectMode] = useState(false);
  const [preview, setPreview] = useState<PreviewRange | null>(null);
  const [seek, setSeek] = useState<Seek | null>(null);
  const [playhead, setPlayhead] = useState<number | null>(null);
  const seq = useRef(0);

  // Spans and chapters of the view plus one view's width each side; asked again when
  // the view leaves what was loaded.
  const loading = useRef<string>("");
  const load = useCallback(
    async (v: [number, number], force = false) => {
      const need: [number, number] = [Math.max(v[0], first_ms), Math.min(v[1], last_ms)];
      // A view wholly before or after the recordings needs nothing new.
      if (!force && data && (need[1] <= need[0] || (need[0] >= data.from && need[1] <= data.to))) return;
      const w = v[1] - v[0];
      const from = Math.min(Math.max(first_ms, v[0] - w), last_ms);
      const to = Math.max(Math.min(last_ms, v[1] + w), from);
      const key = `${from}-${to}`;
      if (loading.current === key) return;
      loading.current = key;
      try {
        const [spans, chapters] = await Promise.all([ipc.spans(app, stream, from, to), ipc.chapters(app, stream, from, to)]);
        setData({ from, to, spans, chapters });
        setError(null);
      } catch (e) {
        setError(ipc.toEngineError(e));
      } finally {
        if (loading.current === key) loading.current = "";
      }
    },
    [app, stream, first_ms, last_ms, data],
  );
  useEffect(() => {
    void load(view);
  }, [view, load]);

  const model = useMemo(() => spanModel(data?.spans ?? []), [data]);
  const chapters = data?.chapters ?? [];

  const show = (start: number, end: number) => setRequest({ start, end, seq: ++seq.current });
  const center = (view[0] + view[1]) / 2;
  const [dayStart] = localDay(center);
  const gotoDay = (d: number) => {
    const [s, e] = localDay(d);
    show(s, e);
  };
  const prevDisabled = dayStart <= localDay(first_ms)[0];
  const nextDisabled = dayStart >= localDay(last_ms)[0];

  const onSeek = (at: number) => {
    if (!preview || at < preview.from || at >= preview.to) setPreview(previewWindow(at, view, first_ms, last_ms));
    setSeek({ t: at, seq: ++seq.current });
  };
  const onSelection = (r: [number, number] | null) => {
    setSelection(r);
    if (r) {
      setPreview({ from: r[0], to: r[1] });
      setSeek({ t: r[0], seq: ++seq.current });
    }
  };

  return (
    <div className="stack rec-stream">
      <section className="card stack" aria-labelledby="rec-tl-h">
        <div className="card-head">
          <h2 id="rec-tl-h">
            {app}/{stream}
          </h2>
          <span className="sub">{t("rec.showing", { from: localTime(view[0], lang), to: localTime(view[1], lang) })}</span>
        </div>
        <div className="row rec-nav" role="toolbar" aria-label={t("rec.nav")}>
          <button type="button" onClick={() => gotoDay(dayStart - DAY / 2)} disabled={prevDisabled}>
            ← {t("rec.prevDay")}
          </button>
          <label className="sr-only" htmlFor="rec-day">
            {t("rec.day")}
          </label>
          <input
            id="rec-day"
            type="date"
            value={formatLocalDate(center)}
            min={formatLocalDate(first_ms)}
            max={formatLocalDate(last_ms)}
            onChange={(e) => {
              const d = parseLocalDate(e.target.value);
              if (d !== null) gotoDay(d + HOUR);
            }}
          />
          <button type="button" onClick={() => gotoDay(dayStart + DAY + DAY / 2)} disabled={nextDisabled}>
            {t("rec.nextDay")} →
          </button>
          <button type="button" onClick={() => show(first_ms, last_ms)}>
            {t("rec.fitAll")}
          </button>
          <button type="button" onClick={() => show(center - (view[1] - view[0]) / 4, center + (view[1] - view[0]) / 4)} aria-label={t("rec.zoomIn")}>
            +
          </button>
          <button type="button" onClick={() => show(center - (view[1] - view[0]), center + (view[1] - view[0]))} aria-label={t("rec.zoomOut")}>
            −
          </button>
          <button type="button" aria-pressed={selectMode} onClick={() => setSelectMode((m) => !m)}>
            {t("rec.selectMode")}
          </button>
          <button type="button" onClick={() => void load(view, true)}>
            {t("rec.refresh")}
          </button>
        </div>
        <ErrorNotice error={error} hints={hints} onRetry={() => void load(view, true)} />
        <Timeline
          app={app}
          stream={stream}
          first_ms={first_ms}
          last_ms={last_ms}
          model={model}
          chapters={chapters}
          request={request}
          onView={(a, b) => setView((old) => (old[0] === a && old[1] === b ? old : [a, b]))}
          selection={selection}
          onSelect={onSelection}
          selectMode={selectMode}
          playhead={playhead}
          onSeek={onSeek}
          loadThumb={(at, width) => ipc.thumbnailUrl(app, stream, at, width)}
          loadKeyFrame={(at, width) => ipc.keyframeUrl(app, stream, at).then((url) => (url ? keyFrameThumb(url, width) : { kind: "none" }))}
        />
      </section>
      <div className="grid2 rec-lower">
        <Preview app={app} stream={stream} range={preview} seek={seek} model={model} onTime={setPlayhead} />
        <RangePanel app={app} stream={stream} model={model} first_ms={first_ms} last_ms={last_ms} selection={selection} onSelection={onSelection} />
      </div>
    </div>
  );
}
