//! Pieces shared by the fuzz targets and the seed generator (`examples/seeds.rs`).
//!
//! The RTMP driver here mirrors what `tapedeck-ingest`'s `Connection` does with a
//! `ServerSession` (accept `connect` and `publish`, decode every audio/video message with
//! `TagDecoder`), without sockets: the ingest crate keeps that loop private and async, and
//! a fuzz target wants the same steps synchronously.

#![forbid(unsafe_code)]

use bytes::Bytes;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ClientSession, ClientSessionConfig, ClientSessionEvent, ClientSessionResult,
    PublishRequestType, ServerSession, ServerSessionConfig, ServerSessionEvent,
    ServerSessionResult,
};
use rml_rtmp::time::RtmpTimestamp;
use tapedeck_media::flv::tag::{normalize_nal_lengths, TagDecoder};
use tapedeck_media::{MediaEvent, TrackKind};

/// The app and stream the seed publisher uses.
pub const APP: &str = "live";
pub const STREAM: &str = "fuzz";

/// Checks what every decoder promises about the events it emits, so a fuzz run finds
/// wrong output as well as panics: video frames carry 4-byte length-prefixed NAL units
/// that tile the frame exactly (`Frame` documents that form; the muxers rely on it).
pub fn check_events(events: &[MediaEvent]) {
    for ev in events {
        if let MediaEvent::Frame(f) = ev {
            if f.kind == TrackKind::Video {
                assert!(
                    normalize_nal_lengths(&f.data, 4).is_ok(),
                    "a video frame left a decoder with bad NAL lengths"
                );
            }
        }
    }
}

/// Runs a client and a server handshake against each other in memory and returns the
/// bytes the server hands on as "after the handshake" when the client's last handshake
/// packet is followed by `after`. `None` if the handshake itself failed (it never should:
/// both peers are ours).
pub fn through_handshake(after: &[u8]) -> Option<Vec<u8>> {
    let mut client = Handshake::new(PeerType::Client);
    let mut server = Handshake::new(PeerType::Server);
    let c0c1 = client.generate_outbound_p0_and_p1().ok()?;
    let s0s1s2 = match server.process_bytes(&c0c1).ok()? {
        HandshakeProcessResult::InProgress { response_bytes } => response_bytes,
        HandshakeProcessResult::Completed { .. } => return None,
    };
    let mut c2 = match client.process_bytes(&s0s1s2).ok()? {
        HandshakeProcessResult::Completed { response_bytes, .. } => response_bytes,
        HandshakeProcessResult::InProgress { .. } => return None,
    };
    c2.extend_from_slice(after);
    match server.process_bytes(&c2).ok()? {
        HandshakeProcessResult::Completed {
            remaining_bytes, ..
        } => Some(remaining_bytes),
        HandshakeProcessResult::InProgress { .. } => None,
    }
}

/// Panics inside `rml_rtmp` that a run has seen, by source location.
static RML_PANICS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

std::thread_local! {
    /// Set while a call into `rml_rtmp` runs: its panics may surface in `core` or
    /// `alloc` (a slice index, a `drain`), so the location alone cannot tell whose bug
    /// it is.
    static IN_RML: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Lets panics raised during a call into `rml_rtmp` unwind to [`in_rml`]'s caller instead
/// of aborting the run (libfuzzer-sys's hook aborts on any panic), so the fuzzer keeps
/// searching past known bugs of the dependency; the server catches those per connection
/// the same way. Each new location is printed once. Panics anywhere else (our code) still
/// abort: those are the findings. `TAPEDECK_FUZZ_STRICT=1` makes every panic abort.
pub fn tolerate_rml_rtmp_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    if std::env::var_os("TAPEDECK_FUZZ_STRICT").is_some() {
        return;
    }
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_RML.with(|f| f.get()) {
                return previous(info);
            }
            let at = info
                .location()
                .map_or_else(String::new, |l| format!("{}:{}", l.file(), l.line()));
            let mut seen = RML_PANICS.lock().unwrap_or_else(|e| e.into_inner());
            if !seen.contains(&at) {
                eprintln!("rml_rtmp panicked (tolerated, reported once): {info}");
                seen.push(at);
            }
        }));
    });
}

/// Runs `f` (a call into `rml_rtmp`), turning a panic into `None`.
pub fn in_rml<T>(f: impl FnOnce() -> T) -> Option<T> {
    IN_RML.with(|flag| flag.set(true));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    IN_RML.with(|flag| flag.set(false));
    r.ok()
}

/// A server session driven the way the ingest server drives it.
pub struct ServerDriver {
    session: ServerSession,
    decoder: TagDecoder,
    publishing: bool,
    /// What the session sends unprompted at start (chunk size, window, bandwidth): a
    /// client must read it, or the compressed headers that follow make no sense to it.
    pub initial: Vec<u8>,
    pub events: Vec<MediaEvent>,
}

impl ServerDriver {
    pub fn new() -> Option<Self> {
        let mut config = ServerSessionConfig::new();
        config.chunk_size = 4096; // what the ingest server announces
        let (session, results) = ServerSession::new(config).ok()?;
        let mut initial = Vec::new();
        for r in results {
            if let ServerSessionResult::OutboundResponse(p) = r {
                initial.extend_from_slice(&p.bytes);
            }
        }
        Some(ServerDriver {
            session,
            initial,
            decoder: TagDecoder::new(),
            publishing: false,
            events: Vec::new(),
        })
    }

    /// Feeds bytes; returns the bytes the server would send back, or `Err` when the
    /// session gives up (the ingest server then closes the connection).
    pub fn input(&mut self, bytes: &[u8]) -> Result<Vec<u8>, String> {
        // Only the dependency's own call is unwound from; our decoding below is not.
        let session = &mut self.session;
        let results = in_rml(|| session.handle_input(bytes))
            .ok_or_else(|| "rml_rtmp panicked".to_string())?
            .map_err(|e| format!("{e:?}"))?;
        let mut out = Vec::new();
        let mut queue = std::collections::VecDeque::from(results);
        while let Some(r) = queue.pop_front() {
            match r {
                ServerSessionResult::OutboundResponse(p) => out.extend_from_slice(&p.bytes),
                ServerSessionResult::UnhandleableMessageReceived(_) => {}
                ServerSessionResult::RaisedEvent(ev) => match ev {
                    ServerSessionEvent::ConnectionRequested { request_id, .. } => queue.extend(
                        self.session
                            .accept_request(request_id)
                            .map_err(|e| format!("{e:?}"))?,
                    ),
                    ServerSessionEvent::PublishStreamRequested { request_id, .. } => {
                        self.publishing = true;
                        queue.extend(
                            self.session
                                .accept_request(request_id)
                                .map_err(|e| format!("{e:?}"))?,
                        )
                    }
                    ServerSessionEvent::VideoDataReceived {
                        data, timestamp, ..
                    } if self.publishing => {
                        // Errors are logged and skipped by the server: only panics matter.
                        let _ = self.decoder.video(timestamp.value, data, &mut self.events);
                    }
                    ServerSessionEvent::AudioDataReceived {
                        data, timestamp, ..
                    } if self.publishing => {
                        let _ = self.decoder.audio(timestamp.value, data, &mut self.events);
                    }
                    _ => {}
                },
            }
        }
        Ok(out)
    }
}

/// A client that has connected to `live` and been accepted to publish `live/fuzz`, and
/// every byte it sent after the handshake to get there.
pub struct Publisher {
    pub client: ClientSession,
    pub sent: Vec<u8>,
}

impl Publisher {
    /// Plays `connect`, `createStream` and `publish` against an in-memory server.
    pub fn new() -> Result<Publisher, String> {
        let err = |e: &dyn std::fmt::Debug| format!("{e:?}");
        let (mut client, _) =
            ClientSession::new(ClientSessionConfig::new()).map_err(|e| err(&e))?;
        let mut server = ServerDriver::new().ok_or("server session")?;
        let mut sent = Vec::new();
        let mut to_server =
            packet_bytes(client.request_connection(APP.into()).map_err(|e| err(&e))?);
        let mut requested_publish = false;
        let mut reply = std::mem::take(&mut server.initial);
        for _ in 0..16 {
            sent.extend_from_slice(&to_server);
            reply.extend(server.input(&to_server)?);
            to_server.clear();
            for r in client
                .handle_input(&std::mem::take(&mut reply))
                .map_err(|e| err(&e))?
            {
                match r {
                    ClientSessionResult::OutboundResponse(p) => {
                        to_server.extend_from_slice(&p.bytes)
                    }
                    ClientSessionResult::RaisedEvent(
                        ClientSessionEvent::ConnectionRequestAccepted,
                    ) if !requested_publish => {
                        requested_publish = true;
                        to_server.extend(packet_bytes(
                            client
                                .request_publishing(STREAM.into(), PublishRequestType::Live)
                                .map_err(|e| err(&e))?,
                        ));
                    }
                    ClientSessionResult::RaisedEvent(
                        ClientSessionEvent::PublishRequestAccepted,
                    ) => {
                        sent.extend_from_slice(&to_server);
                        return Ok(Publisher { client, sent });
                    }
                    _ => {}
                }
            }
        }
        Err("the in-memory publish never completed".into())
    }

    /// Chunks of one video (`video`) or audio message, as the client would send them.
    pub fn media(&mut self, video: bool, ts_ms: u32, body: Bytes) -> Result<Vec<u8>, String> {
        let ts = RtmpTimestamp::new(ts_ms);
        let r = if video {
            self.client.publish_video_data(body, ts, false)
        } else {
            self.client.publish_audio_data(body, ts, false)
        };
        r.map(packet_bytes).map_err(|e| format!("{e:?}"))
    }
}

fn packet_bytes(r: ClientSessionResult) -> Vec<u8> {
    match r {
        ClientSessionResult::OutboundResponse(p) => p.bytes,
        _ => Vec::new(),
    }
}

pub mod mem_file;
pub use mem_file::MemFile;

/// Read sizes taken from the input: each byte of `sizes` (cycled) is one read of 1-256
/// bytes, or, for a 0, the rest at once. A reader must give the same result for every
/// way its input is cut.
pub fn chunks<'a>(sizes: &'a [u8], mut data: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut i = 0;
    std::iter::from_fn(move || {
        if data.is_empty() {
            return None;
        }
        let n = match sizes.get(i % sizes.len().max(1)) {
            None | Some(0) => data.len(),
            Some(&s) => usize::from(s).min(data.len()),
        };
        i += 1;
        let (piece, rest) = data.split_at(n);
        data = rest;
        Some(piece)
    })
}
