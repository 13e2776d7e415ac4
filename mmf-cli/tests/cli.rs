//! End-to-end tests of the real `mmf` binary: values byte-exact, the seed's plain format with C
//! and Python, exit statuses, lifetimes, and the other commands.
#![cfg(target_os = "linux")]

mod common;

use common::*;
use std::process::Command;
use std::time::Duration;

/// Bytes that are not all alike: every byte value, then a xorshift stream.
fn pattern(len: usize) -> Vec<u8> {
    let mut v: Vec<u8> = (0..=255u8).cycle().take(len.min(256 * 4)).collect();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes()[..(len - v.len()).min(8)]);
    }
    v
}

// ---- store and retrieve, byte-exact ----

#[test]
fn empty_value_round_trips() {
    let env = Env::new();
    env.ok(&["store", "empty", ""]);
    assert_eq!(env.ok(&["retrieve", "empty"]).stdout(), b"");
    env.run(&["store", "empty-stdin"], b"").expect_code(0);
    assert_eq!(env.ok(&["retrieve", "empty-stdin"]).stdout(), b"");
    // The seed's format too: just the NUL.
    env.ok(&["store", "--raw", "empty-raw", ""]);
    assert_eq!(env.ok(&["retrieve", "empty-raw"]).stdout(), b"");
}

#[test]
fn all_256_byte_values_round_trip_from_stdin_and_file() {
    let env = Env::new();
    let all: Vec<u8> = (0..=255u8).collect();
    env.run(&["store", "bytes"], &all).expect_code(0);
    let r = env.ok(&["retrieve", "bytes"]);
    assert!(
        r.stdout() == all.as_slice(),
        "stdin value differs{}",
        r.explain()
    );

    let file = env.dir.join("all.bin");
    std::fs::write(&file, &all).unwrap();
    env.ok(&["store", "bytes-file", "--file", file.to_str().unwrap()]);
    let r = env.ok(&["retrieve", "bytes-file"]);
    assert!(
        r.stdout() == all.as_slice(),
        "file value differs{}",
        r.explain()
    );

    // "-" is stdin as well.
    env.run(&["store", "bytes-dash", "-"], &all).expect_code(0);
    assert_eq!(env.ok(&["retrieve", "bytes-dash"]).stdout(), all.as_slice());
}

#[test]
fn a_100_mb_value_round_trips_from_file_and_stdin() {
    let env = Env::new();
    let big = pattern(100 << 20);
    let file = env.dir.join("big.bin");
    std::fs::write(&file, &big).unwrap();
    env.ok(&["store", "big", "--file", file.to_str().unwrap()]);
    let r = env.ok(&["retrieve", "big"]);
    assert!(
        r.stdout() == big.as_slice(),
        "100 MB from --file: {} bytes back{}",
        r.stdout().len(),
        r.explain()
    );
    std::fs::remove_file(&file).unwrap();

    env.run(&["store", "big-stdin"], &big).expect_code(0);
    let r = env.ok(&["retrieve", "big-stdin"]);
    assert!(
        r.stdout() == big.as_slice(),
        "100 MB from stdin: {} bytes back",
        r.stdout().len()
    );
}

#[test]
fn a_large_raw_value_round_trips() {
    let env = Env::new();
    // No NUL inside, so the seed's format can carry it.
    let big: Vec<u8> = pattern(20 << 20).into_iter().map(|b| b | 1).collect();
    env.run(&["store", "--raw", "big-raw"], &big).expect_code(0);
    let r = env.ok(&["retrieve", "--raw", "big-raw"]);
    assert!(
        r.stdout() == big.as_slice(),
        "{} bytes back",
        r.stdout().len()
    );
    let size = std::fs::metadata(env.dir.join("big-raw")).unwrap().len();
    assert_eq!(size, big.len() as u64 + 1);
}

#[test]
fn storing_again_replaces_the_value() {
    let env = Env::new();
    env.ok(&["store", "v", "a much longer first value"]);
    env.ok(&["store", "v", "short"]);
    assert_eq!(env.ok(&["retrieve", "v"]).stdout(), b"short");
    env.ok(&["store", "--raw", "p", "a much longer first value"]);
    env.ok(&["store", "--raw", "p", "short"]);
    assert_eq!(env.ok(&["retrieve", "p"]).stdout(), b"short");
}

// ---- the seed's plain format, with C and Python ----

const SEED_C: &str = r#"
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The seed's format in C: "read NAME" prints the text, "write NAME TEXT" creates the object
   like CreateFileMapping(4096) and copies the text with its NUL. */
int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "read") == 0) {
        int fd = shm_open(argv[2], O_RDONLY, 0);
        if (fd < 0) { perror("shm_open"); return 1; }
        struct stat st;
        fstat(fd, &st);
        char *p = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) { perror("mmap"); return 1; }
        fputs(p, stdout);
        printf("\n%ld\n", (long)st.st_size);
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "write") == 0) {
        int fd = shm_open(argv[2], O_CREAT | O_EXCL | O_RDWR, 0600);
        if (fd < 0) { perror("shm_open"); return 1; }
        if (ftruncate(fd, 4096) != 0) { perror("ftruncate"); return 1; }
        char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) { perror("mmap"); return 1; }
        strcpy(p, argv[3]);
        return 0;
    }
    fprintf(stderr, "usage: seed read NAME | seed write NAME TEXT\n");
    return 2;
}
"#;

/// Compiles the C program into the test's directory.
fn seed_c(env: &Env) -> std::path::PathBuf {
    let src = env.dir.join("seed.c");
    let exe = env.dir.join("seed");
    std::fs::write(&src, SEED_C).unwrap();
    let out = Command::new("gcc")
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .output()
        .expect("gcc runs");
    assert!(
        out.status.success(),
        "gcc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// Removes a /dev/shm name on drop (C and Python only use /dev/shm).
struct ShmName(String);
impl Drop for ShmName {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(format!("/dev/shm/{}", self.0));
    }
}

/// `mmf` with the default directory, /dev/shm.
fn mmf_default(args: &[&str]) -> Run {
    let mut c = Command::new(MMF);
    c.args(args).env_remove("MMF_DIR");
    run_with_input(&mut c, b"")
}

#[test]
fn raw_interop_with_c_both_ways() {
    let env = Env::new();
    let exe = seed_c(&env);

    let name = ShmName(format!("mmf-cli-test-c-{}", unique()));
    mmf_default(&["store", "--raw", &name.0, "from mmf, to C"]).expect_code(0);
    let out = Command::new(&exe).args(["read", &name.0]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "from mmf, to C\n4096\n"
    );

    let name2 = ShmName(format!("mmf-cli-test-c-{}", unique()));
    let out = Command::new(&exe)
        .args(["write", &name2.0, "from C, to mmf"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = mmf_default(&["retrieve", &name2.0]);
    r.expect_code(0);
    assert_eq!(r.stdout(), b"from C, to mmf", "{}", r.explain());
    let r = mmf_default(&["retrieve", "--raw", &name2.0]);
    assert_eq!(r.stdout(), b"from C, to mmf", "{}", r.explain());
}

const PY_READ: &str = r#"
import sys
from multiprocessing import shared_memory, resource_tracker
shm = shared_memory.SharedMemory(name=sys.argv[1])
# Python 3.11 registers attached segments too and would unlink them at exit.
resource_tracker.unregister(shm._name, "shared_memory")
data = bytes(shm.buf[:shm.size])
print(data.split(b"\0", 1)[0].hex())
print(shm.size)
shm.close()
"#;

const PY_WRITE: &str = r#"
import sys
from multiprocessing import shared_memory, resource_tracker
text = bytes.fromhex(sys.argv[2])
shm = shared_memory.SharedMemory(name=sys.argv[1], create=True, size=int(sys.argv[3]))
resource_tracker.unregister(shm._name, "shared_memory")
shm.buf[:len(text)] = text
shm.buf[len(text)] = 0
shm.close()
"#;

fn python(script: &str, args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn raw_interop_with_python_both_ways() {
    // Every byte value but NUL, which ends the seed's format.
    let text: Vec<u8> = (1..=255u8).collect();

    let name = ShmName(format!("mmf-cli-test-py-{}", unique()));
    let mut c = Command::new(MMF);
    c.args(["store", "--raw", &name.0, "-"])
        .env_remove("MMF_DIR");
    run_with_input(&mut c, &text).expect_code(0);
    let out = python(PY_READ, &[&name.0]);
    assert_eq!(out, format!("{}\n4096\n", hex(&text)));

    let name2 = ShmName(format!("mmf-cli-test-py-{}", unique()));
    python(PY_WRITE, &[&name2.0, &hex(&text), "1000"]);
    let r = mmf_default(&["retrieve", &name2.0]);
    r.expect_code(0);
    assert!(r.stdout() == text.as_slice(), "{}", r.explain());
}

#[test]
fn list_shows_python_objects_as_plain() {
    let name = ShmName(format!("mmf-cli-test-pylist-{}", unique()));
    python(PY_WRITE, &[&name.0, &hex(b"hello"), "1000"]);
    let r = mmf_default(&["list"]);
    r.expect_code(0);
    let line = r
        .stdout_str()
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name.0.as_str()))
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("{} not listed{}", name.0, r.explain()));
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&cols[1..4], &["1000", "plain", "persistent"], "{line}");

    let r = mmf_default(&["list", "--json"]);
    let all: serde_json::Value = serde_json::from_slice(r.stdout()).unwrap();
    let o = all
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == name.0.as_str())
        .unwrap();
    assert_eq!(o["kind"], "plain");
    assert_eq!(o["size"], 1000);
    assert_eq!(o["made_by_mmf"], false);

    let r = mmf_default(&["info", &name.0, "--json"]);
    let o: serde_json::Value = serde_json::from_slice(r.stdout()).unwrap();
    assert_eq!(o["kind"], "plain");
    mmf_default(&["rm", &name.0]).expect_code(0);
    assert!(!std::path::Path::new(&format!("/dev/shm/{}", name.0)).exists());
}

// ---- exit statuses and error lines ----

#[test]
fn a_missing_object_exits_3_with_one_line() {
    let env = Env::new();
    for args in [
        &["retrieve", "nope"][..],
        &["retrieve", "--raw", "nope"],
        &["info", "nope"],
        &["rm", "nope"],
        &["dump", "nope"],
        &["watch", "nope"],
    ] {
        env.run(args, b"").expect_error(NOT_FOUND, "nope");
    }
}

#[test]
fn wait_with_timeout_exits_4() {
    let env = Env::new();
    let r = env.run(&["retrieve", "later", "--wait", "--timeout", "0.3"], b"");
    r.expect_error(TIMEOUT, "later");
}

#[test]
fn wait_returns_once_the_object_appears() {
    let env = Env::new();
    let mut waiter = env.cmd(&["retrieve", "soon", "--raw", "--wait", "--timeout", "30"]);
    waiter
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = waiter.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // Only a command that is still waiting tests waiting.
    assert!(
        child.try_wait().unwrap().is_none(),
        "it must still be waiting"
    );
    env.ok(&["store", "--raw", "soon", "here now"]);
    let out = wait_output(child, Duration::from_secs(30), "mmf retrieve --wait");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"here now");
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let env = Env::new();
    env.run(&["frobnicate"], b"").expect_code(USAGE);
    env.run(&["store"], b"").expect_code(USAGE);
    env.run(&["retrieve", "x", "--timeout", "1"], b"")
        .expect_code(USAGE);
    env.run(&["retrieve", "a/b"], b"")
        .expect_error(USAGE, "a/b");
    let r = env.ok(&["--help"]);
    assert!(r.stdout_str().contains("Exit status"), "{}", r.explain());
    env.ok(&["store", "--help"]);
    env.ok(&["--version"]);
    // Not a terminal: the dialog refuses, as a usage error.
    env.run(&["dialog"], b"").expect_code(USAGE);
}

#[test]
fn a_failure_is_one_line_that_says_what_to_do() {
    let env = Env::new();
    let r = env.run(&["store", "x", "--file", "/no/such/file"], b"");
    r.expect_code(1);
    assert_eq!(r.stderr_str().lines().count(), 1, "{}", r.explain());
    assert!(r.stderr_str().contains("/no/such/file"), "{}", r.explain());
}

/// An existing plain object keeps its size: a value that does not fit is refused before anything
/// is written when its length is known, and a stream longer than the object stops with an error
/// that says what was written, leaving a NUL-terminated prefix.
#[test]
fn raw_store_into_a_smaller_object() {
    let env = Env::new();
    env.ok(&["store", "--raw", "small", "first"]);
    let big = vec![b'x'; 5000];
    let r = env.run(
        &["store", "--raw", "small", &String::from_utf8(big).unwrap()],
        b"",
    );
    r.expect_code(1);
    assert!(
        r.stderr_str().contains("at most 4095 bytes"),
        "{}",
        r.explain()
    );
    assert_eq!(env.ok(&["retrieve", "--raw", "small"]).stdout(), b"first");
    // From a pipe, longer than one piece: the length is not known until the end.
    let stream = vec![b'y'; 3 << 20];
    let r = env.run(&["store", "--raw", "small"], &stream);
    r.expect_code(1);
    assert!(
        r.stderr_str().contains("the first 4095 bytes were written"),
        "{}",
        r.explain()
    );
    assert_eq!(
        env.ok(&["retrieve", "--raw", "small"]).stdout(),
        &stream[..4095]
    );
    assert_eq!(
        std::fs::metadata(env.dir.join("small")).unwrap().len(),
        4096
    );
}

#[test]
fn raw_store_refuses_to_overwrite_a_value() {
    let env = Env::new();
    env.ok(&["store", "v", "value"]);
    let r = env.run(&["store", "--raw", "v", "plain"], b"");
    r.expect_error(USAGE, "v");
    assert!(r.stderr_str().contains("mmf rm v"), "{}", r.explain());
}

#[test]
fn broken_pipe_exits_0() {
    let env = Env::new();
    let big: Vec<u8> = vec![b'x'; 8 << 20];
    env.run(&["store", "--raw", "big"], &big).expect_code(0);
    for args in [
        &["dump", "big"][..],
        &["retrieve", "big"],
        &["dump", "big", "--hex"],
    ] {
        let mut c = env.cmd(args);
        c.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        let mut first = [0u8; 1];
        std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
        drop(child.stdout.take());
        let out = wait_output(child, Duration::from_secs(30), "mmf with a closed stdout");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stderr, b"", "{args:?}");
    }
}

// ---- shared values: versions, watch, info ----

#[test]
fn watch_prints_each_new_value_until_interrupted() {
    let env = Env::new();
    env.ok(&["store", "w", "first"]);
    let limit = Duration::from_secs(30);
    let mut json = Background::spawn(env.cmd(&["watch", "w", "--json"]));
    let mut text = Background::spawn(env.cmd(&["watch", "w"]));
    json.expect_stdout_line(r#"{"version":1,"value":"first"}"#, limit);
    text.expect_stdout_line("first", limit);
    env.ok(&["store", "w", "second"]);
    json.expect_stdout_line(r#"{"version":2,"value":"second"}"#, limit);
    text.expect_stdout_line("second", limit);
    env.run(&["store", "w"], &[0xff, 0x00, 0x41]).expect_code(0);
    json.expect_stdout_line(r#"{"version":3,"value_base64":"/wBB"}"#, limit);
    for (bg, sig) in [(&mut json, "INT"), (&mut text, "TERM")] {
        signal(bg.child.id(), sig);
        assert_eq!(bg.wait(limit).code(), Some(0), "watch after SIG{sig}");
    }
}

#[test]
fn watch_waits_for_a_value_to_appear() {
    let env = Env::new();
    let limit = Duration::from_secs(30);
    let mut w = Background::spawn(env.cmd(&["watch", "later", "--wait", "--json"]));
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        w.child.try_wait().unwrap().is_none(),
        "it must still be waiting"
    );
    env.ok(&["store", "later", "now"]);
    w.expect_stdout_line(r#"{"version":1,"value":"now"}"#, limit);
    signal(w.child.id(), "INT");
    assert_eq!(w.wait(limit).code(), Some(0));
}

/// A value that exists but holds nothing yet (persistent: it outlives this handle).
fn empty_value(env: &Env, name: &str) {
    let v = mmf::ValueOptions::new()
        .dir(&env.dir)
        .lifetime(mmf::Lifetime::Persistent)
        .create(name)
        .unwrap();
    assert_eq!(v.version(), 0);
}

#[test]
fn watch_follows_a_value_removed_and_created_again() {
    let env = Env::new();
    let limit = Duration::from_secs(30);
    env.ok(&["store", "again", "first"]);
    let mut w = Background::spawn(env.cmd(&["watch", "again", "--json"]));
    w.expect_stdout_line(r#"{"version":1,"value":"first"}"#, limit);
    env.ok(&["rm", "again"]);
    w.wait_for_line("was removed; waiting for it to be created again", limit);
    env.ok(&["store", "again", "second life"]);
    // The new object's versions start again.
    w.expect_stdout_line(r#"{"version":1,"value":"second life"}"#, limit);
    w.wait_for_line("was created again", limit);
    env.ok(&["store", "again", "more"]);
    w.expect_stdout_line(r#"{"version":2,"value":"more"}"#, limit);
    signal(w.child.id(), "HUP");
    assert_eq!(w.wait(limit).code(), Some(0), "watch after SIGHUP");
}

#[test]
fn watch_timeout_alone_gives_up_when_nothing_arrives() {
    let env = Env::new();
    empty_value(&env, "quiet");
    let r = env.run(&["watch", "quiet", "--timeout", "0.2"], b"");
    r.expect_error(TIMEOUT, "quiet");
    // A value shown in time: the watch goes on after the timeout, until interrupted.
    let limit = Duration::from_secs(30);
    let mut w = Background::spawn(env.cmd(&["watch", "quiet", "--timeout", "0.2"]));
    env.ok(&["store", "quiet", "in time"]);
    w.expect_stdout_line("in time", limit);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        w.child.try_wait().unwrap().is_none(),
        "it must still be watching"
    );
    signal(w.child.id(), "TERM");
    assert_eq!(w.wait(limit).code(), Some(0));
}

#[test]
fn watch_wait_timeout_gives_up_on_an_empty_value_and_a_missing_one() {
    let env = Env::new();
    empty_value(&env, "empty");
    let r = env.run(&["watch", "empty", "--wait", "--timeout", "0.2"], b"");
    r.expect_error(TIMEOUT, "empty");
    let r = env.run(&["watch", "missing", "--wait", "--timeout", "0.2"], b"");
    r.expect_error(TIMEOUT, "missing");
}

#[test]
fn watch_ends_on_signals_while_it_waits_for_a_missing_object() {
    let env = Env::new();
    let limit = Duration::from_secs(30);
    for sig in ["INT", "TERM", "HUP"] {
        let mut w = Background::spawn(env.cmd(&["watch", "absent", "--wait"]));
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            w.child.try_wait().unwrap().is_none(),
            "it must still be waiting"
        );
        signal(w.child.id(), sig);
        assert_eq!(w.wait(limit).code(), Some(0), "watch --wait after SIG{sig}");
    }
}

#[test]
fn watch_refuses_a_plain_object() {
    let env = Env::new();
    env.ok(&["store", "--raw", "p", "plain"]);
    let r = env.run(&["watch", "p"], b"");
    r.expect_error(USAGE, "p");
}

#[test]
fn wait_returns_once_a_value_is_stored() {
    let env = Env::new();
    let mut waiter = env.cmd(&["retrieve", "soon", "--wait", "--timeout", "30"]);
    waiter
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = waiter.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // Only a command that is still waiting tests waiting.
    assert!(
        child.try_wait().unwrap().is_none(),
        "it must still be waiting"
    );
    env.ok(&["store", "soon", "a value"]);
    let out = wait_output(child, Duration::from_secs(30), "mmf retrieve --wait");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"a value");
}

#[test]
fn info_shows_a_value_and_its_version() {
    let env = Env::new();
    for v in ["one", "two", "three"] {
        env.ok(&["store", "counted", v]);
    }
    let r = env.ok(&["info", "counted"]);
    let text = r.stdout_str();
    assert!(text.contains("kind:     value"), "{}", r.explain());
    assert!(text.contains("version:  3"), "{}", r.explain());
    assert!(text.contains("value:    5 bytes"), "{}", r.explain());
    let j: serde_json::Value =
        serde_json::from_slice(env.ok(&["info", "counted", "--json"]).stdout()).unwrap();
    assert_eq!(j["kind"], "value");
    assert_eq!(j["version"], 3);
    assert_eq!(j["value_len"], 5);
    let list = env.ok(&["list"]).stdout_str();
    assert!(list.contains("counted") && list.contains("value"), "{list}");
    // --raw reads a value's bytes as a plain object would be read: up to the first NUL.
    let r = env.ok(&["retrieve", "--raw", "counted"]);
    assert!(r.stdout().starts_with(b"MMFVAL"), "{}", r.explain());
}

#[test]
fn a_value_store_refuses_a_plain_object() {
    let env = Env::new();
    env.ok(&["store", "--raw", "p", "plain"]);
    let r = env.run(&["store", "p", "value"], b"");
    r.expect_error(USAGE, "p");
    assert!(r.stderr_str().contains("--raw"), "{}", r.explain());
    // An empty plain object (its first bytes are zeros) is still read as plain, promptly.
    env.ok(&["store", "--raw", "z", ""]);
    assert_eq!(env.ok(&["retrieve", "z"]).stdout(), b"");
    let r = env.run(&["store", "z", "value"], b"");
    r.expect_error(USAGE, "z");
}

/// The process token mmf writes into a value's lock word for `pid` (`FORMAT.md`, process tokens).
fn process_token(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = s[s.rfind(')').unwrap() + 1..].split_whitespace().collect();
    let start: u64 = fields[19].parse().unwrap();
    u64::from((start as u32).max(1)) << 32 | u64::from(pid)
}

/// Writes the lock word of the value in `path` (offset 128, `FORMAT.md`).
fn set_lock_word(path: &std::path::Path, token: u64) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(&token.to_le_bytes(), 128).unwrap();
}

#[test]
fn store_gives_up_on_a_writer_lock_another_process_keeps() {
    let env = Env::new();
    env.ok(&["store", "locked", "before"]);
    // A lock word naming a live process (this test) that never releases it.
    let me = std::process::id();
    set_lock_word(&env.dir.join("locked"), process_token(me));
    let r = env.run(&["store", "--timeout", "0.3", "locked", "after"], b"");
    r.expect_error(TIMEOUT, "locked");
    let err = r.stderr_str();
    assert!(
        err.contains(&format!("held by pid {me}")),
        "{}",
        r.explain()
    );
    assert!(err.contains("waited"), "{}", r.explain());
    assert_eq!(env.ok(&["retrieve", "locked"]).stdout(), b"before");
    set_lock_word(&env.dir.join("locked"), 0);
    env.ok(&["store", "--timeout", "0.3", "locked", "after"]);
    assert_eq!(env.ok(&["retrieve", "locked"]).stdout(), b"after");
}

/// A store that runs out of space fails (status 1, one line) and leaves no object behind: not an
/// empty value, not a half-made plain object.
#[test]
fn a_store_that_runs_out_of_space_leaves_nothing() {
    let env = Env::new();
    let Some(small) = SmallTmpfs::mount(env.dir.join("small")) else {
        return;
    };
    let dir = small.dir.to_str().unwrap();
    let big = pattern(2 << 20); // twice the filesystem
    for extra in [&[][..], &["--raw"], &["--hold"]] {
        let mut args = vec!["--dir", dir, "store", "big"];
        args.extend_from_slice(extra);
        let r = env.run(&args, &big);
        r.expect_code(1);
        let err = r.stderr_str();
        assert!(err.contains("out of space"), "{extra:?}{}", r.explain());
        assert!(
            err.lines().any(|l| l.contains("\"big\"")),
            "{}",
            r.explain()
        );
        let left: Vec<_> = std::fs::read_dir(&small.dir).unwrap().collect();
        assert!(left.is_empty(), "{extra:?} left {left:?}{}", r.explain());
        assert_eq!(env.ok(&["--dir", dir, "list"]).stdout(), b"", "{extra:?}");
    }
    // What fits still stores.
    env.ok(&["--dir", dir, "store", "small", "fits"]);
    assert_eq!(
        env.ok(&["--dir", dir, "retrieve", "small"]).stdout(),
        b"fits"
    );
}

/// A shared value whose magic is damaged (bits flipped, zeroed, overwritten) is a `Corrupt` error
/// for `retrieve`, `watch` and `store`, not a plain object whose header is printed as data; plain
/// objects, even ones whose text starts like the magic, are still read as plain.
#[test]
fn a_value_with_a_damaged_magic_is_an_error_not_plain_bytes() {
    use std::os::unix::fs::FileExt;
    let env = Env::new();
    for (name, head) in [
        ("flipped", *b"LMFVAL\0\x01"),
        ("zeroed", [0u8; 8]),
        ("overwritten", *b"NOTVALUE"),
    ] {
        env.ok(&["store", name, "secret"]);
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(env.dir.join(name))
            .unwrap();
        f.write_all_at(&head, 0).unwrap();
        for args in [
            &["retrieve", name][..],
            &["watch", name],
            &["store", name, "v"],
        ] {
            let r = env.run(args, b"");
            r.expect_error(1, name);
            assert!(
                r.stderr_str().contains("magic is damaged"),
                "{args:?}{}",
                r.explain()
            );
        }
        // Its bytes are still there for whoever asks for them.
        env.ok(&["retrieve", "--raw", name]);
    }
    for text in ["MMFVAL is text, not a header", "MMFVAL"] {
        env.ok(&["store", "--raw", "text", text]);
        assert_eq!(env.ok(&["retrieve", "text"]).stdout(), text.as_bytes());
    }
}

// ---- lifetimes: --hold, kill -9 and gc ----

/// `mmf store --hold`, kill -9, then `mmf gc` removes the object and `mmf list` stops showing it.
fn gc_after_kill_9(raw: bool) {
    let env = Env::new();
    let name = if raw { "held-raw" } else { "held-value" };
    let mut args = vec!["store", "--hold", name, "held"];
    if raw {
        args.push("--raw");
    }
    let mut bg = Background::spawn(env.cmd(&args));
    bg.wait_for_line("holding", Duration::from_secs(30));
    let list = env.ok(&["list"]).stdout_str();
    let line = list
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("{name} not listed:\n{list}"));
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&cols[3..5], &["handle", "1"], "{line}");
    assert_eq!(env.ok(&["retrieve", name]).stdout(), b"held");

    signal(bg.child.id(), "KILL");
    bg.wait(Duration::from_secs(30));
    assert!(env.exists(name), "the name stays until someone collects it");
    let gc = env.ok(&["gc"]);
    assert_eq!(
        gc.stdout_str(),
        format!("removed {name}\n"),
        "{}",
        gc.explain()
    );
    assert!(!env.ok(&["list"]).stdout_str().contains(name));
    assert!(!env.exists(name));
}

#[test]
fn gc_removes_a_held_plain_object_after_kill_9() {
    gc_after_kill_9(true);
}

#[test]
fn gc_removes_a_held_value_after_kill_9() {
    gc_after_kill_9(false);
}

#[test]
fn a_held_object_goes_away_on_sigterm_sigint_and_sighup() {
    let env = Env::new();
    for (sig, raw) in [
        ("TERM", true),
        ("INT", true),
        ("TERM", false),
        ("HUP", false),
    ] {
        let mut args = vec!["store", "--hold", "held", "x"];
        if raw {
            args.push("--raw");
        }
        let mut bg = Background::spawn(env.cmd(&args));
        let line = bg.wait_for_line("holding", Duration::from_secs(30));
        assert!(line.contains("\"held\""), "{line}");
        assert!(env.exists("held"));
        signal(bg.child.id(), sig);
        let st = bg.wait(Duration::from_secs(30));
        assert_eq!(st.code(), Some(0), "after SIG{sig}");
        assert!(!env.exists("held"), "after SIG{sig}");
    }
}

/// The `list` row of `name`, split into columns.
fn list_row(env: &Env, name: &str) -> Vec<String> {
    let list = env.ok(&["list"]).stdout_str();
    let line = list
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("{name} not listed:\n{list}"));
    line.split_whitespace().map(str::to_owned).collect()
}

/// Two `mmf store --hold` of one name: the second joins the first as a holder (as Win32's
/// `CreateFileMapping` opens an existing object), both are counted, killing either leaves the
/// object and the latest value, and once both are gone `mmf gc` removes it.
#[test]
fn a_second_hold_joins_the_first_as_a_holder() {
    let limit = Duration::from_secs(30);
    for (raw, kill_first) in [(false, 0), (true, 1), (false, 1)] {
        let env = Env::new();
        let name = "joined";
        let hold = |value: &str| {
            let mut args = vec!["store", "--hold", name, value];
            if raw {
                args.push("--raw");
            }
            Background::spawn(env.cmd(&args))
        };
        let mut a = hold("from-a");
        let line = a.wait_for_line("holding", limit);
        assert!(!line.contains("already exists"), "{line}");
        let mut b = hold("from-b");
        let line = b.wait_for_line("holding", limit);
        assert!(line.contains("already exists"), "{line}");
        assert!(line.contains("last of them"), "{line}");
        let row = list_row(&env, name);
        assert_eq!(&row[3..5], ["handle", "2"], "raw {raw}: {row:?}");
        assert_eq!(env.ok(&["retrieve", name]).stdout(), b"from-b");

        let (first, second) = if kill_first == 0 { (a, b) } else { (b, a) };
        for (i, mut bg) in [first, second].into_iter().enumerate() {
            signal(bg.child.id(), "KILL");
            bg.wait(limit);
            if i == 0 {
                // The other holder keeps it, with the latest value; gc leaves it alone.
                assert!(env.exists(name), "raw {raw}");
                assert_eq!(env.ok(&["retrieve", name]).stdout(), b"from-b");
                assert_eq!(env.ok(&["gc"]).stdout(), b"");
                assert_eq!(&list_row(&env, name)[3..5], ["handle", "1"]);
            }
        }
        let gc = env.ok(&["gc"]);
        assert_eq!(
            gc.stdout_str(),
            format!("removed {name}\n"),
            "{}",
            gc.explain()
        );
        assert!(!env.exists(name), "raw {raw}");
    }
}

/// `--hold` of a persistent object holds it and says it stays; it does stay.
#[test]
fn a_hold_of_a_persistent_object_leaves_it_persistent() {
    let limit = Duration::from_secs(30);
    let env = Env::new();
    for raw in [true, false] {
        let name = if raw { "kept-raw" } else { "kept-value" };
        let mut store = vec!["store", name, "first"];
        let mut hold = vec!["store", "--hold", name, "second"];
        if raw {
            store.push("--raw");
            hold.push("--raw");
        }
        env.ok(&store);
        let mut bg = Background::spawn(env.cmd(&hold));
        let line = bg.wait_for_line("holding", limit);
        assert!(line.contains("is persistent"), "{line}");
        assert!(line.contains(&format!("mmf rm {name}")), "{line}");
        assert_eq!(&list_row(&env, name)[3..5], ["persistent", "1"]);
        signal(bg.child.id(), "TERM");
        assert_eq!(bg.wait(limit).code(), Some(0));
        assert!(env.exists(name));
        assert_eq!(env.ok(&["retrieve", name]).stdout(), b"second");
        env.ok(&["gc"]);
        assert!(env.exists(name), "gc leaves a persistent object");
    }
}

#[test]
fn a_persistent_value_stays_until_rm() {
    let env = Env::new();
    env.ok(&["store", "--raw", "stays", "x"]);
    let list = env.ok(&["list"]).stdout_str();
    assert!(list.contains("persistent"), "{list}");
    env.ok(&["gc"]);
    assert!(env.exists("stays"));
    env.ok(&["rm", "stays"]);
    assert!(!env.exists("stays"));
}

// ---- list, info, dump, --dir, completions, man ----

#[test]
fn list_and_info_describe_objects() {
    let env = Env::new();
    env.ok(&["store", "--raw", "plain-one", "text"]);
    let r = env.ok(&["list"]);
    let text = r.stdout_str();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "SIZE", "KIND", "LIFETIME", "HOLDERS", "OWNER"]
    );
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        &row[..5],
        &["plain-one", "4096", "plain", "persistent", "0"]
    );

    let r = env.ok(&["info", "plain-one"]);
    assert!(
        r.stdout_str().contains("kind:     plain"),
        "{}",
        r.explain()
    );
    let j: serde_json::Value =
        serde_json::from_slice(env.ok(&["info", "plain-one", "--json"]).stdout()).unwrap();
    assert_eq!(j["size"], 4096);
    assert_eq!(j["lifetime"], "persistent");
    assert_eq!(j["made_by_mmf"], true);
    assert_eq!(j["mode"], "0600");

    // An empty directory lists nothing.
    let empty = Env::new();
    assert_eq!(empty.ok(&["list"]).stdout(), b"");
    assert_eq!(empty.ok(&["list", "--json"]).stdout_str(), "[]\n");
}

/// Names holding a newline or a terminal escape are shown escaped by `list`, `info` and `gc`, so
/// they cannot forge rows or drive the terminal; `--json` carries them exactly.
#[test]
fn unprintable_names_are_escaped_in_human_output() {
    let env = Env::new();
    let forged = "evil\nforged  4096  value  persistent  0  root";
    let esc = "esc\u{1b}[2Jx";
    for name in [forged, esc] {
        env.ok(&["store", "--raw", name, "x"]);
    }
    let r = env.ok(&["list"]);
    let out = r.stdout_str();
    assert_eq!(out.lines().count(), 3, "{}", r.explain());
    assert!(!out.contains('\u{1b}'), "{}", r.explain());
    assert!(out.contains("evil\\nforged"), "{}", r.explain());
    assert!(out.contains("esc\\u{1b}[2Jx"), "{}", r.explain());
    assert!(
        !out.lines().any(|l| l.starts_with("forged")),
        "{}",
        r.explain()
    );

    let j: serde_json::Value =
        serde_json::from_slice(env.ok(&["list", "--json"]).stdout()).unwrap();
    let mut names: Vec<&str> = j
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, [esc, forged]);

    let r = env.ok(&["info", forged]);
    let out = r.stdout_str();
    assert!(
        out.starts_with("name:     evil\\nforged  4096"),
        "{}",
        r.explain()
    );
    assert!(
        !out.lines().any(|l| l.starts_with("forged")),
        "{}",
        r.explain()
    );
    let r = env.ok(&["info", esc]);
    assert!(!r.stdout_str().contains('\u{1b}'), "{}", r.explain());

    // gc: a handle-lifetime object whose holder was killed.
    let held = "held\nforged";
    let mut bg = Background::spawn(env.cmd(&["store", "--hold", held, "x"]));
    bg.wait_for_line("holding", Duration::from_secs(30));
    signal(bg.child.id(), "KILL");
    bg.wait(Duration::from_secs(30));
    let gc = env.ok(&["gc"]);
    assert_eq!(
        gc.stdout_str(),
        "removed held\\nforged\n",
        "{}",
        gc.explain()
    );
}

#[test]
fn dir_flag_overrides_the_environment() {
    let a = Env::new();
    let b = Env::new();
    a.ok(&[
        "--dir",
        b.dir.to_str().unwrap(),
        "store",
        "--raw",
        "elsewhere",
        "x",
    ]);
    assert!(b.exists("elsewhere") && !a.exists("elsewhere"));
    let r = a.ok(&["list", "--dir", b.dir.to_str().unwrap()]);
    assert!(r.stdout_str().contains("elsewhere"), "{}", r.explain());
}

#[test]
fn dump_writes_raw_bytes_and_a_hex_view() {
    let env = Env::new();
    env.ok(&["store", "--raw", "d", "Hello"]);
    let r = env.ok(&["dump", "d"]);
    assert_eq!(r.stdout().len(), 4096);
    assert_eq!(&r.stdout()[..6], b"Hello\0");
    let r = env.ok(&["dump", "d", "--offset", "1", "--len", "4"]);
    assert_eq!(r.stdout(), b"ello");
    let r = env.ok(&["dump", "d", "--len", "32", "--hex"]);
    assert_eq!(
        r.stdout_str(),
        "00000000  48 65 6c 6c 6f 00 00 00  00 00 00 00 00 00 00 00  |Hello...........|\n\
         00000010  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n\
         00000020\n"
    );
    env.run(&["dump", "d", "--offset", "5000"], b"")
        .expect_error(USAGE, "d");
    assert_eq!(env.ok(&["dump", "d", "--offset", "4096"]).stdout(), b"");
}

#[test]
fn completions_and_man_page_are_generated() {
    let env = Env::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let r = env.ok(&["completions", shell]);
        assert!(
            r.stdout_str().contains("retrieve"),
            "{shell}{}",
            r.explain()
        );
    }
    let man = env.ok(&["man"]).stdout_str();
    assert!(man.starts_with(".ie") || man.contains(".TH mmf"), "{man}");
    let out = env.dir.join("man");
    env.ok(&["man", "--out", out.to_str().unwrap()]);
    for page in ["mmf.1", "mmf-store.1", "mmf-retrieve.1", "mmf-dialog.1"] {
        assert!(out.join(page).is_file(), "{page} missing");
    }
}

/// Unmounts a directory on drop.
struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn dump_and_retrieve_on_a_full_tmpfs_fail_with_a_message_not_sigbus() {
    let env = Env::new();
    match Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "mmf-cli-test"])
        .arg(&env.dir)
        .output()
    {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            let why = String::from_utf8_lossy(&o.stderr);
            println!("SKIPPED: cannot mount a small tmpfs: {}", why.trim());
            return;
        }
        Err(e) => {
            println!("SKIPPED: cannot run mount: {e}");
            return;
        }
    }
    let _unmount = Unmount(env.dir.clone());
    // A foreign object as Python's SharedMemory(size=...) makes it: ftruncate only, larger than
    // the file system.
    std::fs::File::create(env.dir.join("sparse"))
        .unwrap()
        .set_len(4 << 20)
        .unwrap();
    // A value whose pages after the first are holes again.
    env.run(&["store", "value"], &pattern(12_000))
        .expect_code(0);
    let m = mmf::OpenOptions::new().dir(&env.dir).open("value").unwrap();
    let page = 4096;
    let holes = (m.len() as usize - page) / page * page;
    m.map_mut().unwrap().decommit(page, holes).unwrap();
    drop(m);
    // Fill the file system.
    let mut filler = std::fs::File::create(env.dir.join("filler")).unwrap();
    loop {
        use std::io::Write;
        match filler.write_all(&[1u8; 4096]) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
            Err(e) => panic!("filling the tmpfs: {e}"),
        }
    }

    let r = env.run(&["dump", "sparse"], b"");
    r.expect_error(1, "sparse");
    assert!(r.stderr_str().contains("out of space"), "{}", r.explain());
    let r = env.run(&["dump", "--hex", "value"], b"");
    r.expect_error(1, "value");
    let r = env.run(&["retrieve", "value"], b"");
    r.expect_error(1, "value");
    assert!(r.stderr_str().contains("out of space"), "{}", r.explain());
}

// ---- rough edges: --raw into small objects, other owners, /dev/full, --dir, rm, --quiet ----

/// `--raw` writes into an existing plain object of any size when the value and its NUL fit (the
/// object is made as Python's `SharedMemory(create=True, size=64)` makes it: a 64-byte file), and
/// says how much fits when the value does not.
#[test]
fn raw_store_writes_into_a_small_foreign_object() {
    let env = Env::new();
    std::fs::File::create(env.dir.join("small"))
        .unwrap()
        .set_len(64)
        .unwrap();
    env.ok(&["store", "--raw", "small", "from the CLI"]);
    assert_eq!(env.ok(&["retrieve", "small"]).stdout(), b"from the CLI");
    let fits = "x".repeat(63);
    env.ok(&["store", "--raw", "small", &fits]);
    assert_eq!(env.ok(&["retrieve", "small"]).stdout(), fits.as_bytes());
    assert_eq!(
        std::fs::metadata(env.dir.join("small")).unwrap().len(),
        64,
        "the object keeps its size"
    );
    let r = env.run(&["store", "--raw", "small", &"y".repeat(64)], b"");
    r.expect_error(1, "small");
    let err = r.stderr_str();
    assert!(err.contains("at most 63 bytes fit"), "{}", r.explain());
    assert!(!err.contains("--size"), "{}", r.explain());
    // Nothing was written.
    assert_eq!(env.ok(&["retrieve", "small"]).stdout(), fits.as_bytes());
    // An empty object holds not even the NUL: a stream of unknown length (stdin, over the first
    // 1 MiB piece) into it is refused, not a crash.
    std::fs::File::create(env.dir.join("empty")).unwrap();
    let r = env.run(&["store", "--raw", "empty"], &vec![b'z'; 3 << 20]);
    r.expect_error(1, "empty");
    assert!(
        r.stderr_str().contains("at most 0 bytes fit"),
        "{}",
        r.explain()
    );
}

/// The same with an object Python made, in /dev/shm.
#[test]
fn raw_store_writes_into_a_64_byte_python_object() {
    let name = ShmName(format!("mmf-cli-test-py64-{}", unique()));
    python(PY_WRITE, &[&name.0, &hex(b"py"), "64"]);
    mmf_default(&["store", "--raw", &name.0, "into python's"]).expect_code(0);
    let out = python(PY_READ, &[&name.0]);
    assert_eq!(out, format!("{}\n64\n", hex(b"into python's")));
}

/// Every write to /dev/full fails, and so does the command: help and version included.
#[test]
fn output_to_dev_full_exits_1() {
    let env = Env::new();
    env.ok(&["store", "--raw", "x", "text"]);
    for args in [
        &["--help"][..],
        &["-h"],
        &["--version"],
        &["store", "--help"],
        &["help"],
        &["list"],
        &["retrieve", "x"],
        &["completions", "bash"],
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let mut c = env.cmd(args);
        c.stdout(full).stderr(std::process::Stdio::piped());
        let out = wait_output(
            c.spawn().unwrap(),
            Duration::from_secs(30),
            "mmf > /dev/full",
        );
        assert_eq!(
            out.status.code(),
            Some(1),
            "mmf {args:?} > /dev/full: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.stderr.is_empty(), "mmf {args:?}: no message");
    }
}

#[test]
fn a_missing_directory_is_a_usage_error() {
    let env = Env::new();
    let missing = env.dir.join("no-such-dir");
    let missing = missing.to_str().unwrap();
    for args in [
        &["--dir", missing, "list"][..],
        &["--dir", missing, "retrieve", "x"],
        &["store", "--dir", missing, "x", "v"],
    ] {
        let r = env.run(args, b"");
        r.expect_code(USAGE);
        let err = r.stderr_str();
        assert_eq!(err.lines().count(), 1, "{}", r.explain());
        assert!(
            err.contains(missing) && err.contains("does not exist"),
            "{}",
            r.explain()
        );
        assert_eq!(err.matches("not exist").count(), 1, "{}", r.explain());
    }
    let mut c = env.cmd(&["list"]);
    c.env("MMF_DIR", missing);
    let r = run_with_input(&mut c, b"");
    r.expect_code(USAGE);
    assert!(r.stderr_str().contains("$MMF_DIR"), "{}", r.explain());
}

#[test]
fn rm_takes_several_names_and_force_ignores_missing_ones() {
    let env = Env::new();
    env.ok(&["store", "--raw", "a", "1"]);
    env.ok(&["store", "b", "2"]);
    let r = env.ok(&["rm", "-f", "a", "b", "missing"]);
    assert_eq!(r.stderr_str(), "", "{}", r.explain());
    assert!(!env.exists("a") && !env.exists("b"));
    env.ok(&["rm", "--force", "missing"]);
    // Without -f a missing name fails (status 3) after the others are removed.
    env.ok(&["store", "--raw", "c", "3"]);
    let r = env.run(&["rm", "missing", "c"], b"");
    r.expect_error(NOT_FOUND, "missing");
    assert!(!env.exists("c"));
    let r = env.run(&["rm", "gone1", "gone2"], b"");
    r.expect_code(NOT_FOUND);
    let err = r.stderr_str();
    assert_eq!(err.lines().count(), 2, "{}", r.explain());
    assert!(err.contains("\"gone1\"") && err.contains("\"gone2\""));
    // -f does not hide a bad name.
    env.run(&["rm", "-f", "a/b"], b"")
        .expect_error(USAGE, "a/b");
}

#[test]
fn quiet_drops_notes_and_warnings_but_not_errors() {
    let env = Env::new();
    let r = env.run(&["store", "--raw", "nul", "-"], b"a\0b");
    r.expect_code(0);
    assert!(r.stderr_str().contains("warning"), "{}", r.explain());
    for q in ["-q", "--quiet"] {
        let r = env.run(&[q, "store", "--raw", "nul", "-"], b"a\0b");
        r.expect_code(0);
        assert_eq!(r.stderr_str(), "", "{}", r.explain());
        let r = env.run(&["store", "--raw", "nul", "-", q], b"a\0b");
        assert_eq!(r.stderr_str(), "", "{}", r.explain());
        env.run(&[q, "retrieve", "nope"], b"")
            .expect_error(NOT_FOUND, "nope");
    }
    // A --hold with -q says nothing, and still holds.
    let mut bg = Background::spawn(env.cmd(&["-q", "store", "--hold", "held", "x"]));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !env.exists("held") {
        assert!(std::time::Instant::now() < deadline, "watchdog: never held");
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(bg.child.id(), "TERM");
    assert_eq!(bg.wait(Duration::from_secs(30)).code(), Some(0));
    assert!(!env.exists("held"));
}

/// A second user for `--allow-other-owner`, created when we are root; `None` (after `SKIPPED:`)
/// otherwise.
fn peer_user() -> Option<String> {
    let name = "mmf-test-peer";
    let exists = |n: &str| {
        Command::new("id")
            .arg(n)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if exists(name) {
        return Some(name.to_owned());
    }
    let out = Command::new("useradd")
        .args([
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            name,
        ])
        .output();
    match out {
        Ok(o) if o.status.success() || exists(name) => Some(name.to_owned()),
        Ok(o) => {
            println!(
                "SKIPPED: cannot create a second user: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            None
        }
        Err(e) => {
            println!("SKIPPED: cannot run useradd: {e}");
            None
        }
    }
}

/// Another user's objects are refused unless `--allow-other-owner` (global or after the
/// command) asks for them, and the refusal says so.
#[test]
fn another_users_object_needs_allow_other_owner() {
    let Some(user) = peer_user() else { return };
    let env = Env::new();
    // The peer must be able to create names in the directory (as in /dev/shm) and run mmf.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&env.dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let as_peer = |args: &[&str]| {
        let mut c = Command::new("setpriv");
        c.args(["--reuid", &user, "--regid", &user, "--clear-groups", MMF])
            .args(args)
            .env("MMF_DIR", &env.dir)
            .current_dir(&env.dir);
        run_with_input(&mut c, b"")
    };
    let r = as_peer(&["--version"]);
    if r.code() != Some(0) {
        println!("SKIPPED: the second user cannot run mmf:{}", r.explain());
        return;
    }
    as_peer(&["store", "--raw", "--mode", "644", "peer-plain", "planted"]).expect_code(0);
    as_peer(&["store", "--mode", "644", "peer-value", "planted value"]).expect_code(0);
    for (name, want) in [
        ("peer-plain", &b"planted"[..]),
        ("peer-value", b"planted value"),
    ] {
        let r = env.run(&["retrieve", name], b"");
        r.expect_error(1, name);
        assert!(
            r.stderr_str().contains("--allow-other-owner"),
            "{}",
            r.explain()
        );
        for args in [
            &["--allow-other-owner", "retrieve", name][..],
            &["retrieve", name, "--allow-other-owner"],
        ] {
            assert_eq!(env.ok(args).stdout(), want, "{args:?}");
        }
    }
    env.run(&["store", "--raw", "peer-plain", "mine"], b"")
        .expect_error(1, "peer-plain");
    env.ok(&[
        "store",
        "--raw",
        "--allow-other-owner",
        "peer-plain",
        "mine",
    ]);
    assert_eq!(
        as_peer(&["retrieve", "peer-plain"]).stdout(),
        b"mine",
        "the peer reads what was stored into its object"
    );
    let help = env.ok(&["--help"]).stdout_str();
    assert!(help.contains("squatter"), "{help}");
}

// ---- doctor ----

/// The check names `mmf doctor` reports, in order.
const DOCTOR_CHECKS: [&str; 12] = [
    "directory",
    "filesystem",
    "size",
    "handle lifetime",
    "user xattrs",
    "systemd RemoveIPC",
    "container",
    "memory cgroup",
    "vm.max_map_count",
    "vm.overcommit_memory",
    "huge pages",
    "kernel",
];

#[test]
fn doctor_checks_this_machine() {
    let env = Env::new();
    let r = env.ok(&["doctor"]);
    let out = r.stdout_str();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), DOCTOR_CHECKS.len(), "{}", r.explain());
    for (line, name) in lines.iter().zip(DOCTOR_CHECKS) {
        // The status in a column of 4, two spaces, then the check's name.
        let (status, rest) = line.split_at(6);
        assert!(
            ["ok", "info", "warn"].contains(&status.trim()),
            "{line}{}",
            r.explain()
        );
        assert!(rest.starts_with(&format!("{name}: ")), "{line}");
    }
    assert!(
        out.contains("ok    handle lifetime: works"),
        "{}",
        r.explain()
    );
    assert!(out.contains("ok    directory: "), "{}", r.explain());
    // It leaves nothing behind.
    let left: Vec<_> = std::fs::read_dir(&env.dir).unwrap().collect();
    assert!(left.is_empty(), "left {left:?}");

    let r = env.ok(&["doctor", "--json"]);
    let j: serde_json::Value = serde_json::from_slice(r.stdout()).unwrap();
    assert_eq!(j["ok"], true, "{}", r.explain());
    let checks = j["checks"].as_array().unwrap();
    let names: Vec<&str> = checks
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    assert_eq!(names, DOCTOR_CHECKS);
    for c in checks {
        assert!(
            ["ok", "info", "warn"].contains(&c["status"].as_str().unwrap()),
            "{c}"
        );
        assert!(c["detail"].is_string() && (c["advice"].is_null() || c["advice"].is_string()));
    }
}

#[test]
fn doctor_reports_a_small_filesystem_and_a_missing_directory() {
    let env = Env::new();
    let missing = env.dir.join("missing");
    let r = env.run(&["doctor", "--dir", missing.to_str().unwrap()], b"");
    r.expect_code(1);
    assert!(
        r.stdout_str().starts_with("FAIL  directory: "),
        "{}",
        r.explain()
    );
    assert_eq!(r.stderr_str().lines().count(), 1, "{}", r.explain());
    assert!(r.stderr_str().contains("directory"), "{}", r.explain());
    let r = env.run(
        &["doctor", "--json", "--dir", missing.to_str().unwrap()],
        b"",
    );
    r.expect_code(1);
    let j: serde_json::Value = serde_json::from_slice(r.stdout()).unwrap();
    assert_eq!(j["ok"], false);
    assert_eq!(j["checks"][0]["status"], "fail");

    let Some(small) = SmallTmpfs::mount(env.dir.join("small")) else {
        return;
    };
    let r = env.ok(&["doctor", "--dir", small.dir.to_str().unwrap()]);
    let line = r
        .stdout_str()
        .lines()
        .find(|l| l.contains("size: "))
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no size line{}", r.explain()));
    assert!(line.starts_with("warn  size: 1 MiB in all"), "{line}");
    assert!(
        line.contains("--shm-size") && line.contains("emptyDir"),
        "{line}"
    );
    let j: serde_json::Value = serde_json::from_slice(
        env.ok(&["doctor", "--json", "--dir", small.dir.to_str().unwrap()])
            .stdout(),
    )
    .unwrap();
    assert_eq!(j["checks"][2]["status"], "warn");
}

/// The README's copy of `mmf --help` is the real output.
#[test]
fn readme_shows_the_real_help() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md beside the crates");
    let start = readme
        .find("$ mmf --help\n")
        .expect("README shows `$ mmf --help`")
        + "$ mmf --help\n".len();
    let end = start + readme[start..].find("```").unwrap();
    let mut c = Command::new(MMF);
    c.arg("--help").env_remove("COLUMNS");
    let r = run_with_input(&mut c, b"");
    r.expect_code(0);
    assert_eq!(
        &readme[start..end],
        r.stdout_str(),
        "update the README's `mmf --help` block"
    );
}
