import { useState, type FormEvent } from "react";
import type { Config } from "../../bindings/Config";
import type { EngineError } from "../../bindings/EngineError";
import type { Provider } from "../../bindings/Provider";
import type { StorageCheck } from "../../bindings/StorageCheck";
import type { StorageProfile } from "../../bindings/StorageProfile";
import { ErrorNotice } from "../../components/ErrorNotice";
import { SelectField, TextField } from "../../components/fields";
import { useT } from "../../i18n";
import * as ipc from "../../ipc";
import { OSS_REGIONS, newProfile } from "../../lib/defaults";
import { problemsByField } from "../../lib/problems";
import { saveCatchAll } from "../settings/catchAll";
import { CheckResult } from "../storage/CheckResult";

/** The optional bucket of the first run: one profile, its keys, every stream uploads to it. */
export function BucketStep({ config, onNext }: { config: Config; onNext: () => void }) {
  const t = useT();
  const [p, setP] = useState<StorageProfile>(newProfile("oss"));
  const [keyId, setKeyId] = useState("");
  const [secret, setSecret] = useState("");
  const [error, setError] = useState<EngineError | null>(null);
  const [savedName, setSavedName] = useState<string | null>(null);
  const [check, setCheck] = useState<StorageCheck | null>(null);
  const errs = problemsByField(error?.problems, "storage");

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    const profile = { ...p, name: p.name || `${p.provider}-${p.bucket}`.replace(/[^A-Za-z0-9_-]/g, "-") };
    try {
      await ipc.storageSave(profile, null);
      await ipc.storageSetKeys(profile.name, keyId.trim(), secret.trim());
      await saveCatchAll(config, { storage: profile.name });
      setSavedName(profile.name);
      setSecret("");
      setCheck(await ipc.storageTest(profile.name));
    } catch (err) {
      setError(ipc.toEngineError(err));
    }
  };

  const provider = (v: Provider) => setP({ ...newProfile(v), bucket: p.bucket });

  return (
    <form className="card stack" onSubmit={save} noValidate aria-labelledby="fr-bucket-h">
      <h2 id="fr-bucket-h">{t("fr.bucket.title")}</h2>
      <p>{t("fr.bucket.how")}</p>
      <div className="grid2">
        <SelectField<Provider>
          label={t("storage.provider")}
          value={p.provider}
          onChange={provider}
          options={[
            { value: "oss", label: t("storage.provider.oss") },
            { value: "aws", label: t("storage.provider.aws") },
            { value: "r2", label: t("storage.provider.r2") },
            { value: "custom", label: t("storage.provider.custom") },
          ]}
        />
        {p.provider === "oss" ? (
          <SelectField label={t("storage.region")} value={p.region} onChange={(v) => setP({ ...p, region: v })} options={OSS_REGIONS.map((r) => ({ value: r, label: r }))} errors={errs.region} />
        ) : null}
        {p.provider === "aws" ? <TextField label={t("storage.region")} value={p.region} onChange={(v) => setP({ ...p, region: v.trim() })} errors={errs.region} /> : null}
        {p.provider === "r2" ? <TextField label={t("storage.accountId")} value={p.account_id} onChange={(v) => setP({ ...p, account_id: v.trim() })} errors={errs.account_id} /> : null}
        {p.provider === "custom" ? <TextField label={t("storage.endpoint")} type="url" value={p.endpoint} onChange={(v) => setP({ ...p, endpoint: v.trim() })} errors={errs.endpoint} /> : null}
        <TextField label={t("storage.bucket")} value={p.bucket} onChange={(v) => setP({ ...p, bucket: v.trim() })} errors={errs.bucket} />
        <TextField label={t("keys.id")} value={keyId} onChange={setKeyId} />
        <TextField label={t("keys.secret")} type="password" autoComplete="new-password" value={secret} onChange={setSecret} />
      </div>
      <p className="hint">{t("keys.hint")}</p>
      {errs.name ? <p className="notice error">{errs.name.join(" ")}</p> : null}
      <ErrorNotice error={error && !error.problems?.length ? error : null} />
      {error?.problems?.length ? <p className="notice error" role="alert">{error.message}</p> : null}
      {savedName ? <p className="notice ok" role="status">{t("fr.bucket.saved", { name: savedName })}</p> : null}
      {check ? <CheckResult check={check} /> : null}
      <div className="actions">
        {!savedName ? (
          <button type="submit" className="primary" disabled={!p.bucket || !keyId.trim() || !secret.trim()}>
            {t("fr.bucket.save")}
          </button>
        ) : null}
        <button type="button" className={savedName ? "primary" : ""} onClick={onNext}>
          {savedName ? t("common.next") : t("fr.bucket.skip")}
        </button>
      </div>
    </form>
  );
}
