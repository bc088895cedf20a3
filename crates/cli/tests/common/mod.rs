//! Shared pieces of the end-to-end tests: a temp folder, a running `tapedeck serve`, and
//! ffmpeg/ffprobe as real peers. The peers are required: a missing ffmpeg fails the test
//! with a message saying how to install it (`.ci/run` does).

#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The keys every test S3 server accepts.
pub mod s3_keys {
    pub const ACCESS_KEY: &str = "TAPEDECKTESTKEY";
    pub const SECRET_KEY: &str = "tapedeck-test-secret-0123456789";
}

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let p =
            std::env::temp_dir().join(format!("tapedeck-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).expect("creating a temp dir");
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("TAPEDECK_KEEP_TEST_FILES").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn tool(name: &str) -> Command {
    let c = Command::new(name);
    if Command::new(name)
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        panic!("{name} is required for this test: install it (Debian: apt-get install ffmpeg), as .ci/run does");
    }
    c
}

pub fn ffmpeg(args: &[&str]) -> Output {
    let out = tool("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error"])
        .args(args)
        .output()
        .expect("running ffmpeg");
    out
}

pub fn ffmpeg_ok(args: &[&str]) {
    let out = ffmpeg(args);
    assert!(
        out.status.success(),
        "ffmpeg {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Publishes `input` to `url` at its own pace (`ffmpeg -re ... -c copy -f flv`), as a
/// streamer's encoder would; panics if ffmpeg fails.
pub fn push(input: &Path, url: &str) {
    ffmpeg_ok(&[
        "-re",
        "-i",
        input.to_str().expect("utf-8 path"),
        "-c",
        "copy",
        "-f",
        "flv",
        url,
    ]);
}

/// Makes an H.264 (with B-frames) + AAC FLV of `secs` seconds at 30 fps, 320x240.
pub fn make_input(dir: &Path, secs: u32) -> PathBuf {
    let path = dir.join("input.flv");
    let t = secs.to_string();
    ffmpeg_ok(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=30",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=44100",
        "-t",
        &t,
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-g",
        "30",
        "-bf",
        "2",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-b:a",
        "64k",
        "-ac",
        "2",
        "-y",
        path.to_str().expect("utf-8 path"),
    ]);
    path
}

/// What ffprobe says about one stream of a file.
#[derive(Debug, Default, Clone)]
pub struct StreamInfo {
    pub codec: String,
    pub width: u32,
    pub height: u32,
    pub sample_rate: u32,
    pub channels: u32,
    pub packets: u64,
    /// Presentation time of the stream's first frame, seconds.
    pub start: f64,
}

#[derive(Debug, Default, Clone)]
pub struct Probe {
    pub video: Option<StreamInfo>,
    pub audio: Option<StreamInfo>,
    pub duration: f64,
    pub stderr: String,
}

pub fn ffprobe(path: &Path) -> Probe {
    let out = tool("ffprobe")
        .args(["-v", "error", "-count_packets", "-show_entries", "stream=codec_type,codec_name,width,height,sample_rate,channels,nb_read_packets,start_time:format=duration", "-of", "default=noprint_wrappers=0"])
        .arg(path)
        .output()
        .expect("running ffprobe");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut probe = Probe {
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
        ..Probe::default()
    };
    let mut cur: Option<(String, StreamInfo)> = None;
    for line in text.lines() {
        match line {
            "[STREAM]" => cur = Some((String::new(), StreamInfo::default())),
            "[/STREAM]" => {
                if let Some((kind, info)) = cur.take() {
                    match kind.as_str() {
                        "video" => probe.video = Some(info),
                        "audio" => probe.audio = Some(info),
                        _ => {}
                    }
                }
            }
            _ => {
                let Some((k, v)) = line.split_once('=') else {
                    continue;
                };
                if k == "duration" && cur.is_none() {
                    probe.duration = v.parse().unwrap_or(0.0);
                }
                let Some((kind, info)) = cur.as_mut() else {
                    continue;
                };
                match k {
                    "codec_type" => *kind = v.to_string(),
                    "codec_name" => info.codec = v.to_string(),
                    "width" => info.width = v.parse().unwrap_or(0),
                    "height" => info.height = v.parse().unwrap_or(0),
                    "sample_rate" => info.sample_rate = v.parse().unwrap_or(0),
                    "channels" => info.channels = v.parse().unwrap_or(0),
                    "nb_read_packets" => info.packets = v.parse().unwrap_or(0),
                    "start_time" => info.start = v.parse().unwrap_or(f64::NAN),
                    _ => {}
                }
            }
        }
    }
    probe
}

/// Audio start minus video start, seconds: what A/V sync checks compare.
pub fn av_offset(p: &Probe) -> f64 {
    match (&p.audio, &p.video) {
        (Some(a), Some(v)) => a.start - v.start,
        _ => f64::NAN,
    }
}

/// Video packet pts (seconds) in presentation order... as ffprobe reports them, in file order.
pub fn video_packet_times(path: &Path) -> Vec<(f64, f64, bool)> {
    let out = tool("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=pts_time,dts_time,flags",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("running ffprobe");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut it = l.split(',');
            let pts = it.next()?.parse().ok()?;
            let dts = it.next()?.parse().ok()?;
            let key = it.next()?.contains('K');
            Some((pts, dts, key))
        })
        .collect()
}

/// Decodes the whole file; returns ffmpeg's error output (empty when clean).
///
/// `-enc_time_base:v -1` keeps the input's 90 kHz time base for the null encoder: with the
/// default 1/30, ffmpeg rounds millisecond timestamps (all RTMP has) after shifting by the
/// audio's earlier start, and two frames can land on one tick, which it reports as a
/// muxer error that says nothing about the file.
pub fn decode_errors(path: &Path) -> String {
    let out = ffmpeg(&[
        "-i",
        path.to_str().expect("utf-8 path"),
        "-enc_time_base:v",
        "-1",
        "-f",
        "null",
        "-",
    ]);
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// A running `tapedeck serve`.
pub struct Server {
    pub child: Child,
    pub port: u16,
    /// The config file it runs with.
    pub config: PathBuf,
    pub data: PathBuf,
    pub log: PathBuf,
}

impl Server {
    pub fn start(dir: &Path, extra_toml: &str) -> Server {
        Server::start_with(dir, |port| {
            format!("[ingest]\nrtmp_listen = \"127.0.0.1:{port}\"\n{extra_toml}")
        })
    }

    /// Starts with the config `toml(port)` returns (after `data_dir`).
    pub fn start_with(dir: &Path, toml: impl FnOnce(u16) -> String) -> Server {
        let port = free_port();
        let data = dir.join("data");
        let config = dir.join("tapedeck.toml");
        // Each server gets its own control API port, so tests can run side by side.
        let control = free_port();
        let text = format!(
            "data_dir = {:?}\n{}\n[control]\nlisten = \"127.0.0.1:{control}\"\n",
            data.to_str().expect("utf-8"),
            toml(port)
        );
        std::fs::write(&config, text).expect("writing the config");
        Server::spawn(config, port, data, dir.join("tapedeck.log"))
    }

    /// Starts `tapedeck serve` on an existing config (a restart), appending to `log`.
    pub fn spawn(config: PathBuf, port: u16, data: PathBuf, log: PathBuf) -> Server {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_tapedeck"))
            .args(["serve", "--config"])
            .arg(&config)
            .env("TAPEDECK_LOG", "debug")
            // The keys of the test S3 servers (tests/common/s3.rs); the OS keyring is not
            // used in CI (no Secret Service), so the environment is where serve finds them.
            .env("AWS_ACCESS_KEY_ID", s3_keys::ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", s3_keys::SECRET_KEY)
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("starting tapedeck");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tapedeck did not listen on {port}: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Server {
            child,
            port,
            config,
            data,
            log,
        }
    }

    pub fn url(&self, app: &str, stream: &str) -> String {
        format!("rtmp://127.0.0.1:{}/{app}/{stream}", self.port)
    }

    pub fn recordings(&self) -> PathBuf {
        self.data.join("recordings")
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGINT, as Ctrl-C sends; waits for a clean exit.
    pub fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(
                    status.success(),
                    "tapedeck exited with {status}: {}",
                    self.log_text()
                );
                return self.log_text();
            }
            assert!(
                Instant::now() < deadline,
                "tapedeck did not stop: {}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// Every file under `dir` (recursively) whose name ends with `suffix`.
pub fn find_files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(suffix) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Files under `dir` ending with `suffix` that have their final names (a file being
/// written has the word `recording` where its end time will go).
pub fn final_files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    find_files(dir, suffix)
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| !n.to_string_lossy().contains("recording"))
        })
        .collect()
}

/// Waits for a finished recording under `root`: its final playlist, mp4 and flv.
pub fn wait_finished(root: &Path, secs: u64) -> (PathBuf, PathBuf, PathBuf) {
    let first = |ext: &str| final_files(root, ext).into_iter().next();
    let playlist = wait_for(secs, "the final playlist", || first(".m3u8"));
    let mp4 = wait_for(secs, "the finalized mp4", || first(".mp4"));
    let flv = wait_for(secs, "the finalized flv", || first(".flv"));
    (playlist, mp4, flv)
}

/// Waits until `f` returns Some, or panics with `what` after `secs`.
pub fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
