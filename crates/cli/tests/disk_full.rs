//! A full disk, as a streamer meets it: the data folder is a 24 MB tmpfs this test mounts
//! (it runs as root; where mounting is refused the test fails and says so), most of it
//! taken by a filler file. ffmpeg pushes m3u8 + mp4 + flv at about 1.5 Mbit/s until the
//! disk is full. Then: the recording stops with one error (log, callback), the segments
//! recorded before play, the playlist is closed, nothing final is damaged; once the filler
//! is deleted, with the publisher still connected, the MP4 and FLV are finished and
//! recording resumes into new files that play; at the end no `.part` is left.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;

/// A small file system mounted at a folder for the test's life; unmounted when dropped,
/// also when the test fails.
struct Mounted(PathBuf);

/// The file systems the test fills.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fs {
    /// tmpfs: MP4 and FLV are finalized by copying, which waits for room.
    Tmpfs,
    /// ext4 on a loop device: finalized in place, with the reserve's room, at once.
    Ext4,
}

impl Mounted {
    fn mount(fs: Fs, at: &Path) -> Mounted {
        std::fs::create_dir_all(at).expect("the mount point");
        let why = "this test fills a small disk of its own: it mounts one and must run as root (or with CAP_SYS_ADMIN)";
        let out = match fs {
            Fs::Tmpfs => Command::new("mount")
                .args(["-t", "tmpfs", "-o", "size=24m", "tmpfs"])
                .arg(at)
                .output(),
            Fs::Ext4 => {
                // A 32 MB image beside the mount point, no blocks reserved for root (the
                // server runs as root here and would write into them).
                let image = at.with_extension("img");
                let file = std::fs::File::create(&image).expect("the image");
                file.set_len(32 << 20).unwrap();
                let mkfs = Command::new("mkfs.ext4")
                    .args(["-q", "-F", "-m", "0"])
                    .arg(&image)
                    .output()
                    .unwrap_or_else(|e| panic!("{why}; mkfs.ext4 (e2fsprogs) is needed: {e}"));
                assert!(
                    mkfs.status.success(),
                    "{why}; mkfs.ext4 said: {}",
                    String::from_utf8_lossy(&mkfs.stderr)
                );
                Command::new("mount")
                    .args(["-t", "ext4", "-o", "loop"])
                    .arg(&image)
                    .arg(at)
                    .output()
            }
        };
        match out {
            Ok(o) if o.status.success() => Mounted(at.to_owned()),
            Ok(o) => panic!(
                "{why}; mounting {fs:?} at {} failed: {}",
                at.display(),
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            Err(e) => panic!("{why}; the `mount` command is needed: {e}"),
        }
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        // Lazy: a process still holding a file there (a server being killed) cannot keep
        // the mount behind.
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// The publisher, killed when dropped.
struct Push(Child);

impl Drop for Push {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Push {
    fn start(input: &Path, url: &str) -> Push {
        Push(
            Command::new("ffmpeg")
                .args([
                    "-hide_banner",
                    "-nostdin",
                    "-loglevel",
                    "error",
                    "-re",
                    "-i",
                ])
                .arg(input)
                .args(["-c", "copy", "-f", "flv", url])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("ffmpeg (apt-get install ffmpeg)"),
        )
    }
}

/// A filler file that leaves about 8 MB free on the disk at `mnt`: some 12 s of the three
/// formats.
fn fill(mnt: &Path) -> PathBuf {
    let free = tapedeck_recorder::space::disk_space(mnt)
        .unwrap()
        .free_bytes;
    let filler = mnt.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0x5au8; 1 << 20];
    let mut left = free - 8_000_000;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        f.write_all(&chunk[..n]).unwrap();
        left -= n as u64;
    }
    f.sync_all().unwrap();
    filler
}

/// A callback receiver answering 200 to everything; the bodies it got.
fn receiver() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; length];
            let _ = reader.read_exact(&mut body);
            log.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&body).into_owned());
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (port, seen)
}

/// `GET path` on the control API with its token.
fn control_get(port: u16, token: &str, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("the control API");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

/// A 75 s H.264 + AAC FLV at about 1.5 Mbit/s (noise keeps the encoder at its cap).
fn make_busy_input(dir: &Path) -> PathBuf {
    let path = dir.join("busy.flv");
    ffmpeg_ok(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=30,noise=alls=30:allf=t",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=44100",
        "-t",
        "75",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-b:v",
        "1400k",
        "-maxrate",
        "1400k",
        "-bufsize",
        "1400k",
        "-g",
        "30",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-b:a",
        "64k",
        "-y",
        path.to_str().unwrap(),
    ]);
    path
}

fn video_packets(path: &Path) -> u64 {
    ffprobe(path).video.map_or(0, |v| v.packets)
}

/// Files under `dir` still being written or left unfinished.
fn parts(dir: &Path) -> Vec<PathBuf> {
    let mut p = find_files(dir, ".part");
    p.extend(find_files(dir, ".finalizing"));
    p
}

#[test]
fn a_full_tmpfs_stops_recording_once_keeps_what_was_written_and_resumes_with_room() {
    fill_and_free(Fs::Tmpfs);
}

/// The same on ext4, whose MP4 and FLV are finalized in place: with the reserve's room,
/// before there is room again.
#[test]
fn a_full_ext4_disk_finalizes_in_place_at_once() {
    fill_and_free(Fs::Ext4);
}

fn fill_and_free(fs: Fs) {
    let dir = TempDir::new(&format!("disk-full-{fs:?}"));
    let input = make_busy_input(dir.path());
    let mnt = dir.path().join("disk");
    let _mounted = Mounted::mount(fs, &mnt);
    let (hook, callbacks) = receiver();

    let port = free_port();
    let control = free_port();
    let config = dir.path().join("tapedeck.toml");
    let data = mnt.join("data");
    std::fs::write(
        &config,
        format!(
            r#"data_dir = {data:?}
low_space_warning = "20MB"
[ingest]
rtmp_listen = "127.0.0.1:{port}"
[control]
listen = "127.0.0.1:{control}"
[callback]
url = "http://127.0.0.1:{hook}/hook"
status_events = true
[[template]]
formats = ["m3u8", "mp4", "flv"]
interruption_window = "60s"
[template.m3u8]
slice_duration = "5s"
"#
        ),
    )
    .unwrap();
    // The log stays off the small disk.
    let server = Server::spawn(config, port, data.clone(), dir.path().join("tapedeck.log"));
    let recordings = server.recordings();
    let root = recordings.join("record/live/cam1");

    let filler = fill(&mnt);
    let push = Push::start(&input, &server.url("live", "cam1"));

    // The disk fills.
    wait_for(60, "the recording to fail on the full disk", || {
        server.log_text().contains("recording failed").then_some(())
    });
    // The first recording's files are finished with what they hold: the playlist closed,
    // its segments final.
    let first_playlist = wait_for(20, "the first playlist, closed", || {
        final_files(&root, ".m3u8").into_iter().next()
    });
    let text = std::fs::read_to_string(&first_playlist).unwrap();
    assert!(text.contains("#EXT-X-ENDLIST"), "{text}");
    let listed: Vec<PathBuf> = text
        .lines()
        .filter(|l| l.ends_with(".ts"))
        .map(|l| root.join(l))
        .collect();
    assert!(listed.len() >= 2, "{text}");
    let mut hls_frames = 0;
    for seg in &listed {
        let n = video_packets(seg);
        assert!(n > 0, "{} plays", seg.display());
        assert!(
            decode_errors(seg).trim().is_empty(),
            "{} is whole",
            seg.display()
        );
        hls_frames += n;
    }
    assert_eq!(video_packets(&first_playlist), hls_frames);
    assert!(
        find_files(&root, ".ts.part").is_empty() && find_files(&root, ".m3u8.part").is_empty(),
        "no segment or playlist is left unfinished: {:?}",
        parts(&root)
    );
    // Nothing damaged under a final name, whatever else exists.
    for f in final_files(&root, ".mp4")
        .into_iter()
        .chain(final_files(&root, ".flv"))
    {
        assert!(decode_errors(&f).trim().is_empty(), "{}", f.display());
    }
    let token = std::fs::read_to_string(data.join("state/control.token")).unwrap();
    let (status, body) = control_get(control, token.trim(), "/v1/disk");
    assert_eq!(status, 200, "{body}");
    let disk: serde_json::Value = serde_json::from_str(&body).expect(&body);
    assert_eq!(disk["low"], true, "{body}");
    assert_eq!(disk["threshold_bytes"], 20_000_000, "{body}");
    assert!(disk["free_bytes"].as_u64().unwrap() < 20_000_000, "{body}");

    // Room again, the publisher still connected: the MP4 and FLV are finished, and the
    // stream is recorded again into new files.
    if fs == Fs::Ext4 {
        // In place: the header fits in the reserve's room; nothing waits.
        for ext in [".mp4", ".flv"] {
            let f = wait_for(20, "the first MP4 and FLV, finalized in place", || {
                final_files(&root, ext).into_iter().next()
            });
            assert!(video_packets(&f) > 0, "{}", f.display());
        }
        assert!(
            !server.log_text().contains("waits for"),
            "{}",
            server.log_text()
        );
    }
    std::fs::remove_file(&filler).unwrap();
    let mp4 = wait_for(40, "the first MP4, finished once there is room", || {
        final_files(&root, ".mp4").into_iter().next()
    });
    let flv = wait_for(40, "the first FLV", || {
        final_files(&root, ".flv").into_iter().next()
    });
    wait_for(40, "recording to resume", || {
        server
            .log_text()
            .contains("room on the disk again")
            .then_some(())
    });
    // Two segments of the new recording, then the publisher stops.
    wait_for(40, "new segments", || {
        let finals = final_files(&root, ".ts");
        (finals.iter().filter(|p| !listed.contains(p)).count() >= 2).then_some(())
    });
    drop(push);
    let log = server.stop();

    // One error, said once: no flood of identical warnings.
    assert_eq!(log.matches("recording failed").count(), 1, "{log}");
    let full_lines = log
        .lines()
        .filter(|l| l.contains("No space left on device"))
        .count();
    assert!(
        full_lines <= 2,
        "{full_lines} lines name the full disk:\n{log}"
    );
    assert!(!log.contains("write failed"), "{log}");
    assert_eq!(log.matches("low on disk space").count(), 1, "{log}");

    // Everything is final: nothing for recovery to do.
    assert!(parts(&recordings).is_empty(), "{:?}", parts(&recordings));
    // The first MP4 and FLV hold what the segments hold, give or take the half second
    // each format had not handed to the disk when it filled.
    let (mp4_frames, flv_frames) = (video_packets(&mp4), video_packets(&flv));
    for (name, n) in [("mp4", mp4_frames), ("flv", flv_frames)] {
        assert!(
            n.abs_diff(hls_frames) <= 30,
            "{name}: {n} frames, the segments {hls_frames}"
        );
    }
    assert!(
        hls_frames >= 150,
        "at least 5 s before the disk filled: {hls_frames}"
    );
    eprintln!("before the disk filled: segments {hls_frames} video frames, mp4 {mp4_frames}, flv {flv_frames}");
    for f in [&mp4, &flv] {
        assert!(decode_errors(f).trim().is_empty(), "{}", f.display());
    }
    // The new recording: its own playlist, MP4 and FLV, all playing.
    let playlists = final_files(&root, ".m3u8");
    assert_eq!(playlists.len(), 2, "{playlists:?}");
    let second = playlists.iter().find(|p| **p != first_playlist).unwrap();
    assert!(video_packets(second) >= 300, "{}", second.display());
    for ext in [".mp4", ".flv"] {
        let files = final_files(&root, ext);
        assert_eq!(files.len(), 2, "{files:?}");
        for f in &files {
            assert!(video_packets(f) > 0, "{}", f.display());
            assert!(decode_errors(f).trim().is_empty(), "{}", f.display());
        }
    }

    // The receiver heard of the failure once, and of recording starting again.
    let bodies = callbacks.lock().unwrap().clone();
    let events: Vec<String> = bodies
        .iter()
        .filter_map(|b| serde_json::from_str::<serde_json::Value>(b).ok())
        .filter_map(|v| v["event"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        events.iter().filter(|e| *e == "record_failed").count(),
        1,
        "{bodies:?}"
    );
    let failed = events.iter().position(|e| e == "record_failed").unwrap();
    assert!(
        events[failed..].iter().any(|e| e == "record_started"),
        "{events:?}"
    );
    assert!(
        bodies
            .iter()
            .any(|b| b.contains("\"reason\":\"disk_full\"")),
        "{bodies:?}"
    );
}

/// A file still waiting for room when Tapedeck stops stays a whole `.part`, and the next
/// start (with room) finishes it; the stop itself does not wait for room.
#[test]
fn a_file_waiting_for_room_at_a_stop_is_finished_by_the_next_start() {
    let dir = TempDir::new("disk-full-restart");
    let input = make_busy_input(dir.path());
    let mnt = dir.path().join("disk");
    let _mounted = Mounted::mount(Fs::Tmpfs, &mnt);
    let port = free_port();
    let config = dir.path().join("tapedeck.toml");
    let data = mnt.join("data");
    std::fs::write(
        &config,
        format!(
            "data_dir = {data:?}\n[ingest]\nrtmp_listen = \"127.0.0.1:{port}\"\n[control]\nlisten = \"\"\n[[template]]\nformats = [\"m3u8\", \"mp4\", \"flv\"]\n[template.m3u8]\nslice_duration = \"5s\"\n"
        ),
    )
    .unwrap();
    let log = dir.path().join("tapedeck.log");
    let server = Server::spawn(config.clone(), port, data.clone(), log.clone());
    let root = server.recordings().join("record/live/cam1");
    let filler = fill(&mnt);
    let push = Push::start(&input, &server.url("live", "cam1"));
    wait_for(60, "the MP4 to wait for room", || {
        server.log_text().contains("waits for").then_some(())
    });
    drop(push);
    server.stop();
    let left: Vec<PathBuf> = find_files(&root, ".mp4.part")
        .into_iter()
        .chain(find_files(&root, ".flv.part"))
        .collect();
    assert_eq!(
        left.len(),
        2,
        "the MP4 and FLV stay whole `.part`s: {left:?}"
    );
    assert!(final_files(&root, ".mp4").is_empty());
    assert!(find_files(&root, ".finalizing").is_empty());
    std::fs::remove_file(&filler).unwrap();
    let text = Server::spawn(config, port, data, log).stop();
    assert!(text.contains("recovered"), "{text}");
    assert!(
        find_files(&root, ".part").is_empty(),
        "{:?}",
        find_files(&root, ".part")
    );
    for ext in [".mp4", ".flv"] {
        let files = final_files(&root, ext);
        assert_eq!(files.len(), 1, "{files:?}");
        assert!(video_packets(&files[0]) >= 150, "{}", files[0].display());
        assert!(decode_errors(&files[0]).trim().is_empty());
    }
}
