//! Finalizer: rewrites a fragmented MP4 (ours, possibly cut by a crash) into a regular
//! progressive MP4 with `moov` before `mdat`.
//!
//! ```text
//! input (fragmented)                    output (progressive)
//! ftyp                                  ftyp      isom; iso2 avc1|hvc1 mp41
//! moov (init: stsd, trex) ──────────┐   moov
//! moof ─┐ one traf/trun per track   │     mvhd    duration = longest track (90 kHz)
//! mdat  │ sample data               │     trak per track that has samples
//! moof  │                           │       tkhd    duration incl. the edit list
//! mdat  │                           │       edts/elst  only when the track starts late
//! ...   │                           │                  or its first frame has a cts offset
//! moof ─┤ (complete fragments only) │       mdia  mdhd (exact sum of durations)  hdlr
//! mdat  │                           │         minf vmhd|smhd dinf
//! mo… ✂ │ cut by kill -9: ignored   │           stbl  stsd  (copied from the init) <──┘
//!       │                                          stts  ctts (v1 if any negative)
//!       │                                          stss  (video)  stsz  stsc
//!       │                                          stco | co64 (when an offset > 4 GiB)
//! emsg  │ between fragments: chapters ──> trak    the chapter track (chapters.rs), if any
//!       │                                 udta    (user data) only when options give some,
//!       │                                         and chpl when there are chapters
//!       └──────────────────────────────>  mdat    (largesize when > 4 GiB): every trun's
//!                                                 data in file order, one chunk per trun;
//!                                                 then the chapter samples
//! ```
//!
//! Memory does not grow with the recording (a 6 h 30 fps file has 650k video samples):
//! nothing per sample is kept. The file is read in passes over its `moof` boxes, seeking past
//! every `mdat` payload, and only one `moof` is held at a time:
//!
//! 1. Survey: find the init `moov`, count each table's entries (run-length coded ones
//!    included), sum durations and bytes, and find where the complete fragments end (a box
//!    cut short, a `moof` that does not parse, or a `trun` whose data runs past the end of
//!    the file marks a truncated tail, which is dropped).
//! 2. From those counts every box size is known, so the `moov` is written front to back:
//!    small boxes built in memory, each sample table streamed by one more pass over the
//!    `moof`s (up to six per track; `moof`s are small, so the passes are cheap).
//! 3. A last pass copies each `trun`'s sample data into the `mdat`.
//!
//! No temp file is needed, and the input is only read, so a failed finalize leaves the
//! fragmented recording intact for another try.
//!
//! The parts: `survey.rs` reads the input (the survey, the `moof` cache, the later
//! passes); `plan.rs` decides what the output looks like (`ftyp`, the laid-out `moov`,
//! edit lists, chunk offsets); `tables.rs` streams the sample tables; `in_place.rs`
//! finalizes without copying the media. This file keeps the public API.

use std::io::{self, BufWriter, Read, Seek, Write};

use super::boxes;
use super::read;
use super::udta::UserBox;
use super::Mp4Error;
use crate::time::MediaTime;

mod in_place;
mod plan;
mod survey;
mod tables;

pub use crate::in_place::{InPlace, InPlaceFile};
pub use in_place::finalize_in_place;
use plan::{ftyp_for, ChunkBase, Movie};
use survey::{Source, TrackPlan};

/// What a finalize produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinalizeSummary {
    /// Movie duration (the longest track, edit lists included).
    pub duration: MediaTime,
    /// Where the movie starts after the recording's first DTS: the first presented sample
    /// of any track (67 ms for a B-frame video-only stream; zero when audio starts first).
    pub start_offset: MediaTime,
    pub video_frames: u64,
    pub audio_frames: u64,
    /// Bytes written to the output.
    pub bytes: u64,
    /// The input ended inside a fragment (a crash): that fragment was dropped.
    pub truncated_tail: bool,
    /// Bytes at the end of the input that were not used (the cut fragment).
    pub ignored_tail_bytes: u64,
    /// Why the tail was dropped, for the log of a crash repair.
    pub tail_detail: Option<String>,
    /// Complete fragments copied.
    pub fragments: u64,
    /// Chunk offsets needed 64 bits (`co64`).
    pub co64: bool,
    /// Chapters in the movie (from the recording's `emsg` boxes; see `chapters.rs`).
    pub chapters: usize,
}

/// Whether chunk offsets need `co64` rather than `stco`: when the largest offset does not
/// fit 32 bits.
pub fn needs_co64(max_chunk_offset: u64) -> bool {
    max_chunk_offset > u64::from(u32::MAX)
}

/// Rewrites the fragmented MP4 `input` as a progressive MP4 into `output`.
pub fn finalize<R: Read + Seek, W: Write>(
    input: R,
    output: W,
) -> Result<FinalizeSummary, Mp4Error> {
    finalize_with(input, output, &FinalizeOptions::default())
}

/// What part of the media the finalized movie presents, and what it says about itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FinalizeOptions {
    /// Start presenting here (media time from the fragmented file's time 0, the first DTS):
    /// earlier samples stay in the file, for decoding, and an edit list skips them (a clip
    /// that starts between key frames). Default: the first presented sample of any track.
    pub present_from: Option<MediaTime>,
    /// Present at most this long. Default: to the end.
    pub present_for: Option<MediaTime>,
    /// Boxes written as `moov/udta`, last in the `moov`. Default: none, and no `udta`
    /// (user data of the fragmented input is not carried over: the caller decides).
    pub user_data: Vec<UserBox>,
}

/// Where the finalized file's sample data comes from.
pub enum SampleData<'a> {
    /// Copied from the input's `mdat` boxes.
    Input,
    /// Written by the caller when the `mdat` payload is due: exactly the input's `trun`
    /// data in file order (for a file made by [`super::Fmp4Writer`], every `mdat` payload
    /// back to back). The input's payload bytes are then never read, so they may be
    /// absent (zeros): an exporter that can regenerate the data writes it only once.
    External(&'a mut dyn FnMut(&mut dyn Write) -> io::Result<()>),
}

/// [`finalize`] presenting only part of the media (lossless clip export).
pub fn finalize_with<R: Read + Seek, W: Write>(
    input: R,
    output: W,
    options: &FinalizeOptions,
) -> Result<FinalizeSummary, Mp4Error> {
    finalize_with_data(input, output, options, SampleData::Input)
}

/// [`finalize_with`] taking the sample data from `data`.
pub fn finalize_with_data<R: Read + Seek, W: Write>(
    input: R,
    output: W,
    options: &FinalizeOptions,
    data: SampleData<'_>,
) -> Result<FinalizeSummary, Mp4Error> {
    let mut src = Source::survey(io::BufReader::new(input))?;
    let plans = std::mem::take(&mut src.plans);
    let plans: Vec<TrackPlan> = plans.into_iter().filter(|p| p.samples > 0).collect();

    let ftyp = ftyp_for(&plans);
    let total_data: u64 = src.total_data;
    let chapters = std::mem::take(&mut src.chapters);
    let mut movie = Movie::lay_out(&plans, options, &chapters, false);
    // The chapter samples follow the media in the one mdat (nothing when there are none).
    let chapter_bytes = movie.chapter_samples().len() as u64;
    let mdat_header = boxes::header_len_for(total_data + chapter_bytes);
    let payload_start = |moov_size: u64| ftyp.len() as u64 + moov_size + mdat_header;
    let last_chunk = if chapter_bytes > 0 {
        total_data
    } else {
        src.last_chunk_start
    };
    if needs_co64(payload_start(movie.moov_size) + last_chunk) {
        movie = Movie::lay_out(&plans, options, &chapters, true);
    }
    let data_start = payload_start(movie.moov_size);

    let mut out = Counting {
        inner: BufWriter::with_capacity(1 << 16, output),
        written: 0,
    };
    out.put(&ftyp)?;
    movie.write(
        &plans,
        &mut src,
        &mut out,
        ChunkBase::Packed(data_start),
        data_start + total_data,
    )?;
    out.put(&boxes::box_header(
        b"mdat",
        total_data + chapter_bytes + mdat_header,
    ))?;
    match data {
        SampleData::Input => src.scan(|r, trafs| {
            for traf in trafs {
                for run in &traf.runs {
                    read::copy_range(r, run.offset, run.bytes, &mut out)?;
                }
            }
            Ok(())
        })?,
        SampleData::External(write) => {
            write(&mut out).map_err(Mp4Error::io("writing the sample data"))?
        }
    }
    if out.written != data_start + total_data {
        return Err(internal(format!(
            "wrote {} bytes, planned {}",
            out.written,
            data_start + total_data
        )));
    }
    out.put(movie.chapter_samples())?;
    out.inner
        .flush()
        .map_err(Mp4Error::io("flushing the finalized MP4"))?;

    Ok(movie.summary(&plans, &mut src, out.written))
}

pub(super) fn internal(detail: String) -> Mp4Error {
    Mp4Error::Unsupported {
        detail: format!("internal layout error: {detail}"),
    }
}

/// A writer that counts what went through it, so every box can be checked against its plan.
pub(super) struct Counting<W: Write> {
    pub inner: BufWriter<W>,
    pub written: u64,
}

impl<W: Write> Counting<W> {
    pub fn put(&mut self, bytes: &[u8]) -> Result<(), Mp4Error> {
        self.inner
            .write_all(bytes)
            .map_err(Mp4Error::io("writing the finalized MP4"))?;
        self.written += bytes.len() as u64;
        Ok(())
    }
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::io::Cursor as IoCursor;

    use super::*;
    use crate::frame::{Frame, TrackKind};
    use crate::mp4::testkit::{read_progressive, synthetic, top_level_boxes, write_fragmented};

    pub(super) fn finalize_bytes(input: &[u8]) -> Result<(Vec<u8>, FinalizeSummary), Mp4Error> {
        let mut out = Vec::new();
        let summary = finalize(IoCursor::new(input), &mut out)?;
        assert_eq!(summary.bytes, out.len() as u64);
        Ok((out, summary))
    }

    /// Checks that a finalized file holds exactly `frames` (a prefix of the recording), with
    /// times relative to `base`, and that its layout is ftyp, moov, mdat. `lead` is where the
    /// movie starts after `base` (90 kHz).
    pub(super) fn assert_holds(file: &[u8], frames: &[&Frame], base: MediaTime, lead: i64) {
        let top: Vec<String> = top_level_boxes(file).into_iter().map(|b| b.0).collect();
        assert_eq!(top, ["ftyp", "moov", "mdat"]);
        let (_, tracks) = read_progressive(file);
        for t in &tracks {
            let expected: Vec<&&Frame> = frames.iter().filter(|f| f.kind == t.kind).collect();
            assert_eq!(t.samples.len(), expected.len(), "{:?} sample count", t.kind);
            // Where the track's media time 0 sits in the recording, from its edit list.
            let empty = t.edits.iter().find(|e| e.1 == -1).map_or(0, |e| e.0 as i64);
            let media_time = t.edits.iter().find(|e| e.1 != -1).map_or(0, |e| e.1);
            let ts = i64::from(t.timescale);
            let origin = (empty + lead) * ts / 90_000 - media_time;
            for (i, (s, f)) in t.samples.iter().zip(expected).enumerate() {
                let dts = (f.dts - base).to_rate(t.timescale);
                assert_eq!(s.0 as i64 + origin, dts, "{:?} sample {i} dts", t.kind);
                let cto = (f.pts - f.dts).to_rate(t.timescale);
                assert_eq!(s.1, cto, "{:?} sample {i} cto", t.kind);
                assert_eq!(s.3, f.keyframe, "{:?} sample {i} sync", t.kind);
                assert_eq!(s.4, f.data, "{:?} sample {i} data", t.kind);
            }
        }
    }

    #[test]
    fn finalize_round_trips_every_sample() {
        let (tracks, frames) = synthetic(3, MediaTime::from_millis(250));
        let (frag, ends) = write_fragmented(&tracks, &frames).unwrap();
        let (file, summary) = finalize_bytes(&frag).unwrap();
        assert!(!summary.truncated_tail);
        assert_eq!(summary.ignored_tail_bytes, 0);
        assert_eq!(summary.fragments, ends.len() as u64);
        assert_eq!(summary.video_frames, 90);
        assert_eq!(summary.audio_frames, frames.len() as u64 - 90);
        assert!(!summary.co64);
        let refs: Vec<&Frame> = frames.iter().collect();
        assert_holds(&file, &refs, frames[0].dts, 6000);

        let (_, read) = read_progressive(&file);
        let video = read.iter().find(|t| t.kind == TrackKind::Video).unwrap();
        assert_eq!(
            &video.entry, b"avc1",
            "sample entry copied from the init segment"
        );
        assert!(
            file[..32].windows(16).any(|w| w == b"isomiso2avc1mp41"),
            "ftyp brands"
        );
        // First frame shown 6000 ticks after its decode: an empty edit plus an edit starting
        // at that frame keep it at its true time.
        assert_eq!(
            summary.start_offset,
            MediaTime(6000),
            "the movie opens on the first shown frame"
        );
        assert_eq!(video.edits, vec![(90 * 3000, 6000)]);
        let audio = read.iter().find(|t| t.kind == TrackKind::Audio).unwrap();
        assert_eq!(
            audio.edits[0],
            (22_500 - 6000, -1),
            "audio starts 250 ms in"
        );
        // mdhd durations are the exact sums; the movie lasts as long as the longer track.
        let audio_sum: u64 = audio.samples.iter().map(|s| u64::from(s.2)).sum();
        assert_eq!(audio_sum, (frames.len() as u64 - 90) * 1024);
        assert_eq!(
            summary.duration,
            MediaTime(90 * 3000)
                .max(MediaTime(22_500 - 6000) + MediaTime::from_rate(audio_sum as i64, 44_100))
        );
    }

    /// The `emsg` boxes of the recording become the movie's chapters, timed from its
    /// start; a crash keeps every chapter whose box was written, wherever the cut falls.
    #[test]
    fn chapters_of_the_recording_reach_the_movie() {
        use crate::mp4::testkit::{read_chapters, write_fragmented_with_chapters};
        let (tracks, frames) = synthetic(4, MediaTime::from_millis(40));
        let t0 = frames[0].dts;
        let ms = |ms: i64| t0 + MediaTime::from_millis(ms);
        let marks = [
            (ms(1000), "one"),
            (ms(2500), "two"),
            (ms(9000), "after the end"),
        ];
        let (frag, ends) = write_fragmented_with_chapters(&tracks, &frames, &marks).unwrap();
        let (file, summary) = finalize_bytes(&frag).unwrap();
        assert_eq!(summary.chapters, 2, "none starts after the end");
        let lead = summary.start_offset.0 as u64;
        let (track, chpl) = read_chapters(&file);
        let starts: Vec<(u64, &str)> = track.iter().map(|c| (c.0, c.2.as_str())).collect();
        assert_eq!(starts, [(90_000 - lead, "one"), (225_000 - lead, "two")]);
        let chpl_ms: Vec<(u64, &str)> = chpl.iter().map(|c| (c.0 / 10_000, c.1.as_str())).collect();
        assert_eq!(
            chpl_ms,
            [(1000 - lead / 90, "one"), (2500 - lead / 90, "two")]
        );
        // Everything else is the movie without chapters.
        let (plain, _) = write_fragmented(&tracks, &frames).unwrap();
        let (plain_file, plain_summary) = finalize_bytes(&plain).unwrap();
        assert_eq!(
            FinalizeSummary {
                chapters: 2,
                bytes: summary.bytes,
                ..plain_summary
            },
            summary
        );
        assert_eq!(read_progressive(&file).1.len(), 2, "two media tracks");
        let refs: Vec<&Frame> = frames.iter().collect();
        assert_holds(&file, &refs, t0, summary.start_offset.0);
        assert!(read_chapters(&plain_file).0.is_empty());

        // Killed after "two" was marked, in the middle of a fragment after its box: both
        // chapters are kept. (The fragment right after the box holds the media up to the
        // mark: cut inside it, what is left ends before "two", which is then left out.)
        let boxes = top_level_boxes(&frag);
        let mut at = 0;
        let mut emsg_ends = Vec::new();
        for (kind, size) in &boxes {
            at += *size as usize;
            if kind == "emsg" {
                emsg_ends.push(at);
            }
        }
        let after_two = emsg_ends[1];
        let next = ends.iter().position(|&e| e > after_two).unwrap();
        let (cut_file, s) = finalize_bytes(&frag[..ends[next] - 50]).unwrap();
        assert_eq!((s.truncated_tail, s.chapters), (true, 1));
        let (cut_file_2, s) = finalize_bytes(&frag[..ends[next + 1] - 50]).unwrap();
        assert!(s.truncated_tail);
        assert_eq!(s.chapters, 2);
        assert_eq!(read_chapters(&cut_file).0.len(), 1);
        let cut_file = cut_file_2;
        assert_eq!(read_chapters(&cut_file).0.len(), 2);
        // Killed while the box of "two" was being written: "one" stays, and the
        // fragments before the cut box are the movie.
        let (cut_file, s) = finalize_bytes(&frag[..after_two - 3]).unwrap();
        assert!(s.truncated_tail);
        assert_eq!(
            (s.chapters, s.fragments),
            (1, ends.iter().filter(|&&e| e < after_two).count() as u64)
        );
        assert_eq!(read_chapters(&cut_file).0[0].2, "one");
        // A cut before the first fragment that holds "one"'s time: the chapter starts
        // past the end of what is left, and is left out.
        let before_one = emsg_ends[0] - 40;
        let (_, s) = finalize_bytes(&frag[..before_one]).unwrap();
        assert_eq!(s.chapters, 0);
    }
}
