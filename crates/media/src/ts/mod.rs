//! MPEG-TS (ISO/IEC 13818-1): the segment muxer and a demuxer for HLS pull.

pub mod demux;
pub mod mux;
