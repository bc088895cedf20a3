//! HLS pull: the sans-IO playlist follower (`tapedeck_media::hls::follow`) fed a sequence
//! of playlists, as a hostile server would serve them across reloads and reconnects.
//!
//! Input layout: playlists separated by 0x00 bytes; each starts with a control byte: bit 0
//! reconnects first, bit 1 marks every segment handed out as fetched.

#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use tapedeck_media::hls::follow::{
    Follower, Update, MAX_PLAYLIST_BYTES, MAX_RELOAD, MIN_RELOAD, REMEMBERED_SEGMENTS,
};
use url::Url;

fuzz_target!(|data: &[u8]| {
    let Ok(base) = Url::parse("https://cdn.example/live/index.m3u8?token=t") else {
        return;
    };
    let mut follower = Follower::new();
    let mut url = base.clone();
    // Handed out on this connection, and fetched on any: never handed out again (while
    // within what the follower promises to remember).
    let mut handed = HashSet::new();
    let mut fetched = HashSet::new();
    for part in data.split(|&b| b == 0) {
        let [control, body @ ..] = part else {
            continue;
        };
        if control & 1 != 0 {
            follower.reconnected();
            handed.clear();
            url = base.clone();
        }
        match follower.update(&url, body) {
            Ok(Update::Variant(variant)) => url = variant,
            Ok(Update::Media(m)) => {
                assert!(body.len() <= MAX_PLAYLIST_BYTES);
                assert!((MIN_RELOAD..=MAX_RELOAD).contains(&m.reload_after));
                assert!(
                    m.segments.windows(2).all(|w| w[0].seq < w[1].seq),
                    "segments out of order"
                );
                for s in &m.segments {
                    let key = s.url.as_str().to_owned();
                    if handed.len() < REMEMBERED_SEGMENTS && fetched.len() < REMEMBERED_SEGMENTS {
                        assert!(
                            !fetched.contains(&key),
                            "a fetched segment handed out again"
                        );
                        assert!(handed.insert(key.clone()), "a segment handed out twice");
                    }
                    if control & 2 != 0 {
                        follower.fetched(&s.url);
                        fetched.insert(key);
                    }
                }
            }
            Err(_) => {}
        }
    }
});
