import { useEffect, useId, useState } from "react";
import { useT } from "../i18n";

/** Copies text to the clipboard (the webview's; a textarea fallback for old engines). */
export async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard?.writeText) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // fall through to the fallback
  }
  try {
    const ta = document.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.style.position = "fixed";
    ta.style.opacity = "0";
    document.body.appendChild(ta);
    ta.select();
    const ok = document.execCommand?.("copy") ?? false;
    ta.remove();
    return ok;
  } catch {
    return false;
  }
}

/** A value OBS needs (server URL, stream key) with a Copy button. */
export function CopyField({ label, value, secret = false }: { label: string; value: string; secret?: boolean }) {
  const t = useT();
  const id = useId();
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");
  const [shown, setShown] = useState(!secret);
  useEffect(() => {
    if (state === "idle") return;
    const h = window.setTimeout(() => setState("idle"), 2000);
    return () => window.clearTimeout(h);
  }, [state]);
  return (
    <div className="field copy-field">
      <label htmlFor={id}>{label}</label>
      <div className="row">
        <input id={id} readOnly value={shown ? value : "•".repeat(Math.min(value.length, 16))} className="mono" />
        {secret ? (
          <button type="button" onClick={() => setShown((s) => !s)} aria-pressed={shown}>
            {shown ? t("common.hide") : t("common.show")}
          </button>
        ) : null}
        <button
          type="button"
          aria-label={t("common.copyWhat", { what: label })}
          onClick={async () => setState((await copyText(value)) ? "copied" : "failed")}
        >
          {t("common.copy")}
        </button>
        <span role="status" className="copy-status">
          {state === "copied" ? t("common.copied") : state === "failed" ? t("common.copyFailed") : ""}
        </span>
      </div>
    </div>
  );
}
