//! One conformance suite, run against every backing: named shared memory, anonymous memory and a
//! file. Each backing must behave alike for views, coherence, copy-on-write, bounds and lifetime of
//! views.

mod common;

use common::{create_named, unique, TempPath, POSIX_BACKEND};
use mmf::{Access, ErrorKind, FileOptions, Mapping};

/// A fresh object of `size` bytes of the given backing, and what keeps it (a temp file) alive.
fn make(backing: &str, size: u64) -> (Mapping, Option<TempPath>) {
    match backing {
        "named" => (create_named(&unique("conf"), size), None),
        "anonymous" => (Mapping::anonymous(size).unwrap(), None),
        "file" => {
            let p = TempPath::new("conf-file");
            let m = FileOptions::new()
                .create(true)
                .max_size(size)
                .open(&p.0)
                .unwrap();
            (m, Some(p))
        }
        _ => unreachable!(),
    }
}

const BACKINGS: [&str; 3] = ["named", "anonymous", "file"];

/// The most an object of `size` bytes may have: exactly `size`, except that a named object on
/// Windows has the size the system reports for its section, which may be rounded up to a page.
fn max_len(backing: &str, size: u64) -> u64 {
    let page = mmf::page_size() as u64;
    if cfg!(windows) && backing == "named" && size % page != 0 {
        size + page - size % page
    } else {
        size
    }
}

#[test]
fn write_then_read_back_through_another_view() {
    for b in BACKINGS {
        let (m, _keep) = make(b, 3 * 4096 + 123);
        let max = max_len(b, 3 * 4096 + 123);
        assert!(
            m.len() >= 3 * 4096 + 123 && m.len() <= max,
            "{}: {}",
            b,
            m.len()
        );
        let len = m.len() as usize;
        let w = m.map_mut().unwrap();
        assert_eq!(w.len(), len);
        let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        w.write_at(100, &data).unwrap();
        let r = m.map().unwrap();
        assert_eq!(r.read_vec(100, 5000).unwrap(), data, "{}", b);
        // The last byte of the object is reachable, one past is not.
        w.write_at(len - 1, &[7]).unwrap();
        assert_eq!(r.read_vec(len - 1, 1).unwrap(), [7]);
        assert_eq!(
            r.read_vec(len, 1).unwrap_err().kind(),
            ErrorKind::OutOfRange
        );
    }
}

#[test]
fn views_at_unaligned_offsets_see_the_same_bytes() {
    for b in BACKINGS {
        let (m, _keep) = make(b, 200_000);
        let whole = m.map_mut().unwrap();
        for off in [0u64, 1, 4095, 4096, 4097, 65_535, 65_537, 131_071] {
            let v = m.map_range(off, 1000, Access::ReadWrite).unwrap();
            assert_eq!(v.offset(), off);
            assert_eq!(v.len(), 1000);
            let tag = (off as u32).to_le_bytes();
            v.write_at(0, &tag).unwrap();
            assert_eq!(
                whole.read_vec(off as usize, 4).unwrap(),
                tag,
                "{} at {}",
                b,
                off
            );
        }
        // Length 0 means "to the end".
        let tail = m.map_range(150_000, 0, Access::ReadOnly).unwrap();
        assert!(
            m.len() >= 200_000 && m.len() <= max_len(b, 200_000),
            "{}",
            b
        );
        assert_eq!(tail.len() as u64, m.len() - 150_000, "{}", b);
    }
}

#[test]
fn copy_on_write_stays_private() {
    for b in BACKINGS {
        let (m, keep) = make(b, 8192);
        let shared = m.map_mut().unwrap();
        shared.write_at(0, b"original").unwrap();
        let cow = m.map_copy().unwrap();
        assert_eq!(cow.access(), Access::CopyOnWrite);
        cow.write_at(0, b"PRIVATE!").unwrap();
        assert_eq!(cow.read_vec(0, 8).unwrap(), b"PRIVATE!");
        assert_eq!(shared.read_vec(0, 8).unwrap(), b"original", "{}", b);
        assert_eq!(
            m.map().unwrap().read_vec(0, 8).unwrap(),
            b"original",
            "{}",
            b
        );
        cow.flush().unwrap();
        drop(cow);
        if let Some(p) = keep {
            shared.flush().unwrap();
            let on_disk = std::fs::read(&p.0).unwrap();
            assert_eq!(
                &on_disk[..8],
                b"original",
                "the file must not see copy-on-write writes"
            );
        }
    }
}

#[test]
fn read_only_views_refuse_writes_with_an_error() {
    for b in BACKINGS {
        let (m, _keep) = make(b, 4096);
        let r = m.map().unwrap();
        let e = r.write_at(0, b"x").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{}", b);
        assert!(e.to_string().contains("read-only"), "{}", e);
        assert_eq!(
            r.atomic_u32(0).unwrap_err().kind(),
            ErrorKind::PermissionDenied
        );
    }
}

#[test]
fn a_view_keeps_its_object_alive() {
    for b in BACKINGS {
        let (m, _keep) = make(b, 4096);
        let v = m.map_mut().unwrap();
        drop(m);
        v.write_at(0, b"still here").unwrap();
        assert_eq!(v.read_vec(0, 10).unwrap(), b"still here", "{}", b);
        assert_eq!(v.mapping().len(), 4096);
    }
}

#[test]
fn atomics_are_shared_between_views() {
    for b in BACKINGS {
        let (m, _keep) = make(b, 4096);
        let v1 = m.map_mut().unwrap();
        let v2 = m.map_range(8, 8, Access::ReadWrite).unwrap();
        v1.atomic_u64(8)
            .unwrap()
            .store(41, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(
            v2.atomic_u64(0)
                .unwrap()
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst),
            41
        );
        assert_eq!(
            v1.atomic_u64(8)
                .unwrap()
                .load(std::sync::atomic::Ordering::SeqCst),
            42,
            "{}",
            b
        );
        assert_eq!(
            v1.atomic_u32(2).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    }
}

#[test]
fn flush_variants_succeed() {
    for b in BACKINGS {
        let (m, _keep) = make(b, 3 * 4096);
        let v = m.map_range(100, 8000, Access::ReadWrite).unwrap();
        v.write_at(5000, b"flush me").unwrap();
        v.flush().unwrap();
        v.flush_async().unwrap();
        v.flush_range(4990, 20).unwrap();
        v.flush_durable().unwrap();
        assert_eq!(
            v.flush_range(7990, 20).unwrap_err().kind(),
            ErrorKind::OutOfRange,
            "{}",
            b
        );
    }
}

#[test]
fn many_views_at_once() {
    for b in BACKINGS {
        let (m, _keep) = make(b, 64 * 1024);
        let views: Vec<_> = (0..64)
            .map(|i| m.map_range(i * 1024, 1024, Access::ReadWrite).unwrap())
            .collect();
        for (i, v) in views.iter().enumerate() {
            v.write_at(0, &[i as u8; 16]).unwrap();
        }
        let all = m.map().unwrap();
        for i in 0..64 {
            assert_eq!(all.read_vec(i * 1024, 16).unwrap(), [i as u8; 16], "{}", b);
        }
    }
}

#[test]
fn queries() {
    let g = mmf::allocation_granularity();
    let p = mmf::page_size();
    assert!(p.is_power_of_two() && g.is_power_of_two() && g >= p);
    let name = unique("query");
    let m = create_named(&name, 10);
    assert_eq!(m.name().map(|n| n.as_str()), Some(name.as_str()));
    assert_eq!(m.backing(), mmf::Backing::Named);
    let lifetime = if POSIX_BACKEND {
        mmf::Lifetime::Persistent
    } else {
        mmf::Lifetime::Handle
    };
    assert_eq!(m.lifetime(), lifetime);
    assert!(m.is_writable());
    assert_eq!(Mapping::anonymous(10).unwrap().name(), None);
}
