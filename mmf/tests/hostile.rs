//! Careless and hostile peers, and machines with less than this one: a peer that writes another
//! user's object, `gc` running while objects are created, inherited-handle tokens that name the
//! wrong descriptor, and memory cgroups. Real processes throughout; tests that need root print
//! `SKIPPED:` without it, and fail instead under CI (`CI=true`), where they must run.
#![cfg(target_os = "linux")]

mod common;

use common::{check, helper, read_line, start_helper, unique, wait_output, Dir};
use mmf::{Access, Commit, CreateOptions, Lifetime, Mapping, Namespace, Permissions};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Skips a test that lacks a privilege, or fails it in CI, where it must run.
fn skip(why: &str) {
    if std::env::var_os("CI").map_or(false, |v| v == "true") {
        panic!("this test must run in CI but cannot: {}", why);
    }
    println!("SKIPPED: {}", why);
}

// --- Mapping::from_inherited validates before it takes ----------------------------------------

#[test]
fn takeover_refuses_standard_streams_and_owned_files_and_leaves_them_alone() {
    // Standard input is a regular file here, the case where only the 0-2 rule can refuse: the
    // helper builds tokens with the exact device and inode of 0, 1, 2 and of an open File.
    let input = common::TempPath::new("stdin");
    std::fs::write(&input.0, b"not an object").unwrap();
    let child = helper()
        .arg("takeover-std")
        .stdin(std::fs::File::open(&input.0).unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_output(child, Duration::from_secs(60));
    let text = check(&out, "takeover-std");
    for label in ["0", "1", "2", "file"] {
        assert!(
            text.contains(&format!("refused {}: ", label)),
            "no refusal for {}: {}",
            label,
            text
        );
    }
    assert!(
        text.contains("standard input, output and error"),
        "{}",
        text
    );
    assert!(text.contains("belongs to this process"), "{}", text);
    assert!(text.ends_with("intact"), "{}", text);
}

#[test]
fn takeover_refuses_a_descriptor_number_reused_by_another_file() {
    let m = Mapping::anonymous(4096).unwrap();
    let mut cmd = helper();
    let h = m.inherit(&mut cmd).unwrap();
    cmd.arg("takeover-reused")
        .env("MMF_HANDLE", h.token())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    drop(h);
    let out = wait_output(child, Duration::from_secs(60));
    let text = check(&out, "takeover-reused");
    assert!(text.contains("now names another file"), "{}", text);
    assert!(text.ends_with("intact"), "{}", text);
}

#[test]
fn takeover_refuses_a_token_of_the_wrong_kind() {
    // A real named object handed over under a token that claims it is anonymous.
    let dir = Dir::shared("kind");
    let name = unique("obj");
    let m = CreateOptions::new()
        .dir(&dir.0)
        .size(4096)
        .create(&name)
        .unwrap();
    let mut cmd = helper();
    let h = m.inherit(&mut cmd).unwrap();
    let forged = h.token().replacen("mmf:n:", "mmf:a:", 1);
    cmd.args(["inherited", "4"])
        .env("MMF_HANDLE", &forged)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    drop(h);
    let out = wait_output(child, Duration::from_secs(60));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the token says an anonymous object"),
        "{}",
        err
    );
}

// --- Creation that no reaper can interrupt ------------------------------------------------------

fn start(args: &[&str], dir: &Path) -> Child {
    start_helper(dir, args, "looping")
}

#[test]
fn ten_thousand_creates_under_two_gc_loops_never_fail_and_nothing_live_is_removed() {
    let dir = Dir::shared("gc-race");
    let loops = [start(&["gc-loop"], &dir.0), start(&["gc-loop"], &dir.0)];
    let mut opts = CreateOptions::new();
    opts.dir(&dir.0).size(4096);
    let mut open = mmf::OpenOptions::new();
    open.dir(&dir.0);
    // Objects that stay alive throughout: gc must never take them.
    let live: Vec<(String, Mapping)> = (0..32)
        .map(|i| {
            let name = unique("live");
            let m = opts.create(&name).unwrap();
            m.map_mut().unwrap().write_at(0, &[i as u8; 8]).unwrap();
            (name, m)
        })
        .collect();
    let mut failures = Vec::new();
    for i in 0..10_000u32 {
        let name = format!("churn-{}", i % 64);
        match opts.create(&name) {
            Ok(m) => {
                // The name must be there for an opener while we hold it.
                if let Err(e) = open.open(&name) {
                    failures.push(format!("open after create {}: {}", i, e));
                }
                drop(m);
            }
            Err(e) => failures.push(format!("create {}: {}", i, e)),
        }
    }
    for (i, (name, _m)) in live.iter().enumerate() {
        match open.open(name) {
            Ok(again) => assert_eq!(
                again.map().unwrap().read_vec(0, 8).unwrap(),
                vec![i as u8; 8]
            ),
            Err(e) => failures.push(format!("live object {} removed: {}", name, e)),
        }
    }
    let mut reports = Vec::new();
    for mut c in loops {
        drop(c.stdin.take());
        let out = wait_output(c, Duration::from_secs(60));
        reports.push(check(&out, "gc-loop"));
    }
    assert!(
        failures.is_empty(),
        "{} failures: {:?}",
        failures.len(),
        &failures[..failures.len().min(10)]
    );
    for r in &reports {
        assert!(r.ends_with("errors 0"), "gc loop: {}", r);
    }
    drop(live);
    assert!(dir.entries().is_empty(), "left behind: {:?}", dir.entries());
}

// --- A lifetime marker only the owner can set --------------------------------------------------

/// A second user to play the peer, created when we are root; `None` (after `SKIPPED:`) otherwise.
fn peer_user() -> Option<String> {
    let name = "mmf-test-peer";
    if Command::new("id")
        .arg(name)
        .output()
        .map_or(false, |o| o.status.success())
    {
        return Some(name.to_owned());
    }
    match Command::new("useradd")
        .args([
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            name,
        ])
        .output()
    {
        Ok(o) if o.status.success() => Some(name.to_owned()),
        Ok(o) => {
            skip(&format!(
                "cannot create a second user: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ));
            None
        }
        Err(e) => {
            skip(&format!("cannot run useradd: {}", e));
            None
        }
    }
}

/// The helper, run as `user`.
fn as_user(user: &str) -> Command {
    let mut c = Command::new("setpriv");
    c.args(["--reuid", user, "--regid", user, "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_mmf-testhelper"));
    c
}

#[test]
fn a_peer_who_can_write_an_object_cannot_get_it_removed() {
    let user = match peer_user() {
        Some(u) => u,
        None => return,
    };
    let dir = Dir::shared("peer");
    // Objects the peer may write: an mmf persistent object, a shared value, and a foreign one
    // (what C's shm_open or Python's SharedMemory would make with mode 0666).
    let plain = unique("plain");
    let mut opts = CreateOptions::new();
    opts.dir(&dir.0)
        .size(4096)
        .lifetime(Lifetime::Persistent)
        .permissions(Permissions::EVERYONE_READ_WRITE);
    drop(opts.create(&plain).unwrap());
    let value = unique("value");
    let v = mmf::ValueOptions::new()
        .dir(&dir.0)
        .lifetime(Lifetime::Persistent)
        .permissions(Permissions::EVERYONE_READ_WRITE)
        .create(&value)
        .unwrap();
    drop(v);
    let foreign = unique("foreign");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(dir.0.join(&foreign), vec![0u8; 4096]).unwrap();
        std::fs::set_permissions(dir.0.join(&foreign), std::fs::Permissions::from_mode(0o666))
            .unwrap();
    }
    // A handle-lifetime object the owner holds, readable and writable by everyone.
    let held = unique("held");
    let mut hopts = CreateOptions::new();
    hopts
        .dir(&dir.0)
        .size(4096)
        .permissions(Permissions::EVERYONE_READ_WRITE);
    let holder = hopts.create(&held).unwrap();
    let view = holder.map().unwrap();

    for name in [&plain, &value, &foreign, &held] {
        let out = as_user(&user)
            .args(["peer-attack", dir.0.join(name).to_str().unwrap()])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let text = check(&out, "peer-attack");
        assert!(text.contains("sticky refused"), "{}: {}", name, text);
        assert!(
            text.contains("write ok"),
            "the peer can write {}: {}",
            name,
            text
        );
    }
    let ns = Namespace::at(&dir.0);
    for _ in 0..3 {
        ns.list().unwrap();
        assert_eq!(ns.gc().unwrap(), Vec::<String>::new());
    }
    let mut want = vec![plain, value, foreign, held];
    want.sort();
    assert_eq!(dir.entries(), want);
    // The reader's view of the held object is still the object's memory.
    assert_eq!(view.read_vec(0, 1).unwrap(), b"!");
    drop((view, holder));
}

#[test]
fn another_users_abandoned_object_is_never_reaped() {
    let user = match peer_user() {
        Some(u) => u,
        None => return,
    };
    let dir = Dir::shared("theirs");
    let name = unique("obj");
    // The peer creates a handle-lifetime object and is killed: only the peer may reap it.
    let mut child = as_user(&user)
        .args(["create-hold", &name, "4096", "6869"])
        .env("MMF_DIR", &dir.0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (line, _out) = read_line(child.stdout.take().unwrap(), Duration::from_secs(30));
    assert_eq!(line.trim(), "held");
    child.kill().unwrap();
    child.wait().unwrap();
    let ns = Namespace::at(&dir.0);
    assert_eq!(ns.gc().unwrap(), Vec::<String>::new());
    let info = ns.list().unwrap();
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].holders, Some(0));
    assert_eq!(info[0].lifetime, Some(Lifetime::Handle));
    // Opening it (allowed explicitly) does not remove it either.
    let m = mmf::OpenOptions::new()
        .dir(&dir.0)
        .allow_other_owner(true)
        .access(Access::ReadOnly)
        .open(&name)
        .unwrap();
    assert_eq!(m.map().unwrap().read_vec(0, 2).unwrap(), b"hi");
    drop(m);
    assert_eq!(dir.entries(), vec![name.clone()]);
    // Its owner's own gc does reap it.
    let out = as_user(&user)
        .arg("gc-loop")
        .env("MMF_DIR", &dir.0)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    check(&out, "gc as the peer");
    assert!(dir.entries().is_empty());
}

// --- A commit limit like Win32's ----------------------------------------------------------------

#[path = "common/cgroup.rs"]
mod cgroup;

/// A memory cgroup of `limit` bytes below our own, removed on drop; `None` (skipped) if none
/// can be made.
struct Cgroup(cgroup::Cgroup);

impl Cgroup {
    fn new(limit: u64) -> Option<Cgroup> {
        match cgroup::Cgroup::new(limit, &unique("cg")) {
            Ok(c) => Some(Cgroup(c)),
            Err(why) => {
                skip(&format!("no memory cgroup to run in: {}", why));
                None
            }
        }
    }

    /// The helper, started inside this cgroup.
    fn helper(&self, args: &[&str]) -> Command {
        let mut c = self.0.command(env!("CARGO_BIN_EXE_mmf-testhelper"));
        c.args(args);
        c
    }
}

#[test]
fn inside_a_memory_cgroup_oversized_commitments_are_out_of_space_not_oom_kills() {
    let limit: u64 = 128 << 20;
    let cg = match Cgroup::new(limit) {
        Some(c) => c,
        None => return,
    };
    let dir = Dir::shared("cgroup");
    let name = unique("big");
    let child = cg
        .helper(&["commit-limit", &name, &limit.to_string()])
        .env("MMF_DIR", &dir.0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_output(child, Duration::from_secs(120));
    // Killed by the OOM killer, this would be a signal, not an exit status.
    let text = check(&out, "commit-limit in a memory cgroup");
    for kind in [
        "anonymous",
        "terabyte",
        "create",
        "grow",
        "commit",
        "prefault",
        "value",
    ] {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{} ", kind)))
            .unwrap_or_else(|| panic!("no line for {}: {}", kind, text));
        assert!(
            line.starts_with(&format!("{} OutOfSpace: ", kind)),
            "{}",
            line
        );
    }
    let create = text.lines().find(|l| l.starts_with("create ")).unwrap();
    assert!(
        create.contains(&name),
        "the error names the object: {}",
        create
    );
    assert!(
        create.contains("268435456 bytes"),
        "the size asked: {}",
        create
    );
    assert!(
        create.contains("memory cgroup"),
        "what bounds it: {}",
        create
    );
    assert!(dir.entries().is_empty(), "left behind: {:?}", dir.entries());
}

#[test]
fn commitments_that_fit_still_succeed_and_sparse_objects_overcommit_on_purpose() {
    let dir = Dir::shared("fits");
    let name = unique("obj");
    let m = CreateOptions::new()
        .dir(&dir.0)
        .size(8 << 20)
        .create(&name)
        .unwrap();
    m.grow(16 << 20).unwrap();
    let v = m.map_mut().unwrap();
    v.populate().unwrap();
    v.commit(0, v.len()).unwrap(); // already backed: nothing new to find room for
    drop((v, m));
    // Commit::Reserve reserves address space only: larger than the machine is allowed, as Win32's
    // SEC_RESERVE is; nothing is allocated until pages are written.
    let huge = CreateOptions::new()
        .dir(&dir.0)
        .size(1 << 44)
        .commit(Commit::Reserve)
        .create(unique("sparse"))
        .unwrap();
    let w = huge.map_range(0, 4096, Access::ReadWrite).unwrap();
    w.write_at(0, b"sparse").unwrap();
    w.commit(0, 4096).unwrap();
    // (Committing all of it is refused before anything is allocated; that is tested inside a
    // memory cgroup above, where a broken check costs a helper process, not the machine.)
}
