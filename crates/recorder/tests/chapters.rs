//! Chapters through the three outputs (`Output::chapter`), a crash, recovery and export,
//! read back by ffprobe (MP4), our readers (FLV, HLS). Needs ffprobe, like the other
//! tests that check what the recorder writes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

#[allow(dead_code)] // record_long_stream: the other tests'
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use tapedeck_catalog::Catalog;
use tapedeck_media::flv::amf0::Amf0Value;
use tapedeck_media::hls::MediaPlaylist;
use tapedeck_media::{MediaEvent, MediaTime, Tracks};
use tapedeck_recorder::config::{FileOptions, M3u8Options};
use tapedeck_recorder::duration::Secs;
use tapedeck_recorder::export::{export, ExportRequest};
use tapedeck_recorder::output::flv::FlvOutput;
use tapedeck_recorder::output::hls::HlsOutput;
use tapedeck_recorder::output::mp4::Mp4Output;
use tapedeck_recorder::output::{FileJob, Output, OutputContext};

/// The chapters marked: (media time on the recording's timeline, title).
const MARKS: [(i64, &str); 3] = [(0, "Start"), (5000, "Five"), (12_300, "Twelve \"live\"")];

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tapedeck-chapters-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every file under `dir` whose name ends with `suffix`.
fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else if p.to_string_lossy().ends_with(suffix) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn one(dir: &Path, suffix: &str) -> PathBuf {
    let found = files(dir, suffix);
    assert_eq!(found.len(), 1, "{suffix} files in {dir:?}: {found:?}");
    found[0].clone()
}

/// `ffprobe -show_chapters -of json`: (start s, end s, title).
fn probe_chapters(path: &Path) -> Vec<(f64, f64, String)> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_chapters", "-of", "json"])
        .arg(path)
        .output()
        .expect("ffprobe (a test peer) runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    json["chapters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let secs = |k: &str| c[k].as_str().unwrap().parse::<f64>().unwrap();
            (
                secs("start_time"),
                secs("end_time"),
                c["tags"]["title"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn format_duration(path: &Path) -> f64 {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// ffprobe's chapters are `want` (start in seconds, title), each within a frame, the last
/// ending at the end of the file.
fn assert_mp4_chapters(path: &Path, want: &[(f64, &str)]) {
    let got = probe_chapters(path);
    let end = format_duration(path);
    let frame = 1.0 / 30.0 + 0.001;
    assert_eq!(got.len(), want.len(), "{path:?}: {got:?}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.2, w.1, "{path:?} {got:?}");
        assert!(
            (g.0 - w.0).abs() <= frame,
            "{path:?} chapter {i} at {}: {got:?}",
            w.0
        );
        let next = want.get(i + 1).map_or(end, |n| n.0);
        assert!(
            (g.1 - next).abs() <= frame,
            "{path:?} chapter {i} end: {got:?}"
        );
    }
}

/// The FLV's `onMetaData.chapters`: (seconds, title).
fn flv_chapters(path: &Path) -> Vec<(f64, String)> {
    let meta = tapedeck_media::flv::read_metadata(std::fs::File::open(path).unwrap())
        .unwrap()
        .unwrap();
    let list = |k: &str| {
        meta.get("chapters")
            .and_then(|c| c.get(k))
            .and_then(Amf0Value::as_array)
            .unwrap()
            .to_vec()
    };
    list("times")
        .iter()
        .zip(list("titles"))
        .map(|(t, n)| (t.as_f64().unwrap(), n.as_str().unwrap().to_owned()))
        .collect()
}

/// The chapters of a playlist: (ms after t0, title).
fn playlist_chapters(text: &str) -> Vec<(i64, String)> {
    MediaPlaylist::parse_appended(text)
        .unwrap()
        .date_ranges
        .iter()
        .map(|r| {
            (
                (r.start_date - t0()).num_milliseconds(),
                r.chapter_title().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Copies the `.part` files of `from` into `to`, folders kept: what a `kill -9` leaves.
fn snapshot_parts(from: &Path, to: &Path) {
    for p in files(from, ".part") {
        let dest = to.join(p.strip_prefix(from).unwrap());
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&p, &dest).unwrap();
    }
}

async fn finish(jobs: &mut Vec<FileJob>) {
    for j in jobs.drain(..) {
        j.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn chapters_reach_every_format_survive_a_crash_and_export() {
    let root = scratch("root");
    let crashed = scratch("crashed");
    let catalog = Arc::new(Catalog::in_memory().unwrap());
    let ctx = OutputContext {
        root: root.clone(),
        app: "live".into(),
        stream: "cam1".into(),
        t0: t0(),
        tz: chrono_tz::UTC,
        recording: format!("live/cam1/{}", t0().timestamp_millis()),
        template: Arc::new(tapedeck_recorder::config::Template::default()),
        finisher: tapedeck_recorder::sink::Finisher::new(
            Some(Arc::new(tapedeck_recorder::sink::CatalogSink::new(
                catalog.clone(),
                None,
            ))),
            tokio::sync::broadcast::channel(4096).0,
        ),
        in_place: true,
    };
    let m3u8 = M3u8Options {
        slice_duration: Secs(2),
        daily_object: String::new(),
        ..M3u8Options::default()
    };
    let mut outputs: Vec<Box<dyn Output>> = vec![
        Box::new(HlsOutput::new(ctx.clone(), m3u8)),
        Box::new(Mp4Output::new(ctx.clone(), FileOptions::default())),
        Box::new(FlvOutput::new(ctx.clone(), FileOptions::default())),
    ];
    let mut tracks = Tracks::default();
    let mut jobs = Vec::new();
    let mut marks = MARKS.iter().peekable();
    let mut first_dts = None;
    // The MP4 movie starts at the first presented sample of any track.
    let mut first_shown: Option<MediaTime> = None;
    let mut snapshot_taken = false;
    for ev in common::long_stream() {
        let f = match ev {
            MediaEvent::VideoConfig(c) => {
                tracks.video = Some(c);
                continue;
            }
            MediaEvent::AudioConfig(c) => {
                tracks.audio = Some(c);
                continue;
            }
            MediaEvent::Frame(f) => f,
        };
        let first = *first_dts.get_or_insert(f.dts);
        first_shown = Some(first_shown.map_or(f.pts, |t| t.min(f.pts)));
        // A chapter marks the live edge: before the first frame at or after its time
        // (the first one before any frame: every output holds it for its first file).
        while let Some(&&(ms, title)) = marks.peek() {
            let at = first + MediaTime::from_millis(ms);
            if at > f.dts {
                break;
            }
            for o in outputs.iter_mut() {
                o.chapter(at, title).unwrap();
            }
            marks.next();
            if ms > 0 {
                // HLS: in the live playlist at once.
                let live = one(&root, ".m3u8.part");
                let text = std::fs::read_to_string(&live).unwrap();
                let quoted = title.replace('"', "'");
                assert!(
                    playlist_chapters(&text).iter().any(|c| c.1 == quoted),
                    "{title} in the live playlist:\n{text}"
                );
            }
        }
        // kill -9 at 15 s: after the last chapter, in the middle of everything.
        if !snapshot_taken && f.dts - first >= MediaTime::from_millis(15_000) {
            snapshot_parts(&root, &crashed);
            snapshot_taken = true;
        }
        for o in outputs.iter_mut() {
            o.write(&f, &tracks, &mut jobs).unwrap();
        }
        finish(&mut jobs).await;
    }
    for o in outputs.iter_mut() {
        o.close(&mut jobs).unwrap();
    }
    finish(&mut jobs).await;
    let first = first_dts.unwrap();
    assert_eq!(
        first,
        MediaTime::ZERO,
        "the fixture starts at 0: wall = t0 + dts"
    );

    // The finished files. MP4: a chapter track ffprobe reads, on the movie's timeline,
    // which starts at the first presented sample.
    let lead = first_shown.unwrap().as_secs_f64();
    assert!(lead > 0.0 && lead < 0.1, "{lead}");
    let want: Vec<(f64, &str)> = MARKS
        .iter()
        .map(|&(ms, t)| ((ms as f64 / 1000.0 - lead).max(0.0), t))
        .collect();
    assert_mp4_chapters(&one(&root, ".mp4"), &want);
    // FLV: the chapters index of onMetaData.
    let flv: Vec<(f64, String)> = MARKS
        .iter()
        .map(|&(ms, t)| (ms as f64 / 1000.0, t.to_owned()))
        .collect();
    assert_eq!(flv_chapters(&one(&root, ".flv")), flv);
    // HLS: the final playlist's date ranges, on the wall clock.
    let hls: Vec<(i64, String)> = MARKS
        .iter()
        .map(|&(ms, t)| (ms, t.replace('"', "'")))
        .collect();
    let playlist = std::fs::read_to_string(one(&root, ".m3u8")).unwrap();
    assert_eq!(playlist_chapters(&playlist), hls);
    assert!(playlist.contains("#EXT-X-PROGRAM-DATE-TIME:"));
    assert!(files(&root, ".part").is_empty());

    // What the crash left, recovered as at the next start: every chapter is there.
    let report = tapedeck_recorder::recover::recover(&crashed, true);
    // (The segment opened just before the crash may hold no whole frame yet.)
    assert!(
        report
            .failed
            .iter()
            .all(|f| f.path.to_string_lossy().ends_with(".ts.part")),
        "{:?}",
        report.failed
    );
    assert_mp4_chapters(&one(&crashed, ".mp4"), &want);
    assert_eq!(flv_chapters(&one(&crashed, ".flv")), flv);
    let playlist = std::fs::read_to_string(one(&crashed, ".m3u8")).unwrap();
    assert_eq!(playlist_chapters(&playlist), hls);

    // Export of 4 s to 14 s: "Five" and "Twelve" are inside, shifted by 4 s; "Start"
    // and one after the range are left out.
    let clip = root.join("clip.mp4");
    let ms = |ms: i64| t0() + chrono::Duration::milliseconds(ms);
    let request = ExportRequest {
        app: "live".into(),
        stream: "cam1".into(),
        start: ms(4000),
        end: ms(14_000),
        output: clip.clone(),
        close_gaps: false,
        chapters: MARKS
            .iter()
            .map(|&(at, t)| (ms(at), t.to_owned()))
            .chain([(ms(20_000), "After".to_owned())])
            .collect(),
    };
    export(&catalog, &root, &request, &mut |_| {}, &|| false).unwrap();
    assert_mp4_chapters(&clip, &[(1.0, "Five"), (8.3, "Twelve \"live\"")]);

    let _ = std::fs::remove_dir_all(&root);
    let _ = std::fs::remove_dir_all(&crashed);
}

/// A chapter marked in the past (inside a segment already listed) cannot be appended: the
/// live playlist is rewritten with it before that segment; one at the live edge is
/// appended. Either way the file reads as the whole playlist rendered.
#[tokio::test]
async fn a_chapter_in_the_past_rewrites_the_live_playlist() {
    let root = scratch("past");
    let ctx = OutputContext {
        root: root.clone(),
        app: "live".into(),
        stream: "cam1".into(),
        t0: t0(),
        tz: chrono_tz::UTC,
        recording: format!("live/cam1/{}", t0().timestamp_millis()),
        template: Arc::new(tapedeck_recorder::config::Template::default()),
        finisher: tapedeck_recorder::sink::Finisher::new(
            None,
            tokio::sync::broadcast::channel(16).0,
        ),
        in_place: true,
    };
    let m3u8 = M3u8Options {
        slice_duration: Secs(2),
        daily_object: String::new(),
        ..M3u8Options::default()
    };
    let mut hls = HlsOutput::new(ctx, m3u8);
    let mut tracks = Tracks::default();
    let mut jobs = Vec::new();
    let mut marked = 0;
    for ev in common::long_stream() {
        let f = match ev {
            MediaEvent::VideoConfig(c) => {
                tracks.video = Some(c);
                continue;
            }
            MediaEvent::AudioConfig(c) => {
                tracks.audio = Some(c);
                continue;
            }
            MediaEvent::Frame(f) => f,
        };
        let marks = [
            (
                MediaTime::from_secs(9),
                MediaTime::from_millis(1000),
                "In the past",
            ),
            (
                MediaTime::from_secs(11),
                MediaTime::from_secs(11),
                "Live edge",
            ),
        ];
        if let Some(&(when, at, title)) = marks.get(marked) {
            if f.dts >= when {
                hls.chapter(at, title).unwrap();
                marked += 1;
                let text = std::fs::read_to_string(one(&root, ".m3u8.part")).unwrap();
                let parsed = MediaPlaylist::parse_appended(&text).unwrap();
                assert_eq!(parsed.render(), text, "after {title}");
                assert_eq!(parsed.date_ranges.len(), marked);
                if marked == 1 {
                    // Before the segment it falls in: the first one, [0, 2 s).
                    let at = text.find("X-TITLE=\"In the past\"").unwrap();
                    let first_uri = text.find(".ts\n").unwrap();
                    assert!(at < first_uri, "{text}");
                } else {
                    assert!(text.ends_with("X-TITLE=\"Live edge\"\n"), "{text}");
                }
            }
        }
        hls.write(&f, &tracks, &mut jobs).unwrap();
        finish(&mut jobs).await;
    }
    hls.close(&mut jobs).unwrap();
    finish(&mut jobs).await;
    let text = std::fs::read_to_string(one(&root, ".m3u8")).unwrap();
    assert_eq!(
        playlist_chapters(&text),
        [
            (1000, "In the past".to_owned()),
            (11_000, "Live edge".to_owned())
        ]
    );
    let _ = std::fs::remove_dir_all(&root);
}
