//! Scenario 6: reads of a page-cache-warm file: sequential scans in 128 KiB chunks and random
//! 4 KiB reads, through an mmf file view against `pread` on the same file (the logic of
//! `perf-probes/mmap_vs_read.c`).
//!
//! The file is written, flushed, dropped from the page cache and read back sequentially once,
//! so the cache holds it the way a file read by a program usually is: filled by readahead (large
//! folios on recent kernels, which the kernel can map with 2 MiB entries). Every variant then
//! reads the same cached pages.

use crate::Config;
use crate::harness::{Better, Goal, Interleaved, Kind, Scenario, median_rate, pin};
use std::fs::File;
use std::hint::black_box;
use std::io::Write;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

const CHUNK: usize = 128 << 10;
const PAGE: usize = 4096;

/// XOR-fold of a buffer's 8-byte words: the "work" done on each byte read, the same in every
/// variant so that the copy (or its absence) is the difference.
#[inline]
fn fold(buf: &[u8]) -> u64 {
    let mut acc = [0u64; 4];
    for c in buf.chunks_exact(32) {
        for (k, w) in c.chunks_exact(8).enumerate() {
            acc[k] ^= u64::from_ne_bytes(w.try_into().unwrap());
        }
    }
    acc[0] ^ acc[1] ^ acc[2] ^ acc[3]
}

fn pread(fd: i32, buf: &mut [u8], off: usize) {
    // SAFETY: `buf` is writable for its length.
    let r = unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), buf.len(), off as libc::off_t) };
    assert_eq!(r as usize, buf.len(), "pread: {}", crate::raw::errno());
}

fn prepare(path: &Path, size: usize) -> File {
    {
        let mut f = File::create(path).expect("create the test file");
        let mut block = vec![0u8; 1 << 20];
        crate::copy::fill(&mut block);
        for _ in 0..size / block.len() {
            f.write_all(&block).expect("write the test file");
        }
        f.sync_all().expect("fsync");
    }
    let f = File::open(path).expect("open the test file");
    let fd = f.as_raw_fd();
    // SAFETY: fadvise on an open descriptor.
    unsafe { libc::posix_fadvise(fd, 0, 0, libc::POSIX_FADV_DONTNEED) };
    // Read it back sequentially: readahead fills the cache.
    let mut buf = vec![0u8; 1 << 20];
    let mut off = 0;
    while off < size {
        pread(fd, &mut buf, off);
        off += buf.len();
    }
    f
}

/// GB/s of one sequential pass over `size` bytes, `read(off)` handling the CHUNK at `off`: the
/// median rate over 16 equal segments of the pass.
fn sequential(size: usize, mut read: impl FnMut(usize) -> u64) -> f64 {
    const SEGMENTS: usize = 16;
    let seg = size / SEGMENTS;
    let mut acc = 0;
    let r = median_rate(SEGMENTS, seg as f64, |k| {
        for off in (k * seg..(k + 1) * seg).step_by(CHUNK) {
            acc ^= read(off);
        }
    });
    black_box(acc);
    r
}

/// Millions of reads per second of `n` calls of `read`: the median over 20 equal chunks.
fn random(n: usize, mut read: impl FnMut() -> u64) -> f64 {
    const CHUNKS: usize = 20;
    let per = n / CHUNKS;
    let mut acc = 0;
    let r = median_rate(CHUNKS, per as f64 * 1000.0, |_| {
        for _ in 0..per {
            acc ^= read();
        }
    });
    black_box(acc);
    r
}

struct Rng(u64);
impl Rng {
    fn page(&mut self, pages: usize) -> usize {
        let x = &mut self.0;
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        (*x % pages as u64) as usize * PAGE
    }
}

fn fs_type(dir: &Path) -> String {
    // The mount whose point is the longest prefix of `dir`.
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let mut best = (0, String::from("unknown"));
    for l in mounts.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() > 2 && dir.starts_with(f[1]) && f[1].len() >= best.0 {
            best = (f[1].len(), format!("{} ({})", f[2], f[0]));
        }
    }
    best.1
}

pub fn run(cfg: &Config) -> Vec<Scenario> {
    pin(cfg.cpu_a);
    let size: usize = if cfg.quick { 256 << 20 } else { 1 << 30 };
    let dir: PathBuf = cfg.file_dir.clone().unwrap_or_else(std::env::temp_dir);
    let path = dir.join(format!("mmf-bench-{}.dat", std::process::id()));
    let file = prepare(&path, size);
    let fd = file.as_raw_fd();
    let m = mmf::FileOptions::new()
        .access(mmf::Access::ReadOnly)
        .open(&path)
        .expect("map the file");
    // One long-lived view, as the library recommends (map once, read many times).
    let view = m.map().expect("view");
    let pages = size / PAGE;
    let rand_n = if cfg.quick { 50_000 } else { 200_000 };

    // ---- sequential ----
    let mut seq = Scenario::new(
        "6 sequential",
        "cached file, sequential read in 128 KiB chunks (+ XOR fold)",
        "GB/s",
        Better::Higher,
    );
    {
        let mut runs = Interleaved::new();
        let mut buf1 = vec![0u8; CHUNK];
        let mut buf2 = vec![0u8; CHUNK];
        let mut buf3 = vec![0u8; CHUNK];
        let v = &view;
        let mm = &m;
        runs.add(
            "mmf View::read_at (long-lived view)",
            Kind::Mmf,
            move || {
                Ok(sequential(size, |off| {
                    v.read_at(off, &mut buf1).expect("read");
                    fold(&buf1)
                }))
            },
        );
        runs.add("pread", Kind::Baseline, move || {
            Ok(sequential(size, |off| {
                pread(fd, &mut buf2, off);
                fold(&buf2)
            }))
        });
        runs.add(
            "mmf View::read_at (new view each pass)",
            Kind::Info,
            move || {
                let v = mm.map().expect("view");
                Ok(sequential(size, |off| {
                    v.read_at(off, &mut buf3).expect("read");
                    fold(&buf3)
                }))
            },
        );
        #[cfg(target_arch = "x86_64")]
        {
            let mut buf4 = vec![0u8; CHUNK];
            runs.add(
                "rep movsb out of the view (candidate copy, not in mmf)",
                Kind::Info,
                move || {
                    Ok(sequential(size, |off| {
                        // SAFETY: `off + CHUNK <= size`, the view's length; `buf4` is CHUNK bytes.
                        unsafe {
                            crate::raw::rep_movsb(buf4.as_mut_ptr(), v.as_ptr().add(off), CHUNK)
                        };
                        fold(&buf4)
                    }))
                },
            );
        }
        runs.add(
            "mmf unsafe View::as_slice (zero-copy fold)",
            Kind::Info,
            move || {
                // SAFETY: nobody writes the benchmark's file while it runs.
                let all = unsafe { v.as_slice() };
                Ok(sequential(size, |off| fold(&all[off..off + CHUNK])))
            },
        );
        seq.variants = runs.run(cfg.reps, cfg.verbose, &seq.id);
    }
    seq.goals.push(Goal {
        mmf: "mmf View::read_at (long-lived view)".into(),
        baseline: "pread".into(),
        ratio: 1.5,
    });

    // ---- random ----
    let mut rnd = Scenario::new(
        "6 random",
        "cached file, random 4 KiB reads (+ XOR fold)",
        "M reads/s",
        Better::Higher,
    );
    {
        // One seed per repetition: every variant reads the same offsets in a repetition.
        let seeds: Vec<u64> = (0..cfg.reps as u64)
            .map(|k| (k + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
            .collect();
        let mut runs = Interleaved::new();
        let mut buf1 = vec![0u8; PAGE];
        let mut buf2 = vec![0u8; PAGE];
        let v = &view;
        let (mut s1, mut s2, mut s3) = (0, 0, 0);
        let sd = &seeds;
        runs.add("mmf View::read_at", Kind::Mmf, move || {
            let mut r = Rng(sd[s1]);
            s1 += 1;
            Ok(random(rand_n, || {
                v.read_at(r.page(pages), &mut buf1).expect("read");
                fold(&buf1)
            }))
        });
        runs.add("pread", Kind::Baseline, move || {
            let mut r = Rng(sd[s2]);
            s2 += 1;
            Ok(random(rand_n, || {
                pread(fd, &mut buf2, r.page(pages));
                fold(&buf2)
            }))
        });
        runs.add(
            "mmf unsafe View::as_slice (zero-copy fold)",
            Kind::Info,
            move || {
                let mut r = Rng(sd[s3]);
                s3 += 1;
                // SAFETY: nobody writes the benchmark's file while it runs.
                let all = unsafe { v.as_slice() };
                Ok(random(rand_n, || {
                    let o = r.page(pages);
                    fold(&all[o..o + PAGE])
                }))
            },
        );
        rnd.variants = runs.run(cfg.reps, cfg.verbose, &rnd.id);
    }
    rnd.goals.push(Goal {
        mmf: "mmf View::read_at".into(),
        baseline: "pread".into(),
        ratio: 1.2,
    });

    let note = format!(
        "{} MiB file on {}, written, fsynced, dropped with FADV_DONTNEED and read back once \
         sequentially (cache filled by readahead); one process pinned to CPU {}; sequential: one \
         pass per figure, the median rate of its 16 segments; random: {} page-aligned reads per \
         figure (median of 20 chunks), the same offsets for every variant in a repetition",
        size >> 20,
        fs_type(&dir),
        cfg.cpu_a,
        rand_n
    );
    seq.notes.push(note.clone());
    rnd.notes.push(note);
    drop(view);
    drop(m);
    drop(file);
    let _ = std::fs::remove_file(&path);
    vec![seq, rnd]
}
