import { mockIPC } from "@tauri-apps/api/mocks";
import { describe, expect, it, vi } from "vitest";
import * as ipc from ".";
import type { ExportQuery } from "../bindings/ExportQuery";
import { newProfile, newTemplate, newWatch } from "../lib/defaults";

const tpl = newTemplate();
const profile = newProfile("r2");
const ingest = { rtmp_listen: "0.0.0.0:1935", publish_key: "", idle_timeout: "15s", setup_timeout: "20s", max_connections: 256, max_pending_connections: 64 };
const callback = { url: "", secret: "", status_events: false, domain: "localhost", on_demand_url: "" };
const watch = [newWatch("/v")];
const indexQuery = { app: "studio", stream: "cam1", start: "2026-12-06T13:00:00.000Z", end: "2026-12-06T14:00:00.000Z", object: null };

// Each wrapper: the command name of IPC.md and the argument keys Tauri maps onto the Rust
// parameters (camelCase of the snake_case names).
const CASES: [string, () => Promise<unknown>, string, Record<string, unknown>][] = [
  ["ingestInfo", () => ipc.ingestInfo(), "ingest_info", {}],
  ["liveStreams", () => ipc.liveStreams(), "live_streams", {}],
  ["setRecording", () => ipc.setRecording("live", "cam1", false), "set_recording", { app: "live", stream: "cam1", on: false }],
  ["addChapter", () => ipc.addChapter("live", "cam1", "Intro"), "add_chapter", { app: "live", stream: "cam1", title: "Intro" }],
  ["pulls", () => ipc.pulls(), "pulls", {}],
  ["addPull", () => ipc.addPull({ url: "rtmp://h/a/s", app: "a", stream: "s" }), "add_pull", { pull: { url: "rtmp://h/a/s", app: "a", stream: "s" } }],
  ["removePull", () => ipc.removePull("a", "s"), "remove_pull", { app: "a", stream: "s" }],
  ["diskStatus", () => ipc.diskStatus(), "disk_status", {}],
  ["hotkeyStatus", () => ipc.hotkeyStatus(), "hotkey_status", {}],
  ["engineStatus", () => ipc.engineStatus(), "engine_status", {}],
  ["configGet", () => ipc.configGet(), "config_get", {}],
  ["templateValidate", () => ipc.templateValidate(tpl, 2), "template_validate", { template: tpl, index: 2 }],
  ["templateSave (new)", () => ipc.templateSave(tpl, null), "template_save", { template: tpl, index: null }],
  ["templateDelete", () => ipc.templateDelete(1), "template_delete", { index: 1 }],
  ["namePreview", () => ipc.namePreview("live", "cam1", null), "name_preview", { app: "live", stream: "cam1", template: null }],
  ["storageSave", () => ipc.storageSave(profile, 0), "storage_save", { profile, index: 0 }],
  ["storageDelete", () => ipc.storageDelete("r2"), "storage_delete", { name: "r2" }],
  ["storageSetKeys", () => ipc.storageSetKeys("r2", "AK", "SK"), "storage_set_keys", { name: "r2", accessKeyId: "AK", secretAccessKey: "SK" }],
  ["storageHasKeys", () => ipc.storageHasKeys("r2"), "storage_has_keys", { name: "r2" }],
  ["storageTest", () => ipc.storageTest("r2"), "storage_test", { name: "r2" }],
  ["storageBuckets", () => ipc.storageBuckets("r2"), "storage_buckets", { name: "r2" }],
  ["uploads", () => ipc.uploads(true, 50), "uploads", { withDone: true, limit: 50 }],
  ["settingsSave", () => ipc.settingsSave(ingest, "/data", callback, watch), "settings_save", { ingest, dataDir: "/data", callback, watch }],
  ["pickFolder", () => ipc.pickFolder("Where?"), "pick_folder", { title: "Where?" }],
  ["sendTestCallback", () => ipc.sendTestCallback(), "send_test_callback", {}],
  ["autostartGet", () => ipc.autostartGet(), "autostart_get", {}],
  ["autostartSet", () => ipc.autostartSet(true), "autostart_set", { enabled: true }],
  ["firstRun", () => ipc.firstRun(), "first_run", {}],
  ["firstRunDone", () => ipc.firstRunDone(), "first_run_done", {}],
  ["languageGet", () => ipc.languageGet(), "language_get", {}],
  ["languageSet", () => ipc.languageSet("zh-CN"), "language_set", { lang: "zh-CN" }],
  ["obsConnect", () => ipc.obsConnect("ws://127.0.0.1:4455", "pw", true), "obs_connect", { address: "ws://127.0.0.1:4455", password: "pw", remember: true }],
  ["obsStatus", () => ipc.obsStatus(), "obs_status", {}],
  ["obsSetupStream", () => ipc.obsSetupStream(), "obs_setup_stream", {}],
  ["obsStartStream", () => ipc.obsStartStream(), "obs_start_stream", {}],
  ["obsStopStream", () => ipc.obsStopStream(), "obs_stop_stream", {}],
  ["recordedStreams", () => ipc.recordedStreams(), "recorded_streams", {}],
  ["spans", () => ipc.spans("studio", "cam1", 1, 2), "spans", { app: "studio", stream: "cam1", startMs: 1, endMs: 2 }],
  ["chapters", () => ipc.chapters("studio", "cam1", 1, 2), "chapters", { app: "studio", stream: "cam1", startMs: 1, endMs: 2 }],
  ["thumbnailUrl", () => ipc.thumbnailUrl("studio", "cam1", 5, 192), "thumbnail_url", { app: "studio", stream: "cam1", atMs: 5, width: 192 }],
  ["previewUrl", () => ipc.previewUrl("studio", "cam1", 1, 2), "preview_url", { app: "studio", stream: "cam1", startMs: 1, endMs: 2 }],
  ["indexCreate", () => ipc.indexCreate(indexQuery), "index_create", { query: indexQuery }],
  ["exportCancel", () => ipc.exportCancel(), "export_cancel", {}],
  ["clipPath", () => ipc.clipPath("studio", "cam1", 1, 2), "clip_path", { app: "studio", stream: "cam1", startMs: 1, endMs: 2 }],
  ["saveClipAs", () => ipc.saveClipAs("/v/a b.mp4"), "save_clip_as", { path: "/v/a b.mp4" }],
  ["reveal", () => ipc.reveal("/v/a b.mp4"), "reveal", { path: "/v/a b.mp4" }],
  ["catalogImport", () => ipc.catalogImport("r2"), "catalog_import", { profile: "r2", onProgress: expect.anything() }],
  ["keyframeUrl", () => ipc.keyframeUrl("live", "cam1", 5), "keyframe_url", { app: "live", stream: "cam1", atMs: 5 }],
  ["dragIcon", () => ipc.dragIcon(), "drag_icon", {}],
];

describe("IPC wrappers", () => {
  it.each(CASES)("%s invokes its command with IPC.md's argument names", async (_name, run, cmd, args) => {
    const seen: { cmd: string; args: unknown }[] = [];
    mockIPC((c, a) => {
      seen.push({ cmd: c, args: a });
      return null;
    });
    await run();
    expect(seen).toHaveLength(1);
    expect(seen[0].cmd).toBe(cmd);
    expect(seen[0].args ?? {}).toEqual(args);
  });

  it("passes the result through", async () => {
    mockIPC(() => ["bucket-a", "bucket-b"]);
    await expect(ipc.storageBuckets("x")).resolves.toEqual(["bucket-a", "bucket-b"]);
  });
});

describe("Recordings: channel and plugin calls", () => {
  it("exportClip sends a Channel as onProgress and hands its messages over in order", async () => {
    const got: unknown[] = [];
    mockIPC((cmd, args) => {
      expect(cmd).toBe("export_clip");
      const a = args as { query: unknown; onProgress: { id: number } };
      expect(JSON.parse(JSON.stringify(a.onProgress))).toMatch(/^__CHANNEL__:\d+$/);
      const internals = (window as unknown as { __TAURI_INTERNALS__: { runCallback: (id: number, d: unknown) => void } }).__TAURI_INTERNALS__;
      // Out of order on purpose: the Channel puts them back by index.
      internals.runCallback(a.onProgress.id, { index: 1, message: { segments_done: 2, segments_total: 2 } });
      internals.runCallback(a.onProgress.id, { index: 0, message: { segments_done: 1, segments_total: 2 } });
      return { path: "/v/c.mp4", duration: 60, video_frames: 1800, audio_frames: 2812, bytes: 1000 };
    });
    const q: ExportQuery = { app: "studio", stream: "cam1", start: indexQuery.start, end: indexQuery.end, output: "/v/c.mp4", close_gaps: false };
    const res = await ipc.exportClip(q, (p) => got.push(p));
    expect(res.path).toBe("/v/c.mp4");
    expect(got).toEqual([{ segments_done: 1, segments_total: 2 }, { segments_done: 2, segments_total: 2 }]);
  });

  it("exportClip rejects with kind cancelled as the shell says", async () => {
    mockIPC(() => {
      throw { kind: "cancelled", message: "The export was cancelled." };
    });
    await expect(ipc.exportClip({ app: "a", stream: "s", start: indexQuery.start, end: indexQuery.end, output: "/v/c.mp4", close_gaps: true }, () => {})).rejects.toEqual({ kind: "cancelled", message: "The export was cancelled." });
  });

  it("dragOut starts tauri-plugin-drag's drag with the path untouched", async () => {
    const seen: { cmd: string; args: Record<string, unknown> }[] = [];
    mockIPC((cmd, args) => {
      seen.push({ cmd, args: args as Record<string, unknown> });
      return null;
    });
    await ipc.dragOut("/home/me/Videos/Tapedeck clips/Überraschung 精彩 #1.mp4", "/icon.png");
    expect(seen.map((c) => c.cmd)).toEqual(["drag_clip", "plugin:drag|start_drag"]);
    expect(seen[0].args).toEqual({ path: "/home/me/Videos/Tapedeck clips/Überraschung 精彩 #1.mp4" });
    expect(seen[1].args).toMatchObject({ item: ["/home/me/Videos/Tapedeck clips/Überraschung 精彩 #1.mp4"], image: "/icon.png" });
  });

  it("dragOut leaves the drag to the shell where it drags itself (Linux)", async () => {
    const seen: string[] = [];
    mockIPC((cmd) => {
      seen.push(cmd);
      return cmd === "drag_clip" ? true : null;
    });
    await ipc.dragOut("/v/Kick-off #1 ü.mp4");
    expect(seen).toEqual(["drag_clip"]);
  });

  it("dragOut says why a clip cannot be dragged", async () => {
    mockIPC(() => {
      throw { kind: "not_found", message: "/v/a.mp4 is not there any more: export the clip again" };
    });
    await expect(ipc.dragOut("/v/a.mp4")).rejects.toEqual({ kind: "not_found", message: "/v/a.mp4 is not there any more: export the clip again" });
  });

  it("dragOut asks drag_icon for the drag image, and drags without one when the shell has none", async () => {
    const seen: { cmd: string; args: Record<string, unknown> }[] = [];
    mockIPC((cmd, args) => {
      seen.push({ cmd, args: args as Record<string, unknown> });
      if (cmd === "drag_icon") throw "command drag_icon not found";
      return null;
    });
    await ipc.dragOut("/v/a.mp4");
    expect(seen.map((c) => c.cmd)).toEqual(["drag_clip", "drag_icon", "plugin:drag|start_drag"]);
    expect(seen[2].args).toMatchObject({ item: ["/v/a.mp4"], image: "" });
  });
});

describe("errors", () => {
  it("keeps an EngineError from the shell, problems included", async () => {
    const err = { kind: "invalid", message: "The template has problems.", problems: [{ field: "template[0].app", message: "bad" }] };
    mockIPC(() => {
      throw err;
    });
    await expect(ipc.templateSave(newTemplate(), 0)).rejects.toEqual(err);
  });

  it("turns a string rejection into kind internal", async () => {
    mockIPC(() => {
      throw "the window is closing";
    });
    await expect(ipc.ingestInfo()).rejects.toEqual({ kind: "internal", message: "the window is closing" });
  });

  it("names a command the shell does not have not_found", () => {
    expect(ipc.toEngineError("command config_get not found")).toEqual({ kind: "not_found", message: "command config_get not found" });
  });

  it("turns a thrown Error into kind internal with its message", () => {
    expect(ipc.toEngineError(new Error("boom"))).toEqual({ kind: "internal", message: "boom" });
  });

  it("maps an unknown kind to internal and drops malformed problems", () => {
    expect(ipc.toEngineError({ kind: "weird", message: "m", problems: [{ field: "a", message: "b" }, { nope: 1 }] })).toEqual({
      kind: "internal",
      message: "m",
      problems: [{ field: "a", message: "b" }],
    });
  });

  it("keeps a message of an object without kind", () => {
    expect(ipc.toEngineError({ message: "x" })).toEqual({ kind: "internal", message: "x" });
    expect(ipc.toEngineError(42)).toEqual({ kind: "internal", message: "42" });
  });
});

describe("subscribe", () => {
  it("delivers live and engine-event payloads until stopped", async () => {
    mockIPC(() => null, { shouldMockEvents: true });
    const live = vi.fn();
    const stop = ipc.subscribe("live", live);
    await new Promise((r) => setTimeout(r, 0));
    const internals = (window as unknown as { __TAURI_INTERNALS__: { invoke: (c: string, a: unknown) => Promise<unknown> } }).__TAURI_INTERNALS__;
    await internals.invoke("plugin:event|emit", { event: "live", payload: [] });
    expect(live).toHaveBeenCalledWith([]);
    stop();
    await internals.invoke("plugin:event|emit", { event: "live", payload: [1] });
    expect(live).toHaveBeenCalledTimes(1);
  });

  it("stopping before the listener is registered leaves nothing listening", async () => {
    mockIPC(() => null, { shouldMockEvents: true });
    const h = vi.fn();
    ipc.subscribe("engine-event", h)();
    await new Promise((r) => setTimeout(r, 0));
    const internals = (window as unknown as { __TAURI_INTERNALS__: { invoke: (c: string, a: unknown) => Promise<unknown> } }).__TAURI_INTERNALS__;
    await internals.invoke("plugin:event|emit", { event: "engine-event", payload: { source: "lagged", event: { missed: 1 } } });
    expect(h).not.toHaveBeenCalled();
  });
});
