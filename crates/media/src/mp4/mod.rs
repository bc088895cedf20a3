//! MP4 (ISO/IEC 14496-12): the crash-safe fragmented writer and its finalizer.
//!
//! While recording, [`Fmp4Writer`] produces a fragmented MP4 (init segment, then one
//! `moof`+`mdat` pair about every second), so a process killed mid-recording leaves a file
//! that players read up to the last complete fragment. When the recording ends, or when a
//! crashed recording is found at the next start, [`finalize()`] rewrites that file into a
//! regular progressive MP4 (`moov` before `mdat`) from the file alone.
//!
//! Boxes are written and read by hand (see `boxes.rs` for why not the `mp4-atom` crate).

mod boxes;
mod chapters;
pub mod finalize;
pub mod fragment;
#[cfg(test)]
mod peer_tests;
mod read;
#[cfg(test)]
pub(crate) mod testkit;
mod udta;

use std::io;

use crate::frame::TrackKind;
use crate::time::MediaTime;

pub use finalize::{
    finalize, finalize_in_place, finalize_with, finalize_with_data, needs_co64, FinalizeOptions,
    FinalizeSummary, InPlace, InPlaceFile, SampleData,
};
pub use fragment::Fmp4Writer;
pub use udta::{read_user_data, UserBox};

/// The box readers of the finalizer over an MP4 in memory: how many `moof`s parse after
/// the init segment. For the fuzz targets (`fuzz/fuzz_targets/mp4_read.rs`), which cannot
/// reach the crate-private readers; not an API to build on.
#[doc(hidden)]
pub fn probe_boxes(data: &[u8]) -> Result<u64, Mp4Error> {
    read::probe(data)
}

/// Version of the bytes the writer and finalizer produce.
///
/// The golden tests pin a digest of a synthetic recording's fragmented and finalized
/// output. When the output changes on purpose, bump this constant *and* the pinned digests
/// together in the same commit, so a reviewer sees that the format change was intended.
///
/// - 1: fragmented recording, moov-first finalized movie.
/// - 2: optional `moov/udta` user data in both (the recorder's `tpdk` tag); without user
///   data the bytes are those of version 1.
/// - 3: fragments due after 0.5 s of media instead of 1 s (half the memory per stream,
///   half what a crash can lose); the finalized movie gets one chunk per fragment run.
///   Later, in the same version: optional chapters (`emsg` in the recording, a chapter
///   track and `chpl` in the movie); without chapters the bytes did not change.
pub const FORMAT_VERSION: u32 = 3;

/// Timescale of `mvhd`, `tkhd` and edit lists: the engine's 90 kHz media clock, so movie
/// durations and edit offsets are exact for video (a 1000 Hz movie clock would round a
/// 29.97 fps composition offset).
pub(crate) const MOVIE_TIMESCALE: u32 = 90_000;

#[derive(Debug, thiserror::Error)]
pub enum Mp4Error {
    #[error("an MP4 needs a video or an audio track; the stream has neither")]
    NoTracks,
    #[error("video size {width}x{height} does not fit an MP4 sample entry (at most 65535)")]
    Dimensions { width: u32, height: u32 },
    #[error("{track:?} frame at {dts}, but this MP4 was started without a {track:?} track")]
    NoTrack { track: TrackKind, dts: MediaTime },
    #[error("{track:?} DTS went backwards: {dts} after {previous}")]
    DtsBackwards {
        track: TrackKind,
        previous: MediaTime,
        dts: MediaTime,
    },
    #[error("{track:?} frame at {dts}: {detail}")]
    Sample {
        track: TrackKind,
        dts: MediaTime,
        detail: String,
    },
    #[error("{context}: {source}")]
    Io {
        context: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("malformed MP4 at byte {offset}: {detail}")]
    Malformed { offset: u64, detail: String },
    #[error("cannot finalize: {detail}")]
    Unsupported { detail: String },
}

impl Mp4Error {
    pub(crate) fn io(context: &'static str) -> impl FnOnce(io::Error) -> Mp4Error {
        move |source| Mp4Error::Io { context, source }
    }

    pub(crate) fn malformed(offset: u64, detail: impl Into<String>) -> Mp4Error {
        Mp4Error::Malformed {
            offset,
            detail: detail.into(),
        }
    }
}
