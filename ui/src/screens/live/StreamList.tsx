import { useCallback, useEffect, useState } from "react";
import type { LiveStream } from "../../bindings/LiveStream";
import { ErrorNotice } from "../../components/ErrorNotice";
import { PromptDialog } from "../../components/Dialog";
import { useI18n } from "../../i18n";
import * as ipc from "../../ipc";
import type { EngineError } from "../../bindings/EngineError";
import { localTime } from "../../lib/format";
import { StreamRow } from "./StreamRow";

const keyOf = (s: { app: string; stream: string }) => `${s.app}/${s.stream}`;

/** The live streams: asked once, then kept current by the `live` event (every second). */
export function StreamList() {
  const { t, lang } = useI18n();
  const [streams, setStreams] = useState<LiveStream[] | null>(null);
  const [loadError, setLoadError] = useState<EngineError | null>(null);
  const [busy, setBusy] = useState<Record<string, boolean>>({});
  const [errors, setErrors] = useState<Record<string, string | null>>({});
  const [chapters, setChapters] = useState<Record<string, number>>({});
  const [asking, setAsking] = useState<LiveStream | null>(null);
  const [chapterError, setChapterError] = useState<string | null>(null);
  const [lastChapter, setLastChapter] = useState<string | null>(null);

  useEffect(() => {
    let alive = true;
    ipc
      .liveStreams()
      .then((l) => alive && setStreams(l))
      .catch((e) => alive && setLoadError(ipc.toEngineError(e)));
    const stop = ipc.subscribe("live", (l) => {
      setStreams(l);
      setLoadError(null);
    });
    return () => {
      alive = false;
      stop();
    };
  }, []);

  const onToggle = useCallback(async (s: LiveStream) => {
    const k = keyOf(s);
    setBusy((b) => ({ ...b, [k]: true }));
    setErrors((e) => ({ ...e, [k]: null }));
    try {
      await ipc.setRecording(s.app, s.stream, !s.recording);
      setStreams((list) => list && list.map((x) => (keyOf(x) === k ? { ...x, recording: !s.recording } : x)));
    } catch (e) {
      setErrors((m) => ({ ...m, [k]: ipc.toEngineError(e).message }));
    } finally {
      setBusy((b) => ({ ...b, [k]: false }));
    }
  }, []);

  const onChapter = useCallback((s: LiveStream) => {
    setChapterError(null);
    setAsking(s);
  }, []);

  const submitChapter = async (title: string) => {
    if (!asking) return;
    const k = keyOf(asking);
    try {
      const mark = await ipc.addChapter(asking.app, asking.stream, title);
      setChapters((c) => ({ ...c, [k]: (c[k] ?? 0) + 1 }));
      setLastChapter(t("live.chapterAdded", { title: mark.title, name: k, at: localTime(mark.at, lang, false) }));
      setAsking(null);
    } catch (e) {
      setChapterError(ipc.toEngineError(e).message);
    }
  };

  if (streams === null && loadError)
    return (
      <section aria-labelledby="live-streams-h" className="card">
        <h2 id="live-streams-h">{t("live.streams")}</h2>
        <ErrorNotice error={loadError} />
      </section>
    );
  if (streams === null) return <p className="muted">{t("common.loading")}</p>;

  const recording = streams.filter((s) => s.recording).length;
  return (
    <section aria-labelledby="live-streams-h" className="card">
      <div className="card-head">
        <h2 id="live-streams-h">{t("live.streams")}</h2>
        <span className="muted" role="status">
          {streams.length ? t("live.summary", { live: streams.length, recording }) : ""}
        </span>
      </div>
      <p className="sr-only" role="status" aria-live="polite">
        {lastChapter ?? ""}
      </p>
      {lastChapter ? <p className="notice ok">{lastChapter}</p> : null}
      {streams.length === 0 ? (
        <div className="empty">
          <p>
            <strong>{t("live.empty.title")}</strong>
          </p>
          <p>{t("live.empty.body")}</p>
        </div>
      ) : (
        <ul className="streams" aria-labelledby="live-streams-h">
          {streams.map((s) => {
            const k = keyOf(s);
            return <StreamRow key={k} s={s} busy={!!busy[k]} error={errors[k] ?? null} onToggle={onToggle} onChapter={onChapter} />;
          })}
        </ul>
      )}
      {asking ? (
        <PromptDialog
          title={t("live.chapterDialog.title", { name: keyOf(asking) })}
          label={t("live.chapterDialog.label")}
          initial={t("live.chapterDialog.default", { n: (chapters[keyOf(asking)] ?? 0) + 1 })}
          confirm={t("live.addChapter")}
          error={chapterError}
          onSubmit={submitChapter}
          onCancel={() => setAsking(null)}
        />
      ) : null}
    </section>
  );
}
