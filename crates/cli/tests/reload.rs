//! Editing tapedeck.toml while serving: a valid edit applies to the next publish and never
//! to a running recording; an edit with errors keeps the old configuration.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod common;

use common::*;

fn config(port: u16, formats: &str) -> String {
    format!("[ingest]\nrtmp_listen = \"127.0.0.1:{port}\"\n[[template]]\nformats = {formats}\ninterruption_window = \"1s\"\n")
}

#[test]
fn edits_apply_to_the_next_publish_and_bad_edits_are_refused() {
    let dir = TempDir::new("reload");
    let input = make_input(dir.path(), 5);
    let server = Server::start_with(dir.path(), |port| config(port, r#"["mp4"]"#));
    let toml = dir.path().join("tapedeck.toml");
    let data = format!("data_dir = {:?}\n", server.data.to_str().unwrap());
    let url_a = server.url("live", "a");
    let input_a = input.clone();
    let a = std::thread::spawn(move || {
        ffmpeg(&[
            "-re",
            "-i",
            input_a.to_str().unwrap(),
            "-c",
            "copy",
            "-f",
            "flv",
            &url_a,
        ])
    });
    wait_for(20, "recording a", || {
        server
            .log_text()
            .contains("recording started")
            .then_some(())
    });

    std::fs::write(
        &toml,
        format!("{data}{}", config(server.port, r#"["avi"]"#)),
    )
    .unwrap();
    wait_for(20, "the bad edit to be refused", || {
        server
            .log_text()
            .contains("keeping the previous configuration")
            .then_some(())
    });
    std::fs::write(
        &toml,
        format!("{data}{}", config(server.port, r#"["flv"]"#)),
    )
    .unwrap();
    wait_for(20, "the good edit to apply", || {
        server.log_text().contains("reloaded").then_some(())
    });

    assert!(a.join().unwrap().status.success());
    ffmpeg_ok(&[
        "-re",
        "-i",
        input.to_str().unwrap(),
        "-t",
        "2",
        "-c",
        "copy",
        "-f",
        "flv",
        &server.url("live", "b"),
    ]);
    let root = server.recordings().join("record/live");
    wait_for(30, "a's mp4", || {
        find_files(&root.join("a"), ".mp4").into_iter().next()
    });
    wait_for(30, "b's flv", || {
        find_files(&root.join("b"), ".flv").into_iter().next()
    });
    let log = server.stop();
    assert!(
        log.contains("avi"),
        "the refusal names the bad value: {log}"
    );
    assert!(
        find_files(&root.join("a"), ".flv").is_empty(),
        "the running recording kept its template"
    );
    assert!(
        find_files(&root.join("b"), ".mp4").is_empty(),
        "the next publish used the new template"
    );
}
