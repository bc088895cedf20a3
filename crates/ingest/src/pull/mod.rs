//! Remote pulls: a `rtmp://`, HTTP-FLV or HLS URL recorded exactly like a pushed stream.
//!
//! A [`Source`] yields media; [`run_pull`] connects, publishes into the sink under the
//! configured AppName/StreamName, and reconnects with exponential backoff when the source
//! drops. While it reconnects the recording waits within its interruption window, so a
//! short outage stays one recording with a discontinuity.

mod flv;
mod hls;
mod rtmp;

use std::sync::Arc;
use std::time::Duration;

use tapedeck_media::MediaEvent;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

pub use flv::FlvSource;
pub use hls::{HlsSource, SeenSegments};
pub use rtmp::RtmpPullSource;

use crate::publish::{PublishRequest, PublishSink};

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{url}: {detail}")]
    Connect { url: String, detail: String },
    #[error("{url}: {detail}")]
    Stream { url: String, detail: String },
    #[error("{0}: unsupported URL; use rtmp://, http(s)://...flv or http(s)://...m3u8")]
    UnsupportedUrl(String),
}

/// A stream of media from somewhere. `read` appends what arrived and returns `false` once
/// the source has ended cleanly.
pub trait Source: Send {
    fn read(
        &mut self,
        out: &mut Vec<MediaEvent>,
    ) -> impl std::future::Future<Output = Result<bool, SourceError>> + Send;
}

/// What to pull and under which name to record it.
#[derive(Clone, Debug)]
pub struct PullSpec {
    pub url: String,
    pub app: String,
    pub stream: String,
}

/// One of the pull sources, chosen by URL.
pub enum AnySource {
    Flv(FlvSource),
    /// Boxed: the playlist state is the largest source by far.
    Hls(Box<HlsSource>),
    Rtmp(RtmpPullSource),
}

impl Source for AnySource {
    async fn read(&mut self, out: &mut Vec<MediaEvent>) -> Result<bool, SourceError> {
        match self {
            AnySource::Flv(s) => s.read(out).await,
            AnySource::Hls(s) => s.read(out).await,
            AnySource::Rtmp(s) => s.read(out).await,
        }
    }
}

/// Opens the right source for `url`. `seen` remembers HLS segments across reconnects.
pub async fn connect(url: &str, seen: &SeenSegments) -> Result<AnySource, SourceError> {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .to_ascii_lowercase();
    if url.starts_with("rtmp://") {
        Ok(AnySource::Rtmp(RtmpPullSource::connect(url).await?))
    } else if (url.starts_with("http://") || url.starts_with("https://")) && path.ends_with(".m3u8")
    {
        Ok(AnySource::Hls(Box::new(
            HlsSource::connect(url, seen.clone()).await?,
        )))
    } else if url.starts_with("http://") || url.starts_with("https://") {
        Ok(AnySource::Flv(FlvSource::connect_http(url).await?))
    } else {
        Err(SourceError::UnsupportedUrl(url.to_string()))
    }
}

/// Backoff between reconnects: 1 s doubling to 30 s, reset after a healthy session.
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Pulls `spec` until `shutdown`, reconnecting when the source drops.
pub async fn run_pull(spec: PullSpec, sink: Arc<dyn PublishSink>, shutdown: CancellationToken) {
    let mut backoff = BACKOFF_MIN;
    let seen = SeenSegments::default();
    loop {
        let connected = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = connect(&spec.url, &seen) => r,
        };
        match connected {
            Ok(source) => {
                info!(url = %spec.url, stream = %format!("{}/{}", spec.app, spec.stream), "pull connected");
                let started = tokio::time::Instant::now();
                match pump(source, &spec, &*sink, &shutdown).await {
                    Ok(()) => info!(url = %spec.url, "pull source ended"),
                    Err(e) => warn!(url = %spec.url, "pull dropped: {e}"),
                }
                if started.elapsed() > BACKOFF_MAX {
                    backoff = BACKOFF_MIN;
                }
            }
            Err(e) => {
                warn!(url = %spec.url, "pull could not connect: {e}; retrying in {backoff:?}")
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// Publishes one connected source until it ends.
pub async fn pump<S: Source>(
    mut source: S,
    spec: &PullSpec,
    sink: &dyn PublishSink,
    shutdown: &CancellationToken,
) -> Result<(), SourceError> {
    let request = PublishRequest {
        app: spec.app.clone(),
        stream: spec.stream.clone(),
        args: Vec::new(),
        origin: format!("pull {}", spec.url),
    };
    let mut publication = sink.publish(request).map_err(|e| SourceError::Stream {
        url: spec.url.clone(),
        detail: e.to_string(),
    })?;
    let mut events = Vec::new();
    loop {
        let more = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = publication.cancel.cancelled() => return Ok(()),
            r = source.read(&mut events) => r?,
        };
        for ev in events.drain(..) {
            if publication.media.send(ev).await.is_err() {
                return Ok(());
            }
        }
        if !more {
            return Ok(());
        }
    }
}
