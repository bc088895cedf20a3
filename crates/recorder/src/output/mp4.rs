//! MP4 through the crash-safe fragmented writer and its finalizer.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;

use bytes::Bytes;
use tapedeck_media::in_place::InPlace;
use tapedeck_media::mp4::{finalize_in_place, finalize_with, FinalizeOptions, Fmp4Writer};
use tapedeck_media::{Frame, MediaTime, Tracks};

use super::single::{FileFormat, Finalized, SingleFileOutput};
use crate::config::Format;
use crate::events::FileKind;
use crate::files::InPlaceFs;
use crate::tags::FileTag;

pub type Mp4Output = SingleFileOutput<Mp4>;

pub struct Mp4(Fmp4Writer);

impl FileFormat for Mp4 {
    const FORMAT: Format = Format::Mp4;
    const KIND: FileKind = FileKind::Mp4;
    type Known = ();

    fn new(tracks: &Tracks, tag: &FileTag) -> Result<Self, String> {
        Fmp4Writer::new(tracks)
            .map(|w| Mp4(w.with_user_data(tag.mp4_user_data())))
            .map_err(|e| e.to_string())
    }

    fn header(&mut self, out: &mut Vec<u8>) {
        self.0.init_segment(out);
    }

    fn write_frame(&mut self, frame: &Frame, _out: &mut Vec<u8>) -> Result<(), String> {
        self.0.push(frame.clone()).map_err(|e| e.to_string())
    }

    /// A fragment closes before every video key frame and after half a second of media,
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

    /// An `emsg` box between fragments; the finalizer makes the chapter track of them.
    fn chapter(&mut self, at: MediaTime, title: &str, out: &mut Vec<u8>) {
        self.0.add_chapter(at, title, out);
    }

    fn finalize(
        input: BufReader<File>,
        output: BufWriter<File>,
        tag: Option<&FileTag>,
    ) -> Result<Finalized, String> {
        let options = FinalizeOptions {
            user_data: tag.map(FileTag::mp4_user_data).unwrap_or_default(),
            ..FinalizeOptions::default()
        };
        let s = finalize_with(input, output, &options).map_err(|e| e.to_string())?;
        Ok(Finalized {
            duration: s.duration,
            bytes: s.bytes,
        })
    }

    fn finalize_in_place(
        file: InPlaceFs,
        tag: Option<&FileTag>,
        _known: Option<()>,
    ) -> Result<Option<Finalized>, String> {
        let options = FinalizeOptions {
            user_data: tag.map(FileTag::mp4_user_data).unwrap_or_default(),
            ..FinalizeOptions::default()
        };
        match finalize_in_place(file, &options).map_err(|e| e.to_string())? {
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
                tracing::debug!("finalizing MP4 by copying: no room can be inserted ({e})");
                Ok(None)
            }
        }
    }

    fn read_tag(path: &Path) -> Result<Option<FileTag>, String> {
        FileTag::read_mp4(path)
    }
}
