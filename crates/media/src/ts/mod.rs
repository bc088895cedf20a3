//! MPEG-TS (ISO/IEC 13818-1): the HLS segment muxer and a demuxer for HLS pull.
//!
//! ```text
//! mux:   Frame (length-prefixed NALs / raw AAC) -> Annex B or ADTS -> PES -> 188-byte packets
//! demux: bytes -> packets (resync on 0x47) -> PAT/PMT -> PES per PID -> MediaEvent
//! ```
//!
//! Both directions share the fixed PID layout below, the PSI helpers in [`psi`], the
//! PES/timestamp helpers in [`pes`] and the NAL unit framing in [`nal`].

pub mod demux;
pub mod mux;
pub(crate) mod nal;
pub mod pes;
pub mod psi;

#[cfg(test)]
mod peer_tests;
#[cfg(test)]
pub(crate) mod test_util;

pub use demux::TsDemuxer;
pub use mux::TsMuxer;

use crate::codec::CodecError;
use crate::frame::TrackKind;

/// Every TS packet is this long (ISO/IEC 13818-1 2.4.3.2).
pub const PACKET_SIZE: usize = 188;
/// The first byte of every packet.
pub const SYNC_BYTE: u8 = 0x47;

pub const PID_PAT: u16 = 0x0000;
/// PIDs the muxer uses. They match what ffmpeg and most HLS packagers emit, which keeps
/// segments easy to compare with peers' output.
pub const PID_PMT: u16 = 0x1000;
pub const PID_VIDEO: u16 = 0x0100;
pub const PID_AUDIO: u16 = 0x0101;
/// The null PID, and the PCR_PID value meaning "no PCR" in a PMT.
pub const PID_NULL: u16 = 0x1fff;

/// Stream types (ISO/IEC 13818-1 Table 2-34).
pub const STREAM_TYPE_H264: u8 = 0x1b;
pub const STREAM_TYPE_H265: u8 = 0x24;
pub const STREAM_TYPE_AAC_ADTS: u8 = 0x0f;

/// Errors from the TS muxer and demuxer. Each carries the PID (or track) it concerns.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TsError {
    /// The muxer was given a frame for a track it was not created with.
    #[error("no {0:?} track in this TS muxer")]
    NoTrack(TrackKind),
    /// A video frame's 4-byte NAL length prefixes do not add up to the frame size.
    #[error("video frame at {at}: {detail}")]
    BadFrame {
        at: crate::MediaTime,
        detail: String,
    },
    /// An audio access unit is too long for a 13-bit ADTS frame length.
    #[error("AAC access unit of {0} bytes does not fit an ADTS frame")]
    AudioFrameTooLong(usize),
    /// A PAT or PMT section that could not be parsed (bad CRC, bad length).
    #[error("PSI on PID {pid:#06x}: {detail}")]
    Psi { pid: u16, detail: String },
    /// A PES packet that could not be parsed or was cut short.
    #[error("PES on PID {pid:#06x}: {detail}")]
    Pes { pid: u16, detail: String },
    /// A packet was lost in the middle of a PES packet; that PES was dropped.
    #[error("continuity error on PID {pid:#06x}: expected counter {expected}, got {got}")]
    Continuity { pid: u16, expected: u8, got: u8 },
    /// The elementary stream inside a PES (parameter sets, ADTS) is malformed.
    #[error("elementary stream on PID {pid:#06x}: {source}")]
    Codec {
        pid: u16,
        #[source]
        source: CodecError,
    },
    /// A TS packet whose header or adaptation field is inconsistent; it was skipped.
    #[error("TS packet on PID {pid:#06x}: {detail}")]
    BadPacket { pid: u16, detail: String },
    /// Input ended inside a TS packet.
    #[error("input ends with a truncated TS packet of {0} bytes")]
    TruncatedPacket(usize),
}
