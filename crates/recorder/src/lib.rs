//! The recorder: templates, names, recording sessions with the interruption window,
//! and the writers that put HLS, MP4 and FLV files on disk.

#![forbid(unsafe_code)]

pub mod config;
pub mod duration;
pub mod naming;
