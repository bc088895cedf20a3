//! The catalog: durable local state of everything Tapedeck recorded, in SQLite (WAL).
//!
//! The files stay the truth: every row here but the upload queue can be rebuilt from the
//! recordings folder (`tapedeck catalog rebuild`): recordings and segments from the
//! recordings' playlists, MP4/FLV files and custom indexes from the tags written into them. The catalog makes time
//! questions fast: which spans were recorded between two times, which segments a custom
//! index needs.
//!
//! Times are Unix milliseconds (UTC) of wall-clock time, as the recorder maps media time
//! onto it (see ARCHITECTURE.md, "Media time vs wall-clock time").

#![forbid(unsafe_code)]

mod kind;
mod remote;
mod runs;
mod schema;
mod uploads;

pub use kind::FileKind;
pub use remote::Added;
pub use runs::{NewRun, Run, RunCounts, RunEnd, RunState, MAX_RUN_ATTEMPTS};
pub use uploads::{mtime_ms, NewUpload, Part, Upload, UploadCounts, UploadState};

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("catalog: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("catalog schema version {found} is newer than this Tapedeck knows ({known}); upgrade Tapedeck")]
    TooNew { found: i64, known: i64 },
}

/// One HLS segment.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct Segment {
    /// The recording it belongs to: `app/stream/<start ms>`.
    pub recording: String,
    pub app: String,
    pub stream: String,
    pub key: String,
    pub start_ms: i64,
    pub duration_ms: i64,
    pub bytes: u64,
    pub codecs: String,
    pub width: u32,
    pub height: u32,
    pub keyframes: u32,
    /// The segment follows a gap (a resume) in its recording.
    pub discontinuity: bool,
}

/// A segment as a custom index lists it (borrowed from the query's row).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IndexSegment<'a> {
    pub recording_id: i64,
    pub key: &'a str,
    pub start_ms: i64,
    pub duration_ms: i64,
    pub width: u32,
    pub height: u32,
    pub discontinuity: bool,
}

/// A finished playlist, MP4 or FLV.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct File {
    pub recording: String,
    pub app: String,
    pub stream: String,
    /// `playlist`, `mp4`, `flv` (a recording's), or `watched`.
    pub kind: FileKind,
    pub key: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub bytes: u64,
}

/// What was recorded: one row per recording overlapping a range.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct Span {
    pub recording: String,
    pub start_ms: i64,
    pub end_ms: i64,
    /// Media seconds recorded (gaps within the recording excluded).
    pub duration: f64,
    /// Keys of the recording's files (playlists, mp4, flv).
    pub objects: Vec<String>,
}

/// A stream with anything recorded: the Recordings screen's list.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct RecordedStream {
    pub app: String,
    pub stream: String,
    /// Start of its first recording and end of its last (UTC ms).
    pub first_ms: i64,
    pub last_ms: i64,
    pub recordings: u64,
    /// Bytes of its segments and files.
    pub bytes: u64,
}

/// A recording row: id, uid, start and end (ms), media milliseconds of its segments.
type RecordingRow = (i64, String, i64, i64, i64);

/// A recording's media seconds: its segments' time, or (MP4/FLV only, no segments) its
/// file time.
fn span_duration(start_ms: i64, end_ms: i64, media_ms: i64) -> f64 {
    if media_ms > 0 {
        media_ms as f64 / 1000.0
    } else {
        (end_ms - start_ms) as f64 / 1000.0
    }
}

/// A chapter marker: a title at a wall-clock time of a recording.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Chapter {
    pub app: String,
    pub stream: String,
    /// The recording's id (`app/stream/<start ms>`).
    pub recording: String,
    pub at_ms: i64,
    pub title: String,
}

/// A custom index file.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct IndexRecord {
    pub id: i64,
    pub app: String,
    pub stream: String,
    pub object: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub duration: f64,
    pub width: u32,
    pub height: u32,
    pub created_ms: i64,
}

/// A new custom index (the id and creation time are the catalog's).
#[derive(Clone, Debug)]
pub struct NewIndex {
    pub app: String,
    pub stream: String,
    pub object: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub duration: f64,
    pub width: u32,
    pub height: u32,
    pub created_ms: i64,
}

pub struct Catalog {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Catalog")
    }
}

impl Catalog {
    /// Opens (creating and migrating as needed) the catalog at `path`.
    pub fn open(path: &Path) -> Result<Catalog, CatalogError> {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let conn = Connection::open(path).map_err(|source| CatalogError::Open {
            path: path.display().to_string(),
            source,
        })?;
        Catalog::setup(conn)
    }

    /// A catalog in memory (tests, benchmarks).
    pub fn in_memory() -> Result<Catalog, CatalogError> {
        Catalog::setup(Connection::open_in_memory()?)
    }

    fn setup(conn: Connection) -> Result<Catalog, CatalogError> {
        // WAL: readers (the CLI, the app) never block the recorder, and a crash loses at most
        // the last transaction. NORMAL sync is durable across process crashes in WAL mode.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        schema::migrate(&conn)?;
        Ok(Catalog {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic mid-statement leaves SQLite consistent (it rolls back): keep going.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn touch_recording(
        tx: &Connection,
        recording: &str,
        app: &str,
        stream: &str,
        start: i64,
        end: i64,
    ) -> Result<i64, CatalogError> {
        tx.execute(
            "INSERT INTO recordings (uid, app, stream, start_ms, end_ms) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(uid) DO UPDATE SET start_ms = min(start_ms, excluded.start_ms), end_ms = max(end_ms, excluded.end_ms)",
            params![recording, app, stream, start, end],
        )?;
        Ok(tx.query_row(
            "SELECT id FROM recordings WHERE uid = ?1",
            [recording],
            |r| r.get(0),
        )?)
    }

    /// Adds a finished segment (again for the same key: replaced).
    pub fn add_segment(&self, s: &Segment) -> Result<(), CatalogError> {
        self.add_segment_queued(s, None)
    }

    /// Adds a finished segment and, in the same transaction, queues its upload.
    pub fn add_segment_queued(
        &self,
        s: &Segment,
        upload: Option<&NewUpload>,
    ) -> Result<(), CatalogError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        insert_segment(&tx, s)?;
        if let Some(u) = upload {
            uploads::enqueue(&tx, u)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Adds many segments in one transaction (a rebuild, a benchmark).
    pub fn add_segments(&self, segments: &[Segment]) -> Result<(), CatalogError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for s in segments {
            insert_segment(&tx, s)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Adds a finished file.
    pub fn add_file(&self, f: &File) -> Result<(), CatalogError> {
        self.add_file_queued(f, None)
    }

    /// Adds a finished file and, in the same transaction, queues its upload.
    pub fn add_file_queued(
        &self,
        f: &File,
        upload: Option<&NewUpload>,
    ) -> Result<(), CatalogError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let rec =
            Catalog::touch_recording(&tx, &f.recording, &f.app, &f.stream, f.start_ms, f.end_ms)?;
        tx.execute(
            "INSERT OR REPLACE INTO files (recording_id, kind, key, start_ms, end_ms, bytes) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![rec, f.kind, f.key, f.start_ms, f.end_ms, f.bytes as i64],
        )?;
        if let Some(u) = upload {
            uploads::enqueue(&tx, u)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Segments of a stream overlapping `[start, end)`, in time order.
    pub fn segments(
        &self,
        app: &str,
        stream: &str,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<Segment>, CatalogError> {
        let conn = self.conn();
        let mut q = conn.prepare_cached(
            "SELECT r.uid, s.app, s.stream, s.key, s.start_ms, s.duration_ms, s.bytes, s.codecs, s.width, s.height, s.keyframes, s.discontinuity
             FROM segments s JOIN recordings r ON r.id = s.recording_id
             WHERE s.app = ?1 AND s.stream = ?2 AND s.start_ms < ?4 AND s.end_ms > ?3
             ORDER BY s.start_ms",
        )?;
        let rows = q.query_map(params![app, stream, start_ms, end_ms], |r| {
            Ok(Segment {
                recording: r.get(0)?,
                app: r.get(1)?,
                stream: r.get(2)?,
                key: r.get(3)?,
                start_ms: r.get(4)?,
                duration_ms: r.get(5)?,
                bytes: r.get::<_, i64>(6)? as u64,
                codecs: r.get(7)?,
                width: r.get(8)?,
                height: r.get(9)?,
                keyframes: r.get(10)?,
                discontinuity: r.get(11)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Calls `each` with what a custom index needs of every segment overlapping
    /// `[start, end)`, in time order, without copying rows: a month is 86,400 of them.
    pub fn for_each_index_segment(
        &self,
        app: &str,
        stream: &str,
        start_ms: i64,
        end_ms: i64,
        mut each: impl FnMut(IndexSegment<'_>),
    ) -> Result<(), CatalogError> {
        let conn = self.conn();
        let mut q = conn.prepare_cached(
            "SELECT recording_id, key, start_ms, duration_ms, width, height, discontinuity FROM segments
             WHERE app = ?1 AND stream = ?2 AND start_ms < ?4 AND end_ms > ?3 ORDER BY start_ms",
        )?;
        let mut rows = q.query(params![app, stream, start_ms, end_ms])?;
        while let Some(r) = rows.next()? {
            each(IndexSegment {
                recording_id: r.get(0)?,
                key: r.get_ref(1)?.as_str().map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        1,
                        rusqlite::types::Type::Text,
                        Box::new(e),
                    )
                })?,
                start_ms: r.get(2)?,
                duration_ms: r.get(3)?,
                width: r.get(4)?,
                height: r.get(5)?,
                discontinuity: r.get(6)?,
            });
        }
        Ok(())
    }

    /// Recordings of a stream overlapping `[start, end)`: one row each, in time order.
    pub fn spans(
        &self,
        app: &str,
        stream: &str,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<Span>, CatalogError> {
        let rows = self.recording_rows(app, stream, start_ms, end_ms)?;
        let conn = self.conn();
        let mut files = conn.prepare_cached(
            "SELECT key FROM files WHERE recording_id = ?1 ORDER BY start_ms, key",
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, uid, start, end, media_ms) in rows {
            let objects = files
                .query_map([id], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            out.push(Span {
                recording: uid,
                start_ms: start,
                end_ms: end,
                duration: span_duration(start, end, media_ms),
                objects,
            });
        }
        Ok(out)
    }

    /// Recordings of a stream overlapping `[start, end)`: id, uid, start, end and the media
    /// milliseconds of their segments, in time order.
    fn recording_rows(
        &self,
        app: &str,
        stream: &str,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<RecordingRow>, CatalogError> {
        let conn = self.conn();
        let mut q = conn.prepare_cached(
            "SELECT r.id, r.uid, r.start_ms, r.end_ms,
                    (SELECT coalesce(sum(duration_ms), 0) FROM segments s WHERE s.recording_id = r.id)
             FROM recordings r
             WHERE r.app = ?1 AND r.stream = ?2 AND r.start_ms < ?4 AND r.end_ms > ?3
             ORDER BY r.start_ms",
        )?;
        let rows = q
            .query_map(params![app, stream, start_ms, end_ms], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Every stream with a recording, by app and stream.
    pub fn recorded_streams(&self) -> Result<Vec<RecordedStream>, CatalogError> {
        let conn = self.conn();
        let mut q = conn.prepare_cached(
            "SELECT r.app, r.stream, min(r.start_ms), max(r.end_ms), count(*),
                    coalesce((SELECT sum(bytes) FROM segments s WHERE s.app = r.app AND s.stream = r.stream), 0)
                  + coalesce((SELECT sum(f.bytes) FROM files f JOIN recordings r2 ON r2.id = f.recording_id
                               WHERE r2.app = r.app AND r2.stream = r.stream), 0)
             FROM recordings r GROUP BY r.app, r.stream ORDER BY r.app, r.stream",
        )?;
        let rows = q.query_map([], |r| {
            Ok(RecordedStream {
                app: r.get(0)?,
                stream: r.get(1)?,
                first_ms: r.get(2)?,
                last_ms: r.get(3)?,
                recordings: r.get::<_, i64>(4)? as u64,
                bytes: r.get::<_, i64>(5)? as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// What is recorded of a stream in `[start, end)` as continuous pieces, for a timeline:
    /// a recording's segments back to back make one piece; a reconnect inside its
    /// interruption window (a discontinuity, or a gap over half a second) starts another
    /// piece of the same recording. Recordings without segments (MP4/FLV only) are one
    /// piece each. `duration` is the piece's media time; `objects` is empty.
    pub fn coverage(
        &self,
        app: &str,
        stream: &str,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<Span>, CatalogError> {
        let recordings = self.recording_rows(app, stream, start_ms, end_ms)?;
        let uids: std::collections::HashMap<i64, &str> =
            recordings.iter().map(|r| (r.0, r.1.as_str())).collect();
        let mut pieces: Vec<(i64, Span)> = Vec::new();
        self.for_each_index_segment(app, stream, start_ms, end_ms, |s| {
            let end = s.start_ms + s.duration_ms;
            if let Some((rid, last)) = pieces.last_mut() {
                if *rid == s.recording_id && !s.discontinuity && s.start_ms <= last.end_ms + 500 {
                    last.end_ms = last.end_ms.max(end);
                    last.duration += s.duration_ms as f64 / 1000.0;
                    return;
                }
            }
            pieces.push((
                s.recording_id,
                Span {
                    recording: uids
                        .get(&s.recording_id)
                        .map(|u| u.to_string())
                        .unwrap_or_default(),
                    start_ms: s.start_ms,
                    end_ms: end,
                    duration: s.duration_ms as f64 / 1000.0,
                    objects: Vec::new(),
                },
            ));
        })?;
        let with_pieces: std::collections::HashSet<i64> =
            pieces.iter().map(|(id, _)| *id).collect();
        let mut out: Vec<Span> = pieces.into_iter().map(|(_, s)| s).collect();
        for (id, uid, start, end, media_ms) in recordings {
            if !with_pieces.contains(&id) {
                out.push(Span {
                    recording: uid,
                    start_ms: start,
                    end_ms: end,
                    duration: span_duration(start, end, media_ms),
                    objects: Vec::new(),
                });
            }
        }
        out.sort_by_key(|s| s.start_ms);
        Ok(out)
    }

    pub fn add_index(&self, i: &NewIndex) -> Result<IndexRecord, CatalogError> {
        self.add_index_queued(i, None)
    }

    /// Adds a custom index and, in the same transaction, queues its upload.
    pub fn add_index_queued(
        &self,
        i: &NewIndex,
        upload: Option<&NewUpload>,
    ) -> Result<IndexRecord, CatalogError> {
        self.add_index_with(i, |_| Ok::<_, CatalogError>(upload.cloned()))
    }

    /// Adds a custom index whose file carries its own row (id included, so a rebuild gives
    /// it back the same id): `write` gets the new row inside the transaction, writes the
    /// file and returns its upload, if any. A failed `write` leaves no row. The catalog is
    /// held meanwhile, which costs the writers one index file's write.
    pub fn add_index_with<E: From<CatalogError>>(
        &self,
        i: &NewIndex,
        write: impl FnOnce(&IndexRecord) -> Result<Option<NewUpload>, E>,
    ) -> Result<IndexRecord, E> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(CatalogError::from)?;
        tx.execute(
            "INSERT INTO indexes (app, stream, object, start_ms, end_ms, duration, width, height, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![i.app, i.stream, i.object, i.start_ms, i.end_ms, i.duration, i.width, i.height, i.created_ms],
        )
        .map_err(CatalogError::from)?;
        let record = IndexRecord {
            id: tx.last_insert_rowid(),
            app: i.app.clone(),
            stream: i.stream.clone(),
            object: i.object.clone(),
            start_ms: i.start_ms,
            end_ms: i.end_ms,
            duration: i.duration,
            width: i.width,
            height: i.height,
            created_ms: i.created_ms,
        };
        if let Some(u) = write(&record)? {
            uploads::enqueue(&tx, &u)?;
        }
        tx.commit().map_err(CatalogError::from)?;
        Ok(record)
    }

    /// Puts back a custom index row as it was, id included (a rebuild). `false` when the id
    /// is taken already (two files claiming one id): nothing is changed then.
    pub fn restore_index(&self, i: &IndexRecord) -> Result<bool, CatalogError> {
        let conn = self.conn();
        let added = conn.execute(
            "INSERT OR IGNORE INTO indexes (id, app, stream, object, start_ms, end_ms, duration, width, height, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![i.id, i.app, i.stream, i.object, i.start_ms, i.end_ms, i.duration, i.width, i.height, i.created_ms],
        )?;
        Ok(added == 1)
    }

    /// Every finished file (playlists, MP4, FLV), by key.
    pub fn add_chapter(&self, c: &Chapter) -> Result<(), CatalogError> {
        self.conn().execute(
            "INSERT INTO chapters (app, stream, recording, at_ms, title) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![c.app, c.stream, c.recording, c.at_ms, c.title],
        )?;
        Ok(())
    }

    /// Chapters of a stream with `start_ms <= at_ms < end_ms`, in time order.
    pub fn chapters(
        &self,
        app: &str,
        stream: &str,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<Chapter>, CatalogError> {
        let conn = self.conn();
        let mut q = conn.prepare(
            "SELECT app, stream, recording, at_ms, title FROM chapters
             WHERE app = ?1 AND stream = ?2 AND at_ms >= ?3 AND at_ms < ?4 ORDER BY at_ms, id",
        )?;
        let rows = q.query_map(params![app, stream, start_ms, end_ms], |r| {
            Ok(Chapter {
                app: r.get(0)?,
                stream: r.get(1)?,
                recording: r.get(2)?,
                at_ms: r.get(3)?,
                title: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn files(&self) -> Result<Vec<File>, CatalogError> {
        let conn = self.conn();
        let mut q = conn.prepare_cached(
            "SELECT r.uid, r.app, r.stream, f.kind, f.key, f.start_ms, f.end_ms, f.bytes
             FROM files f JOIN recordings r ON r.id = f.recording_id ORDER BY f.key",
        )?;
        let rows = q.query_map([], |r| {
            Ok(File {
                recording: r.get(0)?,
                app: r.get(1)?,
                stream: r.get(2)?,
                kind: r.get(3)?,
                key: r.get(4)?,
                start_ms: r.get(5)?,
                end_ms: r.get(6)?,
                bytes: r.get::<_, i64>(7)? as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Custom indexes by creation time, `page` from 1.
    pub fn indexes(
        &self,
        page: u32,
        per_page: u32,
        newest_first: bool,
    ) -> Result<Vec<IndexRecord>, CatalogError> {
        let conn = self.conn();
        let order = if newest_first { "DESC" } else { "ASC" };
        let mut q = conn.prepare(&format!(
            "SELECT id, app, stream, object, start_ms, end_ms, duration, width, height, created_ms FROM indexes ORDER BY created_ms {order}, id {order} LIMIT ?1 OFFSET ?2"
        ))?;
        let offset = i64::from(page.max(1) - 1) * i64::from(per_page);
        let rows = q.query_map(params![per_page, offset], index_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The index with `id`, if any.
    pub fn index(&self, id: i64) -> Result<Option<IndexRecord>, CatalogError> {
        let conn = self.conn();
        Ok(conn
            .query_row(
                "SELECT id, app, stream, object, start_ms, end_ms, duration, width, height, created_ms FROM indexes WHERE id = ?1",
                [id],
                index_row,
            )
            .optional()?)
    }
}

fn insert_segment(tx: &Connection, s: &Segment) -> Result<(), CatalogError> {
    insert_segment_with(tx, s, "INSERT OR REPLACE", None).map(|_| ())
}

/// Inserts a segment row (`verb` is `INSERT OR REPLACE` or `INSERT OR IGNORE`), held by
/// `remote`'s bucket when given. True when a row was written.
fn insert_segment_with(
    tx: &Connection,
    s: &Segment,
    verb: &str,
    remote: Option<&str>,
) -> Result<bool, CatalogError> {
    let rec = Catalog::touch_recording(
        tx,
        &s.recording,
        &s.app,
        &s.stream,
        s.start_ms,
        s.start_ms + s.duration_ms,
    )?;
    let written = tx
        .prepare_cached(&format!(
            "{verb} INTO segments (recording_id, app, stream, key, start_ms, end_ms, duration_ms, bytes, codecs, width, height, keyframes, discontinuity, remote)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
        ))?
        .execute(params![rec, s.app, s.stream, s.key, s.start_ms, s.start_ms + s.duration_ms, s.duration_ms, s.bytes as i64, s.codecs, s.width, s.height, s.keyframes, s.discontinuity, remote])?;
    Ok(written == 1)
}

/// An `indexes` row, selected as `id, app, stream, object, start_ms, end_ms, duration,
/// width, height, created_ms`.
fn index_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<IndexRecord> {
    Ok(IndexRecord {
        id: r.get(0)?,
        app: r.get(1)?,
        stream: r.get(2)?,
        object: r.get(3)?,
        start_ms: r.get(4)?,
        end_ms: r.get(5)?,
        duration: r.get(6)?,
        width: r.get(7)?,
        height: r.get(8)?,
        created_ms: r.get(9)?,
    })
}

#[cfg(test)]
mod tests;
