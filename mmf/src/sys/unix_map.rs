//! The `mmap` range both Unix backends use (`linux/map.rs`, `posix.rs`): made by `mmap`, unmapped
//! on drop, and the range operations whose system calls are the same on every Unix (`msync`,
//! `madvise` with portable advice, `mlock`, `munlock`), each checking its range first.
//!
//! # Safety
//!
//! `msync`, `madvise`, `mlock`, `munlock` and `munmap` are unsafe because they act on memory the
//! compiler does not know about; every call here is on a range checked to lie within a mapping
//! this value owns.
#![allow(unsafe_code)]

use crate::sys::{Error, Result};
use crate::types::Access;
use rustix::fd::BorrowedFd;
use rustix::io::Errno;
use rustix::mm::{self, MapFlags, MsyncFlags, ProtFlags};
use std::ffi::c_void;

/// A mapped range, unmapped on drop.
pub(crate) struct UnixMap {
    ptr: *mut u8,
    len: usize,
}

impl UnixMap {
    /// Maps `len` bytes of `fd` at `offset` with `access`. With `at`, the mapping goes to that
    /// address with `fixed` added to the flags (Linux: `MAP_FIXED_NOREPLACE`; elsewhere nothing,
    /// and the address is only a hint); a mapping that landed elsewhere (the range was taken, or
    /// an old kernel ignored the flag) is undone and refused with `EEXIST`.
    ///
    /// # Safety
    /// `offset + len` lies within the object `fd` refers to, and `fixed` never replaces an
    /// existing mapping (it is not `MAP_FIXED`).
    pub(crate) unsafe fn map(
        fd: BorrowedFd<'_>,
        offset: u64,
        len: usize,
        access: Access,
        at: Option<usize>,
        fixed: MapFlags,
    ) -> Result<UnixMap> {
        let (prot, mut flags) = match access {
            Access::ReadOnly => (ProtFlags::READ, MapFlags::SHARED),
            Access::ReadWrite => (ProtFlags::READ | ProtFlags::WRITE, MapFlags::SHARED),
            Access::CopyOnWrite => (ProtFlags::READ | ProtFlags::WRITE, MapFlags::PRIVATE),
        };
        let hint = match at {
            Some(a) => {
                flags |= fixed;
                a as *mut c_void
            }
            None => std::ptr::null_mut(),
        };
        // SAFETY: a fresh mapping that replaces nothing (no MAP_FIXED: a hint, or
        // FIXED_NOREPLACE, with which the kernel refuses an occupied range), so no existing
        // memory is affected. Range validity is forwarded from the caller.
        let p = unsafe { mm::mmap(hint, len, prot, flags, fd, offset) }?;
        if at.is_some() && p != hint {
            // SAFETY: `p` is the mapping we just made, of `len` bytes, referenced nowhere else.
            let _ = unsafe { mm::munmap(p, len) };
            return Err(Error::os(Errno::EXIST));
        }
        Ok(UnixMap { ptr: p.cast(), len })
    }

    /// The first byte of the mapping.
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// Its length in bytes.
    #[allow(dead_code)] // the POSIX backend does not need it
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The address of `[offset, offset + len)`, which must lie within the mapping.
    pub(crate) fn range(&self, offset: usize, len: usize) -> Result<*mut c_void> {
        crate::sys::span(self.len, offset, len)?;
        Ok(self.ptr.wrapping_add(offset).cast())
    }

    /// Writes back `[offset, offset + len)`; `wait` for `MS_SYNC`.
    pub(crate) fn flush(&self, offset: usize, len: usize, wait: bool) -> Result<()> {
        let p = self.range(offset, len)?;
        if len == 0 {
            return Ok(());
        }
        let flags = if wait {
            MsyncFlags::SYNC
        } else {
            MsyncFlags::ASYNC
        };
        // SAFETY: the range lies within this live mapping (checked above); msync does not change
        // memory contents.
        unsafe { mm::msync(p, len, flags) }.map_err(Error::os)
    }

    /// `madvise(advice)` on `[offset, offset + len)`.
    ///
    /// # Safety
    /// If `advice` can change the memory's contents (`MADV_DONTNEED`, `MADV_REMOVE`), nobody may
    /// hold a reference into the range that assumes they do not change.
    pub(crate) unsafe fn madvise(
        &self,
        offset: usize,
        len: usize,
        advice: mm::Advice,
    ) -> Result<()> {
        let p = self.range(offset, len)?;
        // SAFETY: in range (checked above); a content change is the caller's responsibility.
        unsafe { mm::madvise(p, len, advice) }.map_err(Error::os)
    }

    /// The portable advice, which does not change what the memory holds; `None` for advice this
    /// module does not translate.
    pub(crate) fn portable(advice: crate::types::Advice) -> Option<mm::Advice> {
        use crate::types::Advice;
        match advice {
            Advice::Normal => Some(mm::Advice::Normal),
            Advice::Sequential => Some(mm::Advice::Sequential),
            Advice::Random => Some(mm::Advice::Random),
            Advice::WillNeed => Some(mm::Advice::WillNeed),
            _ => None,
        }
    }

    /// Locks the range in memory (`mlock`).
    pub(crate) fn lock(&self, offset: usize, len: usize) -> Result<()> {
        let p = self.range(offset, len)?;
        // SAFETY: in range (checked above); locking does not change contents.
        unsafe { mm::mlock(p, len) }.map_err(Error::os)
    }

    /// Unlocks the range (`munlock`).
    pub(crate) fn unlock(&self, offset: usize, len: usize) -> Result<()> {
        let p = self.range(offset, len)?;
        // SAFETY: as for `lock`.
        unsafe { mm::munlock(p, len) }.map_err(Error::os)
    }
}

impl Drop for UnixMap {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` describe a mapping this value owns (`from_raw`); every reference into
        // it borrows the View that owns the backend's RawMap, so none outlives it.
        let _ = unsafe { mm::munmap(self.ptr.cast(), self.len) };
    }
}
