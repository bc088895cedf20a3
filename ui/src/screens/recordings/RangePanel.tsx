// The selected range: typed to the second (local time) or dragged on the timeline,
// checked as you apply it, and what can be made of it: an index, a clip.
import { useEffect, useId, useState, type FormEvent } from "react";
import { TextField } from "../../components/fields";
import { useI18n } from "../../i18n";
import { localTime } from "../../lib/format";
import { duration } from "./duration";
import { ExportPanel } from "./ExportPanel";
import { IndexPanel } from "./IndexPanel";
import { checkRange, formatLocal, rangeFacts } from "./range";
import type { SpanModel } from "./timeline/model";
import { zoneName } from "./timeline/scale";

type Props = {
  app: string;
  stream: string;
  model: SpanModel;
  first_ms: number;
  last_ms: number;
  selection: [number, number] | null;
  onSelection: (r: [number, number] | null) => void;
};

export function RangePanel({ app, stream, model, first_ms, last_ms, selection, onSelection }: Props) {
  const { t, lang } = useI18n();
  const id = useId();
  const [start, setStart] = useState("");
  const [end, setEnd] = useState("");
  const [checked, setChecked] = useState<ReturnType<typeof checkRange> | null>(null);
  // A range dragged on the timeline fills the fields.
  useEffect(() => {
    if (!selection) return;
    setStart(formatLocal(selection[0], lang));
    setEnd(formatLocal(selection[1], lang));
    setChecked(null);
  }, [selection, lang]);

  const apply = (e: FormEvent) => {
    e.preventDefault();
    const c = checkRange(start, end, model, first_ms, last_ms, lang);
    setChecked(c);
    if (c.range) onSelection(c.range);
  };
  const startErrors = checked?.startError ? [t("rec.range.unreadable", { example: formatLocal(first_ms, lang) })] : [];
  const endErrors = checked?.endError === "unreadable" ? [t("rec.range.unreadable", { example: formatLocal(last_ms, lang) })] : checked?.endError === "notAfter" ? [t("rec.range.notAfter")] : [];
  const facts = selection ? rangeFacts(model, selection[0], selection[1], first_ms, last_ms) : null;
  const zone = zoneName(selection?.[0] ?? first_ms, lang);

  return (
    <section className="card stack" aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`}>{t("rec.range.title")}</h2>
      <p className="hint">{t("rec.range.how")}</p>
      <form className="row rec-range-form" onSubmit={apply} aria-label={t("rec.range.title")}>
        <TextField label={t("rec.range.start")} value={start} onChange={setStart} placeholder={formatLocal(first_ms, lang)} errors={startErrors} hint={zone ? t("rec.range.zone", { zone }) : undefined} className="grow" />
        <TextField label={t("rec.range.end")} value={end} onChange={setEnd} placeholder={formatLocal(last_ms, lang)} errors={endErrors} className="grow" />
        <button type="submit">{t("rec.range.apply")}</button>
        {selection ? (
          <button type="button" onClick={() => onSelection(null)}>
            {t("rec.range.clear")}
          </button>
        ) : null}
      </form>
      {selection && facts ? (
        <>
          <p data-testid="range-facts">
            {t("rec.range.facts", { from: localTime(selection[0], lang), to: localTime(selection[1], lang), length: duration(selection[1] - selection[0], t), recorded: duration(facts.recordedMs, t) })}
          </p>
          {facts.warning ? <p className={`notice ${facts.warning === "nothing" ? "error" : "warn"}`}>{t(`rec.range.warn.${facts.warning}`)}</p> : null}
          {facts.warning !== "nothing" ? (
            <div className="grid2">
              <IndexPanel app={app} stream={stream} range={selection} />
              <ExportPanel app={app} stream={stream} range={selection} />
            </div>
          ) : null}
        </>
      ) : (
        <p className="muted">{t("rec.range.none")}</p>
      )}
    </section>
  );
}
