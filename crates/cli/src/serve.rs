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
    /// Where RTMP publishers connect.
    pub rtmp: SocketAddr,
    /// Where the control API listens, when it does.
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
        info!("pulling {} as {}/{}", spec.url, spec.app, spec.stream);
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
