//! Live stream stats: what the app's Live screen and `tapedeck streams` show, and the
//! health warnings a streamer acts on.
//!
//! The ingest path only bumps counters ([`Meter::config`], [`Meter::frame`],
//! [`Meter::written`]: a few additions under an uncontended lock per frame). Everything
//! derived (bitrate, frame rate, medians, warnings) is computed once a second by
//! [`Meter::sample`], which the engine's ticker calls for every live stream.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tapedeck_config::config::Format;
use tapedeck_media::codec::{AudioConfig, VideoCodec, VideoConfig};
use tapedeck_media::frame::{Frame, TrackKind};
use tapedeck_media::time::MediaTime;

/// Seconds of bitrate history kept (the app's graph: the last two minutes).
pub const HISTORY_SECS: usize = 120;
/// No key frame for longer than this is a warning.
pub const NO_KEYFRAME_AFTER: Duration = Duration::from_secs(10);
/// A publisher that sends nothing for this long is "silent".
pub const SILENT_AFTER: Duration = Duration::from_secs(5);
/// Bitrate under half its median (of the last `LOW_BITRATE_WINDOW` seconds) for this many
/// seconds in a row is a warning.
pub const LOW_BITRATE_SECS: u32 = 5;
pub const LOW_BITRATE_WINDOW: usize = 30;
/// Dropped frames and timestamps going backwards stay reported this long after the last one.
pub const RECENT: Duration = Duration::from_secs(30);

/// A live stream as `tapedeck streams --json` and the app show it. The field names are a
/// public contract.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct LiveStream {
    pub app: String,
    pub stream: String,
    /// Who publishes: `rtmp 192.168.1.20:53422`, or `pull https://...` for a pulled stream.
    pub source: String,
    pub video: Option<LiveVideo>,
    pub audio: Option<LiveAudio>,
    /// Kilobits per second received in the last second (audio and video).
    pub bitrate_kbps: u64,
    /// One value per second, oldest first, at most 120.
    pub bitrate_history_kbps: Vec<u64>,
    /// Media time recorded so far (the recording's timeline, gaps of a reconnect included).
    pub recording_s: f64,
    /// The template that applies, as `app/stream` patterns (`live/*`).
    pub template: String,
    /// Frames dropped in the hand-off from the source to the recorder (a slow disk).
    pub dropped_frames: u64,
    pub health: Vec<Health>,
    /// False while recording is stopped by hand (the publisher stays connected).
    pub recording: bool,
    /// False while the publisher is away and the interruption window runs.
    pub connected: bool,
    /// Media bytes written to each format's files so far (`m3u8`, `mp4`, `flv`).
    pub bytes_written: Vec<FormatBytes>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct LiveVideo {
    /// `h264` or `h265`.
    pub codec: String,
    pub width: u32,
    pub height: u32,
    /// Frames per second measured over the last seconds.
    pub fps: f64,
    /// Seconds between the last two key frames (0 before the second one).
    pub keyframe_interval_s: f64,
    /// H.264 profile name (`High`, `Main`, `Baseline`...) or the H.265 profile number.
    pub profile: Option<String>,
    /// Level, like `3.1`.
    pub level: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct LiveAudio {
    /// `aac`.
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u8,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct FormatBytes {
    pub format: Format,
    pub bytes: u64,
}

/// One health warning, in words a streamer can act on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Health {
    pub kind: HealthKind,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum HealthKind {
    /// No key frame for more than 10 s: players cannot start, segments cannot be cut.
    NoKeyframe,
    /// Bitrate under half of its 30 s median for more than 5 s.
    LowBitrate,
    /// Frames dropped in the hand-off to the recorder.
    DroppedFrames,
    /// Timestamps went backwards.
    TimestampsBackwards,
    /// Connected, but nothing arrived for 5 s.
    Silent,
}

/// The counters of one live stream, shared by its recording (which bumps them) and the
/// engine's once-a-second sampler.
#[derive(Clone)]
pub struct Meter(Arc<Mutex<State>>);

struct State {
    app: String,
    stream: String,
    template: String,
    source: String,
    connected: bool,
    recording: bool,
    /// Codec, size, profile and level (the measured fields are filled in by `sample`).
    video: Option<LiveVideo>,
    audio: Option<(u32, u8)>,
    /// Bytes and video frames since the last sample.
    bytes: u64,
    video_frames: u64,
    /// Video frames per second of the last samples (the frame rate averages them).
    /// Per sample of the last seconds: video frames in it and the last video dts by then.
    /// The frame rate is frames over media time, so it does not depend on when samples run.
    fps_window: VecDeque<(u64, Option<MediaTime>)>,
    last_key: Option<(MediaTime, Instant)>,
    key_interval: Option<MediaTime>,
    last_dts: [Option<MediaTime>; 2],
    last_backwards: Option<Instant>,
    last_media: Option<Instant>,
    attached_at: Instant,
    recorded: MediaTime,
    written: [u64; 3],
    dropped: Vec<Arc<AtomicU64>>,
    dropped_seen: u64,
    last_drop: Option<Instant>,
    history: VecDeque<u64>,
    low_for: u32,
}

/// The formats one frame was written to.
#[derive(Clone, Copy, Debug, Default)]
pub struct Wrote([bool; 3]);

impl Wrote {
    pub fn add(&mut self, format: Format) {
        self.0[format_slot(format)] = true;
    }
}

fn format_slot(f: Format) -> usize {
    match f {
        Format::M3u8 => 0,
        Format::Mp4 => 1,
        Format::Flv => 2,
    }
}

impl Meter {
    pub fn new(app: &str, stream: &str, template: &str, source: &str) -> Meter {
        Meter(Arc::new(Mutex::new(State {
            app: app.to_string(),
            stream: stream.to_string(),
            template: template.to_string(),
            source: source.to_string(),
            connected: true,
            recording: true,
            video: None,
            audio: None,
            bytes: 0,
            video_frames: 0,
            fps_window: VecDeque::new(),
            last_key: None,
            key_interval: None,
            last_dts: [None, None],
            last_backwards: None,
            last_media: None,
            attached_at: Instant::now(),
            recorded: MediaTime::ZERO,
            written: [0; 3],
            dropped: Vec::new(),
            dropped_seen: 0,
            last_drop: None,
            history: VecDeque::with_capacity(HISTORY_SECS),
            low_for: 0,
        })))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Counters only: a panic elsewhere cannot leave them inconsistent in a harmful way.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A publisher attached (the first, a takeover, or one back within the window).
    pub fn attached(&self, source: &str, dropped: Arc<AtomicU64>) {
        let mut s = self.lock();
        s.source = source.to_string();
        s.connected = true;
        s.attached_at = Instant::now();
        s.last_media = None;
        s.last_dts = [None, None];
        s.last_key = None;
        s.dropped.push(dropped);
    }

    /// The publisher went away: the interruption window runs.
    pub fn detached(&self) {
        self.lock().connected = false;
    }

    pub fn set_recording(&self, on: bool) {
        self.lock().recording = on;
    }

    pub fn video_config(&self, c: &VideoConfig) {
        let (profile, level) = profile_level(c);
        self.lock().video = Some(LiveVideo {
            codec: c.codec.name().to_string(),
            width: c.width,
            height: c.height,
            fps: 0.0,
            keyframe_interval_s: 0.0,
            profile,
            level,
        });
    }

    pub fn audio_config(&self, c: &AudioConfig) {
        self.lock().audio = Some((c.sample_rate, c.channels));
    }

    /// A frame arrived from the publisher (before anything is decided about it).
    pub fn frame(&self, f: &Frame) {
        let now = Instant::now();
        let mut s = self.lock();
        s.bytes += f.data.len() as u64;
        s.last_media = Some(now);
        let track = usize::from(f.kind == TrackKind::Video);
        if let Some(prev) = s.last_dts[track] {
            if f.dts < prev {
                s.last_backwards = Some(now);
            }
        }
        s.last_dts[track] = Some(f.dts);
        if f.is_video() {
            s.video_frames += 1;
            if f.keyframe {
                if let Some((prev, _)) = s.last_key {
                    if f.dts > prev {
                        s.key_interval = Some(f.dts - prev);
                    }
                }
                s.last_key = Some((f.dts, now));
            }
        }
    }

    /// A frame of `bytes` reached the files of the formats in `wrote`; the recording now
    /// reaches `recorded` (`None`: unchanged). One lock per frame for every output.
    pub fn wrote(&self, wrote: Wrote, bytes: usize, recorded: Option<MediaTime>) {
        let mut s = self.lock();
        for (slot, ok) in wrote.0.iter().enumerate() {
            if *ok {
                s.written[slot] += bytes as u64;
            }
        }
        if let Some(end) = recorded {
            s.recorded = end;
        }
    }

    /// Closes the last second: its bitrate goes into the history, warnings are worked out.
    /// Call once a second.
    pub fn sample(&self) -> LiveStream {
        let now = Instant::now();
        let mut s = self.lock();
        let kbps = s.bytes * 8 / 1000;
        s.bytes = 0;
        let frames = std::mem::take(&mut s.video_frames);
        if s.connected {
            if s.history.len() == HISTORY_SECS {
                s.history.pop_front();
            }
            s.history.push_back(kbps);
            if s.fps_window.len() == 6 {
                s.fps_window.pop_front();
            }
            let last = s.last_dts[1];
            s.fps_window.push_back((frames, last));
        }
        let dropped: u64 = s.dropped.iter().map(|d| d.load(Ordering::Relaxed)).sum();
        if dropped > s.dropped_seen {
            s.dropped_seen = dropped;
            s.last_drop = Some(now);
        }
        // Low bitrate: this second under half the median of the seconds before it.
        let low = {
            let n = s.history.len();
            if n > LOW_BITRATE_WINDOW / 2 {
                let mut past: Vec<u64> = s
                    .history
                    .iter()
                    .rev()
                    .skip(1)
                    .take(LOW_BITRATE_WINDOW)
                    .copied()
                    .collect();
                past.sort_unstable();
                let median = past[past.len() / 2];
                s.connected && median > 0 && kbps * 2 < median
            } else {
                false
            }
        };
        s.low_for = if low { s.low_for + 1 } else { 0 };
        let mut health = Vec::new();
        let silent_since = s.last_media.unwrap_or(s.attached_at);
        if s.connected && now.duration_since(silent_since) > SILENT_AFTER {
            health.push(Health {
                kind: HealthKind::Silent,
                message: format!(
                    "The encoder is connected but has sent nothing for {} s. Check that it is still streaming.",
                    now.duration_since(silent_since).as_secs()
                ),
            });
        } else if s.connected && s.video.is_some() {
            let since_key = s.last_key.map(|(_, at)| at).unwrap_or(s.attached_at);
            if now.duration_since(since_key) > NO_KEYFRAME_AFTER {
                health.push(Health {
                    kind: HealthKind::NoKeyframe,
                    message: format!(
                        "No key frame for {} s: new segments cannot start and players cannot join. Set the encoder's keyframe interval to 2 s.",
                        now.duration_since(since_key).as_secs()
                    ),
                });
            }
        }
        if s.low_for > LOW_BITRATE_SECS {
            health.push(Health {
                kind: HealthKind::LowBitrate,
                message: format!(
                    "The bitrate fell to {kbps} kbps, under half of usual, for {} s. The upload from the encoder may be struggling.",
                    s.low_for
                ),
            });
        }
        if s.last_drop.is_some_and(|t| now.duration_since(t) < RECENT) {
            health.push(Health {
                kind: HealthKind::DroppedFrames,
                message: format!(
                    "{dropped} frames were dropped because writing fell behind. Check the disk: it may be too slow or too busy."
                ),
            });
        }
        if s.last_backwards
            .is_some_and(|t| now.duration_since(t) < RECENT)
        {
            health.push(Health {
                kind: HealthKind::TimestampsBackwards,
                message: "The encoder's timestamps went backwards. The recording continues; if it repeats, restart the stream in the encoder.".to_string(),
            });
        }
        // Frames after the window's first sample that has seen a frame, over the media
        // time they span (samples taken before the first video frame hold no time: they
        // must not hold the rate back until they leave the window).
        let mut timed = s.fps_window.iter().skip_while(|(_, t)| t.is_none());
        let fps = match (timed.next(), s.fps_window.back()) {
            (Some((_, Some(from))), Some((_, Some(to)))) if to > from => {
                let frames: u64 = timed.map(|(n, _)| n).sum();
                frames as f64 / (*to - *from).as_secs_f64()
            }
            _ => 0.0,
        };
        LiveStream {
            app: s.app.clone(),
            stream: s.stream.clone(),
            source: s.source.clone(),
            video: s.video.as_ref().map(|v| LiveVideo {
                fps: (fps * 100.0).round() / 100.0,
                keyframe_interval_s: s
                    .key_interval
                    .map(|d| (d.as_secs_f64() * 1000.0).round() / 1000.0)
                    .unwrap_or(0.0),
                ..v.clone()
            }),
            audio: s.audio.map(|(sample_rate, channels)| LiveAudio {
                codec: "aac".to_string(),
                sample_rate,
                channels,
            }),
            bitrate_kbps: if s.connected { kbps } else { 0 },
            bitrate_history_kbps: s.history.iter().copied().collect(),
            recording_s: (s.recorded.as_secs_f64() * 1000.0).round() / 1000.0,
            template: s.template.clone(),
            dropped_frames: dropped,
            health,
            recording: s.recording,
            connected: s.connected,
            bytes_written: [Format::M3u8, Format::Mp4, Format::Flv]
                .into_iter()
                .filter(|f| s.written[format_slot(*f)] > 0)
                .map(|f| FormatBytes {
                    format: f,
                    bytes: s.written[format_slot(f)],
                })
                .collect(),
        }
    }
}

/// The profile and level a decoder configuration record names.
fn profile_level(c: &VideoConfig) -> (Option<String>, Option<String>) {
    let r = &c.record;
    match c.codec {
        // avcC: version, AVCProfileIndication, profile_compatibility, AVCLevelIndication.
        VideoCodec::H264 if r.len() >= 4 => {
            let profile = match r[1] {
                66 => "Baseline".to_string(),
                77 => "Main".to_string(),
                88 => "Extended".to_string(),
                100 => "High".to_string(),
                110 => "High 10".to_string(),
                122 => "High 4:2:2".to_string(),
                244 => "High 4:4:4".to_string(),
                p => format!("profile {p}"),
            };
            let level = format!("{}.{}", r[3] / 10, r[3] % 10);
            (Some(profile), Some(level))
        }
        // hvcC: version, profile space/tier/idc, 4 compatibility bytes, 6 constraint bytes,
        // general_level_idc (level x 30).
        VideoCodec::H265 if r.len() >= 13 => {
            let profile = match r[1] & 0x1f {
                1 => "Main".to_string(),
                2 => "Main 10".to_string(),
                3 => "Main Still Picture".to_string(),
                p => format!("profile {p}"),
            };
            let level = r[12] as u32;
            let level = if level.is_multiple_of(30) {
                format!("{}", level / 30)
            } else {
                format!("{}.{}", level / 30, (level % 30) / 3)
            };
            (Some(profile), Some(level))
        }
        _ => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn video(dts_ms: i64, key: bool, size: usize) -> Frame {
        Frame {
            kind: TrackKind::Video,
            dts: MediaTime::from_millis(dts_ms),
            pts: MediaTime::from_millis(dts_ms),
            keyframe: key,
            data: Bytes::from(vec![0u8; size]),
        }
    }

    #[test]
    fn bitrate_fps_and_keyframe_interval_come_from_the_counters() {
        let m = Meter::new("live", "cam", "live/*", "rtmp 127.0.0.1:5000");
        // One second of 30 fps, a key frame every 2 s, 125,000 bytes = 1,000 kbps.
        for i in 0..30 {
            m.frame(&video(i * 33, i == 0, 125_000 / 30));
        }
        m.frame(&video(2000, true, 0));
        let s = m.sample();
        assert_eq!(s.bitrate_kbps, 999);
        assert_eq!(s.bitrate_history_kbps, vec![999]);
        assert!(s.video.is_none(), "no config yet");
        assert!((s.recording_s).abs() < f64::EPSILON);
        assert!(s.health.is_empty(), "{:?}", s.health);
    }

    /// A meter of a stream whose video (H.264, 320x180) is configured.
    fn meter_320x180() -> Meter {
        let m = Meter::new("live", "cam", "*/*", "x");
        m.video_config(&VideoConfig {
            codec: VideoCodec::H264,
            record: Bytes::from_static(&[1, 66, 0, 30, 0xff]),
            parameter_sets: Vec::new(),
            nal_length_size: 4,
            width: 320,
            height: 180,
            codec_string: "avc1.42001e".into(),
        });
        m
    }

    #[test]
    fn the_frame_rate_is_measured_on_media_time_from_the_second_sample() {
        let m = meter_320x180();
        // 15 fps; the first sample comes a third of a second in.
        let mut n = 0i64;
        let mut feed = |frames: i64| {
            for _ in 0..frames {
                m.frame(&video(n * 1000 / 15, n % 30 == 0, 100));
                n += 1;
            }
        };
        feed(5);
        assert_eq!(
            m.sample().video.unwrap().fps,
            0.0,
            "one sample: no rate yet"
        );
        feed(15);
        let fps = m.sample().video.unwrap().fps;
        assert!((fps - 15.0).abs() < 0.01, "{fps}");
        feed(15);
        feed(15);
        let v = m.sample().video.unwrap();
        assert!((v.fps - 15.0).abs() < 0.01, "{}", v.fps);
        assert!(
            (v.keyframe_interval_s - 2.0).abs() < 0.001,
            "{}",
            v.keyframe_interval_s
        );
    }

    /// The Live screen showed "0 fps" for the first 6 s of streams whose first sample
    /// came before their first video frame (32 streams starting at once).
    #[test]
    fn samples_before_the_first_frame_do_not_hold_the_rate_back() {
        let m = meter_320x180();
        assert_eq!(m.sample().video.unwrap().fps, 0.0, "no frame yet");
        let mut n = 0i64;
        let mut feed = |frames: i64| {
            for _ in 0..frames {
                m.frame(&video(n * 1000 / 15, n % 30 == 0, 100));
                n += 1;
            }
        };
        feed(15);
        assert_eq!(m.sample().video.unwrap().fps, 0.0, "one timed sample");
        feed(15);
        let fps = m.sample().video.unwrap().fps;
        assert!((fps - 15.0).abs() < 0.01, "{fps}");
    }

    #[test]
    fn history_keeps_the_last_two_minutes() {
        let m = Meter::new("live", "cam", "*/*", "x");
        for _ in 0..150 {
            m.frame(&video(0, true, 1000));
            m.sample();
        }
        assert_eq!(m.sample().bitrate_history_kbps.len(), HISTORY_SECS);
    }

    #[test]
    fn a_drop_to_under_half_the_median_warns_after_five_seconds() {
        let m = Meter::new("live", "cam", "*/*", "x");
        let mut dts = 0;
        for _ in 0..30 {
            m.frame(&video(dts, true, 250_000));
            dts += 1000;
            assert!(m.sample().health.is_empty());
        }
        let mut kinds = Vec::new();
        for _ in 0..7 {
            m.frame(&video(dts, true, 50_000));
            dts += 1000;
            kinds.push(
                m.sample()
                    .health
                    .iter()
                    .any(|h| h.kind == HealthKind::LowBitrate),
            );
        }
        assert_eq!(kinds, [false, false, false, false, false, true, true]);
    }

    #[test]
    fn backwards_timestamps_and_drops_are_reported() {
        let m = Meter::new("live", "cam", "*/*", "x");
        let dropped = Arc::new(AtomicU64::new(0));
        m.attached("rtmp 1.2.3.4:5", dropped.clone());
        m.frame(&video(1000, true, 10));
        m.frame(&video(500, false, 10));
        dropped.store(3, Ordering::Relaxed);
        let s = m.sample();
        let kinds: Vec<HealthKind> = s.health.iter().map(|h| h.kind).collect();
        assert!(
            kinds.contains(&HealthKind::TimestampsBackwards),
            "{kinds:?}"
        );
        assert!(kinds.contains(&HealthKind::DroppedFrames), "{kinds:?}");
        assert_eq!(s.dropped_frames, 3);
        assert_eq!(s.source, "rtmp 1.2.3.4:5");
    }

    #[test]
    fn profile_and_level_of_an_avcc_record() {
        let c = VideoConfig {
            codec: VideoCodec::H264,
            record: Bytes::from_static(&[1, 100, 0, 31, 0xff]),
            parameter_sets: Vec::new(),
            nal_length_size: 4,
            width: 1280,
            height: 720,
            codec_string: "avc1.64001f".into(),
        };
        assert_eq!(
            profile_level(&c),
            (Some("High".to_string()), Some("3.1".to_string()))
        );
    }
}
