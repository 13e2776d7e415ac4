//! Scenario 11 (issue 13): space. A shared value is stored with each of the three growth
//! series (10, 20 … 100 MiB; 1 MiB at a time to 50 MiB; 4 KiB at a time to 8 MB), then once
//! more with a 4 KiB value. Figures: the object's size after the series against the largest
//! value stored (goal ≤ 3×), and the object's resident memory (the blocks its tmpfs file has
//! allocated) after the small store against twice the live value plus the header (goal ≤ 1×).
//!
//! Each series runs in a child process inside a memory cgroup (the largest series holds about
//! 300 MiB of shared memory, and a regression could hold far more); without a cgroup the
//! scenario is not run and says why. The figures do not depend on timing, so each series runs
//! once whatever `--reps` says.

use crate::Config;
use crate::cgroup::Cgroup;
use crate::harness::{Better, Goal, Kind, Peer, Scenario, Variant, say_result, unique_name};
use std::os::unix::fs::MetadataExt;

const MIB: usize = 1 << 20;
/// The cgroup's limit: the largest series' object (under 300 MiB with format 3) and the
/// child's own 100 MiB value, with room to spare.
const LIMIT: u64 = 1 << 30;
/// The small value stored after each series.
const SMALL: usize = 4096;

/// The three series: an id for the table and the sizes stored, in order.
fn series() -> [(&'static str, &'static str, Vec<usize>); 3] {
    [
        (
            "11 space 10…100 MiB",
            "10, 20 … 100 MiB",
            (1..=10).map(|i| i * 10 * MIB).collect(),
        ),
        (
            "11 space 1 MiB steps",
            "grown 1 MiB at a time to 50 MiB",
            (1..=50).map(|i| i * MIB).collect(),
        ),
        (
            "11 space 4 KiB steps",
            "grown 4 KiB at a time to 8 MB (1,953 stores)",
            (1..=1953).map(|i| i * 4096).collect(),
        ),
    ]
}

/// `__child space INDEX`: stores series INDEX into a new value, then the small value, and prints
/// the object's size, the largest value, the object's allocated bytes and the header's size.
pub fn child(args: &[String]) {
    let index: usize = args[0].parse().expect("series index");
    let (_, _, sizes) = &series()[index];
    let name = unique_name("space");
    let v = mmf::SharedValue::create(&name).expect("create");
    let file = mmf::Namespace::default()
        .dir()
        .expect("a namespace directory")
        .join(&name);
    let allocated = || std::fs::metadata(&file).expect("stat").blocks() * 512;
    let largest = *sizes.iter().max().expect("sizes");
    let mut buf = vec![0u8; largest];
    for (i, &len) in sizes.iter().enumerate() {
        // Each value differs from the last (its first bytes), as a real series would.
        buf[..8.min(len)].copy_from_slice(&(i as u64).to_le_bytes()[..8.min(len)]);
        v.store(&buf[..len]).expect("store");
    }
    let size = v.mapping().len();
    v.store(&buf[..SMALL]).expect("store");
    let header = v.header().expect("header").header_size;
    say_result(size as f64);
    say_result(largest as f64);
    say_result(allocated() as f64);
    say_result(header as f64);
}

pub fn run(cfg: &Config) -> Vec<Scenario> {
    let _ = cfg;
    let cg = Cgroup::new(LIMIT, &unique_name("space-cgroup"));
    let mut out = Vec::new();
    for (index, (id, what, _)) in series().into_iter().enumerate() {
        let mut size = Scenario::new(
            id,
            &format!("object size after storing values {what}"),
            "MiB",
            Better::Lower,
        );
        let mut resident = Scenario::new(
            &format!("{id}, then 4 KiB"),
            &format!("resident memory of the object after the series {what}, then one 4 KiB value"),
            "KiB",
            Better::Lower,
        );
        let figures = match &cg {
            Ok(cg) => {
                eprintln!("  [11] series {what} ...");
                let mut cmd = cg.command(std::env::current_exe().expect("current_exe"));
                cmd.args(["__child", "space", &index.to_string()]);
                let mut peer = Peer::spawn_command(cmd).expect("spawn the space child");
                let f = [(); 4].map(|_| peer.result());
                peer.finish();
                Ok(f)
            }
            Err(why) => {
                let why = format!("SKIPPED: no memory cgroup to run in ({why})");
                eprintln!("  [11] {why}");
                Err(why)
            }
        };
        let one = |name: &str, kind: Kind, x: Result<f64, &String>| Variant {
            name: name.to_owned(),
            kind,
            samples: x.as_ref().map(|x| vec![*x]).unwrap_or_default(),
            unavailable: x.err().cloned(),
        };
        let f = figures.as_ref();
        let object = "mmf: the object's size";
        let largest = "the largest value stored";
        size.variants = vec![
            one(object, Kind::Mmf, f.map(|f| f[0] / MIB as f64)),
            one(largest, Kind::Baseline, f.map(|f| f[1] / MIB as f64)),
        ];
        size.goals.push(Goal {
            mmf: object.into(),
            baseline: largest.into(),
            ratio: 3.0,
        });
        let allocated = "mmf: blocks the object's file has allocated";
        let live = "2 × the live 4 KiB value + the header";
        resident.variants = vec![
            one(allocated, Kind::Mmf, f.map(|f| f[2] / 1024.0)),
            one(
                live,
                Kind::Baseline,
                f.map(|f| (2.0 * SMALL as f64 + f[3]) / 1024.0),
            ),
        ];
        resident.goals.push(Goal {
            mmf: allocated.into(),
            baseline: live.into(),
            ratio: 1.0,
        });
        let note = "one run (the figures do not depend on timing), in a child process inside a \
                    memory cgroup; a new SharedValue with default options, stored through \
                    SharedValue::store; resident memory is the object file's allocated blocks \
                    (st_blocks × 512) on tmpfs";
        size.notes.push(note.into());
        resident.notes.push(note.into());
        out.push(size);
        out.push(resident);
    }
    out
}
