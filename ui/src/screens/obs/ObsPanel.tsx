import { useState, type FormEvent } from "react";
import type { EngineError } from "../../bindings/EngineError";
import { ErrorNotice } from "../../components/ErrorNotice";
import { Checkbox, TextField } from "../../components/fields";
import { useT } from "../../i18n";
import * as ipc from "../../ipc";
import type { ObsStatus } from "../../ipc/types";
import { useLoad } from "../../lib/useLoad";

/** OBS over obs-websocket 5: connect, point it here, start and stop its stream. */
export function ObsPanel({ headingLevel = 2, title }: { headingLevel?: 2 | 3; title?: string }) {
  const t = useT();
  const status = useLoad(ipc.obsStatus);
  const [address, setAddress] = useState("ws://127.0.0.1:4455");
  const [password, setPassword] = useState("");
  const [remember, setRemember] = useState(true);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<EngineError | null>(null);

  const act = async (f: () => Promise<ObsStatus>) => {
    setBusy(true);
    setError(null);
    try {
      status.set(await f());
    } catch (e) {
      setError(ipc.toEngineError(e));
    } finally {
      setBusy(false);
    }
  };
  const connect = (e: FormEvent) => {
    e.preventDefault();
    void act(() => ipc.obsConnect(address.trim(), password, remember));
  };

  const s = status.data;
  const H = headingLevel === 2 ? "h2" : "h3";
  return (
    <section className="card" aria-labelledby="obs-h">
      <H id="obs-h">{title ?? t("obs.title")}</H>
      <p className="muted">{t("obs.how")}</p>
      {!s?.connected ? (
        <form onSubmit={connect} className="stack">
          <TextField label={t("obs.address")} value={address} onChange={setAddress} type="url" />
          <TextField label={t("obs.password")} value={password} onChange={setPassword} type="password" autoComplete="current-password" />
          <Checkbox label={t("obs.remember")} checked={remember} onChange={setRemember} />
          <div className="actions">
            <button type="submit" className="primary" disabled={busy}>
              {t("obs.connect")}
            </button>
          </div>
        </form>
      ) : null}
      {s ? (
        <div role="status" className="obs-status">
          {s.connected ? (
            <>
              <p>
                <span className="badge on">{t("obs.connected")}</span> {s.version ? t("obs.version", { version: s.version }) : null}
              </p>
              <p>{s.streaming ? t("obs.streaming") : t("obs.notStreaming")}</p>
              <p>{s.points_here ? t("obs.pointsHere") : t("obs.pointsElsewhere", { server: s.service?.server ?? t("obs.noService") })}</p>
            </>
          ) : (
            <p>
              <span className="badge off">{t("obs.disconnected")}</span>
            </p>
          )}
          {s.error ? <p className="notice error">{s.error}</p> : null}
        </div>
      ) : null}
      {s?.connected ? (
        <div className="actions">
          <button type="button" disabled={busy || s.points_here} onClick={() => act(ipc.obsSetupStream)} className={s.points_here ? "" : "primary"}>
            {t("obs.pointHere")}
          </button>
          {s.streaming ? (
            <button type="button" className="danger" disabled={busy} onClick={() => act(ipc.obsStopStream)}>
              {t("obs.stopStream")}
            </button>
          ) : (
            <button type="button" disabled={busy} onClick={() => act(ipc.obsStartStream)}>
              {t("obs.startStream")}
            </button>
          )}
        </div>
      ) : null}
      <ErrorNotice error={error ?? status.error} />
    </section>
  );
}
