//! FLV: tags appended while recording, `onMetaData` with the `keyframes` seek index
//! written when the file is finalized.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;

use bytes::Bytes;
use tapedeck_media::flv::{
    finalize_in_place_known, finalize_with, FinalizeOptions, FlvIndex, FlvWriter,
};
use tapedeck_media::in_place::InPlace;
use tapedeck_media::{Frame, MediaTime, Tracks};

use super::single::{FileFormat, Finalized, SingleFileOutput};
use crate::config::Format;
use crate::events::FileKind;
use crate::files::InPlaceFs;
use crate::tags::FileTag;

pub type FlvOutput = SingleFileOutput<Flv>;

pub struct Flv {
    writer: FlvWriter,
    /// DTS of the last frame written, and of the last one when the file was flushed.
    last: Option<MediaTime>,
    flushed: Option<MediaTime>,
}

/// Media written before the tags are handed to the OS, whatever the GOP: the same bound on
/// what a crash loses as the MP4's fragments.
const FLUSH_EVERY: MediaTime = tapedeck_media::mp4::fragment::FRAGMENT_TARGET;

impl FileFormat for Flv {
    const FORMAT: Format = Format::Flv;
    const KIND: FileKind = FileKind::Flv;
    type Known = FlvIndex;

    fn new(tracks: &Tracks, tag: &FileTag) -> Result<Self, String> {
        Ok(Flv {
            writer: FlvWriter::new(tracks).with_metadata(tag.flv_metadata()),
            last: None,
            flushed: None,
        })
    }

    fn header(&mut self, out: &mut Vec<u8>) {
        self.writer.header(out);
    }

    fn write_frame(&mut self, frame: &Frame, out: &mut Vec<u8>) -> Result<(), String> {
        self.last = Some(frame.dts);
        self.flushed.get_or_insert(frame.dts);
        self.writer
            .write_frame(frame, out)
            .map_err(|e| e.to_string())
    }

    /// Tags are complete as soon as they are written: hand them to the OS at each key frame
    /// and at least every half second of media.
    fn ready(&self, cut: bool) -> bool {
        cut || matches!((self.last, self.flushed), (Some(l), Some(f)) if l - f >= FLUSH_EVERY)
    }

    fn take(&mut self, _out: &mut Vec<u8>) -> Vec<Bytes> {
        self.flushed = self.last;
        Vec::new()
    }

    fn finish(&mut self, _out: &mut Vec<u8>) -> Vec<Bytes> {
        Vec::new()
    }

    /// An `onCuePoint` tag; the finalizer lists the chapters in `onMetaData`.
    fn chapter(&mut self, at: MediaTime, title: &str, out: &mut Vec<u8>) {
        self.writer.add_chapter(at, title, out);
    }

    fn finalize(
        input: BufReader<File>,
        output: BufWriter<File>,
        tag: Option<&FileTag>,
    ) -> Result<Finalized, String> {
        let options = FinalizeOptions {
            metadata: tag.map(FileTag::flv_metadata).unwrap_or_default(),
        };
        let s = finalize_with(input, output, &options).map_err(|e| e.to_string())?;
        Ok(Finalized {
            duration: s.duration,
            bytes: s.bytes,
        })
    }

    /// The writer's index of the file: the finalizer need not read the recording back.
    fn known(&self) -> Option<FlvIndex> {
        Some(self.writer.index())
    }

    fn finalize_in_place(
        file: InPlaceFs,
        tag: Option<&FileTag>,
        known: Option<FlvIndex>,
    ) -> Result<Option<Finalized>, String> {
        let options = FinalizeOptions {
            metadata: tag.map(FileTag::flv_metadata).unwrap_or_default(),
        };
        match finalize_in_place_known(file, &options, known.as_ref()).map_err(|e| e.to_string())? {
            InPlace::Done(s) => Ok(Some(Finalized {
                duration: s.duration,
                bytes: s.bytes,
            })),
            // No room for the room: not a file system that cannot, a full disk (the
            // caller waits for room rather than copying, which would need far more).
            InPlace::Unsupported(e) if crate::space::is_disk_full(&e) => {
                Err(format!("making room for the header: {e}"))
            }
            InPlace::Unsupported(e) => {
                tracing::debug!("finalizing FLV by copying: {e}");
                Ok(None)
            }
        }
    }

    fn read_tag(path: &Path) -> Result<Option<FileTag>, String> {
        FileTag::read_flv(path)
    }
}
