//! The engine's events to the window (`engine-event`), the live streams once a second
//! (`live`), the tray's state, and OS notifications when a recording's file reached its
//! bucket or an upload failed.

use tapedeck_engine::{Engine, EngineEvent};
use tapedeck_recorder::events::RecorderEvent;
use tapedeck_storage::UploadEvent;
use tauri::{AppHandle, Emitter};
use tauri_plugin_notification::NotificationExt;

/// Runs until the engine stops: every event goes to the window as `engine-event`, except
/// the once-a-second live stats, which go as `live` (`LiveStream[]`).
pub fn spawn(app: AppHandle, engine: Engine) {
    let mut events = engine.events();
    tauri::async_runtime::spawn(async move {
        while let Some(event) = events.next().await {
            if let EngineEvent::Live(live) = &event {
                let _ = app.emit("live", live);
                continue;
            }
            if let Some((title, body)) = notification(&event) {
                let _ = app.notification().builder().title(title).body(body).show();
            }
            if matches!(
                event,
                EngineEvent::Recorder(
                    RecorderEvent::RecordStarted { .. }
                        | RecorderEvent::RecordStopped { .. }
                        | RecorderEvent::RecordToggled { .. }
                )
            ) {
                crate::tray::refresh(&app);
            }
            let _ = app.emit("engine-event", event);
        }
    });
}

/// The notification an event deserves, if any: a recording's own file (not a segment or a
/// playlist rewrite) confirmed by its bucket, a file given up on, a bucket out of reach.
pub fn notification(event: &EngineEvent) -> Option<(String, String)> {
    match event {
        EngineEvent::Upload(UploadEvent::Done { profile, key, .. })
            if key.ends_with(".mp4") || key.ends_with(".flv") =>
        {
            Some((
                "Recording uploaded".into(),
                format!("{} is in your bucket ({profile}).", file_name(key)),
            ))
        }
        EngineEvent::Upload(UploadEvent::Lost { key, reason, .. }) => Some((
            "Upload failed".into(),
            format!("{} was not uploaded: {reason}", file_name(key)),
        )),
        EngineEvent::Upload(UploadEvent::BucketDown { profile, error, .. }) => Some((
            format!("Storage {profile} cannot be reached"),
            format!("{error}. Recording goes on to disk; uploads resume when it is back."),
        )),
        _ => None,
    }
}

fn file_name(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_for_finished_recordings_and_failures_only() {
        let done = |key: &str| {
            EngineEvent::Upload(UploadEvent::Done {
                profile: "studio".into(),
                key: key.into(),
                bytes: 1,
                resumed_parts: 0,
                parts: 1,
                queued_ms: 0,
                done_ms: 1,
            })
        };
        let (title, body) = notification(&done("record/live/cam1/a_b.mp4")).unwrap();
        assert_eq!(title, "Recording uploaded");
        assert_eq!(body, "a_b.mp4 is in your bucket (studio).");
        assert_eq!(notification(&done("record/live/cam1/1_0.ts")), None);
        assert_eq!(notification(&done("live/cam1/2026-12-06.m3u8")), None);
        let lost = EngineEvent::Upload(UploadEvent::Lost {
            profile: "studio".into(),
            key: "x/y.flv".into(),
            reason: "the local file vanished".into(),
        });
        assert_eq!(
            notification(&lost).unwrap().1,
            "y.flv was not uploaded: the local file vanished"
        );
    }
}
