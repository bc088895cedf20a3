//! The interruption window with a real publisher: ffmpeg pushes, stops, pushes again within
//! the window (one recording with a discontinuity that ffprobe plays through), then again
//! after the window (a second recording).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod common;

use common::*;

const TEMPLATE: &str = r#"
[[template]]
formats = ["m3u8", "mp4"]
interruption_window = "4s"
[template.m3u8]
slice_duration = "2s"
"#;

#[test]
fn push_stop_push_within_and_after_the_window() {
    let dir = TempDir::new("window");
    let input = make_input(dir.path(), 3);
    let frames = ffprobe(&input).video.expect("video").packets;
    let server = Server::start(dir.path(), TEMPLATE);
    let url = server.url("live", "cam1");
    let push = || {
        ffmpeg_ok(&[
            "-re",
            "-i",
            input.to_str().unwrap(),
            "-c",
            "copy",
            "-f",
            "flv",
            &url,
        ])
    };
    push();
    std::thread::sleep(std::time::Duration::from_secs(1));
    push(); // within the 4 s window: the same recording
    let root = server.recordings().join("record/live/cam1");
    let finals = |ext: &str| final_files(&root, ext);
    let first = wait_for(30, "the first recording's playlist", || {
        finals(".m3u8").into_iter().next()
    });
    push(); // after the window: a new recording
    wait_for(30, "the second recording's playlist", || {
        (finals(".m3u8").len() == 2).then_some(())
    });
    wait_for(30, "two mp4 files", || {
        (finals(".mp4").len() == 2).then_some(())
    });
    let log = server.stop();

    let text = std::fs::read_to_string(&first).unwrap();
    assert_eq!(text.matches("#EXT-X-DISCONTINUITY").count(), 1, "{text}");
    assert!(text.contains("#EXT-X-ENDLIST"), "{text}");
    let mut mp4s = finals(".mp4");
    mp4s.sort();
    let probe = ffprobe(&first);
    assert_eq!(
        probe.video.as_ref().map(|v| v.packets),
        Some(2 * frames),
        "both pushes in the first playlist: {probe:?}\n{log}"
    );
    let errors = decode_errors(&first);
    assert!(
        errors.trim().is_empty(),
        "ffmpeg plays through the discontinuity: {errors}"
    );
    let first_mp4 = ffprobe(&mp4s[0]);
    assert_eq!(first_mp4.video.map(|v| v.packets), Some(2 * frames));
    assert!(
        first_mp4.duration >= 6.5,
        "the mp4 keeps the gap in its timeline: {}",
        first_mp4.duration
    );
    assert_eq!(ffprobe(&mp4s[1]).video.map(|v| v.packets), Some(frames));
    assert!(log.contains("publisher is back within the window"), "{log}");
}
