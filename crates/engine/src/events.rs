//! One typed, serializable event stream: what the recorder, the uploader and the engine
//! itself report, for the CLI's log and the app's IPC.
//!
//! A broadcast channel: a subscriber that falls behind loses the oldest events and is told
//! how many ([`EngineEvent::Lagged`]); it never slows the engine down.

use serde::Serialize;
use tapedeck_recorder::events::RecorderEvent;
use tapedeck_storage::UploadEvent;
use tokio::sync::broadcast;

/// Events a subscriber may fall behind by before it loses some.
pub const EVENT_BUFFER: usize = 4096;

/// Everything the engine reports. JSON: `{"source": "recorder", "event": {...}}`.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
#[serde(tag = "source", content = "event", rename_all = "snake_case")]
pub enum EngineEvent {
    /// Recordings: started, paused, resumed, stopped, files finished, write failures.
    Recorder(RecorderEvent),
    /// Uploads: started, progress, done, retrying, lost, buckets down and back, retention.
    Upload(UploadEvent),
    /// Post-recording commands: started, finished, failed (timed out, interrupted).
    Run(crate::runs::RunEvent),
    /// The recordings' disk, every 10 s: free and total bytes, and whether free space is
    /// under `low_space_warning` (also logged once as it falls under).
    Disk(crate::disk::DiskStatus),
    /// Every live stream's stats, once a second while any is live (and once, empty, when
    /// the last one ends).
    Live(Vec<tapedeck_recorder::stats::LiveStream>),
    /// A health warning appeared or cleared on a live stream.
    Health(crate::live::HealthChange),
    /// This subscriber was too slow: `missed` events were dropped for it.
    Lagged { missed: u64 },
}

/// A subscription to the engine's events.
pub struct EventStream {
    rx: broadcast::Receiver<EngineEvent>,
}

impl EventStream {
    pub(crate) fn new(rx: broadcast::Receiver<EngineEvent>) -> Self {
        EventStream { rx }
    }

    /// The next event; `None` once the engine has stopped.
    pub async fn next(&mut self) -> Option<EngineEvent> {
        match self.rx.recv().await {
            Ok(e) => Some(e),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                Some(EngineEvent::Lagged { missed })
            }
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_slow_subscriber_is_told_what_it_missed() {
        let (tx, rx) = broadcast::channel(2);
        let mut s = EventStream::new(rx);
        for missed in 0..5 {
            let _ = tx.send(EngineEvent::Lagged { missed });
        }
        assert_eq!(s.next().await, Some(EngineEvent::Lagged { missed: 3 }));
        assert_eq!(s.next().await, Some(EngineEvent::Lagged { missed: 3 }));
        assert_eq!(s.next().await, Some(EngineEvent::Lagged { missed: 4 }));
        drop(tx);
        assert_eq!(s.next().await, None);
    }

    #[test]
    fn json_names_the_source() {
        let e = EngineEvent::Recorder(RecorderEvent::NotRecorded {
            app: "live".into(),
            stream: "x".into(),
        });
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"source":"recorder","event":{"event":"not_recorded","app":"live","stream":"x"}}"#
        );
    }
}
