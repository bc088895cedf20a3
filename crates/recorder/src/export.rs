//! Lossless clip export: the recorded segments of a time range remuxed into one regular
//! MP4 (moov first), never re-encoded.
//!
//! A start between key frames is handled the way Moonfire NVR does it: the clip's media
//! begins at the key frame before the start (so it decodes), and an edit list makes
//! players begin presenting exactly at the requested time. The end is cut the same way.
//! Gaps inside the range (between recordings, or a resume) are kept as gaps in the
//! timeline, or closed with `close_gaps`.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use tapedeck_catalog::Catalog;
use tapedeck_media::mp4::{finalize_with_data, FinalizeOptions, Fmp4Writer, SampleData};
use tapedeck_media::ts::demux::TsDemuxer;
use tapedeck_media::{Frame, MediaEvent, MediaTime, Tracks};

use crate::files::{with_suffix, Locate};

/// Time between segments beyond which `close_gaps` removes it (segment edges of one
/// recording are within a frame of each other).
const GAP: MediaTime = MediaTime::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("the end ({end}) must be after the start ({start})")]
    EndBeforeStart {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    },
    #[error("nothing of {app}/{stream} was recorded between {start} and {end}")]
    Empty {
        app: String,
        stream: String,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    },
    #[error("{path}: {detail}")]
    Segment { path: String, detail: String },
    #[error("writing {path}: {detail}")]
    Write { path: String, detail: String },
    #[error("{0}")]
    Catalog(#[from] tapedeck_catalog::CatalogError),
    #[error("the export was cancelled; nothing was written")]
    Cancelled,
}

#[derive(Clone, Debug)]
pub struct ExportRequest {
    pub app: String,
    pub stream: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub output: PathBuf,
    /// Put segments back to back instead of keeping the time between them.
    pub close_gaps: bool,
    /// The stream's chapters (wall-clock start, title): those that start inside the range
    /// are kept, on the clip's timeline (one in a gap that `close_gaps` removes starts
    /// where the gap was). Default: none.
    pub chapters: Vec<(DateTime<Utc>, String)>,
}

/// Progress, for a bar in the CLI or the app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    pub segments_done: usize,
    pub segments_total: usize,
}

/// What the clip holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Exported {
    pub path: PathBuf,
    pub duration: f64,
    /// Video samples stored, the lead-in of the first GOP included (it is decoded, not
    /// shown: the edit list starts the clip at its first frame).
    pub video_frames: u64,
    /// Video frames a player shows.
    pub shown_video_frames: u64,
    pub audio_frames: u64,
    pub bytes: u64,
}

/// Exports `req` from the segments in `catalog`, read where `files` finds them. Blocking. `progress` is
/// called after each segment of each pass; `cancelled` is asked as often, and when it says
/// so the export stops, removes what it wrote, and returns [`ExportError::Cancelled`].
pub fn export(
    catalog: &Catalog,
    files: &dyn Locate,
    req: &ExportRequest,
    progress: &mut dyn FnMut(Progress),
    cancelled: &dyn Fn() -> bool,
) -> Result<Exported, ExportError> {
    if req.end <= req.start {
        return Err(ExportError::EndBeforeStart {
            start: req.start,
            end: req.end,
        });
    }
    let segments = catalog.segments(
        &req.app,
        &req.stream,
        req.start.timestamp_millis(),
        req.end.timestamp_millis(),
    )?;
    if segments.is_empty() {
        return Err(ExportError::Empty {
            app: req.app.clone(),
            stream: req.stream.clone(),
            start: req.start,
            end: req.end,
        });
    }
    let base_ms = segments[0].start_ms;
    let mut plan = Plan {
        segments: &segments,
        files,
        base_ms,
        from: ms(req.start.timestamp_millis() - base_ms),
        until: ms(req.end.timestamp_millis() - base_ms),
        close_gaps: req.close_gaps,
        chapters: Vec::new(),
    };
    plan.chapters = req
        .chapters
        .iter()
        .filter(|(at, _)| req.start <= *at && *at < req.end)
        .map(|(at, title)| (plan.clip_time(at.timestamp_millis()), title.clone()))
        .collect();
    let write_err = |detail: String| ExportError::Write {
        path: req.output.display().to_string(),
        detail,
    };
    let total = segments.len() * 2;

    // Pass 1: the clip's fragmented MP4 without its sample data (a few MB for an hour),
    // which tells the finalizer every table of the moov.
    let mut skeleton = Skeleton::default();
    let mut done = 0;
    // The total at once, before the first segment is read (which may be a download).
    progress(Progress {
        segments_done: 0,
        segments_total: total,
    });
    let first = plan.run(Sink::Skeleton(&mut skeleton), &mut |_| {
        done += 1;
        progress(Progress {
            segments_done: done,
            segments_total: total,
        });
        if cancelled() {
            return Err(ExportError::Cancelled);
        }
        Ok(())
    })?;
    let Some((file_start, until, shown_video_frames)) = first else {
        return Err(ExportError::Empty {
            app: req.app.clone(),
            stream: req.stream.clone(),
            start: req.start,
            end: req.end,
        });
    };

    // Pass 2, inside the finalizer once the moov is written: the same frames again, of
    // which only the sample data is written, straight into the final file's mdat. The
    // data is written once, and no temporary copy of the clip is made.
    let part = with_suffix(&req.output, ".part");
    let output = File::create(&part).map_err(|e| write_err(e.to_string()))?;
    let options = FinalizeOptions {
        present_from: Some(plan.from - file_start),
        present_for: Some(until - plan.from),
        ..FinalizeOptions::default()
    };
    let mut pass_error = None;
    let mut data = |out: &mut dyn Write| -> std::io::Result<()> {
        let again = plan.run(Sink::Payload(out), &mut |_| {
            done += 1;
            progress(Progress {
                segments_done: done,
                segments_total: total,
            });
            if cancelled() {
                return Err(ExportError::Cancelled);
            }
            Ok(())
        });
        match again {
            Ok(_) => Ok(()),
            Err(e) => {
                let text = e.to_string();
                pass_error = Some(e);
                Err(std::io::Error::other(text))
            }
        }
    };
    let finalized = finalize_with_data(
        skeleton.reader(),
        BufWriter::new(output),
        &options,
        SampleData::External(&mut data),
    );
    let summary = match (finalized, pass_error) {
        (Ok(s), _) => s,
        (Err(_), Some(e)) => {
            let _ = std::fs::remove_file(&part);
            return Err(e);
        }
        (Err(e), None) => {
            let _ = std::fs::remove_file(&part);
            return Err(write_err(e.to_string()));
        }
    };
    std::fs::rename(&part, &req.output).map_err(|e| write_err(e.to_string()))?;
    Ok(Exported {
        path: req.output.clone(),
        duration: summary.duration.as_secs_f64(),
        video_frames: summary.video_frames,
        shown_video_frames,
        audio_frames: summary.audio_frames,
        bytes: summary.bytes,
    })
}

fn ms(t: i64) -> MediaTime {
    MediaTime::from_millis(t)
}

/// The segments of a clip and how they map onto its timeline. Run twice, it feeds the
/// same frames to the fragmented writer both times (the writer is deterministic).
struct Plan<'a> {
    segments: &'a [tapedeck_catalog::Segment],
    files: &'a dyn Locate,
    /// Wall-clock ms of clip time 0: the first segment's start (a key frame at or before
    /// the requested start).
    base_ms: i64,
    from: MediaTime,
    until: MediaTime,
    close_gaps: bool,
    /// Chapters on the clip's timeline.
    chapters: Vec<(MediaTime, String)>,
}

/// Where one segment goes on the clip's timeline.
struct Placement {
    /// Clip time of the segment's start.
    offset: MediaTime,
    /// Gap time taken out before it so far (`close_gaps`).
    removed: MediaTime,
    /// The gap just before it was taken out.
    gap_removed: bool,
}

impl Plan<'_> {
    /// Where each segment goes: its wall-clock start from the first's, less the gaps
    /// `close_gaps` removes.
    fn placements(&self) -> Vec<Placement> {
        let mut cursor = MediaTime::ZERO; // where the previous segment ended
        let mut removed = MediaTime::ZERO;
        let mut out = Vec::with_capacity(self.segments.len());
        for seg in self.segments {
            let mut offset = ms(seg.start_ms - self.base_ms) - removed;
            let gap_removed = self.close_gaps && offset - cursor > GAP;
            if gap_removed {
                removed += offset - cursor;
                offset = cursor;
            }
            out.push(Placement {
                offset,
                removed,
                gap_removed,
            });
            cursor = offset + ms(seg.duration_ms);
        }
        out
    }

    /// The clip time of the wall-clock time `wall_ms`.
    fn clip_time(&self, wall_ms: i64) -> MediaTime {
        let places = self.placements();
        let mut removed = MediaTime::ZERO;
        for (seg, place) in self.segments.iter().zip(&places) {
            removed = place.removed;
            if wall_ms < seg.start_ms + seg.duration_ms {
                let t = ms(wall_ms - self.base_ms) - removed;
                // In a gap that was taken out: where the gap was.
                return if place.gap_removed && wall_ms < seg.start_ms {
                    t.max(place.offset)
                } else {
                    t
                };
            }
        }
        ms(wall_ms - self.base_ms) - removed
    }

    /// Feeds every segment through a [`ClipWriter`] into `sink`. Returns the fragmented
    /// file's time 0 and the clip's end (moved in by removed gaps), or `None` when nothing
    /// was written.
    fn run(
        &self,
        sink: Sink<'_>,
        each: &mut dyn FnMut(usize) -> Result<(), ExportError>,
    ) -> Result<Option<(MediaTime, MediaTime, u64)>, ExportError> {
        let write_err = |detail: String| ExportError::Write {
            path: "the clip".into(),
            detail,
        };
        let mut clip = ClipWriter::new(sink, self.from);
        clip.chapters = self.chapters.clone();
        let places = self.placements();
        let mut bytes = Vec::new();
        let mut events = Vec::new();
        for (i, (seg, place)) in self.segments.iter().zip(&places).enumerate() {
            let path = self
                .files
                .locate(&seg.key)
                .map_err(|detail| ExportError::Segment {
                    path: seg.key.clone(),
                    detail,
                })?;
            let segment_err = |detail: String| ExportError::Segment {
                path: path.display().to_string(),
                detail,
            };
            // One buffer for every segment: no fresh pages to fault in each time.
            bytes.clear();
            File::open(&path)
                .and_then(|mut f| f.read_to_end(&mut bytes))
                .map_err(|e| segment_err(e.to_string()))?;
            let mut demuxer = TsDemuxer::new();
            events.clear();
            demuxer
                .push(&bytes, &mut events)
                .and_then(|_| demuxer.flush(&mut events))
                .map_err(|e| segment_err(e.to_string()))?;
            // The segment's anchor: its opening key frame's DTS (else its first DTS), which
            // the catalog's wall-clock start describes.
            let first = |video: bool| {
                events.iter().find_map(|e| match e {
                    MediaEvent::Frame(f) if !video || f.is_video() => Some(f.dts),
                    _ => None,
                })
            };
            let anchor = first(true)
                .or_else(|| first(false))
                .unwrap_or(MediaTime::ZERO);
            // Gaps taken out before the range's end move it in by as much.
            let until = self.until - place.removed;
            clip.until = until;
            let offset = place.offset;
            for ev in events.drain(..) {
                match ev {
                    MediaEvent::VideoConfig(c) => clip.tracks.video = Some(c),
                    MediaEvent::AudioConfig(c) => clip.tracks.audio = Some(c),
                    MediaEvent::Frame(mut f) => {
                        f.dts = f.dts - anchor + offset;
                        f.pts = f.pts - anchor + offset;
                        if f.dts < until {
                            clip.frame(f).map_err(write_err)?;
                        }
                    }
                }
            }
            each(i + 1)?;
        }
        let until = self.until - places.last().map_or(MediaTime::ZERO, |p| p.removed);
        Ok(clip
            .finish()
            .map_err(write_err)?
            .map(|(start, shown)| (start, until, shown)))
    }
}

/// Where the clip's fragmented MP4 goes in each pass.
enum Sink<'a> {
    /// Pass 1: every box, but `mdat` payloads only as their length.
    Skeleton(&'a mut Skeleton),
    /// Pass 2: only the `mdat` payloads, in order.
    Payload(&'a mut dyn Write),
}

impl Sink<'_> {
    /// Takes whole boxes, as the fragmented writer produces them; with `data`, the last box
    /// is an `mdat` header whose payload is `data` (the samples' own buffers, uncopied).
    fn put(&mut self, boxes: &[u8], data: Option<&[Bytes]>) -> std::io::Result<()> {
        let mut pos = 0;
        while pos < boxes.len() {
            let at = |i: usize, n: usize| boxes.get(pos + i..pos + i + n);
            let bad = || std::io::Error::other("the fragmented writer produced a cut box");
            let size32 = at(0, 4).ok_or_else(bad)?;
            let size32 = u32::from_be_bytes(size32.try_into().map_err(|_| bad())?) as usize;
            let kind = at(4, 4).ok_or_else(bad)?;
            let (size, header) = match size32 {
                0 => (boxes.len() - pos, 8),
                1 => {
                    let large = at(8, 8).ok_or_else(bad)?;
                    (
                        u64::from_be_bytes(large.try_into().map_err(|_| bad())?) as usize,
                        16,
                    )
                }
                n => (n, 8),
            };
            let end = pos + size;
            let mdat = kind == b"mdat";
            if let (true, Some(data), true) = (mdat, data, end > boxes.len()) {
                let payload: usize = data.iter().map(Bytes::len).sum();
                if pos + header != boxes.len() || size != header + payload {
                    return Err(bad());
                }
                match self {
                    Sink::Skeleton(s) => {
                        s.bytes(&boxes[pos..]);
                        s.zeros(payload as u64);
                    }
                    Sink::Payload(w) => {
                        for d in data {
                            w.write_all(d)?;
                        }
                    }
                }
                return Ok(());
            }
            if size < header || end > boxes.len() {
                return Err(bad());
            }
            match self {
                Sink::Skeleton(s) if mdat => {
                    s.bytes(&boxes[pos..pos + header]);
                    s.zeros((size - header) as u64);
                }
                Sink::Skeleton(s) => s.bytes(&boxes[pos..end]),
                Sink::Payload(w) if mdat => w.write_all(&boxes[pos + header..end])?,
                Sink::Payload(_) => {}
            }
            pos = end;
        }
        Ok(())
    }
}

/// A fragmented MP4 held without its sample data: its boxes in memory, each `mdat`
/// payload as a run of zeros of the same length, readable as a file.
#[derive(Default)]
struct Skeleton {
    /// (offset in the file, piece), in order.
    pieces: Vec<(u64, Piece)>,
    len: u64,
}

enum Piece {
    Bytes(Vec<u8>),
    Zeros(u64),
}

impl Skeleton {
    fn bytes(&mut self, b: &[u8]) {
        if let Some((_, Piece::Bytes(last))) = self.pieces.last_mut() {
            last.extend_from_slice(b);
        } else {
            self.pieces.push((self.len, Piece::Bytes(b.to_vec())));
        }
        self.len += b.len() as u64;
    }

    fn zeros(&mut self, n: u64) {
        self.pieces.push((self.len, Piece::Zeros(n)));
        self.len += n;
    }

    fn reader(&self) -> SkeletonReader<'_> {
        SkeletonReader { sk: self, pos: 0 }
    }
}

struct SkeletonReader<'a> {
    sk: &'a Skeleton,
    pos: u64,
}

impl Read for SkeletonReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.sk.len || buf.is_empty() {
            return Ok(0);
        }
        let i = self
            .sk
            .pieces
            .partition_point(|(start, _)| *start <= self.pos)
            - 1;
        let (start, piece) = &self.sk.pieces[i];
        let within = self.pos - start;
        let n = match piece {
            Piece::Bytes(b) => {
                let src = &b[within as usize..];
                let n = src.len().min(buf.len());
                buf[..n].copy_from_slice(&src[..n]);
                n
            }
            Piece::Zeros(len) => {
                let n = ((len - within) as usize).min(buf.len());
                buf[..n].fill(0);
                n
            }
        };
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for SkeletonReader<'_> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.sk.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = target.ok_or_else(|| std::io::Error::other("seek before the start"))?;
        Ok(self.pos)
    }
}

/// Feeds the fragmented writer with what the clip needs: video from the last key frame at
/// or before `from` (so the first presented frame decodes: at most one GOP is held), and
/// audio from `from`.
struct ClipWriter<'a> {
    out: Sink<'a>,
    from: MediaTime,
    tracks: Tracks,
    writer: Option<Fmp4Writer>,
    /// Before the clip starts: the GOP that contains `from`, and audio at or after it.
    held: Vec<Frame>,
    started: bool,
    /// DTS of the first frame written: the fragmented file's time 0.
    file_start: Option<MediaTime>,
    buf: Vec<u8>,
    /// Chapters (clip timeline), given to the writer when it starts.
    chapters: Vec<(MediaTime, String)>,
    /// Video frames a player shows: those from `from` until `until` (the lead-in of the
    /// first GOP and what reorders past the end are stored but cut by the edit list).
    shown_video: u64,
    until: MediaTime,
}

impl<'a> ClipWriter<'a> {
    fn new(out: Sink<'a>, from: MediaTime) -> Self {
        ClipWriter {
            out,
            from,
            tracks: Tracks::default(),
            writer: None,
            held: Vec::new(),
            started: false,
            file_start: None,
            buf: Vec::new(),
            chapters: Vec::new(),
            shown_video: 0,
            until: MediaTime::from_secs(i64::MAX / 90_000 / 2),
        }
    }

    fn frame(&mut self, f: Frame) -> Result<(), String> {
        if self.started {
            return self.write(f);
        }
        let has_video = self.tracks.video.is_some();
        if f.is_video() {
            if f.keyframe && f.pts <= self.from {
                // A later GOP start at or before `from`: what was held is not needed.
                self.held.retain(|h| !h.is_video() && h.pts >= self.from);
                self.held.insert(0, f);
                return Ok(());
            }
            let opens_gop = self.held.first().is_some_and(Frame::is_video);
            if f.pts >= self.from || f.keyframe {
                if !opens_gop && !f.keyframe {
                    return Ok(()); // nothing to decode it from: wait for a key frame
                }
                // The clip starts: the held GOP (if any) first, then this frame.
                self.started = true;
                for h in std::mem::take(&mut self.held) {
                    self.write(h)?;
                }
                return self.write(f);
            }
            if opens_gop {
                self.held.push(f);
            }
            Ok(())
        } else if f.pts >= self.from {
            if has_video {
                self.held.push(f);
                Ok(())
            } else {
                self.started = true;
                self.write(f)
            }
        } else {
            Ok(())
        }
    }

    fn write(&mut self, f: Frame) -> Result<(), String> {
        if f.is_video() && f.pts >= self.from && f.pts < self.until {
            self.shown_video += 1;
        }
        if self.writer.is_none() {
            let mut w = Fmp4Writer::new(&self.tracks).map_err(|e| e.to_string())?;
            w.init_segment(&mut self.buf);
            // Before the first frame: they go out with the first fragment, timed from it.
            for (at, title) in &self.chapters {
                w.add_chapter(*at, title, &mut self.buf);
            }
            self.writer = Some(w);
            self.file_start = Some(f.dts);
        }
        let Some(w) = self.writer.as_mut() else {
            return Ok(());
        };
        let cut = f.is_video() && f.keyframe;
        if cut || w.ready_for_fragment() {
            if let Some(data) = w.take_fragment_parts(&mut self.buf) {
                self.out
                    .put(&self.buf, Some(&data))
                    .map_err(|e| e.to_string())?;
                self.buf.clear();
            }
        }
        w.push(f).map_err(|e| e.to_string())
    }

    /// Flushes everything; the file's time 0 and the video frames shown, or `None` when
    /// nothing was written.
    fn finish(mut self) -> Result<Option<(MediaTime, u64)>, String> {
        if !self.started {
            for h in std::mem::take(&mut self.held) {
                self.write(h)?;
            }
        }
        let Some(w) = self.writer.as_mut() else {
            return Ok(None);
        };
        let data = w.finish_parts(&mut self.buf);
        self.out
            .put(&self.buf, data.as_deref())
            .map_err(|e| e.to_string())?;
        Ok(self.file_start.map(|s| (s, self.shown_video)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.extend_from_slice(body);
        b
    }

    #[test]
    fn the_skeleton_reads_as_the_file_with_its_payloads_zeroed() {
        let mut file = boxed(b"moof", b"tables");
        file.extend(boxed(b"mdat", b"sample data"));
        // A large-size mdat header, as the writer uses past 4 GiB.
        let mut large = 1u32.to_be_bytes().to_vec();
        large.extend_from_slice(b"mdat");
        large.extend_from_slice(&(16u64 + 3).to_be_bytes());
        large.extend_from_slice(b"xyz");
        file.extend(&large);

        let mut sk = Skeleton::default();
        let mut payload = Vec::new();
        // Whole boxes arrive in several calls, as fragments do.
        let cut = 14 + 19;
        for part in [&file[..cut], &file[cut..]] {
            Sink::Skeleton(&mut sk).put(part, None).unwrap();
            Sink::Payload(&mut payload).put(part, None).unwrap();
        }
        assert_eq!(payload, b"sample dataxyz");
        let mut read = Vec::new();
        sk.reader().read_to_end(&mut read).unwrap();
        let mut expected = file.clone();
        expected[22..33].fill(0);
        expected[file.len() - 3..].fill(0);
        assert_eq!(read, expected);
        // Seeks land where a file's would.
        let mut r = sk.reader();
        r.seek(SeekFrom::Start(18)).unwrap();
        let mut four = [0u8; 4];
        r.read_exact(&mut four).unwrap();
        assert_eq!(&four, b"mdat");
        r.seek(SeekFrom::End(-3)).unwrap();
        r.read_exact(&mut four[..3]).unwrap();
        assert_eq!(&four[..3], &[0, 0, 0]);
        assert!(Sink::Payload(&mut Vec::new())
            .put(&file[..10], None)
            .is_err());
        // An mdat header whose payload comes as the samples' buffers.
        let head = &file[14..22];
        let data = [Bytes::from_static(b"sample "), Bytes::from_static(b"data")];
        let mut out = Vec::new();
        Sink::Payload(&mut out).put(head, Some(&data)).unwrap();
        assert_eq!(out, b"sample data");
        let mut sk = Skeleton::default();
        Sink::Skeleton(&mut sk).put(head, Some(&data)).unwrap();
        assert_eq!(sk.len, 19);
        let short = [Bytes::from_static(b"sample")];
        assert!(Sink::Payload(&mut Vec::new())
            .put(head, Some(&short))
            .is_err());
    }

    fn segment(start_ms: i64, duration_ms: i64) -> tapedeck_catalog::Segment {
        tapedeck_catalog::Segment {
            recording: "live/cam1/0".into(),
            app: "live".into(),
            stream: "cam1".into(),
            key: format!("{start_ms}.ts"),
            start_ms,
            duration_ms,
            bytes: 0,
            codecs: String::new(),
            width: 0,
            height: 0,
            keyframes: 0,
            discontinuity: false,
        }
    }

    /// Chapters (wall clock) on the clip's timeline, which starts at the first segment:
    /// gaps kept or closed, a chapter in a closed gap where the gap was.
    #[test]
    fn chapter_times_on_the_clip_timeline() {
        // [10 s, 14 s), gap, [20 s, 24 s), [24 s, 26 s), gap of 0.3 s (kept), [26.3 s, 28 s).
        let segments = [
            segment(10_000, 4000),
            segment(20_000, 4000),
            segment(24_000, 2000),
            segment(26_300, 1700),
        ];
        let table = [
            // (wall ms, clip ms with gaps kept, with gaps closed)
            (10_000, 0, 0),
            (12_500, 2500, 2500),
            (14_000, 4000, 4000), // in the gap: kept there, or where the gap was
            (17_000, 7000, 4000),
            (20_000, 10_000, 4000),
            (21_000, 11_000, 5000),
            (25_000, 15_000, 9000),
            (26_100, 16_100, 10_100), // a gap under 0.5 s is not closed
            (27_000, 17_000, 11_000),
            (30_000, 20_000, 14_000), // after the last segment
        ];
        for close_gaps in [false, true] {
            let plan = Plan {
                segments: &segments,
                files: &std::path::PathBuf::from("/"),
                base_ms: 10_000,
                from: MediaTime::ZERO,
                until: MediaTime::from_secs(30),
                close_gaps,
                chapters: Vec::new(),
            };
            for (wall, kept, closed) in table {
                let want = if close_gaps { closed } else { kept };
                assert_eq!(
                    plan.clip_time(wall),
                    MediaTime::from_millis(want),
                    "{wall} ms, close_gaps {close_gaps}"
                );
            }
        }
    }
}
