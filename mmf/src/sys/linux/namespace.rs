//! Maintenance of the namespace directory: `remove`, `list` and `gc`.

use super::named::{not_found, tmp_creator_gone};
use super::proc_locks::{dev_major_minor, flock_holders};
use super::{
    ident, is_regular, last_holder, lifetime_of, made_by_mmf, reapable, resolve_dir, size_of,
    unlink_if_same, TMP_PREFIX,
};
use crate::sys::{Error, Result};
use crate::types::ObjectInfo;
use crate::{ErrorKind, Name};
use rustix::fd::AsFd;
use rustix::fs::{self as rfs, AtFlags, FlockOperation, Mode, OFlags};
use rustix::io::Errno;
use std::path::Path;

pub(crate) fn remove(name: &Name, dir: Option<&Path>) -> Result<()> {
    let dir = resolve_dir(dir);
    let path = dir.join(name.as_str());
    let st = match rfs::statat(rfs::CWD, &path, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(e) if e == Errno::NOENT => {
            return Err(not_found(&dir).at("remove"));
        }
        Err(e) => return Err(Error::os(e).at("remove")),
    };
    if !is_regular(&st) {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "it is not a regular file, so not a shared memory object",
        )
        .at("remove"));
    }
    rfs::unlinkat(rfs::CWD, &path, AtFlags::empty()).map_err(|e| Error::os(e).at("remove"))
}

fn scan(dir: Option<&Path>, reap_tmp: bool, removed: &mut Vec<String>) -> Result<Vec<ObjectInfo>> {
    let dir = resolve_dir(dir);
    let entries = std::fs::read_dir(&dir).map_err(|e| Error::os(e).at("list"))?;
    let locks = flock_holders();
    let mut out = Vec::new();
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(_) => continue,
        };
        let fname = entry.file_name();
        let name = match fname.to_str() {
            Some(n) => n.to_owned(),
            None => continue,
        };
        let path = entry.path();
        let is_tmp = name.starts_with(TMP_PREFIX);
        if is_tmp && !reap_tmp {
            continue;
        }
        let st = match rfs::statat(rfs::CWD, &path, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if is_regular(&st) => st,
            _ => continue,
        };
        let (dev, ino) = ident(&st);
        let fd = rfs::openat(
            rfs::CWD,
            &path,
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NONBLOCK,
            Mode::empty(),
        )
        .ok();
        // Decide on the descriptor's own status: the name may have been replaced meanwhile.
        let st = match fd.as_ref().map(rfs::fstat) {
            Some(Ok(st)) => st,
            _ => st,
        };
        let ours = st.st_uid == rustix::process::geteuid().as_raw();
        // Another user's objects are never reaped; ours only when the mode says so and nobody
        // holds them (see the module documentation: nothing a non-owner can write decides it).
        let may_reap = if is_tmp {
            ours && tmp_creator_gone(&name, &st)
        } else {
            reapable(&st)
        };
        let unheld = fd.as_ref().map(|fd| last_holder(fd.as_fd()));
        if may_reap && unheld == Some(true) {
            // A creator that died before publishing, or a handle-lifetime object whose holders
            // are all gone.
            if unlink_if_same(&path, dev, ino) {
                removed.push(name);
            }
            continue;
        }
        if unheld == Some(true) {
            // We took the lock exclusively only to look: let go so others can open it.
            if let Some(fd) = &fd {
                let _ = rfs::flock(fd, FlockOperation::Unlock);
            }
        }
        if is_tmp {
            continue;
        }
        let (maj, min) = dev_major_minor(dev);
        let mut pids: Vec<u32> = locks
            .iter()
            .filter(|l| l.1 == maj && l.2 == min && l.3 == ino)
            .map(|l| l.0)
            .collect();
        let holders = match unheld {
            Some(true) => Some(0),
            // It is held, whatever an approximate reading of /proc/locks says.
            Some(false) => Some(pids.len().max(1)),
            None => None,
        };
        pids.sort_unstable();
        pids.dedup();
        let mut magic = [0u8; 8];
        let mut lifetime = None;
        if let Some(fd) = &fd {
            let _ = rustix::io::pread(fd, &mut magic, 0);
            if made_by_mmf(fd.as_fd(), &st) {
                lifetime = Some(lifetime_of(&st));
            }
        }
        #[allow(clippy::unnecessary_cast)]
        out.push(ObjectInfo {
            name,
            size: size_of(&st),
            owner_uid: st.st_uid as u32,
            owner_name: None,
            // The permission bits; the sticky bit is mmf's lifetime marker, reported as such.
            mode: (st.st_mode as u32) & 0o777,
            lifetime,
            holders,
            holder_pids: pids,
            magic,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

pub(crate) fn list(dir: Option<&Path>) -> Result<Vec<ObjectInfo>> {
    let mut removed = Vec::new();
    scan(dir, false, &mut removed)
}

pub(crate) fn gc(dir: Option<&Path>) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    scan(dir, true, &mut removed)?;
    removed.sort();
    Ok(removed)
}
