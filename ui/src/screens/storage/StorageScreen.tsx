import { useState } from "react";
import type { StorageProfile } from "../../bindings/StorageProfile";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useT } from "../../i18n";
import * as ipc from "../../ipc";
import { newProfile } from "../../lib/defaults";
import { useLoad } from "../../lib/useLoad";
import { ProfileForm } from "./ProfileForm";
import { UploadQueue } from "./UploadQueue";

type Editing = { index: number | null; profile: StorageProfile; key: number } | null;

const PROVIDER = { oss: "storage.provider.oss", aws: "storage.provider.aws", r2: "storage.provider.r2", custom: "storage.provider.custom" } as const;

/** Buckets recordings are uploaded to, and the upload queue. */
export function StorageScreen() {
  const t = useT();
  const config = useLoad(ipc.configGet);
  const [editing, setEditing] = useState<Editing>(null);
  const profiles = config.data?.storage ?? [];
  const open = (index: number | null, profile: StorageProfile) => setEditing({ index, profile: structuredClone(profile), key: Date.now() });

  return (
    <div className="screen">
      <h1>{t("nav.storage")}</h1>
      <ErrorNotice error={config.error} onRetry={config.reload} />
      <div className="list-detail">
        <section className="card" aria-labelledby="profiles-h">
          <h2 id="profiles-h">{t("storage.list")}</h2>
          {config.data && profiles.length === 0 ? <p className="muted">{t("storage.none")}</p> : null}
          <ul className="item-list">
            {profiles.map((p, i) => (
              <li key={p.name}>
                <button type="button" aria-current={editing?.index === i ? "true" : undefined} onClick={() => open(i, p)}>
                  <strong>{p.name}</strong>
                  <span className="sub">
                    {t(PROVIDER[p.provider])} · {p.bucket || "–"}
                  </span>
                </button>
              </li>
            ))}
          </ul>
          <div className="actions">
            <button type="button" className="primary" onClick={() => open(null, newProfile())} disabled={!config.data}>
              {t("storage.add")}
            </button>
          </div>
        </section>
        {editing ? (
          <ProfileForm
            key={editing.key}
            initial={editing.profile}
            index={editing.index}
            templates={config.data?.template ?? []}
            onSaved={async (name) => {
              await config.reload();
              const fresh = await ipc.configGet().catch(() => null);
              const i = fresh?.storage.findIndex((p) => p.name === name) ?? -1;
              // Same form (its "saved" note stays); now it edits the saved profile.
              if (fresh && i >= 0) setEditing((e) => e && { ...e, index: i, profile: fresh.storage[i] });
            }}
            onDeleted={() => {
              setEditing(null);
              void config.reload();
            }}
            onCancel={() => setEditing(null)}
          />
        ) : (
          <div className="card muted">{t("storage.pick")}</div>
        )}
      </div>
      <UploadQueue />
    </div>
  );
}
