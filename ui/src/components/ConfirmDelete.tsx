import { useState } from "react";
import { useT } from "../i18n";

/** "Delete", then the question with a red yes and a cancel: one click never deletes. */
export function ConfirmDelete({ question, yes, onDelete }: { question: string; yes: string; onDelete: () => void }) {
  const t = useT();
  const [asking, setAsking] = useState(false);
  if (!asking)
    return (
      <button type="button" onClick={() => setAsking(true)}>
        {t("common.delete")}
      </button>
    );
  return (
    <>
      <span>{question}</span>
      <button type="button" className="danger" onClick={onDelete}>
        {yes}
      </button>
      <button type="button" onClick={() => setAsking(false)}>
        {t("common.cancel")}
      </button>
    </>
  );
}
