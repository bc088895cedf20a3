// Thumbnails the engine cannot make (it decodes H.264 only): the engine hands over the
// key frame itself (Annex B, with its codec string and size in headers) and the webview
// decodes it with WebCodecs where the platform can (H.265 on most macOS and Windows
// machines, and on Linux where GStreamer has a decoder). Where it cannot, the timeline
// shows a placeholder that says so.

export type KeyFrameThumb =
  /** A picture: an object URL of a JPEG, to revoke when dropped. */
  | { kind: "image"; url: string }
  /** A key frame this platform cannot decode. */
  | { kind: "unsupported"; codec: string }
  /** No key frame there (nothing recorded, or not video). */
  | { kind: "none" };

/** What `keyFrameThumb` needs of the platform (the real ones by default; tests swap them). */
export type Platform = {
  fetch: typeof fetch;
  VideoDecoder?: typeof VideoDecoder;
  EncodedVideoChunk?: typeof EncodedVideoChunk;
  /** Draws a decoded frame `width` px wide and gives an object URL of its JPEG. */
  draw: (frame: VideoFrame, width: number) => Promise<string>;
};

async function drawToJpeg(frame: VideoFrame, width: number): Promise<string> {
  const w = Math.max(1, Math.round(width));
  const h = Math.max(1, Math.round((frame.displayHeight * w) / frame.displayWidth));
  const canvas = document.createElement("canvas");
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext("2d");
  if (!ctx) throw new Error("no 2D canvas");
  ctx.drawImage(frame, 0, 0, w, h);
  const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.8));
  if (!blob) throw new Error("the canvas gave no JPEG");
  return URL.createObjectURL(blob);
}

function platform(): Platform {
  const g = globalThis as unknown as Partial<Platform>;
  return { fetch: globalThis.fetch.bind(globalThis), VideoDecoder: g.VideoDecoder, EncodedVideoChunk: g.EncodedVideoChunk, draw: drawToJpeg };
}

/** The picture of the key frame at `url` (the engine's `/keyframe`), `width` px wide. */
export async function keyFrameThumb(url: string, width: number, p: Platform = platform()): Promise<KeyFrameThumb> {
  let r: Response;
  try {
    r = await p.fetch(url);
  } catch {
    return { kind: "none" };
  }
  if (!r.ok) return { kind: "none" };
  const codec = r.headers.get("x-codec") ?? "";
  const codedWidth = Number(r.headers.get("x-width")) || undefined;
  const codedHeight = Number(r.headers.get("x-height")) || undefined;
  if (!codec) return { kind: "none" };
  if (!p.VideoDecoder || !p.EncodedVideoChunk) return { kind: "unsupported", codec };
  const config: VideoDecoderConfig = { codec, codedWidth, codedHeight, optimizeForLatency: true };
  try {
    const support = await p.VideoDecoder.isConfigSupported(config);
    if (!support.supported) return { kind: "unsupported", codec };
  } catch {
    return { kind: "unsupported", codec };
  }
  const data = await r.arrayBuffer();
  const Chunk = p.EncodedVideoChunk;
  const Decoder = p.VideoDecoder;
  return new Promise<KeyFrameThumb>((resolve) => {
    let done = false;
    let gotFrame = false;
    const finish = (t: KeyFrameThumb) => {
      if (done) return;
      done = true;
      resolve(t);
      try {
        decoder.close();
      } catch {
        // closed already
      }
    };
    const decoder = new Decoder({
      output: (frame) => {
        gotFrame = true;
        p.draw(frame, width)
          .then((url) => finish({ kind: "image", url }))
          .catch(() => finish({ kind: "unsupported", codec }))
          .finally(() => frame.close());
      },
      error: () => finish({ kind: "unsupported", codec }),
    });
    try {
      decoder.configure(config);
      decoder.decode(new Chunk({ type: "key", timestamp: 0, data }));
      decoder.flush().then(
        // A flush that gave no frame: nothing this platform can show.
        () => {
          if (!gotFrame) finish({ kind: "unsupported", codec });
        },
        () => finish({ kind: "unsupported", codec }),
      );
    } catch {
      finish({ kind: "unsupported", codec });
    }
  });
}

/** "H.265" for `hvc1.…`/`hev1.…`, else the codec string's first part. */
export function codecName(codec: string): string {
  const family = codec.split(".")[0];
  if (family === "hvc1" || family === "hev1") return "H.265";
  if (family === "avc1" || family === "avc3") return "H.264";
  if (family === "av01") return "AV1";
  return family || codec;
}
