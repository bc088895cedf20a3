//! The catalog end to end: record a stream with a gap, list its spans, build an index from
//! the middle of one span to the middle of the next, and play it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod common;

use std::process::Command;

use common::*;

fn tapedeck(server_config: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tapedeck"))
        .args(args)
        .arg("--config")
        .arg(server_config)
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

#[test]
fn spans_and_an_index_across_a_gap() {
    let dir = TempDir::new("ranges");
    let input = make_input(dir.path(), 4);
    let server = Server::start(dir.path(), "[[template]]\nformats = [\"m3u8\", \"mp4\", \"flv\"]\ninterruption_window = \"1s\"\n[template.m3u8]\nslice_duration = \"1s\"\n");
    let push = || {
        ffmpeg_ok(&[
            "-re",
            "-i",
            input.to_str().unwrap(),
            "-c",
            "copy",
            "-f",
            "flv",
            &server.url("live", "cam1"),
        ])
    };
    push();
    wait_for(20, "the first recording to end", || {
        server
            .log_text()
            .contains("recording stopped")
            .then_some(())
    });
    std::thread::sleep(std::time::Duration::from_secs(2));
    push();
    wait_for(20, "the second recording to end", || {
        (server.log_text().matches("recording stopped").count() == 2).then_some(())
    });
    let config = server.config.clone();

    let (ok, out, err) = tapedeck(
        &config,
        &[
            "recordings",
            "spans",
            "--app",
            "live",
            "--stream",
            "cam1",
            "--start",
            "2000-01-01T00:00:00Z",
            "--end",
            "2100-01-01T00:00:00Z",
            "--json",
        ],
    );
    assert!(ok, "{err}");
    let spans: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(spans.len(), 2, "{out}");
    let ms = |v: &serde_json::Value, k: &str| v[k].as_i64().unwrap();
    let mid = |v: &serde_json::Value| (ms(v, "start_ms") + ms(v, "end_ms")) / 2;
    assert!(
        ms(&spans[1], "start_ms") - ms(&spans[0], "end_ms") >= 2000,
        "the gap: {out}"
    );
    for s in &spans {
        assert!((s["duration"].as_f64().unwrap() - 4.0).abs() < 0.3, "{s}");
        assert!(
            s["objects"]
                .as_array()
                .unwrap()
                .iter()
                .any(|o| o.as_str().unwrap().ends_with(".m3u8")),
            "{s}"
        );
    }
    let (ok, table, _) = tapedeck(
        &config,
        &[
            "recordings",
            "spans",
            "--app",
            "live",
            "--stream",
            "cam1",
            "--start",
            "2000-01-01T00:00:00Z",
            "--end",
            "2100-01-01T00:00:00Z",
        ],
    );
    assert!(
        ok && table.lines().count() == 3,
        "a header and two rows: {table}"
    );

    let (start, end) = (rfc3339(mid(&spans[0])), rfc3339(mid(&spans[1])));
    let (ok, out, err) = tapedeck(
        &config,
        &[
            "index", "create", "--app", "live", "--stream", "cam1", "--start", &start, "--end",
            &end,
        ],
    );
    assert!(ok, "{err}");
    let record: serde_json::Value = serde_json::from_str(&out).unwrap();
    for key in [
        "id", "url", "app", "stream", "object", "start", "end", "duration", "width", "height",
        "created",
    ] {
        assert!(record.get(key).is_some(), "{key} in {out}");
    }
    assert_eq!(
        (record["width"].as_u64(), record["height"].as_u64()),
        (Some(320), Some(240))
    );
    let index = std::path::PathBuf::from(record["url"].as_str().unwrap());
    let text = std::fs::read_to_string(&index).unwrap();
    assert_eq!(text.matches("#EXT-X-DISCONTINUITY").count(), 1, "{text}");
    assert!(text.contains("#EXT-X-ENDLIST"));
    let probe = ffprobe(&index);
    let frames = probe.video.map_or(0, |v| v.packets);
    // About 2 s of each recording, in whole 1 s segments.
    assert!(
        (90..=180).contains(&frames),
        "{frames} frames from the middle of one span to the middle of the next"
    );
    assert!(decode_errors(&index).trim().is_empty());

    // The same range exported: with the gap kept, and with it closed.
    for (close, want) in [
        (false, (mid(&spans[1]) - mid(&spans[0])) as f64 / 1000.0),
        (true, 4.0),
    ] {
        let clip = dir.path().join(format!("clip-{close}.mp4"));
        let mut args = vec![
            "export",
            "--app",
            "live",
            "--stream",
            "cam1",
            "--start",
            &start,
            "--end",
            &end,
            "-o",
            clip.to_str().unwrap(),
        ];
        if close {
            args.push("--close-gaps");
        }
        let (ok, out, err) = tapedeck(&config, &args);
        assert!(ok, "{out}{err}");
        let probe = ffprobe(&clip);
        assert!(
            (probe.duration - want).abs() < 0.3,
            "close_gaps {close}: duration {} vs {want}",
            probe.duration
        );
        assert!(decode_errors(&clip).trim().is_empty());
    }

    let (ok, out, _) = tapedeck(&config, &["index", "list", "--json"]);
    assert!(ok);
    let list: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["object"], record["object"]);

    // A rebuild from the folder alone gives the same spans.
    let spans_args = [
        "recordings",
        "spans",
        "--app",
        "live",
        "--stream",
        "cam1",
        "--start",
        "2000-01-01T00:00:00Z",
        "--end",
        "2100-01-01T00:00:00Z",
        "--json",
    ];
    let (_, before, _) = tapedeck(&config, &spans_args);
    let (_, indexes_before, _) = tapedeck(&config, &["index", "list", "--json"]);
    let catalog_path = dir.path().join("data/state/catalog.sqlite3");
    let file_rows = || {
        tapedeck_catalog::Catalog::open(&catalog_path)
            .unwrap()
            .files()
            .unwrap()
    };
    let files_before = file_rows();
    let kinds: Vec<&str> = files_before.iter().map(|f| f.kind.as_str()).collect();
    for kind in ["playlist", "mp4", "flv"] {
        assert_eq!(
            kinds.iter().filter(|k| **k == kind).count(),
            2,
            "one {kind} per recording: {files_before:#?}"
        );
    }
    // An FLV from elsewhere (no Tapedeck tag) is left out, and said so.
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    let stranger = server.recordings().join("elsewhere.flv");
    std::fs::copy(fixtures.join("h264_aac_2s.flv"), &stranger).unwrap();
    let (ok, out, err) = tapedeck(&config, &["catalog", "rebuild"]);
    assert!(
        ok && out.contains("2 recordings") && out.contains("4 files, 1 index"),
        "{out}{err}"
    );
    assert!(
        out.contains("1 MP4/FLV file without a Tapedeck tag left out")
            && err.contains("elsewhere.flv"),
        "{out}{err}"
    );
    let (_, after, _) = tapedeck(&config, &spans_args);
    let json = |t: &str| serde_json::from_str::<serde_json::Value>(t).unwrap();
    assert_eq!(
        json(&after),
        json(&before),
        "rebuild equals the live catalog"
    );
    assert_eq!(file_rows(), files_before, "MP4, FLV and playlist rows");
    let (_, indexes_after, _) = tapedeck(&config, &["index", "list", "--json"]);
    assert_eq!(
        json(&indexes_after),
        json(&indexes_before),
        "custom index rows, id and creation time included"
    );

    let (ok, _, err) = tapedeck(
        &config,
        &[
            "index", "create", "--app", "live", "--stream", "cam1", "--start", &end, "--end",
            &start,
        ],
    );
    assert!(!ok && err.contains("must be after the start"), "{err}");
    let (ok, _, err) = tapedeck(
        &config,
        &[
            "index",
            "create",
            "--app",
            "live",
            "--stream",
            "cam1",
            "--start",
            "yesterday",
            "--end",
            &end,
        ],
    );
    assert!(
        !ok && err.contains("--start \"yesterday\" is not an RFC 3339 time"),
        "{err}"
    );
    server.stop();
}

/// Decoded (presented) video frames, as ffmpeg counts them after applying the edit list.
fn decoded_frames(path: &std::path::Path) -> u64 {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

fn format_times(path: &std::path::Path) -> (f64, f64) {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=start_time,duration",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let mut it = text
        .split(',')
        .map(|v| v.parse::<f64>().unwrap_or(f64::NAN));
    (it.next().unwrap_or(f64::NAN), it.next().unwrap_or(f64::NAN))
}

#[test]
fn export_starts_between_key_frames_exactly() {
    let dir = TempDir::new("export");
    let input = make_input(dir.path(), 4); // key frames every second
    let server = Server::start(dir.path(), "[[template]]\nformats = [\"m3u8\"]\ninterruption_window = \"1s\"\n[template.m3u8]\nslice_duration = \"2s\"\n");
    push(&input, &server.url("live", "cam1"));
    wait_for(20, "the recording to end", || {
        server
            .log_text()
            .contains("recording stopped")
            .then_some(())
    });
    let config = server.config.clone();
    let (ok, out, err) = tapedeck(
        &config,
        &[
            "recordings",
            "spans",
            "--app",
            "live",
            "--stream",
            "cam1",
            "--start",
            "2000-01-01T00:00:00Z",
            "--end",
            "2100-01-01T00:00:00Z",
            "--json",
        ],
    );
    assert!(ok, "{err}");
    let spans: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let s0 = spans[0]["start_ms"].as_i64().unwrap();
    // 1.45 s in (between the key frames at 1 s and 2 s) to 3.2 s in: 1.75 s.
    let (start, end) = (rfc3339(s0 + 1450), rfc3339(s0 + 3200));
    let clip = dir.path().join("clip.mp4");
    let (ok, out, err) = tapedeck(
        &config,
        &[
            "export",
            "--app",
            "live",
            "--stream",
            "cam1",
            "--start",
            &start,
            "--end",
            &end,
            "-o",
            clip.to_str().unwrap(),
        ],
    );
    assert!(ok, "{out}\n{err}");
    assert!(err.contains("segments"), "progress lines: {err}");
    // Scripts: progress and the result as JSON lines.
    let clip_json = dir.path().join("clip-json.mp4");
    let (ok, out, err) = tapedeck(
        &config,
        &[
            "export",
            "--app",
            "live",
            "--stream",
            "cam1",
            "--start",
            &start,
            "--end",
            &end,
            "--json",
            "-o",
            clip_json.to_str().unwrap(),
        ],
    );
    assert!(ok, "{out}\n{err}");
    let events: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let (last, progress) = events.split_last().unwrap();
    assert!(!progress.is_empty(), "{out}");
    assert!(
        progress
            .iter()
            .all(|e| e["event"] == "progress" && e["unit"] == "segments"),
        "{out}"
    );
    assert_eq!(
        progress.last().unwrap()["done"],
        progress.last().unwrap()["total"],
        "{out}"
    );
    assert_eq!(last["event"], "done", "{out}");
    assert_eq!(last["path"], clip_json.to_str().unwrap(), "{out}");
    assert!(last["video_frames"].as_u64().unwrap() > 0, "{out}");
    // What a player shows: the lead-in of the first key frame's group is stored, not shown.
    assert_eq!(
        last["shown_video_frames"].as_u64().unwrap(),
        decoded_frames(&clip_json),
        "{out}"
    );
    assert!(
        last["shown_video_frames"].as_u64() <= last["video_frames"].as_u64(),
        "{out}"
    );
    let (start_time, duration) = format_times(&clip);
    assert!(start_time.abs() < 0.034, "the clip starts at the requested time, not at the key frame before it: start_time {start_time}");
    assert!(
        (duration - 1.75).abs() <= 1.0 / 30.0 + 0.024,
        "duration {duration} vs 1.75"
    );
    let frames = decoded_frames(&clip);
    assert!(
        (51..=54).contains(&frames),
        "about 1.75 s x 30 fps presented frames: {frames}"
    );
    assert!(decode_errors(&clip).trim().is_empty());
    let probe = ffprobe(&clip);
    assert!(probe.audio.is_some(), "audio kept: {probe:?}");
    assert!(
        av_offset(&probe).abs() < 0.05,
        "audio and video start together: {}",
        av_offset(&probe)
    );
    // The moov comes first (faststart).
    let bytes = std::fs::read(&clip).unwrap();
    let moov = bytes.windows(4).position(|w| w == b"moov").unwrap();
    let mdat = bytes.windows(4).position(|w| w == b"mdat").unwrap();
    assert!(moov < mdat);
    server.stop();
}
