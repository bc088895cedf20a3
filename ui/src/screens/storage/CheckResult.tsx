import type { StorageCheck } from "../../bindings/StorageCheck";
import { useT } from "../../i18n";

type Step = { ok: boolean | null; text: string };

/** Each step of a bucket check as a sentence, marked passed, failed or only informative. */
export function checkSteps(c: StorageCheck, t: ReturnType<typeof useT>): Step[] {
  const steps: Step[] = [];
  steps.push(
    c.buckets
      ? { ok: true, text: t("check.list.ok", { n: c.buckets.length, endpoint: c.endpoint }) }
      : { ok: null, text: c.buckets_error ?? t("check.list.skipped") },
  );
  steps.push(c.bucket_error ? { ok: false, text: c.bucket_error } : { ok: true, text: t("check.bucket.ok", { bucket: c.bucket }) });
  if (c.bucket_error && !c.write_read_error) steps.push({ ok: null, text: t("check.write.notTried") });
  else steps.push(c.write_read_error ? { ok: false, text: c.write_read_error } : { ok: true, text: t("check.write.ok") });
  return steps;
}

export function CheckResult({ check }: { check: StorageCheck }) {
  const t = useT();
  const steps = checkSteps(check, t);
  return (
    <div role="status" className="check">
      <ul className="steps">
        {steps.map((s, i) => (
          <li key={i}>
            <span className={s.ok === true ? "mark-ok" : s.ok === false ? "mark-bad" : "muted"} aria-hidden="true">
              {s.ok === true ? "✓" : s.ok === false ? "✗" : "–"}
            </span>
            <span>
              <span className="sr-only">{s.ok === true ? t("check.passed") : s.ok === false ? t("check.failed") : t("check.info")}: </span>
              {s.text}
            </span>
          </li>
        ))}
      </ul>
      <p className={`notice ${check.ok ? "ok" : "error"}`}>{check.ok ? t("check.ok") : t("check.notOk")}</p>
    </div>
  );
}
