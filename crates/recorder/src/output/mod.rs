//! Per-format writers of one recording: each turns the recording's frames (already on the
//! recording's timeline) into files, cuts on key frames, and rotates at its cycle.
//!
//! Writing a frame is synchronous and cheap (buffered appends to a `.part` file). Work
//! that scales with a file's size (the MP4 and FLV finalizers) runs on the blocking pool
//! and comes back as a [`FileJob`], so a cycle cut never stalls the live stream.

mod daily;
mod extent;
pub mod flv;
pub mod hls;
pub mod mp4;
mod playlist_file;
pub mod single;

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use tapedeck_media::{Frame, MediaTime, Tracks};
use tokio::task::JoinHandle;

pub(crate) use extent::Extent;

/// Bytes an output gathers before handing them to its file. Small on purpose: the buffer
/// keeps its high-water capacity for the life of the file, once per format and stream.
pub(crate) const WRITE_BATCH: usize = 64 * 1024;

/// Gives back what a write batch grew to past twice [`WRITE_BATCH`] (a big key frame
/// arriving on a nearly full batch): kept, it would weigh on every stream for the life of
/// its file.
pub(crate) fn trim(buf: &mut Vec<u8>) {
    if buf.capacity() > 2 * WRITE_BATCH {
        buf.shrink_to(WRITE_BATCH);
    }
}

/// A file being finalized in the background (it reports itself through the recording's
/// [`crate::sink::Finisher`] when done).
pub type FileJob = JoinHandle<Result<(), OutputError>>;

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {detail}")]
    Format { path: PathBuf, detail: String },
    #[error("background finalizer failed: {0}")]
    Join(String),
    /// Finishing `path` needs `needed` bytes of free space and its disk has `free`: the
    /// file is left whole, for a later try or the next start's recovery.
    #[error("{path}: needs {} of free space to be finished, {} free", tapedeck_config::ByteSize(*needed), tapedeck_config::ByteSize(*free))]
    NoRoom {
        path: PathBuf,
        needed: u64,
        free: u64,
    },
}

impl OutputError {
    /// True when the disk (or a quota) had no room for it: see [`crate::space`].
    pub fn is_disk_full(&self) -> bool {
        match self {
            OutputError::Io { source, .. } => crate::space::is_disk_full(source),
            OutputError::Format { detail, .. } => crate::space::mentions_disk_full(detail),
            OutputError::NoRoom { .. } => true,
            OutputError::Join(_) => false,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> OutputError {
        let path = path.into();
        move |source| OutputError::Io { path, source }
    }
}

/// What every output of a recording shares.
#[derive(Clone, Debug)]
pub struct OutputContext {
    /// The recordings folder: object keys are relative to it.
    pub root: PathBuf,
    pub app: String,
    pub stream: String,
    /// Wall-clock time of the recording's timeline origin.
    pub t0: DateTime<Utc>,
    /// The template's time zone, for names.
    pub tz: chrono_tz::Tz,
    /// The recording's id in the catalog: `app/stream/<t0 in Unix ms>`.
    pub recording: String,
    /// The template the recording started with.
    pub template: std::sync::Arc<crate::config::Template>,
    /// Where finished files are reported.
    pub finisher: crate::sink::Finisher,
    /// Finalize MP4 and FLV files in place where the file system allows.
    pub in_place: bool,
}

impl OutputContext {
    /// Reports a finished file (catalog, upload queue, event) in one step.
    pub(crate) fn finished(
        &self,
        file: crate::events::FinishedFile,
        row: crate::sink::CatalogRow,
        listings: Vec<String>,
    ) {
        self.finisher.finished(crate::sink::Finished {
            file,
            row,
            template: self.template.clone(),
            listings,
            root: self.root.clone(),
        });
    }

    /// Wall-clock time of a point on the recording's timeline.
    pub fn wall(&self, t: MediaTime) -> DateTime<Utc> {
        self.t0 + chrono::Duration::microseconds(t.0 * 100 / 9)
    }
}

/// One format's writer.
pub trait Output: Send {
    /// Writes one frame. `tracks` are the stream's current configs.
    fn write(
        &mut self,
        frame: &Frame,
        tracks: &Tracks,
        jobs: &mut Vec<FileJob>,
    ) -> Result<(), OutputError>;
    /// The stream's codec configuration changed: start a new file at the next key frame.
    fn tracks_changed(&mut self);
    /// The publisher went away; the next frame follows a gap. Closes the open segment so
    /// no segment spans the gap.
    fn discontinuity(&mut self, jobs: &mut Vec<FileJob>) -> Result<(), OutputError>;
    /// The recording ends: finish every file.
    fn close(&mut self, jobs: &mut Vec<FileJob>) -> Result<(), OutputError>;
    /// A write failed for lack of room (see [`crate::space`]): finish every file with what
    /// reached the disk whole, its torn tail (the failed write) cut off first, writing as
    /// little as can be. The output is done with afterwards.
    fn salvage(&mut self, jobs: &mut Vec<FileJob>) -> Result<(), OutputError> {
        self.close(jobs)
    }
    /// Marks a chapter titled `title` starting at `at` on the recording's timeline (the
    /// live edge, when the streamer asks). It goes to the file at once, so a crash keeps
    /// it; where each format keeps it: `tapedeck_media::chapter`. Before the first file
    /// of the output is open it waits for it (and then starts at its start).
    fn chapter(&mut self, at: MediaTime, title: &str) -> Result<(), OutputError>;
}

/// True when a new file or segment may start at `frame`: a video key frame, or any audio
/// frame of an audio-only stream.
pub(crate) fn is_cut_point(frame: &Frame, tracks: &Tracks) -> bool {
    if tracks.video.is_some() {
        frame.is_video() && frame.keyframe
    } else {
        !frame.is_video()
    }
}
