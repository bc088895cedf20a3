//! HTTP-FLV pull, and FLV file replay (the no-network source tests use).

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use tapedeck_media::flv::reader::{FlvReader, FlvTag};
use tapedeck_media::flv::tag::{TagDecoder, TAG_AUDIO, TAG_VIDEO};
use tapedeck_media::MediaEvent;
use tokio::io::AsyncReadExt;
use tracing::warn;

use super::{Source, SourceError};

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
}

impl FlvSource {
    pub async fn connect_http(url: &str) -> Result<FlvSource, SourceError> {
        let err = |detail: String| SourceError::Connect {
            url: url.to_string(),
            detail,
        };
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| err(e.to_string()))?;
        let response = client
            .get(url)
            .send()
            .await
            .map_err(|e| err(e.to_string()))?;
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
            url: url.to_string(),
            body,
            reader: FlvReader::new(),
            decoder: TagDecoder::new(),
            tags: Vec::new(),
            clock: None,
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
            Body::Http(r) => r.chunk().await.map_err(|e| SourceError::Stream {
                url: self.url.clone(),
                detail: e.to_string(),
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
                warn!(url = %self.url, "skipping a bad FLV tag at byte {}: {e}", tag.offset);
            }
        }
        Ok(true)
    }
}
