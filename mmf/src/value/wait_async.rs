//! Async waits: [`WaitNewer`] (a `Future`) and [`Versions`] (a `Stream`), woken by the kernel,
//! usable from any executor.
//!
//! # Design
//!
//! A future cannot sleep in the kernel itself: something must, and wake its `Waker`. That is a
//! per-process **waiter thread**, started on first use:
//!
//! - **Linux 5.16 and later** (`futex_waitv`): up to 127 registrations per thread (the kernel's
//!   128 words less one). Each thread sleeps in one `futex_waitv` call on the `notify` words
//!   (shared futexes, the same words [`SharedValue::wait_newer`] sleeps on) and on a
//!   process-private *interrupt* word that a new registration bumps, so that the thread rebuilds
//!   its list. More threads start past 127 registrations; they stay (idle threads sleep on their
//!   interrupt word alone, costing nothing).
//! - **Elsewhere** (older Linux kernels, Windows, the POSIX backend): one thread (64 KiB stack)
//!   per registration, sleeping in the backend's `Notifier::wait` on the `notify` word: a futex
//!   on Linux, the value's named kernel events on Windows, and on the POSIX backend the bounded
//!   polling that `notify_posix.rs` describes (the one backend where waiting is polling). A
//!   cancelled registration wakes its thread with the notifier's `wake_all` (a spurious wake-up
//!   for other waiters of the word, which re-check and sleep again). A process started with the
//!   environment variable `MMF_NO_FUTEX_WAITV` set uses this path on any kernel (the tests and
//!   benchmarks use it to run the fallback where `futex_waitv` exists).
//!
//! A sleeping thread also wakes while it has registrations, to notice an object truncated under
//! it (no `FUTEX_WAKE` ever comes then): every 10 s on the `futex_waitv` threads, every second on
//! the thread-per-future fallback (as the blocking wait does).
//!
//! # Registration, and why no wake-up is lost
//!
//! A poll of [`WaitNewer`] that finds nothing new:
//!
//! 1. reads `n = notify` (acquire; the writer increments it with release after publishing the
//!    version, so a reader that sees the increment sees the version);
//! 2. looks at the version: newer than `seen` → ready;
//! 3. registers `(value, expected = n, waker)` with a waiter thread and interrupts it;
//! 4. looks at the version again: newer → deregisters, ready. Otherwise pending.
//!
//! A store that the look in step 2 missed increments `notify` after step 1 read it, so `notify`
//! differs from `n` from then on. The waiter thread passes `n` to the kernel as the expected
//! value: if the increment came first, the kernel sees the difference and the call returns at
//! once; if it came later, the writer's `FUTEX_WAKE` (made since the registration counts itself in
//! `waiters`, see below) finds
//! the thread enqueued. After any return the thread looks at every registration's word and fires
//! those whose word differs from their `n`. A registration made while the thread was collecting
//! its list bumped the interrupt word after the thread read it, so the kernel call returns at once
//! and the thread collects again.
//!
//! The writer only issues that `FUTEX_WAKE` when `waiters` is non-zero (a system call per store
//! otherwise: about four times the cost of a 4 KiB store), so every registration counts itself
//! there before step 4: a writable handle in its own header, a read-only one through a second,
//! writable descriptor of the same object (`/proc/self/fd/N` reopened read-write, where the
//! object's permissions allow it). The writer increments `notify`, fences, then reads `waiters`;
//! the registration increments `waiters`, fences, then looks at the version (step 4): one of the
//! two sees the other (the store-buffering pattern), so either step 4 sees the new version or
//! the writer wakes. A read-only handle that may not write the object cannot count itself: its
//! waiter thread then looks at its word every 10 ms (polling, for that case only). On Windows and
//! the POSIX backend writers wake on every store, which costs nothing there when nobody waits.
//!
//! # Why no waiter is woken twice for one store
//!
//! A registration fires at most once: the thread removes it, under its lock, in the same step that
//! takes its waker. The future then registers again only with a fresh `n`, which already includes
//! that store's increment, so the store cannot fire the new registration. (A store can still
//! leave a future with nothing new: when its version was not newer than `seen`, which cannot
//! happen for a `seen` the caller got from this value.)
//!
//! Dropping a future or stream removes its registration at once (and its count in `waiters`);
//! [`SharedValue::async_waiters`] (hidden, for tests) counts what is registered for a value.
//! The protocol is process-local (a mutex and a private futex word), so it is argued here and
//! exercised by tests rather than model-checked; the shared part is the `notify` word, whose
//! store-and-wake order is the blocking wait's.
//!
//! Limits: a process that `fork`s keeps no waiter threads in the child; a future polled in the
//! child of a fork whose parent had registrations never wakes.

use super::handle::waiters_word;
use super::*;
use futures_core::Stream;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32 as StdAtomicU32, Ordering as StdOrdering};
use std::task::{Context, Poll, Waker};

/// How often a `futex_waitv` thread with registrations looks at their words without being woken:
/// an object truncated under a sleeper never wakes it. Each look re-queues up to 127 shared futexes
/// in the kernel (about a millisecond of CPU for 1,000 registrations), so it is rare.
const WAIT_SLICE: Duration = Duration::from_secs(10);

/// The stack of a waiter thread (they only call the kernel and wake wakers).
const WAITER_STACK: usize = 64 * 1024;

/// What a waiter thread watches for one future: the value and the `notify` value it saw.
struct Entry {
    id: u64,
    inner: Arc<Inner>,
    expected: u32,
    waker: Waker,
    /// Counted in `waiters` (or writers wake on every store): a writer wakes it.
    counted: bool,
}

/// One `futex_waitv` thread and what it watches.
struct Shard {
    interrupt: StdAtomicU32,
    entries: Mutex<Vec<Entry>>,
}

/// A waiting future's registration, removed on drop.
enum Ticket {
    Shard(Arc<Shard>, u64),
    Solo(Arc<Solo>),
}

/// A registration with a thread of its own (no `futex_waitv`).
struct Solo {
    inner: Arc<Inner>,
    expected: u32,
    /// As for `Entry::counted`.
    counted: bool,
    /// The waker, taken when the registration fires or is cancelled.
    waker: Mutex<Option<Waker>>,
    done: AtomicBool,
}

static SHARDS: Mutex<Vec<Arc<Shard>>> = Mutex::new(Vec::new());
static NEXT_ID: Mutex<u64> = Mutex::new(0);
/// Live registrations per value (keyed by the address of its `Inner`), for `async_waiters`.
static LIVE: Mutex<Option<HashMap<usize, usize>>> = Mutex::new(None);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn count(inner: &Arc<Inner>, up: bool) {
    let mut live = lock(&LIVE);
    let map = live.get_or_insert_with(HashMap::new);
    let key = Arc::as_ptr(inner) as usize;
    let n = map.entry(key).or_insert(0);
    if up {
        *n += 1;
    } else {
        *n = n.saturating_sub(1);
        if *n == 0 {
            map.remove(&key);
        }
    }
}

impl Inner {
    /// The `notify` word, guarded: `Truncated` if the object was cut short under this handle.
    fn load_notify(&self, op: &'static str) -> Result<u32> {
        self.header.guarded(op, CONTROL_OFFSET, 16, || {
            self.control().notify.load(Ordering::Acquire)
        })
    }

    /// The latest version, guarded.
    fn load_version(&self, op: &'static str) -> Result<u64> {
        self.header.guarded(op, CONTROL_OFFSET, 16, || {
            self.control().current.load(Ordering::Acquire) >> 8
        })
    }

    /// Counts an async registration in `waiters` (or uncounts it): a writable handle through its
    /// own header, a read-only one through its writable mapping (`Inner::counter_view`). `false`
    /// when it cannot be counted and writers do not wake on every store: its waiter thread must
    /// then look again every `READ_ONLY_WAIT_SLICE`.
    fn count_waiter(&self, up: bool) -> bool {
        let view = if self.writable {
            Some(self.header.clone())
        } else {
            self.counter_view()
        };
        let view = match view {
            Some(v) => v,
            None => return sys::WAKE_IS_CHEAP,
        };
        let _ = view.guarded(OP, CONTROL_OFFSET, 16, || {
            let w = waiters_word(&view);
            if up {
                w.fetch_add(1, Ordering::Relaxed);
                // Pairs with the writer's fence between its publish and its look at `waiters`.
                fence(Ordering::SeqCst);
            } else {
                w.fetch_sub(1, Ordering::Relaxed);
            }
        });
        true
    }

    /// Whether a registration that expected `expected` should fire: the word moved, or it cannot
    /// be read (the future then reports why).
    fn moved(&self, expected: u32) -> bool {
        !matches!(self.load_notify(OP), Ok(n) if n == expected)
    }
}

fn register(inner: &Arc<Inner>, expected: u32, waker: &Waker, counted: bool) -> Ticket {
    count(inner, true);
    if sys::wait_any_supported() {
        let id = {
            let mut next = lock(&NEXT_ID);
            *next += 1;
            *next
        };
        let mut shards = lock(&SHARDS);
        let found = shards
            .iter()
            .find(|s| lock(&s.entries).len() < sys::wait_any_max())
            .cloned();
        let shard = match found {
            Some(s) => s,
            None => match start_shard() {
                Some(s) => {
                    shards.push(s.clone());
                    s
                }
                None => {
                    drop(shards);
                    return register_solo(inner, expected, waker, counted);
                }
            },
        };
        drop(shards);
        lock(&shard.entries).push(Entry {
            id,
            inner: inner.clone(),
            expected,
            waker: waker.clone(),
            counted,
        });
        shard.interrupt.fetch_add(1, StdOrdering::SeqCst);
        sys::wake_interrupt(&shard.interrupt);
        Ticket::Shard(shard, id)
    } else {
        register_solo(inner, expected, waker, counted)
    }
}

fn start_shard() -> Option<Arc<Shard>> {
    let shard = Arc::new(Shard {
        interrupt: StdAtomicU32::new(0),
        entries: Mutex::new(Vec::new()),
    });
    let s = shard.clone();
    std::thread::Builder::new()
        .name("mmf-waiter".into())
        .stack_size(WAITER_STACK)
        .spawn(move || run_shard(&s))
        .ok()?;
    Some(shard)
}

/// A `futex_waitv` waiter thread: collect, sleep, fire; for the life of the process.
fn run_shard(shard: &Shard) {
    loop {
        let seen = shard.interrupt.load(StdOrdering::SeqCst);
        // The values are kept alive (mapped) by this list while the kernel looks at them.
        let (watched, counted) = {
            let entries = lock(&shard.entries);
            let watched: Vec<(Arc<Inner>, u32)> = entries
                .iter()
                .map(|e| (e.inner.clone(), e.expected))
                .collect();
            (watched, entries.iter().all(|e| e.counted))
        };
        let words: Vec<(&StdAtomicU32, u32)> = watched
            .iter()
            .map(|(inner, expected)| (&inner.control().notify, *expected))
            .collect();
        let timeout = if words.is_empty() {
            None
        } else if counted {
            Some(WAIT_SLICE)
        } else {
            // A writer may not wake an uncounted registration.
            Some(READ_ONLY_WAIT_SLICE)
        };
        let failed = sys::wait_any(&shard.interrupt, seen, &words, timeout).is_err();
        drop(words);
        let mut fired = Vec::new();
        lock(&shard.entries).retain_mut(|e| {
            if e.inner.moved(e.expected) {
                fired.push(e.waker.clone());
                false
            } else {
                true
            }
        });
        drop(watched);
        for w in fired {
            w.wake();
        }
        if failed {
            // A failure no registration explains (it would have fired): do not spin.
            std::thread::sleep(READ_ONLY_WAIT_SLICE);
        }
    }
}

fn register_solo(inner: &Arc<Inner>, expected: u32, waker: &Waker, counted: bool) -> Ticket {
    let solo = Arc::new(Solo {
        inner: inner.clone(),
        expected,
        counted,
        waker: Mutex::new(Some(waker.clone())),
        done: AtomicBool::new(false),
    });
    let s = solo.clone();
    let spawned = std::thread::Builder::new()
        .name("mmf-waiter".into())
        .stack_size(WAITER_STACK)
        .spawn(move || run_solo(&s));
    if spawned.is_err() {
        // No thread (out of memory or of threads): the registration fires at once, so the future
        // polls again and tries again.
        solo.done.store(true, StdOrdering::SeqCst);
        lock(&solo.waker).take();
        waker.wake_by_ref();
    }
    Ticket::Solo(solo)
}

/// A waiter thread for one registration: sleeps on the backend's notifier until the word moves
/// or the registration is cancelled.
fn run_solo(solo: &Solo) {
    let inner = &*solo.inner;
    let word = &inner.control().notify;
    while !solo.done.load(StdOrdering::SeqCst) {
        if inner.moved(solo.expected) {
            solo.done.store(true, StdOrdering::SeqCst);
            if let Some(w) = lock(&solo.waker).take() {
                w.wake();
            }
            return;
        }
        // The host wakes at least once a second (handle.rs), to notice a truncation; an
        // uncounted registration looks more often, since a writer may not wake it.
        let host = inner.host();
        let slice = if solo.counted {
            None
        } else {
            Some(READ_ONLY_WAIT_SLICE)
        };
        let _ = host.wait(word, solo.expected, slice);
    }
}

impl Ticket {
    /// Whether the registration is still waiting; if so, it wakes `waker` from now on (the
    /// future may have moved to another task). Checked and replaced under one lock, so a
    /// registration that fires meanwhile is reported as fired, never left with a stale waker.
    fn update(&self, waker: &Waker) -> bool {
        match self {
            Ticket::Shard(shard, id) => {
                match lock(&shard.entries).iter_mut().find(|e| e.id == *id) {
                    Some(e) => {
                        if !e.waker.will_wake(waker) {
                            e.waker = waker.clone();
                        }
                        true
                    }
                    None => false,
                }
            }
            Ticket::Solo(solo) => match lock(&solo.waker).as_mut() {
                Some(w) => {
                    if !w.will_wake(waker) {
                        *w = waker.clone();
                    }
                    true
                }
                None => false,
            },
        }
    }

    /// Removes the registration (whether or not it fired).
    fn cancel(&self) {
        match self {
            Ticket::Shard(shard, id) => {
                let removed = {
                    let mut entries = lock(&shard.entries);
                    let before = entries.len();
                    entries.retain(|e| e.id != *id);
                    entries.len() != before
                };
                if removed {
                    // Let the thread drop its reference to the value now.
                    shard.interrupt.fetch_add(1, StdOrdering::SeqCst);
                    sys::wake_interrupt(&shard.interrupt);
                }
            }
            Ticket::Solo(solo) => {
                lock(&solo.waker).take();
                if !solo.done.swap(true, StdOrdering::SeqCst) {
                    let host = solo.inner.host();
                    host.wake(&solo.inner.control().notify);
                }
            }
        }
    }
}

/// A registration as a future holds it: removed, and uncounted, on drop.
struct Registered {
    ticket: Ticket,
    inner: Arc<Inner>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.ticket.cancel();
        self.inner.count_waiter(false);
        count(&self.inner, false);
    }
}

/// The future returned by [`SharedValue::wait_newer_async`]: resolves to the first version newer
/// than the one it was given. Dropping it removes its registration.
#[must_use = "futures do nothing unless polled"]
pub struct WaitNewer {
    value: SharedValue,
    seen: u64,
    registered: Option<Registered>,
}

impl std::fmt::Debug for WaitNewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitNewer")
            .field("value", &self.value)
            .field("seen", &self.seen)
            .field("registered", &self.registered.is_some())
            .finish()
    }
}

const OP: &str = "wait for a new version of";

impl WaitNewer {
    pub(super) fn new(value: SharedValue, seen: u64) -> WaitNewer {
        WaitNewer {
            value,
            seen,
            registered: None,
        }
    }

    fn poll_newer(&mut self, cx: &mut Context<'_>) -> Poll<Result<u64>> {
        let inner = &self.value.inner;
        let seen = self.seen;
        let newer = |r: Result<u64>| match r {
            Ok(v) if v > seen => Some(Ok(v)),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        };
        if let Some(r) = &self.registered {
            if r.ticket.update(cx.waker()) {
                return match newer(inner.load_version(OP)) {
                    Some(r) => {
                        self.registered = None;
                        Poll::Ready(r)
                    }
                    None => Poll::Pending,
                };
            }
            self.registered = None;
        }
        // Steps 1 to 4 of the module documentation.
        let n = match inner.load_notify(OP) {
            Ok(n) => n,
            Err(e) => return Poll::Ready(Err(e)),
        };
        if let Some(r) = newer(inner.load_version(OP)) {
            return Poll::Ready(r);
        }
        let counted = inner.count_waiter(true);
        self.registered = Some(Registered {
            ticket: register(inner, n, cx.waker(), counted),
            inner: inner.clone(),
        });
        match newer(inner.load_version(OP)) {
            Some(r) => {
                self.registered = None;
                Poll::Ready(r)
            }
            None => Poll::Pending,
        }
    }
}

impl Future for WaitNewer {
    type Output = Result<u64>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<u64>> {
        self.get_mut().poll_newer(cx)
    }
}

/// The stream returned by [`SharedValue::versions`]: each version newer than the last one it
/// yielded, as it is stored. It yields the latest version when it is polled, so a version stored
/// and replaced between two polls is skipped (the value it held is gone anyway); a consumer
/// faster than the stores sees every one. Errors (`Truncated`) are yielded as items.
#[must_use = "streams do nothing unless polled"]
#[derive(Debug)]
pub struct Versions {
    wait: WaitNewer,
}

impl Versions {
    pub(super) fn new(value: SharedValue, seen: u64) -> Versions {
        Versions {
            wait: WaitNewer::new(value, seen),
        }
    }
}

impl Stream for Versions {
    type Item = Result<u64>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<u64>>> {
        let wait = &mut self.get_mut().wait;
        match wait.poll_newer(cx) {
            Poll::Ready(Ok(v)) => {
                wait.seen = v;
                Poll::Ready(Some(Ok(v)))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl SharedValue {
    /// Waits, without blocking the thread, until a version newer than `seen` is stored (in any
    /// process), and resolves to it; ready at once if there is one already. The async form of
    /// [`wait_newer`](Self::wait_newer), for any executor (tokio, async-std, smol, a plain
    /// `block_on`): mmf depends on no runtime.
    ///
    /// The task costs no CPU while it waits: a waiter thread of this process sleeps in the kernel
    /// on the value's notification word (`futex_waitv` on Linux 5.16 and later; one thread per
    /// waiting future on older kernels and on Windows; on the POSIX backend (macOS, the BSDs)
    /// that thread polls with a bounded backoff). Read-only handles are woken like read-write
    /// ones. There is no timeout: use your runtime's (`tokio::time::timeout`). Dropping the
    /// future removes its registration.
    ///
    /// ```
    /// use mmf::SharedValue;
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let name = format!("mmf-doc-wait-async-{}", std::process::id());
    ///     let value = SharedValue::create(&name)?;
    ///     let reader = value.clone();
    ///     let seen = reader.version();
    ///     // Another thread or process stores...
    ///     let writer = std::thread::spawn(move || value.store(b"ready"));
    ///     // ...while this one awaits it, here with the `futures` crate's executor.
    ///     let version = futures::executor::block_on(reader.wait_newer_async(seen))?;
    ///     assert!(version > seen);
    ///     assert_eq!(reader.retrieve()?, b"ready");
    ///     writer.join().unwrap()?;
    ///     Ok(())
    /// }
    /// ```
    ///
    /// # Errors
    /// The future resolves to `Truncated` when another process cuts the object short meanwhile
    /// (noticed within 10 s; within a second where `futex_waitv` is not available).
    pub fn wait_newer_async(&self, seen: u64) -> WaitNewer {
        WaitNewer::new(self.clone(), seen)
    }

    /// A [`Stream`](futures_core::Stream) of the versions stored after `seen`, each as it comes
    /// (see [`Versions`] for what a slow consumer sees). Woken as for
    /// [`wait_newer_async`](Self::wait_newer_async); it never ends.
    pub fn versions(&self, seen: u64) -> Versions {
        Versions::new(self.clone(), seen)
    }

    /// How many async waits ([`WaitNewer`], [`Versions`]) of this process are registered for this
    /// value now: for tests that check that dropped futures leave nothing behind.
    #[doc(hidden)]
    pub fn async_waiters(&self) -> usize {
        let live = lock(&LIVE);
        live.as_ref()
            .and_then(|m| m.get(&(Arc::as_ptr(&self.inner) as usize)).copied())
            .unwrap_or(0)
    }
}
