// Fake live streams for the mock backend: believable numbers that move every second.
import type { LiveStream } from "../bindings/LiveStream";
import type { Health } from "../bindings/Health";

/** A small deterministic random generator, so screenshots and tests repeat. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) % 100000) / 100000;
  };
}

const HEALTH: Health[] = [
  { kind: "low_bitrate", message: "The bitrate dropped under 1 Mbit/s: check the encoder's network or its bitrate setting." },
  { kind: "dropped_frames", message: "Frames were lost on the way in (12 in the last minute): the network or the encoder is overloaded." },
  { kind: "no_keyframe", message: "No key frame for 12 s: set OBS's keyframe interval to 2 s, or files cannot be cut cleanly." },
  { kind: "silent", message: "No audio arrives: check the microphone or the audio source in the encoder." },
];

export function fakeStreams(n: number, seed = 7): LiveStream[] {
  const r = rng(seed);
  const out: LiveStream[] = [];
  for (let i = 0; i < n; i++) {
    const hd = i % 3 !== 2;
    const base = hd ? 6000 : 2500;
    const history: number[] = [];
    let v = base;
    const len = 60 + Math.floor(r() * 61);
    for (let k = 0; k < len; k++) {
      v = Math.max(200, v + (r() - 0.5) * base * 0.12);
      history.push(Math.round(v));
    }
    const pulled = i % 8 === 5;
    const app = i < 2 ? "live" : i % 4 === 0 ? "studio" : "live";
    const health: Health[] = [];
    if (i % 5 === 3) health.push(HEALTH[0]);
    if (i % 7 === 4) health.push(HEALTH[1]);
    if (i === 6) health.push(HEALTH[2]);
    if (i % 11 === 9) health.push(HEALTH[3]);
    out.push({
      app,
      stream: i === 0 ? "cam1" : `cam${i + 1}`,
      source: pulled ? `pull rtmp://relay.example.net/live/feed${i}` : `OBS at 192.168.1.${20 + i}`,
      video: {
        codec: i % 4 === 1 ? "h265" : "h264",
        width: hd ? 1920 : 1280,
        height: hd ? 1080 : 720,
        fps: i % 2 === 0 ? 60 : 30,
        keyframe_interval_s: i === 6 ? 12 : 2,
        profile: "High",
        level: "4.2",
      },
      audio: { codec: "aac", sample_rate: 48000, channels: 2 },
      bitrate_kbps: history[history.length - 1],
      bitrate_history_kbps: history,
      recording_s: Math.floor(r() * 9000) + 30,
      template: app === "studio" ? "studio/*" : i === 0 ? "live/cam1" : "*/*",
      dropped_frames: i % 7 === 4 ? 12 : 0,
      health,
      recording: i % 9 !== 8,
      // Every 13th publisher has left and the reconnect window runs (?streams=32).
      connected: i % 13 !== 12,
      bytes_written: [
        { format: "m3u8", bytes: Math.round(history[history.length - 1] * 125 * 600) },
        { format: "mp4", bytes: Math.round(history[history.length - 1] * 125 * 600) },
      ],
    });
  }
  return out;
}

/** One second later: a new bitrate sample, one more second recorded. */
export function advance(streams: LiveStream[], r: () => number): LiveStream[] {
  return streams.map((s) => {
    // A publisher that left sends nothing: its numbers stay as they were.
    if (!s.connected) return s;
    const last = s.bitrate_history_kbps[s.bitrate_history_kbps.length - 1] ?? 4000;
    const target = (s.video?.width ?? 1280) >= 1920 ? 6000 : 2500;
    const next = Math.max(200, Math.round(last + (target - last) * 0.1 + (r() - 0.5) * target * 0.12));
    const history = [...s.bitrate_history_kbps, next].slice(-120);
    return {
      ...s,
      bitrate_kbps: next,
      bitrate_history_kbps: history,
      recording_s: s.recording ? s.recording_s + 1 : s.recording_s,
    };
  });
}
