import type { RunConfig } from "../../bindings/RunConfig";
import { Checkbox, TextArea, TextField } from "../../components/fields";
import { useT } from "../../i18n";
import { newRun } from "../../lib/defaults";

const ON = ["m3u8", "mp4", "flv", "segment"] as const;

/**
 * Post-recording commands. The command is a program and its arguments, one per line:
 * no shell quoting to get wrong (the engine runs it without a shell).
 */
export function RunEditor({
  runs,
  onChange,
  errors,
}: {
  runs: RunConfig[];
  onChange: (r: RunConfig[]) => void;
  errors: Record<string, string[]>;
}) {
  const t = useT();
  const set = (i: number, patch: Partial<RunConfig>) => onChange(runs.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  const onErrors = (i: number) =>
    Object.entries(errors)
      .filter(([f]) => f === `run[${i}].on` || f.startsWith(`run[${i}].on[`))
      .flatMap(([, m]) => m);
  return (
    <fieldset>
      <legend>{t("run.title")}</legend>
      <p className="hint">{t("run.how")}</p>
      {runs.map((r, i) => {
        const on = r.on ?? ["m3u8", "mp4", "flv"];
        const oe = onErrors(i);
        return (
          <fieldset key={i}>
            <legend>{t("run.item", { n: i + 1 })}</legend>
            <div role="group" aria-label={t("run.on")}>
              <div className="field-label">{t("run.on")}</div>
              <div className="checks">
                {ON.map((k) => (
                  <Checkbox
                    key={k}
                    label={t(`run.on.${k}`)}
                    checked={on.includes(k)}
                    onChange={(c) => set(i, { on: c ? [...on, k] : on.filter((x) => x !== k) })}
                  />
                ))}
              </div>
              {oe.length ? (
                <ul className="field-errors">
                  {oe.map((m, j) => (
                    <li key={j}>{m}</li>
                  ))}
                </ul>
              ) : null}
            </div>
            <TextArea
              label={t("run.command")}
              hint={t("run.commandHint")}
              value={r.command.join("\n")}
              rows={Math.max(3, r.command.length + 1)}
              onChange={(v) => set(i, { command: v.split("\n") })}
              errors={errors[`run[${i}].command`]}
            />
            <TextField label={t("run.timeout")} hint={t("run.timeoutHint")} value={r.timeout} onChange={(v) => set(i, { timeout: v })} errors={errors[`run[${i}].timeout`]} />
            <div className="actions">
              <button type="button" onClick={() => onChange(runs.filter((_, j) => j !== i))}>
                {t("run.remove", { n: i + 1 })}
              </button>
            </div>
          </fieldset>
        );
      })}
      <div className="actions">
        <button type="button" onClick={() => onChange([...runs, newRun()])}>
          {t("run.add")}
        </button>
      </div>
    </fieldset>
  );
}
