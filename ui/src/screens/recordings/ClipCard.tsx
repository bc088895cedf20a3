// A finished clip: drag it into another app (the native drag of tauri-plugin-drag,
// started from a mousedown), save a copy elsewhere, or show it in the file manager.
import { useState, type MouseEvent } from "react";
import type { EngineError } from "../../bindings/EngineError";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useT } from "../../i18n";
import * as ipc from "../../ipc";
import type { Exported } from "../../ipc/types";
import { bytes, hms } from "../../lib/format";

export function fileName(path: string): string {
  return path.slice(Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\")) + 1);
}

export function ClipCard({ clip, onAnother }: { clip: Exported; onAnother: () => void }) {
  const t = useT();
  const [error, setError] = useState<EngineError | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const run = async (f: () => Promise<void>) => {
    setError(null);
    try {
      await f();
    } catch (e) {
      setError(ipc.toEngineError(e));
    }
  };
  const drag = (e: MouseEvent) => {
    if (e.button !== 0) return;
    e.preventDefault();
    void run(() => ipc.dragOut(clip.path));
  };
  return (
    <div className="clip-card" role="group" aria-label={t("rec.clip.title")}>
      <div
        className="clip-handle"
        draggable
        onMouseDown={drag}
        onDragStart={(e) => e.preventDefault()}
        title={t("rec.clip.dragHint")}
        data-testid="clip-handle"
      >
        <span className="clip-icon" aria-hidden="true">
          ▶
        </span>
        <span className="clip-name">{fileName(clip.path)}</span>
        <span className="sub">{t("rec.clip.dragHint")}</span>
      </div>
      <p className="notice ok" role="status">
        {t("rec.clip.done", { length: hms(clip.duration), size: bytes(clip.bytes), frames: clip.video_frames })}
      </p>
      <p className="mono sub clip-path">{clip.path}</p>
      <div className="actions">
        <button type="button" onClick={() => run(async () => setSaved(await ipc.saveClipAs(clip.path)))}>
          {t("rec.clip.saveAs")}
        </button>
        <button type="button" onClick={() => run(async () => void (await ipc.reveal(clip.path)))}>
          {t("rec.clip.reveal")}
        </button>
        <button type="button" className="link" onClick={onAnother}>
          {t("rec.clip.another")}
        </button>
      </div>
      {saved ? <p role="status">{t("rec.clip.saved", { path: saved })}</p> : null}
      <ErrorNotice error={error} />
    </div>
  );
}
