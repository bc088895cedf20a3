// Written by hand from ui/IPC.md (the `LiveStream` JSON of `tapedeck streams --json`) until
// the Rust side generates it with ts-rs; replace this file with the generated one then.

export type LiveVideo = { codec: string, width: number, height: number, fps: number, keyframe_interval_s: number, profile?: string | null, level?: string | null, };

export type LiveAudio = { codec: string, sample_rate: number, channels: number, };

export type Health = { kind: "no_keyframe" | "low_bitrate" | "dropped_frames" | "timestamps_backwards" | "silent", message: string, };

export type LiveStream = { app: string, stream: string, source: string, video: LiveVideo | null, audio: LiveAudio | null, bitrate_kbps: number, 
/**
 * One per second, oldest first, at most 120.
 */
bitrate_history_kbps: Array<number>, recording_s: number, template: string, dropped_frames: number, health: Array<Health>, 
/**
 * False when stopped by hand.
 */
recording: boolean, };
