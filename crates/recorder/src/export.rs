//! Lossless clip export: the recorded segments of a time range remuxed into one regular
//! MP4 (moov first), never re-encoded.
//!
//! A start between key frames is handled the way Moonfire NVR does it: the clip's media
//! begins at the key frame before the start (so it decodes), and an edit list makes
//! players begin presenting exactly at the requested time. The end is cut the same way.
//! Gaps inside the range (between recordings, or a resume) are kept as gaps in the
//! timeline, or closed with `close_gaps`.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use tapedeck_catalog::Catalog;
use tapedeck_media::mp4::{finalize_with, FinalizeOptions, Fmp4Writer};
use tapedeck_media::ts::demux::TsDemuxer;
use tapedeck_media::{Frame, MediaEvent, MediaTime, Tracks};

use crate::files::with_suffix;

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
    pub video_frames: u64,
    pub audio_frames: u64,
    pub bytes: u64,
}

/// Exports `req` from the segments in `catalog` under `root`. Blocking.
pub fn export(
    catalog: &Catalog,
    root: &Path,
    req: &ExportRequest,
    progress: &mut dyn FnMut(Progress),
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
    let ms = |t: i64| MediaTime::from_millis(t);
    // Clip time 0 is the first segment's start (a key frame at or before the requested start).
    let base_ms = segments[0].start_ms;
    let from = ms(req.start.timestamp_millis() - base_ms);
    let mut until = ms(req.end.timestamp_millis() - base_ms);

    let part = with_suffix(&req.output, ".part");
    let write_err = |detail: String| ExportError::Write {
        path: req.output.display().to_string(),
        detail,
    };
    let mut clip = ClipWriter::new(
        File::create(&part).map_err(|e| write_err(e.to_string()))?,
        from,
    );
    let mut cursor = MediaTime::ZERO; // where the previous segment ended, on the clip's timeline
    let mut removed = MediaTime::ZERO; // with close_gaps: gap time taken out so far
    for (i, seg) in segments.iter().enumerate() {
        let path = root.join(&seg.key);
        let segment_err = |detail: String| ExportError::Segment {
            path: path.display().to_string(),
            detail,
        };
        let bytes = std::fs::read(&path).map_err(|e| segment_err(e.to_string()))?;
        let mut demuxer = TsDemuxer::new();
        let mut events = Vec::new();
        demuxer
            .push(&bytes, &mut events)
            .and_then(|_| demuxer.flush(&mut events))
            .map_err(|e| segment_err(e.to_string()))?;
        // The segment's anchor: its opening key frame's DTS (else its first DTS), which the
        // catalog's wall-clock start describes.
        let first = |video: bool| {
            events.iter().find_map(|e| match e {
                MediaEvent::Frame(f) if !video || f.is_video() => Some(f.dts),
                _ => None,
            })
        };
        let anchor = first(true)
            .or_else(|| first(false))
            .unwrap_or(MediaTime::ZERO);
        let wall_offset = ms(seg.start_ms - base_ms);
        let mut offset = wall_offset - removed;
        if req.close_gaps && offset - cursor > GAP {
            // The gap goes; the range's end moves in by as much.
            let gap = offset - cursor;
            removed += gap;
            until -= gap;
            offset = cursor;
        }
        for ev in events {
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
        cursor = offset + ms(seg.duration_ms);
        progress(Progress {
            segments_done: i + 1,
            segments_total: segments.len(),
        });
    }
    let Some(file_start) = clip.finish().map_err(write_err)? else {
        let _ = std::fs::remove_file(&part);
        return Err(ExportError::Empty {
            app: req.app.clone(),
            stream: req.stream.clone(),
            start: req.start,
            end: req.end,
        });
    };

    // The fragmented file's time 0 is its first DTS (the key frame the clip opens with);
    // the edit list starts presentation at the requested time and ends it at the end.
    let input = BufReader::new(File::open(&part).map_err(|e| write_err(e.to_string()))?);
    let tmp = with_suffix(&req.output, ".finalizing");
    let output = BufWriter::new(File::create(&tmp).map_err(|e| write_err(e.to_string()))?);
    let options = FinalizeOptions {
        present_from: Some(from - file_start),
        present_for: Some(until - from),
        ..FinalizeOptions::default()
    };
    let summary = finalize_with(input, output, &options).map_err(|e| write_err(e.to_string()))?;
    std::fs::rename(&tmp, &req.output).map_err(|e| write_err(e.to_string()))?;
    let _ = std::fs::remove_file(&part);
    Ok(Exported {
        path: req.output.clone(),
        duration: summary.duration.as_secs_f64(),
        video_frames: summary.video_frames,
        audio_frames: summary.audio_frames,
        bytes: summary.bytes,
    })
}

/// Feeds the fragmented writer with what the clip needs: video from the last key frame at
/// or before `from` (so the first presented frame decodes: at most one GOP is held), and
/// audio from `from`.
struct ClipWriter {
    out: BufWriter<File>,
    from: MediaTime,
    tracks: Tracks,
    writer: Option<Fmp4Writer>,
    /// Before the clip starts: the GOP that contains `from`, and audio at or after it.
    held: Vec<Frame>,
    started: bool,
    /// DTS of the first frame written: the fragmented file's time 0.
    file_start: Option<MediaTime>,
    buf: Vec<u8>,
}

impl ClipWriter {
    fn new(file: File, from: MediaTime) -> Self {
        ClipWriter {
            out: BufWriter::new(file),
            from,
            tracks: Tracks::default(),
            writer: None,
            held: Vec::new(),
            started: false,
            file_start: None,
            buf: Vec::new(),
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
        if self.writer.is_none() {
            let w = Fmp4Writer::new(&self.tracks).map_err(|e| e.to_string())?;
            w.init_segment(&mut self.buf);
            self.writer = Some(w);
            self.file_start = Some(f.dts);
        }
        let Some(w) = self.writer.as_mut() else {
            return Ok(());
        };
        let cut = f.is_video() && f.keyframe;
        if (cut || w.ready_for_fragment()) && w.take_fragment(&mut self.buf) {
            self.out.write_all(&self.buf).map_err(|e| e.to_string())?;
            self.buf.clear();
        }
        w.push(f).map_err(|e| e.to_string())
    }

    /// Flushes everything; the file's time 0, or `None` when nothing was written.
    fn finish(mut self) -> Result<Option<MediaTime>, String> {
        if !self.started {
            for h in std::mem::take(&mut self.held) {
                self.write(h)?;
            }
        }
        let Some(w) = self.writer.as_mut() else {
            return Ok(None);
        };
        w.finish(&mut self.buf);
        self.out.write_all(&self.buf).map_err(|e| e.to_string())?;
        self.out.flush().map_err(|e| e.to_string())?;
        Ok(self.file_start)
    }
}
