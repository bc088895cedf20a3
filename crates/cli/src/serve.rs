//! `tapedeck serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use tapedeck_ingest::pull::{run_pull, PullSpec};
use tapedeck_ingest::rtmp::{RtmpServer, RtmpServerOptions};
use tapedeck_recorder::events::RecorderEvent;
use tapedeck_recorder::{Config, Recorder};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::control::token::Origin;

/// Runs until Ctrl-C or SIGTERM, then finalizes every open file.
pub async fn serve(config: Config, path: Option<PathBuf>, source: String) -> Result<()> {
    let running = start(config, path, source).await?;
    wait_for_stop().await;
    running.stop().await;
    Ok(())
}

/// A started server: every task `serve` runs, until [`Running::stop`].
pub struct Running {
    recorder: Recorder,
    /// Where RTMP publishers connect (the log says it too; tests read it here).
    #[cfg_attr(not(test), allow(dead_code))]
    pub rtmp: SocketAddr,
    /// Where the control API listens, when it does.
    #[cfg_attr(not(test), allow(dead_code))]
    pub control_addr: Option<SocketAddr>,
    catalog: Arc<tapedeck_catalog::Catalog>,
    uploads: Option<crate::uploads::Uploads>,
    uploads_stop: CancellationToken,
    callbacks: JoinHandle<()>,
    callbacks_stop: CancellationToken,
    server_task: JoinHandle<()>,
    control: Option<JoinHandle<std::io::Result<()>>>,
    watcher: Option<JoinHandle<()>>,
    pulls: Vec<JoinHandle<()>>,
    watches: Vec<JoinHandle<()>>,
    event_log: JoinHandle<()>,
}

/// Everything `serve` does before it waits for a signal: recovery, the catalog, uploads,
/// callbacks, the RTMP server, the control API, pulls and watched folders.
pub async fn start(config: Config, path: Option<PathBuf>, source: String) -> Result<Running> {
    info!("configuration: {source}");
    let recordings = config.recordings_dir();
    std::fs::create_dir_all(&recordings)
        .with_context(|| format!("creating the recordings folder {}", recordings.display()))?;
    // Left-overs of a crash become complete files before anything new is recorded.
    let report = tokio::task::spawn_blocking({
        let root = recordings.clone();
        move || tapedeck_recorder::recover::recover(&root)
    })
    .await
    .context("recovering files left by an earlier run")?;
    for r in &report.recovered {
        info!("recovered {} -> {}", r.from.display(), r.to.display());
    }
    for f in &report.failed {
        warn!("could not recover {}: {}", f.path.display(), f.reason);
    }
    for (path, why) in &report.skipped {
        warn!("not looked into for left-overs: {}: {why}", path.display());
    }
    let recorder = Recorder::new(config.clone());
    let catalog = Arc::new(crate::query::open(&config)?);
    recorder.set_catalog(catalog.clone());
    crate::uploads::queue_recovered(&config, &catalog, &report);
    let uploads_stop = tokio_util::sync::CancellationToken::new();
    let uploads = crate::uploads::start(&config, catalog.clone(), uploads_stop.clone());
    let waker = uploads.as_ref().map(|u| u.waker.clone());
    let callbacks_stop = tokio_util::sync::CancellationToken::new();
    let callbacks = tapedeck_recorder::callback::spawn(
        recorder.clone(),
        tapedeck_recorder::callback::spool_dir(&config.data_dir),
        callbacks_stop.clone(),
    );
    let shutdown = recorder.shutdown_token();

    let options = RtmpServerOptions {
        publish_key: config.ingest.publish_key.clone(),
        idle_timeout: config.ingest.idle_timeout.as_duration(),
        setup_timeout: config.ingest.setup_timeout.as_duration(),
        max_connections: config.ingest.max_connections as usize,
        max_pending: config.ingest.max_pending_connections as usize,
    };
    let server = RtmpServer::bind(
        &config.ingest.rtmp_listen,
        options,
        Arc::new(recorder.clone()),
    )
    .await
    .with_context(|| {
        format!(
            "listening for RTMP on {} (is another server using it?)",
            config.ingest.rtmp_listen
        )
    })?;
    let addr = server.local_addr()?;
    info!(
        "RTMP server listening on rtmp://{addr}/<app>/<stream>; recording into {}",
        recordings.display()
    );
    let server_task = tokio::spawn(server.run(shutdown.clone()));
    let watcher = match path {
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
    let (control, control_addr) = if config.control.listen.is_empty() {
        (None, None)
    } else {
        start_control(&config, &recorder, &shutdown).await
    };
    let mut pulls = Vec::new();
    for p in &config.pull {
        let spec = PullSpec {
            url: p.url.clone(),
            app: p.app.clone(),
            stream: p.stream.clone(),
        };
        info!(
            "pulling {} as {}/{}",
            tapedeck_ingest::redact::url(&spec.url),
            spec.app,
            spec.stream
        );
        pulls.push(tokio::spawn(run_pull(
            spec,
            Arc::new(recorder.clone()),
            shutdown.clone(),
        )));
    }

    let watches = crate::watch::spawn(&config, catalog.clone(), waker.clone(), shutdown.clone());

    let mut events = recorder.subscribe();
    let event_log = tokio::spawn(async move {
        while let Ok(ev) = events.recv().await {
            match &ev {
                RecorderEvent::WriteFailed {
                    app,
                    stream,
                    detail,
                } => warn!("{app}/{stream}: {detail}"),
                // Its upload was queued with its catalog row: start it now.
                RecorderEvent::FileFinished(_) => {
                    if let Some(w) = &waker {
                        w.wake();
                    }
                }
                _ => {}
            }
        }
    });

    Ok(Running {
        recorder,
        rtmp: addr,
        control_addr,
        catalog,
        uploads,
        uploads_stop,
        callbacks,
        callbacks_stop,
        server_task,
        control,
        watcher,
        pulls,
        watches,
        event_log,
    })
}

/// The control API with its token; `None` (and a warning) when either cannot be had:
/// recording matters more than remote control.
async fn start_control(
    config: &Config,
    recorder: &Recorder,
    shutdown: &CancellationToken,
) -> (Option<JoinHandle<std::io::Result<()>>>, Option<SocketAddr>) {
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
                recorder.clone(),
                shutdown.clone(),
            ));
            (Some(task), local)
        }
        Err(e) => {
            warn!("control API not available: cannot listen on {listen} ({e}); `tapedeck record` will not reach this server");
            (None, None)
        }
    }
}

impl Running {
    /// Finalizes open recordings, delivers the last callbacks, lets uploads drain briefly,
    /// and waits for every task.
    pub async fn stop(self) {
        info!("stopping: finalizing open recordings");
        self.recorder.shutdown().await;
        // After the recorder: the final files of the shutdown are notified too.
        self.callbacks_stop.cancel();
        let _ = self.callbacks.await;
        let _ = self.server_task.await;
        if let Some(c) = self.control {
            let _ = c.await;
        }
        if let Some(w) = self.watcher {
            let _ = w.await;
        }
        for p in self.pulls {
            let _ = p.await;
        }
        for w in self.watches {
            let _ = w.await;
        }
        if let Some(u) = &self.uploads {
            crate::uploads::drain(&self.catalog, &u.waker).await;
        }
        // Uploads in flight stop here; each resumes from the catalog at the next start.
        self.uploads_stop.cancel();
        if let Some(u) = self.uploads {
            u.stop().await;
        }
        self.event_log.abort();
        info!("stopped");
    }
}

/// Ctrl-C, or SIGTERM on Unix (what service managers send).
async fn wait_for_stop() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
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

        /// Whatever a valid configuration holds, `serve` starts (binding its ports) and
        /// stops without a panic, in any thread.
        #[test]
        fn serve_starts_and_stops_on_any_valid_config(
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
                let running = start(config.clone(), None, "test".into()).await?;
                let addrs = (running.rtmp, running.control_addr);
                running.stop().await;
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
