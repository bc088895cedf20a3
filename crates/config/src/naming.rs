//! Object names: placeholders, the escaped time format, and the path-safety rules.
//!
//! Time formats (UTC, or the template's `timezone`):
//! - `{EscapedStartTime}` / `{EscapedEndTime}`: `2026-11-24-10-15-30`, the cloud's
//!   `2026-11-24-10:15:30` with `:` replaced by `-`, so the name is valid as an object key
//!   and as a file name on Windows, macOS and Linux. It sorts in time order.
//! - `{StartTime}` / `{EndTime}`: Unix seconds (`1795515330`). The cloud's plain form
//!   contains `:`, which Windows refuses in file names, so Tapedeck uses the other
//!   unambiguous plain form.
//! - `{UnixTimestamp}`: Unix seconds of a segment's start. `{Sequence}`: the segment's
//!   number within its recording, from 0.
//! - `{Date}` `2026-11-24`, `{Hour}` `10`, `{Minute}` `15`, `{Second}` `30` (of the start).
//!
//! A file still being written has no end time yet: its name is rendered with the word
//! `recording` in place of the end time and carries the `.part` suffix until it is
//! complete (see `files.rs`).

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;

pub const PLACEHOLDERS: [&str; 12] = [
    "{AppName}",
    "{StreamName}",
    "{Sequence}",
    "{StartTime}",
    "{EndTime}",
    "{EscapedStartTime}",
    "{EscapedEndTime}",
    "{UnixTimestamp}",
    "{Date}",
    "{Hour}",
    "{Minute}",
    "{Second}",
];

/// The word used in place of an end time that is not known yet.
pub const IN_PROGRESS: &str = "recording";

/// Longest object name, in bytes, after rendering and with its extension.
pub const MAX_NAME_BYTES: usize = 255;

/// Values to put into a name template.
#[derive(Clone, Debug)]
pub struct NameContext<'a> {
    pub app: &'a str,
    pub stream: &'a str,
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
    /// Start of the segment being named (`{UnixTimestamp}`); the file's start otherwise.
    pub segment_start: Option<DateTime<Utc>>,
    pub sequence: u64,
    /// Time zone of the date and time placeholders (`{UnixTimestamp}`, `{StartTime}` and
    /// `{EndTime}` are Unix seconds and need none).
    pub tz: Tz,
}

pub fn escaped_time<T: TimeZone>(t: DateTime<T>) -> String
where
    T::Offset: std::fmt::Display,
{
    t.format("%Y-%m-%d-%H-%M-%S").to_string()
}

/// Renders `template` and appends `.ext`.
pub fn render(template: &str, ctx: &NameContext<'_>, ext: &str) -> String {
    let local = |t: DateTime<Utc>| t.with_timezone(&ctx.tz);
    let end_escaped = ctx
        .end
        .map_or_else(|| IN_PROGRESS.to_string(), |t| escaped_time(local(t)));
    let start = local(ctx.start);
    let end_plain = ctx
        .end
        .map_or_else(|| IN_PROGRESS.to_string(), |t| t.timestamp().to_string());
    let seg = ctx.segment_start.unwrap_or(ctx.start);
    let mut out = template
        .replace("{AppName}", ctx.app)
        .replace("{StreamName}", ctx.stream)
        .replace("{Sequence}", &ctx.sequence.to_string())
        .replace("{EscapedStartTime}", &escaped_time(start))
        .replace("{EscapedEndTime}", &end_escaped)
        .replace("{StartTime}", &ctx.start.timestamp().to_string())
        .replace("{EndTime}", &end_plain)
        .replace("{UnixTimestamp}", &seg.timestamp().to_string())
        .replace("{Date}", &start.format("%Y-%m-%d").to_string())
        .replace("{Hour}", &start.format("%H").to_string())
        .replace("{Minute}", &start.format("%M").to_string())
        .replace("{Second}", &start.format("%S").to_string());
    out.push('.');
    out.push_str(ext);
    out
}

/// Problems with a template's text that would make unsafe or ambiguous names.
fn check_common(template: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if template.is_empty() {
        problems.push("is empty".to_string());
        return problems;
    }
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            problems.push(format!("has a '{{' without '}}' in {template:?}"));
            break;
        };
        let name = &rest[open..open + close + 1];
        if !PLACEHOLDERS.contains(&name) {
            problems.push(format!(
                "unknown placeholder {name}; known: {}",
                PLACEHOLDERS.join(" ")
            ));
        }
        rest = &rest[open + close + 1..];
    }
    if template.starts_with('/') || template.starts_with('\\') {
        problems.push(format!(
            "{template:?} is an absolute path; names are relative to the recordings folder"
        ));
    }
    if template.len() >= 2 && template.as_bytes()[1] == b':' {
        problems.push(format!(
            "{template:?} starts with a drive letter; names are relative to the recordings folder"
        ));
    }
    if template.split('/').any(|s| s == ".." || s == ".") {
        problems.push(format!("{template:?} contains a '.' or '..' segment, which could write outside the recordings folder"));
    }
    if template.split('/').any(str::is_empty) {
        problems.push(format!(
            "{template:?} has an empty path segment (a leading, trailing or double '/')"
        ));
    }
    if let Some(c) = template
        .chars()
        .find(|c| matches!(c, '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') || c.is_control())
    {
        problems.push(format!(
            "contains {c:?}, which is not allowed in file names on every OS"
        ));
    }
    // Longest rendering: 255-character names, 19-character times, 20-digit numbers.
    let worst = template
        .replace("{AppName}", &"a".repeat(255))
        .replace("{StreamName}", &"s".repeat(255))
        .replace("{EscapedStartTime}", "2026-11-24-10-15-30")
        .replace("{EscapedEndTime}", "2026-11-24-10-15-30");
    let segments: Vec<&str> = worst.split('/').collect();
    let last_too_long = segments
        .last()
        .is_some_and(|s| s.len() + ".m3u8".len() > MAX_NAME_BYTES);
    if last_too_long || segments.iter().any(|s| s.len() > MAX_NAME_BYTES) {
        problems.push(
            "a path segment can exceed 255 bytes with long app/stream names; shorten it".into(),
        );
    }
    problems
}

/// Checks a file (m3u8/mp4/flv) name template: it must contain the start and end time.
pub fn check_file_template(template: &str) -> Vec<String> {
    let mut problems = check_common(template);
    let has_start = template.contains("{StartTime}") || template.contains("{EscapedStartTime}");
    let has_end = template.contains("{EndTime}") || template.contains("{EscapedEndTime}");
    if !has_start || !has_end {
        problems.push(format!(
            "{template:?} must contain the start and end time ({{EscapedStartTime}} and {{EscapedEndTime}}, or {{StartTime}} and {{EndTime}}) so names never collide"
        ));
    }
    problems
}

/// Checks a custom index name template: only path safety.
pub fn check_index_template(template: &str) -> Vec<String> {
    check_common(template)
}

/// Checks a daily index name template: it must contain `{Date}`, or days would share it.
pub fn check_daily_template(template: &str) -> Vec<String> {
    let mut problems = check_common(template);
    if !template.contains("{Date}") {
        problems.push(format!(
            "{template:?} must contain {{Date}}: it names one file per day"
        ));
    }
    problems
}

/// Checks a segment name template: it must contain `{UnixTimestamp}` and `{Sequence}`.
pub fn check_slice_template(template: &str) -> Vec<String> {
    let mut problems = check_common(template);
    if !template.contains("{UnixTimestamp}") || !template.contains("{Sequence}") {
        problems.push(format!(
            "{template:?} must contain {{UnixTimestamp}} and {{Sequence}}"
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ctx(end: Option<DateTime<Utc>>) -> NameContext<'static> {
        NameContext {
            app: "live",
            stream: "cam1",
            start: Utc.with_ymd_and_hms(2026, 11, 24, 10, 15, 30).unwrap(),
            end,
            segment_start: Some(Utc.with_ymd_and_hms(2026, 11, 24, 10, 16, 0).unwrap()),
            sequence: 7,
            tz: Tz::UTC,
        }
    }

    #[test]
    fn renders_every_placeholder() {
        let end = Some(Utc.with_ymd_and_hms(2026, 11, 24, 11, 0, 5).unwrap());
        let cases = [
            ("{AppName}/{StreamName}", "live/cam1.x"),
            (
                "{EscapedStartTime}_{EscapedEndTime}",
                "2026-11-24-10-15-30_2026-11-24-11-00-05.x",
            ),
            ("{StartTime}_{EndTime}", "1795515330_1795518005.x"),
            ("{UnixTimestamp}_{Sequence}", "1795515360_7.x"),
            ("{Date}/{Hour}/{Minute}_{Second}", "2026-11-24/10/15_30.x"),
        ];
        for (template, want) in cases {
            assert_eq!(render(template, &ctx(end), "x"), want, "{template}");
        }
        assert_eq!(
            render(crate::config::DEFAULT_OBJECT, &ctx(None), "mp4"),
            "record/live/cam1/2026-11-24-10-15-30_recording.mp4"
        );
    }

    #[test]
    fn time_zones_move_dates_and_times_but_not_unix_seconds() {
        let mut c = ctx(None);
        c.start = Utc.with_ymd_and_hms(2026, 11, 24, 23, 30, 0).unwrap();
        c.segment_start = None;
        c.tz = "Europe/Berlin".parse().unwrap();
        let cases = [
            ("{EscapedStartTime}", "2026-11-25-00-30-00.x"),
            ("{Date}/{Hour}", "2026-11-25/00.x"),
            ("{StartTime}", "1795563000.x"),
            ("{UnixTimestamp}", "1795563000.x"),
        ];
        for (template, want) in cases {
            assert_eq!(render(template, &c, "x"), want, "{template}");
        }
        c.tz = "America/New_York".parse().unwrap();
        assert_eq!(render("{Date}", &c, "x"), "2026-11-24.x");
    }

    #[test]
    fn rejects_unsafe_or_incomplete_templates() {
        assert!(check_file_template(crate::config::DEFAULT_OBJECT).is_empty());
        assert!(check_slice_template(crate::config::DEFAULT_SLICE_OBJECT).is_empty());
        for bad in [
            "../x/{StartTime}_{EndTime}",
            "/abs/{StartTime}_{EndTime}",
            "C:/{StartTime}_{EndTime}",
            "a//{StartTime}_{EndTime}",
            "{StartTime}",
            "{Nope}_{StartTime}_{EndTime}",
            "a:b/{StartTime}_{EndTime}",
            "a\\b{StartTime}_{EndTime}",
            "",
        ] {
            assert!(!check_file_template(bad).is_empty(), "{bad}");
        }
        assert!(!check_slice_template("{Sequence}").is_empty());
        assert!(!check_slice_template(&format!(
            "{}{{AppName}}{{UnixTimestamp}}{{Sequence}}",
            "x".repeat(10)
        ))
        .is_empty());
    }
}
