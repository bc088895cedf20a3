// Shapes that only the app's IPC carries (IPC.md). Generated ones come from ../bindings
// (ts-rs, from the engine's crates and src-tauri); the rest follow IPC.md.
import type { IndexRecord } from "../bindings/IndexRecord";

// Generated from src-tauri (ts-rs, `types::bindings`): the app's own IPC shapes.
export type { IngestInfo } from "../bindings/IngestInfo";
export type { DiskInfo } from "../bindings/DiskInfo";
export type { HotkeyStatus } from "../bindings/HotkeyStatus";
export type { NamePreview } from "../bindings/NamePreview";
export type { TestCallback as CallbackTest } from "../bindings/TestCallback";
export type { ObsStatus } from "../bindings/ObsStatus";
export type { EngineStatus } from "../bindings/EngineStatus";
export type { SettingsSaved } from "../bindings/SettingsSaved";

/** `null`: follow the operating system. */
export type Lang = "en" | "zh-CN";

// Recordings (IPC.md "### Recordings"): the catalog commands' own shapes. `Span`,
// `Chapter`, `IndexRecord`, `IndexQuery` and `ExportQuery` come from ../bindings.
/** `recorded_streams`: one row per app/stream that has anything in the catalog. */
export type RecordedStream = {
  app: string;
  stream: string;
  /** Wall-clock start of the first recording, UTC ms. */
  first_ms: number;
  /** Wall-clock end of the last recording (grows while the stream is live), UTC ms. */
  last_ms: number;
  recordings: number;
  bytes: number;
};

/** `index_create`: the index record, where its m3u8 was written, its bucket address. */
export type CreatedIndex = {
  record: IndexRecord;
  path: string;
  /** `null` when the stream's template uploads nowhere. */
  bucket_url: string | null;
};

/** One message of `export_clip`'s progress channel. */
export type ExportProgress = { segments_done: number; segments_total: number };

/** `export_clip`: the finished MP4. */
export type Exported = {
  path: string;
  /** Seconds of media in the clip. */
  duration: number;
  video_frames: number;
  audio_frames: number;
  bytes: number;
};

/** `catalog_import`: what the bucket holds and what the import added (generated). */
export type { ImportReport as ImportSummary } from "../bindings/ImportReport";
/** One message of `catalog_import`'s progress channel (generated). */
export type { ImportProgress } from "../bindings/ImportProgress";
