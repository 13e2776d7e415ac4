//! Views: a range of a mapping object mapped into this process (`MapViewOfFile`, `mmap`).
//!
//! # Safety
//! A view owns its mapping: the pointer and length it stores describe memory that stays mapped
//! until the view is dropped. Every dereference here is bounds-checked against that length first.
#![allow(unsafe_code)]

use crate::copy;
use crate::mapping::{Mapping, Shared};
use crate::sys;
use crate::{Error, ErrorKind, Result};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::Arc;

/// How a view may touch the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Read only (`FILE_MAP_READ`, `PROT_READ` + `MAP_SHARED`). Sees other writers' changes.
    ReadOnly,
    /// Read and write (`FILE_MAP_WRITE`, `MAP_SHARED`). Writes are seen by every other read-write
    /// or read-only view of the object, in any process, and reach the file.
    ReadWrite,
    /// Copy-on-write (`FILE_MAP_COPY`, `MAP_PRIVATE`): writes stay private to this view and never
    /// reach the object or the file. Pages not yet written may still show other writers' changes
    /// (Linux, and Windows alike).
    CopyOnWrite,
}

/// A mapped range of a [`Mapping`].
///
/// Memory in a view can be changed at any moment by another process, so a view never hands out a
/// safe `&[u8]`. Use [`read_at`](Self::read_at) / [`write_at`](Self::write_at) (copies that are
/// sound under concurrent writers), the atomics from [`atomic_u32`](Self::atomic_u32) and
/// [`atomic_u64`](Self::atomic_u64), raw pointers, or the `unsafe` slice accessors when you can
/// guarantee nobody else writes.
///
/// A view keeps its object alive: dropping the `Mapping` does not unmap it (as in Win32).
///
/// ```
/// # let name = format!("mmf-doc-view-{}", std::process::id());
/// let m = mmf::Mapping::create(&name, 10_000)?;
/// let v = m.map_range(5_000, 100, mmf::Access::ReadWrite)?; // any offset; aligned inside
/// v.write_at(0, b"at 5000")?;
/// let mut back = [0u8; 7];
/// m.map()?.read_at(5_000, &mut back)?;
/// assert_eq!(&back, b"at 5000");
/// # Ok::<(), mmf::Error>(())
/// ```
pub struct View {
    map: Option<sys::RawMap>,
    ptr: NonNull<u8>,
    len: usize,
    /// Offset of `ptr` within `map`.
    delta: usize,
    offset: u64,
    access: Access,
    object: Arc<Shared>,
}

// SAFETY: a View is a handle to memory that is shared with other processes anyway; every safe
// method accesses it with atomics or by copying, so sharing or sending the handle between threads
// adds nothing a concurrent process could not do. Unsafe accessors carry their own contracts.
unsafe impl Send for View {}
// SAFETY: as above.
unsafe impl Sync for View {}

impl std::fmt::Debug for View {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("View")
            .field("object", &self.object.what)
            .field("offset", &self.offset)
            .field("len", &self.len)
            .field("access", &self.access)
            .finish()
    }
}

fn out_of_range(op: &'static str, what: &str, detail: String) -> Error {
    Error::new(ErrorKind::OutOfRange, op, what.to_owned(), detail)
}

impl View {
    pub(crate) fn new(
        m: &Mapping,
        offset: u64,
        len: usize,
        access: Access,
        at: Option<usize>,
    ) -> Result<View> {
        let what = m.describe();
        if access == Access::ReadWrite && !m.is_writable() {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                "map a read-write view of",
                what.to_owned(),
                "the object was opened read-only; open it writable or map it ReadOnly or CopyOnWrite",
            ));
        }
        let size = m.len();
        if offset > size {
            return Err(out_of_range(
                "map a view of",
                what,
                format!(
                    "offset {} is past the end of the object ({} bytes)",
                    offset, size
                ),
            ));
        }
        let len64 = if len == 0 { size - offset } else { len as u64 };
        let end = offset.checked_add(len64).ok_or_else(|| {
            out_of_range(
                "map a view of",
                what,
                format!("offset {} + length {} overflows", offset, len64),
            )
        })?;
        if end > size {
            return Err(out_of_range(
                "map a view of",
                what,
                format!(
                    "offset {} + length {} = {} is past the end of the object ({} bytes)",
                    offset, len64, end, size
                ),
            ));
        }
        let len = usize::try_from(len64).map_err(|_| {
            out_of_range(
                "map a view of",
                what,
                format!(
                    "{} bytes do not fit in this address space; map a smaller range",
                    len64
                ),
            )
        })?;
        let gran = sys::allocation_granularity() as u64;
        let aligned = offset - offset % gran;
        let delta = (offset - aligned) as usize;
        if len == 0 {
            return Ok(View {
                map: None,
                ptr: NonNull::dangling(),
                len: 0,
                delta: 0,
                offset,
                access,
                object: m.shared.clone(),
            });
        }
        let map_len = len.checked_add(delta).ok_or_else(|| {
            out_of_range(
                "map a view of",
                what,
                "the aligned length overflows".to_owned(),
            )
        })?;
        let at = match at {
            Some(a) => {
                // The view's first byte goes at `a`, so the mapping starts `delta` bytes earlier.
                let base = a.checked_sub(delta).filter(|b| *b as u64 % gran == 0);
                match base {
                    Some(b) if b != 0 => Some(b),
                    _ => {
                        return Err(Error::new(
                            ErrorKind::InvalidInput,
                            "map a view of",
                            what.to_owned(),
                            format!(
                                "base address {:#x} must be non-null and lie at the same offset \
                                 from a {}-byte boundary as the view's offset does",
                                a, gran
                            ),
                        ))
                    }
                }
            }
            None => None,
        };
        // SAFETY: `aligned` is a multiple of the granularity, `map_len > 0`, and
        // `aligned + map_len == offset + len <= size` (checked above).
        let raw = unsafe { m.shared.sys.map(aligned, map_len, access, at) }.map_err(|e| {
            let mut err = Error::os("map a view of", what.to_owned(), e);
            if at.is_some() && err.kind() == ErrorKind::AlreadyExists {
                err = Error::new(
                    ErrorKind::AlreadyExists,
                    "map a view of",
                    what.to_owned(),
                    "the requested base address range is already in use; nothing was replaced",
                );
            }
            err
        })?;
        // SAFETY: `delta < map_len`, so the pointer stays inside the mapping, which is non-null.
        let ptr = unsafe { NonNull::new_unchecked(raw.ptr.add(delta)) };
        Ok(View {
            map: Some(raw),
            ptr,
            len,
            delta,
            offset,
            access,
            object: m.shared.clone(),
        })
    }

    /// The view's length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// `true` for a zero-length view (of an empty file).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Where the view starts in the object.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The view's access.
    pub fn access(&self) -> Access {
        self.access
    }

    /// A handle to the object this view maps (keeps it open, like the view itself).
    pub fn mapping(&self) -> Mapping {
        Mapping {
            shared: self.object.clone(),
        }
    }

    /// The first byte of the view. Reading through it races with other processes' writes; use
    /// volatile or atomic access.
    pub fn as_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }

    /// The first byte of the view, for writing. Writing through a `ReadOnly` view faults.
    pub fn as_mut_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    fn check(&self, op: &'static str, offset: usize, len: usize) -> Result<()> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len => Ok(()),
            Some(end) => Err(out_of_range(
                op,
                &self.object.what,
                format!(
                    "range {}..{} is outside the view ({} bytes at object offset {})",
                    offset, end, self.len, self.offset
                ),
            )),
            None => Err(out_of_range(
                op,
                &self.object.what,
                format!("offset {} + length {} overflows", offset, len),
            )),
        }
    }

    fn check_writable(&self, op: &'static str) -> Result<()> {
        if self.access == Access::ReadOnly {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                op,
                self.object.what.clone(),
                "this view is read-only",
            ));
        }
        Ok(())
    }

    /// Copies `buf.len()` bytes at `offset` (relative to the view) into `buf`. Sound while other
    /// processes write: the copy uses atomic loads (it may of course see a write half done; use
    /// a shared value for whole values).
    ///
    /// # Errors
    /// `OutOfRange`.
    pub fn read_at(&self, offset: usize, buf: &mut [u8]) -> Result<()> {
        self.check("read from", offset, buf.len())?;
        // SAFETY: `offset + buf.len() <= self.len`, checked just above; the view is mapped and
        // readable while `self` lives.
        unsafe { copy::copy_out(self.ptr.as_ptr().add(offset), buf) };
        Ok(())
    }

    /// Reads `len` bytes at `offset` into a new vector.
    ///
    /// # Errors
    /// `OutOfRange`.
    pub fn read_vec(&self, offset: usize, len: usize) -> Result<Vec<u8>> {
        self.check("read from", offset, len)?;
        let mut v = vec![0u8; len];
        self.read_at(offset, &mut v)?;
        Ok(v)
    }

    /// Copies `data` into the view at `offset`.
    ///
    /// # Errors
    /// `OutOfRange`; `PermissionDenied` for a read-only view.
    pub fn write_at(&self, offset: usize, data: &[u8]) -> Result<()> {
        self.check_writable("write to")?;
        self.check("write to", offset, data.len())?;
        // SAFETY: in bounds (checked above) and writable (ReadWrite or CopyOnWrite, checked above).
        unsafe { copy::copy_in(self.ptr.as_ptr().add(offset), data) };
        Ok(())
    }

    fn atomic_ptr(&self, op: &'static str, offset: usize, size: usize) -> Result<*mut u8> {
        self.check_writable(op)?;
        self.check(op, offset, size)?;
        // SAFETY: in bounds, checked above.
        let p = unsafe { self.ptr.as_ptr().add(offset) };
        if (p as usize) % size != 0 {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                op,
                self.object.what.clone(),
                format!("offset {} is not {}-byte aligned", offset, size),
            ));
        }
        Ok(p)
    }

    /// An atomic 32-bit word at `offset`, shared with every process that maps the object: the
    /// building block for flags, counters and futex words. Requires a writable view (atomic
    /// read-modify-write operations write).
    ///
    /// # Errors
    /// `OutOfRange`, `InvalidInput` (not 4-byte aligned), `PermissionDenied` (read-only view).
    pub fn atomic_u32(&self, offset: usize) -> Result<&AtomicU32> {
        let p = self.atomic_ptr("use an atomic in", offset, 4)?;
        // SAFETY: aligned, in bounds, writable, and mapped for as long as `&self` lives; atomics
        // may be shared with other processes.
        Ok(unsafe { &*(p as *const AtomicU32) })
    }

    /// An atomic 64-bit word at `offset`; see [`atomic_u32`](Self::atomic_u32).
    ///
    /// # Errors
    /// `OutOfRange`, `InvalidInput` (not 8-byte aligned), `PermissionDenied` (read-only view).
    pub fn atomic_u64(&self, offset: usize) -> Result<&AtomicU64> {
        let p = self.atomic_ptr("use an atomic in", offset, 8)?;
        // SAFETY: as for `atomic_u32`.
        Ok(unsafe { &*(p as *const AtomicU64) })
    }

    /// The view as a byte slice.
    ///
    /// # Safety
    /// For as long as the slice lives, no process may write the bytes it covers: not another
    /// process, not another view, not this view through a pointer. Otherwise the compiler's
    /// assumption that a `&[u8]` does not change is broken, which is undefined behaviour.
    pub unsafe fn as_slice(&self) -> &[u8] {
        // SAFETY: mapped for `self.len` bytes while `self` lives; immutability is the caller's
        // promise.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The view as a mutable byte slice.
    ///
    /// # Safety
    /// For as long as the slice lives, no other process or view may read or write the bytes it
    /// covers. The view must not be `ReadOnly` (writing would fault).
    pub unsafe fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: mapped for `self.len` bytes; exclusivity and writability are the caller's promise.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    fn flush_inner(&self, offset: usize, len: usize, wait: bool) -> Result<()> {
        self.check("flush", offset, len)?;
        let map = match &self.map {
            Some(m) => m,
            None => return Ok(()),
        };
        if self.access == Access::CopyOnWrite {
            // Private pages have nowhere to go.
            return Ok(());
        }
        let page = sys::page_size();
        let start = self.delta + offset;
        let aligned = start - start % page;
        map.flush(aligned, len + (start - aligned), wait)
            .map_err(|e| Error::os("flush", self.object.what.clone(), e))
    }

    /// Writes the view's changes back to the object and waits (`FlushViewOfFile`, `msync(MS_SYNC)`).
    /// For a file this reaches the file's page cache and starts the disk write; use
    /// [`flush_durable`](Self::flush_durable) to wait for the disk.
    ///
    /// # Errors
    /// An I/O error from the file system.
    #[doc(alias = "FlushViewOfFile")]
    #[doc(alias = "msync")]
    pub fn flush(&self) -> Result<()> {
        self.flush_inner(0, self.len, true)
    }

    /// Starts writing the view's changes back without waiting (`MS_ASYNC`).
    ///
    /// # Errors
    /// An I/O error from the file system.
    pub fn flush_async(&self) -> Result<()> {
        self.flush_inner(0, self.len, false)
    }

    /// Writes back `len` bytes at `offset` (relative to the view) and waits.
    ///
    /// # Errors
    /// `OutOfRange`; an I/O error.
    pub fn flush_range(&self, offset: usize, len: usize) -> Result<()> {
        self.flush_inner(offset, len, true)
    }

    /// Flushes and then makes the file's data and metadata durable on disk (`FlushViewOfFile` +
    /// `FlushFileBuffers`, `msync` + `fsync`). For memory-backed objects this is the same as
    /// [`flush`](Self::flush).
    ///
    /// # Errors
    /// An I/O error.
    #[doc(alias = "FlushFileBuffers")]
    pub fn flush_durable(&self) -> Result<()> {
        self.flush()?;
        if self.object.backing == crate::Backing::File {
            self.object
                .sys
                .sync_file()
                .map_err(|e| Error::os("flush", self.object.what.clone(), e))?;
        }
        Ok(())
    }
}
