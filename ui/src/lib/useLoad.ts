import { useCallback, useEffect, useRef, useState } from "react";
import type { EngineError } from "../bindings/EngineError";
import { toEngineError } from "../ipc";

export type Loaded<T> = {
  data: T | undefined;
  error: EngineError | null;
  loading: boolean;
  reload: () => Promise<void>;
  set: (data: T) => void;
};

/** Asks the engine once (and on `reload`); keeps the last answer while reloading. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[] = []): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<EngineError | null>(null);
  const [loading, setLoading] = useState(true);
  const alive = useRef(true);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const run = useCallback(load, deps);
  const reload = useCallback(async () => {
    setLoading(true);
    try {
      const d = await run();
      if (alive.current) {
        setData(d);
        setError(null);
      }
    } catch (e) {
      if (alive.current) setError(toEngineError(e));
    } finally {
      if (alive.current) setLoading(false);
    }
  }, [run]);
  useEffect(() => {
    alive.current = true;
    void reload();
    return () => {
      alive.current = false;
    };
  }, [reload]);
  return { data, error, loading, reload, set: setData };
}

/** Calls `fn` `delay` ms after the last change of `deps` (validation as you type). */
export function useDebounced(fn: () => void | Promise<void>, deps: unknown[], delay = 300) {
  const saved = useRef(fn);
  saved.current = fn;
  useEffect(() => {
    const id = window.setTimeout(() => void saved.current(), delay);
    return () => window.clearTimeout(id);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
}
