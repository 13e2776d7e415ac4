//! The raw forms of the copying methods, for memory that is not a private slice (a buffer another
//! language lends, another mapping): `SharedValue::store_raw` / `retrieve_raw` and
//! `View::write_raw` / `read_raw` are byte-exact at every size and alignment, refuse what their
//! safe forms refuse without touching the value, and stay sound while another thread writes the
//! source.
#![allow(unsafe_code)]

use mmf::{ErrorKind, Mapping, Shared, SharedValue, ValueOptions};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

mod common;

use common::unique;

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3] ^ seed)
        .collect()
}

/// A value with the default options (it grows as values need, on Windows too).
fn create(name: &str) -> SharedValue {
    ValueOptions::new().create(name).unwrap()
}

#[test]
fn raw_values_round_trip_at_every_size_and_alignment() {
    let v = create(&unique("raw-sizes"));
    let mut dst = vec![0u8; (3 << 20) + 16];
    // SAFETY: `dst` is writable for its whole length.
    assert_eq!(
        unsafe { v.retrieve_raw(dst.as_mut_ptr(), dst.len()) }.unwrap(),
        (0, 0)
    );
    let mut seed = 0;
    for len in [
        0,
        1,
        7,
        63,
        127,
        128,
        129,
        255,
        256,
        4096,
        70_000,
        1 << 20,
        3 << 20,
    ] {
        for (from, to) in [(0, 0), (3, 0), (0, 5), (1, 9)] {
            seed += 1;
            let src = pattern(len + from, seed);
            // SAFETY: `src[from..]` holds `len` readable bytes.
            let version = unsafe { v.store_raw(src.as_ptr().add(from), len) }.unwrap();
            assert!(v.retrieve().unwrap() == src[from..], "store_raw of {}", len);
            dst.iter_mut().for_each(|b| *b = 0xee);
            // SAFETY: `dst[to..]` is writable for `dst.len() - to` bytes.
            let got = unsafe { v.retrieve_raw(dst.as_mut_ptr().add(to), dst.len() - to) }.unwrap();
            assert_eq!(got, (version, len));
            assert!(dst[to..to + len] == src[from..], "retrieve_raw of {}", len);
            assert!(dst[..to].iter().chain(&dst[to + len..]).all(|b| *b == 0xee));
            // A value stored the safe way (inline up to 128 bytes, else in a slot) reads back
            // the raw way too.
            let version = v.store(&src[from..]).unwrap();
            // SAFETY: as above.
            let got = unsafe { v.retrieve_raw(dst.as_mut_ptr().add(to), dst.len() - to) }.unwrap();
            assert_eq!(got, (version, len));
            assert!(dst[to..to + len] == src[from..], "retrieve_raw of {}", len);
        }
    }
}

#[test]
fn raw_forms_refuse_what_the_safe_forms_refuse() {
    let name = unique("raw-refuse");
    let v = create(&name);
    let version = v.store(b"kept").unwrap();
    let mut small = [0u8; 3];
    // SAFETY: `small` is 3 writable bytes.
    let e = unsafe { v.retrieve_raw(small.as_mut_ptr(), small.len()) }.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{}", e);
    assert!(e.to_string().contains("4 bytes") && e.to_string().contains(&name));
    assert_eq!(
        small, [0; 3],
        "nothing is copied into a destination too small"
    );

    let ro = ValueOptions::new()
        .access(mmf::Access::ReadOnly)
        .open(&name)
        .unwrap();
    // SAFETY: 4 readable bytes.
    let e = unsafe { ro.store_raw(b"nope".as_ptr(), 4) }.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{}", e);

    let typed_name = unique("raw-typed");
    let _typed: Shared<u64> = Shared::create(&typed_name).unwrap();
    let bytes = SharedValue::open(&typed_name).unwrap();
    // SAFETY: 3 readable bytes.
    let e = unsafe { bytes.store_raw(b"abc".as_ptr(), 3) }.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{}", e);
    assert_eq!(v.retrieve_versioned().unwrap(), (version, b"kept".to_vec()));

    let view = Mapping::anonymous(4096).unwrap().map_mut().unwrap();
    // SAFETY: 8 readable bytes; the range on the view's side is what is refused.
    let e = unsafe { view.write_raw(4090, b"too long".as_ptr(), 8) }.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutOfRange, "{}", e);
    let mut out = [0u8; 8];
    // SAFETY: 8 writable bytes.
    let e = unsafe { view.read_raw(4090, out.as_mut_ptr(), 8) }.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutOfRange, "{}", e);
}

#[test]
fn views_copy_raw_between_mappings_and_within_one() {
    let a = Mapping::anonymous(1 << 16).unwrap().map_mut().unwrap();
    let b = Mapping::anonymous(1 << 16).unwrap().map_mut().unwrap();
    let data = pattern(40_000, 7);
    a.write_at(0, &data).unwrap();
    // SAFETY: `a` maps 64 KiB, readable, alive for the call.
    unsafe { b.write_raw(1, a.as_ptr(), data.len()) }.unwrap();
    assert!(b.read_vec(1, data.len()).unwrap() == data);
    let mut out = vec![0u8; data.len()];
    // SAFETY: `out` is writable for its length.
    unsafe { b.read_raw(1, out.as_mut_ptr(), out.len()) }.unwrap();
    assert!(out == data);
    // Overlapping ranges of one view: allowed; the bytes are unspecified, only the length and
    // the bytes outside the destination are checked.
    // SAFETY: `b` maps 64 KiB; 1 + 40,000 and 9 + 40,000 are inside it.
    unsafe { b.write_raw(9, b.as_ptr().add(1), data.len()) }.unwrap();
    assert_eq!(b.read_vec(0, 9).unwrap()[1..], data[..8]);
}

/// The source of `store_raw` written by another thread the whole time: every store succeeds,
/// and every retrieved value has the source's length (its bytes are whatever the copy met).
#[test]
fn a_source_written_meanwhile_is_stored_without_harm() {
    let v = create(&unique("raw-racy"));
    let source = Arc::new(Mapping::anonymous(1 << 16).unwrap().map_mut().unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (source, stop) = (source.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0u8;
            while !stop.load(Ordering::Relaxed) {
                i = i.wrapping_add(1);
                source.write_at(0, &[i; 1 << 16]).unwrap();
            }
        })
    };
    let mut last = 0;
    for _ in 0..200 {
        // SAFETY: `source` maps 64 KiB and outlives the call; it is written concurrently,
        // which `store_raw` allows.
        last = unsafe { v.store_raw(source.as_ptr(), 1 << 16) }.unwrap();
        assert_eq!(v.retrieve().unwrap().len(), 1 << 16);
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert_eq!(v.version(), last);
}
