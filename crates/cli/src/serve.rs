//! `tapedeck serve`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use tapedeck_ingest::pull::{run_pull, PullSpec};
use tapedeck_ingest::rtmp::{RtmpServer, RtmpServerOptions};
use tapedeck_recorder::events::RecorderEvent;
use tapedeck_recorder::{Config, Recorder};
use tracing::{info, warn};

pub async fn serve(config: Config, path: Option<PathBuf>, source: String) -> Result<()> {
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
        ..RtmpServerOptions::default()
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
    let control = if config.control.listen.is_empty() {
        None
    } else {
        match tokio::net::TcpListener::bind(&config.control.listen).await {
            Ok(listener) => {
                info!("control API on http://{}", config.control.listen);
                Some(tokio::spawn(crate::control::serve(
                    listener,
                    recorder.clone(),
                    shutdown.clone(),
                )))
            }
            // Recording matters more than remote control: go on without it.
            Err(e) => {
                warn!("control API not available: cannot listen on {} ({e}); `tapedeck record` will not reach this server", config.control.listen);
                None
            }
        }
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

    wait_for_stop().await;
    info!("stopping: finalizing open recordings");
    recorder.shutdown().await;
    // After the recorder: the final files of the shutdown are notified too.
    callbacks_stop.cancel();
    let _ = callbacks.await;
    let _ = server_task.await;
    if let Some(c) = control {
        let _ = c.await;
    }
    if let Some(w) = watcher {
        let _ = w.await;
    }
    for p in pulls {
        let _ = p.await;
    }
    for w in watches {
        let _ = w.await;
    }
    if let Some(u) = &uploads {
        crate::uploads::drain(&catalog, &u.waker).await;
    }
    // Uploads in flight stop here; each resumes from the catalog at the next start.
    uploads_stop.cancel();
    if let Some(u) = uploads {
        u.stop().await;
    }
    event_log.abort();
    info!("stopped");
    Ok(())
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
