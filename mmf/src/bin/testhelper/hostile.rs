//! Helper commands for the tests of careless and hostile peers and of limited machines (Linux):
//!
//! - `gc-loop`: prints `looping`, runs `Namespace::gc` on `$MMF_DIR` in a loop (at least once)
//!   until stdin closes, then prints `gcs N errors E` (errors other than a vanished entry).
//! - `commit-limit NAME LIMIT`: run inside a memory cgroup of LIMIT bytes; asks for twice the
//!   limit in every way (anonymous, create, grow, commit, prefault, a terabyte) and prints one
//!   line per attempt, `KIND ok` or `KIND ERRORKIND: MESSAGE`; exits 3 if any of them succeeded.
//! - `takeover-std`: for descriptors 0, 1, 2 and an open `std::fs::File`, builds tokens naming
//!   them exactly (their device and inode, access `rw`) and checks `Mapping::from_inherited`
//!   refuses each and leaves it open and unchanged; prints `refused FD: MESSAGE` lines and `intact`.
//! - `peer-attack PATH`: what a peer with write access to another user's object can try, to get
//!   it removed by its owner's next `list` or `gc`: set the old lifetime attribute
//!   (`user.mmf.lifetime=handle`), add the sticky bit (the lifetime marker; refused to non-owners),
//!   take and drop a lock, rewrite the first byte. Prints `KIND ok` or `KIND refused: ERROR`.
//! - `takeover-reused`: takes the token in `$MMF_HANDLE` (a real inherited handle), puts another
//!   file on its descriptor number (`dup2`, as a careless program reusing numbers would), and
//!   checks the takeover is refused and that file left open and unchanged; prints `refused:
//!   MESSAGE` and `intact`.

use rustix::fd::{AsRawFd, BorrowedFd};
use std::io::Read;
use std::process::exit;

pub fn handles(cmd: &str) -> bool {
    matches!(
        cmd,
        "gc-loop" | "commit-limit" | "takeover-std" | "takeover-reused" | "peer-attack"
    )
}

pub fn run(args: &[String]) -> mmf::Result<()> {
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
    match arg(0) {
        "gc-loop" => gc_loop(),
        "commit-limit" => commit_limit(arg(1), arg(2).parse().unwrap_or(0)),
        "takeover-std" => takeover_std(),
        "peer-attack" => {
            peer_attack(arg(1));
            Ok(())
        }
        _ => takeover_reused(),
    }
}

fn gc_loop() -> mmf::Result<()> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
        s.store(true, Ordering::Relaxed);
    });
    println!("looping");
    let ns = mmf::Namespace::default();
    let (mut gcs, mut errors) = (0u64, 0u64);
    loop {
        if let Err(e) = ns.gc() {
            errors += 1;
            eprintln!("gc-loop: {}", e);
        }
        gcs += 1;
        if stop.load(Ordering::Relaxed) {
            break;
        }
    }
    println!("gcs {} errors {}", gcs, errors);
    Ok(())
}

fn commit_limit(name: &str, limit: u64) -> mmf::Result<()> {
    let twice = 2 * limit;
    let mut succeeded = 0;
    let mut report = |kind: &str, r: mmf::Result<()>| match r {
        Ok(()) => {
            succeeded += 1;
            println!("{} ok", kind);
        }
        Err(e) => println!("{} {:?}: {}", kind, e.kind(), e),
    };
    report("anonymous", mmf::Mapping::anonymous(twice).map(drop));
    report("terabyte", mmf::Mapping::anonymous(1 << 40).map(drop));
    report("create", mmf::Mapping::create(name, twice).map(drop));
    let small = mmf::Mapping::create(name, 1 << 20)?;
    report("grow", small.grow(twice));
    drop(small);
    let mut sparse = mmf::CreateOptions::new();
    sparse.size(twice).commit(mmf::Commit::Reserve);
    let reserved = sparse.create(name)?;
    let view = reserved.map_mut()?;
    report("commit", view.commit(0, view.len()));
    report("prefault", view.populate());
    drop((view, reserved));
    let value = mmf::SharedValue::create(name)?;
    // Zeros from calloc: untouched pages cost the cgroup nothing until copied.
    let big = vec![0u8; twice as usize];
    report("value", value.store(&big).map(drop));
    drop(value);
    if succeeded > 0 {
        exit(3);
    }
    Ok(())
}

/// What identifies a descriptor's state: the file it names and its descriptor flags.
fn state(fd: i32) -> Option<(u64, u64, String)> {
    // SAFETY: only inspected, never closed; the number is open (or fstat fails harmlessly).
    let b = unsafe { BorrowedFd::borrow_raw(fd) };
    let st = rustix::fs::fstat(b).ok()?;
    let fdinfo = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd)).ok()?;
    let flags = fdinfo
        .lines()
        .find(|l| l.starts_with("flags:"))
        .unwrap_or("")
        .to_owned();
    #[allow(clippy::unnecessary_cast)]
    Some((st.st_dev as u64, st.st_ino as u64, flags))
}

fn token_for(fd: i32) -> String {
    let (dev, ino, _) = state(fd).unwrap_or((0, 0, String::new()));
    format!("mmf:n:rw:{}:{}:{}", fd, dev, ino)
}

fn refuse_and_check(fd: i32, token: &str, label: &str) {
    let before = state(fd);
    match mmf::Mapping::from_inherited(token) {
        Ok(_) => {
            eprintln!("takeover of {} ({}) succeeded", label, token);
            exit(3);
        }
        Err(e) => println!("refused {}: {}", label, e),
    }
    if state(fd) != before || before.is_none() {
        eprintln!(
            "{}: descriptor {} changed: before {:?}, after {:?}",
            label,
            fd,
            before,
            state(fd)
        );
        exit(4);
    }
}

fn takeover_std() -> mmf::Result<()> {
    for fd in 0..3 {
        refuse_and_check(fd, &token_for(fd), &fd.to_string());
    }
    let file = std::fs::File::open("/proc/self/exe").expect("open a file");
    let fd = file.as_raw_fd();
    refuse_and_check(fd, &token_for(fd), "file");
    drop(file);
    println!("intact");
    Ok(())
}

fn takeover_reused() -> mmf::Result<()> {
    let token = std::env::var("MMF_HANDLE").unwrap_or_default();
    let fd: i32 = token
        .split(':')
        .nth(3)
        .and_then(|n| n.parse().ok())
        .unwrap_or(-1);
    let other = std::fs::File::open("/proc/self/exe").expect("open a file");
    // SAFETY: `fd` is the inherited descriptor, which this process owns and never uses again
    // except through the number (as a careless program would); dup2 replaces it atomically.
    let mut target = unsafe { <rustix::fd::OwnedFd as rustix::fd::FromRawFd>::from_raw_fd(fd) };
    rustix::io::dup2(&other, &mut target).expect("dup2");
    std::mem::forget(target); // the number now names `other`'s file; the test checks it stays
    refuse_and_check(fd, &token, "reused");
    println!("intact");
    Ok(())
}

fn peer_attack(path: &str) {
    use rustix::fs::{self as rfs, Mode, OFlags};
    let say = |kind: &str, r: Result<(), rustix::io::Errno>| match r {
        Ok(()) => println!("{} ok", kind),
        Err(e) => println!("{} refused: {}", kind, e),
    };
    let fd = match rfs::open(path, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty()) {
        Ok(fd) => fd,
        Err(e) => {
            println!("open refused: {}", e);
            return;
        }
    };
    say(
        "xattr",
        rfs::fsetxattr(
            &fd,
            "user.mmf.lifetime",
            b"handle",
            rfs::XattrFlags::empty(),
        ),
    );
    let mode = rfs::fstat(&fd).map(|st| st.st_mode).unwrap_or(0o600);
    say(
        "sticky",
        rfs::fchmod(&fd, Mode::from_raw_mode((mode & 0o7777) | 0o1000)),
    );
    say(
        "lock",
        rfs::flock(&fd, rfs::FlockOperation::NonBlockingLockShared)
            .and_then(|()| rfs::flock(&fd, rfs::FlockOperation::Unlock)),
    );
    say("write", rustix::io::pwrite(&fd, b"!", 0).map(drop));
}
