//! A memory cgroup for tests that use a lot of memory, so that a mistake costs a process of the
//! test, not the machine (`/dev/shm` is as large as RAM). Shared by the library's and the CLI's
//! tests (`#[path]`), hence self-contained.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A memory cgroup below our own, limited to a number of bytes, removed on drop.
pub struct Cgroup {
    pub path: PathBuf,
}

impl Cgroup {
    /// Creates cgroup `leaf` with `limit` bytes (v1 `memory.limit_in_bytes` or v2 `memory.max`),
    /// or says why it cannot.
    pub fn new(limit: u64, leaf: &str) -> Result<Cgroup, String> {
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let mut candidates = Vec::new();
        for line in own.lines() {
            let mut f = line.splitn(3, ':');
            let (_, ctl, path) = (f.next(), f.next().unwrap_or(""), f.next().unwrap_or("/"));
            let rel = path.trim_start_matches('/');
            if ctl.split(',').any(|c| c == "memory") {
                candidates.push((Path::new("/sys/fs/cgroup/memory").join(rel), false));
            } else if ctl.is_empty() {
                for root in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
                    candidates.push((Path::new(root).join(rel), true));
                }
            }
        }
        let mut why = String::from("no memory cgroup hierarchy found");
        for (parent, v2) in candidates {
            let limit_file = if v2 {
                "memory.max"
            } else {
                "memory.limit_in_bytes"
            };
            let path = parent.join(leaf);
            if let Err(e) = std::fs::create_dir(&path) {
                why = format!("cannot create {}: {}", path.display(), e);
                continue;
            }
            let cg = Cgroup { path };
            match std::fs::write(cg.path.join(limit_file), limit.to_string()) {
                Ok(()) => return Ok(cg),
                Err(e) => why = format!("cannot limit {}: {}", cg.path.display(), e),
            }
        }
        Err(why)
    }

    /// `program`, started inside this cgroup (through `sh`, which joins it and execs).
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg("echo $$ > \"$0\"/cgroup.procs && exec \"$@\"")
            .arg(&self.path)
            .arg(program);
        c
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        for _ in 0..100 {
            if std::fs::remove_dir(&self.path).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
