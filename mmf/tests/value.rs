//! Shared values across real processes: torn-free stores under concurrent writers and readers,
//! crash safety of a killed writer, cross-process notification, and refusal of damaged objects.
//!
//! The helper processes are `mmf-testhelper value-*` (see `src/bin/mmf-testhelper.rs`). Every
//! wait has a watchdog; no test asserts a duration.

use mmf::{Access, Disposition, ErrorKind, Mapping, Pod, Shared, SharedValue, ValueOptions};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod common;

use common::{check, unique, wait_output, Rng};

/// Starts the helper with `args`, its stdout and stderr piped.
fn helper(args: &[&str]) -> Child {
    common::spawn_piped(args)
}

/// Reads a child's stdout line by line on a thread; `next` waits with a watchdog.
struct Lines {
    rx: mpsc::Receiver<String>,
}

impl Lines {
    fn new(out: ChildStdout) -> Lines {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                match line {
                    Ok(l) => {
                        if tx.send(l).is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        });
        Lines { rx }
    }

    fn next(&self, limit: Duration) -> String {
        self.rx
            .recv_timeout(limit)
            .expect("watchdog: no line from the helper in time")
    }

    fn rest(&self) -> Vec<String> {
        let mut v = Vec::new();
        while let Ok(l) = self.rx.recv_timeout(Duration::from_secs(10)) {
            v.push(l);
        }
        v
    }
}

/// Runs `f` on a thread and panics if it does not finish within `limit` (a hang is a failure,
/// not a stuck test run).
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .expect("watchdog: the operation did not finish in time")
}

use common::payload;

#[test]
fn payloads_detect_mixing() {
    let a = payload::make_vec(1, 5000);
    let b = payload::make_vec(2, 5000);
    assert!(payload::check(&a) && payload::check(&b));
    let mut mixed = a.clone();
    mixed[2500..].copy_from_slice(&b[2500..]);
    assert!(!payload::check(&mixed));
    assert!(payload::check(&payload::make_vec(3, 0)) && payload::check(&payload::make_vec(3, 15)));
}

fn parse_counts(line: &str) -> Vec<(String, u64)> {
    let f: Vec<&str> = line.split_whitespace().collect();
    f.chunks(2)
        .map(|c| {
            // A malformed count must fail the test, not read as 0 (which the checks accept).
            let n = c
                .get(1)
                .and_then(|x| x.parse().ok())
                .unwrap_or_else(|| panic!("malformed counts from the helper: {:?}", line));
            (c[0].to_owned(), n)
        })
        .collect()
}

fn count(line: &str, key: &str) -> u64 {
    parse_counts(line)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {:?} in {:?}", key, line))
}

/// The acceptance stress test: 2 writer processes and 4 reader processes for 10 s, values of
/// random length 0..=1 MiB with their own checksum, starting from a 4 KiB capacity (so the object
/// grows under the readers). Zero torn or corrupt reads, and every reader makes progress.
#[test]
fn stress_two_writers_four_readers() {
    let name = unique("stress");
    let value = ValueOptions::new().create(&name).unwrap();
    value.store(&payload::make_vec(7, 100)).unwrap();
    let secs = "10";
    let max = (1u64 << 20).to_string();
    let writers: Vec<Child> = (0..2)
        .map(|i| {
            let seed = (0x1234_5678 + i * 977).to_string();
            helper(&["value-stress-writer", &name, secs, &seed, &max])
        })
        .collect();
    let readers: Vec<Child> = (0..4)
        .map(|_| helper(&["value-reader", &name, secs]))
        .collect();
    let limit = Duration::from_secs(120);
    let mut total_stores = 0;
    for w in writers {
        let line = check(&wait_output(w, limit), "stress writer");
        let stores = count(&line, "stores");
        assert!(stores > 0, "a writer stored nothing: {}", line);
        total_stores += stores;
    }
    for r in readers {
        let line = check(&wait_output(r, limit), "stress reader");
        eprintln!("reader: {}", line);
        assert_eq!(count(&line, "bad"), 0, "torn or corrupt reads: {}", line);
        assert!(
            count(&line, "reads") > 0,
            "a reader made no progress: {}",
            line
        );
        assert!(
            count(&line, "versions") > 1,
            "a reader saw no new versions: {}",
            line
        );
    }
    eprintln!(
        "stores: {}; object grew to {} bytes",
        total_stores,
        value.mapping().len()
    );
    let (v, last) = value.retrieve_versioned().unwrap();
    assert!(payload::check(&last));
    assert!(
        v > total_stores,
        "versions {} for {} stores",
        v,
        total_stores
    );
}

/// Read-only readers cannot pin slots, so their progress is not guaranteed under a flat-out
/// writer; their reads must still never be torn.
#[test]
fn read_only_readers_are_never_torn() {
    let name = unique("ro");
    let _value = ValueOptions::new().create(&name).unwrap();
    let writer = helper(&["value-stress-writer", &name, "3", "99", "262144"]);
    let readers: Vec<Child> = (0..2)
        .map(|_| helper(&["value-reader", &name, "3", "ro"]))
        .collect();
    check(&wait_output(writer, Duration::from_secs(60)), "writer");
    for r in readers {
        let line = check(&wait_output(r, Duration::from_secs(60)), "read-only reader");
        eprintln!("read-only reader: {}", line);
        assert_eq!(count(&line, "bad"), 0, "{}", line);
        assert!(
            count(&line, "reads") > 0,
            "a reader that read nothing tested nothing: {}",
            line
        );
    }
}

/// Kills a writer (SIGKILL) and checks it said nothing on stderr.
fn kill(child: &mut Child, round: u64) {
    child.kill().unwrap();
    assert!(!child.wait().unwrap().success());
    let mut stderr = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
    assert!(
        stderr.is_empty(),
        "round {}: helper said {:?}",
        round,
        stderr
    );
}

/// After a writer was killed: the value is a complete one, no older than version `last`, and the
/// next store (which takes the dead writer's lock over) publishes `next`. Returns the value
/// retrieved after the kill and the version of `next`.
fn after_kill(value: &SharedValue, round: u64, last: u64, next: Vec<u8>) -> (Vec<u8>, u64) {
    let (v, data) = within(Duration::from_secs(120), {
        let value = value.clone();
        move || value.retrieve_versioned().unwrap()
    });
    assert!(v >= last, "round {}: version went back", round);
    assert!(
        payload::check(&data),
        "round {}: retrieved an incomplete value of {} bytes (version {})",
        round,
        data.len(),
        v
    );
    let stored = within(Duration::from_secs(120), {
        let value = value.clone();
        let next = next.clone();
        move || value.store(&next).unwrap()
    });
    assert_eq!(value.retrieve_versioned().unwrap(), (stored, next));
    (data, stored)
}

/// The acceptance crash test: a writer storing 64 MiB values is killed with SIGKILL 20 times at
/// random moments, mostly in the middle of a store; each time the value retrieved is a complete
/// earlier value and the next store succeeds.
#[test]
fn killed_writer_leaves_the_previous_value_and_never_blocks() {
    const LEN: usize = 64 << 20;
    let name = unique("crash");
    let value = ValueOptions::new().create(&name).unwrap();
    let mut rng = Rng::new();
    let mut last = value.store(&payload::make_vec(1, 1000)).unwrap();
    // How long one 64 MiB store takes here, to aim the kills inside stores.
    let mut child = helper(&["value-crash-writer", &name, &LEN.to_string()]);
    let lines = Lines::new(child.stdout.take().unwrap());
    assert_eq!(lines.next(Duration::from_secs(120)), "storing 0");
    let t = Instant::now();
    assert!(lines.next(Duration::from_secs(120)).starts_with("stored 0"));
    let store_ms = (t.elapsed().as_millis() as u64).max(2);
    let _ = child.kill();
    let _ = child.wait();
    let mut mid_store = 0;
    for round in 0..20 {
        let mut child = helper(&["value-crash-writer", &name, &LEN.to_string()]);
        let lines = Lines::new(child.stdout.take().unwrap());
        assert!(lines.next(Duration::from_secs(120)).starts_with("storing"));
        std::thread::sleep(Duration::from_millis(rng.next() % store_ms));
        kill(&mut child, round);
        let said = lines.rest();
        if said.last().map_or(true, |l| l.starts_with("storing")) {
            mid_store += 1;
        }
        let (data, v) = after_kill(&value, round, last, payload::make_vec(1000 + round, 1000));
        assert!(data.len() == 1000 || data.len() == LEN);
        last = v;
    }
    eprintln!(
        "{} of 20 kills landed inside a store ({} ms per store); object {} bytes",
        mid_store,
        store_ms,
        value.mapping().len()
    );
    assert!(
        mid_store > 0,
        "no kill landed inside a store: the test proved nothing"
    );
}

/// The lengths at the inline boundary (128 bytes) and around it, with slot values small and large
/// (over 64 KiB, whose regions are freed when the value goes back inline).
const BOUNDARY_SIZES: &str = "0,1,15,16,63,64,120,127,128,129,130,4096,70000";

/// Torn-read stress across the inline boundary: two writer processes store lengths drawn from
/// `BOUNDARY_SIZES` (so the value switches between inline and slots both ways all the time) while
/// pinning and read-only readers check every value they read.
#[test]
fn inline_and_slot_values_switch_both_ways_without_tearing() {
    let name = unique("inline-stress");
    let value = ValueOptions::new().create(&name).unwrap();
    // The writers outlast the readers by 3 s, so a reader whose process starts late (Wine under
    // load has taken seconds) still reads while values change.
    let writers: Vec<Child> = (0..2)
        .map(|i| {
            let seed = (0x5151 + i * 31).to_string();
            helper(&["value-sizes-writer", &name, "6", &seed, BOUNDARY_SIZES])
        })
        .collect();
    let readers: Vec<Child> = ["rw", "rw", "ro"]
        .iter()
        .map(|mode| helper(&["value-reader", &name, "3", mode]))
        .collect();
    let limit = Duration::from_secs(120);
    for w in writers {
        let out = check(&wait_output(w, limit), "sizes writer");
        let line = out.lines().last().unwrap_or("").to_owned();
        assert!(
            count(&line, "stores") > 0,
            "a writer stored nothing: {}",
            out
        );
    }
    for r in readers {
        let line = check(&wait_output(r, limit), "boundary reader");
        eprintln!("reader: {}", line);
        assert_eq!(count(&line, "bad"), 0, "torn or corrupt reads: {}", line);
        assert!(
            count(&line, "versions") > 1,
            "saw no new versions: {}",
            line
        );
    }
    // Every boundary length, stored and read back in turn, both ways across the boundary.
    for len in [0usize, 1, 63, 64, 127, 128, 129, 64, 70_000, 128, 0, 129] {
        let data = payload::make_vec(len as u64 + 5, len);
        let v = value.store(&data).unwrap();
        assert_eq!(value.retrieve_versioned().unwrap(), (v, data.clone()));
        let mut exact = Vec::new();
        value.retrieve_to(&mut exact).unwrap();
        assert_eq!(exact, data, "retrieve_to at {} bytes", len);
        let mut pieces = Vec::new();
        value
            .retrieve_with(|p| {
                pieces.extend_from_slice(p);
                Ok(())
            })
            .unwrap();
        assert_eq!(pieces, data, "retrieve_with at {} bytes", len);
        let mut streamed = Vec::new();
        assert_eq!(
            value.reader().unwrap().read_to_end(&mut streamed).unwrap(),
            len
        );
        assert_eq!(streamed, data, "ValueReader at {} bytes", len);
        let mut raw = vec![0u8; 70_000];
        // SAFETY: `raw` is ours, 70,000 writable bytes.
        let (rv, rlen) = unsafe { value.retrieve_raw(raw.as_mut_ptr(), raw.len()) }.unwrap();
        assert_eq!(
            (rv, &raw[..rlen]),
            (v, &data[..]),
            "retrieve_raw at {} bytes",
            len
        );
        // SAFETY: `data` is ours, `len` readable bytes.
        let rv = unsafe { value.store_raw(data.as_ptr(), len) }.unwrap();
        assert_eq!(value.retrieve_versioned().unwrap(), (rv, data.clone()));
        assert_eq!(
            value.store_from(&data[..], len as u64).unwrap(),
            v + 2,
            "store_from at {} bytes",
            len
        );
        assert_eq!(value.retrieve().unwrap(), data);
        value.store_streamed(&data[..]).unwrap();
        assert_eq!(value.retrieve().unwrap(), data);
    }
}

/// The crash test for inline stores: a writer storing lengths across the inline boundary flat
/// out is killed with SIGKILL 30 times; each time the value is a complete earlier value and the
/// next store (which takes the dead writer's lock over) succeeds. A kill that left a version
/// taken but never published (`next_version` past `current`) landed inside a store; some must.
#[test]
fn killed_inline_writer_leaves_the_previous_value() {
    let name = unique("inline-crash");
    let value = ValueOptions::new().create(&name).unwrap();
    let raw = Mapping::open(&name).unwrap().map().unwrap();
    let word = |off: usize| {
        let mut w = [0u8; 8];
        raw.read_at(off, &mut w).unwrap();
        u64::from_le_bytes(w)
    };
    let mut rng = Rng::new();
    let mut last = value.store(&payload::make_vec(1, 64)).unwrap();
    let mut mid_store = 0;
    for round in 0..30u64 {
        // Mostly inline lengths, so most kills land in inline stores.
        let sizes = if round % 3 == 2 {
            BOUNDARY_SIZES
        } else {
            "0,1,63,64,127,128"
        };
        let seed = (round * 7919 + 3).to_string();
        let mut child = helper(&["value-sizes-writer", &name, "0", &seed, sizes]);
        let lines = Lines::new(child.stdout.take().unwrap());
        assert_eq!(lines.next(Duration::from_secs(60)), "started");
        std::thread::sleep(Duration::from_millis(1 + rng.next() % 20));
        kill(&mut child, round);
        // current (byte 64) names the published version; next_version (byte 144) the last one
        // a writer took.
        if word(144) > word(64) >> 8 {
            mid_store += 1;
        }
        let next = payload::make_vec(1000 + round, (round as usize * 37) % 200);
        last = after_kill(&value, round, last, next).1;
    }
    eprintln!("{} of 30 kills landed inside a store", mid_store);
    assert!(
        mid_store > 0,
        "no kill landed inside a store: the test proved nothing"
    );
}

/// The fuzz target's seeds (`mmf/fuzz/seeds/value_header`: the object size, then the header)
/// are headers of the current format, so the fuzzer starts from inputs that get past the
/// version check: one without a value, one typed with an inline value, one with 64 slots. (Not
/// under Wine, which may not find the build machine's source directory.)
#[test]
#[cfg(unix)]
fn fuzz_seeds_are_current_headers() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/value_header");
    let mut inline = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let seed = std::fs::read(&path).unwrap();
        let mut len = [0u8; 8];
        len.copy_from_slice(&seed[..8]);
        let h = mmf::ValueHeader::parse(&seed[8..], u64::from_le_bytes(len))
            .unwrap_or_else(|e| panic!("{}: {}", path.display(), e));
        assert_eq!(h.format_version, 4, "{}", path.display());
        assert_eq!(h.header_size, 448 + 64 * h.slots as u64);
        if h.current_inline {
            inline += 1;
        }
    }
    assert!(inline > 0, "no seed holds an inline value");
}

/// A reader blocked in `wait_newer` in one process is woken by a store in another.
#[test]
fn a_waiter_in_another_process_is_woken_by_a_store() {
    let name = unique("wake");
    let value = SharedValue::create(&name).unwrap();
    let seen = value.store(b"first").unwrap();
    let mut child = helper(&["value-waiter", &name, &seen.to_string(), "60000"]);
    let lines = Lines::new(child.stdout.take().unwrap());
    assert_eq!(lines.next(Duration::from_secs(60)), "waiting");
    // Give it a moment to block in the kernel (it is woken either way).
    std::thread::sleep(Duration::from_millis(100));
    let v = value.store(b"second").unwrap();
    assert_eq!(lines.next(Duration::from_secs(60)), format!("woke {}", v));
    let out = wait_output(child, Duration::from_secs(60));
    assert!(out.status.success());
}

/// A store in another process wakes a waiter here; a wait that nothing satisfies times out with
/// `Timeout`, here and in another process.
#[test]
fn waits_time_out_and_are_woken_across_processes() {
    let name = unique("timeout");
    let value = SharedValue::create(&name).unwrap();
    let v = value.version();
    let err = value
        .wait_newer(v, Some(Duration::from_millis(50)))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(
        value
            .wait_newer(v, Some(Duration::ZERO))
            .unwrap_err()
            .kind(),
        ErrorKind::Timeout
    );
    let out = wait_output(
        helper(&["value-waiter", &name, &v.to_string(), "50"]),
        Duration::from_secs(60),
    );
    assert_eq!(check(&out, "waiter"), "waiting\ntimeout");

    // Woken here by a store from a helper process (a writable and a read-only waiter).
    let ro = ValueOptions::new()
        .access(Access::ReadOnly)
        .open(&name)
        .unwrap();
    let waiters: Vec<_> = [value.clone(), ro]
        .into_iter()
        .map(|h| std::thread::spawn(move || h.wait_newer(v, Some(Duration::from_secs(60)))))
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    // A zero-second stress writer stores exactly once.
    let out = wait_output(
        helper(&["value-stress-writer", &name, "0", "1", "10"]),
        Duration::from_secs(60),
    );
    assert_eq!(check(&out, "writer"), "stores 1");
    for t in waiters {
        let got = t.join().unwrap().unwrap();
        assert!(got > v);
    }
    // Already newer: returns at once.
    assert!(value.wait_newer(0, None).unwrap() > 0);
}

#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Sample {
    time: u64,
    reading: f64,
    channel: [u32; 2],
}

// SAFETY: repr(C), 8 + 8 + 8 bytes with no padding, every bit pattern valid, no pointers.
unsafe impl Pod for Sample {
    const LAYOUT_ID: u64 = 0x5361_6d70_6c65_0001;
}

#[test]
fn typed_values_check_their_layout() {
    let name = unique("typed");
    let s = Shared::<Sample>::create(&name).unwrap();
    assert_eq!(
        s.load_versioned().unwrap(),
        (
            0,
            Sample {
                time: 0,
                reading: 0.0,
                channel: [0, 0]
            }
        )
    );
    let x = Sample {
        time: 5,
        reading: 2.5,
        channel: [1, 2],
    };
    let v = s.store(&x).unwrap();
    let other = Shared::<Sample>::open(&name).unwrap();
    assert_eq!(other.load_versioned().unwrap(), (v, x));
    // Same size and alignment, another type: refused.
    let err = Shared::<[u64; 3]>::open(&name).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LayoutMismatch);
    assert!(err.to_string().contains("layout"), "{}", err);
    let err = Shared::<u64>::open(&name).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LayoutMismatch);
    // Untyped access to a typed value is allowed, but only with the type's size.
    let raw = SharedValue::open(&name).unwrap();
    assert_eq!(raw.retrieve().unwrap().len(), 24);
    assert_eq!(
        raw.store(b"short").unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    // An untyped value is not any type.
    let bytes = unique("untyped");
    let _b = SharedValue::create(&bytes).unwrap();
    assert_eq!(
        Shared::<Sample>::open(&bytes).unwrap_err().kind(),
        ErrorKind::LayoutMismatch
    );
    let (_, how) = Shared::<Sample>::open_or_create(&name).unwrap();
    assert_eq!(how, Disposition::Opened);
}

#[test]
fn open_or_create_and_read_only_handles() {
    let name = unique("ooc");
    assert_eq!(
        SharedValue::open(&name).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    let (a, how) = ValueOptions::new().open_or_create(&name).unwrap();
    assert_eq!(how, Disposition::Created);
    let (b, how) = SharedValue::open_or_create(&name).unwrap();
    assert_eq!(how, Disposition::Opened);
    let v = b.store(b"from b").unwrap();
    assert_eq!(a.retrieve_versioned().unwrap(), (v, b"from b".to_vec()));
    let ro = ValueOptions::new()
        .access(Access::ReadOnly)
        .open(&name)
        .unwrap();
    assert_eq!(ro.retrieve().unwrap(), b"from b");
    assert_eq!(
        ro.store(b"no").unwrap_err().kind(),
        ErrorKind::PermissionDenied
    );
    // A read-only handle follows growth too.
    a.store(&vec![3u8; 300_000]).unwrap();
    assert_eq!(ro.retrieve().unwrap(), vec![3u8; 300_000]);
    assert_eq!(ro.name().unwrap().as_str(), name);
    assert!(format!("{:?}", ro).contains("SharedValue"));
}

/// Writes `bytes` at `offset` of the object NAME through a plain mapping.
fn scribble(name: &str, offset: usize, bytes: &[u8]) {
    Mapping::open(name)
        .unwrap()
        .map_mut()
        .unwrap()
        .write_at(offset, bytes)
        .unwrap();
}

fn open_fast(name: &str) -> mmf::Result<SharedValue> {
    ValueOptions::new()
        .timeout(Duration::from_millis(20))
        .open(name)
}

#[test]
fn damaged_headers_are_clear_errors() {
    // A value whose magic was overwritten: a damaged value, told apart from plain bytes.
    let name = unique("magic");
    let _v = SharedValue::create(&name).unwrap();
    scribble(&name, 0, b"NOTVALUE");
    let err = open_fast(&name).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Corrupt);
    assert!(err.to_string().contains("magic is damaged"), "{}", err);

    // Plain bytes: not a shared value at all.
    let name = unique("plain");
    let m = Mapping::create(name.as_str(), 4096).unwrap();
    m.map_mut()
        .unwrap()
        .write_at(0, b"typed by the user\0")
        .unwrap();
    let err = open_fast(&name).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Corrupt);
    assert!(
        err.to_string().contains("not an mmf shared value"),
        "{}",
        err
    );

    // Another format version.
    let name = unique("version");
    let _v = SharedValue::create(&name).unwrap();
    scribble(&name, 8, &7u32.to_le_bytes());
    assert_eq!(
        open_fast(&name).unwrap_err().kind(),
        ErrorKind::VersionMismatch
    );

    // A plain object of zeros: never initialised.
    let name = unique("zeros");
    let _m = Mapping::create(&name, 4096).unwrap();
    assert_eq!(open_fast(&name).unwrap_err().kind(), ErrorKind::NotReady);

    // Truncated: the first 100 bytes of a real header in a 100-byte object.
    let name = unique("full");
    let full = SharedValue::create(&name).unwrap();
    let head = full.mapping().map().unwrap().read_vec(0, 100).unwrap();
    let short = unique("short");
    let m = Mapping::create(&short, 100).unwrap();
    m.map_mut().unwrap().write_at(0, &head).unwrap();
    let err = open_fast(&short).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Corrupt);
    // (Windows reports section sizes rounded up to a page, so the shortfall shows differently.)
    assert!(
        cfg!(windows) || err.to_string().contains("truncated"),
        "{}",
        err
    );

    // A header that claims more data than the object has.
    let name = unique("shortdata");
    let v = ValueOptions::new().capacity(64).create(&name).unwrap();
    let hs = v.header().unwrap().header_size;
    scribble(&name, 152, &(hs + (1 << 30)).to_le_bytes()); // data_end
    let err = open_fast(&name).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Corrupt);
    assert!(err.to_string().contains("truncated"), "{}", err);
}

/// Random bytes over the header (with and without a valid magic and version): opening is an
/// error or a value whose operations return errors; never a panic, never a hang.
#[test]
fn random_headers_and_live_state_never_panic() {
    let mut rng = Rng::new();
    let (mut opened, mut outcomes) = (0, Vec::new());
    for round in 0..60 {
        let name = unique("random");
        let v = ValueOptions::new()
            .capacity(256)
            .slots(4)
            .create(&name)
            .unwrap();
        // An inline value in a quarter of the rounds, a slot value otherwise.
        let len = if round % 4 == 0 { 64 } else { 200 };
        v.store(&payload::make_vec(round, len)).unwrap();
        let header_size = v.header().unwrap().header_size as usize;
        // Keep magic and format in two thirds of the rounds, so the parser's later checks and the
        // live state (control block, slot descriptors) are reached too.
        let from = match round % 6 {
            0 | 1 => 0,
            2 | 3 => 12,
            4 => 64,
            _ => 192, // inline buffers and slot descriptors only
        };
        let mut junk = vec![0u8; header_size - from];
        for b in junk.iter_mut() {
            *b = rng.next() as u8;
        }
        // Sometimes only a few bytes.
        if round % 2 == 1 {
            for (i, b) in junk.iter_mut().enumerate() {
                if rng.next() % 8 != 0 {
                    *b = v.mapping().map().unwrap().read_vec(from + i, 1).unwrap()[0];
                }
            }
        }
        scribble(&name, from, &junk);
        let result = within(Duration::from_secs(60), {
            let name = name.clone();
            move || {
                let opened = open_fast(&name);
                let h = match &opened {
                    Ok(h) => h.clone(),
                    Err(e) => return format!("open: {:?}", e.kind()),
                };
                let r = h.retrieve().map(|d| d.len());
                let s = h.store(b"after");
                let w = h.wait_newer(u64::MAX - 1, Some(Duration::from_millis(1)));
                format!(
                    "{:?} {:?} {:?}",
                    r.map_err(|e| e.kind()),
                    s.map_err(|e| e.kind()),
                    w.map_err(|e| e.kind())
                )
            }
        });
        // The original handle keeps working or reports errors too.
        within(Duration::from_secs(60), move || {
            let _ = v.retrieve();
            let _ = v.store(b"x");
        });
        if !result.starts_with("open") {
            opened += 1;
        }
        outcomes.push(result);
    }
    eprintln!("outcomes: {:?}", outcomes);
    assert!(
        opened > 0,
        "no damaged value opened: the live state was never exercised"
    );
}

/// Two handles in one process, threads storing and retrieving: the in-process form of the
/// stress test (fast; runs in every build).
#[test]
fn threads_share_a_value() {
    let name = unique("threads");
    let mut o = ValueOptions::new();
    o.capacity(64);
    let value = o.create(&name).unwrap();
    let other = SharedValue::open(&name).unwrap();
    let deadline = Instant::now() + Duration::from_millis(700);
    let mut handles = Vec::new();
    for w in 0..2u64 {
        let h = value.clone();
        handles.push(std::thread::spawn(move || {
            let mut rng = Rng(0x9e37_79b9 + w);
            let mut n = 0;
            while Instant::now() < deadline {
                h.store(&payload::make_vec(
                    rng.next(),
                    (rng.next() % 70_000) as usize,
                ))
                .unwrap();
                n += 1;
            }
            n
        }));
    }
    for _ in 0..2 {
        let h = other.clone();
        handles.push(std::thread::spawn(move || {
            let mut n = 0;
            let mut buf = Vec::new();
            while Instant::now() < deadline {
                let v = h.retrieve_into(&mut buf).unwrap();
                assert!(v == 0 || payload::check(&buf), "torn read");
                n += 1;
            }
            n
        }));
    }
    for h in handles {
        assert!(h.join().unwrap() > 0);
    }
}

// Linux only: a Windows section has its name from the moment it is created, so there an opener
// waits for the ready word instead (`ValueOptions::timeout`, default 1 s).
#[cfg(unix)]
#[test]
fn an_opener_never_sees_a_value_without_its_header() {
    // One thread creates and drops values as fast as it can; another opens each name the moment
    // it can, without waiting for a ready word (timeout 0). It may find nothing, but never a value
    // whose header is missing: the header is written before the name appears.
    let base = common::unique("nohdr");
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let opener = {
        let (base, done) = (base.clone(), done.clone());
        std::thread::spawn(move || {
            let mut o = mmf::ValueOptions::new();
            o.timeout(std::time::Duration::ZERO);
            let (mut opened, mut i) = (0u32, 0u32);
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                match o.open(format!("{}-{}", base, i % 200)) {
                    Ok(_) => opened += 1,
                    Err(e) if e.kind() == mmf::ErrorKind::NotFound => {}
                    Err(e) => panic!("opened a value in an incomplete state: {}", e),
                }
                i += 1;
            }
            opened
        })
    };
    for round in 0..2000u32 {
        let v = mmf::SharedValue::create(format!("{}-{}", base, round % 200)).unwrap();
        v.store(b"x").unwrap();
        drop(v);
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let opened = opener.join().expect("the opener saw a half-made value");
    println!("the opener caught {} values alive", opened);
}

#[test]
fn a_damaged_version_counter_is_an_error_not_a_panic() {
    // `next_version` (control block, offset 144) is shared memory any process can write: a
    // counter at its maximum must not overflow (a panic) or wrap to version 0 (a lost value).
    let name = common::unique("vcount");
    let v = mmf::SharedValue::create(&name).unwrap();
    v.store(b"before").unwrap();
    let raw = mmf::Mapping::open(&name).unwrap();
    raw.map_mut()
        .unwrap()
        .write_at(144, &u64::MAX.to_le_bytes())
        .unwrap();
    let e = v.store(b"after").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutOfSpace, "{}", e);
    assert_eq!(v.retrieve().unwrap(), b"before", "the previous value stays");
}
