//! `tapedeck streams` against a running server: the JSON contract while ffmpeg publishes,
//! and the health warning of a publisher that stops sending key frames.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod common;

use std::process::Command;

use common::*;

fn streams(server: &Server, json: bool) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tapedeck"));
    c.args(["streams", "--config"]).arg(&server.config);
    if json {
        c.arg("--json");
    }
    c.output().expect("running tapedeck streams")
}

fn live(server: &Server) -> Vec<serde_json::Value> {
    let out = streams(server, true);
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).expect("a JSON array")
}

#[test]
fn streams_lists_live_stats_and_warns_when_key_frames_stop() {
    let dir = TempDir::new("streams");
    let server = Server::start(dir.path(), "");
    assert!(live(&server).is_empty());
    let text = String::from_utf8_lossy(&streams(&server, false).stdout).to_string();
    assert!(text.starts_with("No live streams."), "{text}");

    // 25 s of 640x360 at 25 fps with a single key frame at the start: after 10 s without
    // one the stream is flagged.
    let url = server.url("live", "nokey");
    let publisher = std::thread::spawn(move || {
        ffmpeg(&[
            "-re",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=25",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=44100",
            "-t",
            "25",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-x264-params",
            "keyint=10000:min-keyint=10000:scenecut=0",
            "-b:v",
            "800k",
            "-c:a",
            "aac",
            "-f",
            "flv",
            &url,
        ])
    });
    let row = wait_for(20, "the stream's stats", || {
        live(&server)
            .into_iter()
            .find(|s| s["stream"] == "nokey" && s["video"]["fps"].as_f64().unwrap_or(0.0) > 20.0)
    });
    // The public contract's fields.
    assert_eq!(row["app"], "live");
    assert!(
        row["source"]
            .as_str()
            .unwrap()
            .starts_with("rtmp 127.0.0.1:"),
        "{row}"
    );
    assert_eq!(row["video"]["codec"], "h264");
    assert_eq!(row["video"]["width"], 640);
    assert_eq!(row["video"]["height"], 360);
    assert!(row["video"]["keyframe_interval_s"].is_number(), "{row}");
    assert_eq!(row["audio"]["codec"], "aac");
    assert_eq!(row["audio"]["sample_rate"], 44100);
    assert_eq!(row["audio"]["channels"], 1);
    assert!(row["bitrate_kbps"].as_u64().unwrap() > 0, "{row}");
    assert!(row["bitrate_history_kbps"].is_array(), "{row}");
    assert!(row["recording_s"].as_f64().unwrap() > 0.0, "{row}");
    assert_eq!(row["template"], "*/*");
    assert_eq!(row["dropped_frames"], 0);
    assert!(row["health"].as_array().unwrap().is_empty(), "{row}");

    let warned = wait_for(20, "the no-key-frame warning", || {
        live(&server).into_iter().find(|s| {
            s["health"]
                .as_array()
                .is_some_and(|h| h.iter().any(|h| h["kind"] == "no_keyframe"))
        })
    });
    let message = warned["health"][0]["message"].as_str().unwrap().to_string();
    assert!(message.contains("No key frame for"), "{message}");
    let text = String::from_utf8_lossy(&streams(&server, false).stdout).to_string();
    assert!(text.contains("live/nokey  rtmp 127.0.0.1:"), "{text}");
    assert!(text.contains("video h264"), "{text}");
    assert!(text.contains("  ! No key frame for"), "{text}");
    assert!(text.contains("Disk: "), "{text}");

    publisher.join().unwrap();
    let log = server.stop();
    assert!(
        log.contains("No key frame for"),
        "the warning is logged once:\n{log}"
    );
}
