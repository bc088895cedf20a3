//! One RTMP client connection that plays a stream, sans-IO: what a remote server sends in;
//! what to send back and the media out. The pull driver (`pull::rtmp`) owns the socket.
//!
//! A remote server is as untrusted as a publisher: its bytes go through the same limited
//! chunk reader and AMF pre-scan as the server's ([`super::core`]).
//!
//! The exchange (what ffmpeg's client does): handshake, `connect`, `createStream` on its
//! `_result`, `play` on the stream id it answers, then media until the server says the
//! stream stopped (`NetStream.Play.UnpublishNotify`, `Stop`, `StreamNotFound`: nginx-rtmp
//! and SRS keep a player connected when its publisher leaves).

use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use tapedeck_media::flv::amf0::Amf0Value;
use tapedeck_media::flv::tag::TagDecoder;
use tapedeck_media::MediaEvent;

use super::amf::{self, Command};
use super::chunk::{
    csid, kind, ping_reply, Acks, ChunkError, ChunkReader, ChunkWriter, Message, ReadLimits,
};
use tapedeck_media::flv::amf0::Amf0Error;

const CONNECT: f64 = 1.0;
const CREATE_STREAM: f64 = 2.0;
/// How much the server may buffer for us, in milliseconds (SetBufferLength).
const BUFFER_MS: u32 = 3000;

/// Why the connection cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("handshake: {0}")]
    Handshake(String),
    #[error("protocol: {0}")]
    Chunk(#[from] ChunkError),
    #[error("protocol: {what}: {limit}")]
    Amf { what: String, limit: Amf0Error },
    #[error("the server refused {what}: {description}")]
    Refused { what: String, description: String },
}

/// A playing client (see the module documentation).
pub struct ClientCore {
    app: String,
    stream: String,
    tc_url: String,
    handshake: Option<Handshake>,
    reader: ChunkReader,
    writer: ChunkWriter,
    out: Vec<u8>,
    acks: Acks,
    stream_id: Option<u32>,
    decoder: TagDecoder,
    playing: bool,
    stopped: Option<String>,
    /// Media that could not be decoded, for the driver's log.
    pub bad_packets: Vec<String>,
}

impl ClientCore {
    /// A client for `stream` of `app` at `tc_url` (`rtmp://host:port/app`). Its first bytes
    /// (C0 and C1) are ready in the output.
    pub fn new(app: &str, stream: &str, tc_url: &str) -> Result<ClientCore, ClientError> {
        let mut handshake = Handshake::new(PeerType::Client);
        let first = handshake
            .generate_outbound_p0_and_p1()
            .map_err(|e| ClientError::Handshake(format!("{e:?}")))?;
        Ok(ClientCore {
            app: app.to_string(),
            stream: stream.to_string(),
            tc_url: tc_url.to_string(),
            handshake: Some(handshake),
            reader: ChunkReader::new(ReadLimits::MEDIA),
            writer: ChunkWriter::default(),
            out: first,
            acks: Acks::default(),
            stream_id: None,
            decoder: TagDecoder::new(),
            playing: false,
            stopped: None,
            bad_packets: Vec::new(),
        })
    }

    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// The server accepted `play` (`NetStream.Play.Start`).
    pub fn playing(&self) -> bool {
        self.playing
    }

    /// The server said the stream stopped: the status code it gave.
    pub fn stopped(&self) -> Option<&str> {
        self.stopped.as_deref()
    }

    /// Takes bytes from the server; media is appended to `media`.
    pub fn receive(
        &mut self,
        bytes: &[u8],
        media: &mut Vec<MediaEvent>,
    ) -> Result<(), ClientError> {
        let mut bytes = bytes;
        let remaining;
        if let Some(handshake) = self.handshake.as_mut() {
            match handshake
                .process_bytes(bytes)
                .map_err(|e| ClientError::Handshake(format!("{e:?}")))?
            {
                HandshakeProcessResult::InProgress { response_bytes } => {
                    self.acks.handshake(bytes.len());
                    self.out.extend_from_slice(&response_bytes);
                    return Ok(());
                }
                HandshakeProcessResult::Completed {
                    response_bytes,
                    remaining_bytes,
                } => {
                    self.acks
                        .handshake(bytes.len() - remaining_bytes.len().min(bytes.len()));
                    self.out.extend_from_slice(&response_bytes);
                    self.handshake = None;
                    self.connect();
                    remaining = remaining_bytes;
                    bytes = &remaining;
                }
            }
        }
        while !bytes.is_empty() {
            let (mut now, later) = bytes.split_at(self.acks.until_due(bytes.len()));
            bytes = later;
            let ack = self.acks.count(now.len());
            while let Some(m) = self.reader.next(&mut now)? {
                self.message(m, media)?;
            }
            if let Some(sequence) = ack {
                self.control(kind::ACKNOWLEDGEMENT, &sequence);
            }
        }
        Ok(())
    }

    fn connect(&mut self) {
        self.writer.set_chunk_size(&mut self.out, 4096);
        let object = Amf0Value::Object(vec![
            ("app".into(), Amf0Value::String(self.app.clone())),
            ("flashVer".into(), Amf0Value::String("LNX 9,0,124,2".into())),
            ("tcUrl".into(), Amf0Value::String(self.tc_url.clone())),
            ("fpad".into(), Amf0Value::Boolean(false)),
            ("capabilities".into(), Amf0Value::Number(15.0)),
            ("audioCodecs".into(), Amf0Value::Number(4071.0)),
            ("videoCodecs".into(), Amf0Value::Number(252.0)),
            ("videoFunction".into(), Amf0Value::Number(1.0)),
        ]);
        self.command(0, "connect", CONNECT, object, &[]);
    }

    fn message(&mut self, m: Message, media: &mut Vec<MediaEvent>) -> Result<(), ClientError> {
        match m.type_id {
            kind::AUDIO | kind::VIDEO => {
                if Some(m.stream_id) != self.stream_id {
                    return Ok(());
                }
                let result = if m.type_id == kind::VIDEO {
                    self.decoder.video(m.timestamp, m.payload, media)
                } else {
                    self.decoder.audio(m.timestamp, m.payload, media)
                };
                if let Err(e) = result {
                    if self.bad_packets.len() < 16 {
                        self.bad_packets.push(e.to_string());
                    }
                }
            }
            kind::COMMAND_AMF0 | kind::COMMAND_AMF3 => {
                let values = amf::decode(amf::body(m.type_id, &m.payload)).map_err(|limit| {
                    ClientError::Amf {
                        what: "a command".into(),
                        limit,
                    }
                })?;
                if let Some(c) = Command::from_values(values) {
                    self.command_received(&c)?;
                }
            }
            kind::DATA_AMF0 | kind::DATA_AMF3 => {
                amf::decode(amf::body(m.type_id, &m.payload)).map_err(|limit| {
                    ClientError::Amf {
                        what: "a data message".into(),
                        limit,
                    }
                })?;
            }
            kind::WINDOW_ACK_SIZE => self.acks.set_window(&m.payload),
            kind::USER_CONTROL => {
                if let Some(reply) = ping_reply(&m) {
                    self.control(kind::USER_CONTROL, &reply);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn command_received(&mut self, c: &Command) -> Result<(), ClientError> {
        let info = |c: &Command| {
            c.args
                .first()
                .map(|o| {
                    let code = o.get("code").and_then(Amf0Value::as_str).unwrap_or("");
                    let description = o
                        .get("description")
                        .and_then(Amf0Value::as_str)
                        .unwrap_or("");
                    (code.to_string(), description.to_string())
                })
                .unwrap_or_default()
        };
        match c.name.as_str() {
            "_result" if c.transaction == CONNECT => {
                self.command(0, "createStream", CREATE_STREAM, Amf0Value::Null, &[]);
            }
            "_result" if c.transaction == CREATE_STREAM && self.stream_id.is_none() => {
                let id = c.args.first().and_then(Amf0Value::as_f64).unwrap_or(1.0);
                let id = if (1.0..=f64::from(u32::MAX)).contains(&id) {
                    id as u32
                } else {
                    1
                };
                self.stream_id = Some(id);
                let stream = self.stream.clone();
                self.command(
                    id,
                    "play",
                    0.0,
                    Amf0Value::Null,
                    &[Amf0Value::String(stream), Amf0Value::Number(-2000.0)],
                );
                // SetBufferLength (3): stream id, milliseconds.
                let mut payload = vec![0, 3];
                payload.extend_from_slice(&id.to_be_bytes());
                payload.extend_from_slice(&BUFFER_MS.to_be_bytes());
                self.control(kind::USER_CONTROL, &payload);
            }
            "_error" => {
                let what = if c.transaction == CONNECT {
                    "connect"
                } else {
                    "createStream"
                };
                let (code, description) = info(c);
                return Err(ClientError::Refused {
                    what: what.into(),
                    description: format!("{code} {description}").trim().to_string(),
                });
            }
            "onStatus" => {
                let (code, description) = info(c);
                match code.as_str() {
                    "NetStream.Play.Start" => self.playing = true,
                    "NetStream.Play.UnpublishNotify" | "NetStream.Play.Stop" => {
                        self.stopped = Some(code)
                    }
                    "NetStream.Play.StreamNotFound" | "NetStream.Play.Failed" if !self.playing => {
                        return Err(ClientError::Refused {
                            what: format!("play {}", self.stream),
                            description: format!("{code} {description}").trim().to_string(),
                        });
                    }
                    "NetStream.Play.StreamNotFound" | "NetStream.Play.Failed" => {
                        self.stopped = Some(code)
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn command(
        &mut self,
        stream_id: u32,
        name: &str,
        transaction: f64,
        object: Amf0Value,
        args: &[Amf0Value],
    ) {
        let mut values = vec![
            Amf0Value::String(name.into()),
            Amf0Value::Number(transaction),
            object,
        ];
        values.extend_from_slice(args);
        let body = amf::encode(&values);
        let csid = if stream_id == 0 { csid::COMMAND } else { 8 };
        self.writer
            .write(&mut self.out, csid, kind::COMMAND_AMF0, stream_id, 0, &body);
    }

    fn control(&mut self, type_id: u8, payload: &[u8]) {
        self.writer
            .write(&mut self.out, csid::CONTROL, type_id, 0, 0, payload);
    }
}
