//! HLS pull: follows a live media playlist (or the best variant of a master playlist),
//! fetches new MPEG-TS segments in order and demuxes them.
//!
//! Which segments to fetch, and when to reload, is decided sans-IO by
//! [`tapedeck_media::hls::follow::Follower`] (limits and policies are documented there);
//! this module only fetches. Bodies are read incrementally and dropped past their limit:
//! a playlist at [`MAX_PLAYLIST_BYTES`], a segment at [`MAX_SEGMENT_BYTES`] (a segment is
//! demuxed as it arrives, never held whole).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Url;
use tapedeck_media::hls::follow::{Follower, MediaUpdate, Segment, Update, MAX_PLAYLIST_BYTES};
use tapedeck_media::ts::demux::TsDemuxer;
use tapedeck_media::MediaEvent;
use tracing::warn;

use super::{describe, Source, SourceError};
use crate::redact;

/// Largest segment fetched: a few seconds of even 4K video is tens of MB.
pub const MAX_SEGMENT_BYTES: u64 = 256 << 20;

/// What a pull remembers across reconnects: the segments already recorded, so that
/// re-reading a playlist (after a network error, or one that has ended) never records a
/// segment twice.
#[derive(Clone, Debug, Default)]
pub struct SeenSegments(Arc<Mutex<Follower>>);

impl SeenSegments {
    fn with<T>(&self, f: impl FnOnce(&mut Follower) -> T) -> T {
        // A pull task that panicked while holding the lock left a usable follower: its
        // state changes are made after every check.
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

pub struct HlsSource {
    /// The pull URL, redacted, for messages.
    url: String,
    playlist_url: Url,
    client: reqwest::Client,
    demuxer: TsDemuxer,
    queue: VecDeque<Segment>,
    ended: bool,
    reload_after: Duration,
    seen: SeenSegments,
    /// [`MAX_SEGMENT_BYTES`] (smaller in tests).
    max_segment: u64,
}

impl HlsSource {
    /// Opens `url`; `seen` carries what earlier connections already recorded.
    pub async fn connect(url: &str, seen: SeenSegments) -> Result<HlsSource, SourceError> {
        let shown = redact::url(url);
        let err = |detail: String| SourceError::Connect {
            url: shown.clone(),
            detail,
        };
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| err(describe(e)))?;
        let playlist_url = Url::parse(url).map_err(|e| err(e.to_string()))?;
        seen.with(Follower::reconnected);
        let mut source = HlsSource {
            url: shown.clone(),
            playlist_url,
            client,
            demuxer: TsDemuxer::new(),
            queue: VecDeque::new(),
            ended: false,
            reload_after: Duration::from_secs(1),
            seen,
            max_segment: MAX_SEGMENT_BYTES,
        };
        let first = source.load().await.map_err(|e| err(e.to_string()))?;
        let update = match first {
            // A master playlist: its variant once (the follower refuses a second master).
            Update::Variant(variant) => {
                source.playlist_url = variant;
                source.load().await.map_err(|e| err(e.to_string()))?
            }
            media => media,
        };
        match update {
            Update::Media(m) => source.take(m),
            Update::Variant(_) => return Err(err("a master playlist leads to another".into())),
        }
        if source.ended && source.queue.is_empty() {
            return Err(err(
                "the playlist has ended and every segment is already recorded".into(),
            ));
        }
        Ok(source)
    }

    fn err(&self, detail: String) -> SourceError {
        SourceError::Stream {
            url: self.url.clone(),
            detail,
        }
    }

    /// Fetches the playlist and hands it to the follower.
    async fn load(&mut self) -> Result<Update, SourceError> {
        let body = fetch_limited(&self.client, &self.playlist_url, MAX_PLAYLIST_BYTES as u64)
            .await
            .map_err(|e| self.err(format!("playlist {e}")))?;
        let url = &self.playlist_url;
        self.seen
            .with(|f| f.update(url, &body))
            .map_err(|e| self.err(format!("playlist {}: {e}", redact::url(url.as_str()))))
    }

    fn take(&mut self, m: MediaUpdate) {
        if let Some((from, to)) = m.restarted {
            warn!(url = %self.url, "the playlist's numbering went back from {from} to {to} with new segments: taken as a restart");
        }
        self.ended = m.ended;
        self.reload_after = m.reload_after;
        self.queue.extend(m.segments);
    }

    /// Re-reads the media playlist and queues segments not seen before.
    async fn refresh(&mut self) -> Result<(), SourceError> {
        match self.load().await? {
            Update::Media(m) => {
                self.take(m);
                Ok(())
            }
            Update::Variant(_) => {
                Err(self.err("expected a media playlist, got a master playlist".into()))
            }
        }
    }

    /// Fetches one segment into the demuxer as it arrives.
    async fn segment(&mut self, url: &Url, out: &mut Vec<MediaEvent>) -> Result<(), String> {
        let mut response = get(&self.client, url).await?;
        let mut read = 0u64;
        while let Some(chunk) = response.chunk().await.map_err(describe)? {
            read += chunk.len() as u64;
            if read > self.max_segment {
                return Err(format!(
                    "larger than the {} bytes allowed; stopped reading",
                    self.max_segment
                ));
            }
            self.demuxer.push(&chunk, out).map_err(|e| e.to_string())?;
        }
        self.demuxer.flush(out).map_err(|e| e.to_string())
    }
}

/// Sends a GET and checks the status and any announced length.
async fn get(client: &reqwest::Client, url: &Url) -> Result<reqwest::Response, String> {
    let response = client.get(url.clone()).send().await.map_err(describe)?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    Ok(response)
}

/// The body at `url`, read incrementally, refused past `max` bytes (announced or read).
async fn fetch_limited(client: &reqwest::Client, url: &Url, max: u64) -> Result<Vec<u8>, String> {
    let shown = redact::url(url.as_str());
    let mut response = get(client, url)
        .await
        .map_err(|e| format!("{shown}: {e}"))?;
    let too_large = |n: u64| format!("{shown}: {n} bytes or more, larger than the {max} allowed");
    if let Some(len) = response.content_length().filter(|&len| len > max) {
        return Err(too_large(len));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("{shown}: {}", describe(e)))?
    {
        let len = (body.len() + chunk.len()) as u64;
        if len > max {
            return Err(too_large(len));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Puts a segment's events in decode order across tracks: a demuxer emits each PES as it
/// completes, so a segment's video can come out before its audio. Configs go first (they
/// only need to precede their frames); frames are stably sorted by DTS.
fn interleave(events: &mut [MediaEvent]) {
    events.sort_by_key(|e| match e {
        MediaEvent::Frame(f) => (1, f.dts),
        _ => (0, tapedeck_media::MediaTime::ZERO),
    });
}

impl Source for HlsSource {
    async fn read(&mut self, out: &mut Vec<MediaEvent>) -> Result<bool, SourceError> {
        loop {
            if let Some(Segment { seq, url }) = self.queue.pop_front() {
                let start = out.len();
                self.segment(&url, out).await.map_err(|e| {
                    self.err(format!(
                        "segment {seq} ({}): {e}",
                        redact::url(url.as_str())
                    ))
                })?;
                self.seen.with(|f| f.fetched(&url));
                interleave(&mut out[start..]);
                return Ok(true);
            }
            if self.ended {
                return Ok(false);
            }
            // RFC 8216 6.3.4: reload no sooner than half the target duration when nothing
            // new appeared (bounded by the follower).
            tokio::time::sleep(self.reload_after).await;
            self.refresh().await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// An HTTP server answering playlist requests with `body` (and, when `announce`, its
    /// length) and segment requests with `segment`; returns the playlist URL.
    async fn serve(body: Vec<u8>, announce: bool) -> String {
        serve_with(body, announce, Vec::new()).await
    }

    async fn serve_with(body: Vec<u8>, announce: bool, segment: Vec<u8>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (playlist, segment) = (body.clone(), segment.clone());
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    let n = socket.read(&mut request).await.unwrap_or(0);
                    let line = String::from_utf8_lossy(&request[..n]);
                    let wants_playlist = line
                        .split_whitespace()
                        .nth(1)
                        .is_some_and(|p| p.split('?').next().unwrap_or("").ends_with(".m3u8"));
                    let body = if wants_playlist { playlist } else { segment };
                    let head = if announce {
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                    } else {
                        "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_string()
                    };
                    let _ = socket.write_all(head.as_bytes()).await;
                    let _ = socket.write_all(&body).await;
                });
            }
        });
        format!("http://user:secret@{addr}/live/index.m3u8?token=hunter2")
    }

    #[tokio::test]
    async fn a_playlist_past_the_limit_is_refused_naming_the_url_and_the_limit() {
        for announce in [true, false] {
            let url = serve(vec![b'#'; MAX_PLAYLIST_BYTES + 10], announce).await;
            let Err(e) = HlsSource::connect(&url, SeenSegments::default()).await else {
                panic!("a playlist past the limit was read");
            };
            let e = e.to_string();
            assert!(e.contains(&MAX_PLAYLIST_BYTES.to_string()), "{e}");
            assert!(e.contains("/live/index.m3u8"), "{e}");
            assert!(!e.contains("secret") && !e.contains("hunter2"), "{e}");
        }
    }

    #[tokio::test]
    async fn a_playlist_within_the_limit_is_read() {
        let playlist = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n#EXT-X-ENDLIST\n";
        let url = serve(playlist.as_bytes().to_vec(), false).await;
        let source = HlsSource::connect(&url, SeenSegments::default())
            .await
            .map_err(|e| e.to_string())
            .expect("connects");
        assert_eq!(source.queue.len(), 1);
        assert!(source.ended);
        assert_eq!(source.queue[0].url.path(), "/live/a.ts");
    }

    #[tokio::test]
    async fn a_segment_past_the_limit_is_dropped_with_an_error() {
        let playlist =
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts?sig=hunter3\n#EXT-X-ENDLIST\n";
        // 4096 TS null packets.
        let mut ts = Vec::new();
        for _ in 0..4096 {
            ts.extend_from_slice(&[0x47, 0x1f, 0xff, 0x10]);
            ts.resize(ts.len() + 184, 0xff);
        }
        let url = serve_with(playlist.as_bytes().to_vec(), false, ts).await;
        let mut source = HlsSource::connect(&url, SeenSegments::default())
            .await
            .map_err(|e| e.to_string())
            .expect("connects");
        source.max_segment = 100 * 188;
        let Err(e) = source.read(&mut Vec::new()).await else {
            panic!("a segment past the limit was read");
        };
        let e = e.to_string();
        assert!(e.contains("segment 0") && e.contains("18800 bytes"), "{e}");
        assert!(!e.contains("hunter"), "{e}");
        // Within the limit the same segment is read whole.
        let url = serve_with(playlist.as_bytes().to_vec(), false, vec![0x47; 0]).await;
        let mut source = HlsSource::connect(&url, SeenSegments::default())
            .await
            .map_err(|e| e.to_string())
            .expect("connects");
        assert!(source
            .read(&mut Vec::new())
            .await
            .map_err(|e| e.to_string())
            .expect("reads"));
    }
}
