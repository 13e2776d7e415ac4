//! Measurement plumbing: pinning, clocks, medians, child processes, results.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Instant;

/// Pins the calling thread (and so a single-threaded process) to `cpu`. Returns whether it worked;
/// a machine with fewer CPUs, or a container that forbids it, runs unpinned.
pub fn pin(cpu: usize) -> bool {
    // SAFETY: `set` is a plain bit set on the stack; sched_setaffinity reads `size_of` bytes of it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

/// Number of CPUs this process may run on.
pub fn cpus_available() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// The median of `v` (sorted in place); NaN for an empty slice.
pub fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Times round trips in batches of `batch` and returns the median batch mean in ns: the method
/// of the C probes (`pingpong_shm.c`), robust to a preemption landing in one batch.
pub fn batched_median_ns(total: usize, batch: usize, mut round_trip: impl FnMut(usize)) -> f64 {
    let batches = (total / batch).max(1);
    let mut means = Vec::with_capacity(batches);
    let mut i = 0;
    for _ in 0..batches {
        let t = Instant::now();
        for _ in 0..batch {
            round_trip(i);
            i += 1;
        }
        means.push(t.elapsed().as_nanos() as f64 / batch as f64);
    }
    median(&mut means)
}

/// Runs `chunk(k)` for `k in 0..chunks`, timing each, and returns the median over chunks of
/// `units` (the work one chunk does) per nanosecond. On a shared machine a preemption lands in
/// one chunk and the median passes it over, where one long timed loop would absorb it.
pub fn median_rate(chunks: usize, units: f64, mut chunk: impl FnMut(usize)) -> f64 {
    let mut rates = Vec::with_capacity(chunks);
    for k in 0..chunks {
        let t = Instant::now();
        chunk(k);
        rates.push(units / t.elapsed().as_nanos() as f64);
    }
    median(&mut rates)
}

/// A unique name for a benchmark object: `mmf-bench-PID-TAG-N`.
pub fn unique_name(tag: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "mmf-bench-{}-{}-{}",
        std::process::id(),
        tag,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A child process of this same binary in a hidden role, talking over its stdout.
pub struct Peer {
    child: Child,
    out: BufReader<ChildStdout>,
}

impl Peer {
    /// Starts `mmf-bench __child ROLE ARGS...` (stdin null, stdout piped, stderr inherited).
    pub fn spawn(role: &str, args: &[String]) -> Peer {
        let exe = std::env::current_exe().expect("current_exe");
        let mut child = Command::new(exe)
            .arg("__child")
            .arg(role)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn child");
        let out = BufReader::new(child.stdout.take().expect("child stdout"));
        Peer { child, out }
    }

    /// Starts any command with stdout piped (used for the Python baseline).
    pub fn spawn_command(mut cmd: Command) -> std::io::Result<Peer> {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let out = BufReader::new(child.stdout.take().expect("child stdout"));
        Ok(Peer { child, out })
    }

    /// The next line the child prints, without the newline; panics if it exited first.
    pub fn line(&mut self) -> String {
        let mut s = String::new();
        let n = self.out.read_line(&mut s).expect("read from child");
        if n == 0 {
            let status = self.child.wait().ok();
            panic!("child exited before answering ({status:?})");
        }
        s.trim_end().to_owned()
    }

    /// Waits for the line `ready`.
    pub fn wait_ready(&mut self) {
        let l = self.line();
        assert_eq!(l, "ready", "unexpected line from child");
    }

    /// Reads a line `result X` and returns X.
    pub fn result(&mut self) -> f64 {
        let l = self.line();
        l.strip_prefix("result ")
            .and_then(|x| x.trim().parse().ok())
            .unwrap_or_else(|| panic!("unexpected line from child: {l:?}"))
    }

    /// Waits for the child to exit and checks it succeeded.
    pub fn finish(mut self) {
        let st = self.child.wait().expect("wait for child");
        assert!(st.success(), "child failed: {st}");
    }
}

/// What a child prints to say it is set up.
pub fn say_ready() {
    println!("ready");
    std::io::stdout().flush().expect("stdout");
}

/// What a child prints to hand back one figure.
pub fn say_result(x: f64) {
    println!("result {x}");
    std::io::stdout().flush().expect("stdout");
}

/// Whether lower or higher figures are better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    Lower,
    Higher,
}

/// One measured variant of a scenario: its per-repetition figures.
#[derive(Clone, Debug)]
pub struct Variant {
    pub name: String,
    /// mmf's own figure (as opposed to a baseline or a diagnostic).
    pub kind: Kind,
    pub samples: Vec<f64>,
    /// Why it has no samples, when it could not be run.
    pub unavailable: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The library's figure for the scenario.
    Mmf,
    /// A peer or a physical limit the library is compared with.
    Baseline,
    /// Shown for context (another way to use mmf, a reference point); not part of a goal.
    Info,
}

impl Variant {
    pub fn median(&self) -> f64 {
        let mut v = self.samples.clone();
        median(&mut v)
    }
    pub fn min(&self) -> f64 {
        self.samples.iter().copied().fold(f64::INFINITY, f64::min)
    }
    pub fn max(&self) -> f64 {
        self.samples
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max)
    }
}

/// A goal: mmf's figure divided by the baseline's must be at most / at least `ratio`.
#[derive(Clone, Debug)]
pub struct Goal {
    pub mmf: String,
    pub baseline: String,
    pub ratio: f64,
}

/// The result of one scenario (one payload size of it).
#[derive(Clone, Debug)]
pub struct Scenario {
    pub id: String,
    pub title: String,
    pub unit: String,
    pub better: Better,
    pub variants: Vec<Variant>,
    pub goals: Vec<Goal>,
    pub notes: Vec<String>,
}

impl Scenario {
    pub fn new(id: &str, title: &str, unit: &str, better: Better) -> Scenario {
        Scenario {
            id: id.to_owned(),
            title: title.to_owned(),
            unit: unit.to_owned(),
            better,
            variants: Vec::new(),
            goals: Vec::new(),
            notes: Vec::new(),
        }
    }
}

/// Runs `variants` interleaved: repetition 1 of A, B, C, then repetition 2 of A, B, C, and so on
/// (the starting variant rotates each repetition so none always runs first). Each closure
/// returns one figure. A closure returning `Err` marks its variant unavailable and it is skipped
/// from then on.
pub struct Interleaved<'a> {
    entries: Vec<(String, Kind, Measure<'a>)>,
}

/// `--only TEXT`: run only the variants whose name contains TEXT (lowercase).
pub static FILTER: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// One variant's measurement: a figure, or why it cannot run.
type Measure<'a> = Box<dyn FnMut() -> Result<f64, String> + 'a>;

impl<'a> Interleaved<'a> {
    pub fn new() -> Self {
        Interleaved {
            entries: Vec::new(),
        }
    }

    pub fn add(
        &mut self,
        name: &str,
        kind: Kind,
        f: impl FnMut() -> Result<f64, String> + 'a,
    ) -> &mut Self {
        self.entries.push((name.to_owned(), kind, Box::new(f)));
        self
    }

    /// Adds a variant that cannot run here, with the reason.
    #[cfg_attr(feature = "peers", allow(dead_code))]
    pub fn unavailable(&mut self, name: &str, kind: Kind, why: &str) -> &mut Self {
        let why = why.to_owned();
        self.entries
            .push((name.to_owned(), kind, Box::new(move || Err(why.clone()))));
        self
    }

    pub fn run(mut self, reps: usize, verbose: bool, label: &str) -> Vec<Variant> {
        if let Some(f) = FILTER.get() {
            self.entries
                .retain(|(name, _, _)| name.to_lowercase().contains(f.as_str()));
        }
        let n = self.entries.len();
        let mut out: Vec<Variant> = self
            .entries
            .iter()
            .map(|(name, kind, _)| Variant {
                name: name.clone(),
                kind: *kind,
                samples: Vec::new(),
                unavailable: None,
            })
            .collect();
        for rep in 0..reps {
            for k in 0..n {
                let i = (k + rep) % n;
                if out[i].unavailable.is_some() {
                    continue;
                }
                match (self.entries[i].2)() {
                    Ok(x) => {
                        if verbose {
                            eprintln!("  [{label}] rep {} {:<44} {x:.4}", rep + 1, out[i].name);
                        }
                        out[i].samples.push(x);
                    }
                    Err(e) => {
                        if verbose {
                            eprintln!("  [{label}] {} unavailable: {e}", out[i].name);
                        }
                        out[i].unavailable = Some(e);
                    }
                }
            }
        }
        out
    }
}
