//! mmf's side of scenarios 1-4: `SharedValue` store / observe / retrieve.

use crate::copy::label;
use crate::harness::{
    Better, Goal, Interleaved, Kind, Peer, Scenario, median, pin, say_ready, say_result,
    unique_name,
};
use crate::latency::{Class, child_common, drive};
use crate::raw::RawShm;
use crate::{Config, PAYLOAD};
use mmf::{SharedValue, ValueOptions};
use std::cell::RefCell;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

fn create(name: &str, capacity: usize) -> SharedValue {
    ValueOptions::new()
        .capacity(capacity as u64)
        .create(name)
        .unwrap_or_else(|e| panic!("create value {name}: {e}"))
}

fn open(name: &str) -> SharedValue {
    SharedValue::open(name).unwrap_or_else(|e| panic!("open value {name}: {e}"))
}

// ---- scenarios 1 and 2 --------------------------------------------------------------------------

/// Scenario 1: A stores 64 B into `ping`; B spins on `ping.version()`, retrieves, stores the
/// payload into `pong`; A spins on `pong.version()` and retrieves. Returns one-way ns.
pub fn spin(cfg: &Config) -> f64 {
    pingpong(cfg, false)
}

/// Scenario 2: the same, each side blocking in `wait_newer`.
pub fn block(cfg: &Config) -> f64 {
    pingpong(cfg, true)
}

fn pingpong(cfg: &Config, blocking: bool) -> f64 {
    let (pn, qn) = (unique_name("vping"), unique_name("vpong"));
    let ping = create(&pn, 64);
    let pong = create(&qn, 64);
    let mut seen = pong.version();
    let mut payload = PAYLOAD;
    let mut buf = Vec::with_capacity(64);
    let (class, role) = if blocking {
        (Class::Blocking, "value-block")
    } else {
        (Class::SpinShm, "value-spin")
    };
    drive(cfg, class, role, vec![pn, qn], |i| {
        payload[..8].copy_from_slice(&(i as u64).to_ne_bytes());
        ping.store(&payload).expect("store");
        if blocking {
            pong.wait_newer(seen, None).expect("wait_newer");
        } else {
            while pong.version() <= seen {
                std::hint::spin_loop();
            }
        }
        seen = pong.retrieve_into(&mut buf).expect("retrieve");
    })
}

fn child_pingpong(args: &[String], blocking: bool) {
    let (total, _) = child_common(args);
    let ping = open(&args[0]);
    let pong = open(&args[1]);
    let mut seen = ping.version();
    let mut buf = Vec::with_capacity(64);
    say_ready();
    for _ in 0..total {
        if blocking {
            ping.wait_newer(seen, None).expect("wait_newer");
        } else {
            while ping.version() <= seen {
                std::hint::spin_loop();
            }
        }
        seen = ping.retrieve_into(&mut buf).expect("retrieve");
        pong.store(&buf).expect("store");
    }
}

pub fn child(role: &str, args: &[String]) {
    match role {
        "value-spin" => child_pingpong(args, false),
        "value-block" => child_pingpong(args, true),
        "value-reader" => child_reader(args),
        "value-writer" => child_writer(args),
        _ => panic!("unknown role {role}"),
    }
}

// ---- scenario 3 ---------------------------------------------------------------------------------

/// A value of `size` bytes for the throughput loops.
pub struct Copy {
    v: SharedValue,
    buf: RefCell<Vec<u8>>,
    _name: String,
}

impl Copy {
    pub fn new(size: usize) -> Copy {
        let name = unique_name("vcopy");
        let v = create(&name, size);
        let mut init = vec![0u8; size];
        crate::copy::fill(&mut init);
        v.store(&init).expect("store");
        Copy {
            v,
            buf: RefCell::new(Vec::with_capacity(size)),
            _name: name,
        }
    }

    pub fn store(&self, data: &[u8]) {
        self.v.store(std::hint::black_box(data)).expect("store");
    }

    pub fn retrieve(&self) {
        let mut b = self.buf.borrow_mut();
        self.v.retrieve_into(&mut b).expect("retrieve");
        std::hint::black_box(&*b);
    }
}

// ---- scenario 4 ---------------------------------------------------------------------------------

const SIZES: [usize; 3] = [4 << 10, 64 << 10, 1 << 20];

/// A buffer of `size` bytes whose 8-byte words all hold `k`: a reader that sees a mix of two
/// stores sees different first and last words.
fn pattern(size: usize, k: u64) -> Vec<u8> {
    let mut v = vec![0u8; size];
    for w in v.chunks_exact_mut(8) {
        w.copy_from_slice(&k.to_ne_bytes());
    }
    v
}

/// What scenario 4's children read and write: an mmf value, or (for the physical reference) a
/// raw shared buffer copied with `rep movsb`, no protocol at all.
enum Target {
    Value(SharedValue),
    Raw(RawShm),
}

impl Target {
    fn open(kind: &str, name: &str, size: usize) -> Target {
        match kind {
            "mmf" => Target::Value(open(name)),
            _ => Target::Raw(RawShm::open(name, size)),
        }
    }

    fn write(&self, data: &[u8]) {
        match self {
            Target::Value(v) => {
                v.store(data).expect("store");
            }
            // SAFETY: the buffer is `data.len()` bytes (the size it was created with).
            Target::Raw(r) => unsafe { raw_copy(r.ptr(), data.as_ptr(), data.len()) },
        }
    }

    fn read(&self, buf: &mut Vec<u8>, size: usize) {
        match self {
            Target::Value(v) => {
                v.retrieve_into(buf).expect("retrieve");
            }
            Target::Raw(r) => {
                buf.resize(size, 0);
                // SAFETY: the buffer is `size` bytes.
                unsafe { raw_copy(buf.as_mut_ptr(), r.ptr(), size) };
            }
        }
    }
}

/// A copy the compiler cannot reason about (so a concurrent writer is not a data race in the
/// Rust model): `rep movsb` on x86-64, volatile 8-byte words elsewhere.
///
/// # Safety
/// Both ranges are valid for `n` bytes and do not overlap.
unsafe fn raw_copy(dst: *mut u8, src: *const u8, n: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: forwarded from the caller.
    unsafe {
        crate::raw::rep_movsb(dst, src, n)
    }
    #[cfg(not(target_arch = "x86_64"))]
    for i in (0..n).step_by(8) {
        // SAFETY: forwarded from the caller; sizes here are multiples of 8.
        unsafe {
            let w = std::ptr::read_volatile(src.add(i) as *const u64);
            std::ptr::write_volatile(dst.add(i) as *mut u64, w);
        }
    }
}

/// `__child value-writer KIND NAME CTL SIZE CPU`: stores two alternating patterns until CTL's
/// stop word is set; prints stores per second (millions).
fn child_writer(args: &[String]) {
    pin(args[4].parse().expect("cpu"));
    let size: usize = args[3].parse().expect("size");
    let target = Target::open(&args[0], &args[1], size);
    let ctl = RawShm::open(&args[2], 4096);
    let bufs = [pattern(size, 1), pattern(size, 2)];
    let t = Instant::now();
    let mut n = 0u64;
    while ctl.u64_at(64).load(Ordering::Relaxed) == 0 {
        target.write(&bufs[(n & 1) as usize]);
        n += 1;
        if n == 1 {
            ctl.u64_at(0).store(1, Ordering::Release);
        }
    }
    say_result(n as f64 / t.elapsed().as_nanos() as f64 * 1000.0);
}

/// `__child value-reader KIND NAME CTL SIZE MILLIS WAIT CPU`: reads for MILLIS ms (after the
/// writer started, if WAIT is 1); prints reads per second (millions), then torn reads seen.
fn child_reader(args: &[String]) {
    pin(args[6].parse().expect("cpu"));
    let size: usize = args[3].parse().expect("size");
    let target = Target::open(&args[0], &args[1], size);
    let ctl = RawShm::open(&args[2], 4096);
    let dur = Duration::from_millis(args[4].parse().expect("millis"));
    if args[5] == "1" {
        while ctl.u64_at(0).load(Ordering::Acquire) == 0 {
            std::hint::spin_loop();
        }
    }
    let mut buf = Vec::with_capacity(size);
    let mut torn = 0u64;
    // 20 windows; the figure is the median window's rate (a preemption spoils one window).
    let window = dur / 20;
    let mut rates = Vec::with_capacity(20);
    for _ in 0..20 {
        let t = Instant::now();
        let mut n = 0u64;
        loop {
            for _ in 0..4 {
                target.read(&mut buf, size);
                if buf.len() != size || buf[..8] != buf[size - 8..] {
                    torn += 1;
                }
            }
            n += 4;
            if t.elapsed() >= window {
                break;
            }
        }
        rates.push(n as f64 / t.elapsed().as_nanos() as f64 * 1000.0);
    }
    say_result(median(&mut rates));
    say_result(torn as f64);
}

pub fn readers(cfg: &Config) -> Vec<Scenario> {
    let millis = if cfg.quick { 300 } else { 1000 };
    let mut out = Vec::new();
    for size in SIZES {
        let vname = unique_name("vread");
        let v = create(&vname, size);
        v.store(&pattern(size, 1)).expect("store");
        let rname = unique_name("rawread");
        let raw = RawShm::create(&rname, size);
        // SAFETY: the raw buffer is `size` bytes; nobody else uses it yet.
        unsafe { raw_copy(raw.ptr(), pattern(size, 1).as_ptr(), size) };
        // Per kind (mmf, raw): writer rates and torn reads.
        let mut writer_rates = [Vec::new(), Vec::new()];
        let mut torn = [0.0, 0.0];
        let mut measure = |kind: usize, with_writer: bool| -> Result<f64, String> {
            let (k, name) = if kind == 0 {
                ("mmf", &vname)
            } else {
                ("raw", &rname)
            };
            let cname = unique_name("ctl");
            let ctl = RawShm::create(&cname, 4096);
            let writer = with_writer.then(|| {
                Peer::spawn(
                    "value-writer",
                    &[
                        k.into(),
                        name.clone(),
                        cname.clone(),
                        size.to_string(),
                        cfg.cpu_a.to_string(),
                    ],
                )
            });
            let mut reader = Peer::spawn(
                "value-reader",
                &[
                    k.into(),
                    name.clone(),
                    cname.clone(),
                    size.to_string(),
                    millis.to_string(),
                    if with_writer { "1" } else { "0" }.into(),
                    cfg.cpu_b.to_string(),
                ],
            );
            let rate = reader.result();
            torn[kind] += reader.result();
            reader.finish();
            if let Some(mut w) = writer {
                ctl.u64_at(64).store(1, Ordering::Relaxed);
                writer_rates[kind].push(w.result());
                w.finish();
            }
            Ok(rate)
        };
        let measure = RefCell::new(&mut measure);
        let mut runs = Interleaved::new();
        runs.add("mmf reader, writer storing flat out", Kind::Mmf, || {
            (measure.borrow_mut())(0, true)
        });
        runs.add("mmf reader, no writer", Kind::Baseline, || {
            (measure.borrow_mut())(0, false)
        });
        runs.add(
            "raw copy reader, raw copy writer flat out (no protocol)",
            Kind::Info,
            || (measure.borrow_mut())(1, true),
        );
        runs.add(
            "raw copy reader, no writer (no protocol)",
            Kind::Info,
            || (measure.borrow_mut())(1, false),
        );
        let id = format!("4 {}", label(size));
        let variants = runs.run(cfg.reps, cfg.verbose, &id);
        drop(v);
        let mut sc = Scenario::new(
            &id,
            &format!(
                "reads per second per reader, {}, writer storing flat out vs no writer",
                label(size)
            ),
            "M reads/s",
            Better::Higher,
        );
        sc.variants = variants;
        sc.goals.push(Goal {
            mmf: "mmf reader, writer storing flat out".into(),
            baseline: "mmf reader, no writer".into(),
            ratio: 0.9,
        });
        let [mut wm, mut wr] = writer_rates;
        sc.notes.push(format!(
            "one reader process (CPU {}) calling retrieve_into for {millis} ms per figure (the \
             median rate of 20 windows); the \
             writer process (CPU {}) stored a median {:.4} M values/s meanwhile; torn reads \
             detected (first word ≠ last word): {}. Context rows: the same two processes copying \
             a plain shared buffer with `rep movsb` and no protocol (the hardware's share of the \
             slow-down; the raw writer managed {:.4} M copies/s and the raw reader saw {} torn \
             copies)",
            cfg.cpu_b,
            cfg.cpu_a,
            median(&mut wm),
            torn[0],
            median(&mut wr),
            torn[1]
        ));
        out.push(sc);
    }
    out
}
