//! Reading back the `onMetaData` of an FLV file: the first script tag, which our writer and
//! finalizer always put before any media, so only the start of the file is read.

use std::io::Read;

use super::amf0::Amf0Value;
use super::reader::{FlvReadError, FlvReader};
use super::scan::{is_metadata, read_some};
use super::writer::FlvError;

/// The `onMetaData` value (an ECMA array) of the FLV `input`, if its metadata comes before
/// its first audio or video tag. Reads from the current position up to that tag only.
pub fn read_metadata<R: Read>(mut input: R) -> Result<Option<Amf0Value>, FlvError> {
    let mut reader = FlvReader::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut tags = Vec::new();
    let mut read = 0u64;
    loop {
        let n = read_some(&mut input, &mut buf, read)?;
        if n == 0 {
            return Ok(None);
        }
        read += n as u64;
        let result = reader.push(&buf[..n], &mut tags);
        for tag in tags.drain(..) {
            if is_metadata(&tag) {
                return Ok(Amf0Value::decode_all(&tag.body)
                    .ok()
                    .and_then(|mut v| (v.len() >= 2).then(|| v.swap_remove(1))));
            }
            if tag.kind != super::tag::TAG_SCRIPT {
                return Ok(None);
            }
        }
        match result {
            Ok(()) => {}
            Err(e @ FlvReadError::NotFlv(_)) => return Err(e.into()),
            Err(_) => return Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flv::finalize::{finalize_with, FinalizeOptions};
    use crate::flv::test_support::synthetic;
    use crate::flv::FlvWriter;

    fn tag() -> Vec<(String, Amf0Value)> {
        vec![(
            "tapedeck".to_owned(),
            Amf0Value::String(r#"{"recording":"live/cam1/1"}"#.to_owned()),
        )]
    }

    #[test]
    fn extra_metadata_reads_back_from_the_part_and_the_final_file() {
        let (tracks, frames) = synthetic(2);
        let mut w = FlvWriter::new(&tracks).with_metadata(tag());
        let mut part = Vec::new();
        for f in &frames {
            w.write_frame(f, &mut part).unwrap();
        }
        let provisional = read_metadata(&part[..]).unwrap().unwrap();
        assert_eq!(provisional.get("tapedeck"), Some(&tag()[0].1));

        let mut plain = Vec::new();
        crate::flv::finalize(std::io::Cursor::new(&part), &mut plain).unwrap();
        let meta = read_metadata(&plain[..]).unwrap().unwrap();
        assert_eq!(meta.get("tapedeck"), None, "not carried over by itself");
        assert!(meta.get("duration").is_some());

        let options = FinalizeOptions { metadata: tag() };
        let mut tagged = Vec::new();
        let summary = finalize_with(std::io::Cursor::new(&part), &mut tagged, &options).unwrap();
        assert_eq!(summary.bytes, tagged.len() as u64);
        let meta = read_metadata(&tagged[..]).unwrap().unwrap();
        assert_eq!(meta.get("tapedeck"), Some(&tag()[0].1));
        assert_eq!(
            meta.get("duration"),
            Some(&Amf0Value::Number(summary.duration.as_secs_f64()))
        );
    }

    #[test]
    fn files_without_metadata_and_other_files() {
        // Header, PreviousTagSize0, then an audio tag first.
        let mut flv = b"FLV\x01\x04\x00\x00\x00\x09\x00\x00\x00\x00".to_vec();
        flv.extend_from_slice(&[8, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0xaf, 0x01, 0, 0, 0, 13]);
        assert_eq!(read_metadata(&flv[..]).unwrap(), None);
        assert_eq!(read_metadata(&flv[..9]).unwrap(), None, "cut short");
        assert!(matches!(
            read_metadata(&b"\0\0\0\x18ftypisom"[..]),
            Err(FlvError::NotFlv(_))
        ));
    }
}
