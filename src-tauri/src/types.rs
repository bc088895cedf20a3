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
