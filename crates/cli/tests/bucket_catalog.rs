//! The bucket as the catalog: two machines record at once with uploads to one prefix of a
//! real S3 server (s3s-fs); a third data folder with only the storage profile imports the
//! bucket and then sees both recordings with the same spans and the chapter, and exports
//! the same 8 s clip, frame by frame, fetching only the segments the clip needs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod common;
#[allow(dead_code)] // the harness serves other tests too
#[path = "common/s3.rs"]
mod s3;

use std::path::Path;
use std::process::Command;

use common::*;
use s3::{Kind, S3Server};
use tapedeck_catalog::{Catalog, UploadState};

const BUCKET: &str = "archive";

fn tapedeck(config: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tapedeck"))
        .args(args)
        .arg("--config")
        .arg(config)
        .env("AWS_ACCESS_KEY_ID", s3_keys::ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", s3_keys::SECRET_KEY)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn spans(config: &Path) -> Vec<serde_json::Value> {
    spans_of(config, "cam1")
}

fn spans_of(config: &Path, stream: &str) -> Vec<serde_json::Value> {
    let (ok, out, err) = tapedeck(
        config,
        &[
            "recordings",
            "spans",
            "--app",
            "live",
            "--stream",
            stream,
            "--start",
            "2020-01-01T00:00:00Z",
            "--end",
            "2100-01-01T00:00:00Z",
            "--json",
        ],
    );
    assert!(ok, "{out}{err}");
    serde_json::from_str(&out).unwrap()
}

/// `ffmpeg -f framemd5` of a clip's packets (stream copy): equal lists mean equal frames.
fn frame_md5s(clip: &Path) -> Vec<String> {
    let out = ffmpeg(&[
        "-v",
        "error",
        "-i",
        clip.to_str().unwrap(),
        "-map",
        "0",
        "-c",
        "copy",
        "-f",
        "framemd5",
        "-",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// The folder s3s-fs keeps its objects in (tests/common/s3.rs).
fn s3_root(dir: &TempDir) -> std::path::PathBuf {
    dir.path().join("S3sFs-root")
}

fn count_files(dir: &Path, suffix: &str) -> usize {
    find_files(dir, suffix).len()
}

#[test]
fn a_second_machine_imports_the_bucket_and_exports_the_same_clip() {
    let dir = TempDir::new("bucket-catalog");
    let s3 = S3Server::start(Kind::S3sFs, dir.path(), BUCKET);
    let profile = s3.profile_toml("shared", BUCKET, "prefix = \"studio/\"");
    let input = make_input(dir.path(), 16);

    // Machines A and C record at once into the same bucket and prefix (A with a chapter),
    // and upload everything.
    let template = format!("{profile}\n[[template]]\nstorage = \"shared\"\nformats = [\"m3u8\", \"mp4\", \"flv\"]\ninterruption_window = \"1s\"\n[template.m3u8]\nslice_duration = \"2s\"\n");
    let a = dir.path().join("a");
    let c = dir.path().join("c");
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&c).unwrap();
    let server = Server::start(&a, &template);
    let other = Server::start(&c, &template);
    let url = server.url("live", "cam1");
    let pushing = {
        let input = input.clone();
        std::thread::spawn(move || push(&input, &url))
    };
    let url_c = other.url("live", "cam2");
    let pushing_c = {
        let input = input.clone();
        std::thread::spawn(move || push(&input, &url_c))
    };
    std::thread::sleep(std::time::Duration::from_secs(6));
    let (ok, out, err) = tapedeck(
        &server.config,
        &[
            "chapter",
            "add",
            "--app",
            "live",
            "--stream",
            "cam1",
            "--title",
            "Kick-off #1 – ü",
        ],
    );
    assert!(ok, "{out}{err}");
    pushing.join().unwrap();
    pushing_c.join().unwrap();
    for s in [&server, &other] {
        wait_for(30, "the recording to end", || {
            s.log_text().contains("recording stopped").then_some(())
        });
        let data = s.data.clone();
        wait_for(60, "every upload", || {
            let c = Catalog::open(&data.join("state").join("catalog.sqlite3")).unwrap();
            let rows = c.uploads(true, 10_000).unwrap();
            (rows.len() > 5 && rows.iter().all(|u| u.state == UploadState::Done)).then_some(())
        });
    }
    let config_a = server.config.clone();
    let config_c = other.config.clone();
    let log = server.stop();
    other.stop();
    let spans_a = spans(&config_a);
    assert_eq!(spans_a.len(), 1, "{spans_a:?}\n{log}");
    let spans_c = spans_of(&config_c, "cam2");
    assert_eq!(spans_c.len(), 1, "{spans_c:?}");

    // Machine B has the profile and nothing else.
    let b = dir.path().join("b");
    std::fs::create_dir_all(&b).unwrap();
    let config_b = b.join("tapedeck.toml");
    std::fs::write(
        &config_b,
        format!(
            "data_dir = {:?}\n{profile}",
            b.join("data").to_str().unwrap()
        ),
    )
    .unwrap();
    assert!(spans(&config_b).is_empty());
    // One of C's segments has not reached the bucket yet (an upload still retrying).
    let late = find_files(&s3_root(&dir), ".ts")
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("cam2"))
        .max()
        .expect("cam2 segments in the bucket");
    let aside = dir.path().join("late.ts");
    std::fs::rename(&late, &aside).unwrap();
    let (ok, out, err) = tapedeck(&config_b, &["catalog", "import", "shared", "--json"]);
    assert!(ok, "{out}{err}");
    let done: serde_json::Value =
        serde_json::from_str(out.lines().last().unwrap()).expect("the report line");
    let report = &done["report"];
    // Both recorders' recordings, told apart by their ids, in one catalog.
    assert_eq!(report["recordings"], 2, "{out}");
    assert_eq!(report["chapters"], 1, "{out}");
    let skipped = report["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{out}");
    assert!(
        skipped[0]["why"]
            .as_str()
            .unwrap()
            .contains("the bucket does not have it"),
        "{out}"
    );
    assert!(out.contains("\"event\":\"progress\""), "{out}");
    let new_files = report["new_files"].as_u64().unwrap();
    let segments = count_files(&config_a.parent().unwrap().join("data"), ".ts");
    let segments_c = count_files(&config_c.parent().unwrap().join("data"), ".ts");
    // Every segment, the playlist, the MP4 and the FLV of each, less the late one.
    assert_eq!(
        new_files as usize,
        segments + 3 + segments_c + 3 - 1,
        "{out}"
    );
    // It arrives; the next import reads that playlist again (only it) and adds it.
    std::fs::rename(&aside, &late).unwrap();
    let (ok, out, err) = tapedeck(&config_b, &["catalog", "import", "shared"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("1 file new, 1 object read now"), "{out}");
    assert_eq!(
        spans_of(&config_b, "cam2")
            .iter()
            .map(|s| (&s["recording"], &s["start_ms"], &s["end_ms"], &s["objects"]))
            .collect::<Vec<_>>(),
        spans_c
            .iter()
            .map(|s| (&s["recording"], &s["start_ms"], &s["end_ms"], &s["objects"]))
            .collect::<Vec<_>>()
    );

    // The same spans (times to the millisecond, the same files).
    let spans_b = spans(&config_b);
    assert_eq!(spans_b.len(), 1, "{spans_b:?}");
    for field in ["recording", "start_ms", "end_ms", "objects"] {
        assert_eq!(
            spans_a[0][field], spans_b[0][field],
            "{field}: {spans_a:?} vs {spans_b:?}"
        );
    }
    let (da, db) = (
        spans_a[0]["duration"].as_f64().unwrap(),
        spans_b[0]["duration"].as_f64().unwrap(),
    );
    assert!((da - db).abs() < 0.05, "{da} vs {db}");
    // No media was downloaded by the import.
    assert_eq!(count_files(&b.join("data"), ".ts"), 0);

    // Importing again adds nothing and reads nothing.
    let (ok, out, err) = tapedeck(&config_b, &["catalog", "import", "shared"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("0 files new, 0 objects read now"), "{out}");

    // The chapter came with the playlist.
    let start_ms = spans_a[0]["start_ms"].as_i64().unwrap();
    let (from, to) = (rfc3339(start_ms + 3_000), rfc3339(start_ms + 11_000));
    let export = |config: &Path, name: &str| {
        let clip = dir.path().join(name);
        let (ok, out, err) = tapedeck(
            config,
            &[
                "export",
                "--app",
                "live",
                "--stream",
                "cam1",
                "--start",
                &from,
                "--end",
                &to,
                "-o",
                clip.to_str().unwrap(),
            ],
        );
        assert!(ok, "{out}{err}");
        clip
    };
    let clip_a = export(&config_a, "a clip.mp4");
    let clip_b = export(&config_b, "b clip.mp4");
    let (pa, pb) = (ffprobe(&clip_a), ffprobe(&clip_b));
    assert!((pa.duration - 8.0).abs() < 0.1, "{}", pa.duration);
    assert_eq!(pa.duration, pb.duration);
    let (fa, fb) = (frame_md5s(&clip_a), frame_md5s(&clip_b));
    assert!(fa.len() > 200, "{} frames", fa.len());
    assert_eq!(fa, fb, "the clips differ frame by frame");
    // Only the segments the clip needed were fetched: 8 s of 2 s segments, and a key frame
    // before.
    let fetched = count_files(&b.join("data").join("cache"), ".ts");
    assert!(
        (4..=6).contains(&fetched) && fetched < segments,
        "{fetched} of {segments}"
    );
    assert!(decode_errors(&clip_b).trim().is_empty());

    // A thumbnail and a custom index on the remote recording.
    let jpg = dir.path().join("thumb.jpg");
    let (ok, out, err) = tapedeck(
        &config_b,
        &[
            "thumbnail",
            "--app",
            "live",
            "--stream",
            "cam1",
            "--at",
            &to,
            "-o",
            jpg.to_str().unwrap(),
        ],
    );
    assert!(ok, "{out}{err}");
    assert!(std::fs::read(&jpg).unwrap().starts_with(&[0xFF, 0xD8]));
    let (ok, out, err) = tapedeck(
        &config_b,
        &[
            "index", "create", "--app", "live", "--stream", "cam1", "--start", &from, "--end", &to,
        ],
    );
    assert!(ok, "{out}{err}");
}
