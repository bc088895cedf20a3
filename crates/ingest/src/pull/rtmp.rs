//! RTMP pull: plays a remote `rtmp://host[:port]/app/stream` through our sans-IO client
//! ([`crate::rtmp::client::ClientCore`]), whose chunk reader and AMF pre-scan keep a hostile
//! server from doing more than ending this pull.

use std::time::Duration;

use tapedeck_media::MediaEvent;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing::{debug, warn};

use super::{Source, SourceError};
use crate::redact;
use crate::rtmp::client::ClientCore;

/// A remote publisher that sends nothing for this long is treated as gone.
const IDLE: Duration = Duration::from_secs(15);

pub struct RtmpPullSource {
    url: String,
    socket: TcpStream,
    /// Boxed: its handshake state is a few KB, and sources move.
    core: Box<ClientCore>,
    buf: Vec<u8>,
    /// Media that arrived with the answer to `play` (sequence headers usually do): handed
    /// out by the first `read`.
    early: Vec<MediaEvent>,
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
            url: redact::url(url),
            detail,
        };
        let (host, app, stream, tc_url) =
            parse_url(url).ok_or_else(|| err("expected rtmp://host[:port]/app/stream".into()))?;
        let mut socket = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(&host))
            .await
            .map_err(|_| err("connection timed out".into()))?
            .map_err(|e| err(e.to_string()))?;
        socket.set_nodelay(true).map_err(|e| err(e.to_string()))?;
        let mut core =
            Box::new(ClientCore::new(&app, &stream, &tc_url).map_err(|e| err(e.to_string()))?);
        let mut buf = vec![0u8; 64 * 1024];
        let mut early = Vec::new();
        // Drive the exchange until the server starts playback.
        while !core.playing() {
            let out = core.take_output();
            if !out.is_empty() {
                socket
                    .write_all(&out)
                    .await
                    .map_err(|e| err(e.to_string()))?;
            }
            let n = tokio::time::timeout(IDLE, socket.read(&mut buf))
                .await
                .map_err(|_| err("no answer to connect/play".into()))?
                .map_err(|e| err(e.to_string()))?;
            if n == 0 {
                return Err(err(
                    "server closed the connection before playback started".into()
                ));
            }
            core.receive(&buf[..n], &mut early)
                .map_err(|e| err(e.to_string()))?;
        }
        let out = core.take_output();
        socket
            .write_all(&out)
            .await
            .map_err(|e| err(e.to_string()))?;
        Ok(RtmpPullSource {
            // For messages only: without user-info or query (they may hold secrets).
            url: redact::url(url),
            socket,
            core,
            buf,
            early,
        })
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
        self.core
            .receive(&self.buf[..n], out)
            .map_err(|e| stream_err(&self.url, e.to_string()))?;
        for bad in self.core.bad_packets.drain(..) {
            warn!(url = %self.url, "skipping a bad packet: {bad}");
        }
        let reply = self.core.take_output();
        if !reply.is_empty() {
            self.socket
                .write_all(&reply)
                .await
                .map_err(|e| stream_err(&self.url, e.to_string()))?;
        }
        if let Some(code) = self.core.stopped() {
            debug!(url = %self.url, %code, "remote stream stopped");
            return Ok(false);
        }
        Ok(true)
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
