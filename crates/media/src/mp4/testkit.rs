//! Test-only helpers: synthetic streams, a tiny progressive-MP4 sample reader (to get real
//! frames out of fixtures remuxed by ffmpeg, and to read back what the finalizer wrote), and
//! ffmpeg/ffprobe runners.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use bytes::Bytes;

use super::read::Cursor;
use super::{Fmp4Writer, Mp4Error};
use crate::codec::{aac, h264, hevc};
use crate::frame::{Frame, TrackKind, Tracks};
use crate::time::MediaTime;

pub const FFMPEG: &str = "/usr/bin/ffmpeg";
pub const FFPROBE: &str = "/usr/bin/ffprobe";

/// FNV-1a 64: a dependency-free digest for golden tests.
pub fn fnv1a64(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name)
}

/// A fresh scratch directory for one test.
pub fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tapedeck-mp4-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A small xorshift PRNG: deterministic "random" offsets and payloads without a dependency.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A deterministic synthetic recording: H.264 320x240 30 fps with B-frame style composition
/// offsets (GOP of 30) from the avcC fixture, and AAC-LC 44.1 kHz stereo starting
/// `audio_delay` after the video. Frames are interleaved by DTS.
pub fn synthetic(seconds: u32, audio_delay: MediaTime) -> (Tracks, Vec<Frame>) {
    let avcc = std::fs::read(fixture("h264_320x240.avcc")).unwrap();
    let video = h264::parse_avcc(&avcc).unwrap();
    let audio = aac::parse_asc(&[0x12, 0x10]).unwrap();
    let mut rng = XorShift(0x5eed_1234_abcd_0001);
    let mut frames = Vec::new();
    let t0 = MediaTime::from_secs(1000); // publishers' clocks do not start at zero
    for i in 0..i64::from(seconds) * 30 {
        let key = i % 30 == 0;
        // Decode order I P B B P B B ...: I/P frames are shown two frames later.
        let cto = if i % 3 == 0 { 6000 } else { 0 };
        let len = if key {
            3000
        } else {
            200 + rng.below(800) as usize
        };
        frames.push(Frame {
            kind: TrackKind::Video,
            dts: t0 + MediaTime(i * 3000),
            pts: t0 + MediaTime(i * 3000 + cto),
            keyframe: key,
            data: nal(if key { 0x65 } else { 0x41 }, len, &mut rng),
        });
    }
    let audio_frames = i64::from(seconds) * 44_100 / 1024;
    for i in 0..audio_frames {
        let dts = t0 + audio_delay + MediaTime::from_rate(i * 1024, 44_100);
        let len = 150 + rng.below(250) as usize;
        let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        frames.push(Frame {
            kind: TrackKind::Audio,
            dts,
            pts: dts,
            keyframe: true,
            data: Bytes::from(data),
        });
    }
    frames.sort_by_key(|f| (f.dts, f.kind == TrackKind::Audio));
    (
        Tracks {
            video: Some(Arc::new(video)),
            audio: Some(Arc::new(audio)),
        },
        frames,
    )
}

fn nal(header: u8, len: usize, rng: &mut XorShift) -> Bytes {
    let mut v = Vec::with_capacity(len + 4);
    v.extend_from_slice(&(len as u32).to_be_bytes());
    v.push(header);
    v.extend((1..len).map(|_| rng.next() as u8));
    Bytes::from(v)
}

/// Runs a writer over `frames` the way the recorder does (fragment when ready), returning
/// the file and the file length after each fragment.
pub fn write_fragmented(
    tracks: &Tracks,
    frames: &[Frame],
) -> Result<(Vec<u8>, Vec<usize>), Mp4Error> {
    let mut w = Fmp4Writer::new(tracks)?.with_user_data(user_data());
    let mut out = Vec::new();
    w.init_segment(&mut out);
    let mut ends = Vec::new();
    for f in frames {
        w.push(f.clone())?;
        if w.ready_for_fragment() && w.take_fragment(&mut out) {
            ends.push(out.len());
        }
    }
    w.finish(&mut out);
    ends.push(out.len());
    Ok((out, ends))
}

/// [`write_fragmented`] marking `chapters` the way the recorder does: each is added when
/// the first frame at or after its time is pushed (the chapter marks the live edge), and
/// the `emsg` goes out at once. Chapters past the last frame are added before `finish`.
pub fn write_fragmented_with_chapters(
    tracks: &Tracks,
    frames: &[Frame],
    chapters: &[(MediaTime, &str)],
) -> Result<(Vec<u8>, Vec<usize>), Mp4Error> {
    let mut w = Fmp4Writer::new(tracks)?.with_user_data(user_data());
    let mut out = Vec::new();
    w.init_segment(&mut out);
    let mut ends = Vec::new();
    let mut next = 0;
    for f in frames {
        if w.ready_for_fragment() && w.take_fragment(&mut out) {
            ends.push(out.len());
        }
        while let Some(&(at, title)) = chapters.get(next) {
            if at > f.dts {
                break;
            }
            w.add_chapter(at, title, &mut out);
            next += 1;
        }
        w.push(f.clone())?;
    }
    for &(at, title) in &chapters[next..] {
        w.add_chapter(at, title, &mut out);
    }
    w.finish(&mut out);
    ends.push(out.len());
    Ok((out, ends))
}

/// A chapter track's samples: `(start, duration, title)` in the movie timescale (start)
/// and the track's (duration).
pub type TrackChapters = Vec<(u64, u64, String)>;
/// `chpl` entries: `(start in 100 ns, title)`.
pub type NeroChapters = Vec<(u64, String)>;

/// The chapters of a finalized MP4's chapter track, the first one after its edit list's
/// empty edit; and the Nero `chpl`'s.
pub fn read_chapters(data: &[u8]) -> (TrackChapters, NeroChapters) {
    let top = Cursor::new(data, 0);
    let (_, moov) = top.require(b"moov", "file").unwrap();
    let mut track = Vec::new();
    let mut c = moov.clone();
    while let Some((kind, _, trak)) = c.child().unwrap() {
        if &kind != b"trak" {
            continue;
        }
        let (_, mdia) = trak.require(b"mdia", "").unwrap();
        let (_, mut hdlr) = mdia.require(b"hdlr", "").unwrap();
        hdlr.skip(8, "").unwrap();
        if hdlr.bytes(4, "").unwrap() != b"text" {
            continue;
        }
        let (_, mut mdhd) = mdia.require(b"mdhd", "").unwrap();
        mdhd.skip(12, "").unwrap();
        let per_unit = 90_000 / u64::from(mdhd.u32("").unwrap());
        let mut t = 0u64;
        if let Some((_, edts)) = trak.find(b"edts").unwrap() {
            let (_, mut elst) = edts.require(b"elst", "").unwrap();
            elst.version_flags("").unwrap();
            elst.u32("").unwrap();
            let (d, m) = (elst.u32("").unwrap(), elst.u32("").unwrap());
            if m == u32::MAX {
                t = u64::from(d);
            }
        }
        let (_, stbl) = mdia
            .require(b"minf", "")
            .unwrap()
            .1
            .require(b"stbl", "")
            .unwrap();
        let (_, mut stts) = stbl.require(b"stts", "").unwrap();
        stts.version_flags("").unwrap();
        let mut durations = Vec::new();
        for _ in 0..stts.u32("").unwrap() {
            let (n, d) = (stts.u32("").unwrap(), stts.u32("").unwrap());
            durations.extend(std::iter::repeat_n(u64::from(d), n as usize));
        }
        let (_, mut stco) = stbl.require(b"stco", "").unwrap();
        stco.version_flags("").unwrap();
        stco.u32("").unwrap();
        let mut at = stco.u32("").unwrap() as usize;
        for d in durations {
            let len = u16::from_be_bytes([data[at], data[at + 1]]) as usize;
            let title = String::from_utf8(data[at + 2..at + 2 + len].to_vec()).unwrap();
            assert_eq!(&data[at + 2 + len + 4..at + 2 + len + 8], b"encd");
            track.push((t, d, title));
            t += d * per_unit;
            at += 2 + len + 12;
        }
    }
    let mut chpl = Vec::new();
    if let Some((_, udta)) = moov.find(b"udta").unwrap() {
        if let Some((_, mut p)) = udta.find(b"chpl").unwrap() {
            p.skip(8, "").unwrap();
            for _ in 0..p.u8("").unwrap() {
                let start = p.u64("").unwrap();
                let len = p.u8("").unwrap();
                let title = p.bytes(len as usize, "").unwrap();
                chpl.push((start, String::from_utf8(title.to_vec()).unwrap()));
            }
        }
    }
    (track, chpl)
}

/// What `ffprobe -show_chapters -of json` lists: `(start s, end s, title)`.
pub fn probe_chapters(path: &Path) -> Vec<(f64, f64, String)> {
    let out = run(
        FFPROBE,
        &[
            "-v",
            "error",
            "-show_chapters",
            "-of",
            "json",
            path.to_str().unwrap(),
        ],
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    json["chapters"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|c| {
            let secs = |k: &str| c[k].as_str().unwrap().parse::<f64>().unwrap();
            (
                secs("start_time"),
                secs("end_time"),
                c["tags"]["title"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// User data as the recorder writes it: one box of text, in the init segment and in the
/// finalized `moov`, so every test here (ffprobe's included) reads files that carry it.
pub fn user_data() -> Vec<super::UserBox> {
    vec![super::UserBox {
        kind: *b"tpdk",
        payload: br#"{"recording":"live/cam1/1795515330000","start_ms":1795515330000}"#.to_vec(),
    }]
}

/// Top-level boxes of a file: `(type, size)`.
pub fn top_level_boxes(data: &[u8]) -> Vec<(String, u64)> {
    let mut c = Cursor::new(data, 0);
    let mut out = Vec::new();
    while let Ok(Some((kind, whole, _))) = c.child() {
        out.push((
            String::from_utf8_lossy(&kind).into_owned(),
            whole.len() as u64,
        ));
    }
    out
}

/// One track read back from a progressive MP4.
#[derive(Debug)]
pub struct ReadTrack {
    pub kind: TrackKind,
    pub timescale: u32,
    pub entry: [u8; 4],
    /// `(dts, cto, duration, sync, data)` in the track timescale.
    pub samples: Vec<(u64, i64, u32, bool, Bytes)>,
    pub edits: Vec<(u64, i64)>,
}

/// Reads the samples of a progressive (non-fragmented) MP4 from its sample tables.
pub fn read_progressive(data: &[u8]) -> (Tracks, Vec<ReadTrack>) {
    let top = Cursor::new(data, 0);
    let (_, moov) = top.require(b"moov", "file").unwrap();
    let mut tracks = Tracks::default();
    let mut out = Vec::new();
    let mut c = moov.clone();
    while let Some((kind, _, trak)) = c.child().unwrap() {
        if &kind != b"trak" {
            continue;
        }
        let (_, mdia) = trak.require(b"mdia", "trak").unwrap();
        let (_, mut hdlr) = mdia.require(b"hdlr", "mdia").unwrap();
        hdlr.skip(8, "").unwrap();
        if hdlr.bytes(4, "").unwrap() == b"text" {
            continue; // the chapter track: see read_chapter_track
        }
        let (_, mut mdhd) = mdia.require(b"mdhd", "mdia").unwrap();
        let (v, _) = mdhd.version_flags("mdhd").unwrap();
        mdhd.skip(if v == 1 { 16 } else { 8 }, "").unwrap();
        let timescale = mdhd.u32("").unwrap();
        let (_, stbl) = mdia
            .require(b"minf", "")
            .unwrap()
            .1
            .require(b"stbl", "")
            .unwrap();
        let (_, mut stsd) = stbl.require(b"stsd", "").unwrap();
        stsd.skip(8, "").unwrap();
        let (entry, _, mut body) = stsd.child().unwrap().unwrap();
        let kind = match &entry {
            b"avc1" | b"avc3" | b"hvc1" | b"hev1" => {
                body.skip(78, "").unwrap();
                if let Some((rec, _)) = body.find(b"avcC").unwrap() {
                    tracks.video = Some(Arc::new(h264::parse_avcc(&rec[8..]).unwrap()));
                } else {
                    let (rec, _) = body.require(b"hvcC", "").unwrap();
                    tracks.video = Some(Arc::new(hevc::parse_hvcc(&rec[8..]).unwrap()));
                }
                TrackKind::Video
            }
            b"mp4a" => {
                body.skip(28, "").unwrap();
                let (_, mut esds) = body.require(b"esds", "").unwrap();
                esds.skip(4, "").unwrap();
                tracks.audio = Some(Arc::new(aac::parse_asc(&find_asc(&mut esds)).unwrap()));
                TrackKind::Audio
            }
            other => panic!(
                "unexpected sample entry {:?}",
                String::from_utf8_lossy(other)
            ),
        };
        let table = |k: &[u8; 4]| {
            stbl.find(k).unwrap().map(|(_, mut c)| {
                c.version_flags("").unwrap();
                c
            })
        };
        let mut durations = Vec::new();
        let mut stts = table(b"stts").unwrap();
        for _ in 0..stts.u32("").unwrap() {
            let (n, d) = (stts.u32("").unwrap(), stts.u32("").unwrap());
            durations.extend(std::iter::repeat_n(d, n as usize));
        }
        let mut ctos = Vec::new();
        if let Some(mut ctts) = table(b"ctts") {
            for _ in 0..ctts.u32("").unwrap() {
                let (n, o) = (ctts.u32("").unwrap(), ctts.u32("").unwrap() as i32);
                ctos.extend(std::iter::repeat_n(i64::from(o), n as usize));
            }
        }
        let sync: Option<Vec<u32>> = table(b"stss").map(|mut c| {
            let n = c.u32("").unwrap();
            (0..n).map(|_| c.u32("").unwrap()).collect()
        });
        let mut stsz = table(b"stsz").unwrap();
        let fixed = stsz.u32("").unwrap();
        let count = stsz.u32("").unwrap();
        let sizes: Vec<u32> = (0..count)
            .map(|_| {
                if fixed != 0 {
                    fixed
                } else {
                    stsz.u32("").unwrap()
                }
            })
            .collect();
        let mut stsc = table(b"stsc").unwrap();
        let stsc: Vec<(u32, u32)> = (0..stsc.u32("").unwrap())
            .map(|_| {
                let e = (stsc.u32("").unwrap(), stsc.u32("").unwrap());
                stsc.u32("").unwrap();
                e
            })
            .collect();
        let chunks: Vec<u64> = if let Some(mut c) = table(b"stco") {
            (0..c.u32("").unwrap())
                .map(|_| u64::from(c.u32("").unwrap()))
                .collect()
        } else {
            let mut c = table(b"co64").unwrap();
            (0..c.u32("").unwrap())
                .map(|_| c.u64("").unwrap())
                .collect()
        };
        let mut edits = Vec::new();
        if let Some((_, edts)) = trak.find(b"edts").unwrap() {
            let (_, mut elst) = edts.require(b"elst", "").unwrap();
            let (v, _) = elst.version_flags("").unwrap();
            for _ in 0..elst.u32("").unwrap() {
                if v == 1 {
                    edits.push((elst.u64("").unwrap(), elst.u64("").unwrap() as i64));
                } else {
                    edits.push((
                        u64::from(elst.u32("").unwrap()),
                        i64::from(elst.u32("").unwrap() as i32),
                    ));
                }
                elst.u32("").unwrap();
            }
        }
        // Sample offsets from stsc + stco.
        let mut offsets = Vec::new();
        for (ci, &chunk_off) in chunks.iter().enumerate() {
            let chunk_no = ci as u32 + 1;
            let per = stsc
                .iter()
                .rev()
                .find(|(first, _)| *first <= chunk_no)
                .unwrap()
                .1;
            let mut off = chunk_off;
            for _ in 0..per {
                let i = offsets.len();
                offsets.push(off);
                off += u64::from(sizes[i]);
            }
        }
        assert_eq!(offsets.len(), sizes.len(), "stsc/stco cover every sample");
        assert_eq!(durations.len(), sizes.len(), "stts covers every sample");
        let mut dts = 0u64;
        let mut samples = Vec::new();
        for i in 0..sizes.len() {
            let off = offsets[i] as usize;
            let bytes = Bytes::copy_from_slice(&data[off..off + sizes[i] as usize]);
            let is_sync = sync.as_ref().is_none_or(|s| s.contains(&(i as u32 + 1)));
            samples.push((
                dts,
                ctos.get(i).copied().unwrap_or(0),
                durations[i],
                is_sync,
                bytes,
            ));
            dts += u64::from(durations[i]);
        }
        out.push(ReadTrack {
            kind,
            timescale,
            entry,
            samples,
            edits,
        });
    }
    (tracks, out)
}

fn find_asc(esds: &mut Cursor<'_>) -> Vec<u8> {
    // Walk nested descriptors (tag, varlen size) until DecoderSpecificInfo (tag 5).
    loop {
        let tag = esds.u8("").unwrap();
        let mut len = 0usize;
        loop {
            let b = esds.u8("").unwrap();
            len = (len << 7) | usize::from(b & 0x7f);
            if b & 0x80 == 0 {
                break;
            }
        }
        match tag {
            3 => {
                esds.skip(2, "").unwrap();
                let flags = esds.u8("").unwrap();
                if flags & 0x80 != 0 {
                    esds.skip(2, "").unwrap();
                }
                if flags & 0x40 != 0 {
                    let n = esds.u8("").unwrap();
                    esds.skip(n as usize, "").unwrap();
                }
                if flags & 0x20 != 0 {
                    esds.skip(2, "").unwrap();
                }
            }
            4 => esds.skip(13, "").unwrap(),
            5 => return esds.bytes(len, "").unwrap().to_vec(),
            _ => esds.skip(len, "").unwrap(),
        }
    }
}

/// Frames from a progressive MP4, the way a source would emit them: 90 kHz times, each
/// track from its own media time 0 (edit lists ignored), interleaved by DTS.
pub fn frames_from_mp4(path: &Path) -> (Tracks, Vec<Frame>) {
    let data = std::fs::read(path).unwrap();
    let (tracks, read) = read_progressive(&data);
    let mut frames = Vec::new();
    for t in &read {
        for (dts, cto, _, sync, bytes) in &t.samples {
            let dts_t = MediaTime::from_rate(*dts as i64, t.timescale);
            frames.push(Frame {
                kind: t.kind,
                dts: dts_t,
                pts: MediaTime::from_rate(*dts as i64 + cto, t.timescale),
                keyframe: *sync,
                data: bytes.clone(),
            });
        }
    }
    frames.sort_by_key(|f| (f.dts, f.kind == TrackKind::Audio));
    (tracks, frames)
}

/// Runs a tool, failing the test (not skipping) when it is missing.
pub fn run(tool: &str, args: &[&str]) -> std::process::Output {
    assert!(
        Path::new(tool).exists(),
        "{tool} is required for the peer tests and is missing"
    );
    let out = Command::new(tool).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{tool} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `ffmpeg -c copy` to a plain MP4.
pub fn remux_to_mp4(input: &Path, output: &Path) {
    run(
        FFMPEG,
        &[
            "-v",
            "error",
            "-y",
            "-i",
            input.to_str().unwrap(),
            "-c",
            "copy",
            "-f",
            "mp4",
            output.to_str().unwrap(),
        ],
    );
}

/// What `ffmpeg -v error -i FILE -f null -` printed: empty for a clean decode.
pub fn decode_errors(path: &Path) -> String {
    assert!(Path::new(FFMPEG).exists(), "{FFMPEG} is required");
    let out = Command::new(FFMPEG)
        .args([
            "-v",
            "error",
            "-i",
            path.to_str().unwrap(),
            "-f",
            "null",
            "-",
        ])
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        if out.status.success() {
            ""
        } else {
            "(exit failure)"
        }
    )
}

/// `[STREAM]` and `[FORMAT]` sections of ffprobe as key/value maps.
pub fn probe_sections(path: &Path) -> Vec<HashMap<String, String>> {
    let out = run(
        FFPROBE,
        &[
            "-v",
            "error",
            "-show_streams",
            "-show_format",
            path.to_str().unwrap(),
        ],
    );
    let mut sections = Vec::new();
    let mut cur = HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if line.starts_with("[/") {
            sections.push(std::mem::take(&mut cur));
        } else if let Some((k, v)) = line.split_once('=') {
            cur.insert(k.to_string(), v.to_string());
        } else if line.starts_with('[') {
            cur.insert("section".into(), line.trim_matches(['[', ']']).to_string());
        }
    }
    sections
}

/// A packet as ffprobe reports it, times in the stream's time base.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    pub stream: usize,
    pub pts: i64,
    pub dts: i64,
    pub key: bool,
    pub size: usize,
}

/// Every packet ffprobe reads, and what it printed on stderr.
pub fn probe_packets(path: &Path) -> (Vec<Packet>, String) {
    assert!(Path::new(FFPROBE).exists(), "{FFPROBE} is required");
    let out = Command::new(FFPROBE)
        .args([
            "-v",
            "error",
            "-show_entries",
            "packet=stream_index,pts,dts,flags,size",
            "-of",
            "csv=p=0",
            path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let packets = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Packet {
                stream: f[0].parse().unwrap(),
                pts: f[1].parse().unwrap(),
                dts: f[2].parse().unwrap(),
                size: f[3].parse().unwrap(),
                key: f[4].starts_with('K'),
            }
        })
        .collect();
    (packets, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A file in memory that can insert room at its start, for the in-place finalizer: clones
/// share the bytes and keep their own position, like handles on one file.
#[derive(Clone, Debug)]
pub struct MemFile {
    pub data: std::rc::Rc<std::cell::RefCell<Vec<u8>>>,
    pos: u64,
    pub block: u64,
    /// `insert_front` fails (a file system without it).
    pub no_insert: bool,
}

impl MemFile {
    pub fn new(data: Vec<u8>, block: u64) -> MemFile {
        MemFile {
            data: std::rc::Rc::new(std::cell::RefCell::new(data)),
            pos: 0,
            block,
            no_insert: false,
        }
    }

    pub fn contents(&self) -> Vec<u8> {
        self.data.borrow().clone()
    }
}

impl std::io::Read for MemFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let data = self.data.borrow();
        let start = (self.pos as usize).min(data.len());
        let n = buf.len().min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl std::io::Write for MemFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut data = self.data.borrow_mut();
        let start = self.pos as usize;
        if data.len() < start + buf.len() {
            data.resize(start + buf.len(), 0);
        }
        data[start..start + buf.len()].copy_from_slice(buf);
        self.pos += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl std::io::Seek for MemFile {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.pos = match pos {
            std::io::SeekFrom::Start(p) => p,
            std::io::SeekFrom::End(d) => (self.data.borrow().len() as i64 + d) as u64,
            std::io::SeekFrom::Current(d) => (self.pos as i64 + d) as u64,
        };
        Ok(self.pos)
    }
}

impl crate::in_place::InPlaceFile for MemFile {
    fn insert_front(&mut self, len: u64) -> std::io::Result<()> {
        if self.no_insert {
            return Err(std::io::ErrorKind::Unsupported.into());
        }
        assert_eq!(
            len % self.block,
            0,
            "insert of {len} bytes, not a block multiple"
        );
        let mut data = self.data.borrow_mut();
        data.splice(0..0, std::iter::repeat_n(0u8, len as usize));
        Ok(())
    }

    fn block_size(&self) -> u64 {
        self.block
    }

    fn set_len(&mut self, len: u64) -> std::io::Result<()> {
        self.data.borrow_mut().resize(len as usize, 0);
        Ok(())
    }

    fn sync(&mut self) -> std::io::Result<()> {
        Ok(())
    }

    fn try_clone(&self) -> std::io::Result<Self> {
        Ok(MemFile {
            pos: 0,
            ..self.clone()
        })
    }
}

/// Runs an in-place finalizer on `input` held in memory (rooms of `block` bytes); the
/// finished file and the summary. Panics when it reports no room.
pub fn finalize_in_memory<S, E: std::fmt::Debug>(
    input: &[u8],
    block: u64,
    finalize: impl FnOnce(MemFile) -> Result<crate::in_place::InPlace<S>, E>,
) -> (Vec<u8>, S) {
    let file = MemFile::new(input.to_vec(), block);
    match finalize(file.clone()).unwrap() {
        crate::in_place::InPlace::Done(s) => (file.contents(), s),
        crate::in_place::InPlace::Unsupported(e) => panic!("unsupported: {e}"),
    }
}
