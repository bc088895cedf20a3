//! The local control API: what `tapedeck record start|stop` (and later the desktop app)
//! talk to. It listens on loopback only (validated), and answers only requests that name
//! it as their `Host`, come from no web page, and carry its bearer token (see [`guard`];
//! the token lives in `<data_dir>/state/control.token`, see [`token`]).
//!
//! - `GET  /v1/streams`: the live streams (or those waiting within their window).
//! - `POST /v1/streams/{app}/{stream}/record/stop`: stop recording a live stream now.
//! - `POST /v1/streams/{app}/{stream}/record/start`: record it again, into new files.

pub mod guard;
pub mod token;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tapedeck_recorder::Recorder;
use tokio_util::sync::CancellationToken;

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

pub fn router(recorder: Recorder, guard: guard::Guard) -> Router {
    Router::new()
        .route("/v1/streams", get(streams))
        .route("/v1/streams/{app}/{stream}/record/{action}", post(record))
        .with_state(recorder)
        // `layer`, not `route_layer`: unknown paths and methods are checked too.
        .layer(axum::middleware::from_fn_with_state(guard, guard::check))
}

async fn streams(State(recorder): State<Recorder>) -> Json<Vec<StreamRow>> {
    Json(
        recorder
            .active()
            .into_iter()
            .map(|(app, stream)| StreamRow { app, stream })
            .collect(),
    )
}

async fn record(
    State(recorder): State<Recorder>,
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
    match recorder.set_recording(&app, &stream, on) {
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
                error: Some(error),
            }),
        ),
    }
}

/// Serves the API on `listener` until `shutdown`; `listen` is the configured address and
/// `token` the bearer token every request must carry.
pub async fn serve(
    listener: tokio::net::TcpListener,
    listen: String,
    token: String,
    recorder: Recorder,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    let guard = guard::Guard::new(token, &listen, local);
    axum::serve(listener, router(recorder, guard))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

/// `tapedeck record start|stop`: asks the running server, with the token `serve` left in
/// `data_dir`.
pub async fn request_record(
    listen: &str,
    data_dir: &std::path::Path,
    app: &str,
    stream: &str,
    on: bool,
) -> anyhow::Result<()> {
    if listen.is_empty() {
        anyhow::bail!("the control API is off in this configuration ([control] listen = \"\")");
    }
    let token = token::read(data_dir)?;
    let action = if on { "start" } else { "stop" };
    let url = format!("http://{listen}/v1/streams/{app}/{stream}/record/{action}");
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()?;
    let response = client.post(&url).bearer_auth(token).send().await.map_err(|e| {
        anyhow::anyhow!("cannot reach the control API at {listen} ({e}); is `tapedeck serve` running with this configuration?")
    })?;
    let status = response.status();
    let answer: Answer = response.json().await.unwrap_or(Answer {
        ok: status.is_success(),
        error: Some(format!("HTTP {status}")),
    });
    if answer.ok {
        Ok(())
    } else {
        anyhow::bail!(
            "{}",
            answer.error.unwrap_or_else(|| format!("HTTP {status}"))
        )
    }
}
