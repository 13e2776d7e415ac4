//! Blocking notification and process liveness for Linux; see the contract in `sys/mod.rs`.
//!
//! Waiting is a futex on the 32-bit word itself. The futex is *shared* (no `FUTEX_PRIVATE_FLAG`):
//! the word lives in memory mapped by several processes at different addresses, and a private
//! futex keys on the address in one process, so a wake from another process would be lost
//! (verified in `shared/research/os-semantics.md` §2.12). The kernel keys a shared futex on the
//! page and offset in the object, so no name is needed.
//!
//! A process token is the pid (low 32 bits) and the low 32 bits of the process start time in
//! clock ticks since boot (field 22 of `/proc/PID/stat`), so a pid reused by a new process is not
//! mistaken for the old owner. Liveness is `kill(pid, 0)` plus that start time, and a zombie
//! (killed but not yet reaped by its parent) counts as dead. Tokens mean nothing across pid
//! namespaces: processes that share a value across containers must share a pid namespace.

use crate::sys::Result;
use crate::Name;
use rustix::io::Errno;
use rustix::process::Pid;
use rustix::thread::futex;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Once;
use std::time::Duration;

/// Blocks on a 32-bit word in shared memory until another process changes it.
pub(crate) struct Notifier(());

impl Notifier {
    /// A notifier for the object named `key` (unused on Linux: the futex keys on the memory).
    pub(crate) fn new(_key: Option<&Name>, _global: bool) -> Result<Notifier> {
        Ok(Notifier(()))
    }

    /// Sleeps while `*word == expected`, at most `timeout`: `FUTEX_WAIT` without the private
    /// flag. `Ok(false)` on timeout; `Ok(true)` when woken, interrupted, or the word had already
    /// changed (callers re-check and loop).
    #[cfg_attr(loom, allow(dead_code))] // loom models use their own host, not the kernel
    pub(crate) fn wait(
        &self,
        word: &AtomicU32,
        expected: u32,
        timeout: Option<Duration>,
    ) -> io::Result<bool> {
        let ts = timeout.map(|d| futex::Timespec {
            tv_sec: d.as_secs().min(i64::MAX as u64) as _,
            tv_nsec: d.subsec_nanos() as _,
        });
        match futex::wait(word, futex::Flags::empty(), expected, ts) {
            Ok(()) => Ok(true),
            Err(e) if e == Errno::AGAIN || e == Errno::INTR => Ok(true),
            Err(e) if e == Errno::TIMEDOUT => Ok(false),
            Err(e) => Err(io::Error::from_raw_os_error(e.raw_os_error())),
        }
    }

    /// Wakes every process and thread sleeping on `word` (`FUTEX_WAKE`, shared).
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn wake_all(&self, word: &AtomicU32) {
        let _ = futex::wake(word, futex::Flags::empty(), i32::MAX as u32);
    }
}

/// The state letter and start time (field 22) from `/proc/PID/stat`.
fn stat(pid: u32) -> Option<(u8, u64)> {
    let s = std::fs::read(format!("/proc/{}/stat", pid)).ok()?;
    // The command name (field 2) is in parentheses and may contain anything, spaces and ')'
    // included: the fields that follow start after the last ')'.
    let close = s.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(s.get(close + 1..)?).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let state = *fields.next()?.as_bytes().first()?;
    // After the state (field 3), field 22 is the 19th.
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// This process's token: pid | start time << 32, where a start time that cannot be read (or whose
/// low 32 bits are 0) is recorded as 1, "unknown". The high half is never 0, so a token from
/// damaged memory that is only a small number is never taken for a live process.
///
/// Computed once and cached; a `pthread_atfork` handler clears the cache in the child of every
/// `fork`, so a forked child never writes its parent's token (a child made by a raw `clone`
/// system call, which runs no fork handlers and is not supported, would). If the handler cannot
/// be registered, every call compares the cached pid with `getpid`.
pub(crate) fn process_token() -> u64 {
    let cached = TOKEN.load(Ordering::Relaxed);
    if cached != 0 && FORK_HANDLER.load(Ordering::Relaxed) {
        return cached;
    }
    register_fork_handler();
    let pid = rustix::process::getpid().as_raw_nonzero().get() as u32;
    let cached = TOKEN.load(Ordering::Relaxed);
    if cached != 0 && cached as u32 == pid {
        return cached;
    }
    let start = stat(pid).map_or(1, |(_, start)| (start as u32).max(1));
    let token = ((start as u64) << 32) | pid as u64;
    TOKEN.store(token, Ordering::Relaxed);
    token
}

static TOKEN: AtomicU64 = AtomicU64::new(0);
static FORK_HANDLER: AtomicBool = AtomicBool::new(false);

extern "C" {
    fn pthread_atfork(
        prepare: Option<unsafe extern "C" fn()>,
        parent: Option<unsafe extern "C" fn()>,
        child: Option<unsafe extern "C" fn()>,
    ) -> std::os::raw::c_int;
}

/// Runs in the child of a `fork`, where only the forking thread exists: one atomic store, which
/// is async-signal-safe.
#[allow(unsafe_code)]
unsafe extern "C" fn forget_token_in_child() {
    TOKEN.store(0, Ordering::Relaxed);
}

#[allow(unsafe_code)]
fn register_fork_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: registers a handler that only stores to an atomic. glibc ties the handler to
        // the shared object that registered it (`__dso_handle`) and drops it when that object
        // is unloaded, so it never runs after the code is gone. A failure to register is
        // handled by the getpid path.
        let ok = unsafe { pthread_atfork(None, None, Some(forget_token_in_child)) } == 0;
        FORK_HANDLER.store(ok, Ordering::Relaxed);
    });
}

/// Wall-clock milliseconds since the Unix epoch from the coarse clock (a few nanoseconds, no
/// system call; a resolution of a few milliseconds, plenty for pin ages measured in seconds).
pub(crate) fn now_ms() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse);
    (t.tv_sec.max(0) as u64) * 1000 + (t.tv_nsec.max(0) as u64) / 1_000_000
}

/// Whether the process a token names is alive: `Some(false)` only when it surely is not (no such
/// pid, a zombie, or the pid now belongs to a process started at another time); `None` if it
/// cannot be told.
pub(crate) fn process_alive(token: u64) -> Option<bool> {
    let (raw, start) = (token as u32, (token >> 32) as u32);
    let pid = match i32::try_from(raw).ok().and_then(Pid::from_raw) {
        Some(p) if start != 0 => p,
        _ => return Some(false), // no process has this token
    };
    match rustix::process::test_kill_process(pid) {
        Ok(()) => {}
        Err(e) if e == Errno::SRCH => return Some(false),
        Err(e) if e == Errno::PERM => {} // exists, another user's
        Err(_) => return None,
    }
    match stat(raw) {
        Some((state, _)) if state == b'Z' || state == b'X' => Some(false),
        Some((_, now)) if start != 1 && (now as u32).max(1) != start => Some(false),
        Some(_) => Some(true),
        // kill says it exists but /proc cannot tell more (hidepid, no procfs): assume alive.
        None => Some(true),
    }
}

/// Whether the process a token names is stopped: state `T` in `/proc/PID/stat` (stopped by a
/// signal: SIGSTOP, or SIGTSTP from Ctrl-Z) or `t` (stopped by a debugger). `None` when it cannot
/// be told: no procfs, or the pid now names a process started at another time (or none).
pub(crate) fn process_stopped(token: u64) -> Option<bool> {
    let (pid, start) = (token as u32, (token >> 32) as u32);
    let (state, now) = stat(pid)?;
    if start != 1 && (now as u32).max(1) != start {
        return None;
    }
    Some(state == b'T' || state == b't')
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_a_dead_child_is_not() {
        let me = process_token();
        assert_eq!(me as u32, std::process::id());
        assert_eq!(process_alive(me), Some(true));
        // The same pid with another start time is another process.
        assert_eq!(process_alive(me ^ (1 << 40)), Some(false));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert_eq!(process_alive(pid as u64 | 1 << 32), Some(false));
        assert_eq!(process_alive(0), Some(false));
        // Only a small number (as damaged memory might hold): not a token.
        assert_eq!(process_alive(1), Some(false));
    }

    #[test]
    fn a_stopped_child_is_reported_as_stopped() {
        assert_eq!(process_stopped(process_token()), Some(false));
        let mut child = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        let pid = child.id();
        let token = pid as u64 | ((stat(pid).unwrap().1 as u32).max(1) as u64) << 32;
        let signal = |sig: &str| {
            let st = std::process::Command::new("kill")
                .args([sig, &pid.to_string()])
                .status()
                .unwrap();
            assert!(st.success());
        };
        signal("-STOP");
        // The signal is delivered asynchronously: wait (with a watchdog) for the state to show.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while process_stopped(token) != Some(true) {
            assert!(
                std::time::Instant::now() < deadline,
                "watchdog: never seen stopped"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        signal("-CONT");
        while process_stopped(token) != Some(false) {
            assert!(
                std::time::Instant::now() < deadline,
                "watchdog: never seen running"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        // Another start time: not this process.
        assert_eq!(process_stopped(token ^ (1 << 40)), None);
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(process_stopped(token), None);
    }

    #[test]
    #[allow(unsafe_code)]
    fn a_forked_child_has_its_own_token() {
        let parent = process_token();
        let mut fds = [0i32; 2];
        // SAFETY: plain libc calls; the child only computes its token, writes 8 bytes to the
        // pipe and leaves with _exit, so it runs no destructors of the parent's state.
        unsafe {
            assert_eq!(pipe(fds.as_mut_ptr()), 0);
            let pid = fork();
            assert!(pid >= 0);
            if pid == 0 {
                let t = process_token().to_ne_bytes();
                write(fds[1], t.as_ptr(), 8);
                _exit(0);
            }
            let mut buf = [0u8; 8];
            assert_eq!(read(fds[0], buf.as_mut_ptr(), 8), 8);
            let child = u64::from_ne_bytes(buf);
            assert_eq!(
                child as u32, pid as u32,
                "the child's token names the child"
            );
            assert_ne!(child, parent);
            let mut status = 0;
            waitpid(pid, &mut status, 0);
            close(fds[0]);
            close(fds[1]);
        }
        assert_eq!(process_token(), parent);
    }

    extern "C" {
        fn pipe(fds: *mut i32) -> i32;
        fn fork() -> i32;
        fn write(fd: i32, buf: *const u8, n: usize) -> isize;
        fn read(fd: i32, buf: *mut u8, n: usize) -> isize;
        fn waitpid(pid: i32, status: *mut i32, options: i32) -> i32;
        fn close(fd: i32) -> i32;
        fn _exit(code: i32) -> !;
    }

    #[test]
    fn wait_times_out_and_sees_changes() {
        let n = Notifier::new(None, false).unwrap();
        let w = AtomicU32::new(5);
        assert!(!n.wait(&w, 5, Some(Duration::from_millis(20))).unwrap());
        assert!(n.wait(&w, 4, Some(Duration::from_millis(20))).unwrap());
        n.wake_all(&w);
    }
}
