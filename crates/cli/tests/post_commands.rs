//! Post-recording commands (`[[template.run]]`) on the real `tapedeck serve`, with ffmpeg
//! publishing and a real S3 server (s3s-fs) receiving the uploads: a command that
//! succeeds (ffprobe on `{Path}` into `{Dir}/{Name}.json`, under a folder with a space), one
//! that fails (exit 3, its output kept), one that hangs (killed with its process group
//! after its timeout, while recording, finalizing and uploading go on), and one cut off by
//! kill -9 of the server and run again at the next start. `tapedeck runs` and
//! `tapedeck runs --json` show them all.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod common;
#[path = "common/s3.rs"]
#[allow(dead_code)]
mod s3;

use std::path::Path;
use std::process::Command;

use common::*;
use s3::{Kind, S3Server};
use tapedeck_catalog::{Catalog, Run, RunState, Upload};

const BUCKET: &str = "recordings";

/// The `sleep` of the hanging command: an odd number, so that its processes can be told
/// from any other `sleep` on the machine.
const HANG_SLEEP: &str = "60.0417";

fn config(storage: &str) -> String {
    format!(
        r#"{storage}
[runs]
max_parallel = 3

[[template]]
app = "live"
stream = "ok"
formats = ["mp4"]
interruption_window = "1s"
storage = "studio"
[[template.run]]
on = ["mp4"]
command = ["/bin/sh", "-c", 'ffprobe -v error -show_entries format=duration -of json "$1" > "$2" && echo "$TAPEDECK_KEY|$TAPEDECK_APP|$TAPEDECK_STREAM|$TAPEDECK_FORMAT|$TAPEDECK_NAME" > "$TAPEDECK_DIR/$TAPEDECK_NAME.marker"', "sh", "{{Path}}", "{{Dir}}/{{Name}}.json"]

[[template]]
app = "live"
stream = "fail"
formats = ["mp4"]
interruption_window = "1s"
[[template.run]]
command = ["/bin/sh", "-c", 'echo "working on $1"; echo oops >&2; exit 3', "sh", "{{Path}}"]

[[template]]
app = "live"
stream = "hang"
formats = ["m3u8", "mp4"]
interruption_window = "1s"
storage = "studio"
[template.m3u8]
slice_duration = "2s"
daily_object = ""
[[template.run]]
on = ["segment", "mp4"]
command = ["sh", "-c", 'sleep {HANG_SLEEP}; echo never']
timeout = "3s"

[[template]]
app = "live"
stream = "crash"
formats = ["mp4"]
interruption_window = "1s"
[[template.run]]
command = ["/bin/sh", "-c", 'echo started >> "$1.attempts"; sleep 6; echo done >> "$1.attempts"', "sh", "{{Dir}}/{{Name}}"]
"#
    )
}

fn catalog(data: &Path) -> Catalog {
    Catalog::open(&data.join("state").join("catalog.sqlite3")).expect("catalog")
}

fn runs_of(data: &Path, stream: &str) -> Vec<Run> {
    let mut runs: Vec<Run> = catalog(data)
        .runs(10_000)
        .expect("runs")
        .into_iter()
        .filter(|r| r.stream == stream)
        .collect();
    runs.sort_by_key(|r| r.id);
    runs
}

fn ended(r: &Run) -> bool {
    !matches!(r.state, RunState::Queued | RunState::Running)
}

fn uploads_of(data: &Path, stream: &str) -> Vec<Upload> {
    catalog(data)
        .uploads(true, 10_000)
        .expect("uploads")
        .into_iter()
        .filter(|u| u.group == format!("live/{stream}"))
        .collect()
}

/// Processes whose command line contains `needle` (Linux: /proc).
fn processes_with(needle: &str) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(needle))
        .collect()
}

fn tapedeck_runs(config: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tapedeck"))
        .arg("runs")
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .expect("running tapedeck runs");
    assert!(
        out.status.success(),
        "tapedeck runs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn commands_succeed_fail_time_out_and_run_again_after_a_crash() {
    let base = TempDir::new("post-commands");
    // Paths with a space: each placeholder stays one argument.
    let dir = base.path().join("with space");
    std::fs::create_dir_all(&dir).unwrap();
    let s3 = S3Server::start(Kind::S3sFs, base.path(), BUCKET);
    let input = make_input(base.path(), 6);
    let short_dir = base.path().join("short");
    std::fs::create_dir_all(&short_dir).unwrap();
    let short = make_input(&short_dir, 3);
    let storage = s3.profile_toml("studio", BUCKET, "");
    let server = Server::start_with(&dir, |port| {
        format!(
            "[ingest]\nrtmp_listen = \"127.0.0.1:{port}\"\n{}",
            config(&storage)
        )
    });
    let data = server.data.clone();
    let recordings = server.recordings();

    // Three streams at once: one command succeeds, one fails, one hangs.
    let pushes: Vec<_> = ["ok", "fail", "hang"]
        .into_iter()
        .map(|stream| {
            let url = server.url("live", stream);
            let input = input.clone();
            std::thread::spawn(move || push(&input, &url))
        })
        .collect();
    for p in pushes {
        p.join().expect("publisher");
    }
    wait_for(60, "the runs of ok, fail and hang to end", || {
        // The mp4 is the last file of each recording: once its run has ended, all have.
        let done = |stream: &str| {
            let runs = runs_of(&data, stream);
            runs.iter().any(|r| r.format == "mp4") && runs.iter().all(ended)
        };
        (done("ok") && done("fail") && done("hang")).then_some(())
    });

    // Succeeded: ffprobe's JSON beside the file, the environment as documented.
    let ok = runs_of(&data, "ok");
    assert_eq!(ok.len(), 1, "{ok:?}");
    let r = &ok[0];
    assert_eq!(
        (r.state, r.exit_code, r.attempt),
        (RunState::Succeeded, Some(0), 1),
        "{r:?}"
    );
    assert_eq!((r.program.as_str(), r.format.as_str()), ("sh", "mp4"));
    let mp4 = Path::new(&r.path);
    assert!(mp4.starts_with(&recordings) && mp4.exists(), "{r:?}");
    assert!(r.path.contains("with space"), "{r:?}");
    let name = mp4.file_stem().unwrap().to_string_lossy().into_owned();
    let json = mp4.with_file_name(format!("{name}.json"));
    let probe: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("ffprobe's output")).unwrap();
    let duration: f64 = probe["format"]["duration"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("a duration in {probe}"));
    assert!((duration - 6.0).abs() < 0.5, "{duration}");
    let marker = std::fs::read_to_string(mp4.with_file_name(format!("{name}.marker"))).unwrap();
    assert_eq!(marker.trim(), format!("{}|live|ok|mp4|{name}", r.key));
    assert_eq!(recordings.join(&r.key), mp4);
    assert!(r.started_ms.is_some() && r.duration_ms.is_some_and(|d| d >= 0));

    // Failed: exit status 3, its output kept (stdout and stderr).
    let fail = runs_of(&data, "fail");
    assert_eq!(fail.len(), 1, "{fail:?}");
    let r = &fail[0];
    assert_eq!((r.state, r.exit_code), (RunState::Failed, Some(3)), "{r:?}");
    assert!(
        r.output.contains("working on ") && r.output.contains("oops"),
        "{r:?}"
    );
    assert!(
        r.output.contains(&r.path),
        "the path with a space, as one argument: {r:?}"
    );
    assert_eq!(r.error.as_deref(), Some("exited with status 3"));

    // Timed out: killed after 3 s with its process group (the shell's sleep too).
    let hang = runs_of(&data, "hang");
    assert!(hang.len() >= 3, "{hang:?}");
    for r in &hang {
        assert_eq!(r.state, RunState::TimedOut, "{r:?}");
        let d = r.duration_ms.unwrap_or(0);
        assert!((3000..6000).contains(&d), "killed at its timeout: {r:?}");
        assert!(
            r.error
                .as_deref()
                .is_some_and(|e| e.contains("process group")),
            "{r:?}"
        );
        assert!(!r.output.contains("never"), "{r:?}");
    }
    assert!(
        processes_with(HANG_SLEEP).is_empty(),
        "the hanging command's children were killed: {:?}",
        processes_with(HANG_SLEEP)
    );
    // ...and nothing waited for it: a segment finished (and was queued for upload) while
    // the first segment's command hung, and the mp4 was uploaded before its command was
    // killed.
    let uploads = uploads_of(&data, "hang");
    let first = hang
        .iter()
        .find(|r| r.format == "segment")
        .expect("a segment's run");
    let (from, to) = (first.started_ms.unwrap(), first.finished_ms.unwrap());
    assert!(
        uploads
            .iter()
            .any(|u| u.key.ends_with(".ts") && u.queued_ms > from && u.queued_ms < to),
        "a segment finished between {from} and {to}: {uploads:?}"
    );
    let mp4_run = hang
        .iter()
        .find(|r| r.format == "mp4")
        .expect("the mp4's run");
    let mp4_upload = uploads
        .iter()
        .find(|u| u.key == mp4_run.key)
        .expect("the mp4 is queued for upload");
    let done = mp4_upload.done_ms.expect("the mp4 was uploaded");
    assert!(
        s3.list(BUCKET).iter().any(|(k, _)| *k == mp4_run.key),
        "the mp4 is in the bucket"
    );
    assert!(
        done < mp4_run.finished_ms.unwrap(),
        "uploaded at {done}, before its command was killed at {:?}",
        mp4_run.finished_ms
    );

    // Cut off: kill -9 of the server while the command runs; the next start runs it again.
    push(&short, &server.url("live", "crash"));
    let first = wait_for(30, "the crash stream's command to run", || {
        runs_of(&data, "crash")
            .into_iter()
            .find(|r| r.state == RunState::Running && r.pid.is_some())
    });
    let attempts = Path::new(&first.path).with_extension("attempts");
    wait_for(10, "the command to begin", || {
        std::fs::read_to_string(&attempts)
            .ok()
            .filter(|t| t.contains("started"))
    });
    let (config, port, log) = (server.config.clone(), server.port, server.log.clone());
    server.kill9();
    let server = Server::spawn(config.clone(), port, data.clone(), log);
    let again = wait_for(30, "the command to run again and succeed", || {
        runs_of(&data, "crash")
            .into_iter()
            .find(|r| r.rerun_of == Some(first.id) && ended(r))
    });
    let log = server.stop();
    assert_eq!(
        (again.state, again.attempt, again.exit_code),
        (RunState::Succeeded, 2, Some(0)),
        "{again:?}\n{log}"
    );
    assert_eq!(
        (again.key.as_str(), &again.command),
        (first.key.as_str(), &first.command)
    );
    let first = catalog(&data).run(first.id).unwrap().unwrap();
    assert_eq!(first.state, RunState::Interrupted, "{first:?}");
    assert_eq!(runs_of(&data, "crash").len(), 2);
    // The first attempt's process outlived the server (a process group of its own); the
    // next start killed it before running the command again, so only one attempt finishes
    // even after the first would have.
    #[cfg(target_os = "linux")]
    {
        let started = first.started_ms.unwrap();
        while chrono::Utc::now().timestamp_millis() < started + 7000 {
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        assert_eq!(
            std::fs::read_to_string(&attempts).unwrap(),
            "started\nstarted\ndone\n",
            "{log}"
        );
        assert!(log.contains("killed the left-over process group"), "{log}");
    }
    assert!(!log.contains("panicked"), "{log}");

    // `tapedeck runs` shows all four, newest first.
    let text = tapedeck_runs(&config, &[]);
    let counts = text.lines().next().unwrap_or("");
    assert!(
        counts.contains("0 queued, 0 running, 2 succeeded, 1 failed"),
        "{text}"
    );
    assert!(
        counts.contains(&format!("{} timed out, 1 interrupted", hang.len())),
        "{text}"
    );
    for want in [
        "succeeded",
        "failed",
        "timed_out",
        "interrupted",
        "exited with status 3",
        "| oops",
        "killed with its process group",
        "Tapedeck stopped while it ran",
        &format!("(again: run {})", first.id),
        &ok[0].key,
    ] {
        assert!(text.contains(want), "{want:?} missing:\n{text}");
    }
    let rows: Vec<&str> = text.lines().filter(|l| l.contains(" sh ")).collect();
    assert!(
        rows[0].contains(&again.id.to_string()),
        "newest first:\n{text}"
    );

    let json: serde_json::Value =
        serde_json::from_str(&tapedeck_runs(&config, &["--json"])).unwrap();
    assert_eq!(json["counts"]["succeeded"], 2, "{json}");
    assert_eq!(json["counts"]["failed"], 1, "{json}");
    assert_eq!(json["counts"]["interrupted"], 1, "{json}");
    assert_eq!(json["counts"]["timed_out"], hang.len(), "{json}");
    let listed = json["runs"].as_array().expect("runs");
    assert_eq!(
        listed.len(),
        4 + hang.len(),
        "ok, fail, two of crash, hang: {json}"
    );
    let by_id = |id: i64| {
        listed
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("run {id} in {json}"))
    };
    let r = by_id(fail[0].id);
    assert_eq!(
        (&r["state"], &r["exit_code"], &r["program"], &r["stream"]),
        (&"failed".into(), &3.into(), &"sh".into(), &"fail".into())
    );
    assert!(
        r["output"].as_str().is_some_and(|o| o.contains("oops")),
        "{r}"
    );
    assert!(r["duration_ms"].is_i64() && r["started_ms"].is_i64(), "{r}");
    assert_eq!(by_id(ok[0].id)["state"], "succeeded");
    assert_eq!(by_id(ok[0].id)["key"], ok[0].key.as_str());
    assert_eq!(by_id(hang[0].id)["state"], "timed_out");
    assert_eq!(by_id(hang[0].id)["exit_code"], serde_json::Value::Null);
    assert_eq!(by_id(first.id)["state"], "interrupted");
    let r = by_id(again.id);
    assert_eq!(
        (&r["state"], &r["attempt"], &r["rerun_of"]),
        (&"succeeded".into(), &2.into(), &first.id.into())
    );
    let json = json.to_string();
    assert!(!json.contains("\"pid\""), "{json}");

    // With --limit.
    let json: serde_json::Value =
        serde_json::from_str(&tapedeck_runs(&config, &["--json", "--limit", "1"])).unwrap();
    assert_eq!(json["runs"].as_array().map(Vec::len), Some(1));
    assert_eq!(json["runs"][0]["id"], again.id);
}
