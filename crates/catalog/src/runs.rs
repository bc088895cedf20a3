//! Post-recording command runs: one row per run of a `[[template.run]]` command on a
//! finished file, written before the command starts, so that the row outlives a crash.
//!
//! States: `queued` (written when the file finished) → `running` (written right before the
//! process is spawned) → `succeeded` | `failed` | `timed_out`, or `interrupted` when
//! Tapedeck stopped (shutdown, crash, kill -9) while it ran. An interrupted run gets a new
//! `queued` row (`attempt` + 1, `rerun_of` its id) in the same transaction, so the command
//! runs again at least once: at the next start for a crash. After [`MAX_RUN_ATTEMPTS`]
//! interrupted attempts (a command that takes Tapedeck down with it) it is not run again.
//!
//! Rows are never removed: they are what `tapedeck runs` shows.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::{Catalog, CatalogError};

/// Migration 5 (see `schema.rs`).
pub(crate) const MIGRATION: &str = "CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        app TEXT NOT NULL,
        stream TEXT NOT NULL,
        key TEXT NOT NULL,
        path TEXT NOT NULL,
        format TEXT NOT NULL,
        command TEXT NOT NULL,
        timeout_ms INTEGER NOT NULL,
        state TEXT NOT NULL,
        attempt INTEGER NOT NULL DEFAULT 1,
        rerun_of INTEGER REFERENCES runs (id),
        queued_ms INTEGER NOT NULL,
        started_ms INTEGER,
        finished_ms INTEGER,
        duration_ms INTEGER,
        exit_code INTEGER,
        signal INTEGER,
        error TEXT,
        output TEXT NOT NULL DEFAULT '',
        pid INTEGER,
        pid_start INTEGER
     );
     CREATE INDEX runs_by_state ON runs (state, id);";

/// How many times a run may be interrupted before it is not run again.
pub const MAX_RUN_ATTEMPTS: u32 = 3;

/// A run to queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRun {
    pub app: String,
    pub stream: String,
    /// The finished file's key and path.
    pub key: String,
    pub path: String,
    /// The `on` value the file matched: `m3u8`, `mp4`, `flv` or `segment`.
    pub format: String,
    /// The program and its arguments, placeholders rendered.
    pub command: Vec<String>,
    pub timeout_ms: i64,
    pub queued_ms: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Queued,
    Running,
    /// Exit status 0.
    Succeeded,
    /// A non-zero exit, a signal, or a program that could not be started.
    Failed,
    /// Killed (with its process group) after its timeout.
    TimedOut,
    /// Tapedeck stopped while it ran; a re-run is queued (see the module documentation).
    Interrupted,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
            RunState::TimedOut => "timed_out",
            RunState::Interrupted => "interrupted",
        }
    }

    fn parse(s: &str) -> RunState {
        match s {
            "running" => RunState::Running,
            "succeeded" => RunState::Succeeded,
            "failed" => RunState::Failed,
            "timed_out" => RunState::TimedOut,
            "interrupted" => RunState::Interrupted,
            _ => RunState::Queued,
        }
    }
}

/// One run, as `tapedeck runs --json` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Run {
    pub id: i64,
    pub app: String,
    pub stream: String,
    /// The finished file's key (under the recordings folder) and path.
    pub key: String,
    pub path: String,
    /// The `on` value the file matched.
    pub format: String,
    /// The program's file name (`ffmpeg` for `/usr/bin/ffmpeg`).
    pub program: String,
    /// The program and its arguments as run.
    pub command: Vec<String>,
    pub timeout_ms: i64,
    pub state: RunState,
    /// 1 for the first run; a re-run after an interruption counts on.
    pub attempt: u32,
    /// The interrupted run this one repeats.
    pub rerun_of: Option<i64>,
    pub queued_ms: i64,
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    pub duration_ms: Option<i64>,
    pub exit_code: Option<i32>,
    /// The signal that ended it (Unix), when no exit code.
    pub signal: Option<i32>,
    /// Why it did not succeed, as a sentence (not started, timed out, interrupted).
    pub error: Option<String>,
    /// The last lines of its standard output and error, interleaved as they came.
    pub output: String,
    /// The process (group) id while it runs, and its start time as the OS counts it
    /// (Linux: clock ticks after boot), which tells a left-over process from a new one
    /// that got the same id.
    #[serde(skip)]
    pub pid: Option<u32>,
    #[serde(skip)]
    pub pid_start: Option<u64>,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunEnd {
    pub state: RunState,
    pub finished_ms: i64,
    pub duration_ms: i64,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub error: Option<String>,
    pub output: String,
}

/// Rows per state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct RunCounts {
    pub queued: u64,
    pub running: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub timed_out: u64,
    pub interrupted: u64,
}

const COLUMNS: &str = "id, app, stream, key, path, format, command, timeout_ms, state, attempt, rerun_of, queued_ms, started_ms, finished_ms, duration_ms, exit_code, signal, error, output, pid, pid_start";

fn run_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Run> {
    let command_json: String = r.get(6)?;
    let command: Vec<String> = serde_json::from_str(&command_json).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(6, rusqlite::types::Type::Text, Box::new(e))
    })?;
    let program = command
        .first()
        .map(|p| {
            std::path::Path::new(p)
                .file_name()
                .map_or_else(|| p.clone(), |n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    Ok(Run {
        id: r.get(0)?,
        app: r.get(1)?,
        stream: r.get(2)?,
        key: r.get(3)?,
        path: r.get(4)?,
        format: r.get(5)?,
        program,
        command,
        timeout_ms: r.get(7)?,
        state: RunState::parse(&r.get::<_, String>(8)?),
        attempt: r.get(9)?,
        rerun_of: r.get(10)?,
        queued_ms: r.get(11)?,
        started_ms: r.get(12)?,
        finished_ms: r.get(13)?,
        duration_ms: r.get(14)?,
        exit_code: r.get(15)?,
        signal: r.get(16)?,
        error: r.get(17)?,
        output: r.get(18)?,
        pid: r.get::<_, Option<i64>>(19)?.map(|v| v as u32),
        pid_start: r.get::<_, Option<i64>>(20)?.map(|v| v as u64),
    })
}

fn command_json(command: &[String]) -> String {
    // A list of strings always serializes.
    serde_json::to_string(command).unwrap_or_else(|_| "[]".into())
}

/// Marks running row `id` interrupted with `end` and, below the attempt limit, queues its
/// re-run (at `end.finished_ms`). Returns the new row's id.
fn interrupt(tx: &Connection, run: &Run, end: &RunEnd) -> Result<Option<i64>, CatalogError> {
    finish(tx, run.id, end)?;
    if run.attempt >= MAX_RUN_ATTEMPTS {
        return Ok(None);
    }
    tx.execute(
        "INSERT INTO runs (app, stream, key, path, format, command, timeout_ms, state, attempt, rerun_of, queued_ms)
         SELECT app, stream, key, path, format, command, timeout_ms, 'queued', attempt + 1, id, ?2 FROM runs WHERE id = ?1",
        params![run.id, end.finished_ms],
    )?;
    Ok(Some(tx.last_insert_rowid()))
}

fn finish(tx: &Connection, id: i64, end: &RunEnd) -> Result<bool, CatalogError> {
    let n = tx.execute(
        "UPDATE runs SET state = ?2, finished_ms = ?3, duration_ms = ?4, exit_code = ?5, signal = ?6, error = ?7, output = ?8
         WHERE id = ?1 AND state = 'running'",
        params![
            id,
            end.state.as_str(),
            end.finished_ms,
            end.duration_ms,
            end.exit_code,
            end.signal,
            end.error,
            end.output
        ],
    )?;
    Ok(n == 1)
}

impl Catalog {
    /// Queues runs (one transaction: all or none). Returns their ids, in order.
    pub fn add_runs(&self, runs: &[NewRun]) -> Result<Vec<i64>, CatalogError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut ids = Vec::with_capacity(runs.len());
        for r in runs {
            tx.prepare_cached(
                "INSERT INTO runs (app, stream, key, path, format, command, timeout_ms, state, queued_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'queued', ?8)",
            )?
            .execute(params![
                r.app,
                r.stream,
                r.key,
                r.path,
                r.format,
                command_json(&r.command),
                r.timeout_ms,
                r.queued_ms
            ])?;
            ids.push(tx.last_insert_rowid());
        }
        tx.commit()?;
        Ok(ids)
    }

    /// The oldest queued run.
    pub fn next_queued_run(&self) -> Result<Option<Run>, CatalogError> {
        let conn = self.conn();
        let run = conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM runs WHERE state = 'queued' ORDER BY id LIMIT 1"
            ))?
            .query_row([], run_row)
            .optional()?;
        Ok(run)
    }

    /// Marks a queued run as running, before its process is spawned. `false`: it was not
    /// queued (nothing changed).
    pub fn run_started(&self, id: i64, now_ms: i64) -> Result<bool, CatalogError> {
        let conn = self.conn();
        let n = conn.execute(
            "UPDATE runs SET state = 'running', started_ms = ?2 WHERE id = ?1 AND state = 'queued'",
            params![id, now_ms],
        )?;
        Ok(n == 1)
    }

    /// Records the process (group) id of a running run and its OS start time.
    pub fn run_pid(&self, id: i64, pid: u32, pid_start: Option<u64>) -> Result<(), CatalogError> {
        let conn = self.conn();
        conn.execute(
            "UPDATE runs SET pid = ?2, pid_start = ?3 WHERE id = ?1",
            params![id, pid as i64, pid_start.map(|v| v as i64)],
        )?;
        Ok(())
    }

    /// Records how a running run ended (succeeded, failed, timed out). `false`: it was not
    /// running (nothing changed).
    pub fn run_finished(&self, id: i64, end: &RunEnd) -> Result<bool, CatalogError> {
        let conn = self.conn();
        finish(&conn, id, end)
    }

    /// A running run was stopped by Tapedeck's shutdown: marked interrupted and, below the
    /// attempt limit, queued again (one transaction). Returns the re-run's id.
    pub fn run_interrupted(&self, id: i64, end: &RunEnd) -> Result<Option<i64>, CatalogError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let run = tx
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM runs WHERE id = ?1 AND state = 'running'"
            ))?
            .query_row([id], run_row)
            .optional()?;
        let Some(run) = run else {
            return Ok(None);
        };
        let rerun = interrupt(&tx, &run, end)?;
        tx.commit()?;
        Ok(rerun)
    }

    /// At start: every run still `running` was cut off by a crash or kill. Each is marked
    /// interrupted (at `now_ms`) and, below the attempt limit, queued again, in one
    /// transaction. Returns them as they were (with their process ids, for the caller to
    /// make sure no left-over process still runs) and their re-runs' ids.
    pub fn interrupt_unfinished_runs(
        &self,
        now_ms: i64,
    ) -> Result<Vec<(Run, Option<i64>)>, CatalogError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let left: Vec<Run> = tx
            .prepare(&format!(
                "SELECT {COLUMNS} FROM runs WHERE state = 'running' ORDER BY id"
            ))?
            .query_map([], run_row)?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(left.len());
        for run in left {
            let end = RunEnd {
                state: RunState::Interrupted,
                finished_ms: now_ms,
                duration_ms: run.started_ms.map_or(0, |s| (now_ms - s).max(0)),
                exit_code: None,
                signal: None,
                error: Some(if run.attempt >= MAX_RUN_ATTEMPTS {
                    format!(
                        "Tapedeck stopped while it ran ({} times); not run again",
                        run.attempt
                    )
                } else {
                    "Tapedeck stopped while it ran (a crash or kill); run again".into()
                }),
                output: run.output.clone(),
            };
            let rerun = interrupt(&tx, &run, &end)?;
            out.push((run, rerun));
        }
        tx.commit()?;
        Ok(out)
    }

    /// One run by id.
    pub fn run(&self, id: i64) -> Result<Option<Run>, CatalogError> {
        let conn = self.conn();
        let run = conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM runs WHERE id = ?1"))?
            .query_row([id], run_row)
            .optional()?;
        Ok(run)
    }

    /// Runs, newest first, at most `limit`.
    pub fn runs(&self, limit: usize) -> Result<Vec<Run>, CatalogError> {
        let conn = self.conn();
        let mut q = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM runs ORDER BY id DESC LIMIT ?1"
        ))?;
        let rows = q.query_map([limit.min(i64::MAX as usize) as i64], run_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn run_counts(&self) -> Result<RunCounts, CatalogError> {
        let conn = self.conn();
        Ok(conn.query_row(
            "SELECT
                coalesce(sum(state = 'queued'), 0),
                coalesce(sum(state = 'running'), 0),
                coalesce(sum(state = 'succeeded'), 0),
                coalesce(sum(state = 'failed'), 0),
                coalesce(sum(state = 'timed_out'), 0),
                coalesce(sum(state = 'interrupted'), 0)
             FROM runs",
            [],
            |r| {
                Ok(RunCounts {
                    queued: r.get::<_, i64>(0)? as u64,
                    running: r.get::<_, i64>(1)? as u64,
                    succeeded: r.get::<_, i64>(2)? as u64,
                    failed: r.get::<_, i64>(3)? as u64,
                    timed_out: r.get::<_, i64>(4)? as u64,
                    interrupted: r.get::<_, i64>(5)? as u64,
                })
            },
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_run(key: &str, queued_ms: i64) -> NewRun {
        NewRun {
            app: "live".into(),
            stream: "cam1".into(),
            key: key.into(),
            path: format!("/data/my recordings/{key}"),
            format: "mp4".into(),
            command: vec![
                "/usr/bin/ffprobe".into(),
                format!("/data/my recordings/{key}"),
            ],
            timeout_ms: 60_000,
            queued_ms,
        }
    }

    fn end(state: RunState, at: i64) -> RunEnd {
        RunEnd {
            state,
            finished_ms: at,
            duration_ms: 1500,
            exit_code: (state == RunState::Failed).then_some(3),
            signal: None,
            error: None,
            output: "line 1\nline 2".into(),
        }
    }

    #[test]
    fn a_run_goes_from_queued_to_its_end() {
        let c = Catalog::in_memory().unwrap();
        let ids = c
            .add_runs(&[new_run("a.mp4", 10), new_run("b.mp4", 11)])
            .unwrap();
        assert_eq!(ids.len(), 2);
        let next = c.next_queued_run().unwrap().unwrap();
        assert_eq!((next.id, next.key.as_str()), (ids[0], "a.mp4"));
        assert_eq!(
            next.command[1], "/data/my recordings/a.mp4",
            "a space stays in its argument"
        );
        assert_eq!(next.program, "ffprobe");
        assert_eq!(
            (next.state, next.attempt, next.rerun_of),
            (RunState::Queued, 1, None)
        );
        assert!(c.run_started(ids[0], 20).unwrap());
        assert!(!c.run_started(ids[0], 21).unwrap(), "only once");
        c.run_pid(ids[0], 4242, Some(99)).unwrap();
        let next = c.next_queued_run().unwrap().unwrap();
        assert_eq!(next.id, ids[1], "a running run is not handed out again");
        assert!(c.run_finished(ids[0], &end(RunState::Failed, 30)).unwrap());
        assert!(
            !c.run_finished(ids[0], &end(RunState::Succeeded, 31))
                .unwrap(),
            "an ended run stays as it ended"
        );
        let r = c.run(ids[0]).unwrap().unwrap();
        assert_eq!(r.state, RunState::Failed);
        assert_eq!(
            (r.started_ms, r.finished_ms, r.duration_ms),
            (Some(20), Some(30), Some(1500))
        );
        assert_eq!(
            (r.exit_code, r.pid, r.pid_start),
            (Some(3), Some(4242), Some(99))
        );
        assert_eq!(r.output, "line 1\nline 2");
        let listed = c.runs(10).unwrap();
        assert_eq!(
            listed.iter().map(|r| r.id).collect::<Vec<_>>(),
            vec![ids[1], ids[0]]
        );
        assert_eq!(c.runs(1).unwrap().len(), 1);
        let counts = c.run_counts().unwrap();
        assert_eq!((counts.queued, counts.failed, counts.running), (1, 1, 0));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["state"], "failed");
        assert_eq!(json["program"], "ffprobe");
        assert!(json.get("pid").is_none(), "process ids are not shown");
    }

    #[test]
    fn interrupted_runs_are_queued_again_up_to_the_limit() {
        let c = Catalog::in_memory().unwrap();
        let first = c.add_runs(&[new_run("a.mp4", 10)]).unwrap()[0];
        // A crash while it runs: the next start finds it running.
        assert!(c.run_started(first, 20).unwrap());
        c.run_pid(first, 77, Some(5)).unwrap();
        let left = c.interrupt_unfinished_runs(100).unwrap();
        assert_eq!(left.len(), 1);
        let (old, rerun) = &left[0];
        assert_eq!((old.id, old.pid, old.pid_start), (first, Some(77), Some(5)));
        let second = rerun.expect("queued again");
        let r = c.run(first).unwrap().unwrap();
        assert_eq!(
            (r.state, r.finished_ms, r.duration_ms),
            (RunState::Interrupted, Some(100), Some(80))
        );
        let again = c.next_queued_run().unwrap().unwrap();
        assert_eq!(
            (again.id, again.attempt, again.rerun_of),
            (second, 2, Some(first))
        );
        assert_eq!(
            (again.command.clone(), again.key.clone()),
            (r.command.clone(), r.key.clone())
        );
        assert_eq!((again.started_ms, again.pid), (None, None));
        // A shutdown while the second attempt runs.
        assert!(c.run_started(second, 200).unwrap());
        let third = c
            .run_interrupted(second, &end(RunState::Interrupted, 210))
            .unwrap()
            .expect("queued again");
        assert_eq!(c.run(third).unwrap().unwrap().attempt, 3);
        assert_eq!(
            c.run_interrupted(second, &end(RunState::Interrupted, 211))
                .unwrap(),
            None,
            "only a running run"
        );
        // The third interruption is the last.
        assert!(c.run_started(third, 300).unwrap());
        let left = c.interrupt_unfinished_runs(400).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].1, None);
        assert!(c.next_queued_run().unwrap().is_none());
        let r = c.run(third).unwrap().unwrap();
        assert!(
            r.error
                .as_deref()
                .is_some_and(|e| e.contains("not run again")),
            "{r:?}"
        );
        let counts = c.run_counts().unwrap();
        assert_eq!(
            (counts.interrupted, counts.queued, counts.running),
            (3, 0, 0)
        );
        // Nothing left running: a second start finds nothing.
        assert!(c.interrupt_unfinished_runs(500).unwrap().is_empty());
    }

    #[test]
    fn the_table_survives_reopening() {
        let dir = std::env::temp_dir().join(format!("tapedeck-runs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("catalog.sqlite3");
        let id = {
            let c = Catalog::open(&path).unwrap();
            let id = c.add_runs(&[new_run("a.mp4", 10)]).unwrap()[0];
            assert!(c.run_started(id, 20).unwrap());
            id
        };
        let c = Catalog::open(&path).unwrap();
        assert_eq!(c.run(id).unwrap().unwrap().state, RunState::Running);
        let version: i64 = c
            .conn()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, crate::schema::VERSION);
        assert!(version >= 5);
        drop(c);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
