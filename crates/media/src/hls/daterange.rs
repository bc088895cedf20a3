//! `#EXT-X-DATERANGE` (RFC 8216bis 4.4.5.1): a named range of wall-clock time in a media
//! playlist. Tapedeck writes one per chapter:
//!
//! ```text
//! #EXT-X-DATERANGE:ID="chapter-1",CLASS="com.tapedeck.chapter",START-DATE="2026-11-24T10:15:30.123Z",END-ON-NEXT=YES,X-TITLE="Boss fight"
//! ```
//!
//! - `START-DATE` is on the same clock as `#EXT-X-PROGRAM-DATE-TIME` (a playlist with a
//!   date range must carry one; ours put it on every segment), in the same form.
//! - `END-ON-NEXT=YES`: a chapter ends where the next of its class starts (the last one
//!   at the end of the playlist), which the attribute says without a `DURATION`; it needs
//!   the `CLASS`, whose ranges must then not overlap.
//! - `X-TITLE` is a client attribute (4.4.5.1.1: `X-` names are the application's).
//!   Quoted strings cannot hold `"`, CR or LF, and have no escapes: a title's `"` is
//!   written `'`, a line break a space.
//!
//! Where a range goes in the text: before the first segment that ends after its start
//! (the segment it starts in), or after the last segment. That is also where a live
//! playlist that grows by appends puts a chapter marked while a segment is being
//! recorded: after the segments already listed, before the one in progress. Readers take
//! ranges from anywhere in the playlist (8216bis: media metadata tags are not tied to a
//! segment).
//!
//! Only what we write is modelled: `ID`, `CLASS`, `START-DATE`, `END-ON-NEXT` and quoted
//! `X-` attributes; others are dropped when reading, and a range without an `ID` or a
//! readable `START-DATE` is skipped like an unknown tag.

use chrono::{DateTime, Utc};

use super::format_program_date_time;

/// The `CLASS` of Tapedeck's chapters.
pub const CHAPTER_CLASS: &str = "com.tapedeck.chapter";

/// The client attribute holding a chapter's title.
pub const TITLE_ATTRIBUTE: &str = "X-TITLE";

const TAG: &str = "#EXT-X-DATERANGE:";

/// One `#EXT-X-DATERANGE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DateRange {
    /// Unique in the playlist.
    pub id: String,
    pub class: Option<String>,
    pub start_date: DateTime<Utc>,
    /// `END-ON-NEXT=YES`.
    pub end_on_next: bool,
    /// Client attributes (`X-` names) with quoted-string values, in the order written.
    pub client_attributes: Vec<(String, String)>,
}

impl DateRange {
    /// A chapter titled `title` starting at `start`.
    pub fn chapter(id: impl Into<String>, start: DateTime<Utc>, title: &str) -> Self {
        DateRange {
            id: id.into(),
            class: Some(CHAPTER_CLASS.to_owned()),
            start_date: start,
            end_on_next: true,
            client_attributes: vec![(TITLE_ATTRIBUTE.to_owned(), quotable(title))],
        }
    }

    /// The chapter's title, for a range of the chapter class.
    pub fn chapter_title(&self) -> Option<&str> {
        if self.class.as_deref() != Some(CHAPTER_CLASS) {
            return None;
        }
        self.client_attributes
            .iter()
            .find(|(k, _)| k == TITLE_ATTRIBUTE)
            .map(|(_, v)| v.as_str())
    }

    /// The tag's line, with its line break: what a playlist growing by appends appends.
    pub fn render(&self) -> String {
        let mut line = format!("{TAG}ID=\"{}\"", quotable(&self.id));
        if let Some(class) = &self.class {
            line.push_str(&format!(",CLASS=\"{}\"", quotable(class)));
        }
        line.push_str(&format!(
            ",START-DATE=\"{}\"",
            format_program_date_time(self.start_date)
        ));
        if self.end_on_next {
            line.push_str(",END-ON-NEXT=YES");
        }
        for (name, value) in &self.client_attributes {
            if is_client_name(name) {
                line.push_str(&format!(",{name}=\"{}\"", quotable(value)));
            }
        }
        line.push('\n');
        line
    }

    /// The range a playlist line holds; `None` for another line, or a range we cannot
    /// read (see the module documentation).
    pub fn parse(line: &str) -> Option<DateRange> {
        let attrs = attributes(line.trim_end().strip_prefix(TAG)?)?;
        let get = |name: &str| attrs.iter().find(|a| a.0 == name).map(|a| &a.1);
        let quoted = |name: &str| match get(name) {
            Some(Value::Quoted(s)) => Some(s.clone()),
            _ => None,
        };
        let id = quoted("ID")?;
        let start_date = DateTime::parse_from_rfc3339(&quoted("START-DATE")?)
            .ok()?
            .with_timezone(&Utc);
        let end_on_next = matches!(get("END-ON-NEXT"), Some(Value::Plain(v)) if v == "YES");
        let client_attributes = attrs
            .iter()
            .filter(|(name, _)| is_client_name(name))
            .filter_map(|(name, v)| match v {
                Value::Quoted(s) => Some((name.clone(), s.clone())),
                Value::Plain(_) => None,
            })
            .collect();
        Some(DateRange {
            id,
            class: quoted("CLASS"),
            start_date,
            end_on_next,
            client_attributes,
        })
    }
}

/// `text` as a quoted-string may hold it (RFC 8216 4.2): `"` becomes `'`, CR and LF a
/// space.
pub fn quotable(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' => '\'',
            '\r' | '\n' => ' ',
            c => c,
        })
        .collect()
}

fn is_client_name(name: &str) -> bool {
    name.len() > 2
        && name.starts_with("X-")
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
}

#[derive(Debug, PartialEq)]
enum Value {
    Quoted(String),
    Plain(String),
}

/// An attribute list (RFC 8216 4.2): `NAME=value` pairs separated by commas, values
/// quoted (`"..."`, no escapes) or not (up to the next comma). `None` when it is not one.
fn attributes(list: &str) -> Option<Vec<(String, Value)>> {
    let mut out = Vec::new();
    let mut rest = list;
    while !rest.is_empty() {
        let (name, after) = rest.split_once('=')?;
        if name.is_empty() || name.contains(',') {
            return None;
        }
        let (value, after) = match after.strip_prefix('"') {
            Some(quoted) => {
                let (v, after) = quoted.split_once('"')?;
                (Value::Quoted(v.to_owned()), after)
            }
            None => {
                let end = after.find(',').unwrap_or(after.len());
                (Value::Plain(after[..end].to_owned()), &after[end..])
            }
        };
        out.push((name.to_owned(), value));
        rest = match after.strip_prefix(',') {
            Some(r) => r,
            None if after.is_empty() => after,
            None => return None,
        };
    }
    Some(out)
}

/// Splits a playlist into its date ranges and the rest of its text: the ranges, in order,
/// and the text without their lines (what `m3u8-rs` parses, which keeps only one range
/// per segment and drops one after the last segment).
pub(super) fn take_date_ranges(text: &str) -> (Vec<DateRange>, String) {
    let mut ranges = Vec::new();
    let mut rest = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        if line.starts_with(TAG) {
            ranges.extend(DateRange::parse(line));
        } else {
            rest.push_str(line);
        }
    }
    (ranges, rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(1_795_515_330_123 + ms)
            .single()
            .expect("valid time")
    }

    #[test]
    fn a_chapter_renders_and_reads_back() {
        let c = DateRange::chapter("chapter-1", at(0), "Boss \"fight\"\r\nround 2, é");
        let line = c.render();
        assert_eq!(
            line,
            "#EXT-X-DATERANGE:ID=\"chapter-1\",CLASS=\"com.tapedeck.chapter\",\
             START-DATE=\"2026-11-24T10:15:30.123Z\",END-ON-NEXT=YES,\
             X-TITLE=\"Boss 'fight'  round 2, é\"\n"
        );
        let back = DateRange::parse(&line).expect("reads");
        assert_eq!(back, c);
        assert_eq!(back.chapter_title(), Some("Boss 'fight'  round 2, é"));
    }

    #[test]
    fn foreign_ranges_read_what_we_model() {
        let line = "#EXT-X-DATERANGE:ID=\"ad-7\",START-DATE=\"2026-11-24T10:15:30+01:00\",\
                    DURATION=30.0,SCTE35-OUT=0xFC002F,X-COM-EXAMPLE-AD-ID=\"x,y\",X-NUM=12";
        let r = DateRange::parse(line).expect("reads");
        assert_eq!(r.id, "ad-7");
        assert_eq!(r.class, None);
        assert_eq!(
            r.start_date,
            Utc.with_ymd_and_hms(2026, 11, 24, 9, 15, 30).unwrap()
        );
        assert!(!r.end_on_next);
        assert_eq!(
            r.client_attributes,
            [("X-COM-EXAMPLE-AD-ID".to_owned(), "x,y".to_owned())]
        );
        assert_eq!(r.chapter_title(), None);
    }

    #[test]
    fn unreadable_ranges_are_skipped() {
        for line in [
            "#EXT-X-DATERANGE:START-DATE=\"2026-11-24T10:15:30Z\"",
            "#EXT-X-DATERANGE:ID=\"a\"",
            "#EXT-X-DATERANGE:ID=\"a\",START-DATE=\"yesterday\"",
            "#EXT-X-DATERANGE:ID=\"a,START-DATE=\"2026-11-24T10:15:30Z\"",
            "#EXT-X-DATERANGE:ID=a\"b\",START-DATE=\"2026-11-24T10:15:30Z\"",
            "#EXT-X-DATERANGE:ID=\"a\"x,START-DATE=\"2026-11-24T10:15:30Z\"",
            "#EXT-X-DATERANGE:",
            "#EXT-X-PROGRAM-DATE-TIME:2026-11-24T10:15:30Z",
        ] {
            assert_eq!(DateRange::parse(line), None, "{line}");
        }
    }

    #[test]
    fn ranges_are_taken_out_of_the_text() {
        let a = DateRange::chapter("c0", at(0), "a");
        let b = DateRange::chapter("c1", at(5000), "b");
        let text = format!(
            "#EXTM3U\n{}#EXTINF:2,\ns0.ts\n{}#EXT-X-DATERANGE:broken\n#EXTINF:2,\ns1.ts\n",
            a.render(),
            b.render()
        );
        let (ranges, rest) = take_date_ranges(&text);
        assert_eq!(ranges, [a, b]);
        assert_eq!(rest, "#EXTM3U\n#EXTINF:2,\ns0.ts\n#EXTINF:2,\ns1.ts\n");
    }
}
