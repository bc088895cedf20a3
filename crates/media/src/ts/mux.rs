//! The MPEG-TS muxer for HLS segments.
//!
//! ```text
//! segment = PAT PMT | PES(video AU) ... PES(audio AU) ... | PAT PMT (next segment) ...
//!
//! video PES: 00 00 01 E0 | len 0 | PTS [DTS] | AUD [VPS] [SPS PPS] slices...   (Annex B)
//! audio PES: 00 00 01 C0 | len   | PTS       | ADTS header + raw AAC          (one AU each)
//! packet:    47 | PUSI PID | AFC CC | [adaptation: RAI, PCR, stuffing] | payload = 188 B
//! ```
//!
//! Timestamps: `PES = (MediaTime + PTS_OFFSET) mod 2^33`. The 1.4 s offset is what the
//! ffmpeg command line's mpegts output adds (2 x its 0.7 s default muxdelay): it keeps the
//! first DTS of a stream with B-frames (which sources often send slightly negative) and
//! the PCR, which runs 0.7 s ahead of decode time, from going below zero. The PCR is
//! derived from DTS rather than from a byte rate because HLS segments have no constant
//! mux rate; it only has to be monotonic and earlier than every DTS that follows it.

use std::sync::Arc;

use super::nal::{self, NalKind};
use super::pes::{self, TIMESTAMP_MODULUS};
use super::psi::{self, PmtStream};
use super::{TsError, PACKET_SIZE, PID_AUDIO, PID_NULL, PID_PAT, PID_PMT, PID_VIDEO, SYNC_BYTE};
use super::{STREAM_TYPE_AAC_ADTS, STREAM_TYPE_H264, STREAM_TYPE_H265};
use crate::codec::{AudioConfig, VideoCodec, VideoConfig};
use crate::frame::{Frame, TrackKind, Tracks};
use crate::time::MediaTime;

/// The version of the muxer's byte output. The golden test pins a digest of a synthetic
/// segment next to this number: bump it together with the digest when the output changes
/// on purpose, so a change in what lands in users' buckets is always deliberate.
pub const FORMAT_VERSION: u32 = 1;

/// Added to every media time before it becomes a 33-bit PTS/DTS (see the module docs).
pub const PTS_OFFSET: MediaTime = MediaTime(126_000);

/// How far the PCR runs ahead of the DTS of the frame it is sent with (0.7 s, ffmpeg's
/// default max_delay): the decoder model's buffering time.
const PCR_DELAY: i64 = 63_000;
/// A PCR goes out on the PCR PID at least this often (13818-1 2.7.2 asks for 100 ms at
/// most; HLS players and analyzers warn past it).
/// 30 ms puts one on every frame of 30 fps video and every other one at 60 fps.
const PCR_PERIOD: i64 = 2_700;
/// When the PCR PID has been silent this long (sparse video), a PCR-only packet goes out
/// with the next audio frame. 50 ms plus one AAC frame (46 ms at 22.05 kHz) stays under
/// 100 ms.
const PCR_MAX_GAP: i64 = 4_500;

const STREAM_ID_VIDEO: u8 = 0xe0;
const STREAM_ID_AUDIO: u8 = 0xc0;
/// ADTS frame_length is 13 bits and includes the 7-byte header.
const MAX_ADTS_PAYLOAD: usize = (1 << 13) - 1 - 7;
const START_CODE: [u8; 4] = [0, 0, 0, 1];

/// Writes the frames of one stream as MPEG-TS. Continuity counters and the PCR clock live
/// here, so one muxer should serve every segment of a recording: segments then splice
/// cleanly when a player or `ffmpeg -i "concat:..."` reads them back to back.
#[derive(Debug)]
pub struct TsMuxer {
    video: Option<Arc<VideoConfig>>,
    audio: Option<Arc<AudioConfig>>,
    pcr_pid: u16,
    /// Next continuity_counter per PID: PAT, PMT, video, audio.
    cc: [u8; 4],
    /// Last PCR sent, in the unwrapped 90 kHz domain (before mod 2^33).
    last_pcr: Option<i64>,
}

impl TsMuxer {
    /// A muxer for the tracks present (either may be absent). The PCR rides on the video
    /// PID, or on the audio PID for an audio-only stream.
    pub fn new(tracks: &Tracks) -> Self {
        let pcr_pid = match (&tracks.video, &tracks.audio) {
            (Some(_), _) => PID_VIDEO,
            (None, Some(_)) => PID_AUDIO,
            (None, None) => PID_NULL,
        };
        TsMuxer {
            video: tracks.video.clone(),
            audio: tracks.audio.clone(),
            pcr_pid,
            cc: [0; 4],
            last_pcr: None,
        }
    }

    /// Replaces the video parameter sets (an encoder restart with new SPS/PPS); they are
    /// inserted before every following key frame. The codec cannot change: that changes
    /// the PMT, and needs a new recording.
    pub fn set_video_config(&mut self, config: Arc<VideoConfig>) -> Result<(), TsError> {
        match &self.video {
            Some(old) if old.codec == config.codec => {
                self.video = Some(config);
                Ok(())
            }
            _ => Err(TsError::NoTrack(TrackKind::Video)),
        }
    }

    /// Writes a PAT and a PMT, one packet each. Call it at the start of every segment so
    /// each segment decodes on its own (RFC 8216 3.2).
    pub fn write_tables(&mut self, out: &mut Vec<u8>) {
        self.write_section(PID_PAT, &psi::pat_section(PID_PMT), out);
        let mut streams = Vec::with_capacity(2);
        if let Some(v) = &self.video {
            let stream_type = match v.codec {
                VideoCodec::H264 => STREAM_TYPE_H264,
                VideoCodec::H265 => STREAM_TYPE_H265,
            };
            streams.push(PmtStream {
                stream_type,
                pid: PID_VIDEO,
            });
        }
        if self.audio.is_some() {
            streams.push(PmtStream {
                stream_type: STREAM_TYPE_AAC_ADTS,
                pid: PID_AUDIO,
            });
        }
        self.write_section(PID_PMT, &psi::pmt_section(self.pcr_pid, &streams), out);
    }

    /// Writes one frame as one PES packet. Frames should come in decode order per track;
    /// audio and video may interleave as they arrive.
    pub fn write_frame(&mut self, frame: &Frame, out: &mut Vec<u8>) -> Result<(), TsError> {
        match frame.kind {
            TrackKind::Video => {
                let config = self
                    .video
                    .clone()
                    .ok_or(TsError::NoTrack(TrackKind::Video))?;
                let es = annexb_access_unit(&config, frame)?;
                let pts = pes::to_33bit(frame.pts, PTS_OFFSET);
                let dts = pes::to_33bit(frame.dts, PTS_OFFSET);
                let mut pes = Vec::with_capacity(es.len() + 19);
                // PES_packet_length 0 ("unbounded") is allowed for video in a TS and is
                // what every HLS packager writes: access units often exceed 64 KiB.
                pes::write_header(
                    &mut pes,
                    STREAM_ID_VIDEO,
                    pts,
                    (pts != dts).then_some(dts),
                    None,
                );
                pes.extend_from_slice(&es);
                self.write_pes(PID_VIDEO, &pes, frame, out);
            }
            TrackKind::Audio => {
                let config = self
                    .audio
                    .clone()
                    .ok_or(TsError::NoTrack(TrackKind::Audio))?;
                if frame.data.len() > MAX_ADTS_PAYLOAD {
                    return Err(TsError::AudioFrameTooLong(frame.data.len()));
                }
                let pts = pes::to_33bit(frame.pts, PTS_OFFSET);
                let es_len = frame.data.len() + 7;
                let mut pes = Vec::with_capacity(es_len + 14);
                pes::write_header(&mut pes, STREAM_ID_AUDIO, pts, None, Some(es_len));
                pes.extend_from_slice(&config.adts_header(frame.data.len()));
                pes.extend_from_slice(&frame.data);
                self.write_pes(PID_AUDIO, &pes, frame, out);
            }
        }
        Ok(())
    }

    fn write_pes(&mut self, pid: u16, pes: &[u8], frame: &Frame, out: &mut Vec<u8>) {
        let candidate = frame.dts.0 + PTS_OFFSET.0 - PCR_DELAY;
        let due = |last: Option<i64>, gap: i64| last.is_none_or(|l| candidate - l >= gap);
        let pcr = if pid == self.pcr_pid {
            (frame.keyframe || due(self.last_pcr, PCR_PERIOD)).then(|| self.next_pcr(candidate))
        } else {
            if self.pcr_pid != PID_NULL && due(self.last_pcr, PCR_MAX_GAP) {
                // The PCR PID is quiet (sparse or late video): keep the clock going with
                // an adaptation-field-only packet, which takes no continuity count.
                let pcr = self.next_pcr(candidate);
                self.write_pcr_only(pcr, out);
            }
            None
        };
        self.packetize(pid, pes, pcr, frame.keyframe, out);
    }

    /// The PCR to send now: never earlier than the last one, so a late frame on another
    /// track cannot make the clock run backwards.
    fn next_pcr(&mut self, candidate: i64) -> u64 {
        let pcr = self.last_pcr.map_or(candidate, |l| l.max(candidate));
        self.last_pcr = Some(pcr);
        pcr.rem_euclid(TIMESTAMP_MODULUS) as u64
    }

    fn cc_slot(pid: u16) -> usize {
        match pid {
            PID_PAT => 0,
            PID_PMT => 1,
            PID_VIDEO => 2,
            _ => 3,
        }
    }

    /// The continuity_counter for the next packet with payload on `pid` (13818-1 2.4.3.3:
    /// it counts payload-carrying packets per PID, mod 16).
    fn next_cc(&mut self, pid: u16) -> u8 {
        let slot = &mut self.cc[Self::cc_slot(pid)];
        let cc = *slot;
        *slot = (cc + 1) & 0x0f;
        cc
    }

    fn write_section(&mut self, pid: u16, section: &[u8], out: &mut Vec<u8>) {
        let cc = self.next_cc(pid);
        let start = out.len();
        out.extend_from_slice(&[
            SYNC_BYTE,
            0x40 | (pid >> 8) as u8,
            pid as u8,
            0x10 | cc,
            0x00,
        ]);
        // Our sections are far below the 183 bytes a packet holds after pointer_field.
        out.extend_from_slice(section);
        out.resize(start + PACKET_SIZE, 0xff);
    }

    fn write_pcr_only(&mut self, pcr: u64, out: &mut Vec<u8>) {
        // A packet without payload repeats the PID's last counter value.
        let cc = self.cc[Self::cc_slot(self.pcr_pid)].wrapping_sub(1) & 0x0f;
        let start = out.len();
        let pid = self.pcr_pid;
        out.extend_from_slice(&[SYNC_BYTE, (pid >> 8) as u8, pid as u8, 0x20 | cc, 183, 0x10]);
        out.extend_from_slice(&pcr_field(pcr));
        out.resize(start + PACKET_SIZE, 0xff);
    }

    /// Splits one PES packet into TS packets. The first carries PUSI and, when asked, the
    /// random_access_indicator and PCR; the last is padded to 188 bytes with adaptation
    /// field stuffing (13818-1 2.4.3.5: PES payload may not be padded any other way).
    fn packetize(&mut self, pid: u16, pes: &[u8], pcr: Option<u64>, rai: bool, out: &mut Vec<u8>) {
        let mut pos = 0;
        let mut first = true;
        while first || pos < pes.len() {
            let cc = self.next_cc(pid);
            // Adaptation field contents after its length byte; `has_af` because a field
            // of length 0 (a single stuffing byte) is still a field.
            let mut af: Vec<u8> = Vec::new();
            let mut has_af = false;
            if first && (pcr.is_some() || rai) {
                has_af = true;
                af.push(if rai { 0x40 } else { 0 } | if pcr.is_some() { 0x10 } else { 0 });
                if let Some(pcr) = pcr {
                    af.extend_from_slice(&pcr_field(pcr));
                }
            }
            let remaining = pes.len() - pos;
            let room = 184 - if has_af { 1 + af.len() } else { 0 };
            if remaining < room {
                let stuffing = room - remaining;
                if has_af {
                    af.resize(af.len() + stuffing, 0xff);
                } else {
                    has_af = true;
                    if stuffing > 1 {
                        af.push(0x00); // no flags
                        af.resize(stuffing - 1, 0xff);
                    }
                }
            }
            let take = remaining.min(184 - if has_af { 1 + af.len() } else { 0 });
            let pusi = if first { 0x40 } else { 0 };
            let afc = if has_af { 0x30 } else { 0x10 };
            out.extend_from_slice(&[SYNC_BYTE, pusi | (pid >> 8) as u8, pid as u8, afc | cc]);
            if has_af {
                out.push(af.len() as u8);
                out.extend_from_slice(&af);
            }
            out.extend_from_slice(&pes[pos..pos + take]);
            pos += take;
            first = false;
        }
    }
}

/// The 6-byte PCR: a 33-bit base, 6 reserved bits, and a 9-bit extension (0: our clock is
/// the 90 kHz base).
fn pcr_field(base: u64) -> [u8; 6] {
    [
        (base >> 25) as u8,
        (base >> 17) as u8,
        (base >> 9) as u8,
        (base >> 1) as u8,
        (((base & 1) as u8) << 7) | 0x7e,
        0,
    ]
}

/// Converts a frame's length-prefixed NAL units to an Annex B access unit: an access unit
/// delimiter first (some players and HLS validators expect one per AU in a TS, and
/// ffmpeg's mpegts muxer inserts it for the same reason), then on key frames the
/// configuration's parameter sets unless the frame carries an SPS of its own (in-band
/// parameter sets win: they are the newest), then the frame's own NAL units.
fn annexb_access_unit(config: &VideoConfig, frame: &Frame) -> Result<Vec<u8>, TsError> {
    let nals = nal::split_length_prefixed(&frame.data).ok_or_else(|| TsError::BadFrame {
        at: frame.dts,
        detail: "NAL length prefixes overrun the frame (4-byte prefixes expected)".into(),
    })?;
    let codec = config.codec;
    let kinds: Vec<NalKind> = nals.iter().map(|n| nal::classify(codec, n)).collect();
    let ps_len: usize = config.parameter_sets.iter().map(|p| p.len() + 4).sum();
    let mut es = Vec::with_capacity(frame.data.len() + ps_len + 8);
    let mut rest = &nals[..];
    if kinds.first() == Some(&NalKind::AccessUnitDelimiter) {
        es.extend_from_slice(&START_CODE);
        es.extend_from_slice(nals[0]);
        rest = &nals[1..];
    } else if !kinds.contains(&NalKind::AccessUnitDelimiter) {
        es.extend_from_slice(&START_CODE);
        es.extend_from_slice(nal::access_unit_delimiter(codec));
    }
    if frame.keyframe && !kinds.contains(&NalKind::Sps) {
        for ps in &config.parameter_sets {
            es.extend_from_slice(&START_CODE);
            es.extend_from_slice(ps);
        }
    }
    for n in rest {
        es.extend_from_slice(&START_CODE);
        es.extend_from_slice(n);
    }
    Ok(es)
}

#[cfg(test)]
#[path = "mux_tests.rs"]
mod tests;
