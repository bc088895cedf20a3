// "Export clip": where it goes (clip_path's suggestion, editable), close gaps or not,
// progress from the export's Channel, Cancel; then the finished clip.
import { useEffect, useId, useRef, useState } from "react";
import type { EngineError } from "../../bindings/EngineError";
import { Checkbox, TextField } from "../../components/fields";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useT } from "../../i18n";
import * as ipc from "../../ipc";
import type { Exported, ExportProgress } from "../../ipc/types";
import { ClipCard } from "./ClipCard";
import { useRecErrorHints } from "./hints";

type State =
  | { step: "closed" }
  | { step: "form" }
  | { step: "running"; progress: ExportProgress | null; cancelling: boolean }
  | { step: "done"; clip: Exported }
  | { step: "cancelled" };

export function ExportPanel({ app, stream, range }: { app: string; stream: string; range: [number, number] }) {
  const t = useT();
  const hints = useRecErrorHints();
  const id = useId();
  const [state, setState] = useState<State>({ step: "closed" });
  const [output, setOutput] = useState("");
  const [closeGaps, setCloseGaps] = useState(false);
  const [error, setError] = useState<EngineError | null>(null);
  const alive = useRef(true);
  useEffect(() => {
    alive.current = true;
    return () => {
      alive.current = false;
    };
  }, []);
  useEffect(() => {
    setState((s) => (s.step === "running" ? s : { step: "closed" }));
    setError(null);
  }, [range]);

  const open = async () => {
    setError(null);
    try {
      setOutput(await ipc.clipPath(app, stream, range[0], range[1]));
      setState({ step: "form" });
    } catch (e) {
      setError(ipc.toEngineError(e));
    }
  };
  const start = async () => {
    setError(null);
    setState({ step: "running", progress: null, cancelling: false });
    try {
      const clip = await ipc.exportClip(
        { app, stream, start: new Date(range[0]).toISOString(), end: new Date(range[1]).toISOString(), output, close_gaps: closeGaps },
        (progress) => alive.current && setState((s) => (s.step === "running" ? { ...s, progress } : s)),
      );
      if (alive.current) setState({ step: "done", clip });
    } catch (e) {
      const err = ipc.toEngineError(e);
      if (!alive.current) return;
      if (err.kind === "cancelled") setState({ step: "cancelled" });
      else {
        setError(err);
        setState({ step: "form" });
      }
    }
  };
  const cancel = async () => {
    setState((s) => (s.step === "running" ? { ...s, cancelling: true } : s));
    try {
      await ipc.exportCancel();
    } catch (e) {
      setError(ipc.toEngineError(e));
    }
  };

  return (
    <div className="stack">
      <h3>{t("rec.export.title")}</h3>
      <p className="hint">{t("rec.export.what")}</p>
      {state.step === "closed" || state.step === "cancelled" ? (
        <div className="actions">
          <button type="button" onClick={open}>
            {t("rec.export.open")}
          </button>
          {state.step === "cancelled" ? (
            <span role="status" className="muted">
              {t("rec.export.cancelled")}
            </span>
          ) : null}
        </div>
      ) : null}
      {state.step === "form" ? (
        <form
          className="stack"
          aria-label={t("rec.export.title")}
          onSubmit={(e) => {
            e.preventDefault();
            void start();
          }}
        >
          <TextField label={t("rec.export.output")} value={output} onChange={setOutput} hint={t("rec.export.outputHint")} />
          <Checkbox label={t("rec.export.closeGaps")} checked={closeGaps} onChange={setCloseGaps} hint={t("rec.export.closeGapsHint")} />
          <div className="actions">
            <button type="submit" className="primary" disabled={!output.trim()}>
              {t("rec.export.start")}
            </button>
            <button type="button" onClick={() => setState({ step: "closed" })}>
              {t("common.cancel")}
            </button>
          </div>
        </form>
      ) : null}
      {state.step === "running" ? (
        <div className="stack">
          <label htmlFor={`${id}-p`}>
            {state.progress
              ? t("rec.export.progress", { done: state.progress.segments_done, total: state.progress.segments_total })
              : t("rec.export.starting")}
          </label>
          <progress id={`${id}-p`} max={state.progress?.segments_total || 1} value={state.progress?.segments_done ?? 0} />
          <div className="actions">
            <button type="button" onClick={cancel} disabled={state.cancelling}>
              {state.cancelling ? t("rec.export.cancelling") : t("rec.export.cancel")}
            </button>
          </div>
        </div>
      ) : null}
      <ErrorNotice error={error} hints={hints} />
      {state.step === "done" ? <ClipCard clip={state.clip} onAnother={() => setState({ step: "closed" })} /> : null}
    </div>
  );
}
