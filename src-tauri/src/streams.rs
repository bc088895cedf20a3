//! The Live screen's commands: each a line or two over the engine's API.

use std::net::{IpAddr, SocketAddr};

use tapedeck_config::config::PullConfig;
use tapedeck_engine::{ChapterMark, EngineError, LiveStream, StreamKey};
use tauri::State;

use crate::state::{AppState, EngineStatus};
use crate::types::{DiskInfo, IngestInfo};

type Result<T> = std::result::Result<T, EngineError>;

/// Whether the engine runs (and why not).
#[tauri::command]
pub fn engine_status(state: State<'_, AppState>) -> EngineStatus {
    state.status()
}

/// The server URL and stream key to paste into OBS.
#[tauri::command]
pub async fn ingest_info(state: State<'_, AppState>) -> Result<IngestInfo> {
    let engine = state.engine().await?;
    let config = engine.config();
    Ok(ingest_info_for(
        &config.ingest.rtmp_listen,
        engine.rtmp_addr(),
        &config.ingest.publish_key,
        &local_addresses(),
    ))
}

/// OBS's fields for a server listening on `listen` (bound at `bound`): loopback as
/// `127.0.0.1`, every address as each of `lan` (and loopback for this machine).
pub fn ingest_info_for(
    listen: &str,
    bound: SocketAddr,
    publish_key: &str,
    lan: &[IpAddr],
) -> IngestInfo {
    let port = bound.port();
    let url = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => format!("rtmp://[{v6}]:{port}/live"),
        IpAddr::V4(v4) => format!("rtmp://{v4}:{port}/live"),
    };
    let host = bound.ip();
    let (rtmp_url, lan_urls) = if host.is_unspecified() {
        let lan_urls: Vec<String> = lan
            .iter()
            .copied()
            .filter(|a| !a.is_loopback())
            .map(url)
            .collect();
        (url(IpAddr::from([127, 0, 0, 1])), lan_urls)
    } else {
        (url(host), Vec::new())
    };
    let stream_key = if publish_key.is_empty() {
        "cam1".to_string()
    } else {
        format!("cam1?key={publish_key}")
    };
    IngestInfo {
        rtmp_url,
        stream_key,
        listen: listen.to_string(),
        lan_urls,
        publish_key_set: !publish_key.is_empty(),
    }
}

/// This machine's address on the network it routes through (no packet is sent: a UDP
/// socket "connected" to a public address reveals the outgoing interface).
fn local_addresses() -> Vec<IpAddr> {
    let probe = || -> std::io::Result<IpAddr> {
        let s = std::net::UdpSocket::bind("0.0.0.0:0")?;
        s.connect("192.0.2.1:9")?;
        Ok(s.local_addr()?.ip())
    };
    probe()
        .into_iter()
        .filter(|a| !a.is_unspecified())
        .collect()
}

/// Every live stream with its stats as of the last second (also sent as the `live` event
/// once a second while any is live).
#[tauri::command]
pub async fn live_streams(state: State<'_, AppState>) -> Result<Vec<LiveStream>> {
    Ok(state.engine().await?.live().as_ref().clone())
}

/// The recordings' disk: free and total bytes, whether it is under `low_space_warning`.
#[tauri::command]
pub async fn disk_status(state: State<'_, AppState>) -> Result<DiskInfo> {
    let engine = state.engine().await?;
    let status = engine.disk()?;
    Ok(DiskInfo {
        free_bytes: status.free_bytes,
        total_bytes: status.total_bytes,
        low: status.low,
        threshold_bytes: status.threshold_bytes,
        path: engine.config().recordings_dir().display().to_string(),
    })
}

/// Stops or starts recording a live stream by hand (the publisher stays connected).
#[tauri::command]
pub async fn set_recording(
    state: State<'_, AppState>,
    app: String,
    stream: String,
    on: bool,
) -> Result<()> {
    state.engine().await?.set_recording(&app, &stream, on)
}

/// Marks a chapter at the live edge.
#[tauri::command]
pub async fn add_chapter(
    state: State<'_, AppState>,
    app: String,
    stream: String,
    title: String,
) -> Result<ChapterMark> {
    state
        .engine()
        .await?
        .add_chapter(&app, &stream, &title)
        .await
}

#[tauri::command]
pub async fn pulls(state: State<'_, AppState>) -> Result<Vec<StreamKey>> {
    Ok(state.engine().await?.pulls())
}

/// Pulls a remote RTMP, HTTP-FLV or HLS stream until removed or the app quits.
#[tauri::command]
pub async fn add_pull(state: State<'_, AppState>, pull: PullConfig) -> Result<()> {
    state.engine().await?.add_pull(pull)
}

#[tauri::command]
pub async fn remove_pull(state: State<'_, AppState>, app: String, stream: String) -> Result<()> {
    state.engine().await?.remove_pull(&app, &stream).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn obs_gets_the_address_it_can_reach() {
        let loopback =
            ingest_info_for("127.0.0.1:1935", "127.0.0.1:1935".parse().unwrap(), "", &[]);
        assert_eq!(loopback.rtmp_url, "rtmp://127.0.0.1:1935/live");
        assert_eq!(loopback.stream_key, "cam1");
        assert!(loopback.lan_urls.is_empty());
        let lan = [
            IpAddr::from([192, 168, 1, 20]),
            IpAddr::from([127, 0, 0, 1]),
        ];
        let all = ingest_info_for(
            "0.0.0.0:1935",
            "0.0.0.0:1935".parse().unwrap(),
            "s3cret",
            &lan,
        );
        assert_eq!(all.rtmp_url, "rtmp://127.0.0.1:1935/live");
        assert_eq!(all.lan_urls, ["rtmp://192.168.1.20:1935/live"]);
        assert_eq!(all.stream_key, "cam1?key=s3cret");
        assert!(all.publish_key_set);
        let v6 = ingest_info_for("[::1]:19350", "[::1]:19350".parse().unwrap(), "", &[]);
        assert_eq!(v6.rtmp_url, "rtmp://[::1]:19350/live");
    }
}
