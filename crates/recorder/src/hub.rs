//! The recorder as the ingest side sees it: a [`PublishSink`] that routes each publish to
//! its recording, starting one when needed.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use tapedeck_ingest::{MediaSender, Publication, PublishRequest, PublishSink, Refusal};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::info;

use crate::config::Config;
use crate::events::RecorderEvent;
use crate::recording::{Attachment, Recording};

/// Events a publication may queue before the publisher must wait (about 10 s of a 30 fps
/// stream with audio): enough to ride out a slow disk, bounded so memory is too.
pub const MEDIA_QUEUE: usize = 1024;

pub(crate) type Key = (String, String);

/// Where recordings read wall-clock time: when a recording's first frame arrives, which
/// names its files and dates its segments.
pub type WallClock = Arc<dyn Fn() -> chrono::DateTime<chrono::Utc> + Send + Sync>;

pub(crate) struct Entry {
    pub id: u64,
    attach: mpsc::Sender<Attachment>,
    /// Manual control of the live stream (record start/stop, chapters).
    control: mpsc::Sender<Control>,
    /// Cancels the publication currently feeding the recording (a takeover ends it).
    current: CancellationToken,
    /// Its live stats.
    meter: crate::stats::Meter,
}

/// Live recordings by AppName/StreamName.
#[derive(Default)]
pub struct Registry {
    map: Mutex<HashMap<Key, Entry>>,
}

impl Registry {
    pub(crate) fn lock(&self) -> MutexGuard<'_, HashMap<Key, Entry>> {
        // A panic while holding this lock cannot leave the map half-updated (every change is
        // a single insert or remove), so a poisoned lock is still usable.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Records every stream that a template matches.
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<Inner>,
}

struct Inner {
    clock: WallClock,
    sink: RwLock<Option<Arc<dyn crate::sink::FileSink>>>,
    config: RwLock<Arc<Config>>,
    registry: Arc<Registry>,
    events: broadcast::Sender<RecorderEvent>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    next_id: AtomicU64,
    not_recorded_logged: Mutex<HashSet<Key>>,
    /// Finalize MP4 and FLV files in place where the file system allows (default on).
    in_place: std::sync::atomic::AtomicBool,
    /// Room set aside for finishing files when the disk is full.
    reserve: RwLock<Option<Arc<crate::space::Reserve>>>,
    /// The second each stream's last recording started in.
    starts: crate::recording::StartSeconds,
}

impl Recorder {
    pub fn new(config: Config) -> Recorder {
        Recorder::with_wall_clock(config, Arc::new(chrono::Utc::now))
    }

    /// A recorder whose recordings read the wall clock from `clock` (tests use a fixed
    /// one to put recordings at a day boundary; media time still comes from the streams).
    pub fn with_wall_clock(config: Config, clock: WallClock) -> Recorder {
        let (events, _) = broadcast::channel(1024);
        Recorder {
            inner: Arc::new(Inner {
                config: RwLock::new(Arc::new(config)),
                registry: Arc::new(Registry::default()),
                events,
                shutdown: CancellationToken::new(),
                tracker: TaskTracker::new(),
                next_id: AtomicU64::new(1),
                not_recorded_logged: Mutex::new(HashSet::new()),
                in_place: std::sync::atomic::AtomicBool::new(true),
                clock,
                sink: RwLock::new(None),
                reserve: RwLock::new(None),
                starts: Default::default(),
            }),
        }
    }

    pub fn config(&self) -> Arc<Config> {
        self.inner
            .config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces the configuration. Running recordings keep the template they started with.
    pub fn set_config(&self, config: Config) {
        *self.inner.config.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(config);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<RecorderEvent> {
        self.inner.events.subscribe()
    }

    /// Cancelled when the recorder shuts down; sources stop with it.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.inner.shutdown.clone()
    }

    /// Stops accepting streams, finalizes every open file, and returns when all are done.
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        self.inner.tracker.close();
        self.inner.tracker.wait().await;
    }

    /// Live stats of every stream being recorded (or waiting within its window), sorted by
    /// app and stream. Closes the current second of each: call it once a second.
    pub fn sample_live(&self) -> Vec<crate::stats::LiveStream> {
        let mut meters: Vec<(Key, crate::stats::Meter)> = self
            .inner
            .registry
            .lock()
            .iter()
            .map(|(k, e)| (k.clone(), e.meter.clone()))
            .collect();
        meters.sort_by(|a, b| a.0.cmp(&b.0));
        meters.into_iter().map(|(_, m)| m.sample()).collect()
    }

    /// Streams being recorded (or waiting within their window).
    pub fn active(&self) -> Vec<(String, String)> {
        let mut keys: Vec<Key> = self.inner.registry.lock().keys().cloned().collect();
        keys.sort();
        keys
    }
}

impl Recorder {
    /// Whether to finalize MP4 and FLV files in place where the file system allows (on by
    /// default; off copies, a way around a file system that misbehaves).
    pub fn set_finalize_in_place(&self, on: bool) {
        self.inner.in_place.store(on, Ordering::Relaxed);
    }

    /// Room set aside on the recordings' disk, given back when it is full so recordings
    /// can finish their files (see [`crate::space`]); applies from the next recording on.
    pub fn set_reserve(&self, reserve: Arc<crate::space::Reserve>) {
        *self
            .inner
            .reserve
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some(reserve);
    }

    pub fn finalize_in_place(&self) -> bool {
        self.inner.in_place.load(Ordering::Relaxed)
    }

    /// Hands every finished file to `sink` (the catalog, the upload queue) from the next
    /// recording on.
    pub fn set_sink(&self, sink: Arc<dyn crate::sink::FileSink>) {
        *self.inner.sink.write().unwrap_or_else(|p| p.into_inner()) = Some(sink);
    }

    /// Stops (`false`) or starts again (`true`) recording a live stream; it stays
    /// connected either way. Errors when the stream is not live.
    pub fn set_recording(&self, app: &str, stream: &str, on: bool) -> Result<(), ControlError> {
        let map = self.inner.registry.lock();
        let entry = map
            .get(&(app.to_string(), stream.to_string()))
            .ok_or_else(|| ControlError::NotLive(format!("{app}/{stream}")))?;
        entry
            .control
            .try_send(Control::Record(on))
            .map_err(|_| ControlError::Busy(format!("{app}/{stream}")))
    }

    /// Marks a chapter titled `title` at the live edge of a live stream's recording (in
    /// every file being written, and the catalog). Returns its wall-clock time.
    pub async fn add_chapter(
        &self,
        app: &str,
        stream: &str,
        title: &str,
    ) -> Result<chrono::DateTime<chrono::Utc>, ControlError> {
        let label = format!("{app}/{stream}");
        let (reply, answer) = tokio::sync::oneshot::channel();
        {
            let map = self.inner.registry.lock();
            let entry = map
                .get(&(app.to_string(), stream.to_string()))
                .ok_or_else(|| ControlError::NotLive(label.clone()))?;
            entry
                .control
                .try_send(Control::Chapter {
                    title: title.to_string(),
                    reply,
                })
                .map_err(|_| ControlError::Busy(label.clone()))?;
        }
        answer.await.map_err(|_| ControlError::NotLive(label))?
    }
}

/// What a live recording can be asked to do.
pub(crate) enum Control {
    Record(bool),
    Chapter {
        title: String,
        reply: tokio::sync::oneshot::Sender<Result<chrono::DateTime<chrono::Utc>, ControlError>>,
    },
}

/// Why a live stream could not be controlled.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("{0} is not live")]
    NotLive(String),
    #[error("{0} is busy; try again")]
    Busy(String),
    #[error("{0} is not being recorded (recording was stopped by request)")]
    NotRecording(String),
}

impl PublishSink for Recorder {
    fn publish(&self, request: PublishRequest) -> Result<Publication, Refusal> {
        let inner = &self.inner;
        if inner.shutdown.is_cancelled() {
            return Err(Refusal::Rejected("Tapedeck is shutting down".into()));
        }
        let key: Key = (request.app.clone(), request.stream.clone());
        let config = self.config();
        let (media, rx) = MediaSender::channel(MEDIA_QUEUE);
        let cancel = inner.shutdown.child_token();
        let mut attachment = Attachment {
            request: request.clone(),
            media: rx,
            dropped: media.dropped_counter(),
        };

        let mut map = inner.registry.lock();
        if let Some(entry) = map.get_mut(&key) {
            // A recording within its window (or a live one being taken over by a reconnect
            // that arrived before we noticed the old connection died).
            entry.current.cancel();
            entry.current = cancel.clone();
            match entry.attach.try_send(attachment) {
                Ok(()) => return Ok(Publication { media, cancel }),
                Err(e) => attachment = e.into_inner(),
            }
            // The recording is finishing and no longer listens: start a new one below.
            map.remove(&key);
        }
        let Some(template) = config.template_for(&request.app, &request.stream).cloned() else {
            let first = inner
                .not_recorded_logged
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key.clone());
            if first {
                info!(stream = %format!("{}/{}", key.0, key.1), "no template matches this stream: not recording it");
                let _ = inner.events.send(RecorderEvent::NotRecorded {
                    app: key.0.clone(),
                    stream: key.1.clone(),
                });
            }
            // The publisher may stream on (it could be pushing for other reasons, and OBS
            // would retry a refusal every few seconds): its media is read and dropped.
            drop(map);
            let mut media_rx = attachment.media;
            inner
                .tracker
                .spawn(async move { while media_rx.recv().await.is_some() {} });
            return Ok(Publication { media, cancel });
        };
        let id = inner.next_id.fetch_add(1, Ordering::Relaxed);
        let meter = crate::stats::Meter::new(
            &key.0,
            &key.1,
            &format!("{}/{}", template.app, template.stream),
            &attachment.request.origin,
        );
        let (attach_tx, attach_rx) = mpsc::channel(4);
        let (control_tx, control_rx) = mpsc::channel(8);
        map.insert(
            key.clone(),
            Entry {
                id,
                attach: attach_tx,
                control: control_tx,
                current: cancel.clone(),
                meter: meter.clone(),
            },
        );
        drop(map);
        let shared = crate::recording::Shared {
            root: config.recordings_dir(),
            events: inner.events.clone(),
            clock: inner.clock.clone(),
            sink: inner.sink.read().unwrap_or_else(|p| p.into_inner()).clone(),
            in_place: inner.in_place.load(Ordering::Relaxed),
            reserve: inner
                .reserve
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            stop: inner.shutdown.clone(),
            starts: inner.starts.clone(),
        };
        let recording = Recording::new(
            key.0,
            key.1,
            template.clone(),
            shared,
            (!config.callback.on_demand_url.is_empty()).then(|| crate::on_demand::OnDemand {
                url: config.callback.on_demand_url.clone(),
                domain: config.callback.domain.clone(),
            }),
            meter,
        );
        let registry = inner.registry.clone();
        let shutdown = inner.shutdown.clone();
        inner
            .tracker
            .spawn(recording.run(attachment, attach_rx, registry, id, shutdown, control_rx));
        Ok(Publication { media, cancel })
    }
}
