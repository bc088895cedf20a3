//! `tapedeck recordings spans`, `tapedeck index create|list`: time questions answered from
//! the catalog, as a table for people or JSON (`--json`) for scripts.

use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use tapedeck_catalog::Catalog;
use tapedeck_recorder::Config;

use tapedeck_engine::archive::catalog_path;
use tapedeck_engine::{Archive, ExportQuery, IndexQuery};

pub fn open(config: &Config) -> Result<Catalog> {
    Ok(tapedeck_engine::archive::open_catalog(config)?)
}

/// The catalog's questions, without a running engine.
fn archive(config: &Config) -> Result<Archive> {
    Ok(Archive::open(std::sync::Arc::new(config.clone()))?)
}

/// Parses an RFC 3339 time, naming the option on error.
pub fn parse_time(option: &str, text: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .with_context(|| format!("{option} {text:?} is not an RFC 3339 time like 2026-11-24T20:15:00Z or 2026-11-24T21:15:00+01:00"))
}

fn time(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms).map_or_else(
        || ms.to_string(),
        |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )
}

pub fn spans(
    config: &Config,
    app: &str,
    stream: &str,
    start: &str,
    end: &str,
    json: bool,
) -> Result<()> {
    let (start, end) = (parse_time("--start", start)?, parse_time("--end", end)?);
    let spans = archive(config)?.spans(app, stream, start, end)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&spans)?);
        return Ok(());
    }
    if spans.is_empty() {
        println!("nothing of {app}/{stream} was recorded between {start} and {end}");
    }
    println!("{:<22} {:<22} {:>10}  objects", "start", "end", "duration");
    for s in spans {
        println!(
            "{:<22} {:<22} {:>9.1}s  {}",
            time(s.start_ms),
            time(s.end_ms),
            s.duration,
            s.objects.join(" ")
        );
    }
    Ok(())
}

pub fn create_index(
    config: &Config,
    app: &str,
    stream: &str,
    start: &str,
    end: &str,
    object: Option<String>,
) -> Result<()> {
    let query = IndexQuery {
        app: app.to_string(),
        stream: stream.to_string(),
        start: parse_time("--start", start)?,
        end: parse_time("--end", end)?,
        object,
    };
    let record = archive(config)?.create_index(&query)?;
    let out = serde_json::json!({
        "id": record.id,
        "url": config.recordings_dir().join(&record.object).display().to_string(),
        "app": record.app,
        "stream": record.stream,
        "object": record.object,
        "start": time(record.start_ms),
        "end": time(record.end_ms),
        "duration": record.duration,
        "width": record.width,
        "height": record.height,
        "created": time(record.created_ms),
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

pub fn list_indexes(
    config: &Config,
    page: u32,
    per_page: u32,
    desc: bool,
    json: bool,
) -> Result<()> {
    let rows = archive(config)?.indexes(page, per_page, desc)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!(
        "{:>5}  {:<22} {:<22} {:>9}  object",
        "id", "start", "end", "duration"
    );
    for r in rows {
        println!(
            "{:>5}  {:<22} {:<22} {:>8.1}s  {}",
            r.id,
            time(r.start_ms),
            time(r.end_ms),
            r.duration,
            r.object
        );
    }
    Ok(())
}

/// `tapedeck export`'s arguments.
pub struct ExportArgs {
    pub app: String,
    pub stream: String,
    pub start: String,
    pub end: String,
    pub output: PathBuf,
    pub close_gaps: bool,
    pub json: bool,
}

pub fn export(config: &Config, args: ExportArgs) -> Result<()> {
    let json = args.json;
    let query = ExportQuery {
        start: parse_time("--start", &args.start)?,
        end: parse_time("--end", &args.end)?,
        app: args.app,
        stream: args.stream,
        output: args.output,
        close_gaps: args.close_gaps,
    };
    let mut bar =
        crate::progress::Progress::new("export", crate::progress::Unit::Segments, 0, json);
    let mut progress = |p: tapedeck_recorder::export::Progress| {
        bar.set_total(p.segments_total as u64);
        bar.set(p.segments_done as u64);
    };
    let exported = archive(config)?.export(&query, &mut progress, &|| false)?;
    bar.finish();
    if json {
        println!(
            "{}",
            serde_json::json!({
                "event": "done",
                "task": "export",
                "path": exported.path,
                "duration": exported.duration,
                "video_frames": exported.video_frames,
                "shown_video_frames": exported.shown_video_frames,
                "audio_frames": exported.audio_frames,
                "bytes": exported.bytes,
            })
        );
    } else {
        println!(
            "{}: {:.3} s, {} video frames shown ({} stored) and {} audio frames, {} bytes",
            exported.path.display(),
            exported.duration,
            exported.shown_video_frames,
            exported.video_frames,
            exported.audio_frames,
            exported.bytes
        );
    }
    Ok(())
}

/// `tapedeck catalog import PROFILE`: what the profile's bucket holds, into the catalog.
pub fn import(config: &Config, profile: &str, json: bool) -> Result<()> {
    let archive = archive(config)?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let mut bar = crate::progress::Progress::new("import", crate::progress::Unit::Objects, 0, json);
    let report = runtime.block_on(archive.import(profile, &mut |p| {
        bar.set_total(p.total);
        bar.set(p.done);
    }));
    bar.finish();
    let report = report?;
    if json {
        println!(
            "{}",
            serde_json::json!({ "event": "done", "report": report })
        );
        return Ok(());
    }
    for s in &report.skipped {
        eprintln!("skipped {}: {}", s.key, s.why);
    }
    let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    println!(
        "bucket of {profile:?}: {} in {} and {}; {} new, {} read now{}",
        plural(report.recordings, "recording", "recordings"),
        plural(report.files, "file", "files"),
        plural(report.indexes, "custom index", "custom indexes"),
        plural(report.new_files, "file", "files"),
        plural(report.read, "object", "objects"),
        if report.chapters > 0 {
            format!(", {}", plural(report.chapters, "chapter", "chapters"))
        } else {
            String::new()
        },
    );
    Ok(())
}

/// `tapedeck catalog rebuild`: a new catalog from the recordings folder, swapped in whole.
pub fn rebuild(config: &Config) -> Result<()> {
    let path = catalog_path(config);
    let fresh = tapedeck_recorder::files::with_suffix(&path, ".rebuilding");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(tapedeck_recorder::files::with_suffix(&fresh, suffix));
    }
    let catalog = Catalog::open(&fresh).with_context(|| format!("creating {}", fresh.display()))?;
    let report = tapedeck_recorder::rebuild::rebuild(&config.recordings_dir(), &catalog)?;
    drop(catalog);
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(tapedeck_recorder::files::with_suffix(&path, suffix));
    }
    std::fs::rename(&fresh, &path).with_context(|| format!("replacing {}", path.display()))?;
    for (p, why) in &report.skipped {
        eprintln!("skipped {}: {why}", p.display());
    }
    for p in &report.untagged {
        eprintln!("left out {}: no Tapedeck tag", p.display());
    }
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    println!(
        "rebuilt {}: {}, {}, {}, {}",
        path.display(),
        plural(report.recordings, "recording", "recordings"),
        plural(report.segments, "segment", "segments"),
        plural(report.files, "file", "files"),
        plural(report.indexes, "index", "indexes"),
    );
    if !report.untagged.is_empty() {
        println!(
            "{} without a Tapedeck tag left out (recorded before this version, exports, or files from elsewhere)",
            plural(report.untagged.len(), "MP4/FLV file", "MP4/FLV files"),
        );
    }
    Ok(())
}

/// `tapedeck thumbnail`.
pub fn thumbnail(
    config: &Config,
    app: &str,
    stream: &str,
    at: &str,
    output: &std::path::Path,
    width: u32,
) -> Result<()> {
    let at = parse_time("--at", at)?;
    let archive = archive(config)?;
    let t = tapedeck_engine::thumbnail::thumbnail(
        archive.catalog(),
        &**archive.files(),
        &tapedeck_engine::thumbnail::cache_dir(&config.data_dir),
        app,
        stream,
        at,
        width,
    )?;
    std::fs::copy(&t.path, output).with_context(|| format!("writing {}", output.display()))?;
    println!(
        "{}: {}x{}, the key frame of {}",
        output.display(),
        t.width,
        t.height,
        t.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    );
    Ok(())
}
