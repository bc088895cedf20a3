//! ffmpeg publishes over RTMP into `tapedeck serve`; ffprobe reads back every file written.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod common;

use common::*;

const TEMPLATE: &str = r#"
[[template]]
formats = ["m3u8", "mp4", "flv"]
interruption_window = "2s"
[template.m3u8]
slice_duration = "2s"
"#;

const FRAME: f64 = 1.0 / 30.0;

#[test]
fn ffmpeg_publish_is_recorded_as_hls_mp4_and_flv() {
    let dir = TempDir::new("rtmp");
    let input = make_input(dir.path(), 6);
    let want = ffprobe(&input);
    let want_video = want.video.clone().expect("input has video");
    // A setup timeout shorter than the publish: it must not end a connection that published.
    let server = Server::start_with(dir.path(), |port| {
        format!("[ingest]\nrtmp_listen = \"127.0.0.1:{port}\"\nsetup_timeout = \"3s\"\n{TEMPLATE}")
    });

    push(&input, &server.url("live", "cam1"));

    let root = server.recordings().join("record/live/cam1");
    // The window is 2 s: after it the playlist gets its final name and ENDLIST.
    let (playlist, mp4, flv) = wait_finished(&root, 30);
    let log = server.stop();
    assert!(
        find_files(&root, ".part").is_empty(),
        "no .part file is left after the recording ends"
    );

    let text = std::fs::read_to_string(&playlist).unwrap();
    assert!(text.contains("#EXT-X-ENDLIST"), "{text}");
    assert!(text.contains("#EXT-X-PROGRAM-DATE-TIME"), "{text}");
    let segments = find_files(&root, ".ts");
    assert!(segments.len() >= 3, "6 s in 2 s slices: {segments:?}");
    for seg in &segments {
        let name = seg.file_name().unwrap().to_string_lossy().to_string();
        assert!(text.contains(&name), "playlist lists {name}");
    }

    for file in [&playlist, &mp4, &flv] {
        let got = ffprobe(file);
        let v = got
            .video
            .clone()
            .unwrap_or_else(|| panic!("{} has video: {got:?}", file.display()));
        let a = got
            .audio
            .clone()
            .unwrap_or_else(|| panic!("{} has audio: {got:?}", file.display()));
        assert_eq!(
            (v.codec.as_str(), v.width, v.height),
            ("h264", 320, 240),
            "{}",
            file.display()
        );
        assert_eq!(
            (a.codec.as_str(), a.sample_rate, a.channels),
            ("aac", 44100, 2),
            "{}",
            file.display()
        );
        assert_eq!(
            v.packets,
            want_video.packets,
            "{}: every pushed video frame, once",
            file.display()
        );
        assert!(
            (got.duration - want.duration).abs() <= 2.0 * FRAME + 0.05,
            "{}: duration {} vs {}",
            file.display(),
            got.duration,
            want.duration
        );
        let errors = decode_errors(file);
        assert!(
            errors.trim().is_empty(),
            "{} decodes cleanly: {errors}",
            file.display()
        );
        // A file starts at a video key frame, so audio from before it is not there; what
        // remains must line up with the video as it did in the input, within a frame
        // (plus an AAC frame of start granularity).
        let skew = av_offset(&got) - av_offset(&want);
        assert!(
            skew.abs() <= FRAME + 0.024,
            "{}: audio/video offset differs by {skew:.3}s",
            file.display()
        );
        let times = video_packet_times(file);
        assert!(
            times.windows(2).all(|w| w[1].1 > w[0].1),
            "{}: DTS strictly increasing",
            file.display()
        );
        assert!(
            times.first().is_some_and(|t| t.2),
            "{}: starts on a key frame",
            file.display()
        );
    }
    assert!(log.contains("recording started"), "{log}");
    assert!(
        !log.contains("not publishing after"),
        "a finished publish is not a setup timeout: {log}"
    );
    assert!(
        !log.contains("WARN"),
        "a clean publish logs no warning: {log}"
    );
}

#[test]
fn kill_9_leaves_playable_files_and_the_next_start_recovers_them() {
    let dir = TempDir::new("kill9");
    let input = make_input(dir.path(), 10);
    let server = Server::start(dir.path(), TEMPLATE);
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
    wait_for(30, "two finished segments", || {
        (find_files(&root, ".ts").len() >= 2).then_some(())
    });
    std::thread::sleep(std::time::Duration::from_millis(1500));
    server.kill9();
    let _ = publisher.join();

    for seg in find_files(&root, ".ts") {
        let p = ffprobe(&seg);
        assert!(
            p.video.as_ref().is_some_and(|v| v.packets > 0),
            "{}: {p:?}",
            seg.display()
        );
        let errors = decode_errors(&seg);
        assert!(errors.trim().is_empty(), "{}: {errors}", seg.display());
    }
    let part = find_files(&root, ".mp4.part");
    assert_eq!(part.len(), 1, "the fragmented mp4 being written: {part:?}");
    let p = ffprobe(&part[0]);
    let v = p.video.expect("fragmented mp4 has video");
    assert!(
        v.packets >= 60,
        "at least the first 2 s survive: {} packets",
        v.packets
    );
    assert!(p.audio.is_some_and(|a| a.packets > 0));

    // The next start recovers every left-over into a complete, final file.
    let segments_before = find_files(&root, ".ts").len();
    let server = Server::start(dir.path(), TEMPLATE);
    let log = server.stop();
    assert!(log.contains("recovered"), "{log}");
    assert!(
        find_files(&root, ".part").is_empty(),
        "no .part left: {:?}\n{log}",
        find_files(&root, ".part")
    );
    assert_eq!(
        find_files(&root, ".ts").len(),
        segments_before + 1,
        "the open segment was recovered"
    );
    let mp4 = find_files(&root, ".mp4");
    let flv = find_files(&root, ".flv");
    let playlists = find_files(&root, ".m3u8");
    assert_eq!((mp4.len(), flv.len(), playlists.len()), (1, 1, 1), "{log}");
    let text = std::fs::read_to_string(&playlists[0]).unwrap();
    assert!(text.contains("#EXT-X-ENDLIST"), "{text}");
    assert_eq!(text.matches(".ts").count(), segments_before + 1, "{text}");
    // The recovered MP4 and FLV keep the tag their .part files carried, so a catalog
    // rebuild restores them with their recording.
    let recording = tapedeck_media::hls::MediaPlaylist::parse(&text)
        .unwrap()
        .recording
        .expect("the recording's playlist is tagged");
    use tapedeck_recorder::tags::FileTag;
    for tag in [FileTag::read_mp4(&mp4[0]), FileTag::read_flv(&flv[0])] {
        let tag = tag.unwrap().expect("the recovered file is tagged");
        assert_eq!(tag.recording, recording, "{tag:?}");
        assert!(tag.end_ms.is_some_and(|end| end > tag.start_ms), "{tag:?}");
    }
    for file in [&mp4[0], &flv[0], &playlists[0]] {
        let p = ffprobe(file);
        let frames = p.video.as_ref().map_or(0, |v| v.packets);
        assert!(
            frames >= v.packets,
            "{}: {frames} frames, fewer than the {} of the fragmented file",
            file.display(),
            v.packets
        );
        let errors = decode_errors(file);
        assert!(errors.trim().is_empty(), "{}: {errors}", file.display());
    }
}
