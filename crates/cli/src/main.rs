//! `tapedeck`: the headless face of the engine.

#![forbid(unsafe_code)]

mod control;
mod progress;
mod query;
mod runs;
mod serve;
mod storage;
mod streams;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use tapedeck_recorder::Config;

#[derive(Parser)]
#[command(
    name = "tapedeck",
    version,
    about = "Record live streams to HLS, MP4 and FLV, locally and to S3-compatible buckets"
)]
struct Cli {
    /// Configuration file. Default: tapedeck.toml in the current folder when there is one,
    /// else the embedded defaults (RTMP on 127.0.0.1:1935, every stream as m3u8 + mp4 into
    /// ./tapedeck-data).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the RTMP server and record until Ctrl-C, which finalizes every open file.
    Serve,
    /// Configuration commands.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// The catalog of recordings.
    Catalog {
        #[command(subcommand)]
        command: CatalogCommand,
    },
    /// What was recorded.
    Recordings {
        #[command(subcommand)]
        command: RecordingsCommand,
    },
    /// Custom indexes: an m3u8 over any time range.
    Index {
        #[command(subcommand)]
        command: IndexCommand,
    },
    /// Export a time range as one regular MP4, losslessly (no re-encoding): it starts
    /// exactly at --start even between key frames.
    Export {
        #[arg(long)]
        app: String,
        #[arg(long)]
        stream: String,
        /// RFC 3339, like 2026-11-24T20:15:00Z.
        #[arg(long)]
        start: String,
        #[arg(long)]
        end: String,
        /// The MP4 to write.
        #[arg(short, long)]
        output: PathBuf,
        /// Put recordings back to back instead of keeping the time between them.
        #[arg(long)]
        close_gaps: bool,
        /// Progress as JSON lines on stdout (`{"event":"progress",...}`), then one
        /// `{"event":"done",...}` with the clip's path, duration, frames and bytes.
        #[arg(long)]
        json: bool,
    },
    /// A JPEG of the key frame at or before --at (from the recorded HLS segments; H.264),
    /// without ffmpeg. Cached under the data folder.
    Thumbnail {
        #[arg(long)]
        app: String,
        #[arg(long)]
        stream: String,
        /// RFC 3339, like 2026-11-24T20:15:00Z.
        #[arg(long)]
        at: String,
        #[arg(short, long)]
        output: PathBuf,
        /// Pixels wide (the height follows the picture's shape).
        #[arg(long, default_value_t = 320)]
        width: u32,
    },
    /// Live streams on the running server (or app): source, codecs, resolution, frame
    /// rate, key-frame interval, bitrate, time recorded, template and health warnings.
    Streams {
        /// One JSON array of streams (the fields are a stable contract).
        #[arg(long)]
        json: bool,
        /// Refresh every second until Ctrl-C (with --json: one array per line).
        #[arg(long)]
        watch: bool,
    },
    /// Stop or start recording a live stream on the running server (it stays connected).
    Record {
        #[command(subcommand)]
        action: RecordAction,
    },
    /// Chapter markers in a live recording (MP4, FLV, HLS and the catalog).
    Chapter {
        #[command(subcommand)]
        command: ChapterCommand,
    },
    /// Buckets: list the profiles, store their keys in the OS keyring, check them.
    Storage {
        #[command(subcommand)]
        command: StorageCommand,
    },
    /// The upload queue: per file state, size, progress, rate, retries and last error.
    Uploads {
        /// Include files already uploaded.
        #[arg(long)]
        all: bool,
        /// At most this many rows, newest first.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Post-recording commands ([[template.run]]): state, exit code, duration, and the
    /// last lines of output of those that failed.
    Runs {
        /// At most this many rows, newest first.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum StorageCommand {
    /// The storage profiles, where their keys come from, and the templates using them.
    List,
    /// Store a profile's access key id and secret in the OS keyring (asked without echo).
    Login {
        /// The profile's name.
        name: String,
        /// The access key id (else asked for).
        #[arg(long)]
        access_key_id: Option<String>,
        /// Read the secret from one line of standard input (scripts) instead of asking.
        #[arg(long)]
        secret_stdin: bool,
    },
    /// Remove a profile's keys from the OS keyring.
    Logout { name: String },
    /// Upload files or folders now, through the same durable queue as recordings (files
    /// made before a profile existed, a backfill): each file goes under --key-prefix plus
    /// its path relative to the folder given. Waits until the bucket confirmed them all.
    Upload {
        name: String,
        /// Files or folders (folders are walked recursively).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Prepended to each key (after the profile's own prefix), like "backfill/".
        #[arg(long, default_value = "")]
        key_prefix: String,
        /// Progress as JSON lines on stdout (`{"event":"progress","unit":"bytes",...}`),
        /// then `{"event":"done",...}`.
        #[arg(long)]
        json: bool,
    },
    /// List the account's buckets, check the profile's bucket, write and read back a
    /// probe object; exits non-zero when the profile cannot take uploads.
    Test {
        name: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum CatalogCommand {
    /// Recreate the catalog from the recordings folder alone (stop `tapedeck serve` first:
    /// files it finishes meanwhile would be missing until the next rebuild).
    Rebuild,
    /// Add what a storage profile's bucket holds (recordings from any machine that uploads
    /// there): reads playlists and the tags of MP4/FLV files, never the media; run it again
    /// to add only what is new.
    Import {
        /// The storage profile whose bucket to read.
        profile: String,
        /// Progress and the report as JSON lines.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum RecordingsCommand {
    /// One row per recording of a stream between two times (RFC 3339).
    Spans {
        #[arg(long)]
        app: String,
        #[arg(long)]
        stream: String,
        #[arg(long)]
        start: String,
        #[arg(long)]
        end: String,
        /// JSON for scripts instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum IndexCommand {
    /// Write an m3u8 over every segment of a stream between two times (RFC 3339); prints
    /// its record as JSON.
    Create {
        #[arg(long)]
        app: String,
        #[arg(long)]
        stream: String,
        #[arg(long)]
        start: String,
        #[arg(long)]
        end: String,
        /// Name template of the index (default {AppName}/{StreamName}/{Date}/{Hour}/{Minute}_{Second}).
        #[arg(long)]
        object: Option<String>,
    },
    /// Custom indexes by creation time.
    List {
        #[arg(long, default_value_t = 1)]
        page: u32,
        #[arg(long, default_value_t = 50)]
        per_page: u32,
        /// Newest first.
        #[arg(long)]
        desc: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ChapterCommand {
    /// Mark a chapter now, at the live edge of a stream being recorded.
    Add {
        #[arg(long)]
        app: String,
        #[arg(long)]
        stream: String,
        /// What the chapter is called (shown by players).
        #[arg(long)]
        title: String,
    },
}

#[derive(Subcommand)]
enum RecordAction {
    /// Record the stream again, into new files.
    Start(StreamName),
    /// Stop recording the stream now: its open files are finished.
    Stop(StreamName),
}

/// `--app A --stream S`.
#[derive(clap::Args)]
struct StreamName {
    #[arg(long)]
    app: String,
    #[arg(long)]
    stream: String,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate the configuration and show what a stream would be recorded as.
    Check {
        /// AppName of a sample stream.
        #[arg(long, default_value = "live")]
        app: String,
        /// StreamName of a sample stream.
        #[arg(long, default_value = "cam1")]
        stream: String,
        /// One JSON object: the file, the recordings folder, and the name preview (the
        /// template that applies, why, and the keys a stream starting now would get).
        #[arg(long)]
        json: bool,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TAPEDECK_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let (config, path) = load_config(cli.config.as_deref())?;
    let source = path.as_ref().map_or_else(
        || "embedded defaults (no tapedeck.toml here)".to_string(),
        |p| p.display().to_string(),
    );
    match cli.command {
        Command::Serve => {
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            runtime.block_on(serve::serve(config, path, source))
        }
        Command::Recordings {
            command:
                RecordingsCommand::Spans {
                    app,
                    stream,
                    start,
                    end,
                    json,
                },
        } => query::spans(&config, &app, &stream, &start, &end, json),
        Command::Index {
            command:
                IndexCommand::Create {
                    app,
                    stream,
                    start,
                    end,
                    object,
                },
        } => query::create_index(&config, &app, &stream, &start, &end, object),
        Command::Index {
            command:
                IndexCommand::List {
                    page,
                    per_page,
                    desc,
                    json,
                },
        } => query::list_indexes(&config, page, per_page, desc, json),
        Command::Catalog {
            command: CatalogCommand::Rebuild,
        } => query::rebuild(&config),
        Command::Catalog {
            command: CatalogCommand::Import { profile, json },
        } => query::import(&config, &profile, json),
        Command::Export {
            app,
            stream,
            start,
            end,
            output,
            close_gaps,
            json,
        } => query::export(
            &config,
            query::ExportArgs {
                app,
                stream,
                start,
                end,
                output,
                close_gaps,
                json,
            },
        ),
        Command::Chapter {
            command: ChapterCommand::Add { app, stream, title },
        } => {
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            let mark = runtime.block_on(control::request_chapter(
                &config.control.listen,
                &config.data_dir,
                &app,
                &stream,
                &title,
            ))?;
            println!(
                "{app}/{stream}: chapter {:?} at {}",
                mark.title,
                mark.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            );
            Ok(())
        }
        Command::Thumbnail {
            app,
            stream,
            at,
            output,
            width,
        } => query::thumbnail(&config, &app, &stream, &at, &output, width),
        Command::Streams { json, watch } => {
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            runtime.block_on(streams::run(&config, json, watch))
        }
        Command::Record { action } => {
            let (on, app, stream) = match action {
                RecordAction::Start(StreamName { app, stream }) => (true, app, stream),
                RecordAction::Stop(StreamName { app, stream }) => (false, app, stream),
            };
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            runtime.block_on(control::request_record(
                &config.control.listen,
                &config.data_dir,
                &app,
                &stream,
                on,
            ))?;
            println!(
                "{app}/{stream}: recording {}",
                if on { "started" } else { "stopped" }
            );
            Ok(())
        }
        Command::Config {
            command: ConfigCommand::Check { app, stream, json },
        } => {
            if json {
                let preview = tapedeck_engine::settings::preview(&config, &app, &stream, None);
                println!(
                    "{}",
                    serde_json::json!({
                        "config": source,
                        "ok": true,
                        "recordings_dir": config.recordings_dir(),
                        "preview": preview,
                    })
                );
                Ok(())
            } else {
                check(&config, &source, &app, &stream)
            }
        }
        Command::Storage { command } => match command {
            StorageCommand::List => storage::list(&config),
            StorageCommand::Login {
                name,
                access_key_id,
                secret_stdin,
            } => storage::login(&config, &name, access_key_id, secret_stdin),
            StorageCommand::Logout { name } => storage::logout(&config, &name),
            StorageCommand::Upload {
                name,
                paths,
                key_prefix,
                json,
            } => storage::upload(&config, &name, &paths, &key_prefix, json),
            StorageCommand::Test { name, json } => {
                if storage::test(&config, &name, json)? {
                    Ok(())
                } else {
                    std::process::exit(1)
                }
            }
        },
        Command::Uploads { all, limit, json } => storage::uploads(&config, all, json, limit),
        Command::Runs { limit, json } => runs::list(&config, json, limit),
    }
}

/// Loads `--config`, else `./tapedeck.toml` when present, else the embedded defaults.
/// Returns the config and the file it came from.
fn load_config(path: Option<&Path>) -> Result<(Config, Option<PathBuf>)> {
    let path = match path {
        Some(p) => Some(p.to_owned()),
        None => Some(PathBuf::from("tapedeck.toml")).filter(|p| p.exists()),
    };
    match path {
        Some(p) => Ok((Config::load(&p)?, Some(p))),
        None => Ok((Config::default(), None)),
    }
}

fn check(config: &Config, source: &str, app: &str, stream: &str) -> Result<()> {
    println!("configuration: {source}: OK");
    println!("recordings folder: {}", config.recordings_dir().display());
    match config.template_for(app, stream) {
        None => println!("{app}/{stream}: no template matches; this stream would not be recorded"),
        Some(t) => {
            let now = chrono::Utc::now();
            let names = tapedeck_recorder::naming::NameContext {
                app,
                stream,
                start: now,
                end: Some(now + chrono::Duration::hours(1)),
                segment_start: None,
                sequence: 0,
                tz: t.tz(),
            };
            println!(
                "{app}/{stream}: template app={:?} stream={:?}",
                t.app, t.stream
            );
            println!("  interruption window: {}", t.interruption_window);
            println!("  time zone: {}", t.timezone);
            for f in &t.formats {
                use tapedeck_recorder::config::Format;
                use tapedeck_recorder::naming::render;
                match f {
                    Format::M3u8 => {
                        println!(
                            "  m3u8 playlist: {}",
                            render(&t.m3u8.object, &names, "m3u8")
                        );
                        println!(
                            "  ts segments:   {} (every {}, cycle {})",
                            render(&t.m3u8.slice_object, &names, "ts"),
                            t.m3u8.slice_duration,
                            t.m3u8.cycle
                        );
                    }
                    Format::Mp4 => println!(
                        "  mp4: {} (cycle {})",
                        render(&t.mp4.object, &names, "mp4"),
                        t.mp4.cycle
                    ),
                    Format::Flv => println!(
                        "  flv: {} (cycle {})",
                        render(&t.flv.object, &names, "flv"),
                        t.flv.cycle
                    ),
                }
            }
            for line in runs::describe(t) {
                println!("{line}");
            }
        }
    }
    Ok(())
}
