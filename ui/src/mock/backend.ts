// A mock of the shell's commands (ui/IPC.md) over in-memory state, for the browser
// (`npm run dev` outside Tauri, `?mock=1`) and for tests. It answers the way the shell
// does, errors included (`EngineError` rejections), so screens can be built and
// screenshotted without the engine.
import type { Config } from "../bindings/Config";
import type { EngineError } from "../bindings/EngineError";
import type { LiveStream } from "../bindings/LiveStream";
import type { Problem } from "../bindings/Problem";
import type { PullConfig } from "../bindings/PullConfig";
import type { StorageProfile } from "../bindings/StorageProfile";
import type { Template } from "../bindings/Template";
import type { Upload } from "../bindings/Upload";
import type {
  CallbackTest,
  DiskInfo,
  EngineStatus,
  HotkeyStatus,
  IngestInfo,
  Lang,
  NamePreview,
  ObsStatus,
  SettingsSaved,
} from "../ipc/types";
import { newTemplate } from "../lib/defaults";
import { parseSecs } from "../lib/format";
import { fakeStreams } from "./streams";
import { recState, recordingsCommand, RECORDING_COMMANDS, type RecordingsKind, type RecState } from "./recordings";

export type MockOptions = {
  /** Live streams to fake (`?streams=N`). */
  streams?: number;
  /** First run, nothing configured (`?empty=1`). */
  empty?: boolean;
  /** The engine failed to start (`?error=1`). */
  error?: boolean;
  /** The recordings catalog (`?recordings=month|none`); default: 3 streams, a few days. */
  recordings?: RecordingsKind;
  /** "Now" of the recordings catalog (tests pin it); default: the clock. */
  now?: number;
};

export type MockState = {
  config: Config;
  live: LiveStream[];
  pulls: PullConfig[];
  uploads: Upload[];
  keys: Set<string>;
  firstRun: boolean;
  lang: Lang | null;
  autostart: boolean;
  obs: ObsStatus;
  engine: EngineStatus;
  disk: DiskInfo;
  hotkey: HotkeyStatus;
  chapters: number;
  rec: RecState;
};

export const ENGINE_FAILED: EngineError = {
  kind: "io",
  message:
    "Tapedeck could not start its RTMP server: port 1935 on 127.0.0.1 is already used by another program (another Tapedeck, OBS's own server plugin or nginx). Close that program, or choose another port in Settings.",
};

function sampleConfig(empty: boolean): Config {
  const studio: Template = {
    ...newTemplate(),
    app: "studio",
    stream: "*",
    formats: ["m3u8", "mp4"],
    storage: "oss-hangzhou",
    keep_local: "7d",
  };
  const cam1: Template = {
    ...newTemplate(),
    app: "live",
    stream: "cam1",
    formats: ["mp4", "flv"],
    mp4: { object: "shows/{AppName}/{StreamName}/{EscapedStartTime}_{EscapedEndTime}", cycle: "2h" },
    storage: "r2-archive",
    run: [{ on: ["mp4"], command: ["ffprobe", "-v", "error", "{Path}"], timeout: "10m" }],
  };
  const profiles: StorageProfile[] = [
    {
      name: "oss-hangzhou",
      provider: "oss",
      endpoint: "",
      region: "cn-hangzhou",
      account_id: "",
      bucket: "my-streams",
      prefix: "studio/",
      path_style: null,
      storage_class: "",
      max_upload_rate: "20Mbit/s",
      concurrency: 4,
      multipart_threshold: "16MiB",
      part_size: "8MiB",
      parts_in_flight: 4,
    },
    {
      name: "r2-archive",
      provider: "r2",
      endpoint: "",
      region: "auto",
      account_id: "3f1c0a9e2b7d4c5e8f6a1b2c3d4e5f60",
      bucket: "archive",
      prefix: "",
      path_style: null,
      storage_class: "",
      max_upload_rate: null,
      concurrency: 4,
      multipart_threshold: "16MiB",
      part_size: "8MiB",
      parts_in_flight: 4,
    },
  ];
  return {
    data_dir: empty ? "/home/me/tapedeck-data" : "/home/me/Videos/Tapedeck",
    low_space_warning: "5GB",
    ingest: {
      rtmp_listen: empty ? "127.0.0.1:1935" : "0.0.0.0:1935",
      publish_key: empty ? "" : "s3cret",
      idle_timeout: "15s",
      setup_timeout: "20s",
      max_connections: 256,
      max_pending_connections: 64,
    },
    pull: [],
    template: empty ? [] : [newTemplate(), studio, cam1],
    callback: {
      url: empty ? "" : "https://example.com/tapedeck/hook",
      secret: "",
      status_events: false,
      domain: "localhost",
      on_demand_url: "",
    },
    control: { listen: "127.0.0.1:8935" },
    storage: empty ? [] : profiles,
    watch: empty
      ? []
      : [
          {
            path: "/home/me/Videos/OBS",
            app: "obs",
            stream: "local",
            object: "",
            settle: "10s",
            extensions: ["mp4", "mkv", "mov", "flv"],
            delete_after_upload: false,
          },
        ],
    runs: { max_parallel: 2 },
  };
}

function sampleUploads(now: number): Upload[] {
  const base = {
    generation: 1,
    group: "",
    upload_id: null,
    part_size: 8388608,
    keep_local: "forever",
    keep_group: "",
    keep_max: null,
    done_ms: null,
    local_deleted_ms: null,
    next_attempt_ms: 0,
  };
  const mk = (id: number, key: string, bytes: number, sent: number, extra: Partial<Upload> = {}): Upload => ({
    ...base,
    id,
    profile: "oss-hangzhou",
    key,
    path: `/home/me/Videos/Tapedeck/recordings/${key}`,
    kind: key.endsWith(".ts") ? "segment" : key.endsWith(".m3u8") ? "playlist" : "mp4",
    bytes,
    mtime_ms: now - 60_000,
    state: "queued",
    attempts: 1,
    last_error: null,
    sent_bytes: sent,
    rate_bps: sent > 0 ? 2_400_000 : 0,
    queued_ms: now - 120_000 + id * 1000,
    ...extra,
  });
  return [
    mk(1, "record/studio/cam1/2026-12-06T13-00-00Z_2026-12-06T14-00-00Z.mp4", 2_100_000_000, 1_250_000_000),
    mk(2, "record/studio/cam1/1765026000_412.ts", 22_000_000, 9_000_000),
    mk(3, "record/studio/cam5/2026-12-06T12-00-00Z_2026-12-06T13-00-00Z.mp4", 1_800_000_000, 0, {
      attempts: 3,
      last_error: "The bucket did not answer in time (network). Tapedeck tries again in 40 s.",
      next_attempt_ms: now + 40_000,
      rate_bps: 0,
    }),
    mk(4, "record/studio/cam9/2026-12-06T11-00-00Z_2026-12-06T12-00-00Z.mp4", 950_000_000, 0, {
      profile: "r2-archive",
      attempts: 0,
      rate_bps: 0,
    }),
    mk(5, "record/live/cam1/2026-12-06T10-00-00Z_2026-12-06T11-00-00Z.flv", 700_000_000, 700_000_000, {
      state: "done",
      profile: "r2-archive",
      done_ms: now - 600_000,
      rate_bps: 0,
    }),
  ];
}

export function mockState(opts: MockOptions = {}): MockState {
  const empty = !!opts.empty;
  const n = opts.streams ?? (empty ? 0 : 4);
  const config = sampleConfig(empty);
  return {
    config,
    live: fakeStreams(n),
    pulls: [],
    uploads: empty ? [] : sampleUploads(Date.now()),
    keys: new Set(empty ? [] : ["oss-hangzhou"]),
    firstRun: empty,
    lang: null,
    autostart: false,
    obs: {
      connected: false,
      version: null,
      streaming: false,
      service: null,
      points_here: false,
      error: null,
    },
    engine: opts.error
      ? { state: "failed", error: ENGINE_FAILED }
      : {
          state: "running",
          rtmp: "rtmp://0.0.0.0:1935",
          data_dir: config.data_dir,
          config_path: "/home/me/.config/tapedeck/tapedeck.toml",
        },
    disk: {
      free_bytes: empty ? 412_000_000_000 : 38_500_000_000,
      total_bytes: 1_000_000_000_000,
      low: false,
      threshold_bytes: 5_000_000_000,
      path: config.data_dir,
    },
    hotkey: {
      available: false,
      reason: "Global hotkeys need X11; this session runs Wayland. Use the Add chapter button instead.",
      chapter_hotkey: "Ctrl+Shift+M",
    },
    chapters: 0,
    rec: recState(empty ? "none" : (opts.recordings ?? "default"), opts.now ?? Date.now()),
  };
}

const NAME = /^[A-Za-z0-9_-]{1,255}$/;

/** The engine's template rules, enough of them to show problems by field. */
export function validateTemplate(t: Template, index: number): Problem[] {
  const f = (s: string) => `template[${index}].${s}`;
  const out: Problem[] = [];
  if (t.app !== "*" && !NAME.test(t.app))
    out.push({ field: f("app"), message: "Use letters, digits, - and _ only (at most 255), or * for every app." });
  if (t.stream !== "*" && !NAME.test(t.stream))
    out.push({ field: f("stream"), message: "Use letters, digits, - and _ only (at most 255), or * for every stream." });
  if (t.formats.length === 0) out.push({ field: f("formats"), message: "Choose at least one format to record." });
  const win = parseSecs(t.interruption_window);
  if (win === null) out.push({ field: f("interruption_window"), message: `"${t.interruption_window}" is not a duration; write it like "180s" or "3m".` });
  else if (win > 21600) out.push({ field: f("interruption_window"), message: "At most 6 hours (21600 s)." });
  const times = (o: string) =>
    (o.includes("{StartTime}") || o.includes("{EscapedStartTime}")) &&
    (o.includes("{EndTime}") || o.includes("{EscapedEndTime}"));
  const cycle = (field: string, v: string) => {
    const s = parseSecs(v);
    if (s === null) out.push({ field: f(field), message: `"${v}" is not a duration; write it like "6h" or "90m".` });
    else if (s < 10 || s > 21600) out.push({ field: f(field), message: "A file can last from 10 s to 6 h." });
  };
  if (t.formats.includes("m3u8")) {
    if (!times(t.m3u8.object)) out.push({ field: f("m3u8.object"), message: "The playlist name must contain the start and end time ({EscapedStartTime} and {EscapedEndTime})." });
    if (!t.m3u8.slice_object.includes("{UnixTimestamp}") || !t.m3u8.slice_object.includes("{Sequence}"))
      out.push({ field: f("m3u8.slice_object"), message: "The segment name must contain {UnixTimestamp} and {Sequence}." });
    const sl = parseSecs(t.m3u8.slice_duration);
    if (sl === null) out.push({ field: f("m3u8.slice_duration"), message: `"${t.m3u8.slice_duration}" is not a duration; write it like "30s".` });
    else if (sl < 1 || sl > 60) out.push({ field: f("m3u8.slice_duration"), message: "A segment lasts from 1 to 60 seconds." });
    cycle("m3u8.cycle", t.m3u8.cycle);
  }
  for (const fmt of ["mp4", "flv"] as const) {
    if (!t.formats.includes(fmt)) continue;
    if (!times(t[fmt].object)) out.push({ field: f(`${fmt}.object`), message: "The file name must contain the start and end time ({EscapedStartTime} and {EscapedEndTime})." });
    cycle(`${fmt}.cycle`, t[fmt].cycle);
  }
  t.run.forEach((r, i) => {
    if (r.command.length === 0 || !r.command[0].trim())
      out.push({ field: f(`run[${i}].command`), message: "Name the program to run (an absolute path or a name found on PATH)." });
    for (const [j, on] of (r.on ?? []).entries())
      if (!["m3u8", "mp4", "flv", "segment"].includes(on))
        out.push({ field: f(`run[${i}].on[${j}]`), message: `"${on}" is not a kind of file; use m3u8, mp4, flv or segment.` });
    const to = parseSecs(r.timeout);
    if (to === null || to < 1 || to > 86400)
      out.push({ field: f(`run[${i}].timeout`), message: "A time limit from 1 s to 24 h, like \"10m\"." });
  });
  return out;
}

function escaped(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, "Z").replace(/:/g, "-");
}

/** Which template a stream gets, most specific first (exact > app > every app). */
export function matchTemplate(templates: Template[], app: string, stream: string): { t: Template; why: string } | null {
  const list = templates.length ? templates : [newTemplate()];
  const exact = list.find((t) => t.app === app && t.stream === stream);
  if (exact) return { t: exact, why: "exact match" };
  const byApp = list.find((t) => t.app === app && t.stream === "*");
  if (byApp) return { t: byApp, why: `every stream of app ${app}` };
  const all = list.find((t) => t.app === "*" && t.stream === "*");
  if (all) return { t: all, why: "every app and stream" };
  return null;
}

export function previewNames(t: Template, app: string, stream: string, now = new Date()): NamePreview["keys"] {
  const cycle = parseSecs(t.mp4.cycle) ?? 21600;
  const end = new Date(now.getTime() + cycle * 1000);
  const fill = (o: string) =>
    o
      .replaceAll("{AppName}", app)
      .replaceAll("{StreamName}", stream)
      .replaceAll("{EscapedStartTime}", escaped(now))
      .replaceAll("{EscapedEndTime}", escaped(end))
      .replaceAll("{StartTime}", now.toISOString())
      .replaceAll("{EndTime}", end.toISOString())
      .replaceAll("{UnixTimestamp}", String(Math.floor(now.getTime() / 1000)))
      .replaceAll("{Sequence}", "0")
      .replaceAll("{Date}", now.toISOString().slice(0, 10));
  const keys: NamePreview["keys"] = { playlist: null, segment: null, mp4: null, flv: null, daily: null };
  if (t.formats.includes("m3u8")) {
    keys.playlist = `${fill(t.m3u8.object)}.m3u8`;
    keys.segment = `${fill(t.m3u8.slice_object)}.ts`;
    if (t.m3u8.daily_object) keys.daily = `${fill(t.m3u8.daily_object)}.m3u8`;
  }
  if (t.formats.includes("mp4")) keys.mp4 = `${fill(t.mp4.object)}.mp4`;
  if (t.formats.includes("flv")) keys.flv = `${fill(t.flv.object)}.flv`;
  return keys;
}

function reject(kind: EngineError["kind"], message: string, problems?: Problem[]): never {
  const e: EngineError = { kind, message };
  if (problems) e.problems = problems;
  throw e;
}

/** Commands that need the running engine fail with its start error while it is down. */
const NEEDS_ENGINE = new Set([
  "ingest_info",
  "live_streams",
  "set_recording",
  "add_chapter",
  "pulls",
  "add_pull",
  "remove_pull",
  "disk_status",
  "storage_test",
  "storage_buckets",
  "uploads",
  "name_preview",
  "template_validate",
  ...RECORDING_COMMANDS,
]);

/** The bucket address a template's uploads of app/stream go to, or null. */
function bucketBase(c: Config, app: string, stream: string): string | null {
  const name = matchTemplate(c.template, app, stream)?.t.storage;
  const p = name ? c.storage.find((x) => x.name === name) : undefined;
  if (!p) return null;
  const prefix = p.prefix.replace(/\/$/, "");
  const host =
    p.provider === "oss"
      ? `https://${p.bucket}.oss-${p.region}.aliyuncs.com`
      : p.provider === "r2"
        ? `https://${p.account_id}.r2.cloudflarestorage.com/${p.bucket}`
        : p.provider === "aws"
          ? `https://${p.bucket}.s3.${p.region}.amazonaws.com`
          : `${p.endpoint.replace(/\/$/, "")}/${p.bucket}`;
  return prefix ? `${host}/${prefix}` : host;
}

type Args = Record<string, unknown>;

export function mockHandler(state: MockState) {
  return async (cmd: string, raw: unknown): Promise<unknown> => {
    const a = (raw ?? {}) as Args;
    if (state.engine.state === "failed" && NEEDS_ENGINE.has(cmd)) throw state.engine.error;
    const c = state.config;
    if (RECORDING_COMMANDS.has(cmd))
      return recordingsCommand(state.rec, cmd, a, {
        dataDir: c.data_dir,
        hasKeys: (p) => state.keys.has(p),
        bucketBase: (app, stream) => bucketBase(c, app, stream),
      });
    switch (cmd) {
      case "engine_status":
        return state.engine;
      case "ingest_info": {
        const [host, port] = c.ingest.rtmp_listen.split(/:(?=\d+$)/);
        const all = host === "0.0.0.0";
        const key = c.ingest.publish_key ? `cam1?key=${c.ingest.publish_key}` : "cam1";
        const info: IngestInfo = {
          rtmp_url: `rtmp://${all ? "127.0.0.1" : host}:${port}/live`,
          stream_key: key,
          listen: c.ingest.rtmp_listen,
          lan_urls: all ? [`rtmp://192.168.1.20:${port}/live`] : [],
          publish_key_set: !!c.ingest.publish_key,
        };
        return info;
      }
      case "live_streams":
        return state.live;
      case "set_recording": {
        const s = state.live.find((l) => l.app === a.app && l.stream === a.stream);
        if (!s) reject("not_found", `${a.app}/${a.stream} is not live any more.`);
        state.live = state.live.map((l) => (l === s ? { ...l, recording: !!a.on } : l));
        return null;
      }
      case "add_chapter": {
        const s = state.live.find((l) => l.app === a.app && l.stream === a.stream);
        if (!s) reject("not_found", `${a.app}/${a.stream} is not live any more.`);
        const title = String(a.title ?? "").trim();
        if (!title) reject("invalid", "A chapter needs a title.", [{ field: "title", message: "Write a title." }]);
        state.chapters++;
        return { app: a.app, stream: a.stream, title, at: new Date().toISOString() };
      }
      case "pulls":
        return state.pulls.map(({ app, stream }) => ({ app, stream }));
      case "add_pull": {
        const p = a.pull as PullConfig;
        if (!/^(rtmp|https?):\/\//i.test(p.url)) reject("invalid", "Use an rtmp://, http:// or https:// address.", [{ field: "pull.url", message: "Use an rtmp://, http:// or https:// address." }]);
        if (state.pulls.some((x) => x.app === p.app && x.stream === p.stream) || state.live.some((x) => x.app === p.app && x.stream === p.stream))
          reject("conflict", `${p.app}/${p.stream} is already live: choose another stream name.`);
        state.pulls = [...state.pulls, p];
        return null;
      }
      case "remove_pull":
        state.pulls = state.pulls.filter((p) => !(p.app === a.app && p.stream === a.stream));
        return null;
      case "disk_status":
        return state.disk;
      case "hotkey_status":
        return state.hotkey;
      case "config_get": {
        // A file without [[template]] reads as the built-in */* template (the engine's).
        const out = structuredClone(state.config);
        if (!out.template.length) out.template = [newTemplate()];
        return out;
      }
      case "template_validate": {
        const t = a.template as Template;
        const index = (a.index as number | null) ?? c.template.length;
        return validateTemplate(t, index);
      }
      case "template_save": {
        const t = a.template as Template;
        const index = a.index as number | null;
        const at = index ?? c.template.length;
        const problems = validateTemplate(t, at);
        const dup = c.template.findIndex((x, i) => i !== index && x.app === t.app && x.stream === t.stream);
        if (dup >= 0) problems.push({ field: `template[${at}].stream`, message: `Another template already records ${t.app}/${t.stream}.` });
        if (problems.length) reject("invalid", "The template has problems; fix the fields marked below.", problems);
        if (index === null) c.template.push(t);
        else c.template[index] = t;
        return null;
      }
      case "template_delete":
        if (!c.template.length)
          reject("conflict", "This is the built-in template that records every stream while the file has no template: it cannot be deleted. Change it instead, or stop recordings per stream on the Live screen.");
        c.template.splice(a.index as number, 1);
        return null;
      case "name_preview": {
        const app = String(a.app || "live");
        const stream = String(a.stream || "cam1");
        const given = a.template as Template | null;
        if (given) return { template: { index: (a.index as number | null) ?? null, app: given.app, stream: given.stream }, why: "this template", keys: previewNames(given, app, stream) } satisfies NamePreview;
        const m = matchTemplate(c.template, app, stream);
        if (!m) return { template: null, why: "no template matches: this stream is not recorded", keys: { playlist: null, segment: null, mp4: null, flv: null, daily: null } } satisfies NamePreview;
        return { template: { index: c.template.indexOf(m.t), app: m.t.app, stream: m.t.stream }, why: m.why, keys: previewNames(m.t, app, stream) } satisfies NamePreview;
      }
      case "storage_save": {
        const p = a.profile as StorageProfile;
        const index = a.index as number | null;
        const at = index ?? c.storage.length;
        const problems: Problem[] = [];
        if (!NAME.test(p.name)) problems.push({ field: `storage[${at}].name`, message: "Name it with letters, digits, - and _." });
        if (!p.bucket) problems.push({ field: `storage[${at}].bucket`, message: "Choose a bucket." });
        if (p.provider === "custom" && !/^https?:\/\//.test(p.endpoint)) problems.push({ field: `storage[${at}].endpoint`, message: "A custom service needs its address, like http://127.0.0.1:9000." });
        if (p.provider === "r2" && !/^[0-9a-f]{32}$/.test(p.account_id)) problems.push({ field: `storage[${at}].account_id`, message: "A Cloudflare account id is 32 letters and digits (0-9, a-f)." });
        if (p.provider === "oss" && p.path_style) problems.push({ field: `storage[${at}].path_style`, message: "Alibaba OSS refuses path-style addresses." });
        if (c.storage.some((x, i) => i !== index && x.name === p.name)) problems.push({ field: `storage[${at}].name`, message: `Another profile is already called ${p.name}.` });
        if (problems.length) reject("invalid", "The storage profile has problems; fix the fields marked below.", problems);
        if (index === null) c.storage.push(p);
        else c.storage[index] = p;
        // The shell restarts the recorder for a new bucket only while no stream is live.
        const restarted = !state.live.some((l) => l.connected);
        return { restarted } satisfies SettingsSaved;
      }
      case "storage_delete": {
        const name = String(a.name);
        const users = c.template.filter((t) => t.storage === name);
        if (users.length) reject("conflict", `Templates still upload to ${name} (${users.map((t) => `${t.app}/${t.stream}`).join(", ")}): choose another bucket for them first.`);
        c.storage = c.storage.filter((p) => p.name !== name);
        state.keys.delete(name);
        return null;
      }
      case "storage_set_keys": {
        if (!a.accessKeyId || !a.secretAccessKey) reject("invalid", "Enter both the access key ID and the secret.");
        state.keys.add(String(a.name));
        return null;
      }
      case "storage_has_keys":
        return state.keys.has(String(a.name));
      case "storage_test": {
        const p = c.storage.find((x) => x.name === a.name);
        if (!p) reject("not_found", `There is no storage profile called ${a.name}.`);
        const endpoint = p.endpoint || (p.provider === "oss" ? `https://s3.oss-${p.region}.aliyuncs.com` : p.provider === "r2" ? `https://${p.account_id}.r2.cloudflarestorage.com` : `https://s3.${p.region}.amazonaws.com`);
        if (!state.keys.has(p.name))
          return { profile: p.name, endpoint, bucket: p.bucket, buckets: null, buckets_error: "No keys are saved for this profile: enter the access key ID and secret, then test again.", bucket_error: "Not checked without keys.", write_read_error: null, ok: false };
        if (p.provider === "r2")
          return { profile: p.name, endpoint, bucket: p.bucket, buckets: null, buckets_error: "This key may not list buckets (that is fine for a key made for one bucket).", bucket_error: null, write_read_error: "Tapedeck could write a test file but not read it back: give the key read permission too.", ok: false };
        return { profile: p.name, endpoint, bucket: p.bucket, buckets: ["my-streams", "backups", "archive-2026"], buckets_error: null, bucket_error: null, write_read_error: null, ok: true };
      }
      case "storage_buckets": {
        if (!state.keys.has(String(a.name))) reject("storage", "No keys are saved for this profile: enter them first.");
        return ["my-streams", "backups", "archive-2026"];
      }
      case "uploads": {
        const list = a.withDone ? state.uploads : state.uploads.filter((u) => u.state !== "done");
        return list.slice(0, (a.limit as number) ?? 200);
      }
      case "settings_save": {
        const ingest = a.ingest as Config["ingest"];
        const problems: Problem[] = [];
        if (!/^[^:]+:\d{1,5}$|^\[[0-9a-f:]+\]:\d{1,5}$/i.test(ingest.rtmp_listen)) problems.push({ field: "ingest.rtmp_listen", message: "Write an address and a port, like 0.0.0.0:1935." });
        if (ingest.publish_key && !/^[A-Za-z0-9._~-]{1,256}$/.test(ingest.publish_key)) problems.push({ field: "ingest.publish_key", message: "Use letters, digits, -, ., _ and ~ only." });
        const cb = a.callback as Config["callback"];
        if (cb.url && !/^https?:\/\//.test(cb.url)) problems.push({ field: "callback.url", message: "Use an http:// or https:// address." });
        if (!String(a.dataDir ?? "").trim()) problems.push({ field: "data_dir", message: "Choose a folder for recordings." });
        if (problems.length) reject("invalid", "Some settings have problems; fix the fields marked below.", problems);
        // The shell restarts the recorder for a new address, data folder or watch list.
        const restart = ingest.rtmp_listen !== c.ingest.rtmp_listen || a.dataDir !== c.data_dir || JSON.stringify(a.watch) !== JSON.stringify(c.watch);
        c.ingest = ingest;
        c.data_dir = String(a.dataDir);
        c.callback = cb;
        c.watch = a.watch as Config["watch"];
        const restarted = restart || state.engine.state === "failed";
        if (restarted)
          state.engine = { state: "running", rtmp: `rtmp://${ingest.rtmp_listen}`, data_dir: c.data_dir, config_path: "/home/me/.config/tapedeck/tapedeck.toml" };
        return { restarted } satisfies SettingsSaved;
      }
      case "drag_icon":
        return "/home/me/.cache/studio.tapedeck/drag-icon.png";
      case "drag_clip":
        // As on macOS and Windows: the plugin drags (tests see its start_drag).
        return false;
      case "plugin:drag|start_drag":
        // tauri-plugin-drag: the drag happens outside the page; nothing to answer.
        return null;
      case "pick_folder":
        return "/home/me/Videos/Tapedeck";
      case "send_test_callback": {
        const body = JSON.stringify({ domain: c.callback.domain, app: "live", stream: "test", event: "record_started" });
        const res: CallbackTest = {
          request: {
            url: c.callback.url,
            headers: [
              ["Content-Type", "application/json"],
              ...(c.callback.secret ? ([["X-Tapedeck-Signature", "sha256=…"]] as [string, string][]) : []),
            ],
            body,
          },
          status: c.callback.url ? 200 : null,
          response: c.callback.url ? "ok" : null,
          error: c.callback.url ? null : "No callback address is set.",
        };
        return res;
      }
      case "autostart_get":
        return state.autostart;
      case "autostart_set":
        state.autostart = !!a.enabled;
        return null;
      case "first_run":
        return state.firstRun;
      case "first_run_done":
        state.firstRun = false;
        return null;
      case "language_get":
        return state.lang;
      case "language_set":
        state.lang = (a.lang as Lang | null) ?? null;
        return null;
      case "obs_connect": {
        if (String(a.password) === "wrong") {
          state.obs = { ...state.obs, connected: false, error: "OBS refused the password: copy it from OBS, Tools, WebSocket Server Settings, Show Connect Info." };
          return state.obs;
        }
        state.obs = { connected: true, version: "30.2.3", streaming: false, service: { server: "rtmp://live.twitch.tv/app", key: "live_123" }, points_here: false, error: null };
        return state.obs;
      }
      case "obs_status":
        return state.obs;
      case "obs_setup_stream": {
        if (!state.obs.connected) reject("unavailable", "OBS is not connected: connect first.");
        const [host, port] = c.ingest.rtmp_listen.split(/:(?=\d+$)/);
        state.obs = { ...state.obs, service: { server: `rtmp://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}/live`, key: "cam1" }, points_here: true };
        return state.obs;
      }
      case "obs_start_stream":
        if (!state.obs.connected) reject("unavailable", "OBS is not connected: connect first.");
        state.obs = { ...state.obs, streaming: true };
        return state.obs;
      case "obs_stop_stream":
        if (!state.obs.connected) reject("unavailable", "OBS is not connected: connect first.");
        state.obs = { ...state.obs, streaming: false };
        return state.obs;
      default:
        reject("not_found", `The app has no command ${cmd}.`);
    }
  };
}
