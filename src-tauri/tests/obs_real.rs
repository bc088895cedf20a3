//! "Set up OBS for me" against the real OBS Studio (Debian `obs-studio`, obs-websocket 5
//! built in), under the display the tests run in (Xvfb) with software GL: the app's OBS
//! commands connect with a password (a wrong one is refused), read OBS's version and stream
//! target, point OBS's stream at this Tapedeck, start OBS's stream (recorded by the engine:
//! an MP4 ffprobe reads) and stop it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tapedeck_studio::paths::Paths;
use tapedeck_studio::state::AppState;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// OBS, killed when dropped (a failing test leaves no OBS behind).
struct Obs(Child);

impl Drop for Obs {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// OBS with its WebSocket server on `port` (password `pw`), on a configuration of its own.
fn start_obs(home: &Path, port: u16) -> Obs {
    let config = home.join("config/obs-studio");
    std::fs::create_dir_all(config.join("plugin_config/obs-websocket")).unwrap();
    // obs-websocket 5.1 (OBS 29) reads its settings from global.ini, 5.2+ (OBS 30) from
    // plugin_config/obs-websocket/config.json: both are written. `FirstRun=true` means
    // "the first run happened": without it OBS opens its modal auto-configuration wizard,
    // which holds every frontend request (StartStream answers OK and nothing starts).
    std::fs::write(
        config.join("global.ini"),
        format!(
            "[General]\nFirstRun=true\nEnableAutoUpdates=false\n\n[BasicWindow]\nWarnBeforeStartingStream=false\nWarnBeforeStoppingStream=false\nWarnBeforeStoppingRecord=false\nSysTrayEnabled=false\n\n[OBSWebSocket]\nFirstLoad=false\nServerEnabled=true\nServerPort={port}\nAlertsEnabled=false\nAuthRequired=true\nServerPassword=pw\n"
        ),
    )
    .unwrap();
    std::fs::write(
        config.join("plugin_config/obs-websocket/config.json"),
        format!(
            r#"{{"alerts_enabled":false,"auth_required":true,"first_load":false,"server_enabled":true,"server_password":"pw","server_port":{port}}}"#
        ),
    )
    .unwrap();
    let obs = which("obs").unwrap_or_else(|| {
        panic!("OBS Studio is not installed (apt-get install obs-studio; scripts/setup does)")
    });
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "OBS needs a display: run the tests under xvfb-run (scripts/test does)"
    );
    Command::new(obs)
        .args(["--multi", "--disable-shutdown-check"])
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("LIBGL_ALWAYS_SOFTWARE", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(Obs)
        .expect("starting obs")
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|f| f.is_file())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn obs_is_set_up_started_and_stopped_from_the_app() {
    let dir = std::env::temp_dir().join(format!("studio-obs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let rtmp = free_port();
    let config = dir.join("tapedeck.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n[ingest]\nrtmp_listen = \"127.0.0.1:{rtmp}\"\n[control]\nlisten = \"\"\n[[template]]\nformats = [\"mp4\"]\ninterruption_window = \"0s\"\n",
            dir.join("data").to_str().unwrap()
        ),
    )
    .unwrap();
    let state = AppState::with_credentials(
        Paths {
            config,
            data_dir: None,
            created: false,
        },
        Arc::new(tapedeck_storage::MemoryStore::default()),
    );
    let engine = state
        .start_without_window()
        .await
        .expect("the engine starts");

    let ws = free_port();
    let obs = start_obs(&dir.join("home"), ws);
    // OBS takes a while to come up on software GL.
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        match tapedeck_studio::obs::connect(&state, &format!("ws://127.0.0.1:{ws}/"), "pw", true)
            .await
        {
            Ok(s) => break s,
            Err(e) if Instant::now() < deadline => {
                assert!(e.message.contains("OBS did not answer"), "{}", e.message);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => panic!("OBS did not come up within 90 s: {}", e.message),
        }
    };
    // A wrong password is refused, with what to check.
    let refused = tapedeck_studio::obs::connect(&state, &format!("127.0.0.1:{ws}"), "wrong", false)
        .await
        .unwrap_err();
    assert!(
        refused.message.contains("is the password right?"),
        "{}",
        refused.message
    );
    assert!(status.connected, "{status:?}");
    assert!(
        status
            .version
            .as_deref()
            .is_some_and(|v| v.starts_with("29.") || v.starts_with("3")),
        "{status:?}"
    );
    assert!(
        !status.points_here,
        "a fresh OBS streams elsewhere: {status:?}"
    );

    let set = tapedeck_studio::obs::setup_stream(&state)
        .await
        .expect("OBS takes the settings");
    assert!(set.points_here, "{set:?}");
    let service = set.service.clone().unwrap();
    assert_eq!(service.server, format!("rtmp://127.0.0.1:{rtmp}/live"));
    assert_eq!(service.key, "cam1");

    // Start OBS's stream from the app: it reaches this Tapedeck and is recorded.
    tapedeck_studio::obs::start_stream(&state, true)
        .await
        .expect("OBS starts streaming");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let live = engine.live();
        if live
            .iter()
            .any(|s| s.app == "live" && s.stream == "cam1" && s.bitrate_kbps > 0)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "OBS's stream did not reach Tapedeck: {live:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let streaming = tapedeck_studio::obs::status(&state).await.unwrap();
    assert!(
        streaming.streaming && streaming.points_here,
        "{streaming:?}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stopped = tapedeck_studio::obs::start_stream(&state, false)
        .await
        .expect("OBS stops streaming");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mp4 = loop {
        if let Some(f) = find(&dir.join("data/recordings"), "mp4") {
            break f;
        }
        assert!(
            Instant::now() < deadline,
            "no finished mp4 after OBS stopped: {stopped:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name",
            "-of",
            "csv=p=0",
        ])
        .arg(&mp4)
        .output()
        .unwrap();
    let codecs = String::from_utf8_lossy(&probe.stdout).to_string();
    assert!(codecs.contains("h264"), "{codecs}");
    drop(obs);
    engine.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// A finished file with extension `ext` under `dir`.
fn find(dir: &Path, ext: &str) -> Option<std::path::PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.is_dir() {
            if let Some(f) = find(&p, ext) {
                return Some(f);
            }
        } else if p.extension().is_some_and(|x| x == ext) {
            return Some(p);
        }
    }
    None
}
