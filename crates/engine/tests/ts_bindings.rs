//! The desktop app's TypeScript types are generated from the engine's Rust types (ts-rs),
//! so the two cannot drift: this test generates them and fails when `ui/src/bindings/`
//! differs. `TAPEDECK_WRITE_BINDINGS=1 cargo test -p tapedeck-engine --test ts_bindings`
//! rewrites them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ts_rs::{Config, TS};

/// Every type the app's IPC carries from the engine (their dependencies come along).
fn export(dir: &Path) {
    let cfg = Config::new()
        .with_large_int("number")
        .with_out_dir(dir.to_path_buf());
    tapedeck_engine::EngineEvent::export_all(&cfg).unwrap();
    tapedeck_engine::EngineError::export_all(&cfg).unwrap();
    tapedeck_engine::StreamKey::export_all(&cfg).unwrap();
    tapedeck_engine::ChapterMark::export_all(&cfg).unwrap();
    tapedeck_engine::IndexQuery::export_all(&cfg).unwrap();
    tapedeck_engine::ExportQuery::export_all(&cfg).unwrap();
    tapedeck_config::Config::export_all(&cfg).unwrap();
    tapedeck_catalog::Upload::export_all(&cfg).unwrap();
    tapedeck_catalog::Span::export_all(&cfg).unwrap();
    tapedeck_catalog::IndexRecord::export_all(&cfg).unwrap();
    tapedeck_catalog::Chapter::export_all(&cfg).unwrap();
    tapedeck_engine::DiskStatus::export_all(&cfg).unwrap();
    tapedeck_engine::LiveStream::export_all(&cfg).unwrap();
    tapedeck_engine::HealthChange::export_all(&cfg).unwrap();
    tapedeck_engine::StorageCheck::export_all(&cfg).unwrap();
    tapedeck_config::preview::NamePreview::export_all(&cfg).unwrap();
    tapedeck_catalog::Run::export_all(&cfg).unwrap();
    tapedeck_engine::import::ImportReport::export_all(&cfg).unwrap();
    tapedeck_engine::import::ImportProgress::export_all(&cfg).unwrap();
}

fn read_all(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "ts") {
            out.insert(
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            );
        }
    }
    out
}

#[test]
fn the_apps_typescript_types_match_the_rust_types() {
    let committed: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/bindings");
    let fresh = std::env::temp_dir().join(format!("tapedeck-bindings-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&fresh);
    export(&fresh);
    let generated = read_all(&fresh);
    assert!(
        generated.contains_key("EngineEvent.ts"),
        "{:?}",
        generated.keys()
    );
    if std::env::var_os("TAPEDECK_WRITE_BINDINGS").is_some() {
        // Only the engine's files: the app's own (src-tauri, `types::bindings`) live here too.
        std::fs::create_dir_all(&committed).unwrap();
        for (name, text) in &generated {
            std::fs::write(committed.join(name), text).unwrap();
        }
    }
    let on_disk = read_all(&committed);
    let _ = std::fs::remove_dir_all(&fresh);
    let stale: Vec<&String> = generated
        .keys()
        .filter(|k| on_disk.get(*k) != generated.get(*k))
        .collect();
    assert!(
        stale.is_empty(),
        "ui/src/bindings is stale ({stale:?}): run TAPEDECK_WRITE_BINDINGS=1 cargo test -p tapedeck-engine --test ts_bindings"
    );
}
