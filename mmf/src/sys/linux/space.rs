//! Backing store: committing and releasing it (`fallocate`), and the commit limit checks around
//! it (`commit_limit.rs`).

use super::Object;
use crate::sys::contract::CommitOps;
use crate::sys::{Error, Result};
use rustix::fd::{AsFd, BorrowedFd};
use rustix::fs::{self as rfs};
use rustix::io::Errno;

/// Reserves backing store for `[offset, offset + len)`, so later writes cannot fault for lack of
/// space. Filesystems that cannot preallocate are left as they are.
pub(super) fn commit(fd: BorrowedFd<'_>, offset: u64, len: u64) -> std::result::Result<(), Errno> {
    match rfs::fallocate(fd, rfs::FallocateFlags::empty(), offset, len) {
        Ok(()) => Ok(()),
        Err(e) if e == Errno::OPNOTSUPP || e == Errno::NOSYS => Ok(()),
        Err(e) => Err(e),
    }
}

impl CommitOps for Object {
    /// What stops `len` more bytes at `offset` from being backed (the commit limit, see
    /// `commit_limit.rs`); `None` if they fit or nothing can be measured. Only holes count.
    fn shortage(&self, offset: u64, len: u64) -> Option<crate::sys::Shortage> {
        super::commit_limit::shortage(self.fd.as_fd(), offset, len)
    }

    /// Whether growing commits memory or disk blocks (`fallocate`), so the commit limit applies.
    fn commits_on_grow(&self) -> bool {
        self.commit
    }

    /// Backs `[offset, offset + len)` with memory or disk blocks now (`fallocate`).
    fn commit_range(&self, offset: u64, len: u64) -> Result<()> {
        match rfs::fallocate(&self.fd, rfs::FallocateFlags::KEEP_SIZE, offset, len) {
            Ok(()) => Ok(()),
            Err(e) if e == Errno::OPNOTSUPP => Err(Error::unsupported(
                "this filesystem cannot reserve space in advance (no fallocate)",
            )),
            Err(e) => Err(Error::os(e)),
        }
    }

    /// Releases the backing of `[offset, offset + len)`; the range reads as zeros afterwards
    /// (`fallocate(PUNCH_HOLE)`).
    fn decommit_range(&self, offset: u64, len: u64) -> Result<()> {
        let flags = rfs::FallocateFlags::PUNCH_HOLE | rfs::FallocateFlags::KEEP_SIZE;
        match rfs::fallocate(&self.fd, flags, offset, len) {
            Ok(()) => Ok(()),
            Err(e) if e == Errno::OPNOTSUPP => Err(Error::unsupported(
                "this filesystem cannot release space (no hole punching)",
            )),
            Err(e) => Err(Error::os(e)),
        }
    }
}
