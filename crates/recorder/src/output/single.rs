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
use crate::files::{rename_into_place, with_suffix, InPlaceFs, PartFile};
use crate::naming::{render, NameContext};
use crate::sink::CatalogRow;
use crate::tags::FileTag;

/// Files finalized at once, across every recording.
static FINALIZE_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// What a finalizer reports.
pub struct Finalized {
    pub duration: MediaTime,
    pub bytes: u64,
}

/// A container written as one growing file.
pub trait FileFormat: Send + Sized + 'static {
    const FORMAT: Format;
    const KIND: FileKind;
    /// What the writer knows of the file it wrote that spares the finalizer reading it.
    type Known: Send + 'static;
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
    /// Marks a chapter at `at`: appends what the file carries for it to `out`, which is
    /// written out at once (between two [`FileFormat::take`]s).
    fn chapter(&mut self, at: MediaTime, title: &str, out: &mut Vec<u8>);
    /// Writes the final file, tagged with `tag` when given.
    fn finalize(
        input: BufReader<File>,
        output: BufWriter<File>,
        tag: Option<&FileTag>,
    ) -> Result<Finalized, String>;
    /// What this writer knows of its file, once [`FileFormat::finish`] wrote its end.
    fn known(&self) -> Option<Self::Known> {
        None
    }
    /// Finalizes `file` where it lies, tagged with `tag` when given (using what the writer
    /// knew of it, when given); `Ok(None)` when the format or the file system cannot
    /// (nothing was changed: copy with [`FileFormat::finalize`] instead).
    fn finalize_in_place(
        _file: InPlaceFs,
        _tag: Option<&FileTag>,
        _known: Option<Self::Known>,
    ) -> Result<Option<Finalized>, String> {
        Ok(None)
    }
    /// The tag of a file of this format (final or `.part`); `None` when it has none.
    fn read_tag(path: &Path) -> Result<Option<FileTag>, String>;
}

struct OpenFile<F> {
    format: F,
    file: PartFile,
    extent: Extent,
    /// The extent of what the last successful flush handed to the OS (what a full disk's
    /// salvage keeps).
    committed: Extent,
    buf: Vec<u8>,
}

pub struct SingleFileOutput<F: FileFormat> {
    ctx: OutputContext,
    opts: FileOptions,
    open: Option<OpenFile<F>>,
    sequence: u64,
    tracks_changed: bool,
    /// Chapters marked before the first file opened.
    pending_chapters: Vec<(MediaTime, String)>,
}

impl<F: FileFormat> SingleFileOutput<F> {
    pub fn new(ctx: OutputContext, opts: FileOptions) -> Self {
        SingleFileOutput {
            ctx,
            opts,
            open: None,
            sequence: 0,
            tracks_changed: false,
            pending_chapters: Vec::new(),
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
        let mut open = OpenFile {
            format,
            file,
            extent: Extent::new(at),
            committed: Extent::new(at),
            buf,
        };
        for (at, title) in std::mem::take(&mut self.pending_chapters) {
            Self::mark(&mut open, at, &title)?;
        }
        self.open = Some(open);
        self.tracks_changed = false;
        Ok(())
    }

    /// Writes a chapter's mark, and whatever was waiting before it, to the OS at once.
    fn mark(open: &mut OpenFile<F>, at: MediaTime, title: &str) -> Result<(), OutputError> {
        open.format.chapter(at, title, &mut open.buf);
        let path = open.file.path().to_owned();
        open.file.write(&open.buf).map_err(OutputError::io(&path))?;
        open.file.flush().map_err(OutputError::io(&path))?;
        open.committed = open.extent;
        open.buf.clear();
        Ok(())
    }

    fn finish_file(&mut self, jobs: &mut Vec<FileJob>) -> Result<(), OutputError> {
        self.finish_file_as(jobs, false)
    }

    /// Finishes the open file; `salvaged`: after [`Output::salvage`] cut it back to what
    /// was flushed whole, so nothing more is written to it (the writer's unflushed media
    /// and its idea of the file are left behind; the finalizer reads the file itself).
    fn finish_file_as(
        &mut self,
        jobs: &mut Vec<FileJob>,
        salvaged: bool,
    ) -> Result<(), OutputError> {
        let known = match self.open.as_mut() {
            None => return Ok(()),
            Some(open) if salvaged => {
                if open.extent.end <= open.extent.start {
                    // Not one frame reached the disk: nothing to finish.
                    let part = open.file.path().to_owned();
                    self.open = None;
                    let _ = std::fs::remove_file(&part);
                    return Ok(());
                }
                None
            }
            Some(open) => {
                // `buf` may still hold tags written since the last flush: they go out
                // first. Written while the file is still open here: when that fails (a
                // full disk), `salvage` cuts it back and finishes it.
                let part = open.file.path().to_owned();
                let data = open.format.finish(&mut open.buf);
                let written = write_batched(&mut open.file, &mut open.buf, &data)
                    .and_then(|()| open.file.flush())
                    .map_err(OutputError::io(&part));
                if let Err(e) = written {
                    // Anything else than a full disk: the file is left as it is (a
                    // `.part` the next start recovers); the next frame opens a new one.
                    if !e.is_disk_full() {
                        self.open = None;
                    }
                    return Err(e);
                }
                open.committed = open.extent;
                open.format.known()
            }
        };
        let Some(open) = self.open.take() else {
            return Ok(());
        };
        let part = open.file.path().to_owned();
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
        let stop = self.ctx.finisher.stop();
        let dir = self.ctx.root.join(&key);
        let dir = dir.parent().unwrap_or(&self.ctx.root).to_owned();
        let shown = part.clone();
        let finish = move |known: Option<F::Known>| {
            let dest = ctx.root.join(&key);
            if let Some(dir) = dest.parent() {
                crate::files::create_dir_within(&ctx.root, dir).map_err(OutputError::io(dir))?;
            }
            let finalized = finalize_into_by::<F>(&part, &dest, Some(&tag), ctx.in_place, known)?;
            let row = tapedeck_catalog::File {
                recording: tag.recording.clone(),
                app: tag.app.clone(),
                stream: tag.stream.clone(),
                kind: F::KIND,
                key: key.clone(),
                start_ms,
                end_ms,
                bytes: finalized.bytes,
            };
            let file = FinishedFile {
                app: ctx.app.clone(),
                stream: ctx.stream.clone(),
                format: F::FORMAT,
                kind: F::KIND,
                key: key.clone(),
                path: dest,
                start: ctx.wall(extent.start),
                end: ctx.wall(extent.end),
                duration: finalized.duration.as_secs_f64(),
                bytes: finalized.bytes,
            };
            ctx.finished(file, CatalogRow::File(row), Vec::new());
            Ok(())
        };
        let finish = std::sync::Arc::new(finish);
        jobs.push(tokio::spawn(async move {
            let mut known = known;
            loop {
                // Many streams ending at once (a server's shutdown, a scheduled event)
                // would start a blocking thread and its buffers per file; a few at a time
                // finish as soon (finalizing in place takes milliseconds) without that
                // peak.
                let slot = FINALIZE_SLOTS
                    .acquire()
                    .await
                    .map_err(|e| OutputError::Join(e.to_string()))?;
                let (f, k) = (finish.clone(), known.take());
                let result = tokio::task::spawn_blocking(move || f(k))
                    .await
                    .map_err(|e| OutputError::Join(e.to_string()))?;
                drop(slot);
                // A full disk: the `.part` is whole; finish it once there is room (a
                // recording that stopped for it waits for the same), or at the next start.
                let Err(OutputError::NoRoom { needed, free, .. }) = &result else {
                    return result;
                };
                if stop.is_cancelled() {
                    return result;
                }
                tracing::warn!(
                    "{} waits for {} of free space to be finished ({} free); it stays as it is until then, or until the next start",
                    shown.display(),
                    tapedeck_config::ByteSize(*needed),
                    tapedeck_config::ByteSize(*free)
                );
                if !crate::space::wait_for_room(&dir, *needed, &stop).await {
                    return result;
                }
            }
        }));
        Ok(())
    }

    fn flush(open: &mut OpenFile<F>) -> Result<(), OutputError> {
        let data = open.format.take(&mut open.buf);
        if !open.buf.is_empty() || !data.is_empty() {
            let path = open.file.path().to_owned();
            write_batched(&mut open.file, &mut open.buf, &data).map_err(OutputError::io(&path))?;
            open.file.flush().map_err(OutputError::io(&path))?;
            open.committed = open.extent;
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

/// Finalizes the `.part` file `part` into `dest`, tagged with `tag` when given.
///
/// Where the format and the file system allow, the `.part` file is finalized where it lies
/// and renamed (no copy of the media); otherwise the final file is written next to it as
/// `.finalizing`, then renamed, and the `.part` file removed after that rename. Either way
/// the final name only ever holds a complete file. `in_place = false` always copies (a
/// way around a file system that misbehaves: the CLI's `TAPEDECK_FINALIZE_IN_PLACE=0`).
pub fn finalize_into<F: FileFormat>(
    part: &Path,
    dest: &Path,
    tag: Option<&FileTag>,
    in_place: bool,
) -> Result<Finalized, OutputError> {
    finalize_into_by::<F>(part, dest, tag, in_place, None)
}

/// [`finalize_into`], trying in place only when `in_place` says so, with what the writer
/// knew of the file when given.
pub fn finalize_into_by<F: FileFormat>(
    part: &Path,
    dest: &Path,
    tag: Option<&FileTag>,
    in_place: bool,
    known: Option<F::Known>,
) -> Result<Finalized, OutputError> {
    let size = std::fs::metadata(part).map_or(0, |m| m.len());
    let dir = dest.parent().unwrap_or(Path::new("."));
    // What finishing needs when the disk is full: in place, room for the header (a
    // hundredth of the file is far more than an MP4's moov or an FLV's index); a copy,
    // the whole file again.
    let no_room = |needed: u64| OutputError::NoRoom {
        path: part.to_owned(),
        needed,
        free: crate::space::disk_space(dir).map_or(0, |s| s.free_bytes),
    };
    let header_room = size / 100 + (1 << 20);
    if in_place {
        let file = InPlaceFs::open(part).map_err(OutputError::io(part))?;
        let done = F::finalize_in_place(file, tag, known).map_err(|detail| {
            if crate::space::mentions_disk_full(&detail) {
                no_room(header_room)
            } else {
                OutputError::Format {
                    path: part.to_owned(),
                    detail,
                }
            }
        })?;
        if let Some(finalized) = done {
            rename_into_place(part, dest).map_err(OutputError::io(dest))?;
            return Ok(finalized);
        }
    }
    let copy_room = size + header_room;
    if crate::space::disk_space(dir).is_ok_and(|s| s.free_bytes < copy_room) {
        // Not even tried: it would fill the disk and fail, taking the room other
        // recordings are writing into.
        return Err(no_room(copy_room));
    }
    let tmp = with_suffix(dest, ".finalizing");
    let copied = (|| {
        let input = BufReader::new(File::open(part).map_err(OutputError::io(part))?);
        let output =
            BufWriter::new(crate::files::create_file(&tmp).map_err(OutputError::io(&tmp))?);
        F::finalize(input, output, tag).map_err(|detail| OutputError::Format {
            path: part.to_owned(),
            detail,
        })
    })();
    let finalized = match copied {
        Ok(f) => f,
        Err(e) => {
            // The `.part` is whole: a half copy is of no use (recovery would delete it).
            let _ = std::fs::remove_file(&tmp);
            return Err(if e.is_disk_full() {
                no_room(copy_room)
            } else {
                e
            });
        }
    };
    if let Err(e) = rename_into_place(&tmp, dest) {
        let _ = std::fs::remove_file(&tmp);
        return Err(OutputError::io(dest)(e));
    }
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

    /// Cuts the file back to its last flush (whole fragments or tags) and finalizes that.
    fn salvage(&mut self, jobs: &mut Vec<FileJob>) -> Result<(), OutputError> {
        if let Some(open) = self.open.as_mut() {
            open.buf.clear();
            let path = open.file.path().to_owned();
            open.file.rollback().map_err(OutputError::io(&path))?;
            open.extent = open.committed;
        }
        self.finish_file_as(jobs, true)
    }

    fn chapter(&mut self, at: MediaTime, title: &str) -> Result<(), OutputError> {
        match self.open.as_mut() {
            Some(open) => Self::mark(open, at, title),
            None => {
                self.pending_chapters.push((at, title.to_owned()));
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use tapedeck_media::flv::reader::FlvReader;
    use tapedeck_media::flv::tag::TagDecoder;
    use tapedeck_media::{MediaEvent, Tracks};

    use super::*;
    use crate::output::flv::Flv;
    use crate::output::mp4::Mp4;

    const FIXTURE: &[u8] = include_bytes!("../../../../tests/fixtures/h264_aac_2s.flv");

    fn tag(end_ms: Option<i64>) -> FileTag {
        FileTag {
            recording: "live/cam1/1795515330000".into(),
            app: "live".into(),
            stream: "cam1".into(),
            start_ms: 1_795_515_330_000,
            end_ms,
        }
    }

    /// The fixture's frames as a `.part` file of format `F` at `path`, written as the
    /// recorder does.
    fn write_part<F: FileFormat>(path: &Path) -> Option<F::Known> {
        let mut tags = Vec::new();
        FlvReader::new().push(FIXTURE, &mut tags).unwrap();
        let mut dec = TagDecoder::new();
        let mut events = Vec::new();
        for t in tags {
            let body = Bytes::from(t.body.to_vec());
            match t.kind {
                8 => dec.audio(t.ts_ms, body, &mut events).unwrap(),
                9 => dec.video(t.ts_ms, body, &mut events).unwrap(),
                _ => {}
            }
        }
        let mut tracks = Tracks::default();
        let mut writer: Option<F> = None;
        let mut out = Vec::new();
        for ev in events {
            match ev {
                MediaEvent::VideoConfig(c) => tracks.video = Some(c),
                MediaEvent::AudioConfig(c) => tracks.audio = Some(c),
                MediaEvent::Frame(f) => {
                    let w = writer.get_or_insert_with(|| {
                        let mut w = F::new(&tracks, &tag(None)).unwrap();
                        w.header(&mut out);
                        w
                    });
                    if w.ready(is_cut_point(&f, &tracks)) {
                        for b in w.take(&mut out) {
                            out.extend_from_slice(&b);
                        }
                    }
                    w.write_frame(&f, &mut out).unwrap();
                }
            }
        }
        let mut writer = writer.unwrap();
        for b in writer.finish(&mut out) {
            out.extend_from_slice(&b);
        }
        std::fs::write(path, out).unwrap();
        writer.known()
    }

    /// MP4: top-level box types. FLV: tag types.
    fn layout(path: &Path, mp4: bool) -> Vec<String> {
        let data = std::fs::read(path).unwrap();
        let mut kinds = Vec::new();
        if mp4 {
            let mut pos = 0;
            while pos + 8 <= data.len() {
                let size = u32::from_be_bytes(data[pos..pos + 4].try_into().unwrap()) as usize;
                kinds.push(String::from_utf8_lossy(&data[pos + 4..pos + 8]).into_owned());
                pos += size.max(8);
            }
        } else {
            let mut tags = Vec::new();
            FlvReader::new().push(&data, &mut tags).unwrap();
            kinds.extend(tags.iter().take(3).map(|t| t.kind.to_string()));
        }
        kinds
    }

    fn packets(path: &Path) -> String {
        let out = std::process::Command::new("ffprobe")
            .args(["-v", "error", "-count_packets"])
            .args([
                "-show_entries",
                "stream=codec_type,nb_read_packets",
                "-of",
                "csv=p=0",
            ])
            .arg(path)
            .output()
            .expect("ffprobe (a test peer) runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Whether the file system under `dir` inserts room (ext4 and XFS on Linux do).
    fn can_insert(dir: &Path) -> bool {
        use tapedeck_media::in_place::InPlaceFile;
        let probe = dir.join("probe");
        std::fs::write(&probe, vec![1u8; 1 << 16]).unwrap();
        let mut f = InPlaceFs::open(&probe).unwrap();
        let block = f.block_size();
        let ok = f.insert_front(block).is_ok();
        let _ = std::fs::remove_file(&probe);
        ok
    }

    /// Both ways to finalize give the same movie: in place where the file system can insert
    /// room (ext4 here), by copying where it cannot (or when told to).
    fn same_both_ways<F: FileFormat>(mp4: bool) {
        let dir = std::env::temp_dir().join(format!(
            "tapedeck-finalize-{}-{}",
            F::FORMAT.extension(),
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let tag = tag(Some(1_795_515_332_000));
        let ext = F::FORMAT.extension();
        let mut results = Vec::new();
        for in_place in [false, true] {
            let part = dir.join(format!("{in_place}.{ext}.part"));
            let dest = dir.join(format!("{in_place}.{ext}"));
            // In place with what the writer knew of the file (the recorder's way).
            let known = write_part::<F>(&part);
            let f = finalize_into_by::<F>(&part, &dest, Some(&tag), in_place, known).unwrap();
            assert!(!part.exists(), "the .part is gone once final");
            assert_eq!(f.bytes, std::fs::metadata(&dest).unwrap().len());
            assert_eq!(F::read_tag(&dest).unwrap(), Some(tag.clone()));
            let kinds = layout(&dest, mp4);
            let inserted = in_place && can_insert(&dir);
            match (mp4, inserted) {
                // The recording's bytes follow the header, its fragments renamed.
                (true, true) => {
                    assert_eq!(&kinds[..3], ["ftyp", "moov", "free"], "{kinds:?}");
                    assert!(!kinds.contains(&"moof".to_string()), "{kinds:?}");
                }
                (true, false) => assert_eq!(kinds, ["ftyp", "moov", "mdat"]),
                // The filler over the provisional header.
                (false, true) => assert_eq!(kinds, ["18", "15", "9"]),
                (false, false) => assert_eq!(kinds, ["18", "9", "8"]),
            }
            results.push((f.duration, packets(&dest)));
        }
        assert_eq!(results[0], results[1]);
        assert!(results[0].1.starts_with("video,60"), "{}", results[0].1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A `.part` an in-place finalize left half done (room inserted, nothing written in it)
    /// still tells its recording, and finishes into the same file.
    fn interrupted_part_keeps_its_tag<F: FileFormat>() {
        let dir = std::env::temp_dir().join(format!(
            "tapedeck-interrupted-{}-{}",
            F::FORMAT.extension(),
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let ext = F::FORMAT.extension();
        let part = dir.join(format!("a.{ext}.part"));
        write_part::<F>(&part);
        let data = std::fs::read(&part).unwrap();
        std::fs::write(&part, [vec![0u8; 4096], data].concat()).unwrap();
        assert_eq!(F::read_tag(&part).unwrap(), Some(tag(None)));
        let dest = dir.join(format!("a.{ext}"));
        finalize_into_by::<F>(
            &part,
            &dest,
            Some(&tag(Some(1_795_515_332_000))),
            true,
            None,
        )
        .unwrap();
        assert!(packets(&dest).starts_with("video,60"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn interrupted_parts_keep_their_tags() {
        interrupted_part_keeps_its_tag::<Mp4>();
        interrupted_part_keeps_its_tag::<Flv>();
    }

    #[test]
    fn mp4_finalized_in_place_or_by_copy_is_the_same() {
        same_both_ways::<Mp4>(true);
    }

    #[test]
    fn flv_finalized_in_place_or_by_copy_is_the_same() {
        same_both_ways::<Flv>(false);
    }
}
