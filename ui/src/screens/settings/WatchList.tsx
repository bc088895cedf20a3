import type { WatchConfig } from "../../bindings/WatchConfig";
import { Checkbox, TextField } from "../../components/fields";
import { useT } from "../../i18n";
import * as ipc from "../../ipc";
import { newWatch } from "../../lib/defaults";

/** Folders whose new files are uploaded like Tapedeck's own (OBS's recording folder). */
export function WatchList({
  watch,
  onChange,
  errors,
}: {
  watch: WatchConfig[];
  onChange: (w: WatchConfig[]) => void;
  errors: Record<string, string[]>;
}) {
  const t = useT();
  const set = (i: number, p: Partial<WatchConfig>) => onChange(watch.map((w, j) => (j === i ? { ...w, ...p } : w)));
  const choose = async (i: number | null) => {
    try {
      const path = await ipc.pickFolder(t("watch.pickTitle"));
      if (!path) return;
      if (i === null) onChange([...watch, newWatch(path)]);
      else set(i, { path });
    } catch {
      // No dialog (tests, a failed portal): the path can still be typed.
      if (i === null) onChange([...watch, newWatch()]);
    }
  };
  return (
    <div className="stack">
      {watch.length === 0 ? <p className="muted">{t("watch.none")}</p> : null}
      {watch.map((w, i) => (
        <fieldset key={i}>
          <legend>{t("watch.item", { n: i + 1 })}</legend>
          <TextField
            label={t("watch.path")}
            value={w.path}
            onChange={(v) => set(i, { path: v })}
            errors={errors[`watch[${i}].path`]}
            addon={
              <button type="button" onClick={() => choose(i)} aria-label={t("watch.chooseFor", { n: i + 1 })}>
                {t("common.choose")}
              </button>
            }
          />
          <div className="grid3">
            <TextField label={t("watch.app")} value={w.app} onChange={(v) => set(i, { app: v })} errors={errors[`watch[${i}].app`]} />
            <TextField label={t("watch.stream")} value={w.stream} onChange={(v) => set(i, { stream: v })} errors={errors[`watch[${i}].stream`]} />
          </div>
          <p className="hint">{t("watch.namesHint")}</p>
          <Checkbox label={t("watch.delete")} hint={t("watch.deleteHint")} checked={w.delete_after_upload} onChange={(v) => set(i, { delete_after_upload: v })} />
          <div className="actions">
            <button type="button" onClick={() => onChange(watch.filter((_, j) => j !== i))}>
              {t("watch.remove", { n: i + 1 })}
            </button>
          </div>
        </fieldset>
      ))}
      <div className="actions">
        <button type="button" onClick={() => choose(null)}>
          {t("watch.add")}
        </button>
      </div>
    </div>
  );
}
