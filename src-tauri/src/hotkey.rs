//! The global chapter hotkey (Ctrl+Shift+M): marks a chapter in every live stream, from
//! any application. Global shortcuts work on Windows, macOS and X11; Wayland gives
//! applications no global shortcuts, so there it is off and the Live screen says why.

use tauri::AppHandle;
use tauri::Manager;
use tauri_plugin_global_shortcut::{GlobalShortcutExt, ShortcutState};
use tracing::{info, warn};

use crate::types::HotkeyStatus;

pub const CHAPTER_HOTKEY: &str = "CommandOrControl+Shift+M";

/// Why global shortcuts cannot work in this session, if they cannot.
pub fn unavailable_reason(
    session_type: Option<&str>,
    wayland_display: Option<&str>,
    display: Option<&str>,
) -> Option<String> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let wayland = session_type.is_some_and(|t| t.eq_ignore_ascii_case("wayland"))
        || wayland_display.is_some_and(|d| !d.is_empty());
    if wayland {
        return Some("Global hotkeys need an X11 session; this desktop runs Wayland. Use the chapter button instead (or log in with an X11 session).".into());
    }
    if display.is_none_or(str::is_empty) {
        return Some("No X11 display: global hotkeys are off.".into());
    }
    None
}

fn reason() -> Option<String> {
    let var = |n: &str| std::env::var(n).ok();
    unavailable_reason(
        var("XDG_SESSION_TYPE").as_deref(),
        var("WAYLAND_DISPLAY").as_deref(),
        var("DISPLAY").as_deref(),
    )
}

pub fn install(app: &AppHandle) {
    if let Some(why) = reason() {
        info!("chapter hotkey off: {why}");
        return;
    }
    let registered = app
        .global_shortcut()
        .on_shortcut(CHAPTER_HOTKEY, |app, _, event| {
            if event.state == ShortcutState::Pressed {
                let app = app.clone();
                tauri::async_runtime::spawn(async move {
                    let state = app.state::<crate::state::AppState>();
                    if let Ok(engine) = state.engine().await {
                        for s in engine.streams() {
                            let title =
                                format!("Chapter {}", chrono::Local::now().format("%H:%M:%S"));
                            if let Err(e) = engine.add_chapter(&s.app, &s.stream, &title).await {
                                warn!("hotkey chapter for {}/{}: {}", s.app, s.stream, e.message);
                            }
                        }
                    }
                });
            }
        });
    if let Err(e) = registered {
        warn!("chapter hotkey {CHAPTER_HOTKEY} not registered: {e}");
    }
}

#[tauri::command]
pub fn hotkey_status() -> HotkeyStatus {
    let reason = reason();
    HotkeyStatus {
        available: reason.is_none(),
        reason,
        chapter_hotkey: "Ctrl+Shift+M".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn wayland_sessions_are_told_why() {
        assert!(unavailable_reason(Some("wayland"), None, Some(":0")).is_some());
        assert!(unavailable_reason(None, Some("wayland-0"), Some(":0")).is_some());
        assert!(unavailable_reason(Some("x11"), None, None).is_some());
        assert_eq!(unavailable_reason(Some("x11"), None, Some(":0")), None);
    }
}
