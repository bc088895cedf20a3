//! Remote pulls recorded like pushed streams: HTTP-FLV and RTMP served by ffmpeg in listen
//! mode, HLS written live by ffmpeg and served over HTTP by Python's http.server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod common;

use std::process::{Child, Command, Stdio};

use common::*;

const FRAME: f64 = 1.0 / 30.0;

fn pull_config(url: &str) -> String {
    format!(
        r#"
[[pull]]
url = "{url}"
app = "remote"
stream = "x"
[[template]]
formats = ["m3u8", "mp4", "flv"]
interruption_window = "3s"
[template.m3u8]
slice_duration = "2s"
"#
    )
}

struct Killer(Child);

impl Drop for Killer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(cmd: &str, args: &[&str]) -> Killer {
    Killer(
        Command::new(cmd)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {cmd}: {e}")),
    )
}

/// Waits for the recording of remote/x to finish and checks every file against the input.
fn check_recording(server: Server, input: &std::path::Path, expect_all_frames: bool) {
    let want = ffprobe(input);
    let want_video = want.video.clone().expect("input has video");
    let root = server.recordings().join("record/remote/x");
    let (playlist, mp4, flv) = wait_finished(&root, 60);
    let log = server.stop();
    assert!(log.contains("pull connected"), "{log}");
    for file in [&playlist, &mp4, &flv] {
        let got = ffprobe(file);
        let v = got
            .video
            .clone()
            .unwrap_or_else(|| panic!("{} has video: {got:?}\n{log}", file.display()));
        let a = got
            .audio
            .clone()
            .unwrap_or_else(|| panic!("{} has audio: {got:?}", file.display()));
        assert_eq!(
            (v.codec.as_str(), v.width, v.height),
            ("h264", 320, 240),
            "{}",
            file.display()
        );
        assert_eq!(
            (a.codec.as_str(), a.sample_rate, a.channels),
            ("aac", 44100, 2),
            "{}",
            file.display()
        );
        if expect_all_frames {
            assert_eq!(
                v.packets,
                want_video.packets,
                "{}: every source frame, once",
                file.display()
            );
            assert!(
                (got.duration - want.duration).abs() <= 2.0 * FRAME + 0.1,
                "{}: {} vs {}",
                file.display(),
                got.duration,
                want.duration
            );
        } else {
            assert!(
                v.packets > 0 && v.packets <= want_video.packets,
                "{}: {} frames",
                file.display(),
                v.packets
            );
        }
        let errors = decode_errors(file);
        assert!(errors.trim().is_empty(), "{}: {errors}", file.display());
    }
}

#[test]
fn http_flv_pull() {
    let dir = TempDir::new("pull-flv");
    let input = make_input(dir.path(), 5);
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/live/x.flv");
    let _source = spawn(
        "ffmpeg",
        &[
            "-loglevel",
            "error",
            "-re",
            "-i",
            input.to_str().unwrap(),
            "-c",
            "copy",
            "-f",
            "flv",
            "-listen",
            "1",
            &url,
        ],
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    let server = Server::start(dir.path(), &pull_config(&url));
    check_recording(server, &input, true);
}

/// nginx with the RTMP module as the remote server: ffmpeg publishes into it and Tapedeck
/// plays from it. (ffmpeg's own listen mode sends media on a stream id other than the one
/// it announced, which no real server does.)
#[test]
fn rtmp_pull() {
    let dir = TempDir::new("pull-rtmp");
    let input = make_input(dir.path(), 5);
    let port = free_port();
    let conf = dir.path().join("nginx.conf");
    let module = "/usr/lib/nginx/modules/ngx_rtmp_module.so";
    assert!(std::path::Path::new(module).exists(), "nginx's RTMP module is required: apt-get install nginx libnginx-mod-rtmp (scripts/setup does)");
    std::fs::write(
        &conf,
        format!(
            "daemon off;\nmaster_process off;\nerror_log {}/nginx-error.log info;\npid {}/nginx.pid;\nload_module {module};\nevents {{ worker_connections 64; }}\nrtmp {{ server {{ listen 127.0.0.1:{port}; application live {{ live on; }} }} }}\n",
            dir.path().display(),
            dir.path().display()
        ),
    )
    .unwrap();
    let _nginx = spawn(
        "nginx",
        &[
            "-p",
            dir.path().to_str().unwrap(),
            "-c",
            conf.to_str().unwrap(),
        ],
    );
    wait_for(20, "nginx", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
    let url = format!("rtmp://127.0.0.1:{port}/live/x");
    // Tapedeck plays first (nginx holds the player until a publisher comes), so the whole
    // stream is recorded from its first frame.
    let server = Server::start(dir.path(), &pull_config(&url));
    wait_for(20, "the pull to connect", || {
        server.log_text().contains("pull connected").then_some(())
    });
    push(&input, &url);
    check_recording(server, &input, true);
}

#[test]
fn hls_pull() {
    let dir = TempDir::new("pull-hls");
    let input = make_input(dir.path(), 6);
    let web = dir.path().join("web");
    std::fs::create_dir_all(&web).unwrap();
    let playlist = web.join("live.m3u8");
    let _writer = spawn(
        "ffmpeg",
        &[
            "-loglevel",
            "error",
            "-re",
            "-i",
            input.to_str().unwrap(),
            "-c",
            "copy",
            "-f",
            "hls",
            "-hls_time",
            "1",
            "-hls_list_size",
            "0",
            playlist.to_str().unwrap(),
        ],
    );
    let port = free_port();
    let _http = spawn(
        "python3",
        &[
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--directory",
            web.to_str().unwrap(),
        ],
    );
    // Join while the live playlist is short, so the pull (which starts near the live edge
    // like a player) sees every segment.
    wait_for(20, "the live playlist", || playlist.exists().then_some(()));
    wait_for(20, "the HTTP server", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
    let server = Server::start(
        dir.path(),
        &pull_config(&format!("http://127.0.0.1:{port}/live.m3u8")),
    );
    check_recording(server, &input, true);
}
