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
/// Derive it (the `derive` feature, on by default):
///
/// ```
/// #[derive(Clone, Copy, mmf::Pod)]
/// #[repr(C)]
/// struct Point { x: f64, y: f64 }
/// ```
///
/// # Deriving
///
/// `#[derive(mmf::Pod)]` checks at compile time what an implementation promises, and refuses
/// (with a compile error saying why):
///
/// - a struct without `#[repr(C)]` or `#[repr(transparent)]`, whose field order another build may
///   change;
/// - enums and unions (an enum has bit patterns that are no variant; a union may hide padding);
/// - generic structs (implement `Pod` by hand for each instantiation);
/// - a field that is not `Pod` itself (`bool`, `char`, references, pointers, ...);
/// - **padding**: the struct's size must be the sum of its fields' sizes. Make padding a field of
///   its own (`_pad: [u8; 4]`) or reorder the fields.
///
/// The derived [`LAYOUT_ID`](Pod::LAYOUT_ID) mixes the struct's name with each field's name, its
/// type's `LAYOUT_ID` and its offset (FNV-1a), so two derived types of one size and alignment
/// refuse to open each other's values ([`ErrorKind::LayoutMismatch`](crate::ErrorKind)), while
/// every program built from the same definition agrees. Renaming the struct or a field, or
/// reordering or retyping a field, changes it: programs must agree on the definition.
///
/// Each refusal, and its accepted twin:
///
/// ```compile_fail
/// #[derive(Clone, Copy, mmf::Pod)]
/// struct NoRepr { x: u32 }                        // error: needs #[repr(C)] or #[repr(transparent)]
/// ```
/// ```
/// #[derive(Clone, Copy, mmf::Pod)]
/// #[repr(C)]
/// struct WithRepr { x: u32 }
/// ```
/// ```compile_fail,E0080
/// #[derive(Clone, Copy, mmf::Pod)]
/// #[repr(C)]
/// struct Padded { tag: u8, value: u32 }           // error: 3 padding bytes after `tag`
/// ```
/// ```
/// #[derive(Clone, Copy, mmf::Pod)]
/// #[repr(C)]
/// struct Explicit { tag: u8, _pad: [u8; 3], value: u32 }
/// ```
/// ```compile_fail,E0277
/// #[derive(Clone, Copy, mmf::Pod)]
/// #[repr(C)]
/// struct Flag { on: bool }                        // error: `bool: Pod` is not satisfied
/// ```
/// ```
/// #[derive(Clone, Copy, mmf::Pod)]
/// #[repr(C)]
/// struct Flag { on: u8 }                          // 0 or 1 by convention; any byte is valid
/// ```
/// ```compile_fail
/// #[derive(Clone, Copy, mmf::Pod)]
/// #[repr(u8)]
/// enum State { Idle, Busy }                       // error: structs only
/// ```
/// ```compile_fail
/// #[derive(Clone, Copy, mmf::Pod)]
/// #[repr(C)]
/// union Bits { int: u32, float: f32 }             // error: structs only
/// ```
/// ```compile_fail
/// #[derive(Clone, Copy, mmf::Pod)]
/// #[repr(C)]
/// struct Pair<T> { a: T, b: T }                   // error: no generic structs
/// ```
///
/// # Safety
///
/// Implement it by hand only for a type that
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
    /// values check on open. The derive computes it from the definition (see
    /// [Deriving](Pod#deriving)); by hand, give each of your types its own value (any constant) and
    /// change it when the type's fields change. There is no default: two types of one size that
    /// both forgot it would open each other's values without a `LayoutMismatch`.
    const LAYOUT_ID: u64;
}

/// What `#[derive(Pod)]`'s expansion calls to compute a layout id (not a public interface): FNV-1a
/// over the struct's name, then each field's name, its type's layout id and its offset (8 bytes
/// little-endian each); names end with a 0xff byte, which UTF-8 never contains.
#[doc(hidden)]
pub mod __derive {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x100_0000_01b3;

    const fn mix(mut h: u64, bytes: &[u8]) -> u64 {
        let mut i = 0;
        while i < bytes.len() {
            h ^= bytes[i] as u64;
            h = h.wrapping_mul(PRIME);
            i += 1;
        }
        h
    }

    const fn mix_name(h: u64, name: &str) -> u64 {
        mix(mix(h, name.as_bytes()), &[0xff])
    }

    /// The layout id so far of the struct `name`.
    pub const fn start(name: &str) -> u64 {
        mix_name(OFFSET_BASIS, name)
    }

    /// Adds the field `name` at `offset`, whose type's layout id is `type_id`.
    pub const fn field(id: u64, name: &str, type_id: u64, offset: usize) -> u64 {
        let id = mix(mix_name(id, name), &type_id.to_le_bytes());
        mix(id, &(offset as u64).to_le_bytes())
    }
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
///     #[derive(Clone, Copy, Pod)]
///     #[repr(C)]
///     struct Node { value: u64, next: Offset<Node> }
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
