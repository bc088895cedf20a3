//! Formats recorded as one file per recording (or per cycle): MP4 and FLV.
//!
//! Both write a self-contained `.part` file while recording (fragmented MP4; FLV without
//! its seek index), so a killed process leaves a playable file, and both are finalized
//! into their final form when the file ends: the work of [`FileFormat::finalize`], run on
//! the blocking pool.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;

use bytes::Bytes;
use tapedeck_media::{Frame, MediaTime, Tracks};

use super::{is_cut_point, Extent, FileJob, Output, OutputContext, OutputError, WRITE_BATCH};
use crate::config::{FileOptions, Format};
use crate::events::{FileKind, FinishedFile};
use crate::files::{rename_into_place, with_suffix, PartFile};
use crate::naming::{render, NameContext};
use crate::tags::FileTag;

/// What a finalizer reports.
pub struct Finalized {
    pub duration: MediaTime,
    pub bytes: u64,
}

/// A container written as one growing file.
pub trait FileFormat: Send + Sized + 'static {
    const FORMAT: Format;
    const KIND: FileKind;
    /// A writer whose file carries `tag` from its first bytes (a `.part` left by a crash
    /// still tells its recording).
    fn new(tracks: &Tracks, tag: &FileTag) -> Result<Self, String>;
    /// Bytes that start the file.
    fn header(&mut self, out: &mut Vec<u8>);
    fn write_frame(&mut self, frame: &Frame, out: &mut Vec<u8>) -> Result<(), String>;
    /// True when buffered bytes should go to disk now (bounds what a crash can lose).
    fn ready(&self, cut: bool) -> bool;
    /// Moves whatever is ready into `out`, plus buffers to write after it as they are
    /// (media the format holds by reference: copying it into `out` would keep a buffer of
    /// that size per stream for the life of the file).
    fn take(&mut self, out: &mut Vec<u8>) -> Vec<Bytes>;
    /// Flushes everything, at the end of the file (as [`FileFormat::take`]).
    fn finish(&mut self, out: &mut Vec<u8>) -> Vec<Bytes>;
    /// Writes the final file, tagged with `tag` when given.
    fn finalize(
        input: BufReader<File>,
        output: BufWriter<File>,
        tag: Option<&FileTag>,
    ) -> Result<Finalized, String>;
    /// The tag of a file of this format (final or `.part`); `None` when it has none.
    fn read_tag(path: &Path) -> Result<Option<FileTag>, String>;
}

struct OpenFile<F> {
    format: F,
    file: PartFile,
    extent: Extent,
    buf: Vec<u8>,
}

pub struct SingleFileOutput<F: FileFormat> {
    ctx: OutputContext,
    opts: FileOptions,
    open: Option<OpenFile<F>>,
    sequence: u64,
    tracks_changed: bool,
}

impl<F: FileFormat> SingleFileOutput<F> {
    pub fn new(ctx: OutputContext, opts: FileOptions) -> Self {
        SingleFileOutput {
            ctx,
            opts,
            open: None,
            sequence: 0,
            tracks_changed: false,
        }
    }

    fn key(&self, start: MediaTime, end: Option<MediaTime>) -> String {
        let names = NameContext {
            app: &self.ctx.app,
            stream: &self.ctx.stream,
            start: self.ctx.wall(start),
            end: end.map(|e| self.ctx.wall(e)),
            segment_start: None,
            sequence: self.sequence,
            tz: self.ctx.tz,
        };
        render(&self.opts.object, &names, F::FORMAT.extension())
    }

    /// The tag of a file starting at `start`, without its end (not known yet).
    fn tag(&self, start: MediaTime) -> FileTag {
        FileTag {
            recording: self.ctx.recording.clone(),
            app: self.ctx.app.clone(),
            stream: self.ctx.stream.clone(),
            start_ms: self.ctx.wall(start).timestamp_millis(),
            end_ms: None,
        }
    }

    fn open(&mut self, at: MediaTime, tracks: &Tracks) -> Result<(), OutputError> {
        let key = self.key(at, None);
        let path = self.ctx.root.join(&key);
        let mut format = F::new(tracks, &self.tag(at)).map_err(|detail| OutputError::Format {
            path: path.clone(),
            detail,
        })?;
        let mut file = PartFile::create(&self.ctx.root, &key).map_err(OutputError::io(&path))?;
        let mut buf = Vec::with_capacity(64 * 1024);
        format.header(&mut buf);
        file.write(&buf).map_err(OutputError::io(&path))?;
        buf.clear();
        self.open = Some(OpenFile {
            format,
            file,
            extent: Extent::new(at),
            buf,
        });
        self.tracks_changed = false;
        Ok(())
    }

    fn finish_file(&mut self, jobs: &mut Vec<FileJob>) -> Result<(), OutputError> {
        let Some(mut open) = self.open.take() else {
            return Ok(());
        };
        // `buf` may still hold tags written since the last flush: they go out first.
        let data = open.format.finish(&mut open.buf);
        let part = open.file.path().to_owned();
        write_batched(&mut open.file, &mut open.buf, &data).map_err(OutputError::io(&part))?;
        open.file.close().map_err(OutputError::io(&part))?;
        let key = self.key(open.extent.start, Some(open.extent.end));
        self.sequence += 1;
        let ctx = self.ctx.clone();
        let extent = open.extent;
        // The catalog row and the tag say the same: a rebuild gives back this row.
        let end_ms = self.ctx.wall(extent.end).timestamp_millis();
        let tag = FileTag {
            end_ms: Some(end_ms),
            ..self.tag(extent.start)
        };
        let start_ms = tag.start_ms;
        jobs.push(tokio::task::spawn_blocking(move || {
            let dest = ctx.root.join(&key);
            let finalized = finalize_into::<F>(&part, &dest, Some(&tag))?;
            if let Some(catalog) = &ctx.catalog {
                let row = tapedeck_catalog::File {
                    recording: tag.recording.clone(),
                    app: tag.app.clone(),
                    stream: tag.stream.clone(),
                    kind: F::FORMAT.extension().into(),
                    key: key.clone(),
                    start_ms,
                    end_ms,
                    bytes: finalized.bytes,
                };
                let upload = ctx.upload(&key, F::FORMAT.extension());
                if let Err(e) = catalog.add_file_queued(&row, upload.as_ref()) {
                    tracing::warn!("{e}");
                }
            }
            Ok(FinishedFile {
                app: ctx.app.clone(),
                stream: ctx.stream.clone(),
                format: F::FORMAT,
                kind: F::KIND,
                key,
                path: dest,
                start: ctx.wall(extent.start),
                end: ctx.wall(extent.end),
                duration: finalized.duration.as_secs_f64(),
                bytes: finalized.bytes,
            })
        }));
        Ok(())
    }

    fn flush(open: &mut OpenFile<F>) -> Result<(), OutputError> {
        let data = open.format.take(&mut open.buf);
        if !open.buf.is_empty() || !data.is_empty() {
            let path = open.file.path().to_owned();
            write_batched(&mut open.file, &mut open.buf, &data).map_err(OutputError::io(&path))?;
            open.file.flush().map_err(OutputError::io(&path))?;
            open.buf.clear();
            super::trim(&mut open.buf);
        }
        Ok(())
    }
}

/// Writes `buf` and then `data` in writes of about [`WRITE_BATCH`]: small pieces (a
/// fragment's frames) are gathered in `buf`, which never grows past one batch plus one
/// piece, and a piece of a batch or more goes out as it is. One write per frame would cost
/// a syscall each; one buffer per fragment would cost its size per stream. Leaves `buf`
/// empty.
fn write_batched(file: &mut PartFile, buf: &mut Vec<u8>, data: &[Bytes]) -> std::io::Result<()> {
    for d in data {
        if buf.len() + d.len() > WRITE_BATCH && !buf.is_empty() {
            file.write(buf)?;
            buf.clear();
        }
        if d.len() >= WRITE_BATCH {
            file.write(d)?;
        } else {
            buf.extend_from_slice(d);
        }
    }
    if !buf.is_empty() {
        file.write(buf)?;
        buf.clear();
    }
    Ok(())
}

/// Finalizes the `.part` file `part` into `dest`, tagged with `tag` when given: written
/// next to it as `.finalizing`, then renamed, so the final name only ever holds a complete
/// file. The `.part` file is removed only after that rename.
pub fn finalize_into<F: FileFormat>(
    part: &Path,
    dest: &Path,
    tag: Option<&FileTag>,
) -> Result<Finalized, OutputError> {
    let tmp = with_suffix(dest, ".finalizing");
    let finalized = {
        let input = BufReader::new(File::open(part).map_err(OutputError::io(part))?);
        let output = BufWriter::new(File::create(&tmp).map_err(OutputError::io(&tmp))?);
        F::finalize(input, output, tag).map_err(|detail| OutputError::Format {
            path: part.to_owned(),
            detail,
        })?
    };
    rename_into_place(&tmp, dest).map_err(OutputError::io(dest))?;
    std::fs::remove_file(part).map_err(OutputError::io(part))?;
    Ok(finalized)
}

impl<F: FileFormat> Output for SingleFileOutput<F> {
    fn write(
        &mut self,
        frame: &Frame,
        tracks: &Tracks,
        jobs: &mut Vec<FileJob>,
    ) -> Result<(), OutputError> {
        let cut = is_cut_point(frame, tracks);
        if let Some(open) = &self.open {
            let cycle = MediaTime::from_secs(self.opts.cycle.0 as i64);
            if cut && (frame.dts - open.extent.start >= cycle || self.tracks_changed) {
                self.finish_file(jobs)?;
            }
        }
        if self.open.is_none() {
            if !cut {
                return Ok(()); // a file must start with a key frame
            }
            self.open(frame.dts, tracks)?;
        }
        let Some(open) = self.open.as_mut() else {
            return Ok(());
        };
        if open.format.ready(cut) {
            Self::flush(open)?;
        }
        let path = open.file.path();
        open.format
            .write_frame(frame, &mut open.buf)
            .map_err(|detail| OutputError::Format {
                path: path.to_owned(),
                detail,
            })?;
        open.extent.add(frame, tracks);
        if open.buf.len() >= WRITE_BATCH {
            Self::flush(open)?;
        }
        Ok(())
    }

    fn tracks_changed(&mut self) {
        self.tracks_changed = true;
    }

    fn discontinuity(&mut self, _jobs: &mut Vec<FileJob>) -> Result<(), OutputError> {
        // One file per recording: the gap stays in the file's timeline.
        Ok(())
    }

    fn close(&mut self, jobs: &mut Vec<FileJob>) -> Result<(), OutputError> {
        self.finish_file(jobs)
    }
}
