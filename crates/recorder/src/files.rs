//! Files on disk: everything being written carries a `.part` suffix and becomes its final
//! name by an atomic rename once complete, so a reader (a player, the uploader, a user
//! browsing the folder) never sees half a file under a final name.
//!
//! Writes stay inside their root (the recordings folder; the callback spool): folders are
//! created by [`create_dir_within`], which refuses a folder on the way that is a symbolic
//! link leading out of the root, and new files are never created through a symbolic link
//! ([`create_file`]). The root itself may be a link the user made (to another disk, say):
//! it is resolved once, and that real folder is what a write may not leave.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// Suffix of files still being written.
pub const PART_SUFFIX: &str = ".part";

/// A file being written.
#[derive(Debug)]
pub struct PartFile {
    path: PathBuf,
    out: BufWriter<File>,
    written: u64,
    /// Bytes known to be whole in the file: what the last successful flush handed over.
    committed: u64,
    behind: WriteBehind,
}

impl PartFile {
    /// Creates `<key>.part` under `root`, with its folders (see [`create_dir_within`]).
    pub fn create(root: &Path, key: &str) -> io::Result<PartFile> {
        let path = part_path(&root.join(key));
        if let Some(dir) = path.parent() {
            create_dir_within(root, dir)?;
        }
        let file = create_file(&path)?;
        Ok(PartFile {
            path,
            out: BufWriter::with_capacity(8 * 1024, file),
            written: 0,
            committed: 0,
            behind: WriteBehind::default(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Hands buffered bytes to the OS, so a killed process loses nothing already written.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()?;
        self.committed = self.written;
        self.behind.flushed(self.out.get_ref(), self.written);
        Ok(())
    }

    /// Cuts off what a failed write or flush may have left half written (a full disk):
    /// drops the bytes still buffered and truncates the file to what the last successful
    /// [`PartFile::flush`] handed over, which needs no room. Later writes follow it.
    pub fn rollback(&mut self) -> io::Result<()> {
        use std::io::Seek;
        let file = self.out.get_ref().try_clone()?;
        // `into_parts` gives the buffer back instead of writing it.
        let old = std::mem::replace(&mut self.out, BufWriter::with_capacity(8 * 1024, file));
        drop(old.into_parts());
        let mut file = self.out.get_ref();
        file.set_len(self.committed)?;
        file.seek(io::SeekFrom::Start(self.committed))?;
        self.written = self.committed;
        Ok(())
    }

    /// Flushes, syncs and closes; returns the `.part` path for a finalizer to read.
    ///
    /// The sync waits for the disk on the recording's runtime worker. Not through
    /// `block_in_place`: that lets the worker's connections go on reading while their
    /// recordings wait, which moves the backlog from the kernel's socket buffers into the
    /// recordings' queues (measured: 0.73 -> 1.45 MB per stream at 64 streams).
    pub fn close(mut self) -> io::Result<PathBuf> {
        self.out.flush()?;
        self.out.get_ref().sync_data()?;
        Ok(self.path)
    }

    /// Closes and renames to `root/key`, the final name.
    pub fn complete(self, root: &Path, key: &str) -> io::Result<PathBuf> {
        let part = self.close()?;
        let dest = root.join(key);
        if let Some(dir) = dest.parent() {
            create_dir_within(root, dir)?;
        }
        rename_into_place(&part, &dest)?;
        Ok(dest)
    }
}

/// Streaming writes: a recording's pages leave the page cache once they are on disk.
///
/// Every [`WriteBehind::WINDOW`] bytes handed to the OS, one `posix_fadvise(DONTNEED)` over
/// the previous window and the new one starts the new window's writeback and drops the
/// previous window's pages, written back since (pages still dirty or under writeback are
/// left alone; the kernel never drops unwritten data). So hours of footage do not push the
/// streamer's game, OBS or the desktop out of memory, at most two windows per file wait in
/// memory for the disk, and the next window's pages are the ones just freed: a fresh page
/// costs the kernel more than a re-used one (measured on this project's VM: 3 GB written by
/// 128 files, 5.3 s of system time plain, 1.2 s with this). Elsewhere than Linux it does
/// nothing. Advice only: an error changes nothing that is written, so it is ignored.
#[derive(Debug, Default)]
struct WriteBehind {
    /// Start of the previous window: below it, pages were dropped already.
    dropped: u64,
    /// Start of the current window, whose writeback has not been asked for.
    started: u64,
}

impl WriteBehind {
    const WINDOW: u64 = 1 << 20;

    /// `written` bytes of `file` have been handed to the OS.
    fn flushed(&mut self, file: &File, written: u64) {
        if written - self.started < Self::WINDOW {
            return;
        }
        #[cfg(target_os = "linux")]
        {
            use rustix::fs::{fadvise, Advice};
            // From a 2 MiB boundary (written long since): the kernel drops only whole
            // pages, large ones included, so the page holding a window's first byte
            // would otherwise stay.
            let from = self.dropped & !((2 << 20) - 1);
            let len = std::num::NonZeroU64::new(written - from);
            let _ = fadvise(file, from, len, Advice::DontNeed);
        }
        #[cfg(not(target_os = "linux"))]
        let _ = file;
        self.dropped = self.started;
        self.started = written;
    }
}

pub fn part_path(final_path: &Path) -> PathBuf {
    with_suffix(final_path, PART_SUFFIX)
}

/// `path` with `suffix` appended to its file name (`a.mp4` -> `a.mp4.finalizing`).
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Renames `from` to `to`, whose folder exists (made by [`create_dir_within`]). A rename
/// replaces a link at `to` itself; it never writes through one.
pub fn rename_into_place(from: &Path, to: &Path) -> io::Result<()> {
    fs::rename(from, to)
}

/// The real location of `root`, resolved at its first use in this process (created if
/// need be): the folder writes under `root` may not leave.
fn real_root(root: &Path) -> io::Result<PathBuf> {
    static ROOTS: OnceLock<Mutex<HashMap<PathBuf, PathBuf>>> = OnceLock::new();
    let roots = ROOTS.get_or_init(Default::default);
    // A poisoned lock only means another thread panicked mid-insert: the map is intact.
    let mut roots = roots.lock().unwrap_or_else(|e| e.into_inner());
    fs::create_dir_all(root)?;
    if let Some(real) = roots.get(root) {
        return Ok(real.clone());
    }
    let real = fs::canonicalize(root)?;
    roots.insert(root.to_owned(), real.clone());
    Ok(real)
}

fn refused(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, message)
}

/// Creates the folder `dir` under `root` and every folder between them, never through a
/// symbolic link that leads outside `root`'s real location. A link that stays inside is
/// followed (a user's own layout); one that leads out is an error naming it.
pub fn create_dir_within(root: &Path, dir: &Path) -> io::Result<()> {
    let real = real_root(root)?;
    let rel = dir.strip_prefix(root).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not inside {}", dir.display(), root.display()),
        )
    })?;
    let mut cur = real.clone();
    let mut shown = root.to_path_buf();
    for c in rel.components() {
        let Component::Normal(name) = c else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} leaves {} ({c:?})", dir.display(), root.display()),
            ));
        };
        shown.push(name);
        let next = cur.join(name);
        cur = loop {
            match fs::symlink_metadata(&next) {
                Ok(m) if m.file_type().is_symlink() => {
                    let target = fs::canonicalize(&next).map_err(|e| {
                        refused(format!(
                            "{} is a symbolic link that cannot be followed ({e})",
                            shown.display()
                        ))
                    })?;
                    if !target.starts_with(&real) {
                        return Err(refused(format!(
                            "{} is a symbolic link to {}, outside the folder {}: nothing is written through it",
                            shown.display(),
                            target.display(),
                            root.display()
                        )));
                    }
                    if !target.is_dir() {
                        return Err(refused(format!(
                            "{} is a link to a file, not a folder",
                            shown.display()
                        )));
                    }
                    break target;
                }
                Ok(m) if m.is_dir() => break next,
                Ok(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!("{} is a file, not a folder", shown.display()),
                    ))
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => match fs::create_dir(&next) {
                    Ok(()) => break next,
                    // Made by another recording meanwhile: look again.
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(e),
                },
                Err(e) => return Err(e),
            }
        };
    }
    Ok(())
}

/// Creates (or truncates) the file at `path`, unless that name is a symbolic link: a
/// link planted where Tapedeck writes would send the write elsewhere.
pub fn create_file(path: &Path) -> io::Result<File> {
    if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(refused(format!(
            "{} is a symbolic link: nothing is written through it",
            path.display()
        )));
    }
    File::create(path)
}

/// Writes a whole small file (a playlist) under `root` atomically: `.part` then rename.
pub fn write_atomically(root: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomically_parts(root, path, &[bytes])
}

/// [`write_atomically`] of `parts`, one after the other.
pub fn write_atomically_parts(root: &Path, path: &Path, parts: &[&[u8]]) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        create_dir_within(root, dir)?;
    }
    let tmp = part_path(path);
    let written = (|| {
        let mut f = create_file(&tmp)?;
        for p in parts {
            f.write_all(p)?;
        }
        f.sync_data()?;
        fs::rename(&tmp, path)
    })();
    // A half-written copy (a full disk) is no use to anyone, and recovery would take it
    // for a live playlist.
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// `path` as an object key under `root` (with `/`, on every OS).
pub fn key_of(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// The URI of `target` as seen from a playlist at `playlist` (both keys with `/`).
pub fn relative_uri(playlist: &str, target: &str) -> String {
    let from: Vec<&str> = playlist.split('/').collect();
    let to: Vec<&str> = target.split('/').collect();
    let from_dir = &from[..from.len() - 1];
    let common = from_dir.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; from_dir.len() - common];
    parts.extend(&to[common..]);
    parts.join("/")
}

/// The key a playlist `uri` names, from the playlist's folder `dir` (both with `/`).
pub fn join_key(dir: &str, uri: &str) -> String {
    let mut parts: Vec<&str> = if dir.is_empty() {
        Vec::new()
    } else {
        dir.split('/').collect()
    };
    for seg in uri.split('/') {
        match seg {
            ".." => {
                parts.pop();
            }
            "." | "" => {}
            s => parts.push(s),
        }
    }
    parts.join("/")
}

/// A finished recording's `.part` file, opened to be finalized where it lies
/// ([`tapedeck_media::mp4::finalize_in_place`]).
///
/// Room is inserted at the start with `fallocate(FALLOC_FL_INSERT_RANGE)` (Linux: ext4,
/// XFS). Elsewhere, and on file systems without it, inserting fails before anything changed
/// and the caller copies the file instead.
///
/// Each handle keeps its own position and reads and writes at it (`pread`/`pwrite`): the
/// finalizer reads the recording through one handle while it writes the header through
/// another, and handles from `File::try_clone` would share one file offset.
pub struct InPlaceFs {
    file: std::sync::Arc<File>,
    pos: u64,
}

impl InPlaceFs {
    pub fn open(path: &Path) -> io::Result<InPlaceFs> {
        let file = fs::OpenOptions::new().read(true).write(true).open(path)?;
        Ok(InPlaceFs {
            file: std::sync::Arc::new(file),
            pos: 0,
        })
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], pos: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, pos)
}

#[cfg(unix)]
fn write_at(file: &File, buf: &[u8], pos: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::write_at(file, buf, pos)
}

#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], pos: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, pos)
}

#[cfg(windows)]
fn write_at(file: &File, buf: &[u8], pos: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_write(file, buf, pos)
}

impl io::Read for InPlaceFs {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = read_at(&self.file, buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl io::Write for InPlaceFs {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = write_at(&self.file, buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl io::Seek for InPlaceFs {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        let at = match pos {
            io::SeekFrom::Start(p) => Some(p),
            io::SeekFrom::End(d) => self.file.metadata()?.len().checked_add_signed(d),
            io::SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = at.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the file",
            )
        })?;
        Ok(self.pos)
    }
}

impl tapedeck_media::in_place::InPlaceFile for InPlaceFs {
    #[cfg(target_os = "linux")]
    fn insert_front(&mut self, len: u64) -> io::Result<()> {
        use rustix::fs::{fallocate, FallocateFlags};
        fallocate(&*self.file, FallocateFlags::INSERT_RANGE, 0, len).map_err(io::Error::from)
    }

    #[cfg(not(target_os = "linux"))]
    fn insert_front(&mut self, _len: u64) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }

    fn block_size(&self) -> u64 {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            if let Ok(m) = self.file.metadata() {
                return m.blksize().max(512);
            }
        }
        4096
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn try_clone(&self) -> io::Result<Self> {
        Ok(InPlaceFs {
            file: self.file.clone(),
            pos: 0,
        })
    }
}

/// Where the bytes of a recorded key can be read on this machine: the recordings folder,
/// or (in the engine) a download from the bucket that holds it.
pub trait Locate: Send + Sync {
    /// A local path holding the file at `key`, fetching it first if it must be fetched;
    /// why not, as a sentence.
    fn locate(&self, key: &str) -> Result<PathBuf, String>;
}

/// Keys under a recordings folder.
impl Locate for PathBuf {
    fn locate(&self, key: &str) -> Result<PathBuf, String> {
        Ok(self.join(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_uris() {
        assert_eq!(
            relative_uri("record/a/s/x.m3u8", "record/a/s/1_0.ts"),
            "1_0.ts"
        );
        assert_eq!(
            relative_uri("idx/x.m3u8", "record/a/1_0.ts"),
            "../record/a/1_0.ts"
        );
        assert_eq!(relative_uri("x.m3u8", "seg/1_0.ts"), "seg/1_0.ts");
        for (playlist, target) in [
            ("record/a/s/x.m3u8", "record/a/s/1_0.ts"),
            ("idx/x.m3u8", "record/a/1_0.ts"),
            ("a/b/c/d.m3u8", "e/f.ts"),
        ] {
            let dir = playlist.rsplit_once('/').map_or("", |(d, _)| d);
            assert_eq!(join_key(dir, &relative_uri(playlist, target)), target);
        }
    }

    #[test]
    fn part_files_rename_into_place() {
        let root = std::env::temp_dir().join(format!("tapedeck-files-{}", std::process::id()));
        let mut f = PartFile::create(&root, "a/b/c.ts").unwrap();
        f.write(b"abc").unwrap();
        assert!(root.join("a/b/c.ts.part").exists());
        let dest = f.complete(&root, "a/b/c.ts").unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"abc");
        assert!(!root.join("a/b/c.ts.part").exists());
        write_atomically(&root, &root.join("p.m3u8"), b"#EXTM3U").unwrap();
        assert_eq!(fs::read(root.join("p.m3u8")).unwrap(), b"#EXTM3U");
        fs::remove_dir_all(root).unwrap();
    }

    /// Folders are made inside the root only: a link on the way that leads out is refused
    /// by name; a link that stays inside, and a root that is itself a link, are fine.
    #[cfg(unix)]
    #[test]
    fn writes_never_go_through_a_link_out_of_the_root() {
        use std::os::unix::fs::symlink;
        let base = std::env::temp_dir().join(format!("tapedeck-confined-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        let real = base.join("disk");
        let outside = base.join("outside");
        fs::create_dir_all(real.join("record/live")).unwrap();
        fs::create_dir_all(&outside).unwrap();
        // The user's own link for the whole folder.
        let root = base.join("recordings");
        symlink(&real, &root).unwrap();
        symlink(&outside, real.join("record/live/cam1")).unwrap();
        symlink(real.join("record"), real.join("alias")).unwrap();

        let e = PartFile::create(&root, "record/live/cam1/1_0.ts").unwrap_err();
        let text = e.to_string();
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        assert!(
            text.contains(&root.join("record/live/cam1").display().to_string())
                && text.contains("outside"),
            "{text}"
        );
        let e = write_atomically(
            &root,
            &root.join("record/live/cam1/deep/x.m3u8"),
            b"#EXTM3U",
        )
        .unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(
            fs::read_dir(&outside).unwrap().count(),
            0,
            "nothing was written outside"
        );

        let mut f = PartFile::create(&root, "record/live/cam2/1_0.ts").unwrap();
        f.write(b"ts").unwrap();
        f.complete(&root, "record/live/cam2/1_0.ts").unwrap();
        assert_eq!(
            fs::read(real.join("record/live/cam2/1_0.ts")).unwrap(),
            b"ts"
        );
        write_atomically(&root, &root.join("alias/live/cam3/p.m3u8"), b"#EXTM3U").unwrap();
        assert!(real.join("record/live/cam3/p.m3u8").exists());

        // A file name that is a link is not written through either.
        symlink(
            outside.join("victim"),
            real.join("record/live/cam2/2_1.ts.part"),
        )
        .unwrap();
        assert!(PartFile::create(&root, "record/live/cam2/2_1.ts").is_err());
        assert!(!outside.join("victim").exists());
        fs::remove_dir_all(&base).unwrap();
    }

    /// After a failed write (a full disk), rollback cuts the file back to its last flush:
    /// bytes still buffered are dropped, not written, and a torn tail another handle put
    /// there (as a short write does) goes; later writes follow the kept bytes.
    #[test]
    fn rollback_keeps_what_was_flushed_whole() {
        let root = std::env::temp_dir().join(format!("tapedeck-rollback-{}", std::process::id()));
        let mut f = PartFile::create(&root, "a.ts").unwrap();
        f.write(b"whole-1;").unwrap();
        f.flush().unwrap();
        f.write(b"buffered, never to be written;").unwrap();
        // Half of a big write that reached the file before the disk filled.
        let path = f.path().to_owned();
        fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"torn ha")
            .unwrap();
        f.rollback().unwrap();
        assert_eq!(f.written(), 8);
        assert_eq!(fs::read(&path).unwrap(), b"whole-1;");
        f.write(b"whole-2;").unwrap();
        f.flush().unwrap();
        drop(f);
        assert_eq!(fs::read(&path).unwrap(), b"whole-1;whole-2;");
        fs::remove_dir_all(root).unwrap();
    }

    /// A whole-file write that fails leaves no `.part` copy behind (recovery would take
    /// the one of a playlist for a live playlist it cannot read).
    #[test]
    fn a_failed_atomic_write_leaves_no_part() {
        let root = std::env::temp_dir().join(format!("tapedeck-atomic-{}", std::process::id()));
        fs::create_dir_all(root.join("x.m3u8")).unwrap();
        // The rename onto a folder fails after the copy was written.
        assert!(write_atomically(&root, &root.join("x.m3u8"), b"#EXTM3U").is_err());
        assert!(!root.join("x.m3u8.part").exists());
        fs::remove_dir_all(root).unwrap();
    }

    /// Pages of a file being written leave the page cache once on disk, one window behind
    /// the writer; every byte still reads back.
    #[cfg(target_os = "linux")]
    #[test]
    fn written_pages_leave_the_page_cache() {
        let root = std::env::temp_dir().join(format!("tapedeck-behind-{}", std::process::id()));
        let mut f = PartFile::create(&root, "a.ts").unwrap();
        let window = WriteBehind::WINDOW as usize;
        let mut all = Vec::new();
        for i in 0..4u8 {
            let bytes: Vec<u8> = (0..window).map(|j| (j % 251) as u8 ^ i).collect();
            f.write(&bytes).unwrap();
            f.flush().unwrap();
            // On disk before the next window's flush, which then drops it.
            f.out.get_ref().sync_data().unwrap();
            all.extend(bytes);
        }
        let path = f.path().to_owned();
        // tmpfs pages are the file itself: nothing to drop there.
        let tmpfs = rustix::fs::statfs(&root).unwrap().f_type == 0x0102_1994;
        if !tmpfs {
            // fincore (util-linux) tells which pages are cached.
            let out = std::process::Command::new("fincore")
                .args(["--bytes", "--noheadings", "--output", "RES"])
                .arg(&path)
                .output();
            let Ok(out) = out else {
                eprintln!("no fincore: the page cache is not checked");
                fs::remove_dir_all(root).unwrap();
                return;
            };
            let resident: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
            assert!(
                resident <= WriteBehind::WINDOW,
                "{resident} bytes of {} still cached",
                all.len()
            );
        }
        assert_eq!(fs::read(&path).unwrap(), all);
        fs::remove_dir_all(root).unwrap();
    }
}
