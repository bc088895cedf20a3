//! Who may publish: the publish key, the name rule, and silent publishers. A refused
//! publisher gets an `onStatus` error and a closed connection, so it fails at once instead
//! of hanging (ffmpeg and OBS both wait forever otherwise).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

fn start_keyed(dir: &std::path::Path) -> Server {
    // Server::start writes [ingest] itself; the keyed options go in their own table.
    Server::start_with(dir, |port| {
        format!("[ingest]\nrtmp_listen = \"127.0.0.1:{port}\"\npublish_key = \"s3cret\"\nidle_timeout = \"2s\"\n[[template]]\nformats = [\"mp4\"]\ninterruption_window = \"1s\"\n")
    })
}

#[test]
fn publish_key_and_name_rule_refuse_quickly() {
    let dir = TempDir::new("refuse");
    let input = make_input(dir.path(), 2);
    let server = start_keyed(dir.path());
    let input = input.to_str().unwrap();
    for (url, why) in [
        (server.url("live", "cam1"), "no key"),
        (
            format!("{}?key=wrong", server.url("live", "cam1")),
            "wrong key",
        ),
        (
            format!("{}?key=s3cret", server.url("live", "bad.name")),
            "bad stream name",
        ),
    ] {
        let started = Instant::now();
        let out = ffmpeg(&["-re", "-i", input, "-c", "copy", "-f", "flv", &url]);
        assert!(!out.status.success(), "{why}: ffmpeg must fail");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{why}: refused quickly, not after a hang"
        );
    }
    ffmpeg_ok(&[
        "-re",
        "-i",
        input,
        "-c",
        "copy",
        "-f",
        "flv",
        &format!("{}?key=s3cret", server.url("live", "cam1")),
    ]);
    let root = server.recordings().join("record/live/cam1");
    let mp4 = wait_for(30, "the recording with the right key", || {
        find_files(&root, ".mp4").into_iter().next()
    });
    let recordings = server.recordings();
    let log = server.stop();
    assert_eq!(
        find_files(&recordings, ".mp4").len(),
        1,
        "nothing recorded for refused publishers"
    );
    assert!(log.contains("wrong or missing publish key"), "{log}");
    assert!(log.contains("bad.name"), "{log}");
    assert!(
        !log.contains("s3cret"),
        "the key never reaches the logs: {log}"
    );
    assert!(ffprobe(&mp4).video.is_some());
}

/// A connection that completes the handshake and then goes silent is dropped after the
/// idle timeout.
#[test]
fn silent_connections_are_dropped() {
    let dir = TempDir::new("idle");
    let server = start_keyed(dir.path());
    let mut socket = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    // C0 + C1 of a simple handshake, then silence.
    let mut c0c1 = vec![3u8];
    c0c1.extend(std::iter::repeat_n(0u8, 1536));
    socket.write_all(&c0c1).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 8192];
    loop {
        match socket.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(30),
        "closed by the server after its timeout, not ours: {waited:?}"
    );
    let log = server.stop();
    assert!(
        log.contains("not publishing after") || log.contains("no data for"),
        "{log}"
    );
}

/// A stream no template matches may publish, is not recorded, and the log says so once.
#[test]
fn unmatched_streams_are_not_recorded_and_said_once() {
    let dir = TempDir::new("unmatched");
    let input = make_input(dir.path(), 1);
    let server = Server::start(
        dir.path(),
        "[[template]]\napp = \"live\"\nstream = \"cam1\"\nformats = [\"mp4\"]\n",
    );
    for _ in 0..2 {
        push(&input, &server.url("live", "other"));
    }
    let recordings = server.recordings();
    let log = server.stop();
    assert_eq!(
        log.matches("no template matches this stream").count(),
        1,
        "{log}"
    );
    assert!(find_files(&recordings, "").is_empty(), "nothing recorded");
}
