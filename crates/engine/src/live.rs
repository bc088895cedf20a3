//! Live stream stats, once a second: [`Engine::live`] answers from the last sample (the
//! app's Live screen, `tapedeck streams`, `GET /v1/live`), [`EngineEvent::Live`] carries
//! each sample, and [`EngineEvent::Health`] says when a warning appears or clears.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Serialize;
use tapedeck_recorder::stats::{HealthKind, LiveStream};
use tapedeck_recorder::Recorder;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::events::EngineEvent;
use crate::Engine;

/// A health warning appeared (`active`) or cleared on a live stream.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct HealthChange {
    pub app: String,
    pub stream: String,
    pub kind: HealthKind,
    /// What happened and what to do, or (cleared) what is fine again.
    pub message: String,
    pub active: bool,
}

/// The last sample, shared with the engine handle.
pub(crate) type Snapshot = Arc<RwLock<Arc<Vec<LiveStream>>>>;

/// Samples every live stream once a second until `stop`.
pub(crate) fn spawn(
    recorder: Recorder,
    snapshot: Snapshot,
    events: broadcast::Sender<EngineEvent>,
    stop: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut warned: HashSet<(String, String, HealthKind)> = HashSet::new();
        let mut was_empty = true;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            let live = recorder.sample_live();
            let mut now_warned = HashSet::new();
            for s in &live {
                for h in &s.health {
                    let key = (s.app.clone(), s.stream.clone(), h.kind);
                    if !warned.contains(&key) {
                        warn!(stream = %format!("{}/{}", s.app, s.stream), "{}", h.message);
                        let _ = events.send(EngineEvent::Health(HealthChange {
                            app: s.app.clone(),
                            stream: s.stream.clone(),
                            kind: h.kind,
                            message: h.message.clone(),
                            active: true,
                        }));
                    }
                    now_warned.insert(key);
                }
            }
            for (app, stream, kind) in warned.difference(&now_warned) {
                // A stream that ended has no warnings left to clear.
                if live.iter().any(|s| &s.app == app && &s.stream == stream) {
                    info!(stream = %format!("{app}/{stream}"), "{kind:?} cleared");
                    let _ = events.send(EngineEvent::Health(HealthChange {
                        app: app.clone(),
                        stream: stream.clone(),
                        kind: *kind,
                        message: "back to normal".to_string(),
                        active: false,
                    }));
                }
            }
            warned = now_warned;
            let live = Arc::new(live);
            *snapshot.write().unwrap_or_else(|p| p.into_inner()) = live.clone();
            // Once a second while anything is live, and once more when the last one ends.
            if !(live.is_empty() && was_empty) {
                let _ = events.send(EngineEvent::Live(live.as_ref().clone()));
            }
            was_empty = live.is_empty();
        }
    })
}

impl Engine {
    /// Every live stream (recording, or waiting within its interruption window) with its
    /// stats as of the last second.
    pub fn live(&self) -> Arc<Vec<LiveStream>> {
        self.inner()
            .live
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
