//! HLS: MPEG-TS segments cut on key frames at the slice duration, and the playlist.
//!
//! While live, the playlist is `<name with end "recording">.m3u8.part` (an EVENT playlist
//! a player can follow). When the recording or its cycle ends it is written once more with
//! `#EXT-X-ENDLIST` under its final name, and the `.part` playlist is removed.

use tapedeck_media::hls::{DateRange, MediaPlaylist, PlaylistSegment};
use tapedeck_media::ts::mux::TsMuxer;
use tapedeck_media::{Frame, MediaTime, Tracks};

use super::daily::DailyIndex;
use super::{is_cut_point, Extent, FileJob, Output, OutputContext, OutputError, WRITE_BATCH};
use crate::config::{Format, M3u8Options};
use crate::events::{FileKind, FinishedFile};
use crate::files::{part_path, relative_uri, write_atomically, PartFile};
use crate::naming::{render, NameContext};

struct Segment {
    file: PartFile,
    key: String,
    extent: Extent,
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
    /// Chapters marked before the first segment opened the playlist.
    pending_chapters: Vec<(MediaTime, String)>,
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
        self.segment = Some(Segment {
            file,
            key,
            extent: Extent::new(at),
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

    /// Completes the open segment and adds it to the playlist.
    fn close_segment(&mut self, jobs: &mut Vec<FileJob>) -> Result<(), OutputError> {
        let Some(mut seg) = self.segment.take() else {
            return Ok(());
        };
        let path = seg.file.path().to_owned();
        seg.file.write(&seg.buf).map_err(OutputError::io(&path))?;
        let bytes = seg.file.written();
        let final_path = seg
            .file
            .complete(&self.ctx.root, &seg.key)
            .map_err(OutputError::io(&path))?;
        let Some(pl) = self.playlist.as_mut() else {
            return Ok(());
        };
        let duration = seg.extent.duration();
        pl.playlist.segments.push(PlaylistSegment {
            uri: relative_uri(&pl.live_key, &seg.key),
            duration: duration.as_secs_f64(),
            program_date_time: Some(self.ctx.wall(seg.extent.start)),
            discontinuity: seg.discontinuity,
        });
        pl.extent.end = pl.extent.end.max(seg.extent.end);
        let mut day_files = Vec::new();
        if let (Some(daily), Some(last)) = (self.daily.as_mut(), pl.playlist.segments.last()) {
            day_files = daily.add(&self.ctx, &seg.key, last)?;
        }
        let live_path = part_path(&self.ctx.root.join(&pl.live_key));
        pl.live_file
            .update(&self.ctx.root, &live_path, &pl.playlist)
            .map_err(OutputError::io(&live_path))?;
        if let Some(catalog) = &self.ctx.catalog {
            let row = tapedeck_catalog::Segment {
                recording: self.ctx.recording.clone(),
                app: self.ctx.app.clone(),
                stream: self.ctx.stream.clone(),
                key: seg.key.clone(),
                start_ms: self.ctx.wall(seg.extent.start).timestamp_millis(),
                // Rounded as the playlist writes it, so a rebuild reads back the same value.
                duration_ms: (duration.as_secs_f64() * 1000.0).round() as i64,
                bytes,
                codecs: seg.codecs.clone(),
                width: seg.width,
                height: seg.height,
                keyframes: seg.keyframes,
                discontinuity: seg.discontinuity,
            };
            // The files are the truth (a rebuild restores the row); recording goes on.
            let upload = self.ctx.upload(&row.key, "segment");
            if let Err(e) = catalog.add_segment_queued(&row, upload.as_ref()) {
                tracing::warn!("{e}");
            }
            // Day files list the segment: queued after it, they go up after it.
            for key in day_files {
                if let Some(u) = self.ctx.upload(&key, "playlist") {
                    if let Err(e) = catalog.enqueue_upload(&u) {
                        tracing::warn!("{e}");
                    }
                }
            }
        }
        let file = FinishedFile {
            app: self.ctx.app.clone(),
            stream: self.ctx.stream.clone(),
            format: Format::M3u8,
            kind: FileKind::Segment,
            key: seg.key,
            path: final_path,
            start: self.ctx.wall(seg.extent.start),
            end: self.ctx.wall(seg.extent.end),
            duration: duration.as_secs_f64(),
            bytes,
        };
        jobs.push(tokio::spawn(async move { Ok(file) }));
        Ok(())
    }

    /// Writes the playlist under its final name with `#EXT-X-ENDLIST`.
    fn close_playlist(&mut self, jobs: &mut Vec<FileJob>) -> Result<(), OutputError> {
        self.close_segment(jobs)?;
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
        if let Some(catalog) = &self.ctx.catalog {
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
                kind: "m3u8".into(),
                key: key.clone(),
                start_ms: start_ms.unwrap_or_else(|| self.ctx.wall(pl.start).timestamp_millis()),
                end_ms: end_ms.unwrap_or_else(|| self.ctx.wall(pl.extent.end).timestamp_millis()),
                bytes: text.len() as u64,
            };
            let upload = self.ctx.upload(&key, "playlist");
            if let Err(e) = catalog.add_file_queued(&row, upload.as_ref()) {
                tracing::warn!("{e}");
            }
        }
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
        jobs.push(tokio::spawn(async move { Ok(file) }));
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
                    self.close_playlist(jobs)?;
                } else {
                    self.close_segment(jobs)?;
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
        self.close_segment(jobs)?;
        self.pending_discontinuity = true;
        Ok(())
    }

    fn close(&mut self, jobs: &mut Vec<FileJob>) -> Result<(), OutputError> {
        self.close_playlist(jobs)
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
