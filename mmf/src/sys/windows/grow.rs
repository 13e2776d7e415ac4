//! Named sections that grow: a reserved section whose last page records the object's size.
//!
//! Windows sections have a fixed size (`NtExtendSection` works only on file-backed sections, and
//! Wine does not implement it). A growable object (`CreateSpec::growable`, what shared values ask
//! for) is therefore created as a `SEC_RESERVE` section of a *maximum* size: its address range is
//! reserved, and only the pages views map are committed (`map.rs`). Its last page, the trailer,
//! holds a magic word and the object's current size; the object's size is that size, for every
//! handle, and growing is one atomic `fetch_max` on it, within the maximum.
//!
//! - **One section, one memory.** Every process maps the same section, so there is no copy, no
//!   successor to follow and no moment when two copies differ: a view made before a growth stays
//!   valid and coherent, and readers pinning old data are never disturbed. A process sees the new
//!   bytes by mapping again (the value layer does when it finds a region past its view).
//! - **Lifetime.** Still the section's own: the name and the memory go with the last handle, as
//!   for any Windows named object; there is nothing else to clean up.
//! - **Killed mid-growth.** A growth is a single atomic store, so a process killed at any moment
//!   leaves either the old size or the new one, and both are usable.
//! - **The maximum.** [`maximum`]: at least [`RESERVE`] (1 GiB), or the size asked for if that is
//!   larger, rounded up to the allocation granularity, plus the trailer page. The trailer page is
//!   the only page of the tail that is committed. Past the maximum, `grow` is `OutOfSpace`, with
//!   the maximum named. (On Windows, reserving costs page-table space for the whole maximum, about
//!   2 MiB per GiB, but no memory or page-file charge until pages are committed.)
//! - **Recognising one.** Such a section has `SEC_RESERVE` and a size of a whole number of
//!   allocation-granularity units plus exactly one page (`is_growable_size`); an opener then maps
//!   the trailer and checks the magic. A section created by another program with that shape but
//!   without the magic stays a plain fixed-size section (its last page is committed by the check).
//!
//! # Safety
//!
//! The trailer is a view this module maps and unmaps itself; its two words are used as atomics
//! (other processes write them concurrently). Win32 calls take raw pointers and handles; each call
//! states the invariant it relies on (see `windows/mod.rs`).
#![allow(unsafe_code)]

use super::section::SectionInfo;
use super::{allocation_granularity, last_error, page_size, split64};
use crate::sys::{Error, Result};
use crate::ErrorKind;
use std::ffi::c_void;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::System::Memory::{
    MapViewOfFile, UnmapViewOfFile, VirtualAlloc, FILE_MAP_READ, FILE_MAP_WRITE,
    MEMORY_MAPPED_VIEW_ADDRESS, MEM_COMMIT, PAGE_READONLY, PAGE_READWRITE,
};

/// The least a growable object may grow to: its section reserves this much address range.
pub(super) const RESERVE: u64 = 1 << 30;

/// "mmfGROW1", little-endian: the trailer of a growable section.
const MAGIC: u64 = u64::from_le_bytes(*b"mmfGROW1");

/// The section size for a growable object of `size` bytes: the data range (at least `RESERVE`,
/// whole allocation-granularity units) and one trailer page.
pub(super) fn maximum(size: u64) -> Option<u64> {
    let gran = allocation_granularity() as u64;
    let data = size.max(RESERVE).checked_add(gran - 1)? / gran * gran;
    data.checked_add(page_size() as u64)
}

/// Whether a `SEC_RESERVE` section of `size` bytes has the shape of a growable one.
pub(super) fn is_growable_size(size: u64) -> bool {
    let gran = allocation_granularity() as u64;
    size > gran && size % gran == page_size() as u64
}

/// The mapped trailer page of a growable section: its size word, for every handle of the object
/// in this process.
pub(crate) struct Trailer {
    view: MEMORY_MAPPED_VIEW_ADDRESS,
    /// The largest size the object may grow to (where the trailer begins).
    limit: u64,
}

// SAFETY: the view is only read and written through atomics (`words`), which other threads (and
// processes) may use concurrently; it is unmapped once, on drop.
unsafe impl Send for Trailer {}
// SAFETY: as above.
unsafe impl Sync for Trailer {}

impl Drop for Trailer {
    fn drop(&mut self) {
        // SAFETY: the view this trailer mapped, unmapped once; no reference into it outlives
        // `self` (`words` borrows `self`).
        unsafe { UnmapViewOfFile(self.view) };
    }
}

impl Trailer {
    /// Maps (and commits) the trailer page of the growable-shaped section `section` of
    /// `maximum` bytes.
    fn map(section: HANDLE, maximum: u64, writable: bool) -> Result<Trailer> {
        let page = page_size() as u64;
        let offset = maximum - page; // a multiple of the allocation granularity
        let access = FILE_MAP_READ | if writable { FILE_MAP_WRITE } else { 0 };
        let (hi, lo) = split64(offset);
        // SAFETY: a section handle we hold; the page lies inside the section, whose size is
        // `maximum` (an opener checked its shape with `is_growable_size`, a creator made it with
        // `maximum`), at a granularity-aligned offset.
        let view = unsafe { MapViewOfFile(section, access, hi, lo, page as usize) };
        if view.Value.is_null() {
            return Err(Error::os(last_error()));
        }
        let t = Trailer {
            view,
            limit: offset,
        };
        let prot = if writable {
            PAGE_READWRITE
        } else {
            PAGE_READONLY
        };
        // SAFETY: commits the one page of the view just mapped (a SEC_RESERVE section's pages
        // must be committed before they are touched); `t` unmaps it if this fails.
        let p = unsafe {
            VirtualAlloc(
                t.view.Value as *const c_void,
                page as usize,
                MEM_COMMIT,
                prot,
            )
        };
        if p.is_null() {
            return Err(Error::os(last_error()));
        }
        Ok(t)
    }

    /// The magic and size words.
    fn words(&self) -> (&AtomicU64, &AtomicU64) {
        let p = self.view.Value as *const AtomicU64;
        // SAFETY: the view is one committed page (at least 16 bytes), page-aligned, mapped while
        // `self` lives; AtomicU64 has the layout of a u64 and every bit pattern is valid. Other
        // processes write these words concurrently, which atomics allow. Stores happen only
        // through writable handles (`create`, `grow`).
        unsafe { (&*p, &*p.add(1)) }
    }

    /// Sets up the trailer of a section this process just created: the size first, then the
    /// magic that publishes it (Release: an opener that sees the magic sees the size).
    pub(super) fn create(section: HANDLE, maximum: u64, size: u64) -> Result<Trailer> {
        let t = Trailer::map(section, maximum, true)?;
        let (magic, len) = t.words();
        len.store(size, Ordering::Relaxed);
        magic.store(MAGIC, Ordering::Release);
        Ok(t)
    }

    /// The trailer of an opened section of `maximum` bytes that has the growable shape; `None`
    /// if it carries no magic (another program's section of that shape). A creator publishes the
    /// magic right after creating the section, so an opener that came in between waits for it,
    /// at most `patience`.
    pub(super) fn open(
        section: HANDLE,
        maximum: u64,
        writable: bool,
        patience: Duration,
    ) -> Result<Option<Trailer>> {
        let t = Trailer::map(section, maximum, writable)?;
        let start = Instant::now();
        loop {
            if t.words().0.load(Ordering::Acquire) == MAGIC {
                return Ok(Some(t));
            }
            if start.elapsed() >= patience {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The object's current size.
    pub(super) fn size(&self) -> u64 {
        // Never past the trailer, whatever another process wrote there: views of the object
        // must not reach the words used as atomics.
        self.words().1.load(Ordering::Acquire).min(self.limit)
    }

    /// Grows the object to `new_len` (never shrinks it), within the maximum reserved at creation.
    pub(super) fn grow(&self, new_len: u64) -> Result<()> {
        if new_len > self.limit {
            return Err(Error::new(
                ErrorKind::OutOfSpace,
                format!(
                    "a growable Windows section grows up to the {} bytes reserved when it was \
                     created, and {} were asked for; create it with a larger size (for a shared \
                     value, a larger ValueOptions::capacity)",
                    self.limit, new_len
                ),
            ));
        }
        self.words().1.fetch_max(new_len, Ordering::AcqRel);
        Ok(())
    }
}

/// How long an opener waits for the trailer of a growable-shaped section: its creator writes it
/// right after creating the section, so only a creator killed in between (or another program's
/// section of that shape) makes anyone wait this long. Independent of the caller's timeouts: a
/// section taken for plain would show its whole reservation as its size.
const PATIENCE: Duration = Duration::from_secs(2);

/// The trailer of the opened section `section` (described by `info`) if it is a growable one.
pub(super) fn attach(
    section: HANDLE,
    info: &SectionInfo,
    writable: bool,
) -> Result<Option<Arc<Trailer>>> {
    if !info.reserve || !is_growable_size(info.size) {
        return Ok(None);
    }
    Ok(Trailer::open(section, info.size, writable, PATIENCE)?.map(Arc::new))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growable_sizes_are_recognised() {
        let m = maximum(4096).unwrap();
        assert!(is_growable_size(m));
        assert!(m > RESERVE);
        assert!(!is_growable_size(RESERVE));
        assert!(!is_growable_size(1 << 20));
        let big = maximum(3 << 30).unwrap();
        assert!(big > 3 << 30 && is_growable_size(big));
        assert!(maximum(u64::MAX).is_none());
    }
}
