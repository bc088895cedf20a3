//! The CLI's side of the control API: `tapedeck record start|stop` asks the running engine
//! (`tapedeck serve` or the desktop app) with the token it left in the data folder.

use tapedeck_engine::control::Answer;

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
    let token = tapedeck_engine::control::token::read(data_dir)?;
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
