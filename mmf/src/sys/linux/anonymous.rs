//! Anonymous objects: memfds, on ordinary or explicit huge pages.

use super::space::commit;
use super::{ioerr, Object};
use crate::sys::shortage_error;
use crate::{Error, ErrorKind, Result};
use rustix::fd::AsFd;
use rustix::fs::{self as rfs};

impl Object {
    pub(crate) fn anonymous(size: u64, commit_now: bool) -> Result<Object> {
        let what = "anonymous object";
        let fd = rfs::memfd_create(
            "mmf-anonymous",
            rfs::MemfdFlags::CLOEXEC | rfs::MemfdFlags::ALLOW_SEALING,
        )
        .map_err(|e| Error::os("create", what, ioerr(e)))?;
        if commit_now {
            if let Some(short) = super::commit_limit::shortage(fd.as_fd(), 0, size) {
                return Err(shortage_error("create", what, &short));
            }
        }
        rfs::ftruncate(&fd, size).map_err(|e| Error::os("create", what, ioerr(e)))?;
        if commit_now {
            commit(fd.as_fd(), 0, size).map_err(|e| Error::os("create", what, ioerr(e)))?;
        }
        // mmf never shrinks an object; sealing makes sure nobody it is handed to can either, so a
        // truncation can never turn our views into SIGBUS traps.
        rfs::fcntl_add_seals(&fd, rfs::SealFlags::SHRINK)
            .map_err(|e| Error::os("create", what, ioerr(e)))?;
        Ok(Object {
            fd,
            writable: true,
            commit: true,
            named: None,
        })
    }

    /// An anonymous object on explicit huge pages (`MFD_HUGETLB`): `size` must be a multiple of the
    /// huge page size, and the pages must have been reserved (`vm.nr_hugepages`).
    pub(crate) fn anonymous_huge(size: u64) -> Result<Object> {
        let what = "anonymous huge-page object";
        let fd = rfs::memfd_create(
            "mmf-anonymous-huge",
            rfs::MemfdFlags::CLOEXEC | rfs::MemfdFlags::HUGETLB,
        )
        .map_err(|e| {
            Error::new(
                ErrorKind::Unsupported,
                "create",
                what,
                "this kernel cannot make huge-page memory objects (MFD_HUGETLB)",
            )
            .with_source(ioerr(e))
        })?;
        rfs::ftruncate(&fd, size).map_err(|e| {
            Error::new(
                ErrorKind::InvalidInput,
                "create",
                what,
                "the size must be a multiple of the huge page size (2 MiB on x86-64)",
            )
            .with_source(ioerr(e))
        })?;
        let reserved = std::fs::read_to_string("/proc/sys/vm/nr_hugepages")
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| "unknown".into());
        commit(fd.as_fd(), 0, size).map_err(|e| {
            Error::new(
                ErrorKind::OutOfSpace,
                "create",
                what,
                format!(
                    "not enough free huge pages (vm.nr_hugepages = {}); reserve more with \
                     `sysctl vm.nr_hugepages=N`, or use normal pages",
                    reserved
                ),
            )
            .with_source(ioerr(e))
        })?;
        Ok(Object {
            fd,
            writable: true,
            commit: true,
            named: None,
        })
    }
}
