//! What recovery does with a hostile fragmented MP4 `.part`: the finalizer (its survey
//! of boxes, fragments and sample counts; then the tables and data it writes), copying
//! and in place, over bytes in memory; then the finished file read back as a rebuild would.
//!
//! Input layout: byte 0 picks the in-place block size (8 << (b % 10)), the rest is the file.

#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use tapedeck_fuzz::MemFile;
use tapedeck_media::in_place::InPlace;
use tapedeck_media::mp4::{finalize, finalize_in_place, read_user_data, FinalizeOptions};

fuzz_target!(|data: &[u8]| {
    let [b, file @ ..] = data else {
        return;
    };
    let mut out = Vec::new();
    if let Ok(summary) = finalize(Cursor::new(file), &mut out) {
        assert_eq!(summary.bytes, out.len() as u64);
        // Samples are bounded by the bytes of the input, so is what is written for them
        // (at most 44 bytes of tables per sample, plus the data and the copied stsd).
        assert!(
            out.len() as u64 <= 64 * file.len() as u64 + (1 << 20),
            "{} bytes written for an input of {}",
            out.len(),
            file.len()
        );
        let _ = read_user_data(Cursor::new(&out));
        let _ = tapedeck_media::mp4::probe_boxes(&out);
    }

    let mem = MemFile::new(file.to_vec(), 8 << (b % 10));
    if let Ok(InPlace::Done(summary)) = finalize_in_place(mem.clone(), &FinalizeOptions::default())
    {
        assert_eq!(
            summary.bytes,
            mem.len(),
            "the summary counts the finished file"
        );
        let finished = mem.data.borrow().clone();
        let _ = read_user_data(Cursor::new(&finished));
    }
});
