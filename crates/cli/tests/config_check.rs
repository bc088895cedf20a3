//! `tapedeck config check`: which template applies and the names it writes; every problem
//! of a bad file, each naming its field, with a non-zero exit.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod common;

use std::process::Command;

use common::TempDir;

fn check(dir: &std::path::Path, toml: &str, app: &str, stream: &str) -> (bool, String) {
    let path = dir.join("tapedeck.toml");
    std::fs::write(&path, toml).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tapedeck"))
        .args(["config", "check", "--config"])
        .arg(&path)
        .args(["--app", app, "--stream", stream])
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

const TWO_TEMPLATES: &str = r#"
[[template]]
app = "live"
stream = "cam1"
formats = ["mp4"]
timezone = "Europe/Berlin"
[template.mp4]
object = "exact/{AppName}/{StreamName}/{EscapedStartTime}_{EscapedEndTime}"
[[template]]
app = "live"
stream = "*"
formats = ["m3u8"]
"#;

#[test]
fn shows_which_template_applies_and_its_names() {
    let dir = TempDir::new("check");
    let (ok, out) = check(dir.path(), TWO_TEMPLATES, "live", "cam1");
    assert!(ok, "{out}");
    assert!(
        out.contains("template app=\"live\" stream=\"cam1\""),
        "{out}"
    );
    assert!(out.contains("mp4: exact/live/cam1/"), "{out}");
    assert!(out.contains("Europe/Berlin"), "{out}");
    let (ok, out) = check(dir.path(), TWO_TEMPLATES, "live", "cam2");
    assert!(ok, "{out}");
    assert!(out.contains("template app=\"live\" stream=\"*\""), "{out}");
    assert!(out.contains("ts segments:   record/live/cam2/"), "{out}");
    let (ok, out) = check(dir.path(), TWO_TEMPLATES, "other", "x");
    assert!(ok, "{out}");
    assert!(out.contains("no template matches"), "{out}");
}

#[test]
fn a_bad_file_lists_every_problem_and_fails() {
    let dir = TempDir::new("check-bad");
    let bad = r#"
[[template]]
app = "live/x"
timezone = "Nowhere/Else"
[template.m3u8]
slice_object = "seg/{Sequence}"
slice_duration = "90s"
[template.mp4]
object = "../up/{EscapedStartTime}"
"#;
    let (ok, out) = check(dir.path(), bad, "live", "cam1");
    assert!(!ok, "{out}");
    for field in [
        "template[0].app",
        "template[0].timezone",
        "template[0].m3u8.slice_object",
        "template[0].m3u8.slice_duration",
        "template[0].mp4.object",
    ] {
        assert!(out.contains(field), "{field} in {out}");
    }
    let (ok, out) = check(dir.path(), "[ingest]\nrtmp_port = 1935\n", "live", "cam1");
    assert!(!ok);
    assert!(out.contains("rtmp_port"), "an unknown key is named: {out}");
}
