//! The RTMP pull's client (`tapedeck-ingest`'s sans-IO `ClientCore`) playing from a hostile
//! server: after a real handshake (or, with mode 1, from the first byte) the server's bytes
//! are the fuzz input, in reads of any size.
//!
//! Input layout: byte 0 the mode, byte 1 the size of the reads (0 = all at once), the rest
//! is what the server sends.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use tapedeck_fuzz::check_events;
use tapedeck_ingest::rtmp::client::ClientCore;

fuzz_target!(|data: &[u8]| {
    let [mode, read_size, rest @ ..] = data else {
        return;
    };
    let Ok(mut client) = ClientCore::new("live", "fuzz", "rtmp://127.0.0.1:1935/live") else {
        return;
    };
    let mut media = Vec::new();
    let mut stream = Vec::new();
    if mode % 2 == 0 {
        // A real server handshake first: S0 S1 S2 in answer to the client's C0 C1.
        let mut server = Handshake::new(PeerType::Server);
        let c0c1 = client.take_output();
        let Ok(HandshakeProcessResult::InProgress { response_bytes }) = server.process_bytes(&c0c1)
        else {
            return;
        };
        stream.extend_from_slice(&response_bytes);
    }
    stream.extend_from_slice(rest);
    let step = if *read_size == 0 {
        stream.len().max(1)
    } else {
        usize::from(*read_size)
    };
    for piece in stream.chunks(step) {
        if client.receive(piece, &mut media).is_err() {
            break;
        }
        let _ = client.take_output();
    }
    check_events(&media);
});
