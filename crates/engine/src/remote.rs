//! Recorded files that are not on this machine: imported from a bucket (`catalog import`),
//! or deleted here by retention after their upload. A request that needs one (a clip
//! export, a thumbnail, the preview) downloads it from the bucket that holds it into a
//! bounded cache under the data folder; nothing else is fetched.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tapedeck_catalog::Catalog;
use tapedeck_config::{Config, StorageProfile};
use tapedeck_recorder::files::Locate;
use tapedeck_storage::credentials::lookup;
use tapedeck_storage::queue::Env;
use tapedeck_storage::{Bucket, CredentialStore};

use crate::error::{EngineError, ErrorKind};

/// Default bound of the download cache.
pub const CACHE_LIMIT: u64 = 4 << 30;

/// Finds recorded keys locally, else in the bucket holding them.
pub struct RemoteFiles {
    recordings: PathBuf,
    cache: PathBuf,
    limit: u64,
    catalog: Arc<Catalog>,
    /// The configuration's profiles (brought up to date by [`RemoteFiles::set_profiles`]).
    profiles: Mutex<Vec<StorageProfile>>,
    credentials: Arc<dyn CredentialStore>,
    env: Env,
    /// One download per key at a time (the preview and a thumbnail may want the same
    /// segment at once); other keys download meanwhile.
    fetching: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for RemoteFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteFiles")
            .field("cache", &self.cache)
            .finish()
    }
}

/// Where downloaded recordings are kept.
pub fn cache_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("cache").join("remote")
}

impl RemoteFiles {
    pub fn new(
        config: &Config,
        catalog: Arc<Catalog>,
        credentials: Arc<dyn CredentialStore>,
        env: Env,
    ) -> RemoteFiles {
        RemoteFiles {
            recordings: config.recordings_dir(),
            cache: cache_dir(&config.data_dir),
            limit: CACHE_LIMIT,
            catalog,
            profiles: Mutex::new(config.storage.clone()),
            credentials,
            env,
            fetching: Mutex::new(HashMap::new()),
        }
    }

    /// Files of the recordings folder only (tests).
    pub fn local_only(recordings: PathBuf, catalog: Arc<Catalog>) -> RemoteFiles {
        RemoteFiles {
            cache: recordings.join(".cache"),
            recordings,
            limit: CACHE_LIMIT,
            catalog,
            profiles: Mutex::new(Vec::new()),
            credentials: Arc::new(tapedeck_storage::MemoryStore::default()),
            env: tapedeck_storage::queue::no_env(),
            fetching: Mutex::new(HashMap::new()),
        }
    }

    /// The profiles of the configuration now in force (a profile added since start).
    pub fn set_profiles(&self, profiles: Vec<StorageProfile>) {
        *self.profiles.lock().unwrap_or_else(|p| p.into_inner()) = profiles;
    }

    /// The bucket of profile `name`, with its keys.
    pub fn bucket(&self, name: &str) -> Result<Bucket, EngineError> {
        let profile = self
            .profiles
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|p| p.name == name)
            .cloned()
            .ok_or_else(|| {
                EngineError::new(
                    ErrorKind::NotFound,
                    format!("there is no storage profile named {name:?}: add it on the Storage screen or in the configuration (recordings imported from its bucket are fetched through it)"),
                )
            })?;
        let (keys, _) = lookup(&*self.credentials, name, &*self.env)?;
        Ok(Bucket::new(&profile, &keys))
    }

    /// The lock of downloads of `key`.
    fn key_lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut all = self.fetching.lock().unwrap_or_else(|p| p.into_inner());
        // Locks nobody holds or waits for are dropped as others are made.
        all.retain(|_, l| Arc::strong_count(l) > 1);
        all.entry(key.to_string()).or_default().clone()
    }

    /// Where `key` is, or would be, when it needs no download; with the profile to fetch it
    /// from otherwise.
    fn find(&self, key: &str) -> Result<(PathBuf, Option<String>), EngineError> {
        check_key(key)?;
        let local = self.recordings.join(key);
        if local.is_file() {
            return Ok((local, None));
        }
        match self.catalog.remote_of(key)? {
            None => Ok((local, None)),
            Some(profile) => {
                let cached = self.cache.join(&profile).join(key);
                if cached.is_file() {
                    // Used now: the cache trims the longest unused first.
                    let _ = std::fs::File::options()
                        .append(true)
                        .open(&cached)
                        .and_then(|f| f.set_modified(std::time::SystemTime::now()));
                    return Ok((cached, None));
                }
                Ok((cached, Some(profile)))
            }
        }
    }

    /// A local path with the bytes of `key` (async callers).
    pub async fn path(&self, key: &str) -> Result<PathBuf, EngineError> {
        let (path, profile) = self.find(key)?;
        let Some(profile) = profile else {
            return Ok(path);
        };
        let lock = self.key_lock(key);
        let _one = lock.lock().await;
        if path.is_file() {
            return Ok(path); // another request fetched it meanwhile
        }
        let bucket = self.bucket(&profile)?;
        tapedeck_storage::read::download(&bucket, key, &path).await?;
        self.trim(&path);
        Ok(path)
    }

    /// A local path with the bytes of `key`, downloading it if needed (blocking callers:
    /// never from inside an async task).
    pub fn path_blocking(&self, key: &str) -> Result<PathBuf, EngineError> {
        let (path, profile) = self.find(key)?;
        let Some(profile) = profile else {
            return Ok(path);
        };
        let lock = self.key_lock(key);
        let _one = lock.blocking_lock();
        if path.is_file() {
            return Ok(path); // another request fetched it meanwhile
        }
        let bucket = self.bucket(&profile)?;
        block_on(tapedeck_storage::read::download(&bucket, key, &path))??;
        self.trim(&path);
        Ok(path)
    }

    /// Deletes the longest unused downloads until the cache is under its bound (`keep`, the
    /// file just fetched, stays; downloads under way are not touched).
    fn trim(&self, keep: &Path) {
        let walked = tapedeck_recorder::walk::walk_all(&self.cache);
        let mut files: Vec<(std::time::SystemTime, u64, PathBuf)> = walked
            .files
            .into_iter()
            .filter(|p| !p.to_string_lossy().ends_with(".download"))
            .filter_map(|p| {
                let m = std::fs::metadata(&p).ok()?;
                Some((m.modified().ok()?, m.len(), p))
            })
            .collect();
        let mut total: u64 = files.iter().map(|f| f.1).sum();
        files.sort();
        for (_, len, path) in files {
            if total <= self.limit {
                break;
            }
            if path != keep && std::fs::remove_file(&path).is_ok() {
                total -= len;
            }
        }
    }
}

impl Locate for RemoteFiles {
    fn locate(&self, key: &str) -> Result<PathBuf, String> {
        self.path_blocking(key).map_err(|e| e.to_string())
    }
}

/// Runs `f` to completion from blocking code: on the current runtime's handle when there is
/// one (a blocking thread of it), else on a small runtime of its own (the CLI).
pub(crate) fn block_on<F: std::future::Future>(f: F) -> Result<F::Output, EngineError> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => Ok(handle.block_on(f)),
        Err(_) => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| EngineError::internal(format!("no async runtime: {e}")))?;
            Ok(rt.block_on(f))
        }
    }
}

/// A key names a file under the recordings folder: relative, without `.` or `..` parts,
/// drive letters or other colons (Windows: `C:`, alternate data streams).
pub fn check_key(key: &str) -> Result<(), EngineError> {
    if key.is_empty()
        || key.starts_with('/')
        || key.contains('\\')
        || key.contains(':')
        || key
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
        || !Path::new(key)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
    {
        return Err(EngineError::new(
            ErrorKind::Invalid,
            format!("{key:?} is not a recording's key"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_key;

    #[test]
    fn keys_stay_under_the_recordings_folder() {
        assert!(check_key("live/cam1/2026-12-06/a b#1.ts").is_ok());
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "a/./b",
            "a\\..\\b",
            "C:/Users/me/secret",
            "C:secret",
            "a/b.ts:stream",
        ] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
    }
}
