//! H.265 over RTMP, both as Enhanced RTMP (`hvc1`) and as the legacy codec id 12. Debian's
//! ffmpeg 5.1 cannot publish HEVC over RTMP, so the test publishes it itself: ffmpeg makes
//! an HEVC + AAC MPEG-TS, Tapedeck's own demuxer turns it into frames, and a small
//! `rml_rtmp` client sends them. ffprobe then reads what Tapedeck recorded.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod common;
#[path = "common/publisher.rs"]
mod publisher;

use common::*;
use publisher::{publish, HevcSignalling};
use tapedeck_media::ts::demux::TsDemuxer;
use tapedeck_media::MediaEvent;

const TEMPLATE: &str = r#"
[[template]]
formats = ["m3u8", "mp4", "flv"]
interruption_window = "1s"
[template.m3u8]
slice_duration = "2s"
"#;

fn hevc_events(dir: &std::path::Path) -> (Vec<MediaEvent>, u64) {
    let ts = dir.join("hevc.ts");
    ffmpeg_ok(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=30",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-t",
        "4",
        "-c:v",
        "libx265",
        "-x265-params",
        "log-level=none:keyint=30",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-ac",
        "2",
        "-f",
        "mpegts",
        "-y",
        ts.to_str().unwrap(),
    ]);
    let mut demuxer = TsDemuxer::new();
    let mut events = Vec::new();
    demuxer
        .push(&std::fs::read(&ts).unwrap(), &mut events)
        .unwrap();
    demuxer.flush(&mut events).unwrap();
    // Decode order across tracks, configs first, as an encoder sends them.
    events.sort_by_key(|e| match e {
        MediaEvent::Frame(f) => (1, f.dts),
        _ => (0, tapedeck_media::MediaTime::ZERO),
    });
    let frames = events
        .iter()
        .filter(|e| matches!(e, MediaEvent::Frame(f) if f.is_video()))
        .count() as u64;
    (events, frames)
}

fn record_hevc(signalling: HevcSignalling) {
    let dir = TempDir::new("hevc");
    let (events, pushed) = hevc_events(dir.path());
    let server = Server::start(dir.path(), TEMPLATE);
    publish(server.port, "live", "hevc", &events, signalling);
    let root = server.recordings().join("record/live/hevc");
    let (playlist, mp4, flv) = wait_finished(&root, 30);
    let log = server.stop();
    for file in [&playlist, &mp4] {
        let got = ffprobe(file);
        let v = got
            .video
            .clone()
            .unwrap_or_else(|| panic!("{}: {got:?}\n{log}", file.display()));
        assert_eq!(
            (v.codec.as_str(), v.width, v.height),
            ("hevc", 320, 240),
            "{}",
            file.display()
        );
        assert_eq!(v.packets, pushed, "{}: every frame once", file.display());
        let a = got
            .audio
            .clone()
            .unwrap_or_else(|| panic!("{}: no audio", file.display()));
        assert_eq!(
            (a.codec.as_str(), a.sample_rate, a.channels),
            ("aac", 48000, 2)
        );
        let errors = decode_errors(file);
        assert!(errors.trim().is_empty(), "{}: {errors}", file.display());
    }
    // ffmpeg 5.1 reads no HEVC in FLV; Tapedeck's own reader checks the file instead.
    let bytes = std::fs::read(&flv).unwrap();
    let mut tags = Vec::new();
    tapedeck_media::flv::reader::FlvReader::new()
        .push(&bytes, &mut tags)
        .unwrap();
    let mut dec = tapedeck_media::flv::tag::TagDecoder::new();
    let mut out = Vec::new();
    for t in tags {
        match t.kind {
            8 => dec.audio(t.ts_ms, t.body, &mut out).unwrap(),
            9 => dec.video(t.ts_ms, t.body, &mut out).unwrap(),
            _ => {}
        }
    }
    let flv_video = out
        .iter()
        .filter(|e| matches!(e, MediaEvent::Frame(f) if f.is_video()))
        .count() as u64;
    assert_eq!(flv_video, pushed, "flv holds every HEVC frame");
    assert!(
        matches!(out.first(), Some(MediaEvent::VideoConfig(c)) if c.codec == tapedeck_media::VideoCodec::H265)
    );
}

#[test]
fn hevc_over_enhanced_rtmp() {
    record_hevc(HevcSignalling::Enhanced);
}

#[test]
fn hevc_over_legacy_codec_id_12() {
    record_hevc(HevcSignalling::LegacyId12);
}
