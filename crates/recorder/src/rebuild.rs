//! `tapedeck catalog rebuild`: the catalog recreated from the recordings folder alone.
//!
//! Each recording's own playlist carries `#X-TAPEDECK-RECORDING:<id>` (daily and custom
//! indexes do not), so its segments (times from `PROGRAM-DATE-TIME`, durations from
//! `EXTINF`) and the playlist itself are restored exactly; codecs, picture size and key
//! frames are read from the segments. MP4 and FLV files are not restored yet.

use std::path::{Path, PathBuf};

use tapedeck_catalog::{Catalog, CatalogError, File, Segment};
use tapedeck_media::hls::MediaPlaylist;
use tapedeck_media::ts::demux::TsDemuxer;
use tapedeck_media::MediaEvent;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct RebuildReport {
    pub recordings: usize,
    pub segments: usize,
    /// Playlists or segments that could not be read, with why.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Adds to `catalog` everything the playlists under `root` describe.
pub fn rebuild(root: &Path, catalog: &Catalog) -> Result<RebuildReport, CatalogError> {
    let mut report = RebuildReport::default();
    let mut playlists = Vec::new();
    collect(root, &mut playlists);
    playlists.sort();
    for path in playlists {
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
        let Some(recording) = playlist.recording.clone() else {
            continue;
        };
        let mut parts = recording.splitn(3, '/');
        let (Some(app), Some(stream)) = (parts.next(), parts.next()) else {
            report.skipped.push((
                path,
                format!("recording id {recording:?} is not app/stream/time"),
            ));
            continue;
        };
        let key = key_of(root, &path);
        let dir = key.rsplit_once('/').map_or("", |(d, _)| d);
        let mut rows = Vec::new();
        for seg in &playlist.segments {
            let Some(start) = seg.program_date_time else {
                report.skipped.push((
                    path.clone(),
                    format!("{} has no PROGRAM-DATE-TIME", seg.uri),
                ));
                continue;
            };
            let seg_key = crate::files::join_key(dir, &seg.uri);
            let seg_path = root.join(&seg_key);
            let probe = match probe(&seg_path) {
                Ok(p) => p,
                Err(e) => {
                    report.skipped.push((seg_path, e));
                    continue;
                }
            };
            rows.push(Segment {
                recording: recording.clone(),
                app: app.to_string(),
                stream: stream.to_string(),
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
        report.segments += rows.len();
        catalog.add_segments(&rows)?;
        if let (Some(first), Some(last)) = (rows.first(), rows.last()) {
            catalog.add_file(&File {
                recording: recording.clone(),
                app: app.to_string(),
                stream: stream.to_string(),
                kind: "m3u8".into(),
                key,
                start_ms: first.start_ms,
                end_ms: last.start_ms + last.duration_ms,
                bytes: text.len() as u64,
            })?;
            report.recordings += 1;
        }
    }
    Ok(report)
}

struct Probe {
    bytes: u64,
    codecs: String,
    width: u32,
    height: u32,
    keyframes: u32,
}

fn probe(path: &Path) -> Result<Probe, String> {
    let data = std::fs::read(path).map_err(|e| e.to_string())?;
    let mut demuxer = TsDemuxer::new();
    let mut events = Vec::new();
    demuxer
        .push(&data, &mut events)
        .and_then(|_| demuxer.flush(&mut events))
        .map_err(|e| e.to_string())?;
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

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "m3u8") {
            out.push(p);
        }
    }
}

/// `path` as an object key under `root` (with `/`).
fn key_of(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}
