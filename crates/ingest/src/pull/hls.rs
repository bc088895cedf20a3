//! HLS pull: follows a live media playlist (or the best variant of a master playlist),
//! fetches new MPEG-TS segments in order and demuxes them.

use std::collections::VecDeque;
use std::time::Duration;

use m3u8_rs::Playlist;
use reqwest::Url;
use tapedeck_media::ts::demux::TsDemuxer;
use tapedeck_media::MediaEvent;

use super::{Source, SourceError};

/// Segments taken from a live playlist when joining: close to the live edge, like players.
const LIVE_EDGE_SEGMENTS: usize = 3;

/// Segment URIs already recorded, remembered across reconnects so that re-reading a
/// playlist (after a network error, or one that has ended) never records a segment twice.
#[derive(Clone, Debug, Default)]
pub struct SeenSegments(std::sync::Arc<std::sync::Mutex<VecDeque<String>>>);

impl SeenSegments {
    const KEEP: usize = 4096;

    fn contains(&self, uri: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|u| u == uri)
    }

    fn insert(&self, uri: String) {
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= Self::KEEP {
            seen.pop_front();
        }
        seen.push_back(uri);
    }

    fn is_empty(&self) -> bool {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).is_empty()
    }
}

pub struct HlsSource {
    url: String,
    playlist_url: Url,
    client: reqwest::Client,
    demuxer: TsDemuxer,
    queue: VecDeque<(u64, Url)>,
    /// Media sequence number of the last segment queued.
    last_queued: Option<u64>,
    ended: bool,
    target_duration: Duration,
    seen: SeenSegments,
}

impl HlsSource {
    /// Opens `url`; `seen` carries what earlier connections already recorded.
    pub async fn connect(url: &str, seen: SeenSegments) -> Result<HlsSource, SourceError> {
        let err = |detail: String| SourceError::Connect {
            url: url.to_string(),
            detail,
        };
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| err(e.to_string()))?;
        let mut playlist_url = Url::parse(url).map_err(|e| err(e.to_string()))?;
        // A master playlist: take the variant with the highest bandwidth.
        let text = fetch(&client, &playlist_url).await.map_err(err)?;
        if let Ok(Playlist::MasterPlaylist(master)) = m3u8_rs::parse_playlist_res(&text) {
            let best = master
                .variants
                .iter()
                .filter(|v| !v.is_i_frame)
                .max_by_key(|v| v.bandwidth)
                .ok_or_else(|| err("master playlist has no variants".into()))?;
            playlist_url = playlist_url
                .join(&best.uri)
                .map_err(|e| err(e.to_string()))?;
        }
        let mut source = HlsSource {
            url: url.to_string(),
            playlist_url,
            client,
            demuxer: TsDemuxer::new(),
            queue: VecDeque::new(),
            last_queued: None,
            ended: false,
            target_duration: Duration::from_secs(2),
            seen,
        };
        source.refresh().await?;
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

    /// Re-reads the media playlist and queues segments not seen before.
    async fn refresh(&mut self) -> Result<(), SourceError> {
        let text = fetch(&self.client, &self.playlist_url)
            .await
            .map_err(|e| self.err(e))?;
        let playlist = match m3u8_rs::parse_playlist_res(&text) {
            Ok(Playlist::MediaPlaylist(p)) => p,
            Ok(Playlist::MasterPlaylist(_)) => {
                return Err(self.err("expected a media playlist, got a master playlist".into()))
            }
            Err(e) => return Err(self.err(format!("not a playlist: {e:?}"))),
        };
        self.target_duration = Duration::from_secs(playlist.target_duration.max(1));
        self.ended = playlist.end_list;
        let first_seq = playlist.media_sequence;
        let count = playlist.segments.len();
        // Joining a live stream for the first time: start near the live edge. After a
        // reconnect, everything not yet recorded is taken.
        let skip = match self.last_queued {
            None if !playlist.end_list && self.seen.is_empty() => {
                count.saturating_sub(LIVE_EDGE_SEGMENTS)
            }
            _ => 0,
        };
        for (i, seg) in playlist.segments.iter().enumerate().skip(skip) {
            let seq = first_seq + i as u64;
            if self.last_queued.is_some_and(|last| seq <= last) {
                continue;
            }
            let url = self
                .playlist_url
                .join(&seg.uri)
                .map_err(|e| self.err(format!("segment URI {:?}: {e}", seg.uri)))?;
            self.last_queued = Some(seq);
            if !self.seen.contains(url.as_str()) {
                self.queue.push_back((seq, url));
            }
        }
        Ok(())
    }
}

async fn fetch(client: &reqwest::Client, url: &Url) -> Result<Vec<u8>, String> {
    let response = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("{url}: HTTP {}", response.status()));
    }
    Ok(response.bytes().await.map_err(|e| e.to_string())?.to_vec())
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
            if let Some((seq, url)) = self.queue.pop_front() {
                let start = out.len();
                let bytes = fetch(&self.client, &url)
                    .await
                    .map_err(|e| self.err(format!("segment {seq}: {e}")))?;
                self.seen.insert(url.to_string());
                self.demuxer
                    .push(&bytes, out)
                    .map_err(|e| self.err(format!("segment {seq}: {e}")))?;
                self.demuxer
                    .flush(out)
                    .map_err(|e| self.err(format!("segment {seq}: {e}")))?;
                interleave(&mut out[start..]);
                return Ok(true);
            }
            if self.ended {
                return Ok(false);
            }
            // RFC 8216 6.3.4: reload no sooner than half the target duration when nothing
            // new appeared.
            tokio::time::sleep(self.target_duration / 2).await;
            self.refresh().await?;
        }
    }
}
