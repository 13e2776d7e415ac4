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

use super::protocol::{Control, Data, Dest, Host, Lock, Read, Region, Retries, Slot, Store, BUSY};
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
    slots: Vec<Slot>,
    mem: Mem,
    futex: Arc<Futex>,
}

fn zero_control() -> Control {
    Control {
        current: AtomicU64::new(0),
        notify: AtomicU32::new(0),
        waiters: AtomicU32::new(0),
        reserved_readers: Default::default(),
        lock: AtomicU64::new(0),
        lock_notify: AtomicU32::new(0),
        lock_waiters: AtomicU32::new(0),
        next_version: AtomicU64::new(0),
        data_end: AtomicU64::new(0),
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
    let top = seqs.iter().map(|s| s & !BUSY).max().unwrap_or(0);
    control.next_version.store(top, Ordering::Relaxed);
    if let Some(c) = current {
        control
            .current
            .store((seqs[c] << 8) | c as u64, Ordering::Relaxed);
    }
    Arc::new(World {
        control,
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

    /// Locks, stores the two-word value `x`, unlocks.
    fn store(&self, token: u64, x: u64) -> u64 {
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
        let out = r.store(&host, &bytes);
        r.unlock(&host);
        match out {
            Store::Done(v) => v,
            other => panic!("store failed: {:?}", other),
        }
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
