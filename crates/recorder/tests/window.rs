//! The interruption window, on simulated time: a stream that comes back within the window
//! continues the same recording (one file, a discontinuity, the gap kept in the timeline);
//! past the window a new recording starts. A newer publisher takes over a live one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tapedeck_ingest::{PublishRequest, PublishSink};
use tapedeck_media::flv::reader::FlvReader;
use tapedeck_media::flv::tag::TagDecoder;
use tapedeck_media::MediaEvent;
use tapedeck_recorder::config::{Format, Template};
use tapedeck_recorder::duration::Secs;
use tapedeck_recorder::events::{FileKind, RecorderEvent};
use tapedeck_recorder::{Config, Recorder};

const FIXTURE: &[u8] = include_bytes!("../../../tests/fixtures/h264_aac_2s.flv");

fn fixture_events() -> Vec<MediaEvent> {
    let mut tags = Vec::new();
    FlvReader::new().push(FIXTURE, &mut tags).unwrap();
    let mut dec = TagDecoder::new();
    let mut events = Vec::new();
    for t in tags {
        let body = Bytes::from(t.body.to_vec());
        match t.kind {
            8 => dec.audio(t.ts_ms, body, &mut events).unwrap(),
            9 => dec.video(t.ts_ms, body, &mut events).unwrap(),
            _ => {}
        }
    }
    events
}

fn config(dir: &Path, window: u64) -> Config {
    let template = Template {
        formats: vec![Format::M3u8, Format::Mp4, Format::Flv],
        interruption_window: Secs(window),
        ..Template::default()
    };
    Config {
        data_dir: dir.to_owned(),
        template: vec![template],
        ..Config::default()
    }
}

/// A recorder whose wall clock follows tokio's (paused) clock, as the real one follows
/// real time: a recording after the window starts that much later.
fn recorder(dir: &Path, window: u64) -> Recorder {
    let origin = (chrono::Utc::now(), tokio::time::Instant::now());
    let clock = Arc::new(move || {
        origin.0 + chrono::Duration::from_std(origin.1.elapsed()).unwrap_or_default()
    });
    Recorder::with_wall_clock(config(dir, window), clock)
}

fn request(origin: &str) -> PublishRequest {
    PublishRequest {
        app: "live".into(),
        stream: "cam1".into(),
        args: Vec::new(),
        origin: origin.into(),
    }
}

/// Publishes the 2 s fixture and disconnects.
async fn publish_once(rec: &Recorder, origin: &str) {
    let mut p = rec.publish(request(origin)).unwrap();
    for ev in fixture_events() {
        p.media.send(ev).await.unwrap();
    }
}

async fn wait_stopped(
    events: &mut tokio::sync::broadcast::Receiver<RecorderEvent>,
) -> Vec<RecorderEvent> {
    let mut seen = Vec::new();
    loop {
        let ev = events.recv().await.unwrap();
        let stop = matches!(ev, RecorderEvent::RecordStopped { .. });
        seen.push(ev);
        if stop {
            return seen;
        }
    }
}

fn files(events: &[RecorderEvent], kind: FileKind) -> Vec<PathBuf> {
    events
        .iter()
        .filter_map(|e| match e {
            RecorderEvent::FileFinished(f) if f.kind == kind => Some(f.path.clone()),
            _ => None,
        })
        .collect()
}

fn temp(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("tapedeck-window-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    p
}

#[tokio::test(start_paused = true)]
async fn a_return_within_the_window_continues_the_recording() {
    let dir = temp("within");
    let rec = recorder(&dir, 100);
    let mut events = rec.subscribe();
    publish_once(&rec, "first").await;
    tokio::time::sleep(Duration::from_secs(60)).await; // inside the 100 s window
    assert_eq!(rec.active(), vec![("live".to_string(), "cam1".to_string())]);
    publish_once(&rec, "second").await;
    let seen = wait_stopped(&mut events).await;

    assert!(
        seen.iter().any(
            |e| matches!(e, RecorderEvent::RecordResumed { origin, .. } if origin == "second")
        ),
        "{seen:?}"
    );
    assert_eq!(
        seen.iter()
            .filter(|e| matches!(e, RecorderEvent::RecordStarted { .. }))
            .count(),
        1
    );
    let mp4 = files(&seen, FileKind::Mp4);
    let flv = files(&seen, FileKind::Flv);
    let playlists = files(&seen, FileKind::Playlist);
    assert_eq!(
        (mp4.len(), flv.len(), playlists.len()),
        (1, 1, 1),
        "{seen:?}"
    );
    let text = std::fs::read_to_string(&playlists[0]).unwrap();
    assert_eq!(text.matches("#EXT-X-DISCONTINUITY").count(), 1, "{text}");
    assert!(text.contains("#EXT-X-ENDLIST"), "{text}");
    // The gap stays in the timeline: the second publish starts 60 s after the first, and
    // lasts 2 s.
    let duration = seen
        .iter()
        .find_map(|e| match e {
            RecorderEvent::FileFinished(f) if f.kind == FileKind::Mp4 => Some(f.duration),
            _ => None,
        })
        .unwrap();
    assert!(
        (duration - 62.0).abs() < 1.0,
        "mp4 spans the gap: {duration}"
    );
    assert!(rec.active().is_empty());
    std::fs::remove_dir_all(dir).unwrap();
}

/// A publisher back at once (no wall-clock time has passed, as when media arrives faster
/// than real time): the new run starts where the last segment before it ends (its last
/// frame's end), not inside it. Segment times tile: each PROGRAM-DATE-TIME + EXTINF is the
/// next one's PROGRAM-DATE-TIME, the resume included.
#[tokio::test(start_paused = true)]
async fn a_quick_return_starts_where_the_last_segment_ends() {
    let dir = temp("quick");
    let rec = recorder(&dir, 100);
    let mut events = rec.subscribe();
    publish_once(&rec, "first").await;
    publish_once(&rec, "second").await;
    let seen = wait_stopped(&mut events).await;
    let playlists = files(&seen, FileKind::Playlist);
    assert_eq!(playlists.len(), 1, "{seen:?}");
    let text = std::fs::read_to_string(&playlists[0]).unwrap();
    let playlist = tapedeck_media::hls::MediaPlaylist::parse(&text).unwrap();
    let times: Vec<(i64, i64, bool)> = playlist
        .segments
        .iter()
        .map(|s| {
            (
                s.program_date_time.unwrap().timestamp_millis(),
                (s.duration * 1000.0).round() as i64,
                s.discontinuity,
            )
        })
        .collect();
    assert_eq!(times.iter().filter(|s| s.2).count(), 1, "{text}");
    for pair in times.windows(2) {
        assert_eq!(pair[0].0 + pair[0].1, pair[1].0, "{text}");
    }
    // Both pushes: twice the fixture's 2 s (to its last frame's end).
    let total: i64 = times.iter().map(|s| s.1).sum();
    assert!((total - 4000).abs() < 150, "{total} ms\n{text}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_return_after_the_window_is_a_new_recording() {
    let dir = temp("after");
    let rec = recorder(&dir, 100);
    let mut events = rec.subscribe();
    publish_once(&rec, "first").await;
    let first = wait_stopped(&mut events).await; // the window expires on simulated time
    publish_once(&rec, "second").await;
    tokio::time::sleep(Duration::from_secs(101)).await;
    let second = wait_stopped(&mut events).await;
    for seen in [&first, &second] {
        assert_eq!(files(seen, FileKind::Mp4).len(), 1);
        assert_eq!(files(seen, FileKind::Playlist).len(), 1);
        assert!(seen
            .iter()
            .any(|e| matches!(e, RecorderEvent::RecordStarted { .. })));
        assert!(!seen
            .iter()
            .any(|e| matches!(e, RecorderEvent::RecordResumed { .. })));
    }
    // Both recordings are in the stream's daily index, the second after a discontinuity.
    let daily = common_daily(&dir);
    assert_eq!(
        daily.lines().filter(|l| l.ends_with(".ts")).count(),
        2,
        "{daily}"
    );
    assert_eq!(daily.matches("#EXT-X-DISCONTINUITY").count(), 1, "{daily}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_new_publisher_takes_over_a_live_stream() {
    let dir = temp("takeover");
    let rec = recorder(&dir, 30);
    let mut events = rec.subscribe();
    let mut old = rec.publish(request("old")).unwrap();
    let evs = fixture_events();
    for ev in &evs[..40] {
        old.media.send(ev.clone()).await.unwrap();
    }
    // OBS reconnects before the server noticed the old connection died.
    let mut new = rec.publish(request("new")).unwrap();
    assert!(old.cancel.is_cancelled(), "the old publisher is told to go");
    for ev in evs {
        new.media.send(ev).await.unwrap();
    }
    drop((old, new));
    let seen = wait_stopped(&mut events).await;
    assert_eq!(
        seen.iter()
            .filter(|e| matches!(e, RecorderEvent::RecordStarted { .. }))
            .count(),
        1
    );
    assert!(seen
        .iter()
        .any(|e| matches!(e, RecorderEvent::RecordResumed { origin, .. } if origin == "new")));
    assert_eq!(files(&seen, FileKind::Mp4).len(), 1);
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(start_paused = true)]
async fn shutdown_finalizes_without_waiting_for_the_window() {
    let dir = temp("shutdown");
    let rec = recorder(&dir, 21600);
    let mut events = rec.subscribe();
    publish_once(&rec, "first").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    rec.shutdown().await;
    let seen = wait_stopped(&mut events).await;
    assert_eq!(files(&seen, FileKind::Mp4).len(), 1);
    assert_eq!(files(&seen, FileKind::Flv).len(), 1);
    assert!(
        rec.publish(request("late")).is_err(),
        "no new recordings after shutdown"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// The file-replay source: a recording made with no network at all.
#[tokio::test]
async fn a_replayed_file_is_recorded_like_a_publish() {
    use tapedeck_ingest::pull::{pump, FlvSource, PullSpec};
    let dir = temp("replay");
    let rec = recorder(&dir, 0);
    let mut events = rec.subscribe();
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/h264_aac_2s.flv");
    let source = FlvSource::open_file(&fixture, false).await.unwrap();
    let spec = PullSpec {
        url: fixture.display().to_string(),
        app: "live".into(),
        stream: "cam1".into(),
    };
    pump(
        source,
        &spec,
        &rec,
        &tokio_util::sync::CancellationToken::new(),
    )
    .await
    .unwrap();
    let seen = wait_stopped(&mut events).await;
    assert_eq!(files(&seen, FileKind::Mp4).len(), 1, "{seen:?}");
    let mp4 = seen
        .iter()
        .find_map(|e| match e {
            RecorderEvent::FileFinished(f) if f.kind == FileKind::Mp4 => Some(f.clone()),
            _ => None,
        })
        .unwrap();
    assert!((mp4.duration - 2.0).abs() < 0.1, "{}", mp4.duration);
    std::fs::remove_dir_all(dir).unwrap();
}

/// The daily index of live/cam1 (there is one day in these tests).
fn common_daily(dir: &Path) -> String {
    let folder = dir.join("recordings/live/cam1");
    let entries: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "m3u8"))
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    std::fs::read_to_string(&entries[0]).unwrap()
}

/// Manual control: stopping finishes the files at once, the stream stays connected, and
/// starting again records into new files.
#[tokio::test(start_paused = true)]
async fn manual_stop_and_start_of_a_live_stream() {
    let dir = temp("manual");
    // A wall clock the test moves on by hand: the frames below come faster than real time.
    let base = chrono::Utc::now();
    let moved = Arc::new(AtomicI64::new(0));
    let clock = {
        let moved = moved.clone();
        Arc::new(move || base + chrono::Duration::milliseconds(moved.load(Ordering::SeqCst)))
    };
    let rec = Recorder::with_wall_clock(config(&dir, 10), clock);
    let mut events = rec.subscribe();
    assert!(rec
        .set_recording("live", "cam1", false)
        .unwrap_err()
        .to_string()
        .contains("not live"));
    let mut p = rec.publish(request("obs")).unwrap();
    let first = fixture_events();
    // The same 2 s again, `ms` later on the publisher's clock (it starts with a key frame).
    let later = |ms: i64| -> Vec<MediaEvent> {
        fixture_events()
            .into_iter()
            .filter_map(|e| match e {
                MediaEvent::Frame(mut f) => {
                    f.dts += tapedeck_media::MediaTime::from_millis(ms);
                    f.pts += tapedeck_media::MediaTime::from_millis(ms);
                    Some(MediaEvent::Frame(f))
                }
                _ => None,
            })
            .collect()
    };
    for ev in first {
        p.media.send(ev).await.unwrap();
    }
    // Let the recording take them (a fixed pause was too short on a busy machine).
    for _ in 0..1000 {
        if rec.sample_live().iter().any(|s| s.recording_s >= 1.5) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        rec.sample_live().iter().any(|s| s.recording_s >= 1.5),
        "the first 2 s were not recorded: {:?}",
        rec.sample_live()
    );
    rec.set_recording("live", "cam1", false).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    rec.set_recording("live", "cam1", true).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Started again within the second the first recording started in: its files would
    // take the first one's names (they used to: its first segment was overwritten and its
    // MP4 and FLV .part truncated while they were being finished). Not recorded.
    for ev in later(2100) {
        p.media.send(ev).await.unwrap();
    }
    // A second on, the next recording starts, with names of its own.
    moved.store(1000, Ordering::SeqCst);
    for ev in later(4200) {
        p.media.send(ev).await.unwrap();
    }
    drop(p);
    let seen = wait_stopped(&mut events).await;
    let toggles: Vec<bool> = seen
        .iter()
        .filter_map(|e| match e {
            RecorderEvent::RecordToggled { recording, .. } => Some(*recording),
            _ => None,
        })
        .collect();
    assert_eq!(toggles, vec![false, true]);
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, RecorderEvent::WriteFailed { .. })),
        "{seen:#?}"
    );
    let mp4 = files(&seen, FileKind::Mp4);
    assert_eq!(
        mp4.len(),
        2,
        "one file before the stop, one after the start: {seen:#?}"
    );
    assert_ne!(mp4[0], mp4[1]);
    assert_eq!(files(&seen, FileKind::Playlist).len(), 2);
    // Every file finished is on disk as it was finished: nothing took another's name.
    let finished: Vec<_> = seen
        .iter()
        .filter_map(|e| match e {
            RecorderEvent::FileFinished(f) => Some(f),
            _ => None,
        })
        .collect();
    let mut paths: Vec<_> = finished.iter().map(|f| &f.path).collect();
    paths.sort();
    paths.dedup();
    assert_eq!(
        paths.len(),
        finished.len(),
        "two files of one name: {seen:#?}"
    );
    for f in finished {
        assert_eq!(
            std::fs::metadata(&f.path).unwrap().len(),
            f.bytes,
            "{}",
            f.path.display()
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}
