import type { EngineError } from "../bindings/EngineError";
import type { ErrorKind } from "../bindings/ErrorKind";
import type { Problem } from "../bindings/Problem";

const KINDS: ReadonlySet<string> = new Set<ErrorKind>([
  "invalid",
  "not_found",
  "conflict",
  "io",
  "storage",
  "unavailable",
  "cancelled",
  "internal",
]);

function isProblem(p: unknown): p is Problem {
  return (
    typeof p === "object" &&
    p !== null &&
    typeof (p as Problem).field === "string" &&
    typeof (p as Problem).message === "string"
  );
}

/**
 * Whatever a command rejected with, as an `EngineError`. The shell rejects with one
 * already; anything else (a string from a plugin, an `Error` thrown by the bridge, a
 * command the shell does not have yet) becomes `internal` with its text.
 */
export function toEngineError(raw: unknown): EngineError {
  if (typeof raw === "object" && raw !== null && !(raw instanceof Error)) {
    const r = raw as Record<string, unknown>;
    if (typeof r.kind === "string" && typeof r.message === "string") {
      const kind = (KINDS.has(r.kind) ? r.kind : "internal") as ErrorKind;
      const err: EngineError = { kind, message: r.message };
      if (Array.isArray(r.problems)) err.problems = r.problems.filter(isProblem);
      return err;
    }
    if (typeof r.message === "string") return { kind: "internal", message: r.message };
  }
  if (raw instanceof Error) return { kind: "internal", message: raw.message };
  if (typeof raw === "string") {
    // Tauri's own rejections for a command the shell does not register.
    if (/command .* not found/i.test(raw)) return { kind: "not_found", message: raw };
    return { kind: "internal", message: raw };
  }
  return { kind: "internal", message: String(raw) };
}

export function isEngineError(e: unknown): e is EngineError {
  return (
    typeof e === "object" &&
    e !== null &&
    typeof (e as EngineError).kind === "string" &&
    typeof (e as EngineError).message === "string"
  );
}
