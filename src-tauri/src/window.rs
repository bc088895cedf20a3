//! The main window: closing it keeps recording in the tray (said once, with a
//! notification); first-run state; the native folder dialog; start at login.

use std::sync::atomic::{AtomicBool, Ordering};

use tapedeck_engine::{EngineError, ErrorKind};
use tauri::{AppHandle, Manager, State, Window, WindowEvent};
use tauri_plugin_autostart::ManagerExt;
use tauri_plugin_dialog::DialogExt;
use tauri_plugin_notification::NotificationExt;

use crate::state::AppState;

type Result<T> = std::result::Result<T, EngineError>;

static TOLD_ABOUT_TRAY: AtomicBool = AtomicBool::new(false);

/// Shows and focuses the main window (a second start, the tray's Show).
pub fn show(app: &AppHandle) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
}

/// Closing the window hides it while the tray can bring it back; without a tray it quits
/// (every open file finalized first).
pub fn on_event(window: &Window, event: &WindowEvent) {
    if let WindowEvent::CloseRequested { api, .. } = event {
        let app = window.app_handle();
        if app.state::<AppState>().quitting() {
            return;
        }
        api.prevent_close();
        if app.try_state::<crate::tray::Tray>().is_none() {
            crate::state::quit(app.clone());
            return;
        }
        let _ = window.hide();
        if !TOLD_ABOUT_TRAY.swap(true, Ordering::SeqCst) {
            let _ = app
                .notification()
                .builder()
                .title("Tapedeck is still recording")
                .body("It keeps running in the tray. Quit from the tray icon to stop.")
                .show();
        }
    }
}

fn first_run_marker(state: &AppState) -> std::path::PathBuf {
    state.paths.config.with_extension("first-run-done")
}

/// True until the first-run setup was completed or skipped.
#[tauri::command]
pub fn first_run(state: State<'_, AppState>) -> bool {
    !first_run_marker(&state).exists()
}

#[tauri::command]
pub fn first_run_done(state: State<'_, AppState>) -> Result<()> {
    let marker = first_run_marker(&state);
    std::fs::write(&marker, b"")
        .map_err(|e| EngineError::io(format!("cannot write {}: {e}", marker.display())))
}

/// A native folder dialog. For end-to-end tests (WebDriver cannot reach native dialogs),
/// `TAPEDECK_STUDIO_PICK_FOLDER` answers it.
#[tauri::command]
pub async fn pick_folder(app: AppHandle, title: String) -> Result<Option<String>> {
    if let Some(answer) = std::env::var_os("TAPEDECK_STUDIO_PICK_FOLDER") {
        return Ok(Some(answer.to_string_lossy().into_owned()));
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_title(title)
        .pick_folder(move |folder| {
            let _ = tx.send(folder.map(|f| f.to_string()));
        });
    rx.await
        .map_err(|_| EngineError::new(ErrorKind::Internal, "the folder dialog went away"))
}

#[tauri::command]
pub fn autostart_get(app: AppHandle) -> Result<bool> {
    app.autolaunch()
        .is_enabled()
        .map_err(|e| EngineError::io(format!("cannot tell whether Tapedeck starts at login: {e}")))
}

#[tauri::command]
pub fn autostart_set(app: AppHandle, enabled: bool) -> Result<()> {
    let launcher = app.autolaunch();
    let result = if enabled {
        launcher.enable()
    } else {
        launcher.disable()
    };
    result.map_err(|e| EngineError::io(format!("cannot change starting at login: {e}")))
}
