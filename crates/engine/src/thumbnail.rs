//! Thumbnails from the recorded key frames, without ffmpeg: the key frame at or before a
//! time, decoded with OpenH264 (built from source by the `openh264` crate; key frames only,
//! no other frame is ever decoded), scaled down with a box filter, and encoded as JPEG.
//! Cached on disk under `data_dir/state/thumbnails`, bounded in size (the oldest go first).
//!
//! H.265 recordings have no thumbnail here (the app decodes them with WebCodecs where the
//! platform can, or shows a placeholder): [`ThumbnailError::Codec`].
//!
//! Patent note: H.264 decoding is covered by the MPEG LA/Via LA licence. Cisco pays the
//! royalties for its own OpenH264 *binaries* only; a build from source (this crate's
//! default) is not covered by that. A packager who wants Cisco's cover can switch the
//! `openh264` crate to its `libloading` feature and load Cisco's `libopenh264` at run time
//! (ARCHITECTURE.md, "Thumbnails").

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use tapedeck_catalog::Catalog;
use tapedeck_media::codec::VideoCodec;
use tapedeck_media::codec::VideoConfig;
use tapedeck_media::ts::TsDemuxer;
use tapedeck_media::{MediaEvent, MediaTime};

/// Widths a thumbnail may have.
pub const MIN_WIDTH: u32 = 32;
pub const MAX_WIDTH: u32 = 1920;
/// The cache stays under this many bytes (the oldest files are removed past it).
pub const CACHE_LIMIT: u64 = 256 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ThumbnailError {
    #[error("nothing of {0} was recorded at that time")]
    NothingThere(String),
    #[error("{0}: the preview needs the m3u8 format (its .ts segments) to make thumbnails")]
    NoSegments(String),
    #[error("this recording is {0}; thumbnails are made from H.264 only")]
    Codec(&'static str),
    #[error("no key frame found in {0}")]
    NoKeyFrame(String),
    #[error("cannot read {path}: {detail}")]
    Read { path: String, detail: String },
    #[error("the key frame could not be decoded: {0}")]
    Decode(String),
    #[error("cannot write the thumbnail: {0}")]
    Write(String),
    #[error("a thumbnail is {MIN_WIDTH} to {MAX_WIDTH} pixels wide, not {0}")]
    Width(u32),
    #[error(transparent)]
    Catalog(#[from] tapedeck_catalog::CatalogError),
}

/// A thumbnail made (or found in the cache).
#[derive(Clone, Debug, PartialEq)]
pub struct Thumbnail {
    pub path: PathBuf,
    /// When the key frame it shows was recorded.
    pub at: DateTime<Utc>,
    pub width: u32,
    pub height: u32,
}

/// The JPEG of the key frame at or before `at` in `app`/`stream`, `width` pixels wide.
pub fn thumbnail(
    catalog: &Catalog,
    files: &dyn tapedeck_recorder::files::Locate,
    cache: &Path,
    app: &str,
    stream: &str,
    at: DateTime<Utc>,
    width: u32,
) -> Result<Thumbnail, ThumbnailError> {
    if !(MIN_WIDTH..=MAX_WIDTH).contains(&width) {
        return Err(ThumbnailError::Width(width));
    }
    let label = format!("{app}/{stream}");
    let frame = key_frame(catalog, files, app, stream, at)?;
    if frame.video_codec != VideoCodec::H264 {
        return Err(ThumbnailError::Codec(codec_name(frame.video_codec)));
    }
    let (frame_ms, annex_b) = (frame.at.timestamp_millis(), frame.annex_b);
    let cached = cache.join(format!(
        "{}-{frame_ms}-{width}.jpg",
        hex::encode(label.as_bytes())
    ));
    let at = frame.at;
    if let Ok(meta) = std::fs::metadata(&cached) {
        if meta.len() > 0 {
            let (w, h) = jpeg_size(&cached).unwrap_or((width, 0));
            return Ok(Thumbnail {
                path: cached,
                at,
                width: w,
                height: h,
            });
        }
    }
    let (rgb, w, h) = decode(&annex_b)?;
    let (small, tw, th) = downscale(&rgb, w, h, width);
    let mut jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpeg, 85)
        .encode(&small, tw as u16, th as u16, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| ThumbnailError::Write(e.to_string()))?;
    std::fs::create_dir_all(cache).map_err(|e| ThumbnailError::Write(e.to_string()))?;
    tapedeck_config::document::write_atomically(&cached, &jpeg)
        .map_err(|e| ThumbnailError::Write(e.to_string()))?;
    trim_cache(cache, CACHE_LIMIT);
    Ok(Thumbnail {
        path: cached,
        at,
        width: tw,
        height: th,
    })
}

/// A key frame as Annex B (parameter sets first), for a decoder elsewhere: the app's
/// webview decodes H.265 with WebCodecs where the platform can.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyFrame {
    /// RFC 6381 codec string (`avc1.64001f`, `hvc1.1.6.L93.B0`), as WebCodecs takes it.
    pub codec: String,
    pub video_codec: VideoCodec,
    pub width: u32,
    pub height: u32,
    /// When it was recorded.
    pub at: DateTime<Utc>,
    pub annex_b: Vec<u8>,
}

/// The key frame at or before `at` in `app`/`stream` (within the minute before it).
pub fn key_frame(
    catalog: &Catalog,
    files: &dyn tapedeck_recorder::files::Locate,
    app: &str,
    stream: &str,
    at: DateTime<Utc>,
) -> Result<KeyFrame, ThumbnailError> {
    let label = format!("{app}/{stream}");
    let at_ms = at.timestamp_millis();
    // The segment holding `at`, else the last one before it (within a minute).
    let segments = catalog.segments(app, stream, at_ms - 60_000, at_ms + 1)?;
    let Some(segment) = segments.iter().rev().find(|s| s.start_ms <= at_ms) else {
        return Err(
            if catalog.spans(app, stream, at_ms, at_ms + 1)?.is_empty() {
                ThumbnailError::NothingThere(label)
            } else {
                ThumbnailError::NoSegments(label)
            },
        );
    };
    let path = files
        .locate(&segment.key)
        .map_err(|detail| ThumbnailError::Read {
            path: segment.key.clone(),
            detail,
        })?;
    let file = std::fs::File::open(&path).map_err(|e| ThumbnailError::Read {
        path: path.display().to_string(),
        detail: e.to_string(),
    })?;
    let (frame_ms, annex_b, config) =
        key_frame_at(file, segment.start_ms, at_ms).map_err(|e| match e {
            KeyFrameError::None => ThumbnailError::NoKeyFrame(path.display().to_string()),
            KeyFrameError::Demux(d) => ThumbnailError::Read {
                path: path.display().to_string(),
                detail: d,
            },
        })?;
    Ok(KeyFrame {
        codec: config.codec_string.clone(),
        video_codec: config.codec,
        width: config.width,
        height: config.height,
        at: DateTime::from_timestamp_millis(frame_ms).unwrap_or(at),
        annex_b,
    })
}

/// How people name a codec.
fn codec_name(c: VideoCodec) -> &'static str {
    match c {
        VideoCodec::H264 => "H.264",
        _ => "H.265",
    }
}

enum KeyFrameError {
    None,
    Demux(String),
}

/// The last key frame at or before `at_ms` in a TS segment starting at `start_ms`: its
/// wall time and the picture as Annex B (parameter sets first).
fn key_frame_at(
    mut ts: impl std::io::Read,
    start_ms: i64,
    at_ms: i64,
) -> Result<(i64, Vec<u8>, VideoConfig), KeyFrameError> {
    /// Read and demuxed a piece at a time: the search stops at the first key frame after
    /// `at`, so the rest of a 30 s segment is never read.
    const CHUNK: usize = 188 * 348;
    let mut buf = vec![0u8; CHUNK];
    let mut demux = TsDemuxer::new();
    let mut events = Vec::new();
    let mut config = None;
    let mut first: Option<MediaTime> = None;
    let mut best: Option<(i64, Vec<u8>, VideoConfig)> = None;
    let mut flushed = false;
    while !flushed {
        let n = read_full(&mut ts, &mut buf).map_err(|e| KeyFrameError::Demux(e.to_string()))?;
        let pushed = if n > 0 {
            demux.push(&buf[..n], &mut events)
        } else {
            flushed = true;
            demux.flush(&mut events)
        };
        pushed.map_err(|e| KeyFrameError::Demux(e.to_string()))?;
        for ev in events.drain(..) {
            match ev {
                MediaEvent::VideoConfig(c) => config = Some(c),
                MediaEvent::Frame(f) if f.is_video() => {
                    let t0 = *first.get_or_insert(f.pts);
                    if !f.keyframe {
                        continue;
                    }
                    let Some(c) = &config else { continue };
                    let wall = start_ms + (f.pts - t0).as_millis();
                    if wall > at_ms && best.is_some() {
                        return best.ok_or(KeyFrameError::None);
                    }
                    best = Some((wall, annex_b_of(c, &f.data), (**c).clone()));
                }
                _ => {}
            }
        }
    }
    best.ok_or(KeyFrameError::None)
}

/// Fills `buf` unless the input ends first; the bytes read.
fn read_full(r: &mut impl std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// A key frame as Annex B: the parameter sets, then its NAL units (frames carry 4-byte
/// length prefixes; start codes instead).
fn annex_b_of(c: &VideoConfig, data: &[u8]) -> Vec<u8> {
    let mut annex_b = Vec::with_capacity(data.len() + 128);
    for ps in &c.parameter_sets {
        annex_b.extend_from_slice(&[0, 0, 0, 1]);
        annex_b.extend_from_slice(ps);
    }
    let mut rest = data;
    while rest.len() >= 4 {
        let n = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let Some(nal) = rest.get(4..4 + n) else { break };
        annex_b.extend_from_slice(&[0, 0, 0, 1]);
        annex_b.extend_from_slice(nal);
        rest = &rest[4 + n..];
    }
    annex_b
}

/// One key frame to RGB.
fn decode(annex_b: &[u8]) -> Result<(Vec<u8>, u32, u32), ThumbnailError> {
    use openh264::formats::YUVSource;
    let mut decoder =
        openh264::decoder::Decoder::new().map_err(|e| ThumbnailError::Decode(e.to_string()))?;
    let mut picture = None;
    for nal in openh264::nal_units(annex_b) {
        if let Ok(Some(yuv)) = decoder.decode(nal) {
            let (w, h) = yuv.dimensions();
            let mut rgb = vec![0u8; w * h * 3];
            yuv.write_rgb8(&mut rgb);
            picture = Some((rgb, w as u32, h as u32));
        }
    }
    if picture.is_none() {
        // Some decoders hold the picture until told the stream ended.
        if let Ok(frames) = decoder.flush_remaining() {
            if let Some(yuv) = frames.into_iter().last() {
                let (w, h) = yuv.dimensions();
                let mut rgb = vec![0u8; w * h * 3];
                yuv.write_rgb8(&mut rgb);
                picture = Some((rgb, w as u32, h as u32));
            }
        }
    }
    picture.ok_or_else(|| ThumbnailError::Decode("the decoder gave no picture".into()))
}

/// A box-filtered copy `width` wide (never wider than the source), height in proportion.
pub fn downscale(rgb: &[u8], w: u32, h: u32, width: u32) -> (Vec<u8>, u32, u32) {
    let tw = width.min(w).max(1);
    let th = ((h as u64 * tw as u64 + w as u64 / 2) / w as u64).max(1) as u32;
    let mut out = vec![0u8; (tw * th * 3) as usize];
    for ty in 0..th {
        let y0 = ty as u64 * h as u64 / th as u64;
        let y1 = (((ty + 1) as u64 * h as u64 / th as u64).max(y0 + 1)).min(h as u64);
        for tx in 0..tw {
            let x0 = tx as u64 * w as u64 / tw as u64;
            let x1 = (((tx + 1) as u64 * w as u64 / tw as u64).max(x0 + 1)).min(w as u64);
            let mut sum = [0u64; 3];
            for y in y0..y1 {
                let row = (y * w as u64 * 3) as usize;
                for x in x0..x1 {
                    let i = row + (x * 3) as usize;
                    sum[0] += rgb[i] as u64;
                    sum[1] += rgb[i + 1] as u64;
                    sum[2] += rgb[i + 2] as u64;
                }
            }
            let n = (y1 - y0) * (x1 - x0);
            let o = ((ty * tw + tx) * 3) as usize;
            for c in 0..3 {
                out[o + c] = ((sum[c] + n / 2) / n) as u8;
            }
        }
    }
    (out, tw, th)
}

/// A JPEG's size from its SOF marker.
fn jpeg_size(path: &Path) -> Option<(u32, u32)> {
    let b = std::fs::read(path).ok()?;
    let mut i = 2;
    while i + 9 < b.len() {
        if b[i] != 0xFF {
            return None;
        }
        let marker = b[i + 1];
        let len = u16::from_be_bytes([b[i + 2], b[i + 3]]) as usize;
        if (0xC0..=0xC3).contains(&marker) {
            let h = u16::from_be_bytes([b[i + 5], b[i + 6]]) as u32;
            let w = u16::from_be_bytes([b[i + 7], b[i + 8]]) as u32;
            return Some((w, h));
        }
        i += 2 + len;
    }
    None
}

/// Removes the oldest cached thumbnails until the folder is under `limit` bytes.
fn trim_cache(cache: &Path, limit: u64) {
    let Ok(dir) = std::fs::read_dir(cache) else {
        return;
    };
    let mut files: Vec<(std::time::SystemTime, u64, PathBuf)> = dir
        .flatten()
        .filter_map(|e| {
            let m = e.metadata().ok()?;
            m.is_file().then(|| {
                (
                    m.modified().unwrap_or(std::time::UNIX_EPOCH),
                    m.len(),
                    e.path(),
                )
            })
        })
        .collect();
    let mut total: u64 = files.iter().map(|f| f.1).sum();
    if total <= limit {
        return;
    }
    files.sort();
    for (_, len, path) in files {
        if total <= limit {
            break;
        }
        if std::fs::remove_file(&path).is_ok() {
            total -= len;
        }
    }
}

/// The cache folder of a data folder.
pub fn cache_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("state").join("thumbnails")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downscaling_averages_boxes_and_keeps_the_aspect() {
        // 4x2: left half black, right half white.
        let mut rgb = Vec::new();
        for _ in 0..2 {
            for x in 0..4 {
                let v = if x < 2 { 0 } else { 255 };
                rgb.extend_from_slice(&[v, v, v]);
            }
        }
        let (out, w, h) = downscale(&rgb, 4, 2, 2);
        assert_eq!((w, h), (2, 1));
        assert_eq!(out, [0, 0, 0, 255, 255, 255]);
        let (_, w, h) = downscale(&vec![0; 1280 * 720 * 3], 1280, 720, 320);
        assert_eq!((w, h), (320, 180));
        let (_, w, _) = downscale(&rgb, 4, 2, 100);
        assert_eq!(w, 4, "never wider than the source");
    }

    #[test]
    fn the_cache_keeps_the_newest_under_its_limit() {
        let dir = std::env::temp_dir().join(format!("tapedeck-thumbs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..5 {
            std::fs::write(dir.join(format!("{i}.jpg")), vec![0u8; 100]).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        trim_cache(&dir, 250);
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["3.jpg", "4.jpg"]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
