//! Shared by the TS tests: fixture configs, a deterministic synthetic stream, and a
//! minimal independent packet reader (so mux tests do not trust the demuxer).

use std::sync::Arc;

use bytes::Bytes;

use super::{TsMuxer, PACKET_SIZE};
use crate::codec::{aac, h264, hevc, AudioConfig, VideoCodec, VideoConfig};
use crate::frame::{Frame, MediaEvent, TrackKind, Tracks};
use crate::time::MediaTime;

pub(crate) const AVCC_320X240: &[u8] =
    include_bytes!("../../../../tests/fixtures/h264_320x240.avcc");
pub(crate) const HVCC_320X240: &[u8] =
    include_bytes!("../../../../tests/fixtures/hevc_320x240.hvcc");

pub(crate) fn h264_config() -> Arc<VideoConfig> {
    Arc::new(h264::parse_avcc(AVCC_320X240).expect("fixture avcC parses"))
}

pub(crate) fn hevc_config() -> Arc<VideoConfig> {
    Arc::new(hevc::parse_hvcc(HVCC_320X240).expect("fixture hvcC parses"))
}

/// AAC-LC, 44.1 kHz, stereo.
pub(crate) fn aac_config() -> Arc<AudioConfig> {
    Arc::new(aac::parse_asc(&[0x12, 0x10]).expect("valid ASC"))
}

/// 64-bit FNV-1a: small, dependency-free, and stable across platforms and Rust versions.
pub(crate) fn fnv1a64(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A deterministic byte generator (xorshift). Bytes are never 0, so payloads can never
/// contain a start code or end in a zero byte, as real (emulation-prevented) NAL units.
pub(crate) struct Rng(pub u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next() as u8).max(1)).collect()
    }
}

/// A length-prefixed NAL unit.
pub(crate) fn nal(header: &[u8], body: &[u8]) -> Vec<u8> {
    let mut v = ((header.len() + body.len()) as u32).to_be_bytes().to_vec();
    v.extend_from_slice(header);
    v.extend_from_slice(body);
    v
}

/// `seconds` of a synthetic 30 fps video track (GOP of 15 with B-frame-like PTS
/// reordering, starting slightly negative as FLV B-frame streams do) and/or 44.1 kHz AAC,
/// interleaved in DTS order. Frame sizes vary up to ~9 KB so PES span many packets.
pub(crate) fn synthetic_frames(video: Option<VideoCodec>, audio: bool, seconds: i64) -> Vec<Frame> {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut frames = Vec::new();
    if let Some(codec) = video {
        for i in 0..seconds * 30 {
            let key = i % 15 == 0;
            let dts = MediaTime(i * 3000 - 3000);
            // I P B B P B B ...: P frames show two frames later, B frames one earlier.
            let pts = dts
                + MediaTime(if key {
                    3000
                } else if i % 3 == 1 {
                    9000
                } else {
                    0
                });
            let header: &[u8] = match (codec, key) {
                (VideoCodec::H264, true) => &[0x65],
                (VideoCodec::H264, false) => &[0x41],
                (VideoCodec::H265, true) => &[0x26, 0x01],
                (VideoCodec::H265, false) => &[0x02, 0x01],
            };
            let size = if key {
                6000 + (rng.next() % 3000) as usize
            } else {
                20 + (rng.next() % 1500) as usize
            };
            let mut data = Vec::new();
            if i % 10 == 3 {
                let sei: &[u8] = if codec == VideoCodec::H264 {
                    &[0x06]
                } else {
                    &[0x4e, 0x01]
                };
                data.extend(nal(sei, &rng.bytes(12)));
            }
            data.extend(nal(header, &rng.bytes(size)));
            frames.push(Frame {
                kind: TrackKind::Video,
                dts,
                pts,
                keyframe: key,
                data: Bytes::from(data),
            });
        }
    }
    if audio {
        let n = seconds * 44_100 / 1024;
        for i in 0..n {
            let t = MediaTime::from_rate(i * 1024, 44_100);
            let len = 200 + (rng.next() % 200) as usize;
            let data = Bytes::from(rng.bytes(len));
            frames.push(Frame {
                kind: TrackKind::Audio,
                dts: t,
                pts: t,
                keyframe: true,
                data,
            });
        }
    }
    frames.sort_by_key(|f| f.dts); // stable: video first on ties
    frames
}

pub(crate) fn tracks(video: Option<Arc<VideoConfig>>, audio: Option<Arc<AudioConfig>>) -> Tracks {
    Tracks { video, audio }
}

/// Muxes frames as a recorder would: tables first, and again every `tables_every` frames
/// (a segment boundary).
pub(crate) fn mux(tracks: &Tracks, frames: &[Frame], tables_every: usize) -> Vec<u8> {
    let mut m = TsMuxer::new(tracks);
    let mut out = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        if i % tables_every == 0 {
            m.write_tables(&mut out);
        }
        m.write_frame(f, &mut out).expect("mux");
    }
    out
}

/// The frames among events.
pub(crate) fn frames_of(events: &[MediaEvent]) -> Vec<Frame> {
    events
        .iter()
        .filter_map(|e| match e {
            MediaEvent::Frame(f) => Some(f.clone()),
            _ => None,
        })
        .collect()
}

/// Frames shifted by the muxer's PTS offset: what a demuxer reads back.
pub(crate) fn shifted(frames: &[Frame], by: MediaTime) -> Vec<Frame> {
    frames
        .iter()
        .map(|f| Frame {
            dts: f.dts + by,
            pts: f.pts + by,
            ..f.clone()
        })
        .collect()
}

/// Asserts two frame lists are equal track by track (the demuxer completes a bounded
/// audio PES at once but an unbounded video PES only at the next one, so the interleaving
/// across tracks may differ). Reports a mismatch compactly instead of dumping payloads.
pub(crate) fn assert_same_frames(got: &[Frame], want: &[Frame]) {
    for kind in [TrackKind::Video, TrackKind::Audio] {
        let g: Vec<&Frame> = got.iter().filter(|f| f.kind == kind).collect();
        let w: Vec<&Frame> = want.iter().filter(|f| f.kind == kind).collect();
        assert_eq!(g.len(), w.len(), "{kind:?} frame count");
        for (i, (g, w)) in g.iter().zip(&w).enumerate() {
            let summary = |f: &Frame| (f.dts, f.pts, f.keyframe, f.data.len(), fnv1a64(&f.data));
            assert_eq!(
                summary(g),
                summary(w),
                "{kind:?} frame {i}: (dts, pts, key, len, digest)"
            );
        }
    }
}

/// One TS packet's fields, parsed independently of the demuxer.
#[derive(Debug)]
pub(crate) struct Packet<'a> {
    pub pid: u16,
    pub pusi: bool,
    pub cc: u8,
    pub has_payload: bool,
    /// The adaptation field after its length byte (empty when absent or length 0).
    pub af: &'a [u8],
    pub payload: &'a [u8],
}

impl Packet<'_> {
    pub(crate) fn rai(&self) -> bool {
        self.af.first().is_some_and(|f| f & 0x40 != 0)
    }

    pub(crate) fn pcr(&self) -> Option<u64> {
        let f = *self.af.first()?;
        (f & 0x10 != 0).then(|| {
            let b = &self.af[1..7];
            (u64::from(b[0]) << 25)
                | (u64::from(b[1]) << 17)
                | (u64::from(b[2]) << 9)
                | (u64::from(b[3]) << 1)
                | u64::from(b[4] >> 7)
        })
    }
}

pub(crate) fn packets(ts: &[u8]) -> Vec<Packet<'_>> {
    assert_eq!(ts.len() % PACKET_SIZE, 0, "output is whole packets");
    ts.chunks(PACKET_SIZE)
        .map(|p| {
            assert_eq!(p[0], 0x47, "sync byte");
            let afc = p[3] >> 4 & 3;
            let (af, start) = if afc & 2 != 0 {
                let len = usize::from(p[4]);
                (&p[5..5 + len], 5 + len)
            } else {
                (&p[0..0], 4)
            };
            Packet {
                pid: u16::from(p[1] & 0x1f) << 8 | u16::from(p[2]),
                pusi: p[1] & 0x40 != 0,
                cc: p[3] & 0x0f,
                has_payload: afc & 1 != 0,
                af,
                payload: &p[start..],
            }
        })
        .collect()
}

/// Wraps an arbitrary PES in packets on `pid` (stuffing in the first packet's adaptation
/// field), for demuxer tests that need PES layouts our muxer never writes.
pub(crate) fn packetize_raw(pid: u16, pes: &[u8], cc: &mut u8, out: &mut Vec<u8>) {
    let mut rest = pes;
    let mut first = true;
    while first || !rest.is_empty() {
        let take = rest.len().min(184);
        let stuffing = 184 - take;
        out.extend_from_slice(&[
            0x47,
            if first { 0x40 } else { 0 } | (pid >> 8) as u8,
            pid as u8,
        ]);
        if stuffing > 0 {
            out.push(0x30 | *cc);
            out.push((stuffing - 1) as u8);
            if stuffing > 1 {
                out.push(0);
                out.extend(std::iter::repeat_n(0xff, stuffing - 2));
            }
        } else {
            out.push(0x10 | *cc);
        }
        out.extend_from_slice(&rest[..take]);
        rest = &rest[take..];
        *cc = (*cc + 1) & 0x0f;
        first = false;
    }
}
