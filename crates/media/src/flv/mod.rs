//! FLV: tag bodies (as RTMP carries them), the file reader, and the file writer.

pub mod amf0;
mod cue;
pub mod finalize;
mod in_place;
mod metadata;
pub mod reader;
mod scan;
pub mod tag;
pub mod writer;

#[cfg(test)]
mod peer_tests;
#[cfg(test)]
mod test_support;

pub use finalize::{finalize, finalize_with, FinalizeOptions, FlvSummary};
pub use in_place::{finalize_in_place, finalize_in_place_known};
pub use metadata::read_metadata;
pub use writer::{FlvError, FlvIndex, FlvWriter};
