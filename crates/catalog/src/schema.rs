//! Schema versions, applied in order; `PRAGMA user_version` records the one in force.

use rusqlite::Connection;

use crate::CatalogError;

/// Each entry moves the schema from version `i` to `i + 1`. Append, never edit.
const MIGRATIONS: &[&str] = &[
    // 1: recordings, their segments and files, custom indexes.
    "CREATE TABLE recordings (
        id INTEGER PRIMARY KEY,
        uid TEXT NOT NULL UNIQUE,
        app TEXT NOT NULL,
        stream TEXT NOT NULL,
        start_ms INTEGER NOT NULL,
        end_ms INTEGER NOT NULL
     );
     CREATE INDEX recordings_by_time ON recordings (app, stream, start_ms);
     CREATE TABLE segments (
        id INTEGER PRIMARY KEY,
        recording_id INTEGER NOT NULL REFERENCES recordings (id),
        app TEXT NOT NULL,
        stream TEXT NOT NULL,
        key TEXT NOT NULL UNIQUE,
        start_ms INTEGER NOT NULL,
        end_ms INTEGER NOT NULL,
        duration_ms INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        codecs TEXT NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        keyframes INTEGER NOT NULL,
        discontinuity INTEGER NOT NULL
     );
     CREATE INDEX segments_by_time ON segments (app, stream, start_ms);
     CREATE INDEX segments_by_recording ON segments (recording_id);
     CREATE TABLE files (
        id INTEGER PRIMARY KEY,
        recording_id INTEGER NOT NULL REFERENCES recordings (id),
        kind TEXT NOT NULL,
        key TEXT NOT NULL UNIQUE,
        start_ms INTEGER NOT NULL,
        end_ms INTEGER NOT NULL,
        bytes INTEGER NOT NULL
     );
     CREATE INDEX files_by_recording ON files (recording_id);
     CREATE TABLE indexes (
        id INTEGER PRIMARY KEY,
        app TEXT NOT NULL,
        stream TEXT NOT NULL,
        object TEXT NOT NULL,
        start_ms INTEGER NOT NULL,
        end_ms INTEGER NOT NULL,
        duration REAL NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        created_ms INTEGER NOT NULL
     );
     CREATE INDEX indexes_by_created ON indexes (created_ms);",
    // 2: the upload queue and the parts of multipart uploads.
    "CREATE TABLE uploads (
        id INTEGER PRIMARY KEY,
        seq INTEGER NOT NULL,
        generation INTEGER NOT NULL,
        profile TEXT NOT NULL,
        key TEXT NOT NULL,
        path TEXT NOT NULL,
        kind TEXT NOT NULL,
        grp TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        mtime_ms INTEGER NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        upload_id TEXT,
        part_size INTEGER,
        sent_bytes INTEGER NOT NULL DEFAULT 0,
        rate_bps INTEGER NOT NULL DEFAULT 0,
        keep_local TEXT NOT NULL,
        keep_group TEXT NOT NULL,
        keep_max INTEGER,
        queued_ms INTEGER NOT NULL,
        done_ms INTEGER,
        local_deleted_ms INTEGER,
        UNIQUE (profile, key)
     );
     CREATE INDEX uploads_due ON uploads (profile, state, seq);
     CREATE INDEX uploads_by_group ON uploads (profile, grp, state, seq);
     CREATE INDEX uploads_by_seq ON uploads (seq);
     CREATE INDEX uploads_by_path ON uploads (path);
     CREATE TABLE upload_parts (
        upload INTEGER NOT NULL REFERENCES uploads (id),
        part INTEGER NOT NULL,
        etag TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        PRIMARY KEY (upload, part)
     );",
    // One vocabulary for file kinds (`FileKind`): playlists were "m3u8" in `files`, and
    // watched files carried their extension there ("watched" in `uploads`).
    "UPDATE files SET kind = 'playlist' WHERE kind = 'm3u8';
     UPDATE files SET kind = 'watched'
       WHERE kind NOT IN ('segment', 'playlist', 'mp4', 'flv', 'index', 'watched', 'file');",
    // 4: chapter markers of live recordings (what `add_chapter` marked, at wall-clock time).
    "CREATE TABLE chapters (
        id INTEGER PRIMARY KEY,
        app TEXT NOT NULL,
        stream TEXT NOT NULL,
        recording TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        title TEXT NOT NULL
     );
     CREATE INDEX chapters_by_time ON chapters (app, stream, at_ms);",
    // 5: post-recording command runs (`runs.rs`), recorded before each starts.
    crate::runs::MIGRATION,
    // 6: recordings read from a bucket (`catalog import`): the profile whose bucket holds a
    // segment or file this machine does not have, and the objects already read (by entity
    // tag, so an import again reads only what is new or rewritten).
    "ALTER TABLE segments ADD COLUMN remote TEXT;
     ALTER TABLE files ADD COLUMN remote TEXT;
     CREATE TABLE imported (
        profile TEXT NOT NULL,
        key TEXT NOT NULL,
        etag TEXT NOT NULL,
        recording TEXT,
        is_index INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (profile, key)
     );",
];

pub(crate) const VERSION: i64 = MIGRATIONS.len() as i64;

pub(crate) fn migrate(conn: &Connection) -> Result<(), CatalogError> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found > VERSION {
        return Err(CatalogError::TooNew {
            found,
            known: VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
