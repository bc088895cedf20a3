//! FLV: tag bodies (as RTMP carries them), the file reader, and the file writer.

pub mod reader;
pub mod tag;
pub mod writer;
