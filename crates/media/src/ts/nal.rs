//! NAL unit framing: MP4/FLV length prefixes <-> Annex B start codes (H.264 Annex B).

use crate::codec::{h264, hevc, VideoCodec};

/// Splits a frame of 4-byte big-endian length-prefixed NAL units. `None` when a prefix
/// overruns the frame.
pub(crate) fn split_length_prefixed(mut data: &[u8]) -> Option<Vec<&[u8]>> {
    let mut nals = Vec::new();
    while !data.is_empty() {
        let len = data.get(..4)?;
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let nal = data.get(4..4usize.checked_add(len)?)?;
        if !nal.is_empty() {
            nals.push(nal);
        }
        data = &data[4 + len..];
    }
    Some(nals)
}

/// Splits an Annex B byte stream on `00 00 01` start codes. Leading bytes before the first
/// start code and trailing zero bytes of each NAL unit (the zero_byte of a following
/// 4-byte start code, or trailing_zero_8bits) are dropped; a NAL unit never ends in 0x00.
///
/// An iterator, not a list: a hostile 32 MiB PES of start codes holds 8 million NAL units,
/// whose slices alone would take 128 MB.
pub(crate) fn split_annexb(data: &[u8]) -> AnnexB<'_> {
    AnnexB {
        data,
        // memmem searches with SIMD: a byte-at-a-time loop was two thirds of an export's time.
        codes: memchr::memmem::find_iter(data, &[0, 0, 1]),
        start: None,
    }
}

/// The NAL units of an Annex B byte stream (see [`split_annexb`]).
pub(crate) struct AnnexB<'a> {
    data: &'a [u8],
    codes: memchr::memmem::FindIter<'a, 'static>,
    /// Where the NAL unit being delimited starts.
    start: Option<usize>,
}

impl<'a> Iterator for AnnexB<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            // Overlapping matches (`00 00 00 01` has one) cannot occur: a match ends in 0x01.
            let (unit, more) = match self.codes.next() {
                Some(i) => (self.start.replace(i + 3).map(|s| &self.data[s..i]), true),
                None => (self.start.take().map(|s| &self.data[s..]), false),
            };
            if let Some(nal) = unit.and_then(trimmed) {
                return Some(nal);
            }
            if !more {
                return None;
            }
        }
    }
}

/// `nal` without its trailing zero bytes; `None` when nothing is left.
fn trimmed(nal: &[u8]) -> Option<&[u8]> {
    let end = nal.iter().rposition(|&b| b != 0)? + 1;
    Some(&nal[..end])
}

/// What a NAL unit is, in the terms both TS directions care about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NalKind {
    AccessUnitDelimiter,
    Vps,
    Sps,
    Pps,
    /// An IDR (H.264) or IRAP (H.265) slice: the picture is a random access point.
    RandomAccess,
    Other,
}

pub(crate) fn classify(codec: VideoCodec, nal: &[u8]) -> NalKind {
    let Some(&header) = nal.first() else {
        return NalKind::Other;
    };
    match codec {
        VideoCodec::H264 => match h264::nal_type(header) {
            9 => NalKind::AccessUnitDelimiter,
            7 => NalKind::Sps,
            8 => NalKind::Pps,
            5 => NalKind::RandomAccess,
            _ => NalKind::Other,
        },
        VideoCodec::H265 => match hevc::nal_type(header) {
            35 => NalKind::AccessUnitDelimiter,
            hevc::NAL_VPS => NalKind::Vps,
            hevc::NAL_SPS => NalKind::Sps,
            hevc::NAL_PPS => NalKind::Pps,
            t if hevc::is_irap(t) => NalKind::RandomAccess,
            _ => NalKind::Other,
        },
    }
}

/// The access unit delimiter the muxer inserts.
///
/// H.264 (7.3.2.4): primary_pic_type 7 ("I, SI, P, SP, B": any slice type), which is true
/// of every picture, so it never misdescribes a frame whose key flag is approximate; this
/// is also what ffmpeg and x264 write. H.265 (7.3.2.5): nuh_temporal_id_plus1 1 and
/// pic_type 2 (I, P, B), likewise always true.
pub(crate) fn access_unit_delimiter(codec: VideoCodec) -> &'static [u8] {
    match codec {
        VideoCodec::H264 => &[0x09, 0xf0],
        VideoCodec::H265 => &[0x46, 0x01, 0x50],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_prefixed_split() {
        let data = [0, 0, 0, 2, 0x65, 1, 0, 0, 0, 1, 0x41];
        assert_eq!(
            split_length_prefixed(&data),
            Some(vec![&[0x65, 1][..], &[0x41][..]])
        );
        assert_eq!(split_length_prefixed(&data[..10]), None);
        assert_eq!(split_length_prefixed(&[0, 0]), None);
        assert_eq!(split_length_prefixed(&[0xff, 0xff, 0xff, 0xff, 1]), None);
        assert_eq!(split_length_prefixed(&[]), Some(vec![]));
    }

    #[test]
    fn annexb_split() {
        let data = [
            0, 0, 0, 1, 9, 0xf0, 0, 0, 1, 0x67, 1, 2, 0, 0, 0, 0, 1, 0x65, 0, 3, 1, 0, 0,
        ];
        assert_eq!(
            split_annexb(&data).collect::<Vec<_>>(),
            vec![&[9, 0xf0][..], &[0x67, 1, 2][..], &[0x65, 0, 3, 1][..]]
        );
        assert_eq!(split_annexb(&[1, 2, 3]).next(), None);
        assert_eq!(split_annexb(&[0, 0, 1]).next(), None);
        assert_eq!(split_annexb(&[]).next(), None);
        // Empty units between start codes are skipped, not the end of the stream.
        assert_eq!(
            split_annexb(&[0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0x41, 0, 0, 1]).collect::<Vec<_>>(),
            vec![&[0x41][..]]
        );
    }
}
