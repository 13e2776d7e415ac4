//! The Linux checks: the shared-memory filesystem, handle lifetime, systemd's `RemoveIPC`,
//! containers and cgroups, a few sysctls, the kernel version.

use super::{Check, Status, check};
use crate::cmd::Ctx;
use mmf::Lifetime;
use std::path::Path;

/// Below this, a shared-memory filesystem is small for real workloads (Docker's default is 64 MiB).
const SMALL_FS: u64 = 256 << 20;

pub(super) fn checks(ctx: &Ctx) -> Vec<Check> {
    let dir = ctx.dir_path();
    let mut v = Vec::new();
    let usable = dir_check(&dir, &mut v);
    if usable {
        fs_checks(&dir, &mut v);
        v.push(handle_lifetime(ctx, &dir));
        v.push(xattrs(&dir));
    }
    v.push(remove_ipc());
    v.push(container());
    v.push(memory_cgroup());
    v.push(sysctl_max_map_count());
    v.push(overcommit());
    v.push(huge_pages());
    v.push(kernel());
    v
}

/// The namespace directory exists, is a directory and can be written.
fn dir_check(dir: &Path, v: &mut Vec<Check>) -> bool {
    let shown = dir.display();
    let c = if !dir.exists() {
        check("directory", Status::Fail, format!("{shown} does not exist")).advise(
            "create it, mount a tmpfs there, or point --dir / $MMF_DIR at an existing directory",
        )
    } else if !dir.is_dir() {
        check(
            "directory",
            Status::Fail,
            format!("{shown} is not a directory"),
        )
        .advise("point --dir / $MMF_DIR at a directory")
    } else if rustix::fs::access(
        dir,
        rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK,
    )
    .is_err()
    {
        check(
            "directory",
            Status::Fail,
            format!("{shown} is not writable by this user"),
        )
        .advise("make it writable (/dev/shm is mode 1777), or use another --dir")
    } else {
        check(
            "directory",
            Status::Ok,
            format!("{shown}: named objects live here"),
        )
    };
    let ok = c.status == Status::Ok;
    v.push(c);
    ok
}

/// The filesystem's type, size and free space.
fn fs_checks(dir: &Path, v: &mut Vec<Check>) {
    match rustix::fs::statfs(dir) {
        Ok(st) => {
            // `f_type`'s integer type differs between architectures.
            #[allow(clippy::unnecessary_cast)]
            let (kind, memory) = fs_kind(st.f_type as i64);
            let c = if memory {
                check("filesystem", Status::Ok, format!("{kind}: memory-backed"))
            } else {
                check(
                    "filesystem",
                    Status::Warn,
                    format!("{kind}: not memory-backed, so objects are written back to disk"),
                )
                .advise("use a tmpfs (/dev/shm) unless file-backed objects are what you want")
            };
            v.push(c);
        }
        Err(e) => v.push(check(
            "filesystem",
            Status::Warn,
            format!("cannot tell its type: {e}"),
        )),
    }
    match rustix::fs::statvfs(dir) {
        Ok(st) => {
            let size = st.f_blocks.saturating_mul(st.f_frsize);
            let free = st.f_bavail.saturating_mul(st.f_frsize);
            let detail = format!("{} in all, {} free", bytes(size), bytes(free));
            let c = if size == 0 {
                check("size", Status::Ok, "no size limit (only memory limits it)")
            } else if free == 0 {
                check(
                    "size",
                    Status::Fail,
                    format!("{detail}: nothing can be stored"),
                )
                .advise(format!(
                    "free space (`mmf gc`, `mmf rm`), or {}",
                    size_advice(dir)
                ))
            } else if size < SMALL_FS {
                check(
                    "size",
                    Status::Warn,
                    format!("{detail}: small (less than {})", bytes(SMALL_FS)),
                )
                .advise(size_advice(dir))
            } else {
                check("size", Status::Ok, detail)
            };
            v.push(c);
        }
        Err(e) => v.push(check(
            "size",
            Status::Warn,
            format!("cannot read its size: {e}"),
        )),
    }
}

/// How to make the filesystem of `dir` larger, here and in containers.
fn size_advice(dir: &Path) -> String {
    format!(
        "make it larger: `mount -o remount,size=1G {}`; in Docker, `docker run --shm-size=1g`; in \
         Kubernetes, mount an `emptyDir: {{medium: Memory, sizeLimit: 1Gi}}` volume on /dev/shm",
        dir.display()
    )
}

/// A filesystem magic number as a name, and whether its pages live in memory.
fn fs_kind(magic: i64) -> (String, bool) {
    match magic {
        0x0102_1994 => ("tmpfs".into(), true),
        0x8584_58f6 => ("ramfs".into(), true),
        0x9584_58f6 => ("hugetlbfs".into(), true),
        0xef53 => ("ext4 (or ext2/3)".into(), false),
        0x5846_5342 => ("xfs".into(), false),
        0x9123_683e => ("btrfs".into(), false),
        0x794c_7630 => ("overlayfs".into(), false),
        0x6573_5546 => ("FUSE".into(), false),
        0x6969 => ("NFS".into(), false),
        m => (format!("filesystem type {m:#x}"), false),
    }
}

/// Creates a small handle-lifetime object, checks that mmf sees it as one with this process as
/// its holder, and that closing it removes the name.
fn handle_lifetime(ctx: &Ctx, dir: &Path) -> Check {
    let name = format!("mmf-doctor-{}", std::process::id());
    let made = ctx
        .create_options()
        .size(4096)
        .lifetime(Lifetime::Handle)
        .create(name.as_str());
    let m = match made {
        Ok(m) => m,
        Err(e) => {
            return check(
                "handle lifetime",
                Status::Fail,
                format!("cannot create a 4 KiB object: {e}"),
            )
            .advise("see the lines above about the directory and its size");
        }
    };
    let listed = ctx
        .namespace()
        .list()
        .ok()
        .and_then(|l| l.into_iter().find(|o| o.name == name));
    let seen = listed.as_ref().map(|o| (o.lifetime, o.holders));
    drop(m);
    let gone = !dir.join(&name).exists();
    if !gone {
        let _ = ctx.namespace().remove(name.as_str());
    }
    match (seen, gone) {
        (Some((Some(Lifetime::Handle), Some(1))), true) => check(
            "handle lifetime",
            Status::Ok,
            "works: a test object was held by this process and went away with its last handle",
        ),
        (seen, gone) => check(
            "handle lifetime",
            Status::Fail,
            format!("does not work here (seen as {seen:?}, removed on close: {gone})"),
        )
        .advise("use a tmpfs or ramfs directory with /proc mounted; report this with `mmf doctor --json`"),
    }
}

/// Whether user extended attributes can be set (informational: mmf marks handle lifetime with
/// the sticky bit, so it does not need them).
fn xattrs(dir: &Path) -> Check {
    let path = dir.join(format!(".mmf-doctor-xattr-{}", std::process::id()));
    let f = match std::fs::File::create_new(&path) {
        Ok(f) => f,
        Err(e) => {
            return check(
                "user xattrs",
                Status::Info,
                format!("not tried ({e}); mmf does not need them"),
            );
        }
    };
    let r = rustix::fs::fsetxattr(&f, "user.mmf-doctor", b"1", rustix::fs::XattrFlags::empty());
    drop(f);
    let _ = std::fs::remove_file(&path);
    match r {
        Ok(()) => check(
            "user xattrs",
            Status::Info,
            "supported (mmf does not need them)",
        ),
        Err(e) => check(
            "user xattrs",
            Status::Info,
            format!(
                "not supported ({e}; tmpfs before Linux 6.6); fine: mmf marks lifetime with the \
                 sticky bit"
            ),
        ),
    }
}

/// systemd-logind's `RemoveIPC`: it removes a user's shared memory when their last session ends.
fn remove_ipc() -> Check {
    const NAME: &str = "systemd RemoveIPC";
    if !Path::new("/run/systemd/system").is_dir() {
        return check(NAME, Status::Ok, "systemd is not running here");
    }
    let mut files = vec![std::path::PathBuf::from("/etc/systemd/logind.conf")];
    if let Ok(rd) = std::fs::read_dir("/etc/systemd/logind.conf.d") {
        let mut more: Vec<_> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        more.sort();
        files.extend(
            more.into_iter()
                .filter(|p| p.extension().is_some_and(|e| e == "conf")),
        );
    }
    let mut value = None;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        for line in text.lines().map(str::trim) {
            if let Some(v) = line.strip_prefix("RemoveIPC=") {
                value = Some(v.trim().to_ascii_lowercase());
            }
        }
    }
    let uid = rustix::process::geteuid().as_raw();
    let system_user = uid < 1000;
    match value.as_deref() {
        Some("no" | "false" | "0" | "off") => check(
            NAME,
            Status::Ok,
            "RemoveIPC=no: logging out removes nothing",
        ),
        v => {
            let set = if v.is_some() {
                "RemoveIPC=yes"
            } else {
                "RemoveIPC is not set (default yes)"
            };
            let who = if system_user {
                format!("it spares system users like this one (uid {uid})")
            } else {
                format!(
                    "it applies to this user (uid {uid}): their objects vanish when they log out"
                )
            };
            let c = check(
                NAME,
                if system_user {
                    Status::Info
                } else {
                    Status::Warn
                },
                format!(
                    "{set} in /etc/systemd/logind.conf: systemd deletes a logged-out user's shared memory; {who}"
                ),
            );
            if system_user {
                c
            } else {
                c.advise("set RemoveIPC=no in /etc/systemd/logind.conf (then restart systemd-logind), run services as a system user, or keep a session open (`loginctl enable-linger`)")
            }
        }
    }
}

/// Whether this runs in a container, where /dev/shm is private to it.
fn container() -> Check {
    let ns = |p: &str| std::fs::read_link(p).ok();
    let own_ipc = match (ns("/proc/self/ns/ipc"), ns("/proc/1/ns/ipc")) {
        (Some(a), Some(b)) => Some(a != b),
        _ => None,
    };
    let cgroup = std::fs::read_to_string("/proc/1/cgroup").unwrap_or_default();
    let engine = if Path::new("/.dockerenv").exists() {
        Some("Docker")
    } else if Path::new("/run/.containerenv").exists() {
        Some("Podman")
    } else if cgroup.contains("kubepods") {
        Some("Kubernetes")
    } else if cgroup.contains("docker") || cgroup.contains("containerd") {
        Some("a container runtime")
    } else if cgroup.contains("lxc") {
        Some("LXC")
    } else {
        None
    };
    match (engine, own_ipc) {
        (None, Some(false) | None) => check("container", Status::Ok, "not in a container"),
        (engine, _) => {
            let what = engine.unwrap_or("an IPC namespace of its own");
            check(
                "container",
                Status::Info,
                format!(
                    "in {what}: /dev/shm and the names in it are private to this container"
                ),
            )
            .advise("to share objects with other containers or the host, share the IPC namespace (`docker run --ipc=host` or `--ipc=container:NAME`) or mount the same memory volume")
        }
    }
}

/// The memory cgroup limit: shared memory a process touches is charged to its cgroup.
fn memory_cgroup() -> Check {
    const NAME: &str = "memory cgroup";
    let cg = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mut limit = None;
    for line in cg.lines() {
        let mut f = line.splitn(3, ':');
        let (_, ctrl, path) = match (f.next(), f.next(), f.next()) {
            (Some(a), Some(b), Some(c)) => (a, b, c),
            _ => continue,
        };
        let file = if ctrl.is_empty() {
            format!("/sys/fs/cgroup{path}/memory.max")
        } else if ctrl.split(',').any(|c| c == "memory") {
            format!("/sys/fs/cgroup/memory{path}/memory.limit_in_bytes")
        } else {
            continue;
        };
        if let Ok(s) = std::fs::read_to_string(&file) {
            let s = s.trim();
            // v1 writes "no limit" as a huge number.
            if let Ok(n) = s.parse::<u64>() {
                if n < 1 << 60 {
                    limit = Some(n);
                }
            }
            if !ctrl.is_empty() {
                break;
            }
        }
    }
    match limit {
        None => check(NAME, Status::Ok, "no memory limit"),
        Some(n) => check(
            NAME,
            Status::Info,
            format!(
                "limited to {}: shared memory this process touches counts against it",
                bytes(n)
            ),
        ),
    }
}

fn read_number(path: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn sysctl_max_map_count() -> Check {
    const NAME: &str = "vm.max_map_count";
    match read_number("/proc/sys/vm/max_map_count") {
        Some(n) if n < 65530 => check(
            NAME,
            Status::Warn,
            format!("{n}: each view is a mapping, so a process can have about {n} views"),
        )
        .advise("raise it: `sysctl -w vm.max_map_count=262144`"),
        Some(n) => check(NAME, Status::Ok, format!("{n} (each view is one mapping)")),
        None => check(NAME, Status::Info, "unknown (/proc/sys not readable)"),
    }
}

fn overcommit() -> Check {
    const NAME: &str = "vm.overcommit_memory";
    match read_number("/proc/sys/vm/overcommit_memory") {
        Some(2) => check(
            NAME,
            Status::Warn,
            "2 (strict): every writable shared view counts against the commit limit, so large objects may fail to map",
        )
        .advise("use 0 (the default) unless strict accounting is wanted: `sysctl -w vm.overcommit_memory=0`"),
        Some(n) => check(NAME, Status::Ok, format!("{n} ({})", if n == 1 { "always" } else { "heuristic, the default" })),
        None => check(NAME, Status::Info, "unknown (/proc/sys not readable)"),
    }
}

fn huge_pages() -> Check {
    const NAME: &str = "huge pages";
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |k: &str| {
        meminfo
            .lines()
            .find_map(|l| l.strip_prefix(k))
            .and_then(|r| r.split_whitespace().next()?.parse::<u64>().ok())
    };
    let pool = read_number("/proc/sys/vm/nr_hugepages");
    match (pool, field("HugePages_Free:"), field("Hugepagesize:")) {
        (Some(0), _, size) => check(
            NAME,
            Status::Info,
            format!(
                "no pool reserved{} (only objects that ask for huge pages need one: `sysctl -w vm.nr_hugepages=N`)",
                size.map_or(String::new(), |k| format!(" ({} pages)", bytes(k << 10)))
            ),
        ),
        (Some(n), free, size) => check(
            NAME,
            Status::Info,
            format!(
                "{n} pages{} reserved, {} free",
                size.map_or(String::new(), |k| format!(" of {}", bytes(k << 10))),
                free.map_or("?".into(), |f| f.to_string())
            ),
        ),
        (None, _, _) => check(NAME, Status::Info, "unknown (/proc not readable)"),
    }
}

/// The running kernel against mmf's floor (5.4) and the features that need newer ones.
fn kernel() -> Check {
    const NAME: &str = "kernel";
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let release = release.trim();
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next().and_then(|s| s.parse::<u32>().ok());
    let minor = parts.next().and_then(|s| s.parse::<u32>().ok());
    match (major, minor) {
        (Some(a), Some(b)) if (a, b) < (5, 4) => check(
            NAME,
            Status::Fail,
            format!("Linux {release}: mmf needs 5.4 or later"),
        )
        .advise("upgrade the kernel"),
        (Some(a), Some(b)) if (a, b) < (5, 14) => check(
            NAME,
            Status::Warn,
            format!(
                "Linux {release}: prefaulting (View::populate, ViewOptions::populate) needs 5.14 (MADV_POPULATE_*) and is Unsupported here; the rest works"
            ),
        )
        .advise("upgrade to 5.14 or later if you prefault views"),
        (Some(_), Some(_)) => check(
            NAME,
            Status::Ok,
            format!("Linux {release}: everything mmf uses is there (5.4 floor; prefaulting needs 5.14)"),
        ),
        _ => check(NAME, Status::Warn, format!("cannot read the kernel version ({release:?})")),
    }
}

/// A byte count for people: `64 MiB`, `1.5 GiB`.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} bytes")
    } else if v.fract() == 0.0 {
        format!("{v} {}", UNITS[u])
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_read_well() {
        assert_eq!(bytes(0), "0 bytes");
        assert_eq!(bytes(1 << 20), "1 MiB");
        assert_eq!(bytes(64 << 20), "64 MiB");
        assert_eq!(bytes(1536 << 20), "1.5 GiB");
    }

    #[test]
    fn memory_filesystems_are_known() {
        assert_eq!(fs_kind(0x0102_1994), ("tmpfs".to_owned(), true));
        assert!(!fs_kind(0xef53).1);
    }
}
