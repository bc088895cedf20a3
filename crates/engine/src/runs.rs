//! Post-recording commands (`[[template.run]]`, nginx-rtmp's `exec_record_done`): a
//! program run on each finished file, away from the recording's path.
//!
//! - **Trigger.** [`RunsSink`] wraps the engine's [`FileSink`]: after the file's catalog
//!   row (and upload row) is written, the runs of the template the recording *started*
//!   with (`Finished::template`) whose `on` matches the file are rendered and written to
//!   the catalog as `queued` in one transaction, and the worker is woken. That is a SQLite
//!   insert on the recording's (or finalizer's) thread and nothing more: no command is
//!   ever waited for there.
//! - **Queue.** The catalog is the queue. One worker task takes the oldest queued run once
//!   a permit of the `[runs] max_parallel` semaphore is free, marks it `running` (before
//!   the spawn), and runs it in a task of its own that holds the permit.
//! - **Durability.** A run is in the catalog before it starts. At start, runs still
//!   `running` (a crash, a kill -9) are marked `interrupted` and queued again (see
//!   `tapedeck_catalog::runs`): at least once. A left-over process of such a run, still
//!   running because it had a process group of its own, is killed first (Linux, where its
//!   start time tells it from a process that got the same id).
//! - **Kill.** On Unix each command leads a new process group (`process_group(0)`); on its
//!   timeout the whole group gets SIGKILL (a shell's children too) and the run is
//!   `timed_out`. At shutdown the group gets SIGTERM, then SIGKILL after
//!   [`SHUTDOWN_GRACE`]; the run is `interrupted` and queued again for the next start. On
//!   Windows there are no process groups to signal: the program itself is terminated
//!   (`TerminateProcess`), and processes it started may outlive it.
//! - **Output.** Standard output and error are read as they come, interleaved by line,
//!   keeping the last [`TAIL_LINES`] lines and at most [`TAIL_BYTES`] bytes.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tapedeck_catalog::{Catalog, FileKind, NewRun, Run, RunEnd, RunState};
use tapedeck_config::run::{render_command, RunOn, RunValues};
use tapedeck_config::{Config, Template};
use tapedeck_recorder::recover::Report;
use tapedeck_recorder::sink::{FileSink, Finished};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{broadcast, Notify, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::events::EngineEvent;

/// Lines of output kept per run.
pub const TAIL_LINES: usize = 50;
/// Bytes of output kept per run.
pub const TAIL_BYTES: usize = 8192;
/// At shutdown, how long a command has between SIGTERM and SIGKILL.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// After a command ended, how long its output may still take to arrive (a process it left
/// behind can hold the pipes open).
const OUTPUT_GRACE: Duration = Duration::from_secs(1);

/// What the runs of post-recording commands report. JSON:
/// `{"source": "run", "event": {"event": "started", ...}}`.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RunEvent {
    /// A command started on a finished file.
    Started {
        id: i64,
        app: String,
        stream: String,
        /// The finished file's key.
        key: String,
        program: String,
        attempt: u32,
    },
    /// It exited with status 0.
    Finished {
        id: i64,
        app: String,
        stream: String,
        key: String,
        program: String,
        duration_ms: i64,
    },
    /// It failed, timed out, could not start, or was interrupted by Tapedeck's shutdown
    /// (`state` says which; an interrupted run is queued again).
    Failed {
        id: i64,
        app: String,
        stream: String,
        key: String,
        program: String,
        state: RunState,
        exit_code: Option<i32>,
        duration_ms: i64,
        error: String,
    },
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The `on` value a finished file of `kind` matches.
fn trigger_of(kind: FileKind) -> Option<RunOn> {
    match kind {
        FileKind::Segment => Some(RunOn::Segment),
        FileKind::Playlist => Some(RunOn::M3u8),
        FileKind::Mp4 => Some(RunOn::Mp4),
        FileKind::Flv => Some(RunOn::Flv),
        _ => None,
    }
}

/// The runs `template` asks for on one finished file, rendered.
pub fn runs_for(
    template: &Template,
    app: &str,
    stream: &str,
    key: &str,
    path: &Path,
    kind: FileKind,
    queued_ms: i64,
) -> Vec<NewRun> {
    let Some(trigger) = trigger_of(kind) else {
        return Vec::new();
    };
    template
        .run
        .iter()
        .filter(|r| r.triggers().contains(&trigger))
        .map(|r| {
            let values = RunValues::new(path, key, app, stream, trigger.as_str());
            NewRun {
                app: app.to_owned(),
                stream: stream.to_owned(),
                key: key.to_owned(),
                path: values.path.clone(),
                format: trigger.as_str().to_owned(),
                command: render_command(&r.command, &values),
                timeout_ms: (r.timeout.0.saturating_mul(1000)).min(i64::MAX as u64) as i64,
                queued_ms,
            }
        })
        .collect()
}

/// The engine's [`FileSink`] with post-recording commands: the inner sink first (catalog
/// and upload rows), then the runs queued (see the module documentation).
pub struct RunsSink {
    inner: Arc<dyn FileSink>,
    catalog: Arc<Catalog>,
    wake: Arc<Notify>,
}

impl FileSink for RunsSink {
    fn chapter(&self, c: &tapedeck_catalog::Chapter) {
        self.inner.chapter(c);
    }

    fn record(&self, f: &Finished) {
        self.inner.record(f);
        if f.template.run.is_empty() {
            return;
        }
        let runs = runs_for(
            &f.template,
            &f.file.app,
            &f.file.stream,
            &f.file.key,
            &f.file.path,
            f.file.kind,
            now_ms(),
        );
        if runs.is_empty() {
            return;
        }
        match self.catalog.add_runs(&runs) {
            Ok(_) => self.wake.notify_one(),
            Err(e) => warn!(key = %f.file.key, "post-recording commands not queued: {e}"),
        }
    }
}

/// The post-recording commands of the engine: a sink for finished files and the worker.
pub struct Runs {
    catalog: Arc<Catalog>,
    events: broadcast::Sender<EngineEvent>,
    wake: Arc<Notify>,
    stop: CancellationToken,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl Runs {
    pub fn new(catalog: Arc<Catalog>, events: broadcast::Sender<EngineEvent>) -> Runs {
        Runs {
            catalog,
            events,
            wake: Arc::new(Notify::new()),
            stop: CancellationToken::new(),
            worker: Mutex::new(None),
        }
    }

    /// `inner` with the runs of each finished file queued after it.
    pub fn sink(&self, inner: Arc<dyn FileSink>) -> Arc<dyn FileSink> {
        Arc::new(RunsSink {
            inner,
            catalog: self.catalog.clone(),
            wake: self.wake.clone(),
        })
    }

    /// Queues the runs of files that recovery completed after a crash (they never went
    /// through the sink). Their stream is read from the key's last two folders, as for
    /// their uploads, and the template is today's (the one they started with is not known).
    pub fn queue_recovered(&self, config: &Config, report: &Report) {
        let root = config.recordings_dir();
        let now = now_ms();
        let mut runs = Vec::new();
        for r in &report.recovered {
            if !r.to.starts_with(&root) {
                continue;
            }
            let key = tapedeck_recorder::files::key_of(&root, &r.to);
            let dirs: Vec<&str> = key.split('/').collect();
            if dirs.len() < 3 {
                continue;
            }
            let (app, stream) = (dirs[dirs.len() - 3], dirs[dirs.len() - 2]);
            let Some(t) = config.template_for(app, stream) else {
                continue;
            };
            let kind = match r.to.extension().and_then(|e| e.to_str()) {
                Some("ts") => FileKind::Segment,
                Some("m3u8") => FileKind::Playlist,
                Some("mp4") => FileKind::Mp4,
                Some("flv") => FileKind::Flv,
                _ => continue,
            };
            runs.extend(runs_for(t, app, stream, &key, &r.to, kind, now));
        }
        if runs.is_empty() {
            return;
        }
        match self.catalog.add_runs(&runs) {
            Ok(ids) => info!(
                "queued {} post-recording command(s) for recovered files",
                ids.len()
            ),
            Err(e) => warn!("post-recording commands of recovered files not queued: {e}"),
        }
    }

    /// Starts the worker: runs cut off by a crash are queued again (their left-over
    /// processes killed first), then queued runs start, `max_parallel` at a time.
    pub fn start(&self, max_parallel: u32) {
        match self.catalog.interrupt_unfinished_runs(now_ms()) {
            Ok(left) => {
                for (run, rerun) in left {
                    kill_leftover(&run);
                    match rerun {
                        Some(id) => info!(
                            "post-recording command {} ({}) on {} was cut off by a stop: queued again as run {id}",
                            run.id, run.program, run.key
                        ),
                        None => warn!(
                            "post-recording command {} ({}) on {} was cut off {} times: not run again",
                            run.id, run.program, run.key, run.attempt
                        ),
                    }
                }
            }
            Err(e) => warn!("cannot look for post-recording commands cut off by a stop: {e}"),
        }
        let task = tokio::spawn(work(
            self.catalog.clone(),
            Arc::new(Semaphore::new(max_parallel.max(1) as usize)),
            self.wake.clone(),
            self.stop.clone(),
            self.events.clone(),
        ));
        *self.worker.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
    }

    /// No run starts from now on; running ones are stopped (SIGTERM, SIGKILL after
    /// [`SHUTDOWN_GRACE`]) and queued again. Files finished later are still queued.
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// Waits until every run has stopped (at most about [`SHUTDOWN_GRACE`] after `stop`).
    pub async fn join(&self) {
        let task = self.worker.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

async fn work(
    catalog: Arc<Catalog>,
    permits: Arc<Semaphore>,
    wake: Arc<Notify>,
    stop: CancellationToken,
    events: broadcast::Sender<EngineEvent>,
) {
    let mut running = JoinSet::new();
    loop {
        while running.try_join_next().is_some() {}
        let permit = tokio::select! {
            _ = stop.cancelled() => break,
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let next = match catalog.next_queued_run() {
            Ok(next) => next,
            Err(e) => {
                warn!("cannot read the queue of post-recording commands: {e}");
                None
            }
        };
        let Some(run) = next else {
            drop(permit);
            // notify_one keeps a wake-up that came before this wait: none is lost. The
            // timeout retries after a catalog error.
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(30)) => {}
            }
            continue;
        };
        match catalog.run_started(run.id, now_ms()) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                warn!(
                    id = run.id,
                    "cannot mark a post-recording command as started: {e}"
                );
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                continue;
            }
        }
        running.spawn(execute(
            run,
            catalog.clone(),
            events.clone(),
            stop.clone(),
            permit,
        ));
    }
    while running.join_next().await.is_some() {}
}

/// How a command's process ended, before it is put into words.
enum Ended {
    Exited(std::io::Result<std::process::ExitStatus>),
    TimedOut,
    Stopped,
}

async fn execute(
    run: Run,
    catalog: Arc<Catalog>,
    events: broadcast::Sender<EngineEvent>,
    stop: CancellationToken,
    _permit: tokio::sync::OwnedSemaphorePermit,
) {
    let emit = |e: RunEvent| {
        let _ = events.send(EngineEvent::Run(e));
    };
    emit(RunEvent::Started {
        id: run.id,
        app: run.app.clone(),
        stream: run.stream.clone(),
        key: run.key.clone(),
        program: run.program.clone(),
        attempt: run.attempt,
    });
    info!(
        "running {} on {} (run {}, attempt {})",
        run.program, run.key, run.id, run.attempt
    );
    let started = Instant::now();
    let values = RunValues::new(
        Path::new(&run.path),
        &run.key,
        &run.app,
        &run.stream,
        &run.format,
    );
    let Some((program, args)) = run.command.split_first() else {
        let end = ended(
            &run,
            started,
            Ended::Exited(Err(std::io::Error::other("the command is empty"))),
            String::new(),
        );
        record(&run, &catalog, end, &emit);
        return;
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .envs(values.env())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    cmd.process_group(0);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let end = ended(&run, started, Ended::Exited(Err(e)), String::new());
            record(&run, &catalog, end, &emit);
            return;
        }
    };
    let pid = child.id();
    if let Some(pid) = pid {
        if let Err(e) = catalog.run_pid(run.id, pid, process_start(pid)) {
            debug!(id = run.id, "process id not recorded: {e}");
        }
    }
    let tail = Arc::new(Mutex::new(Tail::default()));
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        readers.push(tokio::spawn(read_into(out, tail.clone(), 0)));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(tokio::spawn(read_into(err, tail.clone(), 1)));
    }
    let timeout = Duration::from_millis(run.timeout_ms.max(0) as u64);
    let outcome = tokio::select! {
        status = child.wait() => Ended::Exited(status),
        _ = tokio::time::sleep(timeout) => Ended::TimedOut,
        _ = stop.cancelled() => Ended::Stopped,
    };
    match outcome {
        Ended::TimedOut => {
            kill_group(&mut child, pid, Signal::Kill);
            let _ = child.wait().await;
        }
        Ended::Stopped => {
            kill_group(&mut child, pid, Signal::Term);
            if tokio::time::timeout(SHUTDOWN_GRACE, child.wait())
                .await
                .is_err()
            {
                kill_group(&mut child, pid, Signal::Kill);
                let _ = child.wait().await;
            }
        }
        Ended::Exited(_) => {}
    }
    for r in readers {
        let abort = r.abort_handle();
        if tokio::time::timeout(OUTPUT_GRACE, r).await.is_err() {
            abort.abort();
        }
    }
    let output = tail.lock().unwrap_or_else(|p| p.into_inner()).text();
    let end = ended(&run, started, outcome, output);
    record(&run, &catalog, end, &emit);
}

/// Puts a run's end into a [`RunEnd`].
fn ended(run: &Run, started: Instant, how: Ended, output: String) -> RunEnd {
    let duration_ms = started.elapsed().as_millis().min(i64::MAX as u128) as i64;
    let mut end = RunEnd {
        state: RunState::Failed,
        finished_ms: now_ms(),
        duration_ms,
        exit_code: None,
        signal: None,
        error: None,
        output,
    };
    match how {
        Ended::Exited(Ok(status)) => {
            end.exit_code = status.code();
            #[cfg(unix)]
            {
                use std::os::unix::process::ExitStatusExt;
                end.signal = status.signal();
            }
            if status.success() {
                end.state = RunState::Succeeded;
            } else {
                end.error = Some(match (end.exit_code, end.signal) {
                    (Some(code), _) => format!("exited with status {code}"),
                    (None, Some(sig)) => format!("ended by signal {sig}"),
                    (None, None) => format!("ended with {status}"),
                });
            }
        }
        Ended::Exited(Err(e)) => {
            end.error = Some(format!(
                "cannot start {:?}: {e}",
                run.command.first().map_or("", String::as_str)
            ));
        }
        Ended::TimedOut => {
            end.state = RunState::TimedOut;
            end.error = Some(format!(
                "still running after {}: killed{}",
                tapedeck_config::Secs((run.timeout_ms / 1000).max(0) as u64),
                if cfg!(unix) {
                    " with its process group"
                } else {
                    ""
                }
            ));
        }
        Ended::Stopped => {
            end.state = RunState::Interrupted;
            end.error = Some("Tapedeck stopped while it ran; run again at the next start".into());
        }
    }
    end
}

/// Writes the end to the catalog, logs it and sends its event.
fn record(run: &Run, catalog: &Catalog, end: RunEnd, emit: &impl Fn(RunEvent)) {
    let written = if end.state == RunState::Interrupted {
        catalog.run_interrupted(run.id, &end).map(|rerun| {
            if let Some(id) = rerun {
                info!(
                    "{} on {} stopped by the shutdown: queued again as run {id}",
                    run.program, run.key
                );
            }
        })
    } else {
        catalog.run_finished(run.id, &end).map(|_| ())
    };
    if let Err(e) = written {
        warn!(
            id = run.id,
            "the end of a post-recording command is not in the catalog: {e}"
        );
    }
    let secs = end.duration_ms as f64 / 1000.0;
    if end.state == RunState::Succeeded {
        info!(
            "{} on {} succeeded in {secs:.1} s (run {})",
            run.program, run.key, run.id
        );
        emit(RunEvent::Finished {
            id: run.id,
            app: run.app.clone(),
            stream: run.stream.clone(),
            key: run.key.clone(),
            program: run.program.clone(),
            duration_ms: end.duration_ms,
        });
        return;
    }
    let error = end.error.clone().unwrap_or_default();
    if end.state != RunState::Interrupted {
        let last = end.output.lines().last().unwrap_or("");
        warn!(
            "{} on {} {}: {error} after {secs:.1} s (run {}){}",
            run.program,
            run.key,
            end.state.as_str(),
            run.id,
            if last.is_empty() {
                String::new()
            } else {
                format!("; last output: {last}")
            }
        );
    }
    emit(RunEvent::Failed {
        id: run.id,
        app: run.app.clone(),
        stream: run.stream.clone(),
        key: run.key.clone(),
        program: run.program.clone(),
        state: end.state,
        exit_code: end.exit_code,
        duration_ms: end.duration_ms,
        error,
    });
}

async fn read_into(mut from: impl AsyncRead + Unpin, tail: Arc<Mutex<Tail>>, stream: usize) {
    let mut buf = [0u8; 4096];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => tail
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(stream, &buf[..n]),
        }
    }
    tail.lock().unwrap_or_else(|p| p.into_inner()).flush(stream);
}

/// The last lines of two streams (standard output and error), interleaved by line.
#[derive(Default)]
pub(crate) struct Tail {
    lines: VecDeque<String>,
    bytes: usize,
    /// Each stream's line so far (at most [`TAIL_BYTES`]).
    partial: [Vec<u8>; 2],
}

impl Tail {
    pub(crate) fn push(&mut self, stream: usize, mut data: &[u8]) {
        let stream = stream.min(1);
        while let Some(nl) = data.iter().position(|b| *b == b'\n') {
            self.append(stream, &data[..nl]);
            self.flush(stream);
            data = &data[nl + 1..];
        }
        self.append(stream, data);
    }

    fn append(&mut self, stream: usize, data: &[u8]) {
        let p = &mut self.partial[stream];
        let room = TAIL_BYTES.saturating_sub(p.len());
        p.extend_from_slice(&data[..data.len().min(room)]);
    }

    /// Ends `stream`'s current line (at a newline, or at the end of the output).
    pub(crate) fn flush(&mut self, stream: usize) {
        let stream = stream.min(1);
        let raw = std::mem::take(&mut self.partial[stream]);
        if raw.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&raw);
        let line = text.strip_suffix('\r').unwrap_or(&text).to_owned();
        self.bytes += line.len() + 1;
        self.lines.push_back(line);
        while self.lines.len() > TAIL_LINES || (self.bytes > TAIL_BYTES && self.lines.len() > 1) {
            if let Some(old) = self.lines.pop_front() {
                self.bytes -= old.len() + 1;
            }
        }
    }

    /// The lines kept: at most [`TAIL_LINES`], [`TAIL_BYTES`] with their newlines.
    pub(crate) fn text(&self) -> String {
        self.lines
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[derive(Clone, Copy)]
enum Signal {
    Term,
    Kill,
}

/// Signals the command's process group (Unix), or ends the program (elsewhere).
fn kill_group(child: &mut tokio::process::Child, pid: Option<u32>, signal: Signal) {
    #[cfg(unix)]
    {
        use rustix::process::{kill_process_group, Pid, Signal as S};
        let sig = match signal {
            Signal::Term => S::TERM,
            Signal::Kill => S::KILL,
        };
        // The child is not reaped yet, so its id (the group's) cannot have been reused.
        if let Some(group) = pid
            .and_then(|p| i32::try_from(p).ok())
            .and_then(Pid::from_raw)
        {
            if kill_process_group(group, sig).is_ok() {
                return;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (pid, signal);
    let _ = child.start_kill();
}

/// The start time of process `pid` as the OS counts it (Linux: clock ticks after boot,
/// field 22 of `/proc/<pid>/stat`); `None` elsewhere or when it is gone.
fn process_start(pid: u32) -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name (field 2) is in parentheses and may hold spaces: count after it.
        let rest = &stat[stat.rfind(')')? + 1..];
        rest.split_whitespace().nth(19)?.parse().ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        None
    }
}

/// Kills what is left of a run cut off by a crash: its process group still runs when its
/// leader does (it was started in a group of its own, so Tapedeck's death did not end it).
/// Only when the leader's start time is the one recorded (Linux): a process that merely got
/// the same id is left alone.
fn kill_leftover(run: &Run) {
    let (Some(pid), Some(start)) = (run.pid, run.pid_start) else {
        return;
    };
    if process_start(pid) != Some(start) {
        return;
    }
    #[cfg(unix)]
    {
        use rustix::process::{kill_process_group, Pid, Signal};
        if let Some(group) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
            match kill_process_group(group, Signal::KILL) {
                Ok(()) => info!(
                    "killed the left-over process group {pid} of run {} ({} on {}) before running it again",
                    run.id, run.program, run.key
                ),
                Err(e) => warn!("cannot kill the left-over process group {pid} of run {}: {e}", run.id),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_keeps_the_last_lines_interleaved() {
        let mut t = Tail::default();
        t.push(0, b"out 1\nout ");
        t.push(1, b"err 1\n");
        t.push(0, b"2\r\n");
        t.push(1, b"no newline at the end");
        t.flush(0);
        t.flush(1);
        assert_eq!(t.text(), "out 1\nerr 1\nout 2\nno newline at the end");

        let mut t = Tail::default();
        for i in 0..200 {
            t.push(i % 2, format!("line {i}\n").as_bytes());
        }
        let text = t.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), TAIL_LINES);
        assert_eq!(lines.first(), Some(&"line 150"));
        assert_eq!(lines.last(), Some(&"line 199"));

        // Long lines: at most TAIL_BYTES in all, the newest kept.
        let mut t = Tail::default();
        for i in 0..10 {
            t.push(0, format!("{i}{}\n", "x".repeat(3000)).as_bytes());
        }
        let text = t.text();
        assert!(text.len() <= TAIL_BYTES, "{}", text.len());
        assert!(text.starts_with('8'), "{}", &text[..10]);
        assert!(text.lines().last().is_some_and(|l| l.starts_with('9')));

        // One endless line: its first TAIL_BYTES are kept, memory stays bounded.
        let mut t = Tail::default();
        for _ in 0..100 {
            t.push(1, &[b'y'; 1000]);
        }
        t.flush(1);
        assert_eq!(t.text().len(), TAIL_BYTES);
        assert!(t.partial.iter().all(Vec::is_empty));
    }

    fn template(run: &str) -> Template {
        let text = format!(
            "[[template]]\nformats = [\"m3u8\", \"mp4\", \"flv\"]\n[[template.run]]\n{run}\n"
        );
        let c = Config::from_toml(&text, Path::new("t.toml")).unwrap();
        c.template[0].clone()
    }

    #[test]
    fn runs_follow_on_and_render_the_file() {
        let path = Path::new("/data/rec dir/record/live/cam1/a b.mp4");
        let t = template(
            "command = [\"/bin/sh\", \"-c\", \"true\", \"{Dir}/{Name}.json\", \"{Format}\"]",
        );
        let runs = runs_for(
            &t,
            "live",
            "cam1",
            "record/live/cam1/a b.mp4",
            path,
            FileKind::Mp4,
            5,
        );
        assert_eq!(runs.len(), 1);
        let r = &runs[0];
        assert_eq!(r.command[3], "/data/rec dir/record/live/cam1/a b.json");
        assert_eq!(r.command[4], "mp4");
        assert_eq!(
            (r.format.as_str(), r.timeout_ms, r.queued_ms),
            ("mp4", 3_600_000, 5)
        );
        // The default `on`: every recording file, not segments or other kinds.
        assert!(runs_for(&t, "a", "s", "k", path, FileKind::Segment, 0).is_empty());
        assert!(runs_for(&t, "a", "s", "k", path, FileKind::Index, 0).is_empty());
        assert_eq!(
            runs_for(&t, "a", "s", "k", path, FileKind::Playlist, 0)[0].format,
            "m3u8"
        );
        let t = template("command = [\"/bin/sh\"]\non = [\"segment\"]\ntimeout = \"2s\"");
        assert!(runs_for(&t, "a", "s", "k", path, FileKind::Mp4, 0).is_empty());
        let r = &runs_for(&t, "a", "s", "k", path, FileKind::Segment, 0)[0];
        assert_eq!((r.format.as_str(), r.timeout_ms), ("segment", 2000));
    }

    #[test]
    fn recovered_files_get_their_commands() {
        let text = "data_dir = \"/data\"\n[[template]]\napp = \"live\"\nstream = \"cam1\"\nformats = [\"mp4\", \"flv\"]\n[[template.run]]\ncommand = [\"/bin/sh\", \"{Name}\"]\non = [\"mp4\"]\n";
        let config = Config::from_toml(text, Path::new("t.toml")).unwrap();
        let catalog = Arc::new(Catalog::in_memory().unwrap());
        let (events, _) = broadcast::channel(4);
        let runs = Runs::new(catalog.clone(), events);
        let root = config.recordings_dir();
        let recovered = |key: &str| tapedeck_recorder::recover::Recovered {
            from: root.join(format!("{key}.part")),
            to: root.join(key),
        };
        let report = Report {
            recovered: vec![
                recovered("record/live/cam1/a.mp4"),
                // Not matched by `on`, no template, a key without a stream, outside.
                recovered("record/live/cam1/a.flv"),
                recovered("record/other/x/a.mp4"),
                recovered("a.mp4"),
            ],
            ..Report::default()
        };
        runs.queue_recovered(&config, &report);
        let listed = catalog.runs(10).unwrap();
        assert_eq!(listed.len(), 1, "{listed:?}");
        let r = &listed[0];
        assert_eq!(
            (r.app.as_str(), r.stream.as_str(), r.key.as_str()),
            ("live", "cam1", "record/live/cam1/a.mp4")
        );
        assert_eq!(r.command, vec!["/bin/sh".to_string(), "a".into()]);
        assert_eq!(r.state, RunState::Queued);
    }

    fn queued(catalog: &Catalog, command: &[&str], timeout_ms: i64) -> i64 {
        catalog
            .add_runs(&[NewRun {
                app: "live".into(),
                stream: "cam1".into(),
                key: "record/live/cam1/x.mp4".into(),
                path: "/tmp/x y/x.mp4".into(),
                format: "mp4".into(),
                command: command.iter().map(|s| s.to_string()).collect(),
                timeout_ms,
                queued_ms: now_ms(),
            }])
            .unwrap()[0]
    }

    async fn until_done(catalog: &Catalog, id: i64) -> Run {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let r = catalog.run(id).unwrap().unwrap();
            if !matches!(r.state, RunState::Queued | RunState::Running) {
                return r;
            }
            assert!(Instant::now() < deadline, "run {id} did not end: {r:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_worker_runs_records_and_kills() {
        let catalog = Arc::new(Catalog::in_memory().unwrap());
        let (events, mut rx) = broadcast::channel(64);
        let runs = Runs::new(catalog.clone(), events);
        runs.start(2);
        let ok = queued(
            &catalog,
            &[
                "/bin/sh",
                "-c",
                "echo \"$TAPEDECK_DIR|$TAPEDECK_NAME|$TAPEDECK_FORMAT\"; echo to-err >&2",
            ],
            10_000,
        );
        let fail = queued(&catalog, &["/bin/sh", "-c", "echo before; exit 3"], 10_000);
        // The shell's child keeps the pipes open: only a group kill ends it in time.
        let hang = queued(&catalog, &["/bin/sh", "-c", "sleep 30; echo never"], 300);
        let missing = queued(&catalog, &["/nonexistent/tapedeck-x"], 10_000);
        runs.wake.notify_one();
        let r = until_done(&catalog, ok).await;
        assert_eq!(
            (r.state, r.exit_code),
            (RunState::Succeeded, Some(0)),
            "{r:?}"
        );
        assert_eq!(r.output, "/tmp/x y|x|mp4\nto-err");
        let r = until_done(&catalog, fail).await;
        assert_eq!((r.state, r.exit_code), (RunState::Failed, Some(3)), "{r:?}");
        assert_eq!(r.output, "before");
        assert_eq!(r.error.as_deref(), Some("exited with status 3"));
        let started = Instant::now();
        let r = until_done(&catalog, hang).await;
        assert_eq!(r.state, RunState::TimedOut, "{r:?}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "killed, not waited for"
        );
        assert!(
            r.error.as_deref().is_some_and(|e| e.contains("killed")),
            "{r:?}"
        );
        let r = until_done(&catalog, missing).await;
        assert_eq!((r.state, r.exit_code), (RunState::Failed, None), "{r:?}");
        assert!(
            r.error
                .as_deref()
                .is_some_and(|e| e.contains("cannot start")),
            "{r:?}"
        );
        // Each run said it started and how it ended.
        let mut seen = Vec::new();
        while let Ok(e) = rx.try_recv() {
            if let EngineEvent::Run(e) = e {
                seen.push(e);
            }
        }
        assert!(seen
            .iter()
            .any(|e| matches!(e, RunEvent::Started { id, .. } if *id == ok)));
        assert!(seen
            .iter()
            .any(|e| matches!(e, RunEvent::Finished { id, .. } if *id == ok)));
        assert!(seen.iter().any(
            |e| matches!(e, RunEvent::Failed { id, state: RunState::TimedOut, .. } if *id == hang)
        ));
        assert!(seen
            .iter()
            .any(|e| matches!(e, RunEvent::Failed { id, exit_code: Some(3), .. } if *id == fail)));

        // Shutdown interrupts a running command quickly and queues it again.
        let long = queued(&catalog, &["/bin/sh", "-c", "sleep 30"], 60_000);
        runs.wake.notify_one();
        let deadline = Instant::now() + Duration::from_secs(10);
        while catalog.run(long).unwrap().unwrap().state != RunState::Running {
            assert!(Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let stopping = Instant::now();
        runs.stop();
        runs.join().await;
        assert!(stopping.elapsed() < SHUTDOWN_GRACE + Duration::from_secs(2));
        let r = catalog.run(long).unwrap().unwrap();
        assert_eq!(r.state, RunState::Interrupted, "{r:?}");
        let again = catalog.next_queued_run().unwrap().expect("queued again");
        assert_eq!((again.rerun_of, again.attempt), (Some(long), 2));
    }

    #[test]
    fn run_events_name_their_source() {
        let e = EngineEvent::Run(RunEvent::Failed {
            id: 7,
            app: "live".into(),
            stream: "cam1".into(),
            key: "k.mp4".into(),
            program: "sh".into(),
            state: RunState::TimedOut,
            exit_code: None,
            duration_ms: 2001,
            error: "still running after 2s: killed".into(),
        });
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"source":"run","event":{"event":"failed","id":7,"app":"live","stream":"cam1","key":"k.mp4","program":"sh","state":"timed_out","exit_code":null,"duration_ms":2001,"error":"still running after 2s: killed"}}"#
        );
    }
}
