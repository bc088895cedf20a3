import type { EngineError } from "../bindings/EngineError";
import type { ErrorKind } from "../bindings/ErrorKind";
import { useEngineDown } from "../app/engine";
import { useT } from "../i18n";

/**
 * An engine error as the streamer reads it: its sentence, and what to do for its kind
 * (`hints` gives a screen's own advice per kind).
 */
export function ErrorNotice({
  error,
  onRetry,
  hints,
}: {
  error: EngineError | null | undefined;
  onRetry?: () => void;
  hints?: Partial<Record<ErrorKind, string>>;
}) {
  const t = useT();
  const down = useEngineDown();
  if (!error) return null;
  // The banner at the top already says why the recorder stopped and offers the retry.
  if (down(error)) return <p className="muted engine-down">{t("engine.notAvailable")}</p>;
  // "command x not found" is a shell without that command yet: no advice fits it.
  const own = /^command \S+ not found/i.test(error.message) ? undefined : hints?.[error.kind];
  return (
    <div className="notice error" role="alert">
      <p>{error.message}</p>
      {own ? <p className="hint">{own}</p> : null}
      {!own && error.kind === "unavailable" ? <p className="hint">{t("error.unavailable.next")}</p> : null}
      {!own && error.kind === "storage" ? <p className="hint">{t("error.storage.next")}</p> : null}
      {onRetry ? (
        <button type="button" onClick={onRetry}>
          {t("common.retry")}
        </button>
      ) : null}
    </div>
  );
}
