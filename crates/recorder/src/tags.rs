//! What Tapedeck writes into its own files so that `catalog rebuild` can give back their
//! catalog rows from the folder alone. File names come from user templates and cannot be
//! parsed; the tags can. Each is one line of JSON (unknown fields are ignored on reading,
//! so later versions may add some):
//!
//! | file | where | what |
//! |---|---|---|
//! | MP4 (and its `.part`) | `moov/udta/tpdk` box | [`FileTag`] |
//! | FLV (and its `.part`) | `onMetaData` entry `tapedeck` (a string) | [`FileTag`] |
//! | recording playlist | `#EXT-X-TAPEDECK-RECORDING:<recording id>` | the recording |
//! | custom index | `#EXT-X-TAPEDECK-INDEX:<json>` | [`IndexTag`] |
//!
//! Players skip all of them: an unknown `udta` child box (ISO/IEC 14496-12 8.10.1), an
//! `onMetaData` key (ffmpeg lists it as a format tag), an unknown `#EXT-X-` tag (RFC 8216
//! 4.1). A `.part` file's tag has no end (it is not known yet); the finalized file's has.

use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::Path;

use serde::{Deserialize, Serialize};
use tapedeck_catalog::IndexRecord;
use tapedeck_media::flv::amf0::Amf0Value;
use tapedeck_media::mp4::UserBox;

/// Type of the MP4 user-data box holding a [`FileTag`].
pub const MP4_BOX: [u8; 4] = *b"tpdk";
/// Key of the FLV `onMetaData` entry holding a [`FileTag`].
pub const FLV_KEY: &str = "tapedeck";

/// The catalog row of an MP4 or FLV file, less what the file itself tells (its key and
/// size).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileTag {
    /// The recording's id, `app/stream/<start ms>`.
    pub recording: String,
    pub app: String,
    pub stream: String,
    /// Wall-clock start of the file (Unix ms).
    pub start_ms: i64,
    /// Wall-clock end (Unix ms); absent while the file is still a `.part`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<i64>,
}

impl FileTag {
    pub fn to_text(&self) -> String {
        // A struct of strings and integers always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn parse(text: &str) -> Result<FileTag, String> {
        serde_json::from_str(text).map_err(|e| format!("tag {text:?} does not read: {e}"))
    }

    /// The tag as MP4 user data.
    pub fn mp4_user_data(&self) -> Vec<UserBox> {
        vec![UserBox {
            kind: MP4_BOX,
            payload: self.to_text().into_bytes(),
        }]
    }

    /// The tag as `onMetaData` entries.
    pub fn flv_metadata(&self) -> Vec<(String, Amf0Value)> {
        vec![(FLV_KEY.to_owned(), Amf0Value::String(self.to_text()))]
    }

    /// The tag of the MP4 (or fragmented `.part`) at `path`; `None` when it has none.
    pub fn read_mp4(path: &Path) -> Result<Option<FileTag>, String> {
        FileTag::read_mp4_from(BufReader::new(File::open(path).map_err(|e| e.to_string())?))
    }

    /// The tag of an MP4 read through `file` (a local file, or ranged reads of an object in
    /// a bucket): only box headers and the `udta` box are read.
    pub fn read_mp4_from<R: Read + Seek>(mut file: R) -> Result<Option<FileTag>, String> {
        use tapedeck_media::in_place::{recording_start, Shifted};
        // A `.part` an in-place finalize left half done has its recording further in.
        let start = recording_start(&mut file, b"ftyp", 4).map_err(|e| e.to_string())?;
        let file = Shifted::new(file, start).map_err(|e| e.to_string())?;
        let boxes = tapedeck_media::mp4::read_user_data(file).map_err(|e| e.to_string())?;
        boxes
            .iter()
            .find(|b| b.kind == MP4_BOX)
            .map(|b| {
                let text = std::str::from_utf8(&b.payload)
                    .map_err(|_| "the tpdk box is not UTF-8 text".to_string())?;
                FileTag::parse(text)
            })
            .transpose()
    }

    /// The tag of the FLV (or `.part`) at `path`; `None` when it has none.
    pub fn read_flv(path: &Path) -> Result<Option<FileTag>, String> {
        FileTag::read_flv_from(BufReader::new(File::open(path).map_err(|e| e.to_string())?))
    }

    /// The tag of an FLV read through `file`: only its `onMetaData` is read.
    pub fn read_flv_from<R: Read + Seek>(mut file: R) -> Result<Option<FileTag>, String> {
        use std::io::SeekFrom;
        // A `.part` an in-place finalize left half done has its recording further in.
        tapedeck_media::in_place::recording_start(&mut file, b"FLV", 0)
            .and_then(|start| file.seek(SeekFrom::Start(start)))
            .map_err(|e| e.to_string())?;
        let meta = tapedeck_media::flv::read_metadata(file).map_err(|e| e.to_string())?;
        match meta.as_ref().and_then(|m| m.get(FLV_KEY)) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .ok_or_else(|| format!("onMetaData {FLV_KEY} is not a string: {v:?}"))
                .and_then(FileTag::parse)
                .map(Some),
        }
    }
}

/// A custom index's catalog row, less its key (the file's own path).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndexTag {
    pub id: i64,
    pub app: String,
    pub stream: String,
    pub start_ms: i64,
    pub end_ms: i64,
    /// Media seconds listed.
    pub duration: f64,
    pub width: u32,
    pub height: u32,
    pub created_ms: i64,
}

impl IndexTag {
    pub fn of(r: &IndexRecord) -> IndexTag {
        IndexTag {
            id: r.id,
            app: r.app.clone(),
            stream: r.stream.clone(),
            start_ms: r.start_ms,
            end_ms: r.end_ms,
            duration: r.duration,
            width: r.width,
            height: r.height,
            created_ms: r.created_ms,
        }
    }

    /// The row of the index file at `object`.
    pub fn record(self, object: String) -> IndexRecord {
        IndexRecord {
            id: self.id,
            app: self.app,
            stream: self.stream,
            object,
            start_ms: self.start_ms,
            end_ms: self.end_ms,
            duration: self.duration,
            width: self.width,
            height: self.height,
            created_ms: self.created_ms,
        }
    }

    pub fn to_text(&self) -> String {
        // Strings, integers and a finite duration always serialize.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn parse(text: &str) -> Result<IndexTag, String> {
        serde_json::from_str(text).map_err(|e| format!("index tag {text:?} does not read: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag() -> FileTag {
        FileTag {
            recording: "live/cam1/1795515330000".into(),
            app: "live".into(),
            stream: "cam1".into(),
            start_ms: 1_795_515_330_000,
            end_ms: Some(1_795_515_334_033),
        }
    }

    #[test]
    fn file_tags_round_trip_as_text() {
        let text = tag().to_text();
        assert_eq!(
            text,
            r#"{"recording":"live/cam1/1795515330000","app":"live","stream":"cam1","start_ms":1795515330000,"end_ms":1795515334033}"#
        );
        assert_eq!(FileTag::parse(&text), Ok(tag()));
        let part = FileTag {
            end_ms: None,
            ..tag()
        };
        assert!(!part.to_text().contains("end_ms"));
        assert_eq!(FileTag::parse(&part.to_text()), Ok(part));
        // Later versions may add fields.
        let newer = text.replace('}', r#","codec":"avc1"}"#);
        assert_eq!(FileTag::parse(&newer), Ok(tag()));
        let err = FileTag::parse(r#"{"recording":"x"}"#).unwrap_err();
        assert!(err.contains("missing field"), "{err}");
    }

    #[test]
    fn index_tags_round_trip_with_their_row() {
        let record = IndexRecord {
            id: 12,
            app: "live".into(),
            stream: "cam1".into(),
            object: "live/cam1/2026-11-24/10/00_00.m3u8".into(),
            start_ms: 1_795_515_330_000,
            end_ms: 1_795_515_630_000,
            duration: 299.967,
            width: 1280,
            height: 720,
            created_ms: 1_795_516_000_123,
        };
        let text = IndexTag::of(&record).to_text();
        assert!(!text.contains('\n'), "one playlist line: {text}");
        let back = IndexTag::parse(&text)
            .unwrap()
            .record(record.object.clone());
        assert_eq!(back, record);
        assert!(IndexTag::parse("live/cam1").is_err());
    }
}
