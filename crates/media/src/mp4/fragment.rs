//! Sans-IO fragmented MP4 writer: the crash-safe recording format.
//!
//! ```text
//! ftyp                      iso5; compatible iso5 isom avc1|hvc1 mp41
//! moov                      init segment: describes tracks, holds no samples
//!   mvhd                    timescale 90000, duration 0
//!   trak (video, id 1)      tkhd (width, height)
//!     mdia  mdhd (90000)  hdlr vide  minf vmhd dinf stbl
//!           stbl: stsd (avc1+avcC | hvc1+hvcC), empty stts stsc stsz stco
//!   trak (audio, id 2)      mdhd (sample rate)  hdlr soun  smhd  stsd (mp4a+esds)
//!   mvex  trex per track
//!   udta                    only with user data (see `udta.rs`)
//! moof                      one per fragment (~1 s, or up to the next video key frame)
//!   mfhd                    sequence number from 1
//!   traf per track with samples in this fragment
//!     tfhd                  default-base-is-moof: offsets count from this moof
//!     tfdt v1               baseMediaDecodeTime, 64-bit, in the track timescale
//!     trun                  data offset; per sample duration, size, flags
//!                           (+ signed composition offsets, trun v1, for video)
//! mdat                      the fragment's samples: video run, then audio run
//! moof mdat ...
//! ```
//!
//! A process killed mid-write leaves complete fragments plus at most one partial one, which
//! players skip and [`super::finalize()`] drops. Memory is one fragment: the caller takes a
//! fragment whenever [`Fmp4Writer::ready_for_fragment`] says so.
//!
//! Time: the first DTS pushed (any track) is time 0 of the file. Each sample's decode time
//! in its track timescale is computed from its absolute DTS (`(dts - base)` converted once),
//! and durations are differences of those, so audio at 44.1 kHz never drifts however long the
//! recording. A sample's duration is only known when the next sample of its track arrives, so
//! the last sample of each track is held back; a gap in the stream (a publisher that dropped
//! and came back) becomes a long duration of the sample before it, keeping the gap.

use std::sync::Arc;

use bytes::{BufMut, Bytes};

use super::boxes::{self, write_box, write_full_box, TrackHeader, FLAGS_NON_SYNC, FLAGS_SYNC};
use super::udta::{write_udta, UserBox};
use super::Mp4Error;
use crate::codec::{AudioConfig, VideoCodec, VideoConfig};
use crate::frame::{Frame, TrackKind, Tracks};
use crate::time::{MediaTime, TIMESCALE};

/// Buffered media that makes a fragment due, bounding what a crash can lose.
pub const FRAGMENT_TARGET: MediaTime = MediaTime::from_millis(500);

/// Duration given to a held-back sample at [`Fmp4Writer::finish`] when its track had only
/// that one sample: 1/30 s for video; audio uses its frame size (1024 samples for AAC).
const LONE_VIDEO_DURATION: u32 = 3000;

/// Writes a fragmented MP4 from [`Frame`]s. See the module docs for the layout.
#[derive(Debug)]
pub struct Fmp4Writer {
    tracks: Vec<TrackWriter>,
    /// First DTS of the recording; every track's time counts from it.
    base: Option<MediaTime>,
    /// `mfhd` sequence number of the next fragment.
    sequence: u32,
    /// A video key frame arrived after buffered video: cut the fragment before it.
    key_frame_waiting: bool,
    video_brand: Option<[u8; 4]>,
    /// Written as `moov/udta` of the init segment.
    user_data: Vec<UserBox>,
    /// Chapters added before the first frame: their time is counted from it.
    pending_chapters: Vec<(MediaTime, String)>,
    /// `emsg` id of the next chapter.
    chapters: u32,
}

#[derive(Debug)]
struct TrackWriter {
    kind: TrackKind,
    id: u32,
    timescale: u32,
    header: TrackHeader,
    sample_entry: Vec<u8>,
    last_dts: Option<MediaTime>,
    held: Option<Held>,
    /// Samples of the current fragment whose durations are known.
    samples: Vec<SampleMeta>,
    data: Vec<Bytes>,
    /// Decode time (track timescale) of `samples[0]`.
    fragment_start: Option<u64>,
    /// Sum of `samples` durations (track timescale).
    buffered: u64,
    prev_duration: Option<u32>,
    lone_duration: u32,
}

/// The last sample of a track, waiting for the next one to learn its duration.
#[derive(Debug)]
struct Held {
    start: u64,
    cto: i32,
    flags: u32,
    data: Bytes,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SampleMeta {
    duration: u32,
    size: u32,
    flags: u32,
    cto: i32,
}

impl Fmp4Writer {
    /// A writer for the given tracks: video is track 1 (when present), audio follows.
    pub fn new(tracks: &Tracks) -> Result<Self, Mp4Error> {
        let mut out = Vec::new();
        let mut video_brand = None;
        if let Some(v) = &tracks.video {
            video_brand = Some(video_fourcc(v));
            out.push(TrackWriter::video(out.len() as u32 + 1, v)?);
        }
        if let Some(a) = &tracks.audio {
            out.push(TrackWriter::audio(out.len() as u32 + 1, a));
        }
        if out.is_empty() {
            return Err(Mp4Error::NoTracks);
        }
        Ok(Fmp4Writer {
            tracks: out,
            base: None,
            sequence: 1,
            key_frame_waiting: false,
            video_brand,
            user_data: Vec::new(),
            pending_chapters: Vec::new(),
            chapters: 0,
        })
    }

    /// Adds `moov/udta` with `boxes` to the init segment: user data a crashed recording
    /// keeps (players skip box types they do not know). The finalizer does not copy it by
    /// itself; read it back with [`super::read_user_data`].
    pub fn with_user_data(mut self, boxes: Vec<UserBox>) -> Self {
        self.user_data = boxes;
        self
    }

    /// Appends the init segment (`ftyp` + `moov`) to `out`. Write it once, first.
    pub fn init_segment(&self, out: &mut Vec<u8>) {
        let mut brands: Vec<&[u8; 4]> = vec![b"iso5", b"isom"];
        if let Some(b) = &self.video_brand {
            brands.push(b);
        }
        brands.push(b"mp41");
        boxes::ftyp(out, b"iso5", &brands);
        write_box(out, b"moov", |out| {
            boxes::mvhd(out, 0, self.tracks.len() as u32 + 1);
            for t in &self.tracks {
                write_box(out, b"trak", |out| {
                    boxes::tkhd(out, &t.header, 0);
                    write_box(out, b"mdia", |out| {
                        boxes::mdhd(out, t.timescale, 0);
                        boxes::hdlr(out, t.header.audio);
                        write_box(out, b"minf", |out| {
                            boxes::media_header_and_dinf(out, t.header.audio);
                            write_box(out, b"stbl", |out| {
                                write_full_box(out, b"stsd", 0, 0, |out| {
                                    out.put_u32(1);
                                    out.put_slice(&t.sample_entry);
                                });
                                write_full_box(out, b"stts", 0, 0, |out| out.put_u32(0));
                                write_full_box(out, b"stsc", 0, 0, |out| out.put_u32(0));
                                write_full_box(out, b"stsz", 0, 0, |out| out.put_u64(0));
                                write_full_box(out, b"stco", 0, 0, |out| out.put_u32(0));
                            });
                        });
                    });
                });
            }
            write_box(out, b"mvex", |out| {
                for t in &self.tracks {
                    write_full_box(out, b"trex", 0, 0, |out| {
                        out.put_u32(t.id);
                        out.put_u32(1); // sample description index
                        out.put_u32(0);
                        out.put_u32(0);
                        out.put_u32(0);
                    });
                }
            });
            write_udta(out, &self.user_data);
        });
    }

    /// Marks a chapter titled `title` starting at `at` (the timeline of the frames pushed),
    /// appending its `emsg` box to `out` at once (see `chapters.rs`): write `out` to the
    /// file right away and a crash keeps the chapter. Call it between fragments (never
    /// between a [`Self::take_fragment_parts`] and the writing of its sample data). Before
    /// the first frame the file's time 0 is not known yet: the chapter then goes out with
    /// the first fragment. A chapter before the first frame starts at 0.
    pub fn add_chapter(&mut self, at: MediaTime, title: &str, out: &mut Vec<u8>) {
        match self.base {
            Some(base) => self.write_chapter(at - base, title, out),
            None => self.pending_chapters.push((at, title.to_owned())),
        }
    }

    fn write_chapter(&mut self, since_base: MediaTime, title: &str, out: &mut Vec<u8>) {
        let at = u64::try_from(since_base.0).unwrap_or(0);
        super::chapters::write_emsg(out, at, self.chapters, title);
        self.chapters = self.chapters.wrapping_add(1);
    }

    /// Buffers a frame. DTS must not decrease within a track.
    pub fn push(&mut self, frame: Frame) -> Result<(), Mp4Error> {
        let kind = frame.kind;
        let track = self
            .tracks
            .iter_mut()
            .find(|t| t.kind == kind)
            .ok_or(Mp4Error::NoTrack {
                track: kind,
                dts: frame.dts,
            })?;
        if let Some(previous) = track.last_dts {
            if frame.dts < previous {
                return Err(Mp4Error::DtsBackwards {
                    track: kind,
                    previous,
                    dts: frame.dts,
                });
            }
        }
        let base = *self.base.get_or_insert(frame.dts);
        let sample_err = |detail: String| Mp4Error::Sample {
            track: kind,
            dts: frame.dts,
            detail,
        };
        // Frames older than the recording's base (audio that arrived just after a later
        // video frame, in the first moments of a stream) start at 0 rather than failing:
        // those few samples get shortened durations, and the timeline after them is exact.
        let start = u64::try_from(track.to_track_time(frame.dts - base)).unwrap_or(0);
        let cto = match kind {
            TrackKind::Video => i32::try_from(frame.composition_offset().0).map_err(|_| {
                sample_err(format!(
                    "composition offset {} out of range",
                    frame.composition_offset()
                ))
            })?,
            // Audio has pts == dts; an offset would be in the wrong timescale anyway.
            TrackKind::Audio => 0,
        };
        if u32::try_from(frame.data.len()).is_err() {
            return Err(sample_err(format!(
                "{} bytes is too large for one sample",
                frame.data.len()
            )));
        }
        // Validate before mutating, so an error leaves the writer usable.
        let duration = match &track.held {
            Some(held) => Some(
                u32::try_from(start.saturating_sub(held.start)).map_err(|_| {
                    sample_err(format!(
                        "gap of {} after the previous frame is too long for one MP4 sample",
                        frame.dts - track.last_dts.unwrap_or(frame.dts)
                    ))
                })?,
            ),
            None => None,
        };
        if let (Some(duration), Some(held)) = (duration, track.held.take()) {
            track.commit(held, duration);
            if kind == TrackKind::Video && frame.keyframe {
                self.key_frame_waiting = true;
            }
        }
        let flags = if frame.keyframe || kind == TrackKind::Audio {
            FLAGS_SYNC
        } else {
            FLAGS_NON_SYNC
        };
        track.held = Some(Held {
            start,
            cto,
            flags,
            data: frame.data,
        });
        track.last_dts = Some(frame.dts);
        Ok(())
    }

    /// Whether the caller should call [`Self::take_fragment`] now: a video key frame arrived
    /// after buffered video (so fragments start on key frames), or some track has buffered
    /// [`FRAGMENT_TARGET`] (0.5 s) of media. Taking a fragment whenever this is true bounds
    /// both memory (per stream: half a second of media) and what a crash loses.
    pub fn ready_for_fragment(&self) -> bool {
        self.key_frame_waiting
            || self.tracks.iter().any(|t| {
                MediaTime::from_rate(t.buffered.min(i64::MAX as u64) as i64, t.timescale)
                    >= FRAGMENT_TARGET
            })
    }

    /// Appends a `moof`+`mdat` with every sample whose duration is known; returns false (and
    /// appends nothing) when there is none.
    pub fn take_fragment(&mut self, out: &mut Vec<u8>) -> bool {
        match self.take_fragment_parts(out) {
            Some(data) => {
                for d in data {
                    out.extend_from_slice(&d);
                }
                true
            }
            None => false,
        }
    }

    /// [`Self::take_fragment`] without copying the sample data: appends the `moof` and the
    /// `mdat` header, and returns the `mdat` payload as the samples' own buffers, in order
    /// (`None`, appending nothing, when no sample is ready).
    pub fn take_fragment_parts(&mut self, out: &mut Vec<u8>) -> Option<Vec<Bytes>> {
        self.key_frame_waiting = false;
        let active: Vec<usize> = (0..self.tracks.len())
            .filter(|&i| !self.tracks[i].samples.is_empty())
            .collect();
        if active.is_empty() {
            return None;
        }
        if let Some(base) = self.base {
            for (at, title) in std::mem::take(&mut self.pending_chapters) {
                self.write_chapter(at.max(base) - base, &title, out);
            }
        }
        let moof_start = out.len();
        let mut offset_fields = Vec::with_capacity(active.len());
        let sequence = self.sequence;
        write_box(out, b"moof", |out| {
            write_full_box(out, b"mfhd", 0, 0, |out| out.put_u32(sequence));
            for &i in &active {
                let t = &self.tracks[i];
                write_box(out, b"traf", |out| {
                    // default-base-is-moof (0x020000): data offsets count from the moof.
                    write_full_box(out, b"tfhd", 0, 0x02_0000, |out| out.put_u32(t.id));
                    write_full_box(out, b"tfdt", 1, 0, |out| {
                        out.put_u64(t.fragment_start.unwrap_or(0))
                    });
                    let video = t.kind == TrackKind::Video;
                    // data-offset, duration, size, flags; composition offsets for video,
                    // signed (version 1) so an encoder's negative offsets survive.
                    let flags = 0x01 | 0x100 | 0x200 | 0x400 | if video { 0x800 } else { 0 };
                    write_full_box(out, b"trun", u8::from(video), flags, |out| {
                        out.put_u32(t.samples.len() as u32);
                        offset_fields.push(out.len());
                        out.put_i32(0); // patched below
                        for s in &t.samples {
                            out.put_u32(s.duration);
                            out.put_u32(s.size);
                            out.put_u32(s.flags);
                            if video {
                                out.put_i32(s.cto);
                            }
                        }
                    });
                });
            }
        });
        let payload: u64 = active
            .iter()
            .map(|&i| {
                self.tracks[i]
                    .data
                    .iter()
                    .map(|d| d.len() as u64)
                    .sum::<u64>()
            })
            .sum();
        let header = boxes::box_header(b"mdat", payload + boxes::header_len_for(payload));
        let mut data_pos = out.len() + header.len() - moof_start;
        out.extend_from_slice(&header);
        let mut data = Vec::new();
        for (&i, field) in active.iter().zip(offset_fields) {
            let rel = i32::try_from(data_pos).unwrap_or(i32::MAX);
            out[field..field + 4].copy_from_slice(&rel.to_be_bytes());
            let t = &mut self.tracks[i];
            for d in t.data.drain(..) {
                data_pos += d.len();
                data.push(d);
            }
            t.samples.clear();
            t.fragment_start = None;
            t.buffered = 0;
        }
        self.sequence = self.sequence.wrapping_add(1);
        Some(data)
    }

    /// Flushes everything, held-back samples included (each gets its track's previous
    /// duration). Appends nothing if nothing was buffered.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if let Some(data) = self.finish_parts(out) {
            for d in data {
                out.extend_from_slice(&d);
            }
        }
    }

    /// [`Self::finish`] without copying the sample data (see [`Self::take_fragment_parts`]).
    pub fn finish_parts(&mut self, out: &mut Vec<u8>) -> Option<Vec<Bytes>> {
        for t in &mut self.tracks {
            if let Some(held) = t.held.take() {
                let duration = t.prev_duration.unwrap_or(t.lone_duration);
                t.commit(held, duration);
            }
        }
        self.take_fragment_parts(out)
    }
}

impl TrackWriter {
    fn video(id: u32, v: &Arc<VideoConfig>) -> Result<Self, Mp4Error> {
        let (width, height) = (v.width, v.height);
        if width > 0xffff || height > 0xffff {
            return Err(Mp4Error::Dimensions { width, height });
        }
        let mut entry = Vec::new();
        write_box(&mut entry, &video_fourcc(v), |out| {
            out.put_slice(&[0; 6]);
            out.put_u16(1); // data_reference_index
            out.put_slice(&[0; 16]); // pre_defined, reserved
            out.put_u16(width as u16);
            out.put_u16(height as u16);
            out.put_u32(0x0048_0000); // 72 dpi
            out.put_u32(0x0048_0000);
            out.put_u32(0);
            out.put_u16(1); // frame_count
            out.put_slice(&[0; 32]); // compressorname
            out.put_u16(0x0018); // depth
            out.put_i16(-1);
            let record_kind = if v.codec == VideoCodec::H265 {
                b"hvcC"
            } else {
                b"avcC"
            };
            write_box(out, record_kind, |out| out.put_slice(&v.record));
        });
        Ok(TrackWriter::new(
            TrackKind::Video,
            TrackHeader {
                id,
                audio: false,
                width,
                height,
            },
            TIMESCALE as u32,
            entry,
            LONE_VIDEO_DURATION,
        ))
    }

    fn audio(id: u32, a: &Arc<AudioConfig>) -> Self {
        let rate = a.sample_rate.max(1);
        let mut entry = Vec::new();
        write_box(&mut entry, b"mp4a", |out| {
            out.put_slice(&[0; 6]);
            out.put_u16(1);
            out.put_u64(0);
            // Channel configuration 0 (layout in a PCE) has no count here; 2 is the
            // conventional placeholder, decoders use the AudioSpecificConfig.
            out.put_u16(if a.channels == 0 {
                2
            } else {
                u16::from(a.channels)
            });
            out.put_u16(16);
            out.put_u32(0);
            // 16.16 fixed point; rates above 65535 Hz do not fit and the ASC is authoritative.
            out.put_u32(if rate <= 0xffff { rate << 16 } else { 0 });
            write_full_box(out, b"esds", 0, 0, |out| put_es_descriptor(out, id, &a.asc));
        });
        TrackWriter::new(
            TrackKind::Audio,
            TrackHeader {
                id,
                audio: true,
                width: 0,
                height: 0,
            },
            rate,
            entry,
            a.frame_samples.max(1),
        )
    }

    fn new(
        kind: TrackKind,
        header: TrackHeader,
        timescale: u32,
        sample_entry: Vec<u8>,
        lone_duration: u32,
    ) -> Self {
        TrackWriter {
            kind,
            id: header.id,
            timescale,
            header,
            sample_entry,
            last_dts: None,
            held: None,
            samples: Vec::new(),
            data: Vec::new(),
            fragment_start: None,
            buffered: 0,
            prev_duration: None,
            lone_duration,
        }
    }

    /// A span of media time in this track's timescale, rounded to the nearest unit.
    fn to_track_time(&self, t: MediaTime) -> i64 {
        if self.timescale == TIMESCALE as u32 {
            t.0
        } else {
            t.to_rate(self.timescale)
        }
    }

    fn commit(&mut self, held: Held, duration: u32) {
        self.fragment_start.get_or_insert(held.start);
        self.samples.push(SampleMeta {
            duration,
            size: held.data.len() as u32,
            flags: held.flags,
            cto: held.cto,
        });
        self.data.push(held.data);
        self.buffered += u64::from(duration);
        self.prev_duration = Some(duration);
    }
}

fn video_fourcc(v: &VideoConfig) -> [u8; 4] {
    match v.codec {
        VideoCodec::H264 => *b"avc1",
        // hvc1: parameter sets live in the hvcC (what Apple players require).
        VideoCodec::H265 => *b"hvc1",
    }
}

/// The ES_Descriptor of an `esds` box (ISO/IEC 14496-1 7.2.6.5) carrying the ASC.
fn put_es_descriptor(out: &mut Vec<u8>, es_id: u32, asc: &[u8]) {
    let mut dsi = Vec::new();
    put_descriptor(&mut dsi, 0x05, asc);
    let mut dcd = vec![0x40, 0x15]; // MPEG-4 audio; stream type audio, upstream 0, reserved 1
    dcd.extend_from_slice(&[0, 0, 0]); // bufferSizeDB
    dcd.extend_from_slice(&[0; 8]); // max and average bitrate: unknown
    dcd.extend_from_slice(&dsi);
    let mut es = Vec::new();
    es.put_u16(es_id as u16);
    es.put_u8(0); // no stream dependence, URL or OCR
    put_descriptor(&mut es, 0x04, &dcd);
    put_descriptor(&mut es, 0x06, &[0x02]); // SLConfigDescriptor: predefined MP4
    put_descriptor(out, 0x03, &es);
}

/// A descriptor: tag, then the size in 7-bit groups with continuation bits.
fn put_descriptor(out: &mut Vec<u8>, tag: u8, body: &[u8]) {
    out.put_u8(tag);
    let len = body.len();
    let mut groups = Vec::new();
    let mut n = len;
    loop {
        groups.push((n & 0x7f) as u8);
        n >>= 7;
        if n == 0 {
            break;
        }
    }
    for (i, g) in groups.iter().rev().enumerate() {
        out.put_u8(if i + 1 < groups.len() { g | 0x80 } else { *g });
    }
    out.put_slice(body);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::mp4::read::{parse_init_moov, parse_moof, Cursor, InitTrack, Traf};
    use crate::mp4::testkit::{self, synthetic, top_level_boxes, write_fragmented};

    fn init_tracks(init: &[u8]) -> Vec<InitTrack> {
        let top = Cursor::new(init, 0);
        let (_, moov) = top.require(b"moov", "init").unwrap();
        parse_init_moov(moov).unwrap()
    }

    /// Parses every fragment of a file: `(moof offset, trafs)`.
    fn fragments(file: &[u8]) -> Vec<(usize, Vec<Traf>)> {
        let tracks = init_tracks(file);
        let mut c = Cursor::new(file, 0);
        let mut pos = 0;
        let mut out = Vec::new();
        while let Some((kind, whole, body)) = c.child().unwrap() {
            if &kind == b"moof" {
                out.push((pos, parse_moof(body, pos as u64, &tracks).unwrap()));
            }
            pos += whole.len();
        }
        out
    }

    fn frame(kind: TrackKind, dts: i64, cto: i64, key: bool, data: &[u8]) -> Frame {
        Frame {
            kind,
            dts: MediaTime(dts),
            pts: MediaTime(dts + cto),
            keyframe: key,
            data: Bytes::copy_from_slice(data),
        }
    }

    #[test]
    fn init_segment_layout() {
        let (tracks, _) = synthetic(1, MediaTime::ZERO);
        let w = Fmp4Writer::new(&tracks).unwrap();
        let mut init = Vec::new();
        w.init_segment(&mut init);
        let top = top_level_boxes(&init);
        assert_eq!(
            top.iter().map(|b| b.0.as_str()).collect::<Vec<_>>(),
            ["ftyp", "moov"]
        );
        assert_eq!(
            top.iter().map(|b| b.1).sum::<u64>(),
            init.len() as u64,
            "box sizes add up to the file"
        );
        assert_eq!(&init[8..12], b"iso5");
        assert_eq!(&init[16..32], b"iso5isomavc1mp41");
        let parsed = init_tracks(&init);
        assert_eq!(parsed.len(), 2);
        let (v, a) = (&parsed[0], &parsed[1]);
        assert_eq!(
            (v.id, v.audio, v.timescale, v.width, v.height),
            (1, false, 90_000, 320, 240)
        );
        assert_eq!((a.id, a.audio, a.timescale), (2, true, 44_100));
        assert_eq!(&v.entry_kind, b"avc1");
        assert_eq!(&a.entry_kind, b"mp4a");
        // The avcC record is carried byte for byte.
        let record = &tracks.video.as_ref().unwrap().record;
        assert!(v.stsd.windows(record.len()).any(|w| w == &record[..]));
        // The esds carries the ASC as DecoderSpecificInfo (tag 5, length 2).
        assert!(a.stsd.windows(4).any(|w| w == [0x05, 0x02, 0x12, 0x10]));
    }

    #[test]
    fn no_tracks_and_oversized_video_are_errors() {
        assert!(matches!(
            Fmp4Writer::new(&Tracks::default()),
            Err(Mp4Error::NoTracks)
        ));
        let (tracks, _) = synthetic(1, MediaTime::ZERO);
        let mut v = (**tracks.video.as_ref().unwrap()).clone();
        v.width = 70_000;
        let big = Tracks {
            video: Some(Arc::new(v)),
            audio: None,
        };
        assert!(matches!(
            Fmp4Writer::new(&big),
            Err(Mp4Error::Dimensions { width: 70_000, .. })
        ));
    }

    #[test]
    fn moof_layout_trun_flags_and_data_offsets() {
        let (tracks, _) = synthetic(1, MediaTime::ZERO);
        let mut w = Fmp4Writer::new(&tracks).unwrap();
        let mut file = Vec::new();
        w.init_segment(&mut file);
        let init_len = file.len();
        w.push(frame(TrackKind::Video, 900, 6000, true, b"key"))
            .unwrap();
        w.push(frame(TrackKind::Audio, 900, 0, true, b"a0"))
            .unwrap();
        w.push(frame(TrackKind::Video, 3900, 0, false, b"delta"))
            .unwrap();
        w.push(frame(TrackKind::Audio, 900 + 2090, 0, true, b"a1"))
            .unwrap();
        w.push(frame(TrackKind::Video, 6900, -1500, false, b"b"))
            .unwrap();
        assert!(w.take_fragment(&mut file));
        assert!(!w.take_fragment(&mut file), "nothing left but held samples");
        let top = top_level_boxes(&file[init_len..]);
        assert_eq!(
            top.iter().map(|b| b.0.as_str()).collect::<Vec<_>>(),
            ["moof", "mdat"]
        );
        assert_eq!(
            top.iter().map(|b| b.1).sum::<u64>(),
            (file.len() - init_len) as u64
        );

        // Raw trun headers: video version 1 with cts (0x000f01), audio version 0 (0x000701).
        let truns: Vec<usize> = file
            .windows(4)
            .enumerate()
            .filter(|(_, w)| w == b"trun")
            .map(|(i, _)| i)
            .collect();
        assert_eq!(truns.len(), 2);
        assert_eq!(&file[truns[0] + 4..truns[0] + 8], &[1, 0, 0x0f, 0x01]);
        assert_eq!(&file[truns[1] + 4..truns[1] + 8], &[0, 0, 0x07, 0x01]);
        // tfhd says default-base-is-moof.
        let tfhd = file.windows(4).position(|w| w == b"tfhd").unwrap();
        assert_eq!(&file[tfhd + 4..tfhd + 8], &[0, 2, 0, 0]);

        let frags = fragments(&file);
        assert_eq!(frags.len(), 1);
        let trafs = &frags[0].1;
        assert_eq!(trafs.len(), 2);
        let v = &trafs[0];
        assert_eq!((v.track_id, v.decode_time), (1, Some(0)));
        let vs = &v.runs[0].samples;
        assert_eq!(vs.len(), 2, "the last video frame is held back");
        assert_eq!((vs[0].duration, vs[0].sync, vs[0].cto), (3000, true, 6000));
        assert_eq!((vs[1].duration, vs[1].sync, vs[1].cto), (3000, false, 0));
        let a = &trafs[1];
        assert_eq!((a.track_id, a.decode_time), (2, Some(0)));
        assert_eq!(a.runs[0].samples.len(), 1);
        assert_eq!(a.runs[0].samples[0].duration, 1024);
        // Data offsets resolve to each run's bytes.
        let at =
            |r: &crate::mp4::read::Run| &file[r.offset as usize..(r.offset + r.bytes) as usize];
        assert_eq!(at(&v.runs[0]), b"keydelta");
        assert_eq!(at(&a.runs[0]), b"a0");

        // finish flushes held samples with the previous duration; a negative offset survives.
        w.finish(&mut file);
        let frags = fragments(&file);
        assert_eq!(frags.len(), 2);
        let v = &frags[1].1[0];
        assert_eq!(v.decode_time, Some(6000));
        assert_eq!(
            (v.runs[0].samples[0].duration, v.runs[0].samples[0].cto),
            (3000, -1500)
        );
        let a = &frags[1].1[1];
        assert_eq!(
            (a.decode_time, a.runs[0].samples[0].duration),
            (Some(1024), 1024)
        );
        // Sequence numbers count from 1.
        let mfhd: Vec<usize> = file
            .windows(4)
            .enumerate()
            .filter(|(_, w)| w == b"mfhd")
            .map(|(i, _)| i)
            .collect();
        assert_eq!(&file[mfhd[0] + 8..mfhd[0] + 12], &1u32.to_be_bytes());
        assert_eq!(&file[mfhd[1] + 8..mfhd[1] + 12], &2u32.to_be_bytes());
    }

    /// Writes audio frames with the given DTS and returns every sample's decode start as
    /// the file says it (tfdt plus the durations before it).
    fn audio_starts(dts: &[MediaTime]) -> Vec<u64> {
        let audio = crate::codec::aac::parse_asc(&[0x12, 0x10]).unwrap();
        let tracks = Tracks {
            video: None,
            audio: Some(Arc::new(audio)),
        };
        let mut w = Fmp4Writer::new(&tracks).unwrap();
        let mut file = Vec::new();
        w.init_segment(&mut file);
        for &dts in dts {
            w.push(Frame {
                kind: TrackKind::Audio,
                dts,
                pts: dts,
                keyframe: true,
                data: Bytes::from_static(b"x"),
            })
            .unwrap();
            if w.ready_for_fragment() {
                assert!(w.take_fragment(&mut file));
            }
        }
        w.finish(&mut file);
        let mut starts = Vec::new();
        for (_, trafs) in fragments(&file) {
            let mut t = trafs[0].decode_time.unwrap();
            if let Some(&last) = starts.last() {
                assert!(t > last, "tfdt continues the timeline");
            }
            for s in &trafs[0].runs[0].samples {
                starts.push(t);
                t += u64::from(s.duration);
            }
        }
        starts
    }

    #[test]
    fn audio_time_does_not_drift() {
        // 40 minutes of 44.1 kHz AAC (1024 samples = 2089.795... ticks at 90 kHz).
        let frames = 40 * 60 * 44_100 / 1024;
        let t0 = MediaTime(123_456_789);
        let exact: Vec<MediaTime> = (0..frames)
            .map(|i| t0 + MediaTime::from_rate(i * 1024, 44_100))
            .collect();
        let starts = audio_starts(&exact);
        assert_eq!(starts.len(), frames as usize);
        for (i, s) in starts.iter().enumerate() {
            assert_eq!(*s, i as u64 * 1024, "sample {i}");
        }
        // FLV/RTMP sources give whole milliseconds: 23 or 24 ms per frame. Converting each
        // duration on its own would lose ~0.3 samples per frame (seconds over 40 min); every
        // sample must instead start where its own DTS says.
        let ms: Vec<MediaTime> = (0..frames)
            .map(|i| t0 + MediaTime::from_millis((i * 1024 * 1000 + 22_050) / 44_100))
            .collect();
        let starts = audio_starts(&ms);
        for (i, (s, dts)) in starts.iter().zip(&ms).enumerate() {
            assert_eq!(*s as i64, (*dts - t0).to_rate(44_100), "sample {i}");
        }
        let last = *starts.last().unwrap() as i64;
        assert!(
            (last - (frames - 1) * 1024).abs() <= 23,
            "within 1 ms of the true sample clock: {last}"
        );
    }

    #[test]
    fn dts_going_backwards_is_an_error_naming_the_track() {
        let (tracks, _) = synthetic(1, MediaTime::ZERO);
        let mut w = Fmp4Writer::new(&tracks).unwrap();
        w.push(frame(TrackKind::Video, 90_000, 0, true, b"k"))
            .unwrap();
        w.push(frame(TrackKind::Audio, 90_000, 0, true, b"a"))
            .unwrap();
        let err = w
            .push(frame(TrackKind::Video, 87_000, 0, false, b"d"))
            .unwrap_err();
        assert!(
            matches!(
                err,
                Mp4Error::DtsBackwards {
                    track: TrackKind::Video,
                    ..
                }
            ),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("Video") && msg.contains("0.967s") && msg.contains("1.000s"),
            "{msg}"
        );
        // Equal DTS is allowed, and the error left the writer usable.
        w.push(frame(TrackKind::Video, 90_000, 0, false, b"d"))
            .unwrap();
        let err = w
            .push(frame(TrackKind::Audio, 1, 0, true, b"a"))
            .unwrap_err();
        assert!(err.to_string().contains("Audio"), "{err}");
        let only_audio = Tracks {
            video: None,
            audio: tracks.audio.clone(),
        };
        let mut w = Fmp4Writer::new(&only_audio).unwrap();
        assert!(matches!(
            w.push(frame(TrackKind::Video, 0, 0, true, b"k")),
            Err(Mp4Error::NoTrack {
                track: TrackKind::Video,
                ..
            })
        ));
    }

    #[test]
    fn late_track_start_and_gaps_stay_in_the_timeline() {
        let (tracks, _) = synthetic(1, MediaTime::ZERO);
        let mut w = Fmp4Writer::new(&tracks).unwrap();
        let mut file = Vec::new();
        w.init_segment(&mut file);
        let base = 10 * 90_000;
        w.push(frame(TrackKind::Video, base, 0, true, b"k"))
            .unwrap();
        // Audio starts half a second after the recording's first DTS.
        w.push(frame(TrackKind::Audio, base + 45_000, 0, true, b"a"))
            .unwrap();
        w.push(frame(TrackKind::Video, base + 3000, 0, false, b"d"))
            .unwrap();
        // The publisher dropped for 5 s and came back.
        w.push(frame(
            TrackKind::Video,
            base + 6000 + 450_000,
            0,
            true,
            b"k2",
        ))
        .unwrap();
        w.push(frame(TrackKind::Audio, base + 45_000 + 2090, 0, true, b"a"))
            .unwrap();
        w.finish(&mut file);
        let frags = fragments(&file);
        let v: Vec<_> = frags
            .iter()
            .flat_map(|f| f.1.iter().filter(|t| t.track_id == 1))
            .collect();
        let a: Vec<_> = frags
            .iter()
            .flat_map(|f| f.1.iter().filter(|t| t.track_id == 2))
            .collect();
        assert_eq!(
            a[0].decode_time,
            Some(22_050),
            "tfdt carries the audio's late start"
        );
        let durations: Vec<u32> = v
            .iter()
            .flat_map(|t| {
                t.runs
                    .iter()
                    .flat_map(|r| r.samples.iter().map(|s| s.duration))
            })
            .collect();
        assert_eq!(
            durations,
            vec![3000, 453_000, 453_000],
            "gap kept as the duration before it"
        );
    }

    /// The chapters' `emsg` boxes of a file: `(offset, chapter)`.
    fn emsgs(file: &[u8]) -> Vec<(usize, crate::Chapter)> {
        let mut c = Cursor::new(file, 0);
        let mut pos = 0;
        let mut out = Vec::new();
        while let Some((kind, whole, _)) = c.child().unwrap() {
            if &kind == b"emsg" {
                out.push((pos, crate::mp4::chapters::parse_emsg(&whole[8..]).unwrap()));
            }
            pos += whole.len();
        }
        out
    }

    #[test]
    fn chapters_go_out_at_once_timed_from_the_first_frame() {
        let (tracks, _) = synthetic(1, MediaTime::ZERO);
        let mut w = Fmp4Writer::new(&tracks).unwrap();
        let mut file = Vec::new();
        w.init_segment(&mut file);
        let base = 10 * 90_000;
        // Before any frame the file's time 0 is unknown: held for the first fragment.
        let mut out = Vec::new();
        w.add_chapter(MediaTime(base - 500), "before the first frame", &mut out);
        w.add_chapter(MediaTime(base + 100), "early", &mut out);
        assert!(out.is_empty());
        w.push(frame(TrackKind::Video, base, 0, true, b"k"))
            .unwrap();
        w.push(frame(TrackKind::Video, base + 3000, 0, false, b"d"))
            .unwrap();
        // Once it is known, a chapter is written at once, between fragments.
        w.add_chapter(MediaTime(base + 3000), "now", &mut file);
        let now = file.len();
        assert!(w.take_fragment(&mut file));
        w.push(frame(TrackKind::Video, base + 6000, 0, false, b"d"))
            .unwrap();
        w.finish(&mut file);
        let marks = emsgs(&file);
        let got: Vec<(i64, &str)> = marks
            .iter()
            .map(|(_, c)| (c.start.0, c.title.as_str()))
            .collect();
        assert_eq!(
            got,
            [(3000, "now"), (0, "before the first frame"), (100, "early")]
        );
        assert!(marks[0].0 < now, "written when added");
        // The held ones come right before the first moof, after the one written at once.
        let first_moof = fragments(&file)[0].0;
        assert_eq!(marks[2].0 + 8 + 24 + 22 + "early".len(), first_moof);
        // ids count the chapters of the file.
        let at = marks[2].0 + 8 + 4 + 4 + 8 + 4;
        assert_eq!(&file[at..at + 4], &2u32.to_be_bytes());
        // Readers of the fragments are not disturbed: the same trafs as without chapters.
        let mut plain = Fmp4Writer::new(&tracks).unwrap();
        let mut p = Vec::new();
        plain.init_segment(&mut p);
        plain
            .push(frame(TrackKind::Video, base, 0, true, b"k"))
            .unwrap();
        plain
            .push(frame(TrackKind::Video, base + 3000, 0, false, b"d"))
            .unwrap();
        assert!(plain.take_fragment(&mut p));
        plain
            .push(frame(TrackKind::Video, base + 6000, 0, false, b"d"))
            .unwrap();
        plain.finish(&mut p);
        let strip = |f: Vec<(usize, Vec<Traf>)>| f.into_iter().map(|x| x.1).collect::<Vec<_>>();
        assert_eq!(strip(fragments(&file)).len(), 2);
        let with: Vec<Vec<u32>> = strip(fragments(&file))
            .iter()
            .map(|t| t[0].runs[0].samples.iter().map(|s| s.duration).collect())
            .collect();
        let without: Vec<Vec<u32>> = strip(fragments(&p))
            .iter()
            .map(|t| t[0].runs[0].samples.iter().map(|s| s.duration).collect())
            .collect();
        assert_eq!(with, without);
    }

    #[test]
    fn ready_for_fragment_on_key_frame_or_half_a_second() {
        let (tracks, _) = synthetic(1, MediaTime::ZERO);
        let mut w = Fmp4Writer::new(&tracks).unwrap();
        w.push(frame(TrackKind::Video, 0, 0, true, b"k")).unwrap();
        assert!(!w.ready_for_fragment());
        for i in 1..15 {
            w.push(frame(TrackKind::Video, i * 3000, 0, false, b"d"))
                .unwrap();
            assert!(!w.ready_for_fragment(), "frame {i}: under 0.5 s buffered");
        }
        w.push(frame(TrackKind::Video, 15 * 3000, 0, false, b"d"))
            .unwrap();
        assert!(w.ready_for_fragment(), "0.5 s buffered");
        let mut out = Vec::new();
        assert!(w.take_fragment(&mut out));
        assert!(!w.ready_for_fragment());
        w.push(frame(TrackKind::Video, 16 * 3000, 0, true, b"k"))
            .unwrap();
        assert!(
            w.ready_for_fragment(),
            "a key frame cuts the fragment before it"
        );
        out.clear();
        assert!(w.take_fragment(&mut out));
        // Memory is one fragment: after taking it, nothing but held samples remains.
        assert!(w
            .tracks
            .iter()
            .all(|t| t.samples.is_empty() && t.data.is_empty()));
    }

    #[test]
    fn key_frames_open_fragments_in_a_real_stream_shape() {
        let (tracks, frames) = synthetic(3, MediaTime::from_millis(20));
        let (file, ends) = write_fragmented(&tracks, &frames).unwrap();
        assert!(ends.len() >= 3);
        let all = fragments(&file);
        let video = |trafs: &[Traf]| {
            trafs
                .iter()
                .find(|t| t.track_id == 1)
                .map(|v| {
                    v.runs
                        .iter()
                        .flat_map(|r| r.samples.iter().map(|s| s.sync))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        };
        // The first fragment opens with a key frame, and a key frame never sits inside a
        // fragment: each one starts its own (a GOP longer than half a second spans several).
        assert!(
            video(&all[0].1)[0],
            "the first fragment starts with a key frame"
        );
        for (_, trafs) in &all {
            let sync = video(trafs);
            assert!(
                !sync.iter().skip(1).any(|&s| s),
                "a key frame inside a fragment"
            );
        }
        let _ = testkit::fnv1a64(&file);
    }
}
