//! Crash recovery: what a killed process (or a power cut) left behind becomes complete
//! files at the next start, so nothing recorded is lost.
//!
//! Left-overs are the `.part` files of the recordings that were open:
//! - `*.ts.part`: the segment being written. Cut to whole 188-byte packets and renamed.
//! - `*.mp4.part` / `*.flv.part`: a fragmented MP4 / an index-less FLV, finalized like at
//!   the end of a recording (a torn last fragment or tag is dropped by the finalizers).
//! - `*.m3u8.part`: the live playlist. The recovered segment of its folder is appended
//!   (its duration read from the segment itself), then it gets `#EXT-X-ENDLIST`.
//! - `*.finalizing`: a finalizer's output cut short; its `.part` still exists and is
//!   finalized again, so this one is removed.
//!
//! The end time of a recovered file is unknown, so the word `recording` that stands in
//! for it in the name is replaced by the file's last modification time (escaped format).
//!
//! An MP4 or FLV `.part` carries its recording's tag from its first bytes (see
//! [`crate::tags`]): the recovered file gets the same tag, with the modification time as
//! its end, so `catalog rebuild` restores it. A `.part` written before tags existed is
//! finalized untagged; a rebuild then counts it as a file without a tag and leaves it out.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use tapedeck_media::hls::{MediaPlaylist, PlaylistSegment};
use tapedeck_media::ts::demux::TsDemuxer;
use tapedeck_media::{MediaEvent, MediaTime, Tracks};

use crate::files::{write_atomically, PART_SUFFIX};
use crate::naming::{escaped_time, IN_PROGRESS};
use crate::output::flv::Flv;
use crate::output::mp4::Mp4;
use crate::output::single::finalize_into;
use crate::output::Extent;
use crate::tags::FileTag;

/// One file made whole again.
#[derive(Clone, Debug, PartialEq)]
pub struct Recovered {
    pub from: PathBuf,
    pub to: PathBuf,
}

/// A left-over that could not be recovered; it is left where it is.
#[derive(Clone, Debug, PartialEq)]
pub struct Unrecoverable {
    pub path: PathBuf,
    pub reason: String,
}

#[derive(Default, Debug)]
pub struct Report {
    pub recovered: Vec<Recovered>,
    pub failed: Vec<Unrecoverable>,
    /// What the walk did not enter (symbolic links, unreadable folders), with why.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Recovers every left-over under `root` (the recordings folder), finalizing MP4 and FLV
/// files in place where the file system allows and `in_place` says so. Blocking: call it
/// before accepting streams, or on the blocking pool. Symbolic links are not followed
/// ([`crate::walk`]): a link in the folder, even a loop, is skipped and reported.
pub fn recover(root: &Path, in_place: bool) -> Report {
    let mut report = Report::default();
    let walked = crate::walk::walk_all(root);
    report.skipped = walked.skipped;
    let mut parts = Vec::new();
    for p in walked.files {
        if ends(&p, ".finalizing") {
            let _ = fs::remove_file(&p);
        } else if ends(&p, PART_SUFFIX) {
            parts.push(p);
        }
    }
    // Segments first: the playlists of their folders append them.
    let mut segments: Vec<(PathBuf, PlaylistSegment)> = Vec::new();
    for p in parts.iter().filter(|p| ends(p, ".ts.part")) {
        match recover_segment(p) {
            Ok((to, seg)) => {
                report.recovered.push(Recovered {
                    from: p.clone(),
                    to: to.clone(),
                });
                segments.push((to, seg));
            }
            Err(reason) => report.failed.push(Unrecoverable {
                path: p.clone(),
                reason,
            }),
        }
    }
    for p in &parts {
        let result = if ends(p, ".mp4.part") {
            finalize_part::<Mp4>(p, in_place)
        } else if ends(p, ".flv.part") {
            finalize_part::<Flv>(p, in_place)
        } else if ends(p, ".m3u8.part") {
            recover_playlist(p, &segments)
        } else {
            continue;
        };
        match result {
            Ok(to) => report.recovered.push(Recovered {
                from: p.clone(),
                to,
            }),
            Err(reason) => report.failed.push(Unrecoverable {
                path: p.clone(),
                reason,
            }),
        }
    }
    report
}

fn ends(p: &Path, suffix: &str) -> bool {
    p.to_string_lossy().ends_with(suffix)
}

fn modified(p: &Path) -> DateTime<Utc> {
    fs::metadata(p)
        .and_then(|m| m.modified())
        .map(DateTime::<Utc>::from)
        .unwrap_or_else(|_| Utc::now())
}

/// `x/2026-..._recording.mp4.part` -> `x/2026-..._2026-11-24-10-45-02.mp4`.
fn final_path(part: &Path) -> PathBuf {
    let s = part.to_string_lossy();
    let without = s.strip_suffix(PART_SUFFIX).unwrap_or(&s);
    let (dir, name) = without
        .rsplit_once(std::path::MAIN_SEPARATOR)
        .unwrap_or(("", without));
    // The last occurrence: a stream may be called "myrecording" too.
    let name = match name.rfind(IN_PROGRESS) {
        Some(i) => format!(
            "{}{}{}",
            &name[..i],
            escaped_time(modified(part)),
            &name[i + IN_PROGRESS.len()..]
        ),
        None => name.to_string(),
    };
    if dir.is_empty() {
        PathBuf::from(name)
    } else {
        Path::new(dir).join(name)
    }
}

fn finalize_part<F: crate::output::single::FileFormat>(
    part: &Path,
    in_place: bool,
) -> Result<PathBuf, String> {
    let end_ms = modified(part).timestamp_millis();
    let to = final_path(part);
    // A tag that does not read is no reason to lose the media: finalize untagged.
    let tag = F::read_tag(part).ok().flatten().map(|t| FileTag {
        end_ms: Some(end_ms.max(t.start_ms)),
        ..t
    });
    finalize_into::<F>(part, &to, tag.as_ref(), in_place).map_err(|e| e.to_string())?;
    Ok(to)
}

/// Cuts a segment to whole packets, renames it, and measures it for its playlist.
fn recover_segment(part: &Path) -> Result<(PathBuf, PlaylistSegment), String> {
    let bytes = fs::read(part).map_err(|e| e.to_string())?;
    let whole = bytes.len() - bytes.len() % 188;
    let mut demuxer = TsDemuxer::new();
    let mut events = Vec::new();
    // Errors in a torn tail are expected; what parsed before them counts.
    let _ = demuxer.push(&bytes[..whole], &mut events);
    let _ = demuxer.flush(&mut events);
    // As `output::hls` times segments: from the cut point that opened it (its first video
    // frame, a key frame; its first frame when audio-only) to its last frame's end, since a
    // segment cut short by a crash is the last of its run.
    let mut tracks = Tracks::default();
    let mut extent: Option<Extent> = None;
    let first_video = events.iter().find_map(|e| match e {
        MediaEvent::Frame(f) if f.is_video() => Some(f.dts),
        _ => None,
    });
    for e in &events {
        match e {
            MediaEvent::VideoConfig(c) => tracks.video = Some(c.clone()),
            MediaEvent::AudioConfig(c) => tracks.audio = Some(c.clone()),
            MediaEvent::Frame(f) => extent
                .get_or_insert_with(|| Extent::new(first_video.unwrap_or(f.dts)))
                .add(f, &tracks),
        }
    }
    let Some(extent) = extent else {
        fs::remove_file(part).map_err(|e| e.to_string())?;
        return Err("no complete frame in it; removed".into());
    };
    let to = PathBuf::from(
        part.to_string_lossy()
            .strip_suffix(PART_SUFFIX)
            .unwrap_or_default(),
    );
    fs::write(part, &bytes[..whole]).map_err(|e| e.to_string())?;
    fs::rename(part, &to).map_err(|e| e.to_string())?;
    let duration = (extent.end - extent.start).max(MediaTime::ZERO).as_millis() as f64 / 1000.0;
    let uri = to
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok((
        to,
        PlaylistSegment {
            uri,
            duration,
            program_date_time: None,
            discontinuity: false,
        },
    ))
}

fn recover_playlist(
    part: &Path,
    segments: &[(PathBuf, PlaylistSegment)],
) -> Result<PathBuf, String> {
    let text = fs::read_to_string(part).map_err(|e| e.to_string())?;
    // The live playlist grows by appends: a crash may have cut its last entry.
    let mut playlist = MediaPlaylist::parse_appended(&text).map_err(|e| e.to_string())?;
    let dir = part.parent().unwrap_or(Path::new(""));
    for (path, seg) in segments {
        let listed = playlist.segments.iter().any(|s| s.uri == seg.uri);
        if path.parent() == Some(dir) && !listed {
            let mut seg = seg.clone();
            // It followed the last listed segment directly.
            if let Some(prev) = playlist.segments.last() {
                seg.program_date_time = prev.program_date_time.and_then(|t| {
                    t.checked_add_signed(chrono::Duration::milliseconds(
                        (prev.duration * 1000.0) as i64,
                    ))
                });
            }
            playlist.segments.push(seg);
        }
    }
    if playlist.segments.is_empty() {
        fs::remove_file(part).map_err(|e| e.to_string())?;
        return Err("an empty playlist; removed".into());
    }
    playlist.ended = true;
    let to = final_path(part);
    write_atomically(dir, &to, playlist.render().as_bytes()).map_err(|e| e.to_string())?;
    fs::remove_file(part).map_err(|e| e.to_string())?;
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `.part` from before tags existed is still recovered, untagged (a rebuild then
    /// counts it as such); a tagged one keeps its tag and gets an end.
    #[test]
    fn parts_are_finalized_with_their_tag_when_they_have_one() {
        let dir = std::env::temp_dir().join(format!("tapedeck-recover-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let fixture = include_bytes!("../../../tests/fixtures/h264_aac_2s.flv");
        let old = dir.join(format!("old_{IN_PROGRESS}.flv.part"));
        fs::write(&old, fixture).unwrap();
        // The same media as a tagged .part: its provisional onMetaData gains the entry.
        let tag = FileTag {
            recording: "live/cam1/1795515330000".into(),
            app: "live".into(),
            stream: "cam1".into(),
            start_ms: 1_795_515_330_000,
            end_ms: None,
        };
        let tagged = dir.join(format!("new_{IN_PROGRESS}.flv.part"));
        let mut part = Vec::new();
        let options = tapedeck_media::flv::FinalizeOptions {
            metadata: tag.flv_metadata(),
        };
        tapedeck_media::flv::finalize_with(std::io::Cursor::new(&fixture[..]), &mut part, &options)
            .unwrap();
        fs::write(&tagged, &part).unwrap();
        assert_eq!(FileTag::read_flv(&tagged).unwrap(), Some(tag.clone()));

        let report = recover(&dir, true);
        assert_eq!(report.failed, Vec::new());
        assert_eq!(report.recovered.len(), 2);
        for r in &report.recovered {
            let read = FileTag::read_flv(&r.to).unwrap();
            if r.from == old {
                assert_eq!(read, None, "{:?}", r.to);
            } else {
                let read = read.unwrap();
                assert_eq!(
                    (&read.recording, read.start_ms),
                    (&tag.recording, tag.start_ms)
                );
                let end = read.end_ms.unwrap();
                assert!(end >= tag.start_ms, "{read:?}");
            }
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    /// A segment cut short by a crash is timed as the last of its run: from its key frame
    /// (not from audio of an earlier time muxed after it) to its last frame's end.
    #[test]
    fn a_recovered_segment_runs_from_its_key_frame_to_its_last_frame_end() {
        use bytes::Bytes;
        use tapedeck_media::codec::{aac, h264};
        use tapedeck_media::ts::mux::TsMuxer;
        use tapedeck_media::{Frame, TrackKind};

        let dir = std::env::temp_dir().join(format!("tapedeck-recover-ts-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let avcc = include_bytes!("../../../tests/fixtures/h264_320x240.avcc");
        let tracks = Tracks {
            video: Some(std::sync::Arc::new(h264::parse_avcc(avcc).unwrap())),
            audio: Some(std::sync::Arc::new(aac::parse_asc(&[0x12, 0x10]).unwrap())),
        };
        let frame = |kind, ms: i64, keyframe| Frame {
            kind,
            dts: MediaTime::from_millis(ms),
            pts: MediaTime::from_millis(ms),
            keyframe,
            data: match kind {
                TrackKind::Video => Bytes::from_static(&[0, 0, 0, 4, 0x65, 0x88, 0x84, 0x21]),
                TrackKind::Audio => Bytes::from_static(&[0x21, 0x10, 0x04, 0x60, 0x8c]),
            },
        };
        let key = 10_000;
        let mut frames = vec![
            frame(TrackKind::Video, key, true),
            // Sent just after the key frame, from before it.
            frame(TrackKind::Audio, key - 15, true),
        ];
        for i in 1..30 {
            frames.push(frame(TrackKind::Video, key + i * 33, false));
        }
        // The last audio frame, 1020 ms in, ends after the last video frame (957 + 33 ms).
        frames.push(frame(TrackKind::Audio, key + 1020, true));
        let mut muxer = TsMuxer::new(&tracks);
        let mut bytes = Vec::new();
        muxer.write_tables(&mut bytes);
        for f in &frames {
            muxer.write_frame(f, &mut bytes).unwrap();
        }
        let part = dir.join(format!("1795515330_7.ts{PART_SUFFIX}"));
        fs::write(&part, &bytes).unwrap();
        let (to, segment) = recover_segment(&part).unwrap();
        assert!(to.ends_with("1795515330_7.ts"), "{to:?}");
        // 1020 ms + one AAC frame at 44.1 kHz (23.2 ms), to the millisecond.
        assert_eq!(segment.duration, 1.043);
        fs::remove_dir_all(&dir).unwrap();
    }
}
