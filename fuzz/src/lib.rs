//! Pieces shared by the fuzz targets and the seed generator (`examples/seeds.rs`).
//!
//! The RTMP targets drive `tapedeck-ingest`'s sans-IO cores, the very code the server and
//! the RTMP pull run (`rtmp::core::ServerCore`, `rtmp::client::ClientCore`): a
//! `ServerDriver` accepts every publish the way the recorder would and collects the media.

#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ClientSession, ClientSessionConfig, ClientSessionEvent, ClientSessionResult, PublishRequestType,
};
use rml_rtmp::time::RtmpTimestamp;
use tapedeck_ingest::rtmp::core::{CoreHandler, CoreOptions, ServerCore};
use tapedeck_ingest::{PublishRequest, Refusal};
use tapedeck_media::flv::tag::normalize_nal_lengths;
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

/// What the recorder would do with a connection's publishes: accept, and keep the media.
#[derive(Default)]
pub struct Accept {
    pub published: usize,
    pub events: Vec<MediaEvent>,
}

impl CoreHandler for Accept {
    fn publish(&mut self, _request: PublishRequest) -> Result<(), Refusal> {
        self.published += 1;
        Ok(())
    }
    fn media(&mut self, event: MediaEvent) {
        self.events.push(event);
    }
    fn unpublish(&mut self) {}
}

/// A server connection core, as the ingest server runs one per TCP connection.
pub struct ServerDriver {
    pub core: ServerCore,
    pub handler: Accept,
}

impl ServerDriver {
    /// A fresh connection: the next bytes are the client's handshake.
    pub fn fresh() -> Self {
        let peer: SocketAddr = ([192, 0, 2, 1], 4000).into();
        ServerDriver {
            core: ServerCore::new(peer, Arc::new(CoreOptions::default())),
            handler: Accept::default(),
        }
    }

    /// A connection past a real handshake (rml_rtmp's client, in memory): the next bytes
    /// are chunks. What the server sent unprompted after it is in `initial`.
    pub fn handshaken() -> Option<(Self, Vec<u8>)> {
        let mut d = ServerDriver::fresh();
        let mut client = Handshake::new(PeerType::Client);
        let mut to_server = client.generate_outbound_p0_and_p1().ok()?;
        for _ in 0..4 {
            let from_server = d.input(&to_server).ok()?;
            if d.core.handshaken() {
                return Some((d, from_server));
            }
            to_server = match client.process_bytes(&from_server).ok()? {
                HandshakeProcessResult::InProgress { response_bytes } => response_bytes,
                HandshakeProcessResult::Completed { response_bytes, .. } => response_bytes,
            };
        }
        None
    }

    /// Feeds bytes; returns what the server sends back, or `Err` when the connection ends
    /// (the server then closes it).
    pub fn input(&mut self, bytes: &[u8]) -> Result<Vec<u8>, String> {
        let r = self.core.receive(bytes, &mut self.handler);
        let out = self.core.take_output();
        r.map(|()| out).map_err(|e| e.to_string())
    }
}

/// A client that has connected to `live` and been accepted to publish `live/fuzz`, and
/// every byte it sent after the handshake to get there.
pub struct Publisher {
    pub client: ClientSession,
    pub sent: Vec<u8>,
}

impl Publisher {
    /// Plays `connect`, `createStream` and `publish` against an in-memory server core.
    pub fn new() -> Result<Publisher, String> {
        let err = |e: &dyn std::fmt::Debug| format!("{e:?}");
        let (mut client, _) =
            ClientSession::new(ClientSessionConfig::new()).map_err(|e| err(&e))?;
        let (mut server, initial) = ServerDriver::handshaken().ok_or("in-memory handshake")?;
        let mut sent = Vec::new();
        let mut to_server =
            packet_bytes(client.request_connection(APP.into()).map_err(|e| err(&e))?);
        let mut requested_publish = false;
        let mut reply = initial;
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
