//! Tapedeck Studio: a thin Tauri 2 shell over the engine (`crates/engine`), which runs in
//! this process. One file per area; none holds engine logic:
//!
//! - `state`: the engine handle (started, restarted after settings that need it, shut down
//!   before the app exits) and the paths the app was started with;
//! - `streams`: the Live screen's commands (ingest URL and key, live streams, recording by
//!   hand, chapters, pulls, disk);
//! - `settings`: the Templates, Storage and Settings screens' edits of `tapedeck.toml`
//!   (comments kept, validated first), the name preview, the test callback, the language;
//! - `recordings`: the Recordings screen (catalog, preview URLs, indexes, clip export with
//!   progress and cancel, save/reveal; drag-out is `tauri-plugin-drag`);
//! - `storage`: bucket keys in the OS keyring, connection tests, the upload queue;
//! - `obs`: "Set up OBS for me" over obs-websocket 5;
//! - `forward`: engine events to the window (`engine-event`, `live`), notifications;
//! - `tray`, `window`, `hotkey`: the desktop around it.
//!
//! The IPC contract is `ui/IPC.md`; the types crossing it are generated into
//! `ui/src/bindings` (ts-rs).

#![forbid(unsafe_code)]

use std::path::PathBuf;

pub mod drag;
pub mod forward;
pub mod hotkey;
pub mod obs;
pub mod paths;
pub mod recordings;
pub mod settings;
pub mod state;
pub mod storage;
pub mod streams;
pub mod tray;
pub mod types;
pub mod webkit;
pub mod window;

use tauri::Manager;

/// Command line of `tapedeck-studio`.
#[derive(clap::Parser, Debug, Clone, Default)]
#[command(
    name = "tapedeck-studio",
    version,
    about = "Tapedeck Studio: record every live stream to your disk and your bucket"
)]
pub struct Args {
    /// Configuration file. Default: the per-user tapedeck.toml the CLI uses too (created on
    /// first run).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Where recordings and Tapedeck's state go, instead of the configuration's data_dir
    /// (for tests and scripts: nothing is written to the configuration).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// Builds and runs the app until it quits.
pub fn run(args: Args) -> Result<(), String> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TAPEDECK_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let paths = paths::Paths::resolve(&args)?;
    let state = state::AppState::new(paths);
    let app = tauri::Builder::default()
        // A second start (a double click on the icon) focuses the first: two copies would
        // fight over port 1935.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            window::show(app);
        }))
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_drag::init())
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            None,
        ))
        .plugin(tauri_plugin_global_shortcut::Builder::new().build())
        .manage(state)
        .manage(recordings::Exports::default())
        .invoke_handler(tauri::generate_handler![
            streams::ingest_info,
            streams::live_streams,
            streams::set_recording,
            streams::add_chapter,
            streams::pulls,
            streams::add_pull,
            streams::remove_pull,
            streams::engine_status,
            streams::disk_status,
            recordings::recorded_streams,
            recordings::spans,
            recordings::chapters,
            recordings::preview_url,
            recordings::thumbnail_url,
            recordings::keyframe_url,
            recordings::index_create,
            recordings::export_clip,
            recordings::export_cancel,
            recordings::clip_path,
            recordings::save_clip_as,
            recordings::reveal,
            recordings::drag_icon,
            recordings::drag_clip,
            recordings::catalog_import,
            settings::config_get,
            settings::template_validate,
            settings::template_save,
            settings::template_delete,
            settings::name_preview,
            settings::storage_save,
            settings::storage_delete,
            settings::settings_save,
            settings::send_test_callback,
            settings::language_get,
            settings::language_set,
            storage::storage_set_keys,
            storage::storage_has_keys,
            storage::storage_test,
            storage::storage_buckets,
            storage::uploads,
            obs::obs_connect,
            obs::obs_status,
            obs::obs_setup_stream,
            obs::obs_start_stream,
            obs::obs_stop_stream,
            hotkey::hotkey_status,
            window::first_run,
            window::first_run_done,
            window::pick_folder,
            window::autostart_get,
            window::autostart_set,
        ])
        .setup(|app| {
            let handle = app.handle().clone();
            tray::install(&handle);
            hotkey::install(&handle);
            tauri::async_runtime::spawn(async move {
                let state = handle.state::<state::AppState>();
                state.start(&handle).await;
            });
            Ok(())
        })
        .on_window_event(window::on_event)
        .build(tauri::generate_context!())
        .map_err(|e| e.to_string())?;
    app.run(|app, event| {
        if let tauri::RunEvent::ExitRequested { api, .. } = event {
            // Every open file is finalized before the process goes.
            let state = app.state::<state::AppState>();
            if !state.quitting() {
                api.prevent_exit();
                state::quit(app.clone());
            }
        }
    });
    Ok(())
}
