//! Fuzzes the shared-value header parser (`mmf::ValueHeader::parse`), which mmf runs on a copy of
//! every header it opens: any bytes and any claimed object size must give a header or an error,
//! never a panic, and an accepted header must be self-consistent.
//!
//! Run from `mmf/fuzz` (the seeds are valid headers):
//! `cargo +nightly fuzz run value_header corpus/value_header seeds/value_header -- -max_total_time=60`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first 8 bytes choose the object size the parser is told (the rest is the header copy),
    // so sizes smaller and larger than the copy are both tried.
    let (len, bytes) = match data.split_first_chunk::<8>() {
        Some((l, rest)) => (u64::from_le_bytes(*l) % (1 << 40), rest),
        None => (data.len() as u64, data),
    };
    for object_len in [len, bytes.len() as u64] {
        if let Ok(h) = mmf::ValueHeader::parse(bytes, object_len) {
            assert_eq!(h.format_version, 4, "the only format this version of mmf reads");
            assert!((2..=64).contains(&h.slots));
            assert_eq!(h.header_size, 448 + 64 * h.slots as u64);
            assert!(h.header_size <= h.data_end && h.data_end <= object_len);
            assert!(h.header_size <= bytes.len() as u64);
            if h.version != 0 && h.current_inline {
                assert!(h.current_slot < 2, "two inline buffers");
            } else {
                assert!(h.version == 0 || h.current_slot < h.slots);
            }
            if let Some(l) = h.layout {
                assert!(l.align.is_power_of_two());
            }
        }
    }
});
