// The zoomable timeline: a <canvas> drawn once per animation frame from spans summed into
// pixel columns, zoomed and panned by d3-zoom (wheel, drag, keyboard), with thumbnails
// above it that follow the zoom. Shift+drag (or the Select mode) selects a range; a
// click seeks the preview. Everything it shows is also in its text alternative.
import { select } from "d3-selection";
import { zoom, zoomIdentity, type D3ZoomEvent, type ZoomBehavior, type ZoomTransform } from "d3-zoom";
import { useCallback, useEffect, useId, useMemo, useRef, useState, type KeyboardEvent, type MouseEvent as ReactMouseEvent } from "react";
import type { Chapter } from "../../../bindings/Chapter";
import { useI18n } from "../../../i18n";
import { localTime } from "../../../lib/format";
import { aggregate } from "./buckets";
import { DARK, drawFrame, LAYOUT, LIGHT, type Theme } from "./draw";
import type { SpanModel } from "./model";
import { baseFor, panExtent, transformFor, viewScale, visible, zoneName, zoomExtent, type Base } from "./scale";
import { summarize } from "./summary";
import { codecName, type KeyFrameThumb } from "./keyframe";
import { ThumbLoader, thumbSlots } from "./thumbs";
import { duration } from "../duration";

export type ViewRequest = { start: number; end: number; seq: number };

export const THUMB_W = 96;
export const THUMB_H = 54;
/** Pixels asked of thumbnail_url (sharp on 2x screens). */
export const THUMB_REQUEST_W = 192;
const FONT = '12px system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK SC", sans-serif';

type Props = {
  app: string;
  stream: string;
  first_ms: number;
  last_ms: number;
  model: SpanModel;
  chapters: readonly Chapter[];
  request: ViewRequest;
  onView: (v0: number, v1: number) => void;
  selection: [number, number] | null;
  onSelect: (range: [number, number]) => void;
  selectMode: boolean;
  playhead: number | null;
  onSeek: (t: number) => void;
  loadThumb: (at: number, width: number) => Promise<string | null>;
  /** Where the engine made no picture (H.265): the key frame decoded by the webview. */
  loadKeyFrame?: (at: number, width: number) => Promise<KeyFrameThumb>;
};

/** Pictures decoded in the webview kept per stream. */
const KEEP_DECODED = 300;

/** Drops the oldest entries past `keep` (a Map keeps insertion order), revoking their URLs. */
export function keepNewest(m: Map<number, KeyFrameThumb>, keep: number): Map<number, KeyFrameThumb> {
  for (const [at, t] of m) {
    if (m.size <= keep) break;
    if (t.kind === "image") URL.revokeObjectURL(t.url);
    m.delete(at);
  }
  return m;
}

function useWidth(ref: React.RefObject<HTMLElement | null>): number {
  const [w, setW] = useState(960);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const measure = () => {
      const cw = el.clientWidth;
      if (cw > 0) setW(Math.floor(cw));
    };
    measure();
    if (typeof ResizeObserver === "undefined") return;
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, [ref]);
  return w;
}

function useTheme(): Theme {
  const query = typeof window !== "undefined" && window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  const [dark, setDark] = useState(!!query?.matches);
  useEffect(() => {
    if (!query) return;
    const on = () => setDark(query.matches);
    query.addEventListener?.("change", on);
    return () => query.removeEventListener?.("change", on);
  }, [query]);
  return dark ? DARK : LIGHT;
}

const raf: (cb: () => void) => number =
  typeof requestAnimationFrame === "function" ? (cb) => requestAnimationFrame(cb) : (cb) => window.setTimeout(cb, 16);
const caf: (id: number) => void = typeof cancelAnimationFrame === "function" ? (id) => cancelAnimationFrame(id) : (id) => window.clearTimeout(id);

export function Timeline(p: Props) {
  const { t, lang } = useI18n();
  const wrap = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const width = useWidth(wrap);
  const theme = useTheme();
  const height = LAYOUT.height;
  const base: Base = useMemo(() => baseFor(p.first_ms, p.last_ms, width), [p.first_ms, p.last_ms, width]);
  const transform = useRef<ZoomTransform>(zoomIdentity);
  const behavior = useRef<ZoomBehavior<HTMLCanvasElement, unknown> | null>(null);
  const [view, setView] = useState<[number, number]>(() => [p.request.start, p.request.end]);
  // The view once it rests (150 ms): what the text alternative describes, so a screen
  // reader is not handed a new label on every frame of a zoom.
  const [settled, setSettled] = useState<[number, number]>(() => [p.request.start, p.request.end]);
  const [announce, setAnnounce] = useState("");
  const helpId = useId();

  // Everything the frame needs, read by the rAF callback (no stale closures).
  const live = useRef({ p, base, theme, width, cursor: null as number | null, draft: null as [number, number] | null });
  live.current = { ...live.current, p, base, theme, width };

  const frame = useRef(0);
  const viewTimer = useRef(0);
  const schedule = useCallback(() => {
    if (frame.current) return;
    frame.current = raf(() => {
      frame.current = 0;
      const L = live.current;
      const scale = viewScale(L.base, transform.current);
      const [v0, v1] = visible(scale);
      const el = canvas.current;
      const ctx = el?.getContext("2d");
      if (el && ctx) {
        const dpr = window.devicePixelRatio || 1;
        if (el.width !== Math.round(L.width * dpr) || el.height !== Math.round(height * dpr)) {
          el.width = Math.round(L.width * dpr);
          el.height = Math.round(height * dpr);
        }
        ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
        drawFrame(ctx, {
          width: L.width,
          height,
          scale,
          buckets: aggregate(L.p.model, v0, v1, L.width),
          first_ms: L.p.first_ms,
          last_ms: L.p.last_ms,
          chapters: L.p.chapters,
          selection: L.draft ?? L.p.selection,
          cursor: L.cursor,
          playhead: L.p.playhead,
          zone: zoneName(v0, lang),
          lang,
          theme: L.theme,
          font: FONT,
        });
      }
      setView((old) => (old[0] === v0 && old[1] === v1 ? old : [v0, v1]));
      window.clearTimeout(viewTimer.current);
      viewTimer.current = window.setTimeout(() => {
        setSettled((old) => (old[0] === v0 && old[1] === v1 ? old : [v0, v1]));
        live.current.p.onView(v0, v1);
      }, 150);
    });
  }, [height, lang]);
  useEffect(
    () => () => {
      // Forget the cancelled frame too: StrictMode mounts twice, and a frame id left
      // behind would make `schedule` believe a frame is still coming.
      caf(frame.current);
      frame.current = 0;
      window.clearTimeout(viewTimer.current);
    },
    [],
  );

  // d3-zoom on the canvas. The base changes with the width: keep what was visible.
  const shown = useRef<[number, number] | null>(null);
  useEffect(() => {
    const el = canvas.current;
    if (!el) return;
    const sel = select(el);
    const z = zoom<HTMLCanvasElement, unknown>()
      .extent([
        [0, 0],
        [width, height],
      ])
      .scaleExtent(zoomExtent(base))
      .translateExtent(panExtent(base, height))
      // Shift (and the Select mode) belongs to range selection; other buttons and Ctrl
      // (except on the wheel: pinch zoom) are left alone, as d3's default filter does.
      .filter((ev: Event) => {
        const e = ev as MouseEvent;
        if (e.type === "wheel") return true;
        return !e.shiftKey && !live.current.p.selectMode && !e.ctrlKey && !e.button;
      })
      .on("zoom", (ev: D3ZoomEvent<HTMLCanvasElement, unknown>) => {
        transform.current = ev.transform;
        shown.current = visible(viewScale(live.current.base, ev.transform));
        schedule();
      });
    behavior.current = z;
    sel.call(z).on("dblclick.zoom", null);
    const [a, b] = shown.current ?? [live.current.p.request.start, live.current.p.request.end];
    z.transform(sel, transformFor(base, a, b));
    return () => {
      sel.on(".zoom", null);
    };
  }, [base, width, height, schedule]);

  // A view asked for by the screen (day navigation, fit all).
  useEffect(() => {
    const el = canvas.current;
    if (!el || !behavior.current) return;
    behavior.current.transform(select(el), transformFor(live.current.base, p.request.start, p.request.end));
  }, [p.request.seq, p.request.start, p.request.end]);

  useEffect(schedule, [schedule, p.model, p.chapters, p.selection, p.playhead, theme, p.first_ms, p.last_ms]);

  // Thumbnails: one loader per stream, its answers kept while the view moves.
  const [, setLoaded] = useState(0);
  const [broken, setBroken] = useState<ReadonlySet<string>>(() => new Set());
  const loader = useMemo(
    () => new ThumbLoader((at) => p.loadThumb(at, THUMB_REQUEST_W), () => setLoaded((n) => n + 1)),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [p.app, p.stream],
  );
  useEffect(() => {
    loader.open();
    return () => loader.close();
  }, [loader]);
  // Pictures the webview decoded itself (or why not), by moment, at most KEEP_DECODED of
  // them (the oldest go, their object URLs revoked); answers for another stream than the
  // one shown now are dropped.
  const [decoded, setDecoded] = useState<ReadonlyMap<number, KeyFrameThumb>>(() => new Map());
  const generation = useRef(0);
  useEffect(() => {
    generation.current += 1;
    setDecoded(new Map());
    return () => {
      generation.current += 1;
      setDecoded((m) => {
        for (const t of m.values()) if (t.kind === "image") URL.revokeObjectURL(t.url);
        return new Map();
      });
    };
  }, [loader]);
  const onThumbError = (at: number, url: string) => {
    setBroken((b) => new Set(b).add(url));
    if (!p.loadKeyFrame || decoded.has(at)) return;
    const asked = generation.current;
    setDecoded((m) => new Map(m).set(at, { kind: "none" }));
    p.loadKeyFrame(at, THUMB_REQUEST_W)
      .catch((): KeyFrameThumb => ({ kind: "none" }))
      .then((t) => {
        if (asked !== generation.current) {
          if (t.kind === "image") URL.revokeObjectURL(t.url);
          return;
        }
        setDecoded((m) => keepNewest(new Map(m).set(at, t), KEEP_DECODED));
      });
  };
  const slots = useMemo(() => thumbSlots(p.model, view[0], view[1], width, THUMB_W), [p.model, view, width]);
  // Asked once the view rests for a moment: a zoom gesture does not ask for every frame's
  // thumbnails (those already loaded keep showing while it moves).
  useEffect(() => {
    const id = window.setTimeout(() => loader.want(slots.map((s) => s.at)), 120);
    return () => window.clearTimeout(id);
  }, [loader, slots]);

  const xToTime = (clientX: number) => {
    const el = canvas.current;
    const left = el ? el.getBoundingClientRect().left : 0;
    return viewScale(live.current.base, transform.current).invert(clientX - left).getTime();
  };

  // Range selection with Shift+drag or in Select mode.
  const suppressClick = useRef(false);
  const onMouseDown = (e: ReactMouseEvent<HTMLCanvasElement>) => {
    if (e.button !== 0 || !(e.shiftKey || p.selectMode)) return;
    e.preventDefault();
    canvas.current?.focus();
    const x0 = e.clientX;
    const t0 = xToTime(x0);
    let moved = false;
    const move = (ev: MouseEvent) => {
      if (Math.abs(ev.clientX - x0) > 3) moved = true;
      if (!moved) return;
      const t1 = xToTime(ev.clientX);
      live.current.draft = t1 < t0 ? [t1, t0] : [t0, t1];
      schedule();
    };
    const up = (ev: MouseEvent) => {
      window.removeEventListener("mousemove", move);
      window.removeEventListener("mouseup", up);
      live.current.draft = null;
      if (moved) {
        suppressClick.current = true;
        const t1 = xToTime(ev.clientX);
        p.onSelect(t1 < t0 ? [Math.round(t1), Math.round(t0)] : [Math.round(t0), Math.round(t1)]);
      }
      schedule();
    };
    window.addEventListener("mousemove", move);
    window.addEventListener("mouseup", up);
  };
  const onClick = (e: ReactMouseEvent<HTMLCanvasElement>) => {
    if (suppressClick.current) {
      suppressClick.current = false;
      return;
    }
    if (e.shiftKey || p.selectMode) return;
    p.onSeek(Math.round(xToTime(e.clientX)));
  };
  const onMouseMove = (e: ReactMouseEvent<HTMLCanvasElement>) => {
    live.current.cursor = xToTime(e.clientX);
    schedule();
  };
  const onMouseLeave = () => {
    live.current.cursor = null;
    schedule();
  };

  const say = (v: [number, number]) =>
    setAnnounce(t("rec.tl.showing", { from: localTime(v[0], lang), to: localTime(v[1], lang) }));
  const onKeyDown = (e: KeyboardEvent<HTMLCanvasElement>) => {
    const el = canvas.current;
    const z = behavior.current;
    if (!el || !z) return;
    const sel = select(el);
    const k = transform.current.k;
    const step = (e.shiftKey ? 0.5 : 0.1) * width;
    let handled = true;
    if (e.key === "ArrowLeft") z.translateBy(sel, step / k, 0);
    else if (e.key === "ArrowRight") z.translateBy(sel, -step / k, 0);
    else if (e.key === "+" || e.key === "=") z.scaleBy(sel, 2, [width / 2, 0]);
    else if (e.key === "-" || e.key === "_") z.scaleBy(sel, 0.5, [width / 2, 0]);
    else if (e.key === "Home" || e.key === "0") z.transform(sel, transformFor(base, p.first_ms, p.last_ms));
    else if (e.key === "Enter" || e.key === " ") p.onSeek(Math.round((view[0] + view[1]) / 2));
    else handled = false;
    if (handled) {
      e.preventDefault();
      if (shown.current) say(shown.current);
    }
  };

  const sum = useMemo(() => summarize(p.model, p.chapters, settled[0], settled[1]), [p.model, p.chapters, settled]);
  const label = t("rec.tl.label", {
    stream: `${p.app}/${p.stream}`,
    from: localTime(settled[0], lang),
    to: localTime(settled[1], lang),
    recorded: duration(sum.recordedMs, t),
    pieces: sum.pieces,
    gaps: sum.gaps,
    reconnects: sum.reconnects,
    chapters: sum.chapters.length,
  }) + (sum.chapters.length ? " " + sum.chapters.slice(0, 12).map((c) => t("rec.tl.chapterAt", { title: c.title, at: localTime(c.at_ms, lang, false) })).join("; ") : "");

  return (
    <div className="timeline" ref={wrap}>
      <div className="tl-thumbs" aria-hidden="true" data-testid="thumbs">
        {slots.map((s) => {
          const url = loader.get(s.at);
          const style = { transform: `translateX(${s.x}px)` };
          // The shell answers a URL even where no picture can be made (it 404s then, or
          // 415 for H.265): such an image is dropped for the webview's own decode of the
          // key frame, or a placeholder naming the codec, or the strip's background.
          const own = url && broken.has(url) ? decoded.get(s.at) : undefined;
          if (own?.kind === "image") {
            return <img key={own.url} src={own.url} alt="" width={THUMB_W} height={THUMB_H} data-at={s.at} data-decoded="webcodecs" style={style} />;
          }
          if (own?.kind === "unsupported") {
            return (
              <span key={`u${s.at}`} className="tl-thumb-none" data-at={s.at} style={style}>
                {t("rec.tl.noPicture", { codec: codecName(own.codec) })}
              </span>
            );
          }
          return url && !broken.has(url) ? (
            <img
              key={url}
              src={url}
              alt=""
              loading="lazy"
              decoding="async"
              width={THUMB_W}
              height={THUMB_H}
              data-at={s.at}
              style={style}
              onError={() => onThumbError(s.at, url)}
            />
          ) : null;
        })}
      </div>
      <canvas
        ref={canvas}
        className="tl-canvas"
        tabIndex={0}
        role="application"
        aria-roledescription={t("rec.tl.role")}
        aria-label={label}
        aria-describedby={helpId}
        style={{ width: `${width}px`, height: `${height}px` }}
        onMouseDown={onMouseDown}
        onClick={onClick}
        onMouseMove={onMouseMove}
        onMouseLeave={onMouseLeave}
        onKeyDown={onKeyDown}
        data-testid="timeline"
      />
      <p id={helpId} className="sr-only">
        {t("rec.tl.keys")}
      </p>
      <p className="sr-only" role="status" aria-live="polite">
        {announce}
      </p>
      <ul className="tl-legend">
        <li><span className="sw recorded" aria-hidden="true" /> {t("rec.tl.legendRecorded")}</li>
        <li><span className="sw gap" aria-hidden="true" /> {t("rec.tl.legendGap")}</li>
        <li><span className="sw reconnect" aria-hidden="true" /> {t("rec.tl.legendReconnect")}</li>
        <li><span className="sw chapter" aria-hidden="true" /> {t("rec.tl.legendChapter")}</li>
        <li className="muted">{t("rec.tl.hint")}</li>
      </ul>
    </div>
  );
}
