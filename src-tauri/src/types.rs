//! Shapes only the app's IPC carries (the engine's own come from its crates). TypeScript
//! is generated from them into `ui/src/bindings` like the engine's (see `tests::bindings`).

use serde::{Deserialize, Serialize};

/// What OBS needs to stream here ("Custom" service).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct IngestInfo {
    /// OBS's Server field: `rtmp://127.0.0.1:1935/live`.
    pub rtmp_url: String,
    /// OBS's Stream Key field: `cam1`, or `cam1?key=...` when a publish key is set.
    pub stream_key: String,
    /// The configured listen address.
    pub listen: String,
    /// Server URLs for other machines on the network, when listening on all addresses.
    pub lan_urls: Vec<String>,
    pub publish_key_set: bool,
}

/// obs-websocket, as the OBS panel shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct ObsStatus {
    pub connected: bool,
    /// OBS Studio's version, like `30.2.3`.
    pub version: Option<String>,
    pub streaming: bool,
    /// OBS's stream target (Custom service), when it has one.
    pub service: Option<ObsService>,
    /// OBS streams to this Tapedeck.
    pub points_here: bool,
    /// Why it is not connected or the last request failed.
    pub error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct ObsService {
    pub server: String,
    pub key: String,
}

/// The global chapter hotkey.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct HotkeyStatus {
    pub available: bool,
    /// Why not, in plain words.
    pub reason: Option<String>,
    /// Like `Ctrl+Shift+M`.
    pub chapter_hotkey: String,
}

/// The recordings' disk, for the Live screen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct DiskInfo {
    pub free_bytes: u64,
    pub total_bytes: u64,
    /// Free space is under `low_space_warning`.
    pub low: bool,
    pub threshold_bytes: u64,
    /// The recordings folder.
    pub path: String,
}

#[cfg(test)]
mod bindings {
    //! The app's own IPC types in `ui/src/bindings` beside the engine's (which
    //! `crates/engine/tests/ts_bindings.rs` keeps): generated here, and this test fails when
    //! the committed ones differ. `TAPEDECK_WRITE_BINDINGS=1 cargo test -p tapedeck-studio
    //! bindings` rewrites them.

    use std::collections::BTreeMap;
    use std::path::Path;

    use ts_rs::{Config, TS};

    #[test]
    fn the_apps_own_typescript_types_match() {
        let fresh = std::env::temp_dir().join(format!("studio-bindings-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&fresh);
        let cfg = Config::new()
            .with_large_int("number")
            .with_out_dir(fresh.clone());
        super::IngestInfo::export_all(&cfg).unwrap();
        super::ObsStatus::export_all(&cfg).unwrap();
        super::HotkeyStatus::export_all(&cfg).unwrap();
        super::DiskInfo::export_all(&cfg).unwrap();
        crate::state::EngineStatus::export_all(&cfg).unwrap();
        crate::settings::SettingsUpdate::export_all(&cfg).unwrap();
        crate::settings::SettingsSaved::export_all(&cfg).unwrap();
        tapedeck_recorder::callback::TestCallback::export_all(&cfg).unwrap();
        crate::recordings::ExportProgress::export_all(&cfg).unwrap();
        crate::recordings::ClipExported::export_all(&cfg).unwrap();
        crate::recordings::CreatedIndex::export_all(&cfg).unwrap();
        tapedeck_catalog::RecordedStream::export_all(&cfg).unwrap();
        let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/bindings");
        let mut generated = BTreeMap::new();
        for e in std::fs::read_dir(&fresh).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            generated.insert(name, std::fs::read_to_string(e.path()).unwrap());
        }
        if std::env::var_os("TAPEDECK_WRITE_BINDINGS").is_some() {
            for (name, text) in &generated {
                std::fs::write(committed.join(name), text).unwrap();
            }
        }
        let stale: Vec<&String> = generated
            .iter()
            .filter(|(name, text)| {
                std::fs::read_to_string(committed.join(name)).ok().as_ref() != Some(*text)
            })
            .map(|(name, _)| name)
            .collect();
        let _ = std::fs::remove_dir_all(&fresh);
        assert!(
            stale.is_empty(),
            "ui/src/bindings is stale ({stale:?}): run TAPEDECK_WRITE_BINDINGS=1 cargo test -p tapedeck-studio bindings"
        );
    }
}
