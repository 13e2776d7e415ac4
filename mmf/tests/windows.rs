//! Windows acceptance tests, run under Wine in CI (`.ci/windows.sh`): names live in the Win32
//! kernel namespace where native programs find them, open-or-create reports who created, names go
//! with their last handle, children inherit handles, copy-on-write views stay private, and what
//! Windows cannot do is `Unsupported` with a reason.
#![cfg(windows)]

mod common;

use common::{check, helper, hex, read_line, run_helper, unique, wait_output, TempDir, TempPath};
use mmf::{
    Access, Commit, CreateOptions, Disposition, ErrorKind, FileOptions, Lifetime, Mapping,
    Namespace, OpenOptions, Permissions, Scope, ViewOptions,
};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use windows_sys::Win32::Foundation::{CloseHandle, GetLastError, ERROR_ALREADY_EXISTS};
use windows_sys::Win32::System::Memory::{
    CreateFileMappingW, MapViewOfFile, OpenFileMappingW, UnmapViewOfFile, FILE_MAP_ALL_ACCESS,
    FILE_MAP_READ, PAGE_READWRITE,
};
use windows_sys::Win32::System::Threading::CreateEventW;

const WATCHDOG: Duration = Duration::from_secs(60);

/// Held while this test process spawns a child, and by the inheritance test for as long as its
/// inheritable handle exists. Windows snapshots the handles a child inherits atomically, but
/// Wine's CreateProcess fails now and then with ERROR_INTERNAL_ERROR (1359) when another thread
/// closes an inheritable handle while it runs; serialising the two keeps this suite about mmf.
static SPAWN: Mutex<()> = Mutex::new(());

fn spawn_lock() -> MutexGuard<'static, ()> {
    SPAWN.lock().unwrap_or_else(|e| e.into_inner())
}

/// Spawns under the spawn lock (and retries as `common::spawn` says: that error has also been
/// seen with no concurrent handle closing at all).
fn spawn(cmd: &mut Command) -> Child {
    let _guard = spawn_lock();
    common::spawn(cmd)
}

fn run(args: &[&str]) -> Output {
    let _guard = spawn_lock();
    run_helper(args)
}

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(std::iter::once(0)).collect()
}

/// What a native Win32 program sees under `full` (`Local\NAME`): the first `len` bytes, or `None`
/// if OpenFileMappingW finds nothing.
fn native_read(full: &str, len: usize) -> Option<Vec<u8>> {
    let name = wide(full);
    // SAFETY: NUL-terminated name; the handle and view are closed before returning and the view
    // is read only within its `len` bytes.
    unsafe {
        let h = OpenFileMappingW(FILE_MAP_READ, 0, name.as_ptr());
        if h.is_null() {
            return None;
        }
        let v = MapViewOfFile(h, FILE_MAP_READ, 0, 0, len);
        assert!(!v.Value.is_null(), "MapViewOfFile failed");
        let bytes = std::slice::from_raw_parts(v.Value as *const u8, len).to_vec();
        UnmapViewOfFile(v);
        CloseHandle(h);
        Some(bytes)
    }
}

#[test]
fn names_live_in_the_local_namespace_where_native_programs_find_them() {
    let name = unique("native");
    let m = Mapping::create(&name, 4096).unwrap();
    m.map_mut().unwrap().write_at(0, b"from mmf").unwrap();
    assert_eq!(
        native_read(&format!("Local\\{}", name), 8).as_deref(),
        Some(&b"from mmf"[..])
    );
    // And the other way round: mmf opens what CreateFileMappingW made.
    let other = unique("native-made");
    let wname = wide(&format!("Local\\{}", other));
    // SAFETY: pagefile-backed section with a NUL-terminated name; closed at the end of the test.
    let h = unsafe {
        CreateFileMappingW(
            -1isize as _,
            std::ptr::null(),
            PAGE_READWRITE,
            0,
            8192,
            wname.as_ptr(),
        )
    };
    assert!(!h.is_null());
    let opened = Mapping::open(&other).unwrap();
    assert!(opened.len() >= 8192, "{}", opened.len());
    opened.map_mut().unwrap().write_at(8191, b"!").unwrap();
    assert_eq!(
        native_read(&format!("Local\\{}", other), 8192).unwrap()[8191],
        b'!'
    );
    // SAFETY: the handle made above, closed once.
    unsafe { CloseHandle(h) };
}

#[test]
fn global_names_are_created_and_opened_in_global() {
    let name = unique("global");
    let m = match CreateOptions::new()
        .size(4096)
        .scope(Scope::Global)
        .create(&name)
    {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {
            // Real Windows without SeCreateGlobalPrivilege: the message must say so.
            assert!(e.to_string().contains("SeCreateGlobalPrivilege"), "{}", e);
            println!("SKIPPED: no SeCreateGlobalPrivilege here");
            return;
        }
        Err(e) => panic!("{}", e),
    };
    m.map_mut().unwrap().write_at(0, b"global").unwrap();
    assert_eq!(
        native_read(&format!("Global\\{}", name), 6).as_deref(),
        Some(&b"global"[..])
    );
    let again = OpenOptions::new().scope(Scope::Global).open(&name).unwrap();
    assert_eq!(again.map().unwrap().read_vec(0, 6).unwrap(), b"global");
}

#[test]
fn one_exe_creates_another_opens_by_name_and_reads() {
    let name = unique("two-exes");
    // Before anyone created it, the second exe gets NotFound (exit code 10).
    let out = run(&["read", &name, "0", "4"]);
    assert_eq!(out.status.code(), Some(10), "{:?}", out);
    let m = Mapping::create(&name, 100_000).unwrap();
    let v = m.map_mut().unwrap();
    v.write_at(70_000, b"past the first 64 KiB").unwrap();
    let out = run(&["read", &name, "70000", "21"]);
    assert_eq!(check(&out, "helper read"), hex(b"past the first 64 KiB"));
    // The other exe writes; this one sees it.
    let out = run(&["write", &name, "99990", &hex(b"0123456789")]);
    check(&out, "helper write");
    assert_eq!(v.read_vec(99_990, 10).unwrap(), b"0123456789");
}

#[test]
fn open_or_create_reports_who_created() {
    let name = unique("who");
    let (m, how) = Mapping::open_or_create(&name, 4096).unwrap();
    assert_eq!(how, Disposition::Created);
    // Another process: the object exists, so it opened it.
    let out = run(&["race", &name, "4096"]);
    assert_eq!(check(&out, "helper race"), "opened 4096");
    // Same process, second call: Opened, same memory.
    m.map_mut().unwrap().write_at(0, b"same").unwrap();
    let (again, how) = Mapping::open_or_create(&name, 4096).unwrap();
    assert_eq!(how, Disposition::Opened);
    assert_eq!(again.map().unwrap().read_vec(0, 4).unwrap(), b"same");
    // A native CreateFileMappingW sees ERROR_ALREADY_EXISTS: it is one object.
    let wname = wide(&format!("Local\\{}", name));
    // SAFETY: NUL-terminated name; the handle is closed right after.
    unsafe {
        let h = CreateFileMappingW(
            -1isize as _,
            std::ptr::null(),
            PAGE_READWRITE,
            0,
            4096,
            wname.as_ptr(),
        );
        assert!(!h.is_null());
        assert_eq!(GetLastError(), ERROR_ALREADY_EXISTS);
        CloseHandle(h);
    }
    // create() never adopts it.
    assert_eq!(
        Mapping::create(&name, 4096).unwrap_err().kind(),
        ErrorKind::AlreadyExists
    );
}

#[test]
fn racing_processes_agree_on_exactly_one_creator() {
    let name = unique("race");
    // All four start at once and keep their handle until every one has reported, so the object
    // lives throughout: exactly one of them can have created it.
    let mut children: Vec<_> = (0..4)
        .map(|_| {
            spawn(
                helper()
                    .args(["race", &name, "4096", "hold"])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped()),
            )
        })
        .collect();
    let mut outs = Vec::new();
    for c in &mut children {
        let (line, out) = read_line(c.stdout.take().unwrap(), WATCHDOG);
        c.stdout = Some(out);
        outs.push(line.trim().to_owned());
    }
    for mut c in children {
        drop(c.stdin.take());
        check(&wait_output(c, WATCHDOG), "helper race");
    }
    for o in &outs {
        assert!(o == "created 4096" || o == "opened 4096", "{:?}", outs);
    }
    assert_eq!(
        outs.iter().filter(|o| *o == "created 4096").count(),
        1,
        "{:?}",
        outs
    );
}

#[test]
fn the_name_disappears_after_the_last_handle_closes() {
    let name = unique("last-handle");
    let m = Mapping::create(&name, 4096).unwrap();
    m.map_mut().unwrap().write_at(0, b"kept").unwrap();
    // A second process holds it; we close ours; the name stays while the helper holds it.
    let mut holder = spawn(
        helper()
            .args(["hold", &name])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let (line, _out) = read_line(holder.stdout.take().unwrap(), WATCHDOG);
    assert!(line.starts_with("held"), "{:?}", line);
    drop(m);
    let again = Mapping::open(&name).unwrap();
    assert_eq!(again.map().unwrap().read_vec(0, 4).unwrap(), b"kept");
    drop(again);
    // The helper exits: the last handle is gone, and with it the name.
    drop(holder.stdin.take());
    let out = wait_output(holder, WATCHDOG);
    assert!(out.status.success(), "{:?}", out);
    assert_eq!(
        Mapping::open(&name).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert!(native_read(&format!("Local\\{}", name), 1).is_none());
    // A killed holder releases it too.
    let m = Mapping::create(&name, 4096).unwrap();
    let mut holder = spawn(
        helper()
            .args(["hold", &name])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let (line, _out) = read_line(holder.stdout.take().unwrap(), WATCHDOG);
    assert!(line.starts_with("held"), "{:?}", line);
    drop(m);
    holder.kill().unwrap();
    let _ = holder.wait();
    assert_eq!(
        Mapping::open(&name).unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn a_child_inherits_a_handle_and_reads_through_it() {
    let dir = TempDir::new("pinherit");
    for kind in ["anonymous", "named", "grown file"] {
        let m = match kind {
            "anonymous" => Mapping::anonymous(200_000).unwrap(),
            "named" => Mapping::create(unique("inherit"), 200_000).unwrap(),
            // A persistent object (a file) that grew after it was opened: the child gets a
            // section of its current size.
            _ => {
                let m = persistent(&dir)
                    .size(4096)
                    .create(unique("pinherit"))
                    .unwrap();
                m.grow(200_000).unwrap();
                m
            }
        };
        // At the end, past the size the file had when it was opened.
        let at = 199_990;
        m.map_mut().unwrap().write_at(at, b"inherited!").unwrap();
        let mut cmd = helper();
        cmd.args(["inherited", "200000"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let guard = spawn_lock();
        let inh = m.inherit(&mut cmd).unwrap();
        let token = inh.token().to_owned();
        assert!(token.starts_with("mmf:"), "{}", token);
        cmd.env("MMF_HANDLE", &token);
        let mut child = cmd.spawn().unwrap();
        drop(inh);
        drop(guard);
        let (line, _out) = read_line(child.stdout.take().unwrap(), WATCHDOG);
        let line = line.trim();
        assert!(
            line.starts_with("held ") && line.ends_with(&hex(b"inherited!")),
            "{} via {}: {}",
            kind,
            token,
            &line[..line.len().min(80)]
        );
        // The child is a holder of its own: our mapping can go, the child's stays valid.
        drop(m);
        drop(child.stdin.take());
        let out = wait_output(child, WATCHDOG);
        assert!(out.status.success(), "{:?}", out);
    }
}

#[test]
fn inherited_tokens_are_checked() {
    for bad in [
        "",
        "mmf",
        "mmf:x:rw:12",
        "mmf:a:xx:12",
        "mmf:a:rw:abc",
        "mmf:a:rw:0",
    ] {
        assert_eq!(
            Mapping::from_inherited(bad).unwrap_err().kind(),
            ErrorKind::InvalidInput,
            "{:?}",
            bad
        );
    }
    // A well-formed token whose handle is not open here.
    let e = Mapping::from_inherited("mmf:a:rw:999996").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{}", e);
    // An open handle that is not a section is refused (and not taken over).
    let ev = wide(&format!("Local\\{}", unique("not-a-section")));
    // SAFETY: creates an event with a NUL-terminated name; closed below.
    let h = unsafe { CreateEventW(std::ptr::null(), 1, 0, ev.as_ptr()) };
    assert!(!h.is_null());
    let e = Mapping::from_inherited(&format!("mmf:a:rw:{}", h as usize)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{}", e);
    // SAFETY: still ours (from_inherited refused it), closed once.
    assert_ne!(
        unsafe { CloseHandle(h) },
        0,
        "the event handle must still be open"
    );
}

#[test]
fn a_copy_on_write_view_stays_private() {
    let name = unique("cow");
    let m = Mapping::create(&name, 70_000).unwrap();
    let shared = m.map_mut().unwrap();
    shared.write_at(66_000, b"original").unwrap();
    let cow = m.map_copy().unwrap();
    cow.write_at(66_000, b"PRIVATE!").unwrap();
    assert_eq!(cow.read_vec(66_000, 8).unwrap(), b"PRIVATE!");
    assert_eq!(shared.read_vec(66_000, 8).unwrap(), b"original");
    // Another process sees the object, not the private page.
    let out = run(&["read", &name, "66000", "8"]);
    assert_eq!(check(&out, "helper read"), hex(b"original"));
    // And a file mapped copy-on-write keeps its bytes on disk.
    let p = TempPath::new("cow-file");
    std::fs::write(&p.0, b"on disk").unwrap();
    let f = FileOptions::new()
        .access(Access::ReadOnly)
        .open(&p.0)
        .unwrap();
    let c = f.map_copy().unwrap();
    c.write_at(0, b"IN VIEW").unwrap();
    c.flush().unwrap();
    assert_eq!(c.read_vec(0, 7).unwrap(), b"IN VIEW");
    assert_eq!(f.map().unwrap().read_vec(0, 7).unwrap(), b"on disk");
    drop((c, f));
    assert_eq!(std::fs::read(&p.0).unwrap(), b"on disk");
}

#[test]
fn reserved_objects_commit_what_their_views_map() {
    let name = unique("reserve");
    let m = CreateOptions::new()
        .size(1 << 30)
        .commit(Commit::Reserve)
        .create(&name)
        .unwrap();
    assert_eq!(m.len(), 1 << 30);
    let piece = m.map_range(512 << 20, 1 << 20, Access::ReadWrite).unwrap();
    piece.commit(0, 1 << 20).unwrap();
    piece.write_at(0, b"reserved").unwrap();
    let out = run(&["read", &name, &(512u64 << 20).to_string(), "8"]);
    assert_eq!(check(&out, "helper read"), hex(b"reserved"));
    assert_eq!(
        piece.decommit(0, 4096).unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    // A copy-on-write view of a reserved object: its writes stay private.
    let cow = m
        .map_range(512 << 20, 1 << 20, Access::CopyOnWrite)
        .unwrap();
    assert_eq!(cow.read_vec(0, 8).unwrap(), b"reserved");
    cow.write_at(0, b"PRIVATE!").unwrap();
    assert_eq!(cow.read_vec(0, 8).unwrap(), b"PRIVATE!");
    assert_eq!(piece.read_vec(0, 8).unwrap(), b"reserved");
}

#[test]
fn sizes_views_and_granularity() {
    assert_eq!(mmf::allocation_granularity(), 64 * 1024);
    assert_eq!(mmf::page_size(), 4096);
    let name = unique("size");
    let m = Mapping::create(&name, 10_000).unwrap();
    // The size comes from the system, which may round it up to a page: the creator and every
    // opener see the same size, so they agree on where the object ends.
    assert!(m.len() >= 10_000 && m.len() <= 12_288, "{}", m.len());
    let o = Mapping::open(&name).unwrap();
    assert_eq!(
        o.len(),
        m.len(),
        "the creator and an opener see the same size"
    );
    m.map_mut()
        .unwrap()
        .write_at(m.len() as usize - 1, b"e")
        .unwrap();
    assert_eq!(
        o.map().unwrap().read_vec(o.len() as usize - 1, 1).unwrap(),
        b"e"
    );
    println!("a 10000-byte object has {} bytes", m.len());
    // A view at an offset that is not a multiple of 64 KiB.
    let big = Mapping::create(unique("unaligned"), 300_000).unwrap();
    let v = big.map_range(65_537, 100, Access::ReadWrite).unwrap();
    v.write_at(0, b"x").unwrap();
    assert_eq!(big.map().unwrap().read_vec(65_537, 1).unwrap(), b"x");
    // An empty file maps to an empty view.
    let p = TempPath::new("empty");
    std::fs::write(&p.0, b"").unwrap();
    let e = FileOptions::new().open(&p.0).unwrap();
    assert_eq!(e.len(), 0);
    assert!(e.map().unwrap().is_empty());
}

#[test]
fn a_chosen_address_that_is_taken_is_refused() {
    let g = mmf::allocation_granularity();
    let m = Mapping::anonymous(4 * g as u64).unwrap();
    let first = m.map_mut().unwrap();
    first.write_at(0, b"first").unwrap();
    let taken = first.as_ptr() as usize;
    let other = Mapping::anonymous(g as u64).unwrap();
    for at in [taken, taken + 2 * g] {
        let e = ViewOptions::new().at(at).map(&other).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AlreadyExists, "{}", e);
        assert!(e.to_string().contains("in use"), "{}", e);
    }
    assert_eq!(first.read_vec(0, 5).unwrap(), b"first");
}

#[test]
fn what_windows_cannot_do_is_unsupported_with_a_reason() {
    let name = unique("unsupported");
    let expect = |r: mmf::Error, word: &str| {
        assert_eq!(r.kind(), ErrorKind::Unsupported, "{}", r);
        assert!(r.to_string().contains(word), "{}", r);
    };
    expect(
        CreateOptions::new()
            .lifetime(Lifetime::Persistent)
            .scope(Scope::Global)
            .create(&name)
            .unwrap_err(),
        "persistent",
    );
    let m = Mapping::create(&name, 4096).unwrap();
    assert_eq!(m.lifetime(), Lifetime::Handle);
    expect(m.grow(8192).unwrap_err(), "cannot grow");
    m.grow(4096).unwrap(); // nothing to do
    expect(
        Namespace::default().remove(&name).unwrap_err(),
        "last handle",
    );
    drop(m);
    assert_eq!(
        Namespace::default().remove(&name).unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn a_name_taken_by_another_kind_of_object_is_reported() {
    let name = unique("event");
    let wname = wide(&format!("Local\\{}", name));
    // SAFETY: creates an event with a NUL-terminated name; closed at the end.
    let h = unsafe { CreateEventW(std::ptr::null(), 1, 0, wname.as_ptr()) };
    assert!(!h.is_null());
    let e = Mapping::create(&name, 4096).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadyExists, "{}", e);
    assert!(e.to_string().contains("another kind"), "{}", e);
    let e = Mapping::open(&name).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{}", e);
    // SAFETY: the handle made above, closed once.
    unsafe { CloseHandle(h) };
}

#[test]
fn read_only_handles_and_views() {
    let name = unique("ro");
    let m = Mapping::create(&name, 4096).unwrap();
    m.map_mut().unwrap().write_at(0, b"data").unwrap();
    let ro = OpenOptions::new()
        .access(Access::ReadOnly)
        .open(&name)
        .unwrap();
    assert!(!ro.is_writable());
    assert_eq!(
        ro.map_mut().unwrap_err().kind(),
        ErrorKind::PermissionDenied
    );
    assert_eq!(ro.map().unwrap().read_vec(0, 4).unwrap(), b"data");
    // Copy-on-write works through a read-only handle (FILE_MAP_COPY needs only read access).
    let c = ro.map_copy().unwrap();
    c.write_at(0, b"DATA").unwrap();
    assert_eq!(m.map().unwrap().read_vec(0, 4).unwrap(), b"data");
    // Durable flush of a file view: FlushViewOfFile + FlushFileBuffers.
    let p = TempPath::new("durable");
    let f = FileOptions::new()
        .create(true)
        .max_size(100_000)
        .open(&p.0)
        .unwrap();
    let v = f.map_mut().unwrap();
    v.write_at(99_000, b"durable").unwrap();
    v.flush_durable().unwrap();
    assert_eq!(&std::fs::read(&p.0).unwrap()[99_000..99_007], b"durable");
}

#[test]
fn a_file_grows_and_every_handle_follows() {
    // As on Linux: growing a file-backed object extends the file, and every handle (here a
    // read-only one opened before) sees the new size and maps the new bytes.
    let p = TempPath::new("file-grow");
    std::fs::write(&p.0, b"start").unwrap();
    let m = FileOptions::new().open(&p.0).unwrap();
    let ro = FileOptions::new()
        .access(Access::ReadOnly)
        .open(&p.0)
        .unwrap();
    let before = m.map_mut().unwrap();
    m.grow(300_000).unwrap();
    assert_eq!((m.len(), ro.len()), (300_000, 300_000));
    assert_eq!(std::fs::metadata(&p.0).unwrap().len(), 300_000);
    let v = m.map_mut().unwrap();
    v.write_at(299_990, b"grown end").unwrap();
    let r = ro.map().unwrap();
    assert_eq!(r.len(), 300_000);
    assert_eq!(r.read_vec(299_990, 9).unwrap(), b"grown end");
    // A view made before the growth still works, on the same bytes.
    before.write_at(0, b"START").unwrap();
    assert_eq!(r.read_vec(0, 5).unwrap(), b"START");
    // Never shrinks; a read-only handle cannot grow.
    m.grow(1000).unwrap();
    assert_eq!(m.len(), 300_000);
    assert_eq!(
        ro.grow(400_000).unwrap_err().kind(),
        ErrorKind::PermissionDenied
    );
    drop((before, v, r, m, ro));
    let data = std::fs::read(&p.0).unwrap();
    assert_eq!(&data[..5], b"START");
    assert_eq!(&data[299_990..299_999], b"grown end");

    // An empty file, which Windows cannot map, becomes mappable once it grows.
    let p = TempPath::new("file-grow-empty");
    std::fs::write(&p.0, b"").unwrap();
    let m = FileOptions::new().open(&p.0).unwrap();
    assert_eq!(m.map().unwrap().len(), 0);
    m.grow(4096).unwrap();
    m.map_mut().unwrap().write_at(4090, b"filled").unwrap();
    assert_eq!(m.map().unwrap().read_vec(4090, 6).unwrap(), b"filled");
}

#[test]
fn processes_growing_a_persistent_object_at_once_never_shrink_it() {
    // Each process grows the file by making a section of its size over it, which never shrinks
    // a file: whatever the order, the largest size wins and every process's last bytes are kept.
    let dir = TempDir::new("pgrow-race");
    let name = unique("pgrow-race");
    drop(persistent(&dir).size(4096).create(&name).unwrap());
    let gate = TempPath::new("grow-gate");
    let sizes = [1u64 << 20, 2 << 20, 3 << 20, 4 << 20];
    let growers: Vec<Child> = sizes
        .iter()
        .map(|size| {
            spawn(
                helper()
                    .args(["grow-race", gate.0.to_str().unwrap(), &name])
                    .arg(size.to_string())
                    .env("MMF_DIR", &dir.0)
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped()),
            )
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    std::fs::write(&gate.0, b"go").unwrap();
    for (g, size) in growers.into_iter().zip(sizes) {
        let out = wait_output(g, WATCHDOG);
        let seen: u64 = check(&out, "grow-race").trim().parse().unwrap();
        assert!(
            seen >= size,
            "a grower saw {} after growing to {}",
            seen,
            size
        );
    }
    let m = OpenOptions::new().dir(&dir.0).open(&name).unwrap();
    assert_eq!(m.len(), 4 << 20);
    let v = m.map().unwrap();
    for size in sizes {
        let mark = v.read_vec((size - 8) as usize, 8).unwrap();
        assert_eq!(mark, size.to_le_bytes(), "the mark at {}", size);
    }
    drop((v, m));
    Namespace::at(&dir.0).remove(&name).unwrap();
}

/// Maps `len` bytes of the section `h` with the Win32 API itself and copies them out.
fn read_section(h: std::os::windows::io::RawHandle, len: usize) -> Vec<u8> {
    // SAFETY: `h` is a section handle that stays open through the call (the caller's mapping
    // holds it); the view is `len` bytes of it, read and unmapped before returning.
    unsafe {
        let v = MapViewOfFile(h as _, FILE_MAP_READ, 0, 0, len);
        assert!(!v.Value.is_null(), "MapViewOfFile failed");
        let bytes = std::slice::from_raw_parts(v.Value as *const u8, len).to_vec();
        UnmapViewOfFile(v);
        bytes
    }
}

#[test]
fn the_handle_is_the_section_the_views_map() {
    use std::os::windows::io::{AsHandle, AsRawHandle};
    let m = Mapping::create(&unique("handle"), 4096).unwrap();
    m.map_mut().unwrap().write_at(0, b"section").unwrap();
    assert!(!m.as_raw_handle().is_null());
    assert_eq!(m.as_handle().as_raw_handle(), m.as_raw_handle());
    assert_eq!(read_section(m.as_raw_handle(), 7), b"section");

    let value = mmf::SharedValue::create(&unique("handle-value")).unwrap();
    assert_eq!(value.as_raw_handle(), value.mapping().as_raw_handle());
    let typed = mmf::Shared::<u64>::create(&unique("handle-typed")).unwrap();
    assert_eq!(
        typed.as_raw_handle(),
        typed.as_value().mapping().as_raw_handle()
    );

    // An empty file has no section (Windows cannot map it): the handle is the file's.
    let p = TempPath::new("handle-empty");
    std::fs::write(&p.0, b"").unwrap();
    let empty = FileOptions::new().open(&p.0).unwrap();
    assert!(!empty.as_raw_handle().is_null());
}

// --- persistent objects and the namespace (files in a per-user directory; NT object directory) ---

/// Runs the test helper with `MMF_DIR` set to `dir`.
fn run_in(dir: &std::path::Path, args: &[&str]) -> Output {
    let child = spawn(
        helper()
            .args(args)
            .env("MMF_DIR", dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    wait_output(child, WATCHDOG)
}

fn persistent(dir: &TempDir) -> CreateOptions {
    let mut o = CreateOptions::new();
    o.lifetime(Lifetime::Persistent).dir(&dir.0);
    o
}

#[test]
fn persistent_objects_are_files_that_outlive_every_handle() {
    let dir = TempDir::new("pdir");
    let name = unique("persist");
    let m = persistent(&dir).size(10_000).create(&name).unwrap();
    assert_eq!(m.lifetime(), Lifetime::Persistent);
    assert_eq!(m.len(), 10_000);
    m.map_mut().unwrap().write_at(0, b"hello").unwrap();
    drop(m);
    // A file of exactly that size, holding what was written, where the docs say.
    let bytes = std::fs::read(dir.0.join(&name)).unwrap();
    assert_eq!(bytes.len(), 10_000);
    assert_eq!(&bytes[..5], b"hello");
    // Another process opens it by name (no handle was open in between) and writes.
    check(
        &run_in(&dir.0, &["write", &name, "16", &hex(b"from-b")]),
        "helper write",
    );
    let read = check(&run_in(&dir.0, &["read", &name, "0", "5"]), "helper read");
    assert_eq!(read.trim(), hex(b"hello"));
    let m = OpenOptions::new().dir(&dir.0).open(&name).unwrap();
    assert_eq!(m.lifetime(), Lifetime::Persistent);
    assert_eq!(m.len(), 10_000, "openers see the exact size");
    assert_eq!(m.map().unwrap().read_vec(16, 6).unwrap(), b"from-b");
    // Creating it again is refused; open-or-create opens it.
    let e = persistent(&dir).create(&name).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadyExists, "{}", e);
    let (again, how) = persistent(&dir).open_or_create(&name).unwrap();
    assert_eq!(how, Disposition::Opened);
    drop(again);
    // Listed with its size and lifetime.
    let ns = Namespace::at(&dir.0);
    let found = ns.list().unwrap().into_iter().find(|o| o.name == name);
    let found = found.expect("the persistent object is listed");
    assert_eq!(found.size, 10_000);
    assert_eq!(found.lifetime, Some(Lifetime::Persistent));
    // Removed while mapped: the view keeps working, and the name is free at once.
    let view = m.map_mut().unwrap();
    ns.remove(&name).unwrap();
    view.write_at(32, b"still").unwrap();
    assert_eq!(view.read_vec(32, 5).unwrap(), b"still");
    let e = OpenOptions::new().dir(&dir.0).open(&name).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{}", e);
    assert!(e.to_string().contains(&name), "{}", e);
    assert!(!ns.list().unwrap().iter().any(|o| o.name == name));
    assert_eq!(ns.remove(&name).unwrap_err().kind(), ErrorKind::NotFound);
    let fresh = persistent(&dir).size(4096).create(&name).unwrap();
    assert_eq!(fresh.map().unwrap().read_vec(0, 5).unwrap(), [0; 5]);
    drop((view, m, fresh));
    ns.remove(&name).unwrap();
    // Whatever the removals left while the object was open goes with `gc`.
    ns.gc().unwrap();
    let left: Vec<_> = std::fs::read_dir(&dir.0).unwrap().flatten().collect();
    assert!(left.is_empty(), "left behind: {:?}", left);
}

#[test]
fn a_name_is_either_a_section_or_a_persistent_file() {
    let dir = TempDir::new("pkind");
    let name = unique("kind");
    let section = CreateOptions::new().dir(&dir.0).create(&name).unwrap();
    let e = persistent(&dir).create(&name).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadyExists, "{}", e);
    assert!(!dir.0.join(&name).exists(), "no file was left");
    // Removing the section's name is not possible; it goes with its last handle.
    let e = Namespace::at(&dir.0).remove(&name).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{}", e);
    drop(section);
    let file = persistent(&dir).create(&name).unwrap();
    let e = CreateOptions::new().dir(&dir.0).create(&name).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadyExists, "{}", e);
    // A handle-lifetime open-or-create joins the persistent object.
    let (joined, how) = CreateOptions::new()
        .dir(&dir.0)
        .open_or_create(&name)
        .unwrap();
    assert_eq!(how, Disposition::Opened);
    assert_eq!(joined.lifetime(), Lifetime::Persistent);
    drop((file, joined));
    Namespace::at(&dir.0).remove(&name).unwrap();
    // Names that cannot be files are refused for persistent objects, with the reason.
    let e = persistent(&dir).create("a:b").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidName, "{}", e);
    assert!(e.to_string().contains("file name"), "{}", e);
    let e = persistent(&dir).create("NUL").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidName, "{}", e);
}

#[test]
fn hostile_or_damaged_files_are_refused_with_the_name() {
    let dir = TempDir::new("phostile");
    let ns = Namespace::at(&dir.0);
    // A directory under an object's name.
    let name = unique("isdir");
    std::fs::create_dir(dir.0.join(&name)).unwrap();
    let e = OpenOptions::new().dir(&dir.0).open(&name).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{}", e);
    assert!(e.to_string().contains(&name), "{}", e);
    assert!(e.to_string().contains("not a regular file"), "{}", e);
    assert!(!ns.list().unwrap().iter().any(|o| o.name == name));
    let e = persistent(&dir).create(&name).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadyExists, "{}", e);
    assert_eq!(
        ns.remove(&name).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    // A file of garbage opened as a shared value.
    let junk = unique("junk");
    std::fs::write(dir.0.join(&junk), vec![0x5a; 8192]).unwrap();
    let e = mmf::ValueOptions::new()
        .dir(&dir.0)
        .open(&junk)
        .map(|_| ())
        .unwrap_err();
    assert!(e.to_string().contains(&junk), "{}", e);
    // An empty file: an object of size 0, with only empty views.
    let empty = unique("empty");
    std::fs::write(dir.0.join(&empty), b"").unwrap();
    let m = OpenOptions::new().dir(&dir.0).open(&empty).unwrap();
    assert_eq!(m.len(), 0);
    drop(m);
    ns.remove(&junk).unwrap();
    ns.remove(&empty).unwrap();
}

#[test]
fn listing_shows_sections_with_sizes_and_hides_internals() {
    let name = unique("listed");
    let m = CreateOptions::new().size(10_000).create(&name).unwrap();
    let value = mmf::ValueOptions::new()
        .lifetime(Lifetime::Handle)
        .create(&unique("listed-value"))
        .unwrap();
    value.store(b"x").unwrap();
    let all = Namespace::default().list().unwrap();
    let found = all
        .iter()
        .find(|o| o.name == name)
        .expect("the section is listed");
    assert!(found.size >= 10_000, "size {}", found.size);
    assert_eq!(found.lifetime, Some(Lifetime::Handle));
    assert!(
        found.holders.map_or(true, |h| h >= 1),
        "{:?}",
        found.holders
    );
    assert!(
        all.iter().all(|o| !o.name.starts_with(".mmf-")),
        "internal objects are hidden: {:?}",
        all.iter().map(|o| &o.name).collect::<Vec<_>>()
    );
    let v = all
        .iter()
        .find(|o| o.name == value.mapping().name().unwrap().as_str())
        .expect("the value is listed");
    assert!(v.is_value());
    assert!(!found.is_value());
    drop((m, value));
    assert!(!Namespace::default()
        .list()
        .unwrap()
        .iter()
        .any(|o| o.name == name));
}

#[test]
fn handle_lifetime_objects_need_no_directory_of_persistent_objects() {
    // Without LOCALAPPDATA (and MMF_DIR) there is nowhere for persistent objects; sections work
    // as ever, and a missing name is reported as missing.
    let name = unique("no-dir");
    let run_bare = |args: &[&str]| {
        let _guard = spawn_lock();
        let child = common::spawn(
            helper()
                .args(args)
                .env_remove("LOCALAPPDATA")
                .env_remove("MMF_DIR")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        );
        wait_output(child, WATCHDOG)
    };
    // The premise: a child started without them does not get them back.
    let echo = std::process::Command::new("cmd")
        .args(["/c", "echo [%LOCALAPPDATA%]"])
        .env_remove("LOCALAPPDATA")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&echo.stdout).trim(),
        "[%LOCALAPPDATA%]",
        "LOCALAPPDATA came back"
    );
    let out = run_bare(&["race", &name, "4096"]);
    assert_eq!(check(&out, "race").trim(), "created 4096");
    let out = run_bare(&["read", &unique("no-dir-missing"), "0", "4"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not found"), "{}", err);
    assert!(!err.contains("LOCALAPPDATA"), "{}", err);
}

#[test]
fn the_default_directory_is_per_user() {
    if std::env::var_os("MMF_DIR").is_some() {
        println!("SKIPPED: MMF_DIR is set, so the default directory is not used");
        return;
    }
    let dir = Namespace::default()
        .dir()
        .expect("a directory under LOCALAPPDATA");
    let base = std::env::var_os("LOCALAPPDATA").unwrap();
    assert_eq!(dir, std::path::Path::new(&base).join("mmf"));
    // The first persistent create makes it (asking for the directory does not).
    let name = unique("default-dir");
    drop(
        CreateOptions::new()
            .lifetime(Lifetime::Persistent)
            .create(&name)
            .unwrap(),
    );
    assert!(dir.is_dir(), "made by the first create");
    assert!(dir.join(&name).is_file());
    Namespace::default().remove(&name).unwrap();
}

#[test]
fn racing_processes_create_each_persistent_object_once_and_initialised() {
    // 4 processes race through the same names; each object's creator initialises it before it
    // gets its name, and every process checks that it never sees it otherwise.
    let dir = TempDir::new("prace");
    let prefix = unique("prace");
    let rounds = 150;
    let created = common::race_creators(&dir.0, &prefix, rounds, spawn);
    assert_eq!(created, rounds, "exactly one creator per name");
    let objects = Namespace::at(&dir.0).list().unwrap();
    let ours: Vec<_> = objects
        .iter()
        .filter(|o| o.name.starts_with(&prefix))
        .collect();
    assert_eq!(ours.len(), rounds as usize);
    assert!(ours.iter().all(|o| o.size == 8192));
    let hidden: Vec<String> = std::fs::read_dir(&dir.0)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".mmf-"))
        .collect();
    assert!(hidden.is_empty(), "temporary files left: {:?}", hidden);
}

#[test]
fn gc_removes_what_a_dead_creator_left() {
    let dir = TempDir::new("pgc");
    // A file under construction whose creator is gone (a token no process has: creation-time
    // bits 0), and an object, which gc leaves alone.
    let left = ".mmf-new.4660.0";
    std::fs::write(dir.0.join(left), b"half made").unwrap();
    let name = unique("kept");
    drop(persistent(&dir).create(&name).unwrap());
    let ns = Namespace::at(&dir.0);
    assert!(
        !ns.list()
            .unwrap()
            .iter()
            .any(|o| o.name.starts_with(".mmf-")),
        "hidden files are not listed"
    );
    assert_eq!(ns.gc().unwrap(), vec![left.to_owned()]);
    assert!(!dir.0.join(left).exists());
    assert!(dir.0.join(&name).exists(), "gc leaves a persistent object");
    assert!(ns.gc().unwrap().is_empty());
    ns.remove(&name).unwrap();
}

/// One access-allowed ACE of a DACL: its mask and its SID (a copy).
struct Ace {
    mask: u32,
    sid: Vec<u8>,
}

/// The DACL of the section `h`, read back with GetSecurityInfo: `None` for a NULL DACL.
fn dacl(h: std::os::windows::io::RawHandle) -> Option<Vec<Ace>> {
    use windows_sys::Win32::Foundation::LocalFree;
    use windows_sys::Win32::Security::Authorization::{GetSecurityInfo, SE_KERNEL_OBJECT};
    use windows_sys::Win32::Security::{
        AclSizeInformation, GetAce, GetAclInformation, GetLengthSid, ACCESS_ALLOWED_ACE, ACL,
        ACL_SIZE_INFORMATION, DACL_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR,
    };
    let mut acl: *mut ACL = std::ptr::null_mut();
    let mut sd: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
    // SAFETY: a valid section handle (opened with READ_CONTROL by its creator); the out-pointers
    // are writable; `sd` is freed below, after the last use of `acl`, which points into it.
    unsafe {
        let rc = GetSecurityInfo(
            h,
            SE_KERNEL_OBJECT,
            DACL_SECURITY_INFORMATION,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut acl,
            std::ptr::null_mut(),
            &mut sd,
        );
        assert_eq!(rc, 0, "GetSecurityInfo failed: {}", rc);
        let out = if acl.is_null() {
            None
        } else {
            let mut info: ACL_SIZE_INFORMATION = std::mem::zeroed();
            let ok = GetAclInformation(
                acl,
                &mut info as *mut ACL_SIZE_INFORMATION as *mut std::ffi::c_void,
                std::mem::size_of::<ACL_SIZE_INFORMATION>() as u32,
                AclSizeInformation,
            );
            assert_ne!(ok, 0, "GetAclInformation failed");
            let mut aces = Vec::new();
            for i in 0..info.AceCount {
                let mut ace: *mut std::ffi::c_void = std::ptr::null_mut();
                assert_ne!(GetAce(acl, i, &mut ace), 0, "GetAce failed");
                let ace = ace as *const ACCESS_ALLOWED_ACE;
                assert_eq!((*ace).Header.AceType, 0, "an access-allowed ACE");
                let sid = std::ptr::addr_of!((*ace).SidStart) as *mut std::ffi::c_void;
                let len = GetLengthSid(sid) as usize;
                aces.push(Ace {
                    mask: (*ace).Mask,
                    sid: std::slice::from_raw_parts(sid as *const u8, len).to_vec(),
                });
            }
            Some(aces)
        };
        LocalFree(sd);
        out
    }
}

/// This process's user SID and the Everyone SID, as bytes.
fn user_and_everyone() -> (Vec<u8>, Vec<u8>) {
    use windows_sys::Win32::Security::{
        CreateWellKnownSid, GetLengthSid, GetTokenInformation, TokenUser, WinWorldSid, TOKEN_QUERY,
        TOKEN_USER,
    };
    use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};
    // SAFETY: the pseudo-handle of this process; every buffer is writable for the length given
    // and aligned (u64s); the token handle is closed once.
    unsafe {
        let mut token = std::ptr::null_mut();
        assert_ne!(
            OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token),
            0
        );
        let mut buf = vec![0u64; 64];
        let mut len = 0u32;
        assert_ne!(
            GetTokenInformation(
                token,
                TokenUser,
                buf.as_mut_ptr() as *mut std::ffi::c_void,
                512,
                &mut len
            ),
            0
        );
        CloseHandle(token);
        let sid = (*(buf.as_ptr() as *const TOKEN_USER)).User.Sid;
        let user =
            std::slice::from_raw_parts(sid as *const u8, GetLengthSid(sid) as usize).to_vec();
        let mut world = vec![0u64; 16];
        let mut len = 128u32;
        assert_ne!(
            CreateWellKnownSid(
                WinWorldSid,
                std::ptr::null_mut(),
                world.as_mut_ptr() as *mut std::ffi::c_void,
                &mut len
            ),
            0
        );
        let everyone =
            std::slice::from_raw_parts(world.as_ptr() as *const u8, len as usize).to_vec();
        (user, everyone)
    }
}

const MAP_READ: u32 = 4; // SECTION_MAP_READ, FILE_MAP_READ
const MAP_WRITE: u32 = 2; // SECTION_MAP_WRITE, FILE_MAP_WRITE

#[test]
fn permissions_become_a_dacl_owner_only_by_default() {
    use std::os::windows::io::AsRawHandle;
    let (user, everyone) = user_and_everyone();

    let m = Mapping::create(&unique("dacl-default"), 4096).unwrap();
    let aces = dacl(m.as_raw_handle()).expect("a DACL, not a NULL one");
    assert_eq!(aces.len(), 1, "owner only");
    assert_eq!(aces[0].sid, user);
    assert_eq!(aces[0].mask & (MAP_READ | MAP_WRITE), MAP_READ | MAP_WRITE);
    // The owner's programs may open it as the seed did, with FILE_MAP_ALL_ACCESS.
    let full = wide(&format!("Local\\{}", m.name().unwrap()));
    // SAFETY: NUL-terminated name; the handle is closed at once.
    unsafe {
        let h = OpenFileMappingW(FILE_MAP_ALL_ACCESS, 0, full.as_ptr());
        assert!(
            !h.is_null(),
            "FILE_MAP_ALL_ACCESS refused: {}",
            GetLastError()
        );
        CloseHandle(h);
    }

    let m = CreateOptions::new()
        .size(4096)
        .permissions(Permissions::EVERYONE_READ)
        .create(&unique("dacl-644"))
        .unwrap();
    let aces = dacl(m.as_raw_handle()).unwrap();
    // Owner, the primary group (unless it is the user itself), Everyone.
    assert!(aces.len() == 2 || aces.len() == 3, "{} ACEs", aces.len());
    assert_eq!(aces[0].sid, user);
    assert_eq!(aces[0].mask & (MAP_READ | MAP_WRITE), MAP_READ | MAP_WRITE);
    for group in &aces[1..aces.len() - 1] {
        assert_eq!(group.mask & (MAP_READ | MAP_WRITE), MAP_READ);
    }
    let last = aces.last().unwrap();
    assert_eq!(last.sid, everyone);
    assert_eq!(last.mask & (MAP_READ | MAP_WRITE), MAP_READ);
}

#[test]
fn listings_read_owner_and_mode_back_from_the_dacl() {
    let dir = TempDir::new("pmode");
    let mut held = Vec::new();
    let mut expected = Vec::new();
    for (mode, persistent) in [
        (0o600, false),
        (0o640, false),
        (0o644, false),
        (0o400, false),
        (0o000, false),
        // Persistent objects are files; Wine keeps a file's DACL as Unix mode bits and shows no
        // group entry, nor write access for Everyone, so their modes here have neither.
        (0o600, true),
        (0o604, true),
    ] {
        let name = unique("mode");
        let mut o = CreateOptions::new();
        o.size(4096).permissions(Permissions::from_mode(mode));
        if persistent {
            o.lifetime(Lifetime::Persistent).dir(&dir.0);
        }
        held.push(o.create(&name).unwrap());
        expected.push((name, mode));
    }
    let listed = Namespace::at(&dir.0).list().unwrap();
    let user = std::env::var("USERNAME").unwrap_or_default();
    for (name, mode) in &expected {
        let o = listed
            .iter()
            .find(|o| &o.name == name)
            .unwrap_or_else(|| panic!("{} ({:o}) is not listed: {:?}", name, mode, listed));
        assert_eq!(o.mode, *mode, "{}: {:o}", name, o.mode);
        let owner = o.owner_name.as_deref().expect("an owner");
        let account = owner.rsplit('\\').next().unwrap();
        assert!(
            !account.is_empty() && (user.is_empty() || account.eq_ignore_ascii_case(&user)),
            "{}: owner {:?}, USERNAME {:?}",
            name,
            owner,
            user
        );
        assert_eq!(o.owner_uid, 0);
    }
    drop(held);
    for (name, _) in &expected {
        let _ = Namespace::at(&dir.0).remove(name);
    }
}

#[test]
fn the_dacl_decides_what_later_opens_get() {
    // The creator keeps the access it created with; every open (also its own) goes through the
    // DACL, which wineserver enforces as Windows does.
    let name = unique("dacl-enforced");
    let m = CreateOptions::new()
        .size(4096)
        .permissions(Permissions::from_mode(0o400))
        .create(&name)
        .unwrap();
    m.map_mut().unwrap().write_at(0, b"kept").unwrap();
    let full = wide(&format!("Local\\{}", name));
    // SAFETY: NUL-terminated name; a handle that opens is closed at once.
    let open = |access: u32| unsafe {
        let h = OpenFileMappingW(access, 0, full.as_ptr());
        let err = GetLastError();
        if !h.is_null() {
            CloseHandle(h);
        }
        (!h.is_null(), err)
    };
    assert!(open(FILE_MAP_READ).0, "read is granted");
    let (opened, err) = open(FILE_MAP_READ | MAP_WRITE);
    assert!(!opened, "write is not granted");
    assert_eq!(err, 5, "ERROR_ACCESS_DENIED");
    let e = OpenOptions::new().open(&name).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{}", e);
    let ro = OpenOptions::new()
        .access(Access::ReadOnly)
        .open(&name)
        .unwrap();
    assert_eq!(ro.map().unwrap().read_vec(0, 4).unwrap(), b"kept");

    // A mode that grants nothing refuses even the owner's reads.
    let none = unique("dacl-none");
    let _m = CreateOptions::new()
        .size(4096)
        .permissions(Permissions::from_mode(0))
        .create(&none)
        .unwrap();
    let e = OpenOptions::new()
        .access(Access::ReadOnly)
        .open(&none)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{}", e);
}

#[test]
fn a_persistent_object_gets_its_permissions_as_its_file_dacl() {
    use std::os::windows::io::AsRawHandle;
    const READ_DATA: u32 = 1; // FILE_READ_DATA
    const WRITE_DATA: u32 = 2; // FILE_WRITE_DATA
    let (user, everyone) = user_and_everyone();
    let dir = TempDir::new("pdacl");
    let file_dacl = |name: &str| {
        let f = std::fs::File::open(dir.0.join(name)).unwrap();
        dacl(f.as_raw_handle()).expect("a DACL, not a NULL one")
    };

    // Wine keeps a file's DACL as Unix mode bits and reads it back with an ACE for SYSTEM as well,
    // so the ACEs are looked up by whom they are for.
    let mask_for = |aces: &[Ace], sid: &[u8]| {
        aces.iter()
            .filter(|a| a.sid == sid)
            .fold(0, |m, a| m | a.mask)
            & (READ_DATA | WRITE_DATA)
    };
    let private = unique("pdacl-default");
    drop(persistent(&dir).create(&private).unwrap());
    let aces = file_dacl(&private);
    assert_eq!(mask_for(&aces, &user), READ_DATA | WRITE_DATA);
    assert_eq!(mask_for(&aces, &everyone), 0, "owner only");

    let shared = unique("pdacl-644");
    drop(
        persistent(&dir)
            .permissions(Permissions::EVERYONE_READ)
            .create(&shared)
            .unwrap(),
    );
    let aces = file_dacl(&shared);
    assert_eq!(mask_for(&aces, &user), READ_DATA | WRITE_DATA);
    assert_eq!(mask_for(&aces, &everyone), READ_DATA);
    // The owner opens, writes and removes it as before.
    let m = OpenOptions::new().dir(&dir.0).open(&shared).unwrap();
    m.map_mut().unwrap().write_at(0, b"ok").unwrap();
    drop(m);
    Namespace::at(&dir.0).remove(&shared).unwrap();
    Namespace::at(&dir.0).remove(&private).unwrap();
}
