import { useMemo, useState, type FormEvent } from "react";
import type { EngineError } from "../../bindings/EngineError";
import type { Provider } from "../../bindings/Provider";
import type { StorageCheck } from "../../bindings/StorageCheck";
import type { StorageProfile } from "../../bindings/StorageProfile";
import type { Template } from "../../bindings/Template";
import { ErrorNotice } from "../../components/ErrorNotice";
import { Checkbox, FormProblems, NumberField, SelectField, TextField } from "../../components/fields";
import { useT } from "../../i18n";
import * as ipc from "../../ipc";
import { AWS_REGIONS, OSS_REGIONS, derivedEndpoint } from "../../lib/defaults";
import { problemsByField, unplaced } from "../../lib/problems";
import { CheckResult } from "./CheckResult";
import { KeysPanel } from "./KeysPanel";
import { ConfirmDelete } from "../../components/ConfirmDelete";

const SHOWN = [
  "name", "provider", "endpoint", "region", "account_id", "bucket", "prefix", "path_style", "storage_class",
  "max_upload_rate", "concurrency", "multipart_threshold", "part_size", "parts_in_flight",
];

/**
 * A provider's preset: what its fields mean and which it needs. A region that belongs
 * to the previous service only (OSS's cn-hangzhou, R2's auto) does not carry over: S3
 * and MinIO get us-east-1, R2 always auto.
 */
export function applyProvider(p: StorageProfile, provider: Provider): StorageProfile {
  const keep = (foreign: (r: string) => boolean) => (p.region && p.region !== "auto" && !foreign(p.region) ? p.region : "us-east-1");
  // Amazon keeps a region it has too (us-west-1); MinIO and the like keep none of OSS's.
  const awsRegion = keep((r) => OSS_REGIONS.includes(r) && !AWS_REGIONS.includes(r));
  const customRegion = keep((r) => OSS_REGIONS.includes(r));
  switch (provider) {
    case "oss":
      return { ...p, provider, region: OSS_REGIONS.includes(p.region) ? p.region : "cn-hangzhou", path_style: null, account_id: "" };
    case "aws":
      return { ...p, provider, region: awsRegion, path_style: null, account_id: "" };
    case "r2":
      return { ...p, provider, region: "auto", path_style: null };
    default:
      return { ...p, provider, region: customRegion, path_style: true, account_id: "" };
  }
}

export function ProfileForm({
  initial,
  index,
  templates,
  onSaved,
  onDeleted,
  onCancel,
}: {
  initial: StorageProfile;
  index: number | null;
  templates: Template[];
  onSaved: (name: string) => void;
  onDeleted: () => void;
  onCancel: () => void;
}) {
  const t = useT();
  const [d, setD] = useState<StorageProfile>(initial);
  const [error, setError] = useState<EngineError | null>(null);
  // After a save: whether the recorder restarted to use the bucket (null: not saved).
  const [saved, setSaved] = useState<null | "restarted" | "later" | "plain">(null);
  const [buckets, setBuckets] = useState<string[] | null>(null);
  const [bucketsError, setBucketsError] = useState<EngineError | null>(null);
  const [check, setCheck] = useState<StorageCheck | null>(null);
  const [checking, setChecking] = useState(false);
  const [checkError, setCheckError] = useState<EngineError | null>(null);
  const savedName = index === null ? null : initial.name;
  const patch = (p: Partial<StorageProfile>) => {
    setSaved(null);
    setD((x) => ({ ...x, ...p }));
  };
  const errs = useMemo(() => problemsByField(error?.problems, "storage"), [error]);
  const rest = unplaced(errs, SHOWN);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const r = await ipc.storageSave(d, index);
      // A shell that answers null (older) says nothing about the recorder.
      setSaved(r ? (r.restarted ? "restarted" : "later") : "plain");
      onSaved(d.name);
    } catch (err) {
      setError(ipc.toEngineError(err));
    }
  };
  const loadBuckets = async () => {
    if (!savedName) return;
    setBucketsError(null);
    try {
      setBuckets(await ipc.storageBuckets(savedName));
    } catch (err) {
      setBucketsError(ipc.toEngineError(err));
    }
  };
  const test = async () => {
    if (!savedName) return;
    setChecking(true);
    setCheck(null);
    setCheckError(null);
    try {
      const c = await ipc.storageTest(savedName);
      setCheck(c);
      if (c.buckets) setBuckets(c.buckets);
    } catch (err) {
      setCheckError(ipc.toEngineError(err));
    } finally {
      setChecking(false);
    }
  };
  const del = async () => {
    if (!savedName) return;
    try {
      await ipc.storageDelete(savedName);
      onDeleted();
    } catch (err) {
      setError(ipc.toEngineError(err));
    }
  };

  const users = templates.filter((tp) => savedName && tp.storage === savedName);
  const endpoint = derivedEndpoint(d);

  return (
    <div className="stack">
      <form className="card stack" onSubmit={save} noValidate aria-labelledby="profile-h">
        <h2 id="profile-h">{index === null ? t("storage.new") : t("storage.editing", { name: initial.name })}</h2>
        <div className="grid2">
          <TextField label={t("storage.name")} hint={t("storage.nameHint")} value={d.name} onChange={(v) => patch({ name: v })} errors={errs.name} />
          <SelectField<Provider>
            label={t("storage.provider")}
            value={d.provider}
            onChange={(v) => patch(applyProvider(d, v))}
            options={[
              { value: "oss", label: t("storage.provider.oss") },
              { value: "aws", label: t("storage.provider.aws") },
              { value: "r2", label: t("storage.provider.r2") },
              { value: "custom", label: t("storage.provider.custom") },
            ]}
            errors={errs.provider}
          />
          {d.provider === "oss" ? (
            <SelectField
              label={t("storage.region")}
              value={d.region}
              onChange={(v) => patch({ region: v })}
              options={OSS_REGIONS.map((r) => ({ value: r, label: r }))}
              errors={errs.region}
            />
          ) : null}
          {d.provider === "aws" || d.provider === "custom" ? (
            <>
              <TextField label={t("storage.region")} value={d.region} list="aws-regions" onChange={(v) => patch({ region: v })} errors={errs.region} hint={d.provider === "custom" ? t("storage.regionCustomHint") : undefined} />
              <datalist id="aws-regions">
                {AWS_REGIONS.map((r) => (
                  <option key={r} value={r} />
                ))}
              </datalist>
            </>
          ) : null}
          {d.provider === "r2" ? (
            <TextField label={t("storage.accountId")} hint={t("storage.accountIdHint")} value={d.account_id} onChange={(v) => patch({ account_id: v.trim() })} errors={errs.account_id} />
          ) : null}
          {d.provider === "custom" ? (
            <TextField label={t("storage.endpoint")} hint={t("storage.endpointHint")} placeholder="http://127.0.0.1:9000" value={d.endpoint} onChange={(v) => patch({ endpoint: v })} errors={errs.endpoint} type="url" />
          ) : null}
        </div>
        {d.provider === "custom" ? (
          <Checkbox label={t("storage.pathStyle")} hint={t("storage.pathStyleHint")} checked={d.path_style ?? true} onChange={(v) => patch({ path_style: v })} errors={errs.path_style} />
        ) : null}
        {endpoint ? <p className="hint">{t("storage.endpointIs", { endpoint })}</p> : null}
        <div className="grid2">
          <div className="stack">
            <TextField label={t("storage.bucket")} value={d.bucket} onChange={(v) => patch({ bucket: v.trim() })} errors={errs.bucket} />
            {buckets ? (
              <SelectField
                label={t("storage.pickBucket")}
                value={buckets.includes(d.bucket) ? d.bucket : ""}
                onChange={(v) => v && patch({ bucket: v })}
                options={[{ value: "", label: t("storage.pickBucketNone") }, ...buckets.map((b) => ({ value: b, label: b }))]}
              />
            ) : null}
            <div className="actions">
              <button type="button" onClick={loadBuckets} disabled={!savedName}>
                {t("storage.loadBuckets")}
              </button>
              {!savedName ? <span className="hint">{t("storage.saveFirst")}</span> : null}
            </div>
            <ErrorNotice error={bucketsError} />
          </div>
          <TextField label={t("storage.prefix")} hint={t("storage.prefixHint")} value={d.prefix} onChange={(v) => patch({ prefix: v })} errors={errs.prefix} placeholder="studio/" />
        </div>
        <details>
          <summary>{t("storage.advanced")}</summary>
          <div className="grid3">
            {d.provider !== "custom" ? (
              <TextField label={t("storage.endpointOverride")} hint={t("storage.endpointOverrideHint")} value={d.endpoint} onChange={(v) => patch({ endpoint: v })} errors={errs.endpoint} />
            ) : null}
            <TextField label={t("storage.class")} hint={t("storage.classHint")} value={d.storage_class} onChange={(v) => patch({ storage_class: v })} errors={errs.storage_class} />
            <TextField label={t("storage.maxRate")} hint={t("storage.maxRateHint")} value={d.max_upload_rate ?? ""} onChange={(v) => patch({ max_upload_rate: v.trim() ? v : null })} errors={errs.max_upload_rate} />
            <NumberField label={t("storage.concurrency")} min={1} max={64} value={d.concurrency} onChange={(v) => patch({ concurrency: v === "" ? 1 : v })} errors={errs.concurrency} />
            <TextField label={t("storage.multipart")} value={d.multipart_threshold} onChange={(v) => patch({ multipart_threshold: v })} errors={errs.multipart_threshold} />
            <TextField label={t("storage.partSize")} value={d.part_size} onChange={(v) => patch({ part_size: v })} errors={errs.part_size} />
            <NumberField label={t("storage.partsInFlight")} min={1} max={64} value={d.parts_in_flight} onChange={(v) => patch({ parts_in_flight: v === "" ? 1 : v })} errors={errs.parts_in_flight} />
          </div>
        </details>
        <FormProblems title={t("common.problems")} problems={rest} />
        {error ? <p className="notice error" role="alert">{error.message}</p> : null}
        {saved ? (
          <p className={`notice ${saved === "later" ? "info" : "ok"}`} role="status">
            {saved === "restarted" ? t("storage.savedRestarted") : saved === "later" ? t("storage.savedLater") : t("storage.saved")}
          </p>
        ) : null}
        <div className="actions">
          <button type="submit" className="primary">
            {t("common.save")}
          </button>
          <button type="button" onClick={onCancel}>
            {t("common.cancel")}
          </button>
          {savedName ? (
            <ConfirmDelete question={t("storage.deleteConfirm")} yes={t("storage.deleteYes")} onDelete={del} />
          ) : null}
        </div>
      </form>

      {savedName ? (
        <>
          <section className="card">
            <KeysPanel name={savedName} />
          </section>
          <section className="card" aria-labelledby="test-h">
            <h3 id="test-h">{t("check.title")}</h3>
            <p className="muted">{t("check.how")}</p>
            <div className="actions">
              <button type="button" className="primary" onClick={test} disabled={checking}>
                {checking ? t("check.running") : t("check.run")}
              </button>
            </div>
            <ErrorNotice error={checkError} />
            {check ? <CheckResult check={check} /> : null}
          </section>
          <section className="card" aria-labelledby="retention-h">
            <h3 id="retention-h">{t("retention.title")}</h3>
            <p className="muted">{t("retention.how")}</p>
            {users.length ? (
              <table aria-labelledby="retention-h">
                <thead>
                  <tr>
                    <th scope="col">{t("retention.template")}</th>
                    <th scope="col">{t("retention.keep")}</th>
                    <th scope="col">{t("retention.max")}</th>
                  </tr>
                </thead>
                <tbody>
                  {users.map((u) => (
                    <tr key={`${u.app}/${u.stream}`}>
                      <td className="mono">
                        {u.app}/{u.stream}
                      </td>
                      <td>
                        {u.keep_local === "forever"
                          ? t("tpl.keep.forever")
                          : u.keep_local === "until_uploaded"
                            ? t("tpl.keep.until_uploaded")
                            : t("retention.forAge", { age: u.keep_local })}
                      </td>
                      <td>{u.keep_local_max ?? t("retention.noLimit")}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ) : (
              <p className="muted">{t("retention.unused")}</p>
            )}
          </section>
        </>
      ) : null}
    </div>
  );
}
