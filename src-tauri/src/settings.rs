//! The Templates, Storage and Settings screens' commands: each edits `tapedeck.toml`
//! through the engine's settings API (comments kept, validated before an atomic write,
//! every problem named by field). The running engine picks template and storage edits up
//! through its file watcher; a new listen address, data folder or watch list restarts it.
//! They work while the engine is down, so a user can fix what stopped it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tapedeck_config::config::{CallbackConfig, IngestConfig, Template, WatchConfig};
use tapedeck_config::preview::NamePreview;
use tapedeck_config::{ByteSize, Config, Problem, StorageProfile};
use tapedeck_engine::{settings, EngineError};
use tapedeck_recorder::callback::TestCallback;
use tauri::{AppHandle, State};

use crate::state::{AppState, EngineStatus};

type Result<T> = std::result::Result<T, EngineError>;

/// The configuration as the file has it (with `--data-dir` applied). Storage profiles carry
/// no secrets: the keys live in the OS keyring.
#[tauri::command]
pub fn config_get(state: State<'_, AppState>) -> Result<Config> {
    state.load_config()
}

/// Problems `template` would have as template `index` (`None`: a new one). Empty: valid.
#[tauri::command]
pub fn template_validate(
    state: State<'_, AppState>,
    template: Template,
    index: Option<usize>,
) -> Result<Vec<Problem>> {
    settings::validate_template(&state.paths.config, &template, index)
}

#[tauri::command]
pub async fn template_save(
    state: State<'_, AppState>,
    template: Template,
    index: Option<usize>,
) -> Result<()> {
    settings::save_template(&state.paths.config, &template, index)?;
    apply_templates(&state).await;
    Ok(())
}

#[tauri::command]
pub async fn template_delete(state: State<'_, AppState>, index: usize) -> Result<()> {
    settings::delete_template(&state.paths.config, index)?;
    apply_templates(&state).await;
    Ok(())
}

/// The running engine takes the saved templates now (its file watcher would, a moment
/// later).
async fn apply_templates(state: &AppState) {
    if let Ok(engine) = state.engine().await {
        engine.reload_config(&state.paths.config);
    }
}

/// Which template `app`/`stream` gets and why, and the exact keys of a stream starting now;
/// with `template`, as if it were template `index` (being edited).
#[tauri::command]
pub fn name_preview(
    state: State<'_, AppState>,
    app: String,
    stream: String,
    template: Option<Template>,
    index: Option<usize>,
) -> Result<NamePreview> {
    let config = state.load_config()?;
    Ok(settings::preview(
        &config,
        &app,
        &stream,
        template.as_ref().map(|t| (t, index)),
    ))
}

/// Saves a profile. The uploader learns of new or changed profiles when the engine starts:
/// it is restarted now unless a stream is live (then at the next idle moment the user
/// chooses; `restarted: false` says so).
#[tauri::command]
pub async fn storage_save(
    app: AppHandle,
    state: State<'_, AppState>,
    profile: StorageProfile,
    index: Option<usize>,
) -> Result<SettingsSaved> {
    let before = state.load_config().ok();
    let after = settings::save_storage(&state.paths.config, &profile, index)?;
    let changed = before.as_ref().is_none_or(|b| b.storage != after.storage);
    let idle = match state.engine().await {
        Ok(engine) => engine.streams().is_empty(),
        Err(_) => true,
    };
    let restart = changed && idle;
    if restart {
        state.restart(&app).await;
    }
    Ok(SettingsSaved { restarted: restart })
}

/// Removes a profile and its keys from the keyring.
#[tauri::command]
pub fn storage_delete(state: State<'_, AppState>, name: String) -> Result<()> {
    settings::delete_storage(&state.paths.config, &name)?;
    state.credentials.delete(&name).map_err(|e| {
        EngineError::new(
            tapedeck_engine::ErrorKind::Storage,
            format!(
                "the profile is gone, but its keys could not be removed from the keychain: {e}"
            ),
        )
    })
}

/// The Settings screen's values in one save.
#[derive(Clone, Debug, Serialize, Deserialize, ts_rs::TS)]
pub struct SettingsUpdate {
    pub ingest: IngestConfig,
    pub data_dir: String,
    pub callback: CallbackConfig,
    pub watch: Vec<WatchConfig>,
    /// `"5GB"`; `None` leaves it as it is.
    pub low_space_warning: Option<ByteSize>,
}

/// What a save did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct SettingsSaved {
    /// The engine was restarted to apply them (listen address, data folder, folder watch).
    pub restarted: bool,
}

/// Writes the settings; restarts the engine when they need it (or when it was not running,
/// so fixing what stopped it is enough).
#[tauri::command]
pub async fn settings_save(
    app: AppHandle,
    state: State<'_, AppState>,
    ingest: IngestConfig,
    data_dir: String,
    callback: CallbackConfig,
    watch: Vec<WatchConfig>,
    low_space_warning: Option<ByteSize>,
) -> Result<SettingsSaved> {
    let update = SettingsUpdate {
        ingest,
        data_dir,
        callback,
        watch,
        low_space_warning,
    };
    let before = state.load_config().ok();
    let after = save(&state.paths.config, &update)?;
    let running = matches!(state.status(), EngineStatus::Running { .. });
    let restart = !running || before.as_ref().is_none_or(|b| needs_restart(b, &after));
    if restart {
        state.restart(&app).await;
    }
    Ok(SettingsSaved { restarted: restart })
}

/// Writes `update` into the file at `path` (comments kept); nothing on a problem.
pub fn save(path: &Path, update: &SettingsUpdate) -> Result<Config> {
    settings::edit(path, |d| {
        d.set_table("ingest", &update.ingest)?;
        d.set_value("data_dir", Some(&PathBuf::from(&update.data_dir)))?;
        d.set_table("callback", &update.callback)?;
        d.set_list("watch", &update.watch)?;
        if let Some(l) = &update.low_space_warning {
            d.set_value("low_space_warning", Some(l))?;
        }
        Ok(())
    })
}

/// Settings a running engine cannot take over without starting again.
pub fn needs_restart(before: &Config, after: &Config) -> bool {
    before.ingest != after.ingest
        || before.data_dir != after.data_dir
        || before.watch != after.watch
        || before.control != after.control
        || before.low_space_warning != after.low_space_warning
}

/// Sends a test notice to the callback URL as saved, and shows the exchange.
#[tauri::command]
pub async fn send_test_callback(state: State<'_, AppState>) -> Result<TestCallback> {
    let config = state.load_config()?;
    Ok(tapedeck_recorder::callback::send_test(
        &config.callback.url,
        &config.callback.secret,
        &config.callback.domain,
    )
    .await)
}

/// The UI language: `"en"`, `"zh-CN"`, or `None` to follow the OS. Kept beside the
/// configuration (`studio.json`), not in it: the CLI has no use for it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct StudioPrefs {
    #[serde(default)]
    language: Option<String>,
}

fn prefs_path(config: &Path) -> PathBuf {
    config.with_file_name("studio.json")
}

fn read_prefs(config: &Path) -> StudioPrefs {
    std::fs::read(prefs_path(config))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

#[tauri::command]
pub fn language_get(state: State<'_, AppState>) -> Option<String> {
    read_prefs(&state.paths.config).language
}

#[tauri::command]
pub fn language_set(state: State<'_, AppState>, lang: Option<String>) -> Result<()> {
    set_language(&state.paths.config, lang)
}

pub fn set_language(config: &Path, lang: Option<String>) -> Result<()> {
    if let Some(l) = &lang {
        if !["en", "zh-CN"].contains(&l.as_str()) {
            return Err(EngineError::invalid(format!(
                "{l:?} is not a language Tapedeck Studio has (en, zh-CN)"
            )));
        }
    }
    let mut prefs = read_prefs(config);
    prefs.language = lang;
    let bytes =
        serde_json::to_vec_pretty(&prefs).map_err(|e| EngineError::internal(e.to_string()))?;
    tapedeck_config::document::write_atomically(&prefs_path(config), &bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("studio-settings-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn settings_keep_comments_and_say_when_a_restart_is_needed() {
        let dir = temp("save");
        let path = dir.join("tapedeck.toml");
        let text = "# my setup\ndata_dir = \"/tmp/rec\" # fast disk\n\n[[template]]\napp = \"*\"\nstream = \"*\"\n";
        std::fs::write(&path, text).unwrap();
        let before = settings::load(&path).unwrap();
        let mut update = SettingsUpdate {
            ingest: before.ingest.clone(),
            data_dir: "/tmp/rec".into(),
            callback: CallbackConfig {
                url: "http://127.0.0.1:9/hook".into(),
                ..before.callback.clone()
            },
            watch: Vec::new(),
            low_space_warning: None,
        };
        let after = save(&path, &update).unwrap();
        let saved = std::fs::read_to_string(&path).unwrap();
        assert!(
            saved.starts_with("# my setup\ndata_dir = \"/tmp/rec\" # fast disk\n"),
            "{saved}"
        );
        assert!(
            saved.contains("[callback]\nurl = \"http://127.0.0.1:9/hook\"\n"),
            "{saved}"
        );
        assert!(
            !needs_restart(&before, &after),
            "a callback URL applies as it is"
        );
        update.ingest.rtmp_listen = "0.0.0.0:1936".into();
        let moved = save(&path, &update).unwrap();
        assert!(needs_restart(&after, &moved));
        // A bad port: refused by field, the file unchanged.
        let kept = std::fs::read_to_string(&path).unwrap();
        update.ingest.rtmp_listen = "nowhere".into();
        let e = save(&path, &update).unwrap_err();
        assert_eq!(e.kind, tapedeck_engine::ErrorKind::Invalid);
        assert_eq!(e.problems[0].field, "ingest.rtmp_listen", "{e:?}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), kept);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_language_is_kept_beside_the_configuration() {
        let dir = temp("lang");
        let config = dir.join("tapedeck.toml");
        assert_eq!(read_prefs(&config).language, None);
        set_language(&config, Some("zh-CN".into())).unwrap();
        assert_eq!(read_prefs(&config).language.as_deref(), Some("zh-CN"));
        assert!(set_language(&config, Some("fr".into())).is_err());
        set_language(&config, None).unwrap();
        assert_eq!(read_prefs(&config).language, None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
