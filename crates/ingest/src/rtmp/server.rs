//! The RTMP server's tokio driver: the accept loop (with its connection limits) and one task
//! per connection, which owns the socket, the timers and the read tick, and hands every byte
//! to the connection's sans-IO core ([`super::core::ServerCore`]).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tapedeck_media::MediaEvent;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinError, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use super::core::{CoreError, CoreHandler, CoreOptions, ServerCore};
use super::socket::ConnSocket;
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
    /// Connections at once. Past it, a new connection makes room by closing one that has
    /// not published yet, or is closed itself when every connection is publishing.
    pub max_connections: usize,
    /// Connections at once that have not started publishing (handshake, commands). Past it,
    /// the oldest one of the address holding the most is closed.
    pub max_pending: usize,
}

impl Default for RtmpServerOptions {
    fn default() -> Self {
        RtmpServerOptions {
            publish_key: String::new(),
            idle_timeout: Duration::from_secs(15),
            setup_timeout: Duration::from_secs(20),
            max_connections: 256,
            max_pending: 64,
        }
    }
}

/// A bound RTMP listener.
pub struct RtmpServer {
    listener: TcpListener,
    options: Arc<RtmpServerOptions>,
    core: Arc<CoreOptions>,
    sink: Arc<dyn PublishSink>,
}

/// One open connection, as the accept loop sees it.
struct Slot {
    peer: SocketAddr,
    since: Instant,
    /// Set by the connection while a publish is active.
    publishing: Arc<AtomicBool>,
    /// Closes the connection (to make room for a new one).
    close: CancellationToken,
}

impl Slot {
    fn pending(&self) -> bool {
        !self.publishing.load(Ordering::Relaxed) && !self.close.is_cancelled()
    }
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
            core: Arc::new(CoreOptions {
                publish_key: options.publish_key.clone(),
            }),
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
    /// The tasks live in a `JoinSet` watched from this loop: a task that panics (a bug
    /// reached by hostile bytes) is logged as the end of its connection, with the peer,
    /// instead of vanishing with a bare panic message. Its socket and publication are
    /// dropped by the unwind, which the recorder sees as the publisher leaving; other
    /// connections are untouched.
    ///
    /// Limits: at most `max_connections` at once and `max_pending` that have not published.
    /// A flood of connections that never publish (idle sockets, handshakes left half way)
    /// cannot lock publishers out: each new connection past a limit closes the oldest
    /// pending connection of the address that holds the most, so the flood closes its own,
    /// and publishing connections are never closed to make room. Addresses that keep
    /// guessing the publish key are ignored for a while ([`Refusals`]).
    pub async fn run(self, shutdown: CancellationToken) {
        let mut tasks = JoinSet::new();
        let mut slots: HashMap<tokio::task::Id, Slot> = HashMap::new();
        let refusals = Arc::new(Mutex::new(Refusals::default()));
        let mut limit_log = LogEvery::new(Duration::from_secs(10));
        let mut ignored_log = LogEvery::new(Duration::from_secs(10));
        loop {
            let accepted = tokio::select! {
                _ = shutdown.cancelled() => break,
                Some(done) = tasks.join_next_with_id() => {
                    reap(&mut slots, done);
                    continue;
                }
                a = self.listener.accept() => a,
            };
            let (socket, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    warn!("RTMP accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            if let Some(left) = lock(&refusals).ignoring(peer.ip(), Instant::now()) {
                if let Some(more) = ignored_log.due() {
                    warn!(
                        %peer,
                        "ignoring connections from {} for {}s more: too many refused publishes (wrong key){more}",
                        peer.ip(),
                        left.as_secs() + 1
                    );
                }
                continue;
            }
            if !make_room(&slots, &self.options, peer, &mut limit_log) {
                continue; // every connection is publishing: this one is dropped
            }
            let close = CancellationToken::new();
            let publishing = Arc::new(AtomicBool::new(false));
            let conn = Connection {
                options: self.options.clone(),
                sink: self.sink.clone(),
                shutdown: shutdown.child_token(),
                close: close.clone(),
                publishing: publishing.clone(),
                publication: None,
            };
            let core = ServerCore::new(peer, self.core.clone());
            let refusals = refusals.clone();
            let handle = tasks.spawn(async move {
                match conn.run(socket, core).await {
                    // Port probes and health checks connect and leave at once.
                    Err(ConnError::NoHandshake) => {
                        debug!(%peer, "connection closed before the RTMP handshake")
                    }
                    Err(ConnError::Evicted) => debug!(%peer, "RTMP connection closed to make room"),
                    Ok(reason) => info!(%peer, "RTMP connection closed: {reason}"),
                    Err(e) => {
                        if let ConnError::Core(CoreError::Refused {
                            refusal: Refusal::Unauthorized,
                            ..
                        }) = &e
                        {
                            lock(&refusals).refused(peer.ip(), Instant::now());
                        }
                        warn!(%peer, "RTMP connection dropped: {e}")
                    }
                }
            });
            slots.insert(
                handle.id(),
                Slot {
                    peer,
                    since: Instant::now(),
                    publishing,
                    close,
                },
            );
        }
        // Every connection saw the same cancellation and is flushing its last events: let
        // them finish (and report a panic) rather than abort them mid-send, but not forever.
        let drain = async {
            while let Some(done) = tasks.join_next_with_id().await {
                reap(&mut slots, done);
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

/// Makes room for a connection from `peer` under the limits; `false` when it cannot be
/// taken (every connection is publishing).
fn make_room(
    slots: &HashMap<tokio::task::Id, Slot>,
    options: &RtmpServerOptions,
    peer: SocketAddr,
    log: &mut LogEvery,
) -> bool {
    let open = slots.values().filter(|s| !s.close.is_cancelled()).count();
    let pending = slots.values().filter(|s| s.pending()).count();
    if open < options.max_connections && pending < options.max_pending {
        return true;
    }
    // The address holding the most pending connections gives up its oldest.
    let mut per_ip: HashMap<IpAddr, usize> = HashMap::new();
    for s in slots.values().filter(|s| s.pending()) {
        *per_ip.entry(s.peer.ip()).or_default() += 1;
    }
    let Some((&ip, _)) = per_ip.iter().max_by_key(|(_, n)| **n) else {
        if let Some(more) = log.due() {
            warn!(
                %peer,
                "RTMP connection limit reached: {open} connections, all publishing (ingest.max_connections = {}); refusing new ones{more}",
                options.max_connections
            );
        }
        return false;
    };
    if let Some(oldest) = slots
        .values()
        .filter(|s| s.pending() && s.peer.ip() == ip)
        .min_by_key(|s| s.since)
    {
        oldest.close.cancel();
        if let Some(more) = log.due() {
            warn!(
                "RTMP connection limit reached ({open} open, {pending} not publishing; ingest.max_connections = {}, max_pending_connections = {}): closing the oldest connection from {ip} that has not published{more}",
                options.max_connections, options.max_pending
            );
        }
    }
    true
}

/// How long `run` waits for connections to end once shutdown is requested.
const SHUTDOWN_DRAIN: Duration = Duration::from_secs(5);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Forgets a finished connection task; a panic is logged as that connection's end (and
/// its message returned, for tests).
fn reap(
    slots: &mut HashMap<tokio::task::Id, Slot>,
    done: Result<(tokio::task::Id, ()), JoinError>,
) -> Option<String> {
    match done {
        Ok((id, ())) => {
            slots.remove(&id);
            None
        }
        Err(e) => {
            let peer = slots
                .remove(&e.id())
                .map_or_else(|| "unknown peer".to_string(), |s| s.peer.to_string());
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

/// A warning that may fire often (a flood): the first goes out, then one per `every`,
/// saying how many were held back.
struct LogEvery {
    every: Duration,
    last: Option<Instant>,
    held: u64,
}

impl LogEvery {
    fn new(every: Duration) -> Self {
        LogEvery {
            every,
            last: None,
            held: 0,
        }
    }

    /// `Some(suffix)` when this one goes out; the suffix counts those held back.
    fn due(&mut self) -> Option<String> {
        let now = Instant::now();
        if self.last.is_some_and(|t| now < t + self.every) {
            self.held += 1;
            return None;
        }
        self.last = Some(now);
        let more = std::mem::take(&mut self.held);
        Some(if more > 0 {
            format!(" ({more} more like this since the last such line)")
        } else {
            String::new()
        })
    }
}

/// Publishes refused for a wrong key, per address: a token bucket of [`Refusals::BURST`]
/// attempts refilled at one per [`Refusals::REFILL`]. An address with none left is ignored
/// (its connections closed at once, before the handshake) until one refills, so nobody can
/// guess the publish key at speed, and a script retrying a wrong key cannot flood the log.
#[derive(Default)]
struct Refusals {
    /// Tokens left and when they were last counted.
    by_ip: HashMap<IpAddr, (f64, Instant)>,
}

impl Refusals {
    const BURST: f64 = 10.0;
    const REFILL: Duration = Duration::from_secs(6);
    /// Addresses remembered at most (the oldest full buckets are forgotten first).
    const KEEP: usize = 4096;

    fn tokens(&self, ip: IpAddr, now: Instant) -> f64 {
        self.by_ip.get(&ip).map_or(Self::BURST, |&(t, at)| {
            (t + now.saturating_duration_since(at).as_secs_f64() / Self::REFILL.as_secs_f64())
                .min(Self::BURST)
        })
    }

    fn refused(&mut self, ip: IpAddr, now: Instant) {
        let tokens = (self.tokens(ip, now) - 1.0).max(0.0);
        if self.by_ip.len() >= Self::KEEP && !self.by_ip.contains_key(&ip) {
            let full: Vec<IpAddr> = self
                .by_ip
                .keys()
                .copied()
                .filter(|&k| self.tokens(k, now) >= Self::BURST)
                .collect();
            for k in full {
                self.by_ip.remove(&k);
            }
            if self.by_ip.len() >= Self::KEEP {
                return; // all of them busy guessing: this address is not tracked
            }
        }
        self.by_ip.insert(ip, (tokens, now));
    }

    /// How long `ip` is still ignored, if it is.
    fn ignoring(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let tokens = self.tokens(ip, now);
        (tokens < 1.0).then(|| Self::REFILL.mul_f64(1.0 - tokens))
    }
}

#[derive(Debug, thiserror::Error)]
enum ConnError {
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("closed before the handshake")]
    NoHandshake,
    #[error("{0}")]
    Core(#[from] CoreError),
    #[error("no data for {0:?}")]
    Idle(Duration),
    #[error("not publishing after {0:?}")]
    SetupTimeout(Duration),
    #[error("closed to make room for a new connection")]
    Evicted,
}

/// What the core asked for while reading, done in order once the read is handed over
/// (sending media awaits; the core does not).
enum Action {
    Published(Publication),
    Media(MediaEvent),
    Unpublished,
}

/// The core's [`CoreHandler`] in the server: asks the sink, queues the rest.
struct Actions<'a> {
    sink: &'a dyn PublishSink,
    queue: &'a mut Vec<Action>,
}

impl CoreHandler for Actions<'_> {
    fn publish(&mut self, request: PublishRequest) -> Result<(), Refusal> {
        let publication = self.sink.publish(request)?;
        self.queue.push(Action::Published(publication));
        Ok(())
    }

    fn media(&mut self, event: MediaEvent) {
        self.queue.push(Action::Media(event));
    }

    fn unpublish(&mut self) {
        self.queue.push(Action::Unpublished);
    }
}

struct Connection {
    options: Arc<RtmpServerOptions>,
    sink: Arc<dyn PublishSink>,
    shutdown: CancellationToken,
    /// Cancelled by the accept loop to make room.
    close: CancellationToken,
    publishing: Arc<AtomicBool>,
    publication: Option<Publication>,
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
fn next_read_tick() -> Instant {
    static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let origin = *ORIGIN.get_or_init(Instant::now);
    let tick = READ_TICK.as_nanos();
    let ticks = origin.elapsed().as_nanos() / tick + 1;
    origin + Duration::from_nanos((ticks * tick) as u64)
}

/// Bytes read from a socket per call: shared by the connections a worker thread runs (a
/// read is handed to the core before the next await), so it costs nothing per stream.
const SCRATCH: usize = 256 * 1024;

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

/// Reads what the socket holds, up to a scratch buffer at a time, and hands it to the core.
/// `WouldBlock` (spurious readiness) comes back as an error only when nothing was read.
/// What the core asked for is in `queue`, its replies in its output, also on an error.
fn drain(
    socket: &ConnSocket,
    core: &mut ServerCore,
    sink: &dyn PublishSink,
    queue: &mut Vec<Action>,
) -> Result<Drained, ConnError> {
    SCRATCH_BUF.with_borrow_mut(|buf| {
        let mut read_any = false;
        let mut handler = Actions { sink, queue };
        loop {
            match socket.try_read(buf) {
                Ok(0) if !read_any && core.received() == 0 => return Err(ConnError::NoHandshake),
                Ok(0) => return Ok(Drained::Closed),
                Ok(n) => {
                    read_any = true;
                    core.receive(&buf[..n], &mut handler)?;
                    if n < buf.len() {
                        return Ok(Drained::Open);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && read_any => {
                    return Ok(Drained::Open)
                }
                Err(e) => return Err(ConnError::Io(e)),
            }
        }
    })
}

impl Connection {
    async fn run(mut self, socket: TcpStream, mut core: ServerCore) -> Result<String, ConnError> {
        socket.set_nodelay(true)?;
        let mut socket = ConnSocket::new(socket);
        let setup = self.options.setup_timeout;
        let idle = self.options.idle_timeout;
        let setup_deadline = Instant::now() + setup;
        let mut published = false;
        let mut queue = Vec::new();
        loop {
            // Wait for bytes. A publisher's media waits in the socket until the next read
            // tick, where every connection drains what arrived (see `READ_TICK`); its socket
            // is detached meanwhile, so arriving bytes wake nobody (see `ConnSocket`).
            // Before and after a publish, bytes are read as they come: until the setup
            // deadline before the first publish, the idle timeout after one.
            let idle_deadline = Instant::now() + idle;
            let taken_over = self
                .publication
                .as_ref()
                .map(|p| p.cancel.clone())
                .unwrap_or_default();
            let drained = loop {
                let publishing = self.publication.is_some();
                let ready = async {
                    if publishing {
                        socket.detach()?;
                        // At the idle deadline, one last look at the socket.
                        tokio::time::sleep_until(next_read_tick().min(idle_deadline)).await;
                        Ok(())
                    } else {
                        let (deadline, error) = if published {
                            (idle_deadline, ConnError::Idle(idle))
                        } else {
                            (setup_deadline, ConnError::SetupTimeout(setup))
                        };
                        match tokio::time::timeout_at(deadline, socket.readable()).await {
                            Err(_) => Err(error),
                            Ok(r) => Ok(r?),
                        }
                    }
                };
                tokio::select! {
                    _ = self.shutdown.cancelled() => return Ok("server shutting down".into()),
                    _ = self.close.cancelled() => return Err(ConnError::Evicted),
                    _ = taken_over.cancelled() => return Ok("a new publisher took over this stream".into()),
                    r = ready => r?,
                };
                let result = drain(&socket, &mut core, &*self.sink, &mut queue);
                // Replies first (a refusal's onStatus must reach the peer before the close),
                // then what the core asked for.
                if core.has_output() {
                    socket.write_all(&core.take_output()).await?;
                    socket.flush().await?;
                }
                if let Some(reason) = self.act(&mut queue).await {
                    return Ok(reason);
                }
                published |= self.publication.is_some();
                match result {
                    Ok(d) => break d,
                    Err(ConnError::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        if publishing && Instant::now() >= idle_deadline {
                            return Err(ConnError::Idle(idle));
                        }
                    }
                    Err(e) => return Err(e),
                }
            };
            if drained == Drained::Closed {
                return Ok(match core.publishing() {
                    Some(label) => format!("publisher of {label} disconnected"),
                    None => "peer closed the connection".into(),
                });
            }
        }
    }

    /// Does what the core asked for, in order; `Some(reason)` ends the connection.
    async fn act(&mut self, queue: &mut Vec<Action>) -> Option<String> {
        for action in queue.drain(..) {
            match action {
                Action::Published(p) => {
                    self.publication = Some(p);
                    self.publishing.store(true, Ordering::Relaxed);
                }
                Action::Media(ev) => {
                    if let Some(p) = self.publication.as_mut() {
                        if p.media.send(ev).await.is_err() {
                            return Some("the recorder ended this stream".into());
                        }
                    }
                }
                Action::Unpublished => {
                    self.publication = None;
                    self.publishing.store(false, Ordering::Relaxed);
                }
            }
        }
        if self
            .publication
            .as_ref()
            .is_some_and(|p| p.media.is_closed())
        {
            return Some("the recorder ended this stream".into());
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use bytes::Bytes;
    use rml_amf0::Amf0Value;
    use rml_rtmp::chunk_io::{ChunkDeserializer, ChunkSerializer};
    use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
    use rml_rtmp::messages::{MessagePayload, RtmpMessage};
    use rml_rtmp::time::RtmpTimestamp;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
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
            let bytes = super::super::chunk::librtmp(&messages, stream_id, 128, repeat);
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

    #[tokio::test]
    async fn a_panicking_connection_task_is_reported_with_its_peer() {
        let mut tasks = JoinSet::new();
        let mut slots = HashMap::new();
        let peer: SocketAddr = "192.0.2.7:5000".parse().unwrap();
        let slot = || Slot {
            peer,
            since: Instant::now(),
            publishing: Arc::default(),
            close: CancellationToken::new(),
        };
        let handle = tasks.spawn(async { panic!("boom in a session") });
        slots.insert(handle.id(), slot());
        let quiet = tasks.spawn(async {});
        slots.insert(quiet.id(), slot());
        let mut panics = Vec::new();
        while let Some(done) = tasks.join_next_with_id().await {
            panics.extend(reap(&mut slots, done));
        }
        assert_eq!(panics, ["boom in a session"]);
        assert!(slots.is_empty());
    }

    fn slot(ip: &str, port: u16, age_ms: u64, publishing: bool) -> Slot {
        Slot {
            peer: SocketAddr::new(ip.parse().unwrap(), port),
            since: Instant::now() - Duration::from_millis(age_ms),
            publishing: Arc::new(AtomicBool::new(publishing)),
            close: CancellationToken::new(),
        }
    }

    /// Slots keyed by ids of real (finished) tasks.
    async fn slots(list: Vec<Slot>) -> HashMap<tokio::task::Id, Slot> {
        let mut tasks = JoinSet::new();
        let mut map = HashMap::new();
        for s in list {
            map.insert(tasks.spawn(async {}).id(), s);
        }
        tasks.join_all().await;
        map
    }

    #[tokio::test]
    async fn a_flood_gives_up_its_own_connections_and_publishers_keep_theirs() {
        let options = RtmpServerOptions {
            max_connections: 5,
            max_pending: 3,
            ..RtmpServerOptions::default()
        };
        let map = slots(vec![
            slot("10.0.0.9", 1, 900, false), // the flood's oldest
            slot("10.0.0.9", 2, 800, false),
            slot("10.0.0.1", 3, 1000, false), // a publisher, older, mid-handshake
            slot("10.0.0.2", 4, 5000, true),  // publishing: never closed for room
        ])
        .await;
        let mut log = LogEvery::new(Duration::from_secs(10));
        let newcomer: SocketAddr = "10.0.0.3:5".parse().unwrap();
        assert!(make_room(&map, &options, newcomer, &mut log));
        let closed: Vec<u16> = map
            .values()
            .filter(|s| s.close.is_cancelled())
            .map(|s| s.peer.port())
            .collect();
        assert_eq!(
            closed,
            vec![1],
            "the oldest of the address holding the most"
        );
        // Under both limits nothing is closed.
        assert!(make_room(&map, &options, newcomer, &mut log));
        assert_eq!(map.values().filter(|s| s.close.is_cancelled()).count(), 1);
    }

    #[tokio::test]
    async fn when_everyone_publishes_a_new_connection_is_refused() {
        let options = RtmpServerOptions {
            max_connections: 2,
            max_pending: 2,
            ..RtmpServerOptions::default()
        };
        let map = slots(vec![
            slot("10.0.0.1", 1, 10, true),
            slot("10.0.0.2", 2, 10, true),
        ])
        .await;
        let mut log = LogEvery::new(Duration::from_secs(10));
        assert!(!make_room(
            &map,
            &options,
            "10.0.0.3:3".parse().unwrap(),
            &mut log
        ));
        assert!(map.values().all(|s| !s.close.is_cancelled()));
    }

    #[test]
    fn key_guessers_are_ignored_until_their_bucket_refills() {
        let mut r = Refusals::default();
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        let other: IpAddr = "198.51.100.8".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..Refusals::BURST as usize {
            assert_eq!(r.ignoring(ip, t0), None);
            r.refused(ip, t0);
        }
        let wait = r.ignoring(ip, t0).expect("ignored after the burst");
        assert!(wait <= Refusals::REFILL, "{wait:?}");
        assert_eq!(r.ignoring(other, t0), None, "other addresses are not");
        assert_eq!(r.ignoring(ip, t0 + Refusals::REFILL), None, "one try back");
        r.refused(ip, t0 + Refusals::REFILL);
        assert!(r.ignoring(ip, t0 + Refusals::REFILL).is_some());
    }

    #[test]
    fn a_flood_of_warnings_becomes_one_line_with_a_count() {
        let mut log = LogEvery::new(Duration::from_secs(3600));
        assert_eq!(log.due(), Some(String::new()));
        for _ in 0..500 {
            assert_eq!(log.due(), None);
        }
        log.last = Some(Instant::now() - Duration::from_secs(3601));
        assert_eq!(
            log.due(),
            Some(" (500 more like this since the last such line)".into())
        );
    }
}
