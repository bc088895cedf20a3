import { useState } from "react";
import type { EngineError } from "../../bindings/EngineError";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useT } from "../../i18n";
import * as ipc from "../../ipc";
import type { CallbackTest } from "../../ipc/types";

/** Sends a test callback with the saved settings and shows what went and what came back. */
export function CallbackTestPanel({ dirty }: { dirty: boolean }) {
  const t = useT();
  const [result, setResult] = useState<CallbackTest | null>(null);
  const [error, setError] = useState<EngineError | null>(null);
  const [busy, setBusy] = useState(false);
  const send = async () => {
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      setResult(await ipc.sendTestCallback());
    } catch (e) {
      setError(ipc.toEngineError(e));
    } finally {
      setBusy(false);
    }
  };
  const ok = result && result.status !== null && result.status >= 200 && result.status < 300 && !result.error;
  return (
    <div className="stack">
      <div className="actions">
        <button type="button" onClick={send} disabled={busy}>
          {t("cb.test")}
        </button>
        {dirty ? <span className="hint">{t("cb.testSavedOnly")}</span> : null}
      </div>
      <ErrorNotice error={error} />
      {result ? (
        <div role="status" className="stack">
          <p className={`notice ${ok ? "ok" : "error"}`}>
            {ok
              ? t("cb.ok", { status: result.status ?? "" })
              : result.error
                ? t("cb.failed", { error: result.error })
                : t("cb.badStatus", { status: result.status ?? "–" })}
          </p>
          <h3>{t("cb.request")}</h3>
          <pre>
            {`POST ${result.request.url}\n${result.request.headers.map(([k, v]) => `${k}: ${v}`).join("\n")}\n\n${result.request.body}`}
          </pre>
          <h3>{t("cb.answer")}</h3>
          <pre>{result.status !== null ? `${result.status}\n\n${result.response ?? ""}` : t("cb.noAnswer")}</pre>
        </div>
      ) : null}
    </div>
  );
}
