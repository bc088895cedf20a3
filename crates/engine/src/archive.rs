//! What was recorded: the catalog of a configuration's data folder, and the questions the
//! CLI and the app ask it. Usable with or without a running engine (the CLI's
//! `recordings spans` opens it directly; the app asks the running engine, which holds one).

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tapedeck_catalog::{Catalog, IndexRecord, Span, Upload};
use tapedeck_config::Config;
use tapedeck_recorder::export::{ExportError, ExportRequest, Exported, Progress};
use tapedeck_recorder::index::{IndexError, IndexRequest};

use crate::error::{EngineError, ErrorKind};
use crate::import::{ImportProgress, ImportReport};
use crate::remote::RemoteFiles;
use tapedeck_storage::queue::Env;
use tapedeck_storage::{CredentialStore, KeyringStore};

/// Where the catalog of a configuration lives.
pub fn catalog_path(config: &Config) -> PathBuf {
    config.data_dir.join("state").join("catalog.sqlite3")
}

/// Opens (creating and migrating as needed) the catalog of `config`.
pub fn open_catalog(config: &Config) -> Result<Catalog, EngineError> {
    let path = catalog_path(config);
    Catalog::open(&path)
        .map_err(|e| EngineError::io(format!("cannot open the catalog {}: {e}", path.display())))
}

/// A custom index to build: an m3u8 over every segment of a stream in a range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct IndexQuery {
    pub app: String,
    pub stream: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Name template of the index (default `{AppName}/{StreamName}/{Date}/{Hour}/{Minute}_{Second}`).
    #[serde(default)]
    pub object: Option<String>,
}

/// A clip to export: one regular MP4 of a range, without re-encoding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct ExportQuery {
    pub app: String,
    pub stream: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub output: PathBuf,
    /// Put recordings back to back instead of keeping the time between them.
    #[serde(default)]
    pub close_gaps: bool,
}

/// The catalog, the configuration that names its folders, and the buckets that hold what
/// this machine has no copy of.
#[derive(Clone)]
pub struct Archive {
    config: Arc<Config>,
    catalog: Arc<Catalog>,
    remote: Arc<RemoteFiles>,
}

impl Archive {
    /// The archive of `config`'s data folder, without a running engine: storage keys come
    /// from the OS keyring, else from `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`.
    pub fn open(config: Arc<Config>) -> Result<Archive, EngineError> {
        let catalog = Arc::new(open_catalog(&config)?);
        let env: Env = Arc::new(|name: &str| std::env::var(name).ok());
        Ok(Archive::new(config, catalog, Arc::new(KeyringStore), env))
    }

    pub(crate) fn new(
        config: Arc<Config>,
        catalog: Arc<Catalog>,
        credentials: Arc<dyn CredentialStore>,
        env: Env,
    ) -> Archive {
        let remote = Arc::new(RemoteFiles::new(&config, catalog.clone(), credentials, env));
        Archive {
            config,
            catalog,
            remote,
        }
    }

    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// Where recorded keys are read: here, else downloaded from their bucket.
    pub fn files(&self) -> &Arc<RemoteFiles> {
        &self.remote
    }

    /// Reads the bucket of storage profile `profile` into the catalog (see
    /// [`crate::import`]).
    pub async fn import(
        &self,
        profile: &str,
        progress: &mut (dyn FnMut(ImportProgress) + Send),
    ) -> Result<ImportReport, EngineError> {
        let bucket = self.remote.bucket(profile)?;
        crate::import::import(self.catalog.clone(), bucket, progress).await
    }

    /// One row per recording of a stream overlapping a range.
    pub fn spans(
        &self,
        app: &str,
        stream: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<Span>, EngineError> {
        Ok(self.catalog.spans(
            app,
            stream,
            start.timestamp_millis(),
            end.timestamp_millis(),
        )?)
    }

    /// Custom indexes by creation time (pages from 1).
    pub fn indexes(
        &self,
        page: u32,
        per_page: u32,
        desc: bool,
    ) -> Result<Vec<IndexRecord>, EngineError> {
        Ok(self.catalog.indexes(page, per_page, desc)?)
    }

    /// Builds, writes and records a custom index (queued for upload when the stream's
    /// template uploads).
    pub fn create_index(&self, q: &IndexQuery) -> Result<IndexRecord, EngineError> {
        let template = self.config.template_for(&q.app, &q.stream);
        let request = IndexRequest {
            app: q.app.clone(),
            stream: q.stream.clone(),
            start: q.start,
            end: q.end,
            object: q.object.clone(),
            max_range: tapedeck_recorder::index::DEFAULT_MAX_RANGE,
            tz: template.map_or(chrono_tz::Tz::UTC, |t| t.tz()),
            upload: template
                .and_then(|t| tapedeck_recorder::uploads::UploadRule::of(&self.config, t)),
        };
        tapedeck_recorder::index::create(
            &self.catalog,
            &self.config.recordings_dir(),
            &request,
            Utc::now(),
        )
        .map_err(index_error)
    }

    /// Exports a clip (blocking: run it on a blocking thread). `progress` after each
    /// segment of each pass; `cancelled` asked as often.
    pub fn export(
        &self,
        q: &ExportQuery,
        progress: &mut dyn FnMut(Progress),
        cancelled: &dyn Fn() -> bool,
    ) -> Result<Exported, EngineError> {
        let request = ExportRequest {
            app: q.app.clone(),
            stream: q.stream.clone(),
            start: q.start,
            end: q.end,
            output: q.output.clone(),
            close_gaps: q.close_gaps,
            // The chapters marked inside the range go into the clip.
            chapters: self
                .catalog
                .chapters(
                    &q.app,
                    &q.stream,
                    q.start.timestamp_millis(),
                    q.end.timestamp_millis(),
                )?
                .into_iter()
                .filter_map(|c| Some((DateTime::from_timestamp_millis(c.at_ms)?, c.title)))
                .collect(),
        };
        tapedeck_recorder::export::export(
            &self.catalog,
            &*self.remote,
            &request,
            progress,
            cancelled,
        )
        .map_err(export_error)
    }

    /// The upload queue: what waits or fails (and, with `with_done`, what went up).
    pub fn uploads(&self, with_done: bool, limit: usize) -> Result<Vec<Upload>, EngineError> {
        Ok(self.catalog.uploads(with_done, limit)?)
    }
}

fn index_error(e: IndexError) -> EngineError {
    let kind = match &e {
        IndexError::EndBeforeStart { .. }
        | IndexError::TooLong { .. }
        | IndexError::TooShort { .. }
        | IndexError::BadObject(..) => ErrorKind::Invalid,
        IndexError::Empty { .. } => ErrorKind::NotFound,
        IndexError::Catalog(_) | IndexError::Write { .. } => ErrorKind::Io,
    };
    EngineError::new(kind, e.to_string())
}

fn export_error(e: ExportError) -> EngineError {
    let kind = match &e {
        ExportError::EndBeforeStart { .. } => ErrorKind::Invalid,
        ExportError::Empty { .. } => ErrorKind::NotFound,
        ExportError::Cancelled => ErrorKind::Cancelled,
        ExportError::Segment { .. } | ExportError::Write { .. } | ExportError::Catalog(_) => {
            ErrorKind::Io
        }
    };
    EngineError::new(kind, e.to_string())
}
