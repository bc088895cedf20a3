//! A small MSB-first bit reader for parameter sets.

use super::CodecError;

pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(data: &'a [u8], what: &'static str) -> Self {
        BitReader { data, pos: 0, what }
    }

    pub(crate) fn bit(&mut self) -> Result<u32, CodecError> {
        let byte = self
            .data
            .get(self.pos / 8)
            .ok_or(CodecError::Truncated { what: self.what })?;
        let bit = (byte >> (7 - (self.pos % 8))) & 1;
        self.pos += 1;
        Ok(u32::from(bit))
    }

    pub(crate) fn bits(&mut self, n: u32) -> Result<u32, CodecError> {
        let mut v = 0u32;
        for _ in 0..n {
            v = (v << 1) | self.bit()?;
        }
        Ok(v)
    }

    pub(crate) fn skip(&mut self, n: usize) -> Result<(), CodecError> {
        if self.pos + n > self.data.len() * 8 {
            return Err(CodecError::Truncated { what: self.what });
        }
        self.pos += n;
        Ok(())
    }

    /// Unsigned Exp-Golomb (H.264 9.1, H.265 9.2).
    pub(crate) fn ue(&mut self) -> Result<u32, CodecError> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return Err(CodecError::invalid(
                    self.what,
                    "Exp-Golomb code longer than 32 bits",
                ));
            }
        }
        Ok(((1u64 << zeros) - 1 + u64::from(self.bits(zeros)?)) as u32)
    }
}

/// Removes emulation prevention bytes (`00 00 03` -> `00 00`) from a NAL unit payload.
pub(crate) fn rbsp(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0;
    for &b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_golomb_and_rbsp() {
        // 1 -> 0, 010 -> 1, 011 -> 2, 00100 -> 3
        let mut r = BitReader::new(&[0b1010_0110, 0b0100_0000], "test");
        assert_eq!(r.ue().unwrap(), 0);
        assert_eq!(r.ue().unwrap(), 1);
        assert_eq!(r.ue().unwrap(), 2);
        assert_eq!(r.ue().unwrap(), 3);
        assert_eq!(rbsp(&[0, 0, 3, 1, 0, 0, 3]), vec![0, 0, 1, 0, 0]);
        let mut r = BitReader::new(&[0], "test");
        assert!(r.bits(9).is_err());
    }
}
