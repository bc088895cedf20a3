//! The RTMP server: one tokio task per connection.

use std::collections::HashMap;
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
use tokio::task::{JoinError, JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use super::ext_ts::{ChunkFix, Piece};
use super::raw;
use super::socket::ConnSocket;
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
    ///
    /// The tasks live in a `JoinSet` watched from this loop: a task that panics (a bug in
    /// `rml_rtmp` or in our decoding, reached by hostile bytes) is logged as the end of its
    /// connection, with the peer, instead of vanishing with a bare panic message. Its
    /// socket and publication are dropped by the unwind, which the recorder sees as the
    /// publisher leaving; other connections are untouched.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut tasks = JoinSet::new();
        let mut peers: HashMap<tokio::task::Id, SocketAddr> = HashMap::new();
        loop {
            let accepted = tokio::select! {
                _ = shutdown.cancelled() => break,
                Some(done) = tasks.join_next_with_id() => {
                    reap(&mut peers, done);
                    continue;
                }
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
                    let handle = tasks.spawn(async move {
                        match conn.run(socket).await {
                            // Port probes and health checks connect and leave at once.
                            Err(ConnError::NoHandshake) => {
                                debug!(%peer, "connection closed before the RTMP handshake")
                            }
                            Ok(reason) => info!(%peer, "RTMP connection closed: {reason}"),
                            Err(e) => warn!(%peer, "RTMP connection dropped: {e}"),
                        }
                    });
                    peers.insert(handle.id(), peer);
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    warn!("RTMP accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        // Every connection saw the same cancellation and is flushing its last events: let
        // them finish (and report a panic) rather than abort them mid-send, but not forever.
        let drain = async {
            while let Some(done) = tasks.join_next_with_id().await {
                reap(&mut peers, done);
            }
        };
        if tokio::time::timeout(SHUTDOWN_DRAIN, drain).await.is_err() {
            warn!(
                "{} RTMP connection(s) still open {SHUTDOWN_DRAIN:?} after shutdown; aborting them",
                tasks.len()
            );
        }
    }
}

/// How long `run` waits for connections to end once shutdown is requested.
const SHUTDOWN_DRAIN: Duration = Duration::from_secs(5);

/// Forgets a finished connection task; a panic is logged as that connection's end (and
/// its message returned, for tests).
fn reap(
    peers: &mut HashMap<tokio::task::Id, SocketAddr>,
    done: Result<(tokio::task::Id, ()), JoinError>,
) -> Option<String> {
    match done {
        Ok((id, ())) => {
            peers.remove(&id);
            None
        }
        Err(e) => {
            let peer = peers
                .remove(&e.id())
                .map_or_else(|| "unknown peer".to_string(), |p| p.to_string());
            if e.is_panic() {
                let detail = super::panic_text(e.into_panic().as_ref());
                error!(%peer, "RTMP connection dropped: its task panicked: {detail}");
                Some(detail)
            } else {
                debug!(%peer, "RTMP connection task cancelled");
                None
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
    #[error("protocol: rml_rtmp panicked on this input: {0}")]
    SessionPanicked(String),
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

/// `ServerSession::handle_input`, with a panic turned into an error of this connection.
///
/// rml_rtmp 0.8 panics on some malformed input (found by `fuzz/`'s `rtmp_chunks`): an
/// AMF0 command with fewer than three values (`drain(..3)` in `amf0_command.rs`, in any
/// build), and a chunk header that shrinks a message already partly received
/// (`deserializer.rs`, an overflow in debug builds). The call is synchronous, so the
/// panic is caught right here and the session, in an unknown state, is dropped with the
/// connection. The connection tasks' supervisor in [`RtmpServer::run`] still catches
/// anything else.
fn handle_input(
    session: &mut ServerSession,
    bytes: &[u8],
) -> Result<Vec<ServerSessionResult>, ConnError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| session.handle_input(bytes))) {
        Ok(r) => r.map_err(ConnError::Session),
        Err(payload) => Err(ConnError::SessionPanicked(super::panic_text(
            payload.as_ref(),
        ))),
    }
}

/// rml_rtmp 0.8 fills its Acknowledgement with the bytes received since its previous one;
/// RTMP 1.0 (5.4.3) wants every byte received so far, handshake included, wrapping at
/// 2^32. When one is due it is the first result of the input that made it due (made
/// before that input is parsed), and the only message with a 4-byte payload on chunk
/// stream 2 that `handle_input` itself produces (a WindowAcknowledgement goes out from
/// `accept_request`): its payload is rewritten with `received`.
fn acknowledge_total(results: &mut [ServerSessionResult], received: u64) {
    let Some(ServerSessionResult::OutboundResponse(p)) = results.first_mut() else {
        return;
    };
    let Some(&first) = p.bytes.first() else {
        return;
    };
    let header = [11, 7, 3, 0][usize::from(first >> 6)];
    if first & 0x3f == 2 && p.bytes.len() == 1 + header + 4 {
        let n = p.bytes.len();
        p.bytes[n - 4..].copy_from_slice(&(received as u32).to_be_bytes());
    }
}

/// The name of an AMF command message (type 20 AMF0, or 17 "AMF3", which is a 0x00 format
/// byte then AMF0 in practice, REFERENCE.md section 5), for logs only.
///
/// `rml_rtmp` 0.8 already decodes type 17 this way and routes the commands it does not
/// know (`FCPublish`, `releaseStream`...) to `UnhandleableAmf0Command`, which the AMF0 path
/// answers; a command message reaching `UnhandleableMessageReceived` means a later
/// version stopped doing that, and this keeps it visible.
fn command_name(type_id: u8, data: &[u8]) -> Option<String> {
    let body = match (type_id, data.first()) {
        (17, Some(0)) => &data[1..],
        (17 | 20, _) => data,
        _ => return None,
    };
    // Only the first value is needed; the rest may be AMF3 that rml_amf0 cannot read.
    let name_len = usize::from(u16::from_be_bytes([*body.get(1)?, *body.get(2)?]));
    if body.first() != Some(&0x02) {
        return None;
    }
    let name = body.get(3..3 + name_len)?;
    Some(String::from_utf8_lossy(name).into_owned())
}

/// How often a publishing connection reads its socket.
///
/// A publisher's bytes arrive a few KB at a time (ffmpeg and OBS pace their writes); reading
/// each as it comes costs a wake-up, a read and a hand-over to the recording per few KB,
/// which is where a recorder's CPU went (`bench/ingest.sh`). Publishing connections instead
/// drain their socket on a shared tick: every connection wakes on the same instant, each
/// read carries ~200 ms of media, and the kernel's socket buffer (auto-tuned) holds what
/// arrives in between. A read that fills the scratch buffer is followed by another at
/// once, so a fast stream is never paced by the tick. Before `publish` (handshake,
/// commands) a connection reads as bytes come.
///
/// 200 ms rather than 100: each tick costs a few wake-ups whatever it carries, which is
/// most of what one stream costs on an idle machine (one stream, a minute: 0.29-0.37 s of
/// CPU at 100 ms, 0.21-0.23 s at 200 ms); 4 publishers at 40 Mbit/s keep real time either
/// way (10.5 s for 10 s of media). Nothing waits on it but the recording, whose files are
/// cut on media time.
pub const READ_TICK: Duration = Duration::from_millis(200);

/// The next multiple of [`READ_TICK`] since the first call: one instant for every
/// connection.
fn next_read_tick() -> tokio::time::Instant {
    static ORIGIN: std::sync::OnceLock<tokio::time::Instant> = std::sync::OnceLock::new();
    let origin = *ORIGIN.get_or_init(tokio::time::Instant::now);
    let tick = READ_TICK.as_nanos();
    let ticks = origin.elapsed().as_nanos() / tick + 1;
    origin + Duration::from_nanos((ticks * tick) as u64)
}

/// Bytes read from a socket per call: shared by the connections a worker thread runs (a
/// read is handed to the session before the next await), so it costs nothing per stream.
const SCRATCH: usize = 256 * 1024;

/// Bytes handed to the session at once. The session keeps its own buffer, which grows to
/// the largest input it was given: slices keep it small.
const FEED: usize = 16 * 1024;

thread_local! {
    static SCRATCH_BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; SCRATCH]);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drained {
    /// Read until the socket had no more for now.
    Open,
    /// The peer closed the connection (after what was read).
    Closed,
}

/// Reads what the socket holds, up to a scratch buffer at a time, and hands it to the
/// session. `WouldBlock` (spurious readiness) comes back as an error only when nothing was
/// read.
fn drain(
    socket: &ConnSocket,
    session: &mut ServerSession,
    fix: &mut ChunkFix,
    received: &mut u64,
) -> Result<(Drained, Vec<ServerSessionResult>), ConnError> {
    SCRATCH_BUF.with_borrow_mut(|buf| {
        let mut results = Vec::new();
        let mut read_any = false;
        loop {
            match socket.try_read(buf) {
                Ok(0) => return Ok((Drained::Closed, results)),
                Ok(n) => {
                    read_any = true;
                    results.extend(feed(session, fix, &buf[..n], received)?);
                    if n < buf.len() {
                        return Ok((Drained::Open, results));
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && read_any => {
                    return Ok((Drained::Open, results))
                }
                Err(e) => return Err(ConnError::Io(e)),
            }
        }
    })
}

/// Hands `bytes` to the session in [`FEED`]-sized slices, through `fix` (which supplies the
/// extended timestamps older OBS leaves out); each slice's acknowledgement (if one falls
/// due) carries the total received up to it.
fn feed(
    session: &mut ServerSession,
    fix: &mut ChunkFix,
    bytes: &[u8],
    received: &mut u64,
) -> Result<Vec<ServerSessionResult>, ConnError> {
    let mut all = Vec::new();
    fix.feed::<ConnError>(bytes, &mut |piece| {
        let (bytes, real): (&[u8], bool) = match &piece {
            Piece::Received(b) => (b, true),
            Piece::Supplied(b) => (b, false),
        };
        for slice in bytes.chunks(FEED) {
            if real {
                *received += slice.len() as u64;
            }
            let mut results = handle_input(session, slice)?;
            acknowledge_total(&mut results, *received);
            all.append(&mut results);
        }
        Ok(())
    })?;
    Ok(all)
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
        let (mut session, leftover, mut received) =
            match tokio::time::timeout(setup, self.handshake(&mut socket)).await {
                Ok(r) => r?,
                Err(_) => return Err(ConnError::SetupTimeout(setup)),
            };
        let mut socket = ConnSocket::new(socket);
        let started = tokio::time::Instant::now();
        let mut published = false;
        let mut fix = ChunkFix::default();
        let mut supplied_logged = false;
        // What came with the handshake first, then each drained read.
        let mut results = feed(&mut session, &mut fix, &leftover, &mut received)?;
        let mut drained = Drained::Open;
        loop {
            if !results.is_empty() {
                if let Some(reason) = self
                    .handle_results(&mut session, &mut socket, std::mem::take(&mut results))
                    .await?
                {
                    return Ok(reason);
                }
            }
            if drained == Drained::Closed {
                return Ok(match &self.active {
                    Some(a) => format!("publisher of {} disconnected", a.label),
                    None => "peer closed the connection".into(),
                });
            }
            if !supplied_logged && fix.supplied > 0 {
                supplied_logged = true;
                info!(
                    peer = %self.peer,
                    "the publisher leaves extended timestamps out of continuation chunks (older OBS): supplying them"
                );
            }
            published |= self.active.is_some();
            // The setup deadline is for connections that never publish; after a publish has
            // ended (FCUnpublish/deleteStream before the close) only the idle timeout applies.
            if !published && self.active.is_none() && started.elapsed() > setup {
                return Err(ConnError::SetupTimeout(setup));
            }
            let cancel = self
                .active
                .as_ref()
                .map(|a| a.publication.cancel.clone())
                .unwrap_or_default();
            let idle = self.options.idle_timeout;
            let deadline = tokio::time::Instant::now() + idle;
            (drained, results) = loop {
                // A publisher's media waits in the socket until the next read tick, where
                // every connection drains what arrived (see `READ_TICK`); its socket is
                // detached meanwhile, so arriving bytes wake nobody (see `ConnSocket`).
                // Before and after a publish, bytes are read as they come.
                let ready = async {
                    if self.active.is_some() {
                        socket.detach()?;
                        // At the idle deadline, one last look at the socket.
                        tokio::time::sleep_until(next_read_tick().min(deadline)).await;
                        Ok(())
                    } else {
                        match tokio::time::timeout(idle, socket.readable()).await {
                            Err(_) => Err(ConnError::Idle(idle)),
                            Ok(r) => Ok(r?),
                        }
                    }
                };
                tokio::select! {
                    _ = self.shutdown.cancelled() => return Ok("server shutting down".into()),
                    _ = cancel.cancelled() => return Ok("a new publisher took over this stream".into()),
                    r = ready => r?,
                };
                match drain(&socket, &mut session, &mut fix, &mut received) {
                    Ok(done) => break done,
                    Err(ConnError::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        if self.active.is_some() && tokio::time::Instant::now() >= deadline {
                            return Err(ConnError::Idle(idle));
                        }
                    }
                    Err(e) => return Err(e),
                }
            };
        }
    }

    async fn handshake(
        &self,
        socket: &mut TcpStream,
    ) -> Result<(ServerSession, Vec<u8>, u64), ConnError> {
        let mut handshake = Handshake::new(PeerType::Server);
        let mut buf = vec![0u8; 4096];
        let mut first = true;
        let mut read = 0u64;
        let leftover = loop {
            let n = socket.read(&mut buf).await?;
            read += n as u64;
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
        // Bytes of the handshake itself (what came after it is handed back).
        let handshake_bytes = read - leftover.len() as u64;
        Ok((session, leftover, handshake_bytes))
    }

    /// Answers what the session produced; `Some(reason)` ends the connection normally.
    async fn handle_results(
        &mut self,
        session: &mut ServerSession,
        socket: &mut ConnSocket,
        results: Vec<ServerSessionResult>,
    ) -> Result<Option<String>, ConnError> {
        let mut queue = std::collections::VecDeque::from(results);
        while let Some(result) = queue.pop_front() {
            match result {
                ServerSessionResult::OutboundResponse(p) => socket.write_all(&p.bytes).await?,
                ServerSessionResult::UnhandleableMessageReceived(p) => {
                    // Shared objects (16, 19) and aggregates (22) land here; a command that
                    // rml_rtmp could not route is named so a log shows what a client wanted.
                    match command_name(p.type_id, &p.data) {
                        Some(command) => debug!(
                            peer = %self.peer, type_id = p.type_id, %command,
                            "ignoring RTMP command message"
                        ),
                        None => {
                            debug!(peer = %self.peer, type_id = p.type_id, "ignoring RTMP message")
                        }
                    }
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
        socket: &mut ConnSocket,
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use rml_amf0::Amf0Value;
    use rml_rtmp::chunk_io::{ChunkDeserializer, ChunkSerializer};
    use rml_rtmp::messages::{MessagePayload, RtmpMessage};
    use rml_rtmp::time::RtmpTimestamp;
    use tokio::sync::mpsc;

    use super::*;
    use crate::publish::MediaSender;

    #[derive(Default)]
    struct Collect {
        requests: Mutex<Vec<PublishRequest>>,
        media: Mutex<Vec<mpsc::Receiver<MediaEvent>>>,
    }

    impl PublishSink for Collect {
        fn publish(&self, request: PublishRequest) -> Result<Publication, Refusal> {
            let (media, rx) = MediaSender::channel(64);
            self.requests.lock().unwrap().push(request);
            self.media.lock().unwrap().push(rx);
            Ok(Publication {
                media,
                cancel: CancellationToken::new(),
            })
        }
    }

    async fn client_handshake(socket: &mut TcpStream) {
        let mut hs = Handshake::new(PeerType::Client);
        socket
            .write_all(&hs.generate_outbound_p0_and_p1().unwrap())
            .await
            .unwrap();
        let mut buf = vec![0u8; 4096];
        loop {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0, "server closed during the handshake");
            match hs.process_bytes(&buf[..n]).unwrap() {
                HandshakeProcessResult::InProgress { response_bytes } => {
                    socket.write_all(&response_bytes).await.unwrap()
                }
                HandshakeProcessResult::Completed { response_bytes, .. } => {
                    socket.write_all(&response_bytes).await.unwrap();
                    return;
                }
            }
        }
    }

    /// A command as an "AMF3" command message (type 17): a 0x00 format byte, then AMF0,
    /// which is what Flash-era clients send.
    fn amf3_command(ser: &mut ChunkSerializer, stream_id: u32, values: Vec<Amf0Value>) -> Vec<u8> {
        let mut data = vec![0u8];
        data.extend(rml_amf0::serialize(&values).unwrap());
        let payload = MessagePayload {
            timestamp: RtmpTimestamp::new(0),
            type_id: 17,
            message_stream_id: stream_id,
            data: Bytes::from(data),
        };
        ser.serialize(&payload, false, false).unwrap().bytes
    }

    /// Reads messages from the server (following its chunk size), handing each to `take`,
    /// until `done` says enough was seen. `what` names the wait in a failure.
    async fn read_messages(
        socket: &mut TcpStream,
        de: &mut ChunkDeserializer,
        what: &str,
        mut take: impl FnMut(RtmpMessage),
        mut done: impl FnMut() -> bool,
    ) {
        let mut buf = vec![0u8; 4096];
        while !done() {
            let n = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut buf))
                .await
                .unwrap_or_else(|_| panic!("{what} within 5 s"))
                .unwrap();
            assert!(n > 0, "server closed the connection waiting for {what}");
            let mut input = &buf[..n];
            while let Some(payload) = de.get_next_message(input).unwrap() {
                input = &[];
                match payload.to_rtmp_message().unwrap() {
                    RtmpMessage::SetChunkSize { size } => {
                        de.set_max_chunk_size(size as usize).unwrap()
                    }
                    other => take(other),
                }
            }
        }
    }

    /// Reads commands from the server until `done` says the list is complete.
    async fn read_commands(
        socket: &mut TcpStream,
        de: &mut ChunkDeserializer,
        seen: &mut Vec<(String, f64, Vec<Amf0Value>)>,
        done: impl Fn(&[(String, f64, Vec<Amf0Value>)]) -> bool,
    ) {
        let seen = std::cell::RefCell::new(seen);
        read_messages(
            socket,
            de,
            "the server's answers",
            |m| {
                if let RtmpMessage::Amf0Command {
                    command_name,
                    transaction_id,
                    additional_arguments,
                    ..
                } = m
                {
                    seen.borrow_mut()
                        .push((command_name, transaction_id, additional_arguments));
                }
            },
            || done(&seen.borrow()),
        )
        .await;
    }

    fn has(seen: &[(String, f64, Vec<Amf0Value>)], name: &str, tx: f64) -> bool {
        seen.iter().any(|(n, t, _)| n == name && *t == tx)
    }

    /// A server on a free port and a client connection that finished its handshake.
    async fn connected() -> (
        Arc<Collect>,
        TcpStream,
        CancellationToken,
        tokio::task::JoinHandle<()>,
    ) {
        connected_with(RtmpServerOptions::default()).await
    }

    async fn connected_with(
        options: RtmpServerOptions,
    ) -> (
        Arc<Collect>,
        TcpStream,
        CancellationToken,
        tokio::task::JoinHandle<()>,
    ) {
        let sink = Arc::new(Collect::default());
        let server = RtmpServer::bind("127.0.0.1:0", options, sink.clone())
            .await
            .unwrap();
        let addr = server.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(server.run(shutdown.clone()));
        let mut socket = TcpStream::connect(addr).await.unwrap();
        client_handshake(&mut socket).await;
        (sink, socket, shutdown, task)
    }

    #[tokio::test]
    async fn acknowledgements_count_every_byte_received() {
        let (_sink, mut socket, shutdown, task) = connected().await;
        // C0 + C1 + C2.
        let mut sent: u64 = 1 + 1536 + 1536;
        let mut ser = ChunkSerializer::new();
        let window = RtmpMessage::WindowAcknowledgement { size: 100_000 }
            .into_message_payload(RtmpTimestamp::new(0), 0)
            .unwrap();
        let mut out = ser.serialize(&window, false, false).unwrap().bytes;
        // 350 KB of audio before `connect`, which the session reads and ignores.
        for i in 0..35 {
            let audio = MessagePayload {
                timestamp: RtmpTimestamp::new(i * 20),
                type_id: 8,
                message_stream_id: 1,
                data: Bytes::from(vec![0xaf; 10_000]),
            };
            out.extend(ser.serialize(&audio, false, false).unwrap().bytes);
        }
        sent += out.len() as u64;
        for piece in out.chunks(4096) {
            socket.write_all(piece).await.unwrap();
        }
        let mut de = ChunkDeserializer::new();
        let acks = std::cell::RefCell::new(Vec::new());
        read_messages(
            &mut socket,
            &mut de,
            "three acknowledgements",
            |m| {
                if let RtmpMessage::Acknowledgement { sequence_number } = m {
                    acks.borrow_mut().push(sequence_number);
                }
            },
            || acks.borrow().len() >= 3,
        )
        .await;
        let acks = acks.into_inner();
        // Totals (handshake included), not the ~100 KB since the previous one.
        assert!(acks.windows(2).all(|w| w[1] > w[0]), "{acks:?}");
        assert!(u64::from(acks[0]) >= 100_000 + 3073, "{acks:?}");
        assert!(u64::from(acks[2]) >= 300_000, "{acks:?}");
        assert!(u64::from(acks[2]) <= sent, "{acks:?} > {sent}");
        shutdown.cancel();
        let _ = task.await;
    }

    #[tokio::test]
    async fn amf3_command_messages_are_answered_like_amf0_ones() {
        let (sink, mut socket, shutdown, task) = connected().await;
        let mut ser = ChunkSerializer::new();
        let mut de = ChunkDeserializer::new();
        publish_live_cam(&mut socket, &mut ser, &mut de).await;
        let requests = sink.requests.lock().unwrap().clone();
        assert_eq!(requests.len(), 1);
        assert_eq!(
            (requests[0].app.as_str(), requests[0].stream.as_str()),
            ("live", "cam")
        );

        shutdown.cancel();
        task.await.unwrap();
    }

    /// Publishes live/cam with commands sent as AMF3 messages, as Flash-era clients do;
    /// returns the message stream id.
    async fn publish_live_cam(
        socket: &mut TcpStream,
        ser: &mut ChunkSerializer,
        de: &mut ChunkDeserializer,
    ) -> u32 {
        let mut connect = std::collections::HashMap::new();
        connect.insert("app".to_string(), Amf0Value::Utf8String("live".into()));
        connect.insert("objectEncoding".to_string(), Amf0Value::Number(3.0));
        let s = |v: &str| Amf0Value::Utf8String(v.into());
        let mut out = Vec::new();
        for values in [
            vec![
                s("connect"),
                Amf0Value::Number(1.0),
                Amf0Value::Object(connect),
            ],
            vec![
                s("releaseStream"),
                Amf0Value::Number(2.0),
                Amf0Value::Null,
                s("cam"),
            ],
            vec![
                s("FCPublish"),
                Amf0Value::Number(3.0),
                Amf0Value::Null,
                s("cam"),
            ],
            vec![s("createStream"), Amf0Value::Number(4.0), Amf0Value::Null],
        ] {
            out.extend(amf3_command(ser, 0, values));
        }
        socket.write_all(&out).await.unwrap();
        let mut seen = Vec::new();
        read_commands(socket, de, &mut seen, |seen| {
            (1..=4).all(|tx| has(seen, "_result", f64::from(tx))) && has(seen, "onFCPublish", 0.0)
        })
        .await;
        let stream_id = seen
            .iter()
            .find(|(n, t, _)| n == "_result" && *t == 4.0)
            .and_then(|(_, _, args)| match args.first() {
                Some(Amf0Value::Number(id)) => Some(*id as u32),
                _ => None,
            })
            .expect("createStream answers a stream id");

        let publish = vec![
            s("publish"),
            Amf0Value::Number(5.0),
            Amf0Value::Null,
            s("cam"),
            s("live"),
        ];
        socket
            .write_all(&amf3_command(ser, stream_id, publish))
            .await
            .unwrap();
        read_commands(socket, de, &mut seen, |seen| {
            seen.iter().any(|(n, _, args)| {
                n == "onStatus"
                    && args.iter().any(|a| {
                        matches!(a, Amf0Value::Object(o)
                            if o.get("code") == Some(&Amf0Value::Utf8String("NetStream.Publish.Start".into())))
                    })
            })
        })
        .await;
        stream_id
    }

    /// Older OBS leaves the extended timestamp out of continuation chunks, newer OBS writes
    /// it: both publish the same frames across the 24-bit timestamp limit (4.66 h).
    #[tokio::test]
    async fn extended_timestamps_on_continuation_chunks_may_be_left_out() {
        for repeat in [false, true] {
            let (sink, mut socket, shutdown, task) = connected().await;
            let mut ser = ChunkSerializer::new();
            let mut de = ChunkDeserializer::new();
            let stream_id = publish_live_cam(&mut socket, &mut ser, &mut de).await;
            // AAC: the sequence header, then 60 frames of 300-700 bytes 23 ms apart from
            // 1 s before the limit (librtmp's chunking: absolute type-0 headers, 128-byte
            // chunks, so several continuation chunks per frame).
            let start = 0xFF_FFFF - 1000;
            let mut messages = vec![(start, 8u8, vec![0xaf, 0x00, 0x12, 0x10])];
            let mut sent = Vec::new();
            for k in 0..60u32 {
                let data: Vec<u8> = (0..300 + (k * 37) % 400).map(|b| (b ^ k) as u8).collect();
                let mut body = vec![0xaf, 0x01];
                body.extend_from_slice(&data);
                messages.push((start + 23 * k, 8, body));
                sent.push((start + 23 * k, data));
            }
            let bytes = super::super::ext_ts::librtmp(&messages, stream_id, 128, repeat);
            for piece in bytes.chunks(1000) {
                socket.write_all(piece).await.unwrap();
            }
            let mut rx = sink.media.lock().unwrap().pop().expect("a publication");
            let mut got = Vec::new();
            while got.len() < sent.len() {
                let ev = tokio::time::timeout(Duration::from_secs(5), rx.recv())
                    .await
                    .unwrap_or_else(|_| panic!("frame {} within 5 s (repeat: {repeat})", got.len()))
                    .expect("media");
                if let MediaEvent::Frame(f) = ev {
                    got.push((f.dts.as_millis() as u32, f.data.to_vec()));
                }
            }
            assert_eq!(got, sent, "repeat: {repeat}");
            shutdown.cancel();
            task.await.unwrap();
        }
    }

    /// A publisher read on the tick (its socket detached from the runtime) is dropped once
    /// it sends nothing for the idle timeout, and only then: one that keeps sending, however
    /// slowly, stays.
    #[tokio::test]
    async fn a_publisher_is_dropped_after_the_idle_timeout_only() {
        let idle = Duration::from_millis(1500);
        let options = RtmpServerOptions {
            idle_timeout: idle,
            ..RtmpServerOptions::default()
        };
        let (sink, mut socket, shutdown, task) = connected_with(options).await;
        let mut ser = ChunkSerializer::new();
        let mut de = ChunkDeserializer::new();
        let stream_id = publish_live_cam(&mut socket, &mut ser, &mut de).await;
        let mut rx = sink.media.lock().unwrap().pop().expect("a publication");
        let audio = |ts: u32, ser: &mut ChunkSerializer| {
            let m = MessagePayload {
                timestamp: RtmpTimestamp::new(ts),
                type_id: 8,
                message_stream_id: stream_id,
                data: Bytes::from(if ts == 0 {
                    vec![0xaf, 0x00, 0x12, 0x10]
                } else {
                    vec![0xaf, 0x01, 1, 2, 3]
                }),
            };
            ser.serialize(&m, false, false).unwrap().bytes
        };
        // 2.4 s of a frame every 300 ms: longer than the idle timeout, never idle for it.
        let mut last_sent = tokio::time::Instant::now();
        for k in 0..8u32 {
            socket.write_all(&audio(k * 300, &mut ser)).await.unwrap();
            last_sent = tokio::time::Instant::now();
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let mut frames = 0;
        while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await {
            frames += usize::from(matches!(ev, MediaEvent::Frame(_)));
        }
        assert_eq!(frames, 7, "every frame after the sequence header arrived");
        // Then silence: closed once the timeout has passed (a tick or two later).
        let mut buf = [0u8; 4096];
        loop {
            match tokio::time::timeout(Duration::from_secs(5), socket.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(_)) => {}
                Err(_) => panic!("a silent publisher is dropped"),
            }
        }
        let waited = last_sent.elapsed();
        assert!(
            waited >= idle && waited < idle + Duration::from_secs(2),
            "{waited:?}"
        );
        shutdown.cancel();
        task.await.unwrap();
    }

    #[test]
    fn an_amf0_command_of_two_values_is_an_error_not_a_panic() {
        // rml_rtmp drains three values off every command; two make it panic.
        let values = vec![
            Amf0Value::Utf8String("connect".into()),
            Amf0Value::Number(1.0),
        ];
        let payload = MessagePayload {
            timestamp: RtmpTimestamp::new(0),
            type_id: 20,
            message_stream_id: 0,
            data: Bytes::from(rml_amf0::serialize(&values).unwrap()),
        };
        let bytes = ChunkSerializer::new()
            .serialize(&payload, true, false)
            .unwrap()
            .bytes;
        let (mut session, _) = ServerSession::new(ServerSessionConfig::new()).unwrap();
        assert!(matches!(
            handle_input(&mut session, &bytes),
            Err(ConnError::SessionPanicked(_))
        ));
    }

    #[test]
    fn command_names_for_logs() {
        let mut amf0 = rml_amf0::serialize(&vec![
            Amf0Value::Utf8String("FCPublish".into()),
            Amf0Value::Number(3.0),
        ])
        .unwrap();
        assert_eq!(command_name(20, &amf0).as_deref(), Some("FCPublish"));
        amf0.insert(0, 0);
        assert_eq!(command_name(17, &amf0).as_deref(), Some("FCPublish"));
        assert_eq!(command_name(22, &amf0), None);
        assert_eq!(command_name(17, &[0, 0x02, 0]), None);
        assert_eq!(command_name(17, &[]), None);
    }

    #[tokio::test]
    async fn a_panicking_connection_task_is_reported_with_its_peer() {
        let mut tasks = JoinSet::new();
        let mut peers = HashMap::new();
        let peer: SocketAddr = "192.0.2.7:5000".parse().unwrap();
        let handle = tasks.spawn(async { panic!("boom in a session") });
        peers.insert(handle.id(), peer);
        let quiet = tasks.spawn(async {});
        peers.insert(quiet.id(), peer);
        let mut panics = Vec::new();
        while let Some(done) = tasks.join_next_with_id().await {
            panics.extend(reap(&mut peers, done));
        }
        assert_eq!(panics, ["boom in a session"]);
        assert!(peers.is_empty());
    }
}
