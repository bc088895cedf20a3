//! Local copies after upload (`keep_local`, `keep_local_max` in a template): a local file is
//! deleted only after the bucket confirmed its upload, oldest first. Playlists and indexes
//! stay (they are small and keep the local folder browsable). Nothing is ever deleted from
//! a bucket.

use std::time::Duration;

use tapedeck_catalog::{Catalog, Upload};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::queue::{now_ms, UploadEvent, Waker};
use crate::units::KeepLocal;

/// Runs a pass after every confirmed upload and once a minute.
pub(crate) async fn run(
    catalog: std::sync::Arc<Catalog>,
    events: mpsc::UnboundedSender<UploadEvent>,
    waker: Waker,
    cancel: CancellationToken,
) {
    loop {
        for e in sweep(&catalog, now_ms()) {
            let _ = events.send(e);
        }
        tokio::select! {
            _ = cancel.cancelled() => {
                // Uploads confirmed during the shutdown's grace period count too.
                for e in sweep(&catalog, now_ms()) {
                    let _ = events.send(e);
                }
                return;
            }
            _ = waker.woken() => {}
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
    }
}

/// One pass: deletes what the rules allow and returns what it did.
pub fn sweep(catalog: &Catalog, now_ms: i64) -> Vec<UploadEvent> {
    let mut events = Vec::new();
    for u in catalog.retained_uploads().unwrap_or_default() {
        let reason = match KeepLocal::from_stored(&u.keep_local) {
            KeepLocal::UntilUploaded => "keep_local = \"until_uploaded\"".to_string(),
            KeepLocal::For(secs) if u.queued_ms + secs as i64 * 1000 <= now_ms => {
                format!("keep_local = \"{}\"", KeepLocal::For(secs))
            }
            _ => continue,
        };
        delete(catalog, &u, reason, now_ms, &mut events);
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

fn delete(
    catalog: &Catalog,
    u: &Upload,
    reason: String,
    now_ms: i64,
    events: &mut Vec<UploadEvent>,
) -> bool {
    // Only the very file that was uploaded: a file rewritten since would have been queued
    // again (and so not be `done`), but check the size the bucket confirmed anyway.
    match std::fs::metadata(&u.path) {
        Ok(m) if m.len() == u.bytes => {
            if std::fs::remove_file(&u.path).is_err() {
                return false;
            }
        }
        Ok(_) => return false,
        // Already gone (deleted by hand): nothing to free, but stop counting it.
        Err(_) => {}
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
                kind: "segment".into(),
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
        let events = sweep(&c, 86_400_000);
        assert_eq!(events.len(), 1, "{events:?}");
        assert!(!a.exists());
        assert!(b.exists(), "not confirmed: kept");
        assert!(week.exists() && forever.exists());
        sweep(&c, 8 * 86_400_000);
        assert!(!week.exists());
        assert!(forever.exists());
        // Twice is harmless.
        assert!(sweep(&c, 9 * 86_400_000).is_empty());
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
        let events = sweep(&c, 10);
        // 4000 bytes over a 2500 budget: the two oldest confirmed go, the unconfirmed stays.
        assert!(!old.exists() && !mid.exists());
        assert!(unconfirmed.exists() && new.exists());
        assert_eq!(events.len(), 2, "{events:?}");
    }
}
