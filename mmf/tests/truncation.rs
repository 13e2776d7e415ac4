//! Objects that shrink under a view, or whose file system cannot provide a page, are errors and
//! never kill the process with `SIGBUS` (`sys/linux/fault.rs`): readers in other processes see
//! `Truncated` or `OutOfSpace`, go on, and open the object again; the views they hold work again
//! once the object grows back; a fault outside mmf's copies still kills the process.
#![cfg(target_os = "linux")]

mod common;

use common::{helper, hex, read_line, unique, wait_output, Dir};
use mmf::{Access, ErrorKind, OpenOptions, ValueOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::FileExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

const WATCHDOG: Duration = Duration::from_secs(60);
const SIGBUS: i32 = 7;

/// The options for a shared value in `dir`: small, two slots, persistent.
fn value_options(dir: &Dir) -> ValueOptions {
    let mut o = ValueOptions::new();
    o.dir(&dir.0)
        .capacity(16 << 10)
        .slots(2)
        .lifetime(mmf::Lifetime::Persistent);
    o
}

/// A `survive` helper: reads an object in a loop and answers commands.
struct Survivor {
    what: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl Survivor {
    fn start(dir: &Dir, kind: &'static str, name: &str) -> Survivor {
        let mut child = helper()
            .args(["survive", kind, name])
            .env("MMF_DIR", &dir.0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn mmf-testhelper");
        let out = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                match line {
                    Ok(l) => {
                        if tx.send(l).is_err() {
                            return;
                        }
                    }
                    Err(_) => return,
                }
            }
        });
        let stdin = child.stdin.take();
        let mut s = Survivor {
            what: kind,
            child,
            stdin,
            lines,
        };
        let first = s.line();
        assert_eq!(first, "ready", "{} reader", kind);
        s
    }

    fn line(&mut self) -> String {
        match self.lines.recv_timeout(WATCHDOG) {
            Ok(l) => l,
            Err(_) => {
                let _ = self.child.kill();
                panic!(
                    "watchdog: the {} reader said nothing for {:?} (status {:?})",
                    self.what,
                    WATCHDOG,
                    self.child.try_wait()
                );
            }
        }
    }

    fn send(&mut self, cmd: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{}", cmd).unwrap();
        stdin.flush().unwrap();
    }

    /// ok, truncated, out of space, corrupt, other.
    fn status(&mut self) -> [u64; 5] {
        self.send("status");
        let line = loop {
            let l = self.line();
            if l.starts_with("status ") {
                break l;
            }
        };
        parse_status(&line)
    }

    /// Polls until `pred` holds for the counts, under the watchdog.
    fn until(&mut self, what: &str, pred: impl Fn(&[u64; 5]) -> bool) -> [u64; 5] {
        let start = Instant::now();
        loop {
            let c = self.status();
            if pred(&c) {
                return c;
            }
            assert!(
                start.elapsed() < WATCHDOG,
                "watchdog: the {} reader never {}: {:?}",
                self.what,
                what,
                c
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn reopen(&mut self) -> String {
        self.send("reopen");
        loop {
            let l = self.line();
            if let Some(rest) = l.strip_prefix("reopened ") {
                return rest.to_owned();
            }
        }
    }

    /// Closes its input; it prints its final counts and must exit 0 (never a signal).
    fn finish(mut self) -> [u64; 5] {
        drop(self.stdin.take());
        let last = loop {
            let l = self.line();
            if l.starts_with("status ") {
                break l;
            }
        };
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > WATCHDOG {
                let _ = self.child.kill();
                panic!("watchdog: the {} reader did not exit", self.what);
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        assert!(
            status.success(),
            "the {} reader failed: {:?} (signal {:?}); last counts {}",
            self.what,
            status,
            status.signal(),
            last
        );
        parse_status(&last)
    }
}

impl Drop for Survivor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn parse_status(line: &str) -> [u64; 5] {
    let mut c = [0u64; 5];
    for (i, field) in line.split_whitespace().skip(1).take(5).enumerate() {
        c[i] = field.split('=').nth(1).unwrap().parse().unwrap();
    }
    c
}

fn resize(path: &Path, len: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

#[test]
fn readers_in_other_processes_survive_truncation_and_reopen() {
    let dir = Dir::new("trunc");
    let name = unique("value");
    let path = dir.path(&name);
    let value = value_options(&dir).create(&name).unwrap();
    let payload: Vec<u8> = (0..20_000u32).map(|i| (i * 31 + 7) as u8).collect();
    value.store(&payload).unwrap();
    let original = std::fs::read(&path).unwrap();
    let full = original.len() as u64;
    assert!(
        full > 3 * 4096,
        "the value's data must reach past its first page"
    );

    // One process reads the object as a plain view, the other as a shared value.
    let mut view_reader = Survivor::start(&dir, "view", &name);
    let mut value_reader = Survivor::start(&dir, "value", &name);

    for cut in [0u64, 100, 4096] {
        let before = [view_reader.status(), value_reader.status()];
        resize(&path, cut);
        view_reader.until("saw Truncated", |c| c[1] > before[0][1]);
        value_reader.until("saw Truncated", |c| c[1] > before[1][1]);
        // The object grows back with its old contents: the same views read it again.
        resize(&path, full);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .write_all_at(&original, 0)
            .unwrap();
        let seen = [view_reader.status(), value_reader.status()];
        view_reader.until("read again after growth", |c| c[0] > seen[0][0]);
        value_reader.until("read again after growth", |c| c[0] > seen[1][0]);
    }

    // The object is removed and made again: the readers open the new one and read it.
    drop(value);
    std::fs::remove_file(&path).unwrap();
    let again = value_options(&dir).create(&name).unwrap();
    again.store(b"the second object").unwrap();
    let head = std::fs::read(&path).unwrap();
    assert_eq!(view_reader.reopen(), hex(&head[..16]));
    assert_eq!(value_reader.reopen(), hex(b"the second object"));

    let v = view_reader.finish();
    let s = value_reader.finish();
    for (what, c) in [("view", v), ("value", s)] {
        assert!(c[1] >= 3, "{} reader: Truncated at each cut: {:?}", what, c);
        assert_eq!(c[2], 0, "{} reader: no OutOfSpace: {:?}", what, c);
        assert_eq!(c[4], 0, "{} reader: no other errors: {:?}", what, c);
    }
    // A plain view never sees Corrupt; a value may, if it reads a header half rewritten.
    assert_eq!(v[3], 0, "view reader: {:?}", v);
}

#[test]
fn a_waiter_asleep_on_a_value_that_is_cut_short_wakes_with_truncated() {
    let dir = Dir::new("trunc-wait");
    let name = unique("wait");
    let path = dir.path(&name);
    let value = value_options(&dir).create(&name).unwrap();
    value.store(b"before").unwrap();
    let mut child = helper()
        .args(["value-wait", &name, "1000"])
        .env("MMF_DIR", &dir.0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (line, out) = read_line(child.stdout.take().unwrap(), WATCHDOG);
    assert_eq!(line.trim(), "waiting");
    child.stdout = Some(out);
    // Give it a moment to fall asleep in the kernel (not needed for correctness).
    std::thread::sleep(Duration::from_millis(50));
    resize(&path, 0);
    // The helper waits at most 60 s; a Timeout would say "timed out", not "truncated".
    let out = wait_output(child, Duration::from_secs(120));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "an error exit, not a signal: {:?} (signal {:?}), stderr {:?}",
        out.status,
        out.status.signal(),
        stderr
    );
    assert!(stderr.contains("truncated"), "{:?}", stderr);
    assert!(
        stderr.contains(&name),
        "the error names the value: {:?}",
        stderr
    );
}

#[test]
fn writes_into_a_truncated_range_fail_and_views_work_again_after_growth() {
    let dir = Dir::new("trunc-w");
    let name = unique("w");
    let path = dir.path(&name);
    let page = 4096usize;
    let size = 16 * page;
    let mut create = mmf::CreateOptions::new();
    create.dir(&dir.0).size(size as u64);
    let m = create.create(&name).unwrap();
    let rw = m.map_mut().unwrap();
    let cow = m.map_copy().unwrap();
    rw.write_at(0, &vec![0x5a; size]).unwrap();
    // A private change on a page the truncation keeps. (Linux discards private copies of the
    // pages it cuts, too.)
    cow.write_at(10, b"private").unwrap();

    resize(&path, page as u64);
    let e = rw.write_at(2 * page + 5, b"lost").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Truncated, "{}", e);
    assert!(
        e.to_string().contains(&name),
        "the error names the object: {}",
        e
    );
    let mut buf = vec![0u8; 3 * page];
    let e = rw.read_at(0, &mut buf).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Truncated, "{}", e);
    assert_eq!(
        rw.read_pod::<u64>(5 * page).unwrap_err().kind(),
        ErrorKind::Truncated
    );
    assert_eq!(
        cow.read_at(3 * page, &mut buf[..10]).unwrap_err().kind(),
        ErrorKind::Truncated
    );
    // What is left still reads, in every view.
    let mut head = [0u8; 8];
    rw.read_at(0, &mut head).unwrap();
    assert_eq!(head, [0x5a; 8]);
    let mut private = [0u8; 7];
    cow.read_at(10, &mut private).unwrap();
    assert_eq!(&private, b"private");

    // Growing back: writes through the view reach the file again, and the file's bytes are seen
    // through the views (the patched pages were mapped back).
    resize(&path, size as u64);
    rw.write_at(2 * page + 5, b"after").unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let mut back = [0u8; 5];
    file.read_exact_at(&mut back, (2 * page + 5) as u64)
        .unwrap();
    assert_eq!(&back, b"after");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .write_all_at(b"from the file", (3 * page) as u64)
        .unwrap();
    let mut seen = [0u8; 13];
    rw.read_at(3 * page, &mut seen).unwrap();
    assert_eq!(&seen, b"from the file");
    cow.read_at(3 * page, &mut seen).unwrap();
    assert_eq!(
        &seen, b"from the file",
        "the copy-on-write view sees the file again"
    );
    cow.read_at(10, &mut seen[..7]).unwrap();
    assert_eq!(&seen[..7], b"private");
    assert_eq!(
        rw.read_pod::<u64>(5 * page).unwrap(),
        0,
        "grown back with zeros"
    );
}

#[test]
fn threads_sharing_a_view_survive_repeated_cuts() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;
    let dir = Dir::new("trunc-t");
    let name = unique("t");
    let path = dir.path(&name);
    let size = 64 * 4096u64;
    let mut create = mmf::CreateOptions::new();
    create.dir(&dir.0).size(size);
    let m = create.create(&name).unwrap();
    let view = Arc::new(m.map_mut().unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    // ok, truncated, other
    let counts = Arc::new([AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)]);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (view, stop, counts) = (view.clone(), stop.clone(), counts.clone());
            std::thread::spawn(move || {
                let mut buf = vec![0u8; view.len()];
                while !stop.load(Ordering::Relaxed) {
                    let r = if t % 2 == 0 {
                        view.read_at(0, &mut buf)
                    } else {
                        view.write_at(4096 * t, &[t as u8; 3 * 4096])
                    };
                    let i = match r {
                        Ok(()) => 0,
                        Err(e) if e.kind() == ErrorKind::Truncated => 1,
                        Err(e) => {
                            eprintln!("unexpected: {}", e);
                            2
                        }
                    };
                    counts[i].fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let start = Instant::now();
    for round in 0..50u64 {
        resize(&path, (round % 3) * 4096);
        std::thread::sleep(Duration::from_millis(1));
        resize(&path, size);
        std::thread::sleep(Duration::from_millis(1));
        assert!(start.elapsed() < WATCHDOG, "watchdog");
    }
    // At least one cut seen while the threads run, then stop them.
    while counts[1].load(Ordering::Relaxed) == 0 {
        resize(&path, 0);
        std::thread::sleep(Duration::from_millis(1));
        resize(&path, size);
        assert!(start.elapsed() < WATCHDOG, "watchdog: no thread saw a cut");
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let c: Vec<u64> = counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    assert_eq!(c[2], 0, "only Truncated errors: {:?}", c);
    // The views work again: a write reaches the file, the file's bytes are read.
    view.write_at(5 * 4096, b"whole again").unwrap();
    let mut back = [0u8; 11];
    std::fs::File::open(&path)
        .unwrap()
        .read_exact_at(&mut back, 5 * 4096)
        .unwrap();
    assert_eq!(&back, b"whole again");
}

#[test]
fn a_fault_outside_mmf_copies_still_kills_the_process_with_sigbus() {
    let dir = Dir::new("trunc-k");
    let name = unique("k");
    let path = dir.path(&name);
    let mut create = mmf::CreateOptions::new();
    create
        .dir(&dir.0)
        .size(4 * 4096)
        .lifetime(mmf::Lifetime::Persistent);
    drop(create.create(&name).unwrap());
    let mut child = helper()
        .args(["touch-unguarded", &name, "8192"])
        .env("MMF_DIR", &dir.0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (line, out) = read_line(child.stdout.take().unwrap(), WATCHDOG);
    assert_eq!(line.trim(), "mapped");
    child.stdout = Some(out);
    resize(&path, 0);
    writeln!(child.stdin.as_mut().unwrap(), "go").unwrap();
    let out = wait_output(child, WATCHDOG);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("guarded Truncated"),
        "the guarded read reports the truncation: {:?}",
        stdout
    );
    assert!(!stdout.contains("survived"), "{:?}", stdout);
    assert_eq!(
        out.status.signal(),
        Some(SIGBUS),
        "the unguarded access dies of SIGBUS as without mmf: {:?}, stderr {:?}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A 1 MiB tmpfs in a fresh directory, unmounted on drop; `None` (with the reason printed)
/// where this process may not mount.
struct SmallTmpfs(Dir);

impl SmallTmpfs {
    fn new() -> Option<SmallTmpfs> {
        let dir = Dir::new("trunc-full");
        if common::mount_small_tmpfs(&dir.0) {
            Some(SmallTmpfs(dir))
        } else {
            None
        }
    }

    /// Writes a file until the file system is full.
    fn fill(&self) {
        let mut f = std::fs::File::create(self.0.path("filler")).unwrap();
        let chunk = vec![1u8; 4096];
        loop {
            match f.write_all(&chunk) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(28) => return, // ENOSPC
                Err(e) => panic!("filling the tmpfs: {}", e),
            }
        }
    }
}

impl Drop for SmallTmpfs {
    fn drop(&mut self) {
        common::unmount(&(self.0).0);
    }
}

fn probe(dir: &Dir, kind: &str, name: &str) -> String {
    let out = wait_output(
        helper()
            .args(["probe", kind, name])
            .env("MMF_DIR", &dir.0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        WATCHDOG,
    );
    assert!(
        out.status.success(),
        "probe {} died or failed: {:?} (signal {:?}), stderr {:?}",
        kind,
        out.status,
        out.status.signal(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn sparse_objects_on_a_full_tmpfs_are_out_of_space_not_sigbus() {
    let fs = match SmallTmpfs::new() {
        Some(fs) => fs,
        None => return,
    };
    let dir = &fs.0;
    // A foreign object as Python's SharedMemory(size=...) makes it: sized with ftruncate only,
    // larger than the file system.
    let sparse = unique("sparse");
    std::fs::File::create(dir.path(&sparse))
        .unwrap()
        .set_len(4 << 20)
        .unwrap();
    // A shared value whose current data lies in a hole (punched after the store).
    let name = unique("value");
    let value = value_options(dir).create(&name).unwrap();
    value.store(&vec![9u8; 12_000]).unwrap();
    let m = OpenOptions::new().dir(&dir.0).open(&name).unwrap();
    // The value's bytes are 320..12320; its header (the first page) is left alone.
    m.map_mut().unwrap().decommit(8192, 4096).unwrap();
    drop((m, value));
    fs.fill();

    let got = probe(dir, "view", &sparse);
    assert!(got.starts_with("error OutOfSpace"), "{}", got);
    assert!(got.contains(&sparse), "the error names the object: {}", got);
    let got = probe(dir, "value", &name);
    assert!(got.starts_with("error OutOfSpace"), "{}", got);

    // In this process too: an error, and the view stays usable for what exists.
    let m = OpenOptions::new()
        .dir(&dir.0)
        .access(Access::ReadOnly)
        .open(&sparse)
        .unwrap();
    let v = m.map().unwrap();
    let e = v.read_vec(0, 1 << 20).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutOfSpace, "{}", e);
    let e = v.read_pod::<u64>(2 << 20).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutOfSpace, "{}", e);
    drop((v, m));
    // Space again: the same object reads (zeros, as a hole does).
    std::fs::remove_file(dir.path("filler")).unwrap();
    let m = OpenOptions::new()
        .dir(&dir.0)
        .access(Access::ReadOnly)
        .open(&sparse)
        .unwrap();
    assert_eq!(m.map().unwrap().read_pod::<u64>(2 << 20).unwrap(), 0);
    let value = ValueOptions::new().dir(&dir.0).open(&name).unwrap();
    assert_eq!(value.retrieve().unwrap().len(), 12_000);
}
