//! `tapedeck serve`: the engine, until Ctrl-C or SIGTERM.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use tapedeck_config::Config;
use tapedeck_engine::{Engine, EngineOptions};
use tapedeck_storage::KeyringStore;
use tracing::info;

/// Runs until Ctrl-C or SIGTERM, then finalizes every open file.
pub async fn serve(config: Config, path: Option<PathBuf>, source: String) -> Result<()> {
    info!("configuration: {source}");
    let mut options = EngineOptions::new(Arc::new(KeyringStore));
    options.config_path = path;
    // On a headless server the keys may come from the environment (AWS_ACCESS_KEY_ID...).
    options.env = Arc::new(|name: &str| std::env::var(name).ok());
    // A way around a file system that misbehaves with fallocate's INSERT_RANGE.
    options.finalize_in_place =
        std::env::var_os("TAPEDECK_FINALIZE_IN_PLACE").is_none_or(|v| v != "0");
    let engine = Engine::start(config, options).await?;
    wait_for_stop().await;
    engine.shutdown().await;
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
