//! What a rebuild reads from an MP4 it finds in the data folder: the user data
//! (`read_user_data`: box headers to the `moov`, then its `udta`), and the box readers of
//! `mp4/read.rs` (headers, the init `moov`, every `moof`'s `traf`/`trun`) over any bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tapedeck_media::mp4::{probe_boxes, read_user_data};

fuzz_target!(|data: &[u8]| {
    if let Ok(boxes) = read_user_data(std::io::Cursor::new(data)) {
        // Every box read back lies inside the input.
        let payload: usize = boxes.iter().map(|b| b.payload.len() + 8).sum();
        assert!(payload <= data.len());
    }
    let _ = probe_boxes(data);
});
