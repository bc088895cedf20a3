//! RTMP: the server that OBS, ffmpeg and hardware encoders publish to, and the client used
//! to pull remote `rtmp://` streams.
//!
//! Both are sans-IO cores over our own chunk layer, driven by tokio code that owns the
//! sockets and timers:
//!
//! - [`chunk`]: the chunk stream both ways, with limits checked before anything is held;
//! - [`amf`]: AMF0 commands and data, pre-scanned without recursion before decoding;
//! - [`core`]: one server connection (handshake, commands, publish policy, media);
//! - [`server`]: the accept loop with its connection limits, and the per-connection tasks;
//! - [`client`]: one playing client connection, for pulls.
//!
//! Only the handshake comes from `rml_rtmp` (fixed-size, no recursion). Its sessions and its
//! AMF0 decoder recurse without limit and panic on some input (fuzz/README.md), which
//! hostile peers must never reach.

pub mod amf;
pub mod chunk;
pub mod client;
pub mod core;
pub mod server;
mod socket;

pub use server::{RtmpServer, RtmpServerOptions};

/// The message of a caught panic, for the log line that ends a connection or a pull.
pub(crate) fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-text panic payload".into())
}
