//! Plain-old-data: the bound for typed data in shared memory, and offset pointers.
//!
//! (Shared by typed shared values and by [`Offset`]; defined once here.)
//!
//! # Safety
//! `Pod` is an unsafe trait: its implementations promise the layout rules in its documentation,
//! on which every copy of a `T` into or out of shared memory relies. The implementations here are
//! for primitives, arrays of `Pod` and `Offset`, each with its reason.
#![allow(unsafe_code)]

use std::marker::PhantomData;

/// Types that may live in memory shared with other processes.
///
/// # Safety
///
/// Implement it only for a type that
/// - is `#[repr(C)]` or `#[repr(transparent)]` (or a primitive), so its layout is the same in every
///   process built from the same definition;
/// - has **no padding bytes** (padding would copy uninitialised bytes into shared memory);
/// - is valid for **every bit pattern** (another process can write any bytes); so no `bool`, `char`,
///   enums, references or `NonZero*`;
/// - holds no pointers, references, file descriptors or handles (they mean nothing in another
///   process; use [`Offset`] for links inside a shared object).
///
/// ```
/// #[derive(Clone, Copy)]
/// #[repr(C)]
/// struct Point { x: f64, y: f64 }
/// // SAFETY: repr(C), two f64s (no padding), every bit pattern is a valid f64, no pointers.
/// unsafe impl mmf::Pod for Point { const LAYOUT_ID: u64 = 0x506f_696e_74; }
/// ```
pub unsafe trait Pod: Copy + Send + Sync + 'static {
    /// Distinguishes types of equal size and alignment in the layout fingerprint that typed shared
    /// values check on open. Give each of your types its own value (any constant); change it when
    /// the type's fields change. There is no default: two types of one size that both forgot it
    /// would open each other's values without a `LayoutMismatch`.
    const LAYOUT_ID: u64;
}

macro_rules! pod {
    ($($t:ty = $id:expr),* $(,)?) => {
        $(
            // SAFETY: a primitive number: no padding, every bit pattern valid, no pointers.
            unsafe impl Pod for $t { const LAYOUT_ID: u64 = $id; }
        )*
    };
}

pod!(
    u8 = 1,
    u16 = 2,
    u32 = 3,
    u64 = 4,
    u128 = 5,
    i8 = 6,
    i16 = 7,
    i32 = 8,
    i64 = 9,
    i128 = 10,
    f32 = 11,
    f64 = 12,
    usize = 13,
    isize = 14
);

// SAFETY: an array of Pod has no padding between elements (size is a multiple of align) and is
// valid for every bit pattern if its element is.
unsafe impl<T: Pod, const N: usize> Pod for [T; N] {
    const LAYOUT_ID: u64 = T::LAYOUT_ID
        .wrapping_mul(0x100_0000_01b3)
        .wrapping_add(N as u64);
}

/// The layout fingerprint of `T`: size, alignment and [`Pod::LAYOUT_ID`], mixed (FNV-1a); never 0.
/// This is what a typed shared value records in its header (`FORMAT.md`).
pub fn layout_fingerprint<T: Pod>() -> u64 {
    fingerprint(
        std::mem::size_of::<T>() as u64,
        std::mem::align_of::<T>() as u64,
        T::LAYOUT_ID,
    )
}

/// FNV-1a over `size`, `align` and `id` (8 little-endian bytes each), with 0 mapped to 1 (0 marks
/// an untyped value in a header).
pub(crate) fn fingerprint(size: u64, align: u64, id: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for word in [size, align, id] {
        for b in word.to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100_0000_01b3);
        }
    }
    h.max(1)
}

/// A link to a `T` inside a shared object, stored as the byte offset from the object's start
/// (0 means none): it means the same thing in every process, whatever address each maps the
/// object at — what Boost's `offset_ptr` is for, but checked: following one goes through
/// [`View::load`](crate::View::load), which validates the range and alignment against the view, so
/// a corrupt offset is an error, never a wild read.
///
/// ```
/// use mmf::{Offset, Pod};
///
/// fn main() -> Result<(), mmf::Error> {
///     #[derive(Clone, Copy)]
///     #[repr(C)]
///     struct Node { value: u64, next: Offset<Node> }
///     // SAFETY: repr(C), two u64-sized fields, no padding, any bits valid, no pointers.
///     unsafe impl Pod for Node { const LAYOUT_ID: u64 = 0x4e6f6465; }
///
///     let m = mmf::Mapping::anonymous(4096)?;
///     let v = m.map_mut()?;
///     v.store(Offset::new(64), &Node { value: 1, next: Offset::new(128) })?;
///     v.store(Offset::new(128), &Node { value: 2, next: Offset::NULL })?;
///     let (mut at, mut sum) = (Offset::<Node>::new(64), 0);
///     while !at.is_null() {
///         let n = v.load(at)?;
///         sum += n.value;
///         at = n.next;
///     }
///     assert_eq!(sum, 3);
///     Ok(())
/// }
/// ```
#[repr(transparent)]
pub struct Offset<T> {
    raw: u64,
    _type: PhantomData<fn() -> T>,
}

impl<T> Offset<T> {
    /// No target.
    pub const NULL: Offset<T> = Offset {
        raw: 0,
        _type: PhantomData,
    };

    /// The `T` at byte `offset` from the object's start.
    pub const fn new(offset: u64) -> Offset<T> {
        Offset {
            raw: offset,
            _type: PhantomData,
        }
    }

    /// The byte offset from the object's start.
    pub const fn get(self) -> u64 {
        self.raw
    }

    /// Whether this is [`NULL`](Self::NULL).
    pub const fn is_null(self) -> bool {
        self.raw == 0
    }
}

impl<T> Clone for Offset<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Offset<T> {}
impl<T> PartialEq for Offset<T> {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}
impl<T> Eq for Offset<T> {}
impl<T> std::fmt::Debug for Offset<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Offset({})", self.raw)
    }
}

// SAFETY: repr(transparent) over u64: no padding, any bits valid, and an offset is not a pointer.
unsafe impl<T: 'static> Pod for Offset<T> {
    const LAYOUT_ID: u64 = 0x4f66_6673_6574;
}
