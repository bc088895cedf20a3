//! RTMP: the server that OBS, ffmpeg and hardware encoders publish to, and the client used
//! to pull remote `rtmp://` streams.
//!
//! Session state (handshake, chunking, commands) comes from the `rml_rtmp` crate; this
//! module owns sockets, timeouts, naming rules and the quirks listed in REFERENCE.md
//! section 5.

mod raw;
pub mod server;

pub use server::{RtmpServer, RtmpServerOptions};
