//! `mmf-bench`: mmf side by side with its peers and the hardware, as ratios measured in one run.
//!
//! ```text
//! cargo run --release -p mmf-bench --features peers -- [--quick] [--json PATH] [SCENARIO...]
//! ```
//!
//! Scenarios (issue 7): 1 spin latency, 2 blocking latency, 3 store/retrieve throughput,
//! 4 readers under a writer, 5 open-by-name in a new process, 6 cached-file reads, 7 one small
//! guarded access and creating an object, 8 the async wait's latency, 9 the idle cost of 1,000
//! async waits, 10 mmfpy (Python) against `multiprocessing.shared_memory`, 11 the space a shared
//! value takes after growth series, 12 a 1 GiB value streamed through the CLI. Every scenario
//! runs its variants interleaved (A B C A B C ...) and reports medians over repetitions. Child
//! processes are this binary again, started with the hidden first argument `__child`.

mod asyncw;
// The memory cgroup helper of the tests (self-contained), for scenarios 11 and 12.
#[path = "../../mmf/tests/common/cgroup.rs"]
mod cgroup;
mod copy;
mod file;
mod harness;
mod latency;
mod mmfv;
mod open;
#[cfg(feature = "peers")]
mod peers;
mod python;
mod raw;
mod report;
mod small;
mod space;
mod stream;

use harness::{Better, Goal, Interleaved, Kind, Scenario};
use std::path::PathBuf;

/// The 64-byte payload of scenarios 1 and 2 (the first 8 bytes carry a sequence number).
pub const PAYLOAD: [u8; 64] = [0xa5; 64];

#[cfg(not(feature = "peers"))]
const NO_PEERS: &str = "built without the `peers` feature (cargo run --release -p mmf-bench \
                        --features peers -- ...)";

pub struct Config {
    pub quick: bool,
    pub reps: usize,
    pub verbose: bool,
    pub cpu_a: usize,
    pub cpu_b: usize,
    pub file_dir: Option<PathBuf>,
    pub json: Option<PathBuf>,
    pub scenarios: Vec<u32>,
}

const USAGE: &str = "\
mmf-bench: mmf side by side with its peers and the hardware

USAGE: mmf-bench [OPTIONS] [SCENARIO...]

SCENARIO (default: all)
  1 | spin      store->observe latency, 64 B, spinning reader, two processes
  2 | block     the same with a blocking reader
  3 | copy      store / retrieve throughput at 4 KiB, 1 MiB, 64 MiB vs memcpy
  4 | readers   reads per second per reader under a writer storing flat out
  5 | open      new process: open by name, map, read 4 KiB, close
  6 | file      cached file, sequential and random reads vs pread
  7 | small     one small guarded access, and creating an object, vs the bare operations
  8 | async     store->observe latency with a tokio task awaiting, vs blocking and tokio Notify
  9 | idle      CPU time of 1,000 tasks awaiting 1,000 values for 10 s
 10 | python    mmfpy vs multiprocessing.shared_memory: store->observe latency, numpy
                hand-over 1 MiB / 64 MiB (needs an interpreter with mmfpy and numpy:
                $MMF_BENCH_PYTHON, else target/python-venv from `bash mmf-py/ci.sh`)
 11 | space     object size and resident memory after the growth series of issue 13
                (in a memory cgroup; SKIPPED without one)
 12 | stream    a 1 GiB value through `mmf store` / `mmf retrieve` vs cp to /dev/shm:
                throughput and peak RSS (needs target/release/mmf or $MMF_BENCH_CLI, and a
                memory cgroup; SKIPPED without)

OPTIONS
  --quick           a short run (3 repetitions, fewer iterations)
  --reps N          interleaved repetitions (default 7; --quick: 3)
  --json PATH       where to write the results as JSON (default: target/mmf-bench.json)
  --only TEXT       run only the variants whose name contains TEXT (any case)
  --cpus A,B        the two CPUs to pin the processes to (default 0,1)
  --file-dir DIR    where scenario 6 writes its file (default: the temp dir)
  -v, --verbose     print every repetition's figure
  -h, --help        this text
";

fn parse_args() -> Result<Config, String> {
    let mut cfg = Config {
        quick: false,
        reps: 0,
        verbose: false,
        cpu_a: 0,
        cpu_b: 1,
        file_dir: None,
        json: None,
        scenarios: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |what: &str| args.next().ok_or(format!("{a} needs {what}"));
        match a.as_str() {
            "--quick" => cfg.quick = true,
            "--reps" => {
                cfg.reps = value("a number")?
                    .parse()
                    .map_err(|_| "--reps needs a number")?
            }
            "--json" => cfg.json = Some(value("a path")?.into()),
            "--only" => {
                let _ = harness::FILTER.set(value("a text")?.to_lowercase());
            }
            "--file-dir" => cfg.file_dir = Some(value("a directory")?.into()),
            "--cpus" => {
                let v = value("A,B")?;
                let (x, y) = v.split_once(',').ok_or("--cpus needs A,B")?;
                cfg.cpu_a = x.parse().map_err(|_| "bad --cpus")?;
                cfg.cpu_b = y.parse().map_err(|_| "bad --cpus")?;
            }
            "-v" | "--verbose" => cfg.verbose = true,
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            s => {
                let n = match s {
                    "1" | "spin" => 1,
                    "2" | "block" => 2,
                    "3" | "copy" => 3,
                    "4" | "readers" => 4,
                    "5" | "open" => 5,
                    "6" | "file" => 6,
                    "7" | "small" => 7,
                    "8" | "async" => 8,
                    "9" | "idle" => 9,
                    "10" | "python" => 10,
                    "11" | "space" => 11,
                    "12" | "stream" => 12,
                    _ => return Err(format!("unknown argument {s:?}\n\n{USAGE}")),
                };
                cfg.scenarios.push(n);
            }
        }
    }
    if cfg.reps == 0 {
        cfg.reps = if cfg.quick { 3 } else { 7 };
    }
    if cfg.scenarios.is_empty() {
        cfg.scenarios = (1..=12).collect();
    }
    let n = harness::cpus_available();
    if cfg.cpu_a >= n || cfg.cpu_b >= n {
        eprintln!(
            "note: only {n} CPU(s) available; both processes run on CPU 0 (figures will differ)"
        );
        cfg.cpu_a = 0;
        cfg.cpu_b = 0;
    }
    Ok(cfg)
}

fn child(role: &str, args: &[String]) {
    match role {
        "line" => latency::child_cache_line(args),
        "fd" => latency::child_fd(args),
        "futex" => latency::child_futex(args),
        "eventfd" => latency::child_eventfd(args),
        "open-mmf" => open::child("mmf", args),
        "open-raw" => open::child("raw", args),
        "space" => space::child(args),
        "rusage" => stream::child_rusage(args),
        #[cfg(feature = "peers")]
        "iceoryx2" => peers::child_iceoryx2(args),
        #[cfg(feature = "peers")]
        "mmap-sync" => peers::child_mmap_sync(args),
        #[cfg(feature = "peers")]
        "shmem" => peers::child_shared_memory(args),
        r if r.starts_with("value-async") || r == "value-idle" => asyncw::child(r, args),
        r if r.starts_with("value-") => mmfv::child(r, args),
        _ => panic!("unknown child role {role}"),
    }
}

fn scenario_spin(cfg: &Config) -> Scenario {
    let mut sc = Scenario::new(
        "1",
        "store→observe one-way latency, 64 B, spinning reader, two processes",
        "ns",
        Better::Lower,
    );
    let mut runs = Interleaved::new();
    runs.add("mmf SharedValue (spin on version)", Kind::Mmf, || {
        Ok(mmfv::spin(cfg))
    });
    runs.add("raw shared cache line", Kind::Baseline, || {
        latency::cache_line(cfg)
    });
    #[cfg(feature = "peers")]
    {
        runs.add("iceoryx2 publish-subscribe", Kind::Baseline, || {
            peers::iceoryx2(cfg)
        });
        runs.add("mmap-sync", Kind::Baseline, || peers::mmap_sync(cfg));
        runs.add("shared_memory + raw_sync BusyEvent", Kind::Baseline, || {
            peers::shared_memory(cfg)
        });
    }
    #[cfg(not(feature = "peers"))]
    {
        runs.unavailable("iceoryx2 publish-subscribe", Kind::Baseline, NO_PEERS);
        runs.unavailable("mmap-sync", Kind::Baseline, NO_PEERS);
        runs.unavailable(
            "shared_memory + raw_sync BusyEvent",
            Kind::Baseline,
            NO_PEERS,
        );
    }
    runs.add("Unix socket (non-blocking, polled)", Kind::Baseline, || {
        latency::fd_pingpong(cfg, latency::Fd::Unix, true)
    });
    runs.add("pipe (non-blocking, polled)", Kind::Baseline, || {
        latency::fd_pingpong(cfg, latency::Fd::Pipe, true)
    });
    sc.variants = runs.run(cfg.reps, cfg.verbose, "1");
    let mmf = "mmf SharedValue (spin on version)";
    sc.goals.push(Goal {
        mmf: mmf.into(),
        baseline: "iceoryx2 publish-subscribe".into(),
        ratio: 0.5,
    });
    sc.goals.push(Goal {
        mmf: mmf.into(),
        baseline: "raw shared cache line".into(),
        ratio: 4.0,
    });
    let (w, n, _) = latency::counts(cfg, latency::Class::SpinShm);
    let (kw, kn, _) = latency::counts(cfg, latency::Class::SpinKernel);
    sc.notes.push(format!(
        "round trip / 2, median of batch means; processes pinned to CPUs {} and {}; shared-memory \
         variants {n} round trips (+{w} warm-up), sockets and pipes {kn} (+{kw})",
        cfg.cpu_a, cfg.cpu_b
    ));
    sc
}

fn scenario_block(cfg: &Config) -> Scenario {
    let mut sc = Scenario::new(
        "2",
        "store→observe one-way latency, 64 B, blocking reader, two processes",
        "µs",
        Better::Lower,
    );
    let mut runs = Interleaved::new();
    let us = |r: Result<f64, String>| r.map(|ns| ns / 1000.0);
    runs.add("mmf SharedValue (wait_newer)", Kind::Mmf, || {
        Ok(mmfv::block(cfg) / 1000.0)
    });
    runs.add("raw futex", Kind::Baseline, || us(latency::futex(cfg)));
    runs.add("eventfd", Kind::Baseline, || us(latency::eventfd(cfg)));
    runs.add("Unix socket (blocking)", Kind::Baseline, || {
        us(latency::fd_pingpong(cfg, latency::Fd::Unix, false))
    });
    sc.variants = runs.run(cfg.reps, cfg.verbose, "2");
    sc.goals.push(Goal {
        mmf: "mmf SharedValue (wait_newer)".into(),
        baseline: "raw futex".into(),
        ratio: 1.1,
    });
    let (w, n, _) = latency::counts(cfg, latency::Class::Blocking);
    sc.notes.push(format!(
        "round trip / 2, median of batch means; {n} round trips (+{w} warm-up); processes pinned \
         to CPUs {} and {}: every hand-over wakes a halted vCPU, which this VM makes expensive",
        cfg.cpu_a, cfg.cpu_b
    ));
    sc
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("__child") {
        child(&argv[2], &argv[3..]);
        return;
    }
    let cfg = match parse_args() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let machine = report::Machine::detect();
    let command = report::command_line();
    eprintln!(
        "mmf-bench: scenarios {:?}, {} interleaved repetitions{}",
        cfg.scenarios,
        cfg.reps,
        if cfg.quick { " (quick)" } else { "" }
    );
    let mut all: Vec<Scenario> = Vec::new();
    for s in cfg.scenarios.clone() {
        eprintln!("scenario {s} ...");
        match s {
            1 => all.push(scenario_spin(&cfg)),
            2 => all.push(scenario_block(&cfg)),
            3 => all.extend(copy::run(&cfg)),
            4 => all.extend(mmfv::readers(&cfg)),
            5 => all.extend(open::run(&cfg)),
            6 => all.extend(file::run(&cfg)),
            7 => all.extend(small::run(&cfg)),
            8 => all.push(asyncw::latency(&cfg)),
            9 => all.push(asyncw::idle_cost(&cfg)),
            10 => all.extend(python::run(&cfg)),
            11 => all.extend(space::run(&cfg)),
            12 => all.extend(stream::run(&cfg)),
            _ => unreachable!(),
        }
    }
    let end = report::Machine::detect();
    print!("{}", report::markdown(&machine, &end, &command, &cfg, &all));
    let path = cfg
        .json
        .clone()
        .unwrap_or_else(|| PathBuf::from("target/mmf-bench.json"));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(dir);
    }
    let j = report::json(&machine, &end, &command, &cfg, &all);
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&j).expect("json") + "\n",
    )
    .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    eprintln!("wrote {}", path.display());
}
