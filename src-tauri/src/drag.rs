//! Dragging a finished clip out of the window on Linux (GTK). `tauri-plugin-drag` 2.1.1
//! drops nothing there: it lets go of its `drag-data-get` handler when the drop is
//! performed, which is before the target asks for the data, and writes `file://` plus
//! the raw path (GTK refuses non-ASCII in a URI list; GLib refuses a raw `#`). Here the
//! handler answers until `drag-end`, and the URI is GLib's own (`g_filename_to_uri`,
//! percent-encoded). macOS and Windows keep the plugin (`drag_clip` answers `false`).

use std::path::PathBuf;

use tapedeck_engine::{EngineError, ErrorKind};

/// The clip at `path`, checked: an absolute path of an existing file.
pub fn clip_path(path: &str) -> Result<PathBuf, EngineError> {
    let p = PathBuf::from(path);
    if !p.is_absolute() {
        return Err(EngineError::new(
            ErrorKind::Invalid,
            format!("{path:?} is not an absolute path"),
        ));
    }
    if !p.is_file() {
        return Err(EngineError::new(
            ErrorKind::NotFound,
            format!("{path} is not there any more: export the clip again"),
        ));
    }
    Ok(p)
}

/// The `text/uri-list` entry of a file: GLib's percent-encoded `file://` URI.
#[cfg(target_os = "linux")]
pub fn file_uri(path: &std::path::Path) -> Result<String, EngineError> {
    gtk::glib::filename_to_uri(path, None)
        .map(|u| u.to_string())
        .map_err(|e| EngineError::internal(format!("{} has no file URI: {e}", path.display())))
}

/// Starts dragging the file at `path` from `window` (on the main thread), with `icon` as
/// the drag image when it loads.
#[cfg(target_os = "linux")]
pub fn start(
    window: &gtk::ApplicationWindow,
    path: &std::path::Path,
    icon: Option<&std::path::Path>,
) -> Result<(), EngineError> {
    use gtk::gdk;
    use gtk::glib::SignalHandlerId;
    use gtk::prelude::*;
    use std::cell::RefCell;

    thread_local! {
        /// The handlers of the drag under way: a new drag replaces them.
        static HANDLERS: RefCell<Vec<SignalHandlerId>> = const { RefCell::new(Vec::new()) };
    }
    fn release(window: &gtk::ApplicationWindow) {
        HANDLERS.with(|h| {
            for id in h.borrow_mut().drain(..) {
                window.disconnect(id);
            }
        });
    }

    let uri = file_uri(path)?;
    release(window);
    let targets = gtk::TargetList::new(&[gtk::TargetEntry::new(
        "text/uri-list",
        gtk::TargetFlags::OTHER_APP,
        0,
    )]);
    let answer = window.connect_drag_data_get(move |_, _, data, _, _| {
        data.set_uris(&[uri.as_str()]);
    });
    // `drag-end` comes after the target has read the data (or the drag was cancelled).
    let end = window.connect_drag_end(move |w, _| {
        let w = w.clone();
        // Not from inside the signal that is being disconnected.
        gtk::glib::idle_add_local_once(move || release(&w));
    });
    HANDLERS.with(|h| h.borrow_mut().extend([answer, end]));
    let Some(context) =
        window.drag_begin_with_coordinates(&targets, gdk::DragAction::COPY, 1, None, -1, -1)
    else {
        release(window);
        return Err(EngineError::internal(
            "the drag could not start (no pointer button is held?)",
        ));
    };
    if let Some(pixbuf) = icon.and_then(|p| gtk::gdk_pixbuf::Pixbuf::from_file(p).ok()) {
        context.drag_set_icon_pixbuf(&pixbuf, 0, 0);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_existing_absolute_file_is_dragged() {
        assert_eq!(clip_path("clip.mp4").unwrap_err().kind, ErrorKind::Invalid);
        assert_eq!(
            clip_path("/nowhere/clip.mp4").unwrap_err().kind,
            ErrorKind::NotFound
        );
        let dir = std::env::temp_dir().join(format!("tapedeck-drag-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let clip = dir.join("Kick-off #1 ü.mp4");
        std::fs::write(&clip, b"x").unwrap();
        assert_eq!(clip_path(clip.to_str().unwrap()).unwrap(), clip);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn file_uris_are_percent_encoded_and_read_back_by_glib() {
        let path = std::path::Path::new("/home/me/Videos/Kick-off #1 ü.mp4");
        let uri = file_uri(path).unwrap();
        assert_eq!(uri, "file:///home/me/Videos/Kick-off%20%231%20%C3%BC.mp4");
        let (back, _) = gtk::glib::filename_from_uri(&uri).unwrap();
        assert_eq!(back, path);
    }
}
