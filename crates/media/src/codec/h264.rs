//! H.264: the `avcC` record (ISO/IEC 14496-15 5.3.3) and SPS dimensions.

use bytes::Bytes;
use h264_reader::nal::sps::SeqParameterSet;
use h264_reader::rbsp::BitReader as H264BitReader;

use super::bits::rbsp;
use super::{CodecError, VideoCodec, VideoConfig};

const WHAT: &str = "H.264 configuration record (avcC)";

/// SPS an `avcC` can list (`numOfSequenceParameterSets` is 5 bits).
pub const MAX_SPS: usize = 31;
/// PPS an `avcC` can list (`numOfPictureParameterSets` is 8 bits).
pub const MAX_PPS: usize = 255;

/// Parses an `avcC` record as FLV/RTMP and MP4 carry it.
pub fn parse_avcc(record: &[u8]) -> Result<VideoConfig, CodecError> {
    if record.len() < 7 {
        return Err(CodecError::Truncated { what: WHAT });
    }
    if record[0] != 1 {
        return Err(CodecError::invalid(
            WHAT,
            format!("configurationVersion {} is not 1", record[0]),
        ));
    }
    let nal_length_size = (record[4] & 3) + 1;
    if nal_length_size == 3 {
        return Err(CodecError::invalid(
            WHAT,
            "NAL length size 3 is not allowed",
        ));
    }
    let mut pos = 5;
    let mut sps = Vec::new();
    let mut pps = Vec::new();
    let num_sps = record[pos] & 0x1f;
    pos += 1;
    for _ in 0..num_sps {
        sps.push(read_u16_prefixed(record, &mut pos)?);
    }
    let num_pps = *record
        .get(pos)
        .ok_or(CodecError::Truncated { what: WHAT })?;
    pos += 1;
    for _ in 0..num_pps {
        pps.push(read_u16_prefixed(record, &mut pos)?);
    }
    let first_sps = sps
        .first()
        .ok_or_else(|| CodecError::invalid(WHAT, "no SPS"))?;
    let (width, height) = sps_dimensions(first_sps)?;
    let codec_string = format!("avc1.{:02x}{:02x}{:02x}", record[1], record[2], record[3]);
    let mut parameter_sets = sps;
    parameter_sets.extend(pps);
    Ok(VideoConfig {
        codec: VideoCodec::H264,
        record: Bytes::copy_from_slice(record),
        parameter_sets,
        nal_length_size,
        width,
        height,
        codec_string,
    })
}

/// Builds an `avcC` record from SPS and PPS NAL units (as found in an Annex B stream).
pub fn build_avcc(sps: &[Bytes], pps: &[Bytes]) -> Result<VideoConfig, CodecError> {
    let first = sps
        .first()
        .ok_or_else(|| CodecError::invalid(WHAT, "no SPS"))?;
    if first.len() < 4 {
        return Err(CodecError::Truncated { what: "H.264 SPS" });
    }
    // The record's counts are 5 bits (SPS) and 8 bits (PPS), each set's length 16 bits:
    // more would be written truncated and describe something else.
    if sps.len() > MAX_SPS || pps.len() > MAX_PPS {
        return Err(CodecError::invalid(
            WHAT,
            format!(
                "{} SPS and {} PPS, more than the {MAX_SPS} and {MAX_PPS} a record holds",
                sps.len(),
                pps.len()
            ),
        ));
    }
    if let Some(long) = sps
        .iter()
        .chain(pps)
        .find(|s| s.len() > usize::from(u16::MAX))
    {
        return Err(CodecError::invalid(
            WHAT,
            format!("a parameter set of {} bytes, more than 65535", long.len()),
        ));
    }
    let mut rec = vec![
        1,
        first[1],
        first[2],
        first[3],
        0xff,
        0xe0 | sps.len() as u8,
    ];
    for s in sps {
        rec.extend_from_slice(&(s.len() as u16).to_be_bytes());
        rec.extend_from_slice(s);
    }
    rec.push(pps.len() as u8);
    for p in pps {
        rec.extend_from_slice(&(p.len() as u16).to_be_bytes());
        rec.extend_from_slice(p);
    }
    parse_avcc(&rec)
}

/// Width and height in pixels from an SPS NAL unit (header byte included).
pub fn sps_dimensions(sps: &[u8]) -> Result<(u32, u32), CodecError> {
    if sps.len() < 2 || sps[0] & 0x1f != 7 {
        return Err(CodecError::invalid("H.264 SPS", "not an SPS NAL unit"));
    }
    let body = rbsp(&sps[1..]);
    let parsed = SeqParameterSet::from_bits(H264BitReader::new(&body[..]))
        .map_err(|e| CodecError::invalid("H.264 SPS", format!("{e:?}")))?;
    parsed
        .pixel_dimensions()
        .map_err(|e| CodecError::invalid("H.264 SPS", format!("{e:?}")))
}

/// The H.264 NAL unit type of the first byte of a NAL unit.
pub fn nal_type(header: u8) -> u8 {
    header & 0x1f
}

fn read_u16_prefixed(data: &[u8], pos: &mut usize) -> Result<Bytes, CodecError> {
    let len_bytes = data
        .get(*pos..*pos + 2)
        .ok_or(CodecError::Truncated { what: WHAT })?;
    let len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
    *pos += 2;
    let body = data
        .get(*pos..*pos + len)
        .ok_or(CodecError::Truncated { what: WHAT })?;
    *pos += len;
    Ok(Bytes::copy_from_slice(body))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// avcC of a 320x240 High-profile stream made by x264 (ffmpeg testsrc2).
    pub(crate) const AVCC_320X240: &[u8] =
        include_bytes!("../../../../tests/fixtures/h264_320x240.avcc");

    #[test]
    fn parses_avcc() {
        let c = parse_avcc(AVCC_320X240).unwrap();
        assert_eq!((c.width, c.height), (320, 240));
        assert_eq!(c.nal_length_size, 4);
        assert_eq!(c.parameter_sets.len(), 2);
        assert_eq!(c.codec_string, "avc1.64000d");
        let rebuilt = build_avcc(&c.parameter_sets[..1], &c.parameter_sets[1..]).unwrap();
        // x264 appends the High-profile chroma/bit-depth extension; the rest is identical.
        assert_eq!(rebuilt.record[..], c.record[..rebuilt.record.len()]);
        assert_eq!(rebuilt.parameter_sets, c.parameter_sets);
    }

    #[test]
    fn build_refuses_what_a_record_cannot_hold() {
        let c = parse_avcc(AVCC_320X240).unwrap();
        let sps = c.parameter_sets[0].clone();
        let pps = c.parameter_sets[1].clone();
        // 32 SPS would be written as a count of 0 (5 bits), 256 PPS as 0.
        assert!(build_avcc(&vec![sps.clone(); 32], std::slice::from_ref(&pps)).is_err());
        assert!(build_avcc(std::slice::from_ref(&sps), &vec![pps.clone(); 256]).is_err());
        assert!(build_avcc(&vec![sps.clone(); 31], &vec![pps.clone(); 255]).is_ok());
        let mut long = sps.to_vec();
        long.resize(70_000, 0x80);
        assert!(matches!(
            build_avcc(&[Bytes::from(long)], &[pps]),
            Err(CodecError::Invalid { .. })
        ));
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_avcc(&[1, 2]).is_err());
        assert!(parse_avcc(&[2, 0x64, 0, 0x0d, 0xff, 0xe1, 0, 1]).is_err());
        assert!(parse_avcc(&[1, 0x64, 0, 0x0d, 0xff, 0xe1, 0, 9, 0x67]).is_err());
    }
}
