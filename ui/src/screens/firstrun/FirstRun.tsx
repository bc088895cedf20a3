import { useState } from "react";
import type { EngineError } from "../../bindings/EngineError";
import { ErrorNotice } from "../../components/ErrorNotice";
import { TextField } from "../../components/fields";
import { useT } from "../../i18n";
import * as ipc from "../../ipc";
import { useLoad } from "../../lib/useLoad";
import { IngestPanel } from "../live/IngestPanel";
import { ObsPanel } from "../obs/ObsPanel";
import { BucketStep } from "./BucketStep";

const STEPS = ["fr.step.folder", "fr.step.bucket", "fr.step.obs"] as const;

/** The first start: where to save, an optional bucket, OBS. Skippable at every step. */
export function FirstRun({ onDone }: { onDone: () => void }) {
  const t = useT();
  const config = useLoad(ipc.configGet);
  const [step, setStep] = useState(0);
  const [dir, setDir] = useState<string | null>(null);
  const [error, setError] = useState<EngineError | null>(null);
  const folder = dir ?? config.data?.data_dir ?? "";

  const finish = async () => {
    try {
      await ipc.firstRunDone();
    } catch {
      // Not remembered: the setup shows again next time, nothing worse.
    }
    onDone();
  };

  const saveFolder = async () => {
    const c = config.data;
    if (!c) return;
    setError(null);
    try {
      if (folder.trim() !== c.data_dir) await ipc.settingsSave(c.ingest, folder.trim(), c.callback, c.watch);
      await config.reload();
      setStep(1);
    } catch (e) {
      setError(ipc.toEngineError(e));
    }
  };

  const choose = async () => {
    try {
      const p = await ipc.pickFolder(t("settings.dataDirPick"));
      if (p) setDir(p);
    } catch (e) {
      setError(ipc.toEngineError(e));
    }
  };

  return (
    <main className="first-run" id="main">
      <h1>{t("fr.title")}</h1>
      <p>{t("fr.intro")}</p>
      <ol className="progress" aria-label={t("fr.steps")}>
        {STEPS.map((s, i) => (
          <li key={s} aria-current={i === step ? "step" : undefined}>
            {i + 1}. {t(s)}
          </li>
        ))}
      </ol>
      {step === 0 ? (
        <section className="card stack" aria-labelledby="fr-folder-h">
          <h2 id="fr-folder-h">{t("fr.folder.title")}</h2>
          <p>{t("fr.folder.how")}</p>
          <ErrorNotice error={config.error} onRetry={config.reload} />
          <div className="row">
            <TextField className="grow" label={t("settings.dataDir")} value={folder} onChange={setDir} errors={error?.problems?.filter((p) => p.field === "data_dir").map((p) => p.message)} />
            <button type="button" onClick={choose}>
              {t("common.choose")}
            </button>
          </div>
          {error && !error.problems?.length ? <ErrorNotice error={error} /> : null}
          <div className="actions">
            <button type="button" className="primary" onClick={saveFolder} disabled={!config.data || !folder.trim()}>
              {t("common.next")}
            </button>
          </div>
        </section>
      ) : null}
      {step === 1 && config.data ? <BucketStep config={config.data} onNext={() => setStep(2)} /> : null}
      {step === 2 ? (
        <>
          <p>{t("fr.obs.how")}</p>
          <IngestPanel />
          <ObsPanel title={t("fr.obs.auto")} />
          <div className="actions">
            <button type="button" onClick={() => setStep(1)}>
              {t("common.back")}
            </button>
            <button type="button" className="primary" onClick={finish}>
              {t("fr.finish")}
            </button>
          </div>
        </>
      ) : null}
      <div className="actions">
        <button type="button" className="link" onClick={finish}>
          {t("fr.skip")}
        </button>
      </div>
    </main>
  );
}
