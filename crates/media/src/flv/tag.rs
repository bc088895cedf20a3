//! FLV tag bodies, as RTMP messages and FLV files carry them.
//!
//! Decoding follows the FLV 10.1 spec (legacy `CodecID` 7 = AVC, the de-facto 12 = HEVC)
//! and Enhanced RTMP v1/v2 (the `IsExHeader` bit and a FourCC). Quirks handled here, from
//! REFERENCE.md section 5:
//! - E-RTMP is detected from the header bit, never from `connect` (ffmpeg 6.1+ sends it
//!   unannounced).
//! - Old OBS sent HEVC under codec id 7: the configuration record decides, not the id.
//! - Metadata `videocodecid` is never trusted; the sequence header is.
//!
//! Timestamps arrive as 32-bit milliseconds that wrap; [`TagDecoder`] unwraps them into a
//! monotonic [`MediaTime`].

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};

use crate::codec::{aac, h264, hevc, AudioConfig, CodecError, VideoCodec, VideoConfig};
use crate::frame::{Frame, MediaEvent, TrackKind};
use crate::time::MediaTime;

pub const TAG_AUDIO: u8 = 8;
pub const TAG_VIDEO: u8 = 9;
pub const TAG_SCRIPT: u8 = 18;
/// A tag type of no meaning (FLV reserves every type but 8, 9 and 18) that Tapedeck uses to
/// fill the room between the header of a file finalized in place and its media: ffmpeg
/// and flv.js skip tags of unknown types.
pub const TAG_FILLER: u8 = 15;

const CODEC_AVC: u8 = 7;
const CODEC_HEVC_LEGACY: u8 = 12;
const SOUND_AAC: u8 = 10;
const SOUND_EX_HEADER: u8 = 9;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TagError {
    #[error("{kind} tag at {ts_ms} ms is truncated ({len} bytes)")]
    Truncated {
        kind: &'static str,
        ts_ms: u32,
        len: usize,
    },
    #[error("unsupported {kind} codec {codec}")]
    Unsupported { kind: &'static str, codec: String },
    #[error("bad {kind} sequence header at {ts_ms} ms: {source}")]
    Config {
        kind: &'static str,
        ts_ms: u32,
        source: CodecError,
    },
    #[error("video frame at {ts_ms} ms: {detail}")]
    BadFrame { ts_ms: u32, detail: String },
}

impl TagError {
    /// True when the stream is fine but carries a codec Tapedeck does not record yet: the
    /// caller logs it once and keeps the rest of the stream.
    pub fn is_unsupported(&self) -> bool {
        matches!(self, TagError::Unsupported { .. })
    }
}

/// Unwraps 32-bit millisecond timestamps into a monotonic 64-bit count.
#[derive(Clone, Debug, Default)]
pub struct TimestampUnwrapper {
    last: Option<u32>,
    epoch: i64,
}

impl TimestampUnwrapper {
    pub fn unwrap(&mut self, ts: u32) -> i64 {
        if let Some(last) = self.last {
            // A jump backwards by more than half the range is a wrap, not a reorder.
            if ts < last && last - ts > u32::MAX / 2 {
                self.epoch += 1 << 32;
            } else if ts > last && ts - last > u32::MAX / 2 && self.epoch > 0 {
                // A late frame from before the wrap.
                return self.epoch - (1 << 32) + i64::from(ts);
            }
        }
        self.last = Some(ts);
        self.epoch + i64::from(ts)
    }
}

/// Turns FLV audio/video tag bodies into [`MediaEvent`]s, keeping the current configs.
#[derive(Debug, Default)]
pub struct TagDecoder {
    video: Option<Arc<VideoConfig>>,
    audio: Option<Arc<AudioConfig>>,
    clock: TimestampUnwrapper,
}

impl TagDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn video_config(&self) -> Option<&Arc<VideoConfig>> {
        self.video.as_ref()
    }

    pub fn audio_config(&self) -> Option<&Arc<AudioConfig>> {
        self.audio.as_ref()
    }

    /// Decodes one video tag body. Frames before the first sequence header are dropped
    /// (a decoder could not use them); command frames and metadata packets are ignored.
    pub fn video(
        &mut self,
        ts_ms: u32,
        body: Bytes,
        out: &mut Vec<MediaEvent>,
    ) -> Result<(), TagError> {
        let truncated = || TagError::Truncated {
            kind: "video",
            ts_ms,
            len: body.len(),
        };
        let b0 = *body.first().ok_or_else(truncated)?;
        let dts = MediaTime::from_millis(self.clock.unwrap(ts_ms));
        if b0 & 0x80 != 0 {
            return self.video_ex(ts_ms, dts, body, out);
        }
        let frame_type = (b0 >> 4) & 7;
        let codec_id = b0 & 0x0f;
        if codec_id != CODEC_AVC && codec_id != CODEC_HEVC_LEGACY {
            return Err(TagError::Unsupported {
                kind: "video",
                codec: format!("id {codec_id}"),
            });
        }
        if frame_type == 5 {
            return Ok(()); // video info/command frame
        }
        if body.len() < 5 {
            return Err(truncated());
        }
        let cts = si24(&body[2..5]);
        match body[1] {
            0 => {
                let prefer_hevc = codec_id == CODEC_HEVC_LEGACY;
                let config = parse_video_record(&body[5..], prefer_hevc).map_err(|source| {
                    TagError::Config {
                        kind: "video",
                        ts_ms,
                        source,
                    }
                })?;
                self.set_video(config, out);
                Ok(())
            }
            1 => self.video_frame(ts_ms, dts, cts, frame_type == 1, body.slice(5..), out),
            _ => Ok(()), // 2 = end of sequence
        }
    }

    fn video_ex(
        &mut self,
        ts_ms: u32,
        dts: MediaTime,
        body: Bytes,
        out: &mut Vec<MediaEvent>,
    ) -> Result<(), TagError> {
        if body.len() < 5 {
            return Err(TagError::Truncated {
                kind: "video",
                ts_ms,
                len: body.len(),
            });
        }
        let frame_type = (body[0] >> 4) & 7;
        let packet_type = body[0] & 0x0f;
        let fourcc = &body[1..5];
        let codec = match fourcc {
            b"avc1" => VideoCodec::H264,
            b"hvc1" => VideoCodec::H265,
            _ if packet_type == 6 => {
                return Err(TagError::Unsupported {
                    kind: "video",
                    codec: "E-RTMP multitrack".into(),
                })
            }
            other => {
                return Err(TagError::Unsupported {
                    kind: "video",
                    codec: String::from_utf8_lossy(other).into_owned(),
                })
            }
        };
        if frame_type == 5 {
            return Ok(());
        }
        match packet_type {
            0 => {
                let config = parse_video_record(&body[5..], codec == VideoCodec::H265).map_err(
                    |source| TagError::Config {
                        kind: "video",
                        ts_ms,
                        source,
                    },
                )?;
                self.set_video(config, out);
                Ok(())
            }
            1 => {
                if body.len() < 8 {
                    return Err(TagError::Truncated {
                        kind: "video",
                        ts_ms,
                        len: body.len(),
                    });
                }
                let cts = si24(&body[5..8]);
                self.video_frame(ts_ms, dts, cts, frame_type == 1, body.slice(8..), out)
            }
            3 => self.video_frame(ts_ms, dts, 0, frame_type == 1, body.slice(5..), out),
            _ => Ok(()), // SequenceEnd, Metadata (colorInfo), MPEG2TSSequenceStart
        }
    }

    fn set_video(&mut self, config: VideoConfig, out: &mut Vec<MediaEvent>) {
        // Encoders resend the same header (OBS on every reconnect): only a change matters.
        if self.video.as_deref().map(|c| &c.record) != Some(&config.record) {
            let config = Arc::new(config);
            self.video = Some(config.clone());
            out.push(MediaEvent::VideoConfig(config));
        }
    }

    fn video_frame(
        &mut self,
        ts_ms: u32,
        dts: MediaTime,
        cts_ms: i32,
        keyframe: bool,
        data: Bytes,
        out: &mut Vec<MediaEvent>,
    ) -> Result<(), TagError> {
        let Some(config) = &self.video else {
            return Ok(());
        };
        if data.is_empty() {
            return Ok(());
        }
        let data = normalize_nal_lengths(&data, config.nal_length_size)
            .map_err(|detail| TagError::BadFrame { ts_ms, detail })?;
        out.push(MediaEvent::Frame(Frame {
            kind: TrackKind::Video,
            dts,
            pts: dts + MediaTime::from_millis(i64::from(cts_ms)),
            keyframe,
            data,
        }));
        Ok(())
    }

    /// Decodes one audio tag body. AAC only for now; other codecs are `Unsupported`.
    pub fn audio(
        &mut self,
        ts_ms: u32,
        body: Bytes,
        out: &mut Vec<MediaEvent>,
    ) -> Result<(), TagError> {
        let truncated = || TagError::Truncated {
            kind: "audio",
            ts_ms,
            len: body.len(),
        };
        let b0 = *body.first().ok_or_else(truncated)?;
        let dts = MediaTime::from_millis(self.clock.unwrap(ts_ms));
        let (is_header, payload) = match b0 >> 4 {
            SOUND_AAC => {
                let kind = *body.get(1).ok_or_else(truncated)?;
                (kind == 0, body.slice(2..))
            }
            SOUND_EX_HEADER => {
                let fourcc = body.get(1..5).ok_or_else(truncated)?;
                if fourcc != b"mp4a" {
                    let codec = String::from_utf8_lossy(fourcc).into_owned();
                    return Err(TagError::Unsupported {
                        kind: "audio",
                        codec,
                    });
                }
                match b0 & 0x0f {
                    0 => (true, body.slice(5..)),
                    1 => (false, body.slice(5..)),
                    _ => return Ok(()),
                }
            }
            other => {
                return Err(TagError::Unsupported {
                    kind: "audio",
                    codec: format!("SoundFormat {other}"),
                })
            }
        };
        if is_header {
            let config = aac::parse_asc(&payload).map_err(|source| TagError::Config {
                kind: "audio",
                ts_ms,
                source,
            })?;
            if self.audio.as_deref().map(|c| &c.asc) != Some(&config.asc) {
                let config = Arc::new(config);
                self.audio = Some(config.clone());
                out.push(MediaEvent::AudioConfig(config));
            }
        } else if self.audio.is_some() && !payload.is_empty() {
            out.push(MediaEvent::Frame(Frame {
                kind: TrackKind::Audio,
                dts,
                pts: dts,
                keyframe: true,
                data: payload,
            }));
        }
        Ok(())
    }
}

fn parse_video_record(record: &[u8], prefer_hevc: bool) -> Result<VideoConfig, CodecError> {
    if prefer_hevc {
        hevc::parse_hvcc(record).or_else(|e| h264::parse_avcc(record).map_err(|_| e))
    } else {
        h264::parse_avcc(record).or_else(|e| hevc::parse_hvcc(record).map_err(|_| e))
    }
}

fn si24(b: &[u8]) -> i32 {
    (i32::from(b[0]) << 24 | i32::from(b[1]) << 16 | i32::from(b[2]) << 8) >> 8
}

/// Rewrites NAL length prefixes of `size` bytes as 4-byte prefixes (the engine's form),
/// checking every length against the buffer.
pub fn normalize_nal_lengths(data: &Bytes, size: u8) -> Result<Bytes, String> {
    let size = usize::from(size);
    let mut pos = 0;
    let mut out = if size == 4 {
        None
    } else {
        Some(BytesMut::with_capacity(data.len() + 16))
    };
    while pos < data.len() {
        let prefix = data
            .get(pos..pos + size)
            .ok_or_else(|| format!("NAL length prefix cut at byte {pos}"))?;
        let len = prefix
            .iter()
            .fold(0usize, |acc, &b| acc << 8 | usize::from(b));
        let nal = data.get(pos + size..pos + size + len).ok_or_else(|| {
            format!(
                "NAL unit of {len} bytes at byte {pos} overruns the frame of {}",
                data.len()
            )
        })?;
        if let Some(out) = out.as_mut() {
            out.put_u32(len as u32);
            out.put_slice(nal);
        }
        pos += size + len;
    }
    Ok(out.map_or_else(|| data.clone(), BytesMut::freeze))
}

/// The FLV video tag body that announces `config`: legacy AVC for H.264, Enhanced RTMP
/// `hvc1` SequenceStart for H.265.
pub fn encode_video_config(config: &VideoConfig) -> Bytes {
    let mut b = BytesMut::with_capacity(config.record.len() + 5);
    match config.codec {
        VideoCodec::H264 => b.put_slice(&[0x17, 0, 0, 0, 0]),
        VideoCodec::H265 => {
            b.put_u8(0x80 | 0x10);
            b.put_slice(b"hvc1");
        }
    }
    b.put_slice(&config.record);
    b.freeze()
}

/// The FLV video tag body of one frame (4-byte NAL lengths, as the engine carries them).
pub fn encode_video_frame(codec: VideoCodec, frame: &Frame) -> Bytes {
    let frame_type: u8 = if frame.keyframe { 1 } else { 2 };
    let cts = frame.composition_offset().as_millis() as i32;
    let mut b = BytesMut::with_capacity(frame.data.len() + 8);
    match codec {
        VideoCodec::H264 => {
            b.put_u8(frame_type << 4 | CODEC_AVC);
            b.put_u8(1);
        }
        VideoCodec::H265 => {
            b.put_u8(0x80 | frame_type << 4 | 1);
            b.put_slice(b"hvc1");
        }
    }
    b.put_slice(&cts.to_be_bytes()[1..]);
    b.put_slice(&frame.data);
    b.freeze()
}

/// `AAC, 44 kHz, 16-bit, stereo` is what the header byte always says for AAC: decoders
/// read the real parameters from the AudioSpecificConfig (FLV spec E.4.2.1).
const AAC_HEADER_BYTE: u8 = SOUND_AAC << 4 | 0x0f;

pub fn encode_audio_config(config: &AudioConfig) -> Bytes {
    let mut b = BytesMut::with_capacity(config.asc.len() + 2);
    b.put_slice(&[AAC_HEADER_BYTE, 0]);
    b.put_slice(&config.asc);
    b.freeze()
}

pub fn encode_audio_frame(frame: &Frame) -> Bytes {
    let mut b = BytesMut::with_capacity(frame.data.len() + 2);
    b.put_slice(&[AAC_HEADER_BYTE, 1]);
    b.put_slice(&frame.data);
    b.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    const AVCC: &[u8] = include_bytes!("../../../../tests/fixtures/h264_320x240.avcc");
    const HVCC: &[u8] = include_bytes!("../../../../tests/fixtures/hevc_320x240.hvcc");

    fn frames(out: &[MediaEvent]) -> Vec<&Frame> {
        out.iter()
            .filter_map(|e| {
                if let MediaEvent::Frame(f) = e {
                    Some(f)
                } else {
                    None
                }
            })
            .collect()
    }

    #[test]
    fn legacy_avc_round_trip() {
        let config = h264::parse_avcc(AVCC).unwrap();
        let mut dec = TagDecoder::new();
        let mut out = Vec::new();
        dec.video(0, encode_video_config(&config), &mut out)
            .unwrap();
        assert!(matches!(&out[0], MediaEvent::VideoConfig(c) if c.width == 320));
        let frame = Frame {
            kind: TrackKind::Video,
            dts: MediaTime::from_millis(40),
            pts: MediaTime::from_millis(120),
            keyframe: true,
            data: Bytes::from_static(&[0, 0, 0, 2, 0x65, 0x88]),
        };
        dec.video(40, encode_video_frame(VideoCodec::H264, &frame), &mut out)
            .unwrap();
        assert_eq!(frames(&out), vec![&frame]);
        // The same header again is not a new config.
        dec.video(80, encode_video_config(&config), &mut out)
            .unwrap();
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn enhanced_and_legacy_hevc() {
        let config = hevc::parse_hvcc(HVCC).unwrap();
        let mut out = Vec::new();
        let mut dec = TagDecoder::new();
        dec.video(0, encode_video_config(&config), &mut out)
            .unwrap();
        assert!(matches!(&out[0], MediaEvent::VideoConfig(c) if c.codec == VideoCodec::H265));
        let frame = Frame {
            kind: TrackKind::Video,
            dts: MediaTime::ZERO,
            pts: MediaTime::from_millis(-33),
            keyframe: false,
            data: Bytes::from_static(&[0, 0, 0, 1, 0x02]),
        };
        dec.video(0, encode_video_frame(VideoCodec::H265, &frame), &mut out)
            .unwrap();
        assert_eq!(frames(&out), vec![&frame]);
        // CodedFramesX (no composition time).
        let mut x = vec![0x80 | 0x20 | 3];
        x.extend_from_slice(b"hvc1");
        x.extend_from_slice(&[0, 0, 0, 1, 0x02]);
        dec.video(33, Bytes::from(x), &mut out).unwrap();
        assert_eq!(frames(&out).len(), 2);

        // Legacy id 12, and old OBS's HEVC under id 7: the record decides.
        for id in [12u8, 7] {
            let mut legacy = vec![0x10 | id, 0, 0, 0, 0];
            legacy.extend_from_slice(HVCC);
            let mut out = Vec::new();
            TagDecoder::new()
                .video(0, Bytes::from(legacy), &mut out)
                .unwrap();
            assert!(
                matches!(&out[0], MediaEvent::VideoConfig(c) if c.codec == VideoCodec::H265),
                "id {id}"
            );
        }
    }

    #[test]
    fn aac_legacy_and_enhanced() {
        let asc = aac::parse_asc(&[0x12, 0x10]).unwrap();
        let mut dec = TagDecoder::new();
        let mut out = Vec::new();
        dec.audio(0, encode_audio_config(&asc), &mut out).unwrap();
        let f = Frame {
            kind: TrackKind::Audio,
            dts: MediaTime::from_millis(23),
            pts: MediaTime::from_millis(23),
            keyframe: true,
            data: Bytes::from_static(&[1, 2, 3]),
        };
        dec.audio(23, encode_audio_frame(&f), &mut out).unwrap();
        assert_eq!(frames(&out), vec![&f]);
        let mut ex = vec![0x90 | 1];
        ex.extend_from_slice(b"mp4a");
        ex.extend_from_slice(&[1, 2, 3]);
        dec.audio(23, Bytes::from(ex), &mut out).unwrap();
        assert_eq!(frames(&out).len(), 2);
        let mut opus = vec![0x90];
        opus.extend_from_slice(b"Opus");
        assert!(dec
            .audio(0, Bytes::from(opus), &mut out)
            .unwrap_err()
            .is_unsupported());
        assert!(dec
            .audio(0, Bytes::from_static(&[0x2f, 0]), &mut out)
            .unwrap_err()
            .is_unsupported());
    }

    #[test]
    fn malformed_tags_are_errors_not_panics() {
        let config = h264::parse_avcc(AVCC).unwrap();
        let mut dec = TagDecoder::new();
        let mut out = Vec::new();
        assert!(dec.video(0, Bytes::new(), &mut out).is_err());
        assert!(dec
            .video(0, Bytes::from_static(&[0x17, 0]), &mut out)
            .is_err());
        assert!(dec
            .video(0, Bytes::from_static(&[0x17, 0, 0, 0, 0, 1, 2]), &mut out)
            .is_err());
        assert!(dec
            .video(0, Bytes::from_static(&[0x90, b'h']), &mut out)
            .is_err());
        dec.video(0, encode_video_config(&config), &mut out)
            .unwrap();
        // A NAL length that overruns the frame.
        let bad = Bytes::from_static(&[0x17, 1, 0, 0, 0, 0, 0, 0, 9, 0x65]);
        assert!(matches!(
            dec.video(0, bad, &mut out),
            Err(TagError::BadFrame { .. })
        ));
        assert!(dec.audio(0, Bytes::from_static(&[0xaf]), &mut out).is_err());
        assert!(dec
            .audio(0, Bytes::from_static(&[0xaf, 0, 0x12]), &mut out)
            .is_err());
    }

    #[test]
    fn nal_length_normalization() {
        let two = Bytes::from_static(&[0, 2, 0x65, 0x88, 0, 1, 0x06]);
        assert_eq!(
            &normalize_nal_lengths(&two, 2).unwrap()[..],
            &[0, 0, 0, 2, 0x65, 0x88, 0, 0, 0, 1, 0x06]
        );
        assert!(normalize_nal_lengths(&Bytes::from_static(&[0, 5, 1]), 2).is_err());
    }

    #[test]
    fn timestamps_unwrap_across_32_bits() {
        let mut u = TimestampUnwrapper::default();
        assert_eq!(u.unwrap(u32::MAX - 10), i64::from(u32::MAX) - 10);
        assert_eq!(u.unwrap(5), (1i64 << 32) + 5);
        assert_eq!(u.unwrap(u32::MAX - 2), i64::from(u32::MAX) - 2); // late frame
        assert_eq!(u.unwrap(10), (1i64 << 32) + 10);
    }
}
