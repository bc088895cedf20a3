//! The bucket import reading a playlist object: anyone with write access to the bucket
//! wrote it. As `engine::import` does, without the network: `MediaPlaylist::parse`, then a
//! custom index's tag (`IndexTag::parse`) or a recording's catalog rows
//! (`recorder::rebuild::recording_rows`, with segments the listing has or lacks); and what
//! the recorder does with a playlist it reads back (`render`, date range positions, a torn
//! append).
//!
//! Input layout: the playlist's text (UTF-8; other bytes are left out).

#![no_main]

use libfuzzer_sys::fuzz_target;
use tapedeck_media::hls::{MediaPlaylist, MAX_SEGMENT_SECONDS};
use tapedeck_recorder::rebuild::{recording_rows, Probe};
use tapedeck_recorder::tags::IndexTag;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = MediaPlaylist::parse_appended(text);
    let Ok(playlist) = MediaPlaylist::parse(text) else {
        return;
    };
    for s in &playlist.segments {
        assert!((0.0..=MAX_SEGMENT_SECONDS).contains(&s.duration));
        if let Some(t) = s.program_date_time {
            assert!(playlist.date_range_position(t) <= playlist.segments.len());
        }
    }
    for d in &playlist.date_ranges {
        assert!(playlist.date_range_position(d.start_date) <= playlist.segments.len());
    }
    let _ = playlist.render();
    if let Some(tag) = &playlist.index {
        let _ = IndexTag::parse(tag);
    }
    // The listing has some segments and not others (by the key's length, so that the
    // fuzzer can steer it).
    let rows = recording_rows("live/cam/index.m3u8", &playlist, data.len() as u64, |key| {
        if key.len() % 3 == 0 {
            Err("not in the bucket".into())
        } else {
            Ok(Probe {
                bytes: key.len() as u64,
                codecs: String::new(),
                width: 0,
                height: 0,
                keyframes: 1,
            })
        }
    });
    if let Ok(Some(rows)) = rows {
        assert_eq!(
            rows.segments.len() + rows.skipped.len(),
            playlist.segments.len(),
            "every segment is a row or skipped"
        );
        for s in &rows.segments {
            assert!((0..=86_400_000).contains(&s.duration_ms));
        }
        assert_eq!(rows.playlist.is_some(), !rows.segments.is_empty());
    }
});
