//! Tapedeck's media layer: sans-IO parsers and muxers.
//!
//! Nothing in this crate opens a socket or a file: bytes go in, frames or bytes come out.
//! Data path: a source turns its container (FLV tags from RTMP/HTTP-FLV, MPEG-TS from HLS)
//! into [`MediaEvent`]s; the recorder feeds them to the writers in [`ts`], [`mp4`] and
//! [`flv`], and writes the bytes those return.

#![forbid(unsafe_code)]

pub mod chapter;
pub mod codec;
pub mod flv;
pub mod frame;
pub mod hls;
pub mod in_place;
pub mod mp4;
pub mod time;
pub mod ts;

pub use chapter::Chapter;
pub use codec::{AudioCodec, AudioConfig, CodecError, VideoCodec, VideoConfig};
pub use frame::{Frame, MediaEvent, TrackKind, Tracks};
pub use time::MediaTime;
