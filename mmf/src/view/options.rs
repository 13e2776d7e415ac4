//! The view builder: range, access, a chosen base address, prefaulting and advice.

use super::View;
use crate::mapping::Mapping;
use crate::types::{Access, Advice};
use crate::Result;

/// Options for mapping a view: range, access, a chosen base address (`MapViewOfFileEx`),
/// prefaulting and advice.
///
/// ```
/// use mmf::{Access, Advice, ViewOptions};
///
/// fn main() -> Result<(), mmf::Error> {
///     let m = mmf::Mapping::anonymous(1 << 20)?;
///     let v = ViewOptions::new()
///         .offset(4096)
///         .len(64 * 1024)
///         .access(Access::ReadWrite)
///         .populate(true)              // fault everything in now; errors instead of SIGBUS later
///         .advice(Advice::Sequential)
///         .map(&m)?;
///     assert_eq!(v.len(), 64 * 1024);
///     Ok(())
/// }
/// ```
#[derive(Debug, Clone)]
pub struct ViewOptions {
    offset: u64,
    len: usize,
    access: Access,
    at: Option<usize>,
    populate: bool,
    advice: Option<Advice>,
}

impl Default for ViewOptions {
    fn default() -> ViewOptions {
        ViewOptions::new()
    }
}

impl ViewOptions {
    /// The whole object, read-only, anywhere in the address space.
    #[must_use]
    pub fn new() -> ViewOptions {
        ViewOptions {
            offset: 0,
            len: 0,
            access: Access::ReadOnly,
            at: None,
            populate: false,
            advice: None,
        }
    }

    /// Where the view starts in the object (any offset; aligned inside).
    pub fn offset(&mut self, offset: u64) -> &mut Self {
        self.offset = offset;
        self
    }

    /// The view's length; 0 (the default) means to the end of the object.
    pub fn len(&mut self, len: usize) -> &mut Self {
        self.len = len;
        self
    }

    /// The view's access (default `ReadOnly`).
    pub fn access(&mut self, access: Access) -> &mut Self {
        self.access = access;
        self
    }

    /// Map the view so that its first byte is at `address` (`MapViewOfFileEx` with a base
    /// address, `MAP_FIXED_NOREPLACE`). If anything is mapped in the range already, mapping fails
    /// with `AlreadyExists` and the existing mapping is left untouched. `address` must be at the
    /// same distance from an allocation-granularity boundary as the offset is.
    ///
    /// Prefer offsets over absolute pointers inside shared memory (see [`Offset`](crate::Offset)): they work
    /// at any address in every process.
    #[doc(alias = "MapViewOfFileEx")]
    #[doc(alias = "MAP_FIXED_NOREPLACE")]
    pub fn at(&mut self, address: usize) -> &mut Self {
        self.at = Some(address);
        self
    }

    /// Fault the whole view in at once (`MADV_POPULATE_READ`/`WRITE`): a backing store that cannot
    /// provide the memory is an `OutOfSpace` error now rather than a `SIGBUS` later.
    pub fn populate(&mut self, populate: bool) -> &mut Self {
        self.populate = populate;
        self
    }

    /// Advice to apply once mapped.
    pub fn advice(&mut self, advice: Advice) -> &mut Self {
        self.advice = Some(advice);
        self
    }

    /// Maps the view.
    ///
    /// # Errors
    /// As for [`Mapping::map_range`]; `AlreadyExists` if the requested address range is in use;
    /// `InvalidInput` for a misaligned address; `OutOfSpace` if prefaulting fails.
    pub fn map(&self, mapping: &Mapping) -> Result<View> {
        let v = View::new(mapping, self.offset, self.len, self.access, self.at)?;
        if let Some(a) = self.advice {
            v.advise(a)?;
        }
        if self.populate {
            v.populate()?;
        }
        Ok(v)
    }
}
