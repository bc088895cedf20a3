//! `tapedeck catalog import PROFILE`: the bucket as the catalog. A machine with only a
//! storage profile learns what every recorder wrote under the profile's prefix, from the
//! tags Tapedeck writes into its files (see `tapedeck_recorder::tags`), reading as little as
//! it can:
//!
//! - a recording's playlist (`#EXT-X-TAPEDECK-RECORDING`) is read whole (it is text): its
//!   segments, their times, gaps and chapters; sizes come from the listing; codecs and
//!   picture size from the first 188 KiB (1,024 TS packets) of its first segment;
//! - a custom index (`#EXT-X-TAPEDECK-INDEX`) is read whole;
//! - an MP4 or FLV is read by ranges: box headers and `udta`, or the `onMetaData` tag.
//!
//! No media is downloaded. Rows are marked with the profile, so a request that needs the
//! bytes fetches them then ([`crate::remote`]). Objects already read are remembered by
//! entity tag, size and time: importing again reads only what is new or rewritten (a playlist that grew).
//! Recordings are told apart by their ids (`app/stream/<start ms>`), so several recorders
//! writing one bucket merge into one catalog, and recordings this machine has itself are
//! left as they are.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tapedeck_catalog::{Catalog, Chapter, File, FileKind, Segment};
use tapedeck_media::hls::MediaPlaylist;
use tapedeck_recorder::rebuild::{probe_ts, recording_rows, Probe, RecordingRows};
use tapedeck_recorder::tags::{FileTag, IndexTag};
use tapedeck_storage::read::{self, Listed};
use tapedeck_storage::{Bucket, StorageError};
use tokio::task::JoinSet;

use crate::error::EngineError;

/// Bytes of a segment read for its codecs and picture size.
const SEGMENT_HEAD: u64 = 188 * 1024;
/// Block size of ranged reads of MP4 and FLV files.
const BLOCK: u64 = 64 * 1024;
/// Objects read at once.
const CONCURRENCY: usize = 16;

/// What an import found and added.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct ImportReport {
    pub profile: String,
    /// Recordings the bucket holds (read now or by an earlier import).
    pub recordings: u64,
    /// Recording files in the bucket: segments, playlists, MP4 and FLV files.
    pub files: u64,
    /// Custom indexes the bucket holds.
    pub indexes: u64,
    /// Segments, files and indexes this import added to the catalog.
    pub new_files: u64,
    /// Playlists, MP4, FLV and index files read this time (the rest were read before and
    /// have not changed).
    pub read: u64,
    /// Chapters added.
    pub chapters: u64,
    /// What could not be read, with why.
    pub skipped: Vec<Skipped>,
}

/// An object an import left out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Skipped {
    pub key: String,
    pub why: String,
}

/// How far an import is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct ImportProgress {
    /// Objects to read (new or changed playlists, MP4, FLV and index files).
    pub total: u64,
    pub done: u64,
}

/// What one object said.
enum Found {
    Recording {
        recording: String,
        segments: Vec<Segment>,
        playlist: File,
        chapters: Vec<Chapter>,
        skipped: Vec<Skipped>,
    },
    Index(tapedeck_catalog::IndexRecord),
    File(File),
    /// Read, nothing to add (a daily index; an MP4 or FLV without a tag).
    Nothing,
}

/// Imports what `bucket` holds into `catalog` (see the module's description).
pub async fn import(
    catalog: Arc<Catalog>,
    bucket: Bucket,
    progress: &mut (dyn FnMut(ImportProgress) + Send),
) -> Result<ImportReport, EngineError> {
    let profile = bucket.profile.name.clone();
    let listed = read::list(&bucket).await?;
    let sizes: Arc<HashMap<String, u64>> =
        Arc::new(listed.iter().map(|l| (l.key.clone(), l.bytes)).collect());
    let mut todo = Vec::new();
    for l in &listed {
        if !matches!(extension(&l.key), "m3u8" | "mp4" | "flv") {
            continue;
        }
        if catalog.imported_etag(&profile, &l.key)?.as_deref() != Some(l.version().as_str()) {
            todo.push(l.clone());
        }
    }
    let mut report = ImportReport {
        profile: profile.clone(),
        files: listed
            .iter()
            .filter(|l| matches!(extension(&l.key), "ts" | "m3u8" | "mp4" | "flv"))
            .count() as u64,
        ..ImportReport::default()
    };
    let total = todo.len() as u64;
    progress(ImportProgress { total, done: 0 });
    let mut tasks: JoinSet<(Listed, Result<Found, String>)> = JoinSet::new();
    let mut queue = todo.into_iter();
    let mut done = 0;
    loop {
        while tasks.len() < CONCURRENCY {
            let Some(object) = queue.next() else { break };
            let (bucket, sizes) = (bucket.clone(), sizes.clone());
            tasks.spawn(async move {
                let found = read_object(&bucket, &object, &sizes).await;
                (object, found)
            });
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        let (object, found) =
            joined.map_err(|e| EngineError::internal(format!("an import task failed: {e}")))?;
        match found {
            Ok(found) => {
                let catalog = catalog.clone();
                let (profile, key, etag) = (profile.clone(), object.key.clone(), object.version());
                let added = tokio::task::spawn_blocking(move || {
                    let added = add(&catalog, &profile, found)?;
                    // An incomplete playlist is remembered without its version, so the
                    // next import reads it again (and counts its recording meanwhile).
                    catalog.set_imported(
                        &profile,
                        &key,
                        if added.complete { &etag } else { "" },
                        added.recording.as_deref(),
                        added.index,
                    )?;
                    Ok::<_, EngineError>(added)
                })
                .await
                .map_err(|e| EngineError::internal(format!("an import task failed: {e}")))??;
                report.new_files += added.new;
                report.chapters += added.chapters;
                report.skipped.extend(added.skipped);
                report.read += 1;
            }
            Err(why) => report.skipped.push(Skipped {
                key: object.key,
                why,
            }),
        }
        done += 1;
        progress(ImportProgress { total, done });
    }
    let (recordings, indexes) = catalog.imported_counts(&profile)?;
    report.recordings = recordings;
    report.indexes = indexes;
    Ok(report)
}

/// What one object added to the catalog.
struct Added {
    /// Everything it lists was there: it need not be read again until it changes. A
    /// playlist naming segments the bucket does not have yet (an upload still retrying) is
    /// read again by the next import.
    complete: bool,
    new: u64,
    chapters: u64,
    recording: Option<String>,
    index: bool,
    skipped: Vec<Skipped>,
}

fn add(catalog: &Catalog, profile: &str, found: Found) -> Result<Added, EngineError> {
    let mut added = Added {
        complete: true,
        new: 0,
        chapters: 0,
        recording: None,
        index: false,
        skipped: Vec::new(),
    };
    match found {
        Found::Recording {
            recording,
            segments,
            playlist,
            chapters,
            skipped,
        } => {
            let rows = catalog.add_remote(profile, &segments, std::slice::from_ref(&playlist))?;
            added.new = (rows.segments + rows.files) as u64;
            for c in &chapters {
                if catalog.add_chapter_once(c)? {
                    added.chapters += 1;
                }
            }
            added.recording = Some(recording);
            added.complete = skipped.is_empty();
            added.skipped = skipped;
        }
        Found::File(file) => {
            let rows = catalog.add_remote(profile, &[], std::slice::from_ref(&file))?;
            added.new = rows.files as u64;
            added.recording = Some(file.recording);
        }
        Found::Index(record) => {
            added.index = true;
            if catalog.add_index_if_new(&record)? {
                added.new = 1;
            }
        }
        Found::Nothing => {}
    }
    Ok(added)
}

fn extension(key: &str) -> &str {
    key.rsplit_once('.').map_or("", |(_, x)| x)
}

async fn read_object(
    bucket: &Bucket,
    object: &Listed,
    sizes: &HashMap<String, u64>,
) -> Result<Found, String> {
    match extension(&object.key) {
        "m3u8" => {
            let bytes = read::read_all(bucket, &object.key)
                .await
                .map_err(|e| e.to_string())?;
            let text = std::str::from_utf8(&bytes)
                .map_err(|_| "the playlist is not UTF-8 text".to_string())?;
            read_playlist(bucket, &object.key, text, sizes).await
        }
        kind @ ("mp4" | "flv") => {
            let (bucket, key, len) = (bucket.clone(), object.key.clone(), object.bytes);
            let mp4 = kind == "mp4";
            tokio::task::spawn_blocking(move || {
                let reader = Ranged::new(bucket, key.clone(), len);
                let tag = if mp4 {
                    FileTag::read_mp4_from(reader)
                } else {
                    FileTag::read_flv_from(reader)
                }?;
                let Some(tag) = tag else {
                    return Ok(Found::Nothing);
                };
                let Some(end_ms) = tag.end_ms else {
                    return Err("its tag has no end: the file was not finalized".to_string());
                };
                Ok(Found::File(File {
                    recording: tag.recording,
                    app: tag.app,
                    stream: tag.stream,
                    kind: if mp4 { FileKind::Mp4 } else { FileKind::Flv },
                    key,
                    start_ms: tag.start_ms,
                    end_ms,
                    bytes: len,
                }))
            })
            .await
            .map_err(|e| format!("reading the tag failed: {e}"))?
        }
        _ => Ok(Found::Nothing),
    }
}

async fn read_playlist(
    bucket: &Bucket,
    key: &str,
    text: &str,
    sizes: &HashMap<String, u64>,
) -> Result<Found, String> {
    let playlist = MediaPlaylist::parse(text).map_err(|e| e.to_string())?;
    if let Some(tag) = &playlist.index {
        // Its id was the recorder's: the catalog gives it one of its own.
        return Ok(Found::Index(IndexTag::parse(tag)?.record(key.to_string())));
    }
    // Sizes from the listing; codecs and picture size below, from one segment's head.
    let rows = recording_rows(key, &playlist, text.len() as u64, |seg_key| {
        let bytes = sizes.get(seg_key).copied().ok_or_else(|| {
            format!("{key} lists it but the bucket does not have it (not uploaded yet, or deleted)")
        })?;
        Ok(Probe {
            bytes,
            codecs: String::new(),
            width: 0,
            height: 0,
            // Every segment opens on a key frame.
            keyframes: 1,
        })
    })?;
    let Some(RecordingRows {
        recording,
        mut segments,
        playlist,
        skipped,
        chapters,
        ..
    }) = rows
    else {
        return Ok(Found::Nothing); // a daily index
    };
    let Some(playlist) = playlist else {
        return Err(format!(
            "recording {recording} has no segment in the bucket"
        ));
    };
    // Codecs and picture size from the head of the first segment: a recording keeps them
    // (a change of either starts a new recording).
    if let Some(first) = segments.first() {
        let head = read::read_range(bucket, &first.key, 0, SEGMENT_HEAD)
            .await
            .map_err(|e| e.to_string())?;
        let probe = probe_ts(&head, false).map_err(|e| format!("{}: {e}", first.key))?;
        for r in &mut segments {
            r.codecs.clone_from(&probe.codecs);
            r.width = probe.width;
            r.height = probe.height;
        }
    }
    let skipped = skipped
        .into_iter()
        .map(|(key, why)| Skipped { key, why })
        .collect();
    Ok(Found::Recording {
        recording,
        segments,
        playlist,
        chapters,
        skipped,
    })
}

/// An object of a bucket read through `Read + Seek` by ranged GETs of 64 KiB blocks (the
/// last few kept): for tag readers that skip from box header to box header. Blocking: use
/// it on a blocking thread.
struct Ranged {
    bucket: Bucket,
    key: String,
    len: u64,
    pos: u64,
    blocks: Vec<(u64, Bytes)>,
}

impl Ranged {
    fn new(bucket: Bucket, key: String, len: u64) -> Ranged {
        Ranged {
            bucket,
            key,
            len,
            pos: 0,
            blocks: Vec::new(),
        }
    }

    fn block(&mut self, index: u64) -> std::io::Result<Bytes> {
        if let Some((_, b)) = self.blocks.iter().find(|(i, _)| *i == index) {
            return Ok(b.clone());
        }
        let fetched: Result<Bytes, StorageError> = crate::remote::block_on(read::read_range(
            &self.bucket,
            &self.key,
            index * BLOCK,
            BLOCK,
        ))
        .map_err(|e| std::io::Error::other(e.to_string()))?;
        let bytes = fetched.map_err(|e| std::io::Error::other(e.to_string()))?;
        if self.blocks.len() >= 4 {
            self.blocks.remove(0);
        }
        self.blocks.push((index, bytes.clone()));
        Ok(bytes)
    }
}

impl Read for Ranged {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.len || buf.is_empty() {
            return Ok(0);
        }
        let block = self.block(self.pos / BLOCK)?;
        let at = (self.pos % BLOCK) as usize;
        if at >= block.len() {
            return Ok(0);
        }
        let n = buf.len().min(block.len() - at);
        buf[..n].copy_from_slice(&block[at..at + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Ranged {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let next = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = next.ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start")
        })?;
        Ok(self.pos)
    }
}
