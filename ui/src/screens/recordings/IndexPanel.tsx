import { useEffect, useState } from "react";
import type { EngineError } from "../../bindings/EngineError";
import { CopyField } from "../../components/CopyField";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useT } from "../../i18n";
import * as ipc from "../../ipc";
import type { CreatedIndex } from "../../ipc/types";
import { useRecErrorHints } from "./hints";

/** "Create index": an m3u8 over the range's segments, where it is and its bucket URL. */
export function IndexPanel({ app, stream, range }: { app: string; stream: string; range: [number, number] }) {
  const t = useT();
  const hints = useRecErrorHints();
  const [busy, setBusy] = useState(false);
  const [made, setMade] = useState<CreatedIndex | null>(null);
  const [error, setError] = useState<EngineError | null>(null);
  useEffect(() => {
    setMade(null);
    setError(null);
  }, [range]);
  const create = async () => {
    setBusy(true);
    setError(null);
    try {
      setMade(await ipc.indexCreate({ app, stream, start: new Date(range[0]).toISOString(), end: new Date(range[1]).toISOString(), object: null }));
    } catch (e) {
      setError(ipc.toEngineError(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="stack">
      <h3>{t("rec.index.title")}</h3>
      <p className="hint">{t("rec.index.what")}</p>
      <div className="actions">
        <button type="button" onClick={create} disabled={busy}>
          {busy ? t("rec.index.running") : t("rec.index.create")}
        </button>
      </div>
      <ErrorNotice error={error} hints={hints} />
      {made ? (
        <div className="stack" role="group" aria-label={t("rec.index.done")}>
          <p className="notice ok" role="status">
            {t("rec.index.done")}
          </p>
          <CopyField label={t("rec.index.path")} value={made.path} />
          {made.bucket_url ? <CopyField label={t("rec.index.url")} value={made.bucket_url} /> : <p className="hint">{t("rec.index.noBucket")}</p>}
        </div>
      ) : null}
    </div>
  );
}
