//! A push-based FLV stream reader: bytes in (any chunking), tags out.
//!
//! Used for HTTP-FLV pull, file replay and the finalizers. A bad tag header is an error
//! that names the byte offset, so the caller can log where the stream broke and reconnect.
//!
//! Limits (the input may be hostile): the header's `DataOffset` may skip at most
//! [`MAX_DATA_OFFSET`] bytes, and skipped bytes are dropped as they arrive, never buffered;
//! a tag body is at most the format's 24-bit size, so the buffer never holds more than one
//! tag plus one `push`.

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
    #[error(
        "FLV header DataOffset {data_offset} (byte 5) skips more than the {max} bytes allowed"
    )]
    DataOffsetTooLarge { data_offset: u32, max: u32 },
}

/// Largest tag body accepted: 16 MiB is the format's own limit (24-bit size).
const MAX_TAG: usize = (1 << 24) - 1;

/// Largest header `DataOffset` accepted. FLV 1 defines a 9-byte header and no version
/// since has made it longer; a larger offset is room left for a future header, and 64 KiB
/// is plenty of that. Without a limit a hostile stream could make the reader skip (or, as
/// it once did, buffer) up to 4 GiB before its first tag.
pub const MAX_DATA_OFFSET: u32 = 64 << 10;

/// Most a tag header alone makes the reader reserve for the body it announces.
const RESERVE_MAX: usize = 1 << 20;

#[derive(Debug, Default)]
pub struct FlvReader {
    buf: BytesMut,
    header_done: bool,
    /// Header bytes (and PreviousTagSize0) still to drop before the first tag.
    skip: u64,
    /// The header's length with PreviousTagSize0, once known.
    header_len: u64,
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
        let mut bytes = bytes;
        if self.skip > 0 {
            // The rest of a long header: dropped as it arrives. `position` counts the header
            // once it is whole, as it counts tags.
            let n = bytes
                .len()
                .min(usize::try_from(self.skip).unwrap_or(usize::MAX));
            bytes = &bytes[n..];
            self.skip -= n as u64;
            if self.skip > 0 {
                return Ok(());
            }
            self.offset += self.header_len;
        }
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
            let data_offset =
                u32::from_be_bytes([self.buf[5], self.buf[6], self.buf[7], self.buf[8]]);
            if data_offset > MAX_DATA_OFFSET {
                return Err(FlvReadError::DataOffsetTooLarge {
                    data_offset,
                    max: MAX_DATA_OFFSET,
                });
            }
            // header + PreviousTagSize0
            let header_len = u64::from(data_offset.max(9)) + 4;
            let now = (self.buf.len() as u64).min(header_len);
            self.buf.advance(now as usize);
            self.header_done = true;
            self.header_len = header_len;
            self.skip = header_len - now;
            if self.skip > 0 {
                return Ok(());
            }
            self.offset += header_len;
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
                // Reserve so a key frame does not grow the buffer in many small steps, but
                // no more than RESERVE_MAX on the word of an 11-byte header that the rest
                // will follow: bigger tags grow by doubling as their bytes arrive.
                self.buf.reserve((total - self.buf.len()).min(RESERVE_MAX));
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

    fn header(data_offset: u32) -> Vec<u8> {
        let mut h = b"FLV\x01\x05".to_vec();
        h.extend_from_slice(&data_offset.to_be_bytes());
        h
    }

    #[test]
    fn a_hostile_data_offset_is_refused_before_anything_is_buffered() {
        let mut out = Vec::new();
        let mut r = FlvReader::new();
        assert_eq!(
            r.push(&header(u32::MAX), &mut out),
            Err(FlvReadError::DataOffsetTooLarge {
                data_offset: u32::MAX,
                max: MAX_DATA_OFFSET
            })
        );
        assert!(FlvReader::new()
            .push(&header(MAX_DATA_OFFSET + 1), &mut out)
            .is_err());
    }

    #[test]
    fn a_long_header_is_skipped_as_it_arrives() {
        // A header of 1000 bytes (room a future version might use), then the fixture's tags.
        let mut file = header(1000);
        file.resize(1000, 0xee);
        file.extend_from_slice(&FIXTURE[9..]);
        let whole = read_all(FIXTURE.len());
        for chunk in [1, 7, 999, 1004, file.len()] {
            let mut r = FlvReader::new();
            let mut tags = Vec::new();
            for c in file.chunks(chunk) {
                r.push(c, &mut tags).unwrap();
                // Skipped bytes are dropped, not kept until the header ends.
                if r.skip > 0 {
                    assert!(r.buf.is_empty(), "chunk {chunk}: header bytes buffered");
                }
            }
            assert_eq!(r.position(), file.len() as u64);
            assert_eq!(tags.len(), whole.len(), "chunk {chunk}");
            for (a, b) in tags.iter().zip(&whole) {
                assert_eq!((a.kind, a.ts_ms, &a.body), (b.kind, b.ts_ms, &b.body));
                assert_eq!(a.offset, b.offset + 1000 - 9);
            }
        }
    }

    #[test]
    fn a_tag_header_alone_reserves_little() {
        // A header announcing a 16 MiB tag whose body never comes.
        let mut file = FIXTURE[..13].to_vec();
        file.extend_from_slice(&[9, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0]);
        let mut r = FlvReader::new();
        r.push(&file, &mut Vec::new()).unwrap();
        assert!(r.buf.capacity() <= 2 * RESERVE_MAX, "{}", r.buf.capacity());
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
