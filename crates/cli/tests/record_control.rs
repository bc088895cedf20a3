//! `tapedeck record stop|start` against a running server, through the control API.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

fn record(server: &Server, action: &str, stream: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tapedeck"))
        .args(["record", action, "--config"])
        .arg(&server.config)
        .args(["--app", "live", "--stream", stream])
        .output()
        .expect("running tapedeck record")
}

#[test]
fn stop_and_start_recording_a_live_stream() {
    let dir = TempDir::new("control");
    let input = make_input(dir.path(), 6);
    let server = Server::start(
        dir.path(),
        "[[template]]\nformats = [\"mp4\"]\ninterruption_window = \"1s\"\n",
    );

    let out = record(&server, "stop", "nobody");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("live/nobody is not live"),
        "{out:?}"
    );

    let url = server.url("live", "cam1");
    let input_path = input.clone();
    let publisher = std::thread::spawn(move || {
        ffmpeg(&[
            "-re",
            "-i",
            input_path.to_str().unwrap(),
            "-c",
            "copy",
            "-f",
            "flv",
            &url,
        ])
    });
    wait_for(20, "the recording", || {
        server
            .log_text()
            .contains("recording started")
            .then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    let out = record(&server, "stop", "cam1");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "live/cam1: recording stopped"
    );
    let root = server.recordings().join("record/live/cam1");
    wait_for(20, "the first file, finished at the stop", || {
        find_files(&root, ".mp4").into_iter().next()
    });
    std::thread::sleep(Duration::from_secs(1));
    assert!(record(&server, "start", "cam1").status.success());
    assert!(
        publisher.join().unwrap().status.success(),
        "the publisher stayed connected throughout"
    );
    wait_for(30, "the second file", || {
        (find_files(&root, ".mp4").len() == 2).then_some(())
    });
    let log = server.stop();
    assert!(log.contains("recording stopped by request"), "{log}");
    for f in find_files(&root, ".mp4") {
        let p = ffprobe(&f);
        assert!(p.video.is_some_and(|v| v.packets > 0), "{}", f.display());
        assert!(decode_errors(&f).trim().is_empty());
    }
}
