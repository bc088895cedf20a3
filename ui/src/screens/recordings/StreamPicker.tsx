import { useI18n } from "../../i18n";
import type { RecordedStream } from "../../ipc/types";
import { bytes, localTime, shortTime } from "../../lib/format";

export const streamKey = (s: { app: string; stream: string }) => `${s.app}/${s.stream}`;

/** The recorded streams, grouped by app; the one picked is marked. */
export function StreamPicker({ streams, current, onPick }: { streams: RecordedStream[]; current: string | null; onPick: (key: string) => void }) {
  const { t, lang } = useI18n();
  const apps = [...new Set(streams.map((s) => s.app))].sort();
  return (
    <nav className="card rec-streams" aria-label={t("rec.streams")}>
      {apps.map((app) => (
        <section key={app} aria-labelledby={`rec-app-${app}`}>
          <h2 id={`rec-app-${app}`} className="rec-app">
            {app}
          </h2>
          <ul className="item-list">
            {streams
              .filter((s) => s.app === app)
              .sort((a, b) => a.stream.localeCompare(b.stream))
              .map((s) => (
                <li key={streamKey(s)}>
                  <button type="button" aria-current={current === streamKey(s) ? "true" : undefined} onClick={() => onPick(streamKey(s))}>
                    <strong>{s.stream}</strong>
                    <span className="sub" title={`${localTime(s.first_ms, lang)} – ${localTime(s.last_ms, lang)}`}>
                      {shortTime(s.first_ms, lang)} – {shortTime(s.last_ms, lang)}
                    </span>
                    <span className="sub">{t("rec.streamFacts", { n: s.recordings, size: bytes(s.bytes) })}</span>
                  </button>
                </li>
              ))}
          </ul>
        </section>
      ))}
    </nav>
  );
}
