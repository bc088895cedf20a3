// Whether the recorder runs, for every panel: while it is stopped (it failed to start),
// the banner at the top says why and what to do, once; a panel whose command failed for
// that reason only says it is not available.
import { createContext, useContext, type ReactNode } from "react";
import type { EngineError } from "../bindings/EngineError";
import type { EngineStatus } from "../ipc/types";

const EngineContext = createContext<EngineStatus | null>(null);

export function EngineProvider({ status, children }: { status: EngineStatus | null; children: ReactNode }) {
  return <EngineContext.Provider value={status}>{children}</EngineContext.Provider>;
}

/** True when `error` is the recorder being stopped (its start error, or `unavailable`). */
export function isEngineDown(status: EngineStatus | null, error: EngineError | null | undefined): boolean {
  if (!error || !status || status.state !== "failed") return false;
  return error.kind === "unavailable" || error.message === status.error.message;
}

/** `isEngineDown` against the window's engine status. */
export function useEngineDown(): (error: EngineError | null | undefined) => boolean {
  const status = useContext(EngineContext);
  return (error) => isEngineDown(status, error);
}
