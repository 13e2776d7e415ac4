//! Copies between private buffers and memory that other processes may write at the same time.
//!
//! Every access to the shared side is a relaxed atomic load or store, so a concurrent writer in
//! another process is not a data race in Rust's memory model: a reader may see a mix of old and
//! new bytes (the shared-value protocol is what prevents that), but never undefined behaviour.
//! Aligned 8-byte words carry the bulk; the unaligned head and tail go byte by byte.
//!
//! # Safety
//! The functions take raw pointers into mapped memory; callers guarantee the ranges are mapped
//! (and writable, for `copy_in`) for the duration of the call.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

const WORD: usize = 8;

/// Copies `dst.len()` bytes from shared memory at `src` into `dst`.
///
/// # Safety
/// `src .. src + dst.len()` is mapped and readable for the whole call.
pub(crate) unsafe fn copy_out(src: *const u8, dst: &mut [u8]) {
    let len = dst.len();
    let head = (src.align_offset(WORD)).min(len);
    let mut i = 0;
    while i < head {
        // SAFETY: in bounds (i < len) and readable, forwarded from the caller; AtomicU8 has the
        // size and alignment of u8.
        dst[i] = unsafe { &*(src.add(i) as *const AtomicU8) }.load(Ordering::Relaxed);
        i += 1;
    }
    while i + WORD <= len {
        // SAFETY: `src + i` is 8-byte aligned (i >= head) and `i + 8 <= len`; AtomicU64 has the
        // size and alignment of u64.
        let w = unsafe { &*(src.add(i) as *const AtomicU64) }.load(Ordering::Relaxed);
        dst[i..i + WORD].copy_from_slice(&w.to_ne_bytes());
        i += WORD;
    }
    while i < len {
        // SAFETY: as for the head.
        dst[i] = unsafe { &*(src.add(i) as *const AtomicU8) }.load(Ordering::Relaxed);
        i += 1;
    }
}

/// Copies `src` into shared memory at `dst`.
///
/// # Safety
/// `dst .. dst + src.len()` is mapped and writable for the whole call.
pub(crate) unsafe fn copy_in(dst: *mut u8, src: &[u8]) {
    let len = src.len();
    let head = (dst.align_offset(WORD)).min(len);
    let mut i = 0;
    while i < head {
        // SAFETY: in bounds and writable, forwarded from the caller.
        unsafe { &*(dst.add(i) as *const AtomicU8) }.store(src[i], Ordering::Relaxed);
        i += 1;
    }
    while i + WORD <= len {
        let mut w = [0u8; WORD];
        w.copy_from_slice(&src[i..i + WORD]);
        // SAFETY: aligned (i >= head), in bounds (i + 8 <= len), writable (caller).
        unsafe { &*(dst.add(i) as *const AtomicU64) }
            .store(u64::from_ne_bytes(w), Ordering::Relaxed);
        i += WORD;
    }
    while i < len {
        // SAFETY: as for the head.
        unsafe { &*(dst.add(i) as *const AtomicU8) }.store(src[i], Ordering::Relaxed);
        i += 1;
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn round_trip_every_alignment() {
        let src: Vec<u8> = (0..200u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut shared = vec![0u64; 40]; // 8-aligned backing
        let base = shared.as_mut_ptr() as *mut u8;
        for off in 0..9 {
            for len in [0, 1, 7, 8, 9, 63, 100, 150] {
                // SAFETY: off + len <= 159 < 320 bytes of `shared`.
                unsafe { copy_in(base.add(off), &src[..len]) };
                let mut out = vec![0u8; len];
                // SAFETY: same range.
                unsafe { copy_out(base.add(off), &mut out) };
                assert_eq!(out, &src[..len], "off {} len {}", off, len);
            }
        }
    }
}
