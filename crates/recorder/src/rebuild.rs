//! `tapedeck catalog rebuild`: the catalog recreated from the recordings folder alone,
//! from the tags Tapedeck writes into its files (see [`crate::tags`]):
//!
//! - A recording's own playlist carries `#EXT-X-TAPEDECK-RECORDING:<id>`: its segments
//!   (times from `PROGRAM-DATE-TIME`, durations from `EXTINF`) and the playlist itself are
//!   restored exactly; codecs, picture size and key frames are read from the segments.
//! - A custom index carries `#EXT-X-TAPEDECK-INDEX:<json>`: its row, id included.
//! - A playlist with neither tag is a daily index, which has no row.
//! - An MP4 (`moov/udta/tpdk`) or FLV (`onMetaData.tapedeck`) carries its row but for the
//!   key and size, which the file itself gives.
//!
//! MP4 and FLV files without a tag (recorded before tags existed, exports, files from
//! elsewhere) are left out and listed in [`RebuildReport::untagged`]. Older custom indexes
//! cannot be told from daily indexes and are not restored.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use tapedeck_catalog::FileKind;
use tapedeck_catalog::{Catalog, CatalogError, Chapter, File, Segment};
use tapedeck_media::hls::MediaPlaylist;
use tapedeck_media::ts::demux::TsDemuxer;
use tapedeck_media::MediaEvent;

use crate::files::key_of;
use crate::tags::{FileTag, IndexTag};

#[derive(Debug, Default, PartialEq, Eq)]
pub struct RebuildReport {
    /// Distinct recordings restored (from playlists, MP4 and FLV files).
    pub recordings: usize,
    pub segments: usize,
    /// MP4 and FLV files restored.
    pub files: usize,
    /// Custom indexes restored.
    pub indexes: usize,
    /// MP4 and FLV files without a Tapedeck tag, left out.
    pub untagged: Vec<PathBuf>,
    /// Playlists, segments, files or tags that could not be read, and what the walk did
    /// not enter (symbolic links are not followed), with why.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Adds to `catalog` everything the tagged files under `root` describe.
pub fn rebuild(root: &Path, catalog: &Catalog) -> Result<RebuildReport, CatalogError> {
    let mut report = RebuildReport::default();
    let mut recordings = BTreeSet::new();
    let walked = crate::walk::walk_all(root);
    report.skipped.extend(walked.skipped);
    let found: Vec<PathBuf> = walked
        .files
        .into_iter()
        .filter(|p| {
            p.extension()
                .is_some_and(|x| x == "m3u8" || x == "mp4" || x == "flv")
        })
        .collect();
    for path in &found {
        let (kind, tag) = match path.extension().and_then(|x| x.to_str()) {
            Some("mp4") => (FileKind::Mp4, FileTag::read_mp4(path)),
            Some("flv") => (FileKind::Flv, FileTag::read_flv(path)),
            _ => continue,
        };
        match tag {
            Ok(Some(tag)) => {
                let key = key_of(root, path);
                if let Some(row) = file_row(path, key, kind, tag, &mut report) {
                    catalog.add_file(&row)?;
                    recordings.insert(row.recording);
                    report.files += 1;
                }
            }
            Ok(None) => report.untagged.push(path.clone()),
            Err(e) => report.skipped.push((path.clone(), e)),
        }
    }
    for path in found
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "m3u8"))
    {
        let path = path.clone();
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let playlist = match MediaPlaylist::parse(&text) {
            Ok(p) => p,
            Err(e) => {
                report.skipped.push((path, e.to_string()));
                continue;
            }
        };
        if let Some(text) = &playlist.index {
            match IndexTag::parse(text) {
                Ok(tag) => {
                    let record = tag.record(key_of(root, &path));
                    if catalog.restore_index(&record)? {
                        report.indexes += 1;
                    } else {
                        report.skipped.push((
                            path,
                            format!("index id {} is taken by another index file", record.id),
                        ));
                    }
                }
                Err(e) => report.skipped.push((path, e)),
            }
            continue;
        }
        let key = key_of(root, &path);
        let rows = match recording_rows(&key, &playlist, text.len() as u64, |seg_key| {
            probe(&root.join(seg_key))
        }) {
            Ok(Some(rows)) => rows,
            Ok(None) => continue, // a daily index
            Err(why) => {
                report.skipped.push((path, why));
                continue;
            }
        };
        report
            .skipped
            .extend(rows.skipped.into_iter().map(|(k, why)| (root.join(k), why)));
        report.segments += rows.segments.len();
        catalog.add_segments(&rows.segments)?;
        if let Some(file) = rows.playlist {
            catalog.add_file(&file)?;
            recordings.insert(rows.recording);
        }
    }
    report.recordings = recordings.len();
    Ok(report)
}

/// A recording's own playlist as catalog rows.
#[derive(Debug)]
pub struct RecordingRows {
    /// The recording's id, `app/stream/<start ms>`.
    pub recording: String,
    pub app: String,
    pub stream: String,
    pub segments: Vec<Segment>,
    /// The playlist's own row; `None` when none of its segments could be given.
    pub playlist: Option<File>,
    /// Segments left out (by key), with why.
    pub skipped: Vec<(String, String)>,
    /// Its chapters (`EXT-X-DATERANGE` of the chapter class).
    pub chapters: Vec<Chapter>,
}

/// The rows of the playlist at `key` (`bytes` long) when it is a recording's own
/// (`#EXT-X-TAPEDECK-RECORDING`), `None` for any other playlist: segment times from
/// `PROGRAM-DATE-TIME`, durations from `EXTINF`, the rest from `probe` of each segment's
/// key (a local file, a bucket's listing).
pub fn recording_rows(
    key: &str,
    playlist: &MediaPlaylist,
    bytes: u64,
    mut probe: impl FnMut(&str) -> Result<Probe, String>,
) -> Result<Option<RecordingRows>, String> {
    let Some(recording) = playlist.recording.clone() else {
        return Ok(None);
    };
    let mut parts = recording.splitn(3, '/');
    let (Some(app), Some(stream)) = (parts.next(), parts.next()) else {
        return Err(format!("recording id {recording:?} is not app/stream/time"));
    };
    let (app, stream) = (app.to_string(), stream.to_string());
    let dir = key.rsplit_once('/').map_or("", |(d, _)| d);
    let mut segments = Vec::new();
    let mut skipped = Vec::new();
    for seg in &playlist.segments {
        let seg_key = crate::files::join_key(dir, &seg.uri);
        let Some(start) = seg.program_date_time else {
            skipped.push((seg_key, format!("{key} gives it no PROGRAM-DATE-TIME")));
            continue;
        };
        let probe = match probe(&seg_key) {
            Ok(p) => p,
            Err(why) => {
                skipped.push((seg_key, why));
                continue;
            }
        };
        segments.push(Segment {
            recording: recording.clone(),
            app: app.clone(),
            stream: stream.clone(),
            key: seg_key,
            start_ms: start.timestamp_millis(),
            duration_ms: (seg.duration * 1000.0).round() as i64,
            bytes: probe.bytes,
            codecs: probe.codecs,
            width: probe.width,
            height: probe.height,
            keyframes: probe.keyframes,
            discontinuity: seg.discontinuity,
        });
    }
    let playlist_row = match (segments.first(), segments.last()) {
        (Some(first), Some(last)) => Some(File {
            recording: recording.clone(),
            app: app.clone(),
            stream: stream.clone(),
            kind: FileKind::Playlist,
            key: key.to_string(),
            start_ms: first.start_ms,
            end_ms: last.start_ms + last.duration_ms,
            bytes,
        }),
        _ => None,
    };
    let chapters = playlist
        .date_ranges
        .iter()
        .filter_map(|d| {
            Some(Chapter {
                app: app.clone(),
                stream: stream.clone(),
                recording: recording.clone(),
                at_ms: d.start_date.timestamp_millis(),
                title: d.chapter_title()?.to_string(),
            })
        })
        .collect();
    Ok(Some(RecordingRows {
        recording,
        app,
        stream,
        segments,
        playlist: playlist_row,
        skipped,
        chapters,
    }))
}

/// The row of a tagged MP4 or FLV file, or why it has none (in `report`).
fn file_row(
    path: &Path,
    key: String,
    kind: FileKind,
    tag: FileTag,
    report: &mut RebuildReport,
) -> Option<File> {
    let Some(end_ms) = tag.end_ms else {
        report.skipped.push((
            path.to_owned(),
            "its tag has no end: a .part that was renamed by hand?".into(),
        ));
        return None;
    };
    let bytes = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) => {
            report.skipped.push((path.to_owned(), e.to_string()));
            return None;
        }
    };
    Some(File {
        recording: tag.recording,
        app: tag.app,
        stream: tag.stream,
        kind,
        key,
        start_ms: tag.start_ms,
        end_ms,
        bytes,
    })
}

/// What a segment's bytes say of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    pub bytes: u64,
    /// RFC 6381 codec strings, video first, comma-separated.
    pub codecs: String,
    pub width: u32,
    pub height: u32,
    pub keyframes: u32,
}

fn probe(path: &Path) -> Result<Probe, String> {
    let data = std::fs::read(path).map_err(|e| e.to_string())?;
    probe_ts(&data, true)
}

/// Probes an MPEG-TS segment, or (`whole` false) the first bytes of one, read from a
/// bucket: the cut-off packet at the end is left out, and `bytes` is what was read.
pub fn probe_ts(data: &[u8], whole: bool) -> Result<Probe, String> {
    let data = if whole {
        data
    } else {
        &data[..data.len() - data.len() % 188]
    };
    let mut demuxer = TsDemuxer::new();
    let mut events = Vec::new();
    demuxer.push(data, &mut events).map_err(|e| e.to_string())?;
    let flushed = demuxer.flush(&mut events);
    if whole {
        flushed.map_err(|e| e.to_string())?;
    }
    let (mut video, mut audio, mut keyframes) = (None, None, 0);
    for ev in &events {
        match ev {
            MediaEvent::VideoConfig(c) if video.is_none() => video = Some(c.clone()),
            MediaEvent::AudioConfig(c) if audio.is_none() => audio = Some(c.clone()),
            MediaEvent::Frame(f) if f.is_video() && f.keyframe => keyframes += 1,
            _ => {}
        }
    }
    let codecs = video
        .iter()
        .map(|v| v.codec_string.clone())
        .chain(audio.iter().map(|a| a.codec_string.clone()))
        .collect::<Vec<_>>()
        .join(",");
    Ok(Probe {
        bytes: data.len() as u64,
        codecs,
        width: video.as_ref().map_or(0, |v| v.width),
        height: video.as_ref().map_or(0, |v| v.height),
        keyframes,
    })
}
