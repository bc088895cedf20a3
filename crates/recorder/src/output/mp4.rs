//! MP4 through the crash-safe fragmented writer and its finalizer.

use std::fs::File;
use std::io::{BufReader, BufWriter};

use bytes::Bytes;
use tapedeck_media::mp4::finalize::finalize;
use tapedeck_media::mp4::fragment::Fmp4Writer;
use tapedeck_media::{Frame, Tracks};

use super::single::{FileFormat, Finalized, SingleFileOutput};
use crate::config::Format;
use crate::events::FileKind;

pub type Mp4Output = SingleFileOutput<Mp4>;

pub struct Mp4(Fmp4Writer);

impl FileFormat for Mp4 {
    const FORMAT: Format = Format::Mp4;
    const KIND: FileKind = FileKind::Mp4;

    fn new(tracks: &Tracks) -> Result<Self, String> {
        Fmp4Writer::new(tracks).map(Mp4).map_err(|e| e.to_string())
    }

    fn header(&mut self, out: &mut Vec<u8>) {
        self.0.init_segment(out);
    }

    fn write_frame(&mut self, frame: &Frame, _out: &mut Vec<u8>) -> Result<(), String> {
        self.0.push(frame.clone()).map_err(|e| e.to_string())
    }

    /// A fragment closes before every video key frame and after about a second of media,
    /// which bounds what a crash can lose.
    fn ready(&self, cut: bool) -> bool {
        cut || self.0.ready_for_fragment()
    }

    fn take(&mut self, out: &mut Vec<u8>) -> Vec<Bytes> {
        self.0.take_fragment_parts(out).unwrap_or_default()
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Vec<Bytes> {
        self.0.finish_parts(out).unwrap_or_default()
    }

    fn finalize(input: BufReader<File>, output: BufWriter<File>) -> Result<Finalized, String> {
        let s = finalize(input, output).map_err(|e| e.to_string())?;
        Ok(Finalized {
            duration: s.duration,
            bytes: s.bytes,
        })
    }
}
