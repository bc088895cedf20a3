//! Finalizing a recording where it lies: what the MP4 and FLV finalizers need of a file
//! to put their header into room inserted at its start instead of copying the media.

use std::io::{self, Read, Seek, SeekFrom, Write};

/// A file a finalizer can work on in place (`mp4::finalize_in_place`,
/// `flv::finalize_in_place`).
pub trait InPlaceFile: Read + Write + Seek + Sized {
    /// Inserts `len` bytes (a multiple of [`InPlaceFile::block_size`]) of zeros at the start
    /// of the file without copying what follows; on failure the file must be unchanged.
    fn insert_front(&mut self, len: u64) -> io::Result<()>;
    /// The granularity `insert_front` works in.
    fn block_size(&self) -> u64;
    fn set_len(&mut self, len: u64) -> io::Result<()>;
    /// Makes what was written durable before later writes.
    fn sync(&mut self) -> io::Result<()>;
    /// A second handle on the same file, with its own position.
    fn try_clone(&self) -> io::Result<Self>;
}

/// What an in-place finalizer did.
#[derive(Debug)]
pub enum InPlace<S> {
    /// The file is now the finalized file; its summary.
    Done(S),
    /// The file system cannot insert room: the file is unchanged; copy instead.
    Unsupported(io::Error),
}

/// A reader that sees the file from `shift` on, as if it started there.
pub struct Shifted<R> {
    inner: R,
    shift: u64,
}

impl<R: Read + Seek> Shifted<R> {
    pub fn new(inner: R, shift: u64) -> io::Result<Self> {
        let mut s = Shifted { inner, shift };
        s.seek(SeekFrom::Start(0))?;
        Ok(s)
    }

    /// The recording moved `shift` bytes into the file.
    pub(crate) fn set_shift(&mut self, shift: u64) -> io::Result<()> {
        self.shift = shift;
        self.seek(SeekFrom::Start(0))?;
        Ok(())
    }
}

impl<R: Read> Read for Shifted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl<R: Seek> Seek for Shifted<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let at = match pos {
            SeekFrom::Start(p) => self.inner.seek(SeekFrom::Start(p + self.shift))?,
            other => self.inner.seek(other)?,
        };
        Ok(at.saturating_sub(self.shift))
    }
}

/// Reads up to `buf.len()` bytes at `pos` (fewer only at the end of the file).
pub(crate) fn read_at<F: Read + Seek>(file: &mut F, pos: u64, buf: &mut [u8]) -> io::Result<usize> {
    file.seek(SeekFrom::Start(pos))?;
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Block sizes are multiples of this: where a recording moved by an interrupted in-place
/// finalize can start.
const SECTOR: u64 = 512;
/// How far [`recording_start`] looks.
const MAX_ROOM: u64 = 1 << 30;

/// Where the recording starts in `r`: 0 for a file whose own `signature` bytes (found `at`
/// bytes in: an MP4's `ftyp` at 4, an FLV's `FLV` at 0) are not zeros; for one an in-place
/// finalize left half done (room inserted, its first bytes not yet written), the first
/// multiple of 512 bytes where `signature` is found. Readers of a recording's tag use it,
/// so a file interrupted there still tells its recording.
pub fn recording_start<R: Read + Seek>(r: &mut R, signature: &[u8], at: usize) -> io::Result<u64> {
    let len = r.seek(SeekFrom::End(0))?;
    let mut probe = vec![0u8; at + signature.len()];
    if read_at(r, 0, &mut probe)? < probe.len() || probe[at..].iter().any(|&b| b != 0) {
        return Ok(0);
    }
    let mut pos = SECTOR;
    while pos < len.min(MAX_ROOM) {
        if read_at(r, pos, &mut probe)? == probe.len() && &probe[at..] == signature {
            return Ok(pos);
        }
        pos += SECTOR;
    }
    Ok(0)
}
