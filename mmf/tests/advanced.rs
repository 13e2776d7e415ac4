//! Advanced mapping: views at a chosen address, reserve-then-commit, huge pages, advice,
//! prefaulting, locking, and streaming through large files.

mod common;

use common::{check, run_helper};
use common::{unique, TempPath};
use mmf::{
    Access, Advice, Commit, CreateOptions, ErrorKind, FileOptions, Mapping, Offset, Pod,
    UncheckedAdvice, ViewOptions,
};

#[derive(Clone, Copy)]
#[repr(C)]
struct Node {
    value: u64,
    next: Offset<Node>,
}

// SAFETY: repr(C), two 8-byte fields (no padding), any bit pattern valid, no pointers.
unsafe impl Pod for Node {
    const LAYOUT_ID: u64 = 0x4e6f_6465;
}

#[test]
fn a_list_built_with_offsets_is_walked_by_a_process_that_maps_it_elsewhere() {
    let name = unique("list");
    let m = Mapping::create(&name, 64 * 1024).unwrap();
    let v = m.map_mut().unwrap();
    // 100 nodes scattered through the object, linked in a shuffled order.
    let slot = |i: u64| Offset::<Node>::new(4096 + ((i * 37) % 100) * 64);
    for i in 0..100u64 {
        let next = if i == 99 { Offset::NULL } else { slot(i + 1) };
        v.store(slot(i), &Node { value: i + 1, next }).unwrap();
    }
    v.write_pod(0, &slot(0)).unwrap(); // the head
    let ours = v.as_ptr() as usize;
    let out = run_helper(&["walk", &name, &ours.to_string()]);
    let line = check(&out, "walk");
    let f: Vec<u64> = line.split(' ').map(|x| x.parse().unwrap()).collect();
    assert_ne!(
        f[0] as usize, ours,
        "the other process must map the object at another address"
    );
    assert_eq!(
        (f[1], f[2]),
        (100, 5050),
        "count and sum of the walked list"
    );
}

#[test]
fn corrupt_offsets_are_errors_not_wild_reads() {
    let m = Mapping::anonymous(4096).unwrap();
    let v = m.map_mut().unwrap();
    assert_eq!(
        v.load(Offset::<u64>::NULL).unwrap_err().kind(),
        ErrorKind::OutOfRange
    );
    assert_eq!(
        v.load(Offset::<u64>::new(4096)).unwrap_err().kind(),
        ErrorKind::OutOfRange
    );
    assert_eq!(
        v.load(Offset::<u64>::new(u64::MAX)).unwrap_err().kind(),
        ErrorKind::OutOfRange
    );
    assert_eq!(
        v.load(Offset::<u64>::new(3)).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    let tail = m.map_range(2048, 0, Access::ReadOnly).unwrap();
    assert_eq!(
        tail.load(Offset::<u64>::new(1024)).unwrap_err().kind(),
        ErrorKind::OutOfRange
    );
    v.store(Offset::<u64>::new(2056), &7).unwrap();
    assert_eq!(tail.load(Offset::<u64>::new(2056)).unwrap(), 7);
}

#[test]
fn a_fixed_address_collision_fails_and_leaves_the_existing_mapping_intact() {
    // Base addresses are multiples of the allocation granularity (64 KiB on Windows).
    let g = mmf::allocation_granularity();
    let m = Mapping::anonymous(4 * g as u64).unwrap();
    let first = m.map_mut().unwrap();
    first.write_at(0, b"first mapping").unwrap();
    let taken = first.as_ptr() as usize;

    let other = Mapping::anonymous(64 * 1024).unwrap();
    let e = ViewOptions::new().at(taken).map(&other).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadyExists, "{}", e);
    assert!(e.to_string().contains("in use"), "{}", e);
    // The existing mapping was not replaced.
    assert_eq!(first.read_vec(0, 13).unwrap(), b"first mapping");
    // A collision in the middle of an existing mapping is refused too.
    let e = ViewOptions::new()
        .at(taken + g)
        .len(4096)
        .map(&other)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadyExists);
    assert_eq!(first.read_vec(0, 13).unwrap(), b"first mapping");
}

#[test]
fn a_view_maps_at_a_free_chosen_address() {
    let m = Mapping::anonymous(1 << 20).unwrap();
    // Find a free range by mapping and unmapping a scratch view. Another thread of the test
    // process may take it before we map there, so try a few fresh ranges; never pass without one.
    let scratch = Mapping::anonymous(1 << 20).unwrap();
    let mut mapped = None;
    for _ in 0..10 {
        let addr = scratch.map().unwrap().as_ptr() as usize;
        match ViewOptions::new()
            .at(addr)
            .access(Access::ReadWrite)
            .map(&m)
        {
            Ok(v) => {
                mapped = Some((addr, v));
                break;
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => panic!("{}", e),
        }
    }
    let (addr, v) = mapped.expect("no free address range in 10 tries");
    assert_eq!(v.as_ptr() as usize, addr);
    v.write_at(0, b"here").unwrap();
    assert_eq!(m.map().unwrap().read_vec(0, 4).unwrap(), b"here");
    // Unaligned offset: the address must carry the same misalignment.
    let g = mmf::allocation_granularity();
    let e = ViewOptions::new()
        .offset(100)
        .at(addr + 2 * g)
        .map(&m)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{}", e);
}

#[test]
fn reserve_64_gib_and_commit_1_gib() {
    let name = unique("reserve");
    let m = match CreateOptions::new()
        .size(64 << 30)
        .commit(Commit::Reserve)
        .create(&name)
    {
        Ok(m) => m,
        Err(e) => panic!("reserving 64 GiB must work on any machine: {}", e),
    };
    assert_eq!(m.len(), 64 << 30);
    let v = m.map_mut().unwrap();
    assert_eq!(v.len(), 64 << 30);
    let gib = 1usize << 30;
    let base = 17usize << 30; // a piece in the middle
    v.commit(base, gib).unwrap();
    v.write_at(base, b"first byte").unwrap();
    v.write_at(base + gib - 4, b"last").unwrap();
    assert_eq!(v.read_vec(base, 10).unwrap(), b"first byte");
    // Decommit gives the memory back; the range reads as zeros. (Windows cannot decommit.)
    #[cfg(unix)]
    {
        v.decommit(base, gib).unwrap();
        assert_eq!(v.read_vec(base, 10).unwrap(), [0; 10]);
    }
    #[cfg(windows)]
    assert_eq!(
        v.decommit(base, gib).unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    assert_eq!(
        v.decommit(base + 1, 4096).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        m.map().unwrap().commit(0, 4096).unwrap_err().kind(),
        ErrorKind::PermissionDenied
    );
}

#[cfg(target_os = "linux")]
#[test]
fn commit_and_populate_report_out_of_space_instead_of_sigbus() {
    let dir = std::path::Path::new("/dev/shm").join(unique("small"));
    std::fs::create_dir_all(&dir).unwrap();
    let mounted = common::mount_small_tmpfs(&dir);
    if !mounted {
        let _ = std::fs::remove_dir(&dir);
        return;
    }
    {
        let m = CreateOptions::new()
            .dir(&dir)
            .size(64 << 20)
            .commit(Commit::Reserve)
            .create(unique("r"))
            .unwrap();
        let v = m.map_mut().unwrap();
        v.commit(0, 512 << 10).unwrap();
        let e = v.commit(1 << 20, 2 << 20).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OutOfSpace, "{}", e);
        let tail = ViewOptions::new()
            .offset(8 << 20)
            .len(4 << 20)
            .access(Access::ReadWrite)
            .map(&m)
            .unwrap();
        let e = tail.populate().unwrap_err();
        assert!(
            e.kind() == ErrorKind::OutOfSpace || e.kind() == ErrorKind::Unsupported,
            "{}",
            e
        );
        let e = ViewOptions::new()
            .offset(8 << 20)
            .len(4 << 20)
            .access(Access::ReadWrite)
            .populate(true)
            .map(&m)
            .unwrap_err();
        assert!(
            e.kind() == ErrorKind::OutOfSpace || e.kind() == ErrorKind::Unsupported,
            "{}",
            e
        );
    }
    common::unmount(&dir);
    let _ = std::fs::remove_dir(&dir);
}

#[test]
fn huge_pages_work_or_say_why_not() {
    match Mapping::anonymous_huge(2 << 20) {
        Ok(m) => {
            let v = m.map_mut().unwrap();
            v.write_at((2 << 20) - 5, b"huge!").unwrap();
            assert_eq!(v.read_vec((2 << 20) - 5, 5).unwrap(), b"huge!");
            println!("huge pages: explicit 2 MiB page mapped");
        }
        Err(e) => {
            assert!(
                matches!(e.kind(), ErrorKind::OutOfSpace | ErrorKind::Unsupported),
                "{}",
                e
            );
            println!("SKIPPED: explicit huge pages unavailable: {}", e);
        }
    }
    assert!(
        Mapping::anonymous_huge(4096).is_err(),
        "a size that is not a multiple of 2 MiB"
    );
    // Transparent huge pages: the advice is accepted where the kernel has THP.
    let m = Mapping::anonymous(4 << 20).unwrap();
    match m.map_mut().unwrap().advise(Advice::HugePage) {
        Ok(()) => {
            println!("huge pages: MADV_HUGEPAGE accepted (effective only if shmem_enabled allows)")
        }
        Err(e) => println!("SKIPPED: transparent huge pages unavailable: {}", e),
    }
}

#[test]
fn advice_populate_and_locking() {
    let p = TempPath::new("advice");
    let m = FileOptions::new()
        .create(true)
        .max_size(1 << 20)
        .open(&p.0)
        .unwrap();
    let v = m.map_mut().unwrap();
    for a in [
        Advice::Normal,
        Advice::Sequential,
        Advice::Random,
        Advice::WillNeed,
        Advice::NoHugePage,
    ] {
        v.advise(a).unwrap();
    }
    v.advise_range(4097, 100, Advice::Random).unwrap();
    assert_eq!(
        v.advise_range(1 << 20, 1, Advice::Random)
            .unwrap_err()
            .kind(),
        ErrorKind::OutOfRange
    );
    v.populate().unwrap();
    v.write_at(0, b"dirty").unwrap();
    v.lock().unwrap();
    v.unlock().unwrap();
    // DontNeed on a shared view rereads the object: the data is still there.
    // SAFETY: no slices of this view exist.
    unsafe { v.advise_unchecked(UncheckedAdvice::DontNeed, 0, 4096) }.unwrap();
    assert_eq!(v.read_vec(0, 5).unwrap(), b"dirty");
    // On a copy-on-write view it discards the private changes (Linux; Windows cannot).
    #[cfg(unix)]
    {
        let c = m.map_copy().unwrap();
        c.write_at(0, b"CLEAN").unwrap();
        // SAFETY: as above.
        unsafe { c.advise_unchecked(UncheckedAdvice::DontNeed, 0, 4096) }.unwrap();
        assert_eq!(c.read_vec(0, 5).unwrap(), b"dirty");
    }
}

#[test]
fn stream_through_a_large_sparse_file_in_chunks() {
    // Larger than a view we would want to map at once; markers at known places.
    let p = TempPath::new("stream");
    let size: u64 = 6 << 30;
    let m = FileOptions::new()
        .create(true)
        .max_size(size)
        .open(&p.0)
        .unwrap();
    let chunk = 256usize << 20;
    let marks: Vec<u64> = (0..24).map(|i| i * (chunk as u64) + 12_345).collect();
    for (i, at) in marks.iter().enumerate() {
        let v = m.map_range(*at, 8, Access::ReadWrite).unwrap();
        v.write_at(0, &(i as u64).to_le_bytes()).unwrap();
    }
    let mut seen = 0;
    let mut offset = 0u64;
    for view in m.chunks(chunk, Access::ReadOnly) {
        let view = view.unwrap();
        assert_eq!(view.offset(), offset);
        let got = view.read_vec(12_345, 8).unwrap();
        assert_eq!(u64::from_le_bytes(got.try_into().unwrap()), seen);
        seen += 1;
        offset += view.len() as u64;
    }
    assert_eq!(seen, 24);
    assert_eq!(offset, size);
}
