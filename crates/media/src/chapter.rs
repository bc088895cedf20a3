//! Chapter markers: a title at a point of a recording's media time.
//!
//! Where each container keeps them (details at the top of each module):
//!
//! | container | while recording (`.part`, what a crash leaves) | finalized |
//! |---|---|---|
//! | MP4 | a top-level `emsg` box per chapter, between fragments (`mp4/chapters.rs`) | a QuickTime chapter track (`tref/chap`) and a Nero `moov/udta/chpl` |
//! | FLV | an `onCuePoint` script tag at the chapter's time (`flv/cue.rs`) | `onMetaData.chapters` (times and titles); the tags kept, retyped so players skip them |
//! | HLS | `#EXT-X-DATERANGE` with `CLASS="com.tapedeck.chapter"`, appended to the live playlist | the same, in the final playlist |
//!
//! A chapter ends where the next one starts; the last one at the end of the file. The
//! finalizers read the chapters back from the recording itself, so a recording recovered
//! after a crash keeps every chapter whose mark was written.

use crate::time::MediaTime;

/// Bytes of a title that are kept (cut at a character boundary): a title is a line for a
/// menu, and a bound keeps a hostile file from making a finalizer hold megabytes per
/// chapter. Containers with a smaller field (`chpl`: 255) cut further.
pub const MAX_TITLE_BYTES: usize = 1024;

/// Chapters a finalizer reads back from one file; later ones are ignored. A chapter a
/// minute for three days; bounds the memory and the `moov` a hostile file can ask for.
pub const MAX_CHAPTERS: usize = 4096;

/// One chapter: where it starts and its title.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chapter {
    /// Media time, on the timeline of the file it is given to (see each writer).
    pub start: MediaTime,
    pub title: String,
}

impl Chapter {
    /// A chapter with its title cut to [`MAX_TITLE_BYTES`].
    pub fn new(start: MediaTime, title: &str) -> Self {
        Chapter {
            start,
            title: truncate(title, MAX_TITLE_BYTES).to_owned(),
        }
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends at a character boundary.
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The chapters of a file that presents `[0, end)`, in the order a menu lists them, each
/// with its end: sorted by start (stable: of two at the same time, the one added last
/// stays, the other would last no time), starts before 0 moved to 0, and chapters that
/// start at or after `end` left out.
pub fn with_ends(chapters: &[Chapter], end: MediaTime) -> Vec<(Chapter, MediaTime)> {
    let mut sorted: Vec<Chapter> = chapters
        .iter()
        .map(|c| Chapter {
            start: c.start.max(MediaTime::ZERO),
            title: c.title.clone(),
        })
        .filter(|c| c.start < end)
        .collect();
    sorted.sort_by_key(|c| c.start);
    let mut kept: Vec<Chapter> = Vec::with_capacity(sorted.len());
    for c in sorted {
        match kept.last_mut() {
            Some(last) if last.start == c.start => *last = c,
            _ => kept.push(c),
        }
    }
    let ends: Vec<MediaTime> = kept
        .iter()
        .skip(1)
        .map(|c| c.start)
        .chain(std::iter::once(end))
        .collect();
    kept.into_iter().zip(ends).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(ms: i64, title: &str) -> Chapter {
        Chapter::new(MediaTime::from_millis(ms), title)
    }

    #[test]
    fn titles_are_cut_at_a_character_boundary() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("abcdef", 3), "abc");
        // "é" is two bytes: a cut inside it keeps the character out.
        assert_eq!(truncate("aé", 2), "a");
        assert_eq!(truncate("aé", 3), "aé");
        let long = "€".repeat(1000);
        let c = Chapter::new(MediaTime::ZERO, &long);
        assert!(c.title.len() <= MAX_TITLE_BYTES && c.title.len() > MAX_TITLE_BYTES - 3);
        assert!(long.starts_with(&c.title));
    }

    #[test]
    fn ends_come_from_the_next_start_and_the_end_of_the_file() {
        let got = with_ends(
            &[
                ch(5000, "c"),
                ch(-40, "before"),
                ch(1000, "b"),
                ch(1000, "b again"),
                ch(9000, "after the end"),
                ch(8000, "at the end"),
            ],
            MediaTime::from_millis(8000),
        );
        let got: Vec<(i64, &str, i64)> = got
            .iter()
            .map(|(c, end)| (c.start.as_millis(), c.title.as_str(), end.as_millis()))
            .collect();
        assert_eq!(
            got,
            [
                (0, "before", 1000),
                (1000, "b again", 5000),
                (5000, "c", 8000)
            ]
        );
        assert!(with_ends(&[], MediaTime::from_secs(1)).is_empty());
        assert!(with_ends(&[ch(0, "x")], MediaTime::ZERO).is_empty());
    }
}
