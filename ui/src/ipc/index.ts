// The one module that talks to the shell (ui/IPC.md). Every screen goes through it, so
// tests mock one thing (`mockIPC`), and every rejection reaches the screens as an
// `EngineError` ({kind, message, problems?}).
import { Channel, invoke } from "@tauri-apps/api/core";
import { startDrag } from "@crabnebula/tauri-plugin-drag";
import { listen } from "@tauri-apps/api/event";
import type { CallbackConfig } from "../bindings/CallbackConfig";
import type { Chapter } from "../bindings/Chapter";
import type { ExportQuery } from "../bindings/ExportQuery";
import type { IndexQuery } from "../bindings/IndexQuery";
import type { Span } from "../bindings/Span";
import type { ChapterMark } from "../bindings/ChapterMark";
import type { Config } from "../bindings/Config";
import type { EngineEvent } from "../bindings/EngineEvent";
import type { IngestConfig } from "../bindings/IngestConfig";
import type { LiveStream } from "../bindings/LiveStream";
import type { Problem } from "../bindings/Problem";
import type { PullConfig } from "../bindings/PullConfig";
import type { StorageCheck } from "../bindings/StorageCheck";
import type { StorageProfile } from "../bindings/StorageProfile";
import type { StreamKey } from "../bindings/StreamKey";
import type { Template } from "../bindings/Template";
import type { Upload } from "../bindings/Upload";
import type { WatchConfig } from "../bindings/WatchConfig";
import { toEngineError } from "./errors";
import type {
  CallbackTest,
  CreatedIndex,
  DiskInfo,
  EngineStatus,
  Exported,
  ExportProgress,
  HotkeyStatus,
  ImportProgress,
  ImportSummary,
  IngestInfo,
  Lang,
  NamePreview,
  ObsStatus,
  RecordedStream,
  SettingsSaved,
} from "./types";

export * from "./types";
export { toEngineError, isEngineError } from "./errors";

/** Calls a command; rejects with an `EngineError`, whatever the shell rejected with. */
export async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (raw) {
    throw toEngineError(raw);
  }
}

// Live
export const ingestInfo = () => call<IngestInfo>("ingest_info");
export const liveStreams = () => call<LiveStream[]>("live_streams");
export const setRecording = (app: string, stream: string, on: boolean) =>
  call<null>("set_recording", { app, stream, on });
export const addChapter = (app: string, stream: string, title: string) =>
  call<ChapterMark>("add_chapter", { app, stream, title });
export const pulls = () => call<StreamKey[]>("pulls");
export const addPull = (pull: PullConfig) => call<null>("add_pull", { pull });
export const removePull = (app: string, stream: string) =>
  call<null>("remove_pull", { app, stream });
export const diskStatus = () => call<DiskInfo>("disk_status");
export const hotkeyStatus = () => call<HotkeyStatus>("hotkey_status");
export const engineStatus = () => call<EngineStatus>("engine_status");

// Templates
export const configGet = () => call<Config>("config_get");
export const templateValidate = (template: Template, index: number | null) =>
  call<Problem[]>("template_validate", { template, index });
export const templateSave = (template: Template, index: number | null) =>
  call<null>("template_save", { template, index });
export const templateDelete = (index: number) => call<null>("template_delete", { index });
export const namePreview = (app: string, stream: string, template: Template | null) =>
  call<NamePreview>("name_preview", { app, stream, template });

// Storage
export const storageSave = (profile: StorageProfile, index: number | null) =>
  call<SettingsSaved>("storage_save", { profile, index });
export const storageDelete = (name: string) => call<null>("storage_delete", { name });
export const storageSetKeys = (name: string, accessKeyId: string, secretAccessKey: string) =>
  // Tauri maps camelCase keys onto the Rust parameters access_key_id, secret_access_key.
  call<null>("storage_set_keys", { name, accessKeyId, secretAccessKey });
export const storageHasKeys = (name: string) => call<boolean>("storage_has_keys", { name });
export const storageTest = (name: string) => call<StorageCheck>("storage_test", { name });
export const storageBuckets = (name: string) => call<string[]>("storage_buckets", { name });
export const uploads = (withDone: boolean, limit: number) =>
  call<Upload[]>("uploads", { withDone, limit });

// Settings, first run, OBS
export const settingsSave = (
  ingest: IngestConfig,
  dataDir: string,
  callback: CallbackConfig,
  watch: WatchConfig[],
) => call<SettingsSaved>("settings_save", { ingest, dataDir, callback, watch });
export const pickFolder = (title: string) => call<string | null>("pick_folder", { title });
export const sendTestCallback = () => call<CallbackTest>("send_test_callback");
export const autostartGet = () => call<boolean>("autostart_get");
export const autostartSet = (enabled: boolean) => call<null>("autostart_set", { enabled });
export const firstRun = () => call<boolean>("first_run");
export const firstRunDone = () => call<null>("first_run_done");
export const languageGet = () => call<Lang | null>("language_get");
export const languageSet = (lang: Lang | null) => call<null>("language_set", { lang });
export const obsConnect = (address: string, password: string, remember: boolean) =>
  call<ObsStatus>("obs_connect", { address, password, remember });
export const obsStatus = () => call<ObsStatus>("obs_status");
export const obsSetupStream = () => call<ObsStatus>("obs_setup_stream");
export const obsStartStream = () => call<ObsStatus>("obs_start_stream");
export const obsStopStream = () => call<ObsStatus>("obs_stop_stream");

// Recordings (times are UTC milliseconds; IndexQuery/ExportQuery carry RFC 3339 strings)
export const recordedStreams = () => call<RecordedStream[]>("recorded_streams");
export const spans = (app: string, stream: string, startMs: number, endMs: number) =>
  call<Span[]>("spans", { app, stream, startMs, endMs });
export const chapters = (app: string, stream: string, startMs: number, endMs: number) =>
  call<Chapter[]>("chapters", { app, stream, startMs, endMs });
export const thumbnailUrl = (app: string, stream: string, atMs: number, width: number) =>
  call<string | null>("thumbnail_url", { app, stream, atMs, width });
/** The key frame at or before `atMs` as Annex B, for the webview's own decoder (H.265). */
export const keyframeUrl = (app: string, stream: string, atMs: number) => call<string | null>("keyframe_url", { app, stream, atMs });
export const previewUrl = (app: string, stream: string, startMs: number, endMs: number) =>
  call<string>("preview_url", { app, stream, startMs, endMs });
export const indexCreate = (query: IndexQuery) => call<CreatedIndex>("index_create", { query });
/**
 * Exports a clip; `onProgress` gets every `ExportProgress` the shell sends on the
 * channel. Rejects with kind `cancelled` after `exportCancel()`.
 */
export function exportClip(query: ExportQuery, onProgress: (p: ExportProgress) => void): Promise<Exported> {
  const channel = new Channel<ExportProgress>();
  channel.onmessage = onProgress;
  return call<Exported>("export_clip", { query, onProgress: channel });
}
export const exportCancel = () => call<null>("export_cancel");
export const clipPath = (app: string, stream: string, startMs: number, endMs: number) =>
  call<string>("clip_path", { app, stream, startMs, endMs });
export const saveClipAs = (path: string) => call<string | null>("save_clip_as", { path });
export const reveal = (path: string) => call<null>("reveal", { path });
/** Reads a profile's bucket into the catalog; `onProgress` gets each `ImportProgress`. */
export function catalogImport(profile: string, onProgress: (p: ImportProgress) => void = () => {}): Promise<ImportSummary> {
  const channel = new Channel<ImportProgress>();
  channel.onmessage = onProgress;
  return call<ImportSummary>("catalog_import", { profile, onProgress: channel });
}

/**
 * Drags a finished file out of the window into another app: the shell's `drag_clip` on
 * Linux, tauri-plugin-drag (`plugin:drag|start_drag`) where `drag_clip` answers false.
 * Call it from a mousedown: the native drag takes over the pointer. The plugin's drag
 * image is `drag_icon`'s PNG unless `icon` is given.
 */
export async function dragOut(path: string, icon?: string): Promise<void> {
  try {
    // Linux: the shell's own GTK drag (the plugin's drops arrive empty there); elsewhere
    // the shell answers false and tauri-plugin-drag drags.
    if (await call<boolean>("drag_clip", { path })) return;
    await startDrag({ item: [path], icon: icon ?? (await dragIconPath()) });
  } catch (raw) {
    throw toEngineError(raw);
  }
}

/** The drag image's path (`drag_icon`), asked once; "" when the shell has none. */
export const dragIcon = () => call<string>("drag_icon");
let icon: Promise<string> | null = null;
function dragIconPath(): Promise<string> {
  icon ??= dragIcon().catch(() => {
    icon = null; // ask again next time: the shell may have been starting
    return "";
  });
  return icon;
}

// Events
export type Events = {
  "engine-event": EngineEvent;
  live: LiveStream[];
};

/**
 * Listens to one of the shell's events; returns the function that stops listening
 * (safe to call before the listener was registered, as React effects do).
 */
export function subscribe<E extends keyof Events>(
  event: E,
  handler: (payload: Events[E]) => void,
): () => void {
  let stopped = false;
  let unlisten: (() => unknown) | null = null;
  listen<Events[E]>(event, (e) => {
    if (!stopped) handler(e.payload);
  })
    .then((u) => {
      if (stopped) quietly(u);
      else unlisten = u;
    })
    .catch(() => {
      // Outside Tauri without the mock there is nothing to listen to.
    });
  return () => {
    stopped = true;
    if (unlisten) quietly(unlisten);
  };
}

/**
 * Unlistens, ignoring a bridge that is already gone (the window closing, or a test's
 * mocks cleared before a late registration resolved): nothing is listening then anyway.
 */
function quietly(unlisten: () => unknown) {
  try {
    // Tauri's UnlistenFn is typed `() => void` but is async: its rejection is caught here.
    const done = unlisten();
    if (done instanceof Promise) done.catch(() => {});
  } catch {
    // nothing left to unlisten from
  }
}

/** True inside the Tauri window (or under the mock backend). */
export function hasShell(): boolean {
  return typeof window !== "undefined" && "__TAURI_INTERNALS__" in window;
}
