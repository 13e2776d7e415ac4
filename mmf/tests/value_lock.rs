//! The shared-value writer lock across real processes: a live owner that keeps the lock (stopped
//! with SIGSTOP, or named by a damaged lock word) makes other stores fail with `Busy` after their
//! `lock_timeout`, naming it, instead of waiting for ever; a dead one is still taken over.
//!
//! Linux only: the tests stop processes with signals and read process tokens from `/proc` (the
//! token format is in `FORMAT.md`). Every wait has a watchdog; no test asserts a duration.
#![cfg(target_os = "linux")]

use mmf::{ErrorKind, Mapping, SharedValue, ValueOptions};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod common;

use common::{unique, wait_output};

/// Where the writer lock word lives (`FORMAT.md`, control block).
const LOCK_OFFSET: usize = 128;
const WATCHDOG: Duration = Duration::from_secs(60);

/// Starts the helper with stdin piped (it runs until stdin closes) and returns it with its first
/// line on stdout.
fn helper(args: &[&str]) -> (Child, String) {
    let mut child = common::helper()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mmf-testhelper");
    let (line, out) = common::read_line(child.stdout.take().unwrap(), WATCHDOG);
    child.stdout = Some(out);
    (child, line.trim().to_owned())
}

/// Closes the helper's stdin and waits for it to finish cleanly; returns its stdout.
fn finish(mut child: Child) -> String {
    drop(child.stdin.take());
    let out = wait_output(child, WATCHDOG);
    common::check(&out, "mmf-testhelper")
}

/// Runs `f` on a thread and panics if it does not finish within the watchdog.
fn within<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(WATCHDOG)
        .expect("watchdog: the operation did not finish in time")
}

fn signal(pid: u32, sig: &str) {
    let st = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success(), "kill {} {} failed", sig, pid);
}

/// The state letter and start time (field 22) of `/proc/PID/stat`.
fn stat(pid: u32) -> (u8, u64) {
    let s = std::fs::read_to_string(format!("/proc/{}/stat", pid)).unwrap();
    let rest = &s[s.rfind(')').unwrap() + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    (f[0].as_bytes()[0], f[19].parse().unwrap())
}

/// The process token mmf writes into the lock word for `pid` (`FORMAT.md`, process tokens).
fn token(pid: u32) -> u64 {
    ((stat(pid).1 as u32).max(1) as u64) << 32 | pid as u64
}

/// Waits (with a watchdog) until `pid` shows state `T`.
fn wait_stopped(pid: u32) {
    let deadline = Instant::now() + WATCHDOG;
    while stat(pid).0 != b'T' {
        assert!(Instant::now() < deadline, "watchdog: {} never stopped", pid);
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn lock_word(name: &str) -> u64 {
    let v = Mapping::open(name).unwrap().map().unwrap();
    let mut w = [0u8; 8];
    v.read_at(LOCK_OFFSET, &mut w).unwrap();
    u64::from_le_bytes(w)
}

fn set_lock_word(name: &str, token: u64) {
    Mapping::open(name)
        .unwrap()
        .map_mut()
        .unwrap()
        .write_at(LOCK_OFFSET, &token.to_le_bytes())
        .unwrap();
}

/// A store through a fresh handle with this lock timeout, on a thread under the watchdog.
fn store_with(name: &str, lock_timeout: Duration, bytes: &'static [u8]) -> mmf::Result<u64> {
    let v = ValueOptions::new()
        .lock_timeout(lock_timeout)
        .open(name)
        .unwrap();
    within(move || v.store(bytes))
}

/// A writer stopped with SIGSTOP while it holds the lock: another store gives up with `Busy`
/// after its lock timeout, naming the pid and saying it is stopped and how to resume it, and
/// stores nothing; after SIGCONT stores succeed again.
#[test]
fn a_stopped_lock_owner_makes_stores_fail_with_busy() {
    const LEN: usize = 8 << 20;
    let name = unique("lock-stopped");
    let value = SharedValue::create(&name).unwrap();
    value.store(b"first").unwrap();
    let (child, line) = helper(&["value-lock-loop", &name, &LEN.to_string()]);
    assert_eq!(line, "looping");
    let pid = child.id();
    // Stop it until it is caught holding the lock (it holds it for most of each cycle).
    let deadline = Instant::now() + WATCHDOG;
    let mut tries = 0u32;
    loop {
        assert!(
            Instant::now() < deadline,
            "watchdog: the helper was never stopped while it held the lock ({} tries)",
            tries
        );
        signal(pid, "-STOP");
        wait_stopped(pid);
        let owner = lock_word(&name);
        if owner != 0 {
            assert_eq!(owner, token(pid), "the lock word names the helper");
            break;
        }
        signal(pid, "-CONT");
        tries += 1;
        std::thread::sleep(Duration::from_micros(300 * (tries % 7) as u64));
    }
    let before = value.version();
    let err = store_with(&name, Duration::from_millis(300), b"blocked").unwrap_err();
    let msg = err.to_string();
    eprintln!("caught after {} tries: {}", tries, msg);
    assert_eq!(err.kind(), ErrorKind::Busy, "{}", msg);
    for part in [
        name.as_str(),
        &format!("held by pid {}", pid),
        "stopped",
        &format!("kill -CONT {}", pid),
        "waited",
    ] {
        assert!(msg.contains(part), "{:?} missing from: {}", part, msg);
    }
    assert_eq!(value.version(), before, "nothing was stored");
    assert_eq!(lock_word(&name), token(pid), "the lock was left alone");

    signal(pid, "-CONT");
    let v = store_with(&name, Duration::from_secs(30), b"after").unwrap();
    assert!(v > before);
    let said = finish(child);
    assert!(said.contains("stores"), "{}", said);
    assert_eq!(lock_word(&name), 0);
}

/// A damaged lock word naming a live process (another one, or this one) is `Busy` within the
/// lock timeout, not a hang; naming a dead process it is taken over as before.
#[test]
fn a_lock_word_naming_a_live_process_is_busy_not_a_hang() {
    let name = unique("lock-word");
    let value = SharedValue::create(&name).unwrap();
    value.store(b"before").unwrap();
    let (child, line) = helper(&["hold", &name]);
    assert!(line.starts_with("held"), "{}", line);
    let pid = child.id();
    let me = std::process::id();
    for (owner, who) in [
        (token(pid), format!("held by pid {}", pid)),
        (token(me), format!("held by this process (pid {})", me)),
    ] {
        set_lock_word(&name, owner);
        let err = store_with(&name, Duration::from_millis(200), b"blocked").unwrap_err();
        let msg = err.to_string();
        assert_eq!(err.kind(), ErrorKind::Busy, "{}", msg);
        assert!(msg.contains(&who), "{:?} missing from: {}", who, msg);
        assert!(!msg.contains("is stopped"), "{}", msg);
        assert_eq!(value.retrieve().unwrap(), b"before");
        assert_eq!(lock_word(&name), owner, "the lock was left alone");
    }
    // Released by hand: stores work again.
    set_lock_word(&name, 0);
    store_with(&name, Duration::from_millis(200), b"free").unwrap();
    // Naming a process that has exited: taken over, whatever the timeout.
    let dead = token(pid);
    finish(child);
    set_lock_word(&name, dead);
    store_with(&name, Duration::from_millis(200), b"taken over").unwrap();
    assert_eq!(value.retrieve().unwrap(), b"taken over");
    assert_eq!(lock_word(&name), 0);
}
