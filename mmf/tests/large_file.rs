//! Files larger than 4 GiB (sparse) are reached through views at 64-bit offsets.

mod common;

use common::TempPath;
use mmf::{Access, FileOptions};
use std::io::{Read, Seek, SeekFrom};

#[test]
fn unaligned_view_beyond_4_gib_of_a_sparse_file() {
    let p = TempPath::new("sparse");
    let size: u64 = 5 << 30; // 5 GiB, sparse: no disk blocks are written but the few we touch
    let m = match FileOptions::new().create(true).max_size(size).open(&p.0) {
        Ok(m) => m,
        Err(e) if e.kind() == mmf::ErrorKind::OutOfSpace => {
            println!(
                "SKIPPED: the temporary filesystem cannot hold a 5 GiB sparse file: {}",
                e
            );
            return;
        }
        Err(e) => panic!("{}", e),
    };
    assert_eq!(m.len(), size);
    let offset: u64 = (4 << 30) + 12_345; // past 4 GiB, not page-aligned
    let v = m.map_range(offset, 100, Access::ReadWrite).unwrap();
    assert_eq!(
        v.read_vec(0, 4).unwrap(),
        [0, 0, 0, 0],
        "a hole reads as zeros"
    );
    v.write_at(3, b"beyond 4 GiB").unwrap();
    v.flush().unwrap();
    drop(v);

    // The bytes are exactly where the file says they are.
    let mut f = std::fs::File::open(&p.0).unwrap();
    f.seek(SeekFrom::Start(offset + 3)).unwrap();
    let mut buf = [0u8; 12];
    f.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"beyond 4 GiB");
    // And a second view at another offset sees them too.
    let w = m.map_range(offset - 1, 20, Access::ReadOnly).unwrap();
    assert_eq!(w.read_vec(4, 12).unwrap(), b"beyond 4 GiB");
}

#[test]
fn a_zero_length_file_maps_to_an_empty_view() {
    let p = TempPath::new("empty");
    std::fs::write(&p.0, b"").unwrap();
    let m = FileOptions::new().open(&p.0).unwrap();
    assert_eq!(m.len(), 0);
    assert!(m.is_empty());
    let v = m.map().unwrap();
    assert!(v.is_empty());
    let mut nothing = [0u8; 0];
    v.read_at(0, &mut nothing).unwrap();
    assert_eq!(
        v.read_vec(0, 1).unwrap_err().kind(),
        mmf::ErrorKind::OutOfRange
    );
    assert_eq!(
        m.map_range(1, 0, Access::ReadOnly).unwrap_err().kind(),
        mmf::ErrorKind::OutOfRange
    );
    v.flush().unwrap();
}

#[test]
fn the_file_grows_to_the_maximum_size_and_writes_reach_it() {
    let p = TempPath::new("grow");
    std::fs::write(&p.0, b"head").unwrap();
    let m = FileOptions::new().max_size(10_000).open(&p.0).unwrap();
    assert_eq!(std::fs::metadata(&p.0).unwrap().len(), 10_000);
    let v = m.map_mut().unwrap();
    assert_eq!(v.read_vec(0, 4).unwrap(), b"head");
    v.write_at(9_990, b"0123456789").unwrap();
    v.flush_durable().unwrap();
    let disk = std::fs::read(&p.0).unwrap();
    assert_eq!(&disk[9_990..], b"0123456789");
    // A smaller maximum never truncates.
    let again = FileOptions::new().max_size(10).open(&p.0).unwrap();
    assert_eq!(again.len(), 10_000);
}
