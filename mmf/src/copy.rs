//! Copies between private buffers and memory that other processes may write at the same time.
//!
//! Every access to the shared side is atomic at some width, so a concurrent writer in another
//! process is not a data race in Rust's memory model: a reader may see a mix of old and new bytes
//! (the shared-value protocol is what rules that out), but never undefined behaviour.
//!
//! - The portable path: relaxed atomic loads and stores of aligned 8-byte words, four at a time,
//!   with the unaligned head and tail byte by byte. [`copy_out_backward`] is the same loop run
//!   from the end, for a destination a little ahead of the source modulo 4096 ([`aliased_4k`]).
//! - On x86-64, three paths in inline assembly:
//!   - `rep movsb`, for copies of [`REP_MOVSB_MIN`] bytes or more (out of a view: up to
//!     [`REP_MOVSB_READ_MAX`]; between two shared sides: up to [`REP_MOVSB_SHARED_MAX`], or
//!     whenever the sides are unequally aligned);
//!   - [`copy_block64`], 64 bytes as four 16-byte SSE2 loads then four stores, for the whole
//!     blocks of [`copy_out_backward`] and of [`copy_shared`] above `REP_MOVSB_SHARED_MAX`.
//!
//!   The Rust reference requires an `asm!` block to behave like some Rust code. `rep movsb` is
//!   exactly a sequence of byte-wide relaxed atomic loads and stores (the hardware makes every
//!   byte access single-copy atomic), the same accesses the portable path makes; an SSE2 load or
//!   store is at least byte-wise single-copy atomic too, and no caller relies on more than bytes
//!   (the shared-value protocol validates what it copies). So both are sound on the portable
//!   path's terms, and the compiler cannot assume anything about the bytes they read. They run
//!   at `memcpy` speed, several times the portable loop on cached data.
//!
//! The 4 KiB-aliasing check ([`aliased_4k`]) is made only by [`copy_out_part`], the copy out of
//! a view into a private buffer; [`copy_shared`] does not make it (a known gap: a caller's
//! shared buffer a little ahead of a page-aligned slot can copy slowly).
//!
//! # Safety
//! The functions take raw pointers into mapped memory; callers guarantee the ranges are mapped
//! (and writable, for `copy_in`) for the duration of the call.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

const WORD: usize = 8;

/// From this size on, x86-64 copies with `rep movsb`; below it the start-up cost of the string
/// instruction outweighs its speed.
#[cfg(target_arch = "x86_64")]
const REP_MOVSB_MIN: usize = 256;

/// Reads larger than this use the word loop again: reading a mapping much larger than the caches
/// with `rep movsb` ran at half the loop's speed here (`mmf-bench copy`, 64 MiB: 6.3 against
/// 13.9 GB/s), while up to cache sizes `rep movsb` is the faster (4 KiB: 77 against 37 GB/s).
#[cfg(target_arch = "x86_64")]
const REP_MOVSB_READ_MAX: usize = 8 << 20;

/// Copies `len` bytes from `src` to `dst` with `rep movsb`.
///
/// # Safety
/// `src .. src + len` is readable and `dst .. dst + len` writable for the whole call. Either side
/// may be memory other processes access concurrently: the instruction's accesses are byte-wide
/// and single-copy atomic (see the module documentation); for the same reason overlapping ranges
/// give unspecified bytes, not undefined behaviour.
#[cfg(target_arch = "x86_64")]
#[inline]
unsafe fn rep_movsb(dst: *mut u8, src: *const u8, len: usize) {
    // In pieces, so that no single instruction runs for long (it is interruptible, but a huge
    // count makes some CPUs take a slower microcode path).
    const PIECE: usize = 1 << 20;
    let mut done = 0;
    while done < len {
        let n = (len - done).min(PIECE);
        // SAFETY: forwarded from the caller (`done + n <= len`). The direction flag is clear on
        // entry to Rust code (the ABI guarantees it), so the copy runs forwards; rdi, rsi and
        // rcx are declared clobbered.
        unsafe {
            std::arch::asm!(
                "rep movsb",
                inout("rcx") n => _,
                inout("rdi") dst.add(done) => _,
                inout("rsi") src.add(done) => _,
                options(nostack, preserves_flags)
            );
        }
        done += n;
    }
}

/// Copies `len` bytes from shared memory at `src` to private memory at `dst`, as one piece of a
/// copy of `whole` bytes made in pieces (views copy in chunks, each under its own fault guard):
/// the method is chosen by the whole copy's size, so chunking does not change which one runs.
///
/// # Safety
/// `src .. src + len` is mapped and readable and `dst .. dst + len` writable (and private to
/// this thread) for the whole call; the ranges do not overlap. `dst` may be uninitialised.
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
pub(crate) unsafe fn copy_out_part(src: *const u8, dst: *mut u8, len: usize, whole: usize) {
    #[cfg(target_arch = "x86_64")]
    if len >= REP_MOVSB_MIN && whole <= REP_MOVSB_READ_MAX {
        if aliased_4k(src, dst) {
            // SAFETY: forwarded from the caller.
            return unsafe { copy_out_backward(src, dst, len) };
        }
        // SAFETY: forwarded from the caller.
        return unsafe { rep_movsb(dst, src, len) };
    }
    let head = src.align_offset(WORD).min(len);
    let mut i = 0;
    while i < head {
        // SAFETY: `i < len`: in bounds on both sides (caller); AtomicU8 has u8's layout.
        unsafe { *dst.add(i) = (*(src.add(i) as *const AtomicU8)).load(Ordering::Relaxed) };
        i += 1;
    }
    while i + 4 * WORD <= len {
        // SAFETY: `src + i` is 8-aligned (i >= head, steps of 8) and `i + 32 <= len`: four whole
        // words in bounds; AtomicU64 has u64's layout; `dst` is written unaligned.
        unsafe {
            let s = src.add(i) as *const AtomicU64;
            let w0 = (*s).load(Ordering::Relaxed);
            let w1 = (*s.add(1)).load(Ordering::Relaxed);
            let w2 = (*s.add(2)).load(Ordering::Relaxed);
            let w3 = (*s.add(3)).load(Ordering::Relaxed);
            let d = dst.add(i) as *mut u64;
            d.write_unaligned(w0);
            d.add(1).write_unaligned(w1);
            d.add(2).write_unaligned(w2);
            d.add(3).write_unaligned(w3);
        }
        i += 4 * WORD;
    }
    while i + WORD <= len {
        // SAFETY: as above, one word.
        unsafe {
            let w = (*(src.add(i) as *const AtomicU64)).load(Ordering::Relaxed);
            (dst.add(i) as *mut u64).write_unaligned(w);
        }
        i += WORD;
    }
    while i < len {
        // SAFETY: as for the head.
        unsafe { *dst.add(i) = (*(src.add(i) as *const AtomicU8)).load(Ordering::Relaxed) };
        i += 1;
    }
}

/// Whether `dst` lies a little ahead of `src` modulo 4096 (the distance the CPU compares to tell a
/// load from an earlier store): then a forward copy's loads keep matching the stores just made, and
/// `rep movsb` ran at 0.85 GB/s instead of 27 here (`mmf-bench copy`, 1 MiB retrieved from a
/// page-aligned region into a `malloc` block, which starts 16 bytes into a page).
#[cfg(target_arch = "x86_64")]
fn aliased_4k(src: *const u8, dst: *const u8) -> bool {
    let d = (dst as usize).wrapping_sub(src as usize) % 4096;
    d != 0 && d < 256
}

/// Copies 64 bytes, 16 a load and a store (SSE2, in every x86_64 CPU): four loads, then four
/// stores. In asm, so the loads of memory other processes may be writing are the machine's, as
/// `rep movsb`'s are (byte-wise, no tearing guarantee beyond that, which no caller needs).
///
/// # Safety
/// `src..src + 64` readable and `dst..dst + 64` writable for the call.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn copy_block64(dst: *mut u8, src: *const u8) {
    // SAFETY: the caller's; the asm touches only those 128 bytes and four vector registers.
    unsafe {
        std::arch::asm!(
            "movdqu {a}, xmmword ptr [{s}]",
            "movdqu {b}, xmmword ptr [{s} + 16]",
            "movdqu {c}, xmmword ptr [{s} + 32]",
            "movdqu {e}, xmmword ptr [{s} + 48]",
            "movdqu xmmword ptr [{d}], {a}",
            "movdqu xmmword ptr [{d} + 16], {b}",
            "movdqu xmmword ptr [{d} + 32], {c}",
            "movdqu xmmword ptr [{d} + 48], {e}",
            s = in(reg) src,
            d = in(reg) dst,
            a = out(xmm_reg) _,
            b = out(xmm_reg) _,
            c = out(xmm_reg) _,
            e = out(xmm_reg) _,
            options(nostack, preserves_flags),
        );
    }
}

/// [`copy_out_part`]'s word loop run from the end to the start, whose loads never meet the
/// stores just made when `dst` is a little ahead of `src` (see [`aliased_4k`]).
///
/// # Safety
/// As for [`copy_out_part`].
#[cfg(target_arch = "x86_64")]
unsafe fn copy_out_backward(src: *const u8, dst: *mut u8, len: usize) {
    let head = src.align_offset(WORD).min(len);
    let mut i = len;
    while i > head && (src as usize + i) % WORD != 0 {
        i -= 1;
        // SAFETY: `i < len`: in bounds on both sides (caller); AtomicU8 has u8's layout.
        unsafe { *dst.add(i) = (*(src.add(i) as *const AtomicU8)).load(Ordering::Relaxed) };
    }
    // Whole 64-byte blocks (see `copy_block64`): the 8-byte loop below reaches about three
    // quarters of memcpy's rate at 1 MiB, the blocks memcpy's.
    let lo = i - (i - head) / 64 * 64;
    while i > lo {
        i -= 64;
        // SAFETY: `head <= i` and `i + 64 <= len`: the block is in bounds on both sides (caller).
        unsafe { copy_block64(dst.add(i), src.add(i)) };
    }
    while i >= head + 4 * WORD {
        i -= 4 * WORD;
        // SAFETY: `src + i` is 8-aligned (`src + i` was aligned above, steps of 8, `i >= head`)
        // and `i + 32 <= len`: four whole words in bounds; `dst` is written unaligned.
        unsafe {
            let s = src.add(i) as *const AtomicU64;
            let w3 = (*s.add(3)).load(Ordering::Relaxed);
            let w2 = (*s.add(2)).load(Ordering::Relaxed);
            let w1 = (*s.add(1)).load(Ordering::Relaxed);
            let w0 = (*s).load(Ordering::Relaxed);
            let d = dst.add(i) as *mut u64;
            d.add(3).write_unaligned(w3);
            d.add(2).write_unaligned(w2);
            d.add(1).write_unaligned(w1);
            d.write_unaligned(w0);
        }
    }
    while i >= head + WORD {
        i -= WORD;
        // SAFETY: as above, one word.
        unsafe {
            let w = (*(src.add(i) as *const AtomicU64)).load(Ordering::Relaxed);
            (dst.add(i) as *mut u64).write_unaligned(w);
        }
    }
    while i > 0 {
        i -= 1;
        // SAFETY: as for the tail.
        unsafe { *dst.add(i) = (*(src.add(i) as *const AtomicU8)).load(Ordering::Relaxed) };
    }
}

/// Copies `src` into shared memory at `dst`.
///
/// # Safety
/// `dst .. dst + src.len()` is mapped and writable for the whole call.
pub(crate) unsafe fn copy_in(dst: *mut u8, src: &[u8]) {
    let len = src.len();
    let s = src.as_ptr();
    #[cfg(target_arch = "x86_64")]
    if len >= REP_MOVSB_MIN {
        // SAFETY: `dst` range forwarded from the caller; `src` is a private slice of `len` bytes;
        // a private slice cannot overlap a mapping the caller vouches for.
        return unsafe { rep_movsb(dst, s, len) };
    }
    let head = dst.align_offset(WORD).min(len);
    let mut i = 0;
    while i < head {
        // SAFETY: in bounds (i < len) and writable, forwarded from the caller.
        unsafe { (*(dst.add(i) as *const AtomicU8)).store(*s.add(i), Ordering::Relaxed) };
        i += 1;
    }
    while i + 4 * WORD <= len {
        // SAFETY: `dst + i` is 8-aligned, four words in bounds, writable (caller); `src` read
        // unaligned within its length.
        unsafe {
            let d = dst.add(i) as *const AtomicU64;
            let p = s.add(i) as *const u64;
            (*d).store(p.read_unaligned(), Ordering::Relaxed);
            (*d.add(1)).store(p.add(1).read_unaligned(), Ordering::Relaxed);
            (*d.add(2)).store(p.add(2).read_unaligned(), Ordering::Relaxed);
            (*d.add(3)).store(p.add(3).read_unaligned(), Ordering::Relaxed);
        }
        i += 4 * WORD;
    }
    while i + WORD <= len {
        // SAFETY: as above, one word.
        unsafe {
            let v = (s.add(i) as *const u64).read_unaligned();
            (*(dst.add(i) as *const AtomicU64)).store(v, Ordering::Relaxed);
        }
        i += WORD;
    }
    while i < len {
        // SAFETY: as for the head.
        unsafe { (*(dst.add(i) as *const AtomicU8)).store(*s.add(i), Ordering::Relaxed) };
        i += 1;
    }
}

/// Shared-to-shared copies larger than this use the word loop (where both sides are equally
/// aligned): `rep movsb` read memory another CPU had just written at a fraction of the loop's
/// speed here (a 1 MiB value handed between two processes: 400–600 µs against 127 µs per
/// retrieve; 4 MiB in one process: 2 against 20 GB/s).
#[cfg(target_arch = "x86_64")]
const REP_MOVSB_SHARED_MAX: usize = 64 << 10;

/// Copies `len` bytes from `src` to `dst` when **both** sides may be memory that other threads
/// or processes access at the same time (a caller's buffer that is itself shared memory, such as
/// a Python buffer), as one piece of a copy of `whole` bytes (see [`copy_out_part`]): every
/// access on both sides is atomic. Where the two sides are not equally aligned the portable path
/// copies byte by byte (on x86-64 only copies under [`REP_MOVSB_MIN`] bytes take it; larger ones
/// use `rep movsb`).
///
/// The ranges may overlap (another process's view of the same object, say): the bytes copied
/// are then unspecified, as with any concurrent writer.
///
/// # Safety
/// `src .. src + len` is mapped and readable and `dst .. dst + len` mapped and writable for the
/// whole call.
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
pub(crate) unsafe fn copy_shared(dst: *mut u8, src: *const u8, len: usize, whole: usize) {
    let aligned = (src as usize ^ dst as usize) % WORD == 0;
    #[cfg(target_arch = "x86_64")]
    if len >= REP_MOVSB_MIN && (whole <= REP_MOVSB_SHARED_MAX || !aligned) {
        // SAFETY: forwarded from the caller.
        return unsafe { rep_movsb(dst, src, len) };
    }
    let head = if aligned {
        src.align_offset(WORD).min(len)
    } else {
        len
    };
    let mut i = 0;
    while i < head {
        // SAFETY: `i < len`: in bounds on both sides (caller); AtomicU8 has u8's layout.
        unsafe { copy_byte(dst, src, i) };
        i += 1;
    }
    // Whole 64-byte blocks (see `copy_block64`).
    #[cfg(target_arch = "x86_64")]
    if aligned {
        let hi = i + (len - i) / 64 * 64;
        while i < hi {
            // SAFETY: `i + 64 <= hi <= len`: the block is in bounds on both sides (the caller).
            unsafe { copy_block64(dst.add(i), src.add(i)) };
            i += 64;
        }
    }
    while i + 4 * WORD <= len {
        // SAFETY: `src + i` and `dst + i` are 8-aligned (equally aligned, i >= head, steps of
        // 8) and `i + 32 <= len`: four whole words in bounds on both sides; AtomicU64 has u64's
        // layout.
        unsafe {
            let s = src.add(i) as *const AtomicU64;
            let d = dst.add(i) as *const AtomicU64;
            let w0 = (*s).load(Ordering::Relaxed);
            let w1 = (*s.add(1)).load(Ordering::Relaxed);
            let w2 = (*s.add(2)).load(Ordering::Relaxed);
            let w3 = (*s.add(3)).load(Ordering::Relaxed);
            (*d).store(w0, Ordering::Relaxed);
            (*d.add(1)).store(w1, Ordering::Relaxed);
            (*d.add(2)).store(w2, Ordering::Relaxed);
            (*d.add(3)).store(w3, Ordering::Relaxed);
        }
        i += 4 * WORD;
    }
    while i + WORD <= len {
        // SAFETY: as above, one word.
        unsafe {
            let v = (*(src.add(i) as *const AtomicU64)).load(Ordering::Relaxed);
            (*(dst.add(i) as *const AtomicU64)).store(v, Ordering::Relaxed);
        }
        i += WORD;
    }
    while i < len {
        // SAFETY: as for the head.
        unsafe { copy_byte(dst, src, i) };
        i += 1;
    }
}

/// Copies byte `i` from `src` to `dst` with atomic accesses.
///
/// # Safety
/// `src + i` is readable and `dst + i` writable.
#[inline]
unsafe fn copy_byte(dst: *mut u8, src: *const u8, i: usize) {
    // SAFETY: forwarded from the caller; AtomicU8 has u8's layout.
    unsafe {
        let v = (*(src.add(i) as *const AtomicU8)).load(Ordering::Relaxed);
        (*(dst.add(i) as *const AtomicU8)).store(v, Ordering::Relaxed);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn aliased_copies_run_backward_and_are_exact() {
        let src: Vec<u8> = (0..9000u32).map(|i| (i * 13 + 5) as u8).collect();
        for off in 0..9 {
            for len in [0, 1, 7, 8, 9, 31, 32, 33, 255, 256, 257, 4999] {
                let mut out = vec![0u8; len];
                // SAFETY: `off + len <= 5008` bytes of `src`, `len` of `out`; private buffers.
                unsafe { copy_out_backward(src.as_ptr().add(off), out.as_mut_ptr(), len) };
                assert_eq!(out, &src[off..off + len], "off {} len {}", off, len);
            }
        }
        // Through `copy_out_part`: a destination 16 bytes past the source modulo 4096.
        let mut dst = vec![0u8; 3 * 4096];
        let s = src.as_ptr();
        let skip = (s as usize + 16).wrapping_sub(dst.as_ptr() as usize) % 4096;
        let d = dst[skip..].as_mut_ptr();
        assert!(aliased_4k(s, d));
        // SAFETY: 4000 bytes of `src`, and of `dst` from `skip < 4096`.
        unsafe { copy_out_part(s, d, 4000, 4000) };
        assert_eq!(&dst[skip..skip + 4000], &src[..4000]);
    }

    #[test]
    fn round_trip_every_alignment_and_both_paths() {
        let src: Vec<u8> = (0..5000u32).map(|i| (i * 7 + 3) as u8).collect();
        for off in 0..9 {
            for len in [
                0, 1, 7, 8, 9, 31, 32, 33, 63, 100, 150, 255, 256, 257, 1000, 4999,
            ] {
                // 8-aligned backing of 6000 bytes, filled with a sentinel.
                let mut shared = vec![0xeeee_eeee_eeee_eeee_u64; 750];
                let base = shared.as_mut_ptr() as *mut u8;
                // SAFETY: off + len <= 5007 < 6000 bytes of `shared`.
                unsafe { copy_in(base.add(off), &src[..len]) };
                let mut out = vec![0u8; len];
                // SAFETY: same range.
                unsafe { copy_out_part(base.add(off), out.as_mut_ptr(), len, len) };
                assert_eq!(out, &src[..len], "off {} len {}", off, len);
                // Shared to shared, equally and unequally aligned, both methods by `whole`.
                for (to, whole) in [(off, len), (off + 1, len), (off, usize::MAX)] {
                    let mut copy = vec![0u64; 750];
                    let dst = (copy.as_mut_ptr() as *mut u8).wrapping_add(to);
                    // SAFETY: `off + len <= 5007` bytes of `shared`, `to + len <= 5008` of
                    // `copy` (6000 bytes each); distinct vectors.
                    unsafe { copy_shared(dst, base.add(off), len, whole) };
                    // SAFETY: `to + len` bytes of `copy`, initialised.
                    let got = unsafe { std::slice::from_raw_parts(dst, len) };
                    assert_eq!(got, &src[..len], "off {} to {} len {}", off, to, len);
                }
                // SAFETY: every index is below 6000.
                let bytes = unsafe { std::slice::from_raw_parts(base, 6000) };
                assert!(
                    bytes[..off].iter().all(|b| *b == 0xee),
                    "wrote before the start"
                );
                assert!(
                    bytes[off + len..].iter().all(|b| *b == 0xee),
                    "wrote past the end"
                );
            }
        }
    }
}
