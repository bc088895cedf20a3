//! What the CLI (through the control API) and the app ask of a running engine. Every
//! command returns an [`EngineError`] with a kind and a sentence.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tapedeck_config::config::PullConfig;
use tapedeck_ingest::pull::{run_pull, PullSpec};
use tapedeck_recorder::export::{Exported, Progress};
use tapedeck_recorder::ControlError;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::archive::{Archive, ExportQuery};
use crate::error::{EngineError, ErrorKind};
use crate::Engine;

/// A stream by its names.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS)]
pub struct StreamKey {
    pub app: String,
    pub stream: String,
}

/// Chapter titles are at most this long (the MP4's `chpl` keeps 255 bytes).
pub const MAX_CHAPTER_TITLE: usize = 120;

/// A chapter that was marked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct ChapterMark {
    pub app: String,
    pub stream: String,
    pub title: String,
    /// Its wall-clock time (UTC).
    pub at: chrono::DateTime<chrono::Utc>,
}

impl Engine {
    /// The catalog and its questions (spans, indexes, exports, the upload queue).
    pub fn archive(&self) -> &Archive {
        &self.inner().archive
    }

    /// Streams being recorded, or waiting within their interruption window.
    pub fn streams(&self) -> Vec<StreamKey> {
        self.inner()
            .recorder
            .active()
            .into_iter()
            .map(|(app, stream)| StreamKey { app, stream })
            .collect()
    }

    /// Stops (`false`) or starts again (`true`) recording a live stream; the publisher
    /// stays connected. Stopping finishes its files now; starting records into new ones.
    pub fn set_recording(&self, app: &str, stream: &str, on: bool) -> Result<(), EngineError> {
        self.inner()
            .recorder
            .set_recording(app, stream, on)
            .map_err(|e| match e {
                ControlError::NotLive(_) => EngineError::not_found(e.to_string()),
                ControlError::Busy(_) | ControlError::NotRecording(_) => {
                    EngineError::conflict(e.to_string())
                }
            })
    }

    /// Marks a chapter titled `title` at the live edge of a live stream's recording: it
    /// goes into the MP4 (chapter track and `chpl`), the FLV (`onCuePoint`, then
    /// `onMetaData`), the HLS playlist (`EXT-X-DATERANGE`) and the catalog (clips exported
    /// over it keep it). Written at once: a crash keeps it.
    pub async fn add_chapter(
        &self,
        app: &str,
        stream: &str,
        title: &str,
    ) -> Result<ChapterMark, EngineError> {
        let title = title.trim();
        if title.is_empty() {
            return Err(EngineError::invalid("a chapter needs a title"));
        }
        if title.chars().count() > MAX_CHAPTER_TITLE {
            return Err(EngineError::invalid(format!(
                "a chapter title has at most {MAX_CHAPTER_TITLE} characters"
            )));
        }
        if title.chars().any(char::is_control) {
            return Err(EngineError::invalid(
                "a chapter title cannot hold line breaks or control characters",
            ));
        }
        let at = self
            .inner()
            .recorder
            .add_chapter(app, stream, title)
            .await
            .map_err(|e| match e {
                ControlError::NotLive(_) => EngineError::not_found(e.to_string()),
                ControlError::Busy(_) | ControlError::NotRecording(_) => {
                    EngineError::conflict(e.to_string())
                }
            })?;
        Ok(ChapterMark {
            app: app.to_string(),
            stream: stream.to_string(),
            title: title.to_string(),
            at,
        })
    }

    /// Exports a clip on a blocking thread. `progress` is called after each segment of
    /// each pass; cancelling `cancel` stops the export, removes what it wrote and returns
    /// [`ErrorKind::Cancelled`].
    pub async fn export(
        &self,
        query: ExportQuery,
        mut progress: impl FnMut(Progress) + Send + 'static,
        cancel: CancellationToken,
    ) -> Result<Exported, EngineError> {
        let archive = self.archive().clone();
        let stop = self.shutdown_token();
        tokio::task::spawn_blocking(move || {
            let cancelled = || cancel.is_cancelled() || stop.is_cancelled();
            archive.export(&query, &mut progress, &cancelled)
        })
        .await
        .map_err(|e| EngineError::internal(format!("the export stopped unexpectedly: {e}")))?
    }

    /// Reads the bucket of storage profile `profile` into the catalog (`catalog import`):
    /// recordings from any machine that uploads there; `progress` after each object read.
    pub async fn import(
        &self,
        profile: &str,
        mut progress: impl FnMut(crate::import::ImportProgress) + Send,
    ) -> Result<crate::import::ImportReport, EngineError> {
        self.archive().import(profile, &mut progress).await
    }

    /// Starts pulling a remote stream (RTMP, HTTP-FLV or HLS) as `app/stream`, until
    /// [`Engine::remove_pull`] or shutdown. Not written to the configuration file.
    pub fn add_pull(&self, pull: PullConfig) -> Result<(), EngineError> {
        let mut check = (*self.config()).clone();
        check.pull = vec![pull.clone()];
        let problems: Vec<_> = check
            .validate()
            .into_iter()
            .filter(|p| p.field.starts_with("pull["))
            .collect();
        if !problems.is_empty() {
            return Err(EngineError::problems(
                format!("cannot pull {}", tapedeck_ingest::redact::url(&pull.url)),
                problems,
            ));
        }
        let key = StreamKey {
            app: pull.app.clone(),
            stream: pull.stream.clone(),
        };
        let mut pulls = self.inner().pulls.lock().unwrap_or_else(|p| p.into_inner());
        if pulls.contains_key(&key) {
            return Err(EngineError::conflict(format!(
                "{}/{} is already pulled; remove it first",
                key.app, key.stream
            )));
        }
        let cancel = self.shutdown_token().child_token();
        let spec = PullSpec {
            url: pull.url.clone(),
            app: pull.app,
            stream: pull.stream,
        };
        info!(
            "pulling {} as {}/{}",
            tapedeck_ingest::redact::url(&spec.url),
            spec.app,
            spec.stream
        );
        let task = tokio::spawn(run_pull(
            spec,
            Arc::new(self.inner().recorder.clone()),
            cancel.clone(),
        ));
        pulls.insert(key, (cancel, task));
        Ok(())
    }

    /// Stops pulling `app/stream` (its recording waits within its interruption window, as
    /// for a publisher that left).
    pub async fn remove_pull(&self, app: &str, stream: &str) -> Result<(), EngineError> {
        let key = StreamKey {
            app: app.into(),
            stream: stream.into(),
        };
        let found = self
            .inner()
            .pulls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key);
        let Some((cancel, task)) = found else {
            return Err(EngineError::new(
                ErrorKind::NotFound,
                format!("{app}/{stream} is not pulled"),
            ));
        };
        cancel.cancel();
        let _ = task.await;
        info!("stopped pulling {app}/{stream}");
        Ok(())
    }

    /// The streams being pulled.
    pub fn pulls(&self) -> Vec<StreamKey> {
        let mut keys: Vec<StreamKey> = self
            .inner()
            .pulls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        keys.sort();
        keys
    }
}
