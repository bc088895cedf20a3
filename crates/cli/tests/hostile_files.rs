//! Links in the data folder, as a careless script or someone else on the machine could
//! leave them: `serve` still starts, recovery and `catalog rebuild` do not follow them,
//! and no file they point at is changed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod common;

use std::process::Command;

use common::*;

#[cfg(unix)]
#[test]
fn link_loops_and_links_out_do_not_stop_serve() {
    use std::os::unix::fs::symlink;
    let dir = TempDir::new("hostile-links");
    let recordings = dir.path().join("data/recordings");
    let live = recordings.join("record/live");
    std::fs::create_dir_all(&live).unwrap();
    // Two loops (2^n paths if followed), a link to the root of the file system, and a
    // left-over `.part` that is a link to a file outside (recovery rewrites `.part` files).
    symlink("..", live.join("up")).unwrap();
    symlink(".", live.join("here")).unwrap();
    symlink("/", live.join("root")).unwrap();
    let outside = dir.path().join("precious.txt");
    std::fs::write(&outside, b"not a recording").unwrap();
    symlink(&outside, live.join("1795515330_0.ts.part")).unwrap();

    let server = Server::start(dir.path(), "");
    let config = server.config.clone();
    let log = server.stop();
    assert!(log.contains("not looked into for left-overs"), "{log}");
    assert!(log.contains("links are not followed"), "{log}");
    assert_eq!(std::fs::read(&outside).unwrap(), b"not a recording");
    assert!(
        std::fs::symlink_metadata(live.join("1795515330_0.ts.part"))
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link was left as it was"
    );

    // The rebuild walks the same folder, the same way.
    let out = Command::new(env!("CARGO_BIN_EXE_tapedeck"))
        .args(["catalog", "rebuild", "--config"])
        .arg(&config)
        .output()
        .expect("running tapedeck catalog rebuild");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("links are not followed"), "{text}");
}
