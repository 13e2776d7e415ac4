//! The POSIX backend (`sys/posix.rs`, macOS and the BSDs): persistent named objects through
//! `shm_open`, anonymous objects, views at a chosen address that never replace a mapping, shared
//! values woken by polling, and `Unsupported` with a reason for what the backend cannot do.
//!
//! CI runs this file on Linux with `RUSTFLAGS="--cfg mmf_force_posix"`, which puts Linux on the
//! POSIX backend (glibc has `shm_open`); it has not been run on macOS or a BSD yet. Behaviour that
//! differs there (macOS sizes an object once, limits names to 30 bytes) is allowed for below.
#![cfg(any(
    mmf_force_posix,
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
))]

mod common;

use common::unique;
use mmf::{
    Access, CreateOptions, Disposition, ErrorKind, Lifetime, Mapping, Namespace, SharedValue,
    ValueOptions, ViewOptions,
};
use std::time::Duration;

/// Removes the named object when dropped, so a failing test leaves nothing behind.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Namespace::default().remove(self.0.as_str());
    }
}

fn persistent(size: u64) -> CreateOptions {
    let mut o = CreateOptions::new();
    o.size(size).lifetime(Lifetime::Persistent);
    o
}

#[test]
fn persistent_named_objects_are_created_opened_and_removed() {
    let name = unique("px-named");
    let _cleanup = Cleanup(name.clone());
    let m = persistent(10_000).create(name.as_str()).unwrap();
    assert_eq!(m.lifetime(), Lifetime::Persistent);
    m.map_mut().unwrap().write_at(9_990, b"posix end!").unwrap();

    let other = Mapping::open(name.as_str()).unwrap();
    assert!(other.len() >= 10_000, "at least the size asked for");
    assert_eq!(
        other.map().unwrap().read_vec(9_990, 10).unwrap(),
        b"posix end!"
    );

    let err = persistent(4096).create(name.as_str()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{}", err);
    let (again, disposition) = persistent(4096).open_or_create(name.as_str()).unwrap();
    assert_eq!(disposition, Disposition::Opened);
    assert_eq!(
        again.map().unwrap().read_vec(9_990, 10).unwrap(),
        b"posix end!"
    );

    Namespace::default().remove(name.as_str()).unwrap();
    assert_eq!(
        Mapping::open(name.as_str()).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    // Holders keep the object after the name is gone.
    assert_eq!(m.map().unwrap().read_vec(9_990, 10).unwrap(), b"posix end!");
    assert_eq!(
        Namespace::default()
            .remove(name.as_str())
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn open_or_create_creates_once() {
    let name = unique("px-ooc");
    let _cleanup = Cleanup(name.clone());
    let (a, first) = persistent(4096).open_or_create(name.as_str()).unwrap();
    let (b, second) = persistent(4096).open_or_create(name.as_str()).unwrap();
    assert_eq!((first, second), (Disposition::Created, Disposition::Opened));
    a.map_mut().unwrap().write_at(0, b"shared").unwrap();
    assert_eq!(b.map().unwrap().read_vec(0, 6).unwrap(), b"shared");
}

#[test]
fn what_the_backend_cannot_do_is_unsupported_with_a_reason() {
    let name = unique("px-unsup");
    let _cleanup = Cleanup(name.clone());
    // Handle lifetime, the default.
    let err = Mapping::create(name.as_str(), 4096).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{}", err);
    assert!(err.to_string().contains("Lifetime::Persistent"), "{}", err);
    assert_eq!(
        Mapping::open(name.as_str()).unwrap_err().kind(),
        ErrorKind::NotFound,
        "nothing was left behind"
    );
    for err in [
        Namespace::default().list().map(|_| ()).unwrap_err(),
        Namespace::default().gc().map(|_| ()).unwrap_err(),
        Namespace::at("/tmp").remove(name.as_str()).unwrap_err(),
        persistent(4096)
            .dir("/tmp")
            .create(name.as_str())
            .map(|_| ())
            .unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::Unsupported, "{}", err);
    }
    let m = Mapping::anonymous(4096).unwrap();
    let err = m
        .inherit(&mut std::process::Command::new("true"))
        .map(|_| ())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{}", err);
}

#[test]
fn anonymous_objects_and_copy_on_write_views() {
    let m = Mapping::anonymous(8192).unwrap();
    let rw = m.map_mut().unwrap();
    rw.write_at(4096, b"anonymous").unwrap();
    let cow = m.map_copy().unwrap();
    cow.write_at(4096, b"private!!").unwrap();
    assert_eq!(
        rw.read_vec(4096, 9).unwrap(),
        b"anonymous",
        "COW stays private"
    );
    assert_eq!(cow.read_vec(4096, 9).unwrap(), b"private!!");
    // Growth: ftruncate where the system allows it (macOS sizes an object once).
    match m.grow(3 * 4096) {
        Ok(()) => assert!(m.len() >= 3 * 4096),
        Err(e) => assert_eq!(e.kind(), ErrorKind::Unsupported, "{}", e),
    }
}

#[test]
fn a_chosen_address_is_used_if_free_and_never_replaces_a_mapping() {
    let m = Mapping::anonymous(4 * 4096).unwrap();
    let first = m.map_mut().unwrap();
    first.write_at(0, b"keep me").unwrap();
    let taken = first.as_ptr() as usize;
    let err = ViewOptions::new()
        .access(Access::ReadWrite)
        .at(taken)
        .map(&m)
        .map(|_| ())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{}", err);
    assert_eq!(first.read_vec(0, 7).unwrap(), b"keep me", "left untouched");
    // A free address: the one a view had before it was unmapped (nothing else maps meanwhile in
    // this thread; another test's thread might, so a refusal is allowed, a wrong place is not).
    let probe = m.map().unwrap();
    let free = probe.as_ptr() as usize;
    drop(probe);
    match ViewOptions::new().at(free).map(&m) {
        Ok(v) => {
            assert_eq!(v.as_ptr() as usize, free);
            assert_eq!(v.read_vec(0, 7).unwrap(), b"keep me");
        }
        Err(e) => assert_eq!(e.kind(), ErrorKind::AlreadyExists, "{}", e),
    }
}

/// The async wait on this backend: a thread per waiting future, polling; a read-only handle's
/// future is woken by a store and leaves nothing registered.
#[test]
fn async_waits_are_woken_by_polling() {
    let name = unique("px-async");
    let _cleanup = Cleanup(name.clone());
    let mut opts = ValueOptions::new();
    opts.lifetime(Lifetime::Persistent);
    let writer = opts.create(name.as_str()).unwrap();
    let reader = opts.access(Access::ReadOnly).open(name.as_str()).unwrap();
    let seen = reader.version();
    let r = reader.clone();
    let waiter = std::thread::spawn(move || futures::executor::block_on(r.wait_newer_async(seen)));
    let start = std::time::Instant::now();
    while reader.async_waiters() != 1 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "watchdog: never registered"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let v = writer.store(b"x").unwrap();
    assert_eq!(waiter.join().unwrap().unwrap(), v);
    assert_eq!(reader.async_waiters(), 0);
}

#[test]
fn shared_values_store_load_and_wake_waiters_by_polling() {
    let name = unique("px-value");
    let _cleanup = Cleanup(name.clone());
    let mut opts = ValueOptions::new();
    opts.lifetime(Lifetime::Persistent);
    let writer = opts.create(name.as_str()).unwrap();
    let reader = opts.open(name.as_str()).unwrap();
    let v1 = writer.store(b"first").unwrap();
    assert_eq!(reader.retrieve().unwrap(), b"first");
    let waiter = std::thread::spawn(move || {
        let seen = reader
            .wait_newer(v1, Some(Duration::from_secs(30)))
            .unwrap();
        (seen, reader.retrieve().unwrap())
    });
    std::thread::sleep(Duration::from_millis(50));
    let v2 = writer.store(b"second").unwrap();
    let (seen, bytes) = waiter.join().unwrap();
    assert!(seen >= v2);
    assert_eq!(bytes, b"second");
    let err = SharedValue::open(unique("px-none").as_str()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{}", err);
    assert_eq!(
        writer
            .wait_newer(writer.version(), Some(Duration::from_millis(30)))
            .unwrap_err()
            .kind(),
        ErrorKind::Timeout
    );
}

#[cfg(any(target_os = "macos", target_os = "ios"))]
#[test]
fn macos_names_longer_than_30_bytes_are_invalid() {
    let name = "n".repeat(31);
    let err = persistent(4096).create(name.as_str()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidName, "{}", err);
}
