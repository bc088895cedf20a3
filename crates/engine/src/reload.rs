//! Reloads `tapedeck.toml` when it changes on disk (`notify`). Templates apply to the next
//! publish, never to a running recording (each recording keeps the template it started
//! with). A file with errors keeps the old configuration and the log says why.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tapedeck_recorder::{Config, Recorder};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::Engine;

/// Editors write a file in several steps (truncate, write; or write elsewhere and rename):
/// wait this long after the last event before reading it.
const SETTLE: Duration = Duration::from_millis(300);

/// Watches `path` until `shutdown`; returns an error only if watching cannot start.
pub fn watch(
    path: PathBuf,
    recorder: Recorder,
    shutdown: CancellationToken,
) -> notify::Result<tokio::task::JoinHandle<()>> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(16);
    let file_name = path.file_name().map(|n| n.to_owned());
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            let ours = event
                .paths
                .iter()
                .any(|p| p.file_name() == file_name.as_deref());
            if ours && !event.kind.is_access() {
                let _ = tx.try_send(());
            }
        }
    })?;
    // The folder, not the file: an editor that saves by rename replaces the file's inode.
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_owned();
    watcher.watch(&folder, RecursiveMode::NonRecursive)?;
    Ok(tokio::spawn(async move {
        let _watcher = watcher; // lives as long as the task
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                got = rx.recv() => if got.is_none() { return },
            }
            // Let the writes settle, then take every event they caused as one.
            tokio::time::sleep(SETTLE).await;
            while rx.try_recv().is_ok() {}
            reload(&path, &recorder);
        }
    }))
}

pub(crate) fn reload(path: &Path, recorder: &Recorder) {
    let old = recorder.config();
    match Config::load(path) {
        Ok(mut new) => {
            // The recordings folder stays the one the engine started with (the catalog,
            // the uploader and the app's --data-dir are tied to it) until a restart.
            let moved = new.data_dir != old.data_dir;
            new.data_dir = old.data_dir.clone();
            if new == *old {
                return;
            }
            if new.ingest != old.ingest
                || new.pull != old.pull
                || moved
                || new.storage != old.storage
                || new.watch != old.watch
            {
                warn!(
                    "{}: changes to data_dir, [ingest], [[pull]], [[storage]] and [[watch]] take effect after a restart (files queued meanwhile wait for it)",
                    path.display()
                );
            }
            info!(
                "{}: reloaded; templates apply to the next publish, running recordings keep theirs",
                path.display()
            );
            recorder.set_config(new);
        }
        Err(e) => warn!("{e}\nkeeping the previous configuration"),
    }
}

impl Engine {
    /// Reads the configuration file now (as its watcher does on a change): templates apply
    /// to the next publish. The app calls it right after saving, so a stream starting a
    /// moment later already gets the new template.
    pub fn reload_config(&self, path: &std::path::Path) {
        reload(path, &self.inner().recorder);
    }
}
