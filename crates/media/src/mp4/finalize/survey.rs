//! Pass 1 of the finalizer, and the passes after it: reading the fragmented input.
//!
//! The survey walks the top-level boxes once: it parses the init segment's `moov`, counts
//! what every sample table will hold (see [`super::tables::TableStats`]) and sums
//! durations and bytes per track ([`TrackPlan`]), collects the chapters of the `emsg`
//! boxes between fragments (`mp4/chapters.rs`), and finds where the complete fragments
//! end. The `moof`s it read are kept in a bounded cache ([`MoofCache`]) so the later
//! passes ([`Source::scan`]: one per streamed table, one for the sample data) parse them
//! from memory instead of reading the file again.

use std::io::{Read, Seek};

use super::super::chapters::{parse_emsg, MAX_EMSG_BODY};
use super::super::read::{self, Cursor, HeaderRead, InitTrack, Traf};
use super::super::Mp4Error;
use super::tables::TableStats;
use crate::chapter::{Chapter, MAX_CHAPTERS};

/// Largest `moov`/`moof` body read into memory. Ours are a few kB; a larger one is corrupt.
const MAX_SMALL_BOX: u64 = 64 << 20;

/// Bytes of `moof` boxes the survey keeps for the later passes (one per sample table and
/// track, about ten): a recording's fragment headers are about 0.4 % of it, so an hour of a
/// 3 Mbit/s stream fits; a longer one is read again from the file, as everything was
/// before. Bounded, so the memory a finalize takes does not grow with the recording.
const MOOF_CACHE_MAX: usize = 8 << 20;

/// Top-level boxes in a row without a `moof` that has samples, after which the survey
/// takes the rest for garbage. Between two fragments a writer puts an `mdat` and perhaps
/// `styp`, `sidx`, `prft`, `emsg` or `free`; a hostile file of 8-byte boxes (or of empty
/// `moof`s) would otherwise cost a seek and a read each, on every pass.
const MAX_BOXES_WITHOUT_MEDIA: u32 = 4096;

/// Memory one cached `moof` costs besides its body.
const MOOF_CACHE_ENTRY: usize = std::mem::size_of::<(u64, u64, usize)>();

/// The `moof` boxes the survey read, in file order, while they fit in `max` bytes.
#[derive(Debug, Default)]
pub(super) struct MoofCache {
    max: usize,
    bodies: Vec<u8>,
    /// (box start, body start, end of the body in `bodies`).
    boxes: Vec<(u64, u64, usize)>,
    /// Set once a moof did not fit: the later passes read the file.
    overflowed: bool,
}

impl MoofCache {
    fn keep(&mut self, h: &read::BoxHeader, body: &[u8]) {
        if self.overflowed {
            return;
        }
        // The index counts too: a file of empty moofs has no bodies to fill the cache.
        let entries = (self.boxes.len() + 1) * MOOF_CACHE_ENTRY;
        if self.bodies.len() + body.len() + entries > self.max {
            *self = MoofCache {
                overflowed: true,
                ..MoofCache::default()
            };
            return;
        }
        self.bodies.extend_from_slice(body);
        self.boxes
            .push((h.start, h.body_start(), self.bodies.len()));
    }
}

/// The input file and what the survey learned about it.
pub(super) struct Source<R> {
    pub r: R,
    pub(super) file_len: u64,
    pub(super) tracks: Vec<InitTrack>,
    pub(super) plans: Vec<TrackPlan>,
    /// Where the fragments start and where the complete ones end.
    pub(super) first_moof: u64,
    pub(super) scan_end: u64,
    pub(super) truncated_tail: bool,
    pub(super) tail_detail: Option<String>,
    pub(super) fragments: u64,
    pub(super) total_data: u64,
    /// Offset within the output mdat payload of the last chunk.
    pub(super) last_chunk_start: u64,
    /// Input offset of the last chunk.
    pub last_run_offset: u64,
    pub(super) moofs: MoofCache,
    /// The chapters of the recording's `emsg` boxes, in file order, their times from the
    /// file's time 0 (see `mp4/chapters.rs`).
    pub(super) chapters: Vec<Chapter>,
}

impl<R: Read + Seek> Source<R> {
    /// Pass 1: find the init segment and the complete fragments, and count every table.
    pub fn survey(r: R) -> Result<Self, Mp4Error> {
        Self::survey_keeping(r, MOOF_CACHE_MAX)
    }

    /// [`Source::survey`] keeping at most `cache_max` bytes of `moof` boxes.
    pub(super) fn survey_keeping(mut r: R, cache_max: usize) -> Result<Self, Mp4Error> {
        let file_len = read::stream_len(&mut r)?;
        let mut tracks: Option<Vec<InitTrack>> = None;
        let mut plans: Vec<TrackPlan> = Vec::new();
        let mut stats: Vec<TableStats> = Vec::new();
        let (mut first_moof, mut pos, mut tail_detail) = (None, 0u64, None::<String>);
        let (mut fragments, mut total_data, mut last_chunk_start) = (0, 0u64, 0u64);
        let mut last_run_offset = 0u64;
        // What the fragments claim, each sample counted as at least one byte: no more than
        // the file holds, so neither the samples (the work of every pass, the size of the
        // tables) nor the data (the size of the output) can be made to exceed the input by
        // runs that overlap or samples of zero bytes.
        let mut claimed = 0u64;
        let mut without_media = 0u32;
        let mut moofs = MoofCache {
            max: cache_max,
            ..MoofCache::default()
        };
        let mut chapters = Vec::new();
        loop {
            let h = match read::read_header(&mut r, pos, file_len)? {
                HeaderRead::End => break,
                HeaderRead::Broken(why) => {
                    tail_detail = Some(format!("at byte {pos}: {why}"));
                    break;
                }
                HeaderRead::Box(h) => h,
            };
            if h.end() > file_len {
                // A box cut short: the fragment a kill -9 interrupted.
                tail_detail = Some(format!(
                    "{} box at byte {pos} needs {} bytes, {} are left",
                    h.kind_str(),
                    h.size,
                    file_len - pos
                ));
                break;
            }
            without_media += 1;
            if without_media > MAX_BOXES_WITHOUT_MEDIA {
                tail_detail = Some(format!(
                    "at byte {pos}: {MAX_BOXES_WITHOUT_MEDIA} boxes in a row without samples"
                ));
                break;
            }
            match &h.kind {
                b"moov" if tracks.is_none() => {
                    let body = read::read_body(&mut r, &h, MAX_SMALL_BOX)?;
                    let parsed = read::parse_init_moov(Cursor::new(&body, h.body_start()))?;
                    plans = parsed.iter().map(|t| TrackPlan::new(t.clone())).collect();
                    stats = parsed.iter().map(|t| TableStats::new(t.audio)).collect();
                    tracks = Some(parsed);
                }
                b"moof" => {
                    let Some(tracks) = &tracks else {
                        return Err(Mp4Error::malformed(
                            h.start,
                            "moof before the init segment's moov",
                        ));
                    };
                    // A moof that does not parse, or whose samples lie past the end of the
                    // file, is the cut tail (or garbage a power loss left): stop before it.
                    let (trafs, body) =
                        match read::read_body(&mut r, &h, MAX_SMALL_BOX).and_then(|body| {
                            let at = Cursor::new(&body, h.body_start());
                            Ok((read::parse_moof(at, h.start, tracks)?, body))
                        }) {
                            Ok(t) => t,
                            Err(Mp4Error::Io { context, source }) => {
                                return Err(Mp4Error::Io { context, source })
                            }
                            Err(e) => {
                                tail_detail = Some(format!("moof does not parse: {e}"));
                                break;
                            }
                        };
                    let complete = trafs.iter().flat_map(|t| &t.runs).all(|run| {
                        run.offset
                            .checked_add(run.bytes)
                            .is_some_and(|end| end <= file_len)
                    });
                    if !complete {
                        tail_detail = Some(format!(
                            "moof at byte {pos} refers to sample data past the end of the file"
                        ));
                        break;
                    }
                    let claims = trafs
                        .iter()
                        .flat_map(|t| &t.runs)
                        .map(|run| run.bytes.max(run.samples.len() as u64))
                        .fold(0u64, u64::saturating_add);
                    if claimed.saturating_add(claims) > file_len {
                        tail_detail = Some(format!(
                            "moof at byte {pos}: the fragments so far claim more sample data \
                             ({} bytes) than the file holds ({file_len})",
                            claimed.saturating_add(claims)
                        ));
                        break;
                    }
                    claimed += claims;
                    if claims == 0 {
                        // Nothing of ours in it (a foreign track's fragment, or empty):
                        // not a fragment to copy, and no reason to keep it.
                        pos = h.end();
                        continue;
                    }
                    without_media = 0;
                    moofs.keep(&h, &body);
                    first_moof.get_or_insert(h.start);
                    fragments += 1;
                    for traf in &trafs {
                        let Some(i) = tracks.iter().position(|t| t.id == traf.track_id) else {
                            continue;
                        };
                        if plans[i].first_decode_time.is_none() && !traf.runs.is_empty() {
                            plans[i].first_decode_time = Some(traf.decode_time.unwrap_or(0));
                        }
                        for run in &traf.runs {
                            last_chunk_start = total_data;
                            last_run_offset = last_run_offset.max(run.offset);
                            total_data += run.bytes;
                            stats[i].add_run(&mut plans[i], run, |_| {});
                        }
                    }
                }
                b"emsg" if h.size - h.header_len <= MAX_EMSG_BODY => {
                    let body = read::read_body(&mut r, &h, MAX_EMSG_BODY)?;
                    if chapters.len() < MAX_CHAPTERS {
                        chapters.extend(parse_emsg(&body));
                    }
                }
                _ => {} // mdat (seeked past), free, skip, sidx, styp, ...: nothing to take
            }
            pos = h.end();
        }
        let Some(tracks) = tracks else {
            return Err(Mp4Error::Unsupported {
                detail: "no init segment (moov) found: the file was cut before it or is not an MP4"
                    .into(),
            });
        };
        for (plan, s) in plans.iter_mut().zip(&mut stats) {
            s.finish(plan, |_| {});
        }
        Ok(Source {
            r,
            file_len,
            tracks,
            plans,
            first_moof: first_moof.unwrap_or(pos),
            scan_end: pos,
            truncated_tail: tail_detail.is_some(),
            tail_detail,
            fragments,
            total_data,
            last_chunk_start,
            last_run_offset,
            moofs,
            chapters,
        })
    }

    /// Calls `f` with each complete fragment's trafs, in file order.
    pub(super) fn scan(
        &mut self,
        mut f: impl FnMut(&mut R, &[Traf]) -> Result<(), Mp4Error>,
    ) -> Result<(), Mp4Error> {
        if !self.moofs.overflowed {
            let mut from = 0;
            for &(start, body_start, to) in &self.moofs.boxes {
                let body = &self.moofs.bodies[from..to];
                let trafs = read::parse_moof(Cursor::new(body, body_start), start, &self.tracks)?;
                f(&mut self.r, &trafs)?;
                from = to;
            }
            return Ok(());
        }
        let mut pos = self.first_moof;
        while pos < self.scan_end {
            let h = match read::read_header(&mut self.r, pos, self.file_len)? {
                HeaderRead::Box(h) => h,
                _ => {
                    return Err(Mp4Error::malformed(
                        pos,
                        "box header changed since the survey",
                    ))
                }
            };
            if &h.kind == b"moof" {
                let body = read::read_body(&mut self.r, &h, MAX_SMALL_BOX)?;
                let trafs =
                    read::parse_moof(Cursor::new(&body, h.body_start()), h.start, &self.tracks)?;
                f(&mut self.r, &trafs)?;
            }
            pos = h.end();
        }
        Ok(())
    }

    /// Checks that the first and the last fragment the survey kept are still where it
    /// found them: after the reader moved (room inserted in front of the recording), the
    /// kept fragments are no longer compared with the file by reading them again.
    pub fn check_fragments_in_place(&mut self) -> Result<(), Mp4Error> {
        let last = self.moofs.boxes.last().map(|&(start, _, _)| start);
        for pos in [Some(self.first_moof), last].into_iter().flatten() {
            if pos >= self.scan_end {
                continue;
            }
            match read::read_header(&mut self.r, pos, self.file_len)? {
                HeaderRead::Box(h) if &h.kind == b"moof" => {}
                _ => {
                    return Err(Mp4Error::malformed(
                        pos,
                        "box header changed since the survey",
                    ))
                }
            }
        }
        Ok(())
    }

    /// Calls `f` with each run of track `id`, in file order.
    pub(super) fn scan_track(
        &mut self,
        id: u32,
        mut f: impl FnMut(&read::Run),
    ) -> Result<(), Mp4Error> {
        self.scan(|_, trafs| {
            trafs
                .iter()
                .filter(|t| t.track_id == id)
                .flat_map(|t| &t.runs)
                .for_each(&mut f);
            Ok(())
        })
    }
}

/// A track's totals, from the survey.
#[derive(Debug)]
pub(super) struct TrackPlan {
    pub(super) init: InitTrack,
    pub(super) samples: u64,
    pub(super) stts_entries: u64,
    pub(super) ctts_entries: u64,
    /// Any composition offset is non-zero: a ctts is needed.
    pub(super) has_cto: bool,
    pub(super) negative_cto: bool,
    pub(super) sync_samples: u64,
    pub(super) chunks: u64,
    pub(super) stsc_entries: u64,
    /// Sum of sample durations, track timescale.
    pub(super) duration: u64,
    pub(super) first_decode_time: Option<u64>,
    pub(super) first_cto: Option<i64>,
}

impl TrackPlan {
    pub(super) fn new(init: InitTrack) -> Self {
        TrackPlan {
            init,
            samples: 0,
            stts_entries: 0,
            ctts_entries: 0,
            has_cto: false,
            negative_cto: false,
            sync_samples: 0,
            chunks: 0,
            stsc_entries: 0,
            duration: 0,
            first_decode_time: None,
            first_cto: None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::io::Cursor as IoCursor;

    use super::super::tests::{assert_holds, finalize_bytes};
    use super::*;
    use crate::frame::{Frame, TrackKind};
    use crate::mp4::testkit::{
        read_progressive, synthetic, top_level_boxes, write_fragmented, XorShift,
    };
    use crate::mp4::FinalizeSummary;
    use crate::time::MediaTime;

    #[test]
    fn finalize_of_a_truncated_file_keeps_complete_fragments() {
        let (tracks, frames) = synthetic(4, MediaTime::ZERO);
        let (frag, ends) = write_fragmented(&tracks, &frames).unwrap();
        let init_len = top_level_boxes(&frag)[..2].iter().map(|b| b.1).sum::<u64>() as usize;
        // Where each fragment's moof ends (mid-fragment cuts land before or after it).
        let mut starts = vec![init_len];
        starts.extend(&ends[..ends.len() - 1]);
        let mut cuts: Vec<usize> = Vec::new();
        for (&s, &e) in starts.iter().zip(&ends) {
            let moof_len = u32::from_be_bytes(frag[s..s + 4].try_into().unwrap()) as usize;
            cuts.extend([
                s + 3,
                s + 8,
                s + 40,
                s + moof_len - 1,
                s + moof_len + 4,
                s + moof_len + 9,
                e - 1,
                e,
            ]);
        }
        let mut rng = XorShift(42);
        cuts.extend((0..40).map(|_| init_len + rng.below((frag.len() - init_len) as u64) as usize));
        let mut seen_partial = 0;
        for cut in cuts {
            let (file, summary) =
                finalize_bytes(&frag[..cut]).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
            let complete = ends.iter().filter(|&&e| e <= cut).count();
            let at_boundary = cut == init_len || ends.contains(&cut);
            assert_eq!(
                summary.truncated_tail, !at_boundary,
                "cut at {cut}: {summary:?}"
            );
            assert_eq!(summary.fragments, complete as u64, "cut at {cut}");
            let kept_end = if complete == 0 {
                init_len
            } else {
                ends[complete - 1]
            };
            assert_eq!(summary.ignored_tail_bytes, (cut - kept_end) as u64);
            // The finalized file holds exactly the frames of the complete fragments.
            let (mut full, _) = write_fragmented(&tracks, &frames).unwrap();
            full.truncate(kept_end);
            let (reference, _) = finalize_bytes(&full).unwrap();
            assert_eq!(file, reference, "cut at {cut}");
            if !at_boundary {
                seen_partial += 1;
                assert!(summary.video_frames + summary.audio_frames < frames.len() as u64);
            }
        }
        assert!(seen_partial > 20);
    }

    #[test]
    fn truncated_prefix_content_matches_input_frames() {
        let (tracks, frames) = synthetic(3, MediaTime::ZERO);
        let (frag, ends) = write_fragmented(&tracks, &frames).unwrap();
        let cut = ends[1] + 100; // inside the third fragment
        let (file, summary) = finalize_bytes(&frag[..cut]).unwrap();
        assert!(summary.truncated_tail);
        let (_, read) = read_progressive(&file);
        let counts: Vec<usize> = read.iter().map(|t| t.samples.len()).collect();
        let mut taken = [0usize; 2];
        let kept: Vec<&Frame> = frames
            .iter()
            .filter(|f| {
                let k = usize::from(f.kind == TrackKind::Audio);
                taken[k] += 1;
                taken[k] <= counts[k]
            })
            .collect();
        assert_holds(&file, &kept, frames[0].dts, 0);
    }

    #[test]
    fn garbage_and_cut_inputs_never_panic() {
        let (tracks, frames) = synthetic(2, MediaTime::ZERO);
        let (frag, _) = write_fragmented(&tracks, &frames).unwrap();
        // Cut inside the init segment: an error, not a panic.
        for cut in [0, 5, 8, 30, 200, 600] {
            assert!(finalize_bytes(&frag[..cut]).is_err(), "cut at {cut}");
        }
        // Zeros where a power loss left an extended but unwritten tail.
        let mut zeros = frag.clone();
        zeros.extend(std::iter::repeat_n(0u8, 5000));
        let (_, s) = finalize_bytes(&zeros).unwrap();
        assert!(s.truncated_tail && s.ignored_tail_bytes == 5000);
        // Random byte flips: whatever happens, no panic.
        let mut rng = XorShift(7);
        for _ in 0..200 {
            let mut bad = frag.clone();
            for _ in 0..4 {
                let i = rng.below(bad.len() as u64) as usize;
                bad[i] = rng.next() as u8;
            }
            let _ = finalize_bytes(&bad);
        }
        // A progressive MP4 is not ours to finalize.
        let (file, _) = finalize_bytes(&frag).unwrap();
        assert!(matches!(
            finalize_bytes(&file),
            Err(Mp4Error::Unsupported { .. })
        ));
    }

    /// The later passes see the same fragments whether the survey kept them all or none
    /// (the cache overflowed after keeping some, or could keep none).
    #[test]
    fn kept_and_reread_fragments_are_the_same() {
        let (tracks, frames) = synthetic(12, MediaTime::from_millis(40));
        let (file, _) = write_fragmented(&tracks, &frames).unwrap();
        let scans = [usize::MAX, 6_000, 0].map(|max| {
            let mut src = Source::survey_keeping(IoCursor::new(&file[..]), max).unwrap();
            assert_eq!(src.moofs.overflowed, max != usize::MAX, "max {max}");
            let mut all = Vec::new();
            src.scan(|_, trafs| {
                all.extend_from_slice(trafs);
                Ok(())
            })
            .unwrap();
            all
        });
        assert!(scans[0].len() > 20, "{} trafs", scans[0].len());
        assert_eq!(scans[0], scans[1]);
        assert_eq!(scans[0], scans[2]);
    }

    /// After room is inserted in front, the fragments are checked where the reader now
    /// finds them: a wrong shift is an error, not a moov pointing at the wrong bytes.
    #[test]
    fn kept_fragments_are_checked_after_the_reader_moves() {
        use crate::in_place::Shifted;
        let (tracks, frames) = synthetic(4, MediaTime::from_millis(40));
        let (file, _) = write_fragmented(&tracks, &frames).unwrap();
        let mut moved = vec![0u8; 4096];
        moved.extend_from_slice(&file);
        let reader = Shifted::new(IoCursor::new(&moved[..]), 4096).unwrap();
        let mut src = Source::survey(reader).unwrap();
        src.check_fragments_in_place().unwrap();
        src.r.set_shift(4096 + 512).unwrap();
        let e = src.check_fragments_in_place().unwrap_err();
        assert!(e.to_string().contains("changed since the survey"), "{e}");
    }

    /// A recording of two seconds and what a finalize of it reports.
    fn clean_recording() -> (Vec<u8>, FinalizeSummary) {
        let (tracks, frames) = synthetic(2, MediaTime::ZERO);
        let (frag, _) = write_fragmented(&tracks, &frames).unwrap();
        let (_, summary) = finalize_bytes(&frag).unwrap();
        (frag, summary)
    }

    fn full_box(kind: &[u8; 4], version_flags: u32, body: &[u8]) -> Vec<u8> {
        let mut b = ((12 + body.len()) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.extend_from_slice(&version_flags.to_be_bytes());
        b.extend_from_slice(body);
        b
    }

    fn plain_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut b = ((8 + body.len()) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.extend_from_slice(body);
        b
    }

    /// A moof with one traf for track 1 holding one trun of `count` samples with the
    /// fields `trun_flags` asks for (`per_sample` bytes of them for each sample).
    fn moof(count: u32, trun_flags: u32, per_sample: &[u8]) -> Vec<u8> {
        let tfhd = full_box(b"tfhd", 0x2_0000, &1u32.to_be_bytes());
        let mut trun_body = count.to_be_bytes().to_vec();
        for _ in 0..count {
            trun_body.extend_from_slice(per_sample);
        }
        let trun = full_box(b"trun", trun_flags, &trun_body);
        let traf = plain_box(b"traf", &[tfhd, trun].concat());
        plain_box(b"moof", &traf)
    }

    #[test]
    fn a_largesize_that_wraps_the_offset_is_a_broken_tail() {
        let (mut frag, clean) = clean_recording();
        // Before: `start + size` overflowed (a panic in debug builds; in release the next
        // offset wrapped to the start of the file and the survey went round forever).
        let at = frag.len() as u64;
        frag.extend_from_slice(&1u32.to_be_bytes());
        frag.extend_from_slice(b"free");
        frag.extend_from_slice(&(u64::MAX - at + 1).to_be_bytes());
        let (_, s) = finalize_bytes(&frag).unwrap();
        assert!(s.truncated_tail);
        assert!(
            s.tail_detail.as_deref().unwrap_or("").contains("runs past"),
            "{s:?}"
        );
        assert_eq!(
            (s.video_frames, s.audio_frames),
            (clean.video_frames, clean.audio_frames)
        );
    }

    #[test]
    fn thousands_of_empty_moofs_end_the_survey() {
        let (mut frag, clean) = clean_recording();
        for _ in 0..10_000 {
            frag.extend_from_slice(&plain_box(b"moof", &[]));
        }
        let (_, s) = finalize_bytes(&frag).unwrap();
        assert!(s.truncated_tail, "{s:?}");
        assert!(s
            .tail_detail
            .as_deref()
            .unwrap_or("")
            .contains("without samples"));
        assert_eq!(s.fragments, clean.fragments);
        assert_eq!(s.video_frames, clean.video_frames);
    }

    #[test]
    fn empty_moofs_count_against_the_moof_cache() {
        let mut cache = MoofCache {
            max: 1000,
            ..MoofCache::default()
        };
        let h = read::BoxHeader {
            kind: *b"moof",
            start: 0,
            header_len: 8,
            size: 8,
        };
        for _ in 0..1000 {
            cache.keep(&h, &[]);
        }
        assert!(cache.overflowed);
        assert!(cache.boxes.is_empty());
    }

    #[test]
    fn samples_claimed_beyond_the_file_size_end_the_survey() {
        let (mut frag, clean) = clean_recording();
        // A 40-byte trun claiming a million samples of the trex's default size (0).
        frag.extend_from_slice(&moof(1_000_000, 0, &[]));
        let (out, s) = finalize_bytes(&frag).unwrap();
        assert!(s.truncated_tail, "{s:?}");
        assert!(s
            .tail_detail
            .as_deref()
            .unwrap_or("")
            .contains("claim more"));
        assert_eq!(s.video_frames, clean.video_frames);
        assert!(
            out.len() < frag.len() + 4096,
            "no table of a million entries"
        );
        // Runs that all point at the same data claim it again each time.
        let (mut frag, clean) = clean_recording();
        let data_at = frag.len() as u64 + 8;
        frag.extend_from_slice(&plain_box(b"mdat", &[0x55; 1000]));
        for _ in 0..(frag.len() / 1000 + 2) {
            let mut m = moof(1, 0x201, &[]);
            // trun: data offset (from this moof) back at the mdat, one 1000-byte sample.
            let moof_at = frag.len() as u64;
            let trun = m.len() - 12 - 4;
            m.truncate(trun + 12 + 4);
            m.extend_from_slice(&((data_at as i64 - moof_at as i64) as i32).to_be_bytes());
            m.extend_from_slice(&1000u32.to_be_bytes());
            let len = m.len() as u32;
            m[..4].copy_from_slice(&len.to_be_bytes());
            let traf_len = len - 8;
            m[8..12].copy_from_slice(&traf_len.to_be_bytes());
            let trun_len = 12 + 4 + 4 + 4;
            m[trun..trun + 4].copy_from_slice(&(trun_len as u32).to_be_bytes());
            frag.extend_from_slice(&m);
        }
        let (_, s) = finalize_bytes(&frag).unwrap();
        assert!(s.truncated_tail, "{s:?}");
        assert!(
            s.video_frames > clean.video_frames,
            "some were taken: {s:?}"
        );
        assert!(s.bytes < 2 * frag.len() as u64);
    }

    #[test]
    fn a_moof_over_the_sample_budget_does_not_parse() {
        let (frag, _) = clean_recording();
        let top = Cursor::new(&frag, 0);
        let (_, moov) = top.require(b"moov", "file").unwrap();
        let tracks = read::parse_init_moov(moov).unwrap();
        // Sizes given per sample: before, only the bytes left bounded the count.
        let m = moof(read::MAX_MOOF_SAMPLES as u32 + 1, 0x200, &[0, 0, 0, 1]);
        let body = Cursor::new(&m[8..], 8);
        let err = read::parse_moof(body, 0, &tracks).unwrap_err();
        assert!(err.to_string().contains("more than"), "{err}");
        let ok = moof(1000, 0x200, &[0, 0, 0, 1]);
        assert!(read::parse_moof(Cursor::new(&ok[8..], 8), 0, &tracks).is_ok());
    }

    /// Chapters from a hostile file: a bounded number are read, times and sizes that do
    /// not fit are no panic, a large `emsg` is skipped.
    #[test]
    fn hostile_chapter_boxes_are_bounded() {
        use crate::chapter::MAX_CHAPTERS;
        use crate::mp4::chapters::{write_emsg, MAX_EMSG_BODY};
        let (tracks, frames) = synthetic(2, MediaTime::ZERO);
        let (frag, ends) = write_fragmented(&tracks, &frames).unwrap();
        let init = top_level_boxes(&frag)[..2].iter().map(|b| b.1).sum::<u64>() as usize;
        let half = MAX_CHAPTERS as u64 / 2 + 10;
        let marks = |from: u64| {
            let mut m = Vec::new();
            for i in from..from + half {
                write_emsg(&mut m, i, i as u32, "x");
            }
            m
        };
        // Half after the init segment, half after the first fragment (4096 boxes in a row
        // without samples would end the survey: `MAX_BOXES_WITHOUT_MEDIA`), then one far
        // in the future and one too large to read.
        let mut tail = Vec::new();
        write_emsg(&mut tail, u64::MAX, 0, "far future");
        write_emsg(&mut tail, 5, 0, &"y".repeat(MAX_EMSG_BODY as usize));
        let frag = [
            &frag[..init],
            &marks(0)[..],
            &frag[init..ends[0]],
            &marks(half)[..],
            &tail[..],
            &frag[ends[0]..],
        ]
        .concat();
        let src = Source::survey(IoCursor::new(&frag)).unwrap();
        assert_eq!(src.chapters.len(), MAX_CHAPTERS);
        let (file, s) = finalize_bytes(&frag).unwrap();
        assert!(!s.truncated_tail, "{s:?}");
        // 4096 chapters a tick apart (0 to 45.5 ms) are one per millisecond: 0 to 46 ms.
        // The far future one starts after the end.
        assert_eq!(s.chapters, 47);
        assert_eq!(s.fragments, ends.len() as u64);
        assert!(file.len() < frag.len() + 4096);
    }
}
