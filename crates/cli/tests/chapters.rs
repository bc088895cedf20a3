//! `tapedeck chapter add` against a running server, and chapters surviving `kill -9`: the
//! recovered MP4 lists the chapter (ffprobe), the FLV keeps it in `onMetaData`, the HLS
//! playlist as an `EXT-X-DATERANGE`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

const TEMPLATE: &str = "[[template]]\nformats = [\"m3u8\", \"mp4\", \"flv\"]\ninterruption_window = \"2s\"\n[template.m3u8]\nslice_duration = \"2s\"\n";

fn chapter(server: &Server, stream: &str, title: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tapedeck"))
        .args(["chapter", "add", "--config"])
        .arg(&server.config)
        .args(["--app", "live", "--stream", stream, "--title", title])
        .output()
        .expect("running tapedeck chapter add")
}

/// The chapter titles ffprobe lists.
fn probe_chapters(file: &Path) -> Vec<String> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "chapter_tags=title",
            "-of",
            "csv=p=0",
        ])
        .arg(file)
        .output()
        .expect("ffprobe");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn a_chapter_added_before_a_kill_9_is_in_the_recovered_files() {
    let dir = TempDir::new("chapters");
    let input = make_input(dir.path(), 12);
    let server = Server::start(dir.path(), TEMPLATE);

    let out = chapter(&server, "nobody", "x");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("live/nobody is not live"),
        "{out:?}"
    );

    let url = server.url("live", "cam1");
    let publisher = std::thread::spawn(move || {
        ffmpeg(&[
            "-re",
            "-i",
            input.to_str().unwrap(),
            "-c",
            "copy",
            "-f",
            "flv",
            &url,
        ])
    });
    let root = server.recordings().join("record/live/cam1");
    wait_for(30, "the recording to start", || {
        (!find_files(&root, ".part").is_empty()).then_some(())
    });
    std::thread::sleep(std::time::Duration::from_secs(2));
    let out = chapter(&server, "cam1", "Goal! – 1:0");
    assert!(out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("live/cam1: chapter \"Goal! – 1:0\" at "),
        "{said}"
    );
    // Some media after it, then the power cut.
    std::thread::sleep(std::time::Duration::from_secs(3));
    server.kill9();
    let _ = publisher.join();

    let server = Server::start(dir.path(), TEMPLATE);
    let log = server.stop();
    assert!(log.contains("recovered"), "{log}");
    let mp4 = final_files(&root, ".mp4");
    assert_eq!(mp4.len(), 1, "{mp4:?}");
    assert_eq!(probe_chapters(&mp4[0]), ["Goal! – 1:0"]);
    let flv = final_files(&root, ".flv");
    assert_eq!(flv.len(), 1, "{flv:?}");
    let flv_bytes = std::fs::read(&flv[0]).unwrap();
    assert!(
        flv_bytes
            .windows("Goal! – 1:0".len())
            .any(|w| w == "Goal! – 1:0".as_bytes()),
        "the FLV keeps the chapter"
    );
    let playlists = final_files(&root, ".m3u8");
    let text = std::fs::read_to_string(&playlists[0]).unwrap();
    assert!(
        text.contains("X-TITLE=\"Goal! – 1:0\"") && text.contains("com.tapedeck.chapter"),
        "{text}"
    );
}
