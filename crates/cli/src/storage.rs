//! `tapedeck storage list|login|logout|test` and `tapedeck uploads`.

use std::io::{BufRead, Write};

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

use tapedeck_catalog::{NewUpload, Upload, UploadState};
use tapedeck_recorder::Config;
use tapedeck_storage::credentials::lookup;
use tapedeck_storage::{Bucket, CredentialStore, Credentials, KeyringStore, StorageProfile};

fn profile<'c>(config: &'c Config, name: &str) -> Result<&'c StorageProfile> {
    match config.storage.iter().find(|s| s.name == name) {
        Some(p) => Ok(p),
        None if config.storage.is_empty() => bail!(
            "there is no storage profile {name:?}: the configuration has no [[storage]] table"
        ),
        None => bail!(
            "there is no storage profile {name:?}; the configuration has {}",
            config
                .storage
                .iter()
                .map(|s| format!("{:?}", s.name))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

pub fn list(config: &Config) -> Result<()> {
    if config.storage.is_empty() {
        println!("no storage profiles: every template writes to the local folder only");
        return Ok(());
    }
    let store = KeyringStore;
    for p in &config.storage {
        let keys = match lookup(&store, &p.name, process_env) {
            Ok((c, source)) => {
                format!("key {} from the {source:?}", c.access_key_id).to_lowercase()
            }
            Err(_) => "no credentials (tapedeck storage login)".into(),
        };
        let used: Vec<String> = config
            .template
            .iter()
            .filter(|t| t.storage == p.name)
            .map(|t| format!("{}/{}", t.app, t.stream))
            .collect();
        println!(
            "{}: {} {} bucket {:?}{} - {keys}; templates: {}",
            p.name,
            p.provider.label(),
            p.endpoint_label(),
            p.bucket,
            if p.prefix.is_empty() {
                String::new()
            } else {
                format!(" prefix {:?}", p.prefix)
            },
            if used.is_empty() {
                "none".into()
            } else {
                used.join(", ")
            }
        );
    }
    Ok(())
}

/// Asks for the keys (the secret without echo) and stores them in the OS keyring.
pub fn login(
    config: &Config,
    name: &str,
    access_key_id: Option<String>,
    secret_stdin: bool,
) -> Result<()> {
    let p = profile(config, name)?;
    let id = match access_key_id {
        Some(id) => id,
        None => {
            eprint!("Access key id for {} ({}): ", p.name, p.provider.label());
            std::io::stderr().flush().ok();
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("reading the access key id")?;
            line.trim().to_string()
        }
    };
    let secret = if secret_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the secret from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else {
        rpassword::prompt_password("Secret access key (not shown): ")
            .context("reading the secret access key")?
    };
    if id.is_empty() || secret.is_empty() {
        bail!("the access key id and the secret must not be empty");
    }
    KeyringStore
        .set(
            name,
            &Credentials {
                access_key_id: id,
                secret_access_key: secret,
            },
        )
        .map_err(|why| anyhow::anyhow!("the OS keyring could not store the keys ({why}); on a headless server set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for `tapedeck serve` instead"))?;
    println!("stored the keys of {name:?} in the OS keyring (service \"tapedeck\"); check them with `tapedeck storage test {name}`");
    Ok(())
}

pub fn logout(config: &Config, name: &str) -> Result<()> {
    profile(config, name)?;
    KeyringStore
        .delete(name)
        .map_err(|why| anyhow::anyhow!("the OS keyring could not remove the keys: {why}"))?;
    println!("removed the keys of {name:?} from the OS keyring");
    Ok(())
}

pub fn test(config: &Config, name: &str, json: bool) -> Result<bool> {
    let p = profile(config, name)?;
    let (credentials, source) = lookup(&KeyringStore, name, process_env)?;
    let bucket = Bucket::new(p, &credentials);
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let report = runtime.block_on(tapedeck_storage::check(&bucket));
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(report.ok());
    }
    println!(
        "storage profile {:?}: {} at {}, key {} from the {}",
        p.name,
        p.provider.label(),
        report.endpoint,
        credentials.access_key_id,
        match source {
            tapedeck_storage::CredentialSource::Keyring => "OS keyring",
            tapedeck_storage::CredentialSource::Environment => "environment",
        }
    );
    match &report.buckets {
        Ok(b) if b.is_empty() => println!("  buckets of the account: none listed"),
        Ok(b) => println!("  buckets of the account: {}", b.join(", ")),
        Err(e) => println!("  buckets of the account: not listed ({e})"),
    }
    match &report.bucket_found {
        Ok(()) => println!("  OK   bucket {:?} is there", p.bucket),
        Err(e) => println!("  FAIL {e}"),
    }
    match &report.write_read {
        Ok(key) => println!("  OK   wrote and read back {key}"),
        Err(e) if report.bucket_found.is_ok() => println!("  FAIL {e}"),
        Err(_) => {}
    }
    if report.ok() {
        println!("ready: recordings of the templates with storage = {name:?} will upload here");
    }
    Ok(report.ok())
}

fn state(u: &Upload) -> String {
    match u.state {
        UploadState::Done => "done".into(),
        UploadState::Lost => "lost".into(),
        UploadState::Queued if u.rate_bps > 0 => "sending".into(),
        UploadState::Queued if u.attempts > 0 => format!("retry {}", u.attempts),
        UploadState::Queued => "waiting".into(),
    }
}

fn mb(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / 1e6)
}

pub fn uploads(config: &Config, all: bool, json: bool, limit: usize) -> Result<()> {
    let catalog = crate::query::open(config)?;
    let rows = catalog.uploads(all, limit)?;
    let counts = catalog.upload_counts()?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "counts": counts,
                "uploads": rows,
            }))?
        );
        return Ok(());
    }
    println!(
        "{} waiting ({} MB, {} retrying), {} done, {} lost",
        counts.queued,
        mb(counts.queued_bytes),
        counts.failing,
        counts.done,
        counts.lost
    );
    if rows.is_empty() {
        return Ok(());
    }
    println!(
        "{:<9} {:<9} {:>9} {:>6} {:>9} {:>5}  key / last error",
        "state", "profile", "MB", "sent", "Mbit/s", "tries"
    );
    for u in rows {
        let sent = (u.sent_bytes.min(u.bytes) * 100)
            .checked_div(u.bytes)
            .unwrap_or(100);
        println!(
            "{:<9} {:<9} {:>9} {:>5}% {:>9.1} {:>5}  {}",
            state(&u),
            u.profile,
            mb(u.bytes),
            sent,
            u.rate_bps as f64 * 8.0 / 1e6,
            u.attempts,
            u.key
        );
        if let (Some(e), UploadState::Queued | UploadState::Lost) = (&u.last_error, u.state) {
            println!("{:<47}  {e}", "");
        }
    }
    Ok(())
}

/// Files under `path` (itself when it is a file) with their keys relative to it. `path`
/// itself may be a symbolic link (you named it); links inside are not followed
/// (`tapedeck_recorder::walk`), and each is named on the terminal.
fn walk(path: &Path, key_prefix: &str, out: &mut Vec<(PathBuf, String)>) -> Result<()> {
    let meta = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if meta.is_file() {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push((path.to_owned(), format!("{key_prefix}{name}")));
        return Ok(());
    }
    let walked = tapedeck_recorder::walk::walk_all(path);
    for (p, why) in &walked.skipped {
        eprintln!("skipped {}: {why}", p.display());
    }
    for p in walked.files {
        let rel = tapedeck_recorder::files::key_of(path, &p);
        out.push((p, format!("{key_prefix}{rel}")));
    }
    Ok(())
}

pub fn upload(
    config: &Config,
    name: &str,
    paths: &[PathBuf],
    key_prefix: &str,
    json: bool,
) -> Result<()> {
    let p = profile(config, name)?.clone();
    lookup(&KeyringStore, name, process_env)?;
    let mut files = Vec::new();
    for path in paths {
        walk(path, key_prefix, &mut files)?;
    }
    files.sort();
    let catalog = std::sync::Arc::new(crate::query::open(config)?);
    let mut total = 0;
    for (path, key) in &files {
        let meta = std::fs::metadata(path)?;
        total += meta.len();
        catalog.enqueue_upload(&NewUpload {
            profile: name.to_string(),
            key: key.clone(),
            path: path.to_string_lossy().into_owned(),
            kind: tapedeck_catalog::FileKind::File,
            group: format!("upload/{name}"),
            bytes: meta.len(),
            mtime_ms: tapedeck_storage::upload::mtime_ms(&meta),
            keep_local: "forever".into(),
            keep_group: String::new(),
            keep_max: None,
            queued_ms: chrono::Utc::now().timestamp_millis(),
        })?;
    }
    eprintln!(
        "uploading {} file(s), {:.1} MB, to {:?} ({} bucket {:?})",
        files.len(),
        total as f64 / 1e6,
        name,
        p.provider.label(),
        p.bucket
    );
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let cancel = tokio_util::sync::CancellationToken::new();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let (_waker, mut tasks) = tapedeck_storage::queue::start(
            catalog.clone(),
            tapedeck_engine::retention_scope(config),
            vec![p],
            std::sync::Arc::new(KeyringStore),
            std::sync::Arc::new(process_env),
            std::sync::Arc::new(move |e| {
                let _ = tx.send(e);
            }),
            cancel.clone(),
        );
        let start = std::time::Instant::now();
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(100));
        let mut bar = crate::progress::Progress::new("upload", crate::progress::Unit::Bytes, total, json);
        let result = loop {
            tokio::select! {
                Some(e) = rx.recv() => {
                    if let tapedeck_storage::UploadEvent::BucketDown { error, .. } = e {
                        break Err(anyhow::anyhow!("{error}; the files stay queued, and `tapedeck serve` uploads them once the bucket can be reached"));
                    }
                }
                _ = tick.tick() => {
                    let (left, left_bytes) = catalog.queued(name)?;
                    let secs = start.elapsed().as_secs_f64();
                    bar.set(total.saturating_sub(left_bytes));
                    if left == 0 {
                        bar.finish();
                        if json {
                            println!("{}", serde_json::json!({
                                "event": "done",
                                "task": "upload",
                                "files": files.len(),
                                "bytes": total,
                                "seconds": secs,
                            }));
                        } else {
                            eprintln!(
                                "done: {} file(s), {:.1} MB in {secs:.1} s ({:.1} MB/s)",
                                files.len(),
                                total as f64 / 1e6,
                                total as f64 / 1e6 / secs.max(1e-3)
                            );
                        }
                        break Ok(());
                    }
                }
            }
        };
        cancel.cancel();
        while tasks.join_next().await.is_some() {}
        result
    })
}

/// The process environment: on a headless server the keys may be there
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`).
fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}
