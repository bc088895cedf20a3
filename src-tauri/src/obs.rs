//! "Set up OBS for me": OBS 28+ ships obs-websocket 5. With the address and password the
//! user gives once (the password kept in the OS keyring), the app sets OBS's stream service
//! to this Tapedeck (Custom, server URL and key), shows whether OBS streams, and starts and
//! stops OBS's stream.

use serde::{Deserialize, Serialize};
use tapedeck_engine::{EngineError, ErrorKind};
use tapedeck_storage::Credentials;
use tauri::State;
use tokio::sync::Mutex;

use crate::state::AppState;
use crate::types::{ObsService, ObsStatus};

type Result<T> = std::result::Result<T, EngineError>;

/// The keyring entry of the obs-websocket password (id: the address).
const KEYRING_ENTRY: &str = "obs-websocket";

#[derive(Default)]
pub struct Obs {
    client: Mutex<Option<(String, obws::Client)>>,
}

/// `ws://host:port`, `host:port` or `host` (port 4455, obs-websocket's default).
pub fn parse_address(address: &str) -> Result<(String, u16)> {
    let rest = address
        .trim()
        .trim_start_matches("ws://")
        .trim_end_matches('/');
    if rest.is_empty() {
        return Err(EngineError::invalid(
            "enter OBS's address, like 127.0.0.1:4455 (OBS: Tools > WebSocket Server Settings)",
        ));
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') => (
            h.trim_start_matches('[').trim_end_matches(']'),
            p.parse::<u16>().map_err(|_| {
                EngineError::invalid(format!(
                    "{p:?} is not a port number (OBS's default is 4455)"
                ))
            })?,
        ),
        _ => (rest, 4455),
    };
    Ok((host.to_string(), port))
}

/// Connects to obs-websocket. `obws` checks for OBS 30.2+ by default; every request the
/// app makes (version, stream status, stream service settings, start/stop stream) exists
/// since obs-websocket 5.0 (OBS 28), so the version checks are skipped: OBS 28 and 29
/// (Debian 12 ships 29.0) work too. Checked against the real OBS 29 (tests/obs_real.rs).
async fn open_client(
    host: &str,
    port: u16,
    password: Option<&str>,
) -> std::result::Result<obws::Client, obws::error::Error> {
    obws::Client::connect_with_config(obws::client::ConnectConfig {
        host,
        port,
        password,
        event_subscriptions: Some(obws::requests::EventSubscription::NONE),
        broadcast_capacity: obws::client::DEFAULT_BROADCAST_CAPACITY,
        connect_timeout: std::time::Duration::from_secs(10),
        dangerous: Some(obws::client::DangerousConnectConfig {
            skip_studio_version_check: true,
            skip_websocket_version_check: true,
        }),
    })
    .await
}

fn obs_error(what: &str, e: obws::error::Error) -> EngineError {
    EngineError::new(
        ErrorKind::Unavailable,
        format!("OBS {what}: {e}. Is OBS running with its WebSocket server on (Tools > WebSocket Server Settings), and is the password right?"),
    )
}

/// Connects to OBS's WebSocket server; with `remember`, keeps the password in the keyring.
#[tauri::command]
pub async fn obs_connect(
    state: State<'_, AppState>,
    address: String,
    password: String,
    remember: bool,
) -> Result<ObsStatus> {
    connect(&state, &address, &password, remember).await
}

pub async fn connect(
    state: &AppState,
    address: &str,
    password: &str,
    remember: bool,
) -> Result<ObsStatus> {
    let (host, port) = parse_address(address)?;
    let password = Some(password.to_string()).filter(|p| !p.is_empty());
    let client = open_client(&host, port, password.as_deref())
        .await
        .map_err(|e| obs_error("did not answer", e))?;
    if remember {
        let entry = Credentials {
            access_key_id: format!("{host}:{port}"),
            secret_access_key: password.unwrap_or_default(),
        };
        state.credentials.set(KEYRING_ENTRY, &entry).map_err(|e| {
            EngineError::new(
                ErrorKind::Storage,
                format!("the system keyring did not take the password: {e}"),
            )
        })?;
    }
    *state.obs.client.lock().await = Some((format!("{host}:{port}"), client));
    status(state).await
}

/// What OBS streams and where (connecting with the remembered password when there is one).
#[tauri::command]
pub async fn obs_status(state: State<'_, AppState>) -> Result<ObsStatus> {
    status(&state).await
}

pub async fn status(state: &AppState) -> Result<ObsStatus> {
    let mut guard = state.obs.client.lock().await;
    if guard.is_none() {
        if let Ok(Some(saved)) = state.credentials.get(KEYRING_ENTRY) {
            if let Ok((host, port)) = parse_address(&saved.access_key_id) {
                let password = Some(saved.secret_access_key).filter(|p| !p.is_empty());
                match open_client(&host, port, password.as_deref()).await {
                    Ok(c) => *guard = Some((format!("{host}:{port}"), c)),
                    Err(e) => {
                        return Ok(ObsStatus {
                            error: Some(obs_error("did not answer", e).message),
                            ..ObsStatus::default()
                        })
                    }
                }
            }
        }
    }
    let Some((_, client)) = guard.as_ref() else {
        return Ok(ObsStatus::default());
    };
    let version = match client.general().version().await {
        Ok(v) => Some(v.obs_studio_version.to_string()),
        Err(e) => {
            *guard = None;
            return Ok(ObsStatus {
                error: Some(obs_error("went away", e).message),
                ..ObsStatus::default()
            });
        }
    };
    let streaming = client
        .streaming()
        .status()
        .await
        .map(|s| s.active)
        .unwrap_or(false);
    #[derive(Deserialize, Default)]
    struct Custom {
        #[serde(default)]
        server: String,
        #[serde(default)]
        key: String,
    }
    let service = client
        .config()
        .stream_service_settings::<Custom>()
        .await
        .ok()
        .filter(|s| s.r#type == "rtmp_custom")
        .map(|s| ObsService {
            server: s.settings.server,
            key: s.settings.key,
        });
    let here = match state.engine().await {
        Ok(engine) => {
            let config = engine.config();
            Some(crate::streams::ingest_info_for(
                &config.ingest.rtmp_listen,
                engine.rtmp_addr(),
                &config.ingest.publish_key,
                &[],
            ))
        }
        Err(_) => None,
    };
    let points_here = match (&service, &here) {
        (Some(s), Some(h)) => s.server.trim_end_matches('/') == h.rtmp_url && s.key == h.stream_key,
        _ => false,
    };
    Ok(ObsStatus {
        connected: true,
        version,
        streaming,
        service,
        points_here,
        error: None,
    })
}

async fn with_client<T>(
    state: &AppState,
    what: &str,
    f: impl AsyncFnOnce(&obws::Client) -> std::result::Result<T, obws::error::Error>,
) -> Result<T> {
    let guard = state.obs.client.lock().await;
    let Some((_, client)) = guard.as_ref() else {
        return Err(EngineError::new(
            ErrorKind::Conflict,
            "connect to OBS first (its address and WebSocket password)",
        ));
    };
    f(client).await.map_err(|e| obs_error(what, e))
}

/// Sets OBS's stream service to this Tapedeck: Custom, its server URL and stream key.
#[tauri::command]
pub async fn obs_setup_stream(state: State<'_, AppState>) -> Result<ObsStatus> {
    setup_stream(&state).await
}

pub async fn setup_stream(state: &AppState) -> Result<ObsStatus> {
    let engine = state.engine().await?;
    let config = engine.config();
    let info = crate::streams::ingest_info_for(
        &config.ingest.rtmp_listen,
        engine.rtmp_addr(),
        &config.ingest.publish_key,
        &[],
    );
    #[derive(Serialize)]
    struct Custom<'a> {
        server: &'a str,
        key: &'a str,
    }
    with_client(state, "did not take the stream settings", async |c| {
        c.config()
            .set_stream_service_settings(
                "rtmp_custom",
                &Custom {
                    server: &info.rtmp_url,
                    key: &info.stream_key,
                },
            )
            .await
    })
    .await?;
    status(state).await
}

#[tauri::command]
pub async fn obs_start_stream(state: State<'_, AppState>) -> Result<ObsStatus> {
    start_stream(&state, true).await
}

#[tauri::command]
pub async fn obs_stop_stream(state: State<'_, AppState>) -> Result<ObsStatus> {
    start_stream(&state, false).await
}

/// Starts (`true`) or stops OBS's stream.
pub async fn start_stream(state: &AppState, on: bool) -> Result<ObsStatus> {
    if on {
        with_client(state, "did not start streaming", async |c| {
            c.streaming().start().await
        })
        .await?;
    } else {
        with_client(state, "did not stop streaming", async |c| {
            c.streaming().stop().await
        })
        .await?;
    }
    status(state).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_as_users_type_them() {
        assert_eq!(
            parse_address("ws://127.0.0.1:4455").unwrap(),
            ("127.0.0.1".into(), 4455)
        );
        assert_eq!(
            parse_address("192.168.1.5").unwrap(),
            ("192.168.1.5".into(), 4455)
        );
        assert_eq!(
            parse_address(" localhost:4460/ ").unwrap(),
            ("localhost".into(), 4460)
        );
        assert_eq!(parse_address("[::1]:4455").unwrap(), ("::1".into(), 4455));
        assert_eq!(parse_address("").unwrap_err().kind, ErrorKind::Invalid);
        assert_eq!(
            parse_address("host:port").unwrap_err().kind,
            ErrorKind::Invalid
        );
    }
}
