//! Helper process for mmf's multi-process tests. Not part of the public interface.
//!
//! Usage: `mmf-testhelper COMMAND ARGS...`; named objects live in `$MMF_DIR` when it is set.
//!
//! - `read NAME OFFSET LEN`: opens NAME, prints the bytes as hex on one line.
//! - `write NAME OFFSET HEX`: opens NAME and writes the bytes.
//! - `hold NAME`: opens NAME, prints `held`, then waits until stdin closes (or it is killed).
//! - `create-hold NAME SIZE HEX`: creates NAME (handle lifetime), writes HEX at 0, prints `held`,
//!   waits until stdin closes.
//! - `churn`: prints `churning`, then creates and drops handle-lifetime objects (each create and
//!   close takes and tests flocks) until stdin closes.
//! - `race NAME SIZE [hold]`: open-or-create; prints `created` or `opened` and the size seen; fails
//!   if an opener ever sees a size other than SIZE. With `hold`, keeps the object until stdin closes.
//! - `exchange NAME`: opens NAME, prints what is at 0..5 as hex, writes `from-b` at 16.
//! - `value-wait NAME SEEN`: opens the shared value NAME, prints `waiting`, waits (at most 60 s)
//!   for a version newer than SEEN, prints `got VERSION HEX` with the value retrieved.
//! - `value-store NAME HEX`: opens the shared value NAME, stores HEX, prints the new version.
//! - `value-store-stdin NAME`: opens the shared value NAME and streams stdin into it to its end
//!   (`store_streamed`), printing `streaming` after the first MiB and the new version at the end.
//! - `inherited LEN`: takes over the object whose token is in `$MMF_HANDLE`, prints `held` and
//!   0..LEN as hex, waits until stdin closes.
//! - `inherited-stat` (Linux): takes over the object whose token is in `$MMF_HANDLE` and prints
//!   `stat DEV INO SIZE` from `fstat` of its descriptor (`AsFd`).
//! - `recv SOCKET LEN` (Unix): connects to the Unix socket, receives an object, prints 0..LEN as
//!   hex and writes `received` at 32.
//! - `walk NAME ADDR`: occupies address ADDR (where the parent mapped NAME) with a placeholder,
//!   maps NAME elsewhere, walks the linked list of `Node`s whose head offset is at 0, and prints
//!   `ADDRESS COUNT SUM`.
//! - `race-loop GATE PREFIX ROUNDS SIZE`: waits for the file GATE, then for each round opens or
//!   creates the persistent object PREFIX-ROUND, whose creator initialises it with `INIT` before it
//!   is published; prints how many it created; exits 3 if it ever saw an uninitialised object.
//! - `grow-race GATE NAME SIZE`: opens NAME, waits for the file GATE, grows NAME to SIZE, writes
//!   SIZE (8 bytes, little-endian) in its last 8 bytes, and prints the size it then sees.
//! - Shared values (`mmf/tests/value.rs`; payloads carry their own checksum, see `payload`):
//!   - `value-waiter NAME SEEN MS`: opens NAME, prints `waiting`, waits at most MS ms for a
//!     version newer than SEEN, prints `woke VERSION` or `timeout`.
//!   - `value-stress-writer NAME SECS SEED MAXLEN`: stores checksummed values of random length
//!     0..=MAXLEN for SECS seconds (at least once); prints `stores N`.
//!   - `value-reader NAME SECS [ro]`: retrieves and checks values for SECS seconds (read-only
//!     with `ro`); prints `reads N bad B versions V`; exits 3 if any value was torn or corrupt.
//!   - `value-crash-writer NAME LEN`: stores checksummed LEN-byte values (at least 16) until
//!     killed, printing `storing K` before and `stored K VERSION` after each store.
//!   - `value-lock-loop NAME LEN`: prints `looping`, then stores LEN-byte values with a 2 ms
//!     pause after each (so the writer lock is held for most of the time, yet others get it)
//!     until stdin closes; prints `stores N`. The lock-timeout tests stop it with SIGSTOP.
//! - Careless and hostile peers, limited machines (Linux): see `testhelper/hostile.rs`.
//! - Objects shrinking under a view (`mmf/tests/truncation.rs`):
//!   - `survive view|value NAME`: opens NAME (read-only; as a shared value for `value`) and reads
//!     it in a loop (`View::read_at` of the whole view, or `SharedValue::retrieve`), counting
//!     outcomes by error kind. Prints `ready` after the first read. Commands on stdin, one a
//!     line: `status` prints `status ok=N truncated=N oos=N corrupt=N other=N`; `reopen` opens
//!     NAME again and prints `reopened HEX` (the first 16 bytes, or the value) once a read works.
//!     At end of input it prints the status again and exits 0, or 3 if an error of any other
//!     kind was seen.
//!   - `probe view|value NAME`: opens NAME and reads it once (the whole view, or a retrieve);
//!     prints `ok HEX16` or `error KIND MESSAGE`, and exits 0 either way.
//!   - `touch-unguarded NAME OFFSET`: maps NAME, prints `mapped`, waits for a line on stdin,
//!     reads the byte at OFFSET with `read_at` (printing `guarded KIND`), then reads it through
//!     the `unsafe` slice, unguarded (which must kill it with `SIGBUS` if the page is gone),
//!     and prints `survived` if it did not die.

use std::io::Read;
use std::process::exit;

/// A list node as `mmf/tests/advanced.rs` lays it out.
#[derive(Clone, Copy)]
#[repr(C)]
struct Node {
    value: u64,
    next: mmf::Offset<Node>,
}

// SAFETY: repr(C), two 8-byte fields (no padding), any bit pattern valid, no pointers.
unsafe impl mmf::Pod for Node {
    const LAYOUT_ID: u64 = 0x4e6f_6465;
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{:02x}", x)).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

fn wait_stdin() {
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
}

fn run(args: &[String]) -> mmf::Result<()> {
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
    match arg(0) {
        "read" => {
            let m = mmf::OpenOptions::new()
                .access(mmf::Access::ReadOnly)
                .open(arg(1))?;
            let v = m.map()?;
            let data = v.read_vec(arg(2).parse().unwrap_or(0), arg(3).parse().unwrap_or(0))?;
            println!("{}", hex(&data));
        }
        "write" => {
            let m = mmf::Mapping::open(arg(1))?;
            m.map_mut()?
                .write_at(arg(2).parse().unwrap_or(0), &unhex(arg(3)))?;
        }
        "hold" => {
            let m = mmf::Mapping::open(arg(1))?;
            println!("held {}", m.len());
            wait_stdin();
        }
        "create-hold" => {
            let m = mmf::Mapping::create(arg(1), arg(2).parse().unwrap_or(4096))?;
            m.map_mut()?.write_at(0, &unhex(arg(3)))?;
            println!("held");
            wait_stdin();
        }
        "churn" => {
            std::thread::spawn(|| {
                wait_stdin();
                exit(0);
            });
            println!("churning");
            for i in 0u64.. {
                let name = format!("churn-{}-{}", std::process::id(), i % 16);
                let _ = mmf::Mapping::open_or_create(name.as_str(), 4096)?;
            }
        }
        "race" => {
            let size: u64 = arg(2).parse().unwrap_or(4096);
            let (m, how) = mmf::Mapping::open_or_create(arg(1), size)?;
            let seen = m.len();
            println!(
                "{} {}",
                if how == mmf::Disposition::Created {
                    "created"
                } else {
                    "opened"
                },
                seen
            );
            if seen != size {
                exit(3);
            }
            if arg(3) == "hold" {
                wait_stdin();
            }
        }
        "exchange" => {
            let m = mmf::Mapping::open(arg(1))?;
            let v = m.map_mut()?;
            println!("{}", hex(&v.read_vec(0, 5)?));
            v.write_at(16, b"from-b")?;
        }
        "value-wait" => {
            let value = mmf::SharedValue::open(arg(1))?;
            println!("waiting");
            let seen = arg(2).parse().unwrap_or(0);
            value.wait_newer(seen, Some(std::time::Duration::from_secs(60)))?;
            let (version, data) = value.retrieve_versioned()?;
            println!("got {} {}", version, hex(&data));
        }
        "value-store" => {
            let value = mmf::SharedValue::open(arg(1))?;
            println!("{}", value.store(&unhex(arg(2)))?);
        }
        "value-store-stdin" => {
            // Prints `streaming` once the store has taken its first MiB, so a test can kill it
            // in the middle.
            struct Announce<R>(R, u64);
            impl<R: std::io::Read> std::io::Read for Announce<R> {
                fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                    let n = self.0.read(buf)?;
                    let before = self.1;
                    self.1 += n as u64;
                    if before < 1 << 20 && self.1 >= 1 << 20 {
                        println!("streaming");
                    }
                    Ok(n)
                }
            }
            let value = mmf::SharedValue::open(arg(1))?;
            let input = Announce(std::io::stdin().lock(), 0);
            println!("{}", value.store_streamed(input)?);
        }
        "value-paced" => {
            // Stores 1..=COUNT (8 bytes, little-endian) into NAME, each only after the consumer
            // stored the previous number into ACK: stores slower than the consumer, by design.
            let value = mmf::SharedValue::open(arg(1))?;
            let ack = mmf::Shared::<u64>::open(arg(2))?;
            let count: u64 = arg(3).parse().unwrap_or(0);
            println!("storing");
            for i in 1..=count {
                value.store(&i.to_le_bytes())?;
                let mut seen = ack.version();
                while ack.load()? < i {
                    seen = ack.wait_newer(seen, Some(std::time::Duration::from_secs(60)))?;
                }
            }
            println!("stored {}", count);
        }
        "inherited" => {
            let token = std::env::var("MMF_HANDLE").unwrap_or_default();
            let m = mmf::Mapping::from_inherited(&token)?;
            if mmf::Mapping::from_inherited(&token).is_ok() {
                eprintln!("mmf-testhelper: a second takeover of {} succeeded", token);
                exit(4);
            }
            println!(
                "held {}",
                hex(&m.map()?.read_vec(0, arg(1).parse().unwrap_or(0))?)
            );
            wait_stdin();
        }
        #[cfg(target_os = "linux")]
        "inherited-stat" => {
            let m = mmf::Mapping::from_inherited(&std::env::var("MMF_HANDLE").unwrap_or_default())?;
            let st = rustix::fs::fstat(std::os::unix::io::AsFd::as_fd(&m)).expect("fstat");
            println!("stat {} {} {}", st.st_dev, st.st_ino, st.st_size);
        }
        #[cfg(unix)]
        "recv" => {
            let sock = std::os::unix::net::UnixStream::connect(arg(1)).expect("connect");
            let m = mmf::Mapping::receive(&sock)?;
            let v = m.map_mut()?;
            println!("{}", hex(&v.read_vec(0, arg(2).parse().unwrap_or(0))?));
            v.write_at(32, b"received")?;
        }
        "walk" => {
            let m = mmf::OpenOptions::new()
                .access(mmf::Access::ReadOnly)
                .open(arg(1))?;
            let avoid: usize = arg(2).parse().unwrap_or(0);
            let placeholder = mmf::Mapping::anonymous(m.len())?;
            let _occupied = mmf::ViewOptions::new().at(avoid).map(&placeholder).ok();
            let v = m.map()?;
            let (mut at, mut count, mut sum) = (v.read_pod::<mmf::Offset<Node>>(0)?, 0u64, 0u64);
            while !at.is_null() && count < 1_000_000 {
                let n = v.load(at)?;
                sum += n.value;
                count += 1;
                at = n.next;
            }
            println!("{} {} {}", v.as_ptr() as usize, count, sum);
        }
        "race-loop" => {
            let gate = std::path::Path::new(arg(1));
            while !gate.exists() {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            let rounds: u32 = arg(3).parse().unwrap_or(0);
            let size: u64 = arg(4).parse().unwrap_or(4096);
            let mut opts = mmf::CreateOptions::new();
            opts.size(size).lifetime(mmf::Lifetime::Persistent);
            let mut created = 0;
            for r in 0..rounds {
                let name = format!("{}-{}", arg(2), r);
                let (m, how) = opts.open_or_create_with(&name, |v| v.write_at(0, b"INIT"))?;
                if how == mmf::Disposition::Created {
                    created += 1;
                }
                let head = m.map()?.read_vec(0, 4)?;
                if m.len() != size || head != b"INIT" {
                    eprintln!(
                        "round {}: uninitialised object: len {} head {:?}",
                        r,
                        m.len(),
                        head
                    );
                    exit(3);
                }
            }
            println!("{}", created);
        }
        "grow-race" => {
            let gate = std::path::Path::new(arg(1));
            let m = mmf::OpenOptions::new().open(arg(2))?;
            let size: u64 = arg(3).parse().unwrap_or(4096);
            while !gate.exists() {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            m.grow(size)?;
            let mark = size.to_le_bytes();
            m.map_range(size - 8, 8, mmf::Access::ReadWrite)?
                .write_at(0, &mark)?;
            println!("{}", m.len());
        }
        "value-waiter"
        | "value-stress-writer"
        | "value-sizes-writer"
        | "value-reader"
        | "value-crash-writer"
        | "value-lock-loop" => {
            value_command(args)?;
        }
        #[cfg(target_os = "linux")]
        cmd if hostile::handles(cmd) => hostile::run(args)?,
        "survive" | "probe" | "touch-unguarded" => truncation_command(args)?,
        other => {
            eprintln!("mmf-testhelper: unknown command {:?}", other);
            exit(2);
        }
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = run(&args) {
        eprintln!("mmf-testhelper: {}", e);
        exit(match e.kind() {
            mmf::ErrorKind::NotFound => 10,
            mmf::ErrorKind::AlreadyExists => 11,
            _ => 1,
        });
    }
}

#[path = "../../tests/common/payload.rs"]
mod payload;

#[cfg(target_os = "linux")]
#[path = "testhelper/hostile.rs"]
mod hostile;

fn value_command(args: &[String]) -> mmf::Result<()> {
    use std::time::{Duration, Instant};
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
    let num = |i: usize| arg(i).parse::<u64>().unwrap_or(0);
    match arg(0) {
        "value-waiter" => {
            let value = mmf::SharedValue::open(arg(1))?;
            println!("waiting");
            match value.wait_newer(num(2), Some(Duration::from_millis(num(3)))) {
                Ok(v) => println!("woke {}", v),
                Err(e) if e.kind() == mmf::ErrorKind::Timeout => println!("timeout"),
                Err(e) => return Err(e),
            }
        }
        "value-stress-writer" => {
            let value = mmf::SharedValue::open(arg(1))?;
            let end = Instant::now() + Duration::from_secs(num(2));
            let (mut x, max) = (num(3) | 1, num(4));
            let (mut buf, mut stores) = (Vec::new(), 0u64);
            loop {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                payload::make(x, (x % (max + 1)) as usize, &mut buf);
                value.store(&buf)?;
                stores += 1;
                if Instant::now() >= end {
                    break;
                }
            }
            println!("stores {}", stores);
        }
        "value-sizes-writer" => {
            // Stores payloads whose lengths are drawn from a comma-separated list (inline and
            // slot sizes mixed), flat out: until the time is up, or for ever (0 s: until killed,
            // the crash tests' writer, which says "started" first).
            let value = mmf::SharedValue::open(arg(1))?;
            let secs = num(2);
            let end = Instant::now() + Duration::from_secs(secs);
            let mut x = num(3) | 1;
            let sizes: Vec<usize> = arg(4).split(',').filter_map(|n| n.parse().ok()).collect();
            let (mut buf, mut stores) = (Vec::new(), 0u64);
            println!("started");
            loop {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                payload::make(x, sizes[(x % sizes.len() as u64) as usize], &mut buf);
                value.store(&buf)?;
                stores += 1;
                if secs > 0 && Instant::now() >= end {
                    break;
                }
            }
            println!("stores {}", stores);
        }
        "value-reader" => {
            let mut o = mmf::ValueOptions::new();
            o.access(if arg(3) == "ro" {
                mmf::Access::ReadOnly
            } else {
                mmf::Access::ReadWrite
            });
            let value = o.open(arg(1))?;
            let end = Instant::now() + Duration::from_secs(num(2));
            let mut buf = Vec::new();
            let (mut reads, mut bad, mut versions, mut last) = (0u64, 0u64, 0u64, 0u64);
            while Instant::now() < end {
                let v = value.retrieve_into(&mut buf)?;
                reads += 1;
                if v != last {
                    versions += 1;
                    last = v;
                }
                if v != 0 && !payload::check(&buf) {
                    bad += 1;
                    eprintln!("bad value: version {} length {}", v, buf.len());
                }
            }
            println!("reads {} bad {} versions {}", reads, bad, versions);
            if bad > 0 {
                exit(3);
            }
        }
        "value-lock-loop" => {
            use std::sync::atomic::{AtomicBool, Ordering};
            use std::sync::Arc;
            let value = mmf::SharedValue::open(arg(1))?;
            let bytes = vec![0x5a; num(2) as usize];
            let done = Arc::new(AtomicBool::new(false));
            let flag = done.clone();
            std::thread::spawn(move || {
                wait_stdin();
                flag.store(true, Ordering::Relaxed);
            });
            println!("looping");
            let mut stores = 0u64;
            while !done.load(Ordering::Relaxed) {
                value.store(&bytes)?;
                stores += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
            println!("stores {}", stores);
        }
        _ => {
            // value-crash-writer
            let value = mmf::SharedValue::open(arg(1))?;
            let len = (num(2) as usize).max(16);
            let pid = std::process::id() as u64;
            let mut payload = payload::Fixed::new(pid, len);
            for k in 0u64.. {
                let bytes = payload.with_id((pid << 32) | k);
                println!("storing {}", k);
                let v = value.store(bytes)?;
                println!("stored {} {}", k, v);
            }
        }
    }
    Ok(())
}

/// A handle that reads an object the way `survive` and `probe` do.
enum Reader {
    View(mmf::View),
    Value(mmf::SharedValue),
}

impl Reader {
    fn open(kind: &str, name: &str) -> mmf::Result<Reader> {
        Ok(if kind == "value" {
            Reader::Value(mmf::ValueOptions::new().open(name)?)
        } else {
            let m = mmf::OpenOptions::new()
                .access(mmf::Access::ReadOnly)
                .open(name)?;
            Reader::View(m.map()?)
        })
    }

    /// The whole view, or the value.
    fn read(&self, buf: &mut Vec<u8>) -> mmf::Result<()> {
        match self {
            Reader::View(v) => {
                buf.resize(v.len(), 0);
                v.read_at(0, buf)
            }
            Reader::Value(v) => v.retrieve_into(buf).map(|_| ()),
        }
    }

    /// What `reopen` and `probe` print: the value, or the first 16 bytes of the view.
    fn shown<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        match self {
            Reader::View(_) => &buf[..buf.len().min(16)],
            Reader::Value(_) => buf,
        }
    }
}

fn truncation_command(args: &[String]) -> mmf::Result<()> {
    use mmf::ErrorKind;
    use std::io::BufRead;
    use std::time::{Duration, Instant};
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
    match arg(0) {
        "probe" => {
            let mut buf = Vec::new();
            let r = Reader::open(arg(1), arg(2));
            match r.and_then(|r| r.read(&mut buf).map(|()| r)) {
                Ok(r) => println!("ok {}", hex(r.shown(&buf))),
                Err(e) => println!("error {:?} {}", e.kind(), e),
            }
        }
        "touch-unguarded" => {
            let m = mmf::OpenOptions::new()
                .access(mmf::Access::ReadOnly)
                .open(arg(1))?;
            let v = m.map()?;
            let at: usize = arg(2).parse().unwrap_or(0);
            println!("mapped");
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
            let mut b = [0u8];
            match v.read_at(at, &mut b) {
                Ok(()) => println!("guarded ok"),
                Err(e) => println!("guarded {:?}", e.kind()),
            }
            // SAFETY: nobody writes the object in this test; the point is the fault itself.
            let byte = unsafe { std::ptr::read_volatile(&v.as_slice()[at]) };
            println!("survived {}", byte);
        }
        _ => {
            // survive
            let kind = arg(1).to_owned();
            let name = arg(2).to_owned();
            let (tx, rx) = std::sync::mpsc::channel::<String>();
            std::thread::spawn(move || {
                let stdin = std::io::stdin();
                for line in stdin.lock().lines() {
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
            let mut reader = Reader::open(&kind, &name)?;
            let mut buf = Vec::new();
            // ok, truncated, out of space, corrupt, other
            let mut counts = [0u64; 5];
            let mut ready = false;
            let status = |c: &[u64; 5]| {
                println!(
                    "status ok={} truncated={} oos={} corrupt={} other={}",
                    c[0], c[1], c[2], c[3], c[4]
                );
            };
            loop {
                match rx.try_recv() {
                    Ok(cmd) if cmd == "status" => status(&counts),
                    Ok(cmd) if cmd == "reopen" => {
                        drop(reader);
                        let deadline = Instant::now() + Duration::from_secs(30);
                        reader = loop {
                            let attempt = Reader::open(&kind, &name)
                                .and_then(|r| r.read(&mut buf).map(|()| r));
                            match attempt {
                                Ok(r) => break r,
                                Err(e) if Instant::now() > deadline => return Err(e),
                                Err(_) => std::thread::sleep(Duration::from_millis(5)),
                            }
                        };
                        println!("reopened {}", hex(reader.shown(&buf)));
                    }
                    Ok(other) => eprintln!("mmf-testhelper: unknown survive command {:?}", other),
                    Err(std::sync::mpsc::TryRecvError::Empty) => {}
                    Err(std::sync::mpsc::TryRecvError::Disconnected) => break,
                }
                let i = match reader.read(&mut buf) {
                    Ok(()) => 0,
                    Err(e) => {
                        let i = match e.kind() {
                            ErrorKind::Truncated => 1,
                            ErrorKind::OutOfSpace => 2,
                            ErrorKind::Corrupt => 3,
                            _ => 4,
                        };
                        if counts[i] == 0 {
                            eprintln!("mmf-testhelper: first {:?} error: {}", e.kind(), e);
                        }
                        i
                    }
                };
                counts[i] += 1;
                if !ready && i == 0 {
                    ready = true;
                    println!("ready");
                }
            }
            status(&counts);
            if counts[4] > 0 {
                exit(3);
            }
        }
    }
    Ok(())
}
