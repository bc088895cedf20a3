//! Chapters in MP4: how a chapter travels in the recording (`.part`) and where the
//! finalized movie keeps it.
//!
//! ```text
//! recording (fragmented .part)            finalized (progressive)
//! ftyp                                    ftyp
//! moov (init)                             moov
//! moof mdat                                 mvhd   next_track_ID past the chapter track
//! emsg (v1) per chapter, written the        trak (video)  tkhd  tref/chap -> chapters
//!      moment it is added:                                edts  mdia ...
//!        timescale 90000                    trak (audio)  tkhd  tref/chap -> chapters
//!        presentation_time: from the                      edts  mdia ...
//!          file's time 0 (the first DTS)    trak (chapters: a QuickTime text track)
//!        event_duration 0xFFFFFFFF            tkhd  flags 2: in the movie, not enabled
//!        id: chapter number                   edts/elst  when the first chapter starts
//!        scheme_id_uri                                   after 0: an empty edit to it
//!          "urn:tapedeck:chapter"             mdia  mdhd  1000 Hz: a sample may last
//!        value ""                                         49 days (13 h at 90 kHz)
//!        message_data: the title, UTF-8             hdlr  'text' "Chapters"
//! moof mdat                                         minf  gmhd { gmin, text }  dinf
//! ...                                                     stbl  stsd 'text' (QuickTime
//! moo… ✂ a crash: the complete boxes                            text sample description)
//!        before the cut are kept                                stts  a sample per
//!                                                                 chapter, to the next
//!                                                                 one; the last to the
//!                                                                 movie's end (*)
//!                                                               stsz  stsc
//!                                                               stco|co64: one chunk
//!                                           udta  (user data)  chpl (Nero, version 1:
//!                                                 <= 255 chapters, starts in 100 ns,
//!                                                 titles <= 255 bytes)
//!                                         mdat   the media, then the chapter samples;
//!                                                finalized in place: the samples get a
//!                                                small mdat of their own after the moov
//! ```
//!
//! (*) With an empty edit the track's media still lasts the whole movie (its last sample
//! that much longer, past what the edit presents): ffmpeg ends the last chapter at the
//! media's end, not the edit's.
//!
//! Chapter sample: a 16-bit length, the UTF-8 title, and an `encd` atom (encoding 0x100,
//! as ffmpeg and mp4v2 write it), which Apple players read as UTF-8.
//!
//! Why both structures: ffmpeg 5.1 (ffprobe, and the players built on it) reads both, the
//! track's chapters replacing `chpl`'s (they say the same); MediaInfo lists each as a
//! "Menu" (both checked by the peer tests). By reputation (not checked here), Apple's
//! players read only the chapter track, and VLC both. It is what ffmpeg itself writes for
//! an MP4 with chapters, except that ffmpeg's track starts the first chapter at 0
//! whatever its time (checked with ffmpeg 5.1): ours keeps it where it is, with an empty
//! edit.
//!
//! A chapter that starts before the movie (a clip's edit list skips it) starts at 0; one
//! at or after the movie's end is left out; of two at the same millisecond the one added
//! last is kept ([`crate::chapter::with_ends`]).
//!
//! Why `emsg` in the recording: a chapter must survive a `kill -9` like the media does, so
//! it is written into the `.part` the moment it is added, between two fragments (the file
//! is always at a box boundary there). `emsg` (ISO/IEC 23009-1 5.10.3.3, the DASH/CMAF
//! event message box) is the standard top-level box for timed events in a fragmented
//! MP4; players that do not handle a scheme skip the box (ffprobe reads the same packets
//! from a `.part` with and without them). The finalizer's survey collects every complete
//! one, whatever the fragments around it ([`crate::chapter::MAX_CHAPTERS`] at most);
//! finalizing in place renames them `free` with the fragments' other boxes.

use bytes::BufMut;

use super::boxes::{self, write_box, write_full_box, TrackHeader, TKHD_IN_MOVIE};
use super::read::Cursor;
use super::udta::UserBox;
use crate::chapter::{self, Chapter, MAX_TITLE_BYTES};
use crate::time::{MediaTime, TIMESCALE};

/// The `emsg` scheme of a chapter (a private scheme: players that do not know it skip it).
pub(crate) const SCHEME: &str = "urn:tapedeck:chapter";

/// Largest `emsg` body the survey reads: ours are the title plus 45 bytes.
pub(crate) const MAX_EMSG_BODY: u64 = 4096;

/// Chapters `chpl` can list (its count is one byte).
const CHPL_MAX: usize = 255;

/// Timescale of the chapter track: milliseconds, so one chapter may last 49 days (a
/// sample's duration has 32 bits: 13 hours at 90 kHz). Chapter times are rounded to it.
const TRACK_TIMESCALE: u32 = 1000;

/// Movie timescale units in one chapter track unit.
const MOVIE_PER_TRACK: u64 = (super::MOVIE_TIMESCALE / TRACK_TIMESCALE) as u64;

/// Appends the `emsg` of a chapter `at` ticks (90 kHz) after the file's time 0.
pub(crate) fn write_emsg(out: &mut Vec<u8>, at: u64, id: u32, title: &str) {
    let title = chapter::truncate(title, MAX_TITLE_BYTES);
    write_full_box(out, b"emsg", 1, 0, |out| {
        out.put_u32(TIMESCALE as u32);
        out.put_u64(at);
        out.put_u32(u32::MAX); // event_duration: unknown (until the next chapter)
        out.put_u32(id);
        out.put_slice(SCHEME.as_bytes());
        out.put_u8(0);
        out.put_u8(0); // value: empty
        out.put_slice(title.as_bytes());
    });
}

/// The chapter an `emsg` body carries; `None` for any other event message (another
/// scheme or version, or a body that does not parse: not ours, skipped like any box).
pub(crate) fn parse_emsg(body: &[u8]) -> Option<Chapter> {
    let mut c = Cursor::new(body, 0);
    let (version, _) = c.version_flags("emsg").ok()?;
    if version != 1 {
        return None;
    }
    let timescale = c.u32("emsg timescale").ok()?;
    let time = c.u64("emsg presentation_time").ok()?;
    c.skip(8, "emsg duration and id").ok()?;
    let rest = c.bytes(c.remaining(), "emsg strings").ok()?;
    let (scheme, rest) = split_cstr(rest)?;
    let (_value, title) = split_cstr(rest)?;
    if scheme != SCHEME.as_bytes() || timescale == 0 {
        return None;
    }
    let ticks = u128::from(time) * TIMESCALE as u128 / u128::from(timescale);
    let title = String::from_utf8_lossy(title);
    Some(Chapter::new(
        MediaTime(i64::try_from(ticks).unwrap_or(i64::MAX)),
        &title,
    ))
}

/// A NUL-terminated string and what follows it.
fn split_cstr(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let nul = b.iter().position(|&x| x == 0)?;
    Some((&b[..nul], &b[nul + 1..]))
}

/// The chapter track and `chpl` of a finalized movie, laid out before they are written.
pub(crate) struct ChapterTrack {
    /// `(start, end)` in the track's timescale (ms from the movie's start) and the
    /// chapter.
    chapters: Vec<(u64, u64, Chapter)>,
    pub id: u32,
    co64: bool,
    movie_duration: u64,
    /// The sample data, back to back: one chunk.
    pub samples: Vec<u8>,
    pub trak_size: u64,
    /// `chpl`, as a `udta` child.
    pub chpl: UserBox,
}

impl ChapterTrack {
    /// The track for `chapters` (timed from the movie's start) of a movie of
    /// `movie_duration` (movie timescale); `None` when no chapter starts inside it.
    pub fn new(chapters: &[Chapter], movie_duration: u64, id: u32, co64: bool) -> Option<Self> {
        // In whole track units (ms): two chapters that round to the same one are one.
        let ms = |t: MediaTime| MediaTime::from_millis(t.0.saturating_add(45).div_euclid(90));
        let rounded: Vec<Chapter> = chapters
            .iter()
            .map(|c| Chapter {
                start: ms(c.start),
                title: c.title.clone(),
            })
            .collect();
        let end_ms = movie_duration / MOVIE_PER_TRACK;
        let end = MediaTime::from_millis(i64::try_from(end_ms).unwrap_or(i64::MAX / 90));
        let chapters: Vec<(u64, u64, Chapter)> = chapter::with_ends(&rounded, end)
            .into_iter()
            .map(|(c, end)| (c.start.as_millis() as u64, end.as_millis() as u64, c))
            .collect();
        if chapters.is_empty() {
            return None;
        }
        let mut samples = Vec::new();
        for (_, _, c) in &chapters {
            samples.put_u16(c.title.len() as u16);
            samples.put_slice(c.title.as_bytes());
            // encd: the text's encoding (0x100, read as UTF-8).
            samples.put_u32(12);
            samples.put_slice(b"encd");
            samples.put_u32(0x100);
        }
        let mut track = ChapterTrack {
            chpl: chpl(&chapters),
            chapters,
            id,
            co64,
            movie_duration,
            samples,
            trak_size: 0,
        };
        let mut trak = Vec::new();
        track.write_trak(&mut trak, 0);
        track.trak_size = trak.len() as u64;
        Some(track)
    }

    pub fn len(&self) -> usize {
        self.chapters.len()
    }

    /// Appends the `trak`, its one chunk of samples at file offset `chunk`.
    pub fn write_trak(&self, out: &mut Vec<u8>, chunk: u64) {
        let first = self.chapters.first().map_or(0, |c| c.0);
        // The media lasts the whole movie, though the edit presents it from `first` on:
        // ffmpeg ends the last chapter at the media's duration, not at the edit's end.
        let media_duration = self.chapters.last().map_or(0, |c| c.1);
        let empty = first * MOVIE_PER_TRACK;
        write_box(out, b"trak", |out| {
            let header = TrackHeader {
                id: self.id,
                audio: false,
                width: 0,
                height: 0,
            };
            // In the movie but not enabled: players offer it as chapters, never show it.
            boxes::tkhd_with_flags(out, &header, self.movie_duration, TKHD_IN_MOVIE);
            if first > 0 {
                let v1 = self.movie_duration > u64::from(u32::MAX);
                write_box(out, b"edts", |out| {
                    write_full_box(out, b"elst", u8::from(v1), 0, |out| {
                        out.put_u32(2);
                        let presented = self.movie_duration.saturating_sub(empty);
                        for (duration, time) in [(empty, -1i64), (presented, 0)] {
                            if v1 {
                                out.put_u64(duration);
                                out.put_i64(time);
                            } else {
                                out.put_u32(duration as u32);
                                out.put_i32(time as i32);
                            }
                            out.put_u32(0x0001_0000);
                        }
                    });
                });
            }
            write_box(out, b"mdia", |out| {
                boxes::mdhd(out, TRACK_TIMESCALE, media_duration);
                write_full_box(out, b"hdlr", 0, 0, |out| {
                    out.put_u32(0);
                    out.put_slice(b"text");
                    out.put_slice(&[0; 12]);
                    out.put_slice(b"Chapters\0");
                });
                write_box(out, b"minf", |out| {
                    // QuickTime's base media information header, as its text tracks have.
                    write_box(out, b"gmhd", |out| {
                        write_full_box(out, b"gmin", 0, 0, |out| {
                            out.put_u16(0x40); // graphics mode: dither copy
                            out.put_slice(&[0x80, 0, 0x80, 0, 0x80, 0]); // opcolor
                            out.put_u16(0); // balance
                            out.put_u16(0);
                        });
                        write_box(out, b"text", |out| {
                            for v in [0x0001_0000u32, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] {
                                out.put_u32(v);
                            }
                        });
                    });
                    boxes::dinf(out);
                    write_box(out, b"stbl", |out| self.write_stbl(out, chunk));
                });
            });
        });
    }

    fn write_stbl(&self, out: &mut Vec<u8>, chunk: u64) {
        write_full_box(out, b"stsd", 0, 0, |out| {
            out.put_u32(1);
            // QuickTime text sample description: every field at its default.
            write_box(out, b"text", |out| {
                out.put_slice(&[0; 6]);
                out.put_u16(1); // data_reference_index
                out.put_u32(0); // display flags
                out.put_u32(0); // text justification: left
                out.put_slice(&[0; 6]); // background color
                out.put_slice(&[0; 8]); // default text box
                out.put_u64(0);
                out.put_u16(0); // font number
                out.put_u16(0); // font face
                out.put_u8(0);
                out.put_u16(0);
                out.put_slice(&[0; 6]); // foreground color
                out.put_u8(0); // text name: empty
            });
        });
        // Each chapter lasts to the next one; the last one also for the empty edit (see
        // `write_trak`), so the samples add up to the movie's duration.
        let first = self.chapters.first().map_or(0, |c| c.0);
        let last = self.chapters.len() - 1;
        let mut stts = boxes::RunLength::new();
        let mut runs: Vec<(u32, u32)> = self
            .chapters
            .iter()
            .enumerate()
            .filter_map(|(i, (start, end, _))| {
                let d = end - start + if i == last { first } else { 0 };
                stts.push(u32::try_from(d).unwrap_or(u32::MAX))
            })
            .collect();
        runs.extend(stts.finish());
        write_full_box(out, b"stts", 0, 0, |out| {
            out.put_u32(runs.len() as u32);
            for (n, d) in &runs {
                out.put_u32(*n);
                out.put_u32(*d);
            }
        });
        let n = self.chapters.len() as u32;
        write_full_box(out, b"stsz", 0, 0, |out| {
            out.put_u32(0);
            out.put_u32(n);
            for (_, _, c) in &self.chapters {
                out.put_u32(2 + c.title.len() as u32 + 12);
            }
        });
        write_full_box(out, b"stsc", 0, 0, |out| {
            out.put_u32(1);
            out.put_u32(1);
            out.put_u32(n);
            out.put_u32(1);
        });
        if self.co64 {
            write_full_box(out, b"co64", 0, 0, |out| {
                out.put_u32(1);
                out.put_u64(chunk);
            });
        } else {
            write_full_box(out, b"stco", 0, 0, |out| {
                out.put_u32(1);
                out.put_u32(chunk as u32);
            });
        }
    }

    /// `(start, end, title)` of each chapter, in ms.
    #[cfg(test)]
    pub fn chapters(&self) -> impl Iterator<Item = (u64, u64, &str)> {
        self.chapters
            .iter()
            .map(|(s, e, c)| (*s, *e, c.title.as_str()))
    }
}

/// The Nero chapter list: the first 255 chapters, times in 100 ns, titles of at most 255
/// bytes (what ffmpeg writes and reads).
fn chpl(chapters: &[(u64, u64, Chapter)]) -> UserBox {
    let listed = &chapters[..chapters.len().min(CHPL_MAX)];
    let mut payload = Vec::new();
    payload.put_u32(0x0100_0000); // version 1, flags 0
    payload.put_u32(0);
    payload.put_u8(listed.len() as u8);
    for (start, _, c) in listed {
        payload.put_u64(start.saturating_mul(10_000));
        let title = chapter::truncate(&c.title, 255);
        payload.put_u8(title.len() as u8);
        payload.put_slice(title.as_bytes());
    }
    UserBox {
        kind: *b"chpl",
        payload,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn emsg_round_trips_and_other_events_are_skipped() {
        let mut out = Vec::new();
        write_emsg(&mut out, 90_000 * 75 + 45, 3, "Boss fight: round 2 ✓");
        assert_eq!(&out[4..8], b"emsg");
        assert_eq!(
            u32::from_be_bytes(out[..4].try_into().unwrap()) as usize,
            out.len()
        );
        let c = parse_emsg(&out[8..]).unwrap();
        assert_eq!(c.start, MediaTime(90_000 * 75 + 45));
        assert_eq!(c.title, "Boss fight: round 2 ✓");

        // Another scheme, version 0, a cut body: not a chapter.
        let mut other = out.clone();
        let at = other.windows(8).position(|w| w == b"tapedeck").unwrap();
        other[at] = b'x';
        assert_eq!(parse_emsg(&other[8..]), None);
        let mut v0 = out.clone();
        v0[8] = 0;
        assert_eq!(parse_emsg(&v0[8..]), None);
        // Cut before the end of the value (a title may be empty).
        let strings = 8 + 24 + SCHEME.len() + 2;
        for cut in 8..strings {
            assert_eq!(parse_emsg(&out[8..cut]), None, "cut at {cut}");
        }
        assert_eq!(
            parse_emsg(&out[8..strings]).map(|c| c.title),
            Some(String::new())
        );
        // Another timescale is converted; a long title is cut.
        let mut ms = Vec::new();
        write_full_box(&mut ms, b"emsg", 1, 0, |o| {
            o.put_u32(1000);
            o.put_u64(1500);
            o.put_u64(0);
            o.put_slice(SCHEME.as_bytes());
            o.put_u16(0);
            o.put_slice("é".repeat(600).as_bytes());
        });
        let c = parse_emsg(&ms[8..]).unwrap();
        assert_eq!(c.start, MediaTime::from_millis(1500));
        assert_eq!(c.title.len(), MAX_TITLE_BYTES);
    }

    #[test]
    fn chapter_track_sizes_times_and_chpl() {
        let chapters = [
            Chapter::new(MediaTime::from_secs(2), "Two"),
            Chapter::new(MediaTime::from_secs(5), "Five"),
            Chapter::new(MediaTime::from_secs(99), "past the end"),
        ];
        let t = ChapterTrack::new(&chapters, 90_000 * 10, 3, false).unwrap();
        assert_eq!(
            t.chapters().collect::<Vec<_>>(),
            [(2000, 5000, "Two"), (5000, 10_000, "Five")]
        );
        let mut trak = Vec::new();
        t.write_trak(&mut trak, 1234);
        assert_eq!(trak.len() as u64, t.trak_size);
        let top = Cursor::new(&trak, 0);
        let (_, body) = top.require(b"trak", "").unwrap();
        let (_, mut tkhd) = body.require(b"tkhd", "").unwrap();
        assert_eq!(
            tkhd.version_flags("").unwrap(),
            (0, 2),
            "in movie, disabled"
        );
        let (_, edts) = body.require(b"edts", "").unwrap();
        let (_, mut elst) = edts.require(b"elst", "").unwrap();
        elst.version_flags("").unwrap();
        assert_eq!(elst.u32("").unwrap(), 2);
        assert_eq!(
            (elst.u32("").unwrap(), elst.u32("").unwrap()),
            (180_000, u32::MAX)
        );
        elst.u32("").unwrap();
        assert_eq!((elst.u32("").unwrap(), elst.u32("").unwrap()), (720_000, 0));
        // Milliseconds; the last sample also lasts the empty edit: 10 s of media in all.
        let (_, mdia) = body.require(b"mdia", "").unwrap();
        let (_, mut mdhd) = mdia.require(b"mdhd", "").unwrap();
        mdhd.skip(12, "").unwrap();
        assert_eq!(
            (mdhd.u32("").unwrap(), mdhd.u32("").unwrap()),
            (1000, 10_000)
        );
        let stts = trak.windows(4).position(|w| w == b"stts").unwrap();
        assert_eq!(
            &trak[stts + 8..stts + 28],
            &[0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0x0b, 0xb8, 0, 0, 0, 1, 0, 0, 0x1b, 0x58]
        );
        let stco = trak.windows(4).position(|w| w == b"stco").unwrap();
        assert_eq!(&trak[stco + 8..stco + 16], &[0, 0, 0, 1, 0, 0, 0x04, 0xd2]);
        // Samples: length, title, encd.
        assert_eq!(&t.samples[..5], b"\0\x03Two");
        assert_eq!(&t.samples[5..17], b"\0\0\0\x0cencd\0\0\x01\0");
        // chpl: version 1, count, 100 ns starts.
        let p = &t.chpl.payload;
        assert_eq!(&p[..9], &[1, 0, 0, 0, 0, 0, 0, 0, 2]);
        assert_eq!(u64::from_be_bytes(p[9..17].try_into().unwrap()), 20_000_000);
        assert_eq!(&p[17..21], b"\x03Two");
        // A chapter at 0: no edit list. None inside the movie: no track.
        let at0 = ChapterTrack::new(&[Chapter::new(MediaTime::ZERO, "x")], 9000, 2, true).unwrap();
        let mut trak = Vec::new();
        at0.write_trak(&mut trak, 7);
        assert!(!trak.windows(4).any(|w| w == b"edts"));
        assert!(trak.windows(4).any(|w| w == b"co64"));
        assert!(ChapterTrack::new(&chapters[2..], 9000, 2, false).is_none());
    }

    #[test]
    fn chpl_lists_255_chapters_and_cuts_titles() {
        let many: Vec<Chapter> = (0..300)
            .map(|i| Chapter::new(MediaTime::from_secs(i), &"ü".repeat(200)))
            .collect();
        let t = ChapterTrack::new(&many, 90_000 * 400, 3, false).unwrap();
        assert_eq!(t.len(), 300, "the track has them all");
        let p = &t.chpl.payload;
        assert_eq!(p[8], 255);
        assert_eq!(p[9 + 8], 254, "255 bytes cut to a character boundary");
    }

    /// A hostile `.part` can claim a movie of 2^64-1 units; its chapter track used to
    /// overflow turning that end into media time (found by fuzzing mp4_recover).
    #[test]
    fn a_movie_of_absurd_length_still_gets_its_chapters() {
        let chapters = [
            Chapter::new(MediaTime(i64::MIN), "before everything"),
            Chapter::new(MediaTime::from_secs(2), "two"),
            Chapter::new(MediaTime(i64::MAX), "at the end of time"),
        ];
        let t = ChapterTrack::new(&chapters, u64::MAX, 2, true).unwrap();
        assert_eq!(t.len(), 3);
        let mut trak = Vec::new();
        t.write_trak(&mut trak, 0);
        assert!(trak.windows(4).any(|w| w == b"co64"));
    }
}
