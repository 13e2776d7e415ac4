//! The descriptor under a mapping (`AsFd`, `AsRawFd`): open, the object's own size, the very
//! object the views map, and the object a child takes over with `from_inherited`. Shared values
//! hand out their mapping's descriptor. (Windows' section handle: `tests/windows.rs`.)
#![cfg(target_os = "linux")]

mod common;

use common::{check, helper, unique, wait_output, Dir, TempPath, POSIX_BACKEND};
use mmf::{CreateOptions, FileOptions, Lifetime, Mapping, Namespace, Shared, ValueOptions};
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::{AsFd, AsRawFd};
use std::process::Stdio;
use std::time::Duration;

/// `fstat` of the descriptor, checking on the way that it is open.
fn fstat(fd: impl AsFd) -> rustix::fs::Stat {
    let fd = fd.as_fd();
    rustix::io::fcntl_getfd(fd).expect("the descriptor is open");
    rustix::fs::fstat(fd).expect("fstat")
}

/// The descriptor reads what a view of the mapping wrote: it is the object the views map.
fn assert_same_bytes(m: &Mapping, offset: u64, bytes: &[u8]) {
    m.map_mut()
        .unwrap()
        .write_at(offset as usize, bytes)
        .unwrap();
    let mut back = vec![0u8; bytes.len()];
    let n = rustix::io::pread(m.as_fd(), &mut back, offset).expect("pread");
    assert_eq!(&back[..n], bytes);
}

/// Removes a persistent object's name when dropped (the POSIX backend has no handle lifetime).
struct Removed(String);

impl Drop for Removed {
    fn drop(&mut self) {
        let _ = Namespace::default().remove(self.0.as_str());
    }
}

#[test]
fn a_named_object_is_its_file_in_the_namespace_directory() {
    let dir = Dir::new("fd-named");
    let name = unique("fd-named");
    // The POSIX backend has no directories of its own: glibc's shm_open opens /dev/shm/NAME.
    let (m, path, _removed) = if POSIX_BACKEND {
        let m = CreateOptions::new()
            .size(3 * 4096)
            .lifetime(Lifetime::Persistent)
            .create(name.as_str())
            .unwrap();
        let path = std::path::Path::new("/dev/shm").join(&name);
        (m, path, Some(Removed(name)))
    } else {
        let m = dir.create(3 * 4096).create(name.as_str()).unwrap();
        (m, dir.path(&name), None)
    };
    let st = fstat(&m);
    let file = std::fs::metadata(path).unwrap();
    assert_eq!((st.st_dev, st.st_ino), (file.dev(), file.ino()));
    assert_eq!(st.st_size as u64, m.len());
    assert_eq!(m.as_raw_fd(), m.as_fd().as_raw_fd());
    assert_same_bytes(&m, 5000, b"named");
}

#[test]
fn an_anonymous_object_is_a_memfd_of_its_size() {
    let m = Mapping::anonymous(8192).unwrap();
    let st = fstat(&m);
    assert_eq!(st.st_size, 8192);
    if !POSIX_BACKEND {
        let link = std::fs::read_link(format!("/proc/self/fd/{}", m.as_raw_fd())).unwrap();
        assert!(link.to_string_lossy().starts_with("/memfd:"), "{:?}", link);
    }
    assert_same_bytes(&m, 100, b"anonymous");
}

#[test]
fn a_file_mapping_is_the_file() {
    let p = TempPath::new("fd-file");
    let m = FileOptions::new()
        .create(true)
        .max_size(4096)
        .open(&p.0)
        .unwrap();
    let st = fstat(&m);
    let file = std::fs::metadata(&p.0).unwrap();
    assert_eq!((st.st_dev, st.st_ino), (file.dev(), file.ino()));
    assert_eq!(st.st_size, 4096);
    assert_same_bytes(&m, 0, b"file");
}

#[test]
fn shared_values_hand_out_their_mappings_descriptor() {
    let (value, typed) = (unique("fd-value"), unique("fd-typed"));
    let _removed = (Removed(value.clone()), Removed(typed.clone()));
    let mut options = ValueOptions::new();
    if POSIX_BACKEND {
        options.lifetime(Lifetime::Persistent);
    }
    let value = options.create(value.as_str()).unwrap();
    assert_eq!(value.as_raw_fd(), value.mapping().as_raw_fd());
    assert_eq!(value.as_fd().as_raw_fd(), value.mapping().as_raw_fd());
    assert_eq!(fstat(&value).st_size as u64, value.mapping().len());

    let typed = Shared::<u64>::create_with(&options, typed.as_str()).unwrap();
    assert_eq!(typed.as_raw_fd(), typed.as_value().mapping().as_raw_fd());
    assert_eq!(
        fstat(&typed).st_size as u64,
        typed.as_value().mapping().len()
    );
}

/// The child that takes the object over with `from_inherited` finds the same file (device and
/// inode) and size behind its descriptor as the parent's.
#[test]
fn a_child_takes_over_the_object_behind_the_descriptor() {
    if POSIX_BACKEND {
        println!("SKIPPED: the POSIX backend cannot hand objects over");
        return;
    }
    let dir = Dir::new("fd-inherit");
    let named = dir
        .create(2 * 4096)
        .create(unique("fd-inherit").as_str())
        .unwrap();
    let anonymous = Mapping::anonymous(3 * 4096).unwrap();
    for m in [&named, &anonymous] {
        let mut cmd = helper();
        let handle = m.inherit(&mut cmd).unwrap();
        cmd.arg("inherited-stat")
            .env("MMF_HANDLE", handle.token())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = cmd.spawn().expect("spawn mmf-testhelper");
        drop(handle);
        let out = check(
            &wait_output(child, Duration::from_secs(30)),
            "inherited-stat",
        );
        let st = fstat(m);
        assert_eq!(
            out.trim(),
            format!("stat {} {} {}", st.st_dev, st.st_ino, st.st_size),
            "{:?}",
            m
        );
    }
}
