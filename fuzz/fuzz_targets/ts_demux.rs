//! MPEG-TS: `TsDemuxer::push` / `flush`, as HLS pulls feed it segment bytes.
//!
//! Input layout: byte 0 is the read size in packets-ish units (0 = all at once), the rest
//! a transport stream.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tapedeck_media::ts::TsDemuxer;

fuzz_target!(|data: &[u8]| {
    let [read_size, stream @ ..] = data else {
        return;
    };
    let step = if *read_size == 0 {
        stream.len().max(1)
    } else {
        // Sizes that are not multiples of 188 cut packets at every offset.
        usize::from(*read_size) * 7
    };
    let mut demux = TsDemuxer::new();
    let mut events = Vec::new();
    for piece in stream.chunks(step) {
        // Errors never stop the demuxer (module docs): keep pushing, as the pull does.
        let _ = demux.push(piece, &mut events);
    }
    let _ = demux.flush(&mut events);
    tapedeck_fuzz::check_events(&events);
});
