//! A full disk: which errors mean it, how much room a folder's file system has, the
//! emergency reserve that lets a recording finish its files when the disk is full, and
//! saying a repeated warning once.
//!
//! The policy (ARCHITECTURE.md, "Crash safety"): the first write, flush, sync, rename or
//! finalize of a recording that fails for lack of room stops that recording. The reserve
//! is given back to the file system, and every open file is finished with what reached
//! the disk before the failed write (its torn tail cut off first: a final name never
//! holds a damaged file). The stream's media is then dropped, its publisher staying
//! connected, and the room is looked at every [`POLL`]: once there is room for
//! [`RESUME_SECONDS`] of the stream (at least [`RESUME_MIN`]) besides the reserve, it is
//! recorded again into new files. A finalizer that needs more room than there is (a copy
//! on a file system that cannot insert room in front of a file) leaves its `.part` whole
//! and waits for the room, or for the next start, where recovery finishes it.
//!
//! The reserve is the "ballast file" of databases that must be able to clean up after a
//! full disk (CockroachDB's `EMERGENCY_BALLAST`): a file of [`Reserve::size_for`] bytes
//! allocated while there is room and deleted the moment the disk is full, so closing
//! playlists, cutting segments and finalizing in place have room to do it.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How often a recording stopped for a full disk looks at the room again.
pub const POLL: Duration = Duration::from_secs(5);
/// A stopped recording starts again once there is room for this many seconds of it (at
/// the rate it was written at) besides the reserve.
pub const RESUME_SECONDS: u64 = 10;
/// ... and never for less than this.
pub const RESUME_MIN: u64 = 8 << 20;

/// OS error codes that mean "no room": ENOSPC and EDQUOT (a user's quota is a full disk
/// for the recording too); Windows' ERROR_HANDLE_DISK_FULL and ERROR_DISK_FULL.
#[cfg(target_os = "linux")]
const DISK_FULL_CODES: &[i32] = &[28, 122];
#[cfg(all(unix, not(target_os = "linux")))]
const DISK_FULL_CODES: &[i32] = &[28, 69];
#[cfg(windows)]
const DISK_FULL_CODES: &[i32] = &[39, 112];
#[cfg(not(any(unix, windows)))]
const DISK_FULL_CODES: &[i32] = &[];

/// True when `e` says the file system (or the user's quota) has no room left. An error
/// that wraps such an error (`io::Error::other(inner)`) counts too; other errors (a file
/// too large, a read-only or failing disk, a permission) do not.
pub fn is_disk_full(e: &io::Error) -> bool {
    if let Some(code) = e.raw_os_error() {
        return DISK_FULL_CODES.contains(&code);
    }
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<io::Error>())
        .is_some_and(is_disk_full)
}

/// True when an error that reached us as text (the finalizers report theirs as strings)
/// carries the OS's own message for a full disk, as `std::io::Error` renders it.
pub fn mentions_disk_full(text: &str) -> bool {
    DISK_FULL_CODES
        .iter()
        .any(|code| text.contains(&io::Error::from_raw_os_error(*code).to_string()))
}

/// Room on the file system of a folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct DiskSpace {
    /// What an unprivileged writer may still use.
    pub free_bytes: u64,
    pub total_bytes: u64,
}

/// The room on the file system holding `path` (or, when it does not exist yet, its
/// nearest existing folder).
pub fn disk_space(path: &Path) -> io::Result<DiskSpace> {
    let mut at = path;
    while !at.exists() {
        match at.parent() {
            Some(p) if !p.as_os_str().is_empty() => at = p,
            _ => break,
        }
    }
    space_of(at)
}

#[cfg(unix)]
fn space_of(path: &Path) -> io::Result<DiskSpace> {
    let s = rustix::fs::statvfs(path)?;
    Ok(DiskSpace {
        free_bytes: s.f_bavail.saturating_mul(s.f_frsize),
        total_bytes: s.f_blocks.saturating_mul(s.f_frsize),
    })
}

#[cfg(not(unix))]
fn space_of(_path: &Path) -> io::Result<DiskSpace> {
    Err(io::ErrorKind::Unsupported.into())
}

/// Room a recording waits for before it records again, writing `bytes_per_sec` (all its
/// formats), besides `reserve`.
pub fn room_to_resume(bytes_per_sec: u64, reserve: u64) -> u64 {
    bytes_per_sec
        .saturating_mul(RESUME_SECONDS)
        .max(RESUME_MIN)
        .saturating_add(reserve)
}

/// Waits until the file system of `dir` has `needed` bytes free, looking every [`POLL`];
/// false when `stop` was cancelled first. Where the room cannot be read, it waits one
/// [`POLL`] and says yes (the caller's next try tells).
pub async fn wait_for_room(dir: &Path, needed: u64, stop: &CancellationToken) -> bool {
    loop {
        let known = disk_space(dir).ok();
        if known.is_some_and(|s| s.free_bytes >= needed) {
            return true;
        }
        tokio::select! {
            _ = stop.cancelled() => return false,
            _ = tokio::time::sleep(POLL) => {}
        }
        if known.is_none() {
            return true;
        }
    }
}

/// A recording stopped for a full disk: when it looks at the room next, and how much it
/// waits for.
#[derive(Debug)]
pub(crate) struct Halt {
    pub needed: u64,
    next_check: Instant,
}

impl Halt {
    pub fn new(needed: u64, now: Instant) -> Halt {
        Halt {
            needed,
            next_check: now + POLL,
        }
    }

    /// The room, when it is time to look (at most every [`POLL`]) and there is enough;
    /// `None` otherwise. A room that cannot be read counts as enough: the next write tells.
    pub fn room_again(
        &mut self,
        now: Instant,
        space: impl FnOnce() -> io::Result<DiskSpace>,
    ) -> Option<Option<DiskSpace>> {
        if now < self.next_check {
            return None;
        }
        self.next_check = now + POLL;
        match space() {
            Ok(s) if s.free_bytes >= self.needed => Some(Some(s)),
            Ok(_) => None,
            Err(_) => Some(None),
        }
    }
}

/// Room kept aside for finishing files when the disk is full (see the module docs).
#[derive(Debug)]
pub struct Reserve {
    path: PathBuf,
    bytes: u64,
    held: Mutex<bool>,
}

impl Reserve {
    /// The reserve for a disk of `total` bytes: 0.1 % of it, within 1 MiB and 32 MiB (room
    /// for the header of a 6-hour MP4 finalized in place, playlists and segment ends).
    pub fn size_for(total: u64) -> u64 {
        (total / 1000).clamp(1 << 20, 32 << 20)
    }

    /// A reserve of `bytes` at `path` (not allocated yet: see [`Reserve::fill`]).
    pub fn new(path: PathBuf, bytes: u64) -> Reserve {
        Reserve {
            path,
            bytes,
            held: Mutex::new(false),
        }
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the room is set aside now.
    pub fn held(&self) -> bool {
        *self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets the room aside, unless it is already or the disk has less than twice the
    /// reserve free (taking the last of it would stop recordings that still fit). A file
    /// of the right size left by an earlier run is taken as it is. Ok(true) when held.
    pub fn fill(&self) -> io::Result<bool> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if *held {
            return Ok(true);
        }
        if std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.is_file() && m.len() == self.bytes)
        {
            *held = true;
            return Ok(true);
        }
        let dir = self.path.parent().unwrap_or(Path::new("."));
        if disk_space(dir).is_ok_and(|s| s.free_bytes < self.bytes.saturating_mul(2)) {
            return Ok(false);
        }
        std::fs::create_dir_all(dir)?;
        let result = allocate(&self.path, self.bytes);
        if result.is_err() {
            let _ = std::fs::remove_file(&self.path);
        }
        result?;
        *held = true;
        Ok(true)
    }

    /// Gives the room back to the file system; true when it was held.
    pub fn release(&self) -> bool {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        *held = false;
        match std::fs::remove_file(&self.path) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => {
                tracing::warn!(
                    "cannot delete the space reserve {}: {e}",
                    self.path.display()
                );
                false
            }
        }
    }
}

/// Writes a file of `bytes` whose blocks are allocated (not a sparse file: that would
/// set nothing aside).
fn allocate(path: &Path, bytes: u64) -> io::Result<()> {
    let file = crate::files::create_file(path)?;
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{fallocate, FallocateFlags};
        match fallocate(&file, FallocateFlags::empty(), 0, bytes) {
            Ok(()) => return file.sync_all(),
            // Some file systems cannot allocate without writing: write zeros.
            Err(rustix::io::Errno::OPNOTSUPP) => {}
            Err(e) => return Err(e.into()),
        }
    }
    use std::io::Write;
    let mut out = io::BufWriter::with_capacity(1 << 16, &file);
    let zeros = vec![0u8; 1 << 16];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        out.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    out.flush()?;
    drop(out);
    file.sync_all()
}

/// Says a repeated message once: the first time it comes; the times it came again are
/// told when another message comes, or at [`Repeats::finish`]. Thousands of identical
/// warnings (one per frame of a stream that cannot be written) tell nothing more than one
/// with a count.
#[derive(Debug, Default)]
pub struct Repeats {
    last: Option<String>,
    again: u64,
}

/// What to say for one occurrence of a message.
#[derive(Debug, PartialEq, Eq)]
pub struct Say {
    /// The previous message and how many more times it came, to say first.
    pub before: Option<(String, u64)>,
    /// Whether to say this message (false: a repeat, counted).
    pub this: bool,
}

impl Repeats {
    pub fn note(&mut self, message: &str) -> Say {
        if self.last.as_deref() == Some(message) {
            self.again += 1;
            return Say {
                before: None,
                this: false,
            };
        }
        let before = self.finish();
        self.last = Some(message.to_owned());
        Say { before, this: true }
    }

    /// The repeats not told yet, and forgets the last message.
    pub fn finish(&mut self) -> Option<(String, u64)> {
        let again = std::mem::take(&mut self.again);
        let last = self.last.take()?;
        (again > 0).then_some((last, again))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_errors_are_a_full_disk() {
        #[cfg(target_os = "linux")]
        {
            let enospc = io::Error::from_raw_os_error(28);
            let edquot = io::Error::from_raw_os_error(122);
            // The codes are the ones std itself calls a full disk and a quota.
            assert_eq!(format!("{:?}", enospc.kind()), "StorageFull");
            assert_eq!(format!("{:?}", edquot.kind()), "QuotaExceeded");
            assert!(is_disk_full(&enospc));
            assert!(is_disk_full(&edquot));
            // Wrapped, as a writer adapter or a finalizer passes it on.
            assert!(is_disk_full(&io::Error::other(
                io::Error::from_raw_os_error(28)
            )));
            assert!(mentions_disk_full(&format!(
                "writing the moov: {}",
                io::Error::from_raw_os_error(28)
            )));
            // Not a full disk: file too large, read-only, I/O error, permission, no such
            // file, interrupted.
            for code in [27, 30, 5, 13, 2, 4] {
                let e = io::Error::from_raw_os_error(code);
                assert!(!is_disk_full(&e), "{e}");
                assert!(!mentions_disk_full(&e.to_string()), "{e}");
            }
        }
        assert!(!is_disk_full(&io::Error::other(
            "No space left on device, says a message without a code"
        )));
        assert!(!is_disk_full(&io::ErrorKind::WriteZero.into()));
        assert!(!mentions_disk_full("the box is torn at 1234"));
    }

    #[test]
    fn a_repeated_message_is_said_once_then_counted() {
        let mut r = Repeats::default();
        assert_eq!(
            r.note("a: No space left"),
            Say {
                before: None,
                this: true
            }
        );
        for _ in 0..2860 {
            assert!(!r.note("a: No space left").this);
        }
        // Another message: the count of the first is told before it.
        assert_eq!(
            r.note("b: Permission denied"),
            Say {
                before: Some(("a: No space left".into(), 2860)),
                this: true
            }
        );
        // Said once, never repeated: nothing to count.
        assert_eq!(r.finish(), None);
        assert!(r.note("b: Permission denied").this, "forgotten at finish");
        r.note("b: Permission denied");
        assert_eq!(r.finish(), Some(("b: Permission denied".into(), 1)));
        assert_eq!(r.finish(), None);
    }

    #[test]
    fn room_to_resume_is_a_few_seconds_of_the_stream_and_the_reserve() {
        // 600 kB/s (three formats of a 1.5 Mbit/s stream): 10 s of it.
        assert_eq!(
            room_to_resume(600_000, 1 << 20),
            6_000_000.max(RESUME_MIN) + (1 << 20)
        );
        assert_eq!(room_to_resume(2_000_000, 0), 20_000_000);
        // A trickle still waits for the minimum.
        assert_eq!(room_to_resume(1000, 0), RESUME_MIN);
        assert_eq!(room_to_resume(u64::MAX, u64::MAX), u64::MAX);
    }

    #[test]
    fn the_reserve_is_a_thousandth_within_bounds() {
        assert_eq!(Reserve::size_for(24 << 20), 1 << 20);
        assert_eq!(Reserve::size_for(10_000_000_000), 10_000_000);
        assert_eq!(Reserve::size_for(4_000_000_000_000), 32 << 20);
    }

    #[tokio::test(start_paused = true)]
    async fn a_halted_recording_looks_every_poll_and_resumes_with_enough_room() {
        let now = Instant::now();
        let mut h = Halt::new(10_000_000, now);
        let room = |free| {
            move || {
                Ok(DiskSpace {
                    free_bytes: free,
                    total_bytes: 24 << 20,
                })
            }
        };
        // Too soon: the room is not even read.
        assert_eq!(
            h.room_again(now + Duration::from_secs(1), || panic!("read too soon")),
            None
        );
        assert_eq!(h.room_again(now + POLL, room(9_999_999)), None);
        // The next look is a POLL later.
        assert_eq!(
            h.room_again(now + POLL + Duration::from_secs(1), || panic!(
                "read too soon"
            )),
            None
        );
        let back = h.room_again(now + POLL * 2, room(10_000_000));
        assert_eq!(back.flatten().map(|s| s.free_bytes), Some(10_000_000));
        // A room that cannot be read lets the next write tell.
        let mut h = Halt::new(1, now);
        assert_eq!(
            h.room_again(now + POLL, || Err(io::ErrorKind::Unsupported.into())),
            Some(None)
        );
    }

    #[test]
    fn the_reserve_is_allocated_released_and_taken_back() {
        let dir = std::env::temp_dir().join(format!("tapedeck-reserve-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let r = Reserve::new(dir.join("state/space.reserve"), 1 << 20);
        assert!(!r.held());
        assert!(r.fill().unwrap());
        assert!(r.held());
        let meta = std::fs::metadata(r.path()).unwrap();
        assert_eq!(meta.len(), 1 << 20);
        #[cfg(unix)]
        {
            // Allocated, not sparse: the blocks are the file system's no more.
            use std::os::unix::fs::MetadataExt;
            assert!(meta.blocks() * 512 >= 1 << 20, "{} blocks", meta.blocks());
        }
        assert!(r.release());
        assert!(!r.path().exists());
        assert!(!r.release(), "nothing left to give back");
        // A reserve left by an earlier run is taken as it is.
        assert!(r.fill().unwrap());
        let again = Reserve::new(r.path().to_owned(), 1 << 20);
        assert!(again.fill().unwrap());
        assert!(again.held());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
