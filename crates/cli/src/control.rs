//! The CLI's side of the control API: `tapedeck record start|stop` and `tapedeck chapter
//! add` ask the running engine (`tapedeck serve` or the desktop app) with the token it left
//! in the data folder.

use tapedeck_engine::control::{Answer, ChapterAnswer, ChapterRequest};
use tapedeck_engine::ChapterMark;

/// A client of the control API at `listen` with the token in `data_dir`.
fn client(listen: &str, data_dir: &std::path::Path) -> anyhow::Result<(reqwest::Client, String)> {
    if listen.is_empty() {
        anyhow::bail!("the control API is off in this configuration ([control] listen = \"\")");
    }
    let token = tapedeck_engine::control::token::read(data_dir)?;
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()?;
    Ok((client, token))
}

fn unreachable(listen: &str, e: reqwest::Error) -> anyhow::Error {
    anyhow::anyhow!("cannot reach the control API at {listen} ({e}); is `tapedeck serve` (or the app) running with this configuration?")
}

/// `tapedeck chapter add`.
pub async fn request_chapter(
    listen: &str,
    data_dir: &std::path::Path,
    app: &str,
    stream: &str,
    title: &str,
) -> anyhow::Result<ChapterMark> {
    let (client, token) = client(listen, data_dir)?;
    let url = format!("http://{listen}/v1/streams/{app}/{stream}/chapters");
    let response = client
        .post(&url)
        .bearer_auth(token)
        .json(&ChapterRequest {
            title: title.to_string(),
        })
        .send()
        .await
        .map_err(|e| unreachable(listen, e))?;
    let status = response.status();
    let answer: ChapterAnswer = response.json().await.map_err(|e| {
        anyhow::anyhow!("unexpected answer from the control API (HTTP {status}): {e}")
    })?;
    match (answer.chapter, answer.error) {
        (Some(mark), _) => Ok(mark),
        (None, Some(e)) => anyhow::bail!("{}", e.message),
        (None, None) => anyhow::bail!("HTTP {status}"),
    }
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
    let (client, token) = client(listen, data_dir)?;
    let action = if on { "start" } else { "stop" };
    let url = format!("http://{listen}/v1/streams/{app}/{stream}/record/{action}");
    let response = client
        .post(&url)
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| unreachable(listen, e))?;
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

/// `tapedeck streams`: the running engine's live streams with their stats, and the disk.
pub async fn request_live(
    listen: &str,
    data_dir: &std::path::Path,
) -> anyhow::Result<(
    Vec<tapedeck_engine::LiveStream>,
    Option<tapedeck_engine::DiskStatus>,
)> {
    let (client, token) = client(listen, data_dir)?;
    let response = client
        .get(format!("http://{listen}/v1/live"))
        .bearer_auth(&token)
        .send()
        .await
        .map_err(|e| unreachable(listen, e))?;
    let status = response.status();
    if !status.is_success() {
        anyhow::bail!("the control API answered HTTP {status} to /v1/live");
    }
    let live = response.json().await.map_err(|e| {
        anyhow::anyhow!("unexpected answer from the control API (HTTP {status}): {e}")
    })?;
    // The disk is extra: an older engine without it still lists its streams.
    let disk = match client
        .get(format!("http://{listen}/v1/disk"))
        .bearer_auth(&token)
        .send()
        .await
    {
        Ok(r) if r.status().is_success() => r.json().await.ok(),
        _ => None,
    };
    Ok((live, disk))
}
