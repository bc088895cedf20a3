import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { useT } from "../i18n";

/**
 * Asks for one line of text (a chapter title). Modal: focus moves in, Escape cancels,
 * focus returns to what opened it.
 */
export function PromptDialog({
  title,
  label,
  initial,
  confirm,
  onSubmit,
  onCancel,
  error,
}: {
  title: string;
  label: string;
  initial: string;
  confirm: string;
  onSubmit: (value: string) => void;
  onCancel: () => void;
  error?: string | null;
}) {
  const t = useT();
  const [value, setValue] = useState(initial);
  const input = useRef<HTMLInputElement>(null);
  const id = useId();
  useEffect(() => {
    const opener = document.activeElement as HTMLElement | null;
    input.current?.focus();
    input.current?.select();
    return () => opener?.focus?.();
  }, []);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onSubmit(value.trim() || initial);
  };
  return (
    <div className="backdrop" onKeyDown={(e) => e.key === "Escape" && onCancel()}>
      <div className="dialog" role="dialog" aria-modal="true" aria-labelledby={`${id}-t`}>
        <form className="stack" onSubmit={submit}>
          <h2 id={`${id}-t`}>{title}</h2>
          <div className="field">
            <label htmlFor={`${id}-i`}>{label}</label>
            <input id={`${id}-i`} ref={input} value={value} onChange={(e) => setValue(e.target.value)} maxLength={200} />
          </div>
          {error ? (
            <p className="notice error" role="alert">
              {error}
            </p>
          ) : null}
          <div className="actions">
            <button type="button" onClick={onCancel}>
              {t("common.cancel")}
            </button>
            <button type="submit" className="primary">
              {confirm}
            </button>
          </div>
        </form>
      </div>
    </div>
  );
}
