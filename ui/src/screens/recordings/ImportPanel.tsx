import { useId, useState } from "react";
import type { EngineError } from "../../bindings/EngineError";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useT } from "../../i18n";
import * as ipc from "../../ipc";
import type { ImportProgress, ImportSummary } from "../../ipc/types";
import { useLoad } from "../../lib/useLoad";

/**
 * "Import from bucket": lists a storage profile's bucket into the catalog (recordings
 * made on another computer, or before a reinstall), then shows what it found.
 */
export function ImportPanel({ onImported, onClose }: { onImported: () => void; onClose: () => void }) {
  const t = useT();
  const id = useId();
  const config = useLoad(() => ipc.configGet());
  const profiles = config.data?.storage ?? [];
  const [profile, setProfile] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<EngineError | null>(null);
  const [summary, setSummary] = useState<ImportSummary | null>(null);
  const [progress, setProgress] = useState<ImportProgress | null>(null);
  const chosen = profile || profiles[0]?.name || "";
  const run = async () => {
    setBusy(true);
    setError(null);
    setSummary(null);
    setProgress(null);
    try {
      setSummary(await ipc.catalogImport(chosen, setProgress));
      onImported();
    } catch (e) {
      setError(ipc.toEngineError(e));
    } finally {
      setBusy(false);
      setProgress(null);
    }
  };
  return (
    <section className="card stack" aria-labelledby={`${id}-h`}>
      <div className="card-head">
        <h2 id={`${id}-h`}>{t("rec.import.title")}</h2>
        <button type="button" onClick={onClose}>
          {t("common.close")}
        </button>
      </div>
      <p className="hint">{t("rec.import.what")}</p>
      {config.error ? <ErrorNotice error={config.error} onRetry={config.reload} /> : null}
      {config.data && profiles.length === 0 ? <p>{t("rec.import.noProfiles")}</p> : null}
      {profiles.length ? (
        <div className="row">
          <div className="field">
            <label htmlFor={`${id}-p`}>{t("rec.import.profile")}</label>
            <select id={`${id}-p`} value={chosen} onChange={(e) => setProfile(e.target.value)}>
              {profiles.map((p) => (
                <option key={p.name} value={p.name}>
                  {p.name} ({p.bucket})
                </option>
              ))}
            </select>
          </div>
          <button type="button" className="primary" disabled={busy || !chosen} onClick={run}>
            {busy ? t("rec.import.running") : t("rec.import.run")}
          </button>
        </div>
      ) : null}
      <ErrorNotice error={error} hints={{ storage: t("error.storage.next") }} />
      <div role="status">
        {busy && progress && progress.total > 0 ? (
          <p>
            <progress max={progress.total} value={progress.done} aria-label={t("rec.import.running")} />{" "}
            {t("rec.import.progress", { done: progress.done, total: progress.total })}
          </p>
        ) : null}
        {summary ? (
          <p className="notice ok">
            {t("rec.import.summary", { recordings: summary.recordings, files: summary.files, indexes: summary.indexes, newFiles: summary.new_files })}
          </p>
        ) : null}
      </div>
      {summary && summary.skipped.length ? (
        <div className="notice warn">
          <p>{t("rec.import.skipped", { n: summary.skipped.length })}</p>
          <ul className="skipped">
            {summary.skipped.slice(0, 20).map((s) => (
              <li key={s.key}>
                <code>{s.key}</code>: {s.why}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
    </section>
  );
}
