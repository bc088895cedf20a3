//! The unit that flows from every source to every writer.

use bytes::Bytes;
use std::sync::Arc;

use crate::codec::{AudioConfig, VideoConfig};
use crate::time::MediaTime;

/// Which elementary stream a frame belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrackKind {
    Video,
    Audio,
}

/// One access unit.
///
/// Video data is in MP4/FLV form: NAL units each prefixed by a 4-byte big-endian length
/// (sources with another `lengthSizeMinusOne` are normalized to 4 on ingest), with no
/// parameter sets required inside (they live in the [`VideoConfig`]). Audio data is one
/// raw AAC access unit, no ADTS header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub kind: TrackKind,
    /// Decode time.
    pub dts: MediaTime,
    /// Presentation time (`dts` + composition offset; equal to `dts` for audio).
    pub pts: MediaTime,
    /// A random access point: an IDR/IRAP picture for video; every audio frame is one.
    pub keyframe: bool,
    pub data: Bytes,
}

impl Frame {
    pub fn is_video(&self) -> bool {
        self.kind == TrackKind::Video
    }

    pub fn composition_offset(&self) -> MediaTime {
        self.pts - self.dts
    }
}

/// What a source emits, in order. A config always precedes the frames that need it; a
/// new config mid-stream (an encoder restart) applies to the frames after it.
#[derive(Clone, Debug, PartialEq)]
pub enum MediaEvent {
    VideoConfig(Arc<VideoConfig>),
    AudioConfig(Arc<AudioConfig>),
    Frame(Frame),
}

/// The tracks of a stream as known so far.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tracks {
    pub video: Option<Arc<VideoConfig>>,
    pub audio: Option<Arc<AudioConfig>>,
}
