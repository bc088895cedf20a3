// Recordings: every recorded stream (grouped by app), one of them on a zoomable
// timeline with thumbnails, chapters, gaps and reconnects; a preview player; a range to
// turn into an index or a clip; an import of a bucket's recordings into the catalog.
import { useEffect, useState } from "react";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useT } from "../../i18n";
import * as ipc from "../../ipc";
import { useLoad } from "../../lib/useLoad";
import { ImportPanel } from "./ImportPanel";
import { StreamPicker, streamKey } from "./StreamPicker";
import { StreamView } from "./StreamView";

export function RecordingsScreen() {
  const t = useT();
  const streams = useLoad(() => ipc.recordedStreams());
  const [picked, setPicked] = useState<string | null>(null);
  const [importing, setImporting] = useState(false);
  const list = streams.data ?? [];
  // A live stream's recordings grow: look again every 30 s while the screen is open.
  const { reload } = streams;
  useEffect(() => {
    const id = window.setInterval(() => void reload(), 30_000);
    return () => window.clearInterval(id);
  }, [reload]);
  // At first, the stream recorded most recently.
  const latest = list.reduce<(typeof list)[number] | null>((a, s) => (!a || s.last_ms > a.last_ms ? s : a), null);
  const current = list.find((s) => streamKey(s) === picked) ?? latest;

  return (
    <div className="screen rec-screen">
      <div className="card-head">
        <h1>{t("nav.recordings")}</h1>
        <div className="actions">
          <button type="button" onClick={() => void streams.reload()}>
            {t("rec.refresh")}
          </button>
          <button type="button" onClick={() => setImporting((v) => !v)} aria-expanded={importing}>
            {t("rec.import.open")}
          </button>
        </div>
      </div>
      {importing ? <ImportPanel onImported={() => void streams.reload()} onClose={() => setImporting(false)} /> : null}
      {streams.error ? <ErrorNotice error={streams.error} onRetry={() => void streams.reload()} /> : null}
      {streams.loading && !streams.data ? <p className="muted">{t("common.loading")}</p> : null}
      {streams.data && list.length === 0 ? (
        <div className="empty card">
          <p>
            <strong>{t("recordings.empty.title")}</strong>
          </p>
          <p>{t("recordings.empty.body")}</p>
          <p className="hint">{t("rec.emptyImport")}</p>
        </div>
      ) : null}
      {current ? (
        <div className="rec-layout">
          <StreamPicker streams={list} current={streamKey(current)} onPick={setPicked} />
          <StreamView key={streamKey(current)} info={current} />
        </div>
      ) : null}
    </div>
  );
}
