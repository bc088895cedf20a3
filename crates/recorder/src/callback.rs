//! HTTP callbacks: the cloud's "file generated" notice for every finished recording file,
//! and status events when enabled. Signed with HMAC-SHA256 when a secret is set.
//!
//! Each attempt carries `X-Tapedeck-Timestamp: <Unix seconds>` (the time of that attempt,
//! so a notice retried or delivered after a restart carries a fresh one) and, with a
//! secret, `X-Tapedeck-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`. The
//! timestamp is covered by the signature, so a receiver that rejects old timestamps (5
//! minutes is the usual window) cannot be fooled by a captured request sent again later.
//!
//! URLs are logged without user-info and query string: receivers put tokens there.
//!
//! Delivery never loses a notice: each one is written to a spool folder before the first
//! attempt and removed only after the receiver answered 2xx. Attempts time out after 5 s
//! and are retried with exponential backoff and jitter, in order (a later notice waits for
//! an earlier one); the spool is resumed at the next start. After [`MAX_ATTEMPTS`] a notice moves to `failed/` in the spool, and the log
//! says so.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::events::{FileKind, RecorderEvent};
use crate::Recorder;

/// Per-request timeout (the cloud's).
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts before a notice is parked in `failed/`.
pub const MAX_ATTEMPTS: u32 = 10;
/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "X-Tapedeck-Signature";
/// The header that carries the attempt's time (Unix seconds), covered by the signature.
pub const TIMESTAMP_HEADER: &str = "X-Tapedeck-Timestamp";

/// One notice waiting to be delivered, as stored in the spool.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Pending {
    id: String,
    url: String,
    body: String,
    attempts: u32,
    /// Not before this Unix time in milliseconds.
    next_at_ms: i64,
}

/// The `X-Tapedeck-Signature` value of a request sent at `timestamp` (Unix seconds):
/// `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">` under `secret`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut message = format!("{timestamp}.").into_bytes();
    message.extend_from_slice(body);
    format!("sha256={}", hmac_hex(secret, &message))
}

/// Hex HMAC-SHA256 of `message` under `secret`.
fn hmac_hex(secret: &str, message: &[u8]) -> String {
    // HMAC takes keys of any length: longer ones are hashed first (RFC 2104).
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) else {
        unreachable!("HMAC accepts keys of every length")
    };
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// The JSON body for an event, or `None` when it is not notified.
fn payload(
    event: &RecorderEvent,
    domain: &str,
    status_events: bool,
    args: &HashMap<(String, String), Vec<(String, String)>>,
) -> Option<serde_json::Value> {
    use serde_json::json;
    let status = |app: &str, stream: &str, name: &str| json!({ "domain": domain, "app": app, "stream": stream, "event": name });
    match event {
        RecorderEvent::FileFinished(f) if f.kind != FileKind::Segment => {
            let push_args: serde_json::Map<String, serde_json::Value> = args
                .get(&(f.app.clone(), f.stream.clone()))
                .into_iter()
                .flatten()
                .filter(|(k, _)| k.starts_with("callback_"))
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            Some(json!({
                "domain": domain,
                "app": f.app,
                "stream": f.stream,
                "uri": f.key,
                "duration": f.duration,
                "start_time": f.start.timestamp(),
                "stop_time": f.end.timestamp(),
                "push_args": push_args,
            }))
        }
        RecorderEvent::RecordStarted { app, stream, .. } if status_events => {
            Some(status(app, stream, "record_started"))
        }
        RecorderEvent::RecordPaused { app, stream, .. } if status_events => {
            Some(status(app, stream, "record_paused"))
        }
        RecorderEvent::RecordResumed { app, stream, .. } if status_events => {
            Some(status(app, stream, "record_resumed"))
        }
        RecorderEvent::RecordToggled {
            app,
            stream,
            recording,
            ..
        } if status_events => Some(status(
            app,
            stream,
            if *recording {
                "record_started"
            } else {
                "record_stopped"
            },
        )),
        RecorderEvent::RecordStopped { app, stream, .. } if status_events => {
            Some(status(app, stream, "record_stopped"))
        }
        RecorderEvent::RecordFailed {
            app,
            stream,
            reason,
            ..
        } if status_events => {
            let mut body = status(app, stream, "record_failed");
            body["reason"] = json!(reason);
            Some(body)
        }
        _ => None,
    }
}

struct Spool {
    dir: PathBuf,
}

impl Spool {
    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    fn save(&self, p: &Pending) -> std::io::Result<()> {
        let text = serde_json::to_vec(p).map_err(std::io::Error::other)?;
        crate::files::write_atomically(&self.dir, &self.path(&p.id), &text)
    }

    fn remove(&self, id: &str) {
        let _ = std::fs::remove_file(self.path(id));
    }

    fn park(&self, p: &Pending) {
        let failed = self.dir.join("failed");
        let _ = std::fs::create_dir_all(&failed);
        let _ = std::fs::rename(self.path(&p.id), failed.join(format!("{}.json", p.id)));
    }

    fn load(&self) -> Vec<Pending> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out: Vec<Pending> = entries
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| {
                match std::fs::read(e.path()).map(|b| serde_json::from_slice::<Pending>(&b)) {
                    Ok(Ok(p)) => Some(p),
                    _ => {
                        warn!(
                            "ignoring an unreadable callback in the spool: {}",
                            e.path().display()
                        );
                        None
                    }
                }
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Delay before attempt `n` (1-based retries): 1 s, 2 s, 4 s ... capped at 5 minutes, with
/// up to 20 % jitter so many notices do not retry in lockstep.
fn backoff(attempts: u32) -> Duration {
    let base = Duration::from_secs(1u64 << attempts.min(8)).min(Duration::from_secs(300));
    let jitter = (now_ms().unsigned_abs() % 200) as u32; // cheap, good enough to spread retries
    base + base * jitter / 1000
}

/// Delivers callbacks for `recorder` until `stop` is cancelled; then it records every
/// event already emitted (so the final files of a shutdown are notified, after the next
/// start at the latest) and makes one last delivery round.
///
/// Subscribes before it returns, so no event emitted after this call is missed.
pub fn spawn(
    recorder: Recorder,
    spool_dir: PathBuf,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let events = recorder.subscribe();
    tokio::spawn(run(recorder, events, spool_dir, stop))
}

async fn run(
    recorder: Recorder,
    mut events: tokio::sync::broadcast::Receiver<RecorderEvent>,
    spool_dir: PathBuf,
    stop: CancellationToken,
) {
    let client = match reqwest::Client::builder().timeout(TIMEOUT).build() {
        Ok(c) => c,
        Err(e) => {
            warn!("callbacks are off: cannot build an HTTP client: {e}");
            return;
        }
    };
    let spool = Spool { dir: spool_dir };
    let queue = spool.load();
    if !queue.is_empty() {
        info!("{} callback(s) pending from an earlier run", queue.len());
    }
    let mut n = Notifier {
        recorder,
        spool,
        client,
        queue,
        args: HashMap::new(),
        seq: 0,
    };
    loop {
        let next_due = n.queue.first().map(|p| p.next_at_ms);
        let wait = next_due.map_or(Duration::from_secs(3600), |t| {
            Duration::from_millis((t - now_ms()).max(0) as u64)
        });
        tokio::select! {
            _ = stop.cancelled() => break,
            ev = events.recv() => match ev {
                Ok(ev) => n.take(&ev),
                Err(RecvError::Lagged(missed)) => warn!("callbacks fell behind and missed {missed} event(s)"),
                Err(RecvError::Closed) => break,
            },
            _ = tokio::time::sleep(wait) => {}
        }
        n.deliver_due(false).await;
    }
    while let Ok(ev) = events.try_recv() {
        n.take(&ev);
    }
    n.deliver_due(true).await;
}

struct Notifier {
    recorder: Recorder,
    spool: Spool,
    client: reqwest::Client,
    queue: Vec<Pending>,
    /// The publish arguments of each stream's current recording, for `push_args`.
    args: HashMap<(String, String), Vec<(String, String)>>,
    seq: u64,
}

impl Notifier {
    /// Turns an event into a persisted notice, when it is one.
    fn take(&mut self, ev: &RecorderEvent) {
        if let RecorderEvent::RecordStarted {
            app,
            stream,
            push_args,
            ..
        }
        | RecorderEvent::RecordResumed {
            app,
            stream,
            push_args,
            ..
        } = ev
        {
            self.args
                .insert((app.clone(), stream.clone()), push_args.clone());
        }
        let config = self.recorder.config().callback.clone();
        if config.url.is_empty() {
            return;
        }
        let Some(body) = payload(ev, &config.domain, config.status_events, &self.args) else {
            return;
        };
        self.seq += 1;
        let p = Pending {
            id: format!("{}-{:06}", now_ms(), self.seq),
            url: config.url,
            body: body.to_string(),
            attempts: 0,
            next_at_ms: now_ms(),
        };
        if let Err(e) = self.spool.save(&p) {
            warn!("cannot persist a callback ({e}); it is kept in memory only");
        }
        self.queue.push(p);
    }

    /// Delivers notices in the order they happened (a receiver must never see
    /// `record_paused` before `record_started`): the oldest first, and nothing after a
    /// notice that is waiting for its retry. With `all` (shutdown) waiting is skipped.
    async fn deliver_due(&mut self, all: bool) {
        let secret = self.recorder.config().callback.secret.clone();
        while let Some(p) = self.queue.first_mut() {
            if !all && p.next_at_ms > now_ms() {
                return;
            }
            match deliver(&self.client, p, &secret).await {
                Ok(()) => {
                    debug!(url = %tapedeck_ingest::redact::url(&p.url), "callback delivered");
                    self.spool.remove(&p.id);
                    self.queue.remove(0);
                }
                Err(e) => {
                    p.attempts += 1;
                    if p.attempts >= MAX_ATTEMPTS {
                        warn!(url = %tapedeck_ingest::redact::url(&p.url), "callback failed {} times, giving up (kept in the spool's failed/ folder): {e}", p.attempts);
                        self.spool.park(p);
                        self.queue.remove(0);
                    } else {
                        let delay = backoff(p.attempts);
                        warn!(url = %tapedeck_ingest::redact::url(&p.url), "callback attempt {} failed ({e}); retrying in {delay:?}", p.attempts);
                        p.next_at_ms = now_ms() + delay.as_millis() as i64;
                        let _ = self.spool.save(p);
                        return;
                    }
                }
            }
        }
    }
}

async fn deliver(client: &reqwest::Client, p: &Pending, secret: &str) -> Result<(), String> {
    // The time of this attempt, not of the event: a receiver checks it against its clock.
    let timestamp = chrono::Utc::now().timestamp();
    let mut request = client
        .post(&p.url)
        .header("Content-Type", "application/json")
        .header(TIMESTAMP_HEADER, timestamp.to_string())
        .body(p.body.clone());
    if !secret.is_empty() {
        request = request.header(
            SIGNATURE_HEADER,
            signature(secret, timestamp, p.body.as_bytes()),
        );
    }
    // Without the URL: the log shows it redacted already.
    let response = request
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("the receiver answered {}", response.status()))
    }
}

/// What "Send test callback" sent and what came back.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, ts_rs::TS)]
pub struct TestCallback {
    pub request: TestRequest,
    /// The receiver's HTTP status, when it answered.
    pub status: Option<u16>,
    /// The start of its answer (at most 2,000 characters).
    pub response: Option<String>,
    /// Why there was no answer, or why the answer is a failure, in words.
    pub error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, ts_rs::TS)]
pub struct TestRequest {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// Sends one test notice (`"event": "test"`, signed like every other) to `url` now and
/// reports the exchange, for the app's "Send test callback".
pub async fn send_test(url: &str, secret: &str, domain: &str) -> TestCallback {
    let timestamp = chrono::Utc::now().timestamp();
    let body = serde_json::json!({
        "domain": domain,
        "app": "live",
        "stream": "test",
        "event": "test",
        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
    .to_string();
    let mut headers = vec![
        ("Content-Type".to_string(), "application/json".to_string()),
        (TIMESTAMP_HEADER.to_string(), timestamp.to_string()),
    ];
    if !secret.is_empty() {
        headers.push((
            SIGNATURE_HEADER.to_string(),
            signature(secret, timestamp, body.as_bytes()),
        ));
    }
    let request = TestRequest {
        url: url.to_string(),
        headers: headers.clone(),
        body: body.clone(),
    };
    let failed = |error: String| TestCallback {
        request: request.clone(),
        status: None,
        response: None,
        error: Some(error),
    };
    if url.is_empty() {
        return failed("No callback URL is set: enter one first.".to_string());
    }
    let client = match reqwest::Client::builder().timeout(TIMEOUT).build() {
        Ok(c) => c,
        Err(e) => return failed(format!("cannot make an HTTP client: {e}")),
    };
    let mut r = client.post(url).body(body);
    for (k, v) in &headers {
        r = r.header(k, v);
    }
    match r.send().await {
        Err(e) => failed(format!(
            "The receiver could not be reached: {}. Check the URL and that it is running.",
            e.without_url()
        )),
        Ok(response) => {
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            TestCallback {
                request: request.clone(),
                status: Some(status.as_u16()),
                response: Some(text.chars().take(2000).collect()),
                error: (!status.is_success()).then(|| {
                    format!("The receiver answered {status}; Tapedeck retries a notice until it gets a 2xx answer.")
                }),
            }
        }
    }
}

/// Where pending callbacks are kept.
pub fn spool_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("state").join("callbacks")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            hmac_hex("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn the_signature_covers_the_timestamp() {
        let body = br#"{"app":"live"}"#;
        let a = signature("k3y", 1_795_515_330, body);
        assert_eq!(
            a,
            format!(
                "sha256={}",
                hmac_hex("k3y", br#"1795515330.{"app":"live"}"#)
            )
        );
        assert_ne!(a, signature("k3y", 1_795_515_331, body));
        assert_ne!(a, signature("k3y", 1_795_515_330, br#"{"app":"livf"}"#));
    }

    /// A recording stopped by a full disk is a status event, with its reason; it resuming
    /// by itself is `record_started`.
    #[test]
    fn a_failed_recording_is_notified_with_its_reason() {
        let failed = RecorderEvent::RecordFailed {
            app: "live".into(),
            stream: "cam1".into(),
            reason: crate::events::FailReason::DiskFull,
            detail: "the disk is full".into(),
        };
        let args = HashMap::new();
        assert_eq!(
            payload(&failed, "localhost", true, &args),
            Some(
                serde_json::json!({"domain": "localhost", "app": "live", "stream": "cam1", "event": "record_failed", "reason": "disk_full"})
            )
        );
        assert_eq!(payload(&failed, "localhost", false, &args), None);
        let resumed = RecorderEvent::RecordToggled {
            app: "live".into(),
            stream: "cam1".into(),
            recording: true,
        };
        assert_eq!(
            payload(&resumed, "localhost", true, &args).unwrap()["event"],
            "record_started"
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(1) >= Duration::from_secs(2) && backoff(1) < Duration::from_millis(2500));
        assert!(backoff(20) <= Duration::from_secs(360));
    }
}
