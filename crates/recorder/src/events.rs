//! Typed events: what the CLI logs and the desktop app will show. Library code never
//! prints; it sends these.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Format;

/// A file that is complete under its final name.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct FinishedFile {
    pub app: String,
    pub stream: String,
    pub format: Format,
    /// `segment`, `playlist`, `mp4` or `flv`.
    pub kind: FileKind,
    /// The object key (relative to the recordings folder, with `/`).
    pub key: String,
    pub path: PathBuf,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Media duration in seconds.
    pub duration: f64,
    pub bytes: u64,
}

/// The one vocabulary of file kinds (the catalog's).
pub use tapedeck_catalog::FileKind;

#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RecorderEvent {
    /// A new recording began (first publish of a stream, or after the window expired).
    RecordStarted {
        app: String,
        stream: String,
        origin: String,
        /// Query parameters of the publish URL (never the publish key).
        push_args: Vec<(String, String)>,
    },
    /// The publisher went away; the recording waits for the interruption window.
    RecordPaused {
        app: String,
        stream: String,
        window_secs: u64,
    },
    /// A publisher came back within the window: same recording, with a discontinuity.
    RecordResumed {
        app: String,
        stream: String,
        origin: String,
        push_args: Vec<(String, String)>,
    },
    /// The window expired (or Tapedeck is stopping): every file is finalized.
    RecordStopped {
        app: String,
        stream: String,
        dropped_events: u64,
    },
    /// Recording of a live stream was stopped or started again by request, or started
    /// again by itself after [`RecorderEvent::RecordFailed`] (room on the disk again).
    RecordToggled {
        app: String,
        stream: String,
        recording: bool,
    },
    /// Recording of a live stream stopped on an error it cannot write through (said once,
    /// however many writes fail): every open file was finished with what reached the
    /// disk, and the stream's media is dropped, the publisher staying connected. It is
    /// recorded again, into new files, once the cause is gone (`RecordToggled` with
    /// `recording: true`).
    RecordFailed {
        app: String,
        stream: String,
        reason: FailReason,
        /// A sentence for people: what failed, where, and what happens next.
        detail: String,
    },
    FileFinished(FinishedFile),
    /// A chapter was marked at `at_ms` (Unix ms) in the stream's files.
    ChapterAdded {
        app: String,
        stream: String,
        at_ms: i64,
        title: String,
    },
    /// Something went wrong writing a file; the recording goes on where it can.
    WriteFailed {
        app: String,
        stream: String,
        detail: String,
    },
    /// A stream that no template matches (said once per stream name).
    NotRecorded {
        app: String,
        stream: String,
    },
}

/// Why recording a stream stopped ([`RecorderEvent::RecordFailed`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum FailReason {
    /// The disk of the recordings folder (or the user's quota) is full.
    DiskFull,
}
