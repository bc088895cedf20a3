//! The RTMP server: one tokio task per connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ServerSession, ServerSessionConfig, ServerSessionEvent, ServerSessionResult,
};
use tapedeck_media::flv::tag::TagDecoder;
use tapedeck_media::MediaEvent;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::raw;
use crate::names::{split_publish_name, validate_name};
use crate::publish::{Publication, PublishRequest, PublishSink, Refusal};

/// Settings of the RTMP server.
#[derive(Clone, Debug)]
pub struct RtmpServerOptions {
    /// Required `key` query parameter on the stream name; empty = no key required.
    pub publish_key: String,
    /// A publisher that sends no bytes for this long is dropped. OBS sends no acks or
    /// pings while live, so silence is the only reliable sign of a dead publisher.
    pub idle_timeout: Duration,
    /// A connection that has not finished the handshake and `publish` by then is closed.
    pub setup_timeout: Duration,
}

impl Default for RtmpServerOptions {
    fn default() -> Self {
        RtmpServerOptions {
            publish_key: String::new(),
            idle_timeout: Duration::from_secs(15),
            setup_timeout: Duration::from_secs(20),
        }
    }
}

/// A bound RTMP listener.
pub struct RtmpServer {
    listener: TcpListener,
    options: Arc<RtmpServerOptions>,
    sink: Arc<dyn PublishSink>,
}

impl RtmpServer {
    pub async fn bind(
        addr: &str,
        options: RtmpServerOptions,
        sink: Arc<dyn PublishSink>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        Ok(RtmpServer {
            listener,
            options: Arc::new(options),
            sink,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections until `shutdown` is cancelled. Each connection runs in its own
    /// task, so a malformed stream (or a bug it triggers) ends only that connection.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            let accepted = tokio::select! {
                _ = shutdown.cancelled() => return,
                a = self.listener.accept() => a,
            };
            match accepted {
                Ok((socket, peer)) => {
                    let conn = Connection::new(
                        peer,
                        self.options.clone(),
                        self.sink.clone(),
                        shutdown.child_token(),
                    );
                    tokio::spawn(async move {
                        match conn.run(socket).await {
                            // Port probes and health checks connect and leave at once.
                            Err(ConnError::NoHandshake) => {
                                debug!(%peer, "connection closed before the RTMP handshake")
                            }
                            Ok(reason) => info!(%peer, "RTMP connection closed: {reason}"),
                            Err(e) => warn!(%peer, "RTMP connection dropped: {e}"),
                        }
                    });
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    warn!("RTMP accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum ConnError {
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("closed before the handshake")]
    NoHandshake,
    #[error("handshake: {0:?}")]
    Handshake(rml_rtmp::handshake::HandshakeError),
    #[error("protocol: {0:?}")]
    Session(rml_rtmp::sessions::ServerSessionError),
    #[error("no data for {0:?}")]
    Idle(Duration),
    #[error("not publishing after {0:?}")]
    SetupTimeout(Duration),
    #[error("publish of {stream} refused: {refusal}")]
    Refused { stream: String, refusal: Refusal },
}

struct Active {
    publication: Publication,
    decoder: TagDecoder,
    label: String,
    unsupported_logged: bool,
}

struct Connection {
    peer: SocketAddr,
    options: Arc<RtmpServerOptions>,
    sink: Arc<dyn PublishSink>,
    shutdown: CancellationToken,
    app: String,
    active: Option<Active>,
    events: Vec<MediaEvent>,
}

impl Connection {
    fn new(
        peer: SocketAddr,
        options: Arc<RtmpServerOptions>,
        sink: Arc<dyn PublishSink>,
        shutdown: CancellationToken,
    ) -> Self {
        Connection {
            peer,
            options,
            sink,
            shutdown,
            app: String::new(),
            active: None,
            events: Vec::new(),
        }
    }

    async fn run(mut self, mut socket: TcpStream) -> Result<String, ConnError> {
        socket.set_nodelay(true)?;
        let setup = self.options.setup_timeout;
        let (mut session, leftover) =
            match tokio::time::timeout(setup, self.handshake(&mut socket)).await {
                Ok(r) => r?,
                Err(_) => return Err(ConnError::SetupTimeout(setup)),
            };
        let started = tokio::time::Instant::now();
        let mut buf = vec![0u8; 64 * 1024];
        let mut pending = leftover;
        loop {
            if !pending.is_empty() {
                let results = session.handle_input(&pending).map_err(ConnError::Session)?;
                pending.clear();
                if let Some(reason) = self
                    .handle_results(&mut session, &mut socket, results)
                    .await?
                {
                    return Ok(reason);
                }
            }
            if self.active.is_none() && started.elapsed() > setup {
                return Err(ConnError::SetupTimeout(setup));
            }
            let cancel = self
                .active
                .as_ref()
                .map(|a| a.publication.cancel.clone())
                .unwrap_or_default();
            let idle = self.options.idle_timeout;
            let n = tokio::select! {
                _ = self.shutdown.cancelled() => return Ok("server shutting down".into()),
                _ = cancel.cancelled() => return Ok("a new publisher took over this stream".into()),
                r = tokio::time::timeout(idle, socket.read(&mut buf)) => match r {
                    Err(_) => return Err(ConnError::Idle(idle)),
                    Ok(r) => r?,
                },
            };
            if n == 0 {
                return Ok(match &self.active {
                    Some(a) => format!("publisher of {} disconnected", a.label),
                    None => "peer closed the connection".into(),
                });
            }
            pending.extend_from_slice(&buf[..n]);
        }
    }

    async fn handshake(
        &self,
        socket: &mut TcpStream,
    ) -> Result<(ServerSession, Vec<u8>), ConnError> {
        let mut handshake = Handshake::new(PeerType::Server);
        let mut buf = vec![0u8; 4096];
        let mut first = true;
        let leftover = loop {
            let n = socket.read(&mut buf).await?;
            if n == 0 {
                return Err(if first {
                    ConnError::NoHandshake
                } else {
                    ConnError::Io(std::io::ErrorKind::UnexpectedEof.into())
                });
            }
            first = false;
            match handshake
                .process_bytes(&buf[..n])
                .map_err(ConnError::Handshake)?
            {
                HandshakeProcessResult::InProgress { response_bytes } => {
                    socket.write_all(&response_bytes).await?
                }
                HandshakeProcessResult::Completed {
                    response_bytes,
                    remaining_bytes,
                } => {
                    socket.write_all(&response_bytes).await?;
                    break remaining_bytes;
                }
            }
        };
        let mut config = ServerSessionConfig::new();
        config.chunk_size = 4096;
        let (session, initial) = ServerSession::new(config).map_err(ConnError::Session)?;
        for r in initial {
            if let ServerSessionResult::OutboundResponse(p) = r {
                socket.write_all(&p.bytes).await?;
            }
        }
        Ok((session, leftover))
    }

    /// Answers what the session produced; `Some(reason)` ends the connection normally.
    async fn handle_results(
        &mut self,
        session: &mut ServerSession,
        socket: &mut TcpStream,
        results: Vec<ServerSessionResult>,
    ) -> Result<Option<String>, ConnError> {
        let mut queue = std::collections::VecDeque::from(results);
        while let Some(result) = queue.pop_front() {
            match result {
                ServerSessionResult::OutboundResponse(p) => socket.write_all(&p.bytes).await?,
                ServerSessionResult::UnhandleableMessageReceived(p) => {
                    debug!(peer = %self.peer, type_id = p.type_id, "ignoring RTMP message");
                }
                ServerSessionResult::RaisedEvent(ev) => {
                    let more = self.handle_event(session, socket, ev).await?;
                    if let Some(more) = more {
                        queue.extend(more);
                    }
                    if self
                        .active
                        .as_ref()
                        .is_some_and(|a| a.publication.media.is_closed())
                    {
                        return Ok(Some("the recorder ended this stream".into()));
                    }
                }
            }
        }
        self.flush_events().await;
        Ok(None)
    }

    async fn handle_event(
        &mut self,
        session: &mut ServerSession,
        socket: &mut TcpStream,
        event: ServerSessionEvent,
    ) -> Result<Option<Vec<ServerSessionResult>>, ConnError> {
        match event {
            ServerSessionEvent::ConnectionRequested {
                request_id,
                app_name,
            } => {
                self.app = app_name;
                Ok(Some(
                    session
                        .accept_request(request_id)
                        .map_err(ConnError::Session)?,
                ))
            }
            ServerSessionEvent::PublishStreamRequested {
                request_id,
                app_name,
                stream_key,
                ..
            } => {
                match self.open_publication(&app_name, &stream_key) {
                    Ok(active) => {
                        info!(peer = %self.peer, stream = %active.label, "publisher started");
                        self.active = Some(active);
                        Ok(Some(
                            session
                                .accept_request(request_id)
                                .map_err(ConnError::Session)?,
                        ))
                    }
                    Err(refusal) => {
                        // OBS only shows an error (instead of hanging) when it gets one of these
                        // codes and the connection then closes.
                        let code = match refusal {
                            Refusal::BadName(_) => "NetStream.Publish.BadName",
                            Refusal::Unauthorized => "NetStream.Publish.Denied",
                            Refusal::Rejected(_) => "NetStream.Publish.Rejected",
                        };
                        let results = session
                            .reject_request(request_id, code, &refusal.to_string())
                            .map_err(ConnError::Session)?;
                        for r in results {
                            if let ServerSessionResult::OutboundResponse(p) = r {
                                socket.write_all(&p.bytes).await?;
                            }
                        }
                        socket.flush().await?;
                        // Named without the query: it may hold the publish key.
                        let name = split_publish_name(&app_name, &stream_key);
                        Err(ConnError::Refused {
                            stream: format!("{}/{}", name.app, name.stream),
                            refusal,
                        })
                    }
                }
            }
            ServerSessionEvent::PublishStreamFinished { .. } => {
                self.flush_events().await;
                if let Some(active) = self.active.take() {
                    info!(peer = %self.peer, stream = %active.label, "publisher finished");
                }
                Ok(None)
            }
            ServerSessionEvent::VideoDataReceived {
                data, timestamp, ..
            } => {
                self.media(true, timestamp.value, data);
                Ok(None)
            }
            ServerSessionEvent::AudioDataReceived {
                data, timestamp, ..
            } => {
                self.media(false, timestamp.value, data);
                Ok(None)
            }
            ServerSessionEvent::UnhandleableAmf0Command {
                command_name,
                transaction_id,
                additional_values,
                ..
            } => {
                match command_name.as_str() {
                    "FCPublish" => {
                        let name = match additional_values.first() {
                            Some(rml_amf0::Amf0Value::Utf8String(s)) => s.clone(),
                            _ => String::new(),
                        };
                        socket.write_all(&raw::result(transaction_id)).await?;
                        socket.write_all(&raw::on_fc_publish(&name)).await?;
                    }
                    "releaseStream" => socket.write_all(&raw::result(transaction_id)).await?,
                    // FCUnpublish is followed by deleteStream / close, which end the stream.
                    _ => {
                        debug!(peer = %self.peer, command = %command_name, "ignoring RTMP command")
                    }
                }
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    fn open_publication(&self, app: &str, stream_key: &str) -> Result<Active, Refusal> {
        let name = split_publish_name(app, stream_key);
        validate_name("AppName", &name.app).map_err(Refusal::BadName)?;
        validate_name("StreamName", &name.stream).map_err(Refusal::BadName)?;
        if !self.options.publish_key.is_empty()
            && name.arg("key") != Some(self.options.publish_key.as_str())
        {
            return Err(Refusal::Unauthorized);
        }
        let label = format!("{}/{}", name.app, name.stream);
        let request = PublishRequest {
            app: name.app,
            stream: name.stream,
            // The key is a secret: it never travels further than this check.
            args: name.args.into_iter().filter(|(k, _)| k != "key").collect(),
            origin: format!("rtmp {}", self.peer),
        };
        let publication = self.sink.publish(request)?;
        Ok(Active {
            publication,
            decoder: TagDecoder::new(),
            label,
            unsupported_logged: false,
        })
    }

    fn media(&mut self, video: bool, ts_ms: u32, data: Bytes) {
        let Some(active) = self.active.as_mut() else {
            return;
        };
        let result = if video {
            active.decoder.video(ts_ms, data, &mut self.events)
        } else {
            active.decoder.audio(ts_ms, data, &mut self.events)
        };
        if let Err(e) = result {
            if !e.is_unsupported() {
                warn!(peer = %self.peer, stream = %active.label, "skipping a bad packet: {e}");
            } else if !active.unsupported_logged {
                active.unsupported_logged = true;
                warn!(peer = %self.peer, stream = %active.label, "not recording a track: {e}");
            }
        }
    }

    async fn flush_events(&mut self) {
        let Some(active) = self.active.as_mut() else {
            self.events.clear();
            return;
        };
        for ev in self.events.drain(..) {
            if active.publication.media.send(ev).await.is_err() {
                break;
            }
        }
        self.events.clear();
    }
}
