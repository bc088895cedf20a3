//! HTTP-FLV pull, and FLV file replay (the no-network source tests use).
//!
//! Hostile servers: the FLV header may skip at most
//! [`tapedeck_media::flv::reader::MAX_DATA_OFFSET`] bytes (the reader's limit), a server
//! that sends nothing for [`IDLE_TIMEOUT`] is dropped (and reconnected), and bad tags are
//! logged a few at a time, never one line each.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use tapedeck_media::flv::reader::{FlvReader, FlvTag};
use tapedeck_media::flv::tag::{TagDecoder, TAG_AUDIO, TAG_VIDEO};
use tapedeck_media::MediaEvent;
use tokio::io::AsyncReadExt;
use tracing::warn;

use super::{describe, Source, SourceError};
use crate::redact;

/// A live HTTP-FLV stream that sends no byte for this long is dropped.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Bad tags logged one by one before only every thousandth is.
const BAD_TAGS_LOGGED: u64 = 10;

enum Body {
    Http(reqwest::Response),
    File {
        file: tokio::fs::File,
        realtime: bool,
    },
}

/// FLV from an HTTP response body or a file.
pub struct FlvSource {
    url: String,
    body: Body,
    reader: FlvReader,
    decoder: TagDecoder,
    tags: Vec<FlvTag>,
    /// For real-time file replay: the instant and tag time of the first tag.
    clock: Option<(tokio::time::Instant, u32)>,
    /// Tags that did not decode.
    bad_tags: u64,
}

impl FlvSource {
    pub async fn connect_http(url: &str) -> Result<FlvSource, SourceError> {
        let err = |detail: String| SourceError::Connect {
            url: redact::url(url),
            detail,
        };
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| err(describe(e)))?;
        let response = tokio::time::timeout(IDLE_TIMEOUT, client.get(url).send())
            .await
            .map_err(|_| err(format!("no response in {IDLE_TIMEOUT:?}")))?
            .map_err(|e| err(describe(e)))?;
        if !response.status().is_success() {
            return Err(err(format!("HTTP {}", response.status())));
        }
        Ok(Self::new(url, Body::Http(response)))
    }

    /// Replays an FLV file; with `realtime`, at the pace of its timestamps (like `ffmpeg -re`).
    pub async fn open_file(path: &Path, realtime: bool) -> Result<FlvSource, SourceError> {
        let url = path.display().to_string();
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| SourceError::Connect {
                url: url.clone(),
                detail: e.to_string(),
            })?;
        Ok(Self::new(&url, Body::File { file, realtime }))
    }

    fn new(url: &str, body: Body) -> FlvSource {
        FlvSource {
            url: redact::url(url),
            body,
            reader: FlvReader::new(),
            decoder: TagDecoder::new(),
            tags: Vec::new(),
            clock: None,
            bad_tags: 0,
        }
    }

    fn stream_err(&self, detail: String) -> SourceError {
        SourceError::Stream {
            url: self.url.clone(),
            detail,
        }
    }
}

impl Source for FlvSource {
    async fn read(&mut self, out: &mut Vec<MediaEvent>) -> Result<bool, SourceError> {
        let chunk: Option<Bytes> = match &mut self.body {
            Body::Http(r) => tokio::time::timeout(IDLE_TIMEOUT, r.chunk())
                .await
                .map_err(|_| SourceError::Stream {
                    url: self.url.clone(),
                    detail: format!("no data for {IDLE_TIMEOUT:?}"),
                })?
                .map_err(|e| SourceError::Stream {
                    url: self.url.clone(),
                    detail: describe(e),
                })?,
            Body::File { file, .. } => {
                let mut buf = vec![0u8; 64 * 1024];
                let n = file.read(&mut buf).await.map_err(|e| SourceError::Stream {
                    url: self.url.clone(),
                    detail: e.to_string(),
                })?;
                buf.truncate(n);
                (n > 0).then(|| Bytes::from(buf))
            }
        };
        let Some(chunk) = chunk else { return Ok(false) };
        self.reader
            .push(&chunk, &mut self.tags)
            .map_err(|e| self.stream_err(e.to_string()))?;
        let realtime = matches!(self.body, Body::File { realtime: true, .. });
        for tag in std::mem::take(&mut self.tags) {
            if realtime && tag.kind != 18 {
                let (start, first) = *self
                    .clock
                    .get_or_insert((tokio::time::Instant::now(), tag.ts_ms));
                let due = start + Duration::from_millis(u64::from(tag.ts_ms.wrapping_sub(first)));
                tokio::time::sleep_until(due).await;
            }
            let result = match tag.kind {
                TAG_VIDEO => self.decoder.video(tag.ts_ms, tag.body, out),
                TAG_AUDIO => self.decoder.audio(tag.ts_ms, tag.body, out),
                _ => Ok(()),
            };
            if let Err(e) = result {
                self.bad_tags += 1;
                if self.bad_tags <= BAD_TAGS_LOGGED || self.bad_tags.is_multiple_of(1000) {
                    warn!(url = %self.url, bad_tags = self.bad_tags, "skipping a bad FLV tag at byte {}: {e}", tag.offset);
                }
            }
        }
        Ok(true)
    }
}
