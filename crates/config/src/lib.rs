//! `tapedeck.toml` as data: the typed configuration and its validation, stream names and
//! the rule they pass, file name templates, storage profiles and the units they use.
//!
//! A leaf crate (serde, toml, chrono): the engine, the recorder, the ingest side and the
//! storage crate all read the same types, and none of them needs another to do so.

#![forbid(unsafe_code)]

pub mod config;
pub mod document;
pub mod duration;
pub mod names;
pub mod naming;
pub mod preview;
pub mod profile;
pub mod run;
pub mod units;

pub use config::{Config, ConfigError, Format, Problem, Template};
pub use duration::Secs;
pub use profile::{Provider, StorageProfile};
pub use units::{ByteRate, ByteSize, KeepLocal};
