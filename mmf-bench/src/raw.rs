//! Raw POSIX building blocks for the baselines: `shm_open` + `mmap`, fds, futex. Nothing here
//! uses mmf, so a baseline measures the operating system, not the library.

use std::ffi::CString;
use std::sync::atomic::{AtomicU32, AtomicU64};

/// The last OS error, for messages.
pub fn errno() -> std::io::Error {
    std::io::Error::last_os_error()
}

/// A POSIX shared-memory object mapped read-write: `shm_open` + `ftruncate` + `mmap`.
pub struct RawShm {
    ptr: *mut u8,
    len: usize,
    unlink: Option<CString>,
}

impl RawShm {
    /// Creates `/NAME` with `len` bytes (removed again on drop).
    pub fn create(name: &str, len: usize) -> RawShm {
        let c = CString::new(format!("/{name}")).expect("name");
        // SAFETY: plain syscalls on a NUL-terminated name; the results are checked.
        unsafe {
            let fd = libc::shm_open(
                c.as_ptr(),
                libc::O_CREAT | libc::O_EXCL | libc::O_RDWR,
                0o600,
            );
            assert!(fd >= 0, "shm_open {name}: {}", errno());
            assert_eq!(libc::ftruncate(fd, len as libc::off_t), 0, "ftruncate");
            let ptr = map_fd(fd, len);
            libc::close(fd);
            RawShm {
                ptr,
                len,
                unlink: Some(c),
            }
        }
    }

    /// Opens `/NAME` made by another process.
    pub fn open(name: &str, len: usize) -> RawShm {
        let c = CString::new(format!("/{name}")).expect("name");
        // SAFETY: as in `create`.
        unsafe {
            let fd = libc::shm_open(c.as_ptr(), libc::O_RDWR, 0);
            assert!(fd >= 0, "shm_open {name}: {}", errno());
            let ptr = map_fd(fd, len);
            libc::close(fd);
            RawShm {
                ptr,
                len,
                unlink: None,
            }
        }
    }

    pub fn ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// The 8-byte word at `off` (8-aligned, in bounds) as a shared atomic.
    pub fn u64_at(&self, off: usize) -> &AtomicU64 {
        assert!(off.is_multiple_of(8) && off + 8 <= self.len);
        // SAFETY: aligned, in bounds, mapped read-write while `self` lives; atomics may be shared
        // between processes.
        unsafe { &*(self.ptr.add(off) as *const AtomicU64) }
    }

    /// The 4-byte word at `off` as a shared atomic (a futex word).
    pub fn u32_at(&self, off: usize) -> &AtomicU32 {
        assert!(off.is_multiple_of(4) && off + 4 <= self.len);
        // SAFETY: as for `u64_at`.
        unsafe { &*(self.ptr.add(off) as *const AtomicU32) }
    }
}

impl Drop for RawShm {
    fn drop(&mut self) {
        // SAFETY: the mapping was made in `create`/`open` with this length and is not used after.
        unsafe {
            libc::munmap(self.ptr.cast(), self.len);
            if let Some(c) = &self.unlink {
                libc::shm_unlink(c.as_ptr());
            }
        }
    }
}

/// # Safety
/// `fd` is an open shared-memory descriptor of at least `len` bytes.
unsafe fn map_fd(fd: i32, len: usize) -> *mut u8 {
    // SAFETY: a fresh shared mapping; forwarded from the caller.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
            0,
        )
    };
    assert!(p != libc::MAP_FAILED, "mmap: {}", errno());
    p.cast()
}

/// Copies 64 bytes in or out of shared memory with volatile accesses (the baselines' "payload").
///
/// # Safety
/// Both ranges are mapped for 64 bytes.
pub unsafe fn copy64(dst: *mut u8, src: *const u8) {
    // SAFETY: forwarded from the caller; volatile so the copy is not optimised away.
    unsafe {
        let s = src as *const [u64; 8];
        let d = dst as *mut [u64; 8];
        std::ptr::write_volatile(d, std::ptr::read_volatile(s));
    }
}

/// `FUTEX_WAIT` (shared, not private) on `word` while it holds `val`.
pub fn futex_wait(word: &AtomicU32, val: u32) {
    // SAFETY: `word` is a valid, aligned u32 for the call's duration.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            val,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

/// `FUTEX_WAKE` one waiter on `word`.
pub fn futex_wake(word: &AtomicU32) {
    // SAFETY: as for `futex_wait`.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            1u32,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

/// Writes all of `buf` to `fd` (blocking or not: retries on `EAGAIN`).
pub fn write_all(fd: i32, buf: &[u8]) {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: the pointer and length describe the rest of `buf`.
        let r = unsafe { libc::write(fd, buf[done..].as_ptr().cast(), buf.len() - done) };
        if r > 0 {
            done += r as usize;
        } else {
            let e = errno();
            assert!(e.raw_os_error() == Some(libc::EAGAIN), "write fd {fd}: {e}");
            std::hint::spin_loop();
        }
    }
}

/// Reads exactly `buf.len()` bytes from `fd`; on a non-blocking fd this spins on `EAGAIN`.
pub fn read_exact(fd: i32, buf: &mut [u8]) {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: the pointer and length describe the rest of `buf`.
        let r = unsafe { libc::read(fd, buf[done..].as_mut_ptr().cast(), buf.len() - done) };
        if r > 0 {
            done += r as usize;
        } else if r == 0 {
            panic!("fd {fd}: end of file");
        } else {
            let e = errno();
            assert!(e.raw_os_error() == Some(libc::EAGAIN), "read fd {fd}: {e}");
            std::hint::spin_loop();
        }
    }
}

pub fn set_nonblocking(fd: i32) {
    // SAFETY: fcntl on an open descriptor.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
}

pub fn close(fd: i32) {
    // SAFETY: closes a descriptor this process owns and no longer uses.
    unsafe {
        libc::close(fd);
    }
}

/// Two pipes (parent→child, child→parent), inheritable: `[(read, write); 2]`.
pub fn pipes() -> [(i32, i32); 2] {
    let mut a = [0i32; 2];
    let mut b = [0i32; 2];
    // SAFETY: `pipe` writes two descriptors into each array.
    unsafe {
        assert_eq!(libc::pipe(a.as_mut_ptr()), 0);
        assert_eq!(libc::pipe(b.as_mut_ptr()), 0);
    }
    [(a[0], a[1]), (b[0], b[1])]
}

/// A connected Unix stream socket pair, inheritable.
pub fn socketpair() -> (i32, i32) {
    let mut sv = [0i32; 2];
    // SAFETY: `socketpair` writes two descriptors into `sv`.
    unsafe {
        assert_eq!(
            libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, sv.as_mut_ptr()),
            0
        );
    }
    (sv[0], sv[1])
}

/// An eventfd (semaphore off, counter 0), inheritable.
pub fn eventfd() -> i32 {
    // SAFETY: plain syscall.
    let fd = unsafe { libc::eventfd(0, 0) };
    assert!(fd >= 0, "eventfd: {}", errno());
    fd
}

/// Copies `n` bytes with one `rep movsb` instruction in inline assembly: a candidate for a faster
/// copy into or out of memory that other processes may write. The compiler cannot see through
/// the asm block, so it assumes nothing about the bytes (no data-race UB in the Rust model);
/// the CPU copies with its fast-string microcode (ERMS/FSRM), which uses wide accesses.
/// Shown for context only; the library does not do this.
///
/// # Safety
/// `src..src+n` is readable, `dst..dst+n` writable, and they do not overlap.
#[cfg(target_arch = "x86_64")]
pub unsafe fn rep_movsb(dst: *mut u8, src: *const u8, n: usize) {
    // SAFETY: forwarded from the caller; the asm only touches the two ranges and the three
    // registers it declares.
    unsafe {
        std::arch::asm!(
            "rep movsb",
            inout("rcx") n => _,
            inout("rdi") dst => _,
            inout("rsi") src => _,
            options(nostack, preserves_flags)
        );
    }
}
