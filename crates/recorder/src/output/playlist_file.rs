//! A playlist file that grows by one segment at a time: the new segment's lines are
//! appended, instead of the whole playlist rewritten, while nothing else changes.
//!
//! Rewriting after every segment costs the playlist's size each time: a day of 2-second
//! segments (43,200 lines of a few MB) would be parsed, rendered and written every 2
//! seconds. An append is written when the file is what this writer last left there (same
//! length), the target duration holds, and the playlist has not ended; anything else
//! (the first segment, a longer segment, the end, a file changed by someone else) rewrites
//! it atomically. An append is one `write` followed by `sync_data`; a crash in the middle
//! of one leaves an entry cut short, which [`MediaPlaylist::parse_appended`] leaves out.

use std::io::{self, Write};
use std::path::Path;

use tapedeck_media::hls::{render_segment, MediaPlaylist, PlaylistSegment};

use crate::files::write_atomically;

/// What this writer last left in the file.
#[derive(Clone, Copy, Debug)]
struct OnDisk {
    len: u64,
    target: u64,
}

#[derive(Debug, Default)]
pub(crate) struct PlaylistFile {
    on_disk: Option<OnDisk>,
    /// Segments appended (the rest were rewrites).
    pub appends: u64,
}

impl PlaylistFile {
    /// Appends `segment` to the file at `path` when it can; `Ok(false)` when the caller
    /// must write the whole playlist (then [`PlaylistFile::rewrite`]).
    pub fn append(&mut self, path: &Path, segment: &PlaylistSegment) -> io::Result<bool> {
        let Some(on_disk) = self.on_disk.take() else {
            return Ok(false);
        };
        let fits = (segment.duration.max(0.0) * 1000.0).round() / 1000.0 <= on_disk.target as f64;
        let same = std::fs::metadata(path).is_ok_and(|m| m.len() == on_disk.len);
        if !fits || !same {
            return Ok(false);
        }
        let lines = render_segment(segment);
        append_whole(path, on_disk.len, &lines)?;
        self.on_disk = Some(OnDisk {
            len: on_disk.len + lines.len() as u64,
            target: on_disk.target,
        });
        self.appends += 1;
        Ok(true)
    }

    /// Appends `lines` (whole lines that leave the target duration as it is: a chapter's
    /// `#EXT-X-DATERANGE`) to the file at `path` when it is what this writer last left
    /// there; `Ok(false)` when the caller must write the whole playlist instead.
    pub fn append_lines(&mut self, path: &Path, lines: &str) -> io::Result<bool> {
        let Some(on_disk) = self.on_disk.take() else {
            return Ok(false);
        };
        if !std::fs::metadata(path).is_ok_and(|m| m.len() == on_disk.len) {
            return Ok(false);
        }
        append_whole(path, on_disk.len, lines)?;
        self.on_disk = Some(OnDisk {
            len: on_disk.len + lines.len() as u64,
            ..on_disk
        });
        Ok(true)
    }

    /// Writes the whole `playlist` to `path` (atomically); later segments may be appended
    /// unless it has ended.
    pub fn rewrite(
        &mut self,
        root: &Path,
        path: &Path,
        playlist: &MediaPlaylist,
    ) -> io::Result<()> {
        self.on_disk = None;
        let text = playlist.render();
        write_atomically(root, path, text.as_bytes())?;
        if !playlist.ended && playlist.media_sequence == 0 {
            self.on_disk = Some(OnDisk {
                len: text.len() as u64,
                target: playlist.target_duration(),
            });
        }
        Ok(())
    }

    /// Appends the last segment of `playlist` when it can, or rewrites it.
    pub fn update(&mut self, root: &Path, path: &Path, playlist: &MediaPlaylist) -> io::Result<()> {
        if let Some(last) = playlist.segments.last() {
            if playlist.segments.len() > 1 && !playlist.ended && self.append(path, last)? {
                return Ok(());
            }
        }
        self.rewrite(root, path, playlist)
    }
}

/// Appends `lines` to the file at `path`, `len` bytes long: all of them, or (a full disk
/// cutting the write short) none, the file cut back to `len` (which needs no room), so a
/// playlist under its final name (the daily index) never ends in half an entry.
fn append_whole(path: &Path, len: u64, lines: &str) -> io::Result<()> {
    let mut file = std::fs::OpenOptions::new().append(true).open(path)?;
    let written = file
        .write_all(lines.as_bytes())
        .and_then(|()| file.sync_data());
    if written.is_err() {
        let _ = file.set_len(len);
    }
    written
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone;

    use super::*;

    fn segment(i: usize, duration: f64) -> PlaylistSegment {
        let t0 = chrono::Utc
            .with_ymd_and_hms(2026, 11, 24, 10, 0, 0)
            .unwrap();
        PlaylistSegment {
            uri: format!("1795547116_{i}.ts"),
            duration,
            program_date_time: Some(t0 + chrono::Duration::milliseconds(i as i64 * 2000)),
            discontinuity: i == 5,
        }
    }

    /// After every update the file reads as the whole playlist rendered, whether it was
    /// appended to or rewritten (a longer segment, a file changed behind its back).
    #[test]
    fn the_file_always_reads_as_the_whole_playlist() {
        let dir = std::env::temp_dir().join(format!("tapedeck-playlist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("live.m3u8");
        let mut file = PlaylistFile::default();
        let mut playlist = MediaPlaylist::default();
        for i in 0..40 {
            let duration = if i == 20 {
                3.5
            } else {
                2.0 - (i % 3) as f64 * 0.01
            };
            playlist.segments.push(segment(i, duration));
            if i == 30 {
                // Someone else rewrote the file: the writer notices and rewrites.
                std::fs::write(&path, "#EXTM3U\n").unwrap();
            }
            file.update(&dir, &path, &playlist).unwrap();
            let text = std::fs::read_to_string(&path).unwrap();
            assert_eq!(text, playlist.render(), "after segment {i}");
        }
        // Rewritten: the first segment, the longer one (20), after the change (30).
        assert_eq!(file.appends, 37);
        playlist.ended = true;
        file.update(&dir, &path, &playlist).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), playlist.render());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A chapter's line appended reads as the playlist rendered with it; a file changed
    /// behind the writer's back is not appended to.
    #[test]
    fn chapter_lines_append_like_segments() {
        use tapedeck_media::hls::DateRange;
        let dir =
            std::env::temp_dir().join(format!("tapedeck-playlist-lines-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("live.m3u8");
        let mut file = PlaylistFile::default();
        let mut playlist = MediaPlaylist::default();
        playlist.segments.push(segment(0, 2.0));
        assert!(
            !file.append_lines(&path, "#EXT-X-X\n").unwrap(),
            "nothing written yet"
        );
        file.update(&dir, &path, &playlist).unwrap();
        let t = segment(1, 2.0).program_date_time.unwrap();
        let range = DateRange::chapter("chapter-1", t, "Mark");
        assert!(file.append_lines(&path, &range.render()).unwrap());
        playlist.date_ranges.push(range);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), playlist.render());
        playlist.segments.push(segment(1, 2.0));
        file.update(&dir, &path, &playlist).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), playlist.render());
        assert_eq!(
            file.appends, 1,
            "the segment after the line was appended too"
        );
        std::fs::write(&path, "#EXTM3U\n").unwrap();
        assert!(!file.append_lines(&path, "#EXT-X-X\n").unwrap());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
