// Installs the mock backend in a plain browser (no Tauri) or with ?mock=1, and plays
// the shell's part: a `live` event every second, upload progress as `engine-event`s.
import { mockIPC } from "@tauri-apps/api/mocks";
import type { EngineEvent } from "../bindings/EngineEvent";
import { mockHandler, mockState, type MockOptions, type MockState } from "./backend";
import { advance, rng } from "./streams";

export function mockOptionsFrom(search: string): MockOptions & { mock: boolean } {
  const q = new URLSearchParams(search);
  const n = q.get("streams");
  return {
    mock: q.get("mock") === "1",
    streams: n === null ? undefined : Math.max(0, Math.min(256, Number(n) || 0)),
    empty: q.get("empty") === "1",
    error: q.get("error") === "1",
    recordings: ((r) => (r === "month" || r === "none" ? r : undefined))(q.get("recordings")),
  };
}

/** Whether the page should run on the mock backend. */
export function wantsMock(search: string): boolean {
  return mockOptionsFrom(search).mock || !("__TAURI_INTERNALS__" in window);
}

/** Emits an event to the page's listeners the way the shell would. */
function emit(event: string, payload: unknown) {
  const internals = (window as unknown as { __TAURI_INTERNALS__: { invoke: (c: string, a: unknown) => Promise<unknown> } }).__TAURI_INTERNALS__;
  void internals.invoke("plugin:event|emit", { event, payload });
}

export function installMock(opts: MockOptions, tick = true): MockState {
  const state = mockState(opts);
  mockIPC(mockHandler(state), { shouldMockEvents: true });
  if (tick) {
    const r = rng(42);
    window.setInterval(() => {
      if (state.engine.state !== "running") return;
      state.live = advance(state.live, r);
      emit("live", state.live);
      for (const u of state.uploads) {
        if (u.state !== "queued" || u.rate_bps === 0) continue;
        u.sent_bytes = Math.min(u.bytes, u.sent_bytes + u.rate_bps);
        const ev: EngineEvent =
          u.sent_bytes >= u.bytes
            ? { source: "upload", event: { event: "done", profile: u.profile, key: u.key, bytes: u.bytes, resumed_parts: 0, parts: Math.ceil(u.bytes / 8388608), queued_ms: u.queued_ms, done_ms: Date.now() } }
            : { source: "upload", event: { event: "progress", profile: u.profile, key: u.key, sent: u.sent_bytes, bytes: u.bytes, rate_bps: u.rate_bps } };
        if (u.sent_bytes >= u.bytes) {
          u.state = "done";
          u.done_ms = Date.now();
        }
        emit("engine-event", ev);
      }
    }, 1000);
  }
  return state;
}
