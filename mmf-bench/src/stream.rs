//! Scenario 12 (issue 13): streaming through the CLI. A 1 GiB file (page-cache warm) is stored
//! with `mmf store --file` and read back with `mmf retrieve`, against `cp` of the same file into
//! `/dev/shm` and back out; a pipe into `mmf store` (length unknown) is shown for context. Figures:
//! throughput (goal ≥ 0.8× `cp`) and each command's peak resident memory (`wait4`'s `ru_maxrss`,
//! taken by a small helper process that starts the command: see [`child_rusage`]; goal ≤ 64 MiB).
//!
//! Every command runs inside a memory cgroup (the value is 1 GiB of shared memory); without one,
//! or without the `mmf` binary, the scenario is not run and says why. Outputs go to `/dev/null`
//! on both sides, so the reads are measured, not a disk; `mmf-cli/tests/stream.rs` checks the
//! same round trip byte for byte.

use crate::Config;
use crate::cgroup::Cgroup;
use crate::harness::{Better, Goal, Kind, Scenario, Variant, median, unique_name};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const GIB: u64 = 1 << 30;
/// The cgroup: the value's pages, the slack of a value of unknown length growing in place, and
/// the commands themselves (as in `mmf-cli/tests/stream.rs`).
const LIMIT: u64 = GIB + (768 << 20);
/// The bound on a streaming command's resident memory.
const RSS_GOAL_MIB: f64 = 64.0;

/// The commands measured, in the order of the variants below.
const STORE_FILE: &str = "mmf store --file";
const CP_IN: &str = "cp file → /dev/shm";
const STORE_PIPE: &str = "mmf store < a pipe from cat (length unknown)";
const RETRIEVE: &str = "mmf retrieve > /dev/null";
const CP_OUT: &str = "cp /dev/shm → /dev/null";

/// The CLI binary: `$MMF_BENCH_CLI`, else `mmf` next to this binary (`target/release/mmf` after
/// `cargo build --release -p mmf-cli`).
fn cli() -> Result<PathBuf, String> {
    let p = match std::env::var_os("MMF_BENCH_CLI") {
        Some(p) => PathBuf::from(p),
        None => std::env::current_exe()
            .map_err(|e| e.to_string())?
            .with_file_name("mmf"),
    };
    if p.is_file() {
        Ok(p)
    } else {
        Err(format!(
            "no mmf binary at {} (build it with `cargo build --release -p mmf-cli`, or set \
             MMF_BENCH_CLI)",
            p.display()
        ))
    }
}

/// Removes a directory tree or a file when dropped.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Writes `len` bytes of a cheap pseudo-random pattern (no long runs, few NULs aside) to `path`.
fn write_input(path: &Path, len: u64) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut buf = vec![0u8; 1 << 20];
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut done = 0;
    while done < len {
        for w in buf.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            w.copy_from_slice(&x.to_le_bytes());
        }
        let n = (len - done).min(buf.len() as u64) as usize;
        f.write_all(&buf[..n])?;
        done += n as u64;
    }
    f.flush()
}

/// `program` with `args`, to be run by [`measure`] inside `cg` through the `rusage` child role.
fn in_cgroup(cg: &Cgroup, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = Command::new(std::env::current_exe().expect("current_exe"));
    c.arg("__child").arg("rusage").arg(&cg.path).arg(program);
    c
}

/// `__child rusage CGROUP PROGRAM ARGS...`: joins the cgroup, runs PROGRAM (stdin and stdout
/// inherited), and prints `rusage SECONDS PEAK_RSS_KIB STATUS` on stderr as its last line.
///
/// The measured command is started from this small process rather than from the benchmark:
/// Linux counts the resident memory of the process a program was spawned from in the program's
/// peak (`exec` records the old address space's high-water mark, and a `vfork`ed child's old
/// address space is its parent's), so spawned straight from a benchmark that had just copied
/// 64 MiB buffers, every command "peaked" at the benchmark's 516 MiB. From here the floor is this
/// process's own few MiB.
// The child is reaped with `wait4` (for its rusage), which clippy cannot see.
#[allow(clippy::zombie_processes)]
pub fn child_rusage(args: &[String]) {
    let procs = Path::new(&args[0]).join("cgroup.procs");
    std::fs::write(&procs, std::process::id().to_string()).expect("join the cgroup");
    let t = Instant::now();
    let child = Command::new(&args[1])
        .args(&args[2..])
        .spawn()
        .expect("spawn the measured command");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for this child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers to locals; reaps our own child (std's `Child` is not waited on).
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4: {}", std::io::Error::last_os_error());
    eprintln!(
        "rusage {} {} {}",
        t.elapsed().as_secs_f64(),
        usage.ru_maxrss,
        status
    );
}

/// Runs `cmd` (made by [`in_cgroup`]) to its end and returns (seconds, peak RSS in MiB); an error
/// if it failed.
fn measure(mut cmd: Command) -> Result<(f64, f64), String> {
    let out = cmd
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("spawn {cmd:?}: {e}"))?;
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().last().unwrap_or_default();
    let f: Vec<&str> = last
        .strip_prefix("rusage ")
        .map(|l| l.split(' ').collect())
        .unwrap_or_default();
    match f[..] {
        [secs, kib, "0"] => Ok((
            secs.parse().map_err(|_| format!("bad line {last:?}"))?,
            kib.parse::<f64>()
                .map_err(|_| format!("bad line {last:?}"))?
                / 1024.0,
        )),
        _ => Err(format!("{cmd:?} failed: {err}")),
    }
}

/// One repetition: every command once, in a rotating order of the two pairs; returns (seconds,
/// peak RSS MiB) per command, indexed like the constants above.
fn repetition(
    cg: &Cgroup,
    mmf: &Path,
    input: &Path,
    dir: &Path,
    rep: usize,
) -> Result<[(f64, f64); 5], String> {
    let mmf_cmd = |args: &[&str]| {
        let mut c = in_cgroup(cg, mmf);
        c.args(args).env("MMF_DIR", dir).stdin(Stdio::null());
        c
    };
    let copy = dir.join("copy");
    let rm_value = || {
        let ok = Command::new(mmf)
            .args(["rm", "big"])
            .env("MMF_DIR", dir)
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            Ok(())
        } else {
            Err("mmf rm big failed".to_owned())
        }
    };
    let null = || std::fs::File::create("/dev/null").map_err(|e| e.to_string());
    let mut got = [(0.0, 0.0); 5];
    let cp = |got: &mut [(f64, f64); 5]| -> Result<(), String> {
        let mut c = in_cgroup(cg, "cp");
        c.arg(input).arg(&copy);
        got[1] = measure(c)?;
        let mut c = in_cgroup(cg, "cp");
        c.arg(&copy).arg("/dev/null");
        got[4] = measure(c)?;
        std::fs::remove_file(&copy).map_err(|e| e.to_string())
    };
    let ours = |got: &mut [(f64, f64); 5]| -> Result<(), String> {
        got[0] = measure(mmf_cmd(&[
            "store",
            "big",
            "--file",
            &input.to_string_lossy(),
        ]))?;
        let mut r = mmf_cmd(&["retrieve", "big"]);
        r.stdout(null()?);
        got[3] = measure(r)?;
        rm_value()?;
        let mut cat = Command::new("cat")
            .arg(input)
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        let mut s = mmf_cmd(&["store", "big"]);
        s.stdin(cat.stdout.take().expect("cat's stdout"));
        got[2] = measure(s)?;
        let _ = cat.wait();
        rm_value()
    };
    if rep.is_multiple_of(2) {
        cp(&mut got)?;
        ours(&mut got)?;
    } else {
        ours(&mut got)?;
        cp(&mut got)?;
    }
    Ok(got)
}

pub fn run(cfg: &Config) -> Vec<Scenario> {
    let mut store = Scenario::new(
        "12 store",
        "a 1 GiB file stored into /dev/shm through the CLI",
        "GB/s",
        Better::Higher,
    );
    let mut retrieve = Scenario::new(
        "12 retrieve",
        "a 1 GiB value read back out of /dev/shm through the CLI",
        "GB/s",
        Better::Higher,
    );
    let mut rss = Scenario::new(
        "12 RSS",
        "peak resident memory of each command, 1 GiB value",
        "MiB",
        Better::Lower,
    );
    let names = [STORE_FILE, CP_IN, STORE_PIPE, RETRIEVE, CP_OUT];
    let mut secs: Vec<Vec<f64>> = vec![Vec::new(); 5];
    let mut peak: Vec<Vec<f64>> = vec![Vec::new(); 5];
    let setup = cli().and_then(|mmf| {
        let cg = Cgroup::new(LIMIT, &unique_name("stream-cgroup"))
            .map_err(|why| format!("no memory cgroup to run in ({why})"))?;
        Ok((mmf, cg))
    });
    let mut why = setup.as_ref().err().map(|e| format!("SKIPPED: {e}"));
    if let Ok((mmf, cg)) = &setup {
        let input = Cleanup(std::env::temp_dir().join(format!("{}.bin", unique_name("stream"))));
        let dir = Cleanup(PathBuf::from("/dev/shm").join(unique_name("stream-dir")));
        eprintln!("  [12] writing a 1 GiB input file ...");
        let ready = write_input(&input.0, GIB)
            .and_then(|()| std::fs::create_dir(&dir.0))
            .map_err(|e| format!("cannot set up the files: {e}"));
        match ready {
            Err(e) => why = Some(e),
            Ok(()) => {
                for rep in 0..cfg.reps {
                    match repetition(cg, mmf, &input.0, &dir.0, rep) {
                        Ok(got) => {
                            for (i, (s, m)) in got.into_iter().enumerate() {
                                if cfg.verbose {
                                    eprintln!(
                                        "  [12] rep {} {:<40} {s:.2} s, peak RSS {m:.1} MiB",
                                        rep + 1,
                                        names[i]
                                    );
                                }
                                secs[i].push(GIB as f64 / s / 1e9);
                                peak[i].push(m);
                            }
                        }
                        Err(e) => {
                            why = Some(e);
                            break;
                        }
                    }
                }
            }
        }
    }
    if let Some(w) = &why {
        eprintln!("  [12] {w}");
    }
    let variant = |name: &str, kind: Kind, samples: &[f64]| Variant {
        name: name.to_owned(),
        kind,
        samples: samples.to_vec(),
        unavailable: if samples.is_empty() {
            why.clone()
        } else {
            None
        },
    };
    let goal = |mmf: &str, baseline: &str, ratio: f64| Goal {
        mmf: mmf.into(),
        baseline: baseline.into(),
        ratio,
    };
    store.variants = vec![
        variant(STORE_FILE, Kind::Mmf, &secs[0]),
        variant(CP_IN, Kind::Baseline, &secs[1]),
        variant(STORE_PIPE, Kind::Info, &secs[2]),
    ];
    store.goals.push(goal(STORE_FILE, CP_IN, 0.8));
    retrieve.variants = vec![
        variant(RETRIEVE, Kind::Mmf, &secs[3]),
        variant(CP_OUT, Kind::Baseline, &secs[4]),
    ];
    retrieve.goals.push(goal(RETRIEVE, CP_OUT, 0.8));
    let limit = "the goal: 64 MiB (issue 13)";
    let rss_name = |i: usize| format!("{}: peak RSS", names[i]);
    rss.variants = vec![
        variant(&rss_name(0), Kind::Mmf, &peak[0]),
        variant(&rss_name(2), Kind::Mmf, &peak[2]),
        variant(&rss_name(3), Kind::Mmf, &peak[3]),
        // The fixed bound, shown as the reference each command's figure is divided by.
        variant(
            limit,
            Kind::Baseline,
            &vec![RSS_GOAL_MIB; peak[0].len().min(peak[2].len()).min(peak[3].len())],
        ),
        variant(&rss_name(1), Kind::Info, &peak[1]),
        variant(&rss_name(4), Kind::Info, &peak[4]),
    ];
    for i in [0, 2, 3] {
        rss.goals.push(goal(&rss_name(i), limit, 1.0));
    }
    let note = format!(
        "{} repetitions, the pairs (cp in and out; mmf store, retrieve and piped store) \
         alternating which runs first; 1 GiB file in {} (page-cache warm: just written); every \
         command inside a memory cgroup of {} MiB; seconds are wall time from spawn to reap; \
         peak RSS is wait4's ru_maxrss; median RSS of cp for scale: {:.1} MiB",
        cfg.reps,
        std::env::temp_dir().display(),
        LIMIT >> 20,
        median(&mut peak[1].clone())
    );
    for sc in [&mut store, &mut retrieve, &mut rss] {
        sc.notes.push(note.clone());
    }
    vec![store, retrieve, rss]
}
