import { useState, type FormEvent } from "react";
import type { EngineError } from "../../bindings/EngineError";
import { ErrorNotice } from "../../components/ErrorNotice";
import { TextField } from "../../components/fields";
import { useT, type MessageKey } from "../../i18n";
import * as ipc from "../../ipc";
import { problemsByField } from "../../lib/problems";
import { useLoad } from "../../lib/useLoad";

const NAME = /^[A-Za-z0-9_-]{1,255}$/;

/** What is wrong with a pull address before the engine is asked (null: nothing). */
export function pullUrlProblem(url: string): MessageKey | null {
  const u = url.trim();
  if (!u) return "pull.url.missing";
  let parsed: URL;
  try {
    parsed = new URL(u);
  } catch {
    return "pull.url.invalid";
  }
  const scheme = parsed.protocol;
  if (scheme === "rtmp:" || scheme === "rtmps:") return parsed.hostname ? null : "pull.url.invalid";
  if (scheme === "http:" || scheme === "https:") {
    return /\.(flv|m3u8)$/i.test(parsed.pathname) ? null : "pull.url.httpKind";
  }
  return "pull.url.scheme";
}

/** Remote streams (RTMP, HTTP-FLV, HLS) recorded as if they were pushed here. */
export function PullPanel() {
  const t = useT();
  const list = useLoad(ipc.pulls);
  const [url, setUrl] = useState("");
  const [app, setApp] = useState("pull");
  const [stream, setStream] = useState("");
  const [touched, setTouched] = useState(false);
  const [error, setError] = useState<EngineError | null>(null);
  const [saving, setSaving] = useState(false);

  const urlProblem = pullUrlProblem(url);
  const appProblem = NAME.test(app) ? null : t("pull.name.invalid");
  const streamProblem = NAME.test(stream) ? null : t("pull.name.invalid");
  const server = problemsByField(error?.problems, "pull");

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if (urlProblem || appProblem || streamProblem) return;
    setSaving(true);
    setError(null);
    try {
      await ipc.addPull({ url: url.trim(), app, stream });
      setUrl("");
      setStream("");
      setTouched(false);
      await list.reload();
    } catch (err) {
      setError(ipc.toEngineError(err));
    } finally {
      setSaving(false);
    }
  };

  const remove = async (a: string, s: string) => {
    setError(null);
    try {
      await ipc.removePull(a, s);
      await list.reload();
    } catch (err) {
      setError(ipc.toEngineError(err));
    }
  };

  return (
    <section className="card" aria-labelledby="pull-h">
      <h2 id="pull-h">{t("pull.title")}</h2>
      <p className="muted">{t("pull.how")}</p>
      <form onSubmit={submit} noValidate className="pull-form">
        <TextField
          label={t("pull.url")}
          value={url}
          onChange={setUrl}
          placeholder="rtmp://example.com/live/stream"
          type="url"
          errors={[...(touched && urlProblem ? [t(urlProblem)] : []), ...(server.url ?? [])]}
        />
        <TextField label={t("pull.app")} value={app} onChange={setApp} errors={[...(touched && appProblem ? [appProblem] : []), ...(server.app ?? [])]} />
        <TextField label={t("pull.stream")} value={stream} onChange={setStream} errors={[...(touched && streamProblem ? [streamProblem] : []), ...(server.stream ?? [])]} />
        <button type="submit" className="primary" disabled={saving}>
          {t("pull.add")}
        </button>
      </form>
      {error && !error.problems?.length ? <ErrorNotice error={error} /> : null}
      <ErrorNotice error={list.error} onRetry={list.reload} />
      {list.data && list.data.length ? (
        <ul className="plain-list">
          {list.data.map((p) => (
            <li key={`${p.app}/${p.stream}`}>
              <span className="mono">
                {p.app}/{p.stream}
              </span>
              <button type="button" onClick={() => remove(p.app, p.stream)} aria-label={t("pull.removeFor", { name: `${p.app}/${p.stream}` })}>
                {t("common.remove")}
              </button>
            </li>
          ))}
        </ul>
      ) : list.data ? (
        <p className="muted">{t("pull.none")}</p>
      ) : null}
    </section>
  );
}
