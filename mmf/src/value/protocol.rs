//! The shared-value protocol: versioned slots, reader pins, the writer lock and the change counter.
//!
//! This module is the part that must be right under every interleaving, so it depends on nothing
//! but the atomics in [`crate::sync`] and two small traits: [`Data`] (the slot bytes) and [`Host`]
//! (process identity, liveness and blocking). The mapped implementation lives in `value/mod.rs`;
//! `value/loom.rs` model-checks this code with in-process memory under `cfg(loom)`.
//!
//! # The protocol in brief (the full description with the byte layout is in `FORMAT.md`)
//!
//! - `Control::current` packs the latest published version (high 56 bits) and the slot that holds
//!   it (low 8 bits). A writer never writes into the current slot.
//! - Each slot has a `seq` word: the version it holds, with [`BUSY`] set while a writer fills it,
//!   and a `pins` word: the number of readers copying it, the time of the last pin, and a
//!   [`WRITER`] bit.
//! - A writer claims a slot with one compare-and-swap on `pins` that sets `WRITER` only if no
//!   fresh pin is there. It then stores `seq = BUSY | v`, a Release fence, the descriptor and the
//!   bytes with relaxed atomics, `seq = v` (Release), clears `WRITER` (Release), and publishes
//!   `current = v << 8 | slot` (Release).
//! - A reader loads `current`, pins the slot with one compare-and-swap on `pins` that fails if
//!   `WRITER` is set, checks `seq == v`, copies, and checks `seq` again after an Acquire fence
//!   (the seqlock read of Boehm, "Can seqlocks get along with programming language memory
//!   models?", 2012). A changed `seq` means the copy may be torn: it is thrown away and the reader
//!   starts again from `current`.
//! - Pin and claim are read-modify-writes of the same word, so they are totally ordered: either
//!   the reader pinned first and the writer leaves the slot alone, or the writer claimed first and
//!   the reader does not copy. A pinned reader that found `seq == v` therefore copies a slot
//!   nobody writes, and finishes on that attempt, unless every non-current slot is pinned (more
//!   concurrent readers of distinct versions than slots − 1), in which case the writer overrides
//!   the oldest pin and that reader retries. A reader otherwise retries only when a store was
//!   published inside the few instructions between its load of `current` and its pin: the cost of
//!   a retry does not grow with the value size, so large values are not starved (the failure mode
//!   of a plain seqlock, where the whole copy is the window).
//! - Pins are hints, never locks: a crashed reader's pin expires after [`PIN_TTL_MS`], and
//!   correctness never depends on them (the `seq` check does). Read-only handles cannot pin; they
//!   rely on the `seq` check and retry.
//! - Writers are serialised by `Control::lock`, which holds the owner's process token (pid and
//!   start time). A waiter that finds the owner dead takes the lock over; a dead writer's slot is
//!   simply never published, so the previous value stays intact. A waiter whose live owner keeps
//!   the lock without releasing it for the caller's patience (a stopped or hung process, or a
//!   damaged lock word naming a live one) gives up with [`Lock::Busy`] and changes nothing.

use crate::sync::{fence, AtomicU32, AtomicU64, Ordering};
use crate::sys;
use std::time::{Duration, Instant};

/// Set in a slot's `seq` while a writer fills it.
pub(crate) const BUSY: u64 = 1 << 63;
/// The largest version (56 bits).
pub(crate) const MAX_VERSION: u64 = (1 << 56) - 1;
/// How long a reader's pin protects its slot.
pub(crate) const PIN_TTL_MS: u64 = 5_000;
/// In a slot's `pins` word: a writer is filling the slot.
pub(crate) const WRITER: u64 = 0x8000;
const PIN_COUNT: u64 = 0x7fff;
const PIN_TIME_BITS: u32 = 48;
const PIN_TIME_MASK: u64 = (1 << PIN_TIME_BITS) - 1;
/// How often a writer waiting for the lock re-checks that its owner is alive.
pub(crate) const LOCK_POLL: Duration = Duration::from_millis(10);
/// Spins before a lock waiter sleeps in the kernel (none under loom, where spinning only grows
/// the state space).
const LOCK_SPINS: u32 = if cfg!(loom) { 0 } else { 100 };

/// The live part of the header, at byte 64 of the object, in two cache lines: the first holds
/// what readers poll and what waiters count in, the second what only writers touch, so a spinning
/// reader does not pull the writer's lock line away from it. All fields are little-endian.
#[repr(C)]
pub(crate) struct Control {
    /// Latest published version << 8 | its slot; 0 before the first store.
    pub current: AtomicU64,
    /// Incremented after every publish; the futex word readers wait on.
    pub notify: AtomicU32,
    /// Handles blocked in `wait_newer` or registered for an async wait (a hint: the writer wakes
    /// only when non-zero). Read-only handles count themselves through a second, writable
    /// mapping where they may.
    pub waiters: AtomicU32,
    /// The length of the value in each inline buffer (in the readers' line, so a reader of an
    /// inline value touches one more line: the buffer's).
    pub inline_len: [AtomicU64; 2],
    /// Zero; reserved (pads the readers' line to 64 bytes).
    pub reserved_readers: [AtomicU64; 4],
    /// The writer lock: 0, or the owner's process token.
    pub lock: AtomicU64,
    /// Incremented when the lock is released; the futex word lock waiters sleep on.
    pub lock_notify: AtomicU32,
    /// Writers sleeping for the lock.
    pub lock_waiters: AtomicU32,
    /// The last version handed to a writer (published or not): versions are never reused.
    pub next_version: AtomicU64,
    /// End of the allocated data area.
    pub data_end: AtomicU64,
    /// Bytes in regions larger than [`LARGE`], as the last trim or allocation left them: a
    /// hint that tells a store whether trimming could free anything (a writer killed in the
    /// middle leaves it stale until the next trim recounts).
    pub large: AtomicU64,
    /// Bytes in slot regions of any size (a hint, raised before every allocation and recounted
    /// by every trim): a store of an inline value frees the regions only when it is non-zero.
    pub regions: AtomicU64,
    /// Zero; reserved (pads the writers' line to 64 bytes).
    pub reserved_writers: [AtomicU64; 2],
}

/// One inline buffer, at byte 192 + 128·b: a value of up to [`INLINE_MAX`] bytes, as
/// little-endian 8-byte words (the last one padded with zeros).
#[repr(C)]
pub(crate) struct Inline {
    pub words: [AtomicU64; INLINE_WORDS],
}

/// The largest value stored inline.
pub(crate) const INLINE_MAX: u64 = super::format::INLINE_MAX as u64;
const INLINE_WORDS: usize = super::format::INLINE_MAX / 8;
use super::format::INLINE_TAG;

/// One slot descriptor, at byte 448 + 64·i.
#[repr(C)]
pub(crate) struct Slot {
    /// The version held, with [`BUSY`] while it is written; 0 when empty.
    pub seq: AtomicU64,
    /// Object offset of the slot's data region.
    pub offset: AtomicU64,
    /// Size of the data region.
    pub cap: AtomicU64,
    /// Length of the value held.
    pub len: AtomicU64,
    /// Reader pins: count (bits 0-14) | [`WRITER`] (bit 15) | time of the last pin in ms
    /// (bits 16-63).
    pub pins: AtomicU64,
    /// Zero; reserved.
    pub reserved: [AtomicU64; 3],
}

#[cfg(not(loom))]
const _: () = {
    assert!(std::mem::size_of::<Control>() == 128);
    assert!(std::mem::size_of::<Slot>() == super::format::SLOT_SIZE);
    assert!(std::mem::size_of::<Inline>() == super::format::INLINE_MAX);
};

/// The bytes of the object, by object offset.
pub(crate) trait Data {
    /// How many bytes from offset 0 are accessible.
    fn len(&self) -> u64;
    /// Copies `dst.len()` bytes at `offset` into `dst`; `false` if out of range.
    fn read(&self, offset: u64, dst: &mut [u8]) -> bool;
    /// Copies `src` to `offset`; `false` if out of range.
    fn write(&self, offset: u64, src: &[u8]) -> bool;
    /// Gives the memory of the whole pages inside `offset..offset + len` (a freed region) back
    /// to the system; they read as zeros afterwards and are provided again when written. Best
    /// effort: where the platform cannot, the memory simply stays.
    fn release(&self, offset: u64, len: u64);
}

/// What the protocol needs from the platform.
pub(crate) trait Host {
    /// This process's token: never 0, the same for every thread of the process.
    fn token(&self) -> u64;
    /// `false` only when the process that `token` names has surely exited.
    fn alive(&self, token: u64) -> bool;
    /// Blocks while `word == expected`, at most `timeout`; `false` if the timeout passed.
    fn wait(&self, word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> bool;
    /// Wakes every waiter on `word`.
    fn wake(&self, word: &AtomicU32);
    /// Whether writers wake on every store (waking nobody costs nothing here), not only when
    /// `waiters` is non-zero.
    fn wake_always(&self) -> bool;
    /// Milliseconds on a clock shared by every process of the machine (for pin ages).
    fn now_ms(&self) -> u64;
    /// `true` when the shared memory may have been replaced by zeros under this operation (the
    /// object was truncated; see `sys/linux/fault.rs`): a wait gives up at once, so the caller can
    /// report it. Loops that only read terminate on zeroed state anyway (`current == 0` is
    /// `Empty`; a zeroed lock is free).
    fn abandoned(&self) -> bool {
        false
    }
}

/// Where a read puts the value.
pub(crate) enum Dest<'a> {
    /// Resized to the value's length.
    Vec(&'a mut Vec<u8>),
    /// Must have exactly the value's length.
    Exact(&'a mut [u8]),
}

/// The result of [`Region::read`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Read {
    /// The value of this version was copied whole.
    Value(u64),
    /// Nothing has been stored yet.
    Empty,
    /// The current slot lies past the accessible bytes: map at least this much and retry.
    Remap(u64),
    /// The value has this length, which is not the exact destination's.
    WrongLength(u64),
    /// The live state contradicts itself.
    Corrupt(&'static str),
}

/// The result of [`Region::lock`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Lock {
    /// Taken: it was free, or its owner released it.
    Taken,
    /// Taken over from an owner that had died holding it.
    TakenOver,
    /// `owner` (a process token, alive or unknown, possibly this process's own) held it without
    /// releasing it for `waited`, at least the patience given: not taken.
    Busy { owner: u64, waited: Duration },
}

/// The result of [`Region::store`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Store {
    /// Published as this version.
    Done(u64),
    /// The object must be grown to at least this many bytes first; nothing was changed. Call
    /// again afterwards.
    Grow(u64),
    /// Another writer grew the object: map at least this many bytes (without growing it; less
    /// means the object is damaged) and call again.
    Remap(u64),
    /// The live state contradicts itself.
    Corrupt(&'static str),
    /// 2^56 versions were used.
    Exhausted,
}

/// A published version held for a read: see [`Region::hold`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Held {
    /// The `current` word the hold was taken from.
    pub current: u64,
    /// The version held.
    pub version: u64,
    /// Its slot (unused for an inline value).
    pub slot: usize,
    /// Whether this hold pinned the slot (and must unpin it).
    pub pinned: bool,
    /// Object offset of the value (unused for an inline value).
    pub offset: u64,
    /// Its length.
    pub len: u64,
    /// An inline value, copied out whole and validated when the hold was taken: the hold reads
    /// this copy, so no store can take it away.
    pub inline: Option<[u8; INLINE_MAX as usize]>,
}

/// A slot claimed by the writer-lock holder for a new version: see [`Region::begin`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Claim {
    /// The slot.
    pub slot: usize,
    /// The version it will publish.
    pub version: u64,
    /// Object offset of its data region.
    pub offset: u64,
    /// Size of its data region.
    pub cap: u64,
    /// Whether a region was allocated for it (then publishing trims the other slots).
    pub allocated: bool,
}

/// Regions larger than this are page-aligned, sized to their value, and freed (their memory given
/// back to the system) when no slot needs them; smaller ones stay with their slot.
pub(crate) const LARGE: u64 = if cfg!(loom) { 32 } else { 64 << 10 };
// (Under loom, 32 bytes: the models' 64-byte regions count as large, so trimming is checked.)
/// The alignment of large regions: the smallest page size mmf supports (where pages are larger,
/// only the whole pages inside a freed region are given back). (Under loom, the data alignment:
/// the models' memory is a few 64-byte regions.)
const LARGE_ALIGN: u64 = if cfg!(loom) { 64 } else { 4096 };

fn region_align(cap: u64) -> u64 {
    if cap > LARGE {
        LARGE_ALIGN
    } else {
        super::format::DATA_ALIGN
    }
}

fn align_up(n: u64, align: u64) -> Option<u64> {
    n.checked_add(align - 1).map(|x| x & !(align - 1))
}

/// Whether a region of `cap` bytes should take a value of `len` bytes: large enough, and not so
/// large that most of it would hold nothing (then a region of the value's size is allocated and
/// the large one freed).
fn fits(cap: u64, len: u64) -> bool {
    cap >= len && !(cap > LARGE && cap / 4 > len)
}

/// The capacity of a new region for `len` bytes in a slot whose region had `old` bytes: small
/// regions double (fewer moves for a value that grows a little at a time), large ones fit the
/// value, page-rounded.
fn new_capacity(len: u64, old: u64) -> Option<u64> {
    let doubled = old.saturating_mul(2);
    if len <= LARGE && doubled <= LARGE {
        super::format::align_data(len.max(doubled))
    } else {
        align_up(len, region_align(len))
    }
}

/// What pinning a slot gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pin {
    /// Pinned: no writer will claim the slot while the pin is fresh.
    Pinned,
    /// Not pinned (read-only handle, or the count is saturated): the copy is only validated.
    Unprotected,
    /// A writer is filling the slot: do not copy.
    Busy,
}

/// Why reads started again (for tests).
#[derive(Debug, Default)]
pub(crate) struct Retries {
    /// The slot changed while it was copied: the copy was thrown away.
    pub torn: u32,
    /// The slot had been reused before the copy started.
    pub moved: u32,
}

/// A view of one value's control block, inline buffers, slot descriptors and data.
pub(crate) struct Region<'a, D: Data> {
    pub control: &'a Control,
    pub inline: &'a [Inline; 2],
    pub slots: &'a [Slot],
    pub data: &'a D,
    /// Where data regions may start (the header size).
    pub data_start: u64,
    /// Whether this handle may write the shared memory (pins, waiter counts).
    pub writable: bool,
}

fn pin_fresh(word: u64, now: u64) -> bool {
    if word & PIN_COUNT == 0 {
        return false;
    }
    let age = now.wrapping_sub(word >> 16) & PIN_TIME_MASK;
    if age < 1 << (PIN_TIME_BITS - 1) {
        age < PIN_TTL_MS
    } else {
        // The pin is from the future: the clock went back. Fresh if only a little.
        (PIN_TIME_MASK + 1 - age) < PIN_TTL_MS
    }
}

fn pin_time(word: u64) -> u64 {
    word >> 16
}

impl<'a, D: Data> Region<'a, D> {
    /// The latest published version (0: none).
    pub(crate) fn version(&self) -> u64 {
        self.control.current.load(Ordering::Relaxed) >> 8
    }

    fn pin(&self, slot: &Slot, now: u64) -> Pin {
        let mut w = slot.pins.load(Ordering::Relaxed);
        loop {
            if w & WRITER != 0 {
                return Pin::Busy;
            }
            let count = w & PIN_COUNT;
            if count == PIN_COUNT {
                return Pin::Unprotected; // saturated by crashed readers
            }
            let new = ((now & PIN_TIME_MASK) << 16) | (count + 1);
            match slot
                .pins
                .compare_exchange(w, new, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return Pin::Pinned,
                Err(x) => w = x,
            }
        }
    }

    fn unpin(&self, slot: &Slot) {
        let mut w = slot.pins.load(Ordering::Relaxed);
        while w & PIN_COUNT != 0 {
            // Release: the copy happens before a writer's claim that sees the pin gone.
            match slot
                .pins
                .compare_exchange(w, w - 1, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(x) => w = x,
            }
        }
    }

    /// Claims a slot for writing unless a fresh pin protects it (`force` ignores pins).
    fn claim(&self, slot: &Slot, force: bool, now: u64) -> bool {
        let mut w = slot.pins.load(Ordering::Relaxed);
        loop {
            if !force && pin_fresh(w, now) {
                return false;
            }
            match slot
                .pins
                .compare_exchange(w, w | WRITER, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(x) => w = x,
            }
        }
    }

    /// Copies the latest value into `dest`. Never blocks; retries only after a concurrent store.
    pub(crate) fn read<H: Host>(&self, host: &H, dest: &mut Dest<'_>) -> Read {
        self.read_counted(host, dest, &mut Retries::default())
    }

    /// [`read`](Self::read), counting why it started again.
    pub(crate) fn read_counted<H: Host>(
        &self,
        host: &H,
        dest: &mut Dest<'_>,
        retries: &mut Retries,
    ) -> Read {
        let mut strikes = 0;
        loop {
            let held = match self.hold_counted(host, retries) {
                Ok(h) => h,
                Err(r) => return r,
            };
            let outcome = self.copy(&held, dest);
            self.release(&held);
            if let Some(result) = outcome {
                return match result {
                    Ok(()) => Read::Value(held.version),
                    Err(r) => r,
                };
            }
            retries.torn += 1;
            if self.stuck(held.current, &mut strikes) {
                return Read::Corrupt("the current slot does not hold the current version");
            }
        }
    }

    /// After an attempt that found its slot reused: whether `current` has still not moved, for
    /// the third time. The slot was reused, so a newer version must have been published first;
    /// if `current` has not moved, the state is inconsistent (a damaged header).
    fn stuck(&self, cur: u64, strikes: &mut u32) -> bool {
        fence(Ordering::Acquire);
        if self.control.current.load(Ordering::Relaxed) == cur {
            *strikes += 1;
        }
        std::hint::spin_loop();
        *strikes >= 3
    }

    /// Holds the latest version for a read that takes its time (a streamed read): its slot is
    /// pinned (if this handle can pin) and its place in the object is known. The bytes are
    /// trusted only after [`stable`](Self::stable) confirms them; [`release`](Self::release)
    /// ends the hold. `Err` is [`Read::Empty`], [`Read::Remap`] or [`Read::Corrupt`].
    pub(crate) fn hold<H: Host>(&self, host: &H) -> Result<Held, Read> {
        self.hold_counted(host, &mut Retries::default())
    }

    fn hold_counted<H: Host>(&self, host: &H, retries: &mut Retries) -> Result<Held, Read> {
        let mut strikes = 0;
        loop {
            // Relaxed loads followed by Acquire fences work on read-only mappings, where only
            // relaxed loads are guaranteed not to write (std::sync::atomic, "read-only memory").
            let cur = self.control.current.load(Ordering::Relaxed);
            fence(Ordering::Acquire);
            if cur == 0 {
                return Err(Read::Empty);
            }
            let version = cur >> 8;
            if cur & INLINE_TAG != 0 {
                match self.hold_inline(cur) {
                    Some(held) => return held,
                    None => retries.torn += 1,
                }
                if self.stuck(cur, &mut strikes) {
                    return Err(Read::Corrupt(
                        "the current inline value changed while the version did not",
                    ));
                }
                continue;
            }
            let index = (cur & 0xff) as usize;
            let slot = match self.slots.get(index) {
                Some(s) => s,
                None => {
                    return Err(Read::Corrupt(
                        "the current version names a slot that does not exist",
                    ))
                }
            };
            let pin = if self.writable {
                self.pin(slot, host.now_ms())
            } else {
                Pin::Unprotected
            };
            let seq0 = slot.seq.load(Ordering::Relaxed);
            fence(Ordering::Acquire);
            if seq0 == version && pin != Pin::Busy {
                let held = Held {
                    current: cur,
                    version,
                    slot: index,
                    pinned: pin == Pin::Pinned,
                    offset: slot.offset.load(Ordering::Relaxed),
                    len: slot.len.load(Ordering::Relaxed),
                    inline: None,
                };
                let end = held.offset.checked_add(held.len);
                let inside = match end {
                    Some(e) => held.offset >= self.data_start && e <= self.data.len(),
                    None => false,
                };
                if inside {
                    return Ok(held);
                }
                let stable = self.stable(&held);
                self.release(&held);
                if stable {
                    return Err(match end {
                        Some(e) if held.offset >= self.data_start => Read::Remap(e),
                        _ => Read::Corrupt("a slot points outside the object"),
                    });
                }
                retries.torn += 1;
            } else {
                if pin == Pin::Pinned {
                    self.unpin(slot);
                }
                retries.moved += 1;
            }
            if self.stuck(cur, &mut strikes) {
                return Err(Read::Corrupt(
                    "the current slot does not hold the current version",
                ));
            }
        }
    }

    /// One validated copy of the inline value that `cur` (tagged [`INLINE_TAG`]) names: `None`
    /// if `current` moved meanwhile (retry), `Some(Err)` for a damaged word.
    ///
    /// The seqlock read with `current` as the sequence: a writer only fills the buffer that
    /// `current` does not name, after a Release fence that follows its look at `current`; a
    /// reader that copied any byte of such a store sees (after its Acquire fence) `current`
    /// moved, since it moved before that writer looked. Versions only increase, so an unchanged
    /// `current` means no store touched the buffer during the copy.
    fn hold_inline(&self, cur: u64) -> Option<Result<Held, Read>> {
        let b = (cur & 0xff & !INLINE_TAG) as usize;
        let moved = |c: &Control| {
            fence(Ordering::Acquire);
            c.current.load(Ordering::Relaxed) != cur
        };
        let (inline, len_word) = match (self.inline.get(b), self.control.inline_len.get(b)) {
            (Some(i), Some(l)) => (i, l),
            _ => {
                if moved(self.control) {
                    return None;
                }
                return Some(Err(Read::Corrupt(
                    "the current version names an inline buffer that does not exist",
                )));
            }
        };
        let len = len_word.load(Ordering::Relaxed);
        let mut copy = [0u8; INLINE_MAX as usize];
        if len <= INLINE_MAX {
            let words = (len as usize + 7) / 8;
            for (w, out) in inline.words[..words].iter().zip(copy.chunks_exact_mut(8)) {
                out.copy_from_slice(&w.load(Ordering::Relaxed).to_le_bytes());
            }
        }
        if moved(self.control) {
            return None;
        }
        if len > INLINE_MAX {
            return Some(Err(Read::Corrupt(
                "an inline value is longer than its buffer",
            )));
        }
        Some(Ok(Held {
            current: cur,
            version: cur >> 8,
            slot: 0,
            pinned: false,
            offset: 0,
            len,
            inline: Some(copy),
        }))
    }

    /// Whether the held slot still holds its version: after an Acquire fence, so every byte
    /// copied before this call is validated by a `true`. (An inline value was copied whole and
    /// validated when it was held.)
    pub(crate) fn stable(&self, held: &Held) -> bool {
        if held.inline.is_some() {
            return true;
        }
        fence(Ordering::Acquire);
        self.slots[held.slot].seq.load(Ordering::Relaxed) == held.version
    }

    /// Ends a hold (unpins its slot).
    pub(crate) fn release(&self, held: &Held) {
        if held.pinned {
            self.unpin(&self.slots[held.slot]);
        }
    }

    /// Renews the time of a held pin, so that it stays fresh through a read that takes longer
    /// than [`PIN_TTL_MS`]. `false` if a writer has claimed the slot (the pin had expired, or
    /// every other slot was pinned): the hold is lost.
    pub(crate) fn renew(&self, held: &Held, now: u64) -> bool {
        if held.inline.is_some() {
            return true; // a copy: nothing to keep
        }
        let slot = &self.slots[held.slot];
        let mut w = slot.pins.load(Ordering::Relaxed);
        loop {
            if w & WRITER != 0 {
                return false;
            }
            if !held.pinned || w & PIN_COUNT == 0 {
                return true;
            }
            let new = ((now & PIN_TIME_MASK) << 16) | (w & PIN_COUNT);
            match slot
                .pins
                .compare_exchange(w, new, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(x) => w = x,
            }
        }
    }

    /// Copies `dst.len()` bytes at `at` of the held value into `dst` (validate with
    /// [`stable`](Self::stable) afterwards); `false` if they lie outside the object.
    pub(crate) fn read_held(&self, held: &Held, at: u64, dst: &mut [u8]) -> bool {
        if let Some(copy) = &held.inline {
            return match at.checked_add(dst.len() as u64) {
                Some(end) if end <= held.len => {
                    dst.copy_from_slice(&copy[at as usize..end as usize]);
                    true
                }
                _ => false,
            };
        }
        match held.offset.checked_add(at) {
            Some(o) => self.data.read(o, dst),
            None => false,
        }
    }

    /// One validated copy of a held value: `None` if the slot changed (retry), `Some(Err)` for a
    /// stable problem.
    fn copy(&self, held: &Held, dest: &mut Dest<'_>) -> Option<Result<(), Read>> {
        // `hold` checked `offset + len <= data.len()`, a mapped length, so `len` fits in usize.
        let len = held.len as usize;
        if let Some(copy) = &held.inline {
            match dest {
                Dest::Vec(v) => {
                    v.clear();
                    v.extend_from_slice(&copy[..len]);
                }
                Dest::Exact(b) if b.len() == len => b.copy_from_slice(&copy[..len]),
                Dest::Exact(_) => return Some(Err(Read::WrongLength(held.len))),
            }
            return Some(Ok(()));
        }
        let copied = match dest {
            Dest::Vec(v) => {
                // Only a new tail is zero-filled: bytes already there are overwritten by the copy,
                // so a buffer reused for values of one size is never cleared first.
                v.resize(len, 0);
                self.data.read(held.offset, v)
            }
            Dest::Exact(b) => {
                if b.len() != len {
                    if !self.stable(held) {
                        return None;
                    }
                    return Some(Err(Read::WrongLength(held.len)));
                }
                self.data.read(held.offset, b)
            }
        };
        if !self.stable(held) {
            return None;
        }
        if !copied {
            return Some(Err(Read::Corrupt("a slot points outside the object")));
        }
        Some(Ok(()))
    }

    /// Takes the writer lock, waiting for a live owner and taking over from a dead one.
    ///
    /// `patience` bounds how long one owner may keep the lock while this waits: the clock
    /// restarts whenever the lock is released (`lock_notify` moves), so a waiter that loses races
    /// to writers that each hold the lock briefly keeps waiting, while an owner that holds it for
    /// `patience` without releasing it (stopped, hung, or a damaged lock word naming a live
    /// process) makes this return [`Lock::Busy`]. `None` waits without limit.
    pub(crate) fn lock<H: Host>(&self, host: &H, patience: Option<Duration>) -> Lock {
        let c = self.control;
        let me = host.token();
        let mut spins = 0;
        let mut check_owner = false;
        // The last release seen, and when this waiter first saw the lock held since then.
        let mut since: Option<(u32, Instant)> = None;
        loop {
            let seen = c.lock_notify.load(Ordering::Relaxed);
            let owner = c.lock.load(Ordering::Relaxed);
            if owner == 0 {
                if c.lock
                    .compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return Lock::Taken;
                }
                continue;
            }
            if check_owner && owner != me && !host.alive(owner) {
                if c.lock
                    .compare_exchange(owner, me, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return Lock::TakenOver;
                }
                continue;
            }
            if patience.is_some() && since.map_or(true, |(n, _)| n != seen) {
                // The first look, or the lock was released since: the clock (re)starts.
                since = Some((seen, Instant::now()));
            }
            if let (true, Some(limit), Some((_, start))) = (check_owner, patience, since) {
                let waited = start.elapsed();
                if waited >= limit {
                    return Lock::Busy { owner, waited };
                }
            }
            if spins < LOCK_SPINS {
                spins += 1;
                std::hint::spin_loop();
                continue;
            }
            c.lock_waiters.fetch_add(1, Ordering::Relaxed);
            fence(Ordering::SeqCst);
            let woken = c.lock.load(Ordering::Relaxed) != owner
                || host.wait(&c.lock_notify, seen, Some(LOCK_POLL));
            c.lock_waiters.fetch_sub(1, Ordering::Relaxed);
            // A sleep that ran out means nobody released the lock for LOCK_POLL: look at the
            // owner, so a dead one is found within LOCK_POLL, and at the clock.
            check_owner = !woken;
        }
    }

    /// Releases the writer lock (if this process still holds it) and wakes lock waiters.
    pub(crate) fn unlock<H: Host>(&self, host: &H) {
        let c = self.control;
        let _ = c
            .lock
            .compare_exchange(host.token(), 0, Ordering::Release, Ordering::Relaxed);
        c.lock_notify.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if c.lock_waiters.load(Ordering::Relaxed) > 0 {
            host.wake(&c.lock_notify);
        }
    }

    /// Stores `bytes` as a new version: inline if it has at most [`INLINE_MAX`] bytes, else in a
    /// slot. The caller holds the writer lock.
    pub(crate) fn store<H: Host>(&self, host: &H, bytes: &[u8]) -> Store {
        let len = bytes.len() as u64;
        if len <= INLINE_MAX {
            return self.store_inline(host, bytes);
        }
        self.store_slot(host, bytes)
    }

    /// Stores `bytes` as a new version in a slot, whatever its size. The caller holds the writer
    /// lock.
    pub(crate) fn store_slot<H: Host>(&self, host: &H, bytes: &[u8]) -> Store {
        let len = bytes.len() as u64;
        let claim = match self.begin(host, len) {
            Ok(c) => c,
            Err(s) => return s,
        };
        if !self.data.write(claim.offset, bytes) {
            self.abandon(&claim);
            return Store::Corrupt("a slot points outside the object");
        }
        Store::Done(self.publish(host, &claim, len))
    }

    /// The version a new store takes: past both `next_version` (in shared memory, so it may hold
    /// anything: no overflow, no wrap to 0) and `current`.
    fn next_version(&self, cur: u64) -> Result<u64, Store> {
        match self
            .control
            .next_version
            .load(Ordering::Relaxed)
            .max(cur >> 8)
            .checked_add(1)
        {
            Some(v) if v <= MAX_VERSION => Ok(v),
            _ => Err(Store::Exhausted),
        }
    }

    /// Stores a value of at most [`INLINE_MAX`] bytes in the inline buffer that `current` does
    /// not name, then publishes it; no slot is touched. A writer killed before the publish
    /// leaves `current` on the previous value, whose buffer (or slot) it never wrote. Afterwards
    /// the slots' regions, which no longer hold the current value, are freed (see
    /// [`trim`](Self::trim)) if there are any. The caller holds the writer lock.
    pub(crate) fn store_inline<H: Host>(&self, host: &H, bytes: &[u8]) -> Store {
        let c = self.control;
        let len = bytes.len() as u64;
        if len > INLINE_MAX {
            return Store::Corrupt("an inline value must have at most 128 bytes");
        }
        let cur = c.current.load(Ordering::Relaxed);
        let version = match self.next_version(cur) {
            Ok(v) => v,
            Err(s) => return s,
        };
        let b = if cur != 0 && cur & INLINE_TAG != 0 {
            (!cur & 1) as usize
        } else {
            0
        };
        c.next_version.store(version, Ordering::Relaxed);
        // The seqlock writer's fence (see `hold_inline`): a reader that sees any word written
        // below also sees `current` past the value it names now.
        fence(Ordering::Release);
        for (w, piece) in self.inline[b].words.iter().zip(bytes.chunks(8)) {
            let mut word = [0u8; 8];
            word[..piece.len()].copy_from_slice(piece);
            w.store(u64::from_le_bytes(word), Ordering::Relaxed);
        }
        c.inline_len[b].store(len, Ordering::Relaxed);
        self.announce(host, (version << 8) | INLINE_TAG | b as u64);
        // Objects that cannot give memory back keep their regions (see `publish`).
        if sys::OBJECTS_GIVE_BACK && c.regions.load(Ordering::Relaxed) > 0 {
            self.trim(host, None);
        }
        Store::Done(version)
    }

    /// Claims a slot for a new version of `len` bytes (a hint for a value of unknown length:
    /// [`extend`](Self::extend) makes room as it comes) and gives it a data region of at least
    /// `len` bytes. The caller holds the writer lock, fills the region with
    /// [`Data::write`], then calls [`publish`](Self::publish) or [`abandon`](Self::abandon).
    /// `Err` is never [`Store::Done`]; after `Err` nothing was changed.
    pub(crate) fn begin<H: Host>(&self, host: &H, len: u64) -> Result<Claim, Store> {
        let c = self.control;
        let n = self.slots.len();
        let cur = c.current.load(Ordering::Relaxed);
        // An inline current value leaves every slot free.
        let cur_slot = if cur == 0 || cur & INLINE_TAG != 0 {
            None
        } else {
            Some((cur & 0xff) as usize)
        };
        let data_end = self.data_end()?;
        let version = self.next_version(cur)?;
        let now = host.now_ms();
        // Slots found pinned after a claim.
        let mut refused: u64 = 0;
        // First look only at the slot after the current one: when stores take the slots in turn
        // it holds the oldest version, and looking at no other slot leaves their cache lines with
        // the readers that pinned them. (It is never the current slot: there are at least two.)
        let mut next_in_turn = Some(cur_slot.map_or(0, |c| (c + 1) % n));
        loop {
            let force = (0..n).all(|i| Some(i) == cur_slot || refused & (1 << i) != 0);
            let quick = next_in_turn.take().filter(|&i| {
                let s = &self.slots[i];
                !pin_fresh(s.pins.load(Ordering::Relaxed), now)
                    && self
                        .region_ok(s, data_end)
                        .map_or(false, |(_, cap)| fits(cap, len))
            });
            let i =
                match quick.or_else(|| self.choose(cur_slot, force, refused, data_end, len, now)) {
                    Some(i) => i,
                    None => return Err(Store::Corrupt("no slot can take the value")),
                };
            let slot = &self.slots[i];
            let (offset, cap, moved) = match self.region_ok(slot, data_end) {
                Some((off, cap)) if fits(cap, len) => (off, cap, None),
                old => {
                    let old_cap = old.map_or(0, |(_, cap)| cap);
                    let cap = new_capacity(len, old_cap).ok_or(Store::Grow(u64::MAX))?;
                    match (self.place(cap, data_end), old) {
                        // An oversized region that holds the value is used rather than grow the
                        // object for a smaller one; in an object that cannot give memory
                        // back (Windows sections), always: its space is never given back, and a
                        // large value must find its region again.
                        (Err(Store::Grow(_)), Some((off, old_cap))) if old_cap >= len => {
                            (off, old_cap, None)
                        }
                        (_, Some((off, old_cap))) if old_cap >= len && !sys::OBJECTS_GIVE_BACK => {
                            (off, old_cap, None)
                        }
                        (placed, _) => {
                            let (off, end) = placed?;
                            (off, cap, Some((end, old)))
                        }
                    }
                }
            };
            if !self.claim(slot, force, now) {
                // A reader pinned it since we looked: leave it alone.
                refused |= 1 << i;
                continue;
            }
            // Never reuse a version, even one a dead writer claimed and never published.
            c.next_version.store(version, Ordering::Relaxed);
            slot.seq.store(BUSY | version, Ordering::Relaxed);
            // The seqlock writer's fence: a reader that sees any byte written below also sees
            // BUSY (or later) when it checks `seq` after its copy.
            fence(Ordering::Release);
            if let Some((end, old)) = moved {
                self.count_region(cap);
                self.move_region(slot, offset, cap, end, data_end);
                if let Some((off, cap)) = old {
                    self.data.release(off, cap);
                }
            }
            return Ok(Claim {
                slot: i,
                version,
                offset,
                cap,
                allocated: moved.is_some(),
            });
        }
    }

    /// The end of the allocated data area, checked: it lies past the header, aligned, and inside
    /// this mapping (else the object grew and the caller remaps).
    fn data_end(&self) -> Result<u64, Store> {
        let data_end = self.control.data_end.load(Ordering::Relaxed);
        if data_end < self.data_start || data_end % super::format::DATA_ALIGN != 0 {
            return Err(Store::Corrupt(
                "the data end lies inside the header or is misaligned",
            ));
        }
        if data_end > self.data.len() {
            return Err(Store::Remap(data_end));
        }
        Ok(data_end)
    }

    /// Raises the `regions` hint before a region of `cap` bytes is allocated (so a writer killed
    /// after the allocation leaves a hint that makes the next inline store look).
    fn count_region(&self, cap: u64) {
        let r = &self.control.regions;
        r.store(
            r.load(Ordering::Relaxed).saturating_add(cap),
            Ordering::Relaxed,
        );
    }

    /// Points a claimed slot at a new region, growing the data end first if the region lies past
    /// it. The capacity is zero in between, so a writer killed here leaves an empty region, never
    /// one that overlaps another slot's; at worst a gap nobody uses until it is allocated again.
    fn move_region(&self, slot: &Slot, offset: u64, cap: u64, end: u64, data_end: u64) {
        if end > data_end {
            self.control.data_end.store(end, Ordering::Relaxed);
        }
        slot.cap.store(0, Ordering::Relaxed);
        slot.offset.store(offset, Ordering::Relaxed);
        slot.cap.store(cap, Ordering::Relaxed);
    }

    /// The data regions of every slot (those of capacity 0 hold none), sorted by offset.
    /// `Corrupt` if one lies outside the data area or two overlap: an allocation next to them
    /// could overwrite a published value.
    fn regions(&self, data_end: u64) -> Result<Vec<(u64, u64)>, Store> {
        let mut v = Vec::with_capacity(self.slots.len());
        for s in self.slots {
            let cap = s.cap.load(Ordering::Relaxed);
            if cap == 0 {
                continue;
            }
            match self.region_ok(s, data_end) {
                Some(r) => v.push(r),
                None => return Err(Store::Corrupt("a slot's region lies outside the data area")),
            }
        }
        v.sort_unstable();
        if v.windows(2).any(|w| w[0].0 + w[0].1 > w[1].0) {
            return Err(Store::Corrupt("two slots' data regions overlap"));
        }
        Ok(v)
    }

    /// Where a new region of `cap` bytes goes: the first gap between the slots' regions (every
    /// slot's, the claimed one's included) that holds it, else the end of the data area, which
    /// grows. Returns the offset and the new data end (`data_end` if it does not move).
    /// `Err(Grow(n))`: the object must first grow to `n` bytes.
    fn place(&self, cap: u64, data_end: u64) -> Result<(u64, u64), Store> {
        let align = region_align(cap);
        let mut at = self.data_start;
        for (off, len) in self.regions(data_end)? {
            let start = align_up(at, align).ok_or(Store::Grow(u64::MAX))?;
            if start.checked_add(cap).map_or(false, |e| e <= off) {
                return Ok((start, data_end));
            }
            at = at.max(off + len);
        }
        let start = align_up(at, align).ok_or(Store::Grow(u64::MAX))?;
        let end = start.checked_add(cap).ok_or(Store::Grow(u64::MAX))?;
        let end = end.max(data_end);
        if end > self.data.len() {
            return Err(Store::Grow(end));
        }
        Ok((start, end))
    }

    /// Makes the claimed region hold at least `need` bytes, keeping its filled bytes: in place
    /// when the space after it is free (growing the object when it ends the data area), else as
    /// a new region, whose old offset and capacity are returned: the caller copies the bytes it
    /// has filled so far across, then gives the old region back ([`Data::release`]). The caller
    /// holds the lock. After `Err` ([`Store::Grow`]: grow the object first; [`Store::Remap`],
    /// [`Store::Corrupt`]) nothing was changed.
    pub(crate) fn extend(&self, claim: &mut Claim, need: u64) -> Result<Option<(u64, u64)>, Store> {
        if need <= claim.cap {
            return Ok(None);
        }
        let c = self.control;
        let data_end = self.data_end()?;
        let slot = &self.slots[claim.slot];
        let mine_end = claim.offset + claim.cap;
        // The free space after the claimed region: up to the next region, or unbounded (the
        // object grows) when none follows.
        let next = self
            .regions(data_end)?
            .into_iter()
            .map(|(off, _)| off)
            .filter(|&off| off >= mine_end)
            .min();
        // In place, growth costs no copy: a large region grows by a quarter (at least 1 MiB),
        // so the object ends close to the value; a small one doubles (a small value streamed
        // into a new object, whose region ends the data area, keeps a small object). A move
        // copies, so double.
        let grown = if claim.cap < 1 << 20 {
            claim.cap.saturating_mul(2)
        } else {
            claim.cap.saturating_add((claim.cap / 4).max(1 << 20))
        };
        let in_place = claim.cap > 0
            && match next {
                None => true,
                Some(n) => claim.offset.checked_add(need).map_or(false, |e| e <= n),
            };
        if in_place {
            let cap = match next {
                None => align_up(need.max(grown), region_align(grown)),
                Some(n) => Some(n - claim.offset),
            }
            .ok_or(Store::Grow(u64::MAX))?;
            let end = claim.offset.checked_add(cap).ok_or(Store::Grow(u64::MAX))?;
            if end > self.data.len() {
                return Err(Store::Grow(end));
            }
            self.count_region(cap - claim.cap);
            // The data end first: a writer killed in between leaves a gap, not a slot past it.
            if end > data_end {
                c.data_end.store(end, Ordering::Relaxed);
            }
            slot.cap.store(cap, Ordering::Relaxed);
            claim.cap = cap;
            claim.allocated = true;
            return Ok(None);
        }
        let cap = new_capacity(need.max(claim.cap.saturating_mul(2)), claim.cap)
            .ok_or(Store::Grow(u64::MAX))?;
        let (offset, end) = self.place(cap, data_end)?;
        self.count_region(cap);
        self.move_region(slot, offset, cap, end, data_end);
        let old = (claim.offset, claim.cap);
        claim.offset = offset;
        claim.cap = cap;
        claim.allocated = true;
        Ok(Some(old))
    }

    /// Publishes a filled claim as a value of `len` bytes (at most its capacity) and wakes
    /// waiters; returns the version. A store that allocated a region then gives back the large
    /// regions that other slots no longer need ([`trim`](Self::trim)).
    pub(crate) fn publish<H: Host>(&self, host: &H, claim: &Claim, len: u64) -> u64 {
        let c = self.control;
        let slot = &self.slots[claim.slot];
        let version = claim.version;
        slot.len.store(len, Ordering::Relaxed);
        slot.seq.store(version, Ordering::Release);
        slot.pins.fetch_and(!WRITER, Ordering::Release);
        self.announce(host, (version << 8) | claim.slot as u64);
        // Trim after an allocation, or when more is held in large regions than the current
        // value and one spare of its size need (values shrank, or a pin kept a region).
        let need = 2 * super::format::align_data(len)
            .unwrap_or(u64::MAX)
            .max(LARGE);
        // Objects that cannot give memory back (Windows sections) keep their regions: a freed
        // region could be needed again by a value of its size.
        if sys::OBJECTS_GIVE_BACK && (claim.allocated || c.large.load(Ordering::Relaxed) > need) {
            self.trim(host, Some((claim.slot, len)));
        }
        version
    }

    /// Publishes `current` (a filled slot or inline buffer, with its version) and wakes waiters.
    fn announce<H: Host>(&self, host: &H, current: u64) {
        let c = self.control;
        c.current.store(current, Ordering::Release);
        // Release: an async waiter that reads the new `notify` (acquire) sees the version.
        c.notify.fetch_add(1, Ordering::Release);
        // Pairs with the fence in `wait_newer` between counting itself and its last look.
        fence(Ordering::SeqCst);
        if c.waiters.load(Ordering::Relaxed) > 0 || host.wake_always() {
            host.wake(&c.notify);
        }
    }

    /// With `keep = Some((current, len))`: frees the large regions ([`LARGE`]) of slots other
    /// than `current` that no reader has pinned, keeping one spare that would take a value of
    /// `len` bytes again (so values of one size alternate between two regions without
    /// allocating), and gives their memory back. With `None` (the current value is inline):
    /// frees every slot's region that no reader has pinned, whatever its size, then gives back
    /// every whole page of free space in the data area, so the object keeps only its header and
    /// the pinned regions resident. The caller holds the lock, after publishing `current`.
    ///
    /// Each slot is claimed like a store claims it (a reader that pinned it first keeps it),
    /// marked `BUSY` so a reader that did not pin it throws away what it copies, emptied
    /// (capacity 0) and released. A writer killed in the middle leaves a `BUSY` slot whose
    /// region is free or still reserved, both of which the next store handles.
    pub(crate) fn trim<H: Host>(&self, host: &H, keep: Option<(usize, u64)>) {
        let now = host.now_ms();
        let current = keep.map(|(c, _)| c);
        let mut order: Vec<(u64, usize)> = (0..self.slots.len())
            .filter(|&j| Some(j) != current)
            .map(|j| (self.slots[j].seq.load(Ordering::Relaxed) & !BUSY, j))
            .collect();
        // The newest first: the spare kept is the most recent region that fits.
        order.sort_unstable_by(|a, b| b.cmp(a));
        // Inline (`keep` is `None`): no spare, and small regions go too.
        let mut spare = keep.is_none();
        let (smallest, len) = match keep {
            Some((_, len)) => (LARGE, len),
            None => (0, 0),
        };
        let mut kept = match current.map(|c| self.slots[c].cap.load(Ordering::Relaxed)) {
            Some(cap) if cap > LARGE => cap,
            _ => 0,
        };
        for (_, j) in order {
            let s = &self.slots[j];
            let cap = s.cap.load(Ordering::Relaxed);
            if cap <= smallest {
                continue;
            }
            if !spare && fits(cap, len) {
                spare = true;
                kept = kept.saturating_add(cap);
                continue;
            }
            if !self.claim(s, false, now) {
                kept = kept.saturating_add(cap);
                continue;
            }
            let seq = s.seq.load(Ordering::Relaxed);
            s.seq.store(seq | BUSY, Ordering::Relaxed);
            fence(Ordering::Release);
            let off = s.offset.load(Ordering::Relaxed);
            s.cap.store(0, Ordering::Relaxed);
            self.data.release(off, cap);
            s.pins.fetch_and(!WRITER, Ordering::Release);
        }
        let c = self.control;
        c.large.store(kept, Ordering::Relaxed);
        let held = self
            .slots
            .iter()
            .fold(0u64, |n, s| n.saturating_add(s.cap.load(Ordering::Relaxed)));
        c.regions.store(held, Ordering::Relaxed);
        if keep.is_none() {
            self.release_free();
        }
    }

    /// Gives back the whole pages of the free space between the slots' regions and after the
    /// last one: a small region that shared a page with a neighbour gave back nothing when it was
    /// freed, but once the neighbour is gone too, that page is free. Best effort: nothing is
    /// done if the regions are inconsistent.
    fn release_free(&self) {
        let data_end = match self.data_end() {
            Ok(e) => e,
            Err(_) => return,
        };
        let regions = match self.regions(data_end) {
            Ok(r) => r,
            Err(_) => return,
        };
        // Past the data end, to the end of the mapping: nothing lies there (objects grow in
        // whole pages, so this reaches the last page's end).
        let end = self.data.len().max(data_end);
        let mut at = self.data_start;
        for (off, cap) in regions.into_iter().chain(std::iter::once((end, 0))) {
            if off > at {
                self.data.release(at, off - at);
            }
            at = at.max(off.saturating_add(cap));
        }
    }

    /// Gives a claim up unpublished, as a writer that died would leave it: the slot keeps
    /// `BUSY` with a version nobody will publish, so no reader ever copies it, and the next
    /// store may take it. The current value is untouched.
    pub(crate) fn abandon(&self, claim: &Claim) {
        self.slots[claim.slot]
            .pins
            .fetch_and(!WRITER, Ordering::Release);
    }

    /// The slot to store into, looking at every slot but the current one (and, unless `force`,
    /// those in `refused`): unpinned before pinned (then the oldest pin first), big enough before
    /// too small, the oldest version first.
    fn choose(
        &self,
        cur_slot: Option<usize>,
        force: bool,
        refused: u64,
        data_end: u64,
        len: u64,
        now: u64,
    ) -> Option<usize> {
        let mut best: Option<(usize, (bool, u64, bool, u64))> = None;
        for (i, s) in self.slots.iter().enumerate() {
            if Some(i) == cur_slot || (!force && refused & (1 << i) != 0) {
                continue;
            }
            let pins = s.pins.load(Ordering::Relaxed);
            let pinned = pin_fresh(pins, now);
            let fits = self
                .region_ok(s, data_end)
                .map_or(false, |(_, cap)| fits(cap, len));
            let rank = (
                pinned,
                if pinned { pin_time(pins) } else { 0 },
                !fits,
                s.seq.load(Ordering::Relaxed) & !BUSY,
            );
            if best.as_ref().map_or(true, |(_, r)| rank < *r) {
                best = Some((i, rank));
            }
        }
        best.map(|(i, _)| i)
    }

    /// A slot's data region if it lies inside the allocated data area.
    fn region_ok(&self, s: &Slot, data_end: u64) -> Option<(u64, u64)> {
        let off = s.offset.load(Ordering::Relaxed);
        let cap = s.cap.load(Ordering::Relaxed);
        let end = off.checked_add(cap)?;
        if off >= self.data_start && end <= data_end && off % super::format::DATA_ALIGN == 0 {
            Some((off, cap))
        } else {
            None
        }
    }

    /// Blocks until the version exceeds `seen` or `timeout` passes; `None` on timeout. A
    /// read-only region counts itself in `counter` (the `waiters` word through a writable
    /// mapping), or, without one, looks again every `uncounted_slice` (a writer may not wake it).
    pub(crate) fn wait_newer<H: Host>(
        &self,
        host: &H,
        seen: u64,
        deadline: Option<std::time::Instant>,
        counter: Option<&AtomicU32>,
        uncounted_slice: Duration,
    ) -> Option<u64> {
        let counter = if self.writable {
            Some(&self.control.waiters)
        } else {
            counter
        };
        let c = self.control;
        loop {
            let v = self.version();
            if v > seen {
                return Some(v);
            }
            if host.abandoned() {
                return None;
            }
            let n = c.notify.load(Ordering::Relaxed);
            if let Some(w) = counter {
                w.fetch_add(1, Ordering::Relaxed);
            }
            // Pairs with the writer's fence between its publish and its look at `waiters`.
            fence(Ordering::SeqCst);
            let v = self.version();
            let remaining =
                deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
            if v <= seen && remaining != Some(Duration::ZERO) {
                let timeout = if counter.is_some() || host.wake_always() {
                    remaining
                } else {
                    // Uncounted, so a writer may not wake it: it looks again now and then.
                    Some(remaining.map_or(uncounted_slice, |r| r.min(uncounted_slice)))
                };
                let _ = host.wait(&c.notify, n, timeout);
            }
            if let Some(w) = counter {
                w.fetch_sub(1, Ordering::Relaxed);
            }
            if v > seen {
                return Some(v);
            }
            if remaining == Some(Duration::ZERO) {
                return None;
            }
        }
    }
}
