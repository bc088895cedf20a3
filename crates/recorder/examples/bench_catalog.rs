//! Catalog benchmark (issue 4): time questions over months of recordings.
//!
//!     cargo run --release -p tapedeck-recorder --example bench_catalog
//!
//! Builds, in a temporary folder, a catalog of (a) one stream recorded for 30 days in 30 s
//! segments (86,400 rows, one recording a day) and (b) 100 streams x 7 days; then times, as
//! the median of 20 runs, a custom index over the whole month (query + playlist written to
//! disk + catalog row), the span query over the month, and the same two for one stream of
//! (b). Prints a markdown table. Not a test: these machines are noisy.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use tapedeck_catalog::{Catalog, Segment};
use tapedeck_recorder::index::{create, IndexRequest, DEFAULT_MAX_RANGE};

const DAY_MS: i64 = 86_400_000;
const SEG_MS: i64 = 30_000;

fn segments(app: &str, stream: &str, days: i64, t0: i64) -> Vec<Segment> {
    let per_day = DAY_MS / SEG_MS;
    (0..days)
        .flat_map(|d| {
            (0..per_day).map(move |i| {
                let start = t0 + d * DAY_MS + i * SEG_MS;
                Segment {
                    recording: format!("{app}/{stream}/{}", t0 + d * DAY_MS),
                    app: app.into(),
                    stream: stream.into(),
                    key: format!("record/{app}/{stream}/{}_{}.ts", start / 1000, i),
                    start_ms: start,
                    duration_ms: SEG_MS,
                    bytes: 22_500_000,
                    codecs: "avc1.64001f,mp4a.40.2".into(),
                    width: 1280,
                    height: 720,
                    keyframes: 15,
                    discontinuity: false,
                }
            })
        })
        .collect()
}

fn median(mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..20)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let dir = std::env::temp_dir().join(format!("tapedeck-bench-catalog-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let t0 = Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap();
    let ms = t0.timestamp_millis();
    let at = |m: i64| -> DateTime<Utc> { DateTime::from_timestamp_millis(m).unwrap() };

    let month = Catalog::open(&dir.join("month.sqlite3")).unwrap();
    let build = Instant::now();
    month
        .add_segments(&segments("live", "cam1", 30, ms))
        .unwrap();
    let month_build = build.elapsed();

    let many = Catalog::open(&dir.join("many.sqlite3")).unwrap();
    let build = Instant::now();
    for s in 0..100 {
        many.add_segments(&segments("live", &format!("cam{s}"), 7, ms))
            .unwrap();
    }
    let many_build = build.elapsed();

    let request = |stream: &str, days: i64| IndexRequest {
        app: "live".into(),
        stream: stream.into(),
        start: at(ms),
        end: at(ms + days * DAY_MS),
        object: Some("bench/{StreamName}/{Date}".into()),
        max_range: DEFAULT_MAX_RANGE * 10,
        upload: None,
        tz: chrono_tz::Tz::UTC,
    };
    let root = dir.join("recordings");
    let index_month = median(|| {
        create(&month, &root, &request("cam1", 30), Utc::now()).unwrap();
    });
    let spans_month = median(|| {
        assert_eq!(
            month
                .spans("live", "cam1", ms, ms + 30 * DAY_MS)
                .unwrap()
                .len(),
            30
        );
    });
    let index_week = median(|| {
        create(&many, &root, &request("cam42", 7), Utc::now()).unwrap();
    });
    let spans_week = median(|| {
        assert_eq!(
            many.spans("live", "cam42", ms, ms + 7 * DAY_MS)
                .unwrap()
                .len(),
            7
        );
    });

    if std::env::var_os("BENCH_DETAIL").is_some() {
        let q = median(|| {
            month
                .for_each_index_segment("live", "cam1", ms, ms + 30 * DAY_MS, |_| {})
                .unwrap();
        });
        let big = vec![b'x'; 9_000_000];
        let w = median(|| {
            tapedeck_recorder::files::write_atomically(&dir, &dir.join("w.m3u8"), &big).unwrap();
        });
        eprintln!("query {q:?}, 9 MB atomic write {w:?}");
    }
    println!("| catalog | rows | build | custom index over the range | spans over the range |");
    println!("|---|---:|---:|---:|---:|");
    println!("| 1 stream x 30 days | 86,400 | {:.1} s | {:.1} ms (target <= 50) | {:.2} ms (target <= 10) |", month_build.as_secs_f64(), index_month.as_secs_f64() * 1e3, spans_month.as_secs_f64() * 1e3);
    println!(
        "| 100 streams x 7 days (one stream queried) | 2,016,000 | {:.1} s | {:.1} ms | {:.2} ms |",
        many_build.as_secs_f64(),
        index_week.as_secs_f64() * 1e3,
        spans_week.as_secs_f64() * 1e3
    );
    let _ = std::fs::remove_dir_all(&dir);
}
