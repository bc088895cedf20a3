//! WebKitGTK settings chosen before WebKit starts.
//!
//! Without a GPU render node (`/dev/dri/renderD*`: a VM, a remote desktop, Xvfb), WebKitGTK
//! renders through Mesa's software GL, and its DMA-BUF renderer then only keeps buffers
//! in process memory: 85 MB of the web process's idle memory on this project's CI
//! machine (bench/RESULTS.md, "Tapedeck Studio"), for no gain. It is turned off there,
//! unless the user set `WEBKIT_DISABLE_DMABUF_RENDERER` either way. Machines with a GPU
//! keep WebKit's defaults.

use std::path::Path;

/// The environment variable WebKitGTK reads.
pub const DISABLE_DMABUF: &str = "WEBKIT_DISABLE_DMABUF_RENDERER";

/// Whether `dri` (normally `/dev/dri`) has a GPU render node.
pub fn has_render_node(dri: &Path) -> bool {
    std::fs::read_dir(dri).is_ok_and(|d| {
        d.flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
    })
}

/// Call first thing in `main`, before any thread starts (it sets an environment variable).
pub fn configure() {
    if cfg!(target_os = "linux")
        && std::env::var_os(DISABLE_DMABUF).is_none()
        && !has_render_node(Path::new("/dev/dri"))
    {
        std::env::set_var(DISABLE_DMABUF, "1");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_render_node_means_a_gpu() {
        let dir = std::env::temp_dir().join(format!("tapedeck-dri-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(!has_render_node(&dir));
        std::fs::write(dir.join("card0"), b"").unwrap();
        assert!(!has_render_node(&dir), "a card without a render node");
        std::fs::write(dir.join("renderD128"), b"").unwrap();
        assert!(has_render_node(&dir));
        assert!(!has_render_node(&dir.join("missing")));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
