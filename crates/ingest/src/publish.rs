//! The contract between a source and whatever records it.
//!
//! A source (an RTMP publisher, a remote pull) asks a [`PublishSink`] for a
//! [`Publication`] when a stream starts, sends [`MediaEvent`]s into it, and drops it when
//! the stream ends. The sink decides who may publish, and can take a publication away
//! (its `cancel` token) when a newer publisher takes the name over.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tapedeck_media::{MediaEvent, TrackKind};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What a source wants to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishRequest {
    pub app: String,
    pub stream: String,
    /// Query parameters of the publish URL (`callback_*` ones go into callbacks).
    pub args: Vec<(String, String)>,
    /// Who is publishing, for logs: `rtmp 127.0.0.1:53422` or `pull http://...`.
    pub origin: String,
}

/// Why a publish was refused. The RTMP server maps each to an `onStatus` code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("bad stream name: {0}")]
    BadName(String),
    #[error("wrong or missing publish key")]
    Unauthorized,
    #[error("refused: {0}")]
    Rejected(String),
}

/// An accepted stream.
#[derive(Debug)]
pub struct Publication {
    pub media: MediaSender,
    /// Cancelled by the sink when this publication must end (taken over, or shutdown).
    pub cancel: CancellationToken,
}

/// Receives new streams. Implemented by the recorder; tests use a simple collector.
pub trait PublishSink: Send + Sync + 'static {
    fn publish(&self, request: PublishRequest) -> Result<Publication, Refusal>;
}

/// How long a source waits for a slow consumer before dropping media.
pub const SEND_PATIENCE: Duration = Duration::from_secs(2);

/// The sending half of a publication's bounded media channel.
///
/// Back-pressure policy (never unbounded on a media path): when the recorder falls behind,
/// a source first waits up to [`SEND_PATIENCE`] (which slows the publisher down through
/// TCP); past that the event is dropped and counted, and video is then skipped until the
/// next key frame so what is recorded stays decodable. `dropped()` is reported as a health
/// figure.
#[derive(Debug)]
pub struct MediaSender {
    tx: mpsc::Sender<MediaEvent>,
    dropped: Arc<AtomicU64>,
    need_key_frame: bool,
}

/// The publication's media went away: the consumer ended it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the recorder closed this stream")]
pub struct Closed;

impl MediaSender {
    /// A bounded channel of `capacity` events.
    pub fn channel(capacity: usize) -> (MediaSender, mpsc::Receiver<MediaEvent>) {
        let (tx, rx) = mpsc::channel(capacity);
        (
            MediaSender {
                tx,
                dropped: Arc::new(AtomicU64::new(0)),
                need_key_frame: false,
            },
            rx,
        )
    }

    /// A handle on the count of dropped events.
    pub fn dropped_counter(&self) -> Arc<AtomicU64> {
        self.dropped.clone()
    }

    /// True once the consumer has gone away.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub async fn send(&mut self, event: MediaEvent) -> Result<(), Closed> {
        if self.need_key_frame {
            if let MediaEvent::Frame(f) = &event {
                if f.kind == TrackKind::Video && !f.keyframe {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
                if f.kind == TrackKind::Video {
                    self.need_key_frame = false;
                }
            }
        }
        match self.tx.send_timeout(event, SEND_PATIENCE).await {
            Ok(()) => Ok(()),
            Err(mpsc::error::SendTimeoutError::Closed(_)) => Err(Closed),
            Err(mpsc::error::SendTimeoutError::Timeout(ev)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                if matches!(&ev, MediaEvent::Frame(f) if f.kind == TrackKind::Video) {
                    self.need_key_frame = true;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use tapedeck_media::{Frame, MediaTime};

    fn video(ms: i64, key: bool) -> MediaEvent {
        let t = MediaTime::from_millis(ms);
        MediaEvent::Frame(Frame {
            kind: TrackKind::Video,
            dts: t,
            pts: t,
            keyframe: key,
            data: Bytes::new(),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn slow_consumer_drops_until_next_key_frame() {
        let (mut tx, mut rx) = MediaSender::channel(1);
        tx.send(video(0, true)).await.unwrap(); // fills the channel
        tx.send(video(33, false)).await.unwrap(); // waits 2 s (paused clock), then drops
        assert_eq!(tx.dropped(), 1);
        assert_eq!(rx.recv().await, Some(video(0, true)));
        tx.send(video(66, false)).await.unwrap(); // skipped: not a key frame
        assert_eq!(tx.dropped(), 2);
        tx.send(video(100, true)).await.unwrap();
        assert_eq!(rx.recv().await, Some(video(100, true)));
        drop(rx);
        assert_eq!(tx.send(video(133, true)).await, Err(Closed));
    }
}
