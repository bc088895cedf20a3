import { memo } from "react";
import type { LiveStream } from "../../bindings/LiveStream";
import type { Health } from "../../bindings/Health";
import { Sparkline } from "../../components/Sparkline";
import { useT, type MessageKey } from "../../i18n";
import { hms, kbps } from "../../lib/format";

const HEALTH_TITLE: Record<Health["kind"], MessageKey> = {
  no_keyframe: "live.health.no_keyframe",
  low_bitrate: "live.health.low_bitrate",
  dropped_frames: "live.health.dropped_frames",
  timestamps_backwards: "live.health.timestamps_backwards",
  silent: "live.health.silent",
};

type Props = {
  s: LiveStream;
  busy: boolean;
  error: string | null;
  onToggle: (s: LiveStream) => void;
  onChapter: (s: LiveStream) => void;
};

/** One live stream, one compact row: what comes in, how it is recorded, what is wrong. */
function StreamRowImpl({ s, busy, error, onToggle, onChapter }: Props) {
  const t = useT();
  const name = `${s.app}/${s.stream}`;
  const v = s.video;
  const history = s.bitrate_history_kbps ?? [];
  const peak = history.length ? Math.max(...history) : 0;
  // The graph spans what there is: 2 minutes, or the seconds since the stream started.
  const span = history.length >= 120 ? t("live.span.full") : t("live.span.short", { n: history.length });
  const health = s.health ?? [];
  // The publisher left and the reconnect window runs: what is shown is its last state.
  const away = s.connected === false;
  return (
    <li className={`stream ${health.length ? "warn" : ""} ${s.recording ? "rec" : "paused"} ${away ? "away" : ""}`} aria-label={name} data-stream-row="">
      <div className="stream-name">
        <strong className="mono">{name}</strong>
        <span className="sub">{s.source}</span>
      </div>
      <div className="stream-media" aria-hidden={away || undefined}>
        {v ? (
          <>
            <span>
              {v.width}×{v.height}
              {/* 0 until two samples a second apart have seen frames: not a rate yet. */}
              {v.fps > 0 ? ` · ${t("live.fps", { fps: Math.round(v.fps * 100) / 100 })}` : ""}
            </span>
            <span className="sub">
              {codecName(v.codec)}
              {s.audio ? ` · ${codecName(s.audio.codec)} ${s.audio.sample_rate / 1000} kHz` : ""}
            </span>
            <span className={`sub ${v.keyframe_interval_s > 4 ? "bad" : ""}`}>
              {t("live.keyframe", { s: Math.round(v.keyframe_interval_s * 10) / 10 })}
            </span>
          </>
        ) : (
          <span className="sub">
            {t("live.noVideo")}
            {s.audio ? ` · ${codecName(s.audio.codec)} ${s.audio.sample_rate / 1000} kHz` : ""}
          </span>
        )}
      </div>
      <div className="stream-rate">
        <Sparkline values={history} width={140} label={t("live.bitrateGraph", { name, span, now: kbps(s.bitrate_kbps), peak: kbps(peak) })} />
        <span className="mono">{away ? "–" : kbps(s.bitrate_kbps)}</span>
        <span className="sub" aria-hidden="true">
          {span}
        </span>
      </div>
      <div className="stream-time">
        <span className="mono big" aria-label={t("live.recordedFor", { time: hms(s.recording_s) })}>
          {hms(s.recording_s)}
        </span>
        <span className={`badge ${s.recording ? "on" : "off"}`}>{s.recording ? t("live.recording") : t("live.notRecording")}</span>
      </div>
      <div className="stream-template">
        <span className="sub">{t("live.template")}</span>
        <span className="mono">{s.template || t("live.noTemplate")}</span>
      </div>
      <div className="stream-actions">
        <button
          type="button"
          className={s.recording ? "" : "primary"}
          disabled={busy}
          onClick={() => onToggle(s)}
          aria-label={s.recording ? t("live.stopFor", { name }) : t("live.startFor", { name })}
        >
          {s.recording ? t("live.stop") : t("live.start")}
        </button>
        <button type="button" disabled={!s.recording} onClick={() => onChapter(s)} aria-label={t("live.chapterFor", { name })}>
          {t("live.addChapter")}
        </button>
      </div>
      {away ? (
        <p className="stream-away" role="status">
          <span className="badge away">{t("live.away")}</span>
        </p>
      ) : null}
      {health.length || error ? (
        <ul className="stream-health">
          {health.map((h) => (
            <li key={h.kind}>
              <strong>{t(HEALTH_TITLE[h.kind] ?? "live.health.other")}:</strong> {h.message}
            </li>
          ))}
          {error ? (
            <li className="bad" role="alert">
              {error}
            </li>
          ) : null}
        </ul>
      ) : null}
    </li>
  );
}

function same(a: Props, b: Props): boolean {
  if (a.busy !== b.busy || a.error !== b.error || a.onToggle !== b.onToggle || a.onChapter !== b.onChapter) return false;
  const x = a.s;
  const y = b.s;
  if (x === y) return true;
  const hx = x.bitrate_history_kbps ?? [];
  const hy = y.bitrate_history_kbps ?? [];
  return (
    x.bitrate_kbps === y.bitrate_kbps &&
    x.recording_s === y.recording_s &&
    x.recording === y.recording &&
    x.connected === y.connected &&
    x.template === y.template &&
    x.source === y.source &&
    hx.length === hy.length &&
    hx[hx.length - 1] === hy[hy.length - 1] &&
    JSON.stringify(x.video) === JSON.stringify(y.video) &&
    JSON.stringify(x.health) === JSON.stringify(y.health)
  );
}

/** Re-renders only when what it shows changed (32 rows get a `live` event every second). */
export const StreamRow = memo(StreamRowImpl, same);

/** "h264" -> "H.264", "aac" -> "AAC": how encoders name them. */
export function codecName(codec: string): string {
  const names: Record<string, string> = { h264: "H.264", h265: "H.265", aac: "AAC" };
  return names[codec] ?? codec.toUpperCase();
}
