import type { EngineError } from "../bindings/EngineError";
import { useT } from "../i18n";

/** An engine error as the streamer reads it: its sentence, and what to do for its kind. */
export function ErrorNotice({ error, onRetry }: { error: EngineError | null | undefined; onRetry?: () => void }) {
  const t = useT();
  if (!error) return null;
  return (
    <div className="notice error" role="alert">
      <p>{error.message}</p>
      {error.kind === "unavailable" ? <p className="hint">{t("error.unavailable.next")}</p> : null}
      {error.kind === "storage" ? <p className="hint">{t("error.storage.next")}</p> : null}
      {onRetry ? (
        <button type="button" onClick={onRetry}>
          {t("common.retry")}
        </button>
      ) : null}
    </div>
  );
}
