//! What a recording does when writing fails: a full disk stops it (its files finished
//! with what reached the disk) until there is room again; any other failure is said once,
//! then counted. The policy is in [`crate::space`].

use tapedeck_media::MediaTime;
use tokio::time::Instant;
use tracing::{info, warn};

use super::Recording;
use crate::events::{FailReason, RecorderEvent};
use crate::output::{Extent, OutputError};
use crate::space::{self, Halt};

impl Recording {
    fn label(&self) -> String {
        format!("{}/{}", self.app, self.stream)
    }

    /// A write, close or finalize of this recording failed.
    pub(super) fn write_failed(&mut self, e: OutputError) {
        if e.is_disk_full() {
            self.disk_full(e);
            return;
        }
        let label = self.label();
        let say = self.repeats.note(&e.to_string());
        if let Some((message, again)) = say.before {
            warn!(stream = %label, "the write failure before came {again} more time(s): {message}");
        }
        if say.this {
            warn!(stream = %label, "write failed: {e}");
            self.emit(RecorderEvent::WriteFailed {
                app: self.app.clone(),
                stream: self.stream.clone(),
                detail: e.to_string(),
            });
        }
    }

    /// Tells how many times the last write failure came again, if it did.
    pub(super) fn said_repeats(&mut self) {
        if let Some((message, again)) = self.repeats.finish() {
            warn!(stream = %self.label(), "the write failure before came {again} more time(s): {message}");
        }
    }

    /// The disk is full: gives the reserve back, finishes every open file with what it
    /// holds whole, and stops recording until [`Recording::room_to_record`] finds room.
    /// Said once: every later failure of the same stop is part of it.
    fn disk_full(&mut self, first: OutputError) {
        if self.halt.is_some() {
            return;
        }
        let label = self.label();
        let reserve = self.reserve.as_ref().map_or(0, |r| r.bytes());
        if self.reserve.as_ref().is_some_and(|r| r.release()) {
            info!(stream = %label, "gave the space reserve back to the disk to finish the files");
        }
        // The rate to find room for before recording again: what this timeline wrote per
        // second, in every format (the formats' own overhead on top).
        let secs = self.written.end.as_secs_f64().max(1.0);
        let formats = self.outputs.len().max(1) as f64;
        let rate = (self.media_bytes as f64 / secs * formats * 1.15) as u64;
        let needed = space::room_to_resume(rate, reserve);
        let mut unfinished = Vec::new();
        for out in self.outputs.iter_mut() {
            if let Err(e) = out.salvage(&mut self.jobs) {
                unfinished.push(e.to_string());
            }
        }
        self.outputs.clear();
        self.started = None;
        self.offset = None;
        self.written = Extent::new(MediaTime::ZERO);
        self.media_bytes = 0;
        self.halt = Some(Halt::new(needed, Instant::now()));
        let free = space::disk_space(&self.root).map_or(0, |s| s.free_bytes);
        let detail = format!(
            "the disk of {} is full ({first}): recording stopped, its files finished with what they hold; it records again into new files once {} are free ({} now)",
            self.root.display(),
            tapedeck_config::ByteSize(needed),
            tapedeck_config::ByteSize(free),
        );
        warn!(stream = %label, "recording failed: {detail}");
        for e in &unfinished {
            warn!(stream = %label, "could not finish a file for lack of room: {e}; it stays `.part` and is completed at the next start");
        }
        self.emit(RecorderEvent::RecordFailed {
            app: self.app.clone(),
            stream: self.stream.clone(),
            reason: FailReason::DiskFull,
            detail,
        });
    }

    /// False while stopped for a full disk; looks for room every [`space::POLL`] (as
    /// frames come) and records again once there is enough.
    pub(super) fn room_to_record(&mut self) -> bool {
        let Some(halt) = self.halt.as_mut() else {
            return true;
        };
        let root = self.root.clone();
        let Some(room) = halt.room_again(Instant::now(), || space::disk_space(&root)) else {
            return false;
        };
        self.halt = None;
        self.repeats = space::Repeats::default();
        if let Some(r) = &self.reserve {
            if let Err(e) = r.fill() {
                warn!(
                    "cannot set the space reserve aside again ({}): {e}",
                    r.path().display()
                );
            }
        }
        let free = room.map_or_else(
            || "unknown".into(),
            |s| tapedeck_config::ByteSize(s.free_bytes).to_string(),
        );
        info!(stream = %self.label(), free = %free, "room on the disk again: recording again, into new files");
        self.emit(RecorderEvent::RecordToggled {
            app: self.app.clone(),
            stream: self.stream.clone(),
            recording: true,
        });
        true
    }
}
