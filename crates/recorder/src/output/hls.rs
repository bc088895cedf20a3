//! HLS: MPEG-TS segments cut on key frames at the slice duration, and the playlist.
//!
//! While live, the playlist is `<name with end "recording">.m3u8.part` (an EVENT playlist
//! a player can follow). When the recording or its cycle ends it is written once more with
//! `#EXT-X-ENDLIST` under its final name, and the `.part` playlist is removed.
//!
//! Segment times. Segments lie on the recording's one timeline (ARCHITECTURE.md, "Media
//! time vs wall-clock time") from cut point to cut point: a segment starts at the frame
//! that opened it (a video key frame; any audio frame of an audio-only stream) and ends
//! where the next one starts, so consecutive segments tile the timeline without overlap.
//! `#EXTINF` is that length and `#EXT-X-PROGRAM-DATE-TIME` its start, in the whole
//! milliseconds they are written in: start and end are each floored to the millisecond and
//! the duration is their difference ([`Span`]), so rounding never adds up: one segment's
//! PROGRAM-DATE-TIME + EXTINF is the next one's PROGRAM-DATE-TIME, exactly. The catalog's
//! rows, the daily index and the custom indexes built from those rows carry the same
//! numbers.
//!
//! - The first segment of a run starts at its first cut point. Audio that arrived before
//!   the stream's first key frame is written by no format (a file starts decodable; the
//!   MP4 and FLV drop it too), so no segment claims its time: the first PROGRAM-DATE-TIME
//!   may be a few ms past the recording's `t0` (an AAC encoder's priming frame) and is
//!   where the MP4 starts.
//! - The last segment of a run (the publisher left, or the recording ended) ends at the
//!   end of its last frame: the latest `dts + frame duration` it holds (the previous frame
//!   interval for video, one AAC frame for audio), where the MP4 and FLV end.
//! - A cycle, or a codec change, cuts at a cut point: the last segment before it ends where
//!   the next one (in the next playlist) starts.
//! - A gap (a publisher back within the interruption window) is inside no segment: the run
//!   before it ends at its last frame's end, which the recording never places the next
//!   publish before (`recording.rs`); `#EXT-X-DISCONTINUITY` marks the new run.
//!
//! The MPEG-TS content does not follow these boundaries to the frame: a frame goes into the
//! segment open when it arrives. Audio that arrives just before a key frame stays in the
//! segment before it even when it plays past the cut (by at most one AAC frame, or by the
//! publisher's interleaving), as before. Moving it would mean holding audio back until the
//! next video frame shows whether it cuts: latency for the live playlist and memory per
//! stream, for nothing a player needs (players place samples by their PTS; seeking and
//! time ranges go by EXTINF and PROGRAM-DATE-TIME, which must add up).

use chrono::{DateTime, Utc};
use tapedeck_media::hls::{DateRange, MediaPlaylist, PlaylistSegment};
use tapedeck_media::ts::mux::TsMuxer;
use tapedeck_media::{Frame, MediaTime, Tracks};

use super::daily::DailyIndex;
use super::{is_cut_point, Extent, FileJob, Output, OutputContext, OutputError, WRITE_BATCH};
use crate::config::{Format, M3u8Options};
use crate::events::{FileKind, FinishedFile};
use crate::files::{part_path, relative_uri, write_atomically, PartFile};
use crate::naming::{render, NameContext};
use crate::sink::CatalogRow;

struct Segment {
    file: PartFile,
    key: String,
    extent: Extent,
    /// The extent of what the last successful flush handed to the OS (what a full disk's
    /// salvage keeps).
    committed: Extent,
    discontinuity: bool,
    buf: Vec<u8>,
    /// Media time of the last flush to the OS.
    flushed_at: MediaTime,
    /// For the catalog: RFC 6381 codecs, picture size, key frames written.
    codecs: String,
    width: u32,
    height: u32,
    keyframes: u32,
}

struct Playlist {
    start: MediaTime,
    extent: Extent,
    playlist: MediaPlaylist,
    /// Key of the live (`.part`) playlist, whose end time is not known yet.
    live_key: String,
    /// The live playlist file, grown by appends.
    live_file: super::playlist_file::PlaylistFile,
}

pub struct HlsOutput {
    ctx: OutputContext,
    opts: M3u8Options,
    muxer: Option<TsMuxer>,
    segment: Option<Segment>,
    playlist: Option<Playlist>,
    /// `{Sequence}`: segments of the recording from 0, across resumes and cycles.
    sequence: u64,
    pending_discontinuity: bool,
    tracks_changed: bool,
    daily: Option<DailyIndex>,
    /// The last closed segment's extent: the next one goes on measuring frames as it did.
    measure: Option<Extent>,
    /// Chapters marked before the first segment opened the playlist.
    pending_chapters: Vec<(MediaTime, String)>,
}

/// Where a segment lies on the timeline, in the whole wall-clock milliseconds the playlist
/// and the catalog write: start and end each floored, the duration their difference (see
/// the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    start_ms: i64,
    end_ms: i64,
}

impl Span {
    fn new(ctx: &OutputContext, start: MediaTime, end: MediaTime) -> Span {
        let start_ms = ctx.wall(start).timestamp_millis();
        Span {
            start_ms,
            end_ms: ctx.wall(end).timestamp_millis().max(start_ms),
        }
    }

    fn duration_ms(&self) -> i64 {
        self.end_ms - self.start_ms
    }

    /// `#EXTINF`: exact at the millisecond the playlist writes.
    fn duration_secs(&self) -> f64 {
        self.duration_ms() as f64 / 1000.0
    }

    /// `#EXT-X-PROGRAM-DATE-TIME`.
    fn start(&self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp_millis(self.start_ms)
    }
}

impl HlsOutput {
    pub fn new(ctx: OutputContext, opts: M3u8Options) -> Self {
        let daily =
            (!opts.daily_object.is_empty()).then(|| DailyIndex::new(opts.daily_object.clone()));
        HlsOutput {
            ctx,
            opts,
            muxer: None,
            segment: None,
            playlist: None,
            sequence: 0,
            pending_discontinuity: false,
            tracks_changed: false,
            daily,
            measure: None,
            pending_chapters: Vec::new(),
        }
    }

    fn names(
        &self,
        start: MediaTime,
        end: Option<MediaTime>,
        segment_start: Option<MediaTime>,
    ) -> NameContext<'_> {
        NameContext {
            app: &self.ctx.app,
            stream: &self.ctx.stream,
            start: self.ctx.wall(start),
            end: end.map(|e| self.ctx.wall(e)),
            segment_start: segment_start.map(|s| self.ctx.wall(s)),
            sequence: self.sequence,
            tz: self.ctx.tz,
        }
    }

    fn open_segment(&mut self, at: MediaTime, tracks: &Tracks) -> Result<(), OutputError> {
        if self.playlist.is_none() {
            let live_key = render(&self.opts.object, &self.names(at, None, None), "m3u8");
            self.playlist = Some(Playlist {
                start: at,
                extent: Extent::new(at),
                playlist: MediaPlaylist {
                    recording: Some(self.ctx.recording.clone()),
                    ..MediaPlaylist::default()
                },
                live_key,
                live_file: Default::default(),
            });
            for (at, title) in std::mem::take(&mut self.pending_chapters) {
                self.add_chapter(at, &title)?;
            }
        }
        let key = render(
            &self.opts.slice_object,
            &self.names(at, None, Some(at)),
            "ts",
        );
        let file = PartFile::create(&self.ctx.root, &key)
            .map_err(OutputError::io(self.ctx.root.join(&key)))?;
        if self.muxer.is_none() || self.tracks_changed {
            self.muxer = Some(TsMuxer::new(tracks));
            self.tracks_changed = false;
        }
        let mut buf = Vec::with_capacity(64 * 1024);
        if let Some(m) = self.muxer.as_mut() {
            m.write_tables(&mut buf);
        }
        let discontinuity = std::mem::take(&mut self.pending_discontinuity);
        let extent = self.measure.map_or(Extent::new(at), |m| m.continued(at));
        self.segment = Some(Segment {
            file,
            key,
            extent,
            committed: extent,
            discontinuity,
            buf,
            flushed_at: at,
            codecs: codecs(tracks),
            width: tracks.video.as_ref().map_or(0, |v| v.width),
            height: tracks.video.as_ref().map_or(0, |v| v.height),
            keyframes: 0,
        });
        self.sequence += 1;
        Ok(())
    }

    /// Completes the open segment and adds it to the playlist. `cut` is the cut point the
    /// next segment starts at, where this one ends; `None` at the end of a run (the
    /// publisher left, the recording ends), where it ends at its last frame's end.
    fn close_segment(
        &mut self,
        _jobs: &mut Vec<FileJob>,
        cut: Option<MediaTime>,
    ) -> Result<(), OutputError> {
        // Written out before the segment is taken: when that fails (a full disk), the
        // segment is still there for `salvage` to cut back and finish.
        if let Some(seg) = self.segment.as_mut() {
            let path = seg.file.path().to_owned();
            let written = seg
                .file
                .write(&seg.buf)
                .and_then(|()| seg.file.flush())
                .map_err(OutputError::io(&path));
            if let Err(e) = written {
                // Anything else than a full disk: the segment is left as it is (a `.part`
                // the next start recovers), as before.
                if !e.is_disk_full() {
                    self.segment = None;
                }
                return Err(e);
            }
            seg.buf.clear();
            seg.committed = seg.extent;
        }
        let Some(seg) = self.segment.take() else {
            return Ok(());
        };
        self.measure = Some(seg.extent);
        let end = cut.unwrap_or(seg.extent.end).max(seg.extent.start);
        let span = Span::new(&self.ctx, seg.extent.start, end);
        let path = seg.file.path().to_owned();
        let bytes = seg.file.written();
        let final_path = seg
            .file
            .complete(&self.ctx.root, &seg.key)
            .map_err(OutputError::io(&path))?;
        let Some(pl) = self.playlist.as_mut() else {
            return Ok(());
        };
        pl.playlist.segments.push(PlaylistSegment {
            uri: relative_uri(&pl.live_key, &seg.key),
            duration: span.duration_secs(),
            program_date_time: span.start(),
            discontinuity: seg.discontinuity,
        });
        pl.extent.end = pl.extent.end.max(end);
        let mut day_files = Vec::new();
        if let (Some(daily), Some(last)) = (self.daily.as_mut(), pl.playlist.segments.last()) {
            day_files = daily.add(&self.ctx, &seg.key, last)?;
        }
        let live_path = part_path(&self.ctx.root.join(&pl.live_key));
        pl.live_file
            .update(&self.ctx.root, &live_path, &pl.playlist)
            .map_err(OutputError::io(&live_path))?;
        let row = tapedeck_catalog::Segment {
            recording: self.ctx.recording.clone(),
            app: self.ctx.app.clone(),
            stream: self.ctx.stream.clone(),
            key: seg.key.clone(),
            // As the playlist writes them, so a rebuild reads back the same values and
            // consecutive rows meet.
            start_ms: span.start_ms,
            duration_ms: span.duration_ms(),
            bytes,
            codecs: seg.codecs.clone(),
            width: seg.width,
            height: seg.height,
            keyframes: seg.keyframes,
            discontinuity: seg.discontinuity,
        };
        let file = FinishedFile {
            app: self.ctx.app.clone(),
            stream: self.ctx.stream.clone(),
            format: Format::M3u8,
            kind: FileKind::Segment,
            key: seg.key,
            path: final_path,
            start: self.ctx.wall(seg.extent.start),
            end: self.ctx.wall(end),
            duration: span.duration_secs(),
            bytes,
        };
        // Day files list the segment: queued after it, they go up after it.
        self.ctx.finished(file, CatalogRow::Segment(row), day_files);
        Ok(())
    }

    /// Writes the playlist under its final name with `#EXT-X-ENDLIST` (its last segment
    /// closed as [`Self::close_segment`] does, with `cut`).
    fn close_playlist(
        &mut self,
        jobs: &mut Vec<FileJob>,
        cut: Option<MediaTime>,
    ) -> Result<(), OutputError> {
        self.close_segment(jobs, cut)?;
        let Some(mut pl) = self.playlist.take() else {
            return Ok(());
        };
        let live_path = part_path(&self.ctx.root.join(&pl.live_key));
        if pl.playlist.segments.is_empty() {
            let _ = std::fs::remove_file(&live_path);
            return Ok(());
        }
        pl.playlist.ended = true;
        let key = render(
            &self.opts.object,
            &self.names(pl.start, Some(pl.extent.end), None),
            "m3u8",
        );
        // Segment URIs were made relative to the live key; the final key differs only in
        // its last segment, so they stay valid as long as the folder is the same.
        if parent(&key) != parent(&pl.live_key) {
            for s in &mut pl.playlist.segments {
                s.uri = relative_uri(&key, &crate::files::join_key(parent(&pl.live_key), &s.uri));
            }
        }
        let text = pl.playlist.render();
        let path = self.ctx.root.join(&key);
        write_atomically(&self.ctx.root, &path, text.as_bytes()).map_err(OutputError::io(&path))?;
        let _ = std::fs::remove_file(&live_path);
        // As a rebuild reads them back from the playlist: the first segment's
        // PROGRAM-DATE-TIME, and the last one's plus its duration in whole ms.
        let ms = |s: &PlaylistSegment| s.program_date_time.map(|t| t.timestamp_millis());
        let segments = &pl.playlist.segments;
        let start_ms = segments.first().and_then(ms);
        let end_ms = segments
            .last()
            .and_then(|s| Some(ms(s)? + (s.duration * 1000.0).round() as i64));
        let row = tapedeck_catalog::File {
            recording: self.ctx.recording.clone(),
            app: self.ctx.app.clone(),
            stream: self.ctx.stream.clone(),
            kind: FileKind::Playlist,
            key: key.clone(),
            start_ms: start_ms.unwrap_or_else(|| self.ctx.wall(pl.start).timestamp_millis()),
            end_ms: end_ms.unwrap_or_else(|| self.ctx.wall(pl.extent.end).timestamp_millis()),
            bytes: text.len() as u64,
        };
        let file = FinishedFile {
            app: self.ctx.app.clone(),
            stream: self.ctx.stream.clone(),
            format: Format::M3u8,
            kind: FileKind::Playlist,
            key,
            path,
            start: self.ctx.wall(pl.start),
            end: self.ctx.wall(pl.extent.end),
            duration: pl.playlist.segments.iter().map(|s| s.duration).sum(),
            bytes: text.len() as u64,
        };
        self.ctx.finished(file, CatalogRow::File(row), Vec::new());
        Ok(())
    }
}

impl HlsOutput {
    /// Adds a chapter's `#EXT-X-DATERANGE` to the live playlist: appended to the file
    /// right away when it goes after the segments listed (it falls in the segment being
    /// recorded), the file rewritten otherwise; before the first segment is listed it is
    /// written with it.
    fn add_chapter(&mut self, at: MediaTime, title: &str) -> Result<(), OutputError> {
        let Some(pl) = self.playlist.as_mut() else {
            self.pending_chapters.push((at, title.to_owned()));
            return Ok(());
        };
        let id = format!("chapter-{}", pl.playlist.date_ranges.len() + 1);
        let range = DateRange::chapter(id, self.ctx.wall(at), title);
        let last = pl.playlist.date_range_position(range.start_date) == pl.playlist.segments.len();
        pl.playlist.date_ranges.push(range.clone());
        if pl.playlist.segments.is_empty() {
            return Ok(());
        }
        let live_path = part_path(&self.ctx.root.join(&pl.live_key));
        let appended = last
            && pl
                .live_file
                .append_lines(&live_path, &range.render())
                .map_err(OutputError::io(&live_path))?;
        if !appended {
            pl.live_file
                .rewrite(&self.ctx.root, &live_path, &pl.playlist)
                .map_err(OutputError::io(&live_path))?;
        }
        Ok(())
    }
}

fn parent(key: &str) -> &str {
    key.rsplit_once('/').map_or("", |(p, _)| p)
}

impl Output for HlsOutput {
    fn write(
        &mut self,
        frame: &Frame,
        tracks: &Tracks,
        jobs: &mut Vec<FileJob>,
    ) -> Result<(), OutputError> {
        let cut = is_cut_point(frame, tracks);
        if let Some(seg) = &self.segment {
            let slice = MediaTime::from_secs(self.opts.slice_duration.0 as i64);
            if cut && (frame.dts - seg.extent.start >= slice || self.tracks_changed) {
                let cycle = MediaTime::from_secs(self.opts.cycle.0 as i64);
                let cycle_due = self
                    .playlist
                    .as_ref()
                    .is_some_and(|p| frame.dts - p.start >= cycle);
                if cycle_due {
                    self.close_playlist(jobs, Some(frame.dts))?;
                } else {
                    self.close_segment(jobs, Some(frame.dts))?;
                }
            }
        }
        if self.segment.is_none() {
            if !cut {
                return Ok(()); // wait for a key frame: a segment must start decodable
            }
            self.open_segment(frame.dts, tracks)?;
        }
        let Some(seg) = self.segment.as_mut() else {
            return Ok(());
        };
        if let Some(m) = self.muxer.as_mut() {
            m.write_frame(frame, &mut seg.buf)
                .map_err(|e| OutputError::Format {
                    path: seg.file.path().to_owned(),
                    detail: e.to_string(),
                })?;
        }
        seg.extent.add(frame, tracks);
        if frame.is_video() && frame.keyframe {
            seg.keyframes += 1;
        }
        // Hand the bytes to the OS at least every half second of media (as the MP4 and FLV
        // do), so a killed process loses at most that much of the open segment (recovered
        // at the next start).
        if frame.dts - seg.flushed_at >= tapedeck_media::mp4::fragment::FRAGMENT_TARGET
            || seg.buf.len() >= WRITE_BATCH
        {
            seg.flushed_at = frame.dts;
            let path = seg.file.path().to_owned();
            seg.file.write(&seg.buf).map_err(OutputError::io(&path))?;
            seg.file.flush().map_err(OutputError::io(&path))?;
            seg.committed = seg.extent;
            seg.buf.clear();
            super::trim(&mut seg.buf);
        }
        Ok(())
    }

    fn tracks_changed(&mut self) {
        self.tracks_changed = true;
        self.pending_discontinuity = true;
    }

    fn discontinuity(&mut self, jobs: &mut Vec<FileJob>) -> Result<(), OutputError> {
        self.close_segment(jobs, None)?;
        self.pending_discontinuity = true;
        Ok(())
    }

    fn close(&mut self, jobs: &mut Vec<FileJob>) -> Result<(), OutputError> {
        self.close_playlist(jobs, None)
    }

    /// Cuts the open segment back to its last flush (whole TS packets) and ends the
    /// playlist with it; a segment with no frame on disk is removed instead.
    fn salvage(&mut self, jobs: &mut Vec<FileJob>) -> Result<(), OutputError> {
        if let Some(seg) = self.segment.as_mut() {
            seg.buf.clear();
            let path = seg.file.path().to_owned();
            seg.file.rollback().map_err(OutputError::io(&path))?;
            seg.extent = seg.committed;
            if seg.file.written() == 0 || seg.extent.end <= seg.extent.start {
                self.segment = None;
                let _ = std::fs::remove_file(&path);
            }
        }
        self.close_playlist(jobs, None)
    }

    fn chapter(&mut self, at: MediaTime, title: &str) -> Result<(), OutputError> {
        self.add_chapter(at, title)
    }
}

/// RFC 6381 codecs of the stream's tracks, comma-separated.
fn codecs(tracks: &Tracks) -> String {
    let video = tracks.video.as_ref().map(|v| v.codec_string.clone());
    let audio = tracks.audio.as_ref().map(|a| a.codec_string.clone());
    video.into_iter().chain(audio).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    //! Segment bookkeeping with synthetic frames already on the recording's timeline (as
    //! `Recording` hands them over): where segments start and end, as the playlists, the
    //! daily index, the catalog and a custom index built from it say.

    #![allow(clippy::unwrap_used)]

    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use bytes::Bytes;
    use chrono::TimeZone;
    use tapedeck_catalog::Catalog;
    use tapedeck_media::codec::{aac, h264};
    use tapedeck_media::TrackKind;

    use super::*;
    use crate::duration::Secs;
    use crate::events::FinishedFile;

    const AVCC: &[u8] = include_bytes!("../../../../tests/fixtures/h264_320x240.avcc");
    /// 90 kHz ticks of one 30 fps video frame.
    const VIDEO_STEP: MediaTime = MediaTime(3000);

    fn audio_step() -> MediaTime {
        MediaTime::from_rate(1024, 44_100)
    }

    fn tracks(video: bool) -> Tracks {
        Tracks {
            video: video.then(|| Arc::new(h264::parse_avcc(AVCC).unwrap())),
            audio: Some(Arc::new(aac::parse_asc(&[0x12, 0x10]).unwrap())),
        }
    }

    fn frame(kind: TrackKind, dts: MediaTime, keyframe: bool) -> Frame {
        let data = match kind {
            // One length-prefixed NAL unit: IDR or non-IDR slice.
            TrackKind::Video => {
                let header = if keyframe { 0x65 } else { 0x41 };
                Bytes::from(vec![0, 0, 0, 4, header, 0x88, 0x84, 0x21])
            }
            TrackKind::Audio => Bytes::from_static(&[0x21, 0x10, 0x04, 0x60, 0x8c, 0x1c]),
        };
        Frame {
            kind,
            dts,
            pts: dts,
            keyframe,
            data,
        }
    }

    /// `secs` of 30 fps video with a key frame every second from `from`, and AAC audio
    /// starting `audio_lead` before the first video frame, in the order a publisher sends
    /// them when it sends audio `ahead` of the video it goes with (each audio frame goes
    /// out as soon as its dts is within `ahead` of the next video frame's): the audio
    /// before each key frame then plays past it.
    fn av_frames(
        from: MediaTime,
        secs: i64,
        audio_lead: MediaTime,
        ahead: MediaTime,
    ) -> Vec<Frame> {
        let mut frames = Vec::new();
        let mut audio = from - audio_lead;
        for i in 0..secs * 30 {
            let dts = from + MediaTime(VIDEO_STEP.0 * i);
            while audio <= dts + ahead && audio < from + MediaTime::from_secs(secs) {
                frames.push(frame(TrackKind::Audio, audio, true));
                audio += audio_step();
            }
            frames.push(frame(TrackKind::Video, dts, i % 30 == 0));
        }
        frames
    }

    /// Where the last of `frames` ends: the latest dts plus that frame's duration.
    fn end_of(frames: &[Frame]) -> MediaTime {
        frames
            .iter()
            .map(|f| {
                f.dts
                    + if f.is_video() {
                        VIDEO_STEP
                    } else {
                        audio_step()
                    }
            })
            .max()
            .unwrap()
    }

    struct Run {
        root: PathBuf,
        ctx: OutputContext,
        catalog: Arc<Catalog>,
        out: HlsOutput,
        jobs: Vec<FileJob>,
        events: tokio::sync::broadcast::Receiver<crate::events::RecorderEvent>,
    }

    impl Run {
        fn new(name: &str, slice: u64, cycle: u64) -> Run {
            let root = std::env::temp_dir()
                .join(format!("tapedeck-hls-times-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&root);
            std::fs::create_dir_all(&root).unwrap();
            let catalog = Arc::new(Catalog::in_memory().unwrap());
            // Not on a millisecond: start and end are each floored, and still meet.
            let t0 = chrono::Utc
                .with_ymd_and_hms(2026, 11, 24, 10, 0, 0)
                .unwrap()
                + chrono::Duration::nanoseconds(74_567_891);
            let (tx, events) = tokio::sync::broadcast::channel(4096);
            let sink = crate::sink::CatalogSink::new(catalog.clone(), None);
            let ctx = OutputContext {
                root: root.clone(),
                app: "live".into(),
                stream: "cam1".into(),
                t0,
                tz: chrono_tz::Tz::UTC,
                recording: format!("live/cam1/{}", t0.timestamp_millis()),
                template: Arc::new(crate::config::Template::default()),
                finisher: crate::sink::Finisher::new(Some(Arc::new(sink)), tx),
                in_place: true,
            };
            let opts = M3u8Options {
                slice_duration: Secs(slice),
                cycle: Secs(cycle),
                ..M3u8Options::default()
            };
            Run {
                root,
                out: HlsOutput::new(ctx.clone(), opts),
                ctx,
                catalog,
                jobs: Vec::new(),
                events,
            }
        }

        fn write(&mut self, frames: &[Frame], tracks: &Tracks) {
            for f in frames {
                self.out.write(f, tracks, &mut self.jobs).unwrap();
            }
        }

        /// Closes the output; the finished files in the order they finished.
        async fn close(mut self) -> (Vec<FinishedFile>, Arc<Catalog>, PathBuf, OutputContext) {
            self.out.close(&mut self.jobs).unwrap();
            for job in self.jobs {
                job.await.unwrap().unwrap();
            }
            let mut files = Vec::new();
            while let Ok(e) = self.events.try_recv() {
                if let crate::events::RecorderEvent::FileFinished(f) = e {
                    files.push(f);
                }
            }
            (files, self.catalog, self.root, self.ctx)
        }
    }

    fn playlist(path: &Path) -> MediaPlaylist {
        MediaPlaylist::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn ms(t: DateTime<Utc>) -> i64 {
        t.timestamp_millis()
    }

    /// Segments as (start ms, duration ms, discontinuity), as the playlist writes them.
    fn listed(p: &MediaPlaylist) -> Vec<(i64, i64, bool)> {
        p.segments
            .iter()
            .map(|s| {
                (
                    ms(s.program_date_time.unwrap()),
                    (s.duration * 1000.0).round() as i64,
                    s.discontinuity,
                )
            })
            .collect()
    }

    /// Each segment's start plus its duration is the next one's start, unless the next one
    /// follows a discontinuity (then it starts there or later: a gap is in no segment).
    fn assert_tiles(segments: &[(i64, i64, bool)]) {
        for pair in segments.windows(2) {
            let ((start, duration, _), (next, _, discontinuity)) = (pair[0], pair[1]);
            if discontinuity {
                assert!(start + duration <= next, "overlap: {segments:?}");
            } else {
                assert_eq!(start + duration, next, "{segments:?}");
            }
        }
    }

    fn rows(catalog: &Catalog) -> Vec<(i64, i64, bool)> {
        catalog
            .segments("live", "cam1", 0, i64::MAX)
            .unwrap()
            .iter()
            .map(|s| (s.start_ms, s.duration_ms, s.discontinuity))
            .collect()
    }

    /// Audio leads the video (it starts before the first key frame, and a publisher sends
    /// it ahead): every segment still lasts from its key frame to the next, exactly, across
    /// a cycle too; the last one ends at its last frame's end.
    #[tokio::test]
    async fn audio_ahead_of_video_does_not_lengthen_segments() {
        let tracks = tracks(true);
        let first_key = MediaTime::from_millis(30);
        // 14.5 s: cuts at 2, 4, 6, 8, the cycle at 10, then 12; the last ends at 14.53.
        let mut frames = av_frames(
            first_key,
            14,
            MediaTime::from_millis(30),
            MediaTime::from_millis(60),
        );
        frames.retain(|f| f.dts < first_key + MediaTime::from_millis(14_500));
        let mut run = Run::new("ahead", 2, 10);
        run.write(&frames, &tracks);
        let (files, catalog, root, ctx) = run.close().await;

        let wall_ms = |t: MediaTime| ms(ctx.wall(t));
        let playlists: Vec<_> = files
            .iter()
            .filter(|f| f.kind == FileKind::Playlist)
            .collect();
        assert_eq!(playlists.len(), 2, "a cycle at 10 s: {files:#?}");
        let mut all = Vec::new();
        for p in &playlists {
            all.extend(listed(&playlist(&p.path)));
        }
        // Segments start at their key frames; the first at the first one, not at the audio
        // before it (which no format writes).
        let starts: Vec<i64> = all.iter().map(|s| s.0).collect();
        let want: Vec<i64> = [0, 2, 4, 6, 8, 10, 12]
            .iter()
            .map(|s| wall_ms(first_key + MediaTime::from_secs(*s)))
            .collect();
        assert_eq!(starts, want, "{all:?}");
        assert_tiles(&all);
        assert!(all.iter().all(|s| !s.2), "no discontinuity: {all:?}");
        let last = all[all.len() - 1];
        assert_eq!(
            last.0 + last.1,
            wall_ms(end_of(&frames)),
            "the last segment ends at its last frame's end"
        );
        let total: i64 = all.iter().map(|s| s.1).sum();
        assert_eq!(total, wall_ms(end_of(&frames)) - wall_ms(first_key));
        // The catalog and the daily index say the same; so does each playlist's own row.
        assert_eq!(rows(&catalog), all);
        let daily = playlist(&root.join("live/cam1/2026-11-24.m3u8"));
        assert_eq!(listed(&daily), all);
        assert_eq!(
            playlists[0].end, playlists[1].start,
            "the cycle's playlists meet"
        );
        let durations: f64 = files
            .iter()
            .filter(|f| f.kind == FileKind::Playlist)
            .map(|f| f.duration)
            .sum();
        assert!((durations - total as f64 / 1000.0).abs() < 1e-9);
        let _ = std::fs::remove_dir_all(root);
    }

    /// A publisher that leaves and comes back: the run before the gap ends at its last
    /// frame's end, the next starts at its first key frame with a discontinuity, and the gap
    /// is in no segment; a custom index over the whole range lists the same.
    #[tokio::test]
    async fn a_reconnect_gap_is_in_no_segment() {
        let tracks = tracks(true);
        let lead = MediaTime::from_millis(20);
        let ahead = MediaTime::from_millis(40);
        let first = av_frames(MediaTime::ZERO, 5, lead, ahead);
        // Back 3.2 s after the first run's end.
        let resume = end_of(&first) + MediaTime::from_millis(3200);
        let second = av_frames(resume, 4, lead, ahead);
        let mut run = Run::new("gap", 2, 3600);
        run.write(&first, &tracks);
        run.out.discontinuity(&mut run.jobs).unwrap();
        run.write(&second, &tracks);
        let (files, catalog, root, ctx) = run.close().await;

        let wall_ms = |t: MediaTime| ms(ctx.wall(t));
        let path = &files
            .iter()
            .find(|f| f.kind == FileKind::Playlist)
            .unwrap()
            .path;
        let all = listed(&playlist(path));
        // 0-2, 2-4, 4-end | resume-+2, +2-end
        assert_eq!(all.len(), 5, "{all:?}");
        assert_tiles(&all);
        assert_eq!(all.iter().filter(|s| s.2).count(), 1, "{all:?}");
        let (before, after) = (all[2], all[3]);
        assert!(after.2, "the resume is marked: {all:?}");
        assert_eq!(before.0 + before.1, wall_ms(end_of(&first)));
        assert_eq!(
            after.0,
            wall_ms(resume),
            "its first key frame, not its audio"
        );
        let last = all[4];
        assert_eq!(last.0 + last.1, wall_ms(end_of(&second)));
        assert_eq!(rows(&catalog), all);

        let req = crate::index::IndexRequest {
            app: "live".into(),
            stream: "cam1".into(),
            start: ctx.t0 - chrono::Duration::seconds(1),
            end: ctx.t0 + chrono::Duration::seconds(60),
            object: None,
            max_range: crate::index::DEFAULT_MAX_RANGE,
            tz: chrono_tz::Tz::UTC,
            upload: None,
        };
        let record = crate::index::create(&catalog, &root, &req, ctx.t0).unwrap();
        let index = playlist(&root.join(&record.object));
        assert_eq!(
            listed(&index),
            all,
            "the custom index lists the catalog's rows"
        );
        let total: i64 = all.iter().map(|s| s.1).sum();
        assert_eq!(
            total,
            wall_ms(end_of(&first)) - wall_ms(MediaTime::ZERO) + wall_ms(end_of(&second))
                - wall_ms(resume),
            "both runs, without the gap"
        );
        assert_eq!((record.duration * 1000.0).round() as i64, total);
        let _ = std::fs::remove_dir_all(root);
    }

    /// An audio-only stream cuts on audio frames: each segment runs from its first audio
    /// frame to the next segment's, the last to its last frame's end. Timestamps in whole
    /// milliseconds, as RTMP gives them: frames 23 or 24 ms apart, each lasting 23.2 ms.
    #[tokio::test]
    async fn audio_only_segments_cut_on_audio_frames() {
        let tracks = tracks(false);
        let frames: Vec<Frame> = (0..300) // about 6.97 s
            .map(|i| {
                let dts = MediaTime::from_millis((i * 1024 * 1000 + 22_050) / 44_100);
                frame(TrackKind::Audio, dts, true)
            })
            .collect();
        let mut run = Run::new("audio", 2, 3600);
        run.write(&frames, &tracks);
        let (files, catalog, root, ctx) = run.close().await;

        let wall_ms = |t: MediaTime| ms(ctx.wall(t));
        let path = &files
            .iter()
            .find(|f| f.kind == FileKind::Playlist)
            .unwrap()
            .path;
        let all = listed(&playlist(path));
        // Cuts at the first audio frame 2 s or more after the segment's start.
        let mut cuts = vec![MediaTime::ZERO];
        for f in &frames {
            if f.dts - cuts[cuts.len() - 1] >= MediaTime::from_secs(2) {
                cuts.push(f.dts);
            }
        }
        let starts: Vec<i64> = all.iter().map(|s| s.0).collect();
        assert_eq!(
            starts,
            cuts.iter().map(|c| wall_ms(*c)).collect::<Vec<_>>(),
            "{all:?}"
        );
        assert_tiles(&all);
        let last = all[all.len() - 1];
        assert_eq!(last.0 + last.1, wall_ms(end_of(&frames)));
        assert_eq!(rows(&catalog), all);
        let _ = std::fs::remove_dir_all(root);
    }
}
