//! FLV: `FlvReader::push` (HTTP-FLV pulls, file replay) and `TagDecoder` on every tag
//! (also what the RTMP server runs on each audio/video message), then the MPEG-TS muxer
//! on what the decoder accepted, as the recorder would.
//!
//! Input layout: byte 0 is the read size (0 = all at once), the rest an FLV stream.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tapedeck_media::flv::amf0::Amf0Value;
use tapedeck_media::flv::reader::FlvReader;
use tapedeck_media::flv::tag::{TagDecoder, TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO};
use tapedeck_media::ts::TsMuxer;
use tapedeck_media::{MediaEvent, Tracks};

fuzz_target!(|data: &[u8]| {
    let [read_size, stream @ ..] = data else {
        return;
    };
    let step = if *read_size == 0 {
        stream.len().max(1)
    } else {
        usize::from(*read_size)
    };
    let mut reader = FlvReader::new();
    let mut tags = Vec::new();
    for piece in stream.chunks(step) {
        // A bad tag header ends the pull (the caller reconnects): stop as it would.
        if reader.push(piece, &mut tags).is_err() {
            break;
        }
    }
    assert!(reader.position() <= stream.len() as u64);

    let mut decoder = TagDecoder::new();
    let mut events = Vec::new();
    for tag in tags {
        // Errors are logged and the tag skipped by every caller: only panics matter.
        let _ = match tag.kind {
            TAG_VIDEO => decoder.video(tag.ts_ms, tag.body, &mut events),
            TAG_AUDIO => decoder.audio(tag.ts_ms, tag.body, &mut events),
            TAG_SCRIPT => Amf0Value::decode_all(&tag.body).map(drop).or(Ok(())),
            _ => Ok(()),
        };
    }
    tapedeck_fuzz::check_events(&events);

    // What the decoder accepted reaches the muxers: a configuration record it let through
    // must not make them panic either.
    let tracks = Tracks {
        video: decoder.video_config().cloned(),
        audio: decoder.audio_config().cloned(),
    };
    let mut mux = TsMuxer::new(&tracks);
    let mut out = Vec::new();
    mux.write_tables(&mut out);
    for ev in &events {
        match ev {
            MediaEvent::Frame(f) => {
                let _ = mux.write_frame(f, &mut out);
            }
            MediaEvent::VideoConfig(c) => {
                let _ = mux.set_video_config(c.clone());
            }
            _ => {}
        }
    }
});
