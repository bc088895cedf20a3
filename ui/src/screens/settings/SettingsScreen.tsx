import { useEffect, useMemo, useState, type FormEvent } from "react";
import type { CallbackConfig } from "../../bindings/CallbackConfig";
import type { Config } from "../../bindings/Config";
import type { EngineError } from "../../bindings/EngineError";
import type { IngestConfig } from "../../bindings/IngestConfig";
import type { WatchConfig } from "../../bindings/WatchConfig";
import { ErrorNotice } from "../../components/ErrorNotice";
import { Checkbox, FormProblems, NumberField, SelectField, TextField } from "../../components/fields";
import { useT } from "../../i18n";
import * as ipc from "../../ipc";
import type { Lang } from "../../ipc/types";
import { formatSecs, parseSecs } from "../../lib/format";
import { useLoad } from "../../lib/useLoad";
import { CallbackTestPanel } from "./CallbackTestPanel";
import { catchAll, saveCatchAll } from "./catchAll";
import { WatchList } from "./WatchList";

type Draft = { ingest: IngestConfig; dataDir: string; callback: CallbackConfig; watch: WatchConfig[]; window: number | "" };

function draftOf(c: Config): Draft {
  return {
    ingest: c.ingest,
    dataDir: c.data_dir,
    callback: c.callback,
    watch: c.watch,
    window: parseSecs(catchAll(c).template.interruption_window) ?? 180,
  };
}

/** A publish key OBS can carry in a query as it is (letters and digits). */
export function randomKey(): string {
  const a = new Uint8Array(12);
  crypto.getRandomValues(a);
  return Array.from(a, (b) => "abcdefghijkmnpqrstuvwxyz23456789"[b % 32]).join("");
}

const SHOWN = ["ingest.rtmp_listen", "ingest.publish_key", "data_dir", "callback.url", "callback.secret", "callback.status_events", "interruption_window"];

export function SettingsScreen({
  langPref,
  onLanguage,
  onSaved,
}: {
  langPref: Lang | null;
  onLanguage: (l: Lang | null) => Promise<void>;
  onSaved: () => void;
}) {
  const t = useT();
  const config = useLoad(ipc.configGet);
  const autostart = useLoad(ipc.autostartGet);
  const [d, setD] = useState<Draft | null>(null);
  const [error, setError] = useState<EngineError | null>(null);
  // After a save: "restarted" (the recorder restarted with it), "later" (it needs a
  // restart the recorder does once no stream is live), "plain" (applies at once).
  const [saved, setSaved] = useState<null | "plain" | "restarted" | "later">(null);
  const [autostartError, setAutostartError] = useState<EngineError | null>(null);

  useEffect(() => {
    if (config.data && !d) setD(draftOf(config.data));
  }, [config.data, d]);

  const base = useMemo(() => (config.data ? draftOf(config.data) : null), [config.data]);
  const dirty = !!d && !!base && JSON.stringify(d) !== JSON.stringify(base);
  const errs = useMemo(() => {
    const out: Record<string, string[]> = {};
    for (const p of error?.problems ?? []) {
      const f = p.field.replace(/^template\[\d*\]\./, "");
      (out[f] ??= []).push(p.message);
    }
    return out;
  }, [error]);
  const rest = Object.entries(errs)
    .filter(([f]) => !SHOWN.includes(f) && !f.startsWith("watch["))
    .flatMap(([f, m]) => m.map((x) => `${f}: ${x}`));

  if (!d || !config.data) {
    return (
      <div className="screen">
        <h1>{t("nav.settings")}</h1>
        <ErrorNotice error={config.error} onRetry={config.reload} />
        {!config.error ? <p className="muted">{t("common.loading")}</p> : null}
      </div>
    );
  }
  const c = config.data;
  const patch = (p: Partial<Draft>) => {
    setSaved(null);
    setD({ ...d, ...p });
  };

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setSaved(null);
    const needsRestart =
      d.ingest.rtmp_listen !== c.ingest.rtmp_listen || d.dataDir.trim() !== c.data_dir || JSON.stringify(d.watch) !== JSON.stringify(c.watch);
    try {
      const r = await ipc.settingsSave(d.ingest, d.dataDir.trim(), d.callback, d.watch);
      if (d.window !== "" && d.window !== base?.window) await saveCatchAll(c, { interruption_window: formatSecs(d.window) });
      setSaved(r?.restarted ? "restarted" : needsRestart ? "later" : "plain");
      await config.reload();
      setD(null); // taken again from the saved config
      onSaved();
    } catch (err) {
      setError(ipc.toEngineError(err));
    }
  };

  const chooseFolder = async () => {
    try {
      const p = await ipc.pickFolder(t("settings.dataDirPick"));
      if (p) patch({ dataDir: p });
    } catch (err) {
      setError(ipc.toEngineError(err));
    }
  };

  const setAutostart = async (on: boolean) => {
    setAutostartError(null);
    try {
      await ipc.autostartSet(on);
      autostart.set(on);
    } catch (err) {
      setAutostartError(ipc.toEngineError(err));
    }
  };

  return (
    <div className="screen">
      <h1>{t("nav.settings")}</h1>
      <form className="stack" onSubmit={save} noValidate>
        <p className="notice info">{t("settings.restartNote")}</p>
        <section className="card stack" aria-labelledby="set-ingest-h">
          <h2 id="set-ingest-h">{t("settings.ingest")}</h2>
          <div className="grid2">
            <TextField
              label={t("settings.listen")}
              hint={t("settings.listenHint")}
              value={d.ingest.rtmp_listen}
              onChange={(v) => patch({ ingest: { ...d.ingest, rtmp_listen: v.trim() } })}
              errors={errs["ingest.rtmp_listen"]}
            />
            <div className="stack">
              <TextField
                label={t("settings.publishKey")}
                hint={t("settings.publishKeyHint")}
                value={d.ingest.publish_key}
                type="password"
                autoComplete="new-password"
                onChange={(v) => patch({ ingest: { ...d.ingest, publish_key: v.trim() } })}
                errors={errs["ingest.publish_key"]}
              />
              <div className="actions">
                <button type="button" onClick={() => patch({ ingest: { ...d.ingest, publish_key: randomKey() } })}>
                  {t("settings.publishKeyNew")}
                </button>
                {d.ingest.publish_key ? (
                  <button type="button" onClick={() => patch({ ingest: { ...d.ingest, publish_key: "" } })}>
                    {t("settings.publishKeyClear")}
                  </button>
                ) : null}
              </div>
            </div>
          </div>
        </section>

        <section className="card stack" aria-labelledby="set-rec-h">
          <h2 id="set-rec-h">{t("settings.recordings")}</h2>
          <TextField
            label={t("settings.dataDir")}
            hint={t("settings.dataDirHint")}
            value={d.dataDir}
            onChange={(v) => patch({ dataDir: v })}
            errors={errs.data_dir}
            addon={
              <button type="button" onClick={chooseFolder}>
                {t("common.choose")}
              </button>
            }
          />
          <NumberField
            label={t("settings.window")}
            hint={t("settings.windowHint")}
            unit={t("unit.seconds")}
            min={0}
            max={21600}
            value={d.window}
            onChange={(v) => patch({ window: v })}
            errors={errs.interruption_window}
          />
        </section>

        <section className="card stack" aria-labelledby="set-cb-h">
          <h2 id="set-cb-h">{t("settings.callbacks")}</h2>
          <p className="muted">{t("settings.callbacksHow")}</p>
          <div className="grid2">
            <TextField label={t("cb.url")} type="url" placeholder="https://example.com/hook" value={d.callback.url} onChange={(v) => patch({ callback: { ...d.callback, url: v.trim() } })} errors={errs["callback.url"]} />
            <TextField label={t("cb.secret")} hint={t("cb.secretHint")} type="password" autoComplete="new-password" value={d.callback.secret} onChange={(v) => patch({ callback: { ...d.callback, secret: v } })} errors={errs["callback.secret"]} />
          </div>
          <Checkbox label={t("cb.statusEvents")} checked={d.callback.status_events} onChange={(v) => patch({ callback: { ...d.callback, status_events: v } })} errors={errs["callback.status_events"]} />
          <CallbackTestPanel dirty={dirty} />
        </section>

        <section className="card stack" aria-labelledby="set-watch-h">
          <h2 id="set-watch-h">{t("settings.watch")}</h2>
          <p className="muted">{t("settings.watchHow")}</p>
          <WatchList watch={d.watch} onChange={(watch) => patch({ watch })} errors={errs} />
        </section>

        <FormProblems title={t("common.problems")} problems={rest} />
        {error ? (
          <div className="notice error" role="alert">
            {error.message}
          </div>
        ) : null}
        {saved ? (
          <p className={`notice ${saved === "later" ? "info" : "ok"}`} role="status">
            {saved === "restarted" ? t("settings.savedRestarted") : saved === "later" ? t("settings.savedLater") : t("common.saved")}
          </p>
        ) : null}
        <div className="actions">
          <button type="submit" className="primary" disabled={!dirty}>
            {t("settings.save")}
          </button>
          <button type="button" disabled={!dirty} onClick={() => base && setD(base)}>
            {t("settings.undo")}
          </button>
        </div>
      </form>

      <section className="card stack" aria-labelledby="set-app-h">
        <h2 id="set-app-h">{t("settings.app")}</h2>
        <Checkbox label={t("settings.autostart")} hint={t("settings.autostartHint")} checked={!!autostart.data} onChange={setAutostart} />
        <ErrorNotice error={autostartError ?? autostart.error} />
        <SelectField<"system" | Lang>
          label={t("settings.language")}
          value={langPref ?? "system"}
          onChange={(v) => void onLanguage(v === "system" ? null : v)}
          options={[
            { value: "system", label: t("settings.language.system") },
            { value: "en", label: "English" },
            { value: "zh-CN", label: "简体中文" },
          ]}
        />
      </section>
    </div>
  );
}
