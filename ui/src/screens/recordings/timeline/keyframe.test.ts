import { describe, expect, it, vi } from "vitest";
import { codecName, keyFrameThumb, type Platform } from "./keyframe";

const HEVC = "hvc1.1.6.L93.B0";

function answer(status: number, headers: Record<string, string> = {}, body = new Uint8Array([0, 0, 0, 1, 0x40, 1])) {
  return vi.fn(async () => new Response(status === 200 ? body : "no", { status, headers }));
}

/** A WebCodecs decoder that "decodes" by handing out one frame, or fails as told. */
function fakeDecoder(opts: { supported?: boolean; fail?: boolean; noFrame?: boolean } = {}) {
  const seen: { configs: VideoDecoderConfig[]; chunks: unknown[] } = { configs: [], chunks: [] };
  class Decoder {
    static isConfigSupported = vi.fn(async (config: VideoDecoderConfig) => ({ supported: opts.supported ?? true, config }));
    constructor(private init: VideoDecoderInit) {}
    configure(c: VideoDecoderConfig) {
      seen.configs.push(c);
    }
    decode(chunk: unknown) {
      seen.chunks.push(chunk);
      if (opts.fail) queueMicrotask(() => this.init.error(new DOMException("bad")));
      else if (!opts.noFrame) queueMicrotask(() => this.init.output({ displayWidth: 1280, displayHeight: 720, close: vi.fn() } as unknown as VideoFrame));
    }
    async flush() {
      await new Promise((r) => setTimeout(r, 0));
    }
    close() {}
  }
  class Chunk {
    constructor(public init: EncodedVideoChunkInit) {}
  }
  return { Decoder: Decoder as unknown as typeof VideoDecoder, Chunk: Chunk as unknown as typeof EncodedVideoChunk, seen };
}

describe("key frames the engine cannot decode", () => {
  const headers = { "x-codec": HEVC, "x-width": "1280", "x-height": "720" };

  it("decodes an H.265 key frame with WebCodecs and draws it at the asked width", async () => {
    const d = fakeDecoder();
    const draw = vi.fn(async (_f: VideoFrame, w: number) => `blob:thumb-${w}`);
    const p: Platform = { fetch: answer(200, headers), VideoDecoder: d.Decoder, EncodedVideoChunk: d.Chunk, draw };
    expect(await keyFrameThumb("http://127.0.0.1:1/keyframe/live/cam1?at=5&token=t", 320, p)).toEqual({ kind: "image", url: "blob:thumb-320" });
    expect(d.seen.configs).toEqual([{ codec: HEVC, codedWidth: 1280, codedHeight: 720, optimizeForLatency: true }]);
    expect((d.seen.chunks[0] as { init: EncodedVideoChunkInit }).init.type).toBe("key");
  });

  it("says unsupported where there is no WebCodecs, or it cannot decode the codec", async () => {
    const none: Platform = { fetch: answer(200, headers), draw: vi.fn() };
    expect(await keyFrameThumb("u", 320, none)).toEqual({ kind: "unsupported", codec: HEVC });
    const no = fakeDecoder({ supported: false });
    expect(await keyFrameThumb("u", 320, { fetch: answer(200, headers), VideoDecoder: no.Decoder, EncodedVideoChunk: no.Chunk, draw: vi.fn() })).toEqual({ kind: "unsupported", codec: HEVC });
    const broken = fakeDecoder({ fail: true });
    expect(await keyFrameThumb("u", 320, { fetch: answer(200, headers), VideoDecoder: broken.Decoder, EncodedVideoChunk: broken.Chunk, draw: vi.fn() })).toEqual({ kind: "unsupported", codec: HEVC });
    const silent = fakeDecoder({ noFrame: true });
    expect(await keyFrameThumb("u", 320, { fetch: answer(200, headers), VideoDecoder: silent.Decoder, EncodedVideoChunk: silent.Chunk, draw: vi.fn() })).toEqual({ kind: "unsupported", codec: HEVC });
  });

  it("shows nothing where nothing was recorded or the server is gone", async () => {
    const d = fakeDecoder();
    const p = (f: typeof fetch): Platform => ({ fetch: f, VideoDecoder: d.Decoder, EncodedVideoChunk: d.Chunk, draw: vi.fn() });
    expect(await keyFrameThumb("u", 320, p(answer(404)))).toEqual({ kind: "none" });
    expect(await keyFrameThumb("u", 320, p(vi.fn(async () => Promise.reject(new TypeError("refused")))))).toEqual({ kind: "none" });
    expect(d.seen.configs).toEqual([]);
  });

  it("names codec families for the placeholder", () => {
    expect(codecName(HEVC)).toBe("H.265");
    expect(codecName("hev1.2.4.L120.B0")).toBe("H.265");
    expect(codecName("avc1.64001f")).toBe("H.264");
    expect(codecName("av01.0.04M.08")).toBe("AV1");
  });
});

describe("pictures decoded in the webview", () => {
  it("keep the newest and revoke the object URLs of those dropped", async () => {
    const { keepNewest } = await import("./Timeline");
    const revoked: string[] = [];
    const spy = vi.spyOn(URL, "revokeObjectURL").mockImplementation((u: string) => void revoked.push(u));
    try {
      const m = new Map<number, import("./keyframe").KeyFrameThumb>();
      for (let i = 0; i < 5; i++) m.set(i, i === 1 ? { kind: "unsupported", codec: "hvc1" } : { kind: "image", url: `blob:${i}` });
      const kept = keepNewest(m, 2);
      expect([...kept.keys()]).toEqual([3, 4]);
      expect(revoked).toEqual(["blob:0", "blob:2"]);
    } finally {
      spy.mockRestore();
    }
  });
});
