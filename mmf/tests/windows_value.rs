//! Windows acceptance test for shared values, run under Wine in CI (`.ci/windows.sh`): a value
//! stored in one process is retrieved, and waited on, in another (the notification goes through
//! the Win32 kernel objects of `sys/windows/notify.rs`).
#![cfg(windows)]

mod common;

use common::{check, helper, hex, read_line, run_helper, unique, wait_output, TempDir};
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

/// Where a growth test's value lives: a handle-lifetime section (`Local\NAME`, growing within
/// the range it reserved), or a persistent object, a file in a directory of the test's own
/// (growing on disk; helpers find it through `MMF_DIR`).
struct Place(Option<TempDir>);

impl Place {
    fn section() -> Place {
        Place(None)
    }

    fn persistent(tag: &str) -> Place {
        Place(Some(TempDir::new(tag)))
    }

    /// A new value of `capacity` bytes here.
    fn create(&self, name: &str, capacity: u64) -> mmf::SharedValue {
        let mut o = mmf::ValueOptions::new();
        o.capacity(capacity);
        if let Some(dir) = &self.0 {
            o.lifetime(mmf::Lifetime::Persistent).dir(&dir.0);
        }
        o.create(name).unwrap()
    }

    /// The test helper with `args`, finding objects here; stdout and stderr piped.
    fn helper(&self, args: &[&str], stdin: Stdio) -> std::process::Child {
        let mut cmd = helper();
        cmd.args(args)
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = &self.0 {
            cmd.env("MMF_DIR", &dir.0);
        }
        common::spawn(&mut cmd)
    }

    /// Runs the helper to its end.
    fn run(&self, args: &[&str]) -> std::process::Output {
        wait_output(self.helper(args, Stdio::null()), WATCHDOG)
    }

    /// A helper that stores what it reads from its stdin (piped) into the value `name`.
    fn store_from_stdin(&self, name: &str) -> std::process::Child {
        self.helper(&["value-store-stdin", name], Stdio::piped())
    }
}

/// Bytes that differ at every offset, so a value read from the wrong place shows.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u8)
                .wrapping_mul(31)
                .wrapping_add(seed ^ (i >> 8) as u8)
        })
        .collect()
}

#[test]
fn a_value_grows_past_its_capacity_and_other_processes_follow() {
    grows_past_its_capacity_and_other_processes_follow(&Place::section(), &unique("grow"));
}

#[test]
fn a_persistent_value_grows_past_its_capacity_and_other_processes_follow() {
    let place = Place::persistent("pgrow");
    let name = unique("pgrow");
    grows_past_its_capacity_and_other_processes_follow(&place, &name);
    // Its file has the size the object grew to, and outlives every handle.
    let ns = mmf::Namespace::at(&place.0.as_ref().unwrap().0);
    let listed = ns.list().unwrap();
    let entry = listed.iter().find(|o| o.name == name).expect("listed");
    assert_eq!(entry.lifetime, Some(mmf::Lifetime::Persistent));
    assert!(entry.size > 3 << 20, "{:?}", entry);
    let reopened = mmf::ValueOptions::new()
        .dir(&place.0.as_ref().unwrap().0)
        .open(&name)
        .unwrap();
    assert_eq!(reopened.mapping().len(), entry.size);
    assert_eq!(reopened.retrieve().unwrap(), b"small again");
    drop(reopened);
    ns.remove(&name).unwrap();
}

fn grows_past_its_capacity_and_other_processes_follow(place: &Place, name: &str) {
    let value = place.create(name, 64);
    let start = value.mapping().len();
    let first = value.store(b"small").unwrap();
    // A process that opened the value before it grows waits for the next version.
    let first_s = first.to_string();
    let mut waiter = place.helper(&["value-wait", name, &first_s], Stdio::null());
    let (line, out) = read_line(waiter.stdout.take().unwrap(), WATCHDOG);
    assert_eq!(line.trim(), "waiting");
    std::thread::sleep(Duration::from_millis(100));
    // Many times the object's size: the object grows.
    let big = pattern(300_000, 1);
    let second = value.store(&big).unwrap();
    assert!(value.mapping().len() > start + 300_000, "the object grew");
    // The listing shows the size the object has (for a section, not the range it reserved).
    let ns = match &place.0 {
        Some(dir) => mmf::Namespace::at(&dir.0),
        None => mmf::Namespace::default(),
    };
    let listed = ns.list().unwrap();
    let entry = listed.iter().find(|o| o.name == name).expect("listed");
    assert_eq!(entry.size, value.mapping().len());
    let (line, _out) = read_line(out, WATCHDOG);
    assert_eq!(
        line.trim(),
        format!("got {} {}", second, hex(&big)),
        "a waiter that opened before the growth follows it"
    );
    assert!(wait_output(waiter, WATCHDOG).status.success());
    // A new process grows it further (from its stdin, streamed), and this process follows.
    let bigger = pattern(3 << 20, 2);
    let mut writer = place.store_from_stdin(name);
    {
        use std::io::Write;
        let mut stdin = writer.stdin.take().unwrap();
        stdin.write_all(&bigger).unwrap();
    }
    let out = wait_output(writer, WATCHDOG);
    let third: u64 = check(&out, "helper value-store-stdin")
        .lines()
        .last()
        .unwrap()
        .parse()
        .unwrap();
    let (ver, got) = value.retrieve_versioned().unwrap();
    assert_eq!(ver, third);
    assert!(
        got == bigger,
        "the value grown by another process reads back"
    );
    // And the value still takes small values.
    value.store(b"small again").unwrap();
    assert_eq!(value.retrieve().unwrap(), b"small again");
}

#[test]
fn a_grown_value_goes_with_its_last_holder() {
    let name = unique("grow-gone");
    let place = Place::section();
    let value = place.create(&name, 64);
    value.store(&pattern(200_000, 3)).unwrap();
    let out = place.run(&["value-store", &name, &hex(&pattern(5000, 4))]);
    check(&out, "helper value-store");
    assert_eq!(value.retrieve().unwrap(), pattern(5000, 4));
    drop(value);
    assert_eq!(
        mmf::SharedValue::open(&name).unwrap_err().kind(),
        mmf::ErrorKind::NotFound,
        "the grown object went with its last handle"
    );
}

#[test]
fn a_writer_killed_while_growing_leaves_a_usable_value() {
    killed_while_growing(&Place::section(), &unique("grow-kill"));
}

#[test]
fn a_writer_killed_while_growing_a_persistent_value_leaves_a_usable_value() {
    killed_while_growing(&Place::persistent("pgrow-kill"), &unique("pgrow-kill"));
}

fn killed_while_growing(place: &Place, name: &str) {
    let value = place.create(name, 64);
    let before = value.store(b"before").unwrap();
    let mut writer = place.store_from_stdin(name);
    let mut stdin = writer.stdin.take().unwrap();
    {
        use std::io::Write;
        // More than a MiB: the helper says `streaming` once it took the first one, growing the
        // object as it goes; then it is killed in the middle.
        stdin.write_all(&pattern(2 << 20, 5)).unwrap();
    }
    let (line, _out) = read_line(writer.stdout.take().unwrap(), WATCHDOG);
    assert_eq!(line.trim(), "streaming");
    writer.kill().unwrap();
    let _ = wait_output(writer, WATCHDOG);
    drop(stdin);
    assert_eq!(
        value.retrieve_versioned().unwrap(),
        (before, b"before".to_vec()),
        "the unfinished store is not seen"
    );
    let big = pattern(1 << 20, 6);
    value.store(&big).unwrap();
    assert!(value.retrieve().unwrap() == big);
    let out = place.run(&["value-store", name, &hex(b"after")]);
    check(&out, "helper value-store");
    assert_eq!(value.retrieve().unwrap(), b"after");
}

#[test]
fn readers_in_other_processes_see_whole_values_while_a_writer_grows_the_object() {
    readers_see_whole_values_while_a_writer_grows(&Place::section(), &unique("grow-stress"));
}

#[test]
fn readers_in_other_processes_see_whole_values_while_a_writer_grows_a_persistent_value() {
    let place = Place::persistent("pgrow-stress");
    readers_see_whole_values_while_a_writer_grows(&place, &unique("pgrow-stress"));
}

fn readers_see_whole_values_while_a_writer_grows(place: &Place, name: &str) {
    let _value = place.create(name, 64);
    let readers: Vec<_> = (0..2)
        .map(|_| place.helper(&["value-reader", name, "3"], Stdio::null()))
        .collect();
    // Values of up to 256 KiB from a 64-byte capacity: the writer grows the object many times.
    let writer = place.helper(
        &["value-stress-writer", name, "3", "7", "262144"],
        Stdio::null(),
    );
    let w = wait_output(writer, WATCHDOG);
    let stores = check(&w, "writer");
    assert!(stores.starts_with("stores "), "{}", stores);
    for r in readers {
        let out = wait_output(r, WATCHDOG);
        let line = check(&out, "reader");
        assert!(line.contains(" bad 0 "), "{}", line);
    }
}
