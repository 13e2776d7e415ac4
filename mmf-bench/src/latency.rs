//! Scenarios 1 and 2: one-way store→observe latency of a 64-byte payload between two processes,
//! measured as ping-pong round trip / 2, with a spinning reader (1) and a blocking reader (2).
//!
//! Every variant runs the same shape: the parent (pinned to the first CPU) spawns a child of this
//! binary (pinned to the second), both set up, the child says `ready`, the parent does a warm-up
//! and then times round trips in batches; the figure is the median batch mean / 2.

use crate::harness::{Peer, batched_median_ns, pin, say_ready, unique_name};
use crate::raw::{self, RawShm};
use crate::{Config, PAYLOAD};
use std::sync::atomic::Ordering;

/// Round trips per measurement for each class of transport (the child runs warm-up + these).
pub fn counts(cfg: &Config, class: Class) -> (usize, usize, usize) {
    let (n, batch) = match class {
        Class::SpinShm => (200_000, 100),
        Class::SpinKernel => (40_000, 50),
        Class::Blocking => (6_000, 20),
    };
    let n = if cfg.quick { n / 5 } else { n };
    (n / 10, n, batch)
}

#[derive(Clone, Copy)]
pub enum Class {
    SpinShm,
    SpinKernel,
    Blocking,
}

/// Runs the parent half of a ping-pong: spawns `role` with `args` + the iteration count, waits for
/// it, warms up, times. `rt(i)` does round trip `i`.
pub fn drive(
    cfg: &Config,
    class: Class,
    role: &str,
    mut args: Vec<String>,
    mut rt: impl FnMut(usize),
) -> f64 {
    let (warm, n, batch) = counts(cfg, class);
    args.push((warm + n).to_string());
    args.push(cfg.cpu_b.to_string());
    let mut peer = Peer::spawn(role, &args);
    peer.wait_ready();
    pin(cfg.cpu_a);
    for i in 0..warm {
        rt(i);
    }
    let mut i = warm;
    let rtt = batched_median_ns(n, batch, |_| {
        rt(i);
        i += 1;
    });
    peer.finish();
    rtt / 2.0
}

/// Arguments a child role gets: its own, then the total count, then its CPU.
pub fn child_common(args: &[String]) -> (usize, usize) {
    let n = args.len();
    let total: usize = args[n - 2].parse().expect("count");
    let cpu: usize = args[n - 1].parse().expect("cpu");
    pin(cpu);
    (total, cpu)
}

// ---- raw cache line -----------------------------------------------------------------------------

/// The physical floor: one 8-byte counter in one shared cache line, both sides spinning
/// (the logic of `perf-probes/pingpong_shm.c`).
pub fn cache_line(cfg: &Config) -> Result<f64, String> {
    let name = unique_name("line");
    let shm = RawShm::create(&name, 4096);
    let flag = shm.u64_at(0);
    flag.store(0, Ordering::Relaxed);
    Ok(drive(
        cfg,
        Class::SpinShm,
        "line",
        vec![name.clone()],
        |i| {
            let i = i as u64;
            flag.store(2 * i + 1, Ordering::Release);
            while flag.load(Ordering::Acquire) != 2 * i + 2 {
                std::hint::spin_loop();
            }
        },
    ))
}

pub fn child_cache_line(args: &[String]) {
    let (total, _) = child_common(args);
    let shm = RawShm::open(&args[0], 4096);
    let flag = shm.u64_at(0);
    say_ready();
    for i in 0..total as u64 {
        while flag.load(Ordering::Acquire) != 2 * i + 1 {
            std::hint::spin_loop();
        }
        flag.store(2 * i + 2, Ordering::Release);
    }
}

// ---- pipes and sockets --------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Fd {
    Pipe,
    Unix,
}

/// 64-byte messages over a pipe pair or a Unix stream socket pair; `spin`: non-blocking
/// descriptors polled in a loop (scenario 1), else blocking reads (scenario 2).
pub fn fd_pingpong(cfg: &Config, kind: Fd, spin: bool) -> Result<f64, String> {
    // (parent reads, parent writes, child reads, child writes)
    let (pr, pw, cr, cw) = match kind {
        Fd::Pipe => {
            let [(ar, aw), (br, bw)] = raw::pipes();
            (br, aw, ar, bw)
        }
        Fd::Unix => {
            let (a, b) = raw::socketpair();
            (a, a, b, b)
        }
    };
    if spin {
        raw::set_nonblocking(pr);
        raw::set_nonblocking(cr);
    }
    let class = if spin {
        Class::SpinKernel
    } else {
        Class::Blocking
    };
    let mut buf = PAYLOAD;
    let r = drive(
        cfg,
        class,
        "fd",
        vec![cr.to_string(), cw.to_string()],
        |i| {
            buf[..8].copy_from_slice(&(i as u64).to_ne_bytes());
            raw::write_all(pw, &buf);
            raw::read_exact(pr, &mut buf);
        },
    );
    let mut fds = vec![pr, pw, cr, cw];
    fds.dedup(); // a socket pair uses one descriptor per side for both directions
    for fd in fds {
        raw::close(fd);
    }
    Ok(r)
}

pub fn child_fd(args: &[String]) {
    let (total, _) = child_common(args);
    let r: i32 = args[0].parse().expect("fd");
    let w: i32 = args[1].parse().expect("fd");
    let mut buf = [0u8; 64];
    say_ready();
    for _ in 0..total {
        raw::read_exact(r, &mut buf);
        raw::write_all(w, &buf);
    }
}

// ---- futex and eventfd (blocking) ---------------------------------------------------------------

/// Raw futex ping-pong (`perf-probes/pingpong_os.c futex`), with the 64-byte payload copied
/// through the same shared page.
pub fn futex(cfg: &Config) -> Result<f64, String> {
    let name = unique_name("futex");
    let shm = RawShm::create(&name, 4096);
    let ping = shm.u32_at(0);
    let pong = shm.u32_at(64);
    let mut buf = PAYLOAD;
    Ok(drive(
        cfg,
        Class::Blocking,
        "futex",
        vec![name.clone()],
        |i| {
            buf[..8].copy_from_slice(&(i as u64).to_ne_bytes());
            // SAFETY: offsets 128..192 and 192..256 are inside the 4 KiB mapping.
            unsafe { raw::copy64(shm.ptr().add(128), buf.as_ptr()) };
            ping.store(1, Ordering::Release);
            raw::futex_wake(ping);
            while pong.load(Ordering::Acquire) == 0 {
                raw::futex_wait(pong, 0);
            }
            pong.store(0, Ordering::Relaxed);
            // SAFETY: as above.
            unsafe { raw::copy64(buf.as_mut_ptr(), shm.ptr().add(192)) };
        },
    ))
}

pub fn child_futex(args: &[String]) {
    let (total, _) = child_common(args);
    let shm = RawShm::open(&args[0], 4096);
    let ping = shm.u32_at(0);
    let pong = shm.u32_at(64);
    let mut buf = [0u8; 64];
    say_ready();
    for _ in 0..total {
        while ping.load(Ordering::Acquire) == 0 {
            raw::futex_wait(ping, 0);
        }
        ping.store(0, Ordering::Relaxed);
        // SAFETY: inside the 4 KiB mapping.
        unsafe {
            raw::copy64(buf.as_mut_ptr(), shm.ptr().add(128));
            raw::copy64(shm.ptr().add(192), buf.as_ptr());
        }
        pong.store(1, Ordering::Release);
        raw::futex_wake(pong);
    }
}

/// eventfd ping-pong (`pingpong_os.c eventfd`): an 8-byte token each way, blocking reads.
pub fn eventfd(cfg: &Config) -> Result<f64, String> {
    let a = raw::eventfd();
    let b = raw::eventfd();
    let one = 1u64.to_ne_bytes();
    let mut got = [0u8; 8];
    let r = drive(
        cfg,
        Class::Blocking,
        "eventfd",
        vec![a.to_string(), b.to_string()],
        |_| {
            raw::write_all(a, &one);
            raw::read_exact(b, &mut got);
        },
    );
    raw::close(a);
    raw::close(b);
    Ok(r)
}

pub fn child_eventfd(args: &[String]) {
    let (total, _) = child_common(args);
    let a: i32 = args[0].parse().expect("fd");
    let b: i32 = args[1].parse().expect("fd");
    let one = 1u64.to_ne_bytes();
    let mut got = [0u8; 8];
    say_ready();
    for _ in 0..total {
        raw::read_exact(a, &mut got);
        raw::write_all(b, &one);
    }
}
