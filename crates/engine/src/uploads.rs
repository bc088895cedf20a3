//! The engine's uploader: started when the configuration has storage profiles; its events
//! go to the engine's event stream and to the log.

use std::sync::Arc;

use tapedeck_catalog::Catalog;
use tapedeck_config::Config;
use tapedeck_recorder::recover::Report;
use tapedeck_recorder::uploads::UploadRule;
use tapedeck_storage::queue::{Emit, Env};
use tapedeck_storage::{CredentialStore, UploadEvent, Waker};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

pub struct Uploads {
    pub waker: Waker,
    tasks: JoinSet<()>,
}

impl Uploads {
    /// Waits for the workers after their cancellation token fired.
    pub async fn stop(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }
}

pub fn start(
    config: &Config,
    catalog: Arc<Catalog>,
    credentials: Arc<dyn CredentialStore>,
    env: Env,
    emit: Emit,
    cancel: CancellationToken,
) -> Option<Uploads> {
    if config.storage.is_empty() {
        return None;
    }
    let (waker, tasks) = tapedeck_storage::queue::start(
        catalog,
        retention_scope(config),
        config.storage.clone(),
        credentials,
        env,
        emit,
        cancel,
    );
    for p in &config.storage {
        info!(
            "uploading to storage {:?}: {} bucket {:?} at {}",
            p.name,
            p.provider.label(),
            p.bucket,
            p.endpoint_label()
        );
    }
    Some(Uploads { waker, tasks })
}

/// Where retention may delete: the data folder, and the watched folders that allow it.
pub fn retention_scope(config: &Config) -> tapedeck_storage::retention::Scope {
    tapedeck_storage::retention::Scope::new(&config.data_dir, &config.deletable_watch_folders())
}

/// The log line of an upload event (what `tapedeck serve` has always printed).
pub fn log(e: &UploadEvent) {
    {
        match e.clone() {
            UploadEvent::Started {
                profile,
                key,
                bytes,
                attempt,
            } => debug!("{profile}: uploading {key} ({bytes} bytes, attempt {attempt})"),
            UploadEvent::Progress {
                profile,
                key,
                sent,
                bytes,
                rate_bps,
            } => debug!(
                "{profile}: {key} {sent}/{bytes} bytes at {:.1} Mbit/s",
                rate_bps as f64 * 8.0 / 1e6
            ),
            UploadEvent::Done {
                profile,
                key,
                bytes,
                resumed_parts,
                parts,
                queued_ms,
                done_ms,
            } => {
                let resumed = if resumed_parts > 0 {
                    format!(", resumed after {resumed_parts} of {parts} parts")
                } else {
                    String::new()
                };
                info!(
                    "{profile}: uploaded {key} ({bytes} bytes{resumed}, {:.1} s after it was finished)",
                    (done_ms - queued_ms) as f64 / 1000.0
                )
            }
            UploadEvent::Retrying {
                profile,
                key,
                attempt,
                error,
                retry_in_secs,
            } => warn!("{profile}: {key}: attempt {attempt} failed: {error}; next in {retry_in_secs:.0} s"),
            UploadEvent::LeftOut {
                profile,
                key,
                segments,
            } => warn!(
                "{profile}: {key} uploaded without {} (their local files vanished before they could be uploaded; a discontinuity marks each hole)",
                segments.join(", ")
            ),
            UploadEvent::Lost {
                profile,
                key,
                reason,
            } => warn!("{profile}: {key} not uploaded: {reason}"),
            UploadEvent::BucketDown {
                profile,
                error,
                retry_in_secs,
            } => warn!("storage {profile:?}: {error}. Uploads wait (recording goes on locally); next try in {retry_in_secs:.0} s"),
            UploadEvent::BucketBack { profile } => {
                info!("storage {profile:?} is reachable again: uploading the backlog, oldest first")
            }
            UploadEvent::LocalDeleted { path, reason, .. } => {
                info!("deleted the local copy {path} (uploaded; {reason})")
            }
            UploadEvent::KeptLocal { path, reason, .. } => {
                warn!("kept {path} although its rule would delete it: {reason}")
            }
            UploadEvent::OverBudget { group, bytes, max } => warn!(
                "local files of {group} take {bytes} bytes, over keep_local_max of {max}: the rest is not uploaded yet, so it stays"
            ),
        }
    }
}

/// At shutdown: lets the uploader send the last files while it makes progress (at most
/// 15 s, and no more than 3 s without one file confirmed). What is left goes at the next
/// start.
pub async fn drain(catalog: &Catalog, waker: &Waker) {
    let waiting = || catalog.upload_counts().map(|c| c.queued).unwrap_or(0);
    let mut left = waiting();
    if left == 0 {
        return;
    }
    info!("waiting up to 15 s for {left} queued upload(s); the rest resumes at the next start");
    waker.wake();
    let start = std::time::Instant::now();
    let mut progress = start;
    while left > 0
        && start.elapsed() < std::time::Duration::from_secs(15)
        && progress.elapsed() < std::time::Duration::from_secs(3)
    {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let now = waiting();
        if now < left {
            progress = std::time::Instant::now();
        }
        left = now;
    }
    if left > 0 {
        info!("{left} upload(s) still queued; they continue at the next start");
    }
}

/// Queues the uploads of files that recovery completed after a crash. Their stream is
/// read from the key's last two folders (the default key layout,
/// `record/{AppName}/{StreamName}/...`); a file whose stream cannot be told is left local
/// and named in the log.
pub fn queue_recovered(config: &Config, catalog: &Catalog, report: &Report) {
    let root = config.recordings_dir();
    for r in &report.recovered {
        if !r.to.starts_with(&root) {
            continue;
        }
        let key = tapedeck_recorder::files::key_of(&root, &r.to);
        let dirs: Vec<&str> = key.split('/').collect();
        let stream = (dirs.len() >= 3).then(|| (dirs[dirs.len() - 3], dirs[dirs.len() - 2]));
        let rule = stream.and_then(|(app, stream)| {
            let t = config.template_for(app, stream)?;
            Some((app, stream, UploadRule::of(config, t)?))
        });
        use tapedeck_catalog::FileKind;
        let kind = match r.to.extension().and_then(|e| e.to_str()) {
            Some("ts") => FileKind::Segment,
            Some("m3u8") => FileKind::Playlist,
            Some("mp4") => FileKind::Mp4,
            Some("flv") => FileKind::Flv,
            _ => continue,
        };
        match rule {
            Some((app, stream, rule)) => {
                if let Some(u) = rule.entry(&key, &r.to, kind, app, stream) {
                    if let Err(e) = catalog.enqueue_upload(&u) {
                        warn!("{key}: recovered but not queued for upload: {e}");
                    }
                }
            }
            None if config.storage.is_empty() => {}
            None => warn!(
                "{key}: recovered, but its stream cannot be told from its name, so it is not uploaded"
            ),
        }
    }
}
