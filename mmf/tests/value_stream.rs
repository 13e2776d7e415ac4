//! Streamed shared values: `store_from`, `store_streamed`, `retrieve_to`, `retrieve_with` and
//! `ValueReader`, byte-exact at every size; bad input leaves the previous value; a held reader
//! is never given another version's bytes; a writer killed in the middle of a stream (a real
//! process) leaves the previous value and the lock to the next writer.

use mmf::{ErrorKind, Shared, SharedValue, ValueOptions};
use std::io::{self, Read, Write};
use std::process::Stdio;
use std::time::Duration;

mod common;

use common::{read_line, unique, wait_output};

/// Deterministic bytes that differ between sizes and positions.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3] ^ seed)
        .collect()
}

/// A reader that hands out at most `step` bytes per call, is interrupted now and then, and
/// optionally fails after `fail_at` bytes.
struct Trickle<'a> {
    data: &'a [u8],
    pos: usize,
    step: usize,
    calls: usize,
    fail_at: Option<usize>,
}

impl<'a> Trickle<'a> {
    fn new(data: &'a [u8], step: usize) -> Trickle<'a> {
        Trickle {
            data,
            pos: 0,
            step,
            calls: 0,
            fail_at: None,
        }
    }
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls % 5 == 0 {
            return Err(io::ErrorKind::Interrupted.into());
        }
        if self.fail_at.map_or(false, |f| self.pos >= f) {
            return Err(io::Error::new(io::ErrorKind::Other, "the disk went away"));
        }
        let mut n = buf.len().min(self.step).min(self.data.len() - self.pos);
        if let Some(f) = self.fail_at {
            n = n.min(f - self.pos);
        }
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A value with the default options.
fn create(name: &str) -> SharedValue {
    ValueOptions::new().create(name).unwrap()
}

fn retrieve_all_ways(v: &SharedValue, want: &[u8], version: u64) {
    let mut out = Vec::new();
    assert_eq!(v.retrieve_to(&mut out).unwrap(), version);
    assert!(out == want, "retrieve_to differs at length {}", want.len());
    let mut pieces = 0;
    let mut joined = Vec::new();
    let got = v
        .retrieve_with(|p| {
            assert!(!p.is_empty() && p.len() <= 1 << 20, "piece of {}", p.len());
            pieces += 1;
            joined.extend_from_slice(p);
            Ok(())
        })
        .unwrap();
    assert_eq!(got, version);
    assert!(
        joined == want,
        "retrieve_with differs at length {}",
        want.len()
    );
    // Every piece is handed out whole once (a value of 1 MiB or less can come in one piece).
    assert_eq!(pieces == 0, want.is_empty(), "{} pieces", pieces);
    let mut r = v.reader().unwrap();
    assert_eq!((r.version(), r.len()), (version, want.len() as u64));
    let mut all = Vec::new();
    r.read_to_end(&mut all).unwrap();
    assert!(all == want, "ValueReader differs at length {}", want.len());
    assert_eq!(r.position(), want.len() as u64);
    assert!(v.retrieve().unwrap() == want);
}

#[test]
fn streamed_values_round_trip_at_every_size() {
    let name = unique("stream-sizes");
    let v = ValueOptions::new()
        .capacity(64)
        .slots(3)
        .create(&name)
        .unwrap();
    // Nothing stored: version 0, nothing written.
    let mut out = vec![1u8];
    assert_eq!(v.retrieve_to(&mut out).unwrap(), 0);
    assert_eq!(out, [1]);
    assert!(v.reader().unwrap().is_empty());
    for (i, len) in [0usize, 1, 63, 64, 65, 4096, (1 << 20) + 7, 3 << 20, 100]
        .into_iter()
        .enumerate()
    {
        let data = pattern(len, i as u8);
        let ver = v.store_from(&data[..], len as u64).unwrap();
        retrieve_all_ways(&v, &data, ver);
        // Unknown length, a few bytes per read: the slot grows as the bytes come.
        let data = pattern(len, 100 + i as u8);
        let ver = v
            .store_streamed(Trickle::new(&data, 1000 + i * 4093))
            .unwrap();
        retrieve_all_ways(&v, &data, ver);
    }
    // A value longer than the announced length: exactly the announced bytes are stored.
    let data = pattern(5000, 7);
    let ver = v.store_from(&data[..], 3000).unwrap();
    retrieve_all_ways(&v, &data[..3000], ver);
}

#[test]
fn a_streamed_value_that_outgrows_a_slot_in_the_middle_moves_it() {
    let name = unique("stream-move");
    let v = ValueOptions::new()
        .capacity(4096)
        .slots(2)
        .create(&name)
        .unwrap();
    // Slot 0 gets a region at the end of the object, then slot 1 (whose region lies before it)
    // streams a value larger than its region: it must move, carrying what it has filled.
    let big = pattern(2 << 20, 1);
    v.store(&big).unwrap();
    let data = pattern((5 << 20) + 123, 2);
    let ver = v.store_streamed(Trickle::new(&data, 300_000)).unwrap();
    retrieve_all_ways(&v, &data, ver);
    let again = pattern(3 << 20, 3);
    let ver = v.store_streamed(&again[..]).unwrap();
    retrieve_all_ways(&v, &again, ver);
}

#[test]
fn bad_input_leaves_the_previous_value() {
    let name = unique("stream-bad");
    let v = create(&name);
    let before = v.store(b"the previous value").unwrap();
    let data = pattern(3000, 9);

    // The input ends early.
    let e = v.store_from(&data[..], 5000).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{}", e);
    let msg = e.to_string();
    assert!(msg.contains("3000 of the 5000 bytes"), "{}", msg);
    assert!(msg.contains("nothing was stored"), "{}", msg);
    assert!(msg.contains(&name), "{}", msg);
    assert_eq!(
        e.os_error().map(|o| o.kind()),
        Some(io::ErrorKind::UnexpectedEof)
    );
    assert_eq!(
        v.retrieve_versioned().unwrap(),
        (before, b"the previous value".to_vec())
    );

    // The input fails, with a known and an unknown length.
    for known in [true, false] {
        let mut t = Trickle::new(&data, 700);
        t.fail_at = Some(2100);
        let e = if known {
            v.store_from(t, 3000).unwrap_err()
        } else {
            v.store_streamed(t).unwrap_err()
        };
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{}", e);
        assert!(e.to_string().contains("the disk went away"), "{}", e);
        assert!(e.to_string().contains("after 2100 bytes"), "{}", e);
        assert_eq!(v.version(), before);
        assert_eq!(v.retrieve().unwrap(), b"the previous value");
    }

    // The lock was released and the abandoned slots are usable: the next stores work.
    for i in 0..10u8 {
        let d = pattern(100 + i as usize, i);
        let ver = v.store_from(&d[..], d.len() as u64).unwrap();
        assert!(ver > before);
        retrieve_all_ways(&v, &d, ver);
    }

    // The output fails: its error, with the OS error underneath.
    struct Full;
    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::WriteZero, "the pipe is full"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let e = v.retrieve_to(Full).unwrap_err();
    assert!(e.to_string().contains("the pipe is full"), "{}", e);
    assert!(
        e.to_string().contains("writing the value out failed"),
        "{}",
        e
    );
    assert!(e.os_error().is_some());
    let e = v
        .retrieve_with(|_| Err(io::Error::new(io::ErrorKind::Other, "no thanks")))
        .unwrap_err();
    assert!(e.to_string().contains("no thanks"), "{}", e);

    // A read-only handle cannot store.
    let ro = ValueOptions::new()
        .access(mmf::Access::ReadOnly)
        .open(&name)
        .unwrap();
    let e = ro.store_from(&data[..], 10).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    // ... but reads streams.
    let mut out = Vec::new();
    ro.retrieve_to(&mut out).unwrap();
    assert_eq!(out, v.retrieve().unwrap());
}

#[test]
fn typed_values_take_only_their_size() {
    let name = unique("stream-typed");
    let t = Shared::<u64>::create(&name).unwrap();
    t.store(&5).unwrap();
    let v = SharedValue::open(&name).unwrap();
    let e = v.store_from(&[0u8; 4][..], 4).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{}", e);
    let e = v.store_streamed(&[0u8; 9][..]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{}", e);
    assert_eq!(t.load().unwrap(), 5);
    v.store_streamed(&7u64.to_le_bytes()[..]).unwrap();
    assert_eq!(t.load().unwrap(), 7);
}

#[test]
fn a_held_reader_keeps_its_version_while_writers_store() {
    let name = unique("stream-held");
    let v = ValueOptions::new()
        .capacity(64 << 10)
        .slots(3)
        .create(&name)
        .unwrap();
    let first = pattern(60 << 10, 1);
    let ver = v.store(&first).unwrap();
    let mut r = v.reader().unwrap();
    let mut head = vec![0u8; 1000];
    r.read_exact(&mut head).unwrap();
    // Stores go into the other slots: the pinned one is left alone.
    for i in 0..20u8 {
        v.store(&pattern(60 << 10, 10 + i)).unwrap();
    }
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    head.extend_from_slice(&rest);
    assert_eq!(r.version(), ver);
    assert!(head == first, "the held version changed under its reader");
    drop(r);

    // With two slots, a writer must take a held slot back: the reader then fails with `Busy`
    // rather than hand out bytes of another version.
    let name = unique("stream-held2");
    let v = ValueOptions::new()
        .capacity(64 << 10)
        .slots(2)
        .create(&name)
        .unwrap();
    v.store(&first).unwrap();
    let mut r = v.reader().unwrap();
    r.read_exact(&mut [0u8; 10]).unwrap();
    v.store(&pattern(60 << 10, 2)).unwrap();
    v.store(&pattern(60 << 10, 3)).unwrap();
    let e = r.fill(&mut [0u8; 100]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy, "{}", e);
    assert!(e.to_string().contains("retrieve it again"), "{}", e);
    let e = r.read(&mut [0u8; 100]).unwrap_err();
    assert!(e.to_string().contains("was replaced"), "{}", e);
}

#[test]
fn a_writer_killed_in_the_middle_of_a_stream_leaves_the_previous_value() {
    let name = unique("stream-kill");
    let v = create(&name);
    let before = v.store(b"before the stream").unwrap();
    let mut child = common::helper()
        .args(["value-store-stdin", &name])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mmf-testhelper");
    let mut stdin = child.stdin.take().unwrap();
    let out = child.stdout.take().unwrap();
    let feeder = std::thread::spawn(move || {
        // More than the helper needs to announce itself; it never sees the end.
        let chunk = pattern(256 << 10, 5);
        for _ in 0..8 {
            if stdin.write_all(&chunk).is_err() {
                break;
            }
        }
        stdin
    });
    let (line, out) = read_line(out, Duration::from_secs(60));
    assert_eq!(line.trim(), "streaming");
    // It holds the writer lock and a half-filled slot: kill it there.
    child.kill().unwrap();
    let status = wait_output(child, Duration::from_secs(60)).status;
    assert!(!status.success());
    drop(out);
    drop(feeder.join().unwrap());
    assert_eq!(
        v.retrieve_versioned().unwrap(),
        (before, b"before the stream".to_vec())
    );
    // The next writer takes the dead writer's lock over and stores.
    let data = pattern(2 << 20, 6);
    let ver = v.store_from(&data[..], data.len() as u64).unwrap();
    assert!(ver > before);
    retrieve_all_ways(&v, &data, ver);
}
