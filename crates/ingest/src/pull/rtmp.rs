//! RTMP pull: plays a remote `rtmp://host[:port]/app/stream` with `rml_rtmp`'s client.

use std::time::Duration;

use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ClientSession, ClientSessionConfig, ClientSessionEvent, ClientSessionResult,
};
use tapedeck_media::flv::tag::TagDecoder;
use tapedeck_media::MediaEvent;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing::{debug, warn};

use super::{Source, SourceError};
use crate::rtmp::panic_text;

/// A remote publisher that sends nothing for this long is treated as gone.
const IDLE: Duration = Duration::from_secs(15);

pub struct RtmpPullSource {
    url: String,
    socket: TcpStream,
    session: ClientSession,
    decoder: TagDecoder,
    buf: Vec<u8>,
    /// Media that arrived with the answer to `play` (sequence headers usually do): handed
    /// out by the first `read`.
    early: Vec<MediaEvent>,
    /// The server said the stream stopped (its publisher left).
    stopped: bool,
}

/// Splits `rtmp://host[:port]/app[/more]/stream` into (host:port, app, stream, tcUrl).
fn parse_url(url: &str) -> Option<(String, String, String, String)> {
    let rest = url.strip_prefix("rtmp://")?;
    let (host, path) = rest.split_once('/')?;
    let host = if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:1935")
    };
    let (app, stream) = path.rsplit_once('/')?;
    if app.is_empty() || stream.is_empty() {
        return None;
    }
    let tc_url = format!("rtmp://{host}/{app}");
    Some((host, app.to_string(), stream.to_string(), tc_url))
}

impl RtmpPullSource {
    pub async fn connect(url: &str) -> Result<RtmpPullSource, SourceError> {
        let err = |detail: String| SourceError::Connect {
            url: url.to_string(),
            detail,
        };
        let (host, app, stream, tc_url) =
            parse_url(url).ok_or_else(|| err("expected rtmp://host[:port]/app/stream".into()))?;
        let mut socket = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(&host))
            .await
            .map_err(|_| err("connection timed out".into()))?
            .map_err(|e| err(e.to_string()))?;
        socket.set_nodelay(true).map_err(|e| err(e.to_string()))?;

        let mut handshake = Handshake::new(PeerType::Client);
        let p0p1 = handshake
            .generate_outbound_p0_and_p1()
            .map_err(|e| err(format!("handshake: {e:?}")))?;
        socket
            .write_all(&p0p1)
            .await
            .map_err(|e| err(e.to_string()))?;
        let mut buf = vec![0u8; 64 * 1024];
        let leftover = loop {
            let n = tokio::time::timeout(IDLE, socket.read(&mut buf))
                .await
                .map_err(|_| err("handshake timed out".into()))?
                .map_err(|e| err(e.to_string()))?;
            if n == 0 {
                return Err(err("closed during the handshake".into()));
            }
            match handshake
                .process_bytes(&buf[..n])
                .map_err(|e| err(format!("handshake: {e:?}")))?
            {
                HandshakeProcessResult::InProgress { response_bytes } => socket
                    .write_all(&response_bytes)
                    .await
                    .map_err(|e| err(e.to_string()))?,
                HandshakeProcessResult::Completed {
                    response_bytes,
                    remaining_bytes,
                } => {
                    socket
                        .write_all(&response_bytes)
                        .await
                        .map_err(|e| err(e.to_string()))?;
                    break remaining_bytes;
                }
            }
        };
        let mut config = ClientSessionConfig::new();
        config.tc_url = Some(tc_url);
        let (session, initial) = ClientSession::new(config).map_err(|e| err(format!("{e:?}")))?;
        let mut source = RtmpPullSource {
            url: url.to_string(),
            socket,
            session,
            decoder: TagDecoder::new(),
            buf,
            early: Vec::new(),
            stopped: false,
        };
        source.send(initial).await?;
        let request = source
            .session
            .request_connection(app)
            .map_err(|e| err(format!("{e:?}")))?;
        source.send(vec![request]).await?;
        // Drive the session until playback is accepted.
        let mut pending = leftover;
        let mut playing = false;
        let mut events = Vec::new();
        while !playing {
            if pending.is_empty() {
                let n = tokio::time::timeout(IDLE, source.socket.read(&mut source.buf))
                    .await
                    .map_err(|_| err("no answer to connect/play".into()))?
                    .map_err(|e| err(e.to_string()))?;
                if n == 0 {
                    return Err(err(
                        "server closed the connection before playback started".into()
                    ));
                }
                pending.extend_from_slice(&source.buf[..n]);
            }
            let results = guarded_input(&mut source.session, &pending).map_err(err)?;
            pending.clear();
            for r in results {
                match r {
                    ClientSessionResult::OutboundResponse(p) => source
                        .socket
                        .write_all(&p.bytes)
                        .await
                        .map_err(|e| err(e.to_string()))?,
                    ClientSessionResult::RaisedEvent(
                        ClientSessionEvent::ConnectionRequestAccepted,
                    ) => {
                        let play = source
                            .session
                            .request_playback(stream.clone())
                            .map_err(|e| err(format!("{e:?}")))?;
                        source.send(vec![play]).await?;
                    }
                    ClientSessionResult::RaisedEvent(
                        ClientSessionEvent::ConnectionRequestRejected { description },
                    ) => {
                        return Err(err(format!("connect rejected: {description}")));
                    }
                    ClientSessionResult::RaisedEvent(
                        ClientSessionEvent::PlaybackRequestAccepted,
                    ) => playing = true,
                    ClientSessionResult::RaisedEvent(ev) => source.media(ev, &mut events),
                    ClientSessionResult::UnhandleableMessageReceived(_) => {}
                }
            }
        }
        source.early = events;
        Ok(source)
    }

    async fn send(&mut self, results: Vec<ClientSessionResult>) -> Result<(), SourceError> {
        for r in results {
            if let ClientSessionResult::OutboundResponse(p) = r {
                self.socket
                    .write_all(&p.bytes)
                    .await
                    .map_err(|e| SourceError::Stream {
                        url: self.url.clone(),
                        detail: e.to_string(),
                    })?;
            }
        }
        Ok(())
    }

    fn media(&mut self, event: ClientSessionEvent, out: &mut Vec<MediaEvent>) {
        let result = match event {
            ClientSessionEvent::VideoDataReceived {
                data, timestamp, ..
            } => self.decoder.video(timestamp.value, data, out),
            ClientSessionEvent::AudioDataReceived {
                data, timestamp, ..
            } => self.decoder.audio(timestamp.value, data, out),
            ClientSessionEvent::UnhandleableOnStatusCode { code } => {
                // nginx-rtmp and SRS keep a player connected when the publisher leaves
                // and say so with these codes: the stream has ended for us.
                if matches!(
                    code.as_str(),
                    "NetStream.Play.UnpublishNotify"
                        | "NetStream.Play.Stop"
                        | "NetStream.Play.StreamNotFound"
                ) {
                    debug!(url = %self.url, %code, "remote stream stopped");
                    self.stopped = true;
                }
                Ok(())
            }
            other => {
                debug!(url = %self.url, "RTMP pull event: {other:?}");
                Ok(())
            }
        };
        if let Err(e) = result {
            warn!(url = %self.url, "skipping a bad packet: {e}");
        }
    }
}

impl Source for RtmpPullSource {
    async fn read(&mut self, out: &mut Vec<MediaEvent>) -> Result<bool, SourceError> {
        if !self.early.is_empty() {
            out.append(&mut self.early);
            return Ok(true);
        }
        let stream_err = |url: &str, detail: String| SourceError::Stream {
            url: url.to_string(),
            detail,
        };
        let n = match tokio::time::timeout(IDLE, self.socket.read(&mut self.buf)).await {
            Err(_) => return Err(stream_err(&self.url, format!("no data for {IDLE:?}"))),
            Ok(r) => r.map_err(|e| stream_err(&self.url, e.to_string()))?,
        };
        if n == 0 {
            return Ok(false);
        }
        let input = self.buf[..n].to_vec();
        let results =
            guarded_input(&mut self.session, &input).map_err(|e| stream_err(&self.url, e))?;
        let mut outbound = Vec::new();
        for r in results {
            match r {
                ClientSessionResult::OutboundResponse(_) => outbound.push(r),
                ClientSessionResult::RaisedEvent(ev) => self.media(ev, out),
                ClientSessionResult::UnhandleableMessageReceived(m) => {
                    debug!(url = %self.url, type_id = m.type_id, "RTMP pull: unhandled message");
                }
            }
        }
        self.send(outbound).await?;
        Ok(!self.stopped)
    }
}

/// `handle_input` with `rml_rtmp`'s panics on hostile input turned into errors, so a bad
/// remote server ends only this pull (which then reconnects).
fn guarded_input(
    session: &mut ClientSession,
    bytes: &[u8],
) -> Result<Vec<ClientSessionResult>, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| session.handle_input(bytes))) {
        Ok(r) => r.map_err(|e| format!("{e:?}")),
        Err(payload) => Err(format!(
            "rml_rtmp panicked on this input: {}",
            panic_text(payload.as_ref())
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_url;

    #[test]
    fn splits_rtmp_urls() {
        assert_eq!(
            parse_url("rtmp://example.com/live/cam1"),
            Some((
                "example.com:1935".into(),
                "live".into(),
                "cam1".into(),
                "rtmp://example.com:1935/live".into()
            ))
        );
        assert_eq!(
            parse_url("rtmp://h:19350/a/b/c").map(|p| (p.1, p.2)),
            Some(("a/b".into(), "c".into()))
        );
        assert_eq!(parse_url("rtmp://h/onlyapp"), None);
        assert_eq!(parse_url("http://h/a/b"), None);
    }
}
