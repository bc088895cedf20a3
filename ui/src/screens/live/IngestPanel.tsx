import { CopyField } from "../../components/CopyField";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useT } from "../../i18n";
import * as ipc from "../../ipc";
import { useLoad } from "../../lib/useLoad";

/** What to paste into OBS (Settings, Stream, Service "Custom"). */
export function IngestPanel() {
  const t = useT();
  const info = useLoad(ipc.ingestInfo);
  return (
    <section className="card" aria-labelledby="ingest-h">
      <h2 id="ingest-h">{t("ingest.title")}</h2>
      <p className="muted">{t("ingest.how")}</p>
      <ErrorNotice error={info.error} onRetry={info.reload} />
      {info.data ? (
        <>
          <div className="grid2">
            <CopyField label={t("ingest.server")} value={info.data.rtmp_url} />
            <CopyField label={t("ingest.key")} value={info.data.stream_key} secret={info.data.publish_key_set} />
          </div>
          <p className="hint">{t("ingest.keyHint")}</p>
          {info.data.lan_urls.length ? (
            <div>
              <p className="hint">{t("ingest.lan")}</p>
              {info.data.lan_urls.map((u) => (
                <CopyField key={u} label={t("ingest.lanServer")} value={u} />
              ))}
            </div>
          ) : null}
        </>
      ) : null}
    </section>
  );
}
