//! Where a finished file goes: one step, in order, from the moment a file is complete
//! under its final name.
//!
//! An output hands a [`Finished`] to its recording's [`Finisher`], which (1) gives it to the
//! [`FileSink`] when there is one (the engine's: the catalog row and, when the template
//! uploads, the upload queue row in one transaction, then the uploader's wake-up) and (2)
//! sends [`RecorderEvent::FileFinished`]. A subscriber that reacts to the event finds the
//! file in the catalog already.

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::config::Template;
use crate::events::{FinishedFile, RecorderEvent};

/// What the catalog learns of a finished file.
#[derive(Clone, Debug, PartialEq)]
pub enum CatalogRow {
    /// An HLS segment (with its codecs, picture size, key frames).
    Segment(tapedeck_catalog::Segment),
    /// A playlist, MP4 or FLV of a recording.
    File(tapedeck_catalog::File),
}

/// A file complete under its final name.
#[derive(Clone, Debug)]
pub struct Finished {
    pub file: FinishedFile,
    pub row: CatalogRow,
    /// The template the recording started with (its storage profile and retention apply,
    /// whatever the configuration says since).
    pub template: Arc<Template>,
    /// Keys of listings this file's arrival rewrote (daily indexes): uploaded after it.
    pub listings: Vec<String>,
    /// The recordings folder (keys are relative to it).
    pub root: std::path::PathBuf,
}

/// Records finished files (the engine: catalog, upload queue, uploader wake-up). Called
/// from a recording's task or a finalizer's blocking thread, once per file.
pub trait FileSink: Send + Sync + 'static {
    fn record(&self, finished: &Finished);
    /// A chapter was marked (in the files already): keep it (the catalog, for exports).
    fn chapter(&self, chapter: &tapedeck_catalog::Chapter);
}

/// A recording's way to report finished files (see the module documentation).
#[derive(Clone)]
pub struct Finisher {
    sink: Option<Arc<dyn FileSink>>,
    events: broadcast::Sender<RecorderEvent>,
    stop: tokio_util::sync::CancellationToken,
}

impl Finisher {
    pub fn new(sink: Option<Arc<dyn FileSink>>, events: broadcast::Sender<RecorderEvent>) -> Self {
        Finisher {
            sink,
            events,
            stop: tokio_util::sync::CancellationToken::new(),
        }
    }

    /// Gives up on files waiting for room to be finished when `stop` is cancelled (the
    /// recorder stops): they stay `.part`, for the next start's recovery.
    pub fn with_stop(self, stop: tokio_util::sync::CancellationToken) -> Self {
        Finisher { stop, ..self }
    }

    /// See [`Finisher::with_stop`]; never cancelled unless set.
    pub fn stop(&self) -> tokio_util::sync::CancellationToken {
        self.stop.clone()
    }

    /// A chapter was marked: the sink keeps it, then `ChapterAdded` goes out.
    pub fn chapter(&self, chapter: tapedeck_catalog::Chapter) {
        if let Some(sink) = &self.sink {
            sink.chapter(&chapter);
        }
        let _ = self.events.send(RecorderEvent::ChapterAdded {
            app: chapter.app,
            stream: chapter.stream,
            at_ms: chapter.at_ms,
            title: chapter.title,
        });
    }

    pub fn finished(&self, finished: Finished) {
        if let Some(sink) = &self.sink {
            sink.record(&finished);
        }
        let _ = self.events.send(RecorderEvent::FileFinished(finished.file));
    }
}

impl std::fmt::Debug for Finisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Finisher")
            .field("sink", &self.sink.is_some())
            .finish()
    }
}

/// The catalog as a [`FileSink`]: each finished file's row and, when its template uploads,
/// its upload queue row, in one transaction (a crash keeps both or neither); listings the
/// file rewrote (daily indexes) are queued after it; then `wake` (the uploader's).
pub struct CatalogSink {
    catalog: Arc<tapedeck_catalog::Catalog>,
    wake: Option<Box<dyn Fn() + Send + Sync>>,
}

impl CatalogSink {
    pub fn new(
        catalog: Arc<tapedeck_catalog::Catalog>,
        wake: Option<Box<dyn Fn() + Send + Sync>>,
    ) -> Self {
        CatalogSink { catalog, wake }
    }
}

impl FileSink for CatalogSink {
    fn chapter(&self, c: &tapedeck_catalog::Chapter) {
        if let Err(e) = self.catalog.add_chapter(c) {
            tracing::warn!(stream = %format!("{}/{}", c.app, c.stream), "chapter not in the catalog: {e}");
        }
    }

    fn record(&self, f: &Finished) {
        let rule = crate::uploads::UploadRule::of_template(&f.template);
        let upload = |key: &str, kind| {
            rule.as_ref()
                .and_then(|r| r.entry(key, &f.file.path, kind, &f.file.app, &f.file.stream))
        };
        // The files are the truth (a rebuild restores the rows): recording goes on.
        let result = match &f.row {
            CatalogRow::Segment(s) => self
                .catalog
                .add_segment_queued(s, upload(&s.key, f.file.kind).as_ref()),
            CatalogRow::File(r) => self
                .catalog
                .add_file_queued(r, upload(&r.key, f.file.kind).as_ref()),
        };
        if let Err(e) = result {
            tracing::warn!(key = %f.file.key, "not in the catalog: {e}");
        }
        if let Some(rule) = &rule {
            for key in &f.listings {
                let path = f.root.join(key);
                let entry = rule.entry(
                    key,
                    &path,
                    tapedeck_catalog::FileKind::Playlist,
                    &f.file.app,
                    &f.file.stream,
                );
                if let Some(u) = entry {
                    if let Err(e) = self.catalog.enqueue_upload(&u) {
                        tracing::warn!(key = %key, "not queued for upload: {e}");
                    }
                }
            }
        }
        if let Some(wake) = &self.wake {
            wake();
        }
    }
}
