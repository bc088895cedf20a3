//! A push-based FLV stream reader: bytes in (any chunking), tags out.
//!
//! Used for HTTP-FLV pull and file replay. A bad tag header is an error that names the
//! byte offset, so the caller can log where the stream broke and reconnect.

use bytes::{Buf, Bytes, BytesMut};

/// One FLV tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlvTag {
    /// 8 audio, 9 video, 18 script data.
    pub kind: u8,
    /// Milliseconds, with the extended byte applied (still 32-bit, may wrap).
    pub ts_ms: u32,
    pub body: Bytes,
    /// Offset of the tag header in the stream.
    pub offset: u64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FlvReadError {
    #[error("not an FLV stream: the first bytes are {0:02x?}, not 'FLV'")]
    NotFlv(Vec<u8>),
    #[error("FLV tag at byte {offset} has unknown type {kind}")]
    BadTagType { offset: u64, kind: u8 },
    #[error("FLV tag at byte {offset} claims {size} bytes, more than the {max} allowed")]
    TooLarge {
        offset: u64,
        size: usize,
        max: usize,
    },
}

/// Largest tag body accepted: 16 MiB is the format's own limit (24-bit size).
const MAX_TAG: usize = (1 << 24) - 1;

#[derive(Debug, Default)]
pub struct FlvReader {
    buf: BytesMut,
    header_done: bool,
    offset: u64,
}

impl FlvReader {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> u64 {
        self.offset
    }

    /// Appends `bytes` and returns every complete tag.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<FlvTag>) -> Result<(), FlvReadError> {
        self.buf.extend_from_slice(bytes);
        if !self.header_done {
            if self.buf.len() < 3 {
                return Ok(());
            }
            if &self.buf[..3] != b"FLV" {
                return Err(FlvReadError::NotFlv(self.buf[..3].to_vec()));
            }
            if self.buf.len() < 9 {
                return Ok(());
            }
            let header_len =
                u32::from_be_bytes([self.buf[5], self.buf[6], self.buf[7], self.buf[8]]) as usize;
            let skip = header_len.max(9) + 4; // header + PreviousTagSize0
            if self.buf.len() < skip {
                return Ok(());
            }
            self.buf.advance(skip);
            self.offset += skip as u64;
            self.header_done = true;
        }
        while self.buf.len() >= 11 {
            let kind = self.buf[0] & 0x1f; // upper bits: reserved + filter flag
            let size = (usize::from(self.buf[1]) << 16)
                | (usize::from(self.buf[2]) << 8)
                | usize::from(self.buf[3]);
            if !matches!(kind, 8 | 9 | 18 | super::tag::TAG_FILLER) {
                return Err(FlvReadError::BadTagType {
                    offset: self.offset,
                    kind,
                });
            }
            if size > MAX_TAG {
                return Err(FlvReadError::TooLarge {
                    offset: self.offset,
                    size,
                    max: MAX_TAG,
                });
            }
            let total = 11 + size + 4;
            if self.buf.len() < total {
                // Reserve once so a multi-megabyte key frame does not grow the buffer in steps.
                self.buf.reserve(total - self.buf.len());
                break;
            }
            let ts_ms = u32::from_be_bytes([self.buf[7], self.buf[4], self.buf[5], self.buf[6]]);
            let mut tag = self.buf.split_to(total);
            tag.advance(11);
            tag.truncate(size);
            out.push(FlvTag {
                kind,
                ts_ms,
                body: tag.freeze(),
                offset: self.offset,
            });
            self.offset += total as u64;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flv::tag::TagDecoder;
    use crate::frame::MediaEvent;

    const FIXTURE: &[u8] = include_bytes!("../../../../tests/fixtures/h264_aac_2s.flv");

    fn read_all(chunk: usize) -> Vec<FlvTag> {
        let mut r = FlvReader::new();
        let mut tags = Vec::new();
        for c in FIXTURE.chunks(chunk) {
            r.push(c, &mut tags).unwrap();
        }
        assert_eq!(r.position(), FIXTURE.len() as u64);
        tags
    }

    #[test]
    fn reads_fixture_in_any_chunking() {
        let whole = read_all(FIXTURE.len());
        assert_eq!(read_all(1), whole);
        assert_eq!(read_all(4093), whole);
        assert_eq!(whole[0].kind, 18); // onMetaData
                                       // 2 s at 30 fps = 60 video frames, plus ffmpeg's sequence header and end-of-sequence.
        assert_eq!(whole.iter().filter(|t| t.kind == 9).count(), 62);

        let mut dec = TagDecoder::new();
        let mut events = Vec::new();
        for t in &whole {
            match t.kind {
                8 => dec.audio(t.ts_ms, t.body.clone(), &mut events).unwrap(),
                9 => dec.video(t.ts_ms, t.body.clone(), &mut events).unwrap(),
                _ => {}
            }
        }
        let video: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                MediaEvent::Frame(f) if f.is_video() => Some(f),
                _ => None,
            })
            .collect();
        assert_eq!(video.len(), 60);
        assert!(video[0].keyframe);
        assert_eq!(video.iter().filter(|f| f.keyframe).count(), 2); // -g 30
        assert!(video.iter().any(|f| f.pts != f.dts), "fixture has B-frames");
    }

    #[test]
    fn rejects_non_flv_and_bad_tags() {
        let mut out = Vec::new();
        assert!(matches!(
            FlvReader::new().push(b"GIF89a", &mut out),
            Err(FlvReadError::NotFlv(_))
        ));
        let mut bad = FIXTURE[..13].to_vec();
        bad.extend_from_slice(&[0x07, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
        assert!(matches!(
            FlvReader::new().push(&bad, &mut out),
            Err(FlvReadError::BadTagType {
                offset: 13,
                kind: 7
            })
        ));
    }
}
