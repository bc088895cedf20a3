//! Custom indexes: an m3u8 over every segment that overlaps a chosen time range (the
//! cloud's CreateLiveStreamRecordIndexFiles), and the span query (its
//! DescribeLiveStreamRecordContent). Both read the catalog; the index is written next to
//! the recordings and recorded in the catalog.

use std::path::Path;

use chrono::{DateTime, Utc};
use std::fmt::Write as _;
use tapedeck_catalog::{Catalog, CatalogError, IndexRecord, NewIndex};

use tapedeck_catalog::IndexSegment;

use crate::files::{relative_uri, write_atomically_parts};
use crate::naming::{render, NameContext};
use crate::tags::IndexTag;
use tapedeck_media::hls::INDEX_TAG;

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
    /// Where the index is uploaded (the stream's template's storage), if anywhere.
    pub upload: Option<crate::uploads::UploadRule>,
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
    let mut index = IndexWriter::new(&key);
    catalog.for_each_index_segment(&req.app, &req.stream, start_ms, end_ms, |s| index.add(s))?;
    if index.count == 0 {
        return Err(IndexError::Empty {
            app: req.app.clone(),
            stream: req.stream.clone(),
            start: req.start,
            end: req.end,
        });
    }
    if end_ms - start_ms < index.shortest_ms {
        return Err(IndexError::TooShort {
            range_ms: end_ms - start_ms,
            segment_ms: index.shortest_ms,
        });
    }
    let summary = index.summary;
    let path = root.join(&key);
    let new = NewIndex {
        app: req.app.clone(),
        stream: req.stream.clone(),
        object: key.clone(),
        start_ms,
        end_ms,
        duration: summary.duration_ms as f64 / 1000.0,
        width: summary.width,
        height: summary.height,
        created_ms: now.timestamp_millis(),
    };
    // The file carries its row, id included, so a rebuild restores it as it is: it is
    // written once the row has its id, in the row's transaction.
    catalog.add_index_with(&new, |record| {
        let parts = index.parts(&IndexTag::of(record).to_text());
        let parts = parts.each_ref().map(|p| p.as_bytes());
        write_atomically_parts(root, &path, &parts).map_err(|source| IndexError::Write {
            path: path.display().to_string(),
            source,
        })?;
        Ok::<_, IndexError>(req.upload.as_ref().and_then(|u| {
            u.entry(
                &key,
                &path,
                tapedeck_catalog::FileKind::Index,
                &req.app,
                &req.stream,
            )
        }))
    })
}

/// The index playlist, written as the catalog streams its rows. Written directly rather
/// than through `m3u8-rs` (which the live playlists use): an index over a month lists
/// 86,400 segments, and this keeps building it within the benchmark's 50 ms.
/// `render_matches_m3u8_rs` pins it to the same output.
struct IndexWriter<'k> {
    key: &'k str,
    body: String,
    /// The relative prefix of the last segment folder seen (segments share folders).
    prefix: Option<(String, String)>,
    previous: Option<(i64, i64)>,
    count: usize,
    shortest_ms: i64,
    longest_ms: i64,
    summary: IndexSummary,
}

#[derive(Clone, Copy, Default)]
struct IndexSummary {
    duration_ms: i64,
    width: u32,
    height: u32,
}

impl<'k> IndexWriter<'k> {
    fn new(key: &'k str) -> Self {
        IndexWriter {
            key,
            body: String::with_capacity(1 << 16),
            prefix: None,
            previous: None,
            count: 0,
            shortest_ms: i64::MAX,
            longest_ms: 0,
            summary: IndexSummary::default(),
        }
    }

    fn add(&mut self, s: IndexSegment<'_>) {
        let out = &mut self.body;
        let gap = self
            .previous
            .is_some_and(|(rec, end)| rec != s.recording_id || s.start_ms - end > GAP_MS);
        if gap || (self.previous.is_some() && s.discontinuity) {
            out.push_str("#EXT-X-DISCONTINUITY\n");
        }
        out.push_str("#EXT-X-PROGRAM-DATE-TIME:");
        push_pdt(out, s.start_ms);
        // Like m3u8-rs: seconds to the millisecond, shortest form ("30", "2.017").
        out.push_str("\n#EXTINF:");
        push_seconds(out, s.duration_ms);
        out.push_str(",\n");
        let (dir, file) = s.key.rsplit_once('/').unwrap_or(("", s.key));
        if self.prefix.as_ref().map(|(d, _)| d.as_str()) != Some(dir) {
            let uri = relative_uri(self.key, s.key);
            let prefix = uri.strip_suffix(file).unwrap_or("").to_string();
            self.prefix = Some((dir.to_string(), prefix));
        }
        if let Some((_, prefix)) = &self.prefix {
            out.push_str(prefix);
        }
        out.push_str(file);
        out.push('\n');
        self.previous = Some((s.recording_id, s.start_ms + s.duration_ms));
        self.count += 1;
        self.shortest_ms = self.shortest_ms.min(s.duration_ms);
        self.longest_ms = self.longest_ms.max(s.duration_ms);
        self.summary.duration_ms += s.duration_ms;
        self.summary.width = self.summary.width.max(s.width);
        self.summary.height = self.summary.height.max(s.height);
    }

    /// The playlist text, tagged with `tag` (`#EXT-X-TAPEDECK-INDEX`). Like m3u8-rs, which
    /// keeps unknown tags with a segment, the tag follows the first segment's
    /// PROGRAM-DATE-TIME line.
    /// The playlist as pieces to write one after the other: the body (megabytes over a
    /// month) is never copied.
    fn parts<'a>(&'a self, tag: &str) -> [std::borrow::Cow<'a, str>; 5] {
        let target = ((self.longest_ms + 999) / 1000).max(1);
        let head = format!("#EXTM3U\n#EXT-X-VERSION:{}\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-PLAYLIST-TYPE:EVENT\n", tapedeck_media::hls::VERSION);
        let first_line = self.body.find('\n').map_or(0, |i| i + 1);
        [
            head.into(),
            self.body[..first_line].into(),
            format!("#EXT-{INDEX_TAG}:{tag}\n").into(),
            self.body[first_line..].into(),
            "#EXT-X-ENDLIST\n".into(),
        ]
    }

    #[cfg(test)]
    fn finish(self, tag: &str) -> String {
        self.parts(tag).concat()
    }
}

/// `2026-11-24T10:15:30.123Z` for Unix milliseconds, digit by digit (a formatter per
/// call costs more than the rest of an index line).
fn push_pdt(out: &mut String, ms: i64) {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Days to civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    push_digits(out, year, 4);
    out.push('-');
    push_digits(out, month, 2);
    out.push('-');
    push_digits(out, day, 2);
    out.push('T');
    push_digits(out, sod / 3600, 2);
    out.push(':');
    push_digits(out, sod % 3600 / 60, 2);
    out.push(':');
    push_digits(out, sod % 60, 2);
    out.push('.');
    push_digits(out, millis, 3);
    out.push('Z');
}

/// Milliseconds as seconds in the shortest form: `30`, `2.5`, `2.017`.
fn push_seconds(out: &mut String, ms: i64) {
    let _ = write!(out, "{}", ms / 1000);
    let frac = ms % 1000;
    if frac != 0 {
        out.push('.');
        let (mut digits, mut width) = (frac, 3);
        while digits % 10 == 0 {
            digits /= 10;
            width -= 1;
        }
        push_digits(out, digits, width);
    }
}

/// `value` zero-padded to `width` digits (non-negative values).
fn push_digits(out: &mut String, value: i64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut v = value.max(0);
    let mut i = buf.len();
    while v > 0 || buf.len() - i < width {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.push_str(std::str::from_utf8(&buf[i..]).unwrap_or("0"));
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
            upload: None,
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
        assert_eq!(c.indexes(1, 10, false).unwrap(), vec![rec.clone()]);
        // The file carries its row, id included.
        let listed = tapedeck_media::hls::MediaPlaylist::parse(&text).unwrap();
        let tag = IndexTag::parse(listed.index.as_deref().unwrap()).unwrap();
        assert_eq!(tag.record(rec.object.clone()), rec);
        assert_eq!(listed.recording, None, "not a recording's playlist");
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn render_matches_m3u8_rs() {
        use tapedeck_media::hls::{MediaPlaylist, PlaylistSegment};
        let c = catalog();
        let key = "live/cam1/2026-11-24/10/00_00.m3u8";
        let mut segs = Vec::new();
        let mut writer = IndexWriter::new(key);
        c.for_each_index_segment("live", "cam1", 0, i64::MAX, |s| {
            segs.push((s.recording_id, s.key.to_string(), s.start_ms, s.duration_ms));
            writer.add(s);
        })
        .unwrap();
        let mut pl = MediaPlaylist::default();
        let mut prev: Option<(i64, i64)> = None;
        for (recording_id, seg_key, start_ms, duration_ms) in &segs {
            let s = (*recording_id, seg_key.as_str(), *start_ms, *duration_ms);
            let gap = prev.is_some_and(|(r, e)| r != s.0 || s.2 - e > GAP_MS);
            pl.segments.push(PlaylistSegment {
                uri: relative_uri(key, s.1),
                duration: s.3 as f64 / 1000.0,
                program_date_time: DateTime::from_timestamp_millis(s.2),
                discontinuity: gap,
            });
            prev = Some((s.0, s.2 + s.3));
        }
        pl.ended = true;
        let tag = r#"{"id":1,"app":"live","stream":"cam1"}"#;
        pl.index = Some(tag.to_string());
        let text = writer.finish(tag);
        assert_eq!(text, pl.render());
        assert_eq!(
            MediaPlaylist::parse(&text).unwrap().index.as_deref(),
            Some(tag)
        );
        let mut s = String::new();
        push_pdt(&mut s, 1_795_515_330_123);
        assert_eq!(s, "2026-11-24T10:15:30.123Z");
        let mut s = String::new();
        push_pdt(&mut s, 951_782_400_000); // 2000-02-29, a leap day
        assert_eq!(s, "2000-02-29T00:00:00.000Z");
        for (ms, want) in [
            (30_000, "30"),
            (2_500, "2.5"),
            (2_017, "2.017"),
            (120, "0.12"),
            (1_001, "1.001"),
        ] {
            let mut s = String::new();
            push_seconds(&mut s, ms);
            assert_eq!(s, want);
            assert_eq!(
                want.parse::<f64>().unwrap().to_string(),
                want,
                "the same as f64 Display"
            );
        }
    }

    /// A range across midnight, and across a cycle cut (a new playlist within the same
    /// recording): one continuous run of segments, no discontinuity.
    #[test]
    fn ranges_across_midnight_and_cycle_cuts_are_continuous() {
        let c = Catalog::in_memory().unwrap();
        let midnight = Utc
            .with_ymd_and_hms(2026, 11, 25, 0, 0, 0)
            .unwrap()
            .timestamp_millis();
        for i in -4..4i64 {
            let start = midnight + i * 30_000;
            c.add_segment(&Segment {
                recording: "live/cam1/x".into(),
                app: "live".into(),
                stream: "cam1".into(),
                key: format!("record/live/cam1/{}_{}.ts", start / 1000, i + 4),
                start_ms: start,
                duration_ms: 30_000,
                bytes: 1,
                codecs: String::new(),
                width: 640,
                height: 360,
                keyframes: 15,
                discontinuity: false,
            })
            .unwrap();
        }
        let root =
            std::env::temp_dir().join(format!("tapedeck-index-midnight-{}", std::process::id()));
        let at = |ms: i64| DateTime::from_timestamp_millis(ms).unwrap();
        let mut r = req(0, 1);
        (r.start, r.end) = (at(midnight - 100_000), at(midnight + 45_000));
        let rec = create(&c, &root, &r, t(0)).unwrap();
        let text = std::fs::read_to_string(root.join(&rec.object)).unwrap();
        assert_eq!(text.matches(".ts").count(), 6, "{text}"); // -120..-90 to 30..60 overlap it
        assert!(!text.contains("DISCONTINUITY"), "{text}");
        assert!(
            text.contains("2026-11-24T23:58:30.000Z") && text.contains("2026-11-25T00:00:30.000Z"),
            "{text}"
        );
        assert_eq!(rec.duration, 180.0);
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
