//! Scenarios 8 and 9 (issue 15): the async wait.
//!
//! 8. store→observe one-way latency, 64 B, two processes, as scenario 2 but with each side a
//!    tokio current-thread runtime awaiting `wait_newer_async`; against the blocking
//!    `wait_newer` (read-write, and read-only handles waiting), and a tokio `Notify` between two
//!    tasks of one process on two threads (the in-process floor).
//! 9. idle cost: the CPU time (user + system) a process with 1,000 tasks awaiting 1,000 values
//!    spends in 10 s with no stores.

use crate::harness::{
    Better, Goal, Interleaved, Kind, Peer, Scenario, batched_median_ns, pin, say_ready, say_result,
    unique_name,
};
use crate::latency::{Class, child_common, counts, drive};
use crate::{Config, PAYLOAD};
use mmf::{Access, SharedValue, ValueOptions};
use std::sync::Arc;
use std::time::Duration;

const ASYNC: &str = "mmf wait_newer_async (tokio current-thread)";
const BLOCK: &str = "mmf wait_newer (blocking)";
const BLOCK_RO: &str = "mmf wait_newer (blocking, read-only handles)";
const NOTIFY: &str = "tokio Notify, two threads of one process";

fn create(name: &str) -> SharedValue {
    ValueOptions::new()
        .capacity(64)
        .create(name)
        .unwrap_or_else(|e| panic!("create value {name}: {e}"))
}

fn open(name: &str, access: Access) -> SharedValue {
    ValueOptions::new()
        .access(access)
        .open(name)
        .unwrap_or_else(|e| panic!("open value {name}: {e}"))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The waiting styles of the ping-pong.
#[derive(Clone, Copy)]
enum Style {
    Async,
    Blocking,
    ReadOnly,
}

impl Style {
    fn role(self) -> &'static str {
        match self {
            Style::Async => "value-async",
            Style::Blocking => "value-async-block",
            Style::ReadOnly => "value-async-ro",
        }
    }
}

/// A stores into `ping`; B waits for it, retrieves, stores into `pong`; A waits and retrieves.
/// Returns one-way ns.
fn pingpong(cfg: &Config, style: Style) -> f64 {
    let (pn, qn) = (unique_name("aping"), unique_name("apong"));
    let ping = create(&pn);
    let pong = create(&qn);
    let waiting = match style {
        Style::ReadOnly => open(&qn, Access::ReadOnly),
        _ => pong.clone(),
    };
    let rt = runtime();
    let mut seen = waiting.version();
    let mut payload = PAYLOAD;
    let mut buf = Vec::with_capacity(64);
    drive(cfg, Class::Blocking, style.role(), vec![pn, qn], |i| {
        payload[..8].copy_from_slice(&(i as u64).to_ne_bytes());
        ping.store(&payload).expect("store");
        match style {
            Style::Async => {
                rt.block_on(waiting.wait_newer_async(seen))
                    .expect("wait_newer_async");
            }
            _ => {
                waiting.wait_newer(seen, None).expect("wait_newer");
            }
        }
        seen = waiting.retrieve_into(&mut buf).expect("retrieve");
    })
}

fn child_pingpong(args: &[String], style: Style) {
    let (total, _) = child_common(args);
    let ping = open(
        &args[0],
        match style {
            Style::ReadOnly => Access::ReadOnly,
            _ => Access::ReadWrite,
        },
    );
    let pong = open(&args[1], Access::ReadWrite);
    let mut seen = ping.version();
    let mut buf = Vec::with_capacity(64);
    let rt = runtime();
    say_ready();
    match style {
        Style::Async => rt.block_on(async {
            // One task awaiting, for the whole run.
            for _ in 0..total {
                ping.wait_newer_async(seen).await.expect("wait_newer_async");
                seen = ping.retrieve_into(&mut buf).expect("retrieve");
                pong.store(&buf).expect("store");
            }
        }),
        _ => {
            for _ in 0..total {
                ping.wait_newer(seen, None).expect("wait_newer");
                seen = ping.retrieve_into(&mut buf).expect("retrieve");
                pong.store(&buf).expect("store");
            }
        }
    }
}

/// Two tasks of one process, on two current-thread runtimes on two threads, handing a turn back
/// and forth through two `tokio::sync::Notify`: the in-process floor. Returns one-way ns.
fn notify(cfg: &Config) -> f64 {
    use tokio::sync::Notify;
    let (warm, n, batch) = counts(cfg, Class::Blocking);
    let (ping, pong) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let (p, q) = (ping.clone(), pong.clone());
    let cpu_b = cfg.cpu_b;
    let total = warm + n;
    let other = std::thread::spawn(move || {
        pin(cpu_b);
        runtime().block_on(async {
            for _ in 0..total {
                p.notified().await;
                q.notify_one();
            }
        })
    });
    pin(cfg.cpu_a);
    let rt = runtime();
    let rt_once = |_: usize| {
        rt.block_on(async {
            let answered = pong.notified();
            ping.notify_one();
            answered.await;
        })
    };
    for i in 0..warm {
        rt_once(i);
    }
    let rtt = batched_median_ns(n, batch, rt_once);
    other.join().expect("notify thread");
    rtt / 2.0
}

pub fn latency(cfg: &Config) -> Scenario {
    let mut sc = Scenario::new(
        "8",
        "store→observe one-way latency, 64 B, async task awaiting, two processes",
        "µs",
        Better::Lower,
    );
    let mut runs = Interleaved::new();
    runs.add(
        ASYNC,
        Kind::Mmf,
        || Ok(pingpong(cfg, Style::Async) / 1000.0),
    );
    runs.add(BLOCK_RO, Kind::Mmf, || {
        Ok(pingpong(cfg, Style::ReadOnly) / 1000.0)
    });
    runs.add(BLOCK, Kind::Baseline, || {
        Ok(pingpong(cfg, Style::Blocking) / 1000.0)
    });
    runs.add(NOTIFY, Kind::Baseline, || Ok(notify(cfg) / 1000.0));
    sc.variants = runs.run(cfg.reps, cfg.verbose, "8");
    sc.goals.push(Goal {
        mmf: ASYNC.into(),
        baseline: BLOCK.into(),
        ratio: 1.3,
    });
    sc.goals.push(Goal {
        mmf: BLOCK_RO.into(),
        baseline: BLOCK.into(),
        ratio: 1.1,
    });
    let (w, n, _) = counts(cfg, Class::Blocking);
    sc.notes.push(format!(
        "round trip / 2, median of batch means; {n} round trips (+{w} warm-up); processes (and \
         the Notify threads) pinned to CPUs {} and {}. The async side is woken by this process's \
         waiter thread (futex_waitv), which wakes the runtime's thread: two hand-overs per hop \
         where the blocking wait has one",
        cfg.cpu_a, cfg.cpu_b
    ));
    sc
}

// ---- scenario 9 ---------------------------------------------------------------------------------

/// The values of the idle scenario.
const IDLE_VALUES: usize = 1000;

/// CPU time (user + system) of this process so far.
fn cpu_time() -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Raises the limit of open files to its hard limit (1,000 values are 1,000 descriptors).
fn more_files() {
    // SAFETY: plain get/set of a resource limit on a struct on the stack.
    unsafe {
        let mut l: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) == 0 {
            l.rlim_cur = l.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &l);
        }
    }
}

/// The parent creates the values (and holds them); a child process awaits them all, measures
/// its CPU time over `secs` seconds, and reports milliseconds.
fn idle(secs: u64, fallback: bool) -> Result<f64, String> {
    more_files();
    let prefix = unique_name("idle");
    let values: Vec<SharedValue> = (0..IDLE_VALUES)
        .map(|i| create(&format!("{prefix}-{i}")))
        .collect();
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["__child", "value-idle", &prefix, &IDLE_VALUES.to_string()])
        .arg(secs.to_string());
    if fallback {
        cmd.env("MMF_NO_FUTEX_WAITV", "1");
    }
    let mut peer = Peer::spawn_command(cmd).map_err(|e| e.to_string())?;
    peer.wait_ready();
    let ms = peer.result();
    peer.finish();
    assert!(
        values.iter().all(|v| v.version() == 0),
        "nothing was stored"
    );
    Ok(ms)
}

fn child_idle(args: &[String]) {
    more_files();
    let (prefix, n, secs) = (
        &args[0],
        args[1].parse().expect("count"),
        args[2].parse().expect("secs"),
    );
    let values: Vec<SharedValue> = (0..n)
        .map(|i| open(&format!("{prefix}-{i}"), Access::ReadWrite))
        .collect();
    let rt = runtime();
    rt.block_on(async {
        let tasks: Vec<_> = values
            .iter()
            .map(|v| tokio::spawn(v.wait_newer_async(0)))
            .collect();
        while values.iter().any(|v| v.async_waiters() != 1) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        say_ready();
        let before = cpu_time();
        tokio::time::sleep(Duration::from_secs(secs)).await;
        let spent = cpu_time() - before;
        assert!(tasks.iter().all(|t| !t.is_finished()), "no task was woken");
        say_result(spent.as_secs_f64() * 1000.0);
        for t in tasks {
            t.abort();
        }
    });
}

pub fn idle_cost(cfg: &Config) -> Scenario {
    let secs = 10;
    let mut sc = Scenario::new(
        "9",
        "idle cost: CPU time of a process with 1,000 tasks awaiting 1,000 values, 10 s, no stores",
        "ms",
        Better::Lower,
    );
    let mut runs = Interleaved::new();
    runs.add(
        "mmf wait_newer_async, futex_waitv threads",
        Kind::Mmf,
        || idle(secs, false),
    );
    runs.add(
        "mmf wait_newer_async, thread per future (kernels before 5.16)",
        Kind::Info,
        || idle(secs, true),
    );
    sc.variants = runs.run(cfg.reps, cfg.verbose, "9");
    sc.notes.push(
        "goal: ≤ 10 ms of CPU over the 10 s for the futex_waitv variant (absolute, not a ratio); \
         user + system time from getrusage in the waiting process, tokio current-thread runtime"
            .into(),
    );
    sc
}

pub fn child(role: &str, args: &[String]) {
    match role {
        "value-async" => child_pingpong(args, Style::Async),
        "value-async-block" => child_pingpong(args, Style::Blocking),
        "value-async-ro" => child_pingpong(args, Style::ReadOnly),
        "value-idle" => child_idle(args),
        _ => panic!("unknown role {role}"),
    }
}
