//! PES packets (ISO/IEC 13818-1 2.4.3.6) and 33-bit timestamps.

use super::TsError;
use crate::time::MediaTime;

/// Timestamps in PES headers and PCR bases are 33-bit counts of the 90 kHz clock.
pub const TIMESTAMP_MODULUS: i64 = 1 << 33;

/// Maps media time to a 33-bit PES timestamp: `(t + offset) mod 2^33`.
pub fn to_33bit(t: MediaTime, offset: MediaTime) -> u64 {
    (t.0.wrapping_add(offset.0)).rem_euclid(TIMESTAMP_MODULUS) as u64
}

/// Writes a 5-byte PTS or DTS field (13818-1 2.4.3.7): a 4-bit prefix, then the 33 bits
/// split 3/15/15, each part followed by a marker bit.
pub fn write_timestamp(out: &mut Vec<u8>, prefix: u8, ts: u64) {
    let ts = ts & (TIMESTAMP_MODULUS as u64 - 1);
    out.extend_from_slice(&[
        (prefix << 4) | (((ts >> 30) as u8 & 0x07) << 1) | 1,
        (ts >> 22) as u8,
        (((ts >> 15) as u8) << 1) | 1,
        (ts >> 7) as u8,
        ((ts as u8) << 1) | 1,
    ]);
}

/// Reads a 5-byte PTS/DTS field, ignoring the prefix and marker bits (some muxers get
/// the markers wrong; the value is what matters).
pub fn read_timestamp(b: &[u8; 5]) -> u64 {
    (u64::from((b[0] >> 1) & 0x07) << 30)
        | (u64::from(b[1]) << 22)
        | (u64::from(b[2] >> 1) << 15)
        | (u64::from(b[3]) << 7)
        | u64::from(b[4] >> 1)
}

/// Writes a PES header with the data_alignment_indicator set (every PES starts an access
/// unit) and a PTS, plus a DTS when it differs. `payload_len` of `None` writes
/// PES_packet_length 0, "unbounded", which 13818-1 allows only for video in a TS.
pub fn write_header(
    out: &mut Vec<u8>,
    stream_id: u8,
    pts: u64,
    dts: Option<u64>,
    payload_len: Option<usize>,
) {
    let header_data_len: u8 = if dts.is_some() { 10 } else { 5 };
    let packet_len = payload_len.map_or(0, |n| n + 3 + usize::from(header_data_len));
    // Callers keep bounded PES under 64 KiB (one ADTS frame is at most 8 KiB).
    let packet_len = u16::try_from(packet_len).unwrap_or(0);
    out.extend_from_slice(&[0, 0, 1, stream_id]);
    out.extend_from_slice(&packet_len.to_be_bytes());
    out.push(0x84); // '10', not scrambled, no priority, data_alignment_indicator, no copyright
    out.push(if dts.is_some() { 0xc0 } else { 0x80 });
    out.push(header_data_len);
    match dts {
        Some(dts) => {
            write_timestamp(out, 0b0011, pts);
            write_timestamp(out, 0b0001, dts);
        }
        None => write_timestamp(out, 0b0010, pts),
    }
}

/// A parsed PES packet: its 33-bit timestamps and the elementary stream bytes.
#[derive(Debug, PartialEq, Eq)]
pub struct PesPacket<'a> {
    pub stream_id: u8,
    pub pts: Option<u64>,
    pub dts: Option<u64>,
    pub payload: &'a [u8],
}

/// Parses a complete PES packet. A non-zero PES_packet_length longer than the data is an
/// error (the packet was cut short); a shorter one trims trailing stuffing.
pub fn parse(pid: u16, data: &[u8]) -> Result<PesPacket<'_>, TsError> {
    let err = |detail: String| TsError::Pes { pid, detail };
    if data.len() < 9 {
        return Err(err(format!("PES of {} bytes is too short", data.len())));
    }
    if data[..3] != [0, 0, 1] {
        return Err(err("no packet_start_code_prefix".into()));
    }
    let stream_id = data[3];
    let declared = usize::from(u16::from_be_bytes([data[4], data[5]]));
    let data = if declared == 0 {
        data
    } else {
        data.get(..6 + declared).ok_or_else(|| {
            err(format!(
                "PES_packet_length {declared} but only {} bytes",
                data.len() - 6
            ))
        })?
    };
    // A PES_packet_length of 1 or 2 cuts the packet inside its own header (found by the
    // ts_demux fuzz target): check again after trimming.
    if data.len() < 9 {
        return Err(err(format!(
            "PES_packet_length {declared} leaves no room for the PES header"
        )));
    }
    if data[6] & 0xc0 != 0x80 {
        return Err(err("stream has no optional PES header".into()));
    }
    let flags = data[7] >> 6;
    let header_end = 9 + usize::from(data[8]);
    let header = data
        .get(9..header_end)
        .ok_or_else(|| err("PES header overruns the packet".into()))?;
    let field = |i: usize| -> Result<u64, TsError> {
        let b: &[u8; 5] = header
            .get(i..i + 5)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| err("PTS/DTS overruns the PES header".into()))?;
        Ok(read_timestamp(b))
    };
    let (pts, dts) = match flags {
        0b10 => (Some(field(0)?), None),
        0b11 => (Some(field(0)?), Some(field(5)?)),
        _ => (None, None),
    };
    Ok(PesPacket {
        stream_id,
        pts,
        dts,
        payload: &data[header_end..],
    })
}

/// Turns 33-bit timestamps into a monotonic i64 timeline.
///
/// Each value is placed in the 2^33 period nearest to the last one seen, so a wrap (every
/// 26.5 hours) continues the timeline instead of jumping back, and PTS slightly behind or
/// ahead of DTS (B-frames, audio/video interleaving) lands on the right side of a wrap.
/// One unwrapper is shared by all PIDs of a program.
#[derive(Debug, Default, Clone)]
pub struct Unwrapper {
    last: Option<i64>,
}

impl Unwrapper {
    pub fn unwrap(&mut self, ts: u64) -> MediaTime {
        let ts = (ts as i64) & (TIMESTAMP_MODULUS - 1);
        let v = match self.last {
            None => ts,
            Some(last) => {
                let k = (last - ts + TIMESTAMP_MODULUS / 2).div_euclid(TIMESTAMP_MODULUS);
                ts + k * TIMESTAMP_MODULUS
            }
        };
        self.last = Some(v);
        MediaTime(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_field_encoding() {
        let mut out = Vec::new();
        write_timestamp(&mut out, 0b0010, 126_000);
        // What ffmpeg writes for its 1.4 s start PTS.
        assert_eq!(out, [0x21, 0x00, 0x07, 0xd8, 0x61]);
        out.clear();
        write_timestamp(&mut out, 0b0011, (1 << 33) - 1);
        assert_eq!(out, [0x3f, 0xff, 0xff, 0xff, 0xff]);
        for v in [0u64, 1, 90_000, 0x1_2345_6789, (1 << 33) - 1] {
            out.clear();
            write_timestamp(&mut out, 0b0001, v);
            let arr: [u8; 5] = out[..].try_into().expect("five bytes");
            assert_eq!(read_timestamp(&arr), v);
        }
    }

    #[test]
    fn media_time_maps_to_33_bits_with_wrap() {
        let off = MediaTime(126_000);
        assert_eq!(to_33bit(MediaTime(0), off), 126_000);
        assert_eq!(to_33bit(MediaTime(-9_000), off), 117_000);
        assert_eq!(to_33bit(MediaTime(-200_000), off), (1 << 33) - 74_000);
        assert_eq!(to_33bit(MediaTime((1 << 33) - 126_000 + 5), off), 5);
        assert_eq!(to_33bit(MediaTime(3 * (1 << 33) + 7), MediaTime::ZERO), 7);
    }

    #[test]
    fn unwrapper_continues_across_the_wrap() {
        let mut u = Unwrapper::default();
        let m = TIMESTAMP_MODULUS;
        assert_eq!(u.unwrap((m - 3_000) as u64), MediaTime(m - 3_000));
        assert_eq!(u.unwrap(1_000), MediaTime(m + 1_000));
        // A PTS slightly before the wrap after a DTS past it stays before it.
        assert_eq!(u.unwrap((m - 500) as u64), MediaTime(m - 500));
        assert_eq!(u.unwrap(4_000), MediaTime(m + 4_000));
        // A second period.
        assert_eq!(u.unwrap((m / 2) as u64), MediaTime(m + m / 2));
        assert_eq!(u.unwrap((m - 1_000) as u64), MediaTime(2 * m - 1_000));
        assert_eq!(u.unwrap(10), MediaTime(2 * m + 10));
    }

    #[test]
    fn pes_header_round_trip_and_errors() {
        let mut pes = Vec::new();
        write_header(&mut pes, 0xe0, 133_500, Some(126_000), None);
        pes.extend_from_slice(b"payload");
        let p = parse(0x100, &pes).expect("valid PES");
        assert_eq!(
            (p.stream_id, p.pts, p.dts, p.payload),
            (0xe0, Some(133_500), Some(126_000), &b"payload"[..])
        );
        let mut pes = Vec::new();
        write_header(&mut pes, 0xc0, 5, None, Some(3));
        pes.extend_from_slice(b"abc");
        pes.extend_from_slice(b"stuffing");
        let p = parse(0x101, &pes).expect("valid PES");
        assert_eq!((p.pts, p.dts, p.payload), (Some(5), None, &b"abc"[..]));
        assert!(
            parse(0x101, &pes[..12]).is_err(),
            "declared length longer than data"
        );
        assert!(parse(0x101, &[0, 0, 2, 0xe0, 0, 0, 0x80, 0, 0]).is_err());
        assert!(parse(0x101, &[0, 0, 1, 0xe0, 0, 0, 0x80, 0x80, 9, 0]).is_err());
        assert!(parse(0x101, &[0, 0, 1]).is_err());
    }

    #[test]
    fn a_packet_length_inside_the_header_is_an_error() {
        // Found by the ts_demux fuzz target: PES_packet_length 1 or 2 used to index past
        // the trimmed packet.
        for declared in 1..=2u8 {
            let pes = [0, 0, 1, 0xe0, 0, declared, 0x80, 0x80, 5, 0x21, 0, 1, 0, 1];
            assert!(
                matches!(parse(0x100, &pes), Err(TsError::Pes { pid: 0x100, .. })),
                "declared {declared}"
            );
        }
    }
}
