import { useT } from "../../i18n";
import { ObsPanel } from "../obs/ObsPanel";
import { IngestPanel } from "./IngestPanel";
import { PullPanel } from "./PullPanel";
import { StatusPanel } from "./StatusPanel";
import { StreamList } from "./StreamList";

/**
 * Live: where OBS sends, what comes in, what is recorded. Only the stream list listens
 * to the per-second `live` event; the panels around it do not re-render with it.
 */
export function LiveScreen() {
  const t = useT();
  return (
    <div className="screen">
      <h1>{t("nav.live")}</h1>
      <div className="grid2 top">
        <IngestPanel />
        <StatusPanel />
      </div>
      <StreamList />
      <div className="grid2">
        <PullPanel />
        <ObsPanel />
      </div>
    </div>
  );
}
