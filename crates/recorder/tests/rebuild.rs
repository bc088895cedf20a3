//! `catalog rebuild` gives back the catalog the recorder built live: every segment,
//! playlist, MP4 and FLV row and every custom index row, equal field for field, from the
//! tags in the files alone. Files without a tag are counted, not guessed at.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

use std::sync::Arc;

use tapedeck_catalog::Catalog;
use tapedeck_recorder::config::{FileOptions, Format, M3u8Options, Template};
use tapedeck_recorder::duration::Secs;
use tapedeck_recorder::index::{create, IndexRequest, DEFAULT_MAX_RANGE};
use tapedeck_recorder::rebuild::rebuild;
use tapedeck_recorder::{Config, Recorder};

mod common;

use common::record_long_stream;

#[tokio::test(start_paused = true)]
async fn rebuild_equals_the_live_catalog_with_files_and_indexes() {
    let dir = std::env::temp_dir().join(format!("tapedeck-rebuild-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cycle = Secs(10);
    let template = Template {
        formats: vec![Format::M3u8, Format::Mp4, Format::Flv],
        interruption_window: Secs(2),
        m3u8: M3u8Options {
            slice_duration: Secs(2),
            ..M3u8Options::default()
        },
        mp4: FileOptions {
            cycle,
            ..FileOptions::default()
        },
        flv: FileOptions {
            cycle,
            ..FileOptions::default()
        },
        ..Template::default()
    };
    let config = Config {
        data_dir: dir.clone(),
        template: vec![template],
        ..Config::default()
    };
    let root = config.recordings_dir();
    let live = Arc::new(Catalog::in_memory().unwrap());
    // Wall-clock time follows the paused tokio clock, so the two recordings lie apart.
    let origin = (chrono::Utc::now(), tokio::time::Instant::now());
    let clock = Arc::new(move || {
        origin.0 + chrono::Duration::from_std(origin.1.elapsed()).unwrap_or_default()
    });
    let rec = Recorder::with_wall_clock(config, clock);
    rec.set_sink(Arc::new(tapedeck_recorder::sink::CatalogSink::new(
        live.clone(),
        None,
    )));
    // Two recordings (25 s of media each, written at once) with a gap between them.
    record_long_stream(&rec).await;
    tokio::time::sleep(std::time::Duration::from_secs(40)).await;
    record_long_stream(&rec).await;

    let all = (i64::MIN, i64::MAX);
    let spans = live.spans("live", "cam1", all.0, all.1).unwrap();
    assert_eq!(spans.len(), 2, "{spans:#?}");
    // Two custom indexes: across the gap, and inside the first recording.
    let at = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).unwrap();
    let mid = |s: &tapedeck_catalog::Span| (s.start_ms + s.end_ms) / 2;
    for (i, (start, end)) in [
        (mid(&spans[0]), mid(&spans[1])),
        (spans[0].start_ms + 3000, spans[0].start_ms + 9000),
    ]
    .into_iter()
    .enumerate()
    {
        let req = IndexRequest {
            app: "live".into(),
            stream: "cam1".into(),
            start: at(start),
            end: at(end),
            object: Some(format!("indexes/{{AppName}}/{{StreamName}}/{i}")),
            max_range: DEFAULT_MAX_RANGE,
            tz: chrono_tz::Tz::UTC,
            upload: None,
        };
        create(&live, &root, &req, at(spans[1].end_ms + 1000 * i as i64)).unwrap();
    }

    // Files from before tags existed: left out and counted.
    let old = root.join("old");
    std::fs::create_dir_all(&old).unwrap();
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    std::fs::copy(fixtures.join("h264_aac_2s.flv"), old.join("a.flv")).unwrap();
    std::fs::copy(fixtures.join("hevc_1s.mp4"), old.join("b.mp4")).unwrap();

    let files = live.files().unwrap();
    let count = |kind: &str| files.iter().filter(|f| f.kind.as_str() == kind).count();
    // 25 s in 10 s cycles: three MP4 and three FLV per recording.
    assert_eq!(
        (count("mp4"), count("flv"), count("playlist")),
        (6, 6, 2),
        "{files:#?}"
    );
    let indexes = live.indexes(1, 100, false).unwrap();
    assert_eq!(indexes.len(), 2);

    let fresh = Catalog::in_memory().unwrap();
    let report = rebuild(&root, &fresh).unwrap();
    assert_eq!(report.skipped, Vec::new());
    assert_eq!(
        (report.recordings, report.files, report.indexes),
        (2, 12, 2)
    );
    let mut untagged = report.untagged.clone();
    untagged.sort();
    assert_eq!(untagged, vec![old.join("a.flv"), old.join("b.mp4")]);
    assert!(report.segments > 20, "{}", report.segments);

    assert_eq!(fresh.files().unwrap(), files, "file rows");
    assert_eq!(fresh.indexes(1, 100, false).unwrap(), indexes, "index rows");
    assert_eq!(
        fresh.segments("live", "cam1", all.0, all.1).unwrap(),
        live.segments("live", "cam1", all.0, all.1).unwrap(),
        "segment rows"
    );
    assert_eq!(
        fresh.spans("live", "cam1", all.0, all.1).unwrap(),
        spans,
        "spans (recordings with their objects)"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
