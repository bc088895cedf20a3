// Labelled form controls. Each shows its problems right under it, tied to the control
// with aria-describedby, so a screen reader reads the problem with the field.
import { useId, type ReactNode } from "react";

type Common = {
  label: ReactNode;
  hint?: ReactNode;
  errors?: string[];
  className?: string;
};

function Messages({ id, hint, errors }: { id: string; hint?: ReactNode; errors?: string[] }) {
  return (
    <>
      {hint ? (
        <div className="hint" id={`${id}-hint`}>
          {hint}
        </div>
      ) : null}
      {errors && errors.length > 0 ? (
        <ul className="field-errors" id={`${id}-err`}>
          {errors.map((e, i) => (
            <li key={i}>{e}</li>
          ))}
        </ul>
      ) : null}
    </>
  );
}

function describedBy(id: string, hint: unknown, errors?: string[]) {
  const ids = [hint ? `${id}-hint` : "", errors && errors.length ? `${id}-err` : ""].filter(Boolean);
  return ids.length ? ids.join(" ") : undefined;
}

export function TextField({
  label,
  hint,
  errors,
  className,
  value,
  onChange,
  type = "text",
  placeholder,
  autoComplete,
  readOnly,
  list,
  inputMode,
  spellCheck,
  name,
  addon,
}: Common & {
  value: string;
  onChange?: (v: string) => void;
  type?: "text" | "password" | "url" | "number";
  placeholder?: string;
  autoComplete?: string;
  readOnly?: boolean;
  list?: string;
  inputMode?: "numeric" | "text" | "url";
  spellCheck?: boolean;
  name?: string;
  /** A button beside the input (on its line, not beside the hint): "Choose…". */
  addon?: ReactNode;
}) {
  const id = useId();
  const input = (
      <input
        id={id}
        name={name}
        type={type}
        value={value}
        placeholder={placeholder}
        autoComplete={autoComplete ?? "off"}
        spellCheck={spellCheck ?? false}
        readOnly={readOnly}
        list={list}
        inputMode={inputMode}
        aria-invalid={errors && errors.length ? true : undefined}
        aria-describedby={describedBy(id, hint, errors)}
        onChange={(e) => onChange?.(e.target.value)}
      />
  );
  return (
    <div className={`field ${className ?? ""}`}>
      <label htmlFor={id}>{label}</label>
      {addon ? (
        <div className="with-addon">
          {input}
          {addon}
        </div>
      ) : (
        input
      )}
      <Messages id={id} hint={hint} errors={errors} />
    </div>
  );
}

export function NumberField({
  label,
  hint,
  errors,
  className,
  value,
  onChange,
  min,
  max,
  step,
  unit,
}: Common & {
  value: number | "";
  onChange: (v: number | "") => void;
  min?: number;
  max?: number;
  step?: number;
  unit?: string;
}) {
  const id = useId();
  return (
    <div className={`field ${className ?? ""}`}>
      <label htmlFor={id}>{label}</label>
      <div className="with-unit">
        <input
          id={id}
          type="number"
          value={value}
          min={min}
          max={max}
          step={step}
          aria-invalid={errors && errors.length ? true : undefined}
          aria-describedby={describedBy(id, hint, errors)}
          onChange={(e) => onChange(e.target.value === "" ? "" : Number(e.target.value))}
        />
        {unit ? <span aria-hidden="true">{unit}</span> : null}
      </div>
      <Messages id={id} hint={hint} errors={errors} />
    </div>
  );
}

export function TextArea({
  label,
  hint,
  errors,
  className,
  value,
  onChange,
  rows = 3,
}: Common & { value: string; onChange: (v: string) => void; rows?: number }) {
  const id = useId();
  return (
    <div className={`field ${className ?? ""}`}>
      <label htmlFor={id}>{label}</label>
      <textarea
        id={id}
        rows={rows}
        value={value}
        spellCheck={false}
        aria-invalid={errors && errors.length ? true : undefined}
        aria-describedby={describedBy(id, hint, errors)}
        onChange={(e) => onChange(e.target.value)}
      />
      <Messages id={id} hint={hint} errors={errors} />
    </div>
  );
}

export function SelectField<V extends string>({
  label,
  hint,
  errors,
  className,
  value,
  onChange,
  options,
}: Common & {
  value: V;
  onChange: (v: V) => void;
  options: { value: V; label: string }[];
}) {
  const id = useId();
  return (
    <div className={`field ${className ?? ""}`}>
      <label htmlFor={id}>{label}</label>
      <select
        id={id}
        value={value}
        aria-invalid={errors && errors.length ? true : undefined}
        aria-describedby={describedBy(id, hint, errors)}
        onChange={(e) => onChange(e.target.value as V)}
      >
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      <Messages id={id} hint={hint} errors={errors} />
    </div>
  );
}

export function Checkbox({
  label,
  hint,
  errors,
  className,
  checked,
  onChange,
}: Common & { checked: boolean; onChange: (v: boolean) => void }) {
  const id = useId();
  return (
    <div className={`field checkbox ${className ?? ""}`}>
      <input
        id={id}
        type="checkbox"
        checked={checked}
        aria-invalid={errors && errors.length ? true : undefined}
        aria-describedby={describedBy(id, hint, errors)}
        onChange={(e) => onChange(e.target.checked)}
      />
      <label htmlFor={id}>{label}</label>
      <Messages id={id} hint={hint} errors={errors} />
    </div>
  );
}

/** Problems that belong to no single field, or to a field no control shows. */
export function FormProblems({ title, problems }: { title: string; problems: string[] }) {
  if (!problems.length) return null;
  return (
    <div className="notice error" role="alert">
      <strong>{title}</strong>
      <ul>
        {problems.map((p, i) => (
          <li key={i}>{p}</li>
        ))}
      </ul>
    </div>
  );
}
