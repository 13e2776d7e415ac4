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
    /// Zero; reserved (pads the readers' line to 64 bytes).
    pub reserved_readers: [AtomicU64; 6],
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
    /// Zero; reserved (pads the writers' line to 64 bytes).
    pub reserved_writers: [AtomicU64; 4],
}

/// One slot descriptor, at byte 192 + 64·i.
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
};

/// The bytes of the object, by object offset.
pub(crate) trait Data {
    /// How many bytes from offset 0 are accessible.
    fn len(&self) -> u64;
    /// Copies `dst.len()` bytes at `offset` into `dst`; `false` if out of range.
    fn read(&self, offset: u64, dst: &mut [u8]) -> bool;
    /// Copies `src` to `offset`; `false` if out of range.
    fn write(&self, offset: u64, src: &[u8]) -> bool;
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

/// A view of one value's control block, slot descriptors and data.
pub(crate) struct Region<'a, D: Data> {
    pub control: &'a Control,
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
            // Relaxed loads followed by Acquire fences work on read-only mappings, where only
            // relaxed loads are guaranteed not to write (std::sync::atomic, "read-only memory").
            let cur = self.control.current.load(Ordering::Relaxed);
            fence(Ordering::Acquire);
            if cur == 0 {
                return Read::Empty;
            }
            let version = cur >> 8;
            let slot = match self.slots.get((cur & 0xff) as usize) {
                Some(s) => s,
                None => {
                    return Read::Corrupt("the current version names a slot that does not exist")
                }
            };
            let pin = if self.writable {
                self.pin(slot, host.now_ms())
            } else {
                Pin::Unprotected
            };
            let seq0 = slot.seq.load(Ordering::Relaxed);
            fence(Ordering::Acquire);
            let outcome = if seq0 == version && pin != Pin::Busy {
                self.copy(slot, seq0, dest)
            } else {
                None
            };
            if pin == Pin::Pinned {
                self.unpin(slot);
            }
            if let Some(result) = outcome {
                return match result {
                    Ok(()) => Read::Value(version),
                    Err(r) => r,
                };
            }
            if seq0 == version && pin != Pin::Busy {
                retries.torn += 1;
            } else {
                retries.moved += 1;
            }
            // The slot was reused, so a newer version must have been published first; if
            // `current` has not moved, the state is inconsistent (a damaged header).
            fence(Ordering::Acquire);
            if self.control.current.load(Ordering::Relaxed) == cur {
                strikes += 1;
                if strikes >= 3 {
                    return Read::Corrupt("the current slot does not hold the current version");
                }
            }
            std::hint::spin_loop();
        }
    }

    /// One validated copy: `None` if the slot changed (retry), `Some(Err)` for a stable problem.
    fn copy(&self, slot: &Slot, seq0: u64, dest: &mut Dest<'_>) -> Option<Result<(), Read>> {
        let offset = slot.offset.load(Ordering::Relaxed);
        let len = slot.len.load(Ordering::Relaxed);
        let stable = || {
            fence(Ordering::Acquire);
            slot.seq.load(Ordering::Relaxed) == seq0
        };
        let end = offset.checked_add(len);
        let inside = match end {
            Some(e) => offset >= self.data_start && e <= self.data.len(),
            None => false,
        };
        if !inside {
            if !stable() {
                return None;
            }
            return Some(Err(match end {
                Some(e) if offset >= self.data_start => Read::Remap(e),
                _ => Read::Corrupt("a slot points outside the object"),
            }));
        }
        // `len <= data.len()`, which is a mapped length, so it fits in usize.
        let len = len as usize;
        let copied = match dest {
            Dest::Vec(v) => {
                // Only a new tail is zero-filled: bytes already there are overwritten by the copy,
                // so a buffer reused for values of one size is never cleared first.
                v.resize(len, 0);
                self.data.read(offset, v)
            }
            Dest::Exact(b) => {
                if b.len() != len {
                    if !stable() {
                        return None;
                    }
                    return Some(Err(Read::WrongLength(len as u64)));
                }
                self.data.read(offset, b)
            }
        };
        if !stable() {
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

    /// Stores `bytes` as a new version. The caller holds the writer lock.
    pub(crate) fn store<H: Host>(&self, host: &H, bytes: &[u8]) -> Store {
        let c = self.control;
        let n = self.slots.len();
        let len = bytes.len() as u64;
        let cur = c.current.load(Ordering::Relaxed);
        let cur_slot = if cur == 0 {
            None
        } else {
            Some((cur & 0xff) as usize)
        };
        let data_end = c.data_end.load(Ordering::Relaxed);
        if data_end < self.data_start || data_end % super::format::DATA_ALIGN != 0 {
            return Store::Corrupt("the data end lies inside the header or is misaligned");
        }
        if data_end > self.data.len() {
            return Store::Remap(data_end);
        }
        // `next_version` is in shared memory, so it may hold anything: no overflow, no wrap to 0.
        let version = match c
            .next_version
            .load(Ordering::Relaxed)
            .max(cur >> 8)
            .checked_add(1)
        {
            Some(v) if v <= MAX_VERSION => v,
            _ => return Store::Exhausted,
        };
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
                        .map_or(false, |(_, cap)| cap >= len)
            });
            let i =
                match quick.or_else(|| self.choose(cur_slot, force, refused, data_end, len, now)) {
                    Some(i) => i,
                    None => return Store::Corrupt("no slot can take the value"),
                };
            let slot = &self.slots[i];
            let (offset, cap, new_end) = match self.region_ok(slot, data_end) {
                Some((off, cap)) if cap >= len => (off, cap, None),
                old => {
                    let old_cap = old.map_or(0, |(_, cap)| cap);
                    let cap = match super::format::align_data(len.max(old_cap.saturating_mul(2))) {
                        Some(x) => x,
                        None => return Store::Grow(u64::MAX),
                    };
                    let end = match data_end.checked_add(cap) {
                        Some(e) => e,
                        None => return Store::Grow(u64::MAX),
                    };
                    if end > self.data.len() {
                        return Store::Grow(end);
                    }
                    (data_end, cap, Some(end))
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
            if let Some(end) = new_end {
                c.data_end.store(end, Ordering::Relaxed);
                slot.offset.store(offset, Ordering::Relaxed);
                slot.cap.store(cap, Ordering::Relaxed);
            }
            slot.len.store(len, Ordering::Relaxed);
            if !self.data.write(offset, bytes) {
                return Store::Corrupt("a slot points outside the object");
            }
            slot.seq.store(version, Ordering::Release);
            slot.pins.fetch_and(!WRITER, Ordering::Release);
            c.current
                .store((version << 8) | i as u64, Ordering::Release);
            // Release: an async waiter that reads the new `notify` (acquire) sees the version.
            c.notify.fetch_add(1, Ordering::Release);
            // Pairs with the fence in `wait_newer` between counting itself and its last look.
            fence(Ordering::SeqCst);
            if c.waiters.load(Ordering::Relaxed) > 0 || host.wake_always() {
                host.wake(&c.notify);
            }
            return Store::Done(version);
        }
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
                .map_or(false, |(_, cap)| cap >= len);
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
