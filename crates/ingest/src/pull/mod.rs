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
use tracing::{error, info, warn};

pub use flv::FlvSource;
pub use hls::{HlsSource, SeenSegments};
pub use rtmp::RtmpPullSource;

use crate::publish::{PublishRequest, PublishSink};
use crate::redact;

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
        Err(SourceError::UnsupportedUrl(redact::url(url)))
    }
}

/// Backoff between reconnects: 1 s doubling to 30 s, reset after a healthy session.
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Pulls `spec` until `shutdown`, reconnecting when the source drops.
///
/// Each session (connect, then publish until the source ends) runs as its own task, so a
/// panic inside it, in our code or in a dependency's, ends only that session: it is
/// caught here as the task's `JoinError`, logged with the URL (redacted), and the pull is
/// restarted after the same backoff as any other failure. A pull is never silently gone.
pub async fn run_pull(spec: PullSpec, sink: Arc<dyn PublishSink>, shutdown: CancellationToken) {
    supervise(spec, sink, shutdown, |url, seen| async move {
        connect(&url, &seen).await
    })
    .await
}

/// How one session ended.
enum SessionEnd {
    Shutdown,
    /// Connected, published for `ran`, then the source ended (`Ok`) or failed.
    Ran {
        ran: Duration,
        result: Result<(), SourceError>,
    },
    NotConnected(SourceError),
}

/// [`run_pull`] with the connecting step given: `open(url, seen)` for each attempt.
async fn supervise<O, F, S>(
    spec: PullSpec,
    sink: Arc<dyn PublishSink>,
    shutdown: CancellationToken,
    open: O,
) where
    O: Fn(String, SeenSegments) -> F,
    F: std::future::Future<Output = Result<S, SourceError>> + Send + 'static,
    S: Source + 'static,
{
    let url = redact::url(&spec.url);
    let stream = format!("{}/{}", spec.app, spec.stream);
    let mut backoff = BACKOFF_MIN;
    let seen = SeenSegments::default();
    loop {
        let opening = open(spec.url.clone(), seen.clone());
        let session = tokio::spawn(session(
            opening,
            spec.clone(),
            sink.clone(),
            shutdown.clone(),
        ));
        match session.await {
            Ok(SessionEnd::Shutdown) => return,
            Ok(SessionEnd::Ran { ran, result }) => {
                match result {
                    Ok(()) => {
                        info!(%url, %stream, "pull source ended; reconnecting in {backoff:?}")
                    }
                    Err(e) => {
                        warn!(%url, %stream, "pull dropped: {e}; reconnecting in {backoff:?}")
                    }
                }
                if ran > BACKOFF_MAX {
                    backoff = BACKOFF_MIN;
                }
            }
            Ok(SessionEnd::NotConnected(e)) => {
                warn!(%url, %stream, "pull could not connect: {e}; retrying in {backoff:?}")
            }
            Err(e) if e.is_panic() => {
                let panic = e.into_panic();
                let what = panic
                    .downcast_ref::<&str>()
                    .copied()
                    .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                    .unwrap_or("(no message)");
                error!(%url, %stream, "pull task panicked: {what}; restarting in {backoff:?}");
            }
            // Cancelled: the runtime is shutting down.
            Err(_) => return,
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// One session: connect, then publish until the source ends.
async fn session<F, S>(
    opening: F,
    spec: PullSpec,
    sink: Arc<dyn PublishSink>,
    shutdown: CancellationToken,
) -> SessionEnd
where
    F: std::future::Future<Output = Result<S, SourceError>>,
    S: Source,
{
    let connected = tokio::select! {
        _ = shutdown.cancelled() => return SessionEnd::Shutdown,
        r = opening => r,
    };
    match connected {
        Ok(source) => {
            info!(url = %redact::url(&spec.url), stream = %format!("{}/{}", spec.app, spec.stream), "pull connected");
            let started = tokio::time::Instant::now();
            let result = pump(source, &spec, &*sink, &shutdown).await;
            if shutdown.is_cancelled() {
                return SessionEnd::Shutdown;
            }
            SessionEnd::Ran {
                ran: started.elapsed(),
                result,
            }
        }
        Err(e) => SessionEnd::NotConnected(e),
    }
}

/// A reqwest error without the URL it carries (which may hold user-info or a signed
/// query), with its causes: the caller names the URL, redacted.
pub(crate) fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
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
        origin: format!("pull {}", redact::url(&spec.url)),
    };
    let mut publication = sink.publish(request).map_err(|e| SourceError::Stream {
        url: redact::url(&spec.url),
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

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Mutex;

    use super::*;
    use crate::publish::{MediaSender, Publication, Refusal};
    use tokio::time::Instant;

    /// A sink that accepts every publication and keeps the receivers open.
    #[derive(Default)]
    struct Keep(Mutex<Vec<tokio::sync::mpsc::Receiver<MediaEvent>>>);

    impl PublishSink for Keep {
        fn publish(&self, _: PublishRequest) -> Result<Publication, Refusal> {
            let (media, rx) = MediaSender::channel(16);
            self.0.lock().unwrap_or_else(|p| p.into_inner()).push(rx);
            Ok(Publication {
                media,
                cancel: CancellationToken::new(),
            })
        }
    }

    /// A source that panics on its first read, as a bug on hostile input would.
    struct Panicking;

    impl Source for Panicking {
        async fn read(&mut self, _: &mut Vec<MediaEvent>) -> Result<bool, SourceError> {
            panic!("hostile input reached an unwrap");
        }
    }

    /// Log lines, captured.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_panicking_pull_is_logged_and_restarted_with_backoff() {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _log = tracing::subscriber::set_default(subscriber);

        let spec = PullSpec {
            url: "https://alice:hunter2@cdn.example/live/a.flv?token=hunter3".into(),
            app: "live".into(),
            stream: "cam".into(),
        };
        let attempts = Arc::new(Mutex::new(Vec::new()));
        let seen = attempts.clone();
        let shutdown = CancellationToken::new();
        let start = Instant::now();
        let pull = tokio::spawn(supervise(
            spec,
            Arc::new(Keep::default()),
            shutdown.clone(),
            move |_, _| {
                seen.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(start.elapsed());
                async { Ok(Panicking) }
            },
        ));
        tokio::time::sleep(Duration::from_millis(15_500)).await;
        shutdown.cancel();
        pull.await.expect("the supervisor itself never panics");

        let at: Vec<u64> = attempts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|d| d.as_secs())
            .collect();
        // Restarted after 1, 2, 4 and 8 s: the same backoff as any failure.
        assert_eq!(at, [0, 1, 3, 7, 15]);
        let log = String::from_utf8_lossy(&lines.0.lock().unwrap_or_else(|p| p.into_inner()))
            .into_owned();
        assert_eq!(
            log.matches("pull task panicked: hostile input reached an unwrap")
                .count(),
            5,
            "{log}"
        );
        assert!(log.contains("https://cdn.example/live/a.flv"), "{log}");
        assert!(!log.contains("hunter") && !log.contains("alice"), "{log}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_pull_that_errors_is_retried_and_a_healthy_one_resets_the_backoff() {
        /// Reads nothing for `secs` seconds (a quiet but healthy source), then fails.
        struct Healthy(u32);
        impl Source for Healthy {
            async fn read(&mut self, _: &mut Vec<MediaEvent>) -> Result<bool, SourceError> {
                if self.0 == 0 {
                    return Err(SourceError::Stream {
                        url: "x".into(),
                        detail: "dropped".into(),
                    });
                }
                self.0 -= 1;
                tokio::time::sleep(Duration::from_secs(1)).await;
                Ok(true)
            }
        }
        let attempts = Arc::new(Mutex::new(Vec::new()));
        let seen = attempts.clone();
        let shutdown = CancellationToken::new();
        let start = Instant::now();
        let spec = PullSpec {
            url: "http://origin/live.flv".into(),
            app: "live".into(),
            stream: "cam".into(),
        };
        let pull = tokio::spawn(supervise(
            spec,
            Arc::new(Keep::default()),
            shutdown.clone(),
            move |_, _| {
                let mut v = seen.lock().unwrap_or_else(|p| p.into_inner());
                v.push(start.elapsed().as_secs());
                // The second session is healthy for 40 s.
                let secs = if v.len() == 2 { 40 } else { 0 };
                async move { Ok(Healthy(secs)) }
            },
        ));
        tokio::time::sleep(Duration::from_secs(60)).await;
        shutdown.cancel();
        pull.await.expect("no panic");
        let at = attempts.lock().unwrap_or_else(|p| p.into_inner()).clone();
        // 0: fails at once, retry after 1 s; 1: healthy until 41, then back to 1 s.
        assert_eq!(at[..4], [0, 1, 42, 44]);
    }
}
