//! The tray icon: recording state, Show, Quit. Closing the window keeps recording here.
//!
//! On Linux the tray loads libayatana-appindicator3 (or libappindicator3) at run time and
//! Tauri panics without it: the library is looked for first, and without it the app runs
//! without a tray (the window then really quits on close, after finalizing every file) and
//! says so once.

use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Emitter, Manager, Wry};
use tracing::warn;

/// The tray's state line, kept to update it.
pub struct Tray {
    status: MenuItem<Wry>,
}

/// Whether the system can show a tray icon.
pub fn available() -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    const NAMES: [&str; 2] = ["libayatana-appindicator3.so.1", "libappindicator3.so.1"];
    const DIRS: [&str; 7] = [
        "/usr/lib",
        "/usr/lib64",
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/lib/x86_64-linux-gnu",
        "/lib/aarch64-linux-gnu",
        "/usr/local/lib",
    ];
    DIRS.iter().any(|d| {
        NAMES
            .iter()
            .any(|n| std::path::Path::new(d).join(n).exists())
    })
}

pub fn install(app: &AppHandle) {
    if !available() {
        warn!("no tray: libayatana-appindicator3 is not installed; closing the window quits Tapedeck (after finishing every file)");
        let _ = app.emit(
            "notice",
            "The tray icon is not available (install libayatana-appindicator3-1): closing this window stops recording.",
        );
        return;
    }
    if let Err(e) = build(app) {
        warn!("no tray: {e}");
    }
}

fn build(app: &AppHandle) -> tauri::Result<()> {
    let status = MenuItem::with_id(app, "status", "Starting…", false, None::<&str>)?;
    let show = MenuItem::with_id(app, "show", "Show Tapedeck", true, None::<&str>)?;
    let quit = MenuItem::with_id(
        app,
        "quit",
        "Quit (finish every recording)",
        true,
        None::<&str>,
    )?;
    let menu = Menu::with_items(app, &[&status, &show, &quit])?;
    let mut builder = TrayIconBuilder::with_id("main")
        .tooltip("Tapedeck Studio")
        .menu(&menu)
        .on_menu_event(|app, event| match event.id().as_ref() {
            "show" => crate::window::show(app),
            "quit" => crate::state::quit(app.clone()),
            _ => {}
        });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    builder.build(app)?;
    app.manage(Tray { status });
    refresh(app);
    Ok(())
}

/// The state line: what is being recorded.
pub fn status_line(recording: usize, engine_ok: bool) -> String {
    match (engine_ok, recording) {
        (false, _) => "Not recording: open Tapedeck to see why".into(),
        (true, 0) => "Waiting for a stream".into(),
        (true, 1) => "Recording 1 stream".into(),
        (true, n) => format!("Recording {n} streams"),
    }
}

/// Updates the tray's state line and tooltip.
pub fn refresh(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let Some(tray) = app.try_state::<Tray>() else {
            return;
        };
        let state = app.state::<crate::state::AppState>();
        let line = match state.engine().await {
            Ok(engine) => status_line(engine.streams().len(), true),
            Err(_) => status_line(0, false),
        };
        let _ = tray.status.set_text(&line);
        if let Some(icon) = app.tray_by_id("main") {
            let _ = icon.set_tooltip(Some(format!("Tapedeck Studio: {line}")));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_line_reads_naturally() {
        assert_eq!(status_line(0, true), "Waiting for a stream");
        assert_eq!(status_line(1, true), "Recording 1 stream");
        assert_eq!(status_line(3, true), "Recording 3 streams");
        assert_eq!(
            status_line(3, false),
            "Not recording: open Tapedeck to see why"
        );
    }
}
