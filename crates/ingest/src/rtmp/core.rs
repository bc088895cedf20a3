//! One RTMP server connection, sans-IO: bytes from the peer in; bytes to send, media and
//! publish events out. No socket, no timer, no task: the tokio driver
//! ([`super::server`]) owns those, and the fuzz target `rtmp_chunks` drives this core
//! exactly as the server does.
//!
//! What it does, in order: the handshake (`rml_rtmp`'s, fixed-size), then chunks
//! ([`super::chunk::ChunkReader`], limits checked before anything is held), then messages:
//! protocol control, commands (`connect`, `releaseStream`, `FCPublish`, `createStream`,
//! `publish`, `FCUnpublish`, `deleteStream`, `closeStream`), data (`@setDataFrame`), and
//! audio/video, which [`TagDecoder`] turns into [`MediaEvent`]s. Every AMF message is
//! [`super::amf::prescan`]ned before it is decoded. The publish policy lives here: names are
//! split and checked, and the publish key is compared in constant time; the
//! [`CoreHandler`] (the recorder, through the driver) has the last word.
//!
//! Publisher quirks this answers (REFERENCE.md section 5): OBS sends `releaseStream`,
//! `FCPublish` and `createStream` without waiting, and reads the stream id (1 or more)
//! from the `createStream` result; some hardware encoders wait for `onFCPublish`;
//! GStreamer waits for `onStatus NetStream.Publish.Start`; a refusal is an `onStatus`
//! error followed by closing the connection (anything else leaves OBS hanging); Wirecast
//! stalls unless received bytes are acknowledged once the window is reached.

use std::net::SocketAddr;

use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use tapedeck_media::flv::amf0::Amf0Value;
use tapedeck_media::flv::tag::TagDecoder;
use tapedeck_media::MediaEvent;
use tracing::{debug, info, warn};

use super::amf::{self, Command};
use super::chunk::{
    csid, kind, ping_reply, Acks, ChunkError, ChunkReader, ChunkWriter, Message, ReadLimits,
};
use crate::names::{split_publish_name, validate_name};
use crate::publish::{PublishRequest, Refusal};
use tapedeck_media::flv::amf0::Amf0Error;

/// Our outbound chunk size (announced right after the handshake).
const CHUNK_SIZE: u32 = 4096;
/// The acknowledgement window we ask the peer to use, and the bandwidth we announce (the
/// values `rml_rtmp` used, which every publisher tested accepts).
const WINDOW_ACK_SIZE: u32 = 1_073_741_824;
const PEER_BANDWIDTH: u32 = 2_500_000;
/// Message streams one connection may create (a publisher needs one).
const MAX_STREAMS: usize = 8;

/// What a connection's publishes are checked against.
#[derive(Clone, Debug, Default)]
pub struct CoreOptions {
    /// Required `key` query argument on the stream name; empty = no key required.
    pub publish_key: String,
}

/// Where a connection's publishes and media go.
pub trait CoreHandler {
    /// A publisher asks for a stream whose names and key passed the checks. `Ok`: it is
    /// accepted and media follows.
    fn publish(&mut self, request: PublishRequest) -> Result<(), Refusal>;
    /// Media of the accepted publish, in order.
    fn media(&mut self, event: MediaEvent);
    /// The publish ended (`deleteStream`, `FCUnpublish`, `closeStream`).
    fn unpublish(&mut self);
}

/// Why a connection ends. Each is logged with the peer.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("handshake: {0}")]
    Handshake(String),
    #[error("protocol: {0}")]
    Chunk(#[from] ChunkError),
    #[error("protocol: {what}: {limit}")]
    Amf { what: String, limit: Amf0Error },
    #[error("protocol: {0}")]
    Protocol(String),
    #[error("publish of {stream} refused: {refusal}")]
    Refused { stream: String, refusal: Refusal },
}

struct Publishing {
    stream_id: u32,
    label: String,
    decoder: TagDecoder,
    unsupported_logged: bool,
}

/// One server connection (see the module documentation).
pub struct ServerCore {
    peer: SocketAddr,
    options: std::sync::Arc<CoreOptions>,
    handshake: Option<Handshake>,
    reader: ChunkReader,
    writer: ChunkWriter,
    out: Vec<u8>,
    acks: Acks,
    app: Option<String>,
    object_encoding: f64,
    next_stream_id: u32,
    streams: Vec<u32>,
    publishing: Option<Publishing>,
    supplied_logged: bool,
}

impl ServerCore {
    pub fn new(peer: SocketAddr, options: std::sync::Arc<CoreOptions>) -> ServerCore {
        ServerCore {
            peer,
            options,
            handshake: Some(Handshake::new(PeerType::Server)),
            reader: ChunkReader::new(ReadLimits::SETUP),
            writer: ChunkWriter::default(),
            out: Vec::new(),
            acks: Acks::default(),
            app: None,
            object_encoding: 0.0,
            next_stream_id: 1,
            streams: Vec::new(),
            publishing: None,
            supplied_logged: false,
        }
    }

    /// Bytes to send to the peer (taken: the next call returns only newer ones).
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    pub fn has_output(&self) -> bool {
        !self.out.is_empty()
    }

    /// The handshake is done.
    pub fn handshaken(&self) -> bool {
        self.handshake.is_none()
    }

    /// `app/stream` while a publish is active.
    pub fn publishing(&self) -> Option<&str> {
        self.publishing.as_ref().map(|p| p.label.as_str())
    }

    /// Every byte received so far.
    pub fn received(&self) -> u64 {
        self.acks.received()
    }

    /// Takes the next bytes from the peer. Replies accumulate for [`Self::take_output`]
    /// (also when an error follows: a refusal's `onStatus` must reach the peer before the
    /// connection closes).
    pub fn receive(
        &mut self,
        bytes: &[u8],
        handler: &mut dyn CoreHandler,
    ) -> Result<(), CoreError> {
        let Some(handshake) = self.handshake.as_mut() else {
            return self.session_bytes(bytes, handler);
        };
        match handshake.process_bytes(bytes) {
            Ok(HandshakeProcessResult::InProgress { response_bytes }) => {
                self.acks.handshake(bytes.len());
                self.out.extend_from_slice(&response_bytes);
                Ok(())
            }
            Ok(HandshakeProcessResult::Completed {
                response_bytes,
                remaining_bytes,
            }) => {
                self.acks
                    .handshake(bytes.len() - remaining_bytes.len().min(bytes.len()));
                self.out.extend_from_slice(&response_bytes);
                self.handshake = None;
                self.start_session();
                self.session_bytes(&remaining_bytes, handler)
            }
            Err(e) => Err(CoreError::Handshake(format!("{e:?}"))),
        }
    }

    /// What goes out once the handshake is done: our chunk size, the acknowledgement window,
    /// StreamBegin 0, the peer bandwidth, `onBWDone` (the order `rml_rtmp` used).
    fn start_session(&mut self) {
        self.writer.set_chunk_size(&mut self.out, CHUNK_SIZE);
        self.control(kind::WINDOW_ACK_SIZE, &WINDOW_ACK_SIZE.to_be_bytes());
        self.user_control(0, &0u32.to_be_bytes());
        let mut bw = PEER_BANDWIDTH.to_be_bytes().to_vec();
        bw.push(2); // dynamic
        self.control(kind::SET_PEER_BANDWIDTH, &bw);
        self.command(
            0,
            &[
                Amf0Value::String("onBWDone".into()),
                Amf0Value::Number(0.0),
                Amf0Value::Null,
                Amf0Value::Number(8192.0),
            ],
        );
    }

    /// Session bytes, acknowledged window by window ([`Acks`]).
    fn session_bytes(
        &mut self,
        mut bytes: &[u8],
        handler: &mut dyn CoreHandler,
    ) -> Result<(), CoreError> {
        while !bytes.is_empty() {
            let (mut now, later) = bytes.split_at(self.acks.until_due(bytes.len()));
            bytes = later;
            let ack = self.acks.count(now.len());
            while let Some(message) = self.reader.next(&mut now)? {
                self.message(message, handler)?;
            }
            if let Some(sequence) = ack {
                self.control(kind::ACKNOWLEDGEMENT, &sequence);
            }
        }
        if !self.supplied_logged && self.reader.supplied > 0 {
            self.supplied_logged = true;
            info!(
                peer = %self.peer,
                "the publisher leaves extended timestamps out of continuation chunks (older OBS): supplying them"
            );
        }
        Ok(())
    }

    fn message(&mut self, m: Message, handler: &mut dyn CoreHandler) -> Result<(), CoreError> {
        match m.type_id {
            kind::AUDIO | kind::VIDEO => self.media(m, handler),
            kind::COMMAND_AMF0 | kind::COMMAND_AMF3 => {
                let values = amf::decode(amf::body(m.type_id, &m.payload)).map_err(|limit| {
                    CoreError::Amf {
                        what: command_label(m.type_id, &m.payload),
                        limit,
                    }
                })?;
                match Command::from_values(values) {
                    Some(c) => self.command_received(m.stream_id, c, handler)?,
                    None => debug!(peer = %self.peer, "ignoring a command message without a name"),
                }
            }
            kind::DATA_AMF0 | kind::DATA_AMF3 => {
                // `@setDataFrame onMetaData`: checked like any AMF, then not needed (the codec
                // comes from the sequence headers, never from metadata).
                amf::decode(amf::body(m.type_id, &m.payload)).map_err(|limit| CoreError::Amf {
                    what: "a data message".into(),
                    limit,
                })?;
            }
            kind::SHARED_OBJECT_AMF0 | kind::SHARED_OBJECT_AMF3 | kind::AGGREGATE => {
                debug!(peer = %self.peer, type_id = m.type_id, "ignoring RTMP message");
            }
            kind::WINDOW_ACK_SIZE => self.acks.set_window(&m.payload),
            kind::USER_CONTROL => {
                if let Some(reply) = ping_reply(&m) {
                    self.control(kind::USER_CONTROL, &reply);
                }
            }
            // Set Chunk Size and Abort were applied by the reader; acknowledgements and peer
            // bandwidth need no answer.
            _ => {}
        }
        Ok(())
    }

    fn media(&mut self, m: Message, handler: &mut dyn CoreHandler) {
        let Some(p) = self.publishing.as_mut() else {
            return;
        };
        if m.stream_id != p.stream_id {
            return;
        }
        let mut events = Vec::new();
        let result = if m.type_id == kind::VIDEO {
            p.decoder.video(m.timestamp, m.payload, &mut events)
        } else {
            p.decoder.audio(m.timestamp, m.payload, &mut events)
        };
        if let Err(e) = result {
            if !e.is_unsupported() {
                warn!(peer = %self.peer, stream = %p.label, "skipping a bad packet: {e}");
            } else if !p.unsupported_logged {
                p.unsupported_logged = true;
                warn!(peer = %self.peer, stream = %p.label, "not recording a track: {e}");
            }
        }
        for ev in events {
            handler.media(ev);
        }
    }

    fn command_received(
        &mut self,
        stream_id: u32,
        c: Command,
        handler: &mut dyn CoreHandler,
    ) -> Result<(), CoreError> {
        match c.name.as_str() {
            "connect" => {
                let app = c
                    .object
                    .get("app")
                    .and_then(Amf0Value::as_str)
                    .ok_or_else(|| CoreError::Protocol("connect without an app name".into()))?;
                let app = app.strip_suffix('/').unwrap_or(app).to_string();
                self.object_encoding = c
                    .object
                    .get("objectEncoding")
                    .and_then(Amf0Value::as_f64)
                    .unwrap_or(0.0);
                let mut info = amf::status(
                    "status",
                    "NetConnection.Connect.Success",
                    "Connection succeeded.",
                );
                info.push((
                    "objectEncoding".into(),
                    Amf0Value::Number(self.object_encoding),
                ));
                self.app = Some(app);
                self.command(
                    0,
                    &[
                        Amf0Value::String("_result".into()),
                        Amf0Value::Number(c.transaction),
                        Amf0Value::Object(vec![
                            ("fmsVer".into(), Amf0Value::String("FMS/3,0,1,1233".into())),
                            ("capabilities".into(), Amf0Value::Number(31.0)),
                        ]),
                        Amf0Value::Object(info),
                    ],
                );
            }
            "releaseStream" => self.result(c.transaction, Amf0Value::Undefined),
            "FCPublish" => {
                self.result(c.transaction, Amf0Value::Undefined);
                let name = c.string_arg(0).unwrap_or_default().to_string();
                // Some hardware encoders wait for this before publishing.
                self.command(
                    0,
                    &[
                        Amf0Value::String("onFCPublish".into()),
                        Amf0Value::Number(0.0),
                        Amf0Value::Null,
                        Amf0Value::Object(amf::status("status", "NetStream.Publish.Start", &name)),
                    ],
                );
            }
            "createStream" => {
                if self.streams.len() >= MAX_STREAMS {
                    return Err(CoreError::Protocol(format!(
                        "more than {MAX_STREAMS} createStream on one connection"
                    )));
                }
                let id = self.next_stream_id;
                self.next_stream_id += 1;
                self.streams.push(id);
                // On stream 0, for Flash clients; the id is 1 or more (0 breaks OBS).
                self.result(c.transaction, Amf0Value::Number(f64::from(id)));
            }
            "publish" => self.publish(stream_id, &c, handler)?,
            "FCUnpublish" | "deleteStream" | "closeStream" => {
                // deleteStream names the stream by number (GStreamer: by name); whichever
                // it is, a publish on this connection has ended.
                if let Some(p) = self.publishing.take() {
                    info!(peer = %self.peer, stream = %p.label, "publisher finished");
                    self.reader.set_limits(ReadLimits::SETUP);
                    handler.unpublish();
                }
                if c.name == "deleteStream" {
                    let id = c.args.first().and_then(Amf0Value::as_f64).unwrap_or(-1.0);
                    self.streams.retain(|s| f64::from(*s) != id);
                }
            }
            other => debug!(peer = %self.peer, command = %other, "ignoring RTMP command"),
        }
        Ok(())
    }

    fn publish(
        &mut self,
        stream_id: u32,
        c: &Command,
        handler: &mut dyn CoreHandler,
    ) -> Result<(), CoreError> {
        let Some(app) = self.app.clone() else {
            return Err(CoreError::Protocol("publish before connect".into()));
        };
        if !self.streams.contains(&stream_id) {
            return Err(CoreError::Protocol(format!(
                "publish on message stream {stream_id}, which createStream did not give"
            )));
        }
        if self.publishing.is_some() {
            return Err(CoreError::Protocol(
                "a second publish on a connection that is publishing".into(),
            ));
        }
        let key = c.string_arg(0).unwrap_or_default();
        let name = split_publish_name(&app, key);
        // Named without the query: it may hold the publish key.
        let label = format!("{}/{}", name.app, name.stream);
        let checked = validate_name("AppName", &name.app)
            .and_then(|()| validate_name("StreamName", &name.stream))
            .map_err(Refusal::BadName)
            .and_then(|()| {
                if key_matches(&self.options.publish_key, name.arg("key")) {
                    Ok(())
                } else {
                    Err(Refusal::Unauthorized)
                }
            })
            .and_then(|()| {
                handler.publish(PublishRequest {
                    app: name.app.clone(),
                    stream: name.stream.clone(),
                    // The key is a secret: it never travels further than this check.
                    args: name
                        .args
                        .iter()
                        .filter(|(k, _)| k != "key")
                        .cloned()
                        .collect(),
                    origin: format!("rtmp {}", self.peer),
                })
            });
        match checked {
            Ok(()) => {
                info!(peer = %self.peer, stream = %label, "publisher started");
                self.publishing = Some(Publishing {
                    stream_id,
                    label: label.clone(),
                    decoder: TagDecoder::new(),
                    unsupported_logged: false,
                });
                self.reader.set_limits(ReadLimits::MEDIA);
                self.user_control(0, &stream_id.to_be_bytes());
                self.on_status(
                    stream_id,
                    "status",
                    "NetStream.Publish.Start",
                    &format!("{label} is now published."),
                );
                Ok(())
            }
            Err(refusal) => {
                // OBS only shows an error (instead of hanging) when it gets one of these
                // codes and the connection then closes.
                let code = match refusal {
                    Refusal::BadName(_) => "NetStream.Publish.BadName",
                    Refusal::Unauthorized => "NetStream.Publish.Denied",
                    Refusal::Rejected(_) => "NetStream.Publish.Rejected",
                };
                self.on_status(stream_id, "error", code, &refusal.to_string());
                Err(CoreError::Refused {
                    stream: label,
                    refusal,
                })
            }
        }
    }

    fn on_status(&mut self, stream_id: u32, level: &str, code: &str, description: &str) {
        self.command(
            stream_id,
            &[
                Amf0Value::String("onStatus".into()),
                Amf0Value::Number(0.0),
                Amf0Value::Null,
                Amf0Value::Object(amf::status(level, code, description)),
            ],
        );
    }

    fn result(&mut self, transaction: f64, value: Amf0Value) {
        self.command(
            0,
            &[
                Amf0Value::String("_result".into()),
                Amf0Value::Number(transaction),
                Amf0Value::Null,
                value,
            ],
        );
    }

    fn command(&mut self, stream_id: u32, values: &[Amf0Value]) {
        let body = amf::encode(values);
        self.writer.write(
            &mut self.out,
            csid::COMMAND,
            kind::COMMAND_AMF0,
            stream_id,
            0,
            &body,
        );
    }

    fn control(&mut self, type_id: u8, payload: &[u8]) {
        self.writer
            .write(&mut self.out, csid::CONTROL, type_id, 0, 0, payload);
    }

    /// A user control event (RTMP 1.0, 6.2): 0 StreamBegin; the event data follows.
    fn user_control(&mut self, event: u16, data: &[u8]) {
        let mut payload = event.to_be_bytes().to_vec();
        payload.extend_from_slice(data);
        self.control(kind::USER_CONTROL, &payload);
    }
}

/// The publish key check: no key configured lets everyone in; otherwise the `key` argument
/// must equal it, compared in constant time (no timing tells how much of a guess was right).
pub fn key_matches(expected: &str, given: Option<&str>) -> bool {
    use subtle::ConstantTimeEq;
    if expected.is_empty() {
        return true;
    }
    let given = given.unwrap_or_default();
    bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// `a connect command` / `a FCPublish command`... for a log line about a refused message:
/// the name is read without decoding the rest.
fn command_label(type_id: u8, payload: &[u8]) -> String {
    let body = amf::body(type_id, payload);
    let name = (body.first() == Some(&0x02))
        .then(|| {
            let len = usize::from(u16::from_be_bytes([*body.get(1)?, *body.get(2)?]));
            body.get(3..3 + len)
        })
        .flatten()
        .map(|n| String::from_utf8_lossy(n).into_owned());
    match name {
        Some(n) => format!("a {n:.40} command"),
        None => "a command".into(),
    }
}

#[cfg(test)]
mod tests {
    use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};

    use super::*;

    #[derive(Default)]
    struct Record {
        published: Vec<PublishRequest>,
        media: Vec<MediaEvent>,
        unpublished: usize,
        refuse: Option<Refusal>,
    }

    impl CoreHandler for Record {
        fn publish(&mut self, request: PublishRequest) -> Result<(), Refusal> {
            self.published.push(request);
            self.refuse.clone().map_or(Ok(()), Err)
        }
        fn media(&mut self, event: MediaEvent) {
            self.media.push(event);
        }
        fn unpublish(&mut self) {
            self.unpublished += 1;
        }
    }

    fn peer() -> SocketAddr {
        "192.0.2.1:4000".parse().unwrap()
    }

    /// A core past the handshake (done with rml_rtmp's client in memory).
    fn handshaken(key: &str) -> ServerCore {
        let mut core = ServerCore::new(
            peer(),
            std::sync::Arc::new(CoreOptions {
                publish_key: key.into(),
            }),
        );
        let mut client = Handshake::new(PeerType::Client);
        let mut to_server = client.generate_outbound_p0_and_p1().unwrap();
        let mut h = Record::default();
        loop {
            core.receive(&to_server, &mut h).unwrap();
            if core.handshaken() {
                break;
            }
            let from_server = core.take_output();
            to_server = match client.process_bytes(&from_server).unwrap() {
                HandshakeProcessResult::InProgress { response_bytes } => response_bytes,
                HandshakeProcessResult::Completed { response_bytes, .. } => response_bytes,
            };
        }
        core.take_output();
        core
    }

    fn command(values: &[Amf0Value]) -> Vec<u8> {
        let mut out = Vec::new();
        ChunkWriter::default().write(
            &mut out,
            csid::COMMAND,
            kind::COMMAND_AMF0,
            0,
            0,
            &amf::encode(values),
        );
        out
    }

    fn s(v: &str) -> Amf0Value {
        Amf0Value::String(v.into())
    }

    /// connect, createStream, publish `name`: what OBS sends.
    fn publish_bytes(name: &str) -> Vec<u8> {
        let mut b = command(&[
            s("connect"),
            Amf0Value::Number(1.0),
            Amf0Value::Object(vec![("app".into(), s("live"))]),
        ]);
        b.extend(command(&[
            s("createStream"),
            Amf0Value::Number(2.0),
            Amf0Value::Null,
        ]));
        let mut p = Vec::new();
        ChunkWriter::default().write(
            &mut p,
            8,
            kind::COMMAND_AMF0,
            1,
            0,
            &amf::encode(&[
                s("publish"),
                Amf0Value::Number(3.0),
                Amf0Value::Null,
                s(name),
                s("live"),
            ]),
        );
        b.extend(p);
        b
    }

    #[test]
    fn a_publish_is_checked_then_accepted() {
        let mut core = handshaken("");
        let mut h = Record::default();
        core.receive(&publish_bytes("cam?callback_id=7"), &mut h)
            .unwrap();
        assert_eq!(h.published.len(), 1);
        assert_eq!(h.published[0].app, "live");
        assert_eq!(h.published[0].stream, "cam");
        assert_eq!(
            h.published[0].args,
            vec![("callback_id".into(), "7".into())]
        );
        assert_eq!(core.publishing(), Some("live/cam"));
        let out = core.take_output();
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("NetStream.Publish.Start"), "{text}");
    }

    #[test]
    fn a_wrong_key_is_refused_with_an_on_status_and_never_reaches_the_handler() {
        let mut core = handshaken("s3cret");
        let mut h = Record::default();
        let e = core
            .receive(&publish_bytes("cam?key=guess"), &mut h)
            .unwrap_err();
        assert!(matches!(
            e,
            CoreError::Refused {
                refusal: Refusal::Unauthorized,
                ..
            }
        ));
        assert!(h.published.is_empty());
        let text = String::from_utf8_lossy(&core.take_output()).into_owned();
        assert!(text.contains("NetStream.Publish.Denied"), "{text}");
        assert!(
            !e.to_string().contains("guess"),
            "the key is not logged: {e}"
        );
        let mut core = handshaken("s3cret");
        core.receive(&publish_bytes("cam?key=s3cret"), &mut h)
            .unwrap();
        assert_eq!(h.published.len(), 1);
        assert!(h.published[0].args.is_empty(), "the key goes no further");
    }

    #[test]
    fn keys_compare_in_full() {
        assert!(key_matches("", None));
        assert!(key_matches("abc", Some("abc")));
        assert!(!key_matches("abc", Some("abcd")));
        assert!(!key_matches("abc", Some("ab")));
        assert!(!key_matches("abc", None));
    }

    #[test]
    fn nested_metadata_after_a_publish_ends_the_connection() {
        let mut core = handshaken("");
        let mut h = Record::default();
        core.receive(&publish_bytes("cam"), &mut h).unwrap();
        let mut body = amf::encode(&[s("@setDataFrame"), s("onMetaData")]);
        for _ in 0..8000 {
            body.extend_from_slice(&[0x08, 0, 0, 0, 1, 0, 1, b'a']);
        }
        body.push(0x05);
        for _ in 0..8000 {
            body.extend_from_slice(&[0, 0, 0x09]);
        }
        let mut bytes = Vec::new();
        ChunkWriter::default().write(&mut bytes, 4, kind::DATA_AMF0, 1, 0, &body);
        let e = core.receive(&bytes, &mut h).unwrap_err();
        assert!(
            matches!(
                e,
                CoreError::Amf {
                    limit: Amf0Error::TooDeep { .. },
                    ..
                }
            ),
            "{e}"
        );
    }
}
