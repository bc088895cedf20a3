//! An attacker on the same network as the streamer, against a running `tapedeck serve`
//! while ffmpeg publishes:
//!
//! - `connect` commands whose command object nests AMF0 strict arrays, objects and ECMA
//!   arrays 500,000 levels deep (once crashed the whole server with a stack overflow), and
//!   the same nested 5,000 deep (small enough to pass the size limit, so the nesting limit
//!   itself is what refuses them), and an `onMetaData` nested that deep after a valid
//!   publish: each attacker connection is closed with a logged reason, the publisher's
//!   files hold every frame, and a new publisher is accepted afterwards;
//! - 10,000 idle TCP connections and 1,000 handshakes left half way: the server's memory
//!   and open sockets stay bounded, the stream already publishing records every frame,
//!   and a publisher arriving during the flood gets in.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod common;
#[path = "common/raw_rtmp.rs"]
mod raw_rtmp;

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;

use common::*;
use raw_rtmp::*;

const TEMPLATE: &str = r#"
[[template]]
formats = ["mp4", "flv"]
interruption_window = "2s"
"#;

const STRICT_ARRAY: u8 = 0x0a;
const OBJECT: u8 = 0x03;
const ECMA_ARRAY: u8 = 0x08;

/// `depth` AMF0 containers of one value each, each inside the previous, around a null.
fn nested(marker: u8, depth: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..depth {
        match marker {
            STRICT_ARRAY => out.extend_from_slice(&[STRICT_ARRAY, 0, 0, 0, 1]),
            OBJECT => out.extend_from_slice(&[OBJECT, 0, 1, b'a']),
            _ => out.extend_from_slice(&[ECMA_ARRAY, 0, 0, 0, 1, 0, 1, b'a']),
        }
    }
    out.push(0x05);
    if marker != STRICT_ARRAY {
        for _ in 0..depth {
            out.extend_from_slice(&[0, 0, 0x09]);
        }
    }
    out
}

/// An AMF0 string value.
fn amf_string(s: &str) -> Vec<u8> {
    let mut out = vec![0x02];
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
    out
}

/// One message as chunks of `size` bytes (128 until a client sets another; `publish` sets
/// 4096, as rml_rtmp's client does).
fn chunks(size: usize, type_id: u8, stream_id: u32, body: &[u8]) -> Vec<u8> {
    let mut out = vec![0x03, 0, 0, 0];
    out.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    out.push(type_id);
    out.extend_from_slice(&stream_id.to_le_bytes());
    for (k, chunk) in body.chunks(size).enumerate() {
        if k > 0 {
            out.push(0xc3);
        }
        out.extend_from_slice(chunk);
    }
    out
}

/// Sends `bytes` (the server may close half way: that is the point) and waits for the close.
fn send_and_expect_close(server: &Server, s: &mut TcpStream, bytes: &[u8], what: &str) {
    let _ = s.write_all(bytes);
    assert!(
        closed_by_server(s, 10),
        "{what}: the connection is closed: {}",
        server.log_text()
    );
}

fn video_packets(file: &Path) -> u64 {
    ffprobe(file)
        .video
        .unwrap_or_else(|| panic!("{} has video", file.display()))
        .packets
}

#[test]
fn deeply_nested_amf0_closes_only_the_attacker() {
    let dir = TempDir::new("hostile-amf");
    let input = make_input(dir.path(), 6);
    let want = ffprobe(&input).video.expect("input has video").packets;
    let mut server = Server::start(dir.path(), TEMPLATE);
    let url = server.url("live", "good");
    let good = {
        let input = input.clone();
        std::thread::spawn(move || {
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
        })
    };
    let root = server.recordings().join("record/live/good");
    wait_for(20, "the good stream's recording to start", || {
        (!find_files(&root, ".part").is_empty()).then_some(())
    });

    let mut attackers = Vec::new();
    for marker in [STRICT_ARRAY, OBJECT, ECMA_ARRAY] {
        for depth in [500_000, 5_000] {
            let (mut s, peer) = connect(server.port);
            handshake(&mut s);
            let mut body = amf_string("connect");
            body.extend_from_slice(&[0x00]);
            body.extend_from_slice(&1f64.to_be_bytes());
            body.extend(nested(marker, depth));
            let what = format!("connect nesting marker {marker:#x} {depth} deep");
            send_and_expect_close(&server, &mut s, &chunks(128, 20, 0, &body), &what);
            attackers.push((peer, what, depth));
        }
    }
    // A valid publish, then `@setDataFrame onMetaData` nested 8,000 deep.
    let (mut s, evil_peer) = connect(server.port);
    let _client = publish(&mut s, "evil");
    let mut body = amf_string("@setDataFrame");
    body.extend(amf_string("onMetaData"));
    body.extend(nested(ECMA_ARRAY, 8_000));
    send_and_expect_close(
        &server,
        &mut s,
        &chunks(4096, 18, 1, &body),
        "nested onMetaData",
    );

    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server is still running: {}",
        server.log_text()
    );
    let pushed = good.join().unwrap();
    assert!(
        pushed.status.success(),
        "the good publisher was not disturbed: {}",
        String::from_utf8_lossy(&pushed.stderr)
    );
    let mp4 = wait_for(20, "the finalized mp4", || {
        final_files(&root, ".mp4").into_iter().next()
    });
    let flv = wait_for(20, "the finalized flv", || {
        final_files(&root, ".flv").into_iter().next()
    });
    assert_eq!(video_packets(&mp4), want, "every frame in the mp4");
    assert_eq!(video_packets(&flv), want, "every frame in the flv");

    // A new publisher is accepted afterwards.
    push(&input, &server.url("live", "after"));
    let after = server.recordings().join("record/live/after");
    let mp4 = wait_for(20, "the later stream's mp4", || {
        final_files(&after, ".mp4").into_iter().next()
    });
    assert_eq!(video_packets(&mp4), want);

    let log = server.stop();
    for (peer, what, depth) in attackers {
        let lines = lines_of(&log, &peer);
        let reason = if depth > 10_000 {
            "the limit is 65536" // refused at the message header, before any byte is held
        } else {
            "nested deeper than 32 levels"
        };
        assert!(
            lines.contains("RTMP connection dropped: protocol:") && lines.contains(reason),
            "{what}: logged with its reason ({reason}): {lines}"
        );
    }
    let lines = lines_of(&log, &evil_peer);
    assert!(
        lines.contains("publisher started")
            && lines.contains("a data message: AMF0 value nested deeper than 32 levels"),
        "nested onMetaData: {lines}"
    );
}

/// The server's resident memory, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Makes sure this process may hold `n` more sockets.
fn allow_files(n: u64) {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let want = n + 1024;
    if limit.current.is_some_and(|c| c < want) {
        let raised = Rlimit {
            current: Some(limit.maximum.map_or(want, |m| m.min(want))),
            maximum: limit.maximum,
        };
        setrlimit(Resource::Nofile, raised).expect("raising the open files limit");
    }
    let now = getrlimit(Resource::Nofile).current;
    assert!(
        now.is_none_or(|c| c >= want),
        "this test holds {n} sockets; the open files limit is {now:?} (raise it with ulimit -n)"
    );
}

#[test]
fn a_connection_flood_cannot_lock_publishers_out() {
    const IDLE: usize = 10_000;
    const HALF_HANDSHAKES: usize = 1_000;
    allow_files((IDLE + HALF_HANDSHAKES) as u64);
    let dir = TempDir::new("hostile-flood");
    let input = make_input(dir.path(), 12);
    let want = ffprobe(&input).video.expect("input has video").packets;
    let server = Server::start(dir.path(), TEMPLATE);
    let pid = server.child.id();
    let url = server.url("live", "before");
    let before = {
        let input = input.clone();
        std::thread::spawn(move || {
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
        })
    };
    let root = server.recordings().join("record/live/before");
    wait_for(20, "the first stream's recording to start", || {
        (!find_files(&root, ".part").is_empty()).then_some(())
    });
    let rss_before = rss_kib(pid);

    let mut flood = Vec::with_capacity(IDLE + HALF_HANDSHAKES);
    for _ in 0..IDLE {
        flood.push(TcpStream::connect(("127.0.0.1", server.port)).expect("flood connect"));
    }
    for _ in 0..HALF_HANDSHAKES {
        let mut s = TcpStream::connect(("127.0.0.1", server.port)).expect("flood connect");
        // C0 and half of C1.
        let _ = s.write_all(&[3; 1 + 768]);
        flood.push(s);
    }
    let fds = open_fds(pid);
    let rss_flood = rss_kib(pid);

    // A publisher arriving while the flood holds its sockets gets in and records whole.
    let second = std::thread::spawn({
        let input = input.clone();
        let url = server.url("live", "during");
        move || push(&input, &url)
    });
    second.join().expect("the second publisher");
    let during = server.recordings().join("record/live/during");
    let mp4 = wait_for(30, "the second stream's mp4", || {
        final_files(&during, ".mp4").into_iter().next()
    });
    assert_eq!(
        video_packets(&mp4),
        want,
        "every frame of the second stream"
    );

    let pushed = before.join().unwrap();
    assert!(
        pushed.status.success(),
        "the first publisher was not disturbed: {}",
        String::from_utf8_lossy(&pushed.stderr)
    );
    let mp4 = wait_for(30, "the first stream's mp4", || {
        final_files(&root, ".mp4").into_iter().next()
    });
    assert_eq!(video_packets(&mp4), want, "every frame of the first stream");
    drop(flood);

    // 11,000 connections made, a few hundred held at most (the limits plus what is closing).
    assert!(fds < 700, "the server holds {fds} files during the flood");
    let grown = rss_flood.saturating_sub(rss_before);
    assert!(
        grown < 64 * 1024,
        "the server's memory grew by {grown} KiB during the flood"
    );
    let log = server.stop();
    assert!(
        log.contains("RTMP connection limit reached"),
        "the limit is logged"
    );
    assert!(
        log.lines()
            .filter(|l| l.contains("RTMP connection limit reached"))
            .count()
            < 100,
        "the limit's log lines are rate-limited"
    );
}
