//! The control API's bearer token: 256 random bits, hex, in `<data_dir>/state/control.token`.
//!
//! `serve` makes it at its first start and reuses it afterwards; `tapedeck record` (and later
//! the desktop app) read it from the same place, found through the same configuration. The
//! file is readable by its owner only (mode 0600 on Unix): it is created under a temporary
//! name with that mode from the first byte, then linked to its final name, so no other
//! process ever sees it with wider permissions or half written, and two servers starting at
//! once agree on one token (the link of the second fails; it reads the first one's).
//!
//! A token file that others may read (group or world bits set) is treated as exposed: `serve`
//! replaces it with a new token (mode 0600) and says so in the log. A token file that is a
//! symbolic link or not a regular file is refused: the control API stays off, with a message
//! naming the file.
//!
//! On Windows the file inherits the ACL of the data folder (the user's profile by default).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Length of the token in bytes (256 bits).
const TOKEN_BYTES: usize = 32;

/// Where the token of a data folder lives.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("state").join("control.token")
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("no control token at {path}: `tapedeck serve` has not started with this data folder ({data_dir}); start it with the same configuration first")]
    Missing { path: PathBuf, data_dir: PathBuf },
    #[error("the control token {path} is {what}; remove it and start `tapedeck serve` again to make a new one")]
    Refused { path: PathBuf, what: String },
    #[error("the control token {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("cannot make a random control token: {0}")]
    Random(String),
}

/// What [`ensure`] did, for the log.
#[derive(Debug, PartialEq, Eq)]
pub enum Origin {
    Created,
    Reused,
    /// The old file was readable by others (its mode), so a new token replaced it.
    Replaced {
        mode: u32,
    },
    /// The old file did not hold a token (empty or damaged), so a new one replaced it.
    Repaired,
}

/// The token `serve` answers to: the existing one, or a new one written at first start.
pub fn ensure(data_dir: &Path) -> Result<(String, Origin), TokenError> {
    let path = path(data_dir);
    let io_err = |source| TokenError::Io {
        path: path.clone(),
        source,
    };
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(io_err)?;
    }
    match inspect(&path)? {
        None => {}
        Some(mode) if mode & 0o077 != 0 => {
            let token = generate()?;
            replace(&path, &token).map_err(io_err)?;
            return Ok((token, Origin::Replaced { mode }));
        }
        Some(_) => match fs::read_to_string(&path).map(|t| parse(&t)) {
            Ok(Some(token)) => return Ok((token, Origin::Reused)),
            Ok(None) => {
                let token = generate()?;
                replace(&path, &token).map_err(io_err)?;
                return Ok((token, Origin::Repaired));
            }
            Err(e) => return Err(io_err(e)),
        },
    }
    let token = generate()?;
    match create_new(&path, &token) {
        Ok(()) => Ok((token, Origin::Created)),
        // Another server of the same data folder made it first: use its token.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            read(data_dir).map(|t| (t, Origin::Reused))
        }
        Err(e) => Err(io_err(e)),
    }
}

/// The token for a client (`tapedeck record`): it never creates one.
pub fn read(data_dir: &Path) -> Result<String, TokenError> {
    let path = path(data_dir);
    if inspect(&path)?.is_none() {
        return Err(TokenError::Missing {
            path,
            data_dir: data_dir.to_owned(),
        });
    }
    let text = fs::read_to_string(&path).map_err(|source| TokenError::Io {
        path: path.clone(),
        source,
    })?;
    parse(&text).ok_or_else(|| TokenError::Refused {
        path,
        what: "not a token (64 hexadecimal digits)".into(),
    })
}

/// The file's permission bits when it is a regular file, `None` when there is none;
/// refuses anything else.
fn inspect(path: &Path) -> Result<Option<u32>, TokenError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(TokenError::Io {
                path: path.to_owned(),
                source,
            })
        }
    };
    let refuse = |what: &str| TokenError::Refused {
        path: path.to_owned(),
        what: what.into(),
    };
    if meta.file_type().is_symlink() {
        return Err(refuse("a symbolic link (it must be a file of its own)"));
    }
    if !meta.is_file() {
        return Err(refuse("not a regular file"));
    }
    Ok(Some(mode(&meta)))
}

#[cfg(unix)]
fn mode(meta: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o777
}

#[cfg(not(unix))]
fn mode(_meta: &fs::Metadata) -> u32 {
    0o600
}

/// 64 hex digits, or `None`.
fn parse(text: &str) -> Option<String> {
    let t = text.trim();
    (t.len() == TOKEN_BYTES * 2 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| t.to_ascii_lowercase())
}

fn generate() -> Result<String, TokenError> {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| TokenError::Random(e.to_string()))?;
    Ok(hex::encode(bytes))
}

/// Writes `token` to a fresh temporary file that has mode 0600 from its creation.
fn write_private(dir: &Path, token: &str) -> io::Result<PathBuf> {
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(|e| io::Error::other(e.to_string()))?;
    let tmp = dir.join(format!(".control.token.{}", hex::encode(suffix)));
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(&tmp)?;
    let written = f
        .write_all(format!("{token}\n").as_bytes())
        .and_then(|_| f.sync_all());
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(tmp)
}

/// Creates `path` holding `token`; `AlreadyExists` when it is there already.
fn create_new(path: &Path, token: &str) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = write_private(dir, token)?;
    let linked = fs::hard_link(&tmp, path).or_else(|e| match e.kind() {
        // File systems without hard links: a rename cannot fail on an existing file, so
        // check first (the window is two servers of one folder starting at once).
        io::ErrorKind::AlreadyExists => Err(e),
        _ if path.exists() => Err(io::ErrorKind::AlreadyExists.into()),
        _ => fs::rename(&tmp, path),
    });
    let _ = fs::remove_file(&tmp);
    linked
}

/// Replaces `path` with a new file holding `token` (mode 0600).
fn replace(path: &Path, token: &str) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = write_private(dir, token)?;
    fs::rename(&tmp, path).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tapedeck-token-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn made_once_then_reused_and_read() {
        let d = temp("once");
        assert!(matches!(read(&d), Err(TokenError::Missing { .. })));
        let (a, how) = ensure(&d).unwrap();
        assert_eq!(how, Origin::Created);
        assert_eq!(a.len(), 64);
        let (b, how) = ensure(&d).unwrap();
        assert_eq!((b.as_str(), how), (a.as_str(), Origin::Reused));
        assert_eq!(read(&d).unwrap(), a);
        // Nothing temporary is left beside it.
        let names: Vec<_> = fs::read_dir(d.join("state"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("control.token")]);
        fs::remove_dir_all(&d).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn private_from_the_start_and_a_readable_one_is_replaced() {
        use std::os::unix::fs::PermissionsExt;
        let d = temp("mode");
        let (old, _) = ensure(&d).unwrap();
        let p = path(&d);
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        let (new, how) = ensure(&d).unwrap();
        assert_eq!(how, Origin::Replaced { mode: 0o644 });
        assert_ne!(new, old, "an exposed token is not reused");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // A symbolic link is refused, by the server and the client alike.
        fs::remove_file(&p).unwrap();
        std::os::unix::fs::symlink(d.join("elsewhere"), &p).unwrap();
        assert!(matches!(ensure(&d), Err(TokenError::Refused { .. })));
        assert!(matches!(read(&d), Err(TokenError::Refused { .. })));
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_damaged_file_gets_a_new_token() {
        let d = temp("damaged");
        fs::create_dir_all(d.join("state")).unwrap();
        fs::write(path(&d), "").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(path(&d), fs::Permissions::from_mode(0o600)).unwrap();
        }
        let (t, how) = ensure(&d).unwrap();
        assert_eq!(how, Origin::Repaired);
        assert_eq!(read(&d).unwrap(), t);
        fs::remove_dir_all(&d).unwrap();
    }
}
