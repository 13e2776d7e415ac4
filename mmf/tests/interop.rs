//! Plain named objects are POSIX shared memory with no header: C's `shm_open` and Python's
//! `multiprocessing.shared_memory` see mmf's bytes, and mmf sees theirs.
#![cfg(target_os = "linux")]

mod common;

use common::unique;
use mmf::{CreateOptions, Lifetime, Mapping, Namespace, OpenOptions};
use std::process::Command;

fn python() -> Option<Command> {
    let ok = Command::new("python3")
        .args(["-c", "import multiprocessing.shared_memory"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        Some(Command::new("python3"))
    } else {
        None
    }
}

fn run(mut cmd: Command, what: &str) -> String {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{} failed: {:?}\nstdout: {}\nstderr: {}",
        what,
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn python_reads_what_mmf_wrote_and_mmf_reads_what_python_wrote() {
    let mut py = match python() {
        Some(py) => py,
        None => {
            println!("SKIPPED: python3 with multiprocessing.shared_memory is not available");
            return;
        }
    };
    let name = unique("py");
    let m = CreateOptions::new()
        .size(4096)
        .lifetime(Lifetime::Handle)
        .create(&name)
        .unwrap();
    let v = m.map_mut().unwrap();
    v.write_at(0, b"written by mmf").unwrap();
    let script = r#"
import sys
from multiprocessing import shared_memory, resource_tracker
shm = shared_memory.SharedMemory(name=sys.argv[1])
resource_tracker.unregister(shm._name, "shared_memory")  # not Python's to unlink
print(bytes(shm.buf[:14]).decode())
shm.buf[100:118] = b"written by python"[:18].ljust(18, b"!")
shm.close()
"#;
    py.args(["-c", script, &name]);
    assert_eq!(run(py, "python"), "written by mmf");
    assert_eq!(v.read_vec(100, 17).unwrap(), b"written by python");
}

#[test]
fn mmf_opens_a_python_object_and_lists_it_as_plain() {
    let mut py = match python() {
        Some(py) => py,
        None => {
            println!("SKIPPED: python3 with multiprocessing.shared_memory is not available");
            return;
        }
    };
    let name = unique("pyobj");
    let script = r#"
import sys
from multiprocessing import shared_memory, resource_tracker
shm = shared_memory.SharedMemory(name=sys.argv[1], create=True, size=8192)
resource_tracker.unregister(shm._name, "shared_memory")
shm.buf[:6] = b"python"
shm.close()
"#;
    py.args(["-c", script, &name]);
    run(py, "python create");
    let m = OpenOptions::new().open(&name).unwrap();
    assert_eq!(m.len(), 8192);
    assert_eq!(
        m.lifetime(),
        Lifetime::Persistent,
        "foreign objects are never auto-removed"
    );
    assert_eq!(m.map().unwrap().read_vec(0, 6).unwrap(), b"python");
    let info = Namespace::default()
        .list()
        .unwrap()
        .into_iter()
        .find(|o| o.name == name)
        .unwrap();
    assert!(!info.is_value());
    assert_eq!(info.lifetime, None);
    assert_eq!(info.size, 8192);
    drop(m);
    // Persistent: still there after our handle closed, until removed.
    Namespace::default().remove(&name).unwrap();
    assert!(Mapping::open(&name).is_err());
}

#[test]
fn a_c_program_with_shm_open_sees_the_same_bytes() {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let dir = std::env::temp_dir().join(unique("cprog"));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("peer.c");
    let exe = dir.join("peer");
    std::fs::write(
        &src,
        r#"
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
int main(int argc, char **argv) {
    char name[300];
    snprintf(name, sizeof name, "/%s", argv[1]);
    int fd = shm_open(name, O_RDWR, 0);
    if (fd < 0) { perror("shm_open"); return 1; }
    char *p = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) { perror("mmap"); return 1; }
    printf("%s\n", p);          /* the seed's format: text up to the NUL */
    strcpy(p + 200, "from C");
    return 0;
}
"#,
    )
    .unwrap();
    let built = Command::new(&cc)
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .arg("-lrt")
        .status();
    if !matches!(built, Ok(s) if s.success()) {
        println!("SKIPPED: no working C compiler ({})", cc);
        return;
    }
    let name = unique("c");
    let m = Mapping::create(&name, 4096).unwrap();
    let v = m.map_mut().unwrap();
    v.write_at(0, b"seed text\0").unwrap();
    let mut cmd = Command::new(&exe);
    cmd.arg(&name);
    assert_eq!(run(cmd, "C peer"), "seed text");
    assert_eq!(v.read_vec(200, 7).unwrap(), b"from C\0");
    let _ = std::fs::remove_dir_all(&dir);
}
