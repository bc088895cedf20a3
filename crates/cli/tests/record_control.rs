//! `tapedeck record stop|start` against a running server, through the control API.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

fn record(server: &Server, action: &str, stream: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tapedeck"))
        .args(["record", action, "--config"])
        .arg(&server.config)
        .args(["--app", "live", "--stream", stream])
        .output()
        .expect("running tapedeck record")
}

#[test]
fn stop_and_start_recording_a_live_stream() {
    let dir = TempDir::new("control");
    let input = make_input(dir.path(), 6);
    let server = Server::start(
        dir.path(),
        "[[template]]\nformats = [\"mp4\"]\ninterruption_window = \"1s\"\n",
    );

    let out = record(&server, "stop", "nobody");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("live/nobody is not live"),
        "{out:?}"
    );

    let url = server.url("live", "cam1");
    let input_path = input.clone();
    let publisher = std::thread::spawn(move || {
        ffmpeg(&[
            "-re",
            "-i",
            input_path.to_str().unwrap(),
            "-c",
            "copy",
            "-f",
            "flv",
            &url,
        ])
    });
    wait_for(20, "the recording", || {
        server
            .log_text()
            .contains("recording started")
            .then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    let out = record(&server, "stop", "cam1");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "live/cam1: recording stopped"
    );
    let root = server.recordings().join("record/live/cam1");
    wait_for(20, "the first file, finished at the stop", || {
        find_files(&root, ".mp4").into_iter().next()
    });
    std::thread::sleep(Duration::from_secs(1));
    assert!(record(&server, "start", "cam1").status.success());
    assert!(
        publisher.join().unwrap().status.success(),
        "the publisher stayed connected throughout"
    );
    wait_for(30, "the second file", || {
        (find_files(&root, ".mp4").len() == 2).then_some(())
    });
    let log = server.stop();
    assert!(log.contains("recording stopped by request"), "{log}");
    for f in find_files(&root, ".mp4") {
        let p = ffprobe(&f);
        assert!(p.video.is_some_and(|v| v.packets > 0), "{}", f.display());
        assert!(decode_errors(&f).trim().is_empty());
    }
}

/// The control API's port, from the config `Server::start` wrote.
fn control_port(server: &Server) -> u16 {
    let text = std::fs::read_to_string(&server.config).expect("config");
    let after = text.split("[control]").nth(1).expect("a [control] table");
    let addr = after
        .split('"')
        .nth(1)
        .expect("listen = \"127.0.0.1:port\"");
    addr.rsplit(':').next().unwrap().parse().expect("a port")
}

/// One HTTP/1.1 request, written by hand so each header is exactly what the test says.
/// Returns the status and the raw response (headers and body).
fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connecting");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: 0\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {out:?}"));
    (status, out)
}

#[test]
fn the_control_api_wants_its_token_its_host_and_no_web_origin() {
    let dir = TempDir::new("control-auth");
    let server = Server::start(dir.path(), "");
    let port = control_port(&server);
    let host = format!("127.0.0.1:{port}");
    wait_for(20, "the control API", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
    let token_path = server.data.join("state").join("control.token");
    let token = std::fs::read_to_string(&token_path)
        .expect("serve wrote its token")
        .trim()
        .to_string();
    assert_eq!(token.len(), 64, "{token:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    }
    let bearer = format!("Bearer {token}");
    let stop = "/v1/streams/live/cam1/record/stop";

    // No token, a wrong one, another scheme: 401.
    let (status, _) = http(port, "POST", stop, &[("Host", &host)]);
    assert_eq!(status, 401);
    let wrong = format!("Bearer {}", "0".repeat(64));
    let (status, _) = http(
        port,
        "POST",
        stop,
        &[("Host", &host), ("Authorization", &wrong)],
    );
    assert_eq!(status, 401);
    let (status, _) = http(
        port,
        "GET",
        "/v1/streams",
        &[
            ("Host", &host),
            ("Authorization", &format!("Basic {token}")),
        ],
    );
    assert_eq!(status, 401);
    // The right token: through to the handler (nothing is live: 409 for a stop, 200 list).
    let (status, body) = http(
        port,
        "GET",
        "/v1/streams",
        &[("Host", &host), ("Authorization", &bearer)],
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = http(
        port,
        "POST",
        stop,
        &[("Host", &host), ("Authorization", &bearer)],
    );
    assert_eq!(status, 409, "{body}");
    let (status, _) = http(
        port,
        "GET",
        "/v1/streams",
        &[
            ("Host", &format!("localhost:{port}")),
            ("Authorization", &bearer),
        ],
    );
    assert_eq!(status, 200);

    // DNS rebinding: the page's own name as Host, even with the token: 403.
    for bad in [format!("evil.example:{port}"), "127.0.0.1:1".to_string()] {
        let (status, _) = http(
            port,
            "POST",
            stop,
            &[("Host", &bad), ("Authorization", &bearer)],
        );
        assert_eq!(status, 403, "{bad}");
    }
    // A web page's request: 403 whatever else it carries; the app's own origin passes.
    let (status, _) = http(
        port,
        "POST",
        stop,
        &[
            ("Host", &host),
            ("Origin", "http://example.com"),
            ("Authorization", &bearer),
        ],
    );
    assert_eq!(status, 403);
    let (status, _) = http(
        port,
        "GET",
        "/v1/streams",
        &[
            ("Host", &host),
            ("Origin", "tauri://localhost"),
            ("Authorization", &bearer),
        ],
    );
    assert_eq!(status, 200);
    // Preflights get no CORS headers, and nothing does.
    for origin in ["http://example.com", "tauri://localhost"] {
        let (status, raw) = http(
            port,
            "OPTIONS",
            stop,
            &[
                ("Host", &host),
                ("Origin", origin),
                ("Access-Control-Request-Method", "POST"),
                ("Access-Control-Request-Headers", "authorization"),
            ],
        );
        assert!(status == 403 || status == 204, "{status} {raw}");
        assert!(
            !raw.to_ascii_lowercase().contains("access-control-"),
            "{raw}"
        );
    }
    let (_, raw) = http(
        port,
        "GET",
        "/v1/streams",
        &[
            ("Host", &host),
            ("Origin", "tauri://localhost"),
            ("Authorization", &bearer),
        ],
    );
    assert!(
        !raw.to_ascii_lowercase().contains("access-control-"),
        "{raw}"
    );

    // The token is reused by the next start.
    let (config, rtmp, data, log) = (
        server.config.clone(),
        server.port,
        server.data.clone(),
        server.log.clone(),
    );
    server.stop();
    let server = Server::spawn(config, rtmp, data, log);
    assert_eq!(std::fs::read_to_string(&token_path).unwrap().trim(), token);
    server.stop();
}

#[test]
fn without_a_token_file_the_cli_says_serve_has_not_started_there() {
    let dir = TempDir::new("control-notoken");
    let config = dir.path().join("tapedeck.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n[control]\nlisten = \"127.0.0.1:{}\"\n",
            dir.path().join("data").to_str().unwrap(),
            free_port()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tapedeck"))
        .args(["record", "stop", "--config"])
        .arg(&config)
        .args(["--app", "live", "--stream", "cam1"])
        .output()
        .expect("running tapedeck record");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("has not started with this data folder"),
        "{err}"
    );
}
