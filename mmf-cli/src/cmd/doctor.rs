//! `mmf doctor`: checks what mmf needs from this machine, one line each, with what to do.
//!
//! The report is the same everywhere; the checks are the platform's (`doctor/linux.rs`,
//! `doctor/windows.rs`).

use super::Ctx;
use crate::cli::DoctorArgs;
use std::fmt::Write as _;
use std::io::Write;

#[cfg(unix)]
mod linux;
#[cfg(unix)]
use linux::checks;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows::checks;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    /// What mmf needs works.
    Ok,
    /// Facts worth knowing; nothing to fix.
    Info,
    /// mmf works, but something will bite later.
    Warn,
    /// Something mmf needs does not work: `doctor` exits 1.
    Fail,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Info => "info",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        }
    }
}

/// One line of the report.
struct Check {
    name: &'static str,
    status: Status,
    detail: String,
    /// What to do about it, for `Warn` and `Fail`.
    advice: Option<String>,
}

fn check(name: &'static str, status: Status, detail: impl Into<String>) -> Check {
    Check {
        name,
        status,
        detail: detail.into(),
        advice: None,
    }
}

impl Check {
    fn advise(mut self, advice: impl Into<String>) -> Check {
        self.advice = Some(advice.into());
        self
    }
}

pub fn run(ctx: &Ctx, a: DoctorArgs) -> anyhow::Result<()> {
    let checks = checks(ctx);
    let failed: Vec<&Check> = checks.iter().filter(|c| c.status == Status::Fail).collect();
    let mut out = std::io::stdout().lock();
    if a.json {
        let all: Vec<serde_json::Value> = checks
            .iter()
            .map(|c| {
                serde_json::json!({
                    "check": c.name,
                    "status": c.status.word().to_ascii_lowercase(),
                    "detail": c.detail,
                    "advice": c.advice,
                })
            })
            .collect();
        let report = serde_json::json!({ "ok": failed.is_empty(), "checks": all });
        writeln!(out, "{report}")?;
    } else {
        for c in &checks {
            let mut line = format!("{:<4}  {}: {}", c.status.word(), c.name, c.detail);
            if let Some(a) = &c.advice {
                let _ = write!(line, "; {a}");
            }
            writeln!(out, "{}", printable(&line))?;
        }
    }
    out.flush()?;
    if failed.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = failed.iter().map(|c| c.name).collect();
    anyhow::bail!(
        "doctor: what mmf needs does not work here: {} (see the FAIL lines)",
        names.join(", ")
    )
}

/// A report line with its control characters escaped (a path in it could hold a newline or a
/// terminal escape). Unlike names in listings, backslashes stay single: the lines are mmf's own
/// sentences, and Windows namespaces (`Local\`) and paths are written with them.
fn printable(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn report_lines_escape_control_characters_only() {
        assert_eq!(printable("a\\b\nc\u{1b}"), "a\\b\\nc\\u{1b}");
    }
}
