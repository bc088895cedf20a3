//! The upload bandwidth cap, and a request body that honours it while counting what it sent.
//!
//! The cap is shared by every upload of a profile: bytes are reserved in 16 KiB chunks on one
//! clock, so four uploads at once share the rate instead of each taking it. Sending
//! smoothly (never more than 100 ms of credit at once) keeps the live stream that leaves
//! through the same connection from stalling behind a burst.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::Instant;

/// Bytes handed to the connection at a time.
pub const CHUNK: usize = 16 * 1024;

/// How far ahead of the rate a sender may run (a burst).
const CREDIT: Duration = Duration::from_millis(100);

/// A rate shared by many senders.
#[derive(Debug)]
pub struct Throttle {
    bytes_per_sec: f64,
    /// When the bytes reserved so far will have gone out at the rate.
    next_free: Mutex<Instant>,
}

impl Throttle {
    pub fn new(bytes_per_sec: u64) -> Throttle {
        Throttle {
            bytes_per_sec: bytes_per_sec.max(1) as f64,
            next_free: Mutex::new(Instant::now()),
        }
    }

    /// Reserves `n` bytes; returns when they may be sent.
    pub fn reserve(&self, n: usize) -> Instant {
        let now = Instant::now();
        let mut next = self.next_free.lock().unwrap_or_else(|p| p.into_inner());
        // Idle time earns at most CREDIT of bytes.
        let start = (*next).max(now.checked_sub(CREDIT).unwrap_or(now));
        *next = start + Duration::from_secs_f64(n as f64 / self.bytes_per_sec);
        start.max(now)
    }
}

/// An in-memory request body sent in chunks, paced by an optional [`Throttle`], adding the
/// bytes it hands over to `sent`.
pub struct MeteredBody {
    data: Bytes,
    pos: usize,
    throttle: Option<Arc<Throttle>>,
    sent: Arc<AtomicU64>,
    wait: Option<(Pin<Box<tokio::time::Sleep>>, Bytes)>,
}

impl MeteredBody {
    pub fn new(data: Bytes, throttle: Option<Arc<Throttle>>, sent: Arc<AtomicU64>) -> MeteredBody {
        MeteredBody {
            data,
            pos: 0,
            throttle,
            sent,
            wait: None,
        }
    }
}

impl Body for MeteredBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Some((mut sleep, chunk)) = this.wait.take() {
            if sleep.as_mut().poll(cx).is_pending() {
                this.wait = Some((sleep, chunk));
                return Poll::Pending;
            }
            this.sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        if this.pos >= this.data.len() {
            return Poll::Ready(None);
        }
        let n = CHUNK.min(this.data.len() - this.pos);
        let chunk = this.data.slice(this.pos..this.pos + n);
        this.pos += n;
        if let Some(t) = &this.throttle {
            let at = t.reserve(n);
            if at > Instant::now() {
                let mut sleep = Box::pin(tokio::time::sleep_until(at));
                if sleep.as_mut().poll(cx).is_pending() {
                    this.wait = Some((sleep, chunk));
                    return Poll::Pending;
                }
            }
        }
        this.sent.fetch_add(n as u64, Ordering::Relaxed);
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.pos >= self.data.len() && self.wait.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn drain(mut body: MeteredBody) -> usize {
        let mut total = 0;
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            total += frame.unwrap().into_data().unwrap().len();
        }
        total
    }

    #[tokio::test(start_paused = true)]
    async fn the_cap_holds_across_senders() {
        // 1 MB/s shared by two bodies of 1 MB each: about 2 s for both (paused clock).
        let throttle = Arc::new(Throttle::new(1_000_000));
        let sent = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let a = MeteredBody::new(
            Bytes::from(vec![1u8; 1_000_000]),
            Some(throttle.clone()),
            sent.clone(),
        );
        let b = MeteredBody::new(
            Bytes::from(vec![2u8; 1_000_000]),
            Some(throttle),
            sent.clone(),
        );
        let (na, nb) = tokio::join!(drain(a), drain(b));
        assert_eq!((na, nb), (1_000_000, 1_000_000));
        assert_eq!(sent.load(Ordering::Relaxed), 2_000_000);
        let took = start.elapsed().as_secs_f64();
        assert!((1.8..=2.1).contains(&took), "{took}");
    }

    #[tokio::test(start_paused = true)]
    async fn no_cap_sends_at_once() {
        let sent = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let body = MeteredBody::new(Bytes::from(vec![0u8; 100_000]), None, sent.clone());
        assert_eq!(body.size_hint().exact(), Some(100_000));
        assert_eq!(drain(body).await, 100_000);
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
