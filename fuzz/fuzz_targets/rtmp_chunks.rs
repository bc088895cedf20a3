//! RTMP after the handshake: `rml_rtmp`'s `ServerSession` driven as the ingest server
//! drives it (accept connect/publish, decode every audio/video message with our
//! `TagDecoder`), and its `ChunkDeserializer` on its own.
//!
//! Input layout: byte 0 picks the state the hostile bytes arrive in (0 right after the
//! handshake, 1 connected, 2 publishing `live/fuzz`), byte 1 the size of the reads the
//! bytes come in (0 = all at once; TCP splits anywhere), the rest is the peer's bytes.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rml_rtmp::chunk_io::ChunkDeserializer;
use rml_rtmp::messages::RtmpMessage;
use tapedeck_fuzz::{check_events, through_handshake, Publisher, ServerDriver};

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
    let mut d = ChunkDeserializer::new();
    for (i, b) in sent.iter().enumerate() {
        if let Ok(Some(_)) = d.get_next_message(std::slice::from_ref(b)) {
            return i + 1;
        }
    }
    0
}

fuzz_target!(|data: &[u8]| {
    let [mode, read_size, rest @ ..] = data else {
        return;
    };
    tapedeck_fuzz::tolerate_rml_rtmp_panics();
    let (prefix, connect_len) = prefixes();
    let prefix: &[u8] = match mode % 3 {
        0 => &[],
        1 => &prefix[..*connect_len],
        _ => prefix,
    };
    let mut stream = prefix.to_vec();
    stream.extend_from_slice(rest);

    // The server path, with the bytes arriving behind a real handshake.
    if let (Some(after), Some(mut server)) = (through_handshake(&stream), ServerDriver::new()) {
        let step = if *read_size == 0 {
            after.len().max(1)
        } else {
            usize::from(*read_size)
        };
        for piece in after.chunks(step) {
            // An error ends the connection in the server: stop here the same way.
            if server.input(piece).is_err() {
                break;
            }
        }
        check_events(&server.events);
    }

    // The chunk layer alone, honouring Set Chunk Size as a session does. A panic here is
    // the dependency's (see `tolerate_rml_rtmp_panics`).
    let _ = tapedeck_fuzz::in_rml(|| chunks_alone(rest));
});

fn chunks_alone(rest: &[u8]) {
    let mut d = ChunkDeserializer::new();
    let mut input: &[u8] = rest;
    for _ in 0..10_000 {
        match d.get_next_message(input) {
            Ok(Some(payload)) => {
                if let Ok(RtmpMessage::SetChunkSize { size }) = payload.to_rtmp_message() {
                    if d.set_max_chunk_size(size as usize).is_err() {
                        break;
                    }
                }
            }
            Ok(None) | Err(_) => break,
        }
        input = &[];
    }
}
