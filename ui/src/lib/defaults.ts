// What a new template, profile or watched folder starts as: the engine's documented
// defaults (crates/config), so a form saved untouched means what the file would mean.
import type { StorageProfile } from "../bindings/StorageProfile";
import type { Template } from "../bindings/Template";
import type { WatchConfig } from "../bindings/WatchConfig";
import type { RunConfig } from "../bindings/RunConfig";
import type { Provider } from "../bindings/Provider";
import { parseSecs } from "./format";

export const DEFAULT_OBJECT = "record/{AppName}/{StreamName}/{EscapedStartTime}_{EscapedEndTime}";
export const DEFAULT_SLICE_OBJECT = "record/{AppName}/{StreamName}/{UnixTimestamp}_{Sequence}";
export const DEFAULT_DAILY_OBJECT = "{AppName}/{StreamName}/{Date}";

export function newTemplate(): Template {
  return {
    app: "*",
    stream: "*",
    formats: ["m3u8", "mp4"],
    interruption_window: "3m",
    timezone: "UTC",
    m3u8: {
      object: DEFAULT_OBJECT,
      slice_object: DEFAULT_SLICE_OBJECT,
      slice_duration: "30s",
      cycle: "6h",
      daily_object: DEFAULT_DAILY_OBJECT,
    },
    mp4: { object: DEFAULT_OBJECT, cycle: "6h" },
    flv: { object: DEFAULT_OBJECT, cycle: "6h" },
    storage: "",
    keep_local: "forever",
    keep_local_max: null,
    run: [],
  };
}

export function newRun(): RunConfig {
  return { on: ["m3u8", "mp4", "flv"], command: [], timeout: "1h" };
}

export function newProfile(provider: Provider = "oss"): StorageProfile {
  return {
    name: "",
    provider,
    endpoint: "",
    region: provider === "oss" ? "cn-hangzhou" : provider === "r2" ? "auto" : "us-east-1",
    account_id: "",
    bucket: "",
    prefix: "",
    path_style: provider === "custom" ? true : null,
    storage_class: "",
    max_upload_rate: null,
    concurrency: 4,
    multipart_threshold: "16MiB",
    part_size: "8MiB",
    parts_in_flight: 4,
  };
}

export const WATCH_EXTENSIONS = ["mp4", "mkv", "mov", "flv", "ts", "m4a", "aac", "mp3", "wav"];

export function newWatch(path = ""): WatchConfig {
  return {
    path,
    app: "obs",
    stream: "local",
    object: "",
    settle: "10s",
    extensions: [...WATCH_EXTENSIONS],
    delete_after_upload: false,
  };
}

/** Alibaba OSS regions the profile form offers (IPC.md). */
export const OSS_REGIONS = [
  "cn-hangzhou",
  "cn-shanghai",
  "cn-beijing",
  "cn-shenzhen",
  "cn-qingdao",
  "cn-zhangjiakou",
  "cn-chengdu",
  "cn-hongkong",
  "ap-southeast-1",
  "ap-northeast-1",
  "us-west-1",
  "us-east-1",
  "eu-central-1",
  "eu-west-1",
];

export const AWS_REGIONS = [
  "us-east-1",
  "us-east-2",
  "us-west-1",
  "us-west-2",
  "eu-west-1",
  "eu-central-1",
  "ap-northeast-1",
  "ap-southeast-1",
  "ap-east-1",
  "sa-east-1",
];

/** The endpoint a profile reaches, as the engine derives it (for display only). */
export function derivedEndpoint(p: StorageProfile): string {
  if (p.endpoint) return p.endpoint;
  switch (p.provider) {
    case "oss":
      return `https://s3.oss-${p.region || "cn-hangzhou"}.aliyuncs.com`;
    case "aws":
      return `https://s3.${p.region || "us-east-1"}.amazonaws.com`;
    case "r2":
      return p.account_id ? `https://${p.account_id}.r2.cloudflarestorage.com` : "";
    default:
      return "";
  }
}

/** A template with its durations as seconds and its keys in one order, to compare. */
function canonical(t: Template): string {
  const secs = (v: string) => parseSecs(v) ?? v;
  const c = {
    ...t,
    interruption_window: secs(t.interruption_window),
    m3u8: { ...t.m3u8, slice_duration: secs(t.m3u8.slice_duration), cycle: secs(t.m3u8.cycle) },
    mp4: { ...t.mp4, cycle: secs(t.mp4.cycle) },
    flv: { ...t.flv, cycle: secs(t.flv.cycle) },
    formats: [...t.formats].sort(),
  };
  const sorted = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sorted)
      : v && typeof v === "object"
        ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted((v as Record<string, unknown>)[k])]))
        : v;
  return JSON.stringify(sorted(c));
}

/**
 * True when `config_get`'s templates are only the engine's built-in one: a file without
 * `[[template]]` reads as one `*`/`*` template with the defaults. Saving it writes it to
 * the file; the engine refuses to delete it.
 */
export function onlyBuiltIn(templates: Template[]): boolean {
  return templates.length === 1 && templates[0].app === "*" && templates[0].stream === "*" && canonical(templates[0]) === canonical(newTemplate());
}
