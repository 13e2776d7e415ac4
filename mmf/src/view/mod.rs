//! Views: a range of a mapping object mapped into this process (`MapViewOfFile`, `mmap`).
//!
//! # Safety
//! A view owns its mapping: the pointer and length it stores describe memory that stays mapped
//! until the view is dropped. Every dereference here is bounds-checked against that length first.
#![allow(unsafe_code)]

mod chunks;
mod cursor;
mod options;

pub use chunks::Chunks;
pub use cursor::Cursor;
pub use options::ViewOptions;

use crate::copy;
use crate::mapping::{Mapping, OpenObject};
use crate::sys;
use crate::sys::contract::*;
use crate::types::{Access, Advice, UncheckedAdvice};
use crate::{Error, ErrorKind, Offset, Pod, Result};

use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::Arc;

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
/// If another process truncates the object under the view, or the object is sparse and its file
/// system cannot provide a page, the copying methods return [`ErrorKind::Truncated`] or
/// [`ErrorKind::OutOfSpace`] instead of letting the kernel's `SIGBUS` kill the process (Linux; see
/// [`read_at`](Self::read_at)). Accesses through raw pointers, the atomics and the `unsafe` slices
/// are not guarded: there, such a page still raises `SIGBUS`.
///
/// ```
/// fn main() -> Result<(), mmf::Error> {
///     let name = format!("mmf-doc-view-{}", std::process::id());
///     let m = mmf::Mapping::create(&name, 10_000)?;
///     let v = m.map_range(5_000, 100, mmf::Access::ReadWrite)?; // any offset; aligned inside
///     v.write_at(0, b"at 5000")?;
///     let mut back = [0u8; 7];
///     m.map()?.read_at(5_000, &mut back)?;
///     assert_eq!(&back, b"at 5000");
///     Ok(())
/// }
/// ```
#[must_use = "dropping a view unmaps it"]
pub struct View {
    map: Option<sys::RawMap>,
    ptr: NonNull<u8>,
    len: usize,
    /// Offset of `ptr` within `map`.
    delta: usize,
    offset: u64,
    access: Access,
    object: Arc<OpenObject>,
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
                object: m.object.clone(),
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
        let raw = unsafe { m.object.sys.map(aligned, map_len, access, at) }.map_err(|e| {
            let mut err = e.context("map a view of", what.to_owned());
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
        let ptr = unsafe { NonNull::new_unchecked(raw.as_ptr().add(delta)) };
        Ok(View {
            map: Some(raw),
            ptr,
            len,
            delta,
            offset,
            access,
            object: m.object.clone(),
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
            object: self.object.clone(),
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

    /// The error for a guarded access that faulted.
    fn fault_error(&self, op: &'static str, offset: usize, len: usize, f: sys::Fault) -> Error {
        let from = self.offset + offset as u64;
        let to = from + len as u64;
        if f.truncated {
            let size = f.size.map_or_else(|| "fewer".to_owned(), |s| s.to_string());
            Error::new(
                ErrorKind::Truncated,
                op,
                self.object.what.clone(),
                format!(
                    "the object shrank under this view: it has {} bytes now, and bytes {}..{} \
                     were accessed (the page at offset {} is gone)",
                    size, from, to, f.offset
                ),
            )
        } else {
            Error::new(
                ErrorKind::OutOfSpace,
                op,
                self.object.what.clone(),
                format!(
                    "the page at object offset {} could not be provided: the file system holding \
                     the object is full (a sparse object?); bytes {}..{} were accessed",
                    f.offset, from, to
                ),
            )
        }
    }

    /// Runs `f`, which accesses `len` bytes at `offset` of the view (at most 16 pages, inside the
    /// view: checked by the caller), so that a page the
    /// object cannot provide any more is an error instead of a `SIGBUS` (see `sys/linux/fault.rs`).
    /// Guards nest.
    pub(crate) fn guarded<R>(
        &self,
        op: &'static str,
        offset: usize,
        len: usize,
        f: impl FnOnce() -> R,
    ) -> Result<R> {
        match &self.map {
            Some(map) => map
                .guard(&self.object.sys, self.delta + offset, len, f)
                .map_err(|fault| self.fault_error(op, offset, len, fault)),
            None => Ok(f()),
        }
    }

    /// Calls `f(position, length)` for consecutive pieces of `[offset, offset + len)` of the
    /// view (positions relative to the view), each under its own guard covering a few pages
    /// (`sys::RawMap::guard_each`); stops at the first piece that faulted. The range is inside
    /// the view (checked by the caller).
    fn chunked(
        &self,
        op: &'static str,
        offset: usize,
        len: usize,
        mut f: impl FnMut(usize, usize),
    ) -> Result<()> {
        let delta = self.delta;
        match &self.map {
            Some(map) => map
                .guard_each(&self.object.sys, delta + offset, len, |pos, n| {
                    f(pos - delta, n)
                })
                .map_err(|fault| self.fault_error(op, offset, len, fault)),
            // An empty view: `len` is 0 (checked by the caller).
            None => Ok(()),
        }
    }

    /// A [`Cursor`] over the view, for `std::io::{Read, Write, Seek}`.
    pub fn cursor(&self) -> Cursor<'_> {
        Cursor::new(self)
    }

    /// Copies `buf.len()` bytes at `offset` (relative to the view) into `buf`. Sound while other
    /// processes write: the copy uses atomic loads (it may of course see a write half done; use
    /// a shared value for whole values).
    ///
    /// If the object shrinks under the view (another process truncates it) or its file system
    /// cannot provide a page (a sparse object on a full tmpfs), the read fails with an error
    /// instead of the `SIGBUS` that would kill the process; the view stays usable, and reads the
    /// object again if it grows back. `buf` may then hold zeros for the missing part.
    ///
    /// # Errors
    /// `OutOfRange`; `Truncated` when the bytes now lie past the object's end; `OutOfSpace` when
    /// the object's file system could not provide a page.
    pub fn read_at(&self, offset: usize, buf: &mut [u8]) -> Result<()> {
        self.check("read from", offset, buf.len())?;
        let whole = buf.len();
        let src = self.ptr.as_ptr();
        let dst = buf.as_mut_ptr();
        self.chunked("read from", offset, whole, |pos, n| {
            // SAFETY: `offset <= pos` and `pos + n <= offset + buf.len() <= self.len` (checked
            // above, pieces from `chunked`): the source is mapped and readable while `self` lives
            // (a page that vanishes meanwhile is replaced by zeros under the guard), and the
            // destination is `n` bytes of `buf` at `pos - offset`.
            unsafe { copy::copy_out_part(src.add(pos), dst.add(pos - offset), n, whole) }
        })
    }

    /// Reads `len` bytes at `offset` into a new vector.
    ///
    /// # Errors
    /// As for [`read_at`](Self::read_at).
    pub fn read_vec(&self, offset: usize, len: usize) -> Result<Vec<u8>> {
        self.check("read from", offset, len)?;
        let mut v = vec![0u8; len];
        self.read_at(offset, &mut v)?;
        Ok(v)
    }

    /// Copies `data` into the view at `offset`.
    ///
    /// As for [`read_at`](Self::read_at), an object that shrank under the view or a full file
    /// system is an error, not a `SIGBUS`; bytes written past the object's new end are lost, and
    /// once the object grows back, writes reach it again.
    ///
    /// # Errors
    /// `OutOfRange`; `PermissionDenied` for a read-only view; `Truncated` when the bytes now lie
    /// past the object's end; `OutOfSpace` when the object's file system could not provide a page.
    pub fn write_at(&self, offset: usize, data: &[u8]) -> Result<()> {
        self.check_writable("write to")?;
        self.check("write to", offset, data.len())?;
        let dst = self.ptr.as_ptr();
        self.chunked("write to", offset, data.len(), |pos, n| {
            // SAFETY: in bounds (checked above; pieces from `chunked`) and writable (ReadWrite or
            // CopyOnWrite, checked above); the source is `n` bytes of `data` at `pos - offset`.
            unsafe { copy::copy_in(dst.add(pos), &data[pos - offset..pos - offset + n]) }
        })
    }

    /// Copies `len` bytes from `src` into the view at `offset`: [`write_at`](Self::write_at) for
    /// a source that is not a private slice, such as another mapping or a buffer another language
    /// lends (a Python `memoryview`). Every access to both sides is atomic, so the source may
    /// change while it is copied (another thread or process writes it, or it overlaps the view):
    /// the bytes written are then a mix, never undefined behaviour.
    ///
    /// ```
    /// use mmf::Mapping;
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let from = Mapping::anonymous(4096)?.map_mut()?;
    ///     from.write_at(0, b"shared bytes")?;
    ///     let to = Mapping::anonymous(4096)?.map_mut()?;
    ///     // SAFETY: `from` maps 4,096 readable bytes and lives until after the call.
    ///     unsafe { to.write_raw(100, from.as_ptr(), 12) }?;
    ///     assert_eq!(to.read_vec(100, 12)?, b"shared bytes");
    ///     Ok(())
    /// }
    /// ```
    ///
    /// # Safety
    /// `src .. src + len` must be readable for the whole call (mapped, and not freed or unmapped
    /// by another thread meanwhile). Nothing else is required of it: it may be written
    /// concurrently, by anyone.
    ///
    /// # Errors
    /// As for [`write_at`](Self::write_at).
    pub unsafe fn write_raw(&self, offset: usize, src: *const u8, len: usize) -> Result<()> {
        self.check_writable("write to")?;
        self.check("write to", offset, len)?;
        let dst = self.ptr.as_ptr();
        self.chunked("write to", offset, len, |pos, n| {
            // SAFETY: the destination is in bounds (checked above; pieces from `chunked`) and
            // writable (checked above); the source is `n` of the `len` bytes the caller vouches
            // for, at `pos - offset`; both sides are accessed atomically.
            unsafe { copy::copy_shared(dst.add(pos), src.add(pos - offset), n, len) }
        })
    }

    /// Copies `len` bytes of the view at `offset` to `dst`: [`read_at`](Self::read_at) for a
    /// destination that is not a private slice (a buffer another language lends, which others
    /// may read or write meanwhile). Every access to both sides is atomic.
    ///
    /// # Safety
    /// `dst .. dst + len` must be writable for the whole call (mapped, and not freed or unmapped
    /// by another thread meanwhile). Others may access it concurrently: they see some mix of its
    /// old and new bytes.
    ///
    /// # Errors
    /// As for [`read_at`](Self::read_at).
    pub unsafe fn read_raw(&self, offset: usize, dst: *mut u8, len: usize) -> Result<()> {
        self.check("read from", offset, len)?;
        let src = self.ptr.as_ptr();
        self.chunked("read from", offset, len, |pos, n| {
            // SAFETY: the source is in bounds (checked above; pieces from `chunked`) and mapped;
            // the destination is `n` of the `len` writable bytes the caller vouches for, at
            // `pos - offset`; both sides are accessed atomically.
            unsafe { copy::copy_shared(dst.add(pos - offset), src.add(pos), n, len) }
        })
    }

    /// Copies a `T` out of the view at byte `offset` (relative to the view). Sound while other
    /// processes write (atomic copy); any bit pattern is a valid `T` by the [`Pod`] contract.
    ///
    /// # Errors
    /// `OutOfRange`; `Truncated`, `OutOfSpace` as for [`read_at`](Self::read_at).
    pub fn read_pod<T: Pod>(&self, offset: usize) -> Result<T> {
        let size = std::mem::size_of::<T>();
        self.check("read from", offset, size)?;
        let mut value = std::mem::MaybeUninit::<T>::uninit();
        let src = self.ptr.as_ptr();
        let dst = value.as_mut_ptr() as *mut u8;
        self.chunked("read from", offset, size, |pos, n| {
            // SAFETY: `offset + size <= self.len` (checked above; pieces from `chunked`), so the
            // source is mapped and readable; the destination is `n` of the `size` writable
            // private bytes of `value`, at `pos - offset`.
            unsafe { copy::copy_out_part(src.add(pos), dst.add(pos - offset), n, size) }
        })?;
        // SAFETY: `chunked` returned Ok, so every piece was copied: all `size` bytes of `value`
        // are written, and any bit pattern is a valid `T` (the `Pod` contract).
        Ok(unsafe { value.assume_init() })
    }

    /// Copies `value` into the view at byte `offset` (relative to the view).
    ///
    /// # Errors
    /// `OutOfRange`; `PermissionDenied` for a read-only view; `Truncated`, `OutOfSpace` as for
    /// [`write_at`](Self::write_at).
    pub fn write_pod<T: Pod>(&self, offset: usize, value: &T) -> Result<()> {
        // SAFETY: T is Pod, so it has no padding: all size_of::<T>() bytes are initialised.
        let bytes = unsafe {
            std::slice::from_raw_parts(value as *const T as *const u8, std::mem::size_of::<T>())
        };
        self.write_at(offset, bytes)
    }

    fn offset_in_view<T>(&self, op: &'static str, at: Offset<T>) -> Result<usize> {
        let rel = at.get().checked_sub(self.offset).filter(|_| !at.is_null());
        let rel = match rel.and_then(|r| usize::try_from(r).ok()) {
            Some(r) => r,
            None => {
                return Err(out_of_range(
                    op,
                    &self.object.what,
                    format!(
                        "offset {} is null or before this view (which starts at object offset {})",
                        at.get(),
                        self.offset
                    ),
                ))
            }
        };
        self.check(op, rel, std::mem::size_of::<T>())?;
        if (self.ptr.as_ptr() as usize).wrapping_add(rel) % std::mem::align_of::<T>() != 0 {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                op,
                self.object.what.clone(),
                format!(
                    "offset {} is not aligned for its type ({} bytes)",
                    at.get(),
                    std::mem::align_of::<T>()
                ),
            ));
        }
        Ok(rel)
    }

    /// Follows an [`Offset`] (relative to the object's start): copies the `T` it designates out
    /// of this view. A corrupt offset (null, outside the view, misaligned) is an error.
    ///
    /// # Errors
    /// `OutOfRange`, `InvalidInput` (misaligned); `Truncated`, `OutOfSpace` as for
    /// [`read_at`](Self::read_at).
    pub fn load<T: Pod>(&self, at: Offset<T>) -> Result<T> {
        let rel = self.offset_in_view("follow an offset in", at)?;
        self.read_pod(rel)
    }

    /// Writes `value` where `at` (relative to the object's start) designates.
    ///
    /// # Errors
    /// `OutOfRange`, `InvalidInput` (misaligned), `PermissionDenied` (read-only view);
    /// `Truncated`, `OutOfSpace` as for [`write_at`](Self::write_at).
    pub fn store<T: Pod>(&self, at: Offset<T>, value: &T) -> Result<()> {
        let rel = self.offset_in_view("store through an offset in", at)?;
        self.write_pod(rel, value)
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
    /// read-modify-write operations write). Accesses through the reference are not guarded: if
    /// the object is truncated under the view, they raise `SIGBUS` (see [`View`]).
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

    /// The page-aligned range of the underlying mapping that covers `[offset, offset + len)` of the
    /// view, or `None` for an empty view.
    fn pages(
        &self,
        op: &'static str,
        offset: usize,
        len: usize,
    ) -> Result<Option<(&sys::RawMap, usize, usize)>> {
        self.check(op, offset, len)?;
        let map = match &self.map {
            Some(m) if len > 0 => m,
            _ => return Ok(None),
        };
        let page = sys::page_size();
        let start = self.delta + offset;
        let aligned = start - start % page;
        Ok(Some((map, aligned, len + (start - aligned))))
    }

    fn os_err(&self, op: &'static str, e: sys::Error) -> Error {
        e.context(op, self.object.what.clone())
    }

    /// Gives the OS advice about how the whole view will be used.
    ///
    /// # Errors
    /// `Unsupported` or an OS error if the system rejects the advice (for example `HugePage`
    /// where transparent huge pages are compiled out).
    #[doc(alias = "madvise")]
    pub fn advise(&self, advice: Advice) -> Result<()> {
        self.advise_range(0, self.len, advice)
    }

    /// Advice for `len` bytes at `offset` of the view.
    ///
    /// # Errors
    /// `OutOfRange`; as for [`advise`](Self::advise).
    pub fn advise_range(&self, offset: usize, len: usize, advice: Advice) -> Result<()> {
        match self.pages("advise", offset, len)? {
            Some((map, start, n)) => map
                .advise(start, n, advice)
                .map_err(|e| self.os_err("advise", e)),
            None => Ok(()),
        }
    }

    /// Advice that may change the memory's contents, for `len` bytes at `offset`.
    ///
    /// # Safety
    /// No reference obtained from [`as_slice`](Self::as_slice) or [`as_mut_slice`](Self::as_mut_slice)
    /// of any view of these bytes may be alive: their contents change underneath (to the object's
    /// current contents, or to zeros for `Remove`).
    ///
    /// # Errors
    /// `OutOfRange`; an OS error (`Remove` needs a read-write shared view).
    pub unsafe fn advise_unchecked(
        &self,
        advice: UncheckedAdvice,
        offset: usize,
        len: usize,
    ) -> Result<()> {
        match self.pages("advise", offset, len)? {
            // SAFETY: range checked by `pages`; the content change is the caller's promise.
            Some((map, start, n)) => unsafe { map.advise_unchecked(start, n, advice) }
                .map_err(|e| self.os_err("advise", e)),
            None => Ok(()),
        }
    }

    /// Faults every page of the view in now (for writing, if the view is writable). A backing
    /// store that cannot provide the memory is an `OutOfSpace` error here, never a `SIGBUS` later.
    ///
    /// # Errors
    /// `OutOfSpace`; `Unsupported` before Linux 5.14.
    #[doc(alias = "MADV_POPULATE_WRITE")]
    #[doc(alias = "PrefetchVirtualMemory")]
    pub fn populate(&self) -> Result<()> {
        // A shared view's faults allocate the object's holes; a copy-on-write view's writes
        // allocate private copies, which the object's commit limit does not see.
        if self.access != Access::CopyOnWrite {
            if let Some(short) = self.object.sys.shortage(self.offset, self.len as u64) {
                return Err(sys::shortage_error(
                    "prefault",
                    self.object.what.clone(),
                    &short,
                ));
            }
        }
        match self.pages("prefault", 0, self.len)? {
            Some((map, start, n)) => map
                .populate(start, n, self.access != Access::ReadOnly)
                .map_err(|e| self.os_err("prefault", e)),
            None => Ok(()),
        }
    }

    /// Faults the pages of `len` bytes at `offset` in at once (for writing, if the view is
    /// writable): one system call instead of a fault per page, for a caller about to fill them.
    /// Best effort, without the shortage check of [`populate`](Self::populate): a page that
    /// cannot be provided is an error of the copy that follows (guarded), never a `SIGBUS`.
    pub(crate) fn prefault_range(&self, offset: usize, len: usize) {
        if let Ok(Some((map, start, n))) = self.pages("prefault", offset, len) {
            let _ = map.populate(start, n, self.access != Access::ReadOnly);
        }
    }

    /// Locks the view's pages in memory (`mlock`, `VirtualLock`), so they are never paged out.
    ///
    /// # Errors
    /// `OutOfSpace` or `PermissionDenied` when the locked-memory limit (`ulimit -l`) is reached.
    #[doc(alias = "mlock")]
    #[doc(alias = "VirtualLock")]
    pub fn lock(&self) -> Result<()> {
        match self.pages("lock", 0, self.len)? {
            Some((map, start, n)) => map.lock(start, n).map_err(|e| self.os_err("lock", e)),
            None => Ok(()),
        }
    }

    /// Undoes [`lock`](Self::lock).
    ///
    /// # Errors
    /// An OS error.
    pub fn unlock(&self) -> Result<()> {
        match self.pages("unlock", 0, self.len)? {
            Some((map, start, n)) => map.unlock(start, n).map_err(|e| self.os_err("unlock", e)),
            None => Ok(()),
        }
    }

    /// Commits `len` bytes at `offset` of the view: the object's memory (or disk blocks) for them
    /// is allocated now, so a shortage is `OutOfSpace` here and not a `SIGBUS` at first touch. This
    /// is the commit step of reserve-then-commit (`SEC_RESERVE` + `MEM_COMMIT`): create the object
    /// with [`Commit::Reserve`](crate::Commit::Reserve), then commit pieces.
    ///
    /// # Errors
    /// `OutOfRange`, `PermissionDenied` (read-only view), `OutOfSpace`, `Unsupported` (the
    /// filesystem cannot reserve space).
    #[doc(alias = "MEM_COMMIT")]
    #[doc(alias = "fallocate")]
    pub fn commit(&self, offset: usize, len: usize) -> Result<()> {
        self.check_writable("commit memory of")?;
        self.check("commit memory of", offset, len)?;
        if let Some(short) = self
            .object
            .sys
            .shortage(self.offset + offset as u64, len as u64)
        {
            return Err(sys::shortage_error(
                "commit memory of",
                self.object.what.clone(),
                &short,
            ));
        }
        self.object
            .sys
            .commit_range(self.offset + offset as u64, len as u64)
            .map_err(|e| self.os_err("commit memory of", e))
    }

    /// Decommits `len` bytes at `offset` of the view: the object's memory (or disk blocks) for them
    /// is freed and the range reads as zeros in every process afterwards (`fallocate` hole
    /// punching; on Windows `SEC_RESERVE` memory cannot be decommitted and this is `Unsupported`).
    /// `offset` and `len` must be whole pages of the object.
    ///
    /// # Errors
    /// `OutOfRange`, `InvalidInput` (not page-aligned), `PermissionDenied`, `Unsupported`.
    #[doc(alias = "MEM_DECOMMIT")]
    pub fn decommit(&self, offset: usize, len: usize) -> Result<()> {
        self.check_writable("decommit memory of")?;
        self.check("decommit memory of", offset, len)?;
        let page = sys::page_size() as u64;
        let start = self.offset + offset as u64;
        if start % page != 0 || len as u64 % page != 0 {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "decommit memory of",
                self.object.what.clone(),
                format!(
                    "object offset {} and length {} must be multiples of the page size {}",
                    start, len, page
                ),
            ));
        }
        self.object
            .sys
            .decommit_range(start, len as u64)
            .map_err(|e| self.os_err("decommit memory of", e))
    }

    fn flush_inner(&self, offset: usize, len: usize, wait: bool) -> Result<()> {
        if self.access == Access::CopyOnWrite {
            // Private pages have nowhere to go; the range is still checked.
            return self.check("flush", offset, len);
        }
        match self.pages("flush", offset, len)? {
            Some((map, start, n)) => map
                .flush(start, n, wait)
                .map_err(|e| self.os_err("flush", e)),
            None => Ok(()),
        }
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
                .map_err(|e| e.context("flush", self.object.what.clone()))?;
        }
        Ok(())
    }
}
