//! Where the app's configuration and data live.
//!
//! Default configuration: the per-user `tapedeck.toml` the CLI reads too
//! (`~/.config/tapedeck/tapedeck.toml` on Linux, `~/Library/Application Support/tapedeck/`
//! on macOS, `%APPDATA%\tapedeck\` on Windows), created on first run with recordings going
//! to the user's Videos folder (`~/Videos/Tapedeck`). `--config` and `--data-dir` override
//! both (tests run the app on a temporary folder).

use std::path::{Path, PathBuf};

use crate::Args;

/// The per-user configuration file, when the OS has a configuration folder.
pub fn user_config() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("tapedeck").join("tapedeck.toml"))
}

/// Where recordings go when nothing says otherwise.
pub fn default_data_dir() -> PathBuf {
    dirs::video_dir()
        .or_else(dirs::home_dir)
        .unwrap_or_else(|| PathBuf::from("."))
        .join("Tapedeck")
}

#[derive(Clone, Debug)]
pub struct Paths {
    /// The configuration file the app reads and edits.
    pub config: PathBuf,
    /// Overrides the configuration's `data_dir` (not written to the file).
    pub data_dir: Option<PathBuf>,
    /// The file was created by this start (first run).
    pub created: bool,
}

impl Paths {
    pub fn resolve(args: &Args) -> Result<Paths, String> {
        let config = match &args.config {
            Some(p) => p.clone(),
            None => user_config().ok_or(
                "this system has no folder for configuration files; start with --config PATH",
            )?,
        };
        let created = if config.exists() {
            false
        } else {
            let data_dir = args.data_dir.clone().unwrap_or_else(default_data_dir);
            create(&config, &data_dir)?;
            true
        };
        Ok(Paths {
            config,
            data_dir: args.data_dir.clone(),
            created,
        })
    }
}

/// The first configuration: recordings into `data_dir`, everything else the embedded
/// defaults (listen on this machine at 1935, every stream as HLS + MP4).
fn create(path: &Path, data_dir: &Path) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let data = data_dir.to_string_lossy();
    let text = format!(
        "# Tapedeck's configuration: Tapedeck Studio edits it, and so can you (comments stay).\n\
         # Every key and its default: the README's \"Configuration\" section;\n\
         # `tapedeck config check` shows what a stream would be recorded as.\n\
         data_dir = {}\n",
        toml_string(&data)
    );
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_run_writes_a_valid_configuration() {
        let dir =
            std::env::temp_dir().join(format!("tapedeck-studio-paths-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let args = Args {
            config: Some(dir.join("cfg/tapedeck.toml")),
            data_dir: Some(dir.join("My \"Videos\"\\x")),
        };
        let paths = Paths::resolve(&args).unwrap();
        assert!(paths.created);
        let config = tapedeck_config::Config::load(&paths.config).unwrap();
        assert_eq!(config.data_dir, dir.join("My \"Videos\"\\x"));
        let again = Paths::resolve(&args).unwrap();
        assert!(!again.created, "created once");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
