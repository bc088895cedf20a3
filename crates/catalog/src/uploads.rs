//! The upload queue: every finished file bound for a bucket, durable in the same database
//! (and, through the `*_queued` writers, the same transaction) as the catalog row that
//! describes it. Multipart state (upload id, part numbers, ETags) is kept here as parts
//! complete, so a restart continues from the last acknowledged part.
//!
//! Rows are never removed: `done` rows are what retention and `tapedeck uploads --all` read.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::{Catalog, CatalogError};

/// A file to upload.
#[derive(Clone, Debug, PartialEq)]
pub struct NewUpload {
    pub profile: String,
    /// The key under the recordings folder; the bucket key is the profile's prefix + this.
    pub key: String,
    pub path: String,
    pub kind: crate::FileKind,
    /// `app/stream`: a playlist waits for the earlier uploads of its group.
    pub group: String,
    pub bytes: u64,
    pub mtime_ms: i64,
    /// `forever`, `until_uploaded` or seconds (see tapedeck-storage's `KeepLocal`).
    pub keep_local: String,
    /// Files sharing a `keep_local_max` budget (the template's `app/stream` pattern).
    pub keep_group: String,
    pub keep_max: Option<u64>,
    pub queued_ms: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum UploadState {
    /// Waiting, uploading or retrying.
    Queued,
    /// Confirmed by the bucket (size checked).
    Done,
    /// The local file vanished before it could be uploaded.
    Lost,
}

impl UploadState {
    fn parse(s: &str) -> UploadState {
        match s {
            "done" => UploadState::Done,
            "lost" => UploadState::Lost,
            _ => UploadState::Queued,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct Upload {
    pub id: i64,
    pub generation: i64,
    pub profile: String,
    pub key: String,
    pub path: String,
    pub kind: crate::FileKind,
    pub group: String,
    pub bytes: u64,
    pub mtime_ms: i64,
    pub state: UploadState,
    pub attempts: u32,
    pub next_attempt_ms: i64,
    pub last_error: Option<String>,
    pub upload_id: Option<String>,
    pub part_size: Option<u64>,
    pub sent_bytes: u64,
    pub rate_bps: u64,
    pub keep_local: String,
    pub keep_group: String,
    pub keep_max: Option<u64>,
    pub queued_ms: i64,
    pub done_ms: Option<i64>,
    pub local_deleted_ms: Option<i64>,
}

/// One acknowledged part of a multipart upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Part {
    pub number: i32,
    pub etag: String,
    pub bytes: u64,
}

/// Rows per state, for summaries.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct UploadCounts {
    pub queued: u64,
    pub queued_bytes: u64,
    pub done: u64,
    pub lost: u64,
    pub failing: u64,
}

const COLUMNS: &str = "id, generation, profile, key, path, kind, grp, bytes, mtime_ms, state, attempts, next_attempt_ms, last_error, upload_id, part_size, sent_bytes, rate_bps, keep_local, keep_group, keep_max, queued_ms, done_ms, local_deleted_ms";

fn upload_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Upload> {
    Ok(Upload {
        id: r.get(0)?,
        generation: r.get(1)?,
        profile: r.get(2)?,
        key: r.get(3)?,
        path: r.get(4)?,
        kind: r.get(5)?,
        group: r.get(6)?,
        bytes: r.get::<_, i64>(7)? as u64,
        mtime_ms: r.get(8)?,
        state: UploadState::parse(&r.get::<_, String>(9)?),
        attempts: r.get(10)?,
        next_attempt_ms: r.get(11)?,
        last_error: r.get(12)?,
        upload_id: r.get(13)?,
        part_size: r.get::<_, Option<i64>>(14)?.map(|v| v as u64),
        sent_bytes: r.get::<_, i64>(15)? as u64,
        rate_bps: r.get::<_, i64>(16)? as u64,
        keep_local: r.get(17)?,
        keep_group: r.get(18)?,
        keep_max: r.get::<_, Option<i64>>(19)?.map(|v| v as u64),
        queued_ms: r.get(20)?,
        done_ms: r.get(21)?,
        local_deleted_ms: r.get(22)?,
    })
}

/// Queues `u` inside `tx`. The same key again (a rewritten daily index, a re-finished
/// file) starts over as a new generation: parts of the old one are dropped, and an upload
/// of the old generation still in flight cannot mark the new one done.
pub(crate) fn enqueue(tx: &Connection, u: &NewUpload) -> Result<(), CatalogError> {
    tx.prepare_cached(
        "INSERT INTO uploads (seq, generation, profile, key, path, kind, grp, bytes, mtime_ms, state, keep_local, keep_group, keep_max, queued_ms)
         VALUES ((SELECT coalesce(max(seq), 0) + 1 FROM uploads), 1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, 'queued', ?8, ?9, ?10, ?11)
         ON CONFLICT (profile, key) DO UPDATE SET
            seq = excluded.seq, generation = generation + 1, path = excluded.path, kind = excluded.kind,
            grp = excluded.grp, bytes = excluded.bytes, mtime_ms = excluded.mtime_ms, state = 'queued',
            attempts = 0, next_attempt_ms = 0, last_error = NULL, upload_id = NULL, part_size = NULL,
            sent_bytes = 0, rate_bps = 0, keep_local = excluded.keep_local, keep_group = excluded.keep_group,
            keep_max = excluded.keep_max, queued_ms = excluded.queued_ms, done_ms = NULL, local_deleted_ms = NULL",
    )?
    .execute(params![
        u.profile,
        u.key,
        u.path,
        u.kind,
        u.group,
        u.bytes as i64,
        u.mtime_ms,
        u.keep_local,
        u.keep_group,
        u.keep_max.map(|v| v as i64),
        u.queued_ms
    ])?;
    tx.prepare_cached(
        "DELETE FROM upload_parts WHERE upload = (SELECT id FROM uploads WHERE profile = ?1 AND key = ?2)",
    )?
    .execute(params![u.profile, u.key])?;
    Ok(())
}

impl Catalog {
    /// Queues one upload on its own (a watched file's row is written with it through
    /// [`Catalog::add_file_queued`]; this is for files the catalog does not describe).
    pub fn enqueue_upload(&self, u: &NewUpload) -> Result<(), CatalogError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        enqueue(&tx, u)?;
        tx.commit()?;
        Ok(())
    }

    /// Up to `limit` uploads of `profile` that may start now, oldest first. A playlist or
    /// index waits until every earlier file of its stream is done.
    pub fn due_uploads(
        &self,
        profile: &str,
        now_ms: i64,
        limit: usize,
    ) -> Result<Vec<Upload>, CatalogError> {
        let conn = self.conn();
        let mut q = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM uploads u
             WHERE u.profile = ?1 AND u.state = 'queued' AND u.next_attempt_ms <= ?2
               AND (u.kind NOT IN ('playlist', 'index') OR NOT EXISTS (
                    SELECT 1 FROM uploads d WHERE d.profile = u.profile AND d.grp = u.grp
                      AND d.state = 'queued' AND d.seq < u.seq AND d.kind NOT IN ('playlist', 'index')))
             ORDER BY u.seq LIMIT ?3"
        ))?;
        let rows = q.query_map(params![profile, now_ms, limit as i64], upload_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The earliest time a queued upload of `profile` is due, if any is queued.
    pub fn next_due_ms(&self, profile: &str) -> Result<Option<i64>, CatalogError> {
        let conn = self.conn();
        Ok(conn
            .query_row(
                "SELECT min(next_attempt_ms) FROM uploads WHERE profile = ?1 AND state = 'queued'",
                [profile],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }

    pub fn upload(&self, id: i64) -> Result<Option<Upload>, CatalogError> {
        let conn = self.conn();
        Ok(conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM uploads WHERE id = ?1"),
                [id],
                upload_row,
            )
            .optional()?)
    }

    /// The acknowledged parts of an upload's current generation, by part number.
    pub fn upload_parts(&self, id: i64) -> Result<Vec<Part>, CatalogError> {
        let conn = self.conn();
        let mut q = conn.prepare_cached(
            "SELECT part, etag, bytes FROM upload_parts WHERE upload = ?1 ORDER BY part",
        )?;
        let rows = q.query_map([id], |r| {
            Ok(Part {
                number: r.get(0)?,
                etag: r.get(1)?,
                bytes: r.get::<_, i64>(2)? as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records (or, with `None`, forgets) the multipart upload of generation `generation`;
    /// forgetting drops its parts too. False when the row has moved to a newer generation.
    pub fn set_multipart(
        &self,
        id: i64,
        generation: i64,
        upload_id: Option<&str>,
        part_size: u64,
        bytes: u64,
        mtime_ms: i64,
    ) -> Result<bool, CatalogError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let n = tx.execute(
            "UPDATE uploads SET upload_id = ?3, part_size = ?4, bytes = ?5, mtime_ms = ?6, sent_bytes = 0
             WHERE id = ?1 AND generation = ?2",
            params![
                id,
                generation,
                upload_id,
                part_size as i64,
                bytes as i64,
                mtime_ms
            ],
        )?;
        if n == 1 && upload_id.is_none() {
            tx.execute("DELETE FROM upload_parts WHERE upload = ?1", [id])?;
        }
        tx.commit()?;
        Ok(n == 1)
    }

    /// Records an acknowledged part. False when the row moved to a newer generation.
    pub fn add_upload_part(
        &self,
        id: i64,
        generation: i64,
        part: &Part,
    ) -> Result<bool, CatalogError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let current: Option<i64> = tx
            .query_row("SELECT generation FROM uploads WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        if current != Some(generation) {
            return Ok(false);
        }
        tx.execute(
            "INSERT OR REPLACE INTO upload_parts (upload, part, etag, bytes) VALUES (?1, ?2, ?3, ?4)",
            params![id, part.number, part.etag, part.bytes as i64],
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// Live progress of an upload in flight (bytes sent of this attempt, bytes/s).
    pub fn upload_progress(&self, id: i64, sent: u64, rate_bps: u64) -> Result<(), CatalogError> {
        let conn = self.conn();
        conn.prepare_cached("UPDATE uploads SET sent_bytes = ?2, rate_bps = ?3 WHERE id = ?1")?
            .execute(params![id, sent as i64, rate_bps as i64])?;
        Ok(())
    }

    /// The bucket confirmed generation `generation`. False when the file was queued again
    /// meanwhile: it stays queued and goes up once more.
    pub fn upload_done(&self, id: i64, generation: i64, now_ms: i64) -> Result<bool, CatalogError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let n = tx.execute(
            "UPDATE uploads SET state = 'done', done_ms = ?3, last_error = NULL, rate_bps = 0, sent_bytes = bytes
             WHERE id = ?1 AND generation = ?2",
            params![id, generation, now_ms],
        )?;
        if n == 1 {
            tx.execute("DELETE FROM upload_parts WHERE upload = ?1", [id])?;
        }
        tx.commit()?;
        Ok(n == 1)
    }

    /// An attempt failed; the next one is due at `next_attempt_ms`.
    pub fn upload_failed(
        &self,
        id: i64,
        generation: i64,
        error: &str,
        next_attempt_ms: i64,
    ) -> Result<(), CatalogError> {
        let conn = self.conn();
        conn.execute(
            "UPDATE uploads SET attempts = attempts + 1, last_error = ?3, next_attempt_ms = ?4, rate_bps = 0
             WHERE id = ?1 AND generation = ?2",
            params![id, generation, error, next_attempt_ms],
        )?;
        Ok(())
    }

    /// The local file is gone: nothing left to upload.
    pub fn upload_lost(&self, id: i64, generation: i64, reason: &str) -> Result<(), CatalogError> {
        let conn = self.conn();
        conn.execute(
            "UPDATE uploads SET state = 'lost', last_error = ?3, rate_bps = 0 WHERE id = ?1 AND generation = ?2",
            params![id, generation, reason],
        )?;
        Ok(())
    }

    /// The bucket is back: every queued upload of `profile` is due now, oldest first.
    pub fn wake_uploads(&self, profile: &str) -> Result<(), CatalogError> {
        let conn = self.conn();
        conn.execute(
            "UPDATE uploads SET next_attempt_ms = 0 WHERE profile = ?1 AND state = 'queued' AND next_attempt_ms > 0",
            [profile],
        )?;
        Ok(())
    }

    /// Uploads, newest first: every queued or lost one, plus done ones when `with_done`;
    /// at most `limit`.
    pub fn uploads(&self, with_done: bool, limit: usize) -> Result<Vec<Upload>, CatalogError> {
        let conn = self.conn();
        let filter = if with_done {
            ""
        } else {
            "WHERE state != 'done'"
        };
        let mut q = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM uploads {filter} ORDER BY seq DESC LIMIT ?1"
        ))?;
        let rows = q.query_map([limit as i64], upload_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn upload_counts(&self) -> Result<UploadCounts, CatalogError> {
        let conn = self.conn();
        Ok(conn.query_row(
            "SELECT
                coalesce(sum(state = 'queued'), 0),
                coalesce(sum(CASE WHEN state = 'queued' THEN bytes ELSE 0 END), 0),
                coalesce(sum(state = 'done'), 0),
                coalesce(sum(state = 'lost'), 0),
                coalesce(sum(state = 'queued' AND attempts > 0), 0)
             FROM uploads",
            [],
            |r| {
                Ok(UploadCounts {
                    queued: r.get::<_, i64>(0)? as u64,
                    queued_bytes: r.get::<_, i64>(1)? as u64,
                    done: r.get::<_, i64>(2)? as u64,
                    lost: r.get::<_, i64>(3)? as u64,
                    failing: r.get::<_, i64>(4)? as u64,
                })
            },
        )?)
    }

    /// Files of `profile` still queued, and their bytes.
    pub fn queued(&self, profile: &str) -> Result<(u64, u64), CatalogError> {
        let conn = self.conn();
        Ok(conn.query_row(
            "SELECT count(*), coalesce(sum(bytes), 0) FROM uploads WHERE profile = ?1 AND state = 'queued'",
            [profile],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
        )?)
    }

    /// Whether the file at `path` with this modification time is already queued or
    /// uploaded (folder watch, after a restart).
    pub fn upload_known(&self, path: &str, mtime_ms: i64) -> Result<bool, CatalogError> {
        let conn = self.conn();
        Ok(conn
            .query_row(
                "SELECT 1 FROM uploads WHERE path = ?1 AND mtime_ms = ?2 LIMIT 1",
                params![path, mtime_ms],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Confirmed uploads whose local copy still exists, oldest first, excluding playlists
    /// and indexes (small, and they keep the local folder browsable): what retention may
    /// delete.
    pub fn retained_uploads(&self) -> Result<Vec<Upload>, CatalogError> {
        let conn = self.conn();
        let mut q = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM uploads
             WHERE state = 'done' AND local_deleted_ms IS NULL AND keep_local != 'forever'
               AND kind NOT IN ('playlist', 'index')
             ORDER BY queued_ms, seq"
        ))?;
        let rows = q.query_map([], upload_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Bytes still on disk per `keep_local_max` group, with the group's budget.
    pub fn local_bytes_by_keep_group(&self) -> Result<Vec<(String, u64, u64)>, CatalogError> {
        let conn = self.conn();
        let mut q = conn.prepare_cached(
            "SELECT keep_group, max(keep_max), sum(bytes) FROM uploads
             WHERE local_deleted_ms IS NULL AND keep_max IS NOT NULL AND kind NOT IN ('playlist', 'index')
             GROUP BY keep_group",
        )?;
        let rows = q.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)? as u64,
                r.get::<_, i64>(2)? as u64,
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Confirmed uploads of a keep group whose local copy still exists, oldest first.
    pub fn deletable_in_keep_group(&self, group: &str) -> Result<Vec<Upload>, CatalogError> {
        let conn = self.conn();
        let mut q = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM uploads
             WHERE keep_group = ?1 AND state = 'done' AND local_deleted_ms IS NULL AND keep_max IS NOT NULL
               AND kind NOT IN ('playlist', 'index')
             ORDER BY queued_ms, seq"
        ))?;
        let rows = q.query_map([group], upload_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Keys of `profile`'s uploads marked lost (their local file vanished before they
    /// went up), playlists and indexes aside: what a playlist uploaded to that profile
    /// must not name.
    pub fn lost_keys(
        &self,
        profile: &str,
    ) -> Result<std::collections::HashSet<String>, CatalogError> {
        let conn = self.conn();
        let mut q = conn.prepare_cached(
            "SELECT key FROM uploads WHERE profile = ?1 AND state = 'lost' AND kind NOT IN ('playlist', 'index')",
        )?;
        let rows = q.query_map([profile], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Retention may never delete this row's local copy (it lies outside where Tapedeck
    /// deletes): its rule becomes `forever`, and it leaves every size budget.
    pub fn keep_local_forever(&self, id: i64) -> Result<(), CatalogError> {
        let conn = self.conn();
        conn.execute(
            "UPDATE uploads SET keep_local = 'forever', keep_max = NULL WHERE id = ?1",
            [id],
        )?;
        Ok(())
    }

    /// Retention removed the local copy of a confirmed upload.
    pub fn local_deleted(&self, id: i64, now_ms: i64) -> Result<(), CatalogError> {
        let conn = self.conn();
        conn.execute(
            "UPDATE uploads SET local_deleted_ms = ?2 WHERE id = ?1",
            params![id, now_ms],
        )?;
        Ok(())
    }
}

/// A file's modification time in Unix milliseconds (0 when the system does not say): what
/// a queued upload remembers to tell a changed file from the one queued.
pub fn mtime_ms(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
