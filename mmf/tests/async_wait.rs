//! Async waits across real processes: futures on a tokio current-thread runtime and on
//! `futures::executor::block_on` woken by stores from another process, a `Stream` that loses no
//! version, read-only handles, and futures that leave nothing registered when dropped.
//!
//! The storing processes are `mmf-testhelper value-store` and `value-paced`. Every wait has a
//! watchdog; no test asserts a duration. On Linux with `futex_waitv` the same tests also run once
//! more in a child process on the thread-per-future fallback (`MMF_NO_FUTEX_WAITV=1`), which is
//! what older kernels and Windows use. The POSIX backend (named objects only persistent) has its
//! own async test in `posix_backend.rs`; these skip there.

use futures::executor::block_on;
use futures::StreamExt;
use mmf::{Access, Shared, SharedValue, ValueOptions};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod common;

use common::{check, hex, unique, wait_output};

const WATCHDOG: Duration = Duration::from_secs(60);

/// Runs the helper to completion under a watchdog and returns its stdout.
fn helper(args: &[&str]) -> String {
    check(&common::run_helper(args), "mmf-testhelper")
}

/// Whether to skip: the POSIX backend has no handle lifetime (see `posix_backend.rs`).
fn skip() -> bool {
    if common::POSIX_BACKEND {
        println!("SKIPPED: the POSIX backend has no handle lifetime; posix_backend.rs tests its async wait");
    }
    common::POSIX_BACKEND
}

/// Waits (with the watchdog) until `n` async waits are registered for `value`.
fn until_registered(value: &SharedValue, n: usize) {
    let start = Instant::now();
    while value.async_waiters() != n {
        assert!(
            start.elapsed() < WATCHDOG,
            "watchdog: {} async waits registered, never {}",
            value.async_waiters(),
            n
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn open(name: &str, access: Access) -> SharedValue {
    let mut o = ValueOptions::new();
    o.access(access);
    o.open(name).unwrap()
}

/// A tokio task (current-thread runtime) and a `block_on` task of this process, both waiting on
/// a handle opened with `access`, are each woken by one store from another process.
fn both_executors_are_woken(access: Access) {
    let name = unique("async-wake");
    let owner = SharedValue::create(&name).unwrap();
    let seen = owner.store(b"first").unwrap();
    let value = open(&name, access);

    let (tx, rx) = mpsc::channel();
    let v = value.clone();
    let blocking = std::thread::spawn(move || {
        let _ = tx.send(block_on(v.wait_newer_async(seen)));
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let (from_tokio, stored) = rt.block_on(async {
        let task = tokio::spawn(value.wait_newer_async(seen));
        // Both futures have registered (and found nothing newer) before the store.
        while value.async_waiters() != 2 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let stored: u64 = helper(&["value-store", &name, &hex(b"second")])
            .parse()
            .unwrap();
        let got = tokio::time::timeout(WATCHDOG, task)
            .await
            .expect("watchdog: the tokio task was never woken")
            .unwrap();
        (got, stored)
    });
    assert_eq!(from_tokio.unwrap(), stored);
    let from_block_on = rx
        .recv_timeout(WATCHDOG)
        .expect("watchdog: the block_on task was never woken");
    assert_eq!(from_block_on.unwrap(), stored);
    blocking.join().unwrap();
    assert_eq!(value.retrieve().unwrap(), b"second");
    until_registered(&value, 0);
}

#[test]
fn tokio_and_block_on_tasks_are_woken_by_a_store_in_another_process() {
    if skip() {
        return;
    }
    both_executors_are_woken(Access::ReadWrite);
}

#[test]
fn read_only_handles_are_woken_async() {
    if skip() {
        return;
    }
    both_executors_are_woken(Access::ReadOnly);
}

/// A read-only handle blocked in `wait_newer` without a timeout is woken by a store from another
/// process (writers wake on every store, so it sleeps in the kernel like a writable handle).
#[test]
fn read_only_handles_are_woken_blocking() {
    if skip() {
        return;
    }
    let name = unique("ro-wake");
    let owner = SharedValue::create(&name).unwrap();
    let seen = owner.version();
    let reader = open(&name, Access::ReadOnly);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(reader.wait_newer(seen, None));
    });
    let stored: u64 = helper(&["value-store", &name, &hex(b"hello")])
        .parse()
        .unwrap();
    let got = rx.recv_timeout(WATCHDOG).expect("watchdog: never woken");
    assert_eq!(got.unwrap(), stored);
}

/// The `waiters` word of a value (byte 76 of the object, FORMAT.md), read through a plain view.
fn waiters_in_object(name: &str) -> u32 {
    let m = mmf::OpenOptions::new()
        .access(Access::ReadOnly)
        .open(name)
        .unwrap();
    let mut b = [0u8; 4];
    m.map().unwrap().read_at(76, &mut b).unwrap();
    u32::from_le_bytes(b)
}

/// On Linux, where waking a futex nobody waits on is a system call that writers skip when
/// `waiters` is 0, read-only handles count themselves there while they wait, blocking or async
/// (through a second, writable mapping), and uncount themselves when woken or dropped.
#[test]
fn read_only_waiters_count_themselves_in_the_object() {
    if skip() || !cfg!(target_os = "linux") {
        return;
    }
    let name = unique("ro-count");
    let owner = SharedValue::create(&name).unwrap();
    let reader = open(&name, Access::ReadOnly);
    let seen = reader.version();
    assert_eq!(waiters_in_object(&name), 0);
    let until = |n: u32| {
        let start = Instant::now();
        while waiters_in_object(&name) != n {
            assert!(start.elapsed() < WATCHDOG, "watchdog: waiters never {}", n);
            std::thread::sleep(Duration::from_millis(1));
        }
    };
    // Blocking.
    let r = reader.clone();
    let blocked = std::thread::spawn(move || r.wait_newer(seen, None));
    until(1);
    let v = owner.store(b"one").unwrap();
    assert_eq!(blocked.join().unwrap().unwrap(), v);
    until(0);
    // Async: counted while pending, uncounted when dropped.
    let mut f = reader.wait_newer_async(v);
    assert!(futures::FutureExt::now_or_never(&mut f).is_none());
    assert_eq!(waiters_in_object(&name), 1);
    drop(f);
    assert_eq!(waiters_in_object(&name), 0);
}

/// A stream of versions sees 100 stores from another process, in order, none lost, when the
/// stores come no faster than it consumes them (the helper waits for each acknowledgement).
#[test]
fn a_stream_sees_100_stores_in_order() {
    if skip() {
        return;
    }
    let name = unique("stream");
    let ack_name = unique("stream-ack");
    let value = SharedValue::create(&name).unwrap();
    let ack = Shared::<u64>::create(&ack_name).unwrap();
    ack.store(&0).unwrap();
    let reader = open(&name, Access::ReadOnly);
    let mut versions = reader.versions(reader.version());
    let child = common::helper()
        .args(["value-paced", &name, &ack_name, "100"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mmf-testhelper");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let seen: Vec<(u64, u64)> = rt.block_on(async {
        let mut seen = Vec::new();
        while seen.len() < 100 {
            let v = tokio::time::timeout(WATCHDOG, versions.next())
                .await
                .expect("watchdog: the stream stopped")
                .expect("the stream never ends")
                .unwrap();
            let (at, bytes) = reader.retrieve_versioned().unwrap();
            assert_eq!(at, v, "no store comes before the acknowledgement");
            let n = u64::from_le_bytes(bytes[..].try_into().unwrap());
            seen.push((v, n));
            ack.store(&n).unwrap();
        }
        seen
    });
    let out = wait_output(child, WATCHDOG);
    assert!(out.status.success(), "{:?}", out);
    let numbers: Vec<u64> = seen.iter().map(|&(_, n)| n).collect();
    assert_eq!(numbers, (1..=100).collect::<Vec<u64>>());
    assert!(
        seen.windows(2).all(|w| w[0].0 < w[1].0),
        "versions in order"
    );
    drop(versions);
    assert_eq!(reader.async_waiters(), 0);
    drop(value);
}

/// Futures and streams that are dropped while waiting leave nothing registered: futures polled
/// once, a future cut short by a runtime timeout, a stream, on writable and read-only handles.
#[test]
fn dropped_futures_leave_no_waiter_registered() {
    if skip() {
        return;
    }
    use futures::FutureExt;
    let name = unique("drop");
    let value = SharedValue::create(&name).unwrap();
    let reader = open(&name, Access::ReadOnly);
    let seen = value.version();
    assert_eq!(value.async_waiters(), 0);
    let mut pending = Vec::new();
    for _ in 0..3 {
        let mut f = value.wait_newer_async(seen);
        assert!((&mut f).now_or_never().is_none());
        pending.push(f);
        let mut f = reader.wait_newer_async(seen);
        assert!((&mut f).now_or_never().is_none());
        pending.push(f);
    }
    assert_eq!(value.async_waiters(), 3, "registered while pending");
    assert_eq!(reader.async_waiters(), 3);
    drop(pending);
    assert_eq!(value.async_waiters(), 0);
    assert_eq!(reader.async_waiters(), 0);

    let typed = Shared::<u64>::create(unique("drop-typed")).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let t = tokio::time::timeout(Duration::from_millis(20), typed.wait_newer_async(0)).await;
        assert!(t.is_err(), "nothing was stored");
        let mut stream = value.versions(seen);
        let next = tokio::time::timeout(Duration::from_millis(20), stream.next()).await;
        assert!(next.is_err(), "nothing was stored");
        assert_eq!(value.async_waiters(), 1, "the stream's registration");
    });
    assert_eq!(typed.as_value().async_waiters(), 0);
    assert_eq!(value.async_waiters(), 0);

    // A future that was woken and resolved leaves nothing behind either.
    let f = reader.wait_newer_async(seen);
    let v = value.store(b"x").unwrap();
    assert_eq!(block_on(f).unwrap(), v);
    assert_eq!(reader.async_waiters(), 0);
}

/// Many futures on many values, woken one value at a time: each future wakes for its own value
/// only, and all of them leave nothing registered (more than one `futex_waitv` thread's worth).
#[test]
fn many_waits_on_many_values_each_wake_for_their_own() {
    if skip() {
        return;
    }
    const N: usize = 300;
    let values: Vec<SharedValue> = (0..N)
        .map(|_| SharedValue::create(unique("many")).unwrap())
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let tasks: Vec<_> = values
            .iter()
            .map(|v| tokio::spawn(v.wait_newer_async(0)))
            .collect();
        for v in &values {
            while v.async_waiters() != 1 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        for (i, task) in tasks.into_iter().enumerate().rev() {
            let stored = values[i].store(&[i as u8]).unwrap();
            let got = tokio::time::timeout(WATCHDOG, task)
                .await
                .expect("watchdog: never woken")
                .unwrap()
                .unwrap();
            assert_eq!(got, stored);
            // The values not stored yet are still waited for.
            assert!(values[..i].iter().all(|v| v.async_waiters() == 1));
        }
    });
    assert!(values.iter().all(|v| v.async_waiters() == 0));
}

/// The same tests once more in a child process on the thread-per-future fallback, where the
/// kernel has `futex_waitv` (elsewhere the tests above run on the fallback already).
#[test]
fn the_fallback_without_futex_waitv_passes_the_same_tests() {
    if skip() {
        return;
    }
    if std::env::var_os("MMF_NO_FUTEX_WAITV").is_some() || !cfg!(target_os = "linux") {
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--test-threads", "1", "--skip", "the_fallback_without"])
        .env("MMF_NO_FUTEX_WAITV", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_output(out, Duration::from_secs(300));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("7 passed"), "{}", stdout);
}
