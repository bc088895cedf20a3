import { useMemo, useState, type FormEvent } from "react";
import type { EngineError } from "../../bindings/EngineError";
import type { Format } from "../../bindings/Format";
import type { Problem } from "../../bindings/Problem";
import type { Template } from "../../bindings/Template";
import { ErrorNotice } from "../../components/ErrorNotice";
import { Checkbox, FormProblems, NumberField, SelectField, TextField } from "../../components/fields";
import { useT, type T } from "../../i18n";
import * as ipc from "../../ipc";
import type { NamePreview } from "../../ipc/types";
import { formatSecs, parseSecs } from "../../lib/format";
import { problemsByField, unplaced } from "../../lib/problems";
import { useDebounced } from "../../lib/useLoad";
import { NameKeys } from "./NamePreviewBox";
import { RunEditor } from "./RunEditor";
import { ConfirmDelete } from "../../components/ConfirmDelete";

const FORMATS: Format[] = ["m3u8", "mp4", "flv"];
const ZONES = ["UTC", "Asia/Shanghai", "Asia/Tokyo", "Europe/Berlin", "Europe/London", "America/New_York", "America/Los_Angeles"];

/** What the engine is sent: empty argument lines dropped. */
export function cleanTemplate(t: Template): Template {
  return { ...t, run: t.run.map((r) => ({ ...r, command: r.command.map((a) => a.trim()).filter((a) => a !== "") })) };
}

/** The ranges this form offers (the cloud feature's), checked before the engine is asked. */
export function clientProblems(d: Template, t: T): Problem[] {
  const out: Problem[] = [];
  const minutes = (field: string, v: string) => {
    const s = parseSecs(v);
    if (s !== null && (s < 15 * 60 || s > 360 * 60)) out.push({ field, message: t("tpl.cycle.range") });
  };
  if (d.formats.includes("m3u8")) {
    const sl = parseSecs(d.m3u8.slice_duration);
    if (sl !== null && (sl < 5 || sl > 30)) out.push({ field: "m3u8.slice_duration", message: t("tpl.slice.range") });
    minutes("m3u8.cycle", d.m3u8.cycle);
  }
  if (d.formats.includes("mp4")) minutes("mp4.cycle", d.mp4.cycle);
  if (d.formats.includes("flv")) minutes("flv.cycle", d.flv.cycle);
  return out;
}

const SHOWN = [
  "app",
  "stream",
  "formats",
  "interruption_window",
  "timezone",
  "storage",
  "keep_local",
  "keep_local_max",
  ...FORMATS.flatMap((f) => [`${f}.object`, `${f}.cycle`]),
  "m3u8.slice_object",
  "m3u8.slice_duration",
  "m3u8.daily_object",
];

function secsOr(v: string, div: number): number | "" {
  const s = parseSecs(v);
  return s === null ? "" : Math.round((s / div) * 100) / 100;
}

export function TemplateForm({
  initial,
  index,
  builtIn = false,
  storages,
  onSaved,
  onDeleted,
  onCancel,
}: {
  initial: Template;
  index: number | null;
  /** The engine's built-in template (the file has none): saving writes it out. */
  builtIn?: boolean;
  storages: string[];
  onSaved: () => void;
  onDeleted: () => void;
  onCancel: () => void;
}) {
  const t = useT();
  const [d, setD] = useState<Template>(initial);
  const [problems, setProblems] = useState<Problem[]>([]);
  const [saveError, setSaveError] = useState<EngineError | null>(null);
  const [saved, setSaved] = useState(false);
  const [sampleApp, setSampleApp] = useState(initial.app === "*" ? "live" : initial.app);
  const [sampleStream, setSampleStream] = useState(initial.stream === "*" ? "cam1" : initial.stream);
  const [preview, setPreview] = useState<NamePreview | null>(null);
  const [previewError, setPreviewError] = useState<EngineError | null>(null);

  const patch = (p: Partial<Template>) => {
    setSaved(false);
    setD((x) => ({ ...x, ...p }));
  };

  // Validation as you type: the engine's rules, asked 300 ms after the last keystroke.
  useDebounced(
    async () => {
      try {
        setProblems(await ipc.templateValidate(cleanTemplate(d), index));
      } catch {
        // The engine is down: the banner says so; saving will say it again.
      }
    },
    [d, index],
  );
  useDebounced(
    async () => {
      try {
        setPreview(await ipc.namePreview(sampleApp.trim() || "live", sampleStream.trim() || "cam1", cleanTemplate(d)));
        setPreviewError(null);
      } catch (e) {
        setPreviewError(ipc.toEngineError(e));
      }
    },
    [d, sampleApp, sampleStream],
  );

  const client = useMemo(() => clientProblems(d, t), [d, t]);
  const errs = useMemo(() => {
    const byField = problemsByField([...problems, ...(saveError?.problems ?? [])], "template");
    // One message per field: the engine's wins for a field it names (its range is the
    // rule); the form's own range check speaks only where the engine says nothing.
    const own: Record<string, string[]> = {};
    for (const p of client) if (!byField[p.field]?.length) (own[p.field] ??= []).push(p.message);
    return { ...byField, ...own };
  }, [problems, saveError, client]);
  const rest = unplaced(
    errs,
    SHOWN.concat(Object.keys(errs).filter((f) => f.startsWith("run["))),
  );

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setSaveError(null);
    if (client.length) return;
    try {
      await ipc.templateSave(cleanTemplate(d), index);
      setSaved(true);
      onSaved();
    } catch (err) {
      setSaveError(ipc.toEngineError(err));
    }
  };

  const del = async () => {
    if (index === null) return;
    try {
      await ipc.templateDelete(index);
      onDeleted();
    } catch (err) {
      setSaveError(ipc.toEngineError(err));
    }
  };

  const toggleFormat = (f: Format, on: boolean) =>
    patch({ formats: on ? FORMATS.filter((x) => x === f || d.formats.includes(x)) : d.formats.filter((x) => x !== f) });

  const keepKind = d.keep_local === "forever" || d.keep_local === "until_uploaded" ? d.keep_local : "age";
  const title = index === null ? t("tpl.new") : t("tpl.editing", { name: `${initial.app}/${initial.stream}` });

  return (
    <form className="card stack" onSubmit={save} noValidate aria-labelledby="tpl-form-h">
      <h2 id="tpl-form-h">{title}</h2>
      <p className="hint">{t("tpl.readAtStart")}</p>
      {builtIn ? <p className="notice info">{t("tpl.builtInEdit")}</p> : null}
      <div className="grid2">
        <TextField label={t("tpl.app")} hint={t("tpl.appHint")} value={d.app} onChange={(v) => patch({ app: v })} errors={errs.app} />
        <TextField label={t("tpl.stream")} hint={t("tpl.streamHint")} value={d.stream} onChange={(v) => patch({ stream: v })} errors={errs.stream} />
      </div>

      <fieldset>
        <legend>{t("tpl.formats")}</legend>
        <div className="checks">
          {FORMATS.map((f) => (
            <Checkbox key={f} label={t(`tpl.format.${f}`)} checked={d.formats.includes(f)} onChange={(on) => toggleFormat(f, on)} />
          ))}
        </div>
        {errs.formats ? (
          <ul className="field-errors">
            {errs.formats.map((m, i) => (
              <li key={i}>{m}</li>
            ))}
          </ul>
        ) : null}
      </fieldset>

      {d.formats.includes("m3u8") ? (
        <fieldset>
          <legend>{t("tpl.format.m3u8")}</legend>
          <TextField label={t("tpl.playlistName")} value={d.m3u8.object} onChange={(v) => patch({ m3u8: { ...d.m3u8, object: v } })} errors={errs["m3u8.object"]} hint={t("tpl.fileNameHint")} />
          <TextField label={t("tpl.segmentName")} value={d.m3u8.slice_object} onChange={(v) => patch({ m3u8: { ...d.m3u8, slice_object: v } })} errors={errs["m3u8.slice_object"]} hint={t("tpl.segmentNameHint")} />
          <div className="grid3">
            <NumberField
              label={t("tpl.slice")}
              unit={t("unit.seconds")}
              min={5}
              max={30}
              value={secsOr(d.m3u8.slice_duration, 1)}
              onChange={(v) => patch({ m3u8: { ...d.m3u8, slice_duration: v === "" ? "" : formatSecs(Math.round(v)) } })}
              errors={errs["m3u8.slice_duration"]}
              hint={t("tpl.sliceHint")}
            />
            <NumberField
              label={t("tpl.cycle")}
              unit={t("unit.minutes")}
              min={15}
              max={360}
              value={secsOr(d.m3u8.cycle, 60)}
              onChange={(v) => patch({ m3u8: { ...d.m3u8, cycle: v === "" ? "" : formatSecs(Math.round(v * 60)) } })}
              errors={errs["m3u8.cycle"]}
              hint={t("tpl.cycleHint")}
            />
          </div>
          <TextField label={t("tpl.dailyName")} value={d.m3u8.daily_object} onChange={(v) => patch({ m3u8: { ...d.m3u8, daily_object: v } })} errors={errs["m3u8.daily_object"]} hint={t("tpl.dailyHint")} />
        </fieldset>
      ) : null}

      {(["mp4", "flv"] as const).map((f) =>
        d.formats.includes(f) ? (
          <fieldset key={f}>
            <legend>{t(`tpl.format.${f}`)}</legend>
            <TextField label={t("tpl.fileName")} value={d[f].object} onChange={(v) => patch({ [f]: { ...d[f], object: v } })} errors={errs[`${f}.object`]} hint={t("tpl.fileNameHint")} />
            <NumberField
              label={t("tpl.cycle")}
              unit={t("unit.minutes")}
              min={15}
              max={360}
              value={secsOr(d[f].cycle, 60)}
              onChange={(v) => patch({ [f]: { ...d[f], cycle: v === "" ? "" : formatSecs(Math.round(v * 60)) } })}
              errors={errs[`${f}.cycle`]}
              hint={t("tpl.cycleHint")}
            />
          </fieldset>
        ) : null,
      )}

      <fieldset>
        <legend>{t("tpl.behaviour")}</legend>
        <div className="grid3">
          <NumberField
            label={t("tpl.window")}
            unit={t("unit.seconds")}
            min={0}
            max={21600}
            value={secsOr(d.interruption_window, 1)}
            onChange={(v) => patch({ interruption_window: v === "" ? "" : formatSecs(Math.round(v)) })}
            errors={errs.interruption_window}
            hint={t("tpl.windowHint")}
          />
          <TextField label={t("tpl.timezone")} value={d.timezone} list="tpl-zones" onChange={(v) => patch({ timezone: v })} errors={errs.timezone} hint={t("tpl.timezoneHint")} />
          <datalist id="tpl-zones">
            {ZONES.map((z) => (
              <option key={z} value={z} />
            ))}
          </datalist>
        </div>
      </fieldset>

      <fieldset>
        <legend>{t("tpl.upload")}</legend>
        <div className="grid3">
          <SelectField
            label={t("tpl.storage")}
            value={d.storage}
            onChange={(v) => patch({ storage: v })}
            options={[{ value: "", label: t("tpl.localOnly") }, ...storages.map((s) => ({ value: s, label: s }))]}
            errors={errs.storage}
          />
          <SelectField
            label={t("tpl.keepLocal")}
            value={keepKind}
            onChange={(v) => patch({ keep_local: v === "age" ? "7d" : v })}
            options={[
              { value: "forever", label: t("tpl.keep.forever") },
              { value: "until_uploaded", label: t("tpl.keep.until_uploaded") },
              { value: "age", label: t("tpl.keep.age") },
            ]}
            errors={keepKind === "age" ? undefined : errs.keep_local}
          />
          {keepKind === "age" ? (
            <TextField label={t("tpl.keepAge")} hint={t("tpl.keepAgeHint")} value={d.keep_local} onChange={(v) => patch({ keep_local: v })} errors={errs.keep_local} />
          ) : null}
          <TextField
            label={t("tpl.keepMax")}
            hint={t("tpl.keepMaxHint")}
            value={d.keep_local_max ?? ""}
            placeholder="200GB"
            onChange={(v) => patch({ keep_local_max: v.trim() ? v : null })}
            errors={errs.keep_local_max}
          />
        </div>
      </fieldset>

      <RunEditor runs={d.run} onChange={(run) => patch({ run })} errors={errs} />

      <section className="preview" aria-labelledby="tpl-preview-h">
        <h3 id="tpl-preview-h">{t("preview.title")}</h3>
        <div className="grid2">
          <TextField label={t("preview.sampleApp")} value={sampleApp} onChange={setSampleApp} />
          <TextField label={t("preview.sampleStream")} value={sampleStream} onChange={setSampleStream} />
        </div>
        <ErrorNotice error={previewError} />
        <div role="status" aria-live="polite" className="preview-keys">
          {preview ? <NameKeys keys={preview.keys} /> : null}
        </div>
      </section>

      <FormProblems title={t("common.problems")} problems={rest} />
      {saveError && !saveError.problems?.length ? <ErrorNotice error={saveError} /> : null}
      {saveError?.problems?.length ? <p className="notice error" role="alert">{saveError.message}</p> : null}
      {saved ? (
        <p className="notice ok" role="status">
          {t("tpl.saved")}
        </p>
      ) : null}
      <div className="actions">
        <button type="submit" className="primary">
          {t("common.save")}
        </button>
        <button type="button" onClick={onCancel}>
          {t("common.cancel")}
        </button>
        {index !== null ? (
          <ConfirmDelete question={t("tpl.deleteConfirm")} yes={t("tpl.deleteYes")} onDelete={del} />
        ) : null}
      </div>
    </form>
  );
}
