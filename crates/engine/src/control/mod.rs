//! The local control API: what `tapedeck record start|stop` (and later the desktop app)
//! talk to. It listens on loopback only (validated), and answers only requests that name
//! it as their `Host`, come from no web page, and carry its bearer token (see [`guard`];
//! the token lives in `<data_dir>/state/control.token`, see [`token`]).
//!
//! - `GET  /v1/streams`: the live streams (or those waiting within their window).
//! - `POST /v1/streams/{app}/{stream}/record/stop`: stop recording a live stream now.
//! - `POST /v1/streams/{app}/{stream}/record/start`: record it again, into new files.
//! - `GET  /v1/disk`: the recordings' disk: `{free_bytes, total_bytes, low,
//!   threshold_bytes}` ([`crate::DiskStatus`]).

pub mod guard;
pub mod token;

use crate::Engine;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
pub struct StreamRow {
    pub app: String,
    pub stream: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Answer {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub fn router(engine: Engine, guard: guard::Guard) -> Router {
    Router::new()
        .route("/v1/streams", get(streams))
        .route("/v1/live", get(live))
        .route("/v1/disk", get(disk))
        .route("/v1/streams/{app}/{stream}/record/{action}", post(record))
        .route("/v1/streams/{app}/{stream}/chapters", post(chapter))
        .with_state(engine)
        // `layer`, not `route_layer`: unknown paths and methods are checked too.
        .layer(axum::middleware::from_fn_with_state(guard, guard::check))
}

async fn streams(State(engine): State<Engine>) -> Json<Vec<StreamRow>> {
    Json(
        engine
            .streams()
            .into_iter()
            .map(|k| StreamRow {
                app: k.app,
                stream: k.stream,
            })
            .collect(),
    )
}

/// `GET /v1/live`: every live stream with its stats (`tapedeck streams --json`).
async fn live(State(engine): State<Engine>) -> Json<Vec<crate::LiveStream>> {
    Json(engine.live().as_ref().clone())
}

async fn disk(State(engine): State<Engine>) -> axum::response::Response {
    use axum::response::IntoResponse;
    match engine.disk() {
        Ok(status) => Json(status).into_response(),
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(Answer {
                ok: false,
                error: Some(error.message),
            }),
        )
            .into_response(),
    }
}

async fn record(
    State(engine): State<Engine>,
    Path((app, stream, action)): Path<(String, String, String)>,
) -> (StatusCode, Json<Answer>) {
    let on = match action.as_str() {
        "start" => true,
        "stop" => false,
        other => {
            let error = format!("unknown action {other:?}; use start or stop");
            return (
                StatusCode::NOT_FOUND,
                Json(Answer {
                    ok: false,
                    error: Some(error),
                }),
            );
        }
    };
    match engine.set_recording(&app, &stream, on) {
        Ok(()) => (
            StatusCode::OK,
            Json(Answer {
                ok: true,
                error: None,
            }),
        ),
        Err(error) => (
            StatusCode::CONFLICT,
            Json(Answer {
                ok: false,
                error: Some(error.message),
            }),
        ),
    }
}

/// `POST /v1/streams/{app}/{stream}/chapters` with `{"title": "..."}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ChapterRequest {
    pub title: String,
}

/// The answer to a chapter request: `ok`, and the chapter or the error.
#[derive(Debug, Serialize, Deserialize)]
pub struct ChapterAnswer {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chapter: Option<crate::ChapterMark>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::EngineError>,
}

async fn chapter(
    State(engine): State<Engine>,
    Path((app, stream)): Path<(String, String)>,
    Json(request): Json<ChapterRequest>,
) -> (StatusCode, Json<ChapterAnswer>) {
    match engine.add_chapter(&app, &stream, &request.title).await {
        Ok(chapter) => (
            StatusCode::OK,
            Json(ChapterAnswer {
                ok: true,
                chapter: Some(chapter),
                error: None,
            }),
        ),
        Err(error) => {
            let status = match error.kind {
                crate::ErrorKind::Invalid => StatusCode::BAD_REQUEST,
                crate::ErrorKind::NotFound => StatusCode::NOT_FOUND,
                _ => StatusCode::CONFLICT,
            };
            (
                status,
                Json(ChapterAnswer {
                    ok: false,
                    chapter: None,
                    error: Some(error),
                }),
            )
        }
    }
}

/// Serves the API on `listener` until `shutdown`; `listen` is the configured address and
/// `token` the bearer token every request must carry.
pub async fn serve(
    listener: tokio::net::TcpListener,
    listen: String,
    token: String,
    engine: Engine,
) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    let guard = guard::Guard::new(token, &listen, local);
    let shutdown = engine.shutdown_token();
    axum::serve(listener, router(engine, guard))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}
