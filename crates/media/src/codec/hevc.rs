//! H.265/HEVC: the `hvcC` record (ISO/IEC 14496-15 8.3.3) and SPS dimensions.

use bytes::Bytes;

use super::bits::{rbsp, BitReader};
use super::{CodecError, VideoCodec, VideoConfig};

const WHAT: &str = "H.265 configuration record (hvcC)";
const SPS_WHAT: &str = "H.265 SPS";

pub const NAL_VPS: u8 = 32;
pub const NAL_SPS: u8 = 33;
pub const NAL_PPS: u8 = 34;

/// Parameter sets kept per type: as many as there are ids (H.265 7.4.3.1-7.4.3.3:
/// `vps_video_parameter_set_id` and `sps_seq_parameter_set_id` 0-15,
/// `pps_pic_parameter_set_id` 0-63). A record or access unit listing more is refused,
/// which bounds what a hostile record of millions of empty NAL units can allocate.
pub const MAX_VPS: usize = 16;
pub const MAX_SPS: usize = 16;
pub const MAX_PPS: usize = 64;

/// The limit of parameter sets of `nal_type` (VPS, SPS, PPS), with its name.
pub fn parameter_set_limit(nal_type: u8) -> Option<(usize, &'static str)> {
    match nal_type {
        NAL_VPS => Some((MAX_VPS, "VPS")),
        NAL_SPS => Some((MAX_SPS, "SPS")),
        NAL_PPS => Some((MAX_PPS, "PPS")),
        _ => None,
    }
}

/// The HEVC NAL unit type from the first header byte.
pub fn nal_type(header: u8) -> u8 {
    (header >> 1) & 0x3f
}

/// IRAP pictures (BLA, IDR, CRA: types 16-23) are random access points.
pub fn is_irap(nal_type: u8) -> bool {
    (16..=23).contains(&nal_type)
}

/// Parses an `hvcC` record.
pub fn parse_hvcc(record: &[u8]) -> Result<VideoConfig, CodecError> {
    if record.len() < 23 {
        return Err(CodecError::Truncated { what: WHAT });
    }
    if record[0] != 1 {
        return Err(CodecError::invalid(
            WHAT,
            format!("configurationVersion {} is not 1", record[0]),
        ));
    }
    let nal_length_size = (record[21] & 3) + 1;
    if nal_length_size == 3 {
        return Err(CodecError::invalid(
            WHAT,
            "NAL length size 3 is not allowed",
        ));
    }
    let num_arrays = record[22];
    let mut pos = 23;
    let (mut vps, mut sps, mut pps) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..num_arrays {
        let array_at = pos;
        let header = *record
            .get(pos)
            .ok_or(CodecError::Truncated { what: WHAT })?;
        let count = read_u16(record, pos + 1)?;
        pos += 3;
        for _ in 0..count {
            let len = usize::from(read_u16(record, pos)?);
            let nal = record
                .get(pos + 2..pos + 2 + len)
                .ok_or(CodecError::Truncated { what: WHAT })?;
            pos += 2 + len;
            let list = match header & 0x3f {
                NAL_VPS => &mut vps,
                NAL_SPS => &mut sps,
                NAL_PPS => &mut pps,
                _ => continue, // SEI arrays are allowed and not needed.
            };
            if let Some((max, name)) = parameter_set_limit(header & 0x3f) {
                if list.len() == max {
                    return Err(CodecError::invalid(
                        WHAT,
                        format!("more than {max} {name} (array at byte {array_at})"),
                    ));
                }
            }
            list.push(Bytes::copy_from_slice(nal));
        }
    }
    let first_sps = sps
        .first()
        .ok_or_else(|| CodecError::invalid(WHAT, "no SPS"))?;
    let (width, height) = sps_dimensions(first_sps)?;
    let codec_string = codec_string(&record[1..13]);
    let mut parameter_sets = vps;
    parameter_sets.extend(sps);
    parameter_sets.extend(pps);
    Ok(VideoConfig {
        codec: VideoCodec::H265,
        record: Bytes::copy_from_slice(record),
        parameter_sets,
        nal_length_size,
        width,
        height,
        codec_string,
    })
}

/// Builds an `hvcC` record from VPS, SPS and PPS NAL units (as found in Annex B).
pub fn build_hvcc(vps: &[Bytes], sps: &[Bytes], pps: &[Bytes]) -> Result<VideoConfig, CodecError> {
    let first = sps
        .first()
        .ok_or_else(|| CodecError::invalid(WHAT, "no SPS"))?;
    let body = rbsp(
        first
            .get(2..)
            .ok_or(CodecError::Truncated { what: SPS_WHAT })?,
    );
    // byte 0: vps id(4) max_sub_layers_minus1(3) nesting(1); bytes 1..13: general PTL.
    let ptl = body
        .get(1..13)
        .ok_or(CodecError::Truncated { what: SPS_WHAT })?;
    let info = parse_sps(first)?;
    // Bit depths are 3-bit fields in the record (H.265 allows up to 8 + 8 = 16 bits; a
    // 16-bit stream cannot be described), counts and lengths 16-bit.
    if info.bit_depth_luma_minus8 > 7 || info.bit_depth_chroma_minus8 > 7 {
        return Err(CodecError::invalid(
            SPS_WHAT,
            format!(
                "bit depths {} and {} do not fit an hvcC",
                u64::from(info.bit_depth_luma_minus8) + 8,
                u64::from(info.bit_depth_chroma_minus8) + 8
            ),
        ));
    }
    for (nal_type, sets) in [(NAL_VPS, vps), (NAL_SPS, sps), (NAL_PPS, pps)] {
        if let Some((max, name)) = parameter_set_limit(nal_type) {
            if sets.len() > max {
                return Err(CodecError::invalid(
                    WHAT,
                    format!("{} {name}, more than {max}", sets.len()),
                ));
            }
        }
        if let Some(long) = sets.iter().find(|s| s.len() > usize::from(u16::MAX)) {
            return Err(CodecError::invalid(
                WHAT,
                format!(
                    "a {} of {} bytes, more than 65535",
                    nal_name(nal_type),
                    long.len()
                ),
            ));
        }
    }
    let mut rec = Vec::with_capacity(64);
    rec.push(1);
    rec.extend_from_slice(ptl);
    rec.extend_from_slice(&[0xf0, 0x00]); // min_spatial_segmentation_idc = 0
    rec.push(0xfc); // parallelismType = 0
    rec.push(0xfc | info.chroma_format_idc as u8);
    rec.push(0xf8 | info.bit_depth_luma_minus8 as u8);
    rec.push(0xf8 | info.bit_depth_chroma_minus8 as u8);
    rec.extend_from_slice(&[0, 0]); // avgFrameRate unknown
    let temporal_layers = (body[0] >> 1) & 7;
    let nesting = body[0] & 1;
    rec.push(((temporal_layers + 1) << 3) | (nesting << 2) | 3);
    let arrays: [(u8, &[Bytes]); 3] = [(NAL_VPS, vps), (NAL_SPS, sps), (NAL_PPS, pps)];
    rec.push(arrays.iter().filter(|(_, n)| !n.is_empty()).count() as u8);
    for (ty, nals) in arrays.iter().filter(|(_, n)| !n.is_empty()) {
        rec.push(0x80 | ty);
        rec.extend_from_slice(&(nals.len() as u16).to_be_bytes());
        for n in nals.iter() {
            rec.extend_from_slice(&(n.len() as u16).to_be_bytes());
            rec.extend_from_slice(n);
        }
    }
    parse_hvcc(&rec)
}

fn nal_name(nal_type: u8) -> &'static str {
    parameter_set_limit(nal_type).map_or("NAL unit", |(_, name)| name)
}

struct SpsInfo {
    width: u32,
    height: u32,
    chroma_format_idc: u32,
    bit_depth_luma_minus8: u32,
    bit_depth_chroma_minus8: u32,
}

/// Width and height in pixels (after the conformance window) of an SPS NAL unit.
pub fn sps_dimensions(sps: &[u8]) -> Result<(u32, u32), CodecError> {
    let info = parse_sps(sps)?;
    Ok((info.width, info.height))
}

fn parse_sps(sps: &[u8]) -> Result<SpsInfo, CodecError> {
    if sps.len() < 3 || nal_type(sps[0]) != NAL_SPS {
        return Err(CodecError::invalid(SPS_WHAT, "not an SPS NAL unit"));
    }
    let body = rbsp(&sps[2..]);
    let mut r = BitReader::new(&body, SPS_WHAT);
    r.skip(4)?; // sps_video_parameter_set_id
    let max_sub_layers_minus1 = r.bits(3)?;
    r.skip(1)?; // sps_temporal_id_nesting_flag
                // profile_tier_level(1, max_sub_layers_minus1), H.265 7.3.3
    r.skip(88 + 8)?;
    let mut sub_profile = [false; 8];
    let mut sub_level = [false; 8];
    for i in 0..max_sub_layers_minus1 as usize {
        sub_profile[i] = r.bit()? == 1;
        sub_level[i] = r.bit()? == 1;
    }
    if max_sub_layers_minus1 > 0 {
        r.skip(2 * (8 - max_sub_layers_minus1 as usize))?;
    }
    for i in 0..max_sub_layers_minus1 as usize {
        if sub_profile[i] {
            r.skip(88)?;
        }
        if sub_level[i] {
            r.skip(8)?;
        }
    }
    r.ue()?; // sps_seq_parameter_set_id
    let chroma_format_idc = r.ue()?;
    if chroma_format_idc > 3 {
        return Err(CodecError::invalid(
            SPS_WHAT,
            format!("chroma_format_idc {chroma_format_idc}"),
        ));
    }
    if chroma_format_idc == 3 {
        r.skip(1)?; // separate_colour_plane_flag
    }
    let mut width = r.ue()?;
    let mut height = r.ue()?;
    if r.bit()? == 1 {
        let (left, right, top, bottom) = (r.ue()?, r.ue()?, r.ue()?, r.ue()?);
        let sub_width = if chroma_format_idc == 1 || chroma_format_idc == 2 {
            2
        } else {
            1
        };
        let sub_height = if chroma_format_idc == 1 { 2 } else { 1 };
        width = width.saturating_sub(sub_width * (left + right));
        height = height.saturating_sub(sub_height * (top + bottom));
    }
    let bit_depth_luma_minus8 = r.ue()?;
    let bit_depth_chroma_minus8 = r.ue()?;
    Ok(SpsInfo {
        width,
        height,
        chroma_format_idc,
        bit_depth_luma_minus8,
        bit_depth_chroma_minus8,
    })
}

/// RFC 6381 / ISO/IEC 14496-15 Annex E codec string from the 12 general PTL bytes.
fn codec_string(ptl: &[u8]) -> String {
    let space = ["", "A", "B", "C"][usize::from(ptl[0] >> 6)];
    let tier = if ptl[0] & 0x20 != 0 { 'H' } else { 'L' };
    let profile_idc = ptl[0] & 0x1f;
    let compat = u32::from_be_bytes([ptl[1], ptl[2], ptl[3], ptl[4]]).reverse_bits();
    let level = ptl[11];
    let mut s = format!("hvc1.{space}{profile_idc}.{compat:X}.{tier}{level}");
    let constraints = &ptl[5..11];
    let keep = constraints
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |i| i + 1);
    for b in &constraints[..keep] {
        s.push_str(&format!(".{b:X}"));
    }
    s
}

fn read_u16(data: &[u8], pos: usize) -> Result<u16, CodecError> {
    let b = data
        .get(pos..pos + 2)
        .ok_or(CodecError::Truncated { what: WHAT })?;
    Ok(u16::from_be_bytes([b[0], b[1]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// hvcC of a 320x240 Main-profile stream made by x265 (ffmpeg testsrc2).
    const HVCC_320X240: &[u8] = include_bytes!("../../../../tests/fixtures/hevc_320x240.hvcc");

    #[test]
    fn parses_hvcc_and_rebuilds_it() {
        let c = parse_hvcc(HVCC_320X240).unwrap();
        assert_eq!(c.codec, VideoCodec::H265);
        assert_eq!((c.width, c.height), (320, 240));
        assert_eq!(c.nal_length_size, 4);
        assert_eq!(c.codec_string, "hvc1.1.6.L60.90");
        let types: Vec<u8> = c.parameter_sets.iter().map(|n| nal_type(n[0])).collect();
        assert_eq!(types, vec![NAL_VPS, NAL_SPS, NAL_PPS]);
        let vps = &c.parameter_sets[..1];
        let sps = &c.parameter_sets[1..2];
        let pps = &c.parameter_sets[2..];
        let rebuilt = build_hvcc(vps, sps, pps).unwrap();
        assert_eq!((rebuilt.width, rebuilt.height), (320, 240));
        assert_eq!(rebuilt.codec_string, c.codec_string);
        assert_eq!(rebuilt.record[1..13], c.record[1..13]);
    }

    #[test]
    fn parameter_set_counts_are_limited() {
        let c = parse_hvcc(HVCC_320X240).unwrap();
        let (vps, sps, pps) = (
            &c.parameter_sets[..1],
            &c.parameter_sets[1..2],
            &c.parameter_sets[2..],
        );
        // A record whose PPS array lists 65535 empty NAL units: refused at the 65th.
        let mut rec = HVCC_320X240.to_vec();
        rec[22] += 1;
        rec.extend_from_slice(&[0x80 | NAL_PPS, 0xff, 0xff]);
        rec.resize(rec.len() + 2 * 0xffff, 0);
        match parse_hvcc(&rec) {
            Err(CodecError::Invalid { detail, .. }) => {
                assert!(detail.contains("more than 64 PPS"), "{detail}")
            }
            other => panic!("{other:?}"),
        }
        // Arrays of other types (SEI) are skipped whatever their length.
        let mut sei = HVCC_320X240.to_vec();
        sei[22] += 1;
        sei.extend_from_slice(&[39, 0x10, 0x00]);
        sei.resize(sei.len() + 2 * 0x1000, 0);
        assert!(parse_hvcc(&sei).is_ok());
        // Building: more sets than ids, and sets too long for a 16-bit length.
        assert!(build_hvcc(vps, sps, &vec![pps[0].clone(); 65]).is_err());
        assert!(build_hvcc(&vec![vps[0].clone(); 17], sps, pps).is_err());
        let mut long = pps[0].to_vec();
        long.resize(70_000, 0x80);
        assert!(build_hvcc(vps, sps, &[Bytes::from(long)]).is_err());
        assert!(build_hvcc(vps, sps, &vec![pps[0].clone(); 64]).is_ok());
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_hvcc(&HVCC_320X240[..30]).is_err());
        assert!(parse_hvcc(&[0; 23]).is_err());
        assert!(sps_dimensions(&[0x42, 0x01]).is_err());
    }
}
