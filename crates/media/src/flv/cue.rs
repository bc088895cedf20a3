//! Chapters in FLV: `onCuePoint` script tags while recording, a `chapters` index in
//! `onMetaData` once finalized.
//!
//! ```text
//! recording (.part)                          finalized (copied or in place)
//! FLV header                                 FLV header
//! tag 18 onMetaData (provisional)            tag 18 onMetaData { ..., encoder, (caller's),
//! tag 9/8 ...                                         chapters: {
//! tag 18 "onCuePoint" {                                 times: [s, ...],
//!          name: title,                                 titles: [title, ...] },
//!          time: seconds (= the tag's time),          keyframes: { ... } }
//!          type: "navigation",               tag 9/8 ...
//!          parameters: {} }                  tag 15 the same bytes, retyped: players
//!        at the chapter's time, written             skip it
//!        the moment it is added               tag 9/8 ...
//! tag 9/8 ...
//! ```
//!
//! `onCuePoint` is how Flash-era encoders embed cue points in FLV (an object with `name`,
//! `time`, `type` and `parameters`); a chapter is a navigation cue point. The tag is
//! written into the `.part` at once, so a crash keeps it, and the finalizers read the
//! chapters back from these tags.
//!
//! What ffmpeg 5.1 makes of them decides the final form (checked with ffprobe): it lists
//! no chapters for FLV whatever the file holds; it turns each `onCuePoint` tag after time
//! 0 into a packet of an extra "text" subtitle stream (empty cues, which a remux to MKV
//! carries along); and it copies every named string, number or boolean of a script object
//! into the file's format tags, nested ones included, the last one winning: cue points
//! show up as the file's `name`, `time` and `type`. So the finalizers:
//! - change each cue point tag's type from 18 to 15, a reserved type that ffmpeg and
//!   flv.js skip (the filler of a file finalized in place is one too), keeping every byte
//!   where it was; [`cue_point`] still reads a retyped tag, so an in-place finalize
//!   interrupted after retyping finishes with every chapter;
//! - list the chapters in `onMetaData.chapters`, two arrays of values without names (the
//!   shape of the `keyframes` index), which ffmpeg reads past without a trace. Flash's own
//!   list, `cuePoints` of `{name, time, type}` objects, would put the last chapter's name
//!   among the file's tags; no player of today reads either.
//!
//! Titles in `onMetaData` are cut to 255 bytes: ffmpeg gives up on the rest of the
//! metadata (the `keyframes` index included) at a longer string.

use bytes::Bytes;

use super::amf0::Amf0Value;
use super::reader::FlvTag;
use super::tag::{TAG_FILLER, TAG_SCRIPT};
use crate::chapter::{self, MAX_TITLE_BYTES};

/// The script data name of a cue point.
const ON_CUE_POINT: &str = "onCuePoint";

/// What a cue point tag body starts with: the AMF0 string `onCuePoint`.
const PREFIX: &[u8] = b"\x02\x00\x0aonCuePoint";

/// The `onCuePoint` tag body of a chapter at `ts_ms`.
pub(crate) fn body(ts_ms: u32, title: &str) -> Bytes {
    let mut b = Vec::new();
    Amf0Value::String(ON_CUE_POINT.to_owned()).encode(&mut b);
    entry(ts_ms, title).encode(&mut b);
    Bytes::from(b)
}

/// One cue point object, as the tag carries it and as `cuePoints` lists it.
fn entry(ts_ms: u32, title: &str) -> Amf0Value {
    Amf0Value::Object(vec![
        (
            "name".to_owned(),
            Amf0Value::String(chapter::truncate(title, MAX_TITLE_BYTES).to_owned()),
        ),
        (
            "time".to_owned(),
            Amf0Value::Number(f64::from(ts_ms) / 1000.0),
        ),
        (
            "type".to_owned(),
            Amf0Value::String("navigation".to_owned()),
        ),
        ("parameters".to_owned(), Amf0Value::Object(Vec::new())),
    ])
}

/// The title of a cue point tag (as written, type 18, or retyped, type 15); `None` for
/// any other tag.
pub(crate) fn cue_point(tag: &FlvTag) -> Option<String> {
    if !matches!(tag.kind, TAG_SCRIPT | TAG_FILLER) || !tag.body.starts_with(PREFIX) {
        return None;
    }
    let (_, used) = Amf0Value::decode(&tag.body).ok()?;
    let (value, _) = Amf0Value::decode(tag.body.get(used..)?).ok()?;
    let name = value.get("name")?.as_str()?;
    Some(chapter::truncate(name, MAX_TITLE_BYTES).to_owned())
}

/// Longest string ffmpeg reads in `onMetaData` (its buffer holds 256 bytes with the NUL).
const METADATA_TITLE_MAX: usize = 255;

/// The `chapters` entry of `onMetaData`: `(time in ms, title)` of each chapter.
pub(crate) fn list(cues: &[(i64, String)]) -> Amf0Value {
    let times = cues
        .iter()
        .map(|(ms, _)| Amf0Value::Number((*ms).max(0) as f64 / 1000.0))
        .collect();
    let titles = cues
        .iter()
        .map(|(_, t)| Amf0Value::String(chapter::truncate(t, METADATA_TITLE_MAX).to_owned()))
        .collect();
    Amf0Value::Object(vec![
        ("times".to_owned(), Amf0Value::StrictArray(times)),
        ("titles".to_owned(), Amf0Value::StrictArray(titles)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(kind: u8, body: Bytes) -> FlvTag {
        FlvTag {
            kind,
            ts_ms: 1500,
            body,
            offset: 0,
        }
    }

    #[test]
    fn cue_points_read_back_under_either_type() {
        let b = body(1500, "Boss fight ✓");
        let values = Amf0Value::decode_all(&b).unwrap();
        assert_eq!(values[0].as_str(), Some("onCuePoint"));
        assert_eq!(values[1].get("time").and_then(Amf0Value::as_f64), Some(1.5));
        assert_eq!(
            values[1].get("type").and_then(Amf0Value::as_str),
            Some("navigation")
        );
        for kind in [TAG_SCRIPT, TAG_FILLER] {
            assert_eq!(
                cue_point(&tag(kind, b.clone())).as_deref(),
                Some("Boss fight ✓")
            );
        }
        // Not a cue point: another type, another name, a cut body, a filler of zeros.
        assert_eq!(cue_point(&tag(9, b.clone())), None);
        let mut meta = Vec::new();
        Amf0Value::String("onMetaData".into()).encode(&mut meta);
        assert_eq!(cue_point(&tag(TAG_SCRIPT, Bytes::from(meta))), None);
        for cut in 0..b.len() {
            assert_eq!(
                cue_point(&tag(TAG_SCRIPT, b.slice(..cut))),
                None,
                "cut {cut}"
            );
        }
        assert_eq!(cue_point(&tag(TAG_FILLER, Bytes::from(vec![0; 64]))), None);
        // A name that is not a string.
        let mut odd = Vec::new();
        Amf0Value::String("onCuePoint".into()).encode(&mut odd);
        Amf0Value::Object(vec![("name".into(), Amf0Value::Number(1.0))]).encode(&mut odd);
        assert_eq!(cue_point(&tag(TAG_SCRIPT, Bytes::from(odd))), None);
    }

    #[test]
    fn the_list_holds_times_and_titles() {
        let long = "ü".repeat(200);
        let l = list(&[(0, "a".into()), (61_250, long.clone())]);
        let times: Vec<f64> = l
            .get("times")
            .and_then(Amf0Value::as_array)
            .unwrap()
            .iter()
            .filter_map(Amf0Value::as_f64)
            .collect();
        assert_eq!(times, [0.0, 61.25]);
        let titles: Vec<&str> = l
            .get("titles")
            .and_then(Amf0Value::as_array)
            .unwrap()
            .iter()
            .filter_map(Amf0Value::as_str)
            .collect();
        assert_eq!(titles, ["a", &long[..254]]);
    }
}
