//! Sources of live streams: the RTMP server that publishers push to, and remote pulls.
//!
//! Every source turns its protocol into [`tapedeck_media::MediaEvent`]s and hands them to
//! a [`PublishSink`] (the recorder) through a bounded [`MediaSender`].

#![forbid(unsafe_code)]

/// Stream names and the rule they pass (shared with the configuration).
pub use tapedeck_config::names;
pub mod publish;
pub mod pull;
pub mod redact;
pub mod rtmp;

pub use publish::{Closed, MediaSender, Publication, PublishRequest, PublishSink, Refusal};
