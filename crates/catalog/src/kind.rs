//! The one vocabulary of file kinds: the catalog's rows, the upload queue, the recorder's
//! events and the engine's API all say the same word for the same file.

use serde::{Deserialize, Serialize};

/// What a file is.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS,
)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// An HLS `.ts` segment.
    Segment,
    /// An HLS playlist of a recording (live, final, or a daily index).
    Playlist,
    Mp4,
    Flv,
    /// A custom index: an m3u8 over a chosen time range.
    Index,
    /// A file from a `[[watch]]` folder (an OBS recording): the user's original.
    Watched,
    /// A file uploaded by hand (`tapedeck storage upload`).
    File,
}

impl FileKind {
    pub const ALL: [FileKind; 7] = [
        FileKind::Segment,
        FileKind::Playlist,
        FileKind::Mp4,
        FileKind::Flv,
        FileKind::Index,
        FileKind::Watched,
        FileKind::File,
    ];

    /// The word stored in the catalog and shown in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Segment => "segment",
            FileKind::Playlist => "playlist",
            FileKind::Mp4 => "mp4",
            FileKind::Flv => "flv",
            FileKind::Index => "index",
            FileKind::Watched => "watched",
            FileKind::File => "file",
        }
    }

    /// Reads a stored word; anything unknown is a plain file.
    pub fn parse(s: &str) -> FileKind {
        FileKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .unwrap_or(FileKind::File)
    }

    /// Kinds that list other files: they go up only after every earlier file of their
    /// stream, and retention never deletes them.
    pub fn is_listing(self) -> bool {
        matches!(self, FileKind::Playlist | FileKind::Index)
    }
}

impl std::fmt::Display for FileKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl rusqlite::ToSql for FileKind {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl rusqlite::types::FromSql for FileKind {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        value.as_str().map(FileKind::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_match_serde() {
        for k in FileKind::ALL {
            assert_eq!(FileKind::parse(k.as_str()), k);
            assert_eq!(
                serde_json::to_string(&k).unwrap(),
                format!("\"{}\"", k.as_str())
            );
        }
        assert_eq!(FileKind::parse("m4v"), FileKind::File);
    }
}
