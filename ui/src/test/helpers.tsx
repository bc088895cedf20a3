import { render, type RenderResult } from "@testing-library/react";
import { mockIPC } from "@tauri-apps/api/mocks";
import type { ReactElement } from "react";
import { I18nProvider } from "../i18n";
import type { Lang } from "../ipc/types";
import { mockHandler, mockState, type MockOptions, type MockState } from "../mock/backend";

export type Call = { cmd: string; args: Record<string, unknown> };

export type Backend = {
  state: MockState;
  calls: Call[];
  /** Calls of one command, in order. */
  of: (cmd: string) => Record<string, unknown>[];
  emit: (event: string, payload: unknown) => Promise<void>;
};

type Override = (args: Record<string, unknown>, state: MockState) => unknown;

/**
 * The mock backend of the browser build, behind `mockIPC`, recording every call;
 * `overrides` answer (or throw for) single commands.
 */
export function backend(opts: MockOptions = {}, overrides: Record<string, Override> = {}): Backend {
  const state = mockState(opts);
  const handler = mockHandler(state);
  const calls: Call[] = [];
  mockIPC(
    async (cmd, args) => {
      const a = (args ?? {}) as Record<string, unknown>;
      calls.push({ cmd, args: a });
      if (overrides[cmd]) return overrides[cmd](a, state);
      return handler(cmd, a);
    },
    { shouldMockEvents: true },
  );
  return {
    state,
    calls,
    of: (cmd) => calls.filter((c) => c.cmd === cmd).map((c) => c.args),
    emit: async (event, payload) => {
      const internals = (window as unknown as { __TAURI_INTERNALS__: { invoke: (c: string, a: unknown) => Promise<unknown> } }).__TAURI_INTERNALS__;
      await internals.invoke("plugin:event|emit", { event, payload });
    },
  };
}

export function renderIn(ui: ReactElement, lang: Lang = "en"): RenderResult {
  return render(<I18nProvider lang={lang}>{ui}</I18nProvider>);
}
