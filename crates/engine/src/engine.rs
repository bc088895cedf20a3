//! The running engine: recovery, the catalog, the recorder, the RTMP server, pulls, the
//! control API, the configuration watcher, watched folders, the uploader, callbacks and
//! retention, started in that order (recovery before any stream is accepted) and stopped
//! in one order by [`Engine::shutdown`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tapedeck_catalog::Catalog;
use tapedeck_config::Config;
use tapedeck_ingest::rtmp::{RtmpServer, RtmpServerOptions};
use tapedeck_recorder::{Recorder, WallClock};
use tapedeck_storage::queue::Env;
use tapedeck_storage::CredentialStore;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::commands::StreamKey;
use crate::control::token::Origin;
use crate::error::{EngineError, ErrorKind};
use crate::events::{EngineEvent, EventStream, EVENT_BUFFER};

/// How the engine is started, beyond its configuration.
#[derive(Clone)]
pub struct EngineOptions {
    /// The configuration file: watched, edits applied to the next publish. `None`: the
    /// configuration came from elsewhere (the embedded defaults, a test).
    pub config_path: Option<PathBuf>,
    /// Where recordings read wall-clock time (tests put recordings at a day boundary).
    pub clock: Option<WallClock>,
    /// Where storage credentials are kept (the OS keyring; tests use memory).
    pub credentials: Arc<dyn CredentialStore>,
    /// Environment variables for credentials that are in no store (the CLI passes the
    /// process's; the app none).
    pub env: Env,
    /// Finalize MP4 and FLV files in place where the file system allows (default on).
    pub finalize_in_place: bool,
}

impl EngineOptions {
    pub fn new(credentials: Arc<dyn CredentialStore>) -> Self {
        EngineOptions {
            config_path: None,
            clock: None,
            credentials,
            env: tapedeck_storage::queue::no_env(),
            finalize_in_place: true,
        }
    }
}

/// The running engine, as one handle (cheap to clone: every clone is the same engine).
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub config: Arc<Config>,
    pub recorder: Recorder,
    pub catalog: Arc<Catalog>,
    pub archive: crate::archive::Archive,
    pub events: broadcast::Sender<EngineEvent>,
    pub rtmp: SocketAddr,
    pub control: Mutex<Option<SocketAddr>>,
    /// Cancelled by `shutdown`: everything started stops with it.
    pub shutdown: CancellationToken,
    /// Where storage credentials are kept, and the environment fallback.
    pub credentials: Arc<dyn CredentialStore>,
    pub env: Env,
    /// Remote streams being pulled, each with its own cancellation.
    pub pulls: Mutex<HashMap<StreamKey, (CancellationToken, JoinHandle<()>)>>,
    /// The recordings' disk (`disk.rs`).
    pub disk: Arc<crate::disk::Disk>,
    /// The last second's live stats (`live.rs`).
    pub live: crate::live::Snapshot,
    /// The media server for the app's preview, started on first use (`media.rs`).
    pub media: tokio::sync::OnceCell<crate::media::MediaServer>,
    tasks: Mutex<Option<Tasks>>,
}

/// What `shutdown` waits for, in order.
struct Tasks {
    uploads: Option<crate::uploads::Uploads>,
    uploads_stop: CancellationToken,
    callbacks: JoinHandle<()>,
    callbacks_stop: CancellationToken,
    server: JoinHandle<()>,
    control: Option<JoinHandle<std::io::Result<()>>>,
    watcher: Option<JoinHandle<()>>,
    watches: Vec<JoinHandle<()>>,
    forward: JoinHandle<()>,
    runs: crate::runs::Runs,
    disk: JoinHandle<()>,
    live: JoinHandle<()>,
}

impl Engine {
    /// Starts everything `tapedeck serve` runs. Left-overs of a crash become complete files
    /// before anything new is recorded; a port that cannot be had is an error
    /// ([`ErrorKind::Unavailable`]), except the control API's (recording matters more than
    /// remote control: it is skipped with a warning).
    pub async fn start(config: Config, options: EngineOptions) -> Result<Engine, EngineError> {
        let recordings = config.recordings_dir();
        std::fs::create_dir_all(&recordings).map_err(|e| {
            EngineError::io(format!(
                "cannot create the recordings folder {}: {e}",
                recordings.display()
            ))
        })?;
        let report = tokio::task::spawn_blocking({
            let root = recordings.clone();
            let in_place = options.finalize_in_place;
            move || tapedeck_recorder::recover::recover(&root, in_place)
        })
        .await
        .map_err(|e| EngineError::internal(format!("recovering left-over files failed: {e}")))?;
        for r in &report.recovered {
            info!("recovered {} -> {}", r.from.display(), r.to.display());
        }
        for f in &report.failed {
            warn!("could not recover {}: {}", f.path.display(), f.reason);
        }
        for (path, why) in &report.skipped {
            warn!("not looked into for left-overs: {}: {why}", path.display());
        }

        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let recorder = match options.clock.clone() {
            Some(clock) => Recorder::with_wall_clock(config.clone(), clock),
            None => Recorder::new(config.clone()),
        };
        recorder.set_finalize_in_place(options.finalize_in_place);
        let disk = crate::disk::prepare(&config);
        if let Some(reserve) = &disk.reserve {
            recorder.set_reserve(reserve.clone());
        }
        let catalog = Arc::new(crate::archive::open_catalog(&config)?);
        crate::uploads::queue_recovered(&config, &catalog, &report);
        let runs = crate::runs::Runs::new(catalog.clone(), events.clone());
        runs.queue_recovered(&config, &report);

        let uploads_stop = CancellationToken::new();
        let emit: tapedeck_storage::queue::Emit = {
            let events = events.clone();
            Arc::new(move |e| {
                crate::uploads::log(&e);
                let _ = events.send(EngineEvent::Upload(e));
            })
        };
        let uploads = crate::uploads::start(
            &config,
            catalog.clone(),
            options.credentials.clone(),
            options.env.clone(),
            emit,
            uploads_stop.clone(),
        );
        let waker = uploads.as_ref().map(|u| u.waker.clone());
        // A finished file: its catalog row and upload queue row in one transaction, the
        // uploader woken, its post-recording commands queued, then the event.
        recorder.set_sink(
            runs.sink(Arc::new(tapedeck_recorder::sink::CatalogSink::new(
                catalog.clone(),
                waker
                    .clone()
                    .map(|w| Box::new(move || w.wake()) as Box<dyn Fn() + Send + Sync>),
            ))),
        );
        let forward = {
            let mut rx = recorder.subscribe();
            let events = events.clone();
            tokio::spawn(async move {
                loop {
                    match rx.recv().await {
                        Ok(e) => {
                            let _ = events.send(EngineEvent::Recorder(e));
                        }
                        Err(broadcast::error::RecvError::Lagged(missed)) => {
                            warn!("{missed} recorder events were not passed on (too many at once)");
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                    }
                }
            })
        };
        let callbacks_stop = CancellationToken::new();
        let callbacks = tapedeck_recorder::callback::spawn(
            recorder.clone(),
            tapedeck_recorder::callback::spool_dir(&config.data_dir),
            callbacks_stop.clone(),
        );
        let shutdown = recorder.shutdown_token();

        let rtmp_options = RtmpServerOptions {
            publish_key: config.ingest.publish_key.clone(),
            idle_timeout: config.ingest.idle_timeout.as_duration(),
            setup_timeout: config.ingest.setup_timeout.as_duration(),
            max_connections: config.ingest.max_connections as usize,
            max_pending: config.ingest.max_pending_connections as usize,
        };
        let server = match RtmpServer::bind(
            &config.ingest.rtmp_listen,
            rtmp_options,
            Arc::new(recorder.clone()),
        )
        .await
        {
            Ok(s) => s,
            Err(e) => {
                // Nothing was accepted: stop what started, so the caller can try again.
                recorder.shutdown().await;
                callbacks_stop.cancel();
                uploads_stop.cancel();
                return Err(EngineError::new(
                    ErrorKind::Unavailable,
                    format!(
                        "cannot listen for RTMP on {} ({e}); is another server (or another Tapedeck) using it?",
                        config.ingest.rtmp_listen
                    ),
                ));
            }
        };
        let rtmp = server
            .local_addr()
            .map_err(|e| EngineError::internal(format!("the RTMP listener has no address: {e}")))?;
        info!(
            "RTMP server listening on rtmp://{rtmp}/<app>/<stream>; recording into {}",
            recordings.display()
        );
        let server = tokio::spawn(server.run(shutdown.clone()));
        runs.start(config.runs.max_parallel);
        let watcher = match &options.config_path {
            Some(p) => match crate::reload::watch(p.clone(), recorder.clone(), shutdown.clone()) {
                Ok(task) => {
                    info!("watching {} for changes", p.display());
                    Some(task)
                }
                Err(e) => {
                    warn!(
                        "cannot watch {} for changes ({e}); restart to apply edits",
                        p.display()
                    );
                    None
                }
            },
            None => None,
        };
        let watches = crate::watch::spawn(&config, catalog.clone(), waker, shutdown.clone());
        let disk_task = crate::disk::spawn(disk.clone(), events.clone(), shutdown.clone());
        let live = crate::live::Snapshot::default();
        let live_task = crate::live::spawn(
            recorder.clone(),
            live.clone(),
            events.clone(),
            shutdown.clone(),
        );
        let config = Arc::new(config);
        let engine = Engine {
            inner: Arc::new(Inner {
                archive: crate::archive::Archive::new(
                    config.clone(),
                    catalog.clone(),
                    options.credentials.clone(),
                    options.env.clone(),
                ),
                config: config.clone(),
                recorder,
                catalog,
                events,
                rtmp,
                control: Mutex::new(None),
                shutdown: shutdown.clone(),
                pulls: Mutex::new(HashMap::new()),
                credentials: options.credentials.clone(),
                env: options.env.clone(),
                disk,
                live,
                media: tokio::sync::OnceCell::new(),
                tasks: Mutex::new(None),
            }),
        };
        for p in &config.pull {
            engine.add_pull(p.clone())?;
        }
        let (control, control_addr) = if config.control.listen.is_empty() {
            (None, None)
        } else {
            start_control(&engine).await
        };
        *engine
            .inner
            .control
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = control_addr;
        *engine.inner.tasks.lock().unwrap_or_else(|p| p.into_inner()) = Some(Tasks {
            uploads,
            uploads_stop,
            callbacks,
            callbacks_stop,
            server,
            control,
            watcher,
            watches,
            forward,
            runs,
            disk: disk_task,
            live: live_task,
        });
        Ok(engine)
    }

    /// Finalizes every open file, delivers the last callbacks, lets uploads drain as long
    /// as they make progress (at most 15 s), and returns when every task has ended. What is
    /// left to upload resumes at the next start. Calling it again does nothing.
    pub async fn shutdown(&self) {
        let Some(t) = self
            .inner
            .tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        else {
            return;
        };
        info!("stopping: finalizing open recordings");
        // Running commands are stopped now (and queued again), alongside the finalizing;
        // the runs of files finished from here on wait in the catalog for the next start.
        t.runs.stop();
        self.inner.recorder.shutdown().await;
        // After the recorder: the final files of the shutdown are notified too.
        t.callbacks_stop.cancel();
        let _ = t.callbacks.await;
        let _ = t.server.await;
        if let Some(c) = t.control {
            let _ = c.await;
        }
        if let Some(w) = t.watcher {
            let _ = w.await;
        }
        let pulls: Vec<_> = self
            .inner
            .pulls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .collect();
        for (_, (_, task)) in pulls {
            let _ = task.await;
        }
        for w in t.watches {
            let _ = w.await;
        }
        let _ = t.disk.await;
        let _ = t.live.await;
        if let Some(u) = &t.uploads {
            crate::uploads::drain(&self.inner.catalog, &u.waker).await;
        }
        // Uploads in flight stop here; each resumes from the catalog at the next start.
        t.uploads_stop.cancel();
        if let Some(u) = t.uploads {
            u.stop().await;
        }
        t.runs.join().await;
        t.forward.abort();
        info!("stopped");
    }

    /// Every event from now on (see [`crate::events`]).
    pub fn events(&self) -> EventStream {
        EventStream::new(self.inner.events.subscribe())
    }

    /// Where RTMP publishers connect.
    pub fn rtmp_addr(&self) -> SocketAddr {
        self.inner.rtmp
    }

    /// Where the control API listens, when it does.
    pub fn control_addr(&self) -> Option<SocketAddr> {
        *self.inner.control.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The configuration the engine started with.
    pub fn config(&self) -> Arc<Config> {
        self.inner.config.clone()
    }

    /// Cancelled when the engine shuts down.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.inner.shutdown.clone()
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }
}

/// The control API with its token; `None` (and a warning) when either cannot be had:
/// recording matters more than remote control.
async fn start_control(
    engine: &Engine,
) -> (Option<JoinHandle<std::io::Result<()>>>, Option<SocketAddr>) {
    let config = engine.config();
    let listen = &config.control.listen;
    let token = match crate::control::token::ensure(&config.data_dir) {
        Ok((token, origin)) => {
            let path = crate::control::token::path(&config.data_dir);
            match origin {
                Origin::Created => info!("control token written to {} (readable by you only)", path.display()),
                Origin::Reused => {}
                Origin::Replaced { mode } => warn!(
                    "the control token {} could be read by others (mode {mode:o}): replaced with a new one that only you can read",
                    path.display()
                ),
                Origin::Repaired => warn!("the control token {} held no token: wrote a new one", path.display()),
            }
            token
        }
        Err(e) => {
            warn!("control API not available: {e}; `tapedeck record` will not reach this server");
            return (None, None);
        }
    };
    match tokio::net::TcpListener::bind(listen).await {
        Ok(listener) => {
            let local = listener.local_addr().ok();
            info!(
                "control API on http://{}",
                local.map_or_else(|| listen.clone(), |a| a.to_string())
            );
            let task = tokio::spawn(crate::control::serve(
                listener,
                listen.clone(),
                token,
                engine.clone(),
            ));
            (Some(task), local)
        }
        Err(e) => {
            warn!("control API not available: cannot listen on {listen} ({e}); `tapedeck record` will not reach this server");
            (None, None)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use proptest::prelude::*;

    use super::*;

    static PANICS: AtomicUsize = AtomicUsize::new(0);

    /// Counts panics in every thread (a spawned task's panic does not reach the test).
    fn count_panics() {
        static HOOK: std::sync::Once = std::sync::Once::new();
        HOOK.call_once(|| {
            let default = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                PANICS.fetch_add(1, Ordering::SeqCst);
                default(info);
            }));
        });
    }

    /// A configuration a user could write: every table, values within their ranges.
    fn valid_looking(dir: &Path) -> impl Strategy<Value = String> {
        let dir = dir.to_string_lossy().into_owned();
        let template = (
            prop::sample::select(vec!["*", "live", "obs"]),
            prop::sample::select(vec!["*", "cam1", "desk"]),
            prop::sample::subsequence(vec!["m3u8", "mp4", "flv"], 1..=3),
            0u64..=21600,
            1u64..=60,
            10u64..=21600,
            prop::sample::select(vec!["UTC", "Europe/Berlin", "Asia/Shanghai"]),
            prop::sample::select(vec!["", "until_uploaded", "7d", "forever"]),
            prop::sample::select(vec![
                "record/{AppName}/{StreamName}/{EscapedStartTime}_{EscapedEndTime}",
                "{AppName}/{Date}/{StreamName}_{StartTime}_{EndTime}",
            ]),
        )
            .prop_map(|(app, stream, formats, window, slice, cycle, tz, keep, object)| {
                let formats: Vec<String> = formats.iter().map(|f| format!("{f:?}")).collect();
                let storage = if keep.is_empty() {
                    String::new()
                } else {
                    format!("storage = \"s\"\nkeep_local = \"{keep}\"\n")
                };
                format!(
                    "[[template]]\napp = \"{app}\"\nstream = \"{stream}\"\nformats = [{}]\ninterruption_window = {window}\ntimezone = \"{tz}\"\n{storage}[template.m3u8]\nslice_duration = {slice}\ncycle = {cycle}\n[template.mp4]\nobject = \"{object}\"\n",
                    formats.join(", ")
                )
            });
        let pull = (
            prop::sample::select(vec![
                "rtmp://127.0.0.1:9/a/b",
                "http://127.0.0.1:9/x.flv",
                "http://127.0.0.1:9/x.m3u8",
            ]),
            "[a-z]{1,6}",
        )
            .prop_map(|(url, s)| {
                format!("[[pull]]\nurl = \"{url}\"\napp = \"remote\"\nstream = \"{s}\"\n")
            });
        (
            ("[A-Za-z0-9]{0,8}", 2u64..=3600, 1u64..=600, 1u32..=1000, any::<bool>()),
            prop::collection::vec(template, 0..3),
            prop::collection::vec(pull, 0..2),
            (any::<bool>(), any::<bool>(), any::<bool>(), 1u64..=5),
            prop::sample::select(vec!["", "http://127.0.0.1:9/hook"]),
        )
            .prop_map(move |((key, idle, setup, max, control), templates, pulls, (storage, watch, delete, settle), callback)| {
                let mut t = format!(
                    "data_dir = {:?}\n[ingest]\nrtmp_listen = \"127.0.0.1:0\"\npublish_key = \"{key}\"\nidle_timeout = {idle}\nsetup_timeout = {setup}\nmax_connections = {max}\nmax_pending_connections = {}\n[callback]\nurl = \"{callback}\"\non_demand_url = \"{callback}\"\n[control]\nlisten = \"{}\"\n",
                    format!("{dir}/data"),
                    max.div_ceil(2),
                    if control { "127.0.0.1:1" } else { "" },
                );
                if storage || watch {
                    t.push_str("[[storage]]\nname = \"s\"\nprovider = \"custom\"\nendpoint = \"http://127.0.0.1:9\"\nbucket = \"recordings\"\n");
                    t.push_str("[[template]]\napp = \"obs\"\nstream = \"desk\"\nstorage = \"s\"\n");
                }
                if watch {
                    t.push_str(&format!("[[watch]]\npath = {:?}\napp = \"obs\"\nstream = \"desk\"\nsettle = {settle}\ndelete_after_upload = {delete}\n", format!("{dir}/watched")));
                }
                for x in templates.iter().chain(&pulls) {
                    t.push_str(x);
                }
                t
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// Whatever a valid configuration holds, the engine starts (binding its ports) and
        /// stops without a panic, in any thread.
        #[test]
        fn the_engine_starts_and_stops_on_any_valid_config(
            (dir, text) in Just(std::env::temp_dir().join(format!("tapedeck-serve-prop-{}", std::process::id())))
                .prop_flat_map(|d| (Just(d.clone()), valid_looking(&d)))
        ) {
            count_panics();
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("watched")).unwrap();
            let config = Config::from_toml(&text, Path::new("prop.toml"));
            // Duplicated template keys and the like are refused: not this test's business.
            prop_assume!(config.is_ok());
            let mut config = config.unwrap();
            if !config.control.listen.is_empty() {
                // Any free port (validation wants a fixed one, for clients).
                config.control.listen = "127.0.0.1:0".into();
            }
            let before = PANICS.load(Ordering::SeqCst);
            let runtime = tokio::runtime::Runtime::new().unwrap();
            let started = runtime.block_on(async {
                let options = EngineOptions::new(Arc::new(tapedeck_storage::MemoryStore::default()));
                let engine = Engine::start(config.clone(), options).await?;
                let addrs = (engine.rtmp_addr(), engine.control_addr());
                engine.shutdown().await;
                anyhow::Ok(addrs)
            });
            drop(runtime);
            let (rtmp, control) = started.map_err(|e| TestCaseError::fail(format!("{e:#}\n{text}")))?;
            prop_assert!(rtmp.port() != 0);
            prop_assert_eq!(control.is_some(), !config.control.listen.is_empty());
            if control.is_some() {
                prop_assert!(crate::control::token::read(&config.data_dir).is_ok());
            }
            prop_assert_eq!(PANICS.load(Ordering::SeqCst), before, "a task panicked:\n{}", text);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}
