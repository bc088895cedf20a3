//! What the finalized file looks like: the `ftyp`, the `moov` laid out before it is
//! written (every box size known from the survey's counts), edit lists and where chunk
//! offsets point.

use std::io::{Read, Seek, Write};

use super::super::boxes::{self, write_box, write_full_box, TrackHeader, FULL_HEADER};
use super::super::chapters::ChapterTrack;
use super::super::udta::write_udta;
use super::super::{Mp4Error, MOVIE_TIMESCALE};
use super::survey::{Source, TrackPlan};
use super::tables::{write_table, Table};
use super::{internal, Counting, FinalizeOptions, FinalizeSummary};
use crate::chapter::Chapter;
use crate::time::MediaTime;

/// The `ftyp` of a finalized file holding `plans`.
pub(super) fn ftyp_for(plans: &[TrackPlan]) -> Vec<u8> {
    let mut ftyp = Vec::new();
    let mut brands: Vec<&[u8; 4]> = vec![b"isom", b"iso2"];
    if let Some(v) = plans.iter().find(|p| !p.init.audio) {
        if matches!(&v.init.entry_kind, b"avc1" | b"avc3" | b"hvc1" | b"hev1") {
            brands.push(&v.init.entry_kind);
        }
    }
    brands.push(b"mp41");
    boxes::ftyp(&mut ftyp, b"isom", &brands);
    ftyp
}

/// Where chunk offsets point.
#[derive(Clone, Copy, Debug)]
pub(super) enum ChunkBase {
    /// Every run's data back to back from this file offset (one `mdat` after the `moov`).
    Packed(u64),
    /// Each run where it lies in the input, which now starts this many bytes later.
    InPlace(u64),
}

/// The finalized `moov`, laid out before it is written.
pub(super) struct Movie {
    parts: Vec<TrakParts>,
    mvhd: Vec<u8>,
    /// The chapter track, when a chapter starts inside the movie.
    chapters: Option<ChapterTrack>,
    /// The `udta` box: the caller's user data, then `chpl`; empty when neither.
    udta: Vec<u8>,
    pub moov_size: u64,
    movie_duration: u64,
    lead: u64,
    pub co64: bool,
}

impl Movie {
    /// Lays out the movie of `plans`; `chapters` are the recording's, timed from its
    /// time 0 (the survey's).
    pub fn lay_out(
        plans: &[TrackPlan],
        options: &FinalizeOptions,
        chapters: &[Chapter],
        co64: bool,
    ) -> Movie {
        let natural = plans.iter().map(TrackPlan::movie_start).min().unwrap_or(0);
        let lead = options.present_from.map_or(natural, |t| {
            (u128::from(t.0.max(0) as u64) * u128::from(MOVIE_TIMESCALE) / 90_000) as u64
        });
        let limit = options
            .present_for
            .map(|d| (u128::from(d.0.max(0) as u64) * u128::from(MOVIE_TIMESCALE) / 90_000) as u64);
        let mut parts: Vec<TrakParts> = plans
            .iter()
            .map(|p| TrakParts::new(p, co64, lead, limit))
            .collect();
        let movie_duration = parts.iter().map(|t| t.tkhd_duration).max().unwrap_or(0);
        // A hostile track_ID of 2^32-1 leaves none free (the field's 0 would mean
        // "search"), which only matters to an editor.
        let free_id = plans
            .iter()
            .map(|p| p.init.id)
            .max()
            .unwrap_or(0)
            .saturating_add(1);
        // Chapters on the movie's timeline: it starts `lead` after the recording's time 0.
        let lead_ticks = MediaTime(i64::try_from(lead).unwrap_or(i64::MAX));
        let on_movie: Vec<Chapter> = chapters
            .iter()
            .map(|c| Chapter {
                start: c.start - lead_ticks,
                title: c.title.clone(),
            })
            .collect();
        let chapters = ChapterTrack::new(&on_movie, movie_duration, free_id, co64);
        let mut user_data = options.user_data.clone();
        if let Some(track) = &chapters {
            for part in &mut parts {
                part.refer_to_chapters(track.id);
            }
            user_data.push(track.chpl.clone());
        }
        let mut udta = Vec::new();
        write_udta(&mut udta, &user_data);
        let next_track_id = chapters
            .as_ref()
            .map_or(free_id, |t| t.id.saturating_add(1));
        let mut mvhd = Vec::new();
        boxes::mvhd(&mut mvhd, movie_duration, next_track_id);
        let moov_size = 8
            + mvhd.len() as u64
            + parts.iter().map(|t| t.trak_size).sum::<u64>()
            + chapters.as_ref().map_or(0, |t| t.trak_size)
            + udta.len() as u64;
        Movie {
            parts,
            mvhd,
            chapters,
            udta,
            moov_size,
            movie_duration,
            lead,
            co64,
        }
    }

    /// The chapter track's sample data, which the caller places (one chunk); empty
    /// without chapters.
    pub fn chapter_samples(&self) -> &[u8] {
        self.chapters.as_ref().map_or(&[], |t| &t.samples)
    }

    /// Writes the `moov`, streaming each table from `src`, and checks its size. The
    /// chapter samples are at `chapter_data` in the output.
    pub fn write<R: Read + Seek, W: Write>(
        &self,
        plans: &[TrackPlan],
        src: &mut Source<R>,
        out: &mut Counting<W>,
        chunks: ChunkBase,
        chapter_data: u64,
    ) -> Result<(), Mp4Error> {
        let moov_start = out.written;
        out.put(&boxes::box_header(b"moov", self.moov_size))?;
        out.put(&self.mvhd)?;
        for (plan, part) in plans.iter().zip(&self.parts) {
            part.write(plan, src, out, chunks)?;
        }
        if let Some(track) = &self.chapters {
            let mut trak = Vec::new();
            track.write_trak(&mut trak, chapter_data);
            out.put(&trak)?;
        }
        out.put(&self.udta)?;
        if out.written - moov_start != self.moov_size {
            return Err(internal(format!(
                "moov is {} bytes, planned {}",
                out.written - moov_start,
                self.moov_size
            )));
        }
        Ok(())
    }

    pub fn summary<R>(
        &self,
        plans: &[TrackPlan],
        src: &mut Source<R>,
        bytes: u64,
    ) -> FinalizeSummary {
        let frames = |audio: bool| {
            plans
                .iter()
                .filter(|p| p.init.audio == audio)
                .map(|p| p.samples)
                .sum()
        };
        FinalizeSummary {
            duration: MediaTime(i64::try_from(self.movie_duration).unwrap_or(i64::MAX)),
            start_offset: MediaTime(i64::try_from(self.lead).unwrap_or(i64::MAX)),
            video_frames: frames(false),
            audio_frames: frames(true),
            bytes,
            truncated_tail: src.truncated_tail,
            tail_detail: src.tail_detail.take(),
            ignored_tail_bytes: src.file_len - src.scan_end,
            fragments: src.fragments,
            co64: self.co64,
            chapters: self.chapters.as_ref().map_or(0, ChapterTrack::len),
        }
    }
}

impl TrackPlan {
    fn to_movie(&self, t: u64) -> u64 {
        let ts = u128::from(self.init.timescale.max(1));
        ((u128::from(t) * u128::from(MOVIE_TIMESCALE) + ts / 2) / ts).min(u128::from(u64::MAX))
            as u64
    }

    /// Composition offset of the first sample (track units), where the edit list starts
    /// the media: only video has one, and a negative one cannot be addressed by an edit.
    fn first_presented(&self) -> u64 {
        if self.init.audio {
            0
        } else {
            self.first_cto.unwrap_or(0).max(0) as u64
        }
    }

    /// When this track's first presented sample plays, in the movie timescale, counted from
    /// the recording's time 0 (the first DTS of any track).
    fn movie_start(&self) -> u64 {
        // Saturating: a hostile tfdt may be near 2^64.
        self.to_movie(
            self.first_decode_time
                .unwrap_or(0)
                .saturating_add(self.first_presented()),
        )
    }

    /// Edit list: `(empty, media_time, media_duration)`, the empty edit in the movie
    /// timescale and the rest in track units, when one is needed.
    ///
    /// The finalized movie starts at the first presented sample of any track (`lead` is
    /// the earliest [`Self::movie_start`]), as ffmpeg's files do, so a B-frame video-only
    /// recording does not open on a blank frame. Each track then gets an empty edit for how
    /// much later than that it starts, so tracks stay in sync (a progressive track's samples
    /// always start at its media time 0), and a video track whose first frame has a
    /// composition offset (B-frames) starts its media at that frame. The media segment spans
    /// the whole media duration: presentation runs from the first pts to the last pts plus
    /// its duration, which is that long (cutting the offset off it would drop the last
    /// frames, which ffmpeg then does not decode).
    ///
    /// With a `lead` past this track's start (a trimmed clip), the media starts that much
    /// later instead; `limit` (movie timescale) caps how long the track is presented.
    fn edit(&self, lead: u64, limit: Option<u64>) -> Option<(u64, u64, u64)> {
        let start = self.movie_start();
        let empty = start.saturating_sub(lead);
        let skip = self.movie_to_track(lead.saturating_sub(start));
        let media_time = self.first_presented().saturating_add(skip);
        let mut media_duration = self.duration.saturating_sub(skip);
        if let Some(limit) = limit {
            media_duration = media_duration.min(self.movie_to_track(limit.saturating_sub(empty)));
        }
        let trimmed = media_duration < self.duration;
        (empty > 0 || media_time > 0 || trimmed).then_some((empty, media_time, media_duration))
    }

    fn movie_to_track(&self, t: u64) -> u64 {
        let ts = u128::from(self.init.timescale.max(1));
        ((u128::from(t) * ts + u128::from(MOVIE_TIMESCALE) / 2) / u128::from(MOVIE_TIMESCALE))
            .min(u128::from(u64::MAX)) as u64
    }
}

/// A trak's small boxes (built in memory) and the sizes of its containers.
pub(super) struct TrakParts {
    tkhd: Vec<u8>,
    /// `tref/chap` to the chapter track, when the movie has one.
    tref: Vec<u8>,
    edts: Vec<u8>,
    mdhd_hdlr: Vec<u8>,
    xmhd_dinf: Vec<u8>,
    tables: Vec<(Table, u64)>,
    co64: bool,
    trak_size: u64,
    mdia_size: u64,
    minf_size: u64,
    stbl_size: u64,
    tkhd_duration: u64,
}

impl TrakParts {
    fn new(p: &TrackPlan, co64: bool, lead: u64, limit: Option<u64>) -> Self {
        let audio = p.init.audio;
        let edit = p.edit(lead, limit);
        let mut edts = Vec::new();
        let tkhd_duration = match edit {
            Some((empty, media_time, media_duration)) => {
                let media_duration = p.to_movie(media_duration);
                let v1 = empty.max(media_duration).max(media_time) > u64::from(u32::MAX);
                let mut entries = Vec::new();
                if empty > 0 {
                    entries.push((empty, -1i64));
                }
                entries.push((media_duration, media_time as i64));
                write_box(&mut edts, b"edts", |out| {
                    write_full_box(out, b"elst", u8::from(v1), 0, |out| {
                        use bytes::BufMut;
                        out.put_u32(entries.len() as u32);
                        for (duration, time) in entries {
                            if v1 {
                                out.put_u64(duration);
                                out.put_i64(time);
                            } else {
                                out.put_u32(duration as u32);
                                out.put_i32(time as i32);
                            }
                            out.put_u32(0x0001_0000); // media rate 1.0
                        }
                    });
                });
                empty.saturating_add(media_duration)
            }
            None => p.to_movie(p.duration),
        };
        let header = TrackHeader {
            id: p.init.id,
            audio,
            width: p.init.width,
            height: p.init.height,
        };
        let mut tkhd = Vec::new();
        boxes::tkhd(&mut tkhd, &header, tkhd_duration);
        let mut mdhd_hdlr = Vec::new();
        boxes::mdhd(&mut mdhd_hdlr, p.init.timescale, p.duration);
        boxes::hdlr(&mut mdhd_hdlr, audio);
        let mut xmhd_dinf = Vec::new();
        boxes::media_header_and_dinf(&mut xmhd_dinf, audio);

        let mut tables = vec![(Table::Stts, FULL_HEADER + 4 + 8 * p.stts_entries)];
        if p.has_cto {
            tables.push((Table::Ctts, FULL_HEADER + 4 + 8 * p.ctts_entries));
        }
        if !audio {
            tables.push((Table::Stss, FULL_HEADER + 4 + 4 * p.sync_samples));
        }
        tables.push((Table::Stsz, FULL_HEADER + 8 + 4 * p.samples));
        tables.push((Table::Stsc, FULL_HEADER + 4 + 12 * p.stsc_entries));
        tables.push((
            Table::Chunks,
            FULL_HEADER + 4 + if co64 { 8 } else { 4 } * p.chunks,
        ));
        let stbl_size = 8 + p.init.stsd.len() as u64 + tables.iter().map(|t| t.1).sum::<u64>();
        let minf_size = 8 + xmhd_dinf.len() as u64 + stbl_size;
        let mdia_size = 8 + mdhd_hdlr.len() as u64 + minf_size;
        let trak_size = 8 + tkhd.len() as u64 + edts.len() as u64 + mdia_size;
        TrakParts {
            tkhd,
            tref: Vec::new(),
            edts,
            mdhd_hdlr,
            xmhd_dinf,
            tables,
            co64,
            trak_size,
            mdia_size,
            minf_size,
            stbl_size,
            tkhd_duration,
        }
    }

    /// Adds `tref/chap` naming the chapter track `id` (ISO/IEC 14496-12 8.3.3; the order
    /// of trak's children puts it after `tkhd`).
    fn refer_to_chapters(&mut self, id: u32) {
        self.tref.clear();
        write_box(&mut self.tref, b"tref", |out| {
            write_box(out, b"chap", |out| out.extend_from_slice(&id.to_be_bytes()));
        });
        self.trak_size += self.tref.len() as u64;
    }

    fn write<R: Read + Seek, W: Write>(
        &self,
        p: &TrackPlan,
        src: &mut Source<R>,
        out: &mut Counting<W>,
        chunks: ChunkBase,
    ) -> Result<(), Mp4Error> {
        out.put(&boxes::box_header(b"trak", self.trak_size))?;
        out.put(&self.tkhd)?;
        out.put(&self.tref)?;
        out.put(&self.edts)?;
        out.put(&boxes::box_header(b"mdia", self.mdia_size))?;
        out.put(&self.mdhd_hdlr)?;
        out.put(&boxes::box_header(b"minf", self.minf_size))?;
        out.put(&self.xmhd_dinf)?;
        out.put(&boxes::box_header(b"stbl", self.stbl_size))?;
        out.put(&p.init.stsd)?;
        for &(table, size) in &self.tables {
            let start = out.written;
            write_table(table, size, p, self.co64, src, out, chunks)?;
            if out.written - start != size {
                return Err(Mp4Error::malformed(
                    src.first_moof,
                    format!(
                        "{table:?} of track {} came out {} bytes, planned {size}: the input changed while finalizing",
                        p.init.id,
                        out.written - start
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::io::Cursor as IoCursor;

    use super::*;
    use crate::mp4::finalize::needs_co64;
    use crate::mp4::testkit::{synthetic, write_fragmented};

    #[test]
    fn co64_is_chosen_only_past_32_bit_offsets() {
        assert!(!needs_co64(0));
        assert!(!needs_co64(u64::from(u32::MAX)));
        assert!(needs_co64(u64::from(u32::MAX) + 1));
        assert!(needs_co64(6 << 30));
        // The table it selects is sized for 8-byte offsets.
        let (tracks, frames) = synthetic(1, MediaTime::ZERO);
        let (frag, _) = write_fragmented(&tracks, &frames).unwrap();
        let src = Source::survey(IoCursor::new(&frag)).unwrap();
        let p = src.plans.iter().find(|p| !p.init.audio).unwrap();
        let small = TrakParts::new(p, false, 0, None);
        let large = TrakParts::new(p, true, 0, None);
        assert_eq!(large.trak_size - small.trak_size, 4 * p.chunks);
        assert!(large
            .tables
            .iter()
            .any(|t| t.0 == Table::Chunks && t.1 == FULL_HEADER + 4 + 8 * p.chunks));
    }
}
