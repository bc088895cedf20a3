//! The engine inside the app: started at launch, restarted when a setting needs it (the
//! listen address, the data folder), shut down (every open file finalized) before the app
//! exits. When it cannot start (port 1935 taken, a configuration with problems) the window
//! still opens and says why (`engine_status`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::Serialize;
use tapedeck_config::Config;
use tapedeck_engine::{Engine, EngineError, EngineOptions, ErrorKind};
use tapedeck_storage::{CredentialStore, KeyringStore};
use tauri::{AppHandle, Emitter, Manager};
use tokio::sync::RwLock;
use tracing::{info, warn};

use crate::paths::Paths;

/// Whether the engine runs, for the window.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum EngineStatus {
    Starting,
    Running {
        /// `rtmp://127.0.0.1:1935`: where the RTMP server listens.
        rtmp: String,
        data_dir: String,
        config_path: String,
    },
    /// It could not start; `error` says why and what to do.
    Failed {
        error: EngineError,
    },
    Stopping,
}

pub struct AppState {
    pub paths: Paths,
    pub credentials: Arc<dyn CredentialStore>,
    engine: RwLock<Option<Engine>>,
    status: std::sync::Mutex<EngineStatus>,
    quitting: AtomicBool,
    pub obs: crate::obs::Obs,
}

impl AppState {
    pub fn new(paths: Paths) -> AppState {
        AppState::with_credentials(paths, Arc::new(KeyringStore))
    }

    /// With another credential store (tests: memory).
    pub fn with_credentials(paths: Paths, credentials: Arc<dyn CredentialStore>) -> AppState {
        AppState {
            paths,
            credentials,
            engine: RwLock::new(None),
            status: std::sync::Mutex::new(EngineStatus::Starting),
            quitting: AtomicBool::new(false),
            obs: crate::obs::Obs::default(),
        }
    }

    /// The configuration as the engine should run it: the file, with `--data-dir` applied.
    pub fn load_config(&self) -> Result<Config, EngineError> {
        let mut config = Config::load(&self.paths.config)?;
        if let Some(d) = &self.paths.data_dir {
            config.data_dir = d.clone();
        }
        Ok(config)
    }

    /// The running engine, or why there is none.
    pub async fn engine(&self) -> Result<Engine, EngineError> {
        if let Some(e) = self.engine.read().await.as_ref() {
            return Ok(e.clone());
        }
        Err(match self.status() {
            EngineStatus::Failed { error } => error,
            EngineStatus::Stopping => EngineError::new(ErrorKind::Conflict, "Tapedeck is stopping"),
            _ => EngineError::new(
                ErrorKind::Unavailable,
                "The recorder is starting; try again in a moment",
            ),
        })
    }

    pub fn status(&self) -> EngineStatus {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_status(&self, app: &AppHandle, status: EngineStatus) {
        *self.status.lock().unwrap_or_else(|p| p.into_inner()) = status.clone();
        let _ = app.emit("engine-status", status);
    }

    /// Starts the engine (recovery of a crash's left-overs included) and the event
    /// forwarding; a failure is kept for the window.
    pub async fn start(&self, app: &AppHandle) {
        self.set_status(app, EngineStatus::Starting);
        let started = match self.load_config() {
            Ok(config) => {
                let mut options = EngineOptions::new(self.credentials.clone());
                options.config_path = Some(self.paths.config.clone());
                Engine::start(config, options).await
            }
            Err(e) => Err(e),
        };
        match started {
            Ok(engine) => {
                let config = engine.config();
                info!("the engine runs: RTMP on {}", engine.rtmp_addr());
                crate::forward::spawn(app.clone(), engine.clone());
                self.set_status(
                    app,
                    EngineStatus::Running {
                        rtmp: format!("rtmp://{}", engine.rtmp_addr()),
                        data_dir: config.data_dir.display().to_string(),
                        config_path: self.paths.config.display().to_string(),
                    },
                );
                *self.engine.write().await = Some(engine);
            }
            Err(error) => {
                warn!("the engine did not start: {}", error.message);
                self.set_status(app, EngineStatus::Failed { error });
            }
        }
        crate::tray::refresh(app);
    }

    /// Starts the engine without a window (tests of the command layer): no events are
    /// forwarded.
    pub async fn start_without_window(&self) -> Result<Engine, EngineError> {
        let config = self.load_config()?;
        let mut options = EngineOptions::new(self.credentials.clone());
        options.config_path = Some(self.paths.config.clone());
        let engine = Engine::start(config, options).await?;
        *self.status.lock().unwrap_or_else(|p| p.into_inner()) = EngineStatus::Running {
            rtmp: format!("rtmp://{}", engine.rtmp_addr()),
            data_dir: engine.config().data_dir.display().to_string(),
            config_path: self.paths.config.display().to_string(),
        };
        *self.engine.write().await = Some(engine.clone());
        Ok(engine)
    }

    /// Stops the engine: every open file is finalized, uploads drain briefly.
    pub async fn stop(&self, app: &AppHandle) {
        let engine = self.engine.write().await.take();
        if let Some(engine) = engine {
            self.set_status(app, EngineStatus::Stopping);
            engine.shutdown().await;
        }
    }

    /// Stops and starts again with the configuration on disk (a new listen address or data
    /// folder needs it).
    pub async fn restart(&self, app: &AppHandle) {
        self.stop(app).await;
        self.start(app).await;
    }

    pub fn quitting(&self) -> bool {
        self.quitting.load(Ordering::SeqCst)
    }
}

/// Quits the app: the engine finalizes every open file first, then the process exits.
pub fn quit(app: AppHandle) {
    let state = app.state::<AppState>();
    if state.quitting.swap(true, Ordering::SeqCst) {
        return;
    }
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        state.stop(&app).await;
        app.exit(0);
    });
}
