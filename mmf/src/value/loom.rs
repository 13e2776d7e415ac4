//! Model checks of the shared-value protocol (`protocol.rs`) with loom: the same code, on
//! in-process memory, under every interleaving and every weak-memory outcome loom models.
//!
//! Run with
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test -p mmf --lib --release value::loom
//! ```
//!
//! (`LOOM_MAX_PREEMPTIONS` is set per test below; raise it by hand for a deeper search.)
//!
//! Values are two 8-byte words that must be equal; the data memory is loom atomics, so loom
//! explores readers copying word by word while writers write.

use super::protocol::{
    Control, Data, Dest, Host, Inline, Lock, Read, Region, Retries, Slot, Store, BUSY,
};
use crate::sync::{AtomicU32, AtomicU64, Ordering};
use loom::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

const WORDS_PER_SLOT: usize = 8; // 64 bytes: the data alignment

struct Mem {
    words: Vec<AtomicU64>,
}

impl Data for Mem {
    fn len(&self) -> u64 {
        (self.words.len() * 8) as u64
    }

    fn read(&self, offset: u64, dst: &mut [u8]) -> bool {
        let (o, n) = (offset as usize / 8, dst.len() / 8);
        if offset % 8 != 0 || dst.len() % 8 != 0 || o + n > self.words.len() {
            return false;
        }
        for i in 0..n {
            let w = self.words[o + i].load(Ordering::Relaxed);
            dst[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
        true
    }

    fn write(&self, offset: u64, src: &[u8]) -> bool {
        let (o, n) = (offset as usize / 8, src.len() / 8);
        if offset % 8 != 0 || src.len() % 8 != 0 || o + n > self.words.len() {
            return false;
        }
        for i in 0..n {
            let mut w = [0u8; 8];
            w.copy_from_slice(&src[i * 8..i * 8 + 8]);
            self.words[o + i].store(u64::from_le_bytes(w), Ordering::Relaxed);
        }
        true
    }

    /// Given back to the system: the words read as zeros afterwards.
    fn release(&self, offset: u64, len: u64) {
        let (o, n) = (offset as usize / 8, len as usize / 8);
        for w in self.words.iter().skip(o).take(n) {
            w.store(0, Ordering::Relaxed);
        }
    }
}

/// A futex modelled with a loom mutex and condition variable: the value check and the sleep are
/// atomic with respect to a wake, as in the kernel. Timed waits return at once (loom has no
/// time), which is an allowed spurious wake-up.
struct Futex {
    lock: Mutex<()>,
    cv: Condvar,
}

struct TestHost {
    token: u64,
    dead: u64,
    futex: Arc<Futex>,
}

impl Host for TestHost {
    fn token(&self) -> u64 {
        self.token
    }

    fn alive(&self, token: u64) -> bool {
        token != self.dead
    }

    fn wait(&self, word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> bool {
        if timeout.is_some() {
            loom::thread::yield_now();
            return false; // "timed out"
        }
        let g = self.futex.lock.lock().unwrap();
        if word.load(Ordering::Relaxed) == expected {
            drop(self.futex.cv.wait(g).unwrap());
        }
        true
    }

    fn wake(&self, _word: &AtomicU32) {
        let _g = self.futex.lock.lock().unwrap();
        self.futex.cv.notify_all();
    }

    fn wake_always(&self) -> bool {
        false
    }

    fn now_ms(&self) -> u64 {
        1_000 // every pin is fresh
    }
}

struct World {
    control: Control,
    inline: [Inline; 2],
    slots: Vec<Slot>,
    mem: Mem,
    futex: Arc<Futex>,
}

fn zero_control() -> Control {
    Control {
        current: AtomicU64::new(0),
        notify: AtomicU32::new(0),
        waiters: AtomicU32::new(0),
        inline_len: Default::default(),
        reserved_readers: Default::default(),
        lock: AtomicU64::new(0),
        lock_notify: AtomicU32::new(0),
        lock_waiters: AtomicU32::new(0),
        next_version: AtomicU64::new(0),
        data_end: AtomicU64::new(0),
        large: AtomicU64::new(0),
        regions: AtomicU64::new(0),
        reserved_writers: Default::default(),
    }
}

/// `n` slots of 64 bytes each; slot `i` holds version `seqs[i]` (0: empty) whose words are the
/// version; `current` names the current slot.
fn world(seqs: &[u64], current: Option<usize>) -> Arc<World> {
    let n = seqs.len();
    let mem = Mem {
        words: (0..n * WORDS_PER_SLOT)
            .map(|i| AtomicU64::new(seqs[i / WORDS_PER_SLOT]))
            .collect(),
    };
    let slots = seqs
        .iter()
        .enumerate()
        .map(|(i, &seq)| Slot {
            seq: AtomicU64::new(seq),
            offset: AtomicU64::new((i * WORDS_PER_SLOT * 8) as u64),
            cap: AtomicU64::new((WORDS_PER_SLOT * 8) as u64),
            len: AtomicU64::new(if seq & !BUSY == 0 { 0 } else { 16 }),
            pins: AtomicU64::new(0),
            reserved: [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
        })
        .collect();
    let control = zero_control();
    control
        .data_end
        .store((n * WORDS_PER_SLOT * 8) as u64, Ordering::Relaxed);
    control
        .regions
        .store((n * WORDS_PER_SLOT * 8) as u64, Ordering::Relaxed);
    let top = seqs.iter().map(|s| s & !BUSY).max().unwrap_or(0);
    control.next_version.store(top, Ordering::Relaxed);
    if let Some(c) = current {
        control
            .current
            .store((seqs[c] << 8) | c as u64, Ordering::Relaxed);
    }
    Arc::new(World {
        control,
        inline: [
            Inline {
                words: Default::default(),
            },
            Inline {
                words: Default::default(),
            },
        ],
        slots,
        mem,
        futex: Arc::new(Futex {
            lock: Mutex::new(()),
            cv: Condvar::new(),
        }),
    })
}

impl World {
    fn region(&self, writable: bool) -> Region<'_, Mem> {
        Region {
            control: &self.control,
            inline: &self.inline,
            slots: &self.slots,
            data: &self.mem,
            data_start: 0,
            writable,
        }
    }

    fn host(&self, token: u64) -> TestHost {
        TestHost {
            token,
            dead: 99,
            futex: self.futex.clone(),
        }
    }

    /// Locks, stores the two-word value `x` in a slot, unlocks.
    fn store(&self, token: u64, x: u64) -> u64 {
        self.store_as(token, x, false)
    }

    /// Locks, stores the two-word value `x` inline (`inline`) or in a slot, unlocks.
    fn store_as(&self, token: u64, x: u64, inline: bool) -> u64 {
        let host = self.host(token);
        let r = self.region(true);
        let locked = r.lock(&host, None);
        assert!(
            matches!(locked, Lock::Taken | Lock::TakenOver),
            "{:?}",
            locked
        );
        let mut bytes = x.to_le_bytes().to_vec();
        bytes.extend_from_slice(&x.to_le_bytes());
        let out = if inline {
            r.store(&host, &bytes)
        } else {
            r.store_slot(&host, &bytes)
        };
        r.unlock(&host);
        match out {
            Store::Done(v) => v,
            other => panic!("store failed: {:?}", other),
        }
    }

    /// Locks, frees the regions other slots no longer need (the current one is `current`, of
    /// 16 bytes), unlocks.
    fn trim(&self, token: u64, current: usize) {
        let host = self.host(token);
        let r = self.region(true);
        assert!(matches!(r.lock(&host, None), Lock::Taken | Lock::TakenOver));
        r.trim(&host, Some((current, 16)));
        r.unlock(&host);
    }

    /// Reads once; checks the value is whole. Returns (version, word, retries).
    fn read(&self, writable: bool) -> (u64, u64, Retries) {
        let mut buf = Vec::new();
        let mut retries = Retries::default();
        let out = self.region(writable).read_counted(
            &self.host(50),
            &mut Dest::Vec(&mut buf),
            &mut retries,
        );
        match out {
            Read::Value(v) => {
                assert_eq!(buf.len(), 16, "whole value");
                let a = u64::from_le_bytes(buf[..8].try_into().unwrap());
                let b = u64::from_le_bytes(buf[8..].try_into().unwrap());
                assert_eq!(a, b, "torn value returned: {:#x} {:#x}", a, b);
                (v, a, retries)
            }
            Read::Empty => (0, 0, retries),
            other => panic!("read failed: {:?}", other),
        }
    }
}

fn model(preemptions: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(preemptions);
    }
    b.check(f);
}

/// One writer storing twice while a reader reads: the reader gets a whole value whose content
/// matches its version.
#[test]
fn reader_sees_whole_values() {
    model(3, || {
        let w = world(&[1, 0, 0], Some(0));
        let w2 = w.clone();
        let t = loom::thread::spawn(move || {
            assert_eq!(w2.store(1, 2), 2);
            assert_eq!(w2.store(1, 3), 3);
        });
        let (v, x, _) = w.read(true);
        assert_eq!(v, x, "version and content agree");
        assert!((1..=3).contains(&v));
        t.join().unwrap();
        assert_eq!(w.read(true).0, 3);
    });
}

/// A writer stores twice and then frees the slot of the first value (its memory reads as zeros
/// afterwards) while a reader, pinning or not, reads: the reader never returns the zeros or a
/// mix, and a pinned slot is not freed under it.
#[test]
fn freed_regions_are_never_returned() {
    for pin in [true, false] {
        model(2, move || {
            let w = world(&[1, 0, 0], Some(0));
            let w2 = w.clone();
            let t = loom::thread::spawn(move || {
                w2.store(1, 2);
                w2.store(1, 3);
                w2.trim(1, 2);
            });
            let (v, x, _) = w.read(pin);
            assert_eq!(v, x, "version and content agree");
            t.join().unwrap();
            // Slot 1 (version 2) is the spare that fits; slot 0 is freed unless still pinned.
            assert_eq!(w.slots[1].cap.load(Ordering::Relaxed), 64);
            assert_eq!(w.read(pin).0, 3);
        });
    }
}

/// With two slots a writer has one choice and overrides the reader's pin: the copy may be torn,
/// and is then thrown away, never returned.
#[test]
fn two_slots_override_pins_safely() {
    model(3, || {
        let w = world(&[1, 0], Some(0));
        let w2 = w.clone();
        let t = loom::thread::spawn(move || {
            w2.store(1, 2);
            w2.store(1, 3);
        });
        let (v, x, _) = w.read(true);
        assert_eq!(v, x);
        t.join().unwrap();
    });
}

/// Slots hold versions 5, 7 and 6, slot 0 current. A writer stores 8 (into slot 1, the next in
/// turn), 9 (slot 2) and 10, whose slot in turn is slot 0, while a reader (pinning its slot or
/// not) reads. The reader always returns a whole value; returns how many copies it threw away
/// as torn.
fn read_while_the_writer_laps(pin: bool) -> u32 {
    let w = world(&[5, 7, 6], Some(0));
    let w2 = w.clone();
    let t = loom::thread::spawn(move || {
        w2.store(1, 8);
        w2.store(1, 9);
        w2.store(1, 10);
    });
    let (v, x, retries) = w.read(pin);
    assert_eq!(v, x);
    t.join().unwrap();
    retries.torn
}

/// A pinned reader is never overwritten while another slot is free: its copy is never thrown
/// away (a pin on slot 0 sends the writer's third store elsewhere).
#[test]
fn pinned_reader_is_not_overwritten() {
    model(3, || {
        assert_eq!(
            read_while_the_writer_laps(true),
            0,
            "a pinned copy was overwritten"
        );
    });
}

/// Without pins (a read-only handle) the same schedule can tear a copy: the check above is able
/// to fail, and the seq check still keeps the torn copy from being returned.
#[test]
fn unpinned_reader_can_be_torn_but_never_returns_torn() {
    static TORN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    model(3, || {
        if read_while_the_writer_laps(false) > 0 {
            TORN.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    });
    assert!(
        TORN.load(std::sync::atomic::Ordering::Relaxed),
        "loom never tore an unpinned copy: the pin test proves nothing"
    );
}

/// Two writers (two processes) are serialised by the lock; a reader sees whole values; the
/// final state holds the last store.
#[test]
fn writers_are_serialised() {
    model(2, || {
        let w = world(&[1, 0, 0], Some(0));
        let (a, b) = (w.clone(), w.clone());
        let ta = loom::thread::spawn(move || a.store(1, 0xa));
        let tb = loom::thread::spawn(move || b.store(2, 0xb));
        let (_, x, _) = w.read(true);
        assert!(x == 1 || x == 0xa || x == 0xb);
        let va = ta.join().unwrap();
        let vb = tb.join().unwrap();
        assert_ne!(va, vb);
        let (v, x, _) = w.read(true);
        assert_eq!(v, va.max(vb));
        assert_eq!(x, if va > vb { 0xa } else { 0xb });
        assert_eq!(w.control.lock.load(Ordering::Relaxed), 0);
    });
}

/// A writer that died holding the lock, with a slot half written (BUSY, version 6): the next
/// writer takes the lock over, never reuses version 6, and a concurrent reader still sees the
/// previous value whole.
#[test]
fn dead_writer_is_taken_over() {
    model(3, || {
        let w = world(&[5, BUSY | 6, 0], Some(0));
        w.control.lock.store(99, Ordering::Relaxed); // the dead owner's token
        let w2 = w.clone();
        let t = loom::thread::spawn(move || w2.store(1, 0));
        let (v, _, _) = w.read(true);
        assert!(v == 5 || v == 7, "version {}", v);
        assert_eq!(t.join().unwrap(), 7);
        assert_eq!(w.control.lock.load(Ordering::Relaxed), 0);
    });
}

/// A waiter blocked without a timeout is always woken by a store: no lost wake-up (loom reports
/// a deadlock otherwise). Read-only waiters too, which count themselves in `waiters` through a
/// second, writable mapping of the word.
#[test]
fn waiter_is_woken() {
    for writable in [true, false] {
        model(3, move || {
            let w = world(&[1, 0, 0], Some(0));
            let w2 = w.clone();
            let t = loom::thread::spawn(move || w2.store(1, 2));
            let host = w.host(50);
            // A read-only waiter counts itself through a writable mapping of the same word.
            let counter = Some(&w.control.waiters);
            let v =
                w.region(writable)
                    .wait_newer(&host, 1, None, counter, Duration::from_millis(10));
            assert_eq!(v, Some(2));
            t.join().unwrap();
        });
    }
}

/// A live owner that keeps the lock: a writer with no patience left gives up with `Busy`, naming
/// it, and leaves the lock word alone; if the owner releases the lock meanwhile, the writer may
/// take it instead. Either way nothing is corrupted and the lock ends free.
#[test]
fn a_writer_gives_up_on_a_live_owner_that_keeps_the_lock() {
    model(2, || {
        let w = world(&[1, 0, 0], Some(0));
        w.control.lock.store(7, Ordering::Relaxed); // a live owner (the host's dead one is 99)
        let w2 = w.clone();
        let t = loom::thread::spawn(move || w2.region(true).unlock(&w2.host(7)));
        let host = w.host(1);
        let r = w.region(true);
        match r.lock(&host, Some(Duration::ZERO)) {
            Lock::Busy { owner, .. } => assert_eq!(owner, 7),
            Lock::Taken => r.unlock(&host),
            Lock::TakenOver => panic!("a live owner was taken over"),
        }
        t.join().unwrap();
        assert_eq!(w.control.lock.load(Ordering::Relaxed), 0);
    });
}

/// Inline values: a writer stores three versions inline (the third reuses the first's buffer)
/// while a reader, pinning or not, reads: it gets a whole value whose content matches its
/// version, never a mix of two stores. Loom must also find a copy that was torn and thrown
/// away, or the check proves nothing.
#[test]
fn inline_reader_sees_whole_values() {
    static TORN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    for writable in [true, false] {
        model(3, move || {
            let w = world(&[1, 0], Some(0));
            let w2 = w.clone();
            let t = loom::thread::spawn(move || {
                w2.store_as(1, 2, true);
                w2.store_as(1, 3, true);
                w2.store_as(1, 4, true);
            });
            let (v, x, retries) = w.read(writable);
            if retries.torn > 0 {
                TORN.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            assert_eq!(v, x, "version and content agree");
            t.join().unwrap();
            let (v, x, _) = w.read(writable);
            assert_eq!((v, x), (4, 4));
        });
    }
    assert!(
        TORN.load(std::sync::atomic::Ordering::Relaxed),
        "loom never tore an inline copy"
    );
}

/// A writer that stops in the middle of an inline store (it took a version and wrote one word
/// of the free buffer, then died holding the lock) never damages the current inline value: a
/// reader sees it whole, and the next writer takes the lock over and stores after it.
#[test]
fn inline_writer_stopped_mid_store_leaves_the_value() {
    model(3, || {
        let w = world(&[1, 0], Some(0));
        w.store_as(1, 2, true); // current: version 2, inline buffer 0
        let w2 = w.clone();
        let dying = loom::thread::spawn(move || {
            let r = w2.region(true);
            assert_eq!(r.lock(&w2.host(99), None), Lock::Taken);
            // The first steps of an inline store of version 3 into buffer 1, then death.
            w2.control.next_version.store(3, Ordering::Relaxed);
            loom::sync::atomic::fence(Ordering::Release);
            w2.inline[1].words[0].store(3, Ordering::Relaxed);
            w2.control.inline_len[1].store(16, Ordering::Relaxed);
        });
        let (v, x, _) = w.read(true);
        assert_eq!((v, x), (2, 2));
        dying.join().unwrap();
        let w3 = w.clone();
        let next = loom::thread::spawn(move || w3.store_as(1, 4, true));
        let (v, x, _) = w.read(false);
        assert_eq!(v, x);
        assert!(v == 2 || v == 4, "version {}", v);
        assert_eq!(next.join().unwrap(), 4);
        assert_eq!(w.read(true).0, 4);
    });
}

/// Switching both ways: slot, inline (which frees the slots' regions), slot again (which
/// allocates one) while a reader reads: whole values only, and the last one is there.
#[test]
fn switching_between_inline_and_slots() {
    for pin in [true, false] {
        model(2, move || {
            let w = world(&[1, 0, 0], Some(0));
            let w2 = w.clone();
            let t = loom::thread::spawn(move || {
                w2.store_as(1, 2, true);
                w2.store_as(1, 3, false);
            });
            let (v, x, _) = w.read(pin);
            assert_eq!(v, x, "version and content agree");
            t.join().unwrap();
            assert_eq!(w.read(pin).0, 3);
        });
    }
}
