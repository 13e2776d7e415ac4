//! Space in shared values (format 4): data regions are reused, so storing values of varying size
//! reaches a steady state; regions no slot needs are freed and their memory given back to the
//! system (`fallocate(PUNCH_HOLE)`), never under a reader that holds them; a writer killed at
//! random points of a loop that allocates and frees on every store leaves a complete value and
//! an object the next writer can use.
#![cfg(target_os = "linux")]

use mmf::{SharedValue, ValueOptions};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::process::Child;
use std::time::Duration;

mod common;

use common::{payload, unique, wait_output, Rng};

const MIB: usize = 1 << 20;

/// The object's file in the default namespace (`/dev/shm` or `$MMF_DIR`).
fn file_of(name: &str) -> std::path::PathBuf {
    mmf::Namespace::default().dir().unwrap().join(name)
}

/// Bytes the object's file has allocated (resident, for a tmpfs object).
fn allocated(name: &str) -> u64 {
    std::fs::metadata(file_of(name)).unwrap().blocks() * 512
}

fn store_len(v: &SharedValue, len: usize, seed: u64) {
    let data = payload::make_vec(seed, len);
    let ver = v.store(&data).unwrap();
    let (got_ver, got) = v.retrieve_versioned().unwrap();
    assert_eq!(got_ver, ver);
    assert!(got == data, "value of {} bytes read back wrong", len);
}

#[test]
fn growth_series_stay_within_three_times_the_largest_value() {
    // Scaled-down versions of the three series (the bench runs the full ones).
    let series: [(&str, Vec<usize>); 3] = [
        ("1, 2 … 10 MiB", (1..=10).map(|i| i * MIB).collect()),
        (
            "256 KiB steps to 8 MiB",
            (1..=32).map(|i| i * (256 << 10)).collect(),
        ),
        (
            "4 KiB steps to 1 MiB",
            (1..=256).map(|i| i * 4096).collect(),
        ),
    ];
    for (what, sizes) in series {
        let name = unique("space-series");
        let v = SharedValue::create(&name).unwrap();
        let header = v.header().unwrap().header_size;
        for (i, &len) in sizes.iter().enumerate() {
            store_len(&v, len, i as u64);
        }
        let largest = *sizes.iter().max().unwrap() as u64;
        let size = v.mapping().len();
        eprintln!(
            "{}: object {} bytes, {:.2}× the largest value; {} bytes allocated",
            what,
            size,
            size as f64 / largest as f64,
            allocated(&name)
        );
        assert!(
            size <= 3 * largest + header + 8 * 4096 * 2,
            "{}: the object grew to {} bytes for values of at most {}",
            what,
            size,
            largest
        );
        // A small value again: the large regions are freed and their memory given back.
        store_len(&v, 1000, 99);
        let resident = allocated(&name);
        eprintln!(
            "{}: after a 1000-byte value, {} bytes allocated",
            what, resident
        );
        assert!(
            resident <= 2 * 4096 + header + 8 * (64 << 10),
            "{}: {} bytes still allocated after storing 1000 bytes",
            what,
            resident
        );
    }
}

#[test]
fn random_sizes_reach_a_steady_state() {
    let name = unique("space-random");
    let v = SharedValue::create(&name).unwrap();
    let max = 2 * MIB as u64;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut after_warmup = 0;
    for i in 0..400u64 {
        let len = (rng.next() % max) as usize;
        store_len(&v, len, i);
        if i == 99 {
            after_warmup = v.mapping().len();
        }
    }
    let size = v.mapping().len();
    eprintln!(
        "random sizes up to {} bytes: object {} bytes after 100 stores, {} after 400; {} \
         allocated",
        max,
        after_warmup,
        size,
        allocated(&name)
    );
    assert!(
        size <= 4 * max,
        "the object grew to {} bytes for values of at most {}",
        size,
        max
    );
    assert!(
        allocated(&name) <= 4 * max,
        "{} bytes allocated for values of at most {}",
        allocated(&name),
        max
    );
}

#[test]
fn a_reader_holding_a_large_value_keeps_it_while_regions_are_freed() {
    let name = unique("space-held");
    let v = ValueOptions::new().slots(3).create(&name).unwrap();
    let big = payload::make_vec(1, 4 * MIB);
    v.store(&big).unwrap();
    let mut r = v.reader().unwrap();
    let mut head = vec![0u8; 1000];
    r.read_exact(&mut head).unwrap();
    // Smaller and larger values: every store allocates and frees, never the pinned region.
    for i in 0..30u64 {
        let len = if i % 2 == 0 {
            1000
        } else {
            (i as usize + 1) * 300_000
        };
        store_len(&v, len, 10 + i);
    }
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    head.extend_from_slice(&rest);
    assert!(head == big, "the held value changed under its reader");
    drop(r);
    // Released, it is freed by the next store that allocates.
    store_len(&v, 2 * MIB, 50);
    store_len(&v, 100, 51);
    assert!(allocated(&name) < 2 * MIB as u64, "{}", allocated(&name));
}

fn helper(args: &[&str]) -> Child {
    common::spawn_piped(args)
}

/// Kills a writer whose every store allocates a region and frees others (sizes alternate between
/// small and up to 4 MiB) at 30 random moments; each time the value is a complete earlier one,
/// the next store from here takes the lock over, and a stress of stores and reads afterwards
/// finds nothing wrong (a region left overlapping another would show as a damaged value).
#[test]
fn writers_killed_while_allocating_and_freeing_leave_a_usable_value() {
    let name = unique("space-kill");
    let v = SharedValue::create(&name).unwrap();
    v.store(&payload::make_vec(1, 1000)).unwrap();
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for round in 0..30u64 {
        let mut child = helper(&[
            "value-stress-writer",
            &name,
            "60",
            &round.to_string(),
            "4194304",
        ]);
        std::thread::sleep(Duration::from_millis(5 + rng.next() % 40));
        child.kill().unwrap();
        let out = wait_output(child, Duration::from_secs(60));
        assert!(!out.status.success());
        let (_, data) = v.retrieve_versioned().unwrap();
        assert!(
            payload::check(&data),
            "round {}: an incomplete value of {} bytes",
            round,
            data.len()
        );
        store_len(&v, (rng.next() % (3 * MIB as u64)) as usize, 1000 + round);
    }
    let writer = helper(&["value-stress-writer", &name, "2", "7", "4194304"]);
    let reader = helper(&["value-reader", &name, "2"]);
    let w = wait_output(writer, Duration::from_secs(60));
    assert!(w.status.success(), "{:?}", w);
    let r = wait_output(reader, Duration::from_secs(60));
    let line = String::from_utf8_lossy(&r.stdout).to_string();
    assert!(r.status.success(), "{:?}", r);
    assert!(line.contains(" bad 0"), "reader: {}", line);
    let mut stderr = String::new();
    let _ = (&r.stderr[..]).read_to_string(&mut stderr);
    assert!(stderr.is_empty(), "{}", stderr);
    eprintln!(
        "after 30 kills: object {} bytes, {} allocated",
        v.mapping().len(),
        allocated(&name)
    );
    // The current value, a spare, a reader's pinned region and a store in progress, each up to
    // 4 MiB, and the gaps between them: killed writers leak nothing that accumulates.
    assert!(
        v.mapping().len() <= 8 * 4 * MIB as u64,
        "the object grew to {} bytes",
        v.mapping().len()
    );
}

/// A value created with large slots stores a small value in one of them rather than grow the
/// object for a region of the small value's size (where objects cannot grow, that would fail).
#[test]
fn a_small_value_never_grows_an_object_created_with_large_slots() {
    let name = unique("space-presized");
    let v = ValueOptions::new()
        .capacity(MIB as u64)
        .slots(2)
        .create(&name)
        .unwrap();
    let len = v.mapping().len();
    for i in 0..5 {
        store_len(&v, 100 + i, i as u64);
    }
    assert_eq!(v.mapping().len(), len);
}
