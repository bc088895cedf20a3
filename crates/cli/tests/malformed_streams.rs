//! Hostile and broken peers next to a good publisher: while ffmpeg publishes `live/good`,
//! raw TCP clients send garbage, random chunks, a command that made `rml_rtmp` panic, and a
//! publish of `live/bad` with malformed FLV bodies. Each bad connection must end (or its
//! bad packets be skipped) with a logged reason, the server must keep running, and the
//! good recording must hold every frame ffmpeg pushed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod common;
#[path = "common/raw_rtmp.rs"]
mod raw_rtmp;

use std::io::Write;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use raw_rtmp::*;
use rml_rtmp::time::RtmpTimestamp;

const TEMPLATE: &str = r#"
[[template]]
formats = ["mp4", "flv"]
interruption_window = "2s"
"#;

const AVCC: &[u8] = include_bytes!("../../../tests/fixtures/h264_320x240.avcc");

#[test]
fn malformed_peers_end_alone_and_the_good_stream_is_recorded_whole() {
    let dir = TempDir::new("malformed");
    let input = make_input(dir.path(), 4);
    let want = ffprobe(&input);
    let want_video = want.video.clone().expect("input has video");
    let mut server = Server::start(dir.path(), TEMPLATE);
    let port = server.port;

    let url = server.url("live", "good");
    let good = std::thread::spawn(move || {
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
    let root = server.recordings().join("record/live/good");
    wait_for(20, "the good stream's recording to start", || {
        (!find_files(&root, ".part").is_empty()).then_some(())
    });

    // (a) An HTTP request where a handshake belongs: version byte 'G' is not 3.
    let (mut garbage, garbage_peer) = connect(port);
    garbage
        .write_all(b"GET / HTTP/1.1\r\nHost: example\r\n\r\n")
        .unwrap();
    assert!(
        closed_by_server(&mut garbage, 5),
        "garbage handshake closed"
    );

    // (b) A real handshake, then random bytes as chunks.
    let (mut random, random_peer) = connect(port);
    handshake(&mut random);
    let _ = random.write_all(&noise(0x5eed_0001, 64 * 1024));
    assert!(closed_by_server(&mut random, 5), "random chunks closed");

    // (b') A `connect` command of one value, which made rml_rtmp 0.8 panic (found by
    // fuzz/rtmp_chunks: it drained three values); our core refuses it by name.
    let (mut panicky, panicky_peer) = connect(port);
    handshake(&mut panicky);
    let mut body = vec![0x02, 0, 7];
    body.extend_from_slice(b"connect");
    let mut chunk = vec![0x03, 0, 0, 0, 0, 0, body.len() as u8, 20, 0, 0, 0, 0];
    chunk.extend_from_slice(&body);
    panicky.write_all(&chunk).unwrap();
    assert!(
        closed_by_server(&mut panicky, 5),
        "panicking session closed"
    );

    // (c) A valid publish of live/bad, then malformed FLV video bodies.
    let (mut bad, bad_peer) = connect(port);
    let mut client = publish(&mut bad, "bad");
    let mut hvcc_zeros = vec![0x90, b'h', b'v', b'c', b'1'];
    hvcc_zeros.extend_from_slice(&[0; 64]);
    let mut avc_config = vec![0x17, 0, 0, 0, 0];
    avc_config.extend_from_slice(AVCC);
    let bodies: Vec<Vec<u8>> = vec![
        vec![0x17, 0],                      // AVC header cut before its composition time
        vec![0x17, 0, 0, 0, 0, 0x01, 0x64], // avcC cut after two bytes
        hvcc_zeros,                         // E-RTMP hvc1 SequenceStart, record all zeros
        avc_config,                         // a good header, so frames are decoded...
        vec![0x17, 1, 0, 0, 0, 0, 0, 0x40, 0, 0x65, 0x88], // ...this one's NAL overruns
        vec![0x27, 1, 0, 0, 0, 0, 0, 0],    // a NAL length prefix cut short
    ];
    for (i, body) in bodies.into_iter().enumerate() {
        let r = client
            .publish_video_data(Bytes::from(body), RtmpTimestamp::new(i as u32 * 33), false)
            .unwrap();
        bad.write_all(&out(r)).unwrap();
    }
    std::thread::sleep(Duration::from_millis(500));
    drop(bad);

    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server is still running: {}",
        server.log_text()
    );
    let status = good.join().unwrap();
    assert!(
        status.status.success(),
        "the good publisher was not disturbed: {}",
        String::from_utf8_lossy(&status.stderr)
    );

    let mp4 = wait_for(20, "the finalized mp4", || {
        find_files(&root, ".mp4").into_iter().next()
    });
    let flv = wait_for(20, "the finalized flv", || {
        find_files(&root, ".flv").into_iter().next()
    });
    let log = server.stop();

    let a = lines_of(&log, &garbage_peer);
    assert!(a.contains("RTMP connection dropped: handshake"), "(a): {a}");
    let b = lines_of(&log, &random_peer);
    assert!(b.contains("RTMP connection dropped: protocol"), "(b): {b}");
    let b2 = lines_of(&log, &panicky_peer);
    assert!(
        b2.contains("RTMP connection dropped: protocol: connect without an app name"),
        "(b'): {b2}"
    );
    let c = lines_of(&log, &bad_peer);
    let skipped = c.matches("skipping a bad packet").count();
    assert_eq!(skipped, 5, "(c) each bad body skipped with a reason: {c}");
    for reason in [
        "truncated",
        "bad video sequence header",
        "overruns the frame",
        "cut at byte",
    ] {
        assert!(c.contains(reason), "(c) logs {reason:?}: {c}");
    }
    assert!(c.contains("publisher of live/bad disconnected"), "(c): {c}");

    for file in [&mp4, &flv] {
        let got = ffprobe(file);
        let v = got
            .video
            .clone()
            .unwrap_or_else(|| panic!("{} has video: {got:?}", file.display()));
        assert!(got.audio.is_some(), "{} has audio: {got:?}", file.display());
        assert_eq!(
            v.packets,
            want_video.packets,
            "{}: every pushed video frame, once",
            file.display()
        );
        let errors = decode_errors(file);
        assert!(
            errors.trim().is_empty(),
            "{} decodes cleanly: {errors}",
            file.display()
        );
    }
}
