//! `tapedeck thumbnail`: the key frame at or before a time, decoded without ffmpeg
//! (OpenH264), 320 px wide, compared with ffmpeg's decode of the same frame.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

/// RGB24 pixels of an image or of the first key frame of a video, `width` wide (ffmpeg).
fn pixels(input: &Path, width: u32, key_frame_only: bool) -> Vec<u8> {
    let scale = format!("scale={width}:-2:flags=area");
    let filter = if key_frame_only {
        format!("select=eq(pict_type\\,I),{scale}")
    } else {
        scale
    };
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(input)
        .args([
            "-vf",
            &filter,
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ])
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn a_thumbnail_is_the_key_frame_at_that_time() {
    let dir = TempDir::new("thumbnail");
    let input = dir.path().join("in.flv");
    ffmpeg_ok(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=1280x720:rate=30",
        "-t",
        "6",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        "60",
        "-pix_fmt",
        "yuv420p",
        "-y",
        input.to_str().unwrap(),
    ]);
    let server = Server::start(
        dir.path(),
        "[[template]]\nformats = [\"m3u8\"]\ninterruption_window = \"1s\"\n[template.m3u8]\nslice_duration = \"2s\"\n",
    );
    push(&input, &server.url("live", "cam1"));
    let root = server.recordings().join("record/live/cam1");
    wait_for(30, "the playlist", || {
        (!final_files(&root, ".m3u8").is_empty()).then_some(())
    });
    let out = Command::new(env!("CARGO_BIN_EXE_tapedeck"))
        .args(["recordings", "spans", "--config"])
        .arg(&server.config)
        .args([
            "--app",
            "live",
            "--stream",
            "cam1",
            "--start",
            "2000-01-01T00:00:00Z",
            "--end",
            "2100-01-01T00:00:00Z",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let spans: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let start_ms = spans[0]["start_ms"].as_i64().unwrap();
    // 2.5 s in: the key frame at 2 s, the first of the second segment.
    let at = chrono::DateTime::from_timestamp_millis(start_ms + 2500)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let jpeg = dir.path().join("thumb.jpg");
    let out = Command::new(env!("CARGO_BIN_EXE_tapedeck"))
        .args(["thumbnail", "--config"])
        .arg(&server.config)
        .args(["--app", "live", "--stream", "cam1", "--at", &at, "-o"])
        .arg(&jpeg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains(": 320x180, the key frame of "), "{said}");

    let mut segments = final_files(&root, ".ts");
    segments.sort();
    assert!(segments.len() >= 2, "{segments:?}");
    let reference = pixels(&segments[1], 320, true);
    let ours = pixels(&jpeg, 320, false);
    assert_eq!(ours.len(), 320 * 180 * 3);
    assert_eq!(ours.len(), reference.len());
    let mean_diff = ours
        .iter()
        .zip(&reference)
        .map(|(a, b)| (*a as i32 - *b as i32).unsigned_abs() as u64)
        .sum::<u64>() as f64
        / ours.len() as f64;
    assert!(
        mean_diff < 6.0,
        "mean difference {mean_diff:.2} per channel"
    );
    // The first segment's key frame differs (testsrc2 moves): the right frame was taken.
    let other = pixels(&segments[0], 320, true);
    let other_diff = ours
        .iter()
        .zip(&other)
        .map(|(a, b)| (*a as i32 - *b as i32).unsigned_abs() as u64)
        .sum::<u64>() as f64
        / ours.len() as f64;
    assert!(
        other_diff > mean_diff + 2.0,
        "{other_diff:.2} vs {mean_diff:.2}"
    );

    // Nothing there: a clear error.
    let out = Command::new(env!("CARGO_BIN_EXE_tapedeck"))
        .args(["thumbnail", "--config"])
        .arg(&server.config)
        .args(["--app", "live", "--stream", "nobody", "--at", &at, "-o"])
        .arg(dir.path().join("x.jpg"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nothing of live/nobody was recorded"),
        "{out:?}"
    );
    server.stop();
}
