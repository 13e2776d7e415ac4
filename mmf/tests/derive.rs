//! `#[derive(Pod)]`: derived types round-trip through shared values, and their layout ids keep
//! different types of one size and alignment from opening each other's values, while two copies
//! of one definition agree. (The refusals are `compile_fail` examples in `Pod`'s documentation.)
#![cfg(feature = "derive")]

mod common;

use common::unique;
use mmf::{ErrorKind, Offset, Pod, Shared};

#[derive(Clone, Copy, Debug, PartialEq, Pod)]
#[repr(C)]
struct Point {
    x: u64,
    y: u64,
}

/// `Point`'s size, alignment and field types, another name.
#[derive(Clone, Copy, Debug, PartialEq, Pod)]
#[repr(C)]
struct Span {
    x: u64,
    y: u64,
}

/// `Point` with other field names.
#[derive(Clone, Copy, Pod)]
#[repr(C)]
struct Renamed {
    lo: u64,
    hi: u64,
}

/// The copy a second program would compile from the same definition.
mod other_program {
    #[derive(Clone, Copy, Debug, PartialEq, mmf::Pod)]
    #[repr(C)]
    pub struct Point {
        pub x: u64,
        pub y: u64,
    }
}

/// Same names and size, one field's type differs (`i64` for `u64`).
mod retyped {
    #[derive(Clone, Copy, mmf::Pod)]
    #[repr(C)]
    pub struct Point {
        pub x: i64,
        pub y: u64,
    }
}

/// Same fields, in the other order (the offsets differ).
mod reordered {
    #[derive(Clone, Copy, mmf::Pod)]
    #[repr(C)]
    pub struct Point {
        pub y: u64,
        pub x: u64,
    }
}

/// Tuple, transparent, nested and explicitly padded structs derive too.
#[derive(Clone, Copy, Debug, PartialEq, Pod)]
#[repr(transparent)]
struct Meters(f64);

#[derive(Clone, Copy, Debug, PartialEq, Pod)]
#[repr(C)]
struct Reading {
    /// Where.
    pub at: Point,
    pub(crate) depth: Meters,
    next: Offset<Reading>,
    /// `>>` closes two generic lists at once.
    history: [Offset<Offset<Point>>; 2],
    flags: u8,
    _pad: [u8; 7],
}

#[test]
fn a_derived_type_round_trips_through_a_shared_value() {
    let name = unique("derive-rt");
    let writer = Shared::<Reading>::create(name.as_str()).unwrap();
    let r = Reading {
        at: Point { x: 1, y: 2 },
        depth: Meters(3.5),
        next: Offset::new(64),
        history: [Offset::new(128), Offset::NULL],
        flags: 0x81,
        _pad: [0; 7],
    };
    let version = writer.store(&r).unwrap();
    let reader = Shared::<Reading>::open(name.as_str()).unwrap();
    assert_eq!(reader.load_versioned().unwrap(), (version, r));
}

#[test]
fn two_derived_types_of_one_size_do_not_open_each_other() {
    assert_eq!(std::mem::size_of::<Point>(), std::mem::size_of::<Span>());
    assert_eq!(std::mem::align_of::<Point>(), std::mem::align_of::<Span>());
    let name = unique("derive-mismatch");
    let _point = Shared::<Point>::create(name.as_str()).unwrap();
    let err = Shared::<Span>::open(name.as_str()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LayoutMismatch, "{}", err);
    for err in [
        Shared::<Renamed>::open(name.as_str()).unwrap_err(),
        Shared::<retyped::Point>::open(name.as_str()).unwrap_err(),
        Shared::<reordered::Point>::open(name.as_str()).unwrap_err(),
        Shared::<[u64; 2]>::open(name.as_str()).unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::LayoutMismatch, "{}", err);
    }
}

#[test]
fn one_definition_compiled_twice_opens_the_same_value() {
    let name = unique("derive-same");
    let mine = Shared::<Point>::create(name.as_str()).unwrap();
    mine.store(&Point { x: 7, y: 8 }).unwrap();
    let theirs = Shared::<other_program::Point>::open(name.as_str()).unwrap();
    assert_eq!(theirs.load().unwrap(), other_program::Point { x: 7, y: 8 });
}

#[test]
fn the_layout_id_depends_on_every_part_of_the_definition() {
    let ids = [
        Point::LAYOUT_ID,
        Span::LAYOUT_ID,
        Renamed::LAYOUT_ID,
        retyped::Point::LAYOUT_ID,
        reordered::Point::LAYOUT_ID,
        <[u64; 2]>::LAYOUT_ID,
    ];
    for (i, a) in ids.iter().enumerate() {
        for b in &ids[i + 1..] {
            assert_ne!(a, b, "{:x?}", ids);
        }
    }
    assert_eq!(Point::LAYOUT_ID, other_program::Point::LAYOUT_ID);
    // A field's own layout id counts: a struct around `Meters` is not one around `f64`.
    #[derive(Clone, Copy, Pod)]
    #[repr(C)]
    struct A {
        v: Meters,
    }
    let around_meters = A::LAYOUT_ID;
    {
        #[derive(Clone, Copy, Pod)]
        #[repr(C)]
        struct A {
            v: f64,
        }
        assert_ne!(around_meters, A::LAYOUT_ID);
    }
}

/// The layout id is the one FORMAT.md describes, so programs in other languages can compute it.
#[test]
fn the_layout_id_is_the_documented_hash() {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(b"Point\xff");
    for (field, offset) in [("x", 0u64), ("y", 8)] {
        bytes.extend_from_slice(field.as_bytes());
        bytes.push(0xff);
        bytes.extend_from_slice(&u64::LAYOUT_ID.to_le_bytes());
        bytes.extend_from_slice(&offset.to_le_bytes());
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    assert_eq!(Point::LAYOUT_ID, h);
}
