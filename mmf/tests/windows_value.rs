//! Windows acceptance test for shared values, run under Wine in CI (`.ci/windows.sh`): a value
//! stored in one process is retrieved, and waited on, in another (the notification goes through
//! the Win32 kernel objects of `sys/windows/notify.rs`).
#![cfg(windows)]

mod common;

use common::{check, helper, hex, read_line, run_helper, unique, wait_output};
use std::process::Stdio;
use std::time::Duration;

const WATCHDOG: Duration = Duration::from_secs(60);

#[test]
fn a_shared_value_stored_in_one_process_is_retrieved_and_waited_on_in_another() {
    let name = unique("value");
    let value = mmf::SharedValue::create(&name).unwrap();
    let first = value.store(b"first").unwrap();
    // Another process waits for a version newer than `first`; we store while it sleeps.
    let mut waiter = helper()
        .args(["value-wait", &name, &first.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (line, out) = read_line(waiter.stdout.take().unwrap(), WATCHDOG);
    assert_eq!(line.trim(), "waiting");
    // Let it block in the kernel (correctness does not depend on this).
    std::thread::sleep(Duration::from_millis(200));
    let second = value.store(b"second value").unwrap();
    assert!(second > first);
    let (line, _out) = read_line(out, WATCHDOG);
    assert_eq!(
        line.trim(),
        format!("got {} {}", second, hex(b"second value")),
        "the waiter must wake with the new value"
    );
    let done = wait_output(waiter, WATCHDOG);
    assert!(done.status.success(), "{:?}", done);
    // And the other way round: stored there, retrieved here.
    let out = run_helper(&["value-store", &name, &hex(b"from the helper")]);
    let third: u64 = check(&out, "helper value-store").parse().unwrap();
    assert!(third > second);
    assert_eq!(
        value.retrieve_versioned().unwrap(),
        (third, b"from the helper".to_vec())
    );
}

#[test]
fn a_global_value_is_created_opened_and_waited_on_in_global() {
    let name = common::unique("gvalue");
    let mut o = mmf::ValueOptions::new();
    o.scope(mmf::Scope::Global);
    let v = match o.create(&name) {
        Ok(v) => v,
        Err(e) if e.kind() == mmf::ErrorKind::PermissionDenied => {
            println!("SKIPPED: no SeCreateGlobalPrivilege here: {}", e);
            return;
        }
        Err(e) => panic!("{}", e),
    };
    let reader = o.open(&name).unwrap();
    let seen = reader.version();
    let waiter = std::thread::spawn(move || {
        reader
            .wait_newer(seen, Some(std::time::Duration::from_secs(30)))
            .map(|ver| (ver, reader.retrieve().unwrap()))
    });
    std::thread::sleep(std::time::Duration::from_millis(50));
    let stored = v.store(b"in Global").unwrap();
    let (ver, got) = waiter.join().unwrap().unwrap();
    assert_eq!((ver, got.as_slice()), (stored, &b"in Global"[..]));
    // A Local open of the same name finds nothing: the namespaces are distinct.
    assert_eq!(
        mmf::SharedValue::open(&name).unwrap_err().kind(),
        mmf::ErrorKind::NotFound
    );
}
