//! MP4 (ISO/IEC 14496-12): the crash-safe fragmented writer and its finalizer.

pub mod finalize;
pub mod fragment;
