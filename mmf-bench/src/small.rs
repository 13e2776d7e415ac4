//! Scenario 7: what one small operation costs, in nanoseconds, against the same operation with
//! no mmf bookkeeping. It shows the price of the `SIGBUS` guard around every copy through a
//! mapping (`View::read_at`, `SharedValue::version`, `retrieve`) and of the commit-limit check and
//! unnamed creation in `Mapping::create`.

use crate::Config;
use crate::harness::{Better, Interleaved, Kind, Scenario, batched_median_ns, pin, unique_name};
use std::ffi::CString;
use std::hint::black_box;
use std::sync::atomic::Ordering;

/// Creates, sizes, commits and removes a 4 KiB POSIX shared-memory object with plain libc calls.
fn raw_create(name: &CString) {
    // SAFETY: plain system calls on a NUL-terminated name and the descriptor they return.
    unsafe {
        let fd = libc::shm_open(
            name.as_ptr(),
            libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
            0o600,
        );
        assert!(fd >= 0, "shm_open");
        assert_eq!(libc::ftruncate(fd, 4096), 0, "ftruncate");
        assert_eq!(libc::fallocate(fd, 0, 0, 4096), 0, "fallocate");
        libc::close(fd);
        libc::shm_unlink(name.as_ptr());
    }
}

pub fn run(cfg: &Config) -> Vec<Scenario> {
    pin(cfg.cpu_a);
    let (total, batch) = if cfg.quick {
        (200_000, 10_000)
    } else {
        (2_000_000, 20_000)
    };
    let mut access = Scenario::new(
        "7 access",
        "one small access through a mapping (SIGBUS-guarded) vs the bare atomic",
        "ns",
        Better::Lower,
    );
    let name = unique_name("small");
    let m = mmf::Mapping::create(&name, 4096).expect("create");
    let view = m.map_mut().expect("map");
    let word = view.atomic_u64(0).expect("atomic");
    let value = mmf::SharedValue::create(unique_name("small-value")).expect("value");
    value.store(&crate::PAYLOAD).expect("store");
    let mut out = Vec::new();
    let mut runs = Interleaved::new();
    runs.add(
        "bare AtomicU64 load (View::atomic_u64, unguarded)",
        Kind::Baseline,
        || {
            Ok(batched_median_ns(total, batch, |_| {
                black_box(word.load(Ordering::Relaxed));
            }))
        },
    );
    {
        let v = &view;
        runs.add("mmf View::read_at, 8 B", Kind::Mmf, move || {
            let mut buf = [0u8; 8];
            Ok(batched_median_ns(total, batch, |_| {
                v.read_at(0, black_box(&mut buf)).expect("read");
            }))
        });
    }
    {
        let v = &value;
        runs.add("mmf SharedValue::version", Kind::Mmf, move || {
            Ok(batched_median_ns(total, batch, |_| {
                black_box(v.version());
            }))
        });
    }
    {
        let v = &value;
        runs.add(
            "mmf SharedValue::retrieve_into, 64 B",
            Kind::Mmf,
            move || {
                let mut buf = Vec::with_capacity(64);
                Ok(batched_median_ns(total / 4, batch / 4, |_| {
                    v.retrieve_into(black_box(&mut buf)).expect("retrieve");
                }))
            },
        );
    }
    access.variants = runs.run(cfg.reps, cfg.verbose, "7");
    out.push(access);

    let mut create = Scenario::new(
        "7 create",
        "create, commit and remove a 4 KiB named object",
        "µs",
        Better::Lower,
    );
    let (total, batch) = if cfg.quick {
        (2_000, 200)
    } else {
        (10_000, 500)
    };
    let raw_name = CString::new(format!("/{}", unique_name("small-raw"))).expect("name");
    let mmf_name = unique_name("small-create");
    let mut runs = Interleaved::new();
    runs.add(
        "raw shm_open + ftruncate + fallocate + unlink",
        Kind::Baseline,
        || Ok(batched_median_ns(total, batch, |_| raw_create(&raw_name)) / 1000.0),
    );
    runs.add(
        "mmf Mapping::create + drop (handle lifetime)",
        Kind::Mmf,
        || {
            Ok(batched_median_ns(total, batch, |_| {
                drop(mmf::Mapping::create(&mmf_name, 4096).expect("create"));
            }) / 1000.0)
        },
    );
    create.variants = runs.run(cfg.reps, cfg.verbose, "7");
    create.notes.push(
        "mmf also locks the object (flock), marks its lifetime, checks the commit limit and \
         publishes it only when complete (O_TMPFILE + linkat); the raw loop does none of that"
            .to_owned(),
    );
    out.push(create);
    drop((view, m));
    out
}
