import type { ErrorKind } from "../../bindings/ErrorKind";
import { useT } from "../../i18n";

/** What to do after a Recordings command failed, by kind of error. */
export function useRecErrorHints(): Partial<Record<ErrorKind, string>> {
  const t = useT();
  return {
    not_found: t("rec.err.not_found"),
    io: t("rec.err.io"),
    conflict: t("rec.err.conflict"),
    invalid: t("rec.err.invalid"),
    storage: t("error.storage.next"),
    unavailable: t("error.unavailable.next"),
    internal: t("rec.err.internal"),
  };
}
