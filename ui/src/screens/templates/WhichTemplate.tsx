import { useState } from "react";
import type { EngineError } from "../../bindings/EngineError";
import { ErrorNotice } from "../../components/ErrorNotice";
import { TextField } from "../../components/fields";
import { useT } from "../../i18n";
import * as ipc from "../../ipc";
import type { NamePreview } from "../../ipc/types";
import { useDebounced } from "../../lib/useLoad";
import { NameKeys } from "./NamePreviewBox";

/** "Which template applies to app/stream X, and why": what the saved config does. */
export function WhichTemplate({ version }: { version: number }) {
  const t = useT();
  const [app, setApp] = useState("live");
  const [stream, setStream] = useState("cam1");
  const [answer, setAnswer] = useState<NamePreview | null>(null);
  const [error, setError] = useState<EngineError | null>(null);
  useDebounced(
    async () => {
      if (!app.trim() || !stream.trim()) return;
      try {
        setAnswer(await ipc.namePreview(app.trim(), stream.trim(), null));
        setError(null);
      } catch (e) {
        setError(ipc.toEngineError(e));
      }
    },
    [app, stream, version],
    250,
  );
  return (
    <section className="card preview" aria-labelledby="which-h">
      <h2 id="which-h">{t("which.title")}</h2>
      <p className="muted">{t("which.how")}</p>
      <div className="grid2">
        <TextField label={t("which.app")} value={app} onChange={setApp} />
        <TextField label={t("which.stream")} value={stream} onChange={setStream} />
      </div>
      <ErrorNotice error={error} />
      {answer ? (
        <div role="status">
          {answer.template ? (
            <p>
              {t("which.answer", {
                name: `${app}/${stream}`,
                template: `${answer.template.app}/${answer.template.stream}`,
                why: answer.why,
              })}
            </p>
          ) : (
            <p className="notice warn">{t("which.none", { name: `${app}/${stream}`, why: answer.why })}</p>
          )}
          <NameKeys keys={answer.keys} />
        </div>
      ) : null}
    </section>
  );
}
