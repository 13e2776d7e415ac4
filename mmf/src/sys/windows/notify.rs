//! Blocking notification and process liveness for Windows; see the contract in `sys/mod.rs`.
//!
//! # Waiting
//!
//! `WaitOnAddress` works within one process only, so waiting across processes uses kernel
//! objects named after the shared object (`NS` is `Local\` or `Global\`):
//!
//! - a one-page section, `NS\.mmf-wait.NAME`, holding a table of waiter slots: `SLOTS` 32-bit
//!   words, each 0 (free) or the id of the process whose thread waits in it, and the number of
//!   slots ever used;
//! - one auto-reset event per slot, `NS\.mmf-wake-SLOT.NAME`, on which that slot's waiter blocks.
//!
//! Names starting with `.mmf-` cannot be object names in mmf, so these never collide with a user's
//! object. All are created on first use (`CreateFileMappingW` and `CreateEventW` open or create
//! atomically) and disappear with the last handle to them.
//!
//! A waiter claims a free slot, clears its event, and only then re-checks the word and blocks on
//! the event. A waker changes the word first, then sets the event of every claimed slot. A
//! sequentially consistent fence on both sides (the store-buffering pattern) guarantees that
//! either the waiter sees the new word or the waker sees the claimed slot; and since every waiter
//! has an event of its own, no waiter can consume a wake-up meant for another (which is what goes
//! wrong with one shared semaphore). An event set for a waiter that has already left makes the
//! next waiter in that slot return early: a spurious wake-up, which the contract allows (callers
//! re-check the word and wait again). Nothing polls: a waiter sleeps in the kernel until its event
//! is set or its timeout passes.
//!
//! Limits: a waker pays one atomic load when nobody waits, and otherwise a scan of the slots ever
//! used plus one `SetEvent` per waiter. Beyond `SLOTS` simultaneous waiters on one object, a
//! waiter sleeps in short steps (1 to 16 ms) and re-checks instead. A slot claimed by a process
//! that was killed while waiting stays claimed (and is woken in vain) until the table itself goes
//! away with the last notifier of the object.
//!
//! Anonymous objects have no name to derive these from, and may be shared with a child through
//! handle inheritance, so they all share one table per session, named with the suffix
//! `.mmf-anonymous` (a name no mmf object can have). A wake-up of any anonymous shared value then
//! also wakes waiters on other anonymous values in the same session, which re-check and sleep
//! again: spurious wake-ups, never lost ones.
//!
//! # Process identity
//!
//! A process token is the process id (low 32 bits) and 32 bits folded from the process creation
//! time (`GetProcessTimes`, 100 ns units), so a reused process id is not mistaken for the old
//! process. Liveness opens the process (`PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE`): no such
//! process, a signalled (exited) one, or one created at another time is dead; a process that
//! exists but may not be opened (another user's) cannot be told.
//!
//! # Safety
//!
//! Calls Win32 functions (raw handles and pointers) and maps a view holding the slot table; each
//! call states its invariant.
#![allow(unsafe_code)]

use super::{kernel_name, owned};
use crate::sys::{Error, Result};
use crate::Name;
use std::ffi::c_void;
use std::io;
use std::os::windows::io::{AsRawHandle, OwnedHandle};
use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use windows_sys::Win32::Foundation::{
    ERROR_ACCESS_DENIED, ERROR_INVALID_PARAMETER, FILETIME, HANDLE, INVALID_HANDLE_VALUE,
    WAIT_OBJECT_0, WAIT_TIMEOUT,
};
use windows_sys::Win32::System::Memory::{
    CreateFileMappingW, MapViewOfFile, UnmapViewOfFile, FILE_MAP_READ, FILE_MAP_WRITE,
    MEMORY_MAPPED_VIEW_ADDRESS, PAGE_READWRITE,
};
use windows_sys::Win32::System::Threading::{
    CreateEventW, GetCurrentProcess, GetCurrentProcessId, GetProcessTimes, OpenProcess, ResetEvent,
    SetEvent, WaitForSingleObject, INFINITE, PROCESS_QUERY_LIMITED_INFORMATION,
    PROCESS_SYNCHRONIZE,
};

/// Waiter slots per object: the table and its header fill one page.
const SLOTS: usize = 1000;

/// The shared table: `used` is one more than the highest slot ever claimed.
#[repr(C)]
struct Table {
    used: AtomicU32,
    slots: [AtomicU32; SLOTS],
}

/// Blocks until a 32-bit word in shared memory changes; wakes waiters in every process.
pub(crate) struct Notifier {
    table: TableView,
    _section: OwnedHandle,
    /// The suffix of the event names: `NAME` or `.mmf-anonymous`, with the namespace.
    global: bool,
    suffix: String,
    /// Event handles by slot, opened on first use and kept until the notifier is dropped.
    events: Mutex<Vec<Option<OwnedHandle>>>,
}

/// The view of the slot table; unmapped on drop.
struct TableView {
    ptr: *const Table,
}

impl Drop for TableView {
    fn drop(&mut self) {
        // SAFETY: `ptr` is the base of a view this TableView owns; the only references into it are
        // made by `Notifier::table`, which borrows the Notifier that owns this view.
        unsafe {
            UnmapViewOfFile(MEMORY_MAPPED_VIEW_ADDRESS {
                Value: self.ptr as *mut c_void,
            })
        };
    }
}

// SAFETY: the fields are kernel handles (usable from any thread), a mutex, plain data, and a view
// that is only accessed through atomics; sharing or sending the Notifier adds nothing another
// process could not do.
unsafe impl Send for Notifier {}
// SAFETY: as above.
unsafe impl Sync for Notifier {}

fn fail(e: io::Error) -> Error {
    Error::os(e).at("wait on")
}

/// Releases a claimed slot when the wait ends, however it ends.
struct Claim<'a> {
    slot: &'a AtomicU32,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.slot.store(0, Ordering::SeqCst);
    }
}

impl Notifier {
    /// Opens (or creates) the notification table for the object named `key` (`None`: the
    /// session-wide table shared by all anonymous objects).
    pub(crate) fn new(key: Option<&Name>, global: bool) -> Result<Notifier> {
        let (global, suffix) = match key {
            Some(n) => (global, n.as_str().to_owned()),
            None => (false, ".mmf-anonymous".to_owned()),
        };
        let table_name = kernel_name(global, ".mmf-wait.", &suffix);
        let size = std::mem::size_of::<Table>() as u32;
        // SAFETY: pagefile-backed, NUL-terminated name; creates or opens the table section
        // (zero-filled when new, which is an empty table).
        let sec = unsafe {
            CreateFileMappingW(
                INVALID_HANDLE_VALUE,
                std::ptr::null(),
                PAGE_READWRITE,
                0,
                size,
                table_name.as_ptr(),
            )
        };
        let err = io::Error::last_os_error();
        // SAFETY: NULL or a new handle we own.
        let section = unsafe { owned(sec) }.ok_or_else(|| fail(err))?;
        // SAFETY: maps the table (the section is at least `size` bytes) read-write.
        let view = unsafe {
            MapViewOfFile(
                section.as_raw_handle() as HANDLE,
                FILE_MAP_READ | FILE_MAP_WRITE,
                0,
                0,
                size as usize,
            )
        };
        if view.Value.is_null() {
            return Err(fail(io::Error::last_os_error()));
        }
        let mut events = Vec::with_capacity(SLOTS);
        events.resize_with(SLOTS, || None);
        Ok(Notifier {
            table: TableView {
                ptr: view.Value as *const Table,
            },
            _section: section,
            global,
            suffix,
            events: Mutex::new(events),
        })
    }

    fn table(&self) -> &Table {
        // SAFETY: the view is mapped, page-aligned and writable while `self` lives; the table is
        // made of atomics only (all-zero is valid), which every process accesses atomically.
        unsafe { &*self.table.ptr }
    }

    /// The event of `slot` (opened or created on first use, then cached).
    fn event(&self, slot: usize) -> io::Result<HANDLE> {
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = &events[slot] {
            return Ok(h.as_raw_handle() as HANDLE);
        }
        let name = kernel_name(self.global, &format!(".mmf-wake-{}.", slot), &self.suffix);
        // SAFETY: an auto-reset event, initially unset, with a NUL-terminated name; opens the
        // existing one if another process made it.
        let h = unsafe { CreateEventW(std::ptr::null(), 0, 0, name.as_ptr()) };
        let err = io::Error::last_os_error();
        // SAFETY: NULL or a new handle we own.
        let h = unsafe { owned(h) }.ok_or(err)?;
        let raw = h.as_raw_handle() as HANDLE;
        // The handle stays in the cache, open, until the notifier is dropped.
        events[slot] = Some(h);
        Ok(raw)
    }

    /// Claims a free slot for this thread's wait, or `None` if all are taken.
    fn claim(&self) -> Option<(usize, Claim<'_>)> {
        let table = self.table();
        // SAFETY: no preconditions.
        let me = unsafe { GetCurrentProcessId() }.max(1);
        for (i, slot) in table.slots.iter().enumerate() {
            if slot.load(Ordering::Relaxed) == 0
                && slot
                    .compare_exchange(0, me, Ordering::SeqCst, Ordering::Relaxed)
                    .is_ok()
            {
                table.used.fetch_max(i as u32 + 1, Ordering::SeqCst);
                return Some((i, Claim { slot }));
            }
        }
        None
    }

    /// Blocks while `word == expected`, at most `timeout`. `Ok(false)` on timeout; `Ok(true)`
    /// otherwise, spurious wake-ups included.
    pub(crate) fn wait(
        &self,
        word: &AtomicU32,
        expected: u32,
        timeout: Option<Duration>,
    ) -> io::Result<bool> {
        let (ms, whole) = match timeout {
            None => (INFINITE, true),
            Some(t) => {
                // Round up, so a timeout is never reported before the time has passed.
                let ms = t.as_millis() + u128::from(t.subsec_nanos() % 1_000_000 != 0);
                if ms >= u128::from(INFINITE) {
                    // Longer than Windows can wait at once: wake up early (a spurious wake-up).
                    (INFINITE - 1, false)
                } else {
                    (ms as u32, true)
                }
            }
        };
        let (slot, claim) = match self.claim() {
            Some(c) => c,
            None => return self.wait_without_slot(word, expected, timeout),
        };
        let event = match self.event(slot) {
            Ok(e) => e,
            Err(e) => {
                drop(claim);
                return Err(e);
            }
        };
        // Forget wake-ups meant for an earlier waiter in this slot. A waker that set the event
        // before this reset changed the word before it, so the check below sees the change.
        // SAFETY: an event handle we hold (cached for the notifier's lifetime).
        unsafe { ResetEvent(event) };
        fence(Ordering::SeqCst);
        if word.load(Ordering::SeqCst) != expected {
            return Ok(true);
        }
        // SAFETY: waits on an event handle we hold.
        let r = unsafe { WaitForSingleObject(event, ms) };
        let err = io::Error::last_os_error();
        drop(claim);
        match r {
            WAIT_OBJECT_0 => Ok(true),
            WAIT_TIMEOUT => Ok(!whole),
            _ => Err(err),
        }
    }

    /// More waiters than slots: sleep in short steps and re-check.
    fn wait_without_slot(
        &self,
        word: &AtomicU32,
        expected: u32,
        timeout: Option<Duration>,
    ) -> io::Result<bool> {
        let start = Instant::now();
        let mut step = Duration::from_millis(1);
        loop {
            if word.load(Ordering::SeqCst) != expected {
                return Ok(true);
            }
            let left = match timeout {
                Some(t) => match t.checked_sub(start.elapsed()) {
                    Some(l) if l > Duration::ZERO => l,
                    _ => return Ok(false),
                },
                None => step,
            };
            std::thread::sleep(step.min(left));
            step = (step * 2).min(Duration::from_millis(16));
        }
    }

    /// Wakes every process's waiters on this object (the word is already changed).
    pub(crate) fn wake_all(&self, _word: &AtomicU32) {
        fence(Ordering::SeqCst);
        let table = self.table();
        let used = (table.used.load(Ordering::SeqCst) as usize).min(SLOTS);
        for i in 0..used {
            if table.slots[i].load(Ordering::SeqCst) == 0 {
                continue;
            }
            // A slot whose event cannot be opened has no waiter that could block on it (the
            // waiter opens it before checking the word).
            if let Ok(event) = self.event(i) {
                // SAFETY: sets an event handle we hold.
                unsafe { SetEvent(event) };
            }
        }
    }
}

/// 32 bits folded from the creation time of the process `h`, never 0; `None` if unreadable.
fn creation_bits(h: HANDLE) -> Option<u32> {
    let zero = FILETIME {
        dwLowDateTime: 0,
        dwHighDateTime: 0,
    };
    let (mut created, mut exited, mut kernel, mut user) = (zero, zero, zero, zero);
    // SAFETY: a process handle with query access and four writable FILETIMEs.
    let ok = unsafe { GetProcessTimes(h, &mut created, &mut exited, &mut kernel, &mut user) };
    if ok == 0 {
        return None;
    }
    let bits = created.dwLowDateTime ^ created.dwHighDateTime;
    Some(bits.max(1))
}

/// This process's token: process id | creation-time bits << 32, where bits that cannot be read
/// are recorded as 1, "unknown". The high half is never 0, so a token from damaged memory that is
/// only a small number (which may well be the id of some live process) is never taken for one.
pub(crate) fn process_token() -> u64 {
    static CACHE: AtomicU64 = AtomicU64::new(0);
    // SAFETY: no preconditions.
    let pid = unsafe { GetCurrentProcessId() };
    let cached = CACHE.load(Ordering::Relaxed);
    if cached != 0 && cached as u32 == pid {
        return cached;
    }
    // SAFETY: the pseudo-handle of this process, which has every access right.
    let bits = creation_bits(unsafe { GetCurrentProcess() }).unwrap_or(1);
    let token = (u64::from(bits) << 32) | u64::from(pid.max(1));
    CACHE.store(token, Ordering::Relaxed);
    token
}

/// Whether the process a token names is alive: `Some(false)` only when it surely is not (no such
/// process, exited, or the id now belongs to a process created at another time); `None` if it
/// cannot be told.
pub(crate) fn process_alive(token: u64) -> Option<bool> {
    let (pid, bits) = (token as u32, (token >> 32) as u32);
    if pid == 0 || bits == 0 {
        return Some(false); // no process has this token
    }
    // SAFETY: opens a process by id with query and wait rights; NULL on failure.
    let h = unsafe {
        OpenProcess(
            PROCESS_QUERY_LIMITED_INFORMATION | PROCESS_SYNCHRONIZE,
            0,
            pid,
        )
    };
    let err = io::Error::last_os_error();
    // SAFETY: NULL or a new handle we own.
    let h = match unsafe { owned(h) } {
        Some(h) => h,
        // It exists, but we may not look at it.
        None if err.raw_os_error() == Some(ERROR_ACCESS_DENIED as i32) => return None,
        // ERROR_INVALID_PARAMETER: no process has this id.
        None if err.raw_os_error() == Some(ERROR_INVALID_PARAMETER as i32) => return Some(false),
        // Anything else (handle or quota exhaustion, ...) says nothing about the process: a live
        // writer's lock must not be taken over on a guess.
        None => return None,
    };
    let raw = h.as_raw_handle() as HANDLE;
    // SAFETY: polls (timeout 0) a process handle we own; signalled means it has exited.
    if unsafe { WaitForSingleObject(raw, 0) } == WAIT_OBJECT_0 {
        return Some(false);
    }
    match creation_bits(raw) {
        Some(now) if bits != 1 && now != bits => Some(false),
        _ => Some(true),
    }
}

/// Whether a process is stopped: Windows has no stopped state that a process can be put in from
/// outside the way SIGSTOP does (a debugger's break suspends threads, which cannot be queried
/// cheaply), so it cannot be told.
pub(crate) fn process_stopped(_token: u64) -> Option<bool> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};
    use std::sync::mpsc;
    use std::sync::Arc;
    use std::time::Instant;

    const WATCHDOG: Duration = Duration::from_secs(60);
    const CHILD_ENV: &str = "MMF_NOTIFY_TEST_CHILD";

    fn name(tag: &str) -> Name {
        Name::new(&format!("mmf-notify-{}-{}", tag, std::process::id())).unwrap()
    }

    #[test]
    fn own_process_is_alive_and_a_finished_child_is_not() {
        let me = process_token();
        assert_eq!(me as u32, std::process::id());
        assert_ne!(me >> 32, 0);
        assert_eq!(process_token(), me);
        assert_eq!(process_alive(me), Some(true));
        // The same id with another creation time is another process.
        assert_eq!(process_alive(me ^ (1 << 40)), Some(false));
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--list"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        child.wait().unwrap();
        drop(child);
        assert_eq!(process_alive(u64::from(pid) | 1 << 32), Some(false));
        assert_eq!(process_alive(0), Some(false));
        // Only a small number (as damaged memory might hold), here our own id: not a token.
        assert_eq!(process_alive(u64::from(std::process::id())), Some(false));
    }

    #[test]
    fn a_wait_times_out_or_returns_at_once() {
        let n = Notifier::new(Some(&name("timeout")), false).unwrap();
        let word = AtomicU32::new(7);
        assert!(!n.wait(&word, 7, Some(Duration::from_millis(20))).unwrap());
        // A word that already differs returns at once, whatever the timeout.
        assert!(n.wait(&word, 8, None).unwrap());
        // Every slot was given back.
        assert!(n
            .table()
            .slots
            .iter()
            .all(|s| s.load(Ordering::SeqCst) == 0));
    }

    #[test]
    fn more_waiters_than_slots_still_wait_and_wake() {
        let n = Arc::new(Notifier::new(Some(&name("full")), false).unwrap());
        for s in n.table().slots.iter() {
            s.store(u32::MAX, Ordering::SeqCst);
        }
        let word = Arc::new(AtomicU32::new(0));
        assert!(!n.wait(&word, 0, Some(Duration::from_millis(20))).unwrap());
        let (tx, rx) = mpsc::channel();
        let (n2, w2) = (n.clone(), word.clone());
        std::thread::spawn(move || {
            while w2.load(Ordering::SeqCst) == 0 {
                n2.wait(&w2, 0, None).unwrap();
            }
            tx.send(()).unwrap();
        });
        word.store(1, Ordering::SeqCst);
        n.wake_all(&word);
        rx.recv_timeout(WATCHDOG)
            .expect("watchdog: never saw the change");
        for s in n.table().slots.iter() {
            s.store(0, Ordering::SeqCst);
        }
    }

    /// Two threads take turns through one word: each waits (without a timeout) for the other's
    /// value. A lost wake-up leaves both asleep, which the watchdog reports.
    fn ping_pong(key: Option<&Name>) {
        const ROUNDS: u32 = 2000;
        let a = Arc::new(Notifier::new(key, false).unwrap());
        let b = Arc::new(Notifier::new(key, false).unwrap());
        let word = Arc::new(AtomicU32::new(0));
        let (tx, rx) = mpsc::channel();
        for (me, n) in [(0u32, a), (1u32, b)] {
            let word = word.clone();
            let tx = tx.clone();
            std::thread::spawn(move || {
                for i in 0..ROUNDS {
                    let mine = 2 * i + me;
                    loop {
                        let now = word.load(Ordering::SeqCst);
                        if now == mine {
                            break;
                        }
                        n.wait(&word, now, None).unwrap();
                    }
                    word.store(mine + 1, Ordering::SeqCst);
                    n.wake_all(&word);
                }
                tx.send(()).unwrap();
            });
        }
        for _ in 0..2 {
            rx.recv_timeout(WATCHDOG)
                .expect("watchdog: a wake-up was lost (both sides asleep)");
        }
        assert_eq!(word.load(Ordering::SeqCst), 2 * ROUNDS);
    }

    #[test]
    fn no_wake_up_is_lost_between_threads() {
        ping_pong(Some(&name("ping")));
    }

    #[test]
    fn anonymous_objects_share_one_pair_and_still_lose_nothing() {
        ping_pong(None);
    }

    #[test]
    fn a_waiter_in_another_process_is_woken() {
        let key = name("process");
        let m = crate::Mapping::create(&key, 64).unwrap();
        let v = m.map_mut().unwrap();
        let word = v.atomic_u32(0).unwrap();
        let ready = v.atomic_u32(4).unwrap();
        let n = Notifier::new(Some(&key), false).unwrap();
        // The test's own path, whatever module the backend declares it in.
        let module = module_path!().splitn(2, "::").nth(1).unwrap_or("");
        let child_test = format!("{}::child_waits_until_woken", module);
        let child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                child_test.as_str(),
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, key.as_str())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while ready.load(Ordering::SeqCst) == 0 {
            assert!(
                start.elapsed() < WATCHDOG,
                "watchdog: the child never got ready"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        // Give the child time to block in the kernel (correctness does not depend on it).
        std::thread::sleep(Duration::from_millis(100));
        word.store(42, Ordering::SeqCst);
        n.wake_all(word);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || tx.send(child.wait_with_output()));
        let out = rx
            .recv_timeout(WATCHDOG)
            .expect("watchdog: the child was not woken")
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("woken with 42"),
            "status {:?}\nstdout: {}\nstderr: {}",
            out.status,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The other process of `a_waiter_in_another_process_is_woken` (does nothing on its own).
    #[test]
    #[ignore]
    fn child_waits_until_woken() {
        let key = match std::env::var(CHILD_ENV) {
            Ok(k) => Name::new(&k).unwrap(),
            Err(_) => return,
        };
        let m = crate::Mapping::open(&key).unwrap();
        let v = m.map_mut().unwrap();
        let word = v.atomic_u32(0).unwrap();
        let n = Notifier::new(Some(&key), false).unwrap();
        v.atomic_u32(4).unwrap().store(1, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(45);
        while word.load(Ordering::SeqCst) == 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            // A timeout means the wake-up never came (spurious returns just loop).
            assert!(
                n.wait(word, 0, Some(left)).unwrap(),
                "not woken within 45 s"
            );
        }
        println!("woken with {}", word.load(Ordering::SeqCst));
    }
}
