//! Local copies after upload (`keep_local`, `keep_local_max` in a template): a local file is
//! deleted only after the bucket confirmed its upload, oldest first. Playlists and indexes
//! stay (they are small and keep the local folder browsable). Nothing is ever deleted from
//! a bucket.
//!
//! Nothing is deleted outside its [`Scope`]: the data folder, and for files of `[[watch]]`
//! folders (kind `watched`) only the folders whose watch says `delete_after_upload`. The
//! check is on the file's real location (links resolved) right before the delete; a
//! symbolic link is never deleted through. A row refused that way is kept for good
//! (`keep_local` becomes `forever`) and reported once as [`UploadEvent::KeptLocal`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use tapedeck_catalog::{Catalog, Upload};
use tokio_util::sync::CancellationToken;

use crate::queue::{now_ms, UploadEvent, Waker};
use crate::units::KeepLocal;

/// Where retention may delete, resolved once (real paths) when the uploader starts.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    /// The data folder; `None` (it cannot be resolved) allows nothing there.
    data: Option<PathBuf>,
    /// `[[watch]]` folders with `delete_after_upload = true`.
    watched: Vec<PathBuf>,
}

impl Scope {
    /// Deletes only under `data_dir`, and watched files only directly in `watched`.
    pub fn new(data_dir: &Path, watched: &[PathBuf]) -> Scope {
        Scope {
            data: std::fs::canonicalize(data_dir).ok(),
            watched: watched
                .iter()
                .filter_map(|w| std::fs::canonicalize(w).ok())
                .collect(),
        }
    }

    /// The real path of `u`'s file when it may be deleted, else why not.
    fn check(&self, u: &Upload) -> Result<PathBuf, String> {
        let link = std::fs::symlink_metadata(&u.path).map_err(|e| e.to_string())?;
        if link.file_type().is_symlink() {
            return Err(format!("{} is a symbolic link", u.path));
        }
        let real = std::fs::canonicalize(&u.path).map_err(|e| e.to_string())?;
        if u.kind == tapedeck_catalog::FileKind::Watched {
            if real
                .parent()
                .is_some_and(|p| self.watched.iter().any(|w| w == p))
            {
                return Ok(real);
            }
            return Err(format!(
                "{} is in a watched folder without delete_after_upload = true",
                real.display()
            ));
        }
        match &self.data {
            Some(data) if real.starts_with(data) => Ok(real),
            Some(data) => Err(format!(
                "{} is outside the data folder {}",
                real.display(),
                data.display()
            )),
            None => Err("the data folder cannot be resolved".into()),
        }
    }
}

/// Runs a pass after every confirmed upload and once a minute.
pub(crate) async fn run(
    catalog: std::sync::Arc<Catalog>,
    scope: Scope,
    events: crate::queue::Emit,
    waker: Waker,
    cancel: CancellationToken,
) {
    loop {
        for e in sweep(&catalog, &scope, now_ms()) {
            events(e);
        }
        tokio::select! {
            _ = cancel.cancelled() => {
                // Uploads confirmed during the shutdown's grace period count too.
                for e in sweep(&catalog, &scope, now_ms()) {
                    events(e);
                }
                return;
            }
            _ = waker.woken() => {}
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
    }
}

/// One pass: deletes what the rules allow within `scope` and returns what it did.
pub fn sweep(catalog: &Catalog, scope: &Scope, now_ms: i64) -> Vec<UploadEvent> {
    let mut events = Vec::new();
    for u in catalog.retained_uploads().unwrap_or_default() {
        let reason = match KeepLocal::from_stored(&u.keep_local) {
            KeepLocal::UntilUploaded => "keep_local = \"until_uploaded\"".to_string(),
            KeepLocal::For(secs) if u.queued_ms.saturating_add(ms(secs)) <= now_ms => {
                format!("keep_local = \"{}\"", KeepLocal::For(secs))
            }
            _ => continue,
        };
        delete(catalog, scope, &u, reason, now_ms, &mut events);
    }
    for (group, max, mut bytes) in catalog.local_bytes_by_keep_group().unwrap_or_default() {
        if bytes <= max {
            continue;
        }
        for u in catalog.deletable_in_keep_group(&group).unwrap_or_default() {
            if bytes <= max {
                break;
            }
            if delete(
                catalog,
                scope,
                &u,
                format!("keep_local_max of {group}"),
                now_ms,
                &mut events,
            ) {
                bytes = bytes.saturating_sub(u.bytes);
            }
        }
        if bytes > max {
            events.push(UploadEvent::OverBudget { group, bytes, max });
        }
    }
    events
}

/// Seconds as milliseconds, saturating (ages are validated, stored rows are not).
fn ms(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1000)
}

fn delete(
    catalog: &Catalog,
    scope: &Scope,
    u: &Upload,
    reason: String,
    now_ms: i64,
    events: &mut Vec<UploadEvent>,
) -> bool {
    let gone = matches!(std::fs::symlink_metadata(&u.path), Err(e) if e.kind() == std::io::ErrorKind::NotFound);
    if !gone {
        let real = match scope.check(u) {
            Ok(real) => real,
            Err(why) => {
                // Never again: the row keeps its file for good, and the user hears once.
                let _ = catalog.keep_local_forever(u.id);
                tracing::warn!("kept {}: {why}", u.path);
                events.push(UploadEvent::KeptLocal {
                    key: u.key.clone(),
                    path: u.path.clone(),
                    reason: why,
                });
                return false;
            }
        };
        // Only the very file that was uploaded: a file rewritten since would have been
        // queued again (and so not be `done`), but check the size the bucket confirmed.
        match std::fs::metadata(&real) {
            Ok(m) if m.len() == u.bytes => {
                if std::fs::remove_file(&real).is_err() {
                    return false;
                }
            }
            Ok(_) => return false,
            // Gone meanwhile: nothing to free, but stop counting it.
            Err(_) => {}
        }
    }
    let _ = catalog.local_deleted(u.id, now_ms);
    events.push(UploadEvent::LocalDeleted {
        key: u.key.clone(),
        path: u.path.clone(),
        reason,
    });
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use tapedeck_catalog::NewUpload;

    fn queue(
        catalog: &Catalog,
        dir: &std::path::Path,
        key: &str,
        keep: KeepLocal,
        max: Option<u64>,
        t: i64,
    ) -> std::path::PathBuf {
        let path = dir.join(key.replace('/', "_"));
        std::fs::write(&path, vec![0u8; 1000]).unwrap();
        catalog
            .enqueue_upload(&NewUpload {
                profile: "p".into(),
                key: key.into(),
                path: path.to_string_lossy().into(),
                kind: tapedeck_catalog::FileKind::Segment,
                group: "live/cam".into(),
                bytes: 1000,
                mtime_ms: 0,
                keep_local: keep.to_stored(),
                keep_group: "live/*".into(),
                keep_max: max,
                queued_ms: t,
            })
            .unwrap();
        path
    }

    fn confirm(catalog: &Catalog, key: &str) {
        let row = catalog
            .uploads(true, 100)
            .unwrap()
            .into_iter()
            .find(|u| u.key == key)
            .unwrap();
        assert!(catalog.upload_done(row.id, row.generation, 1).unwrap());
    }

    fn tempdir(name: &str) -> std::path::PathBuf {
        let d =
            std::env::temp_dir().join(format!("tapedeck-retention-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn only_confirmed_files_go_and_only_by_their_rule() {
        let dir = tempdir("rules");
        let c = Catalog::in_memory().unwrap();
        let a = queue(&c, &dir, "a.ts", KeepLocal::UntilUploaded, None, 0);
        let b = queue(&c, &dir, "b.ts", KeepLocal::UntilUploaded, None, 0);
        let week = queue(&c, &dir, "w.ts", KeepLocal::For(7 * 86_400), None, 0);
        let forever = queue(&c, &dir, "f.ts", KeepLocal::Forever, None, 0);
        confirm(&c, "a.ts");
        confirm(&c, "w.ts");
        confirm(&c, "f.ts");
        let scope = Scope::new(&dir, &[]);
        let events = sweep(&c, &scope, 86_400_000);
        assert_eq!(events.len(), 1, "{events:?}");
        assert!(!a.exists());
        assert!(b.exists(), "not confirmed: kept");
        assert!(week.exists() && forever.exists());
        sweep(&c, &scope, 8 * 86_400_000);
        assert!(!week.exists());
        assert!(forever.exists());
        // Twice is harmless.
        assert!(sweep(&c, &scope, 9 * 86_400_000).is_empty());
    }

    /// A row whose file lies outside the data folder (a damaged or forged catalog, a
    /// link planted in the folder) keeps its file, and is reported once.
    #[cfg(unix)]
    #[test]
    fn nothing_outside_the_scope_is_deleted() {
        let dir = tempdir("scope");
        let data = dir.join("data");
        let outside = dir.join("outside");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        let c = Catalog::in_memory().unwrap();
        let victim = queue(
            &c,
            &outside,
            "precious.ts",
            KeepLocal::UntilUploaded,
            None,
            0,
        );
        confirm(&c, "precious.ts");
        // Through a link in the data folder, and through a folder link.
        let planted = queue(
            &c,
            &outside,
            "planted.ts",
            KeepLocal::UntilUploaded,
            None,
            0,
        );
        std::os::unix::fs::symlink(&planted, data.join("planted_link.ts")).unwrap();
        std::os::unix::fs::symlink(&outside, data.join("out")).unwrap();
        c.enqueue_upload(&NewUpload {
            profile: "p".into(),
            key: "link.ts".into(),
            path: data.join("planted_link.ts").to_string_lossy().into(),
            kind: tapedeck_catalog::FileKind::Segment,
            group: "live/cam".into(),
            bytes: 1000,
            mtime_ms: 0,
            keep_local: KeepLocal::UntilUploaded.to_stored(),
            keep_group: String::new(),
            keep_max: None,
            queued_ms: 0,
        })
        .unwrap();
        confirm(&c, "link.ts");
        c.enqueue_upload(&NewUpload {
            profile: "p".into(),
            key: "via_dir.ts".into(),
            path: data.join("out").join("planted.ts").to_string_lossy().into(),
            kind: tapedeck_catalog::FileKind::Segment,
            group: "live/cam".into(),
            bytes: 1000,
            mtime_ms: 0,
            keep_local: KeepLocal::UntilUploaded.to_stored(),
            keep_group: String::new(),
            keep_max: None,
            queued_ms: 0,
        })
        .unwrap();
        confirm(&c, "via_dir.ts");
        let inside = queue(&c, &data, "inside.ts", KeepLocal::UntilUploaded, None, 0);
        confirm(&c, "inside.ts");
        let scope = Scope::new(&data, &[]);
        let events = sweep(&c, &scope, 1);
        assert!(victim.exists() && planted.exists(), "{events:?}");
        assert!(data.join("planted_link.ts").exists());
        assert!(!inside.exists(), "{events:?}");
        let kept: Vec<&str> = events
            .iter()
            .filter_map(|e| match e {
                UploadEvent::KeptLocal { key, .. } => Some(key.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(kept, ["precious.ts", "link.ts", "via_dir.ts"], "{events:?}");
        // Reported once: the rows keep their files for good.
        assert!(sweep(&c, &scope, 2).is_empty());

        // A watched file goes only from a folder whose watch allows it.
        let watched = dir.join("obs");
        std::fs::create_dir_all(&watched).unwrap();
        let obs = |name: &str| {
            let path = watched.join(name);
            std::fs::write(&path, vec![0u8; 1000]).unwrap();
            c.enqueue_upload(&NewUpload {
                profile: "p".into(),
                key: name.into(),
                path: path.to_string_lossy().into(),
                kind: tapedeck_catalog::FileKind::Watched,
                group: "obs/desk".into(),
                bytes: 1000,
                mtime_ms: 0,
                keep_local: KeepLocal::UntilUploaded.to_stored(),
                keep_group: String::new(),
                keep_max: None,
                queued_ms: 0,
            })
            .unwrap();
            confirm(&c, name);
            path
        };
        let a = obs("a.mkv");
        sweep(&c, &scope, 3);
        assert!(a.exists(), "no delete_after_upload: kept");
        let b = obs("b.mkv");
        sweep(&c, &Scope::new(&data, std::slice::from_ref(&watched)), 4);
        assert!(!b.exists(), "delete_after_upload: deleted once confirmed");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_budget_deletes_oldest_confirmed_first() {
        let dir = tempdir("budget");
        let c = Catalog::in_memory().unwrap();
        let max = Some(2500);
        let old = queue(&c, &dir, "1.ts", KeepLocal::Forever, max, 1);
        let unconfirmed = queue(&c, &dir, "2.ts", KeepLocal::Forever, max, 2);
        let mid = queue(&c, &dir, "3.ts", KeepLocal::Forever, max, 3);
        let new = queue(&c, &dir, "4.ts", KeepLocal::Forever, max, 4);
        confirm(&c, "1.ts");
        confirm(&c, "3.ts");
        confirm(&c, "4.ts");
        let events = sweep(&c, &Scope::new(&dir, &[]), 10);
        // 4000 bytes over a 2500 budget: the two oldest confirmed go, the unconfirmed stays.
        assert!(!old.exists() && !mid.exists());
        assert!(unconfirmed.exists() && new.exists());
        assert_eq!(events.len(), 2, "{events:?}");
    }
}
