//! The one way Tapedeck walks a folder tree: recovery and `catalog rebuild` over the
//! recordings folder, `storage upload` of a folder, and `[[watch]]` folders.
//!
//! Policy: symbolic links are never followed below the root, neither to folders nor to
//! files; each is reported in [`Walk::skipped`] instead. So a walk cannot leave its root
//! (a link to `/`), cannot loop (a link to `..`), and never acts on a file elsewhere
//! through a link that merely sits in the folder (recovery rewrites the files it finds).
//! The root itself may be a link: the user chose it. Loops that need no link (a bind
//! mount of a folder inside itself) are cut by remembering each folder's (device, inode)
//! on Unix, and every walk stops at [`MAX_DEPTH`] levels.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Deeper folders are not entered (Tapedeck's own layouts use 3-6 levels).
pub const MAX_DEPTH: usize = 32;

/// What a walk found.
#[derive(Debug, Default)]
pub struct Walk {
    /// Regular files, sorted.
    pub files: Vec<PathBuf>,
    /// What was not entered or taken, with why (links, unreadable folders, loops).
    pub skipped: Vec<(PathBuf, String)>,
}

/// Every regular file under `root`, at most `depth` folder levels down (1: the files of
/// `root` itself). A `root` that is a file is returned as the only file.
pub fn walk(root: &Path, depth: usize) -> Walk {
    let mut out = Walk::default();
    let meta = match fs::metadata(root) {
        Ok(m) => m,
        Err(e) => {
            out.skipped.push((root.to_owned(), e.to_string()));
            return out;
        }
    };
    if meta.is_file() {
        out.files.push(root.to_owned());
        return out;
    }
    let mut seen = HashSet::new();
    remember(&mut seen, &meta);
    let mut stack = vec![(root.to_owned(), 1usize)];
    while let Some((dir, level)) = stack.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                out.skipped.push((dir, e.to_string()));
                continue;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            // The entry's own type: a link is a link, whatever it points at.
            let Ok(kind) = entry.file_type() else {
                out.skipped.push((path, "its type cannot be read".into()));
                continue;
            };
            if kind.is_symlink() {
                out.skipped
                    .push((path, "a symbolic link (links are not followed)".into()));
            } else if kind.is_dir() {
                if level >= depth.min(MAX_DEPTH) {
                    if depth > MAX_DEPTH {
                        out.skipped
                            .push((path, format!("deeper than {MAX_DEPTH} folders")));
                    }
                    continue;
                }
                match entry.metadata() {
                    Ok(m) if remember(&mut seen, &m) => stack.push((path, level + 1)),
                    Ok(_) => out
                        .skipped
                        .push((path, "a folder already walked (a loop)".into())),
                    Err(e) => out.skipped.push((path, e.to_string())),
                }
            } else if kind.is_file() {
                out.files.push(path);
            }
        }
    }
    out.files.sort();
    out
}

/// Every regular file under `root`, as deep as [`MAX_DEPTH`].
pub fn walk_all(root: &Path) -> Walk {
    walk(root, usize::MAX)
}

/// False when this folder was seen before.
#[cfg(unix)]
fn remember(seen: &mut HashSet<(u64, u64)>, meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    seen.insert((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn remember(_seen: &mut HashSet<(u64, u64)>, _meta: &fs::Metadata) -> bool {
    // No inode numbers in std: links are not followed, which leaves bind-mount-like
    // loops (junctions are links) to MAX_DEPTH.
    true
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn links_are_reported_not_followed() {
        let base = std::env::temp_dir().join(format!("tapedeck-walk-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        let root = base.join("root");
        let outside = base.join("outside");
        fs::create_dir_all(root.join("a/b")).unwrap();
        fs::create_dir_all(&outside).unwrap();
        fs::write(root.join("top.ts"), b"x").unwrap();
        fs::write(root.join("a/b/deep.ts"), b"x").unwrap();
        fs::write(outside.join("secret.ts"), b"x").unwrap();
        // Loops both ways, a way out, and a link to a file outside.
        symlink("..", root.join("a/up")).unwrap();
        symlink(".", root.join("a/b/here")).unwrap();
        symlink(&outside, root.join("out")).unwrap();
        symlink(outside.join("secret.ts"), root.join("a/linked.ts")).unwrap();
        let w = walk_all(&root);
        assert_eq!(w.files, vec![root.join("a/b/deep.ts"), root.join("top.ts")]);
        let mut skipped: Vec<_> = w.skipped.iter().map(|(p, _)| p.clone()).collect();
        skipped.sort();
        assert_eq!(
            skipped,
            vec![
                root.join("a/b/here"),
                root.join("a/linked.ts"),
                root.join("a/up"),
                root.join("out")
            ]
        );
        // Depth 1: the root's own files.
        assert_eq!(walk(&root, 1).files, vec![root.join("top.ts")]);
        // A root that is a link is walked (the user chose it).
        let alias = base.join("alias");
        symlink(&root, &alias).unwrap();
        assert_eq!(walk_all(&alias).files.len(), 2);
        fs::remove_dir_all(&base).unwrap();
    }
}
