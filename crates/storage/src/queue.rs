//! The uploader: one worker per storage profile drains the catalog's upload queue, oldest
//! first, a few files at a time, with exponential backoff and jitter.
//!
//! When the bucket cannot be reached (or refuses the key), the profile is "down": one probe
//! upload is tried per backoff step, and when it succeeds every waiting file is due at once,
//! so an outage of hours builds a backlog that drains, oldest first, when it ends. Nothing is
//! dropped: a file leaves the queue only when the bucket confirmed it (size checked) or its
//! local copy vanished.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tapedeck_catalog::{Catalog, Upload};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::client::Bucket;
use crate::credentials::{lookup, CredentialStore};
use crate::profile::StorageProfile;
use crate::retention;
use crate::throttle::Throttle;
use crate::upload::{Failure, Job, Sent};

/// What the uploader reports (the CLI logs these; the app shows them).
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum UploadEvent {
    Started {
        profile: String,
        key: String,
        bytes: u64,
        attempt: u32,
    },
    /// About once a second per file in flight.
    Progress {
        profile: String,
        key: String,
        sent: u64,
        bytes: u64,
        rate_bps: u64,
    },
    Done {
        profile: String,
        key: String,
        bytes: u64,
        /// Parts an earlier attempt had already sent.
        resumed_parts: u32,
        parts: u32,
        /// When the file was queued and when the bucket confirmed it (Unix ms).
        queued_ms: i64,
        done_ms: i64,
    },
    Retrying {
        profile: String,
        key: String,
        attempt: u32,
        error: String,
        retry_in_secs: f64,
    },
    /// A playlist or index went up as a copy without these segments (keys), whose local
    /// files vanished before they could be uploaded: the bucket's copy names only
    /// segments that are there (a discontinuity marks each hole).
    LeftOut {
        profile: String,
        key: String,
        segments: Vec<String>,
    },
    /// The local file vanished before it was uploaded.
    Lost {
        profile: String,
        key: String,
        reason: String,
    },
    /// The bucket cannot be used; uploads wait and one is retried after the backoff.
    BucketDown {
        profile: String,
        error: String,
        retry_in_secs: f64,
    },
    BucketBack {
        profile: String,
    },
    /// Retention removed a local copy whose upload was confirmed.
    LocalDeleted {
        key: String,
        path: String,
        reason: String,
    },
    /// Retention would have deleted this local copy, but it lies outside where Tapedeck
    /// deletes (see `retention::Scope`): it is kept for good.
    KeptLocal {
        key: String,
        path: String,
        reason: String,
    },
    /// `keep_local_max` is exceeded by files the bucket has not confirmed yet.
    OverBudget {
        group: String,
        bytes: u64,
        max: u64,
    },
}

/// Wakes the uploader when something was queued (it also looks once a second).
#[derive(Clone, Debug, Default)]
pub struct Waker(Arc<Notify>);

impl Waker {
    pub fn wake(&self) {
        self.0.notify_waiters();
    }

    pub(crate) async fn woken(&self) {
        self.0.notified().await
    }
}

/// Backoff before attempt `n + 1` after `n` failures: 1 s doubling to `cap`, with ±25 %
/// jitter so many files (and many Tapedecks) do not retry in step.
pub fn backoff(failures: u32, cap: Duration) -> Duration {
    let base = Duration::from_secs(1u64 << failures.min(16).saturating_sub(1)).min(cap);
    base.mul_f64(0.75 + fastrand::f64() * 0.5)
}

/// The longest wait between attempts while a bucket is down (one small request then).
pub const DOWN_CAP: Duration = Duration::from_secs(30);
/// The longest wait between attempts of one failing file.
pub const FILE_CAP: Duration = Duration::from_secs(300);

/// Where the uploader's events go (the engine's one event stream). Called from the
/// workers' tasks; it must not block.
pub type Emit = Arc<dyn Fn(UploadEvent) + Send + Sync>;

/// Environment variables, for credentials that are in no store (`AWS_ACCESS_KEY_ID`...):
/// the CLI passes the process's, the desktop app none. Library code never reads the
/// environment itself.
pub type Env = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// An environment with nothing in it.
pub fn no_env() -> Env {
    Arc::new(|_| None)
}

/// Starts one worker per profile and retention (deleting only within `scope`); they stop
/// with `cancel` (work in flight is abandoned and resumes from the catalog at the next
/// start).
pub fn start(
    catalog: Arc<Catalog>,
    scope: retention::Scope,
    profiles: Vec<StorageProfile>,
    credentials: Arc<dyn CredentialStore>,
    env: Env,
    events: Emit,
    cancel: CancellationToken,
) -> (Waker, JoinSet<()>) {
    let waker = Waker::default();
    let mut tasks = JoinSet::new();
    for profile in profiles {
        let worker = Worker {
            catalog: catalog.clone(),
            throttle: profile
                .max_upload_rate
                .map(|r| Arc::new(Throttle::new(r.0))),
            profile,
            credentials: credentials.clone(),
            env: env.clone(),
            events: events.clone(),
            waker: waker.clone(),
        };
        tasks.spawn(worker.run(cancel.clone()));
    }
    tasks.spawn(retention::run(
        catalog,
        scope,
        events,
        waker.clone(),
        cancel,
    ));
    (waker, tasks)
}

struct Worker {
    catalog: Arc<Catalog>,
    profile: StorageProfile,
    credentials: Arc<dyn CredentialStore>,
    env: Env,
    events: Emit,
    waker: Waker,
    throttle: Option<Arc<Throttle>>,
}

struct InFlight {
    row: Upload,
    sent: Arc<AtomicU64>,
    last_sent: u64,
}

type Outcome = (i64, Result<Sent, Failure>);

impl Worker {
    fn emit(&self, e: UploadEvent) {
        (self.events)(e);
    }

    async fn run(self, cancel: CancellationToken) {
        let name = self.profile.name.clone();
        let mut bucket: Option<Bucket> = None;
        let mut running: JoinSet<Outcome> = JoinSet::new();
        let mut flight: HashMap<i64, InFlight> = HashMap::new();
        // Consecutive bucket-level failures; > 0 means the bucket is down.
        let mut down: u32 = 0;
        let mut down_until = tokio::time::Instant::now();
        let mut last_error = String::new();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if bucket.is_none() {
                match lookup(self.credentials.as_ref(), &name, &*self.env) {
                    Ok((c, _)) => bucket = Some(Bucket::new(&self.profile, &c)),
                    Err(e) => {
                        let error = e.to_string();
                        if error != last_error {
                            self.emit(UploadEvent::BucketDown {
                                profile: name.clone(),
                                error: error.clone(),
                                retry_in_secs: DOWN_CAP.as_secs_f64(),
                            });
                            last_error = error;
                        }
                        down = down.max(1);
                        down_until = tokio::time::Instant::now() + DOWN_CAP;
                    }
                }
            }
            let now = tokio::time::Instant::now();
            if let Some(b) = &bucket {
                let slots = if down > 0 {
                    // Down: a single probe once the backoff has passed.
                    usize::from(now >= down_until && running.is_empty())
                } else {
                    self.profile.concurrency.saturating_sub(running.len())
                };
                if slots > 0 {
                    let due = self
                        .catalog
                        .due_uploads(&name, now_ms(), slots + flight.len())
                        .unwrap_or_default();
                    let fresh: Vec<Upload> = due
                        .into_iter()
                        .filter(|r| !flight.contains_key(&r.id))
                        .take(slots)
                        .collect();
                    for row in fresh {
                        self.launch(b, row, &mut running, &mut flight);
                    }
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                Some(joined) = running.join_next() => {
                    let Ok((id, result)) = joined else { continue };
                    let Some(job) = flight.remove(&id) else { continue };
                    match result {
                        Ok(sent) => {
                            self.finished(&job.row, sent);
                            if down > 0 {
                                down = 0;
                                last_error.clear();
                                let _ = self.catalog.wake_uploads(&name);
                                self.emit(UploadEvent::BucketBack { profile: name.clone() });
                            }
                        }
                        Err(Failure::Gone(reason)) => {
                            let _ = self.catalog.upload_lost(id, job.row.generation, &reason);
                            self.emit(UploadEvent::Lost { profile: name.clone(), key: job.row.key.clone(), reason });
                        }
                        Err(Failure::Storage(e)) if !e.is_per_file() => {
                            // The bucket itself: everyone waits, one probe per backoff step.
                            down += 1;
                            let wait = backoff(down, DOWN_CAP);
                            down_until = tokio::time::Instant::now() + wait;
                            let error = e.to_string();
                            let retry_ms = now_ms() + wait.as_millis() as i64;
                            let _ = self.catalog.upload_failed(id, job.row.generation, &error, retry_ms);
                            if error != last_error || down == 1 {
                                self.emit(UploadEvent::BucketDown { profile: name.clone(), error: error.clone(), retry_in_secs: wait.as_secs_f64() });
                                last_error = error;
                            }
                            if matches!(e, crate::StorageError::WrongKey { .. }) {
                                // Perhaps a `storage login` since: read the keys again.
                                bucket = None;
                            }
                        }
                        Err(other) => {
                            let attempt = job.row.attempts + 1;
                            let wait = backoff(attempt, FILE_CAP);
                            let error = other.to_string();
                            let _ = self.catalog.upload_failed(id, job.row.generation, &error, now_ms() + wait.as_millis() as i64);
                            self.emit(UploadEvent::Retrying { profile: name.clone(), key: job.row.key.clone(), attempt, error, retry_in_secs: wait.as_secs_f64() });
                        }
                    }
                }
                _ = self.waker.woken() => {}
                _ = tick.tick() => self.progress(&mut flight),
            }
        }
        running.abort_all();
    }

    fn launch(
        &self,
        bucket: &Bucket,
        row: Upload,
        running: &mut JoinSet<Outcome>,
        flight: &mut HashMap<i64, InFlight>,
    ) {
        let sent = Arc::new(AtomicU64::new(0));
        self.emit(UploadEvent::Started {
            profile: self.profile.name.clone(),
            key: row.key.clone(),
            bytes: row.bytes,
            attempt: row.attempts + 1,
        });
        let (bucket, catalog, throttle, job_row, job_sent) = (
            bucket.clone(),
            self.catalog.clone(),
            self.throttle.clone(),
            row.clone(),
            sent.clone(),
        );
        let id = row.id;
        running.spawn(async move {
            let job = Job {
                bucket: &bucket,
                catalog: &catalog,
                row: &job_row,
                throttle,
                sent: job_sent,
            };
            (id, job.run().await)
        });
        flight.insert(
            id,
            InFlight {
                row,
                sent,
                last_sent: 0,
            },
        );
    }

    fn finished(&self, row: &Upload, sent: Sent) {
        let done_ms = now_ms();
        match self.catalog.upload_done(row.id, row.generation, done_ms) {
            Ok(true) => {
                self.emit(UploadEvent::Done {
                    profile: self.profile.name.clone(),
                    key: row.key.clone(),
                    bytes: sent.bytes,
                    resumed_parts: sent.resumed_parts,
                    parts: sent.parts,
                    queued_ms: row.queued_ms,
                    done_ms,
                });
                if !sent.left_out.is_empty() {
                    tracing::warn!(
                        profile = %self.profile.name,
                        "{} went up without {}: lost before they could be uploaded",
                        row.key,
                        sent.left_out.join(", ")
                    );
                    self.emit(UploadEvent::LeftOut {
                        profile: self.profile.name.clone(),
                        key: row.key.clone(),
                        segments: sent.left_out,
                    });
                }
                self.waker.wake();
            }
            // Queued again meanwhile (a rewritten playlist): it goes up once more.
            Ok(false) => {}
            Err(e) => self.emit(UploadEvent::Retrying {
                profile: self.profile.name.clone(),
                key: row.key.clone(),
                attempt: row.attempts + 1,
                error: format!("uploaded, but the catalog could not record it: {e}"),
                retry_in_secs: 1.0,
            }),
        }
    }

    fn progress(&self, flight: &mut HashMap<i64, InFlight>) {
        for (id, f) in flight.iter_mut() {
            let sent = f.sent.load(Ordering::Relaxed);
            let rate = sent.saturating_sub(f.last_sent);
            f.last_sent = sent;
            let _ = self.catalog.upload_progress(*id, sent, rate);
            self.emit(UploadEvent::Progress {
                profile: self.profile.name.clone(),
                key: f.row.key.clone(),
                sent,
                bytes: f.row.bytes,
                rate_bps: rate,
            });
        }
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_cap_with_jitter() {
        for _ in 0..100 {
            let first = backoff(1, DOWN_CAP).as_secs_f64();
            assert!((0.75..=1.25).contains(&first), "{first}");
            let fourth = backoff(4, DOWN_CAP).as_secs_f64();
            assert!((6.0..=10.0).contains(&fourth), "{fourth}");
            let late = backoff(40, DOWN_CAP).as_secs_f64();
            assert!((22.5..=37.5).contains(&late), "{late}");
        }
    }
}
