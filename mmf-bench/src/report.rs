//! The printed table (Markdown, ready for BENCHMARKS.md) and the JSON file.

use crate::Config;
use crate::harness::{Better, Kind, Scenario};
use serde_json::{Value, json};
use std::fmt::Write;
use std::process::Command;

pub struct Machine {
    pub cpu: String,
    pub cpus: usize,
    pub kernel: String,
    pub memory: String,
    pub loadavg: String,
    pub date: String,
    pub git: String,
    pub rustc: String,
}

fn first_line(cmd: &str, args: &[&str]) -> Option<String> {
    let o = Command::new(cmd).args(args).output().ok()?;
    if !o.status.success() {
        return None;
    }
    Some(
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .next()?
            .trim()
            .to_owned(),
    )
}

impl Machine {
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let field = |k: &str| {
            cpuinfo
                .lines()
                .find(|l| l.starts_with(k))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
                .unwrap_or_default()
        };
        let cpu = format!(
            "{} (family {}, model {}), {} logical CPUs online",
            field("model name"),
            field("cpu family"),
            field("model\t"),
            cpuinfo
                .lines()
                .filter(|l| l.starts_with("processor"))
                .count()
        );
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal"))
            .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
        let dirty = first_line("git", &["status", "--porcelain", "--untracked-files=no"]);
        let git = match first_line("git", &["rev-parse", "--short", "HEAD"]) {
            Some(rev) => {
                if dirty.is_some_and(|d| !d.is_empty()) {
                    format!("{rev} (with uncommitted changes)")
                } else {
                    rev
                }
            }
            None => "unknown".into(),
        };
        Machine {
            cpu,
            cpus: crate::harness::cpus_available(),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_owned(),
            memory,
            loadavg: std::fs::read_to_string("/proc/loadavg")
                .unwrap_or_default()
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
            date: first_line("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]).unwrap_or_default(),
            git,
            rustc: env!("MMF_BENCH_RUSTC").to_owned(),
        }
    }
}

/// The command as typed, with the binary shown as `mmf-bench`.
pub fn command_line() -> String {
    let features = if cfg!(feature = "peers") {
        " --features peers"
    } else {
        ""
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!(
        "cargo run --release -p mmf-bench{features} -- {}",
        args.join(" ")
    )
    .trim_end()
    .to_owned()
}

/// Three significant digits (whole numbers from 100 up).
fn fmt(x: f64) -> String {
    if !x.is_finite() {
        "—".into()
    } else if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else if x >= 1.0 {
        format!("{x:.2}")
    } else if x > 0.0 {
        let decimals = (-x.log10().floor()) as usize + 2;
        format!("{x:.decimals$}")
    } else {
        format!("{x}")
    }
}

/// One comparison row: (scenario id, mmf variant, its median, baseline, its median, ratio,
/// goal text, verdict).
struct Row {
    scenario: String,
    unit: String,
    mmf: String,
    mmf_median: f64,
    baseline: String,
    base_median: f64,
    /// Median over repetitions of mmf's figure / the baseline's in the same repetition.
    ratio: f64,
    /// mmf's median / the baseline's median.
    ratio_of_medians: f64,
    goal: Option<String>,
    met: Option<bool>,
}

fn rows(s: &Scenario) -> Vec<Row> {
    let mut out = Vec::new();
    for m in s.variants.iter().filter(|v| v.kind == Kind::Mmf) {
        for b in s.variants.iter().filter(|v| v.kind == Kind::Baseline) {
            let (mm, bm) = (m.median(), b.median());
            let mut paired: Vec<f64> = m
                .samples
                .iter()
                .zip(&b.samples)
                .map(|(x, y)| x / y)
                .collect();
            let ratio = crate::harness::median(&mut paired);
            let goal = s
                .goals
                .iter()
                .find(|g| g.mmf == m.name && g.baseline == b.name);
            let (goal_text, met) = match goal {
                Some(g) => {
                    let (txt, ok) = match s.better {
                        Better::Lower => (format!("≤ {}", g.ratio), ratio <= g.ratio),
                        Better::Higher => (format!("≥ {}", g.ratio), ratio >= g.ratio),
                    };
                    (Some(txt), if ratio.is_finite() { Some(ok) } else { None })
                }
                None => (None, None),
            };
            out.push(Row {
                scenario: s.id.clone(),
                unit: s.unit.clone(),
                mmf: m.name.clone(),
                mmf_median: mm,
                baseline: b.name.clone(),
                base_median: bm,
                ratio,
                ratio_of_medians: mm / bm,
                goal: goal_text,
                met,
            });
        }
    }
    out
}

pub fn markdown(
    start: &Machine,
    end: &Machine,
    command: &str,
    cfg: &Config,
    all: &[Scenario],
) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "## mmf-bench results\n");
    let _ = writeln!(o, "- command: `{command}`");
    let _ = writeln!(
        o,
        "- date: {}; git: {}; {}",
        start.date, start.git, start.rustc
    );
    let _ = writeln!(o, "- CPU: {}", start.cpu);
    let _ = writeln!(
        o,
        "- kernel: Linux {}; memory: {}",
        start.kernel, start.memory
    );
    let _ = writeln!(
        o,
        "- pinned CPUs: {} and {} of {} available; {} interleaved repetitions{}",
        cfg.cpu_a,
        cfg.cpu_b,
        start.cpus,
        cfg.reps,
        if cfg.quick { " (--quick)" } else { "" }
    );
    let _ = writeln!(
        o,
        "- load average at start: {}; at end: {}\n",
        start.loadavg, end.loadavg
    );

    let _ = writeln!(o, "### mmf against each baseline\n");
    let _ = writeln!(
        o,
        "Medians over the repetitions; *mmf / baseline* is the median of the per-repetition \
         ratios (each repetition runs every variant back to back, so a slow phase of the host \
         shifts both sides of a ratio together).\n"
    );
    let _ = writeln!(
        o,
        "| scenario | unit | mmf | mmf median | baseline | baseline median | mmf / baseline | goal | met |"
    );
    let _ = writeln!(o, "|---|---|---|---:|---|---:|---:|---|---|");
    for s in all {
        for r in rows(s) {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.scenario,
                r.unit,
                r.mmf,
                fmt(r.mmf_median),
                r.baseline,
                fmt(r.base_median),
                if r.ratio.is_finite() {
                    format!("{:.2}", r.ratio)
                } else {
                    "—".into()
                },
                r.goal.clone().unwrap_or_default(),
                match r.met {
                    Some(true) => "yes",
                    Some(false) => "**no**",
                    None if r.goal.is_some() => "n/a",
                    None => "",
                }
            );
        }
    }

    let _ = writeln!(
        o,
        "\n### Every variant (median, min–max over repetitions)\n"
    );
    for s in all {
        let _ = writeln!(o, "**{}: {}** ({})\n", s.id, s.title, s.unit);
        let _ = writeln!(o, "| variant | role | median | min | max | n |");
        let _ = writeln!(o, "|---|---|---:|---:|---:|---:|");
        for v in &s.variants {
            let role = match v.kind {
                Kind::Mmf => "mmf",
                Kind::Baseline => "baseline",
                Kind::Info => "context",
            };
            match &v.unavailable {
                Some(why) if v.samples.is_empty() => {
                    let _ = writeln!(o, "| {} | {role} | not run: {why} | | | 0 |", v.name);
                }
                _ => {
                    let _ = writeln!(
                        o,
                        "| {} | {role} | {} | {} | {} | {} |",
                        v.name,
                        fmt(v.median()),
                        fmt(v.min()),
                        fmt(v.max()),
                        v.samples.len()
                    );
                }
            }
        }
        for n in &s.notes {
            let _ = writeln!(o, "\n{n}");
        }
        let _ = writeln!(o);
    }
    o
}

pub fn json(
    start: &Machine,
    end: &Machine,
    command: &str,
    cfg: &Config,
    all: &[Scenario],
) -> Value {
    let scen: Vec<Value> = all
        .iter()
        .map(|s| {
            json!({
                "id": s.id,
                "title": s.title,
                "unit": s.unit,
                "better": match s.better { Better::Lower => "lower", Better::Higher => "higher" },
                "variants": s.variants.iter().map(|v| json!({
                    "name": v.name,
                    "role": match v.kind { Kind::Mmf => "mmf", Kind::Baseline => "baseline", Kind::Info => "context" },
                    "median": finite(v.median()),
                    "samples": v.samples,
                    "unavailable": v.unavailable,
                })).collect::<Vec<_>>(),
                "comparisons": rows(s).iter().map(|r| json!({
                    "mmf": r.mmf,
                    "mmf_median": finite(r.mmf_median),
                    "baseline": r.baseline,
                    "baseline_median": finite(r.base_median),
                    "ratio": finite(r.ratio),
                    "ratio_of_medians": finite(r.ratio_of_medians),
                    "goal": r.goal,
                    "met": r.met,
                    "unit": r.unit,
                    "scenario": r.scenario,
                })).collect::<Vec<_>>(),
                "notes": s.notes,
            })
        })
        .collect();
    json!({
        "command": command,
        "date": start.date,
        "git": start.git,
        "rustc": start.rustc,
        "machine": {
            "cpu": start.cpu,
            "cpus_available": start.cpus,
            "kernel": start.kernel,
            "memory": start.memory,
            "loadavg_start": start.loadavg,
            "loadavg_end": end.loadavg,
        },
        "pinned_cpus": [cfg.cpu_a, cfg.cpu_b],
        "repetitions": cfg.reps,
        "quick": cfg.quick,
        "scenarios": scen,
    })
}

fn finite(x: f64) -> Value {
    if x.is_finite() { json!(x) } else { Value::Null }
}
