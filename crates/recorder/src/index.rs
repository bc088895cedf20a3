//! Custom indexes: an m3u8 over every segment that overlaps a chosen time range (the
//! cloud's CreateLiveStreamRecordIndexFiles), and the span query (its
//! DescribeLiveStreamRecordContent). Both read the catalog; the index is written next to
//! the recordings and recorded in the catalog.

use std::path::Path;

use chrono::{DateTime, Utc};
use tapedeck_catalog::{Catalog, CatalogError, IndexRecord, NewIndex};
use tapedeck_media::hls::{MediaPlaylist, PlaylistSegment};

use crate::files::{relative_uri, write_atomically};
use crate::naming::{render, NameContext};

/// Default key of a custom index, from the range's start.
pub const DEFAULT_INDEX_OBJECT: &str = "{AppName}/{StreamName}/{Date}/{Hour}/{Minute}_{Second}";
/// Default longest range (the cloud's): 4 days.
pub const DEFAULT_MAX_RANGE: chrono::Duration = chrono::Duration::days(4);
/// A gap longer than this between two segments is marked as a discontinuity.
const GAP_MS: i64 = 500;

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("the end ({end}) must be after the start ({start})")]
    EndBeforeStart {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    },
    #[error("the range is {hours} h long; at most {max_hours} h are allowed")]
    TooLong { hours: i64, max_hours: i64 },
    #[error("nothing of {app}/{stream} was recorded between {start} and {end}")]
    Empty {
        app: String,
        stream: String,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    },
    #[error("the range is {range_ms} ms long, shorter than one segment ({segment_ms} ms); choose at least one segment")]
    TooShort { range_ms: i64, segment_ms: i64 },
    #[error("index name {0:?}: {1}")]
    BadObject(String, String),
    #[error("{0}")]
    Catalog(#[from] CatalogError),
    #[error("writing {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// What to index.
#[derive(Clone, Debug)]
pub struct IndexRequest {
    pub app: String,
    pub stream: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Name template of the index (without `.m3u8`); default [`DEFAULT_INDEX_OBJECT`].
    pub object: Option<String>,
    pub max_range: chrono::Duration,
    pub tz: chrono_tz::Tz,
}

/// Builds, writes and records a custom index.
pub fn create(
    catalog: &Catalog,
    root: &Path,
    req: &IndexRequest,
    now: DateTime<Utc>,
) -> Result<IndexRecord, IndexError> {
    if req.end <= req.start {
        return Err(IndexError::EndBeforeStart {
            start: req.start,
            end: req.end,
        });
    }
    if req.end - req.start > req.max_range {
        return Err(IndexError::TooLong {
            hours: (req.end - req.start).num_hours(),
            max_hours: req.max_range.num_hours(),
        });
    }
    let (start_ms, end_ms) = (req.start.timestamp_millis(), req.end.timestamp_millis());
    let segments = catalog.segments(&req.app, &req.stream, start_ms, end_ms)?;
    if segments.is_empty() {
        return Err(IndexError::Empty {
            app: req.app.clone(),
            stream: req.stream.clone(),
            start: req.start,
            end: req.end,
        });
    }
    let shortest = segments.iter().map(|s| s.duration_ms).min().unwrap_or(0);
    if end_ms - start_ms < shortest {
        return Err(IndexError::TooShort {
            range_ms: end_ms - start_ms,
            segment_ms: shortest,
        });
    }
    let template = req
        .object
        .clone()
        .unwrap_or_else(|| DEFAULT_INDEX_OBJECT.to_string());
    let problems = crate::naming::check_index_template(&template);
    if let Some(p) = problems.first() {
        return Err(IndexError::BadObject(template, p.clone()));
    }
    let names = NameContext {
        app: &req.app,
        stream: &req.stream,
        start: req.start,
        end: Some(req.end),
        segment_start: None,
        sequence: 0,
        tz: req.tz,
    };
    let key = render(&template, &names, "m3u8");

    let mut playlist = MediaPlaylist::default();
    let mut previous: Option<(&str, i64)> = None;
    for s in &segments {
        let gap =
            previous.is_some_and(|(rec, end)| rec != s.recording || s.start_ms - end > GAP_MS);
        playlist.segments.push(PlaylistSegment {
            uri: relative_uri(&key, &s.key),
            duration: s.duration_ms as f64 / 1000.0,
            program_date_time: DateTime::from_timestamp_millis(s.start_ms),
            discontinuity: gap || (previous.is_some() && s.discontinuity),
        });
        previous = Some((&s.recording, s.start_ms + s.duration_ms));
    }
    playlist.ended = true;
    let path = root.join(&key);
    write_atomically(&path, playlist.render().as_bytes()).map_err(|source| IndexError::Write {
        path: path.display().to_string(),
        source,
    })?;
    let record = catalog.add_index(&NewIndex {
        app: req.app.clone(),
        stream: req.stream.clone(),
        object: key,
        start_ms,
        end_ms,
        duration: segments.iter().map(|s| s.duration_ms).sum::<i64>() as f64 / 1000.0,
        width: segments.iter().map(|s| s.width).max().unwrap_or(0),
        height: segments.iter().map(|s| s.height).max().unwrap_or(0),
        created_ms: now.timestamp_millis(),
    })?;
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use tapedeck_catalog::Segment;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_795_500_000 + s, 0).unwrap()
    }

    fn catalog() -> Catalog {
        let c = Catalog::in_memory().unwrap();
        // Recording A: 0-90 s; recording B: 200-260 s; 30 s segments.
        for (rec, starts) in [("A", vec![0, 30, 60]), ("B", vec![200, 230])] {
            for st in starts {
                c.add_segment(&Segment {
                    recording: rec.into(),
                    app: "live".into(),
                    stream: "cam1".into(),
                    key: format!("record/live/cam1/{}_{st}.ts", t(st).timestamp()),
                    start_ms: t(st).timestamp_millis(),
                    duration_ms: 30_000,
                    bytes: 1,
                    codecs: "avc1.64001f".into(),
                    width: 1280,
                    height: 720,
                    keyframes: 15,
                    discontinuity: false,
                })
                .unwrap();
            }
        }
        c
    }

    fn req(start: i64, end: i64) -> IndexRequest {
        IndexRequest {
            app: "live".into(),
            stream: "cam1".into(),
            start: t(start),
            end: t(end),
            object: None,
            max_range: DEFAULT_MAX_RANGE,
            tz: chrono_tz::Tz::UTC,
        }
    }

    #[test]
    fn indexes_span_gaps_with_discontinuities() {
        let c = catalog();
        let root = std::env::temp_dir().join(format!("tapedeck-index-{}", std::process::id()));
        // From the middle of recording A to the middle of B.
        let rec = create(&c, &root, &req(45, 215), t(1000)).unwrap();
        let text = std::fs::read_to_string(root.join(&rec.object)).unwrap();
        assert_eq!(text.matches(".ts").count(), 3, "{text}"); // 30-60, 60-90, 200-230
        assert_eq!(text.matches("#EXT-X-DISCONTINUITY").count(), 1, "{text}");
        assert!(text.contains("#EXT-X-ENDLIST"));
        assert!(
            text.contains("../../../../record/live/cam1/"),
            "URIs relative to the index: {text}"
        );
        assert_eq!((rec.duration, rec.width, rec.height), (90.0, 1280, 720));
        assert!(rec.object.starts_with("live/cam1/"), "{}", rec.object);
        assert_eq!(c.indexes(1, 10, false).unwrap(), vec![rec]);
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn bad_ranges_get_clear_errors() {
        let c = catalog();
        let root = std::env::temp_dir();
        assert!(matches!(
            create(&c, &root, &req(50, 40), t(0)),
            Err(IndexError::EndBeforeStart { .. })
        ));
        assert!(matches!(
            create(&c, &root, &req(100, 190), t(0)),
            Err(IndexError::Empty { .. })
        ));
        assert!(matches!(
            create(&c, &root, &req(40, 45), t(0)),
            Err(IndexError::TooShort { .. })
        ));
        assert!(matches!(
            create(&c, &root, &req(0, 5 * 86400), t(0)),
            Err(IndexError::TooLong { .. })
        ));
        let mut bad = req(0, 90);
        bad.object = Some("../escape/{Date}".into());
        assert!(matches!(
            create(&c, &root, &bad, t(0)),
            Err(IndexError::BadObject(..))
        ));
    }
}
