//! Two real processes share a named object: A creates and writes, B opens by name and reads, B
//! writes, A sees it.

mod common;

use common::{check, hex, run_helper, unique};
use mmf::{Disposition, ErrorKind, Mapping};

#[test]
fn a_writes_b_reads_b_writes_a_sees() {
    let name = unique("mp");
    let a = Mapping::create(&name, 4096).unwrap();
    let v = a.map_mut().unwrap();
    v.write_at(0, b"hello").unwrap();

    // B: a separate binary, opens by name, prints bytes 0..5 and writes "from-b" at 16.
    let out = run_helper(&["exchange", &name]);
    assert_eq!(check(&out, "helper exchange"), hex(b"hello"));
    assert_eq!(v.read_vec(16, 6).unwrap(), b"from-b");
}

#[test]
fn the_second_instance_finds_the_first() {
    // The seed's start-up test: OpenFileMapping fails until the first instance created the object.
    let name = unique("seed");
    let out = run_helper(&["read", &name, "0", "4"]);
    assert_eq!(out.status.code(), Some(10), "NotFound must be reported");
    assert!(String::from_utf8_lossy(&out.stderr).contains(&name));

    let (first, how) = Mapping::open_or_create(&name, 4096).unwrap();
    assert_eq!(how, Disposition::Created);
    first.map_mut().unwrap().write_at(0, b"text\0").unwrap();
    let out = run_helper(&["read", &name, "0", "5"]);
    assert_eq!(check(&out, "helper read"), hex(b"text\0"));

    // In the helper, open-or-create reports that the object already existed.
    let out = run_helper(&["race", &name, "4096"]);
    assert_eq!(check(&out, "helper race"), "opened 4096");
}

#[test]
fn the_name_goes_away_with_the_last_handle() {
    let name = unique("last");
    let m = Mapping::create(&name, 4096).unwrap();
    let v = m.map().unwrap();
    drop(m);
    // The view still holds the object: another process can open it.
    check(
        &run_helper(&["read", &name, "0", "1"]),
        "read while a view is open",
    );
    drop(v);
    assert_eq!(
        Mapping::open(&name).unwrap_err().kind(),
        ErrorKind::NotFound
    );
}
