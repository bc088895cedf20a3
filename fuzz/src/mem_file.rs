//! A file in memory for the in-place finalizers (`InPlaceFile`): clones share the bytes and
//! keep their own position, like handles on one file. Growth is capped so a fuzz input
//! that makes a finalizer write far past its end is an error, not an out-of-memory abort
//! that would hide the real finding.

use std::cell::RefCell;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::rc::Rc;

use tapedeck_media::in_place::InPlaceFile;

/// Largest file the memory file lets a finalizer make.
const MAX_LEN: usize = 256 << 20;

#[derive(Clone, Debug)]
pub struct MemFile {
    pub data: Rc<RefCell<Vec<u8>>>,
    pos: u64,
    block: u64,
}

impl MemFile {
    pub fn new(data: Vec<u8>, block: u64) -> MemFile {
        MemFile {
            data: Rc::new(RefCell::new(data)),
            pos: 0,
            block: block.max(1),
        }
    }

    pub fn len(&self) -> u64 {
        self.data.borrow().len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.data.borrow().is_empty()
    }
}

fn too_large() -> io::Error {
    io::Error::other("the memory file would grow past its limit")
}

impl Read for MemFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let data = self.data.borrow();
        let start = usize::try_from(self.pos)
            .unwrap_or(usize::MAX)
            .min(data.len());
        let n = buf.len().min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Write for MemFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut data = self.data.borrow_mut();
        let start = usize::try_from(self.pos).map_err(|_| too_large())?;
        let end = start.checked_add(buf.len()).ok_or_else(too_large)?;
        if end > MAX_LEN {
            return Err(too_large());
        }
        if data.len() < end {
            data.resize(end, 0);
        }
        data[start..end].copy_from_slice(buf);
        self.pos = end as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for MemFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let len = self.data.borrow().len() as i128;
        let at = match pos {
            SeekFrom::Start(p) => i128::from(p),
            SeekFrom::End(d) => len + i128::from(d),
            SeekFrom::Current(d) => i128::from(self.pos) + i128::from(d),
        };
        self.pos = u64::try_from(at).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        Ok(self.pos)
    }
}

impl InPlaceFile for MemFile {
    fn insert_front(&mut self, len: u64) -> io::Result<()> {
        if len % self.block != 0 {
            // The finalizers promise block multiples: a broken promise is a finding.
            panic!(
                "insert of {len} bytes, not a multiple of the block {}",
                self.block
            );
        }
        let mut data = self.data.borrow_mut();
        let len = usize::try_from(len).map_err(|_| too_large())?;
        if data.len().saturating_add(len) > MAX_LEN {
            return Err(too_large());
        }
        data.splice(0..0, std::iter::repeat_n(0u8, len));
        Ok(())
    }

    fn block_size(&self) -> u64 {
        self.block
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        let len = usize::try_from(len).map_err(|_| too_large())?;
        if len > MAX_LEN {
            return Err(too_large());
        }
        self.data.borrow_mut().resize(len, 0);
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn try_clone(&self) -> io::Result<Self> {
        Ok(MemFile {
            pos: 0,
            ..self.clone()
        })
    }
}
