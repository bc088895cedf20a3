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
//!       │                                 udta    (user data) only when options give some
//!       └──────────────────────────────>  mdat    (largesize when > 4 GiB): every trun's
//!                                                 data in file order, one chunk per trun
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

use std::io::{self, BufWriter, Read, Seek, Write};

use super::boxes::{self, write_box, write_full_box, RunLength, TrackHeader, FULL_HEADER};
use super::read::{self, Cursor, HeaderRead, InitTrack, Traf};
use super::udta::{udta_size, write_udta, UserBox};
use super::{Mp4Error, MOVIE_TIMESCALE};
use crate::time::MediaTime;

mod in_place;
pub use crate::in_place::{InPlace, InPlaceFile};
pub use in_place::finalize_in_place;

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
struct MoofCache {
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
    let mdat_header = boxes::header_len_for(total_data);
    let payload_start = |moov_size: u64| ftyp.len() as u64 + moov_size + mdat_header;
    let mut movie = Movie::lay_out(&plans, options, false);
    if needs_co64(payload_start(movie.moov_size) + src.last_chunk_start) {
        movie = Movie::lay_out(&plans, options, true);
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
        options,
    )?;
    out.put(&boxes::box_header(b"mdat", total_data + mdat_header))?;
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
    out.inner
        .flush()
        .map_err(Mp4Error::io("flushing the finalized MP4"))?;

    Ok(movie.summary(&plans, &mut src, out.written))
}

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
    pub moov_size: u64,
    movie_duration: u64,
    lead: u64,
    pub co64: bool,
}

impl Movie {
    pub fn lay_out(plans: &[TrackPlan], options: &FinalizeOptions, co64: bool) -> Movie {
        let natural = plans.iter().map(TrackPlan::movie_start).min().unwrap_or(0);
        let lead = options.present_from.map_or(natural, |t| {
            (u128::from(t.0.max(0) as u64) * u128::from(MOVIE_TIMESCALE) / 90_000) as u64
        });
        let limit = options
            .present_for
            .map(|d| (u128::from(d.0.max(0) as u64) * u128::from(MOVIE_TIMESCALE) / 90_000) as u64);
        let parts: Vec<TrakParts> = plans
            .iter()
            .map(|p| TrakParts::new(p, co64, lead, limit))
            .collect();
        let mut mvhd = Vec::new();
        let movie_duration = parts.iter().map(|t| t.tkhd_duration).max().unwrap_or(0);
        boxes::mvhd(
            &mut mvhd,
            movie_duration,
            // next_track_ID; a hostile track_ID of 2^32-1 leaves none free (the
            // field's 0 would mean "search"), which only matters to an editor.
            plans
                .iter()
                .map(|p| p.init.id)
                .max()
                .unwrap_or(0)
                .saturating_add(1),
        );
        let moov_size = 8
            + mvhd.len() as u64
            + parts.iter().map(|t| t.trak_size).sum::<u64>()
            + udta_size(&options.user_data);
        Movie {
            parts,
            mvhd,
            moov_size,
            movie_duration,
            lead,
            co64,
        }
    }

    /// Writes the `moov`, streaming each table from `src`, and checks its size.
    pub fn write<R: Read + Seek, W: Write>(
        &self,
        plans: &[TrackPlan],
        src: &mut Source<R>,
        out: &mut Counting<W>,
        chunks: ChunkBase,
        options: &FinalizeOptions,
    ) -> Result<(), Mp4Error> {
        let moov_start = out.written;
        out.put(&boxes::box_header(b"moov", self.moov_size))?;
        out.put(&self.mvhd)?;
        for (plan, part) in plans.iter().zip(&self.parts) {
            part.write(plan, src, out, chunks)?;
        }
        let mut udta = Vec::new();
        write_udta(&mut udta, &options.user_data);
        out.put(&udta)?;
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
        }
    }
}

pub(super) fn internal(detail: String) -> Mp4Error {
    Mp4Error::Unsupported {
        detail: format!("internal layout error: {detail}"),
    }
}

/// The input file and what the survey learned about it.
pub(super) struct Source<R> {
    pub r: R,
    file_len: u64,
    tracks: Vec<InitTrack>,
    plans: Vec<TrackPlan>,
    /// Where the fragments start and where the complete ones end.
    first_moof: u64,
    scan_end: u64,
    truncated_tail: bool,
    tail_detail: Option<String>,
    fragments: u64,
    total_data: u64,
    /// Offset within the output mdat payload of the last chunk.
    last_chunk_start: u64,
    /// Input offset of the last chunk.
    pub last_run_offset: u64,
    moofs: MoofCache,
}

impl<R: Read + Seek> Source<R> {
    /// Pass 1: find the init segment and the complete fragments, and count every table.
    pub fn survey(r: R) -> Result<Self, Mp4Error> {
        Self::survey_keeping(r, MOOF_CACHE_MAX)
    }

    /// [`Source::survey`] keeping at most `cache_max` bytes of `moof` boxes.
    fn survey_keeping(mut r: R, cache_max: usize) -> Result<Self, Mp4Error> {
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
        })
    }

    /// Calls `f` with each complete fragment's trafs, in file order.
    fn scan(
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
    fn scan_track(&mut self, id: u32, mut f: impl FnMut(&read::Run)) -> Result<(), Mp4Error> {
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
    init: InitTrack,
    samples: u64,
    stts_entries: u64,
    ctts_entries: u64,
    /// Any composition offset is non-zero: a ctts is needed.
    has_cto: bool,
    negative_cto: bool,
    sync_samples: u64,
    chunks: u64,
    stsc_entries: u64,
    /// Sum of sample durations, track timescale.
    duration: u64,
    first_decode_time: Option<u64>,
    first_cto: Option<i64>,
}

impl TrackPlan {
    fn new(init: InitTrack) -> Self {
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

/// The run-length encoders behind the tables, shared by the survey (which counts entries)
/// and the writers (which emit them), so both always agree.
struct TableStats {
    audio: bool,
    stts: RunLength<u32>,
    ctts: RunLength<i64>,
    stsc: RunLength<u32>,
}

/// One table entry as the encoders emit it.
enum Entry {
    Stts(u32, u32),
    Ctts(u32, i64),
    /// `(first_chunk, samples_per_chunk)`.
    Stsc(u32, u32),
}

impl TableStats {
    fn new(audio: bool) -> Self {
        TableStats {
            audio,
            stts: RunLength::new(),
            ctts: RunLength::new(),
            stsc: RunLength::new(),
        }
    }

    fn add_run(&mut self, plan: &mut TrackPlan, run: &read::Run, mut emit: impl FnMut(Entry)) {
        plan.chunks += 1;
        if let Some((n, v)) = self.stsc.push(run.samples.len() as u32) {
            plan.stsc_entries += 1;
            // The first chunk of the closed run: this chunk minus the run's length.
            emit(Entry::Stsc((plan.chunks - u64::from(n)) as u32, v));
        }
        for s in &run.samples {
            plan.samples += 1;
            plan.duration = plan.duration.saturating_add(u64::from(s.duration));
            plan.sync_samples += u64::from(s.sync);
            plan.first_cto.get_or_insert(s.cto);
            if let Some((n, v)) = self.stts.push(s.duration) {
                plan.stts_entries += 1;
                emit(Entry::Stts(n, v));
            }
            if !self.audio {
                plan.has_cto |= s.cto != 0;
                plan.negative_cto |= s.cto < 0;
                if let Some((n, v)) = self.ctts.push(s.cto) {
                    plan.ctts_entries += 1;
                    emit(Entry::Ctts(n, v));
                }
            }
        }
    }

    fn finish(&mut self, plan: &mut TrackPlan, mut emit: impl FnMut(Entry)) {
        if let Some((n, v)) = self.stsc.finish() {
            plan.stsc_entries += 1;
            emit(Entry::Stsc((plan.chunks + 1 - u64::from(n)) as u32, v));
        }
        if let Some((n, v)) = self.stts.finish() {
            plan.stts_entries += 1;
            emit(Entry::Stts(n, v));
        }
        if let Some((n, v)) = self.ctts.finish() {
            plan.ctts_entries += 1;
            emit(Entry::Ctts(n, v));
        }
    }
}

/// Which sample table a streaming pass writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Table {
    Stts,
    Ctts,
    Stss,
    Stsz,
    Stsc,
    Chunks,
}

/// A trak's small boxes (built in memory) and the sizes of its containers.
struct TrakParts {
    tkhd: Vec<u8>,
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

    fn write<R: Read + Seek, W: Write>(
        &self,
        p: &TrackPlan,
        src: &mut Source<R>,
        out: &mut Counting<W>,
        chunks: ChunkBase,
    ) -> Result<(), Mp4Error> {
        out.put(&boxes::box_header(b"trak", self.trak_size))?;
        out.put(&self.tkhd)?;
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

/// Streams one sample table: header with the planned size and count, then one pass over the
/// fragments emitting entries. The caller checks the byte count against the plan.
fn write_table<R: Read + Seek, W: Write>(
    table: Table,
    size: u64,
    p: &TrackPlan,
    co64: bool,
    src: &mut Source<R>,
    out: &mut Counting<W>,
    chunks: ChunkBase,
) -> Result<(), Mp4Error> {
    let id = p.init.id;
    let (kind, version, count): (&[u8; 4], u8, u64) = match table {
        Table::Stts => (b"stts", 0, p.stts_entries),
        Table::Ctts => (b"ctts", u8::from(p.negative_cto), p.ctts_entries),
        Table::Stss => (b"stss", 0, p.sync_samples),
        Table::Stsz => (b"stsz", 0, p.samples),
        Table::Stsc => (b"stsc", 0, p.stsc_entries),
        Table::Chunks => (if co64 { b"co64" } else { b"stco" }, 0, p.chunks),
    };
    out.put(&boxes::full_box_header(kind, size, version, 0))?;
    if table == Table::Stsz {
        out.put(&0u32.to_be_bytes())?; // sample_size 0: sizes follow per sample
    }
    out.put(&(count as u32).to_be_bytes())?;
    // Writes are collected into `err` because the scan callbacks cannot fail with an
    // io::Error of their own; the first failure is reported.
    let mut err: Option<io::Error> = None;
    let mut put = |out: &mut Counting<W>, bytes: &[u8]| {
        if err.is_none() {
            if let Err(e) = out.inner.write_all(bytes) {
                err = Some(e);
            }
            out.written += bytes.len() as u64;
        }
    };
    match table {
        Table::Stts | Table::Ctts | Table::Stsc => {
            let mut stats = TableStats::new(p.init.audio);
            let mut scratch = TrackPlan::new(p.init.clone());
            let mut emit = |e: Entry| match (table, e) {
                (Table::Stts, Entry::Stts(n, d)) => {
                    put(out, &n.to_be_bytes());
                    put(out, &d.to_be_bytes());
                }
                (Table::Ctts, Entry::Ctts(n, c)) => {
                    put(out, &n.to_be_bytes());
                    // Version 0 is unsigned and version 1 signed; both are the same 32 bits.
                    put(out, &(c as i32).to_be_bytes());
                }
                (Table::Stsc, Entry::Stsc(first, per_chunk)) => {
                    put(out, &first.to_be_bytes());
                    put(out, &per_chunk.to_be_bytes());
                    put(out, &1u32.to_be_bytes()); // sample description index
                }
                _ => {}
            };
            src.scan_track(id, |run| stats.add_run(&mut scratch, run, &mut emit))?;
            stats.finish(&mut scratch, &mut emit);
        }
        Table::Stss => {
            let mut n = 0u32;
            src.scan_track(id, |run| {
                for s in &run.samples {
                    n += 1;
                    if s.sync {
                        put(out, &n.to_be_bytes());
                    }
                }
            })?;
        }
        Table::Stsz => {
            src.scan_track(id, |run| {
                for s in &run.samples {
                    put(out, &s.size.to_be_bytes());
                }
            })?;
        }
        Table::Chunks => {
            // Chunk offsets depend on every track's runs before them, in file order.
            let mut pos = match chunks {
                ChunkBase::Packed(data_start) => data_start,
                ChunkBase::InPlace(_) => 0,
            };
            src.scan(|_, trafs| {
                for traf in trafs {
                    for run in &traf.runs {
                        if let ChunkBase::InPlace(shift) = chunks {
                            pos = shift + run.offset;
                        }
                        if traf.track_id == id {
                            if co64 {
                                put(out, &pos.to_be_bytes());
                            } else {
                                put(out, &(pos as u32).to_be_bytes());
                            }
                        }
                        pos += run.bytes;
                    }
                }
                Ok(())
            })?;
        }
    }
    match err {
        Some(e) => Err(Mp4Error::Io {
            context: "writing the finalized MP4's moov",
            source: e,
        }),
        None => Ok(()),
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
    use crate::mp4::testkit::{
        read_progressive, synthetic, top_level_boxes, write_fragmented, XorShift,
    };

    fn finalize_bytes(input: &[u8]) -> Result<(Vec<u8>, FinalizeSummary), Mp4Error> {
        let mut out = Vec::new();
        let summary = finalize(IoCursor::new(input), &mut out)?;
        assert_eq!(summary.bytes, out.len() as u64);
        Ok((out, summary))
    }

    /// Checks that a finalized file holds exactly `frames` (a prefix of the recording), with
    /// times relative to `base`, and that its layout is ftyp, moov, mdat. `lead` is where the
    /// movie starts after `base` (90 kHz).
    fn assert_holds(file: &[u8], frames: &[&Frame], base: MediaTime, lead: i64) {
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

    #[test]
    fn ctts_version_follows_negative_offsets() {
        let (tracks, mut frames) = synthetic(1, MediaTime::ZERO);
        for f in frames.iter_mut().filter(|f| f.is_video() && !f.keyframe) {
            f.pts = f.dts - MediaTime(1500);
        }
        let (frag, _) = write_fragmented(&tracks, &frames).unwrap();
        let (file, _) = finalize_bytes(&frag).unwrap();
        let ctts = file.windows(4).position(|w| w == b"ctts").unwrap();
        assert_eq!(file[ctts + 4], 1, "negative offsets need ctts version 1");
        let refs: Vec<&Frame> = frames.iter().collect();
        assert_holds(&file, &refs, frames[0].dts, 0);
        let (tracks, frames) = synthetic(1, MediaTime::ZERO);
        let (frag, _) = write_fragmented(&tracks, &frames).unwrap();
        let (file, _) = finalize_bytes(&frag).unwrap();
        let ctts = file.windows(4).position(|w| w == b"ctts").unwrap();
        assert_eq!(file[ctts + 4], 0);
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
}
