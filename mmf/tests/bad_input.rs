//! Every bad input gets its own error, naming the object, and nothing panics.

mod common;

use common::{unique, TempPath};
use mmf::{Access, CreateOptions, ErrorKind, FileOptions, Mapping, OpenOptions, ValueOptions};

fn kind<T: std::fmt::Debug>(r: mmf::Result<T>) -> ErrorKind {
    let e = r.expect_err("expected an error");
    // Every message names what it is about and says something after the kind.
    let msg = e.to_string();
    assert!(msg.starts_with("cannot "), "{}", msg);
    assert!(msg.matches(": ").count() >= 2, "message too thin: {}", msg);
    e.kind()
}

#[test]
fn bad_input_table() {
    let existing = unique("exists");
    let _holder = Mapping::create(&existing, 4096).unwrap();
    let long = "n".repeat(256);
    let dir = std::env::temp_dir();
    let ro_file = TempPath::new("ro");
    std::fs::write(&ro_file.0, b"read only").unwrap();
    let mut perms = std::fs::metadata(&ro_file.0).unwrap().permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&ro_file.0, perms).unwrap();
    let m = Mapping::create(unique("range"), 10_000).unwrap();
    // The object's end: 10,000, or a page more on Windows, where a section's size is what the
    // system reports (rounded up to a page under Wine).
    let end = m.len();

    let cases: Vec<(&str, ErrorKind, ErrorKind)> = vec![
        (
            "empty name",
            kind(Mapping::create("", 4096)),
            ErrorKind::InvalidName,
        ),
        (
            "name with /",
            kind(Mapping::create("a/b", 4096)),
            ErrorKind::InvalidName,
        ),
        (
            "name too long",
            kind(Mapping::create(long.as_str(), 4096)),
            ErrorKind::InvalidName,
        ),
        (
            "name with NUL",
            kind(Mapping::open("a\0b")),
            ErrorKind::InvalidName,
        ),
        (
            "name '..'",
            kind(Mapping::open("..")),
            ErrorKind::InvalidName,
        ),
        (
            "size 0",
            kind(Mapping::create(unique("zero"), 0)),
            ErrorKind::InvalidInput,
        ),
        (
            "anonymous size 0",
            kind(Mapping::anonymous(0)),
            ErrorKind::InvalidInput,
        ),
        (
            "offset past the end",
            kind(m.map_range(end + 1, 0, Access::ReadOnly)),
            ErrorKind::OutOfRange,
        ),
        (
            "length past the end",
            kind(m.map_range(end - 1_000, 1_001, Access::ReadOnly)),
            ErrorKind::OutOfRange,
        ),
        (
            "offset + length overflows",
            kind(m.map_range(u64::MAX - 10, 100, Access::ReadOnly)),
            ErrorKind::OutOfRange,
        ),
        (
            "read past the view",
            kind(m.map().unwrap().read_vec(end as usize - 1, 2)),
            ErrorKind::OutOfRange,
        ),
        (
            "read offset overflows",
            kind(m.map().unwrap().read_vec(usize::MAX, 2)),
            ErrorKind::OutOfRange,
        ),
        (
            "missing name",
            kind(Mapping::open(unique("missing"))),
            ErrorKind::NotFound,
        ),
        (
            "creating an existing name",
            kind(Mapping::create(&existing, 4096)),
            ErrorKind::AlreadyExists,
        ),
        (
            "requested size larger than the existing object",
            kind(OpenOptions::new().min_size(8192).open(&existing)),
            ErrorKind::SizeMismatch,
        ),
        (
            "open-or-create larger than existing",
            kind(Mapping::open_or_create(&existing, 8192)),
            ErrorKind::SizeMismatch,
        ),
        (
            "mapping a directory",
            kind(FileOptions::new().open(&dir)),
            ErrorKind::InvalidInput,
        ),
        (
            "a missing file",
            kind(FileOptions::new().open(dir.join(unique("nofile")))),
            ErrorKind::NotFound,
        ),
        (
            "growing a read-only file",
            kind(
                FileOptions::new()
                    .access(Access::ReadOnly)
                    .max_size(1 << 20)
                    .open(&ro_file.0),
            ),
            ErrorKind::PermissionDenied,
        ),
        (
            "a read-write view through a read-only handle",
            kind(
                OpenOptions::new()
                    .access(Access::ReadOnly)
                    .open(&existing)
                    .unwrap()
                    .map_mut(),
            ),
            ErrorKind::PermissionDenied,
        ),
        (
            "a read-write view through a copy-on-write handle",
            kind(
                OpenOptions::new()
                    .access(Access::CopyOnWrite)
                    .open(&existing)
                    .unwrap()
                    .map_mut(),
            ),
            ErrorKind::PermissionDenied,
        ),
        (
            "a shared value opened copy-on-write",
            kind(
                ValueOptions::new()
                    .access(Access::CopyOnWrite)
                    .open(unique("cow-value")),
            ),
            ErrorKind::InvalidInput,
        ),
    ];
    // A read-only file mapped ReadWrite: root ignores file modes, so only check as a normal user.
    let ro_rw = FileOptions::new().open(&ro_file.0);
    if is_root() {
        println!("note: running as root, which may open a read-only file for writing");
    } else {
        assert_eq!(kind(ro_rw), ErrorKind::PermissionDenied);
    }
    let ro = FileOptions::new()
        .access(Access::ReadOnly)
        .open(&ro_file.0)
        .unwrap();
    assert_eq!(
        kind(ro.map_mut()),
        ErrorKind::PermissionDenied,
        "read-only file, read-write view"
    );
    assert_eq!(
        ro.map_copy().unwrap().len(),
        9,
        "copy-on-write views of a read-only file work"
    );

    let mut failed = Vec::new();
    for (what, got, want) in &cases {
        if got != want {
            failed.push(format!("{}: got {:?}, want {:?}", what, got, want));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[cfg(unix)]
fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn is_root() -> bool {
    // Under Wine (how CI runs the Windows tests, as root) the read-only attribute is the Unix
    // mode, which root ignores.
    std::env::var_os("WINEPREFIX").is_some()
}

#[test]
fn errors_name_the_object() {
    let name = unique("named-in-msg");
    let e = Mapping::open(&name).unwrap_err();
    assert!(e.to_string().contains(&name), "{}", e);
    assert_eq!(e.operation(), "open");
    let e = Mapping::create("bad/name", 1).unwrap_err();
    assert!(e.to_string().contains("bad/name"), "{}", e);
}

#[test]
fn create_never_adopts_an_existing_object() {
    let name = unique("squat");
    let squatter = CreateOptions::new().size(100).create(&name).unwrap();
    squatter
        .map_mut()
        .unwrap()
        .write_at(0, b"squatter")
        .unwrap();
    assert_eq!(
        Mapping::create(&name, 100).unwrap_err().kind(),
        ErrorKind::AlreadyExists
    );
    // The existing object is untouched.
    assert_eq!(squatter.map().unwrap().read_vec(0, 8).unwrap(), b"squatter");
}
