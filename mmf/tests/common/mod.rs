//! Support for mmf's integration tests: unique names, the helper process, watchdogs.
#![allow(dead_code)]

pub mod payload;

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Whether mmf runs on its POSIX backend here (macOS, the BSDs, or Linux built with
/// `--cfg mmf_force_posix`), where named objects can only be persistent.
pub const POSIX_BACKEND: bool = cfg!(any(
    mmf_force_posix,
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
));

/// A new named object that lives while it is held: handle lifetime where the backend has it;
/// on the POSIX backend a persistent object whose name is removed at once (holders keep it).
pub fn create_named(name: &str, size: u64) -> mmf::Mapping {
    if !POSIX_BACKEND {
        return mmf::Mapping::create(name, size).unwrap();
    }
    let m = mmf::CreateOptions::new()
        .size(size)
        .lifetime(mmf::Lifetime::Persistent)
        .create(name)
        .unwrap();
    mmf::Namespace::default().remove(name).unwrap();
    m
}

/// A name no other test or run uses: test tag, pid, counter.
pub fn unique(tag: &str) -> String {
    format!(
        "mmf-test-{}-{}-{}",
        tag,
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The helper binary. Looked up with `option_env!`: the published package leaves the helper out
/// (and with it the tests that spawn it), and the tests it does ship include this module too.
#[allow(clippy::option_env_unwrap)] // on purpose: a run-time failure for the tests that spawn it
pub fn helper() -> Command {
    Command::new(
        option_env!("CARGO_BIN_EXE_mmf-testhelper")
            .expect("the mmf-testhelper binary is not built (the published package leaves it out)"),
    )
}

/// Spawns `cmd`. Wine's CreateProcess has failed with ERROR_INTERNAL_ERROR (1359) under heavy
/// load (seen once in ten runs on a loaded machine); no process was created then, so trying again
/// is safe. Elsewhere that error does not occur.
pub fn spawn(cmd: &mut Command) -> Child {
    let mut tries = 0;
    loop {
        match cmd.spawn() {
            Err(e) if cfg!(windows) && e.raw_os_error() == Some(1359) && tries < 3 => tries += 1,
            r => return r.expect("spawn mmf-testhelper"),
        }
    }
}

/// Runs 4 helpers that race through `rounds` names starting with `prefix` in the directory
/// `dir` (`race-loop`: each creates or opens every name, and checks that it never sees an object
/// its creator has not initialised), started together once all are ready; returns how many
/// objects they created between them. `spawn` starts each helper.
pub fn race_creators(
    dir: &std::path::Path,
    prefix: &str,
    rounds: u32,
    spawn: impl Fn(&mut Command) -> Child,
) -> u32 {
    let gate = TempPath::new("gate");
    let racers: Vec<Child> = (0..4)
        .map(|_| {
            spawn(
                helper()
                    .args([
                        "race-loop",
                        gate.0.to_str().unwrap(),
                        prefix,
                        &rounds.to_string(),
                        "8192",
                    ])
                    .env("MMF_DIR", dir)
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped()),
            )
        })
        .collect();
    std::fs::write(&gate.0, b"go").unwrap();
    racers
        .into_iter()
        .map(|r| {
            let out = wait_output(r, Duration::from_secs(300));
            check(&out, "race-loop").trim().parse::<u32>().unwrap()
        })
        .sum()
}

/// Starts the helper with `args` and `MMF_DIR=dir`, its stdin piped (close it to end a waiting
/// helper), and waits (with a watchdog) for its first line, which must start with `first`.
pub fn start_helper(dir: &std::path::Path, args: &[&str], first: &str) -> Child {
    let mut child = helper()
        .args(args)
        .env("MMF_DIR", dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn mmf-testhelper");
    let (line, out) = read_line(child.stdout.take().unwrap(), Duration::from_secs(30));
    assert!(line.starts_with(first), "helper said {:?}", line);
    child.stdout = Some(out);
    child
}

/// Runs the helper to completion under a watchdog and returns its output.
pub fn run_helper(args: &[&str]) -> Output {
    let child = helper()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mmf-testhelper");
    wait_output(child, Duration::from_secs(60))
}

/// Waits for a child with a watchdog: kills it and panics if it runs past `limit`.
pub fn wait_output(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    loop {
        match child.try_wait().expect("try_wait") {
            Some(_) => return child.wait_with_output().expect("output"),
            None if start.elapsed() > limit => {
                let _ = child.kill();
                let out = child.wait_with_output().expect("output");
                panic!(
                    "watchdog: helper still running after {:?}; stdout {:?} stderr {:?}",
                    limit,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// Reads one line from a child's stdout, with a watchdog.
pub fn read_line(out: ChildStdout, limit: Duration) -> (String, ChildStdout) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut r = BufReader::new(out);
        let mut line = String::new();
        let _ = r.read_line(&mut line);
        let _ = tx.send((line, r.into_inner()));
    });
    rx.recv_timeout(limit)
        .expect("watchdog: no line from the helper in time")
}

/// Asserts a helper run succeeded, printing everything if not.
pub fn check(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{} failed: status {:?}\nstdout: {}\nstderr: {}",
        what,
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{:02x}", x)).collect()
}

/// A temporary file path, removed on drop.
pub struct TempPath(pub std::path::PathBuf);

impl TempPath {
    pub fn new(tag: &str) -> TempPath {
        TempPath(std::env::temp_dir().join(unique(tag)))
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A directory of persistent objects of the test's own, removed at the end (Windows; Linux tests
/// use [`Dir`]).
#[cfg(windows)]
pub struct TempDir(pub std::path::PathBuf);

#[cfg(windows)]
impl TempDir {
    /// A new, empty directory. Wine reuses process ids from one run to the next, so the name
    /// also carries the time, and a directory that exists already is an error, not a reuse.
    pub fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let p = std::env::temp_dir().join(format!("{}-{}", unique(tag), nanos));
        std::fs::create_dir(&p).unwrap();
        TempDir(p)
    }
}

#[cfg(windows)]
impl Drop for TempDir {
    fn drop(&mut self) {
        // Wine may close an exited child's handles a moment after its exit is seen: try a few
        // times before leaving the directory behind.
        for _ in 0..20 {
            if std::fs::remove_dir_all(&self.0).is_ok() || !self.0.exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("left behind: {}", self.0.display());
    }
}

/// Mounts a 1 MiB tmpfs on `dir` (an existing directory); prints a `SKIPPED:` line with the reason
/// and returns `false` where this process may not mount (it needs root). Undo with [`unmount`].
pub fn mount_small_tmpfs(dir: &std::path::Path) -> bool {
    let out = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "mmf-test"])
        .arg(dir)
        .output();
    match out {
        Ok(o) if o.status.success() => true,
        Ok(o) => {
            println!(
                "SKIPPED: cannot mount a small tmpfs: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            false
        }
        Err(e) => {
            println!("SKIPPED: cannot run mount: {}", e);
            false
        }
    }
}

/// Unmounts what [`mount_small_tmpfs`] (or [`Dir`] on ramfs) mounted. A mount is busy while any
/// process holds a descriptor in it, and a child that another test thread is spawning holds
/// copies of this process's descriptors until it runs its program: so a busy mount is tried
/// again for a while, then detached (`umount -l`, gone once the last holder is), so that no
/// mount is left behind.
pub fn unmount(dir: &std::path::Path) {
    for _ in 0..40 {
        let done = Command::new("umount")
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .map_or(false, |s| s.success());
        if done || !mounted(dir) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = Command::new("umount").arg("-l").arg(dir).status();
}

/// Whether something is mounted on `dir` (`/proc/self/mounts`; `false` where it cannot be read).
fn mounted(dir: &std::path::Path) -> bool {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let dir = dir.to_string_lossy();
    mounts
        .lines()
        .any(|l| l.split(' ').nth(1) == Some(dir.as_ref()))
}

/// Whether the tests asked for ramfs instead of tmpfs (`MMF_TEST_FS=ramfs`, see [`Dir`]).
#[cfg(target_os = "linux")]
pub fn on_ramfs() -> bool {
    std::env::var("MMF_TEST_FS").map_or(false, |v| v == "ramfs")
}

/// A private directory for named objects under `/dev/shm`, removed with everything in it on drop.
///
/// With `MMF_TEST_FS=ramfs` it is a fresh ramfs mount instead: a filesystem without any extended
/// attributes, like tmpfs before Linux 6.6 (Debian 12, Ubuntu 22.04, RHEL 9). CI runs the
/// lifetime suite a second time that way (`.ci/run`).
#[cfg(target_os = "linux")]
pub struct Dir(pub std::path::PathBuf);

#[cfg(target_os = "linux")]
impl Dir {
    pub fn new(tag: &str) -> Dir {
        let p = std::path::Path::new("/dev/shm").join(unique(tag));
        std::fs::create_dir_all(&p).unwrap();
        if on_ramfs() {
            let out = Command::new("mount")
                .args(["-t", "ramfs", "mmf-test-ramfs"])
                .arg(&p)
                .output()
                .expect("run mount");
            assert!(
                out.status.success(),
                "MMF_TEST_FS=ramfs needs root to mount a ramfs: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Dir(p)
    }

    /// A directory every user may create objects in, sticky like `/dev/shm` itself.
    pub fn shared(tag: &str) -> Dir {
        use std::os::unix::fs::PermissionsExt;
        let d = Dir::new(tag);
        std::fs::set_permissions(&d.0, std::fs::Permissions::from_mode(0o1777)).unwrap();
        d
    }

    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }

    /// The names in the directory, sorted.
    pub fn entries(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    pub fn open(&self) -> mmf::OpenOptions {
        let mut o = mmf::OpenOptions::new();
        o.dir(&self.0);
        o
    }

    pub fn create(&self, size: u64) -> mmf::CreateOptions {
        let mut o = mmf::CreateOptions::new();
        o.dir(&self.0).size(size);
        o
    }
}

#[cfg(target_os = "linux")]
impl Drop for Dir {
    fn drop(&mut self) {
        if on_ramfs() {
            unmount(&self.0);
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A xorshift generator: `Rng(seed)` for reproducible numbers (the seed must not be 0), or
/// [`Rng::new`] for a different sequence each run.
pub struct Rng(pub u64);

impl Rng {
    #[allow(clippy::new_without_default)] // a new seed each call: not a default
    pub fn new() -> Rng {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() as u64)
            .unwrap_or(1);
        Rng((t << 20) ^ std::process::id() as u64 | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Starts the helper with `args`, stdin closed, its stdout and stderr piped.
pub fn spawn_piped(args: &[&str]) -> Child {
    helper()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mmf-testhelper")
}
