//! Mapping an object (`mmap`) and the mapped range, `RawMap`: flush, advice, prefault, locking,
//! and the `SIGBUS` guards of `fault.rs`.
//!
//! # Safety
//!
//! See `linux/mod.rs`: each unsafe call states the invariant it relies on.

#![allow(unsafe_code)]

use super::{ioerr, Object};
use crate::types::{Access, Advice, UncheckedAdvice};
use rustix::fd::AsFd;
use rustix::io::Errno;
use rustix::mm::{self, MapFlags, MsyncFlags, ProtFlags};
use std::ffi::c_void;
use std::io;

impl Object {
    /// Maps `len` bytes at `offset`.
    ///
    /// # Safety
    /// `offset` is a multiple of the allocation granularity, `len > 0`, and `offset + len` lies
    /// within the object. With `at`, the range is mapped only if nothing is mapped there already.
    pub(crate) unsafe fn map(
        &self,
        offset: u64,
        len: usize,
        access: Access,
        at: Option<usize>,
    ) -> io::Result<RawMap> {
        let (prot, mut flags) = match access {
            Access::ReadOnly => (ProtFlags::READ, MapFlags::SHARED),
            Access::ReadWrite => (ProtFlags::READ | ProtFlags::WRITE, MapFlags::SHARED),
            Access::CopyOnWrite => (ProtFlags::READ | ProtFlags::WRITE, MapFlags::PRIVATE),
        };
        let hint = match at {
            Some(a) => {
                flags |= MapFlags::FIXED_NOREPLACE;
                a as *mut c_void
            }
            None => std::ptr::null_mut(),
        };
        // SAFETY: a fresh mapping; with FIXED_NOREPLACE the kernel refuses to replace anything
        // already mapped, so no existing memory is affected. Range validity is forwarded from the
        // caller.
        let p = unsafe { mm::mmap(hint, len, prot, flags, &self.fd, offset) }.map_err(ioerr)?;
        if at.is_some() && p != hint {
            // A kernel older than 4.17 ignores FIXED_NOREPLACE and treats the address as a hint.
            // SAFETY: `p` is the mapping we just made, of `len` bytes, referenced nowhere else.
            let _ = unsafe { mm::munmap(p, len) };
            return Err(io::Error::from_raw_os_error(Errno::EXIST.raw_os_error()));
        }
        Ok(RawMap {
            ptr: p.cast(),
            len,
            offset,
            access,
        })
    }
}

/// A mapped range, unmapped on drop.
pub(crate) struct RawMap {
    ptr: *mut u8,
    len: usize,
    /// The object offset it maps and how (to map a page back after a fault; see `fault.rs`).
    offset: u64,
    access: Access,
}

impl RawMap {
    /// The first byte of the mapping.
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// Runs `f`, which accesses `len` bytes at `offset` of this mapping of `object`, catching
    /// `SIGBUS` there (see `fault.rs`). At most `MAX_GUARD_PAGES` pages, inside the mapping.
    pub(crate) fn guard<R>(
        &self,
        object: &Object,
        offset: usize,
        len: usize,
        f: impl FnOnce() -> R,
    ) -> std::result::Result<R, crate::sys::Fault> {
        super::fault::guarded(&self.target(object), offset, len, f)
    }

    #[inline]
    fn target<'a>(&self, object: &'a Object) -> super::fault::Target<'a> {
        super::fault::Target {
            fd: object.fd.as_fd(),
            base: self.ptr,
            len: self.len,
            file_offset: self.offset,
            writable: self.access != Access::ReadOnly,
            private: self.access == Access::CopyOnWrite,
        }
    }

    /// Calls `f(position, length)` for pieces of `len` bytes at `offset` of this mapping, each
    /// under its own guard (see `fault.rs`); stops at the first piece that faulted.
    pub(crate) fn guard_each(
        &self,
        object: &Object,
        offset: usize,
        len: usize,
        f: impl FnMut(usize, usize),
    ) -> std::result::Result<(), crate::sys::Fault> {
        super::fault::guarded_each(&self.target(object), offset, len, f)
    }
}

impl RawMap {
    /// Writes back `[offset, offset + len)` of this mapping; `wait` for `MS_SYNC`.
    /// `offset` must be page-aligned and the range within the mapping (checked by the caller).
    pub(crate) fn flush(&self, offset: usize, len: usize, wait: bool) -> io::Result<()> {
        crate::sys::span(self.len, offset, len)?;
        if len == 0 {
            return Ok(());
        }
        let flags = if wait {
            MsyncFlags::SYNC
        } else {
            MsyncFlags::ASYNC
        };
        // SAFETY: the range lies within this live mapping (caller-checked); msync does not change
        // memory contents.
        unsafe { mm::msync(self.ptr.add(offset).cast(), len, flags) }.map_err(ioerr)
    }
}

impl RawMap {
    /// The address `offset` bytes into the mapping (no dereference; callers check bounds).
    fn range(&self, offset: usize) -> *mut c_void {
        self.ptr.wrapping_add(offset).cast()
    }

    /// `madvise` with advice that does not change memory contents.
    pub(crate) fn advise(&self, offset: usize, len: usize, advice: Advice) -> io::Result<()> {
        crate::sys::span(self.len, offset, len)?;
        use rustix::mm::Advice as M;
        let advice = match advice {
            Advice::Normal => M::Normal,
            Advice::Sequential => M::Sequential,
            Advice::Random => M::Random,
            Advice::WillNeed => M::WillNeed,
            Advice::HugePage => M::LinuxHugepage,
            Advice::NoHugePage => M::LinuxNoHugepage,
        };
        // SAFETY: the range lies within this live mapping (caller-checked) and this advice does
        // not change what the memory holds.
        unsafe { mm::madvise(self.range(offset), len, advice) }.map_err(ioerr)
    }

    /// `madvise` with advice that may discard contents.
    ///
    /// # Safety
    /// Nobody may hold a reference into the range that assumes its contents do not change.
    pub(crate) unsafe fn advise_unchecked(
        &self,
        offset: usize,
        len: usize,
        advice: UncheckedAdvice,
    ) -> io::Result<()> {
        crate::sys::span(self.len, offset, len)?;
        use rustix::mm::Advice as M;
        let advice = match advice {
            UncheckedAdvice::DontNeed => M::LinuxDontNeed,
            UncheckedAdvice::Remove => M::LinuxRemove,
        };
        // SAFETY: in range (caller-checked); the content change is the caller's responsibility.
        unsafe { mm::madvise(self.range(offset), len, advice) }.map_err(ioerr)
    }

    /// Prefaults the range (`MADV_POPULATE_READ`/`_WRITE`, Linux 5.14): an error, not a signal,
    /// if memory cannot be provided.
    pub(crate) fn populate(&self, offset: usize, len: usize, write: bool) -> io::Result<()> {
        crate::sys::span(self.len, offset, len)?;
        use rustix::mm::Advice;
        let advice = if write {
            Advice::LinuxPopulateWrite
        } else {
            Advice::LinuxPopulateRead
        };
        // SAFETY: in range (caller-checked); populating does not change contents (write-populate
        // only makes pages writable-present, as a write of the same bytes would).
        match unsafe { mm::madvise(self.range(offset), len, advice) } {
            Ok(()) => Ok(()),
            // EFAULT: the backing store could not provide a page (a full tmpfs, say).
            Err(e) if e == Errno::FAULT => {
                Err(io::Error::from_raw_os_error(Errno::NOSPC.raw_os_error()))
            }
            Err(e) if e == Errno::INVAL => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "prefaulting needs Linux 5.14 (MADV_POPULATE_READ/WRITE)",
            )),
            Err(e) => Err(ioerr(e)),
        }
    }

    /// Locks the range in memory (`mlock`).
    pub(crate) fn lock(&self, offset: usize, len: usize) -> io::Result<()> {
        crate::sys::span(self.len, offset, len)?;
        // SAFETY: in range (caller-checked); locking does not change contents.
        unsafe { mm::mlock(self.range(offset), len) }.map_err(ioerr)
    }

    /// Unlocks the range (`munlock`).
    pub(crate) fn unlock(&self, offset: usize, len: usize) -> io::Result<()> {
        crate::sys::span(self.len, offset, len)?;
        // SAFETY: as for `lock`.
        unsafe { mm::munlock(self.range(offset), len) }.map_err(ioerr)
    }
}

impl Drop for RawMap {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` describe a mapping this RawMap made and owns; every reference into it
        // borrows the View that owns this RawMap, so none outlives it.
        let _ = unsafe { mm::munmap(self.ptr.cast(), self.len) };
    }
}
