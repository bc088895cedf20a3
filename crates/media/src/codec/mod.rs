//! Codec configuration records: what a container needs to describe a track.

pub mod aac;
mod bits;
pub mod h264;
pub mod hevc;

use bytes::Bytes;

pub use aac::AudioConfig;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VideoCodec {
    H264,
    H265,
}

impl VideoCodec {
    pub fn name(self) -> &'static str {
        match self {
            VideoCodec::H264 => "h264",
            VideoCodec::H265 => "h265",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AudioCodec {
    Aac,
}

/// A video track's decoder configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VideoConfig {
    pub codec: VideoCodec,
    /// The `avcC` or `hvcC` record, exactly as an MP4 sample entry carries it.
    pub record: Bytes,
    /// Parameter sets in decoding order (VPS, SPS, PPS), without length prefixes: what an
    /// Annex B stream (MPEG-TS) repeats before every key frame.
    pub parameter_sets: Vec<Bytes>,
    /// Bytes of each NAL length prefix in frames as the source sends them (1, 2 or 4).
    pub nal_length_size: u8,
    pub width: u32,
    pub height: u32,
    /// RFC 6381 codec string for playlists, like `avc1.64001f` or `hvc1.1.6.L93.B0`.
    pub codec_string: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    #[error("{what} is truncated")]
    Truncated { what: &'static str },
    #[error("{what}: {detail}")]
    Invalid { what: &'static str, detail: String },
}

impl CodecError {
    pub(crate) fn invalid(what: &'static str, detail: impl Into<String>) -> Self {
        CodecError::Invalid {
            what,
            detail: detail.into(),
        }
    }
}
