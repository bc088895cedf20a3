//! An RTMP server connection: `tapedeck-ingest`'s sans-IO core (`ServerCore`), the code
//! every TCP connection of the server runs, fed hostile bytes the way the driver feeds it
//! (in reads of any size), with every publish accepted.
//!
//! Input layout: byte 0 picks the state the hostile bytes arrive in (0 right after the
//! handshake, 1 connected, 2 publishing `live/fuzz`, 3 before the handshake: the bytes are
//! the handshake), byte 1 the size of the reads (0 = all at once; TCP splits anywhere),
//! the rest is the peer's bytes.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tapedeck_fuzz::{check_events, Publisher, ServerDriver};
use tapedeck_ingest::rtmp::chunk::{ChunkReader, ReadLimits};

/// Bytes of a client that connected (`[..connect_len]`) and then published (all of it).
fn prefixes() -> &'static (Vec<u8>, usize) {
    static PREFIX: OnceLock<(Vec<u8>, usize)> = OnceLock::new();
    PREFIX.get_or_init(|| {
        let publisher = Publisher::new().expect("the in-memory publish works");
        let connect_len = connect_len(&publisher.sent);
        (publisher.sent, connect_len)
    })
}

/// Length of the first RTMP message in `sent` (`connect`, the first thing a client
/// sends), found by feeding bytes one at a time until a message completes.
fn connect_len(sent: &[u8]) -> usize {
    let mut reader = ChunkReader::new(ReadLimits::SETUP);
    for (i, b) in sent.iter().enumerate() {
        let mut byte: &[u8] = std::slice::from_ref(b);
        if let Ok(Some(_)) = reader.next(&mut byte) {
            return i + 1;
        }
    }
    0
}

fuzz_target!(|data: &[u8]| {
    let [mode, read_size, rest @ ..] = data else {
        return;
    };
    let (mut server, stream) = if mode % 4 == 3 {
        (ServerDriver::fresh(), rest.to_vec())
    } else {
        let (prefix, connect_len) = prefixes();
        let prefix: &[u8] = match mode % 4 {
            0 => &[],
            1 => &prefix[..*connect_len],
            _ => prefix,
        };
        let Some((server, _)) = ServerDriver::handshaken() else {
            return;
        };
        (server, [prefix, rest].concat())
    };
    let step = if *read_size == 0 {
        stream.len().max(1)
    } else {
        usize::from(*read_size)
    };
    for piece in stream.chunks(step) {
        // An error ends the connection in the server: stop here the same way.
        if server.input(piece).is_err() {
            break;
        }
    }
    check_events(&server.handler.events);
});
