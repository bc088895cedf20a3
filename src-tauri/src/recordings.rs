//! The Recordings screen's commands: the catalog (streams, pieces, chapters), the preview
//! (the engine's loopback media server), time-range indexes, clip export with progress and
//! cancel, and what to do with a clip (a path for it, "Save as…", show it in the folder).
//! Dragging a clip out of the window is `tauri-plugin-drag`'s `start_drag`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Local, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use tapedeck_catalog::{Chapter, IndexRecord, RecordedStream, Span};
use tapedeck_engine::import::{ImportProgress, ImportReport};
use tapedeck_engine::{EngineError, ErrorKind, ExportQuery, IndexQuery};
use tauri::ipc::Channel;
use tauri::{AppHandle, State};
use tauri_plugin_dialog::DialogExt;
use tauri_plugin_opener::OpenerExt;
use tokio_util::sync::CancellationToken;

use crate::state::AppState;

type Result<T> = std::result::Result<T, EngineError>;

/// The export running now, so Cancel can stop it.
#[derive(Default)]
pub struct Exports(Mutex<Option<CancellationToken>>);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct ExportProgress {
    pub segments_done: usize,
    pub segments_total: usize,
}

/// A finished clip.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct ClipExported {
    pub path: String,
    /// Seconds of media.
    pub duration: f64,
    /// Video frames a player shows (the stored lead-in of the first key frame's group,
    /// cut by the edit list, is not counted).
    pub video_frames: u64,
    pub audio_frames: u64,
    pub bytes: u64,
}

/// A custom index, where its playlist was written, and its address in the bucket.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct CreatedIndex {
    pub record: IndexRecord,
    pub path: String,
    /// `None` when the stream's template uploads nowhere.
    pub bucket_url: Option<String>,
}

/// Runs catalog or file work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tauri::async_runtime::spawn_blocking(work)
        .await
        .map_err(|e| EngineError::internal(e.to_string()))?
}

fn time(ms: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| EngineError::invalid(format!("{ms} is not a time Tapedeck can use")))
}

#[tauri::command]
pub async fn recorded_streams(state: State<'_, AppState>) -> Result<Vec<RecordedStream>> {
    let engine = state.engine().await?;
    Ok(engine.archive().catalog().recorded_streams()?)
}

/// What is recorded in the range, as continuous pieces (a reconnect starts a new piece of
/// the same recording; a new recording is a real gap).
#[tauri::command]
pub async fn spans(
    state: State<'_, AppState>,
    app: String,
    stream: String,
    start_ms: i64,
    end_ms: i64,
) -> Result<Vec<Span>> {
    let engine = state.engine().await?;
    let catalog = engine.archive().catalog().clone();
    blocking(move || Ok(catalog.coverage(&app, &stream, start_ms, end_ms)?)).await
}

#[tauri::command]
pub async fn chapters(
    state: State<'_, AppState>,
    app: String,
    stream: String,
    start_ms: i64,
    end_ms: i64,
) -> Result<Vec<Chapter>> {
    let engine = state.engine().await?;
    Ok(engine
        .archive()
        .catalog()
        .chapters(&app, &stream, start_ms, end_ms)?)
}

/// The preview playlist's address (hls.js plays it).
#[tauri::command]
pub async fn preview_url(
    state: State<'_, AppState>,
    app: String,
    stream: String,
    start_ms: i64,
    end_ms: i64,
) -> Result<String> {
    let engine = state.engine().await?;
    // A playlist of at most a day (2,880 segments of 30 s): longer ranges start at their
    // start and play a day of it.
    let end_ms = end_ms.min(start_ms + PREVIEW_MAX_MS);
    Ok(engine
        .media_server()
        .await?
        .preview_url(&app, &stream, start_ms, end_ms))
}

/// The address of the JPEG of the key frame at or before `at_ms` (made on first request,
/// then cached; a 404 when nothing H.264 was recorded there: the UI shows a placeholder).
#[tauri::command]
pub async fn thumbnail_url(
    state: State<'_, AppState>,
    app: String,
    stream: String,
    at_ms: i64,
    width: u32,
) -> Result<Option<String>> {
    let engine = state.engine().await?;
    let width = width.clamp(
        tapedeck_engine::thumbnail::MIN_WIDTH,
        tapedeck_engine::thumbnail::MAX_WIDTH,
    );
    Ok(Some(
        engine
            .media_server()
            .await?
            .thumbnail_url(&app, &stream, at_ms, width),
    ))
}

/// The address of the key frame at or before `at_ms` as Annex B with its codec string
/// (the webview decodes H.265 thumbnails itself with WebCodecs where it can).
#[tauri::command]
pub async fn keyframe_url(
    state: State<'_, AppState>,
    app: String,
    stream: String,
    at_ms: i64,
) -> Result<Option<String>> {
    let engine = state.engine().await?;
    Ok(Some(
        engine
            .media_server()
            .await?
            .keyframe_url(&app, &stream, at_ms),
    ))
}

/// The longest range one preview playlist covers.
pub const PREVIEW_MAX_MS: i64 = 24 * 3600 * 1000;

/// A small PNG for the drag image (`startDrag`'s `icon`): the app's icon, written once to
/// the cache folder.
#[tauri::command]
pub fn drag_icon(app: AppHandle) -> Result<String> {
    use tauri::Manager;
    let dir = app
        .path()
        .app_cache_dir()
        .map_err(|e| EngineError::io(format!("no cache folder for the drag image: {e}")))?;
    let path = dir.join("drag-icon.png");
    if !path.exists() {
        std::fs::create_dir_all(&dir)
            .and_then(|_| std::fs::write(&path, include_bytes!("../../icons/32x32.png")))
            .map_err(|e| EngineError::io(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(path.display().to_string())
}

/// Starts dragging a finished clip out of the window: on Linux with our own GTK drag
/// (`true`; see `drag.rs`), elsewhere `false`: the UI uses tauri-plugin-drag there.
#[tauri::command]
pub async fn drag_clip(app: AppHandle, window: tauri::WebviewWindow, path: String) -> Result<bool> {
    let clip = crate::drag::clip_path(&path)?;
    #[cfg(target_os = "linux")]
    {
        let icon = drag_icon(app.clone()).ok().map(PathBuf::from);
        let (tx, rx) = tokio::sync::oneshot::channel();
        app.run_on_main_thread(move || {
            let started = window
                .gtk_window()
                .map_err(|e| EngineError::internal(format!("no window to drag from: {e}")))
                .and_then(|w| crate::drag::start(&w, &clip, icon.as_deref()));
            let _ = tx.send(started);
        })
        .map_err(|e| EngineError::internal(format!("the drag could not start: {e}")))?;
        rx.await
            .map_err(|_| EngineError::internal("the drag could not start"))??;
        Ok(true)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (app, window, clip);
        Ok(false)
    }
}

#[tauri::command]
pub async fn index_create(state: State<'_, AppState>, query: IndexQuery) -> Result<CreatedIndex> {
    let engine = state.engine().await?;
    let archive = engine.archive().clone();
    let record = blocking(move || archive.create_index(&query)).await?;
    let config = engine.config();
    let bucket_url = config
        .template_for(&record.app, &record.stream)
        .and_then(|t| config.storage_for(t))
        .map(|p| p.object_url(&record.object));
    Ok(CreatedIndex {
        path: config
            .recordings_dir()
            .join(&record.object)
            .display()
            .to_string(),
        bucket_url,
        record,
    })
}

/// Reads a storage profile's bucket into the catalog: recordings made on another computer
/// (or before a reinstall) appear on the timeline; nothing is downloaded until watched or
/// exported. Progress after each object read goes to `on_progress`.
#[tauri::command]
pub async fn catalog_import(
    state: State<'_, AppState>,
    profile: String,
    on_progress: Channel<ImportProgress>,
) -> Result<ImportReport> {
    let engine = state.engine().await?;
    // The file's profiles: one saved while streams were live (no restart) counts too.
    engine
        .archive()
        .files()
        .set_profiles(state.load_config()?.storage);
    engine
        .import(&profile, move |p| {
            let _ = on_progress.send(p);
        })
        .await
}

/// Exports a lossless MP4 clip; progress after each segment of each pass goes to
/// `on_progress`. One export at a time; `export_cancel` stops it (it rejects `cancelled`).
#[tauri::command]
pub async fn export_clip(
    state: State<'_, AppState>,
    exports: State<'_, Exports>,
    query: ExportQuery,
    on_progress: Channel<ExportProgress>,
) -> Result<ClipExported> {
    let engine = state.engine().await?;
    if query.output.exists() {
        return Err(EngineError::conflict(format!(
            "{} exists already; choose another name (Tapedeck never overwrites a file)",
            query.output.display()
        )));
    }
    let cancel = CancellationToken::new();
    {
        let mut slot = exports.0.lock().unwrap_or_else(|p| p.into_inner());
        if slot.as_ref().is_some_and(|c| !c.is_cancelled()) {
            return Err(EngineError::conflict(
                "another clip is being exported; wait for it or cancel it first",
            ));
        }
        *slot = Some(cancel.clone());
    }
    if let Some(dir) = query.output.parent() {
        std::fs::create_dir_all(dir).map_err(|e| {
            EngineError::io(format!("cannot create the folder {}: {e}", dir.display()))
        })?;
    }
    let result = engine
        .export(
            query,
            move |p| {
                let _ = on_progress.send(ExportProgress {
                    segments_done: p.segments_done,
                    segments_total: p.segments_total,
                });
            },
            cancel,
        )
        .await;
    *exports.0.lock().unwrap_or_else(|p| p.into_inner()) = None;
    let e = result?;
    Ok(ClipExported {
        path: e.path.display().to_string(),
        duration: e.duration,
        video_frames: e.shown_video_frames,
        audio_frames: e.audio_frames,
        bytes: e.bytes,
    })
}

#[tauri::command]
pub fn export_cancel(exports: State<'_, Exports>) {
    if let Some(c) = exports.0.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
        c.cancel();
    }
}

/// A free path for a clip of `app`/`stream` from `start_ms`: `<data folder>/clips/<stream>
/// <local date and time>.mp4` (a number added when taken).
#[tauri::command]
pub async fn clip_path(
    state: State<'_, AppState>,
    app: String,
    stream: String,
    start_ms: i64,
    end_ms: i64,
) -> Result<String> {
    let config = state.load_config()?;
    let start = time(start_ms)?;
    let seconds = ((end_ms - start_ms).max(0) as f64 / 1000.0).round() as i64;
    Ok(free_clip_path(
        &config.data_dir.join("clips"),
        &app,
        &stream,
        Local.from_utc_datetime(&start.naive_utc()),
        seconds,
    )
    .display()
    .to_string())
}

pub fn free_clip_path<Tz: TimeZone>(
    dir: &Path,
    app: &str,
    stream: &str,
    start: DateTime<Tz>,
    seconds: i64,
) -> PathBuf
where
    Tz::Offset: std::fmt::Display,
{
    let safe = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c == '/' || c == '\\' || c.is_control() || c == ':' {
                    '_'
                } else {
                    c
                }
            })
            .collect()
    };
    let base = format!(
        "{} {} {} ({seconds} s)",
        safe(app),
        safe(stream),
        start.format("%Y-%m-%d %H.%M.%S")
    );
    let mut path = dir.join(format!("{base}.mp4"));
    let mut n = 2;
    while path.exists() {
        path = dir.join(format!("{base} {n}.mp4"));
        n += 1;
    }
    path
}

/// "Save as…": the native save dialog, then a copy of the clip there. `None`: cancelled.
/// For end-to-end tests, `TAPEDECK_STUDIO_SAVE_AS` answers the dialog.
#[tauri::command]
pub async fn save_clip_as(app: AppHandle, path: String) -> Result<Option<String>> {
    let source = PathBuf::from(&path);
    let name = source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "clip.mp4".into());
    let target = match std::env::var_os("TAPEDECK_STUDIO_SAVE_AS") {
        Some(answer) => Some(PathBuf::from(answer)),
        None => {
            let (tx, rx) = tokio::sync::oneshot::channel();
            app.dialog()
                .file()
                .set_file_name(&name)
                .add_filter("MP4 video", &["mp4"])
                .save_file(move |file| {
                    let _ = tx.send(file.and_then(|f| f.into_path().ok()));
                });
            rx.await
                .map_err(|_| EngineError::internal("the save dialog went away"))?
        }
    };
    let Some(target) = target else {
        return Ok(None);
    };
    if target != source {
        tokio::fs::copy(&source, &target).await.map_err(|e| {
            EngineError::io(format!("cannot copy the clip to {}: {e}", target.display()))
        })?;
    }
    Ok(Some(target.display().to_string()))
}

/// Shows the file in the system's file manager.
#[tauri::command]
pub fn reveal(app: AppHandle, path: String) -> Result<()> {
    if !Path::new(&path).exists() {
        return Err(EngineError::new(
            ErrorKind::NotFound,
            format!("{path} is not there any more"),
        ));
    }
    app.opener()
        .reveal_item_in_dir(&path)
        .map_err(|e| EngineError::io(format!("cannot show {path} in the file manager: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_names_are_readable_and_never_overwrite() {
        let dir = std::env::temp_dir().join(format!("studio-clips-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let start = Utc.with_ymd_and_hms(2026, 12, 6, 20, 15, 30).unwrap();
        let p = free_clip_path(&dir, "live", "Überraschung #1", start, 8);
        assert_eq!(
            p.file_name().unwrap().to_string_lossy(),
            "live Überraschung #1 2026-12-06 20.15.30 (8 s).mp4"
        );
        std::fs::write(&p, b"x").unwrap();
        let q = free_clip_path(&dir, "live", "Überraschung #1", start, 8);
        assert!(q.to_string_lossy().ends_with("(8 s) 2.mp4"), "{q:?}");
        let odd = free_clip_path(&dir, "a/b", "c:d", start, 1);
        assert!(
            odd.starts_with(&dir) && odd.to_string_lossy().contains("a_b c_d"),
            "{odd:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
