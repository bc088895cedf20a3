//! The daily index: one playlist per stream and day (`{AppName}/{StreamName}/{Date}.m3u8`
//! by default) listing every segment recorded that day, across recordings, with
//! `PROGRAM-DATE-TIME` and a discontinuity where a recording (or a resume) begins. Days
//! follow the template's time zone.
//!
//! The file is rewritten (atomically) after each segment. It stays an EVENT playlist while
//! its day can still grow; when a recording writes its first segment of a later day, the
//! earlier day's index gets `#EXT-X-ENDLIST`.

use std::path::Path;

use tapedeck_media::hls::{MediaPlaylist, PlaylistSegment};

use super::{OutputContext, OutputError};
use crate::files::{relative_uri, write_atomically};
use crate::naming::{render, NameContext};

pub(crate) struct DailyIndex {
    template: String,
    /// Key of the day file this recording last wrote to.
    current: Option<String>,
}

impl DailyIndex {
    pub fn new(template: String) -> Self {
        DailyIndex {
            template,
            current: None,
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
        let mut playlist = load(&path)?;
        let first_of_recording_here = self.current.as_deref() != Some(key.as_str());
        playlist.segments.push(PlaylistSegment {
            uri: relative_uri(&key, segment_key),
            duration: segment.duration,
            program_date_time: segment.program_date_time,
            // A new recording (or a resume) in a file that already has segments.
            discontinuity: segment.discontinuity
                || (first_of_recording_here && !playlist.segments.is_empty()),
        });
        playlist.ended = false;
        write_atomically(&path, playlist.render().as_bytes()).map_err(OutputError::io(&path))?;
        let mut written = vec![key.clone()];
        if let Some(previous_key) = self.current.replace(key.clone()).filter(|p| *p != key) {
            let previous = ctx.root.join(&previous_key);
            let mut done = load(&previous)?;
            if !done.segments.is_empty() && !done.ended {
                done.ended = true;
                write_atomically(&previous, done.render().as_bytes())
                    .map_err(OutputError::io(&previous))?;
                written.push(previous_key);
            }
        }
        Ok(written)
    }
}

fn load(path: &Path) -> Result<MediaPlaylist, OutputError> {
    match std::fs::read_to_string(path) {
        Ok(text) => MediaPlaylist::parse(&text).map_err(|e| OutputError::Format {
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
