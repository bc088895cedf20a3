import { useEffect } from "react";
import { useEngineDown } from "../../app/engine";
import { useT } from "../../i18n";
import * as ipc from "../../ipc";
import { bytes } from "../../lib/format";
import { useLoad } from "../../lib/useLoad";

/** Free space on the recordings' disk and the chapter hotkey. */
export function StatusPanel() {
  const t = useT();
  const down = useEngineDown();
  const disk = useLoad(ipc.diskStatus);
  const hotkey = useLoad(ipc.hotkeyStatus);
  const { set } = disk;
  const diskPath = disk.data?.path ?? "";
  useEffect(
    () =>
      ipc.subscribe("engine-event", (e) => {
        if (e.source === "disk") set({ path: diskPath, ...e.event });
      }),
    [set, diskPath],
  );
  const d = disk.data;
  const h = hotkey.data;
  return (
    <section className="card status" aria-labelledby="status-h">
      <h2 id="status-h">{t("status.title")}</h2>
      <div className="status-row">
        <div>
          <h3>{t("disk.title")}</h3>
          {d ? (
            <>
              <p>{t("disk.free", { free: bytes(d.free_bytes), total: bytes(d.total_bytes) })}</p>
              <meter min={0} max={d.total_bytes || 1} value={d.total_bytes - d.free_bytes} aria-label={t("disk.used")} />
              {d.path ? <p className="sub mono">{d.path}</p> : null}
              {d.low ? (
                <p className="notice warn" role="alert">
                  {t("disk.low", { free: bytes(d.free_bytes) })}
                </p>
              ) : null}
            </>
          ) : disk.error ? (
            <p className="muted">{down(disk.error) ? t("engine.notAvailable") : disk.error.message}</p>
          ) : (
            <p className="muted">{t("common.loading")}</p>
          )}
        </div>
        <div>
          <h3>{t("hotkey.title")}</h3>
          {h ? (
            h.available ? (
              <p>{t("hotkey.ready", { key: h.chapter_hotkey })}</p>
            ) : (
              <p className="notice warn">{h.reason ?? t("hotkey.unavailable")}</p>
            )
          ) : hotkey.error ? (
            <p className="muted">{down(hotkey.error) ? t("engine.notAvailable") : hotkey.error.message}</p>
          ) : null}
        </div>
      </div>
    </section>
  );
}
