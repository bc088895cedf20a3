//! The recorder: templates, names, recording sessions with the interruption window,
//! and the writers that put HLS, MP4 and FLV files on disk.
//!
//! [`Recorder`] is the [`tapedeck_ingest::PublishSink`] every source publishes into; it
//! reports what it does as [`events::RecorderEvent`]s and never prints.

#![forbid(unsafe_code)]

pub mod callback;
pub use tapedeck_config::config;
pub use tapedeck_config::duration;
pub mod events;
pub mod export;
pub mod files;
mod hub;
pub mod index;
pub use tapedeck_config::naming;
pub mod on_demand;
pub mod output;
pub mod rebuild;
mod recording;
pub mod recover;
pub mod sink;
pub mod space;
pub mod stats;
pub mod tags;
pub mod uploads;
pub mod walk;

pub use config::Config;
pub use hub::{ControlError, Recorder, Registry, WallClock};
pub use recording::Attachment;
