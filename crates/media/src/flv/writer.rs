//! The FLV recorder: a sans-IO writer whose output is playable at every tag boundary.
//!
//! File layout (FLV 10.1 spec, annex E):
//! ```text
//! "FLV" 1 flags(audio 0x04 | video 0x01) 00000009      header (E.2)
//! PreviousTagSize0 = 0
//! tag 18  onMetaData (provisional: no duration, no index;  } each tag: 11-byte header
//!         the caller's entries, if any)                    }
//! tag 9   video sequence header (avcC / hvcC)              } (type, u24 size, u24 ts,
//! tag 8   audio sequence header (AudioSpecificConfig)      }  u8 ts-ext, u24 stream 0),
//! tag 9/8 frames, in the order given, ...                  }  body, u32 PreviousTagSize
//! ```
//! The recorder appends every byte this returns to a temp file, so a killed process leaves
//! a file players open (without duration or seek index). [`finalize`](super::finalize())
//! then rewrites it with the complete `onMetaData` (duration, `keyframes` index).

use bytes::Bytes;

use super::amf0::Amf0Value;
use super::scan::Scan;
use super::tag::{
    encode_audio_config, encode_audio_frame, encode_video_config, encode_video_frame,
};
use super::tag::{TimestampUnwrapper, TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO};
use crate::codec::{AudioConfig, VideoCodec, VideoConfig};
use crate::frame::{Frame, MediaEvent, TrackKind, Tracks};
use crate::time::MediaTime;

use std::sync::Arc;

/// Version of the bytes [`FlvWriter`] + [`finalize`](super::finalize()) produce. The golden
/// test pins a digest of a generated file to it: when the output changes on purpose, bump
/// this AND the digest in `tests::golden_digest` together.
///
/// - 1: provisional `onMetaData`, finalized with duration and `keyframes`.
/// - 2: optional `onMetaData` entries of the caller's own (the recorder's `tapedeck` tag);
///   without them the bytes are those of version 1. Later, in the same version: optional
///   chapters (`onCuePoint` tags, `onMetaData.chapters`); without chapters the bytes did
///   not change.
pub const FORMAT_VERSION: u32 = 2;

/// Largest tag body: the size field has 24 bits (E.4.1).
pub(crate) const MAX_TAG_BODY: usize = (1 << 24) - 1;

/// The `encoder` value written into `onMetaData` by default.
pub fn default_encoder() -> String {
    format!("Tapedeck {}", env!("CARGO_PKG_VERSION"))
}

#[derive(Debug, thiserror::Error)]
pub enum FlvError {
    #[error("{kind:?} frame at {dts} arrived before any {kind:?} configuration")]
    NoConfig { kind: TrackKind, dts: MediaTime },
    #[error(
        "{kind:?} frame at {dts} is {size} bytes, more than an FLV tag holds ({MAX_TAG_BODY})"
    )]
    TagTooLarge {
        kind: TrackKind,
        dts: MediaTime,
        size: usize,
    },
    #[error("reading the FLV recording at byte {offset}: {source}")]
    Read { offset: u64, source: std::io::Error },
    #[error("writing the final FLV at byte {offset}: {source}")]
    Write { offset: u64, source: std::io::Error },
    #[error("the recording is not an FLV file: {0}")]
    NotFlv(#[from] super::reader::FlvReadError),
    #[error("the recording has no complete FLV header ({len} bytes)")]
    NoHeader { len: u64 },
    #[error("the recording changed while being finalized: {detail}")]
    InputChanged { detail: String },
    #[error("onMetaData size did not settle: positions assumed media at byte {assumed}, it is at {actual}")]
    MetadataUnstable { assumed: u64, actual: u64 },
    #[error("a keyframes index of {keyframes} entries does not fit in one FLV tag (16 MiB)")]
    MetadataTooLarge { keyframes: u64 },
}

/// Writes one FLV file. Feed it the events of one recording, in order.
#[derive(Debug)]
pub struct FlvWriter {
    video: Option<Arc<VideoConfig>>,
    audio: Option<Arc<AudioConfig>>,
    encoder: String,
    header_done: bool,
    /// DTS of the first frame of the file: tag time 0.
    origin: Option<MediaTime>,
    /// Timestamp of the last tag written, for mid-stream sequence headers.
    last_ts_ms: u32,
    /// Extra `onMetaData` entries (the caller's own), after the ones we compute.
    metadata: Vec<(String, Amf0Value)>,
    /// What finalize would learn by reading the file back, kept as it is written.
    index: Scan,
    clock: TimestampUnwrapper,
}

/// What an [`FlvWriter`] wrote, as [`finalize_in_place_known`](super::finalize_in_place_known)
/// needs it: statistics and the key frame table, so the file need not be read back.
#[derive(Clone, Debug, PartialEq)]
pub struct FlvIndex(pub(super) Scan);

impl FlvIndex {
    /// Bytes of the file it describes.
    pub fn len(&self) -> u64 {
        self.0.input_len
    }

    pub fn is_empty(&self) -> bool {
        self.0.input_len == 0
    }
}

impl FlvWriter {
    /// A writer for `tracks`; a missing track is left out of the header flags and metadata.
    pub fn new(tracks: &Tracks) -> Self {
        FlvWriter {
            video: tracks.video.clone(),
            audio: tracks.audio.clone(),
            encoder: default_encoder(),
            header_done: false,
            origin: None,
            last_ts_ms: 0,
            metadata: Vec::new(),
            index: Scan::default(),
            clock: TimestampUnwrapper::default(),
        }
    }

    /// Adds entries of the caller's own to the provisional `onMetaData`, so a file left by
    /// a crash still carries them (read them back with [`super::read_metadata`]). Finalize
    /// does not copy them by itself: pass them in [`super::FinalizeOptions::metadata`].
    pub fn with_metadata(mut self, entries: Vec<(String, Amf0Value)>) -> Self {
        self.metadata = entries;
        self
    }

    /// Replaces the `encoder` metadata value (finalize carries it over). Tests pin it so
    /// the golden digest does not change with the crate version.
    pub fn with_encoder(mut self, encoder: impl Into<String>) -> Self {
        self.encoder = encoder.into();
        self
    }

    /// The FLV header, PreviousTagSize0, a provisional `onMetaData` and a sequence header
    /// tag per known track. Called once, first; [`write_frame`](Self::write_frame) calls it
    /// itself if the caller did not.
    pub fn header(&mut self, out: &mut Vec<u8>) {
        if self.header_done {
            return;
        }
        self.header_done = true;
        out.extend_from_slice(&file_header(self.video.is_some(), self.audio.is_some()));
        let meta = self.provisional_metadata();
        push_tag(out, TAG_SCRIPT, 0, &meta);
        self.index.wrote_header(meta.len(), &self.encoder);
        if let Some(v) = self.video.clone() {
            self.push_config(0, MediaEvent::VideoConfig(v), out);
        }
        if let Some(a) = self.audio.clone() {
            self.push_config(0, MediaEvent::AudioConfig(a), out);
        }
    }

    /// A sequence header tag for `config` (a video or audio config) at `ts_ms`, indexed.
    fn push_config(&mut self, ts_ms: u32, config: MediaEvent, out: &mut Vec<u8>) {
        let (kind, body) = match &config {
            MediaEvent::VideoConfig(c) => (TAG_VIDEO, encode_video_config(c)),
            MediaEvent::AudioConfig(c) => (TAG_AUDIO, encode_audio_config(c)),
            MediaEvent::Frame(_) => return,
        };
        push_tag(out, kind, ts_ms, &body);
        self.index
            .wrote_tag(&mut self.clock, ts_ms, body.len(), config);
    }

    /// What was written so far (see [`FlvIndex`]).
    pub fn index(&self) -> FlvIndex {
        FlvIndex(self.index.clone())
    }

    /// A new configuration mid-stream (an encoder restart): a new sequence header tag, at
    /// the time of the last tag so timestamps stay monotonic. A config equal to the current
    /// one writes nothing (OBS resends its headers on every reconnect). Frames go to
    /// [`write_frame`](Self::write_frame) and are ignored here.
    pub fn write_config(&mut self, event: &MediaEvent, out: &mut Vec<u8>) {
        self.header(out);
        match event {
            MediaEvent::VideoConfig(c) => {
                if self.video.as_ref().map(|v| &v.record) != Some(&c.record) {
                    self.video = Some(c.clone());
                    self.push_config(self.last_ts_ms, event.clone(), out);
                }
            }
            MediaEvent::AudioConfig(c) => {
                if self.audio.as_ref().map(|a| &a.asc) != Some(&c.asc) {
                    self.audio = Some(c.clone());
                    self.push_config(self.last_ts_ms, event.clone(), out);
                }
            }
            MediaEvent::Frame(_) => {}
        }
    }

    /// One frame as one tag. The tag time is milliseconds since the first frame's DTS (so
    /// the file starts at 0 whatever the source clock); the composition offset is carried
    /// in the tag as `pts - dts`, both rounded to milliseconds from the same origin so
    /// they do not drift apart.
    pub fn write_frame(&mut self, frame: &Frame, out: &mut Vec<u8>) -> Result<(), FlvError> {
        self.header(out);
        let origin = *self.origin.get_or_insert(frame.dts);
        // A frame of one track may start slightly before the other track's first frame; FLV
        // times are unsigned, so it is clamped to 0 rather than wrapped to 49 days.
        let rel_dts_ms = (frame.dts - origin).as_millis();
        let cts_ms = (frame.pts - origin).as_millis() - rel_dts_ms;
        let dts_ms = rel_dts_ms.max(0);
        // encode_video_frame takes the composition offset from the frame's own times.
        let rounded = Frame {
            dts: MediaTime::from_millis(dts_ms),
            pts: MediaTime::from_millis(dts_ms + cts_ms),
            ..frame.clone()
        };
        let (kind, body) = match frame.kind {
            TrackKind::Video => {
                let codec = self.video_codec().ok_or(FlvError::NoConfig {
                    kind: frame.kind,
                    dts: frame.dts,
                })?;
                (TAG_VIDEO, encode_video_frame(codec, &rounded))
            }
            TrackKind::Audio => {
                if self.audio.is_none() {
                    return Err(FlvError::NoConfig {
                        kind: frame.kind,
                        dts: frame.dts,
                    });
                }
                (TAG_AUDIO, encode_audio_frame(&rounded))
            }
        };
        if body.len() > MAX_TAG_BODY {
            return Err(FlvError::TagTooLarge {
                kind: frame.kind,
                dts: frame.dts,
                size: body.len(),
            });
        }
        // Times past 2^32 ms (49 days) wrap, as the format's own 32-bit timestamps do.
        let ts = dts_ms as u32;
        push_tag(out, kind, ts, &body);
        self.last_ts_ms = ts;
        // The index sees the frame as a reader of the tag would: its key frame flag, and no
        // data (only the length counts).
        let seen = Frame {
            data: Bytes::new(),
            ..rounded
        };
        self.index
            .wrote_tag(&mut self.clock, ts, body.len(), MediaEvent::Frame(seen));
        Ok(())
    }

    /// Marks a chapter titled `title` starting at `at` (the timeline of the frames
    /// written): an `onCuePoint` script tag at that time, appended to `out` at once (see
    /// `cue.rs`), so a crash keeps it. A chapter before the first frame starts at 0.
    /// The finalizers list the chapters in `onMetaData.chapters`.
    pub fn add_chapter(&mut self, at: MediaTime, title: &str, out: &mut Vec<u8>) {
        self.header(out);
        let ms = self
            .origin
            .map_or(0, |origin| (at - origin).as_millis().max(0));
        // Times past 2^32 ms wrap, as the format's own timestamps do.
        let ts = ms as u32;
        let body = super::cue::body(ts, title);
        push_tag(out, TAG_SCRIPT, ts, &body);
        self.index
            .wrote_cue_point(&mut self.clock, ts, body.len(), title);
    }

    fn video_codec(&self) -> Option<VideoCodec> {
        self.video.as_ref().map(|v| v.codec)
    }

    /// What is known before the first frame. No `duration`: a 0 would make some players
    /// (flv.js) show a live stream of length 0; finalize writes the real one.
    fn provisional_metadata(&self) -> Bytes {
        let mut props = Vec::new();
        if let Some(v) = &self.video {
            props.push(("width".to_owned(), Amf0Value::Number(f64::from(v.width))));
            props.push(("height".to_owned(), Amf0Value::Number(f64::from(v.height))));
            props.push((
                "videocodecid".to_owned(),
                Amf0Value::Number(video_codec_id(v.codec)),
            ));
        }
        if let Some(a) = &self.audio {
            props.push((
                "audiocodecid".to_owned(),
                Amf0Value::Number(AUDIO_CODEC_ID_AAC),
            ));
            props.push((
                "audiosamplerate".to_owned(),
                Amf0Value::Number(f64::from(a.sample_rate)),
            ));
            props.push(("stereo".to_owned(), Amf0Value::Boolean(a.channels >= 2)));
        }
        props.push((
            "encoder".to_owned(),
            Amf0Value::String(self.encoder.clone()),
        ));
        props.extend(self.metadata.iter().cloned());
        script_body(Amf0Value::EcmaArray(props))
    }
}

/// `SoundFormat` 10 (E.4.2.1).
pub(crate) const AUDIO_CODEC_ID_AAC: f64 = 10.0;

/// `videocodecid` for `onMetaData`: 7 for AVC (E.4.3.1). HEVC has no id in the FLV spec;
/// 12 is the de-facto id of the Chinese CDN extension that SRS, flv.js forks and patched
/// ffmpeg builds read. (Enhanced RTMP suggests the FourCC as a number instead, but every
/// player takes the codec from the sequence header, which here is E-RTMP `hvc1`.)
pub(crate) fn video_codec_id(codec: VideoCodec) -> f64 {
    match codec {
        VideoCodec::H264 => 7.0,
        VideoCodec::H265 => 12.0,
    }
}

/// The 9-byte FLV header and PreviousTagSize0 (E.2, E.3).
pub(crate) fn file_header(video: bool, audio: bool) -> [u8; 13] {
    let flags = if audio { 0x04 } else { 0 } | if video { 0x01 } else { 0 };
    [b'F', b'L', b'V', 1, flags, 0, 0, 0, 9, 0, 0, 0, 0]
}

/// A script tag body: the name `onMetaData` and its ECMA array.
pub(crate) fn script_body(meta: Amf0Value) -> Bytes {
    let mut b = Vec::new();
    Amf0Value::String("onMetaData".to_owned()).encode(&mut b);
    meta.encode(&mut b);
    Bytes::from(b)
}

/// The 11-byte tag header (E.4.1): the timestamp's low 24 bits, then its high 8 bits in
/// `TimestampExtended`; stream id always 0.
pub(crate) fn tag_header(kind: u8, ts_ms: u32, size: usize) -> [u8; 11] {
    let s = (size as u32).to_be_bytes();
    let t = ts_ms.to_be_bytes();
    [kind, s[1], s[2], s[3], t[1], t[2], t[3], t[0], 0, 0, 0]
}

/// Appends a whole tag with its PreviousTagSize. Callers check `body.len()` first.
pub(crate) fn push_tag(out: &mut Vec<u8>, kind: u8, ts_ms: u32, body: &[u8]) {
    out.extend_from_slice(&tag_header(kind, ts_ms, body.len()));
    out.extend_from_slice(body);
    out.extend_from_slice(&((11 + body.len()) as u32).to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{aac, hevc};
    use crate::flv::finalize::finalize;
    use crate::flv::test_support::{events, fixture, fnv1a64, frames_of, record, synthetic, tags};

    /// What a frame becomes in the file: times in whole ms from the first frame's DTS, the
    /// composition offset rounded from the same origin.
    fn as_written(f: &Frame, origin: MediaTime) -> Frame {
        let dts = (f.dts - origin).as_millis().max(0);
        let cts = (f.pts - origin).as_millis() - (f.dts - origin).as_millis();
        Frame {
            dts: MediaTime::from_millis(dts),
            pts: MediaTime::from_millis(dts + cts),
            ..f.clone()
        }
    }

    #[test]
    fn output_reads_back_as_the_same_frames() {
        for (tracks, frames) in [synthetic(3), fixture()] {
            let bytes = record(&tracks, &frames);
            let back = frames_of(&events(&bytes));
            let origin = frames[0].dts;
            let want: Vec<_> = frames.iter().map(|f| as_written(f, origin)).collect();
            assert_eq!(back.len(), want.len());
            for (i, (b, w)) in back.iter().zip(&want).enumerate() {
                assert_eq!(b, w, "frame {i}");
            }
            assert_eq!(back[0].dts, MediaTime::ZERO, "first frame at 0");
            assert!(
                back.iter().any(|f| f.pts != f.dts),
                "composition offsets kept"
            );
            assert!(back.iter().any(|f| f.is_video() && !f.keyframe));
        }
        // The fixture's times are whole milliseconds from 0: they come back unchanged.
        let (tracks, frames) = fixture();
        assert_eq!(frames_of(&events(&record(&tracks, &frames))), frames);
    }

    #[test]
    fn header_flags_provisional_metadata_and_sequence_headers() {
        let (tracks, _) = synthetic(1);
        let cases = [
            (tracks.clone(), 0x05, vec![18, 9, 8]),
            (
                Tracks {
                    audio: None,
                    ..tracks.clone()
                },
                0x01,
                vec![18, 9],
            ),
            (
                Tracks {
                    video: None,
                    ..tracks.clone()
                },
                0x04,
                vec![18, 8],
            ),
        ];
        for (t, flags, kinds) in cases {
            let mut out = Vec::new();
            let mut w = FlvWriter::new(&t);
            w.header(&mut out);
            w.header(&mut out); // a second call writes nothing
            assert_eq!(
                &out[..13],
                &[b'F', b'L', b'V', 1, flags, 0, 0, 0, 9, 0, 0, 0, 0]
            );
            let tags = tags(&out);
            assert_eq!(tags.iter().map(|t| t.kind).collect::<Vec<_>>(), kinds);
            assert!(tags.iter().all(|t| t.ts_ms == 0));
            let meta = Amf0Value::decode_all(&tags[0].body).expect("metadata decodes");
            assert_eq!(meta[0].as_str(), Some("onMetaData"));
            let m = &meta[1];
            assert_eq!(
                m.get("width").and_then(Amf0Value::as_f64),
                t.video.as_ref().map(|_| 320.0)
            );
            assert_eq!(
                m.get("height").and_then(Amf0Value::as_f64),
                t.video.as_ref().map(|_| 240.0)
            );
            assert_eq!(
                m.get("videocodecid").and_then(Amf0Value::as_f64),
                t.video.as_ref().map(|_| 7.0)
            );
            assert_eq!(
                m.get("audiocodecid").and_then(Amf0Value::as_f64),
                t.audio.as_ref().map(|_| 10.0)
            );
            assert_eq!(
                m.get("audiosamplerate").and_then(Amf0Value::as_f64),
                t.audio.as_ref().map(|_| 44100.0)
            );
            assert_eq!(
                m.get("stereo").and_then(Amf0Value::as_bool),
                t.audio.as_ref().map(|_| true)
            );
            assert_eq!(
                m.get("encoder")
                    .and_then(Amf0Value::as_str)
                    .map(|s| s.starts_with("Tapedeck ")),
                Some(true)
            );
            assert!(
                m.get("duration").is_none(),
                "no duration before the end is known"
            );
        }
    }

    #[test]
    fn mid_stream_config_writes_a_new_sequence_header() {
        let (tracks, frames) = synthetic(1);
        let mut w = FlvWriter::new(&tracks);
        let mut out = Vec::new();
        for f in &frames[..10] {
            w.write_frame(f, &mut out).expect("writes");
        }
        // The same config again: nothing. A new one: a sequence header at the last time.
        let len = out.len();
        w.write_config(
            &MediaEvent::VideoConfig(tracks.video.clone().expect("video")),
            &mut out,
        );
        assert_eq!(out.len(), len);
        let hvcc = hevc::parse_hvcc(include_bytes!(
            "../../../../tests/fixtures/hevc_320x240.hvcc"
        ))
        .expect("hvcC");
        w.write_config(&MediaEvent::VideoConfig(Arc::new(hvcc)), &mut out);
        let asc48 = aac::parse_asc(&[0x11, 0x90]).expect("ASC");
        w.write_config(&MediaEvent::AudioConfig(Arc::new(asc48)), &mut out);
        let hevc_frame = Frame {
            keyframe: true,
            ..frames[10].clone()
        };
        w.write_frame(&hevc_frame, &mut out).expect("writes");
        let ev = events(&out);
        let configs: Vec<String> = ev
            .iter()
            .filter_map(|e| match e {
                MediaEvent::VideoConfig(c) => Some(c.codec.name().to_owned()),
                MediaEvent::AudioConfig(c) => Some(c.sample_rate.to_string()),
                MediaEvent::Frame(_) => None,
            })
            .collect();
        assert_eq!(configs, ["h264", "44100", "h265", "48000"]);
        let t = tags(&out);
        let last_ts = t[t.len() - 4].ts_ms;
        assert!(last_ts > 0);
        assert_eq!(
            (t[t.len() - 3].ts_ms, t[t.len() - 2].ts_ms),
            (last_ts, last_ts)
        );
        assert_eq!(
            frames_of(&ev).last().map(|f| f.data.clone()),
            Some(hevc_frame.data)
        );
    }

    #[test]
    fn frames_without_config_are_errors() {
        let (tracks, frames) = synthetic(1);
        let mut w = FlvWriter::new(&Tracks {
            video: None,
            ..tracks
        });
        let mut out = Vec::new();
        let video = frames.iter().find(|f| f.is_video()).expect("video frame");
        assert!(matches!(
            w.write_frame(video, &mut out),
            Err(FlvError::NoConfig {
                kind: TrackKind::Video,
                ..
            })
        ));
        let mut w = FlvWriter::new(&Tracks::default());
        let audio = frames.iter().find(|f| !f.is_video()).expect("audio frame");
        assert!(matches!(
            w.write_frame(audio, &mut out),
            Err(FlvError::NoConfig {
                kind: TrackKind::Audio,
                ..
            })
        ));
    }

    #[test]
    fn timestamps_are_relative_clamped_and_extended() {
        let (tracks, frames) = synthetic(1);
        let mut w = FlvWriter::new(&tracks);
        let mut out = Vec::new();
        let first = frames[0].clone();
        w.write_frame(&first, &mut out).expect("writes");
        // An audio frame 5 ms before the first frame: clamped to 0, not wrapped.
        let early = frames.iter().find(|f| !f.is_video()).expect("audio");
        let early = Frame {
            dts: first.dts - MediaTime::from_millis(5),
            pts: first.dts - MediaTime::from_millis(5),
            ..early.clone()
        };
        w.write_frame(&early, &mut out).expect("writes");
        // 5 hours in: the timestamp needs the extended byte (2^24 ms is 4.66 h).
        let late = Frame {
            dts: first.dts + MediaTime::from_secs(5 * 3600),
            pts: first.dts + MediaTime::from_secs(5 * 3600),
            ..early.clone()
        };
        w.write_frame(&late, &mut out).expect("writes");
        let t = tags(&out);
        let n = t.len();
        assert_eq!(
            (t[n - 3].ts_ms, t[n - 2].ts_ms, t[n - 1].ts_ms),
            (0, 0, 5 * 3600 * 1000)
        );
    }

    /// Brittle on purpose: any change to the bytes the writer or finalize produce fails
    /// here. If the change is intended, bump FORMAT_VERSION and update the digest.
    ///
    /// Version 2 added `onMetaData` entries of the caller's own (the recorder's `tapedeck`
    /// tag), written here as the recorder writes them; without them the bytes are those of
    /// version 1, which the second check pins.
    #[test]
    fn golden_digest() {
        use crate::flv::finalize::{finalize_with, FinalizeOptions};
        let (tracks, frames) = synthetic(3);
        let extra = vec![(
            "tapedeck".to_owned(),
            Amf0Value::String(r#"{"recording":"live/cam1/1795515330000"}"#.to_owned()),
        )];
        let mut w = FlvWriter::new(&tracks)
            .with_encoder("Tapedeck test")
            .with_metadata(extra.clone());
        let mut temp = Vec::new();
        for f in &frames {
            w.write_frame(f, &mut temp).expect("frame writes");
        }
        let mut out = Vec::new();
        let options = FinalizeOptions { metadata: extra };
        let summary =
            finalize_with(std::io::Cursor::new(&temp), &mut out, &options).expect("finalizes");
        assert_eq!(summary.bytes, out.len() as u64);
        let digest = fnv1a64(&out);
        assert_eq!(
            (FORMAT_VERSION, out.len(), digest),
            (2, 50_692, 0x89de_bb76_5e73_74d7),
            "output changed: bump FORMAT_VERSION and pin the new digest {digest:#018x} if intended"
        );

        let temp = record(&tracks, &frames);
        let mut out = Vec::new();
        finalize(std::io::Cursor::new(&temp), &mut out).expect("finalizes");
        assert_eq!(
            (out.len(), fnv1a64(&out)),
            (50_640, 0x5396_20e6_b6b7_3aa5),
            "without extra metadata: the bytes of version 1"
        );

        // With chapters (optional, added in version 2 without changing the bytes of a
        // recording without them): the cue point tags, retyped, and onMetaData.chapters.
        let t0 = frames[0].dts;
        let marks = [
            (t0 + MediaTime::from_millis(500), "One"),
            (t0 + MediaTime::from_millis(1750), "Two é"),
        ];
        let (temp, _) = crate::flv::test_support::record_with_chapters(&tracks, &frames, &marks);
        let mut out = Vec::new();
        let summary = finalize(std::io::Cursor::new(&temp), &mut out).expect("finalizes");
        assert_eq!(summary.chapters, 2);
        assert_eq!(
            (FORMAT_VERSION, out.len(), fnv1a64(&out)),
            (2, 50_903, 0xe620_f7ab_5355_9e49),
            "with chapters"
        );
    }
}
