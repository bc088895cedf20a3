//! The daily index: one playlist per stream and day (`{AppName}/{StreamName}/{Date}.m3u8`
//! by default) listing every segment recorded that day, across recordings, with
//! `PROGRAM-DATE-TIME` and a discontinuity where a recording (or a resume) begins. Days
//! follow the template's time zone.
//!
//! Each segment is appended to the file (see `playlist_file`: the whole file is rewritten,
//! atomically, only when this recording did not write it last, or the target duration
//! grows). It stays an EVENT playlist while its day can still grow; when a recording
//! writes its first segment of a later day, the earlier day's index gets `#EXT-X-ENDLIST`.
//! Nothing of the day is held in memory.

use std::path::Path;

use tapedeck_media::hls::{MediaPlaylist, PlaylistSegment};

use super::playlist_file::PlaylistFile;
use super::{OutputContext, OutputError};
use crate::files::{relative_uri, write_atomically};
use crate::naming::{render, NameContext};

pub(crate) struct DailyIndex {
    template: String,
    /// Key of the day file this recording last wrote to.
    current: Option<String>,
    /// That file, as this recording left it.
    file: PlaylistFile,
}

impl DailyIndex {
    pub fn new(template: String) -> Self {
        DailyIndex {
            template,
            current: None,
            file: PlaylistFile::default(),
        }
    }

    /// Adds a finished segment (`segment.uri` is ignored; `segment_key` is used). Returns
    /// the keys of the day files it wrote.
    pub fn add(
        &mut self,
        ctx: &OutputContext,
        segment_key: &str,
        segment: &PlaylistSegment,
    ) -> Result<Vec<String>, OutputError> {
        let Some(start) = segment.program_date_time else {
            return Ok(Vec::new());
        };
        let names = NameContext {
            app: &ctx.app,
            stream: &ctx.stream,
            start,
            end: None,
            segment_start: Some(start),
            sequence: 0,
            tz: ctx.tz,
        };
        let key = render(&self.template, &names, "m3u8");
        let path = ctx.root.join(&key);
        let first_of_recording_here = self.current.as_deref() != Some(key.as_str());
        let mut entry = PlaylistSegment {
            uri: relative_uri(&key, segment_key),
            duration: segment.duration,
            program_date_time: segment.program_date_time,
            discontinuity: segment.discontinuity,
        };
        let appended = !first_of_recording_here
            && self
                .file
                .append(&path, &entry)
                .map_err(OutputError::io(&path))?;
        if !appended {
            let mut playlist = load(&path)?;
            // A new recording (or a resume) in a file that already has segments.
            entry.discontinuity |= first_of_recording_here && !playlist.segments.is_empty();
            playlist.segments.push(entry);
            playlist.ended = false;
            self.file
                .rewrite(&ctx.root, &path, &playlist)
                .map_err(OutputError::io(&path))?;
        }
        let mut written = vec![key.clone()];
        if let Some(previous_key) = self.current.replace(key.clone()).filter(|p| *p != key) {
            let previous = ctx.root.join(&previous_key);
            let mut done = load(&previous)?;
            if !done.segments.is_empty() && !done.ended {
                done.ended = true;
                write_atomically(&ctx.root, &previous, done.render().as_bytes())
                    .map_err(OutputError::io(&previous))?;
                written.push(previous_key);
            }
            // `self.file` describes the new day's file now (rewritten above).
        }
        Ok(written)
    }
}

fn load(path: &Path) -> Result<MediaPlaylist, OutputError> {
    match std::fs::read_to_string(path) {
        Ok(text) => MediaPlaylist::parse_appended(&text).map_err(|e| OutputError::Format {
            path: path.to_owned(),
            detail: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(MediaPlaylist::default()),
        Err(e) => Err(OutputError::Io {
            path: path.to_owned(),
            source: e,
        }),
    }
}
