import { useT } from "../../i18n";

/**
 * The recordings catalog needs commands IPC.md does not have yet (listing recordings,
 * spans, exports); until then this screen says honestly where recordings will show.
 */
export function RecordingsScreen() {
  const t = useT();
  return (
    <div className="screen">
      <h1>{t("nav.recordings")}</h1>
      <div className="empty card">
        <p>
          <strong>{t("recordings.empty.title")}</strong>
        </p>
        <p>{t("recordings.empty.body")}</p>
      </div>
    </div>
  );
}
