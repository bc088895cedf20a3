//! Helpers shared by the FLV writer, finalize and peer tests.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;

use super::reader::{FlvReader, FlvTag};
use super::tag::TagDecoder;
use super::writer::FlvWriter;
use crate::codec::{aac, h264};
use crate::frame::{Frame, MediaEvent, TrackKind, Tracks};
use crate::time::MediaTime;

pub(crate) const AVCC: &[u8] = include_bytes!("../../../../tests/fixtures/h264_320x240.avcc");
pub(crate) const FIXTURE: &[u8] = include_bytes!("../../../../tests/fixtures/h264_aac_2s.flv");

/// FNV-1a, 64 bits: a digest for golden tests without a hashing dependency.
pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A unique path in the temp directory (tests run in parallel, in several worktrees).
pub(crate) fn temp_path(name: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    std::env::temp_dir().join(format!(
        "tapedeck-flv-{}-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        nanos
    ))
}

fn lcg(state: &mut u32) -> u8 {
    *state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
    (*state >> 24) as u8
}

/// A deterministic H.264 + AAC stream: `seconds` at 30 fps (a key frame every 30 frames,
/// composition offsets like B-frames) and 44.1 kHz AAC, starting at a source time that is
/// not a whole millisecond, interleaved by DTS. Returns the tracks and the frames.
pub(crate) fn synthetic(seconds: u32) -> (Tracks, Vec<Frame>) {
    let video = Arc::new(h264::parse_avcc(AVCC).expect("fixture avcC parses"));
    let audio = Arc::new(aac::parse_asc(&[0x12, 0x10]).expect("AAC-LC ASC parses"));
    let base = MediaTime(10 * 90_000 + 45);
    let mut seed = 7u32;
    let mut frames = Vec::new();
    for i in 0..i64::from(seconds * 30) {
        let key = i % 30 == 0;
        let len = 40 + usize::from(lcg(&mut seed)) + if key { 600 } else { 0 };
        let mut data = (len as u32 + 1).to_be_bytes().to_vec();
        data.push(if key { 0x65 } else { 0x41 });
        data.extend((0..len).map(|_| lcg(&mut seed)));
        let dts = base + MediaTime(i * 3000);
        frames.push(Frame {
            kind: TrackKind::Video,
            dts,
            pts: dts + MediaTime(3000 * (1 + i % 3)),
            keyframe: key,
            data: Bytes::from(data),
        });
    }
    let audio_frames = i64::from(seconds) * 44_100 / 1024;
    for k in 0..audio_frames {
        let dts = base + MediaTime::from_rate(k * 1024, 44_100) + MediaTime(900);
        let len = 100 + usize::from(lcg(&mut seed));
        let data: Vec<u8> = (0..len).map(|_| lcg(&mut seed)).collect();
        frames.push(Frame {
            kind: TrackKind::Audio,
            dts,
            pts: dts,
            keyframe: true,
            data: Bytes::from(data),
        });
    }
    // Stable: a video frame stays before an audio frame of the same time.
    frames.sort_by_key(|f| f.dts);
    (
        Tracks {
            video: Some(video),
            audio: Some(audio),
        },
        frames,
    )
}

/// The writer's whole output for `frames`.
pub(crate) fn record(tracks: &Tracks, frames: &[Frame]) -> Vec<u8> {
    let mut writer = FlvWriter::new(tracks).with_encoder("Tapedeck test");
    let mut out = Vec::new();
    writer.header(&mut out);
    for f in frames {
        writer.write_frame(f, &mut out).expect("frame writes");
    }
    out
}

/// [`record`] with chapters marked as the recorder marks them: each when the first frame
/// at or after its time is written (the live edge); later ones after the last frame.
/// Returns the file and the writer's index.
pub(crate) fn record_with_chapters(
    tracks: &Tracks,
    frames: &[Frame],
    marks: &[(MediaTime, &str)],
) -> (Vec<u8>, crate::flv::FlvIndex) {
    let mut writer = FlvWriter::new(tracks).with_encoder("Tapedeck test");
    let mut out = Vec::new();
    writer.header(&mut out);
    let mut next = 0;
    for f in frames {
        while let Some(&(at, title)) = marks.get(next) {
            if at > f.dts {
                break;
            }
            writer.add_chapter(at, title, &mut out);
            next += 1;
        }
        writer.write_frame(f, &mut out).expect("frame writes");
    }
    for &(at, title) in &marks[next..] {
        writer.add_chapter(at, title, &mut out);
    }
    (out, writer.index())
}

/// The `chapters` index of an `onMetaData` value: `(seconds, title)`.
pub(crate) fn chapters_of(meta: &super::amf0::Amf0Value) -> Vec<(f64, String)> {
    use super::amf0::Amf0Value;
    let list = |key: &str| {
        meta.get("chapters")
            .and_then(|c| c.get(key))
            .and_then(Amf0Value::as_array)
            .expect("a chapters index")
            .to_vec()
    };
    list("times")
        .iter()
        .zip(list("titles"))
        .map(|(t, n)| {
            (
                t.as_f64().expect("a time"),
                n.as_str().expect("a title").to_owned(),
            )
        })
        .collect()
}

pub(crate) fn tags(bytes: &[u8]) -> Vec<FlvTag> {
    let mut reader = FlvReader::new();
    let mut tags = Vec::new();
    reader.push(bytes, &mut tags).expect("FLV parses");
    assert_eq!(reader.position(), bytes.len() as u64, "no trailing bytes");
    tags
}

/// Every event of an FLV file, through FlvReader and TagDecoder.
pub(crate) fn events(bytes: &[u8]) -> Vec<MediaEvent> {
    let mut dec = TagDecoder::new();
    let mut events = Vec::new();
    for t in tags(bytes) {
        match t.kind {
            8 => dec
                .audio(t.ts_ms, t.body, &mut events)
                .expect("audio tag decodes"),
            9 => dec
                .video(t.ts_ms, t.body, &mut events)
                .expect("video tag decodes"),
            _ => {}
        }
    }
    events
}

pub(crate) fn frames_of(events: &[MediaEvent]) -> Vec<Frame> {
    events
        .iter()
        .filter_map(|e| {
            if let MediaEvent::Frame(f) = e {
                Some(f.clone())
            } else {
                None
            }
        })
        .collect()
}

/// The fixture's tracks (its first configs) and frames.
pub(crate) fn fixture() -> (Tracks, Vec<Frame>) {
    let events = events(FIXTURE);
    let mut tracks = Tracks::default();
    for e in &events {
        match e {
            MediaEvent::VideoConfig(c) if tracks.video.is_none() => tracks.video = Some(c.clone()),
            MediaEvent::AudioConfig(c) if tracks.audio.is_none() => tracks.audio = Some(c.clone()),
            _ => {}
        }
    }
    (tracks, frames_of(&events))
}
