import { useCallback, useEffect, useState } from "react";
import type { EngineError } from "../../bindings/EngineError";
import type { Upload } from "../../bindings/Upload";
import { Checkbox } from "../../components/fields";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useI18n } from "../../i18n";
import * as ipc from "../../ipc";
import { bytes, localTime, rate } from "../../lib/format";

type Down = { profile: string; error: string; retry_in_secs: number };

/** Applies an upload event to the rows it concerns (progress without asking again). */
export function applyUploadEvent(list: Upload[], e: ipc.Events["engine-event"]): Upload[] {
  if (e.source !== "upload") return list;
  const ev = e.event;
  if (!("key" in ev) || !("profile" in ev)) return list;
  return list.map((u) => {
    if (u.key !== ev.key || u.profile !== ev.profile) return u;
    switch (ev.event) {
      case "started":
        return { ...u, attempts: ev.attempt, last_error: null };
      case "progress":
        return { ...u, sent_bytes: ev.sent, bytes: ev.bytes, rate_bps: ev.rate_bps };
      case "done":
        return { ...u, state: "done", sent_bytes: ev.bytes, rate_bps: 0, done_ms: ev.done_ms, last_error: null };
      case "retrying":
        return { ...u, attempts: ev.attempt, last_error: ev.error, rate_bps: 0, next_attempt_ms: Date.now() + ev.retry_in_secs * 1000 };
      case "lost":
        return { ...u, state: "lost", last_error: ev.reason, rate_bps: 0 };
      default:
        return u;
    }
  });
}

/** The upload queue: each file with its progress, speed, tries and problem in words. */
export function UploadQueue() {
  const { t, lang } = useI18n();
  const [withDone, setWithDone] = useState(false);
  const [rows, setRows] = useState<Upload[] | null>(null);
  const [error, setError] = useState<EngineError | null>(null);
  const [down, setDown] = useState<Record<string, Down>>({});

  const reload = useCallback(async () => {
    try {
      setRows(await ipc.uploads(withDone, 200));
      setError(null);
    } catch (e) {
      setError(ipc.toEngineError(e));
    }
  }, [withDone]);

  useEffect(() => {
    void reload();
    // New files join the queue as recordings finish: look again now and then.
    const id = window.setInterval(() => void reload(), 10_000);
    return () => window.clearInterval(id);
  }, [reload]);

  useEffect(
    () =>
      ipc.subscribe("engine-event", (e) => {
        if (e.source !== "upload") return;
        const ev = e.event;
        if (ev.event === "bucket_down") setDown((d) => ({ ...d, [ev.profile]: ev }));
        else if (ev.event === "bucket_back")
          setDown((d) => {
            const rest = { ...d };
            delete rest[ev.profile];
            return rest;
          });
        else setRows((r) => (r ? applyUploadEvent(r, e) : r));
      }),
    [],
  );

  const status = (u: Upload) => {
    if (u.state === "done") return t("uploads.done", { at: u.done_ms ? localTime(u.done_ms, lang) : "–" });
    if (u.state === "lost") return t("uploads.lost", { why: u.last_error ?? "" });
    if (u.last_error)
      return t("uploads.retrying", {
        why: u.last_error,
        at: u.next_attempt_ms ? localTime(u.next_attempt_ms, lang, false) : "–",
      });
    if (u.rate_bps > 0 || u.sent_bytes > 0) return t("uploads.sending");
    return t("uploads.waiting");
  };

  return (
    <section className="card" aria-labelledby="uploads-h">
      <div className="card-head">
        <h2 id="uploads-h">{t("uploads.title")}</h2>
        <Checkbox label={t("uploads.showDone")} checked={withDone} onChange={setWithDone} />
      </div>
      {Object.values(down).map((d) => (
        <p key={d.profile} className="notice error" role="alert">
          {t("uploads.bucketDown", { profile: d.profile, error: d.error, s: d.retry_in_secs })}
        </p>
      ))}
      <ErrorNotice error={error} onRetry={reload} />
      {rows && rows.length === 0 ? <p className="muted">{t("uploads.empty")}</p> : null}
      {rows && rows.length ? (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">{t("uploads.title")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("uploads.file")}</th>
                <th scope="col">{t("uploads.progress")}</th>
                <th scope="col" className="num">
                  {t("uploads.speed")}
                </th>
                <th scope="col" className="num">
                  {t("uploads.attempts")}
                </th>
                <th scope="col">{t("uploads.status")}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((u) => {
                const pct = u.bytes > 0 ? Math.floor((u.sent_bytes / u.bytes) * 100) : 0;
                return (
                  <tr key={u.id}>
                    <td>
                      <div className="mono">{u.key}</div>
                      <div className="sub">{t("uploads.to", { profile: u.profile })}</div>
                    </td>
                    <td style={{ minWidth: 160 }}>
                      <progress max={100} value={pct} aria-label={t("uploads.progressOf", { key: u.key })} />
                      <div className="sub">
                        {pct}% · {bytes(u.sent_bytes)} / {bytes(u.bytes)}
                      </div>
                    </td>
                    <td className="num">{u.rate_bps > 0 ? rate(u.rate_bps) : "–"}</td>
                    <td className="num">{u.attempts}</td>
                    <td className={u.state === "lost" || u.last_error ? "bad" : ""}>{status(u)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
