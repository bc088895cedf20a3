//! HLS durations that add up: 20 minutes pushed much faster than real time in 10 s slices.
//! The playlist's EXTINF values sum to the MP4's duration, each segment's
//! PROGRAM-DATE-TIME + EXTINF is the next one's PROGRAM-DATE-TIME, and the daily index
//! and a custom index over the whole range (built from the catalog's rows) sum the same.
//! Before segments were cut on the timeline, each EXTINF also spanned the audio that plays
//! past the next key frame: 20 minutes summed to 1201.34 s against the MP4's 1200.01 s.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use tapedeck_media::hls::MediaPlaylist;

const TEMPLATE: &str = r#"
[[template]]
formats = ["m3u8", "mp4"]
interruption_window = "1s"
[template.m3u8]
slice_duration = "10s"
"#;

const SECONDS: u32 = 20 * 60;
const FRAME: f64 = 1.0 / 30.0;

/// 20 minutes of 320x240 30 fps H.264 (a key frame every 2 s) and AAC, made once and kept
/// in the temp folder for later runs (making it takes ~20 s; pushing it, ~3 s).
fn long_input() -> PathBuf {
    let cache = std::env::temp_dir().join("tapedeck-test-cache");
    std::fs::create_dir_all(&cache).expect("creating the cache folder");
    let path = cache.join(format!("hls_durations_{SECONDS}s_v1.flv"));
    if std::fs::metadata(&path).is_ok_and(|m| m.len() > 0) {
        return path;
    }
    // Made under another name and renamed: a run killed halfway leaves no bad cache.
    let tmp = cache.join(format!("hls_durations.{}.tmp", std::process::id()));
    let t = SECONDS.to_string();
    ffmpeg_ok(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=30",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=44100",
        "-t",
        &t,
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-crf",
        "40",
        "-g",
        "60",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-b:a",
        "32k",
        "-ac",
        "1",
        "-f",
        "flv",
        "-y",
        tmp.to_str().expect("utf-8 path"),
    ]);
    std::fs::rename(&tmp, &path).expect("keeping the input");
    path
}

fn tapedeck(config: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tapedeck"))
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .expect("running tapedeck");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// (PROGRAM-DATE-TIME in Unix ms, EXTINF in ms, discontinuity) of every segment.
fn times(path: &Path) -> Vec<(i64, i64, bool)> {
    let text = std::fs::read_to_string(path).expect("reading a playlist");
    let playlist = MediaPlaylist::parse(&text).expect("a media playlist");
    playlist
        .segments
        .iter()
        .map(|s| {
            let pdt = s
                .program_date_time
                .unwrap_or_else(|| panic!("{} has no PROGRAM-DATE-TIME", s.uri));
            (
                pdt.timestamp_millis(),
                (s.duration * 1000.0).round() as i64,
                s.discontinuity,
            )
        })
        .collect()
}

fn total_ms(segments: &[(i64, i64, bool)]) -> i64 {
    segments.iter().map(|s| s.1).sum()
}

#[test]
fn extinf_values_add_up_to_the_recording() {
    let input = long_input();
    let dir = TempDir::new("hls-durations");
    let server = Server::start(dir.path(), TEMPLATE);
    // No -re: the whole 20 minutes in a few seconds. One continuous publish, so the
    // recording's timeline follows the media's own clock.
    ffmpeg_ok(&[
        "-i",
        input.to_str().expect("utf-8 path"),
        "-c",
        "copy",
        "-f",
        "flv",
        &server.url("live", "cam1"),
    ]);
    let root = server.recordings().join("record/live/cam1");
    let playlist = wait_for(60, "the final playlist", || {
        final_files(&root, ".m3u8").into_iter().next()
    });
    let mp4 = wait_for(60, "the finalized mp4", || {
        final_files(&root, ".mp4").into_iter().next()
    });
    let config = server.config.clone();
    let days = server.recordings().join("live/cam1");
    server.stop();

    let listed = times(&playlist);
    assert_eq!(listed.len(), 120, "20 minutes in 10 s slices: {listed:?}");
    assert!(listed.iter().all(|s| !s.2), "one run: {listed:?}");
    for pair in listed.windows(2) {
        assert_eq!(
            pair[0].0 + pair[0].1,
            pair[1].0,
            "PROGRAM-DATE-TIME + EXTINF meets the next PROGRAM-DATE-TIME: {pair:?}"
        );
    }
    // Key frames every 2 s: every segment but the last is 10 s of video, to the ms.
    let (last, whole) = listed.split_last().expect("segments");
    for s in whole {
        assert!((s.1 - 10_000).abs() <= 1, "{s:?} in {listed:?}");
    }
    assert!((s_of(last.1) - 10.0).abs() < 0.1, "the last one: {last:?}");

    let total = total_ms(&listed);
    let probe = ffprobe(&mp4);
    assert_eq!(
        probe.video.as_ref().map(|v| v.packets),
        Some(u64::from(SECONDS) * 30),
        "every frame in the mp4: {probe:?}"
    );
    assert!(
        (s_of(total) - probe.duration).abs() <= FRAME,
        "EXTINF sum {} s vs the mp4's {} s",
        s_of(total),
        probe.duration
    );

    // The daily index (one file, or two across midnight) lists the same segments.
    let daily: Vec<_> = find_files(&days, ".m3u8")
        .into_iter()
        .filter(|p| p.parent() == Some(days.as_path()))
        .collect();
    assert!(!daily.is_empty(), "a daily index");
    let mut day_segments = Vec::new();
    for d in &daily {
        day_segments.extend(times(d));
    }
    day_segments.sort();
    assert_eq!(day_segments, listed, "the daily index says the same");

    // A custom index over the whole range, from the catalog's rows.
    let rfc3339 = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .expect("a time")
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    let (start, end) = (rfc3339(listed[0].0), rfc3339(last.0 + last.1));
    let (ok, out, err) = tapedeck(
        &config,
        &[
            "index", "create", "--app", "live", "--stream", "cam1", "--start", &start, "--end",
            &end,
        ],
    );
    assert!(ok, "{out}{err}");
    let record: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let index = PathBuf::from(record["url"].as_str().expect("the index's path"));
    let indexed = times(&index);
    assert_eq!(
        indexed, listed,
        "the custom index lists the playlist's segments"
    );
    let duration = record["duration"].as_f64().expect("a duration");
    assert!(
        (duration - s_of(total)).abs() < 0.0005,
        "index duration {duration} vs {}",
        s_of(total)
    );
}

fn s_of(ms: i64) -> f64 {
    ms as f64 / 1000.0
}
