//! Two `mmf dialog` instances driven through pseudo-terminals, read back with a vt100 parser:
//! they share text as the seed's two windows do, with the keyboard and with the mouse.
#![cfg(target_os = "linux")]

mod common;

use common::{Env, MMF};
use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ROWS: u16 = 24;
const COLS: u16 = 80;
/// How long any one expectation may take before the watchdog gives up.
const LIMIT: Duration = Duration::from_secs(30);

/// One `mmf dialog` on its own pseudo-terminal.
struct Tui {
    label: &'static str,
    parser: Arc<Mutex<vt100::Parser>>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn Child + Send + Sync>,
    _master: Box<dyn MasterPty + Send>,
}

impl Tui {
    fn spawn(env: &Env, label: &'static str) -> Tui {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows: ROWS,
                cols: COLS,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("a pseudo-terminal");
        let mut cmd = CommandBuilder::new(MMF);
        cmd.arg("dialog");
        cmd.env("MMF_DIR", &env.dir);
        cmd.env("TERM", "xterm-256color");
        cmd.cwd(&env.dir);
        let child = pty.slave.spawn_command(cmd).expect("mmf dialog starts");
        drop(pty.slave);
        let parser = Arc::new(Mutex::new(vt100::Parser::new(ROWS, COLS, 0)));
        let mut reader = pty.master.try_clone_reader().unwrap();
        let p = Arc::clone(&parser);
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => p.lock().unwrap().process(&buf[..n]),
                }
            }
        });
        let writer = pty.master.take_writer().unwrap();
        Tui {
            label,
            parser,
            writer,
            child,
            _master: pty.master,
        }
    }

    fn screen(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    /// Waits until `pred` holds for the screen; on timeout, shows the screen and fails.
    fn wait_until(&mut self, what: &str, pred: impl Fn(&vt100::Screen) -> bool) {
        let deadline = Instant::now() + LIMIT;
        loop {
            if pred(self.parser.lock().unwrap().screen()) {
                return;
            }
            if Instant::now() > deadline {
                let screen = self.screen();
                let _ = self.child.kill();
                panic!(
                    "watchdog: instance {} never showed {what} within {LIMIT:?}; its screen:\n{screen}",
                    self.label
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_text(&mut self, text: &str) {
        let t = text.to_owned();
        self.wait_until(&format!("{text:?}"), move |s| s.contents().contains(&t));
    }

    fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
        self.writer.flush().unwrap();
    }

    /// Row and column of the first occurrence of `text`.
    fn find(&self, text: &str) -> (u16, u16) {
        let p = self.parser.lock().unwrap();
        for (row, line) in p.screen().rows(0, COLS).enumerate() {
            if let Some(byte) = line.find(text) {
                let col = line[..byte].chars().count();
                return (row as u16, col as u16);
            }
        }
        panic!(
            "{text:?} is not on the screen of {}:\n{}",
            self.label,
            p.screen().contents()
        );
    }

    /// Whether the label `text` is drawn greyed out (a disabled button).
    fn greyed(&self, text: &str) -> bool {
        let (row, col) = self.find(text);
        let p = self.parser.lock().unwrap();
        let cell = p.screen().cell(row, col).unwrap();
        cell.fgcolor() == vt100::Color::Idx(8)
    }

    /// A left click (SGR mouse report) on the middle of `text`.
    fn click(&mut self, text: &str) {
        let (row, col) = self.find(text);
        let col = col + text.chars().count() as u16 / 2;
        let press = format!("\x1b[<0;{};{}M", col + 1, row + 1);
        let release = format!("\x1b[<0;{};{}m", col + 1, row + 1);
        self.send(press.as_bytes());
        self.send(release.as_bytes());
    }

    fn wait_exit(&mut self) -> portable_pty::ExitStatus {
        let deadline = Instant::now() + LIMIT;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            if Instant::now() > deadline {
                let screen = self.screen();
                let _ = self.child.kill();
                panic!(
                    "watchdog: instance {} did not exit; its screen:\n{screen}",
                    self.label
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn two_dialogs_share_text_as_in_the_seed() {
    let env = Env::new();

    // The first instance: the object does not exist, so Store is enabled and Retrieve is not.
    let mut a = Tui::spawn(&env, "A");
    a.wait_text("Type Data Here:");
    a.wait_text("does not exist yet");
    assert!(
        !a.greyed("Store Data") && a.greyed("Retrieve Data"),
        "{}",
        a.screen()
    );
    assert!(!env.exists("mmfobject"));

    // Type, then Alt+S: the object is created and the field says so.
    a.send("hello from A, ünïcode".as_bytes());
    a.wait_text("hello from A, ünïcode");
    a.send(b"\x1bs");
    a.wait_text("Open a new instance now!");
    a.wait_until("Store greyed out", |s| s.contents().contains("stored"));
    assert!(
        a.greyed("Store Data") && !a.greyed("Retrieve Data"),
        "{}",
        a.screen()
    );
    assert!(env.exists("mmfobject"));

    // The second instance finds it: Store disabled, Retrieve enabled, as decided at start-up.
    let mut b = Tui::spawn(&env, "B");
    b.wait_text("exists: another instance stored it");
    assert!(
        b.greyed("Store Data") && !b.greyed("Retrieve Data"),
        "{}",
        b.screen()
    );
    // A click on Retrieve Data shows A's text.
    b.click("Retrieve Data");
    b.wait_text("hello from A, ünïcode");
    // A click on the greyed-out Store Data does nothing.
    b.click("Store Data");
    std::thread::sleep(Duration::from_millis(200));
    assert!(b.screen().contains("retrieved"), "{}", b.screen());

    // In A, Enter in the field presses the enabled button, Retrieve: the text comes back.
    a.send(b"\r");
    a.wait_text("retrieved");
    a.wait_text("hello from A, ünïcode");

    // A exits with Esc; B still holds the object, so it stays.
    a.send(b"\x1b");
    assert!(a.wait_exit().success());
    assert!(env.exists("mmfobject"));
    b.click("Retrieve Data");
    b.wait_text("hello from A");

    // B exits with a click on Exit: the last instance takes the object with it.
    b.click("Exit");
    assert!(b.wait_exit().success());
    assert!(
        !env.exists("mmfobject"),
        "the object outlived its last instance"
    );

    // A new first instance starts from scratch.
    let mut c = Tui::spawn(&env, "C");
    c.wait_text("does not exist yet");
    assert!(
        !c.greyed("Store Data") && c.greyed("Retrieve Data"),
        "{}",
        c.screen()
    );
    // Keyboard only: Tab to Store Data, Space presses it.
    c.send(b"third");
    c.wait_text("third");
    c.send(b"\t ");
    c.wait_text("Open a new instance now!");
    c.send(b"\x1bx");
    assert!(c.wait_exit().success());
    assert!(!env.exists("mmfobject"));
}

#[test]
fn a_dialog_ends_cleanly_on_sigterm() {
    let env = Env::new();
    let mut a = Tui::spawn(&env, "A");
    a.wait_text("Type Data Here:");
    a.send(b"x\x1bs");
    a.wait_text("Open a new instance now!");
    assert!(env.exists("mmfobject"));
    let pid = a.child.process_id().expect("a pid");
    common::signal(pid, "TERM");
    assert!(a.wait_exit().success());
    assert!(!env.exists("mmfobject"));
}

/// Runs `mmf dialog` on a pseudo-terminal from Python's `pty` module, stores "x", then closes the
/// terminal's master side and exits, leaving the dialog behind as a closed window would. Prints the
/// dialog's pid. (portable-pty keeps a reader open on the master, so it cannot close it for real.)
const HANG_UP: &str = r#"
import fcntl, os, pty, select, struct, sys, termios, time
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    os.execv(sys.argv[1], [sys.argv[1], "dialog"])
print(pid, flush=True)
buf, deadline = b"", time.time() + 30
def wait_for(s):
    global buf
    while s not in buf:
        if time.time() > deadline:
            sys.exit("timed out waiting for %r" % s)
        if select.select([fd], [], [], 0.5)[0]:
            buf += os.read(fd, 65536)
wait_for(b"Here:")
os.write(fd, b"x\x1bs")
wait_for(b"now!")
os.close(fd)
os._exit(0)
"#;

#[test]
fn a_dialog_exits_when_its_terminal_goes_away() {
    // Closing the terminal must end the dialog (and release the object) instead of leaving it
    // spinning on a dead terminal.
    let env = Env::new();
    let out = std::process::Command::new("python3")
        .args(["-c", HANG_UP, MMF])
        .env("MMF_DIR", &env.dir)
        .env("TERM", "xterm-256color")
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "driver failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pid: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    let proc_dir = std::path::PathBuf::from(format!("/proc/{pid}"));
    let deadline = Instant::now() + LIMIT;
    // The dialog is not our child: it is gone when /proc/PID is (or is a zombie of init).
    let gone = || {
        std::fs::read_to_string(proc_dir.join("stat"))
            .map(|s| s.contains(") Z "))
            .unwrap_or(true)
    };
    while !gone() {
        if Instant::now() > deadline {
            common::signal(pid, "KILL");
            panic!("watchdog: the dialog kept running after its terminal was closed");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !env.exists("mmfobject"),
        "the last instance is gone, so is the object"
    );
}

/// CPU time (user + system, in clock ticks) the process `pid` has used so far.
fn cpu_ticks(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let f: Vec<&str> = s[s.rfind(')').unwrap() + 1..].split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// Whether the dialog stays idle: less than a quarter of a CPU over two seconds with no input.
/// (Not a duration limit: a dialog spinning on unread input burns the whole two seconds.)
fn assert_idle(t: &Tui) {
    let pid = t.child.process_id().expect("a pid");
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_ticks(pid) - before;
    assert!(
        used < 50,
        "instance {} used {used} ticks of CPU in 2 s with no input; its screen:\n{}",
        t.label,
        t.screen()
    );
}

/// A paste of 3,000 characters (sent as a terminal without bracketed paste sends it: as typed
/// keys, in one burst) then Alt+S stores all of it, and the dialog is idle afterwards. A paste
/// longer than the object takes what fits and says so.
#[test]
fn a_long_paste_then_alt_s_stores_and_the_dialog_stays_idle() {
    let env = Env::new();
    let mut a = Tui::spawn(&env, "A");
    a.wait_text("Type Data Here:");
    let mut paste = "0123456789".repeat(300);
    paste.replace_range(2990.., "ENDOFPASTE");
    a.send(paste.as_bytes());
    a.wait_text("ENDOFPASTE");
    a.send(b"\x1bs");
    a.wait_text("stored 3000 bytes");
    assert_idle(&a);
    let m = mmf::OpenOptions::new()
        .dir(&env.dir)
        .open("mmfobject")
        .unwrap();
    let stored = m.map().unwrap().read_vec(0, 3001).unwrap();
    assert_eq!(&stored[..3000], paste.as_bytes());
    assert_eq!(stored[3000], 0);
    drop(m);
    a.send(b"\x1b");
    assert!(a.wait_exit().success());

    // Longer than the object: in two bursts, each less than a terminal's input buffer.
    let env = Env::new();
    let mut b = Tui::spawn(&env, "B");
    b.wait_text("Type Data Here:");
    let first = format!("{}FIRSTHALF", "a".repeat(2491));
    b.send(first.as_bytes());
    b.wait_text("FIRSTHALF");
    let second = format!("{}SECONDHALF", "b".repeat(2490));
    b.send(second.as_bytes());
    b.wait_text("left out");
    b.send(b"\x1bs");
    b.wait_text("stored 4095 bytes");
    assert_idle(&b);
    b.send(b"\x1b");
    assert!(b.wait_exit().success());
}
