//! Box reading for the finalizer: top-level headers from a seekable file, and the small
//! boxes (`moov` of an init segment, `moof`) parsed from memory.
//!
//! Every length read from the file is checked against what is left, so a corrupt or
//! truncated box yields an error, never a panic or an allocation sized by garbage:
//!
//! - a box size smaller than its header, or one (64-bit `largesize` included) that runs
//!   past the end of the address space, is a broken box; one past its parent or the file
//!   is reported by the callers as a cut box;
//! - a body is read into memory only below a limit the caller gives, and memory grows as
//!   its bytes actually arrive, never by what its size field says;
//! - sample counts are checked against the bytes that must hold them, and one `moof`
//!   describes at most [`MAX_MOOF_SAMPLES`] samples;
//! - nothing here recurses: boxes are looked up along fixed paths (`trak/mdia/minf/stbl`),
//!   so a deeply nested hostile file costs no stack.

use std::io::{self, Read, Seek, SeekFrom};

use super::boxes::FLAG_IS_NON_SYNC;
use super::Mp4Error;

/// A box header found in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BoxHeader {
    pub kind: [u8; 4],
    /// File offset of the header.
    pub start: u64,
    /// 8, or 16 with a `largesize`.
    pub header_len: u64,
    /// Total size including the header; a size of 0 ("to the end of the file") is resolved
    /// against the file length.
    pub size: u64,
}

impl BoxHeader {
    /// File offset after the box ([`read_header`] refuses sizes for which this overflows).
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.size)
    }

    pub fn body_start(&self) -> u64 {
        self.start + self.header_len
    }

    pub fn kind_str(&self) -> String {
        String::from_utf8_lossy(&self.kind).into_owned()
    }
}

/// What reading a top-level header at some offset found.
#[derive(Debug)]
pub(crate) enum HeaderRead {
    Box(BoxHeader),
    /// Clean end of file.
    End,
    /// Fewer bytes than a header, or a size smaller than its header: a cut or corrupt tail.
    Broken(String),
}

/// Reads the box header at `pos` of a file `file_len` bytes long.
pub(crate) fn read_header<R: Read + Seek>(
    r: &mut R,
    pos: u64,
    file_len: u64,
) -> Result<HeaderRead, Mp4Error> {
    if pos >= file_len {
        return Ok(HeaderRead::End);
    }
    if file_len - pos < 8 {
        return Ok(HeaderRead::Broken(format!(
            "{} bytes left, less than a box header",
            file_len - pos
        )));
    }
    r.seek(SeekFrom::Start(pos))
        .map_err(Mp4Error::io("seeking to a box header"))?;
    let mut buf = [0u8; 16];
    r.read_exact(&mut buf[..8])
        .map_err(Mp4Error::io("reading a box header"))?;
    let size32 = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let kind = [buf[4], buf[5], buf[6], buf[7]];
    // Box types are four printable characters; anything else (zeros a power loss left in
    // an extended file, garbage) is not a box, and is treated as the end of the data.
    if !kind.iter().all(|b| (0x20..=0x7e).contains(b)) {
        return Ok(HeaderRead::Broken(format!(
            "bytes {kind:02x?} are not a box type"
        )));
    }
    let (header_len, size) = match size32 {
        0 => (8, file_len - pos),
        1 => {
            if file_len - pos < 16 {
                return Ok(HeaderRead::Broken(
                    "box header cut inside its largesize".into(),
                ));
            }
            r.read_exact(&mut buf[8..16])
                .map_err(Mp4Error::io("reading a box largesize"))?;
            (
                16,
                u64::from_be_bytes([
                    buf[8], buf[9], buf[10], buf[11], buf[12], buf[13], buf[14], buf[15],
                ]),
            )
        }
        n => (8, u64::from(n)),
    };
    if size < header_len {
        return Ok(HeaderRead::Broken(format!(
            "box size {size} is smaller than its header"
        )));
    }
    // A 64-bit size that makes the box end past 2^64 would wrap the next box's offset
    // back into the file (and a loop over the boxes never end).
    if pos.checked_add(size).is_none() {
        return Ok(HeaderRead::Broken(format!(
            "{} box size {size} runs past the end of any file",
            String::from_utf8_lossy(&kind)
        )));
    }
    Ok(HeaderRead::Box(BoxHeader {
        kind,
        start: pos,
        header_len,
        size,
    }))
}

/// Reads a whole box body into memory, refusing bodies over `limit` (init and moof boxes are
/// small; a huge one means corruption, and must not make us allocate gigabytes).
pub(crate) fn read_body<R: Read + Seek>(
    r: &mut R,
    h: &BoxHeader,
    limit: u64,
) -> Result<Vec<u8>, Mp4Error> {
    let len = h.size - h.header_len;
    if len > limit {
        return Err(Mp4Error::malformed(
            h.start,
            format!(
                "{} box of {len} bytes is larger than the {limit} allowed",
                h.kind_str()
            ),
        ));
    }
    r.seek(SeekFrom::Start(h.body_start()))
        .map_err(Mp4Error::io("seeking to a box body"))?;
    // Grown as the bytes arrive: a size that lies about a short file must not allocate
    // what it claims first.
    let mut body = Vec::with_capacity(len.min(READ_RESERVE_MAX) as usize);
    r.take(len)
        .read_to_end(&mut body)
        .map_err(Mp4Error::io("reading a box body"))?;
    if (body.len() as u64) < len {
        return Err(Mp4Error::Io {
            context: "reading a box body",
            source: io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{} box at byte {} is cut: {} of {len} bytes",
                    h.kind_str(),
                    h.start,
                    body.len()
                ),
            ),
        });
    }
    Ok(body)
}

/// Bytes [`read_body`] reserves before any arrive.
const READ_RESERVE_MAX: u64 = 1 << 20;

/// Samples one `moof` may describe, over all its `trun`s. Our fragments hold half a second
/// (a few dozen samples); a foreign file with one fragment per recording still holds an
/// hour of 30 fps video and 48 kHz audio in about 280,000. Each costs 24 bytes while the
/// `moof` is parsed, so a hostile one is bounded at 24 MiB.
pub(crate) const MAX_MOOF_SAMPLES: usize = 1 << 20;

/// A child box: its type, its whole bytes (header included), a cursor over its body.
pub(crate) type Child<'a> = ([u8; 4], &'a [u8], Cursor<'a>);

/// Big-endian reader over a box body held in memory. `base` is the body's file offset, so
/// errors point at the right byte.
#[derive(Clone, Debug)]
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    base: u64,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8], base: u64) -> Self {
        Cursor { buf, pos: 0, base }
    }

    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn bytes(&mut self, n: usize, what: &str) -> Result<&'a [u8], Mp4Error> {
        if self.remaining() < n {
            return Err(Mp4Error::malformed(
                self.offset(),
                format!("{what} is truncated"),
            ));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub fn skip(&mut self, n: usize, what: &str) -> Result<(), Mp4Error> {
        self.bytes(n, what).map(|_| ())
    }

    #[cfg(test)]
    pub fn u8(&mut self, what: &str) -> Result<u8, Mp4Error> {
        Ok(self.bytes(1, what)?[0])
    }

    pub fn u32(&mut self, what: &str) -> Result<u32, Mp4Error> {
        let b = self.bytes(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn u64(&mut self, what: &str) -> Result<u64, Mp4Error> {
        let b = self.bytes(8, what)?;
        Ok(u64::from_be_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]))
    }

    /// Version and flags of a full box.
    pub fn version_flags(&mut self, what: &str) -> Result<(u8, u32), Mp4Error> {
        let v = self.u32(what)?;
        Ok(((v >> 24) as u8, v & 0x00ff_ffff))
    }

    /// The next child box: its type, its whole bytes (header included) and a cursor over
    /// its body. `None` at the end of the parent.
    pub fn child(&mut self) -> Result<Option<Child<'a>>, Mp4Error> {
        if self.remaining() == 0 {
            return Ok(None);
        }
        let start = self.pos;
        let at = self.offset();
        let size = u64::from(self.u32("box header")?);
        let kind: [u8; 4] = self.bytes(4, "box header")?.try_into().unwrap_or([0; 4]);
        let (header_len, size) = match size {
            0 => (8, (self.buf.len() - start) as u64),
            1 => (16, self.u64("box largesize")?),
            n => (8, n),
        };
        if size < header_len || size - header_len > self.remaining() as u64 {
            return Err(Mp4Error::malformed(
                at,
                format!(
                    "{} box of {size} bytes does not fit its parent",
                    String::from_utf8_lossy(&kind)
                ),
            ));
        }
        let body_len = (size - header_len) as usize;
        let body_base = self.offset();
        let body = self.bytes(body_len, "box body")?;
        let whole = &self.buf[start..self.pos];
        Ok(Some((kind, whole, Cursor::new(body, body_base))))
    }

    /// The first child of type `kind`.
    pub fn find(&self, kind: &[u8; 4]) -> Result<Option<(&'a [u8], Cursor<'a>)>, Mp4Error> {
        let mut c = self.clone();
        while let Some((k, whole, body)) = c.child()? {
            if &k == kind {
                return Ok(Some((whole, body)));
            }
        }
        Ok(None)
    }

    /// The first child of type `kind`, or an error naming what is missing.
    pub fn require(
        &self,
        kind: &[u8; 4],
        parent: &str,
    ) -> Result<(&'a [u8], Cursor<'a>), Mp4Error> {
        self.find(kind)?.ok_or_else(|| {
            Mp4Error::malformed(
                self.base,
                format!("{parent} has no {} box", String::from_utf8_lossy(kind)),
            )
        })
    }
}

/// One track of an init segment, as the finalizer needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct InitTrack {
    pub id: u32,
    pub audio: bool,
    pub timescale: u32,
    pub width: u32,
    pub height: u32,
    /// The whole `stsd` box, copied as is into the finalized file.
    pub stsd: Vec<u8>,
    /// Type of the first sample entry (`avc1`, `hvc1`, `mp4a`, ...).
    pub entry_kind: [u8; 4],
    pub trex: TrackDefaults,
}

/// `trex` defaults, which `tfhd` may override per fragment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TrackDefaults {
    pub duration: u32,
    pub size: u32,
    pub flags: u32,
}

/// Parses the `moov` of an init segment: the `vide` and `soun` tracks and their `trex`.
pub(crate) fn parse_init_moov(moov: Cursor<'_>) -> Result<Vec<InitTrack>, Mp4Error> {
    let mut tracks = Vec::new();
    let Some((_, mvex)) = moov.find(b"mvex")? else {
        return Err(Mp4Error::Unsupported {
            detail: "the moov has no mvex: this is not a fragmented MP4".into(),
        });
    };
    let mut c = moov.clone();
    while let Some((kind, _, trak)) = c.child()? {
        if &kind != b"trak" {
            continue;
        }
        let (_, mut tkhd) = trak.require(b"tkhd", "trak")?;
        let (v, _) = tkhd.version_flags("tkhd")?;
        tkhd.skip(if v == 1 { 16 } else { 8 }, "tkhd times")?;
        let id = tkhd.u32("tkhd track_ID")?;
        tkhd.skip(4 + if v == 1 { 8 } else { 4 } + 8 + 8 + 36, "tkhd")?;
        let width = tkhd.u32("tkhd width")? >> 16;
        let height = tkhd.u32("tkhd height")? >> 16;
        let (_, mdia) = trak.require(b"mdia", "trak")?;
        let (_, mut mdhd) = mdia.require(b"mdhd", "mdia")?;
        let (v, _) = mdhd.version_flags("mdhd")?;
        mdhd.skip(if v == 1 { 16 } else { 8 }, "mdhd times")?;
        let timescale = mdhd.u32("mdhd timescale")?;
        if timescale == 0 {
            return Err(Mp4Error::malformed(mdhd.offset(), "mdhd timescale is 0"));
        }
        let (_, mut hdlr) = mdia.require(b"hdlr", "mdia")?;
        hdlr.skip(8, "hdlr")?;
        let handler = hdlr.bytes(4, "hdlr handler_type")?;
        let audio = match handler {
            b"vide" => false,
            b"soun" => true,
            _ => continue, // subtitle or metadata tracks: not ours, not recorded
        };
        let (_, minf) = mdia.require(b"minf", "mdia")?;
        let (_, stbl) = minf.require(b"stbl", "minf")?;
        let (stsd, mut stsd_body) = stbl.require(b"stsd", "stbl")?;
        stsd_body.skip(8, "stsd header")?;
        let (entry_kind, _, _) = stsd_body
            .child()?
            .ok_or_else(|| Mp4Error::malformed(stsd_body.offset(), "stsd has no sample entry"))?;
        tracks.push(InitTrack {
            id,
            audio,
            timescale,
            width,
            height,
            stsd: stsd.to_vec(),
            entry_kind,
            trex: TrackDefaults::default(),
        });
    }
    let mut c = mvex;
    while let Some((kind, _, mut trex)) = c.child()? {
        if &kind != b"trex" {
            continue;
        }
        trex.version_flags("trex")?;
        let id = trex.u32("trex track_ID")?;
        trex.skip(4, "trex sample description index")?;
        let defaults = TrackDefaults {
            duration: trex.u32("trex duration")?,
            size: trex.u32("trex size")?,
            flags: trex.u32("trex flags")?,
        };
        if let Some(t) = tracks.iter_mut().find(|t| t.id == id) {
            t.trex = defaults;
        }
    }
    if tracks.is_empty() {
        return Err(Mp4Error::Unsupported {
            detail: "the init segment has no video or audio track".into(),
        });
    }
    Ok(tracks)
}

/// One sample of a `trun`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RunSample {
    pub duration: u32,
    pub size: u32,
    pub sync: bool,
    pub cto: i64,
}

/// One `trun`: samples stored contiguously at `offset`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Run {
    pub offset: u64,
    pub bytes: u64,
    pub samples: Vec<RunSample>,
}

/// One `traf`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Traf {
    pub track_id: u32,
    pub decode_time: Option<u64>,
    pub runs: Vec<Run>,
}

/// Parses a `moof` that starts at file offset `moof_start`. `tracks` supplies the `trex`
/// defaults. Data offsets are resolved to absolute file offsets (14496-12 8.8.7.1).
pub(crate) fn parse_moof(
    moof: Cursor<'_>,
    moof_start: u64,
    tracks: &[InitTrack],
) -> Result<Vec<Traf>, Mp4Error> {
    let mut trafs = Vec::new();
    let mut budget = MAX_MOOF_SAMPLES;
    let mut c = moof;
    // Without base-data-offset and default-base-is-moof, the first traf's base is the moof
    // and each later traf's base is the end of the previous traf's data.
    let mut implicit_base = moof_start;
    while let Some((kind, _, traf)) = c.child()? {
        if &kind != b"traf" {
            continue;
        }
        let (_, mut tfhd) = traf.require(b"tfhd", "traf")?;
        let (_, flags) = tfhd.version_flags("tfhd")?;
        let track_id = tfhd.u32("tfhd track_ID")?;
        // A traf of a track we do not record (a foreign writer's subtitles or metadata) is
        // skipped: its samples are not copied.
        let Some(track) = tracks.iter().find(|t| t.id == track_id) else {
            continue;
        };
        let mut defaults = track.trex;
        let base = if flags & 0x1 != 0 {
            tfhd.u64("tfhd base_data_offset")?
        } else if flags & 0x2_0000 != 0 {
            moof_start
        } else {
            implicit_base
        };
        if flags & 0x2 != 0 {
            tfhd.skip(4, "tfhd sample_description_index")?;
        }
        if flags & 0x8 != 0 {
            defaults.duration = tfhd.u32("tfhd default_sample_duration")?;
        }
        if flags & 0x10 != 0 {
            defaults.size = tfhd.u32("tfhd default_sample_size")?;
        }
        if flags & 0x20 != 0 {
            defaults.flags = tfhd.u32("tfhd default_sample_flags")?;
        }
        let decode_time = match traf.find(b"tfdt")? {
            Some((_, mut tfdt)) => {
                let (v, _) = tfdt.version_flags("tfdt")?;
                Some(if v == 1 {
                    tfdt.u64("tfdt")?
                } else {
                    u64::from(tfdt.u32("tfdt")?)
                })
            }
            None => None,
        };
        let mut runs = Vec::new();
        let mut next_offset = base;
        let mut tc = traf.clone();
        while let Some((kind, _, mut trun)) = tc.child()? {
            if &kind != b"trun" {
                continue;
            }
            let (version, tflags) = trun.version_flags("trun")?;
            let count = trun.u32("trun sample_count")?;
            let mut offset = next_offset;
            if tflags & 0x1 != 0 {
                let rel = trun.u32("trun data_offset")? as i32;
                offset = base.checked_add_signed(i64::from(rel)).ok_or_else(|| {
                    Mp4Error::malformed(trun.offset(), "trun data offset before the file")
                })?;
            }
            let first_flags = if tflags & 0x4 != 0 {
                Some(trun.u32("trun first_sample_flags")?)
            } else {
                None
            };
            let per_sample = [0x100, 0x200, 0x400, 0x800]
                .iter()
                .filter(|&&f| tflags & f != 0)
                .count();
            // Never allocate more entries than the box can hold: a corrupt count must not
            // make us reserve gigabytes.
            if per_sample > 0 && (count as usize) > trun.remaining() / (4 * per_sample) {
                return Err(Mp4Error::malformed(
                    trun.offset(),
                    format!("trun claims {count} samples"),
                ));
            }
            if count as usize > budget {
                return Err(Mp4Error::malformed(
                    trun.offset(),
                    format!(
                        "trun claims {count} samples, more than the {MAX_MOOF_SAMPLES} a moof \
                         may hold"
                    ),
                ));
            }
            budget -= count as usize;
            let mut samples = Vec::with_capacity(count as usize);
            let mut bytes = 0u64;
            for i in 0..count {
                let duration = if tflags & 0x100 != 0 {
                    trun.u32("trun duration")?
                } else {
                    defaults.duration
                };
                let size = if tflags & 0x200 != 0 {
                    trun.u32("trun size")?
                } else {
                    defaults.size
                };
                let sflags = if tflags & 0x400 != 0 {
                    trun.u32("trun flags")?
                } else if i == 0 {
                    first_flags.unwrap_or(defaults.flags)
                } else {
                    defaults.flags
                };
                let cto = if tflags & 0x800 != 0 {
                    let raw = trun.u32("trun composition offset")?;
                    if version == 0 {
                        i64::from(raw)
                    } else {
                        i64::from(raw as i32)
                    }
                } else {
                    0
                };
                bytes += u64::from(size);
                samples.push(RunSample {
                    duration,
                    size,
                    sync: sflags & FLAG_IS_NON_SYNC == 0,
                    cto,
                });
            }
            next_offset = offset.checked_add(bytes).ok_or_else(|| {
                Mp4Error::malformed(trun.offset(), "trun data runs past the end of any file")
            })?;
            if !samples.is_empty() {
                runs.push(Run {
                    offset,
                    bytes,
                    samples,
                });
            }
        }
        implicit_base = next_offset;
        trafs.push(Traf {
            track_id,
            decode_time,
            runs,
        });
    }
    Ok(trafs)
}

/// Walks the top-level boxes of an MP4 in memory as the finalizer's survey reads them: box
/// headers, the first `moov` as an init segment, and every `moof` after it. Returns the
/// `moof`s that parsed. For the fuzz targets (`mp4_read`): the same readers, without a
/// file.
pub(crate) fn probe(data: &[u8]) -> Result<u64, Mp4Error> {
    let len = data.len() as u64;
    let mut r = io::Cursor::new(data);
    let (mut pos, mut tracks, mut moofs) = (0u64, None::<Vec<InitTrack>>, 0);
    while let HeaderRead::Box(h) = read_header(&mut r, pos, len)? {
        if h.end() > len {
            break;
        }
        match (&h.kind, &tracks) {
            (b"moov", None) => {
                let body = read_body(&mut r, &h, 64 << 20)?;
                tracks = Some(parse_init_moov(Cursor::new(&body, h.body_start()))?);
            }
            (b"moof", Some(tracks)) => {
                let body = read_body(&mut r, &h, 64 << 20)?;
                let trafs = parse_moof(Cursor::new(&body, h.body_start()), h.start, tracks)?;
                let samples: usize = trafs
                    .iter()
                    .flat_map(|t| &t.runs)
                    .map(|r| r.samples.len())
                    .sum();
                debug_assert!(samples <= MAX_MOOF_SAMPLES, "a moof past its sample budget");
                moofs += 1;
            }
            _ => {}
        }
        debug_assert!(h.end() > pos, "box offsets always advance");
        pos = h.end();
    }
    Ok(moofs)
}

/// Length of a seekable stream, leaving the position at the start.
pub(crate) fn stream_len<R: Seek>(r: &mut R) -> Result<u64, Mp4Error> {
    let len = r
        .seek(SeekFrom::End(0))
        .map_err(Mp4Error::io("measuring the input"))?;
    r.seek(SeekFrom::Start(0))
        .map_err(Mp4Error::io("rewinding the input"))?;
    Ok(len)
}

/// `io::copy` of exactly `len` bytes from `pos`, failing if the input is shorter.
pub(crate) fn copy_range<R: Read + Seek, W: io::Write>(
    r: &mut R,
    pos: u64,
    len: u64,
    w: &mut W,
) -> Result<(), Mp4Error> {
    r.seek(SeekFrom::Start(pos))
        .map_err(Mp4Error::io("seeking to sample data"))?;
    let n = io::copy(&mut r.by_ref().take(len), w).map_err(Mp4Error::io("copying sample data"))?;
    if n != len {
        return Err(Mp4Error::malformed(
            pos,
            format!("sample data cut: {n} of {len} bytes"),
        ));
    }
    Ok(())
}
