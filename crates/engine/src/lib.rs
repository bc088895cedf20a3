//! The running engine as one handle: what `tapedeck serve` and the desktop app both drive.
//!
//! [`Engine::start`] does what `serve` does, in the same order (recovery before any stream
//! is accepted); [`Engine::shutdown`] finalizes every open file, lets uploads drain, and
//! returns when every task has ended. [`Engine::events`] is one typed, serializable event
//! stream; commands are methods returning [`EngineError`]. No printing: `tracing` only.

#![forbid(unsafe_code)]

pub mod archive;
mod commands;
pub mod control;
mod disk;
mod engine;
pub mod error;
pub mod events;
pub mod import;
pub mod live;
pub mod media;
mod reload;
pub mod remote;
pub mod runs;
pub mod settings;
pub mod storage;
pub mod thumbnail;
mod uploads;
mod watch;

pub use archive::{Archive, ExportQuery, IndexQuery};
pub use commands::{ChapterMark, StreamKey, MAX_CHAPTER_TITLE};
pub use disk::DiskStatus;
pub use engine::{Engine, EngineOptions};
pub use error::{EngineError, ErrorKind};
pub use events::{EngineEvent, EventStream};
pub use live::HealthChange;
pub use runs::RunEvent;
pub use storage::StorageCheck;
pub use tapedeck_recorder::stats::{Health, HealthKind, LiveAudio, LiveStream, LiveVideo};
pub use uploads::{drain as drain_uploads, queue_recovered, retention_scope};
