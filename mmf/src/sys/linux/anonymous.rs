//! Anonymous objects: memfds, on ordinary or explicit huge pages.

use super::space::commit;
use super::Object;
use crate::error::Detail;
use crate::sys::contract::AnonymousObject;
use crate::sys::{Error, Result};
use crate::ErrorKind;
use rustix::fd::AsFd;
use rustix::fs::{self as rfs};

impl AnonymousObject for Object {
    fn anonymous(size: u64, commit_now: bool) -> Result<Object> {
        let fd = rfs::memfd_create(
            "mmf-anonymous",
            rfs::MemfdFlags::CLOEXEC | rfs::MemfdFlags::ALLOW_SEALING,
        )
        .map_err(|e| Error::os(e).at("create"))?;
        if commit_now {
            if let Some(short) = super::commit_limit::shortage(fd.as_fd(), 0, size) {
                return Err(short.error().at("create"));
            }
        }
        rfs::ftruncate(&fd, size).map_err(|e| Error::os(e).at("create"))?;
        if commit_now {
            commit(fd.as_fd(), 0, size).map_err(|e| Error::os(e).at("create"))?;
        }
        // mmf never shrinks an object; sealing makes sure nobody it is handed to can either, so a
        // truncation can never turn our views into SIGBUS traps.
        rfs::fcntl_add_seals(&fd, rfs::SealFlags::SHRINK).map_err(|e| Error::os(e).at("create"))?;
        Ok(Object {
            fd,
            writable: true,
            commit: true,
            named: None,
        })
    }

    /// An anonymous object on explicit huge pages (`MFD_HUGETLB`): `size` must be a multiple of the
    /// huge page size, and the pages must have been reserved (`vm.nr_hugepages`).
    fn anonymous_huge(size: u64) -> Result<Object> {
        let fd = rfs::memfd_create(
            "mmf-anonymous-huge",
            rfs::MemfdFlags::CLOEXEC | rfs::MemfdFlags::HUGETLB,
        )
        .map_err(|e| {
            Error::new(
                ErrorKind::Unsupported,
                "this kernel cannot make huge-page memory objects (MFD_HUGETLB)",
            )
            .at("create")
            .with_os(e)
        })?;
        rfs::ftruncate(&fd, size).map_err(|e| {
            Error::new(
                ErrorKind::InvalidInput,
                "the size must be a multiple of the huge page size (2 MiB on x86-64)",
            )
            .at("create")
            .with_os(e)
        })?;
        let reserved = std::fs::read_to_string("/proc/sys/vm/nr_hugepages")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok());
        commit(fd.as_fd(), 0, size).map_err(|e| {
            Error::new(ErrorKind::OutOfSpace, Detail::HugePages { reserved })
                .at("create")
                .with_os(e)
        })?;
        Ok(Object {
            fd,
            writable: true,
            commit: true,
            named: None,
        })
    }
}
