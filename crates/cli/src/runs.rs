//! `tapedeck runs`: the post-recording commands, read from the catalog (no running server
//! needed), newest first.

use anyhow::Result;
use tapedeck_catalog::{Run, RunState};
use tapedeck_config::Config;

/// Lines of output the table shows under a run that did not succeed (JSON has them all).
const SHOWN_LINES: usize = 10;

pub fn list(config: &Config, json: bool, limit: usize) -> Result<()> {
    let catalog = crate::query::open(config)?;
    let rows = catalog.runs(limit)?;
    let counts = catalog.run_counts()?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "counts": counts,
                "runs": rows,
            }))?
        );
        return Ok(());
    }
    println!(
        "{} queued, {} running, {} succeeded, {} failed, {} timed out, {} interrupted",
        counts.queued,
        counts.running,
        counts.succeeded,
        counts.failed,
        counts.timed_out,
        counts.interrupted
    );
    if rows.is_empty() {
        return Ok(());
    }
    println!(
        "{:>6} {:<11} {:>4} {:>8}  {:<19}  {:<12} file",
        "id", "state", "exit", "seconds", "started (UTC)", "program"
    );
    for r in &rows {
        print!("{}", row(r));
    }
    Ok(())
}

/// What `config check` says of a template's commands: one line each.
pub fn describe(t: &tapedeck_config::Template) -> Vec<String> {
    t.run
        .iter()
        .map(|r| {
            let on: Vec<&str> = r.triggers().iter().map(|o| o.as_str()).collect();
            format!(
                "  run on {}: {:?} (timeout {})",
                on.join(", "),
                r.command,
                r.timeout
            )
        })
        .collect()
}

/// One run as the table shows it: its line, and for a run that did not succeed, why and
/// the last lines of its output.
fn row(r: &Run) -> String {
    let exit = match (r.exit_code, r.signal) {
        (Some(c), _) => c.to_string(),
        (None, Some(s)) => format!("s{s}"),
        (None, None) => "-".into(),
    };
    let seconds = r
        .duration_ms
        .map_or_else(|| "-".into(), |ms| format!("{:.1}", ms as f64 / 1000.0));
    let started = r
        .started_ms
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map_or_else(|| "-".into(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string());
    let rerun = r
        .rerun_of
        .map_or_else(String::new, |id| format!(" (again: run {id})"));
    let mut out = format!(
        "{:>6} {:<11} {:>4} {:>8}  {:<19}  {:<12} {}{rerun}\n",
        r.id,
        r.state.as_str(),
        exit,
        seconds,
        started,
        r.program,
        r.key
    );
    if matches!(
        r.state,
        RunState::Failed | RunState::TimedOut | RunState::Interrupted
    ) {
        if let Some(e) = &r.error {
            out.push_str(&format!("{:>8}{e}\n", ""));
        }
        let lines: Vec<&str> = r.output.lines().collect();
        for l in &lines[lines.len().saturating_sub(SHOWN_LINES)..] {
            out.push_str(&format!("{:>8}| {l}\n", ""));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(state: RunState) -> Run {
        Run {
            id: 12,
            app: "live".into(),
            stream: "cam1".into(),
            key: "record/live/cam1/a.mp4".into(),
            path: "/d/record/live/cam1/a.mp4".into(),
            format: "mp4".into(),
            program: "sh".into(),
            command: vec!["/bin/sh".into()],
            timeout_ms: 1000,
            state,
            attempt: 1,
            rerun_of: None,
            queued_ms: 0,
            started_ms: Some(1_767_225_600_000),
            finished_ms: Some(1_767_225_601_500),
            duration_ms: Some(1500),
            exit_code: Some(3),
            signal: None,
            error: Some("exited with status 3".into()),
            output: (1..=12)
                .map(|i| format!("line {i}"))
                .collect::<Vec<_>>()
                .join("\n"),
            pid: None,
            pid_start: None,
        }
    }

    #[test]
    fn a_failed_run_shows_why_and_its_last_lines() {
        let text = row(&run(RunState::Failed));
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].contains("failed"), "{text}");
        assert!(lines[0].contains("2026-01-01 00:00:00"), "{text}");
        assert!(lines[0].contains("1.5"), "{text}");
        assert!(lines[0].ends_with("record/live/cam1/a.mp4"), "{text}");
        assert!(lines[1].ends_with("exited with status 3"), "{text}");
        assert_eq!(lines.len(), 2 + SHOWN_LINES, "{text}");
        assert!(
            lines.last().is_some_and(|l| l.ends_with("| line 12")),
            "{text}"
        );
        assert!(!text.contains("line 2\n"), "{text}");
    }

    #[test]
    fn config_check_names_each_command() {
        let c = Config::from_toml(
            "[[template]]\n[[template.run]]\ncommand = [\"/bin/sh\", \"{Path}\"]\ntimeout = \"30m\"\n[[template.run]]\non = [\"segment\"]\ncommand = [\"/bin/sh\"]\n",
            std::path::Path::new("t.toml"),
        )
        .unwrap();
        assert_eq!(
            describe(&c.template[0]),
            vec![
                r#"  run on m3u8, mp4, flv: ["/bin/sh", "{Path}"] (timeout 30m)"#.to_string(),
                r#"  run on segment: ["/bin/sh"] (timeout 1h)"#.to_string(),
            ]
        );
    }

    #[test]
    fn a_succeeded_run_is_one_line() {
        let mut r = run(RunState::Succeeded);
        r.exit_code = Some(0);
        r.rerun_of = Some(9);
        let text = row(&r);
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("(again: run 9)"), "{text}");
    }
}
