//! Opening and reading message files safely and without waiting for the disk.
//!
//! Every message file is opened with `O_NOFOLLOW | O_NONBLOCK` and checked to be a regular
//! file, so a symbolic link or a FIFO planted in a Maildir is never followed or blocked on.
//! The `_cached` variants (`openat2` with `RESOLVE_CACHED`, `preadv2` with `RWF_NOWAIT`)
//! take only what the kernel already has in memory, so an event loop can call them; what
//! must wait for the disk is left to blocking threads. Nothing here may block on a lock
//! or follow a link.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::StoreError;

pub(crate) fn nofollow_nonblock() -> i32 {
    use rustix::fs::OFlags;
    // O_NONBLOCK keeps a FIFO planted in the Maildir from blocking the open.
    (OFlags::NOFOLLOW | OFlags::NONBLOCK).bits() as i32
}

/// Opens a message for reading, refusing symbolic links (`O_NOFOLLOW`) and anything that
/// is not a regular file. A missing file is [`StoreError::NotFound`]. Gives the file's
/// length too.
pub(crate) fn open_regular(path: &Path) -> Result<(File, u64), StoreError> {
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(nofollow_nonblock())
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(StoreError::NotFound),
        Err(e) if rustix::io::Errno::from_io_error(&e) == Some(rustix::io::Errno::LOOP) => {
            return Err(StoreError::Invalid(format!(
                "{} is a symbolic link; refusing to follow it",
                path.display()
            )))
        }
        Err(e) => return Err(StoreError::io("open", path, e)),
    };
    check_regular(file, path)
}

/// Opens a message only to read it through once (measuring its size): like
/// [`open_regular`], but in two system calls (open, fstat) instead of three — the
/// `O_NONBLOCK` of the open stays, which reads of a regular file ignore. Gives the file's
/// metadata.
pub(crate) fn open_measured(path: &Path) -> Result<(File, std::fs::Metadata), StoreError> {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let file = match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(fd) => File::from(fd),
        Err(rustix::io::Errno::NOENT) => return Err(StoreError::NotFound),
        Err(rustix::io::Errno::LOOP) => {
            return Err(StoreError::Invalid(format!(
                "{} is a symbolic link; refusing to follow it",
                path.display()
            )))
        }
        Err(e) => return Err(StoreError::io("open", path, e.into())),
    };
    let meta = regular_metadata(&file, path)?;
    Ok((file, meta))
}

/// The metadata of an open file, refusing anything but a regular file.
fn regular_metadata(file: &File, path: &Path) -> Result<std::fs::Metadata, StoreError> {
    let meta = file
        .metadata()
        .map_err(|e| StoreError::io("inspect", path, e))?;
    if !meta.is_file() {
        return Err(StoreError::Invalid(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    Ok(meta)
}

/// [`open_regular`] without waiting for the disk: `Ok(None)` unless every component of
/// `path` is already in the kernel's lookup cache (`openat2` with `RESOLVE_CACHED`), and
/// also for anything [`open_regular`] should explain (a missing file, a symbolic link,
/// a kernel without `openat2`). Gives the file's length too.
pub(crate) fn open_regular_cached(path: &Path) -> Result<Option<(File, u64)>, StoreError> {
    use rustix::fs::{Mode, OFlags, ResolveFlags, CWD};
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    match rustix::fs::openat2(CWD, path, flags, Mode::empty(), ResolveFlags::CACHED) {
        Ok(fd) => check_regular(File::from(fd), path).map(Some),
        Err(_) => Ok(None),
    }
}

/// Refuses anything but a regular file; clears the `O_NONBLOCK` the open used.
fn check_regular(file: File, path: &Path) -> Result<(File, u64), StoreError> {
    let meta = regular_metadata(&file, path)?;
    // O_NONBLOCK was only for the open (a FIFO must not block it); hand out an ordinary
    // blocking file.
    rustix::fs::fcntl_setfl(&file, rustix::fs::OFlags::empty())
        .map_err(|e| StoreError::io("open", path, e.into()))?;
    Ok((file, meta.len()))
}

/// Reads from `file`'s current position into `dst`, only as far as the data is already
/// in the page cache (`preadv2` with `RWF_NOWAIT`): a reader on an event loop can take it
/// without blocking and leave the rest to a blocking thread. Gives the number of bytes
/// read; fewer than `dst.len()` (even 0) means the rest is not cached, or the file ended,
/// or the kernel or file system cannot tell: the caller knows the file's length and
/// decides which.
pub fn read_cached(file: &File, dst: &mut [u8]) -> io::Result<usize> {
    use rustix::io::{Errno, ReadWriteFlags};
    let mut got = 0;
    // Bounded: every turn reads at least one byte or stops.
    while got < dst.len() {
        let mut slice = [io::IoSliceMut::new(&mut dst[got..])];
        match rustix::io::preadv2(file, &mut slice, u64::MAX, ReadWriteFlags::NOWAIT) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(Errno::INTR) => continue,
            Err(Errno::AGAIN | Errno::OPNOTSUPP | Errno::NOSYS | Errno::INVAL) => break,
            Err(e) if got == 0 => return Err(e.into()),
            // What was read stands; the error will come again from the next read.
            Err(_) => break,
        }
    }
    Ok(got)
}
