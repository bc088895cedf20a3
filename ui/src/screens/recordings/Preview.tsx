// The preview player: hls.js over MSE (WebKitGTK has no native HLS), native HLS where
// the webview has it (WKWebView), the playlist of `preview_url`. Wall time <-> media
// time comes from each fragment's EXT-X-PROGRAM-DATE-TIME, or from the spans until the
// playlist is parsed (and for native HLS, which does not expose it).
import { useEffect, useRef, useState } from "react";
import type HlsType from "hls.js";
import { useI18n } from "../../i18n";
import * as ipc from "../../ipc";
import { localTime } from "../../lib/format";
import { fragsFromSpans, mediaToWall, wallToMedia, type Frag } from "./timeline/mediaTime";
import type { SpanModel } from "./timeline/model";

export type PreviewRange = { from: number; to: number };
export type Seek = { t: number; seq: number };

type Props = {
  app: string;
  stream: string;
  range: PreviewRange | null;
  seek: Seek | null;
  model: SpanModel;
  onTime: (t: number | null) => void;
};

type Status = "idle" | "loading" | "ready" | "unsupported" | "failed";

export function Preview({ app, stream, range, seek, model, onTime }: Props) {
  const { t, lang } = useI18n();
  const video = useRef<HTMLVideoElement>(null);
  const frags = useRef<Frag[]>([]);
  const pendingSeek = useRef<number | null>(null);
  const [status, setStatus] = useState<Status>("idle");
  const [problem, setProblem] = useState("");
  const [now, setNow] = useState<number | null>(null);
  const modelRef = useRef(model);
  modelRef.current = model;
  const onTimeRef = useRef(onTime);
  onTimeRef.current = onTime;

  const applySeek = () => {
    const v = video.current;
    const at = pendingSeek.current;
    // Before the metadata, a new source would reset the position: wait for it
    // (loadedmetadata calls again; hls.js starts at `startPosition` meanwhile).
    if (!v || at === null || !frags.current.length || v.readyState < 1) return;
    const s = wallToMedia(frags.current, at);
    if (s === null) return;
    pendingSeek.current = null;
    try {
      v.currentTime = s;
    } catch {
      // not seekable yet: loadedmetadata tries again
      pendingSeek.current = at;
    }
  };

  useEffect(() => {
    const v = video.current;
    if (!v || !range) return;
    let cancelled = false;
    let hls: HlsType | null = null;
    frags.current = fragsFromSpans(modelRef.current, range.from, range.to);
    setStatus("loading");
    setProblem("");
    (async () => {
      let url: string;
      try {
        url = await ipc.previewUrl(app, stream, range.from, range.to);
      } catch (e) {
        if (!cancelled) {
          setStatus("failed");
          setProblem(ipc.toEngineError(e).message);
        }
        return;
      }
      if (cancelled) return;
      const { default: Hls } = await import("hls.js");
      if (cancelled) return;
      if (Hls.isSupported()) {
        const start = pendingSeek.current === null ? null : wallToMedia(frags.current, pendingSeek.current);
        hls = new Hls({ enableWorker: true, lowLatencyMode: false, startPosition: start ?? -1 });
        hls.on(Hls.Events.LEVEL_LOADED, (_e, data) => {
          const fs = data.details.fragments;
          // Program date time on every fragment: the playlist's own mapping.
          if (fs.length && fs.every((f) => f.programDateTime !== null))
            frags.current = fs.map((f) => ({ start: f.start, duration: f.duration, pdt: f.programDateTime as number }));
          applySeek();
        });
        hls.on(Hls.Events.ERROR, (_e, data) => {
          if (!data.fatal || cancelled) return;
          setStatus("failed");
          setProblem(data.details);
          hls?.destroy();
        });
        hls.loadSource(url);
        hls.attachMedia(v);
      } else if (v.canPlayType("application/vnd.apple.mpegurl")) {
        v.src = url;
      } else {
        setStatus("unsupported");
        return;
      }
      setStatus("ready");
    })();
    return () => {
      cancelled = true;
      hls?.destroy();
      if (v.getAttribute("src")) {
        v.removeAttribute("src");
      }
    };
  }, [app, stream, range]);

  useEffect(() => {
    if (!seek) return;
    pendingSeek.current = seek.t;
    applySeek();
  }, [seek]);

  const onTimeUpdate = () => {
    const v = video.current;
    if (!v) return;
    const w = mediaToWall(frags.current, v.currentTime);
    setNow(w);
    onTimeRef.current(w);
  };

  return (
    <section className="card stack rec-preview" aria-labelledby="rec-preview-h">
      <h2 id="rec-preview-h">{t("rec.preview.title")}</h2>
      <video
        ref={video}
        controls
        playsInline
        preload="metadata"
        aria-label={t("rec.preview.player")}
        onTimeUpdate={onTimeUpdate}
        onSeeked={onTimeUpdate}
        onLoadedMetadata={applySeek}
      />
      <p className="mono" aria-live="off" data-testid="preview-time">
        {now !== null ? t("rec.preview.at", { time: localTime(now, lang) }) : range ? t("rec.preview.range", { from: localTime(range.from, lang), to: localTime(range.to, lang) }) : t("rec.preview.none")}
      </p>
      {status === "unsupported" ? <p className="notice warn">{t("rec.preview.unsupported")}</p> : null}
      {status === "failed" ? (
        <div className="notice error" role="alert">
          <p>{t("rec.preview.failed", { problem })}</p>
        </div>
      ) : null}
    </section>
  );
}
