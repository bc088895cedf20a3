//! The media server: recordings to the app's webview (the preview player and, later,
//! thumbnails) over loopback HTTP, because a `<video>` pointed at a large local file through
//! the webview's asset protocol stalls on Linux (tauri issue 3725) and WebKitGTK plays HLS
//! only through hls.js, which fetches.
//!
//! - `GET /preview/{app}/{stream}/index.m3u8?start=MS&end=MS&token=T`: an HLS playlist of
//!   the segments overlapping the range, each with its `#EXT-X-PROGRAM-DATE-TIME` (so a
//!   click on the timeline maps to a media time), `#EXT-X-DISCONTINUITY` at reconnects and
//!   gaps; without `#EXT-X-ENDLIST` while the range reaches into a live recording (hls.js
//!   then reloads it and a live stream can be watched from its start as it records).
//! - `GET /files/{key}?token=T`: a recorded file, with Range support.
//!
//! Bound to 127.0.0.1 on a free port; every request needs this run's token (256 random
//! bits); only files under the recordings folder are served (no `..`, no absolute paths).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use tapedeck_catalog::Catalog;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;
use tower_http::services::ServeFile;

use crate::remote::RemoteFiles;

use crate::error::EngineError;
use crate::Engine;

/// A running media server.
#[derive(Clone, Debug)]
pub struct MediaServer {
    addr: SocketAddr,
    token: String,
}

impl MediaServer {
    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The preview playlist of `app`/`stream` over `[start_ms, end_ms)`.
    pub fn preview_url(&self, app: &str, stream: &str, start_ms: i64, end_ms: i64) -> String {
        format!(
            "{}/preview/{}/{}/index.m3u8?start={start_ms}&end={end_ms}&token={}",
            self.base(),
            encode(app),
            encode(stream),
            self.token
        )
    }

    /// The JPEG of the key frame at or before `at_ms`, `width` pixels wide.
    pub fn thumbnail_url(&self, app: &str, stream: &str, at_ms: i64, width: u32) -> String {
        format!(
            "{}/thumb/{}/{}?at={at_ms}&width={width}&token={}",
            self.base(),
            encode(app),
            encode(stream),
            self.token
        )
    }

    /// The key frame at or before `at_ms` as Annex B (see `/keyframe`).
    pub fn keyframe_url(&self, app: &str, stream: &str, at_ms: i64) -> String {
        format!(
            "{}/keyframe/{}/{}?at={at_ms}&token={}",
            self.base(),
            encode(app),
            encode(stream),
            self.token
        )
    }

    /// A recorded file by its key (relative to the recordings folder).
    pub fn file_url(&self, key: &str) -> String {
        format!(
            "{}/files/{}?token={}",
            self.base(),
            encode_path(key),
            self.token
        )
    }
}

/// Whether `app`/`stream` is recording now.
pub type IsLive = Arc<dyn Fn(&str, &str) -> bool + Send + Sync>;

#[derive(Clone)]
struct Shared {
    catalog: Arc<Catalog>,
    files: Arc<RemoteFiles>,
    thumbnails: PathBuf,
    token: Arc<str>,
    /// Segments still being written end the playlist without ENDLIST: "live" until then.
    live: IsLive,
}

/// Starts the server until `stop`.
pub async fn start(
    files: Arc<RemoteFiles>,
    thumbnails: PathBuf,
    catalog: Arc<Catalog>,
    live: IsLive,
    stop: CancellationToken,
) -> Result<MediaServer, EngineError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| EngineError::internal(format!("no random token for the media server: {e}")))?;
    let token = hex::encode(bytes);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| {
            EngineError::new(
                crate::ErrorKind::Unavailable,
                format!("the preview server cannot listen on 127.0.0.1: {e}"),
            )
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| EngineError::internal(e.to_string()))?;
    let shared = Shared {
        catalog,
        files,
        thumbnails,
        token: token.clone().into(),
        live,
    };
    let app = Router::new()
        .route("/preview/{app}/{stream}/index.m3u8", get(preview))
        .route("/thumb/{app}/{stream}", get(thumb))
        .route("/keyframe/{app}/{stream}", get(keyframe))
        .route("/files/{*key}", get(file))
        .layer(axum::middleware::from_fn_with_state(shared.clone(), guard))
        .with_state(shared);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await;
    });
    Ok(MediaServer { addr, token })
}

/// The token on every request; the webview's origin (`tauri://localhost`,
/// `http://tauri.localhost`) may read the answers.
async fn guard(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let ok = request.uri().query().is_some_and(|q| {
        q.split('&').any(|kv| {
            kv.strip_prefix("token=").is_some_and(|t| {
                use subtle::ConstantTimeEq;
                t.len() == shared.token.len()
                    && bool::from(t.as_bytes().ct_eq(shared.token.as_bytes()))
            })
        })
    });
    let mut response = if ok {
        next.run(request).await
    } else {
        (StatusCode::UNAUTHORIZED, "a token is needed").into_response()
    };
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response.headers_mut().insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("x-codec, x-width, x-height, x-at"),
    );
    response
}

#[derive(Deserialize)]
struct Range {
    start: i64,
    end: i64,
    token: String,
}

async fn preview(
    State(shared): State<Shared>,
    Path((app, stream)): Path<(String, String)>,
    Query(range): Query<Range>,
) -> Response {
    let live = (shared.live)(&app, &stream);
    let catalog = shared.catalog.clone();
    let token = range.token.clone();
    let made = tokio::task::spawn_blocking(move || {
        playlist(
            &catalog,
            &app,
            &stream,
            range.start,
            range.end,
            live,
            &token,
        )
    })
    .await;
    match made {
        Ok(Ok(Some(text))) => (
            [(header::CONTENT_TYPE, "application/vnd.apple.mpegurl"), (header::CACHE_CONTROL, "no-store")],
            Body::from(text),
        )
            .into_response(),
        Ok(Ok(None)) => (
            StatusCode::NOT_FOUND,
            "no HLS segments in this range (the preview plays the m3u8 format; record it to preview)",
        )
            .into_response(),
        Ok(Err(e)) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// A recorded file, with ranges: from the recordings folder, or downloaded first from the
/// bucket that holds it.
async fn file(State(shared): State<Shared>, Path(key): Path<String>, request: Request) -> Response {
    let path = match shared.files.path(&key).await {
        Ok(p) => p,
        Err(e) => {
            let status = match e.kind {
                crate::ErrorKind::Invalid => StatusCode::BAD_REQUEST,
                crate::ErrorKind::NotFound => StatusCode::NOT_FOUND,
                _ => StatusCode::BAD_GATEWAY,
            };
            return (status, e.to_string()).into_response();
        }
    };
    match ServeFile::new(path).oneshot(request).await {
        Ok(r) => r.map(Body::new),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[derive(Deserialize)]
struct KeyFrameQuery {
    at: i64,
}

/// The key frame at or before `at` as Annex B, its codec string and size in headers: the
/// webview decodes what the engine does not (H.265) with WebCodecs.
async fn keyframe(
    State(shared): State<Shared>,
    Path((app, stream)): Path<(String, String)>,
    Query(q): Query<KeyFrameQuery>,
) -> Response {
    let Some(at) = chrono::DateTime::from_timestamp_millis(q.at) else {
        return (StatusCode::BAD_REQUEST, "at is not a time").into_response();
    };
    let made = tokio::task::spawn_blocking(move || {
        crate::thumbnail::key_frame(&shared.catalog, &*shared.files, &app, &stream, at)
    })
    .await;
    match made {
        Ok(Ok(k)) => {
            let header =
                |v: String| HeaderValue::from_str(&v).unwrap_or(HeaderValue::from_static(""));
            (
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/octet-stream"),
                    ),
                    (
                        header::CACHE_CONTROL,
                        HeaderValue::from_static("max-age=3600, immutable"),
                    ),
                    (header::HeaderName::from_static("x-codec"), header(k.codec)),
                    (
                        header::HeaderName::from_static("x-width"),
                        header(k.width.to_string()),
                    ),
                    (
                        header::HeaderName::from_static("x-height"),
                        header(k.height.to_string()),
                    ),
                    (
                        header::HeaderName::from_static("x-at"),
                        header(k.at.timestamp_millis().to_string()),
                    ),
                ],
                Body::from(k.annex_b),
            )
                .into_response()
        }
        Ok(Err(e)) => {
            use crate::thumbnail::ThumbnailError as T;
            let status = match e {
                T::NothingThere(_) | T::NoSegments(_) | T::NoKeyFrame(_) => StatusCode::NOT_FOUND,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            (status, e.to_string()).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[derive(Deserialize)]
struct ThumbQuery {
    at: i64,
    width: u32,
}

async fn thumb(
    State(shared): State<Shared>,
    Path((app, stream)): Path<(String, String)>,
    Query(q): Query<ThumbQuery>,
) -> Response {
    let Some(at) = chrono::DateTime::from_timestamp_millis(q.at) else {
        return (StatusCode::BAD_REQUEST, "at is not a time").into_response();
    };
    let made = tokio::task::spawn_blocking(move || {
        crate::thumbnail::thumbnail(
            &shared.catalog,
            &*shared.files,
            &shared.thumbnails,
            &app,
            &stream,
            at,
            q.width,
        )
        .and_then(|t| {
            std::fs::read(&t.path).map_err(|e| crate::thumbnail::ThumbnailError::Read {
                path: t.path.display().to_string(),
                detail: e.to_string(),
            })
        })
    })
    .await;
    match made {
        Ok(Ok(jpeg)) => (
            [
                (header::CONTENT_TYPE, "image/jpeg"),
                (header::CACHE_CONTROL, "max-age=3600, immutable"),
            ],
            Body::from(jpeg),
        )
            .into_response(),
        Ok(Err(e)) => {
            use crate::thumbnail::ThumbnailError as T;
            let status = match e {
                T::NothingThere(_) | T::NoSegments(_) | T::NoKeyFrame(_) => StatusCode::NOT_FOUND,
                T::Codec(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                T::Width(_) => StatusCode::BAD_REQUEST,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            (status, e.to_string()).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// The preview playlist's text, or `None` when no segment overlaps the range.
pub fn playlist(
    catalog: &Catalog,
    app: &str,
    stream: &str,
    start_ms: i64,
    end_ms: i64,
    live: bool,
    token: &str,
) -> Result<Option<String>, tapedeck_catalog::CatalogError> {
    let mut body = String::new();
    let mut longest = 0i64;
    let mut last_end: Option<i64> = None;
    let mut last_recording: Option<i64> = None;
    let mut count = 0usize;
    catalog.for_each_index_segment(app, stream, start_ms, end_ms, |s| {
        // A gap, a resume, or the next recording (its timestamps start again).
        let new_recording = last_recording.is_some_and(|r| r != s.recording_id);
        if last_end.is_some_and(|e| new_recording || s.discontinuity || s.start_ms > e + 500) {
            body.push_str("#EXT-X-DISCONTINUITY\n");
        }
        last_recording = Some(s.recording_id);
        let at = chrono::DateTime::from_timestamp_millis(s.start_ms).unwrap_or_default();
        let _ = writeln!(
            body,
            "#EXT-X-PROGRAM-DATE-TIME:{}\n#EXTINF:{:.3},\n/files/{}?token={token}",
            at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            s.duration_ms as f64 / 1000.0,
            encode_path(s.key)
        );
        longest = longest.max(s.duration_ms);
        last_end = Some(s.start_ms + s.duration_ms);
        count += 1;
    })?;
    if count == 0 {
        return Ok(None);
    }
    // Still recording into the range: a live playlist that hls.js reloads.
    let open = live
        && last_end
            .is_some_and(|e| e + 60_000 >= end_ms.min(chrono::Utc::now().timestamp_millis()));
    let mut text = format!(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{}\n#EXT-X-MEDIA-SEQUENCE:0\n{}",
        (longest + 999) / 1000,
        if open {
            ""
        } else {
            "#EXT-X-PLAYLIST-TYPE:VOD\n"
        }
    );
    text.push_str(&body);
    if !open {
        text.push_str("#EXT-X-ENDLIST\n");
    }
    Ok(Some(text))
}

/// Percent-encodes one path segment.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// Percent-encodes a key, keeping its slashes.
fn encode_path(key: &str) -> String {
    key.split('/').map(encode).collect::<Vec<_>>().join("/")
}

impl Engine {
    /// The loopback media server (preview playlists and recorded files for the app's
    /// webview), started on first use and stopped with the engine.
    pub async fn media_server(&self) -> Result<crate::media::MediaServer, EngineError> {
        let inner = self.inner();
        inner
            .media
            .get_or_try_init(|| {
                let recorder = inner.recorder.clone();
                crate::media::start(
                    inner.archive.files().clone(),
                    crate::thumbnail::cache_dir(&inner.config.data_dir),
                    inner.catalog.clone(),
                    Arc::new(move |app: &str, stream: &str| {
                        recorder
                            .active()
                            .iter()
                            .any(|(a, s)| a == app && s == stream)
                    }),
                    inner.shutdown.clone(),
                )
            })
            .await
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tapedeck_catalog::Segment;

    fn seg(key: &str, start_ms: i64, discontinuity: bool) -> Segment {
        Segment {
            recording: "live/cam 1/0".into(),
            app: "live".into(),
            stream: "cam 1".into(),
            key: key.into(),
            start_ms,
            duration_ms: 2000,
            bytes: 10,
            codecs: String::new(),
            width: 0,
            height: 0,
            keyframes: 1,
            discontinuity,
        }
    }

    #[test]
    fn a_preview_playlist_dates_each_segment_and_marks_gaps() {
        let c = Catalog::in_memory().unwrap();
        c.add_segment(&seg("record/live/cam 1/1_0.ts", 1_700_000_000_000, false))
            .unwrap();
        c.add_segment(&seg("record/live/cam 1/1_1.ts", 1_700_000_002_000, false))
            .unwrap();
        c.add_segment(&seg("record/live/cam 1/1_2.ts", 1_700_000_010_000, true))
            .unwrap();
        // The next recording right after the last segment: its timestamps start again.
        c.add_segment(&Segment {
            recording: "live/cam 1/1700000012000".into(),
            ..seg("record/live/cam 1/2_0.ts", 1_700_000_012_000, false)
        })
        .unwrap();
        let text = playlist(
            &c,
            "live",
            "cam 1",
            1_700_000_000_000,
            1_700_000_100_000,
            false,
            "T",
        )
        .unwrap()
        .unwrap();
        assert!(
            text.starts_with("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n"),
            "{text}"
        );
        assert!(text.contains("#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:20.000Z\n#EXTINF:2.000,\n/files/record/live/cam%201/1_0.ts?token=T\n"), "{text}");
        assert_eq!(text.matches("#EXT-X-DISCONTINUITY").count(), 2, "{text}");
        assert!(
            text.contains(
                "#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:32.000Z\n"
            ),
            "{text}"
        );
        assert!(text.ends_with("#EXT-X-ENDLIST\n"), "{text}");
        assert!(playlist(&c, "live", "other", 0, i64::MAX, false, "T")
            .unwrap()
            .is_none());
    }

    #[tokio::test]
    async fn files_need_the_token_and_honour_ranges() {
        let dir = std::env::temp_dir().join(format!("tapedeck-media-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("record")).unwrap();
        std::fs::write(dir.join("record/a b.ts"), b"0123456789").unwrap();
        let stop = CancellationToken::new();
        let catalog = Arc::new(Catalog::in_memory().unwrap());
        let server = start(
            Arc::new(RemoteFiles::local_only(dir.clone(), catalog.clone())),
            dir.join("thumbs"),
            catalog,
            Arc::new(|_: &str, _: &str| false),
            stop.clone(),
        )
        .await
        .unwrap();
        let client = reqwest::Client::new();
        let url = server.file_url("record/a b.ts");
        let r = client
            .get(&url)
            .header("Range", "bytes=2-4")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 206);
        assert_eq!(r.text().await.unwrap(), "234");
        let no_token = url.split('?').next().unwrap().to_string();
        assert_eq!(client.get(&no_token).send().await.unwrap().status(), 401);
        let wrong = format!("{no_token}?token=00");
        assert_eq!(client.get(&wrong).send().await.unwrap().status(), 401);
        let outside = format!(
            "{}/files/..%2F..%2Fetc%2Fpasswd?token={}",
            server.base(),
            server.token
        );
        assert_ne!(client.get(&outside).send().await.unwrap().status(), 200);
        stop.cancel();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
