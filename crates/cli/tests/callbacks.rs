//! Callbacks to a receiver in the test: the payloads, their HMAC signatures (checked by
//! Python's hmac module, an independent implementation), and retries after the receiver
//! answered 500 twice.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use common::*;

#[derive(Debug, Clone)]
struct Request {
    signature: Option<String>,
    timestamp: Option<String>,
    body: String,
    answered: u16,
}

/// One HTTP request as the test receivers read it: request line, headers (names in lower
/// case) and body.
struct HttpRequest {
    line: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl HttpRequest {
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }
}

fn read_request(stream: &std::net::TcpStream) -> HttpRequest {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    let _ = reader.read_line(&mut line);
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        let (name, value) = h.split_once(':').unwrap_or((&h, ""));
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).unwrap();
    HttpRequest {
        line,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// A tiny HTTP receiver: answers 500 to the first `failures` requests, then 200.
fn receiver(failures: usize) -> (u16, Arc<Mutex<Vec<Request>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let request = read_request(&stream);
            let signature = request
                .headers
                .iter()
                .find(|(n, _)| n == "x-tapedeck-signature")
                .map(|(_, v)| v.clone());
            let timestamp = request.header("x-tapedeck-timestamp");
            let mut seen = log.lock().unwrap();
            let status = if seen.len() < failures { 500 } else { 200 };
            seen.push(Request {
                signature,
                timestamp,
                body: request.body,
                answered: status,
            });
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (port, seen)
}

/// What a receiver computes (the README's lines): HMAC-SHA256 of `<timestamp>.<body>`.
fn python_hmac(secret: &str, timestamp: &str, body: &str) -> String {
    let mut child = std::process::Command::new("python3")
        .args(["-c", &format!("import hmac,hashlib,sys; print('sha256=' + hmac.new({secret:?}.encode(), b'{timestamp}.' + sys.stdin.buffer.read(), hashlib.sha256).hexdigest())")])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 is required (scripts/setup installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    String::from_utf8(child.wait_with_output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn finished_files_and_status_events_are_posted_signed_and_retried() {
    let dir = TempDir::new("callbacks");
    let input = make_input(dir.path(), 2);
    let (port, seen) = receiver(2);
    let server = Server::start(
        dir.path(),
        &format!(
            "[callback]\nurl = \"http://127.0.0.1:{port}/hook\"\nsecret = \"k3y\"\nstatus_events = true\ndomain = \"studio.example\"\n[[template]]\nformats = [\"m3u8\", \"mp4\"]\ninterruption_window = \"1s\"\n"
        ),
    );
    let url = format!("{}?callback_id=42&other=x", server.url("live", "cam1"));
    push(&input, &url);
    let delivered = |seen: &Vec<Request>, what: &str| {
        seen.iter()
            .filter(|r| r.answered == 200 && r.body.contains(what))
            .count()
    };
    wait_for(60, "every notice delivered", || {
        let seen = seen.lock().unwrap();
        (delivered(&seen, "record_stopped") == 1
            && delivered(&seen, ".mp4") == 1
            && delivered(&seen, ".m3u8") == 1)
            .then_some(())
    });
    let log = server.stop();
    let seen = seen.lock().unwrap().clone();

    // The first notice was refused twice and delivered on the third attempt.
    assert_eq!(seen[0].answered, 500);
    assert_eq!(seen[1].answered, 500);
    assert_eq!(seen[0].body, seen[1].body);
    assert_eq!(seen[2].body, seen[0].body, "retried, not dropped");
    assert!(log.contains("retrying"), "{log}");
    let now = chrono::Utc::now().timestamp();
    for r in &seen {
        let ts = r
            .timestamp
            .as_deref()
            .expect("X-Tapedeck-Timestamp on every request");
        let t: i64 = ts.parse().expect("Unix seconds");
        assert!((now - 120..=now).contains(&t), "timestamp {t}, now {now}");
        assert_eq!(
            r.signature.as_deref(),
            Some(python_hmac("k3y", ts, &r.body).as_str()),
            "signature of {ts}.{}",
            r.body
        );
    }
    let ok: Vec<serde_json::Value> = seen
        .iter()
        .filter(|r| r.answered == 200)
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect();
    let events: Vec<&str> = ok.iter().filter_map(|v| v["event"].as_str()).collect();
    for e in ["record_started", "record_paused", "record_stopped"] {
        assert_eq!(
            events.iter().filter(|x| **x == e).count(),
            1,
            "{e} in {events:?}"
        );
    }
    for v in &ok {
        assert_eq!(v["domain"], "studio.example");
        assert_eq!(v["app"], "live");
        assert_eq!(v["stream"], "cam1");
    }
    let files: Vec<&serde_json::Value> = ok.iter().filter(|v| v.get("uri").is_some()).collect();
    assert_eq!(
        files.len(),
        2,
        "the playlist and the mp4 (segments are not notified): {files:?}"
    );
    for f in files {
        let uri = f["uri"].as_str().unwrap();
        assert!(uri.starts_with("record/live/cam1/"), "{uri}");
        assert!(
            server_file_exists(dir.path(), uri),
            "{uri} exists under the recordings folder"
        );
        let duration = f["duration"].as_f64().unwrap();
        assert!((duration - 2.0).abs() < 0.2, "{duration}");
        let (start, stop) = (
            f["start_time"].as_i64().unwrap(),
            f["stop_time"].as_i64().unwrap(),
        );
        assert!(stop >= start && stop - start <= 3, "{start} {stop}");
        assert_eq!(f["push_args"], serde_json::json!({ "callback_id": "42" }));
    }
}

fn server_file_exists(dir: &std::path::Path, key: &str) -> bool {
    dir.join("data/recordings").join(key).exists()
}

/// A decision server for on-demand recording: `yes` gets FLV only, `no` nothing.
fn decider() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let asked = Arc::new(Mutex::new(Vec::new()));
    let log = asked.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let request_line = read_request(&stream).line;
            let body = if request_line.contains("stream=yes") {
                r#"{"ApiVersion":"1.0","NeedRecord":true,"Interval":{"Flv":300},"Format":["flv"]}"#
            } else {
                r#"{"ApiVersion":"1.0","NeedRecord":false}"#
            };
            log.lock().unwrap().push(request_line);
            let _ = write!(stream, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        }
    });
    (port, asked)
}

#[test]
fn on_demand_decides_whether_and_how_to_record() {
    let dir = TempDir::new("on-demand");
    let input = make_input(dir.path(), 2);
    let (port, asked) = decider();
    let server = Server::start(
        dir.path(),
        &format!(
            "[callback]\non_demand_url = \"http://127.0.0.1:{port}/decide\"\ndomain = \"studio.example\"\n[[template]]\nformats = [\"m3u8\", \"mp4\", \"flv\"]\ninterruption_window = \"1s\"\n"
        ),
    );
    for stream in ["yes", "no"] {
        push(&input, &server.url("live", stream));
    }
    let root = server.recordings().join("record/live");
    wait_for(30, "the FLV of the stream the decider wanted", || {
        find_files(&root.join("yes"), ".flv").into_iter().next()
    });
    wait_for(30, "both recordings to end", || {
        (server.log_text().matches("recording stopped").count() >= 2).then_some(())
    });
    let log = server.stop();
    assert!(
        find_files(&root.join("yes"), ".mp4").is_empty()
            && find_files(&root.join("yes"), ".m3u8").is_empty(),
        "Format [\"flv\"] only: {log}"
    );
    assert!(
        find_files(&root.join("no"), "").is_empty(),
        "NeedRecord false: nothing recorded"
    );
    let asked = asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 2, "{asked:?}");
    for line in &asked {
        assert!(line.starts_with("GET /decide?"), "{line}");
        for want in [
            "app=live",
            "domain=studio.example",
            "codec=h264",
            "vbitrate=",
        ] {
            assert!(line.contains(want), "{want} in {line}");
        }
        assert!(
            !line.contains("vbitrate=0&") && !line.contains("vbitrate=0 "),
            "a measured bitrate: {line}"
        );
    }
}

/// Notices that could not be delivered survive a restart and are delivered after it.
#[test]
fn pending_callbacks_survive_a_restart() {
    let dir = TempDir::new("callbacks-restart");
    let input = make_input(dir.path(), 2);
    let port = free_port(); // nothing listens here yet
                            // User-info and a query token, which the log must not show.
    let toml = format!("[callback]\nurl = \"http://hook:hunter2@127.0.0.1:{port}/hook?token=s3cr3t\"\nsecret = \"k3y\"\n[[template]]\nformats = [\"mp4\"]\ninterruption_window = \"1s\"\n");
    let server = Server::start(dir.path(), &toml);
    push(&input, &server.url("live", "cam1"));
    wait_for(30, "a failed delivery", || {
        server
            .log_text()
            .contains("callback attempt 1 failed")
            .then_some(())
    });
    server.stop();
    let spool = dir.path().join("data/state/callbacks");
    let pending = std::fs::read_dir(&spool)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .count();
    assert_eq!(pending, 1, "the mp4 notice waits in the spool");

    // The receiver comes up on the same port; the next start delivers.
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let got = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let request = read_request(&stream);
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        request
    });
    // A notice spooled a while ago is signed with the time it is sent, not made.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let restarted = chrono::Utc::now().timestamp();
    let server = Server::start(dir.path(), &toml);
    let request = got.join().unwrap();
    let body = &request.body;
    assert!(body.contains(".mp4"), "{body}");
    let ts = request.header("x-tapedeck-timestamp").expect("a timestamp");
    assert!(
        ts.parse::<i64>().unwrap() >= restarted,
        "{ts} < {restarted}"
    );
    assert_eq!(
        request.header("x-tapedeck-signature").as_deref(),
        Some(python_hmac("k3y", &ts, body).as_str())
    );
    wait_for(20, "the spool to empty", || {
        (std::fs::read_dir(&spool)
            .unwrap()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .count()
            == 0)
            .then_some(())
    });
    let log = server.stop();
    assert!(
        log.contains("1 callback(s) pending from an earlier run"),
        "{log}"
    );
    assert!(log.contains("callback attempt 1 failed"), "{log}");
    for secret in ["hunter2", "s3cr3t"] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
}
