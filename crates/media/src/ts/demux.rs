//! The MPEG-TS demuxer used to pull HLS streams.
//!
//! ```text
//! push(bytes) -> 188-byte packets (sync on 0x47, confirmed by the next packet's 0x47)
//!   PID 0         -> PAT -> PMT PID of the first program
//!   PMT PID       -> first H.264/H.265 stream and first AAC ADTS stream
//!   video/audio   -> PES reassembly (a PES ends at the next PUSI, or at its declared
//!                    length) -> Annex B / ADTS -> MediaEvents
//! ```
//!
//! Policies, each a choice a caller may care about:
//! - Timestamps are the 33-bit PTS/DTS unwrapped into one monotonic timeline shared by
//!   all PIDs (see [`pes::Unwrapper`]); they are not rebased, so the first frame's time
//!   is whatever the source's clock said (ffmpeg starts at 1.4 s).
//! - One PES is one access unit, as ffmpeg and the HLS packagers we know write it; a
//!   PES holding several video AUs would come out as one frame.
//! - Access unit delimiters and parameter sets are removed from video frames: the
//!   parameter sets live in the [`VideoConfig`] event that precedes the frames using
//!   them, which is the form [`Frame`] documents and the one MP4/FLV writers need. A
//!   config is emitted the first time the parameter sets appear and whenever they change.
//! - Video frames before the first parameter sets cannot be decoded and are dropped
//!   (counted by [`TsDemuxer::dropped_frames`]); a stream joined mid-GOP starts at its
//!   first key frame that way.
//! - Errors never stop the demuxer: the bad unit (packet, section, PES) is skipped, the
//!   rest of the input is still processed, and `push` returns the first error seen so
//!   the caller can log it and keep pushing.

use std::sync::Arc;

use bytes::Bytes;

use super::nal::{self, NalKind};
use super::pes::{self, Unwrapper};
use super::psi;
use super::{
    TsError, PACKET_SIZE, PID_PAT, STREAM_TYPE_AAC_ADTS, STREAM_TYPE_H264, STREAM_TYPE_H265,
    SYNC_BYTE,
};
use crate::codec::{aac, h264, hevc, AudioConfig, CodecError, VideoCodec, VideoConfig};
use crate::frame::{Frame, MediaEvent, TrackKind};
use crate::time::MediaTime;

/// A PES buffer larger than this is dropped: no real access unit comes close, and it
/// bounds memory when a stream never sends the next PUSI.
const MAX_PES_SIZE: usize = 32 << 20;
/// A PSI section is at most 1024 bytes (13818-1 2.4.4.11: section_length <= 1021).
const MAX_SECTION_SIZE: usize = 1024;
/// ADTS frames read from one audio PES. Packagers put a few (ffmpeg up to 0.7 s of audio,
/// about 30); a hostile PES of 7-byte empty frames would otherwise become millions of
/// frame events. The frames past the limit are dropped with an error.
pub const MAX_ADTS_FRAMES_PER_PES: usize = 1024;

/// Demuxes the first program of an MPEG-TS stream into [`MediaEvent`]s.
#[derive(Debug, Default)]
pub struct TsDemuxer {
    /// Bytes not yet consumed: a partial packet, or data being searched for sync.
    buf: Vec<u8>,
    skipped_bytes: u64,
    dropped_frames: u64,
    pat: SectionBuf,
    pmt: SectionBuf,
    pmt_pid: Option<u16>,
    video: Option<VideoStream>,
    audio: Option<AudioStream>,
    clock: Unwrapper,
}

#[derive(Debug, Default)]
struct SectionBuf {
    data: Vec<u8>,
}

#[derive(Debug)]
struct PesBuf {
    pid: u16,
    data: Vec<u8>,
    /// A finished PES's buffer, given back (see [`PesBuf::recycle`]): the next PES reuses
    /// its capacity instead of growing a new one by doubling.
    spare: Vec<u8>,
    /// Inside a PES whose start we saw.
    active: bool,
    next_cc: Option<u8>,
}

#[derive(Debug)]
struct VideoStream {
    codec: VideoCodec,
    pes: PesBuf,
    vps: Vec<Bytes>,
    sps: Vec<Bytes>,
    pps: Vec<Bytes>,
    config: Option<Arc<VideoConfig>>,
}

#[derive(Debug)]
struct AudioStream {
    pes: PesBuf,
    config: Option<Arc<AudioConfig>>,
}

/// Keeps the first error of a batch; later ones are usually consequences of it.
fn note(first: &mut Option<TsError>, r: Result<(), TsError>) {
    if let Err(e) = r {
        first.get_or_insert(e);
    }
}

impl TsDemuxer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes skipped while looking for packet sync (garbage, partial packets).
    pub fn skipped_bytes(&self) -> u64 {
        self.skipped_bytes
    }

    /// Video frames dropped because no parameter sets had been seen yet.
    pub fn dropped_frames(&self) -> u64 {
        self.dropped_frames
    }

    /// Feeds bytes in any chunking. Events for every PES completed by these bytes are
    /// appended to `out`, even when an error is returned (see the module docs).
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<MediaEvent>) -> Result<(), TsError> {
        let mut first = None;
        if self.buf.is_empty() {
            // The common case (whole files, packet-aligned reads): read the input in place
            // and keep only an unfinished tail.
            let used = self.drain(bytes, false, out, &mut first);
            self.buf.extend_from_slice(&bytes[used..]);
        } else {
            self.buf.extend_from_slice(bytes);
            self.drain_packets(false, out, &mut first);
        }
        first.map_or(Ok(()), Err)
    }

    /// Ends the input: emits the PES still being assembled on each PID (a video PES has
    /// no length, so the last one ends only here). A trailing partial packet is reported
    /// as [`TsError::TruncatedPacket`] after everything else is emitted.
    pub fn flush(&mut self, out: &mut Vec<MediaEvent>) -> Result<(), TsError> {
        let mut first = None;
        self.drain_packets(true, out, &mut first);
        if let Some(mut v) = self.video.take() {
            if let Some(data) = v.pes.finish() {
                note(&mut first, self.video_pes(&mut v, &data, out));
                v.pes.recycle(data);
            }
            self.video = Some(v);
        }
        if let Some(mut a) = self.audio.take() {
            if let Some(data) = a.pes.finish() {
                note(&mut first, self.audio_pes(&mut a, &data, out));
            }
            self.audio = Some(a);
        }
        if !self.buf.is_empty() {
            let n = self.buf.len();
            self.skipped_bytes += n as u64;
            self.buf.clear();
            note(&mut first, Err(TsError::TruncatedPacket(n)));
        }
        first.map_or(Ok(()), Err)
    }

    fn drain_packets(
        &mut self,
        at_end: bool,
        out: &mut Vec<MediaEvent>,
        first: &mut Option<TsError>,
    ) {
        let mut buf = std::mem::take(&mut self.buf);
        let used = self.drain(&buf, at_end, out, first);
        buf.drain(..used);
        self.buf = buf;
    }

    /// Reads whole packets from `buf`; returns how many bytes were used.
    fn drain(
        &mut self,
        buf: &[u8],
        at_end: bool,
        out: &mut Vec<MediaEvent>,
        first: &mut Option<TsError>,
    ) -> usize {
        let mut pos = 0;
        while buf.len() - pos >= PACKET_SIZE {
            let avail = &buf[pos..];
            if avail[0] != SYNC_BYTE {
                let skip = avail
                    .iter()
                    .position(|&b| b == SYNC_BYTE)
                    .unwrap_or(avail.len());
                self.skipped_bytes += skip as u64;
                pos += skip;
                continue;
            }
            // A 0x47 counts as a packet start only if another follows 188 bytes on: a lone
            // 0x47 in garbage is likely, and a cut-short packet followed by a whole one
            // must not be read as one chimera packet. The last packet waits for the next
            // push (or `flush`) to be confirmed.
            match avail.get(PACKET_SIZE) {
                Some(&SYNC_BYTE) => {}
                Some(_) => {
                    self.skipped_bytes += 1;
                    pos += 1;
                    continue;
                }
                None if at_end => {}
                None => break,
            }
            if let Ok(packet) = <&[u8; PACKET_SIZE]>::try_from(&avail[..PACKET_SIZE]) {
                note(first, self.packet(packet, out));
            }
            pos += PACKET_SIZE;
        }
        pos
    }

    fn packet(&mut self, p: &[u8; PACKET_SIZE], out: &mut Vec<MediaEvent>) -> Result<(), TsError> {
        let pid = (u16::from(p[1] & 0x1f) << 8) | u16::from(p[2]);
        if p[1] & 0x80 != 0 {
            // transport_error_indicator: the transport layer says this packet is damaged.
            return Err(TsError::BadPacket {
                pid,
                detail: "transport_error_indicator is set".into(),
            });
        }
        let pusi = p[1] & 0x40 != 0;
        let afc = (p[3] >> 4) & 3;
        let cc = p[3] & 0x0f;
        let mut start = 4;
        let mut discontinuity = false;
        if afc & 2 != 0 {
            let af_len = usize::from(p[4]);
            // 2.4.3.5: at most 183 bytes without payload, 182 with.
            let max = if afc == 3 { 182 } else { 183 };
            if af_len > max {
                return Err(TsError::BadPacket {
                    pid,
                    detail: format!("adaptation_field_length {af_len}"),
                });
            }
            discontinuity = af_len > 0 && p[5] & 0x80 != 0;
            start = 5 + af_len;
        }
        if afc & 1 == 0 {
            return Ok(()); // no payload (PCR-only or reserved): nothing to reassemble
        }
        let payload = &p[start..];
        if pid == PID_PAT {
            if let Some(section) = self.pat.push(pusi, payload) {
                self.on_pat(&section)?;
            }
        } else if Some(pid) == self.pmt_pid {
            if let Some(section) = self.pmt.push(pusi, payload) {
                self.on_pmt(pid, &section)?;
            }
        } else if self.video.as_ref().is_some_and(|v| v.pes.pid == pid) {
            // Taken out so the PES handler can borrow the demuxer's clock and counters.
            let Some(mut v) = self.video.take() else {
                return Ok(());
            };
            let r = v
                .pes
                .push(pusi, cc, discontinuity, payload)
                .and_then(|done| {
                    let mut first = None;
                    for data in done {
                        note(&mut first, self.video_pes(&mut v, &data, out));
                        v.pes.recycle(data);
                    }
                    first.map_or(Ok(()), Err)
                });
            self.video = Some(v);
            r?;
        } else if self.audio.as_ref().is_some_and(|a| a.pes.pid == pid) {
            let Some(mut a) = self.audio.take() else {
                return Ok(());
            };
            let r = a
                .pes
                .push(pusi, cc, discontinuity, payload)
                .and_then(|done| {
                    let mut first = None;
                    for data in done {
                        note(&mut first, self.audio_pes(&mut a, &data, out));
                        a.pes.recycle(data);
                    }
                    first.map_or(Ok(()), Err)
                });
            self.audio = Some(a);
            r?;
        }
        // Any other PID (SDT, NIT, data streams, a second program) is ignored.
        Ok(())
    }

    fn on_pat(&mut self, section: &[u8]) -> Result<(), TsError> {
        if let Some(pmt_pid) = psi::parse_pat(section)? {
            if self.pmt_pid != Some(pmt_pid) {
                self.pmt_pid = Some(pmt_pid);
                self.pmt = SectionBuf::default();
            }
        }
        Ok(())
    }

    /// Picks the first video and first audio stream of the PMT. A PMT that repeats (every
    /// HLS segment starts with one) keeps the streams and their half-assembled PES.
    fn on_pmt(&mut self, pid: u16, section: &[u8]) -> Result<(), TsError> {
        let streams = psi::parse_pmt(pid, section)?;
        let video = streams.iter().find_map(|s| match s.stream_type {
            STREAM_TYPE_H264 => Some((s.pid, VideoCodec::H264)),
            STREAM_TYPE_H265 => Some((s.pid, VideoCodec::H265)),
            _ => None,
        });
        match video {
            Some((pid, codec))
                if self
                    .video
                    .as_ref()
                    .is_some_and(|v| v.pes.pid == pid && v.codec == codec) => {}
            Some((pid, codec)) => {
                self.video = Some(VideoStream {
                    codec,
                    pes: PesBuf::new(pid),
                    vps: Vec::new(),
                    sps: Vec::new(),
                    pps: Vec::new(),
                    config: None,
                })
            }
            None => self.video = None,
        }
        let audio = streams
            .iter()
            .find(|s| s.stream_type == STREAM_TYPE_AAC_ADTS)
            .map(|s| s.pid);
        match audio {
            Some(pid) if self.audio.as_ref().is_some_and(|a| a.pes.pid == pid) => {}
            Some(pid) => {
                self.audio = Some(AudioStream {
                    pes: PesBuf::new(pid),
                    config: None,
                })
            }
            None => self.audio = None,
        }
        Ok(())
    }

    fn video_pes(
        &mut self,
        v: &mut VideoStream,
        data: &[u8],
        out: &mut Vec<MediaEvent>,
    ) -> Result<(), TsError> {
        let pid = v.pes.pid;
        let p = pes::parse(pid, data)?;
        let pts = p.pts.ok_or_else(|| TsError::Pes {
            pid,
            detail: "video PES without PTS".into(),
        })?;
        let dts = self.clock.unwrap(p.dts.unwrap_or(pts));
        let pts = self.clock.unwrap(pts);
        let (mut vps, mut sps, mut pps) = (Vec::new(), Vec::new(), Vec::new());
        let mut frame = Vec::with_capacity(p.payload.len() + 16);
        let mut keyframe = false;
        for n in nal::split_annexb(p.payload) {
            let kind = nal::classify(v.codec, n);
            let (list, max, name) = match kind {
                NalKind::AccessUnitDelimiter => continue,
                NalKind::Vps => (&mut vps, hevc::MAX_VPS, "VPS"),
                NalKind::Sps if v.codec == VideoCodec::H264 => (&mut sps, h264::MAX_SPS, "SPS"),
                NalKind::Pps if v.codec == VideoCodec::H264 => (&mut pps, h264::MAX_PPS, "PPS"),
                NalKind::Sps => (&mut sps, hevc::MAX_SPS, "SPS"),
                NalKind::Pps => (&mut pps, hevc::MAX_PPS, "PPS"),
                kind => {
                    keyframe |= kind == NalKind::RandomAccess;
                    frame.extend_from_slice(&(n.len() as u32).to_be_bytes());
                    frame.extend_from_slice(n);
                    continue;
                }
            };
            // More sets than a record can hold (or than the codec has ids) is not a stream:
            // refused before a hostile PES of millions of them is copied.
            if list.len() == max {
                return Err(TsError::Codec {
                    pid,
                    source: CodecError::invalid(
                        "access unit",
                        format!("more than {max} {name} in one access unit"),
                    ),
                });
            }
            list.push(Bytes::copy_from_slice(n));
        }
        // Sets absent from this AU stay as they were (a PPS may be repeated alone).
        let changed = (!vps.is_empty() && vps != v.vps)
            || (!sps.is_empty() && sps != v.sps)
            || (!pps.is_empty() && pps != v.pps);
        if changed {
            for (new, old) in [(vps, &mut v.vps), (sps, &mut v.sps), (pps, &mut v.pps)] {
                if !new.is_empty() {
                    *old = new;
                }
            }
            let ready = !v.sps.is_empty()
                && !v.pps.is_empty()
                && (v.codec == VideoCodec::H264 || !v.vps.is_empty());
            if ready {
                let built = match v.codec {
                    VideoCodec::H264 => h264::build_avcc(&v.sps, &v.pps),
                    VideoCodec::H265 => hevc::build_hvcc(&v.vps, &v.sps, &v.pps),
                };
                let config = Arc::new(built.map_err(|source| TsError::Codec { pid, source })?);
                if v.config.as_deref() != Some(&*config) {
                    out.push(MediaEvent::VideoConfig(config.clone()));
                    v.config = Some(config);
                }
            }
        }
        if frame.is_empty() {
            return Ok(()); // an AU of parameter sets only
        }
        if v.config.is_none() {
            self.dropped_frames += 1;
            return Ok(());
        }
        out.push(MediaEvent::Frame(Frame {
            kind: TrackKind::Video,
            dts,
            pts,
            keyframe,
            data: frame.into(),
        }));
        Ok(())
    }

    fn audio_pes(
        &mut self,
        a: &mut AudioStream,
        data: &[u8],
        out: &mut Vec<MediaEvent>,
    ) -> Result<(), TsError> {
        let pid = a.pes.pid;
        let p = pes::parse(pid, data)?;
        let pts = p.pts.ok_or_else(|| TsError::Pes {
            pid,
            detail: "audio PES without PTS".into(),
        })?;
        let pts = self.clock.unwrap(pts);
        let mut rest = p.payload;
        let mut samples: i64 = 0;
        let mut frames = 0;
        while !rest.is_empty() {
            if frames == MAX_ADTS_FRAMES_PER_PES {
                return Err(TsError::Pes {
                    pid,
                    detail: format!(
                        "more than {MAX_ADTS_FRAMES_PER_PES} ADTS frames in one PES; the rest \
                         ({} bytes) is dropped",
                        rest.len()
                    ),
                });
            }
            frames += 1;
            let f = aac::parse_adts(rest).map_err(|source| TsError::Codec { pid, source })?;
            if a.config.as_ref().is_none_or(|c| c.asc != f.config.asc) {
                let config = Arc::new(f.config.clone());
                out.push(MediaEvent::AudioConfig(config.clone()));
                a.config = Some(config);
            }
            // Several ADTS frames may share one PES and its PTS; each later one starts
            // frame_samples further on (13818-1 2.4.3.7: the PTS is the first AU's).
            let t = pts + MediaTime::from_rate(samples, f.config.sample_rate);
            out.push(MediaEvent::Frame(Frame {
                kind: TrackKind::Audio,
                dts: t,
                pts: t,
                keyframe: true,
                data: Bytes::copy_from_slice(f.payload),
            }));
            samples += i64::from(f.config.frame_samples);
            rest = &rest[f.len..];
        }
        Ok(())
    }
}

impl SectionBuf {
    /// Collects a section; returns it once complete. Only the first section starting in
    /// a packet is read: PAT and PMT of one program are single sections.
    fn push(&mut self, pusi: bool, payload: &[u8]) -> Option<Vec<u8>> {
        if pusi {
            let pointer = usize::from(*payload.first()?);
            self.data.clear();
            self.data.extend_from_slice(payload.get(1 + pointer..)?);
        } else if !self.data.is_empty() {
            self.data.extend_from_slice(payload);
        } else {
            return None;
        }
        if self.data.len() < 3 {
            return None;
        }
        let total = 3 + usize::from(u16::from_be_bytes([self.data[1], self.data[2]]) & 0x0fff);
        if total > MAX_SECTION_SIZE {
            self.data.clear();
            return None;
        }
        if self.data.len() < total {
            return None;
        }
        let section = self.data[..total].to_vec();
        self.data.clear();
        Some(section)
    }
}

impl PesBuf {
    fn new(pid: u16) -> Self {
        PesBuf {
            pid,
            data: Vec::new(),
            spare: Vec::new(),
            active: false,
            next_cc: None,
        }
    }

    /// The PES being assembled, if any.
    fn finish(&mut self) -> Option<Vec<u8>> {
        let was_active = std::mem::replace(&mut self.active, false);
        let next = std::mem::take(&mut self.spare);
        let data = std::mem::replace(&mut self.data, next);
        (was_active && !data.is_empty()).then_some(data)
    }

    /// Takes back the buffer of a PES that has been read, for the next one.
    fn recycle(&mut self, mut used: Vec<u8>) {
        if used.capacity() > self.spare.capacity() {
            used.clear();
            self.spare = used;
        }
    }

    /// Adds one packet's payload; returns the PES packets it completed (at most two: the
    /// previous one ended by this PUSI, and a short bounded one inside this packet).
    fn push(
        &mut self,
        pusi: bool,
        cc: u8,
        discontinuity: bool,
        payload: &[u8],
    ) -> Result<Vec<Vec<u8>>, TsError> {
        let mut done = Vec::new();
        if let Some(expected) = self.next_cc {
            if cc == expected.wrapping_sub(1) & 0x0f && !pusi && !discontinuity {
                return Ok(done); // a duplicate packet (2.4.3.3 allows one)
            }
            if cc != expected && !discontinuity && !pusi && self.active {
                // A lost packet inside a PES: what was assembled is corrupt. At a PUSI
                // the previous PES may be complete (a new segment from another muxer
                // instance), so a jump there is not an error.
                self.active = false;
                self.data.clear();
                self.next_cc = Some((cc + 1) & 0x0f);
                return Err(TsError::Continuity {
                    pid: self.pid,
                    expected,
                    got: cc,
                });
            }
        }
        self.next_cc = Some((cc + 1) & 0x0f);
        if pusi {
            if let Some(prev) = self.finish() {
                done.push(prev);
            }
            self.active = true;
        } else if !self.active {
            return Ok(done); // joined mid-PES
        }
        self.data.extend_from_slice(payload);
        if self.data.len() >= 6 {
            let declared = usize::from(u16::from_be_bytes([self.data[4], self.data[5]]));
            if declared != 0 && self.data.len() >= 6 + declared {
                if let Some(pes) = self.finish() {
                    done.push(pes);
                }
            }
        }
        if self.data.len() > MAX_PES_SIZE {
            self.active = false;
            self.data.clear();
            return Err(TsError::Pes {
                pid: self.pid,
                detail: format!("PES larger than {MAX_PES_SIZE} bytes"),
            });
        }
        Ok(done)
    }
}

#[cfg(test)]
#[path = "demux_tests.rs"]
mod tests;
