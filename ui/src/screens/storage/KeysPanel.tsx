import { useState, type FormEvent } from "react";
import type { EngineError } from "../../bindings/EngineError";
import { ErrorNotice } from "../../components/ErrorNotice";
import { TextField } from "../../components/fields";
import { useT } from "../../i18n";
import * as ipc from "../../ipc";
import { useLoad } from "../../lib/useLoad";

/**
 * The profile's access keys: sent once to the system keychain, never shown back. Only
 * whether keys are saved comes back.
 */
export function KeysPanel({ name, onSaved }: { name: string; onSaved?: () => void }) {
  const t = useT();
  const has = useLoad(() => ipc.storageHasKeys(name), [name]);
  const [id, setId] = useState("");
  const [secret, setSecret] = useState("");
  const [error, setError] = useState<EngineError | null>(null);
  const [done, setDone] = useState(false);
  const save = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setDone(false);
    try {
      await ipc.storageSetKeys(name, id.trim(), secret.trim());
      setId("");
      setSecret("");
      setDone(true);
      await has.reload();
      onSaved?.();
    } catch (err) {
      setError(ipc.toEngineError(err));
    }
  };
  return (
    <form className="stack" onSubmit={save} aria-labelledby="keys-h" noValidate>
      <h3 id="keys-h">{t("keys.title")}</h3>
      <p role="status" className={has.data ? "notice ok" : "notice warn"}>
        {has.data === undefined ? t("common.loading") : has.data ? t("keys.saved") : t("keys.none")}
      </p>
      <div className="grid2">
        <TextField label={t("keys.id")} value={id} onChange={setId} autoComplete="off" />
        <TextField label={t("keys.secret")} value={secret} onChange={setSecret} type="password" autoComplete="new-password" />
      </div>
      <p className="hint">{t("keys.hint")}</p>
      <div className="actions">
        <button type="submit" disabled={!id.trim() || !secret.trim()}>
          {has.data ? t("keys.replace") : t("keys.save")}
        </button>
        {done ? <span className="muted">{t("keys.done")}</span> : null}
      </div>
      <ErrorNotice error={error ?? has.error} />
    </form>
  );
}
