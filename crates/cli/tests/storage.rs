//! Uploads to real S3 servers on 127.0.0.1 (s3s-fs, which checks signatures, and moto):
//! a live recording arrives under the local keys, a multipart upload survives kill -9, a
//! minute-long outage loses nothing, retention deletes only confirmed files, and provider
//! errors read as sentences.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod common;
#[path = "common/s3.rs"]
mod s3;

use std::path::Path;
use std::process::Command;

use common::*;
use s3::{local_files, Kind, S3Server};
use tapedeck_catalog::{Catalog, Upload, UploadState};

const BUCKET: &str = "recordings";

fn catalog(server_data: &Path) -> Catalog {
    Catalog::open(&server_data.join("state").join("catalog.sqlite3")).expect("catalog")
}

fn uploads(server_data: &Path) -> Vec<Upload> {
    catalog(server_data).uploads(true, 10_000).expect("uploads")
}

fn all_done(server_data: &Path, profile: &str) -> bool {
    let rows: Vec<Upload> = uploads(server_data)
        .into_iter()
        .filter(|u| u.profile == profile)
        .collect();
    !rows.is_empty() && rows.iter().all(|u| u.state == UploadState::Done)
}

/// The bucket's objects minus the `storage test` probe, and the local files with the
/// prefix: they must be the same keys with the same sizes.
fn assert_mirrored(s3: &S3Server, local_root: &Path, prefix: &str, log: &str) {
    let remote: Vec<(String, u64)> = s3
        .list(BUCKET)
        .into_iter()
        .filter(|(k, _)| !k.ends_with(".tapedeck-probe"))
        .collect();
    let local: Vec<(String, u64)> = local_files(local_root)
        .into_iter()
        .map(|(k, n)| (format!("{prefix}{k}"), n))
        .collect();
    assert_eq!(remote, local, "bucket vs local folder; log:\n{log}");
}

fn live_recording_arrives(kind: Kind) {
    let dir = TempDir::new(&format!("upload-live-{kind:?}"));
    let s3 = S3Server::start(kind, dir.path(), BUCKET);
    let input = make_input(dir.path(), 7);
    let server = Server::start(
        dir.path(),
        &format!(
            "{}\n[[template]]\nstorage = \"studio\"\nformats = [\"m3u8\", \"mp4\", \"flv\"]\n[template.m3u8]\nslice_duration = \"2s\"\n",
            s3.profile_toml("studio", BUCKET, "prefix = \"studio/\"")
        ),
    );
    let started = chrono::Utc::now() - chrono::Duration::seconds(2);
    push(&input, &server.url("live", "cam1"));
    // A custom index made by another process goes up too (the server polls the queue).
    let out = Command::new(env!("CARGO_BIN_EXE_tapedeck"))
        .args([
            "index", "create", "--app", "live", "--stream", "cam1", "--start",
        ])
        .arg(started.to_rfc3339())
        .arg("--end")
        .arg(chrono::Utc::now().to_rfc3339())
        .args([
            "--object",
            "indexes/{AppName}/{StreamName}/{Hour}{Minute}{Second}",
            "--config",
        ])
        .arg(&server.config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let data = server.data.clone();
    wait_for(30, "the index upload", || {
        uploads(&data)
            .iter()
            .any(|u| u.kind.as_str() == "index" && u.state == UploadState::Done)
            .then_some(())
    });
    let recordings = server.recordings();
    // Ctrl-C finalizes the mp4 and flv and lets the queue drain.
    let log = server.stop();
    let local = local_files(&recordings);
    assert!(
        local
            .iter()
            .any(|(k, _)| k.starts_with("indexes/live/cam1/")),
        "{local:?}"
    );
    for ext in [".ts", ".m3u8", ".mp4", ".flv"] {
        assert!(
            local.iter().any(|(k, _)| k.ends_with(ext)),
            "no {ext} recorded: {local:?}"
        );
    }
    assert_mirrored(&s3, &recordings, "studio/", &log);
    for (key, _) in local
        .iter()
        .filter(|(k, _)| k.ends_with(".mp4") || k.ends_with("_0.ts") || k.ends_with(".flv"))
    {
        assert_eq!(
            s3.get(BUCKET, &format!("studio/{key}")),
            std::fs::read(recordings.join(key)).unwrap(),
            "{key} differs in the bucket"
        );
    }
    assert!(all_done(&data, "studio"));
}

#[test]
fn live_recording_arrives_in_s3s_fs_under_its_local_keys() {
    live_recording_arrives(Kind::S3sFs);
}

#[test]
fn live_recording_arrives_in_moto_under_its_local_keys() {
    live_recording_arrives(Kind::Moto);
}

/// Pseudo-random bytes (no compression or dedup can hide a wrong part).
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn multipart_resumes_after_kill9(kind: Kind) {
    let dir = TempDir::new(&format!("upload-kill9-{kind:?}"));
    let s3 = S3Server::start(kind, dir.path(), BUCKET);
    let obs = dir.path().join("obs");
    std::fs::create_dir_all(&obs).unwrap();
    // 8 parts of 5 MiB at 4 MB/s: about 10 s, so the kill lands in the middle.
    let original = noise(40 << 20);
    let file = obs.join("2026-11-24 20-15-00.mkv");
    std::fs::write(&file, &original).unwrap();
    let server = Server::start(
        dir.path(),
        &format!(
            "{}\n[[template]]\napp = \"obs\"\nstream = \"desk\"\nstorage = \"studio\"\n[[watch]]\npath = {:?}\napp = \"obs\"\nstream = \"desk\"\nsettle = \"1s\"\n",
            s3.profile_toml(
                "studio",
                BUCKET,
                "part_size = \"5MiB\"\nmultipart_threshold = \"5MiB\"\nparts_in_flight = 2\nmax_upload_rate = \"4MB/s\""
            ),
            obs.to_str().unwrap()
        ),
    );
    let data = server.data.clone();
    let (config, port, log) = (server.config.clone(), server.port, server.log.clone());
    let sent_parts = wait_for(60, "two parts acknowledged", || {
        let c = catalog(&data);
        let row = c.uploads(true, 10).ok()?.into_iter().next()?;
        let parts = c.upload_parts(row.id).ok()?;
        (parts.len() >= 2).then_some(parts.len())
    });
    server.kill9();
    assert!(sent_parts < 8, "the upload finished before the kill");

    let server = Server::spawn(config, port, data.clone(), log);
    wait_for(90, "the upload to complete after the restart", || {
        all_done(&data, "studio").then_some(())
    });
    let log = server.stop();
    let rows = uploads(&data);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let key = &rows[0].key;
    assert!(
        key.starts_with("record/obs/desk/") && key.ends_with(".mkv"),
        "{key}"
    );
    assert!(
        log.contains("resumed after"),
        "the restart did not resume the multipart upload:\n{log}"
    );
    let stored = s3.get(BUCKET, key);
    assert!(
        stored == original,
        "the object differs from the file ({} bytes vs {})",
        stored.len(),
        original.len()
    );
    // The watched file entered the catalog like Tapedeck's own.
    let spans = catalog(&data).spans("obs", "desk", 0, i64::MAX).unwrap();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].objects, vec![key.clone()]);
    // Nothing else was uploaded, and the file is still there (keep_local = "forever").
    assert!(file.exists());
}

#[test]
fn multipart_upload_resumes_after_kill9_in_s3s_fs() {
    multipart_resumes_after_kill9(Kind::S3sFs);
}

#[test]
fn multipart_upload_resumes_after_kill9_in_moto() {
    multipart_resumes_after_kill9(Kind::Moto);
}

#[test]
fn a_minute_without_the_bucket_loses_nothing() {
    let dir = TempDir::new("upload-outage");
    let mut s3 = S3Server::start(Kind::S3sFs, dir.path(), BUCKET);
    let input = make_input(dir.path(), 80);
    let server = Server::start(
        dir.path(),
        &format!(
            "{}\n[[template]]\nstorage = \"studio\"\nformats = [\"m3u8\", \"mp4\"]\n[template.m3u8]\nslice_duration = \"2s\"\n",
            s3.profile_toml("studio", BUCKET, "")
        ),
    );
    let url = server.url("live", "cam1");
    let pusher = std::thread::spawn(move || push(&input, &url));
    let data = server.data.clone();
    wait_for(30, "the first uploads", || {
        uploads(&data)
            .iter()
            .any(|u| u.state == UploadState::Done)
            .then_some(())
    });
    s3.stop();
    std::thread::sleep(std::time::Duration::from_secs(60));
    let waiting = uploads(&data)
        .iter()
        .filter(|u| u.state == UploadState::Queued)
        .count();
    assert!(
        waiting >= 10,
        "the outage built no backlog ({waiting} waiting)"
    );
    s3.restart();
    pusher.join().unwrap();
    // Let the recording finish (Ctrl-C) only once the backlog has drained: no file may
    // depend on the shutdown's short grace period.
    wait_for(90, "the backlog to drain", || {
        uploads(&data)
            .iter()
            .filter(|u| u.kind.as_str() == "segment")
            .all(|u| u.state == UploadState::Done)
            .then_some(())
    });
    let recordings = server.recordings();
    let log = server.stop();
    assert!(
        log.contains("reachable again"),
        "no recovery was logged:\n{log}"
    );
    assert_mirrored(&s3, &recordings, "", &log);
    // Exactly once: every file has one row, confirmed, and was queued once (generation 1);
    // only the daily index is rewritten (and so queued again) after each segment.
    for u in uploads(&data) {
        assert_eq!(u.state, UploadState::Done, "{u:?}");
        if u.kind.as_str() == "segment" {
            assert_eq!(u.generation, 1, "{u:?}");
        }
    }
}

#[test]
fn retention_deletes_only_confirmed_uploads() {
    let dir = TempDir::new("upload-retention");
    let s3 = S3Server::start(Kind::S3sFs, dir.path(), BUCKET);
    let input = make_input(dir.path(), 5);
    // "down" points at a port nobody listens on: its files can never be confirmed.
    let down = format!("http://127.0.0.1:{}", free_port());
    let server = Server::start(
        dir.path(),
        &format!(
            "{}\n[[storage]]\nname = \"down\"\nprovider = \"custom\"\nendpoint = \"{down}\"\nbucket = \"{BUCKET}\"\n
[[template]]\napp = \"live\"\nstream = \"up\"\nstorage = \"up\"\nkeep_local = \"until_uploaded\"\nformats = [\"m3u8\", \"mp4\"]\n[template.m3u8]\nslice_duration = \"2s\"\n
[[template]]\napp = \"live\"\nstream = \"down\"\nstorage = \"down\"\nkeep_local = \"until_uploaded\"\nformats = [\"m3u8\", \"mp4\"]\n[template.m3u8]\nslice_duration = \"2s\"\n",
            s3.profile_toml("up", BUCKET, "")
        ),
    );
    let (a, b) = (server.url("live", "up"), server.url("live", "down"));
    let input2 = input.clone();
    let t = std::thread::spawn(move || push(&input2, &b));
    push(&input, &a);
    t.join().unwrap();
    let recordings = server.recordings();
    let log = server.stop();
    let data = recordings.parent().unwrap().to_path_buf();
    let up = recordings.join("record/live/up");
    let down_dir = recordings.join("record/live/down");
    let local_up = local_files(&up);
    let local_down = local_files(&down_dir);
    // Confirmed media is gone locally and in the bucket; playlists stay.
    assert!(
        local_up.iter().all(|(k, _)| k.ends_with(".m3u8")),
        "confirmed files kept: {local_up:?}\n{log}"
    );
    let remote = s3.list(BUCKET);
    assert!(remote
        .iter()
        .any(|(k, _)| k.starts_with("record/live/up/") && k.ends_with(".ts")));
    assert!(remote
        .iter()
        .any(|(k, _)| k.starts_with("record/live/up/") && k.ends_with(".mp4")));
    // Unconfirmed media all stays.
    assert!(
        local_down
            .iter()
            .filter(|(k, _)| k.ends_with(".ts"))
            .count()
            >= 2,
        "{local_down:?}"
    );
    assert!(
        local_down.iter().any(|(k, _)| k.ends_with(".mp4")),
        "{local_down:?}"
    );
    let rows = uploads(&data);
    for u in &rows {
        match u.profile.as_str() {
            "up" if u.kind.as_str() != "playlist" => assert!(u.local_deleted_ms.is_some(), "{u:?}"),
            "down" => {
                assert_eq!(u.state, UploadState::Queued, "{u:?}");
                assert!(u.local_deleted_ms.is_none(), "{u:?}");
            }
            _ => {}
        }
    }
    // The unreachable bucket was tried (one probe at a time) and said why.
    assert!(
        rows.iter().any(|u| u.profile == "down"
            && u.last_error
                .as_deref()
                .unwrap_or("")
                .contains("cannot reach")),
        "{rows:?}"
    );
}

fn storage_test(config: &Path, secret: &str) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tapedeck"))
        .args(["storage", "test", "studio", "--config"])
        .arg(config)
        .env("AWS_ACCESS_KEY_ID", s3_keys::ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .output()
        .expect("running tapedeck storage test");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn storage_test_names_what_is_wrong() {
    let dir = TempDir::new("storage-test");
    let s3 = S3Server::start(Kind::S3sFs, dir.path(), BUCKET);
    let write = |name: &str, profile: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, profile).unwrap();
        path
    };
    let good = write(
        "good.toml",
        s3.profile_toml("studio", BUCKET, "prefix = \"p/\""),
    );
    let (ok, out) = storage_test(&good, s3_keys::SECRET_KEY);
    assert!(ok, "{out}");
    assert!(out.contains("buckets of the account: recordings"), "{out}");
    assert!(
        out.contains("wrote and read back p/.tapedeck-probe"),
        "{out}"
    );

    let (ok, out) = storage_test(&good, "not-the-secret");
    assert!(!ok);
    assert!(
        out.contains("the access key was refused") && out.contains("tapedeck storage login studio"),
        "{out}"
    );
    assert!(!out.contains("not-the-secret"), "the secret leaked: {out}");

    let missing = write(
        "missing.toml",
        s3.profile_toml("studio", "no-such-bucket", ""),
    );
    let (ok, out) = storage_test(&missing, s3_keys::SECRET_KEY);
    assert!(!ok);
    assert!(
        out.contains("bucket \"no-such-bucket\" does not exist"),
        "{out}"
    );

    let closed = format!("http://127.0.0.1:{}", free_port());
    let unreachable = write(
        "unreachable.toml",
        format!("[[storage]]\nname = \"studio\"\nprovider = \"custom\"\nendpoint = \"{closed}\"\nbucket = \"{BUCKET}\"\n"),
    );
    let (ok, out) = storage_test(&unreachable, s3_keys::SECRET_KEY);
    assert!(!ok);
    assert!(out.contains(&format!("cannot reach {closed}")), "{out}");

    // moto: a missing bucket reads the same.
    let moto = S3Server::start(Kind::Moto, dir.path(), BUCKET);
    let moto_missing = write(
        "moto.toml",
        moto.profile_toml("studio", "no-such-bucket", ""),
    );
    let (ok, out) = storage_test(&moto_missing, s3_keys::SECRET_KEY);
    assert!(!ok);
    assert!(out.contains("does not exist"), "{out}");
}

#[test]
fn a_tls_endpoint_that_speaks_plain_http_is_named() {
    let dir = TempDir::new("storage-tls");
    let s3 = S3Server::start(Kind::S3sFs, dir.path(), BUCKET);
    let https = s3.endpoint().replace("http://", "https://");
    let path = dir.path().join("tls.toml");
    std::fs::write(
        &path,
        format!("[[storage]]\nname = \"studio\"\nprovider = \"custom\"\nendpoint = \"{https}\"\nbucket = \"{BUCKET}\"\n"),
    )
    .unwrap();
    let (ok, out) = storage_test(&path, s3_keys::SECRET_KEY);
    assert!(!ok);
    assert!(
        out.contains(&format!("the secure connection to {https} failed")),
        "{out}"
    );
}

#[test]
fn login_without_an_os_keyring_points_to_the_environment() {
    let dir = TempDir::new("storage-login");
    let path = dir.path().join("login.toml");
    std::fs::write(
        &path,
        "[[storage]]\nname = \"tdtestlogin\"\nprovider = \"custom\"\nendpoint = \"http://127.0.0.1:9\"\nbucket = \"recordings\"\n",
    )
    .unwrap();
    let run = |args: &[&str], stdin: &str| {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_tapedeck"))
            .args(args)
            .arg("--config")
            .arg(&path)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (ok, out) = run(
        &[
            "storage",
            "login",
            "tdtestlogin",
            "--access-key-id",
            "AKIDLOGIN",
            "--secret-stdin",
        ],
        "the-secret-value\n",
    );
    assert!(
        !out.contains("the-secret-value"),
        "the secret leaked: {out}"
    );
    if ok {
        // A machine with a working keyring (a desktop): it was stored; clean up.
        assert!(out.contains("stored the keys of \"tdtestlogin\""), "{out}");
        let (ok, out) = run(&["storage", "logout", "tdtestlogin"], "");
        assert!(ok, "{out}");
    } else {
        assert!(
            out.contains("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
            "{out}"
        );
    }
    // An unknown profile is named.
    let (ok, out) = run(
        &[
            "storage",
            "login",
            "nope",
            "--access-key-id",
            "A",
            "--secret-stdin",
        ],
        "s\n",
    );
    assert!(!ok);
    assert!(
        out.contains("no storage profile \"nope\"") && out.contains("tdtestlogin"),
        "{out}"
    );
}

/// An OBS recording in a `[[watch]]` folder is the user's original: it survives its
/// upload although the template says `keep_local = "until_uploaded"`; only a watch with
/// `delete_after_upload = true` deletes, and only once the bucket confirmed the file.
#[test]
fn a_watched_file_stays_unless_its_watch_says_delete_after_upload() {
    let dir = TempDir::new("upload-watched-keep");
    let s3 = S3Server::start(Kind::S3sFs, dir.path(), BUCKET);
    let keep = dir.path().join("obs-keep");
    let delete = dir.path().join("obs-delete");
    std::fs::create_dir_all(&keep).unwrap();
    std::fs::create_dir_all(&delete).unwrap();
    let kept = keep.join("2026-11-24 20-15-00.mkv");
    let deleted = delete.join("2026-11-24 21-00-00.mkv");
    std::fs::write(&kept, noise(300_000)).unwrap();
    std::fs::write(&deleted, noise(200_000)).unwrap();
    let server = Server::start(
        dir.path(),
        &format!(
            "{}\n[[template]]\napp = \"obs\"\nstream = \"*\"\nstorage = \"studio\"\nkeep_local = \"until_uploaded\"\n\
             [[watch]]\npath = {:?}\napp = \"obs\"\nstream = \"desk\"\nsettle = \"1s\"\n\
             [[watch]]\npath = {:?}\napp = \"obs\"\nstream = \"cam\"\nsettle = \"1s\"\ndelete_after_upload = true\n",
            s3.profile_toml("studio", BUCKET, ""),
            keep.to_str().unwrap(),
            delete.to_str().unwrap()
        ),
    );
    let data = server.data.clone();
    wait_for(60, "both uploads confirmed", || {
        let rows = uploads(&data);
        (rows.len() == 2 && rows.iter().all(|u| u.state == UploadState::Done)).then_some(())
    });
    wait_for(20, "the file of the deleting watch to go", || {
        (!deleted.exists()).then_some(())
    });
    // Retention has had its passes (after each confirmation, and at the stop).
    let log = server.stop();
    assert!(kept.exists(), "the original was deleted:\n{log}");
    assert_eq!(std::fs::metadata(&kept).unwrap().len(), 300_000);
    let remote = s3.list(BUCKET);
    let keys: Vec<&str> = remote.iter().map(|(k, _)| k.as_str()).collect();
    assert!(
        keys.iter()
            .any(|k| k.starts_with("record/obs/desk/") && k.ends_with(".mkv"))
            && keys
                .iter()
                .any(|k| k.starts_with("record/obs/cam/") && k.ends_with(".mkv")),
        "{keys:?}"
    );
    for u in uploads(&data) {
        let expect = if u.group == "obs/cam" {
            "until_uploaded"
        } else {
            "forever"
        };
        assert_eq!(u.keep_local, expect, "{u:?}");
    }
}

/// A segment whose local file vanished before its upload is marked lost; the playlist
/// that names it reaches the bucket as a copy without it (a discontinuity in its place),
/// and the log and the upload events name it.
#[test]
fn a_playlist_in_the_bucket_never_names_a_lost_segment() {
    let dir = TempDir::new("upload-lost-segment");
    let s3 = S3Server::start(Kind::S3sFs, dir.path(), BUCKET);
    let data = dir.path().join("data");
    let folder = data.join("recordings/record/live/cam1");
    std::fs::create_dir_all(&folder).unwrap();
    let names = ["1795515330_0.ts", "1795515332_1.ts", "1795515334_2.ts"];
    let mut playlist = String::from(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n",
    );
    for (i, n) in names.iter().enumerate() {
        playlist.push_str(&format!(
            "#EXT-X-PROGRAM-DATE-TIME:2026-11-24T10:15:{}.000Z\n#EXTINF:2.000,\n{n}\n",
            30 + 2 * i
        ));
    }
    playlist.push_str("#EXT-X-ENDLIST\n");
    let playlist_name = "2026-11-24-10-15-30_2026-11-24-10-15-36.m3u8";
    std::fs::write(folder.join(playlist_name), &playlist).unwrap();
    // Queued as the recorder queues them: the segments, then the playlist.
    {
        let c = catalog(&data);
        let queue = |name: &str, kind: &str, bytes: u64| {
            let path = folder.join(name);
            if kind == "segment" {
                std::fs::write(&path, noise(bytes as usize)).unwrap();
            }
            c.enqueue_upload(&tapedeck_catalog::NewUpload {
                profile: "studio".into(),
                key: format!("record/live/cam1/{name}"),
                path: path.to_string_lossy().into_owned(),
                kind: tapedeck_catalog::FileKind::parse(kind),
                group: "live/cam1".into(),
                bytes,
                mtime_ms: 0,
                keep_local: "forever".into(),
                keep_group: "*/*".into(),
                keep_max: None,
                queued_ms: chrono::Utc::now().timestamp_millis(),
            })
            .unwrap();
        };
        for n in names {
            queue(n, "segment", 50_000);
        }
        queue(playlist_name, "playlist", playlist.len() as u64);
    }
    // The middle segment vanishes before anything went up.
    std::fs::remove_file(folder.join(names[1])).unwrap();

    let server = Server::start(
        dir.path(),
        &s3.profile_toml("studio", BUCKET, "concurrency = 1"),
    );
    wait_for(60, "the playlist upload", || {
        uploads(&data)
            .iter()
            .any(|u| u.kind.as_str() == "playlist" && u.state == UploadState::Done)
            .then_some(())
    });
    let log = server.stop();
    let rows = uploads(&data);
    let lost: Vec<&str> = rows
        .iter()
        .filter(|u| u.state == UploadState::Lost)
        .map(|u| u.key.as_str())
        .collect();
    assert_eq!(lost, ["record/live/cam1/1795515332_1.ts"], "{rows:?}");
    let remote: Vec<String> = s3.list(BUCKET).into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        remote,
        [
            "record/live/cam1/1795515330_0.ts".to_string(),
            "record/live/cam1/1795515334_2.ts".to_string(),
            format!("record/live/cam1/{playlist_name}"),
        ]
    );
    let copy =
        String::from_utf8(s3.get(BUCKET, &format!("record/live/cam1/{playlist_name}"))).unwrap();
    assert!(!copy.contains(names[1]), "{copy}");
    assert!(copy.contains(names[0]) && copy.contains(names[2]), "{copy}");
    assert!(
        copy.contains("#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-11-24T10:15:34.000Z\n#EXTINF:2.000,\n1795515334_2.ts"),
        "{copy}"
    );
    // Every segment the copy names is in the bucket.
    for line in copy.lines().filter(|l| l.ends_with(".ts")) {
        assert!(
            remote.contains(&format!("record/live/cam1/{line}")),
            "{line}"
        );
    }
    // The local playlist is the truth and stays whole.
    assert_eq!(
        std::fs::read_to_string(folder.join(playlist_name)).unwrap(),
        playlist
    );
    assert!(
        log.contains("uploaded without record/live/cam1/1795515332_1.ts"),
        "the log does not name the segment:\n{log}"
    );
}
