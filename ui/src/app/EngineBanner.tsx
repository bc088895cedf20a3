import { useT } from "../i18n";
import type { EngineStatus } from "../ipc/types";

/** Says when the engine is not running, why, and what to do next. */
export function EngineBanner({
  status,
  onSettings,
  onRetry,
}: {
  status: EngineStatus | null;
  onSettings: () => void;
  onRetry: () => void;
}) {
  const t = useT();
  if (!status || status.state === "running") return null;
  if (status.state === "starting" || status.state === "stopping")
    return (
      <div className="banner info" role="status">
        {status.state === "starting" ? t("engine.starting") : t("engine.stopping")}
      </div>
    );
  return (
    <div className="banner error" role="alert">
      <div>
        <strong>{t("engine.failed.title")}</strong>
        <p>{status.error.message}</p>
        <p className="hint">{t("engine.failed.next")}</p>
      </div>
      <div className="actions">
        <button type="button" className="primary" onClick={onSettings}>
          {t("engine.failed.settings")}
        </button>
        <button type="button" onClick={onRetry}>
          {t("common.retry")}
        </button>
      </div>
    </div>
  );
}
