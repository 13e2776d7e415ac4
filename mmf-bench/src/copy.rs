//! Scenario 3: store and retrieve throughput at 4 KiB, 1 MiB and 64 MiB against memcpy, plus
//! the library's copy primitive (`View::write_at` / `View::read_at`) on its own.

use crate::Config;
use crate::harness::{Better, Goal, Interleaved, Kind, Scenario, pin, unique_name};
use std::hint::black_box;

pub const SIZES: [usize; 3] = [4 << 10, 1 << 20, 64 << 20];

/// Bytes moved per measurement (each figure is one timed loop of this many bytes).
fn volume(cfg: &Config, size: usize) -> usize {
    let v = if cfg.quick { 256 << 20 } else { 1 << 30 };
    v.max(2 * size)
}

/// GB/s (10^9 bytes per second) of `iters` calls of `f` moving `size` bytes each: the median
/// over up to 32 timed chunks of the calls.
pub fn gbps(size: usize, iters: usize, mut f: impl FnMut()) -> f64 {
    f(); // warm: faults, caches
    let chunks = iters.clamp(1, 32);
    let per = (iters / chunks).max(1);
    crate::harness::median_rate(chunks, (size * per) as f64, |_| {
        for _ in 0..per {
            f();
        }
    })
}

pub fn fill(buf: &mut [u8]) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = (i * 7 + 3) as u8;
    }
}

pub fn label(size: usize) -> String {
    if size >= 1 << 20 {
        format!("{} MiB", size >> 20)
    } else {
        format!("{} KiB", size >> 10)
    }
}

pub fn run(cfg: &Config) -> Vec<Scenario> {
    pin(cfg.cpu_a);
    let mut out = Vec::new();
    for size in SIZES {
        let iters = volume(cfg, size) / size;
        let mut sc = Scenario::new(
            &format!("3 {}", label(size)),
            &format!("store / retrieve throughput, {}", label(size)),
            "GB/s",
            Better::Higher,
        );
        let mut src = vec![0u8; size];
        fill(&mut src);
        let mut dst = vec![0u8; size];
        let mut dst2 = vec![0u8; size];

        // The library's copy primitive on a plain named object.
        let name = unique_name("copy");
        let m = mmf::Mapping::create(&name, size as u64).expect("create");
        let view = m.map_mut().expect("map");

        let value = crate::mmfv::Copy::new(size);

        let mut runs = Interleaved::new();
        {
            let v = &value;
            let s = &src;
            runs.add("mmf SharedValue::store", Kind::Mmf, move || {
                Ok(gbps(size, iters, || v.store(s)))
            });
        }
        {
            let v = &value;
            runs.add("mmf SharedValue::retrieve_into", Kind::Mmf, move || {
                Ok(gbps(size, iters, || v.retrieve()))
            });
        }
        {
            let (s, d) = (&src, &mut dst);
            runs.add("memcpy", Kind::Baseline, move || {
                Ok(gbps(size, iters, || {
                    // SAFETY: two distinct buffers of `size` bytes.
                    unsafe {
                        std::ptr::copy_nonoverlapping(
                            black_box(s.as_ptr()),
                            black_box(d.as_mut_ptr()),
                            size,
                        )
                    };
                    black_box(&d);
                }))
            });
        }
        {
            let (v, s) = (&view, &src);
            runs.add(
                "mmf View::write_at (atomic 8-byte copy)",
                Kind::Info,
                move || {
                    Ok(gbps(size, iters, || {
                        v.write_at(0, black_box(s)).expect("write")
                    }))
                },
            );
        }
        {
            let (v, d) = (&view, &mut dst2);
            runs.add(
                "mmf View::read_at (atomic 8-byte copy)",
                Kind::Info,
                move || {
                    Ok(gbps(size, iters, || {
                        v.read_at(0, black_box(&mut d[..])).expect("read")
                    }))
                },
            );
        }
        #[cfg(target_arch = "x86_64")]
        {
            let (v, s) = (&view, &src);
            runs.add(
                "rep movsb into a view (candidate copy, not in mmf)",
                Kind::Info,
                move || {
                    Ok(gbps(size, iters, || {
                        // SAFETY: the view is `size` bytes, writable, and `s` is `size` bytes.
                        unsafe {
                            crate::raw::rep_movsb(v.as_mut_ptr(), black_box(s.as_ptr()), size)
                        }
                    }))
                },
            );
        }
        #[cfg(target_arch = "x86_64")]
        {
            let v = &view;
            let mut d = vec![0u8; size];
            runs.add(
                "rep movsb out of a view (candidate copy, not in mmf)",
                Kind::Info,
                move || {
                    Ok(gbps(size, iters, || {
                        // SAFETY: the view is `size` bytes and readable; `d` is `size` bytes.
                        unsafe { crate::raw::rep_movsb(d.as_mut_ptr(), v.as_ptr(), size) };
                        black_box(&d);
                    }))
                },
            );
        }
        sc.variants = runs.run(cfg.reps, cfg.verbose, &sc.id);
        for mmf in ["mmf SharedValue::store", "mmf SharedValue::retrieve_into"] {
            sc.goals.push(Goal {
                mmf: mmf.into(),
                baseline: "memcpy".into(),
                ratio: 0.8,
            });
        }
        sc.notes.push(format!(
            "{iters} copies of {} per figure (the median rate over up to 32 timed chunks of \
             them), one process pinned to CPU {}; memcpy is glibc's, between two private buffers",
            label(size),
            cfg.cpu_a
        ));
        out.push(sc);
    }
    out
}
