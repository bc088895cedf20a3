//! FLV files and HTTP-FLV bodies: `FlvReader` with hostile headers (`DataOffset`) and tag
//! sizes in any read sizes, then what recovery runs on an FLV `.part`: the finalizer (copy
//! and in place), and `read_metadata` (what a rebuild reads).
//!
//! Input layout: byte 0 (mod 8) is how many read sizes follow (see
//! `tapedeck_fuzz::chunks`), then the FLV bytes.

#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use tapedeck_fuzz::{chunks, MemFile};
use tapedeck_media::flv::reader::FlvReader;
use tapedeck_media::flv::{finalize, finalize_in_place, read_metadata, FinalizeOptions};
use tapedeck_media::in_place::InPlace;

fuzz_target!(|data: &[u8]| {
    let [n, rest @ ..] = data else {
        return;
    };
    let (sizes, stream) = rest.split_at(usize::from(n % 8).min(rest.len()));

    let mut whole = FlvReader::new();
    let mut whole_tags = Vec::new();
    let whole_result = whole.push(stream, &mut whole_tags);

    let mut reader = FlvReader::new();
    let mut tags = Vec::new();
    let mut result = Ok(());
    for piece in chunks(sizes, stream) {
        result = reader.push(piece, &mut tags);
        if result.is_err() {
            break;
        }
    }
    // However the input is cut: the same tags, the same outcome, the same position.
    assert_eq!(tags, whole_tags);
    assert_eq!(result, whole_result);
    assert_eq!(reader.position(), whole.position());
    assert!(reader.position() <= stream.len() as u64);
    // Tags tile the stream after the header.
    for pair in tags.windows(2) {
        assert_eq!(
            pair[1].offset,
            pair[0].offset + 15 + pair[0].body.len() as u64
        );
    }

    // Recovery of the same bytes as a `.flv.part`.
    let mut out = Vec::new();
    if let Ok(summary) = finalize(Cursor::new(stream), &mut out) {
        assert_eq!(summary.bytes, out.len() as u64);
        let _ = read_metadata(&out[..]);
    }
    let _ = read_metadata(stream);
    let file = MemFile::new(stream.to_vec(), 512);
    if let Ok(InPlace::Done(summary)) = finalize_in_place(file.clone(), &FinalizeOptions::default())
    {
        // An already finished file keeps bytes after its last tag; one finished now is
        // cut to its last tag.
        assert!(
            summary.bytes <= file.len(),
            "the summary counts past the file"
        );
    }
});
