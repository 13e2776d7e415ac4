//! Scenario 10: mmfpy, the Python package, against `multiprocessing.shared_memory` (issue 16):
//! store→observe latency between two Python processes, and a numpy-array hand-over of 1 MiB and
//! 64 MiB. The measuring is done by `python/bench_py.py`, run once per variant and repetition
//! (interpreter start-up excluded) by an interpreter that has mmfpy and numpy installed.

use crate::Config;
use crate::harness::{Better, Goal, Interleaved, Kind, Scenario, Variant};
use std::path::PathBuf;
use std::process::Command;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/python/bench_py.py");
const SIZES: [usize; 2] = [1 << 20, 64 << 20];
const LATENCY_MMF: &str = "mmfpy SharedValue (wait_newer)";
const LATENCY_SLEEP: &str = "mmfpy SharedValue (wait_newer, spin=0)";
const LATENCY_BASELINE: &str = "shared_memory + multiprocessing.Semaphore";
const LATENCY_POLL: &str = "shared_memory + Semaphore, polled 50 µs";
const HANDOVER_VALUE: &str = "mmfpy SharedValue store / retrieve_into";
const HANDOVER_VIEW: &str = "mmfpy View (numpy over the mapping)";
const HANDOVER_BASELINE: &str = "shared_memory + np.ndarray(buffer=)";

/// The interpreter: `$MMF_BENCH_PYTHON`, else the virtual environment `bash mmf-py/ci.sh`
/// makes, else `python3`; it must import mmfpy and numpy.
fn interpreter() -> Result<String, String> {
    let venv = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/python-venv/bin/python"
    ));
    let py = std::env::var("MMF_BENCH_PYTHON").unwrap_or_else(|_| {
        if venv.exists() {
            venv.display().to_string()
        } else {
            "python3".to_owned()
        }
    });
    let ok = Command::new(&py)
        .args(["-c", "import mmfpy, numpy"])
        .output()
        .map_err(|e| format!("cannot run {py}: {e}"))?;
    if ok.status.success() {
        Ok(py)
    } else {
        Err(format!(
            "{py} cannot import mmfpy and numpy (run `bash mmf-py/ci.sh`, or set \
             MMF_BENCH_PYTHON to an interpreter that has them)"
        ))
    }
}

/// One figure: runs the script with `args` and reads its `result X` line.
fn measure(py: &Result<String, String>, cfg: &Config, args: &[String]) -> Result<f64, String> {
    let py = py.as_ref().map_err(Clone::clone)?;
    let mut cmd = Command::new(py);
    cmd.arg(SCRIPT).args(args);
    if cfg.quick {
        cmd.arg("--quick");
    }
    let out = cmd.output().map_err(|e| format!("cannot run {py}: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find_map(|l| l.strip_prefix("result "));
    match (
        out.status.success(),
        line.and_then(|x| x.trim().parse().ok()),
    ) {
        (true, Some(x)) => Ok(x),
        _ => Err(format!(
            "bench_py.py {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

fn words(w: &[&str]) -> Vec<String> {
    w.iter().map(|s| s.to_string()).collect()
}

/// Runs the script's variants interleaved: (name, kind, the script's arguments) each.
fn interleave(
    py: &Result<String, String>,
    cfg: &Config,
    variants: Vec<(&str, Kind, Vec<String>)>,
) -> Vec<Variant> {
    let mut runs = Interleaved::new();
    for (name, kind, args) in variants {
        runs.add(name, kind, move || measure(py, cfg, &args));
    }
    runs.run(cfg.reps, cfg.verbose, "10")
}

pub fn run(cfg: &Config) -> Vec<Scenario> {
    let py = interpreter();
    let cpus = [cfg.cpu_a.to_string(), cfg.cpu_b.to_string()];
    let mut out = Vec::new();

    let mut sc = Scenario::new(
        "10 latency",
        "Python: store→observe one-way latency, 64 B, blocking reader, two Python processes",
        "µs",
        Better::Lower,
    );
    let latency = |which| words(&["latency", which, &cpus[0], &cpus[1]]);
    sc.variants = interleave(
        &py,
        cfg,
        vec![
            (LATENCY_MMF, Kind::Mmf, latency("mmfpy")),
            (LATENCY_SLEEP, Kind::Info, latency("mmfpy-sleep")),
            (LATENCY_BASELINE, Kind::Baseline, latency("mp")),
            (LATENCY_POLL, Kind::Info, latency("mp-poll")),
        ],
    );
    sc.goals.push(Goal {
        mmf: LATENCY_MMF.into(),
        baseline: LATENCY_BASELINE.into(),
        ratio: 0.5,
    });
    sc.notes.push(format!(
        "round trip / 2, median of batch means ({} round trips, batches of {}, 10 % warm-up); \
         both sides copy 64 bytes in and out; wait_newer polls the version for up to 50 µs \
         (adapted per handle) before its futex wait, spin=0 goes straight to the futex; the \
         semaphore's acquire is sem_wait (a futex), the polled variant tries acquire(False) for \
         up to 50 µs first; Python processes pinned to CPUs {} and {}",
        if cfg.quick { 2_000 } else { 10_000 },
        if cfg.quick { 100 } else { 200 },
        cfg.cpu_a,
        cfg.cpu_b
    ));
    if let Ok(p) = &py {
        // The workspace's own virtual environment by its place in the workspace: results are
        // pasted into BENCHMARKS.md, which names no machine's paths.
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../");
        let shown = p.strip_prefix(root).unwrap_or(p);
        sc.notes.push(format!("interpreter: {shown}"));
    }
    out.push(sc);

    for size in SIZES {
        let label = crate::copy::label(size);
        let mut sc = Scenario::new(
            &format!("10 {label}"),
            &format!("Python: numpy array hand-over between two processes, {label}"),
            "GB/s",
            Better::Higher,
        );
        let size = size.to_string();
        let handover = |which| words(&["handover", which, &size, &cpus[0], &cpus[1]]);
        sc.variants = interleave(
            &py,
            cfg,
            vec![
                (HANDOVER_VALUE, Kind::Mmf, handover("value")),
                (HANDOVER_VIEW, Kind::Mmf, handover("view")),
                (HANDOVER_BASELINE, Kind::Baseline, handover("mp")),
            ],
        );
        for mmf in [HANDOVER_VALUE, HANDOVER_VIEW] {
            sc.goals.push(Goal {
                mmf: mmf.into(),
                baseline: HANDOVER_BASELINE.into(),
                ratio: 0.8,
            });
        }
        sc.notes.push(
            "a whole hand-over: the producer copies its array in and signals, the consumer \
             copies it out into its own preallocated array and acknowledges; bytes per second \
             of hand-overs, median of up to 16 timed chunks after 4 warm-up hand-overs; the \
             SharedValue has 2 slots of the array's size; mmfpy signals with SharedValue \
             store / wait_newer (as it comes), the baseline with a Semaphore each way"
                .into(),
        );
        out.push(sc);
    }
    out
}
