//! Program-specific information: the PAT and PMT sections (ISO/IEC 13818-1 2.4.4).

use super::TsError;

/// CRC-32/MPEG-2 (polynomial 0x04C11DB7, initial value all ones, no reflection, no final
/// XOR), as every PSI section ends with (13818-1 Annex A). Running it over a whole section
/// including its CRC gives 0.
pub fn crc32_mpeg2(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04c1_1db7
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// One elementary stream listed in a PMT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PmtStream {
    pub stream_type: u8,
    pub pid: u16,
}

/// Builds a PAT section (13818-1 2.4.4.3) with a single program 1 whose PMT is `pmt_pid`.
pub fn pat_section(pmt_pid: u16) -> Vec<u8> {
    let mut s = Vec::with_capacity(16);
    s.push(0x00); // table_id: program_association_section
    s.extend_from_slice(&[0, 0]); // section_syntax_indicator, section_length: set below
    s.extend_from_slice(&[0x00, 0x01]); // transport_stream_id
    s.push(0xc1); // reserved '11', version 0, current_next_indicator 1
    s.extend_from_slice(&[0x00, 0x00]); // section_number, last_section_number
    s.extend_from_slice(&[0x00, 0x01]); // program_number 1
    s.extend_from_slice(&(0xe000 | pmt_pid).to_be_bytes()); // reserved '111', PMT PID
    finish_section(&mut s);
    s
}

/// Builds a PMT section (13818-1 2.4.4.8) for program 1. No descriptors: every stream type
/// used here (0x1b, 0x24, 0x0f) is self-describing, which is what ffmpeg writes too.
pub fn pmt_section(pcr_pid: u16, streams: &[PmtStream]) -> Vec<u8> {
    let mut s = Vec::with_capacity(32);
    s.push(0x02); // table_id: TS_program_map_section
    s.extend_from_slice(&[0, 0]); // section_syntax_indicator, section_length: set below
    s.extend_from_slice(&[0x00, 0x01]); // program_number 1
    s.push(0xc1); // reserved, version 0, current_next_indicator 1
    s.extend_from_slice(&[0x00, 0x00]); // section_number, last_section_number
    s.extend_from_slice(&(0xe000 | pcr_pid).to_be_bytes()); // reserved '111', PCR_PID
    s.extend_from_slice(&[0xf0, 0x00]); // reserved, program_info_length 0
    for st in streams {
        s.extend_from_slice(&[
            st.stream_type,
            0xe0 | (st.pid >> 8) as u8,
            st.pid as u8,
            0xf0, // reserved, ES_info_length 0
            0x00,
        ]);
    }
    finish_section(&mut s);
    s
}

/// Fills in section_length (everything after the length field, CRC included) and appends
/// the CRC.
fn finish_section(s: &mut Vec<u8>) {
    let len = s.len() - 3 + 4;
    s[1] = 0xb0 | ((len >> 8) as u8 & 0x0f); // section_syntax_indicator 1, '0', reserved '11'
    s[2] = len as u8;
    let crc = crc32_mpeg2(s);
    s.extend_from_slice(&crc.to_be_bytes());
}

/// Checks a complete section's length and CRC and returns its body: the bytes after the
/// 8-byte long-form header, before the CRC.
fn section_body(pid: u16, section: &[u8], table_id: u8) -> Result<&[u8], TsError> {
    let err = |detail: String| TsError::Psi { pid, detail };
    if section.len() < 12 {
        return Err(err(format!(
            "section of {} bytes is too short",
            section.len()
        )));
    }
    if section[0] != table_id {
        return Err(err(format!(
            "table_id {:#04x}, expected {table_id:#04x}",
            section[0]
        )));
    }
    let len = usize::from(u16::from_be_bytes([section[1], section[2]]) & 0x0fff);
    let total = 3 + len;
    let section = section
        .get(..total)
        .ok_or_else(|| err(format!("section_length {len} overruns the data")))?;
    if total < 12 {
        return Err(err(format!("section_length {len} is too short")));
    }
    if crc32_mpeg2(section) != 0 {
        return Err(err("CRC32 mismatch".into()));
    }
    Ok(&section[8..total - 4])
}

/// The PMT PID of the first program in a PAT section (program 0 is the network PID and is
/// skipped).
pub fn parse_pat(section: &[u8]) -> Result<Option<u16>, TsError> {
    let body = section_body(super::PID_PAT, section, 0x00)?;
    Ok(body
        .chunks_exact(4)
        .find(|p| u16::from_be_bytes([p[0], p[1]]) != 0)
        .map(|p| u16::from_be_bytes([p[2], p[3]]) & 0x1fff))
}

/// The elementary streams of a PMT section.
pub fn parse_pmt(pid: u16, section: &[u8]) -> Result<Vec<PmtStream>, TsError> {
    let body = section_body(pid, section, 0x02)?;
    let err = |detail: &str| TsError::Psi {
        pid,
        detail: detail.into(),
    };
    let info_len = body
        .get(2..4)
        .ok_or_else(|| err("PMT header is truncated"))?;
    let info_len = usize::from(u16::from_be_bytes([info_len[0], info_len[1]]) & 0x0fff);
    let mut rest = body
        .get(4 + info_len..)
        .ok_or_else(|| err("program_info overruns the section"))?;
    let mut streams = Vec::new();
    while !rest.is_empty() {
        let head = rest
            .get(..5)
            .ok_or_else(|| err("stream entry is truncated"))?;
        let es_info_len = usize::from(u16::from_be_bytes([head[3], head[4]]) & 0x0fff);
        streams.push(PmtStream {
            stream_type: head[0],
            pid: u16::from_be_bytes([head[1], head[2]]) & 0x1fff,
        });
        rest = rest
            .get(5 + es_info_len..)
            .ok_or_else(|| err("ES_info overruns the section"))?;
    }
    Ok(streams)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_mpeg2_check_value() {
        // The catalogued check value of CRC-32/MPEG-2 over "123456789".
        assert_eq!(crc32_mpeg2(b"123456789"), 0x0376_e6e7);
        assert_eq!(crc32_mpeg2(&[]), 0xffff_ffff);
    }

    #[test]
    fn pat_and_pmt_round_trip_and_check_crc() {
        let pat = pat_section(0x1000);
        assert_eq!(
            crc32_mpeg2(&pat),
            0,
            "a section with its CRC appended checks to 0"
        );
        assert_eq!(parse_pat(&pat), Ok(Some(0x1000)));
        let streams = [
            PmtStream {
                stream_type: 0x1b,
                pid: 0x100,
            },
            PmtStream {
                stream_type: 0x0f,
                pid: 0x101,
            },
        ];
        let pmt = pmt_section(0x100, &streams);
        assert_eq!(crc32_mpeg2(&pmt), 0);
        assert_eq!(parse_pmt(0x1000, &pmt).as_deref(), Ok(&streams[..]));
        // ffmpeg's PAT for the same layout, byte for byte (from `ffmpeg -f mpegts`).
        assert_eq!(
            pat,
            [
                0x00, 0xb0, 0x0d, 0x00, 0x01, 0xc1, 0x00, 0x00, 0x00, 0x01, 0xf0, 0x00, 0x2a, 0xb1,
                0x04, 0xb2
            ]
        );
    }

    #[test]
    fn rejects_corrupt_sections() {
        let mut pat = pat_section(0x1000);
        pat[10] ^= 1;
        assert!(matches!(parse_pat(&pat), Err(TsError::Psi { .. })));
        let pmt = pmt_section(
            0x100,
            &[PmtStream {
                stream_type: 0x1b,
                pid: 0x100,
            }],
        );
        assert!(parse_pmt(0x1000, &pmt[..pmt.len() - 1]).is_err());
        assert!(parse_pmt(0x1000, &[0x02, 0xb0]).is_err());
        assert!(parse_pat(&pmt).is_err(), "wrong table_id");
    }
}
