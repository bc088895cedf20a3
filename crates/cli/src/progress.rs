//! Progress of long commands (`export`, `storage upload`): a bar with rate and time left
//! on a terminal (`indicatif`), a plain line every few seconds otherwise (logs, pipes),
//! and one JSON object per line with `--json` (scripts). The same progress the engine
//! gives the app.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// What is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Segments,
    Bytes,
    /// Objects of a bucket read (`catalog import`).
    Objects,
}

impl Unit {
    fn name(self) -> &'static str {
        match self {
            Unit::Segments => "segments",
            Unit::Bytes => "bytes",
            Unit::Objects => "objects",
        }
    }
}

pub enum Progress {
    Bar(ProgressBar),
    Lines {
        task: &'static str,
        unit: Unit,
        total: u64,
        last: Option<Instant>,
        start: Instant,
    },
    Json {
        task: &'static str,
        unit: Unit,
        total: u64,
    },
}

impl Progress {
    /// `json` from the command's flag; else a bar when stderr is a terminal.
    pub fn new(task: &'static str, unit: Unit, total: u64, json: bool) -> Progress {
        if json {
            return Progress::Json { task, unit, total };
        }
        if std::io::stderr().is_terminal() {
            let template = match unit {
                Unit::Bytes => "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}, {eta} left",
                Unit::Segments => "{msg} [{bar:30}] {pos}/{len} segments {per_sec}, {eta} left",
                Unit::Objects => "{msg} [{bar:30}] {pos}/{len} objects {per_sec}, {eta} left",
            };
            let bar = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(task);
            return Progress::Bar(bar);
        }
        Progress::Lines {
            task,
            unit,
            total,
            last: None,
            start: Instant::now(),
        }
    }

    pub fn set_total(&mut self, n: u64) {
        match self {
            Progress::Bar(b) => b.set_length(n),
            Progress::Lines { total, .. } | Progress::Json { total, .. } => *total = n,
        }
    }

    /// `done` of the total so far.
    pub fn set(&mut self, done: u64) {
        match self {
            Progress::Bar(b) => b.set_position(done),
            Progress::Lines {
                task,
                unit,
                total,
                last,
                start,
            } => {
                let due = last.is_none_or(|t| t.elapsed() >= Duration::from_secs(2));
                if due || done == *total {
                    *last = Some(Instant::now());
                    eprintln!("{}", line(task, *unit, done, *total, start.elapsed()));
                }
            }
            Progress::Json { task, unit, total } => {
                let event = serde_json::json!({
                    "event": "progress",
                    "task": task,
                    "unit": unit.name(),
                    "done": done,
                    "total": total,
                });
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{event}");
                let _ = out.flush();
            }
        }
    }

    pub fn finish(&mut self) {
        if let Progress::Bar(b) = self {
            b.finish_and_clear();
        }
    }
}

/// `export: 12/40 segments (30 %), 4.0/s, 7 s left`.
fn line(task: &str, unit: Unit, done: u64, total: u64, elapsed: Duration) -> String {
    let pct = (done * 100).checked_div(total).unwrap_or(100);
    let secs = elapsed.as_secs_f64().max(1e-3);
    let rate = done as f64 / secs;
    let left = if rate > 0.0 && total >= done {
        format!(", {} s left", ((total - done) as f64 / rate).ceil())
    } else {
        String::new()
    };
    match unit {
        Unit::Bytes => format!(
            "{task}: {:.1}/{:.1} MB ({pct} %), {:.1} MB/s{left}",
            done as f64 / 1e6,
            total as f64 / 1e6,
            rate / 1e6
        ),
        Unit::Segments | Unit::Objects => format!(
            "{task}: {done}/{total} {} ({pct} %), {rate:.1}/s{left}",
            unit.name()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_line_says_how_far_and_how_long() {
        let l = line("export", Unit::Segments, 10, 40, Duration::from_secs(5));
        assert_eq!(l, "export: 10/40 segments (25 %), 2.0/s, 15 s left");
        let l = line(
            "upload",
            Unit::Bytes,
            5_000_000,
            10_000_000,
            Duration::from_secs(1),
        );
        assert_eq!(l, "upload: 5.0/10.0 MB (50 %), 5.0 MB/s, 1 s left");
    }
}
