//! The engine driven through its API alone (what the desktop app does): start it, publish
//! with ffmpeg, mark chapters while it records, stop recording by hand, find the files (the
//! chapters in ffprobe's output), watch the events, export a clip that keeps a chapter,
//! shut down.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tapedeck_config::Config;
use tapedeck_engine::{Engine, EngineEvent, EngineOptions, ErrorKind, ExportQuery};
use tapedeck_recorder::events::{FileKind, RecorderEvent};

fn tool(name: &str) -> &str {
    let found = Command::new(name)
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(found, "{name} is required (Debian: apt-get install ffmpeg)");
    name
}

/// 8 s of 1280x720 30 fps H.264 (a key frame every 2 s) + AAC.
fn input(dir: &Path) -> PathBuf {
    let path = dir.join("in.flv");
    let ok = Command::new(tool("ffmpeg"))
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc2=size=1280x720:rate=30")
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args([
            "-t",
            "8",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "60",
        ])
        .args(["-b:v", "2500k", "-pix_fmt", "yuv420p", "-c:a", "aac"])
        .arg(&path)
        .status()
        .expect("ffmpeg runs")
        .success();
    assert!(ok, "making the input");
    path
}

/// `ffprobe -show_chapters`: (start seconds, title) of each chapter.
fn chapters(file: &Path) -> Vec<(f64, String)> {
    let out = Command::new(tool("ffprobe"))
        .args(["-v", "error", "-show_chapters", "-of", "json"])
        .arg(file)
        .output()
        .expect("ffprobe runs");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    json["chapters"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|c| {
                    let start = c["start_time"]
                        .as_str()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(-1.0);
                    let title = c["tags"]["title"].as_str().unwrap_or("").to_string();
                    (start, title)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn config(dir: &Path) -> Config {
    let text = format!(
        "data_dir = {:?}\n[ingest]\nrtmp_listen = \"127.0.0.1:0\"\n[control]\nlisten = \"\"\n[[template]]\nformats = [\"m3u8\", \"mp4\", \"flv\"]\ninterruption_window = \"2s\"\n",
        dir.join("data")
    );
    Config::from_toml(&text, Path::new("test.toml")).expect("valid config")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_drives_the_engine_through_its_api() {
    let dir = std::env::temp_dir().join(format!("tapedeck-engine-api-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let input = input(&dir);
    let pushed_kbps = std::fs::metadata(&input).unwrap().len() as f64 * 8.0 / 8.0 / 1000.0;
    let options = EngineOptions::new(Arc::new(tapedeck_storage::MemoryStore::default()));
    let engine = Engine::start(config(&dir), options).await.expect("starts");
    let mut events = engine.events();

    // Nothing is live yet: a chapter is refused with a kind the app can act on.
    let e = engine
        .add_chapter("live", "cam", "Too early")
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e:?}");

    let url = format!("rtmp://{}/live/cam", engine.rtmp_addr());
    let publisher = std::thread::spawn(move || {
        Command::new("ffmpeg")
            .args(["-v", "error", "-re", "-i"])
            .arg(&input)
            .args(["-c", "copy", "-f", "flv", &url])
            .status()
            .expect("ffmpeg runs")
    });
    // Wait for the stream, then mark two chapters 2 s apart.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while engine.streams().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "the stream is live");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Live stats, as the app's Live screen reads them.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let stats = loop {
        let live = engine.live();
        if let Some(s) = live.iter().find(|s| s.stream == "cam") {
            if s.video
                .as_ref()
                .is_some_and(|v| v.keyframe_interval_s > 0.0)
                && s.bitrate_history_kbps.len() >= 3
            {
                break s.clone();
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "live stats: {live:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let video = stats.video.clone().unwrap();
    assert_eq!((video.width, video.height), (1280, 720), "{stats:?}");
    assert!((video.fps - 30.0).abs() < 3.0, "{stats:?}");
    assert!((video.keyframe_interval_s - 2.0).abs() < 0.01, "{stats:?}");
    assert_eq!(video.codec, "h264");
    let audio = stats.audio.clone().unwrap();
    assert_eq!((audio.sample_rate, audio.channels), (48000, 1), "{stats:?}");
    let mut history = stats.bitrate_history_kbps.clone();
    history.sort_unstable();
    let median = history[history.len() / 2] as f64;
    assert!(
        median > pushed_kbps * 0.5 && median < pushed_kbps * 1.5,
        "bitrate {median} kbps, pushed {pushed_kbps:.0} kbps: {stats:?}"
    );
    assert!(stats.recording && stats.connected, "{stats:?}");
    assert!(stats.recording_s > 1.0, "{stats:?}");
    assert_eq!(stats.template, "*/*");
    assert!(stats.source.starts_with("rtmp 127.0.0.1:"), "{stats:?}");
    assert!(stats.health.is_empty(), "{stats:?}");
    let intro = engine
        .add_chapter("live", "cam", "Intro")
        .await
        .expect("a chapter");
    tokio::time::sleep(Duration::from_secs(2)).await;
    engine
        .add_chapter("live", "cam", "Main part")
        .await
        .expect("a chapter");
    let e = engine.add_chapter("live", "cam", " ").await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Invalid, "{e:?}");
    // (A chapter at the very end of a file would last nothing: give it some media.)
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // Stopped by hand: the files are finished now, the publisher stays connected.
    engine.set_recording("live", "cam", false).expect("stops");
    let e = engine.add_chapter("live", "cam", "Late").await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict, "{e:?}");
    let mut finished = Vec::new();
    let mut marked = Vec::new();
    let wait = tokio::time::Instant::now() + Duration::from_secs(20);
    while !finished
        .iter()
        .any(|f: &tapedeck_recorder::events::FinishedFile| f.kind == FileKind::Mp4)
        || !finished.iter().any(|f| f.kind == FileKind::Flv)
    {
        let ev = tokio::time::timeout_at(wait, events.next())
            .await
            .expect("the files are finished within 20 s")
            .expect("the engine runs");
        match ev {
            EngineEvent::Recorder(RecorderEvent::FileFinished(f)) => finished.push(f),
            EngineEvent::Recorder(RecorderEvent::ChapterAdded { title, .. }) => marked.push(title),
            _ => {}
        }
    }
    assert_eq!(marked, ["Intro", "Main part"]);
    let mp4 = finished.iter().find(|f| f.kind == FileKind::Mp4).unwrap();
    let got = chapters(&mp4.path);
    let titles: Vec<&str> = got.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(titles, ["Intro", "Main part"], "{got:?}");
    // About 2 s in, and 2 s apart (the live edge moves with the publisher's pace).
    assert!((got[1].0 - got[0].0 - 2.0).abs() < 0.8, "{got:?}");
    assert!(got[0].0 > 0.5 && got[0].0 < 4.5, "{got:?}");
    let playlist = finished
        .iter()
        .find(|f| f.kind == FileKind::Playlist)
        .expect("the playlist");
    let text = std::fs::read_to_string(&playlist.path).unwrap();
    assert_eq!(
        text.matches("CLASS=\"com.tapedeck.chapter\"").count(),
        2,
        "{text}"
    );

    // A clip over the first chapter keeps it.
    let clip = dir.join("clip.mp4");
    let query = ExportQuery {
        app: "live".into(),
        stream: "cam".into(),
        start: intro.at - chrono::Duration::seconds(1),
        end: intro.at + chrono::Duration::seconds(1),
        output: clip.clone(),
        close_gaps: false,
    };
    engine
        .export(query, |_| {}, tokio_util::sync::CancellationToken::new())
        .await
        .expect("exports");
    let kept = chapters(&clip);
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0].1, "Intro");
    assert!((kept[0].0 - 1.0).abs() < 0.2, "{kept:?}");

    let _ = tokio::task::spawn_blocking(move || publisher.join()).await;
    engine.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
