//! A commit limit like Win32's, on Linux: how many more bytes of memory a new commitment can get,
//! so that creating, growing, committing or prefaulting more than that is `OutOfSpace` before
//! anything is allocated.
//!
//! Pages of a tmpfs object (and of a memfd) belong to no process. Committing more than the
//! machine can back does not fail on Linux: `fallocate` succeeds page by page until memory runs
//! out, and then the OOM killer picks the *largest* process, which is rarely the caller. Inside a
//! memory cgroup (every container) the pages are charged to the caller's cgroup and the kill
//! happens there. Win32 instead fails such a commit with `ERROR_COMMITMENT_LIMIT`; mmf does the
//! same by asking first. What can back a commitment is the smallest of:
//!
//! - the free space of the object's filesystem (`fstatvfs`; a tmpfs mounted with `size=`), for
//!   every object;
//! - for memory-backed objects (tmpfs, ramfs, memfd): the machine's available memory, `MemAvailable`
//!   plus free swap from `/proc/meminfo`;
//! - for memory-backed objects inside memory cgroups: for the caller's cgroup and each ancestor
//!   with a limit, the limit minus the usage plus the inactive file cache (what the kernel can
//!   reclaim without swapping, as the kubelet's "working set" counts it); cgroup v2
//!   (`memory.max`, `memory.current`, `memory.stat`) and v1 (`memory.limit_in_bytes`,
//!   `memory.usage_in_bytes`, `memory.stat`).
//!
//! The machine's and the cgroups' figures are read at most every 250 ms and spent down by what was
//! approved meanwhile (see `memory_room`), so creating many small objects stays cheap.
//!
//! Only the bytes that are not yet backed count: a range that is already allocated (found with
//! `SEEK_DATA`/`SEEK_HOLE`) needs nothing new. The check and the allocation are not atomic, so two
//! processes committing at once can still overcommit together; the check turns the common case (one
//! oversized request) into an error.

use crate::sys::Shortage;
use rustix::fd::BorrowedFd;
use rustix::fs::{self as rfs, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const TMPFS_MAGIC: i64 = 0x0102_1994;
const RAMFS_MAGIC: i64 = 0x8584_58f6;
const HUGETLBFS_MAGIC: i64 = 0x9584_58f6;

/// Cgroup limits at or above this are "no limit" (cgroup v1 writes `PAGE_COUNTER_MAX` pages).
const UNLIMITED: u64 = 1 << 62;

/// What stops `len` more bytes of `fd` at `offset` from being backed, if anything does.
///
/// `None` when it fits or when nothing can be measured (no `/proc`, say): the commitment then goes
/// ahead as before.
pub(crate) fn shortage(fd: BorrowedFd<'_>, offset: u64, len: u64) -> Option<Shortage> {
    if len == 0 {
        return None;
    }
    let fs = rfs::fstatfs(fd).ok()?;
    #[allow(clippy::unnecessary_cast)] // f_type is i64 or i32 depending on the architecture
    let kind = fs.f_type as i64;
    if kind == HUGETLBFS_MAGIC {
        // Huge pages come from their own reserved pool, which fallocate reports itself.
        return None;
    }
    let asked = unbacked(fd, offset, len);
    if asked == 0 {
        return None;
    }
    // A tmpfs without a size limit (a memfd's) reports no blocks at all.
    #[allow(clippy::unnecessary_cast)]
    if fs.f_blocks > 0 {
        let free = (fs.f_bavail as u64).saturating_mul(fs.f_bsize as u64);
        if asked > free {
            return Some(Shortage {
                asked,
                free,
                by: "its filesystem".to_owned(),
            });
        }
    }
    if kind != TMPFS_MAGIC && kind != RAMFS_MAGIC {
        return None;
    }
    match memory_room(asked) {
        Some((free, by)) if asked > free => Some(Shortage { asked, free, by }),
        _ => None,
    }
}

/// What the machine and the enclosing cgroups still allow, measured at most every
/// [`BUDGET_TTL`] and then spent down by the commitments it approved, so that a process making many
/// small objects reads `/proc` and the cgroup files about once per interval, not per object (a
/// dozen files, about 100 µs). A commitment larger than half of what is left is always measured
/// afresh. `None` when nothing can be measured.
fn memory_room(asked: u64) -> Option<(u64, String)> {
    let mut budget = match BUDGET.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    if let Some(b) = budget.as_mut() {
        if b.at.elapsed() < BUDGET_TTL && asked <= b.left / 2 {
            b.left -= asked;
            return Some((b.left + asked, b.by.clone()));
        }
    }
    let mut tightest: Option<(u64, String)> = machine_available().map(|free| {
        (
            free,
            "the machine's available memory (MemAvailable plus free swap)".to_owned(),
        )
    });
    for (free, dir) in cgroup_room() {
        if tightest.as_ref().map_or(true, |t| free < t.0) {
            tightest = Some((free, format!("the memory cgroup {}", dir.display())));
        }
    }
    *budget = tightest.as_ref().map(|(free, by)| Budget {
        at: Instant::now(),
        left: free.saturating_sub(asked),
        by: by.clone(),
    });
    tightest
}

/// How long a measurement of free memory is trusted (see [`memory_room`]).
const BUDGET_TTL: Duration = Duration::from_millis(250);

struct Budget {
    at: Instant,
    left: u64,
    by: String,
}

static BUDGET: Mutex<Option<Budget>> = Mutex::new(None);

/// Reads a small kernel-made file in one `read` (no `statx`, no growing buffer).
fn read_small(path: &Path, buf: &mut [u8]) -> Option<usize> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).ok()?;
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some(n)
}

/// The bytes of `[offset, offset + len)` that are holes in the file (not yet backed).
fn unbacked(fd: BorrowedFd<'_>, offset: u64, len: u64) -> u64 {
    let end = offset.saturating_add(len);
    let size = match rfs::fstat(fd) {
        #[allow(clippy::unnecessary_cast)]
        Ok(st) => st.st_size as u64,
        Err(_) => return len,
    };
    // Past the end of the file everything is new.
    let mut holes = end.saturating_sub(size.max(offset));
    let mut pos = offset;
    let stop = end.min(size);
    while pos < stop {
        let data = match rfs::seek(fd, SeekFrom::Data(pos as i64)) {
            Ok(d) => d,
            // ENXIO: no data after `pos`; anything else: count the rest as a hole.
            Err(_) => stop,
        };
        let data = data.min(stop);
        holes += data - pos;
        if data >= stop {
            break;
        }
        pos = match rfs::seek(fd, SeekFrom::Hole(data as i64)) {
            Ok(h) if h > data => h,
            _ => stop,
        };
    }
    holes
}

/// `MemAvailable` plus `SwapFree`, in bytes.
fn machine_available() -> Option<u64> {
    let mut buf = [0u8; 8192];
    let n = read_small(Path::new("/proc/meminfo"), &mut buf)?;
    let text = std::str::from_utf8(&buf[..n]).ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        let kib: u64 = line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kib.saturating_mul(1024))
    };
    let available = field("MemAvailable:")?;
    Some(available.saturating_add(field("SwapFree:").unwrap_or(0)))
}

/// One memory cgroup directory and which interface it speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CgroupDir {
    path: PathBuf,
    v2: bool,
}

/// The memory cgroup directories of this process, innermost first, found once per process.
static CGROUP_DIRS: Mutex<Option<Vec<CgroupDir>>> = Mutex::new(None);

/// For each enclosing cgroup with a memory limit: the room left under it, and its directory.
fn cgroup_room() -> Vec<(u64, PathBuf)> {
    let dirs = {
        let mut cached = match CGROUP_DIRS.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if cached.is_none() {
            *cached = Some(find_cgroup_dirs());
        }
        cached.clone().unwrap_or_default()
    };
    dirs.iter()
        .filter_map(|d| room_in(d).map(|free| (free, d.path.clone())))
        .collect()
}

/// Limit − usage + inactive file cache for one cgroup directory, if it has a limit.
fn room_in(d: &CgroupDir) -> Option<u64> {
    let read = |f: &str| {
        let mut buf = [0u8; 8192];
        let n = read_small(&d.path.join(f), &mut buf)?;
        std::str::from_utf8(&buf[..n]).ok().map(str::to_owned)
    };
    let (limit, usage, stat_key) = if d.v2 {
        let max = read("memory.max")?;
        let max = max.trim();
        if max == "max" {
            return None;
        }
        (
            max.parse::<u64>().ok()?,
            read("memory.current")?.trim().parse::<u64>().ok()?,
            "inactive_file",
        )
    } else {
        (
            read("memory.limit_in_bytes")?.trim().parse::<u64>().ok()?,
            read("memory.usage_in_bytes")?.trim().parse::<u64>().ok()?,
            "total_inactive_file",
        )
    };
    if limit >= UNLIMITED {
        return None;
    }
    let reclaimable = read("memory.stat")
        .and_then(|s| stat_value(&s, stat_key))
        .unwrap_or(0);
    Some(limit.saturating_sub(usage).saturating_add(reclaimable))
}

fn stat_value(stat: &str, key: &str) -> Option<u64> {
    stat.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        if it.next() == Some(key) {
            it.next()?.parse().ok()
        } else {
            None
        }
    })
}

fn find_cgroup_dirs() -> Vec<CgroupDir> {
    let cgroups = match std::fs::read_to_string("/proc/self/cgroup") {
        Ok(t) => t,
        Err(_) => return Vec::new(),
    };
    let mounts = match std::fs::read_to_string("/proc/self/mountinfo") {
        Ok(t) => t,
        Err(_) => return Vec::new(),
    };
    cgroup_dirs(&cgroups, &mounts)
}

/// The directories whose limits bind this process, innermost first: its own cgroup and every
/// ancestor up to the mount's root, for the v2 hierarchy and the v1 `memory` hierarchy.
fn cgroup_dirs(cgroups: &str, mountinfo: &str) -> Vec<CgroupDir> {
    let mut out = Vec::new();
    for line in cgroups.lines() {
        let mut f = line.splitn(3, ':');
        let (_, controllers, path) = match (f.next(), f.next(), f.next()) {
            (Some(a), Some(b), Some(c)) => (a, b, c),
            _ => continue,
        };
        let v2 = controllers.is_empty();
        if !v2 && !controllers.split(',').any(|c| c == "memory") {
            continue;
        }
        let (root, mountpoint) = match cgroup_mount(mountinfo, v2) {
            Some(m) => m,
            None => continue,
        };
        // The mount may show only a subtree (a container's namespace): strip its root.
        let rel = if root == "/" {
            path
        } else {
            match path.strip_prefix(root.as_str()) {
                Some(r) => r,
                None => path,
            }
        };
        let mut dir = mountpoint.clone();
        for part in rel.split('/').filter(|p| !p.is_empty() && *p != "..") {
            dir.push(part);
        }
        loop {
            out.push(CgroupDir {
                path: dir.clone(),
                v2,
            });
            if dir == mountpoint || !dir.pop() {
                break;
            }
        }
    }
    out
}

/// The (root, mount point) of the cgroup v2 mount, or of the v1 mount with the memory controller.
fn cgroup_mount(mountinfo: &str, v2: bool) -> Option<(String, PathBuf)> {
    for line in mountinfo.lines() {
        let (before, after) = match line.split_once(" - ") {
            Some(x) => x,
            None => continue,
        };
        let mut a = after.split_whitespace();
        let fstype = a.next().unwrap_or("");
        let _source = a.next();
        let superopts = a.next().unwrap_or("");
        let wanted = if v2 {
            fstype == "cgroup2"
        } else {
            fstype == "cgroup" && superopts.split(',').any(|o| o == "memory")
        };
        if !wanted {
            continue;
        }
        let f: Vec<&str> = before.split_whitespace().collect();
        if f.len() < 5 {
            continue;
        }
        return Some((unescape(f[3]), Path::new(&unescape(f[4])).to_path_buf()));
    }
    None
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn cgroup_directories_from_v1_and_v2_tables() {
        let cgroups = "4:memory:/a/b\n3:cpu:/a/b\n0::/svc/x\n";
        let mountinfo = "\
30 20 0:26 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory\n\
31 20 0:27 / /sys/fs/cgroup/cpu rw,relatime shared:10 - cgroup cgroup rw,cpu\n\
32 20 0:28 /svc /sys/fs/cgroup/uni\\040fied rw shared:11 - cgroup2 cgroup2 rw\n";
        let dirs: Vec<(String, bool)> = cgroup_dirs(cgroups, mountinfo)
            .into_iter()
            .map(|d| (d.path.display().to_string(), d.v2))
            .collect();
        assert_eq!(
            dirs,
            vec![
                ("/sys/fs/cgroup/memory/a/b".to_owned(), false),
                ("/sys/fs/cgroup/memory/a".to_owned(), false),
                ("/sys/fs/cgroup/memory".to_owned(), false),
                ("/sys/fs/cgroup/uni fied/x".to_owned(), true),
                ("/sys/fs/cgroup/uni fied".to_owned(), true),
            ]
        );
    }

    #[test]
    fn no_cgroup_files_means_no_cgroup_bound() {
        assert!(cgroup_dirs("garbage\n", "").is_empty());
        assert_eq!(
            stat_value("file 10\ninactive_file 42\n", "inactive_file"),
            Some(42)
        );
        assert_eq!(stat_value("file 10\n", "inactive_file"), None);
    }
}
