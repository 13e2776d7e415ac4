//! The test harness: runs the real `mmf` binary in a private object directory and, when an
//! expectation fails, prints the command, its working directory, stdout, stderr and status.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The binary under test.
pub const MMF: &str = env!("CARGO_BIN_EXE_mmf");

/// Exit statuses from the CLI's contract.
pub const NOT_FOUND: i32 = 3;
pub const TIMEOUT: i32 = 4;
pub const USAGE: i32 = 2;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A unique tag for names and directories: `<pid>-<n>`.
pub fn unique() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A private directory for named objects (under /dev/shm where it exists), removed on drop.
pub struct Env {
    pub dir: PathBuf,
}

impl Env {
    pub fn new() -> Env {
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("mmf-cli-test-{}", unique()));
        std::fs::create_dir_all(&dir).unwrap();
        Env { dir }
    }

    /// `mmf ARGS` with `MMF_DIR` set to the private directory.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(MMF);
        c.args(args)
            .env("MMF_DIR", &self.dir)
            .current_dir(&self.dir)
            .stdin(Stdio::null());
        c
    }

    /// Runs `mmf ARGS` with `stdin` as its input.
    pub fn run(&self, args: &[&str], stdin: &[u8]) -> Run {
        let mut c = self.cmd(args);
        run_with_input(&mut c, stdin)
    }

    /// Runs `mmf ARGS` and expects success.
    pub fn ok(&self, args: &[&str]) -> Run {
        let r = self.run(args, b"");
        r.expect_code(0);
        r
    }

    /// Whether the object's file is in the directory.
    pub fn exists(&self, name: &str) -> bool {
        self.dir.join(name).exists()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `c` feeding `stdin` from a thread (so large inputs cannot deadlock), with a watchdog.
pub fn run_with_input(c: &mut Command, stdin: &[u8]) -> Run {
    let desc = format!("{c:?}");
    let cwd = c
        .get_current_dir()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| std::env::current_dir().unwrap());
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {desc}: {e}"));
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        // The command may exit without reading everything; that is its business.
        let _ = input.write_all(&data);
    });
    let output = wait_output(child, Duration::from_secs(120), &desc);
    feeder.join().unwrap();
    Run { desc, cwd, output }
}

/// Waits for `child` to finish, killing it after `limit`.
pub fn wait_output(mut child: Child, limit: Duration, desc: &str) -> Output {
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(o) = &mut out {
            o.read_to_end(&mut v).unwrap();
        }
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(e) = &mut err {
            e.read_to_end(&mut v).unwrap();
        }
        v
    });
    let status = wait_status(&mut child, limit)
        .unwrap_or_else(|| panic!("watchdog: {desc} still running after {limit:?}; killed it"));
    Output {
        status,
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
    }
}

/// Waits up to `limit` for `child` to exit; kills it and returns `None` when it does not.
pub fn wait_status(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The result of one run, which knows how to explain itself.
pub struct Run {
    pub desc: String,
    pub cwd: PathBuf,
    pub output: Output,
}

impl Run {
    pub fn stdout(&self) -> &[u8] {
        &self.output.stdout
    }

    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    /// Everything a reader of a failed test needs.
    pub fn explain(&self) -> String {
        let show = |b: &[u8]| {
            if b.len() > 4000 {
                format!(
                    "{} bytes, starting {:?}",
                    b.len(),
                    String::from_utf8_lossy(&b[..200])
                )
            } else {
                String::from_utf8_lossy(b).into_owned()
            }
        };
        format!(
            "\ncommand: {}\ncwd: {}\nstatus: {}\nstdout:\n{}\nstderr:\n{}\n",
            self.desc,
            self.cwd.display(),
            self.output.status,
            show(&self.output.stdout),
            show(&self.output.stderr)
        )
    }

    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code(),
            Some(code),
            "expected exit status {code}{}",
            self.explain()
        );
        self
    }

    /// An error: the given status and exactly one line on stderr, naming `name`.
    pub fn expect_error(&self, code: i32, name: &str) -> &Run {
        self.expect_code(code);
        let err = self.stderr_str();
        assert_eq!(
            err.lines().count(),
            1,
            "expected one line on stderr{}",
            self.explain()
        );
        assert!(
            err.starts_with("mmf: ") && err.contains(&format!("{name:?}")),
            "expected an error naming {name:?}{}",
            self.explain()
        );
        self
    }
}

/// A running `mmf` whose stdout and stderr are read line by line (for `store --hold`, `watch`).
pub struct Background {
    pub child: Child,
    out: mpsc::Receiver<String>,
    err: mpsc::Receiver<String>,
    pub desc: String,
}

fn line_reader(r: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            match line {
                Ok(l) => {
                    if tx.send(l).is_err() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    });
    rx
}

impl Background {
    pub fn spawn(mut c: Command) -> Background {
        let desc = format!("{c:?}");
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {desc}: {e}"));
        let out = line_reader(child.stdout.take().unwrap());
        let err = line_reader(child.stderr.take().unwrap());
        Background {
            child,
            out,
            err,
            desc,
        }
    }

    /// Waits (with a watchdog) for a line on stderr containing `want`.
    pub fn wait_for_line(&mut self, want: &str, limit: Duration) -> String {
        Self::wait_on(
            &self.err,
            &mut self.child,
            &self.desc,
            "stderr",
            want,
            limit,
        )
    }

    /// Waits (with a watchdog) for the next line on stdout and checks it is `want`.
    pub fn expect_stdout_line(&mut self, want: &str, limit: Duration) {
        match self.out.recv_timeout(limit) {
            Ok(l) => assert_eq!(l, want, "{}", self.desc),
            Err(_) => {
                let _ = self.child.kill();
                let err: Vec<String> = self.err.try_iter().collect();
                panic!(
                    "watchdog: {} printed no line {want:?} on stdout within {limit:?}; stderr: {err:?}",
                    self.desc
                );
            }
        }
    }

    fn wait_on(
        rx: &mpsc::Receiver<String>,
        child: &mut Child,
        desc: &str,
        stream: &str,
        want: &str,
        limit: Duration,
    ) -> String {
        let deadline = Instant::now() + limit;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) if l.contains(want) => return l,
                Ok(l) => seen.push(l),
                Err(_) => {
                    let _ = child.kill();
                    panic!(
                        "watchdog: {desc} printed no line with {want:?} on {stream} within \
                         {limit:?}; {stream} so far: {seen:?}"
                    );
                }
            }
        }
    }

    /// Waits (with a watchdog) for the process to exit.
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        wait_status(&mut self.child, limit)
            .unwrap_or_else(|| panic!("watchdog: {} did not exit within {limit:?}", self.desc))
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sends `sig` to `pid` with kill(1).
pub fn signal(pid: u32, sig: &str) {
    let st = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success(), "kill -{sig} {pid} failed");
}

/// A 1 MiB tmpfs mounted on a directory, unmounted (and the directory removed) on drop.
pub struct SmallTmpfs {
    pub dir: PathBuf,
}

impl SmallTmpfs {
    /// Mounts it on a new directory `dir`; prints a `SKIPPED:` line with the reason and returns
    /// `None` where this process may not mount (it needs root).
    pub fn mount(dir: PathBuf) -> Option<SmallTmpfs> {
        std::fs::create_dir_all(&dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "mmf-cli-test"])
            .arg(&dir)
            .output();
        let why = match out {
            Ok(o) if o.status.success() => return Some(SmallTmpfs { dir }),
            Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_owned(),
            Err(e) => format!("cannot run mount: {e}"),
        };
        let _ = std::fs::remove_dir(&dir);
        println!("SKIPPED: cannot mount a small tmpfs: {why}");
        None
    }
}

impl Drop for SmallTmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
        let _ = std::fs::remove_dir(&self.dir);
    }
}
