//! Cycles: past its cycle a recording starts a new file (mp4, flv) or playlist (m3u8) at
//! the next key frame, with no frame lost or written twice at the cut.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

use std::path::Path;
use std::process::Command;

use tapedeck_ingest::{PublishRequest, PublishSink};
use tapedeck_media::MediaEvent;
use tapedeck_recorder::config::{FileOptions, Format, M3u8Options, Template};
use tapedeck_recorder::duration::Secs;
use tapedeck_recorder::events::{FileKind, RecorderEvent};
use tapedeck_recorder::{Config, Recorder};

mod common;

use common::{long_stream, record_long_stream};

fn video_packets(path: &Path) -> u64 {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-count_packets",
            "-show_entries",
            "stream=nb_read_packets",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe is required (apt-get install ffmpeg; scripts/setup does)");
    // HLS inputs list the stream twice (under its program and alone): take the first.
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("ffprobe on {}: {:?}", path.display(), out))
}

#[tokio::test(start_paused = true)]
async fn cycles_cut_on_key_frames_without_losing_or_doubling_frames() {
    let dir = std::env::temp_dir().join(format!("tapedeck-cycles-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cycle = Secs(10);
    let template = Template {
        formats: vec![Format::M3u8, Format::Mp4, Format::Flv],
        interruption_window: Secs(5),
        m3u8: M3u8Options {
            slice_duration: Secs(2),
            cycle,
            ..M3u8Options::default()
        },
        mp4: FileOptions {
            cycle,
            ..FileOptions::default()
        },
        flv: FileOptions {
            cycle,
            ..FileOptions::default()
        },
        ..Template::default()
    };
    let rec = Recorder::new(Config {
        data_dir: dir.clone(),
        template: vec![template],
        ..Config::default()
    });
    let mut events = rec.subscribe();
    let stream = long_stream();
    let pushed = stream
        .iter()
        .filter(|e| matches!(e, MediaEvent::Frame(f) if f.is_video()))
        .count() as u64;
    {
        let request = PublishRequest {
            app: "live".into(),
            stream: "cam1".into(),
            args: Vec::new(),
            origin: "test".into(),
        };
        let mut p = rec.publish(request).unwrap();
        for ev in stream {
            p.media.send(ev).await.unwrap();
        }
    }
    let mut finished = Vec::new();
    loop {
        match events.recv().await.unwrap() {
            RecorderEvent::FileFinished(f) => finished.push(f),
            RecorderEvent::RecordStopped { .. } => break,
            RecorderEvent::WriteFailed { detail, .. } => panic!("{detail}"),
            _ => {}
        }
    }
    for kind in [FileKind::Mp4, FileKind::Flv, FileKind::Playlist] {
        let mut files: Vec<_> = finished.iter().filter(|f| f.kind == kind).collect();
        files.sort_by_key(|f| f.start);
        assert_eq!(files.len(), 3, "{kind:?}: 25 s in 10 s cycles: {files:#?}");
        // Each cut is on a key frame at or just past the cycle: 10 s then 10 s of media.
        for f in &files[..2] {
            assert!(
                (f.duration - 10.0).abs() < 0.6,
                "{kind:?} {}: {}",
                f.key,
                f.duration
            );
        }
        let total: u64 = files.iter().map(|f| video_packets(&f.path)).sum();
        assert_eq!(total, pushed, "{kind:?}: every frame in exactly one file");
        let keys: std::collections::HashSet<_> = files.iter().map(|f| &f.key).collect();
        assert_eq!(keys.len(), 3, "{kind:?}: distinct names");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// The daily index splits at midnight in the template's time zone, and names use it too.
#[tokio::test(start_paused = true)]
async fn daily_index_splits_at_local_midnight() {
    use chrono::TimeZone;
    let dir = std::env::temp_dir().join(format!("tapedeck-daily-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let template = Template {
        formats: vec![Format::M3u8, Format::Mp4],
        interruption_window: Secs(5),
        timezone: "Europe/Berlin".into(),
        m3u8: M3u8Options {
            slice_duration: Secs(2),
            ..M3u8Options::default()
        },
        ..Template::default()
    };
    // 22:59:50 UTC is 23:59:50 in Berlin (UTC+1 in November): the 25 s stream spans midnight.
    let start = chrono::Utc
        .with_ymd_and_hms(2026, 11, 24, 22, 59, 50)
        .unwrap();
    let config = Config {
        data_dir: dir.clone(),
        template: vec![template],
        ..Config::default()
    };
    let rec = Recorder::with_wall_clock(config, std::sync::Arc::new(move || start));
    let finished = record_long_stream(&rec).await;
    let mp4 = finished.iter().find(|f| f.kind == FileKind::Mp4).unwrap();
    assert!(
        mp4.key
            .starts_with("record/live/cam1/2026-11-24-23-59-50_2026-11-25-00-00-"),
        "{}",
        mp4.key
    );
    let segments = finished
        .iter()
        .filter(|f| f.kind == FileKind::Segment)
        .count();
    let root = dir.join("recordings");
    let day1 = std::fs::read_to_string(root.join("live/cam1/2026-11-24.m3u8")).unwrap();
    let day2 = std::fs::read_to_string(root.join("live/cam1/2026-11-25.m3u8")).unwrap();
    let count = |t: &str| t.lines().filter(|l| l.ends_with(".ts")).count();
    assert_eq!(
        count(&day1) + count(&day2),
        segments,
        "every segment in exactly one day\n{day1}\n{day2}"
    );
    assert_eq!(
        count(&day1),
        5,
        "23:59:50 to midnight in 2 s slices\n{day1}"
    );
    assert!(
        day1.contains("#EXT-X-ENDLIST"),
        "the finished day is closed\n{day1}"
    );
    assert!(
        !day2.contains("#EXT-X-ENDLIST"),
        "the current day can still grow\n{day2}"
    );
    assert!(
        day1.contains("../../record/live/cam1/"),
        "segment URIs relative to the index\n{day1}"
    );
    assert!(
        day1.contains("#EXT-X-PROGRAM-DATE-TIME:2026-11-24T22:59:50"),
        "{day1}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
