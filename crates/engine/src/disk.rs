//! The recordings' disk: its free space every [`CHECK_EVERY`] (an [`EngineEvent::Disk`]
//! each time, a warning once it falls under `low_space_warning`), [`Engine::disk`] for
//! `tapedeck streams` and the app, and the space reserve the recorder gives back when the
//! disk is full (`tapedeck_recorder::space`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tapedeck_config::{ByteSize, Config};
use tapedeck_recorder::space::{disk_space, DiskSpace, Reserve};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::error::EngineError;
use crate::events::EngineEvent;
use crate::Engine;

/// How often the free space is looked at.
pub const CHECK_EVERY: Duration = Duration::from_secs(10);

/// The recordings' disk as the engine sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct DiskStatus {
    /// What Tapedeck may still write.
    pub free_bytes: u64,
    pub total_bytes: u64,
    /// Free space is under `low_space_warning` (never, when that is 0).
    pub low: bool,
    /// `low_space_warning` in bytes (0: off).
    pub threshold_bytes: u64,
}

/// Whether the disk is low on space, with a margin on the way back so a disk hovering
/// around the threshold is not said to be low and fine again every few seconds: low
/// under `threshold`, fine again from `threshold` + 5 %.
#[derive(Debug)]
pub(crate) struct LowSpace {
    threshold: u64,
    low: bool,
}

impl LowSpace {
    pub fn new(threshold: u64) -> Self {
        LowSpace {
            threshold,
            low: false,
        }
    }

    pub fn low(&self) -> bool {
        self.low
    }

    /// Takes a new reading; `Some(low)` when that changed.
    pub fn assess(&mut self, free: u64) -> Option<bool> {
        let low = if self.threshold == 0 {
            false
        } else if self.low {
            free < self.threshold.saturating_add(self.threshold / 20)
        } else {
            free < self.threshold
        };
        (low != self.low).then(|| {
            self.low = low;
            low
        })
    }
}

/// What the engine keeps of the disk.
pub(crate) struct Disk {
    pub root: PathBuf,
    pub state: Mutex<LowSpace>,
    pub reserve: Option<Arc<Reserve>>,
}

impl Disk {
    fn status(&self, space: DiskSpace) -> DiskStatus {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        DiskStatus {
            free_bytes: space.free_bytes,
            total_bytes: space.total_bytes,
            low: state.low(),
            threshold_bytes: state.threshold,
        }
    }

    /// Reads the disk, updates the low state (saying so when it changed), and puts the
    /// reserve back when a full disk took it and there is room again.
    fn check(&self) -> Result<DiskStatus, std::io::Error> {
        let space = disk_space(&self.root)?;
        let changed = self
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .assess(space.free_bytes);
        let status = self.status(space);
        match changed {
            Some(true) => warn!(
                "low on disk space: {} free of {} for {} (low_space_warning = {}); recording stops when it is full, and resumes when there is room",
                ByteSize(status.free_bytes),
                ByteSize(status.total_bytes),
                self.root.display(),
                ByteSize(status.threshold_bytes)
            ),
            Some(false) => info!(
                "disk space is fine again: {} free for {}",
                ByteSize(status.free_bytes),
                self.root.display()
            ),
            None => {}
        }
        if let Some(r) = &self.reserve {
            if !r.held() && space.free_bytes >= r.bytes().saturating_mul(4) {
                match r.fill() {
                    Ok(true) => debug!("space reserve set aside again: {}", r.path().display()),
                    Ok(false) => {}
                    Err(e) => debug!("cannot set the space reserve aside: {e}"),
                }
            }
        }
        Ok(status)
    }
}

/// Sets up the disk watch for `config`: the reserve (allocated now, where the recordings
/// folder and the state folder share a disk) and the low-space state.
pub(crate) fn prepare(config: &Config) -> Arc<Disk> {
    let root = config.recordings_dir();
    let state = config.data_dir.join("state");
    let reserve = if same_disk(&root, &state) {
        let total = disk_space(&root).map_or(0, |s| s.total_bytes);
        let reserve = Arc::new(Reserve::new(
            state.join("space.reserve"),
            Reserve::size_for(total),
        ));
        match reserve.fill() {
            Ok(true) => debug!(
                "{} set aside at {} to finish files if the disk fills",
                ByteSize(reserve.bytes()),
                reserve.path().display()
            ),
            Ok(false) => warn!(
                "too little free space to set {} aside for finishing files if the disk fills",
                ByteSize(reserve.bytes())
            ),
            Err(e) => warn!(
                "cannot set {} aside at {} for finishing files if the disk fills: {e}",
                ByteSize(reserve.bytes()),
                reserve.path().display()
            ),
        }
        Some(reserve)
    } else {
        None
    };
    Arc::new(Disk {
        root,
        state: Mutex::new(LowSpace::new(config.low_space_warning.0)),
        reserve,
    })
}

/// True when both folders are on one file system (a reserve elsewhere frees nothing
/// where the recordings are).
fn same_disk(a: &Path, b: &Path) -> bool {
    if std::fs::create_dir_all(b).is_err() {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::metadata(a), std::fs::metadata(b)) {
            (Ok(x), Ok(y)) => x.dev() == y.dev(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        a.parent() == b.parent()
    }
}

/// Looks at the disk every [`CHECK_EVERY`] until `stop`, sending each reading.
pub(crate) fn spawn(
    disk: Arc<Disk>,
    events: broadcast::Sender<EngineEvent>,
    stop: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut said_unknown = false;
        loop {
            let d = disk.clone();
            match tokio::task::spawn_blocking(move || d.check()).await {
                Ok(Ok(status)) => {
                    let _ = events.send(EngineEvent::Disk(status));
                }
                Ok(Err(e)) if !said_unknown => {
                    said_unknown = true;
                    warn!(
                        "cannot tell the free space of {} ({e}); no low-space warning",
                        disk.root.display()
                    );
                }
                _ => {}
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(CHECK_EVERY) => {}
            }
        }
    })
}

impl Engine {
    /// The recordings' disk now: free and total bytes, and whether free space is under
    /// `low_space_warning`.
    pub fn disk(&self) -> Result<DiskStatus, EngineError> {
        let disk = &self.inner().disk;
        let space = disk_space(&disk.root).map_err(|e| {
            EngineError::io(format!(
                "cannot tell the free space of {}: {e}",
                disk.root.display()
            ))
        })?;
        Ok(disk.status(space))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_under_the_threshold_fine_again_above_it_with_a_margin() {
        let mut s = LowSpace::new(5_000_000_000);
        assert_eq!(s.assess(80_000_000_000), None, "plenty: nothing to say");
        assert_eq!(
            s.assess(5_000_000_000),
            None,
            "at the threshold: not under it"
        );
        assert_eq!(s.assess(4_999_999_999), Some(true), "said once");
        assert_eq!(s.assess(3_000_000_000), None);
        assert!(s.low());
        // Hovering just above the threshold: still low (no flapping).
        assert_eq!(s.assess(5_100_000_000), None);
        assert!(s.low());
        assert_eq!(s.assess(5_250_000_000), Some(false), "5 % above: fine");
        assert_eq!(s.assess(5_200_000_000), None);
        assert_eq!(s.assess(4_000_000_000), Some(true), "low again: said again");
    }

    #[test]
    fn zero_turns_the_warning_off() {
        let mut s = LowSpace::new(0);
        assert_eq!(s.assess(0), None);
        assert!(!s.low());
    }

    #[test]
    fn the_status_reads_the_disk_of_the_recordings() {
        let dir = std::env::temp_dir().join(format!("tapedeck-disk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let config = Config {
            data_dir: dir.clone(),
            // More than any test machine's disk has free: low at once.
            low_space_warning: ByteSize(tapedeck_config::config::MAX_LOW_SPACE_WARNING),
            ..Config::default()
        };
        std::fs::create_dir_all(config.recordings_dir()).unwrap();
        let disk = prepare(&config);
        let reserve = disk.reserve.clone().expect("one disk: a reserve");
        assert!(reserve.held());
        let status = disk.check().unwrap();
        assert!(status.total_bytes > 0 && status.free_bytes <= status.total_bytes);
        assert!(status.low, "{status:?}");
        assert_eq!(
            status.threshold_bytes,
            tapedeck_config::config::MAX_LOW_SPACE_WARNING
        );
        // A full disk took the reserve; the next look with room puts it back.
        assert!(reserve.release());
        disk.check().unwrap();
        assert!(reserve.held());
        assert_eq!(
            serde_json::to_value(status)
                .unwrap()
                .as_object()
                .unwrap()
                .len(),
            4
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
