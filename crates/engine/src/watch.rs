//! `[[watch]]`: files that appear in a folder (OBS's own recording folder, say) are filed
//! under a stream's template key, entered in the catalog and queued for upload, once they
//! are complete: size and time unchanged for `settle`, and (on Linux) no process has them
//! open for writing. Events come from `notify` through a debouncer; a scan at start picks
//! up files that arrived while Tapedeck was not running.
//!
//! A watched file is the user's own: it is never deleted unless its `[[watch]]` says
//! `delete_after_upload = true`, and then only after the bucket confirmed the upload
//! (retention deletes outside the data folder only in such folders).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use notify::RecursiveMode;
use tapedeck_catalog::{Catalog, File};
use tapedeck_recorder::config::WatchConfig;
use tapedeck_recorder::naming::{render, NameContext};
use tapedeck_recorder::uploads::UploadRule;
use tapedeck_recorder::Config;
use tapedeck_storage::{KeepLocal, Waker};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Starts one task per `[[watch]]` entry.
pub fn spawn(
    config: &Config,
    catalog: Arc<Catalog>,
    waker: Option<Waker>,
    shutdown: CancellationToken,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for w in &config.watch {
        let Some(template) = config.template_for(&w.app, &w.stream) else {
            continue;
        };
        let Some(rule) = UploadRule::of(config, template) else {
            continue;
        };
        let folder = Folder {
            object: if w.object.is_empty() {
                template.mp4.object.clone()
            } else {
                w.object.clone()
            },
            tz: template.tz(),
            watch: w.clone(),
            rule,
            catalog: catalog.clone(),
            waker: waker.clone(),
        };
        tasks.push(tokio::spawn(folder.run(shutdown.clone())));
    }
    tasks
}

struct Folder {
    watch: WatchConfig,
    object: String,
    tz: chrono_tz::Tz,
    rule: UploadRule,
    catalog: Arc<Catalog>,
    waker: Option<Waker>,
}

/// A file seen but not yet complete.
struct Candidate {
    size: u64,
    mtime: std::time::SystemTime,
    since: Instant,
}

impl Folder {
    async fn run(self, shutdown: CancellationToken) {
        let dir = self.watch.path.clone();
        let (tx, mut rx) = mpsc::unbounded_channel::<PathBuf>();
        // The debouncer runs on its own thread; keep it alive for the life of the task.
        let debouncer = notify_debouncer_full::new_debouncer(
            Duration::from_secs(1),
            None,
            move |result: notify_debouncer_full::DebounceEventResult| {
                if let Ok(events) = result {
                    for e in events {
                        for p in &e.paths {
                            let _ = tx.send(p.clone());
                        }
                    }
                }
            },
        );
        let _debouncer = match debouncer {
            Ok(mut d) => match d.watch(&dir, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    info!(
                        "watching {} for files of {}/{}",
                        dir.display(),
                        self.watch.app,
                        self.watch.stream
                    );
                    Some(d)
                }
                Err(e) => {
                    warn!(
                        "cannot watch {} ({e}); it is scanned every 10 s instead",
                        dir.display()
                    );
                    None
                }
            },
            Err(e) => {
                warn!(
                    "cannot watch {} ({e}); it is scanned every 10 s instead",
                    dir.display()
                );
                None
            }
        };
        let mut pending: HashMap<PathBuf, Candidate> = HashMap::new();
        self.scan(&mut pending);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut last_scan = Instant::now();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                Some(path) = rx.recv() => self.consider(&path, &mut pending),
                _ = tick.tick() => {
                    if last_scan.elapsed() >= Duration::from_secs(10) {
                        self.scan(&mut pending);
                        last_scan = Instant::now();
                    }
                    self.settle(&mut pending);
                }
            }
        }
    }

    fn wanted(&self, path: &Path) -> bool {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        path.parent() == Some(self.watch.path.as_path())
            && ext.is_some_and(|e| {
                self.watch
                    .extensions
                    .iter()
                    .any(|w| w.eq_ignore_ascii_case(&e))
            })
    }

    /// The folder's own files (not its subfolders; links are not followed).
    fn scan(&self, pending: &mut HashMap<PathBuf, Candidate>) {
        for path in tapedeck_recorder::walk::walk(&self.watch.path, 1).files {
            self.consider(&path, pending);
        }
    }

    fn consider(&self, path: &Path, pending: &mut HashMap<PathBuf, Candidate>) {
        if !self.wanted(path) {
            return;
        }
        // The entry itself: a symbolic link in the folder is not followed to whatever it
        // names (notify reports links too).
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            pending.remove(path);
            return;
        };
        if !meta.is_file() {
            pending.remove(path);
            return;
        }
        let mtime = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
        match pending.get_mut(path) {
            Some(c) if c.size == meta.len() && c.mtime == mtime => {}
            Some(c) => {
                c.size = meta.len();
                c.mtime = mtime;
                c.since = Instant::now();
            }
            None => {
                let mtime_ms = tapedeck_storage::upload::mtime_ms(&meta);
                if self
                    .catalog
                    .upload_known(&path.to_string_lossy(), mtime_ms)
                    .unwrap_or(false)
                {
                    return;
                }
                pending.insert(
                    path.to_owned(),
                    Candidate {
                        size: meta.len(),
                        mtime,
                        since: Instant::now(),
                    },
                );
            }
        }
    }

    fn settle(&self, pending: &mut HashMap<PathBuf, Candidate>) {
        let settle = self.watch.settle.as_duration();
        let paths: Vec<PathBuf> = pending.keys().cloned().collect();
        for path in paths {
            self.consider(&path, pending);
            let Some(c) = pending.get(&path) else {
                continue;
            };
            if c.since.elapsed() < settle || c.size == 0 || open_for_writing(&path) {
                continue;
            }
            pending.remove(&path);
            match self.take(&path) {
                Ok(key) => {
                    info!(
                        "{}: complete; filed as {key} and queued for upload",
                        path.display()
                    );
                    if let Some(w) = &self.waker {
                        w.wake();
                    }
                }
                Err(e) => warn!("{}: {e}", path.display()),
            }
        }
    }

    /// Files a complete file in the catalog and queues its upload, in one transaction.
    fn take(&self, path: &Path) -> Result<String, String> {
        let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
        let end: DateTime<Utc> = meta
            .modified()
            .map(DateTime::from)
            .unwrap_or_else(|_| Utc::now());
        let start: DateTime<Utc> = meta.created().map(DateTime::from).unwrap_or(end).min(end);
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("bin")
            .to_ascii_lowercase();
        let names = NameContext {
            app: &self.watch.app,
            stream: &self.watch.stream,
            start,
            end: Some(end),
            segment_start: None,
            sequence: 0,
            tz: self.tz,
        };
        let key = render(&self.object, &names, &ext);
        let mut upload = self
            .rule
            .entry(
                &key,
                path,
                tapedeck_catalog::FileKind::Watched,
                &self.watch.app,
                &self.watch.stream,
            )
            .ok_or("the file vanished before it could be queued")?;
        // A watched file is the user's original (an OBS recording): the template's
        // keep_local / keep_local_max are for Tapedeck's own files. It goes only when the
        // watch says so, and then once the bucket confirmed it.
        upload.keep_local = if self.watch.delete_after_upload {
            KeepLocal::UntilUploaded
        } else {
            KeepLocal::Forever
        }
        .to_stored();
        upload.keep_max = None;
        upload.keep_group = String::new();
        let row = File {
            recording: format!(
                "{}/{}/{}",
                self.watch.app,
                self.watch.stream,
                start.timestamp_millis()
            ),
            app: self.watch.app.clone(),
            stream: self.watch.stream.clone(),
            kind: tapedeck_catalog::FileKind::Watched,
            key: key.clone(),
            start_ms: start.timestamp_millis(),
            end_ms: end.timestamp_millis(),
            bytes: meta.len(),
        };
        self.catalog
            .add_file_queued(&row, Some(&upload))
            .map_err(|e| e.to_string())?;
        Ok(key)
    }
}

/// Whether a process has `path` open for writing. Linux reads /proc; elsewhere the settle
/// time alone decides.
#[cfg(target_os = "linux")]
fn open_for_writing(path: &Path) -> bool {
    let Ok(target) = std::fs::canonicalize(path) else {
        return false;
    };
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return false;
    };
    for p in procs.flatten() {
        let pid = p.file_name();
        if !pid.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if std::fs::read_link(fd.path()).ok().as_deref() != Some(target.as_path()) {
                continue;
            }
            let info = p.path().join("fdinfo").join(fd.file_name());
            let flags = std::fs::read_to_string(info).ok().and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("flags:"))
                    .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
            });
            // O_WRONLY = 1, O_RDWR = 2.
            if flags.is_none_or(|f| f & 3 != 0) {
                return true;
            }
        }
    }
    false
}

#[cfg(not(target_os = "linux"))]
fn open_for_writing(_path: &Path) -> bool {
    false
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::open_for_writing;

    #[test]
    fn a_file_open_for_writing_is_not_complete() {
        let dir = std::env::temp_dir().join(format!("tapedeck-watch-open-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("recording.mkv");
        let writer = std::fs::File::create(&path).unwrap();
        assert!(open_for_writing(&path));
        drop(writer);
        assert!(!open_for_writing(&path));
        // Open only for reading (a player, an indexer) does not count.
        let reader = std::fs::File::open(&path).unwrap();
        assert!(!open_for_writing(&path));
        drop(reader);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
