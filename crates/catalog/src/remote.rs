//! Recordings this machine knows from a bucket (`tapedeck catalog import`): their rows carry
//! the storage profile whose bucket holds the bytes, and the objects already read are
//! remembered by entity tag.

use rusqlite::{params, OptionalExtension};

use crate::{insert_segment_with, Catalog, CatalogError, Chapter, File, IndexRecord, Segment};

/// What an import added.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Added {
    pub segments: usize,
    pub files: usize,
}

impl Catalog {
    /// Adds segments and the file listing them (a recording's playlist), all held by the
    /// bucket of `profile`. Keys the catalog knows already (recorded here, or imported
    /// before) are left as they are.
    pub fn add_remote(
        &self,
        profile: &str,
        segments: &[Segment],
        files: &[File],
    ) -> Result<Added, CatalogError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut added = Added::default();
        for s in segments {
            if insert_segment_with(&tx, s, "INSERT OR IGNORE", Some(profile))? {
                added.segments += 1;
            }
        }
        for f in files {
            let rec = Catalog::touch_recording(
                &tx,
                &f.recording,
                &f.app,
                &f.stream,
                f.start_ms,
                f.end_ms,
            )?;
            added.files += tx.execute(
                "INSERT OR IGNORE INTO files (recording_id, kind, key, start_ms, end_ms, bytes, remote) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![rec, f.kind, f.key, f.start_ms, f.end_ms, f.bytes as i64, profile],
            )?;
        }
        tx.commit()?;
        Ok(added)
    }

    /// The profile whose bucket holds `key` when this machine has no copy of its own: an
    /// imported segment or file, or one whose local copy retention deleted after upload.
    pub fn remote_of(&self, key: &str) -> Result<Option<String>, CatalogError> {
        let conn = self.conn();
        let imported = conn
            .prepare_cached(
                "SELECT remote FROM segments WHERE key = ?1 AND remote IS NOT NULL
                 UNION ALL SELECT remote FROM files WHERE key = ?1 AND remote IS NOT NULL",
            )?
            .query_row([key], |r| r.get::<_, String>(0))
            .optional()?;
        if imported.is_some() {
            return Ok(imported);
        }
        let uploaded = conn
            .prepare_cached(
                "SELECT profile FROM uploads WHERE key = ?1 AND state = 'done' ORDER BY done_ms DESC LIMIT 1",
            )?
            .query_row([key], |r| r.get(0))
            .optional()?;
        Ok(uploaded)
    }

    /// The entity tag of `key` in `profile`'s bucket when an import last read it.
    pub fn imported_etag(&self, profile: &str, key: &str) -> Result<Option<String>, CatalogError> {
        Ok(self
            .conn()
            .prepare_cached("SELECT etag FROM imported WHERE profile = ?1 AND key = ?2")?
            .query_row(params![profile, key], |r| r.get(0))
            .optional()?)
    }

    /// Remembers that an import read `key` of `profile`'s bucket as it was at `etag`: a
    /// file of `recording`, or a custom index.
    pub fn set_imported(
        &self,
        profile: &str,
        key: &str,
        etag: &str,
        recording: Option<&str>,
        is_index: bool,
    ) -> Result<(), CatalogError> {
        self.conn().execute(
            "INSERT OR REPLACE INTO imported (profile, key, etag, recording, is_index) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![profile, key, etag, recording, is_index],
        )?;
        Ok(())
    }

    /// Recordings and custom indexes imports found in `profile`'s bucket.
    pub fn imported_counts(&self, profile: &str) -> Result<(u64, u64), CatalogError> {
        Ok(self.conn().query_row(
            "SELECT count(DISTINCT recording), coalesce(sum(is_index), 0) FROM imported WHERE profile = ?1",
            [profile],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
        )?)
    }

    /// Adds a chapter unless its recording has one with that title at that time. True when
    /// added.
    pub fn add_chapter_once(&self, c: &Chapter) -> Result<bool, CatalogError> {
        let added = self.conn().execute(
            "INSERT INTO chapters (app, stream, recording, at_ms, title)
             SELECT ?1, ?2, ?3, ?4, ?5 WHERE NOT EXISTS
               (SELECT 1 FROM chapters WHERE recording = ?3 AND at_ms = ?4 AND title = ?5)",
            params![c.app, c.stream, c.recording, c.at_ms, c.title],
        )?;
        Ok(added == 1)
    }

    /// Adds a custom index read from a bucket under an id of this catalog's, unless one
    /// with its key is known. True when added.
    pub fn add_index_if_new(&self, i: &IndexRecord) -> Result<bool, CatalogError> {
        let added = self.conn().execute(
            "INSERT INTO indexes (app, stream, object, start_ms, end_ms, duration, width, height, created_ms)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 WHERE NOT EXISTS (SELECT 1 FROM indexes WHERE object = ?3)",
            params![i.app, i.stream, i.object, i.start_ms, i.end_ms, i.duration, i.width, i.height, i.created_ms],
        )?;
        Ok(added == 1)
    }
}
