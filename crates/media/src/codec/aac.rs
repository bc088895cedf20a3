//! AAC: AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1) and ADTS headers.

use bytes::Bytes;

use super::{AudioCodec, CodecError};

const WHAT: &str = "AAC AudioSpecificConfig";

const SAMPLE_RATES: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

/// An audio track's decoder configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioConfig {
    pub codec: AudioCodec,
    /// The AudioSpecificConfig bytes, as the MP4 `esds` and the FLV sequence header carry them.
    pub asc: Bytes,
    /// Audio object type (2 = AAC-LC).
    pub object_type: u8,
    pub sample_rate: u32,
    pub channels: u8,
    /// Samples per access unit (1024 for AAC-LC).
    pub frame_samples: u32,
    /// RFC 6381 codec string, like `mp4a.40.2`.
    pub codec_string: String,
}

impl AudioConfig {
    /// The ADTS sampling_frequency_index of this config's rate (15 when it has none).
    pub fn frequency_index(&self) -> u8 {
        SAMPLE_RATES
            .iter()
            .position(|&r| r == self.sample_rate)
            .map_or(15, |i| i as u8)
    }

    /// A 7-byte ADTS header (no CRC) for an access unit of `payload_len` bytes.
    pub fn adts_header(&self, payload_len: usize) -> [u8; 7] {
        let len = payload_len + 7;
        // ADTS profile is object type - 1 and has only two bits: HE-AAC streams are
        // signalled as AAC-LC with implicit SBR, which every decoder handles.
        let profile = self.object_type.saturating_sub(1).min(3);
        let freq = self.frequency_index().min(12);
        let ch = self.channels.min(7);
        [
            0xff,
            0xf1, // MPEG-4, layer 0, no CRC
            (profile << 6) | (freq << 2) | (ch >> 2),
            ((ch & 3) << 6) | ((len >> 11) as u8 & 3),
            (len >> 3) as u8,
            (((len & 7) as u8) << 5) | 0x1f,
            0xfc,
        ]
    }
}

/// Parses an AudioSpecificConfig.
pub fn parse_asc(asc: &[u8]) -> Result<AudioConfig, CodecError> {
    if asc.len() < 2 {
        return Err(CodecError::Truncated { what: WHAT });
    }
    let mut object_type = asc[0] >> 3;
    let freq_index = ((asc[0] & 7) << 1) | (asc[1] >> 7);
    let mut channels = (asc[1] >> 3) & 0xf;
    if object_type == 31 {
        return Err(CodecError::invalid(
            WHAT,
            "escaped audio object types are not supported",
        ));
    }
    let sample_rate = if freq_index == 15 {
        if asc.len() < 5 {
            return Err(CodecError::Truncated { what: WHAT });
        }
        let v = u32::from_be_bytes([0, asc[1], asc[2], asc[3]]);
        channels = ((asc[4] >> 7) | ((asc[3] & 7) << 1)) & 0xf;
        (v >> 7) & 0xff_ffff
    } else {
        *SAMPLE_RATES.get(usize::from(freq_index)).ok_or_else(|| {
            CodecError::invalid(WHAT, format!("sampling frequency index {freq_index}"))
        })?
    };
    if object_type == 0 {
        return Err(CodecError::invalid(WHAT, "audio object type 0"));
    }
    if object_type == 5 || object_type == 29 {
        // Explicit SBR/PS signalling: the core is AAC-LC.
        object_type = 2;
    }
    Ok(AudioConfig {
        codec: AudioCodec::Aac,
        asc: Bytes::copy_from_slice(asc),
        object_type,
        sample_rate,
        channels,
        frame_samples: 1024,
        codec_string: format!("mp4a.40.{object_type}"),
    })
}

/// One ADTS frame found in a byte stream.
#[derive(Debug, PartialEq, Eq)]
pub struct AdtsFrame<'a> {
    pub config: AudioConfig,
    pub payload: &'a [u8],
    /// Bytes consumed, header included.
    pub len: usize,
}

/// Parses the ADTS frame at the start of `data`.
pub fn parse_adts(data: &[u8]) -> Result<AdtsFrame<'_>, CodecError> {
    const ADTS: &str = "ADTS header";
    if data.len() < 7 {
        return Err(CodecError::Truncated { what: ADTS });
    }
    if data[0] != 0xff || data[1] & 0xf0 != 0xf0 {
        return Err(CodecError::invalid(ADTS, "no syncword"));
    }
    let has_crc = data[1] & 1 == 0;
    let profile = data[2] >> 6;
    let freq_index = (data[2] >> 2) & 0xf;
    let channels = ((data[2] & 1) << 2) | (data[3] >> 6);
    let len =
        (usize::from(data[3] & 3) << 11) | (usize::from(data[4]) << 3) | usize::from(data[5] >> 5);
    let header = if has_crc { 9 } else { 7 };
    if len < header {
        return Err(CodecError::invalid(ADTS, format!("frame length {len}")));
    }
    let payload = data
        .get(header..len)
        .ok_or(CodecError::Truncated { what: ADTS })?;
    let object_type = profile + 1;
    let asc = [
        (object_type << 3) | (freq_index >> 1),
        ((freq_index & 1) << 7) | (channels << 3),
    ];
    Ok(AdtsFrame {
        config: parse_asc(&asc)?,
        payload,
        len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asc_and_adts_round_trip() {
        let c = parse_asc(&[0x12, 0x10]).unwrap(); // AAC-LC 44.1 kHz stereo
        assert_eq!((c.object_type, c.sample_rate, c.channels), (2, 44100, 2));
        assert_eq!(c.codec_string, "mp4a.40.2");
        let mut frame = c.adts_header(5).to_vec();
        frame.extend_from_slice(&[1, 2, 3, 4, 5]);
        let parsed = parse_adts(&frame).unwrap();
        assert_eq!(parsed.payload, &[1, 2, 3, 4, 5]);
        assert_eq!(parsed.len, 12);
        assert_eq!(parsed.config.asc, c.asc);
        let c48 = parse_asc(&[0x11, 0x90]).unwrap();
        assert_eq!((c48.sample_rate, c48.channels), (48000, 2));
    }

    #[test]
    fn rejects_bad_input() {
        assert!(parse_asc(&[0x12]).is_err());
        assert!(parse_asc(&[0x07, 0x80]).is_err()); // index 15 without explicit rate
        assert!(parse_adts(&[0xff, 0xf1, 0x50, 0x80, 0x00, 0x1f, 0xfc]).is_err());
        assert!(parse_adts(&[0, 1, 2, 3, 4, 5, 6]).is_err());
    }
}
