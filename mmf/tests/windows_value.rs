//! Windows acceptance test for shared values, run under Wine in CI (`.ci/windows.sh`): a value
//! stored in one process is retrieved, and waited on, in another (the notification goes through
//! the Win32 kernel objects of `sys/notify_windows.rs`).
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
