//! RTMP: the server that OBS, ffmpeg and hardware encoders publish to, and the client used
//! to pull remote `rtmp://` streams.
//!
//! Session state (handshake, chunking, commands) comes from the `rml_rtmp` crate; this
//! module owns sockets, timeouts, naming rules and the quirks listed in REFERENCE.md
//! section 5.

mod ext_ts;
mod raw;
pub mod server;
mod socket;

pub use server::{RtmpServer, RtmpServerOptions};

/// The message of a panic caught around `rml_rtmp` (which panics on some malformed input,
/// see fuzz/README.md), for the log line that ends the connection.
pub(crate) fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-text panic payload".into())
}
