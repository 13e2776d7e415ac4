//! Named objects: building a new object unnamed (or under a temporary name) and publishing it
//! exclusively, opening an existing one, and reaping stale handle-lifetime objects on the way
//! (see the module documentation of `linux/mod.rs`).

use super::space::commit;
use super::{
    ident, is_regular, last_holder, lifetime_of, reapable, reapable_by, resolve_dir,
    unlink_if_same, Named, Object, HANDLE_BIT, TMP_PREFIX, XATTR_LIFETIME,
};
use crate::error::Detail;
use crate::sys::contract::NamedObject;
use crate::sys::{check_owner_as, CreateSpec, Init, OpenSpec};
use crate::sys::{Error, Result};
use crate::types::{Disposition, Lifetime};
use crate::ErrorKind;
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{self as rfs, AtFlags, FlockOperation, Mode, OFlags};
use rustix::io::Errno;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::{Duration, Instant};

/// A new object under construction: unnamed (`O_TMPFILE`), or under a temporary name that is
/// removed on drop unless the object was published.
struct Tmp {
    fd: Option<OwnedFd>,
    /// `None` for an unnamed file.
    path: Option<PathBuf>,
}

impl Drop for Tmp {
    fn drop(&mut self) {
        if let (Some(_), Some(path)) = (&self.fd, &self.path) {
            let _ = rfs::unlinkat(rfs::CWD, path, AtFlags::empty());
        }
    }
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn dir_error(op: &'static str, dir: &Path, e: Errno) -> Error {
    if e == Errno::NOENT {
        Error::new(ErrorKind::NotFound, Detail::NoDirectory(dir.to_owned()))
            .at(op)
            .with_os(e)
    } else {
        Error::os(e).at(op)
    }
}

fn out_of_space(op: &'static str, dir: &Path, size: u64, e: Errno) -> Error {
    let free = rfs::statvfs(dir)
        .map(|s| s.f_bavail.saturating_mul(s.f_frsize))
        .ok();
    let detail = Detail::DirectoryFull {
        dir: dir.to_owned(),
        size,
        free,
    };
    Error::new(ErrorKind::OutOfSpace, detail).at(op).with_os(e)
}

/// Runs the creator's initialiser on the temporary object (through a duplicate descriptor),
/// before anyone can open it by name.
fn run_init(tmp: &Tmp, init: &mut Init<'_>) -> Result<()> {
    let fd = match &tmp.fd {
        Some(fd) => {
            rustix::io::fcntl_dupfd_cloexec(fd, 0).map_err(|e| Error::os(e).at("create"))?
        }
        None => return Ok(()),
    };
    init(Object {
        fd,
        writable: true,
        commit: true,
        named: None,
    })
    .map_err(Error::from)
}

/// Whether unnamed files can be given a name here: `linkat` through `/proc/self/fd` needs
/// `/proc` (0: not looked yet, 1: yes, 2: no).
static PROC_FD: AtomicU8 = AtomicU8::new(0);

fn proc_fd_available() -> bool {
    match PROC_FD.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            let yes = Path::new("/proc/self/fd").is_dir();
            PROC_FD.store(if yes { 1 } else { 2 }, Ordering::Relaxed);
            yes
        }
    }
}

/// The temporary name of an object under construction when `O_TMPFILE` is unavailable: it
/// carries the creator's process token, so a reaper can tell a live creator from a dead one.
fn tmp_name(n: u64) -> String {
    format!("{}{:x}.{}", TMP_PREFIX, super::process_token(), n)
}

/// Whether a temporary name's creator is surely gone. Names without a token (older versions of
/// mmf wrote `.mmf-new.PID.N.NANOS`) are judged by their age instead.
pub(super) fn tmp_creator_gone(name: &str, st: &rfs::Stat) -> bool {
    let rest = &name[TMP_PREFIX.len()..];
    let mut parts = rest.split('.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(token), Some(_), None) => match u64::from_str_radix(token, 16) {
            Ok(t) => super::process_alive(t) == Some(false),
            Err(_) => false,
        },
        _ => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            #[allow(clippy::unnecessary_cast)]
            let age = now - st.st_mtime as i64;
            age > 600
        }
    }
}

/// Creates the file the new object is built in: unnamed where possible, else under a temporary
/// name (see the module documentation).
fn new_file(dir: &Path, unnamed: bool) -> Result<Tmp> {
    if unnamed {
        match rfs::openat(
            rfs::CWD,
            dir,
            OFlags::RDWR | OFlags::TMPFILE | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        ) {
            Ok(fd) => {
                return Ok(Tmp {
                    fd: Some(fd),
                    path: None,
                })
            }
            // No O_TMPFILE on this filesystem (or kernel): fall back to a temporary name.
            Err(e) if e == Errno::OPNOTSUPP || e == Errno::ISDIR || e == Errno::INVAL => {}
            Err(e) => return Err(dir_error("create", dir, e)),
        }
    }
    let path = dir.join(tmp_name(TMP_COUNTER.fetch_add(1, Ordering::Relaxed)));
    let fd = rfs::openat(
        rfs::CWD,
        &path,
        OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::from_raw_mode(0o600),
    )
    .map_err(|e| dir_error("create", dir, e))?;
    // From here on, dropping the Tmp removes the file again: every error leaves nothing.
    Ok(Tmp {
        fd: Some(fd),
        path: Some(path),
    })
}

fn build_tmp(spec: &CreateSpec<'_>, dir: &Path) -> Result<Tmp> {
    let tmp = new_file(dir, proc_fd_available())?;
    let fd = match &tmp.fd {
        Some(fd) => fd.as_fd(),
        None => unreachable!("set by new_file"),
    };
    // Held from before the object has its name, so it is never seen unheld.
    rfs::flock(fd, FlockOperation::LockShared).map_err(|e| Error::os(e).at("create"))?;
    let marker = match spec.lifetime {
        Lifetime::Handle => HANDLE_BIT,
        Lifetime::Persistent => 0,
    };
    rfs::fchmod(fd, Mode::from_raw_mode(spec.permissions.mode() | marker))
        .map_err(|e| Error::os(e).at("create"))?;
    if rfs::fstat(fd).map(|st| lifetime_of(&st)).ok() != Some(spec.lifetime) {
        return Err(
            Error::new(ErrorKind::Unsupported, Detail::NoStickyBit(dir.to_owned())).at("create"),
        );
    }
    // Informational, where the filesystem has user attributes (see the module documentation).
    let tag: &[u8] = match spec.lifetime {
        Lifetime::Handle => b"handle",
        Lifetime::Persistent => b"persistent",
    };
    let _ = rfs::fsetxattr(fd, XATTR_LIFETIME, tag, rfs::XattrFlags::empty());
    if spec.commit {
        if let Some(short) = super::commit_limit::shortage(fd, 0, spec.size) {
            return Err(short.error().at("create"));
        }
    }
    rfs::ftruncate(fd, spec.size).map_err(|e| {
        if e == Errno::FBIG || e == Errno::NOSPC {
            out_of_space("create", dir, spec.size, e)
        } else {
            Error::os(e).at("create")
        }
    })?;
    if spec.commit {
        commit(fd, 0, spec.size).map_err(|e| out_of_space("create", dir, spec.size, e))?;
    }
    Ok(tmp)
}

/// Gives the new object its name. `Ok(None)` if the name is taken.
fn publish(tmp: &mut Tmp, path: &Path) -> Result<Option<OwnedFd>> {
    let r = match (&tmp.fd, &tmp.path) {
        (None, _) => return Ok(None),
        // An unnamed file: link(2) never replaces an existing name.
        (Some(fd), None) => rfs::linkat(
            rfs::CWD,
            format!("/proc/self/fd/{}", rustix::fd::AsRawFd::as_raw_fd(fd)).as_str(),
            rfs::CWD,
            path,
            AtFlags::SYMLINK_FOLLOW,
        ),
        (Some(_), Some(tmp_path)) => {
            match rfs::renameat_with(
                rfs::CWD,
                tmp_path,
                rfs::CWD,
                path,
                rfs::RenameFlags::NOREPLACE,
            ) {
                Err(e) if e == Errno::INVAL || e == Errno::NOSYS => {
                    // The filesystem has no RENAME_NOREPLACE: link(2) is just as exclusive.
                    rfs::linkat(rfs::CWD, tmp_path, rfs::CWD, path, AtFlags::empty()).map(|()| {
                        let _ = rfs::unlinkat(rfs::CWD, tmp_path, AtFlags::empty());
                    })
                }
                r => r,
            }
        }
    };
    match r {
        Ok(()) => Ok(tmp.fd.take()),
        Err(e) if e == Errno::EXIST => Ok(None),
        Err(e) => Err(Error::os(e).at("create")),
    }
}

/// If `path` is a handle-lifetime object of ours that nobody holds, removes it and says so.
fn reap_if_stale(path: &Path) -> bool {
    let fd = match rfs::openat(
        rfs::CWD,
        path,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NONBLOCK,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(e) => return e == Errno::NOENT,
    };
    let st = match rfs::fstat(&fd) {
        Ok(st) => st,
        Err(_) => return false,
    };
    if !reapable(&st) || !last_holder(fd.as_fd()) {
        return false;
    }
    let (dev, ino) = ident(&st);
    unlink_if_same(path, dev, ino)
}

fn finish(fd: OwnedFd, path: PathBuf, writable: bool) -> Result<Object> {
    let st = rfs::fstat(&fd).map_err(|e| Error::os(e).at("create"))?;
    Ok(named_object(fd, &st, path, writable))
}

/// A named object around an open descriptor `fd` whose status is `st`.
pub(super) fn named_object(fd: OwnedFd, st: &rfs::Stat, path: PathBuf, writable: bool) -> Object {
    named_object_as(fd, st, path, writable, rustix::process::geteuid().as_raw())
}

/// [`named_object`] for a process whose effective user ID `me` is known already.
fn named_object_as(fd: OwnedFd, st: &rfs::Stat, path: PathBuf, writable: bool, me: u32) -> Object {
    let (dev, ino) = ident(st);
    Object {
        fd,
        writable,
        commit: true,
        named: Some(Named {
            path,
            lifetime: lifetime_of(st),
            reap: reapable_by(st, me),
            dev,
            ino,
        }),
    }
}

/// Opens `spec.name` if it exists; `Ok(None)` if it does not (or was a stale handle-lifetime
/// object of ours, which is removed on the way).
fn try_open(spec: &OpenSpec<'_>, dir: &Path) -> Result<Option<Object>> {
    let path = dir.join(spec.name.as_str());
    let deadline = Instant::now() + spec.lock_timeout;
    let access = if spec.writable {
        OFlags::RDWR
    } else {
        OFlags::RDONLY
    };
    loop {
        let fd = match rfs::openat(
            rfs::CWD,
            &path,
            access | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(e) if e == Errno::NOENT => {
                if !dir.is_dir() {
                    return Err(dir_error("open", dir, e));
                }
                return Ok(None);
            }
            Err(e) if e == Errno::LOOP => {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    "it is a symbolic link, which mmf does not follow",
                )
                .at("open"))
            }
            Err(e) if e == Errno::ISDIR => {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    "it is a directory, not a shared memory object",
                )
                .at("open"))
            }
            Err(e) if e == Errno::ACCESS && spec.writable => {
                return Err(Error::new(
                    ErrorKind::PermissionDenied,
                    "no write permission; open it read-only or ask its owner to grant access",
                )
                .at("open")
                .with_os(e))
            }
            Err(e) => return Err(Error::os(e).at("open")),
        };
        // One probe for an exclusive lock tells whether anybody holds the object. Usually
        // somebody does (the probe fails and takes nothing), and a shared lock follows; the
        // status is read once, after locking, when no last closer can remove the name unseen
        // any more (one system call fewer than reading it before and after). Only an
        // object nobody holds needs its status first: a stale handle-lifetime object of ours is
        // removed, any other is kept and its exclusive lock turned into a shared one.
        let alone = last_holder(fd.as_fd());
        if alone {
            let st = rfs::fstat(&fd).map_err(|e| Error::os(e).at("open"))?;
            if reapable(&st) {
                // Every holder is gone (killed, most likely): the object should not exist any more.
                let (dev, ino) = ident(&st);
                unlink_if_same(&path, dev, ino);
                return Ok(None);
            }
        }
        // Wait out an exclusive holder: a last closer or a reaper about to remove the name. (From
        // our own exclusive lock, this converts it; the conversion is not atomic, which the
        // status read below covers like any other removal meanwhile.)
        loop {
            match rfs::flock(&fd, FlockOperation::NonBlockingLockShared) {
                Ok(()) => break,
                Err(e) if e == Errno::WOULDBLOCK => {
                    if Instant::now() >= deadline {
                        return Err(Error::new(
                            ErrorKind::Busy,
                            "another process holds an exclusive lock on it; try again",
                        )
                        .at("open"));
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(e) => return Err(Error::os(e).at("open")),
            }
        }
        let st = rfs::fstat(&fd).map_err(|e| Error::os(e).at("open"))?;
        if !is_regular(&st) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "it is not a regular file, so not a shared memory object",
            )
            .at("open"));
        }
        if st.st_nlink == 0 {
            // Removed while we were opening it: look again.
            continue;
        }
        let me = rustix::process::geteuid().as_raw();
        check_owner_as(st.st_uid, me, spec.allow_other_owner).map_err(|e| e.at("open"))?;
        return Ok(Some(named_object_as(fd, &st, path, spec.writable, me)));
    }
}

pub(super) fn not_found(dir: &Path) -> Error {
    Error::new(ErrorKind::NotFound, Detail::NotFoundIn(dir.to_owned())).at("open")
}

impl NamedObject for Object {
    fn create(spec: &CreateSpec<'_>, init: &mut Init<'_>) -> Result<Object> {
        let dir = resolve_dir(spec.dir);
        let path = dir.join(spec.name.as_str());
        let mut tmp = build_tmp(spec, &dir)?;
        run_init(&tmp, init)?;
        // A stale handle-lifetime object (all its holders killed) does not block a new creator.
        for _ in 0..3 {
            if let Some(fd) = publish(&mut tmp, &path)? {
                return finish(fd, path, true);
            }
            if !reap_if_stale(&path) {
                break;
            }
        }
        Err(Error::new(ErrorKind::AlreadyExists, Detail::ExistsIn(dir)).at("create"))
    }

    fn open(spec: &OpenSpec<'_>) -> Result<Object> {
        let dir = resolve_dir(spec.dir);
        match try_open(spec, &dir)? {
            Some(o) => Ok(o),
            None => Err(not_found(&dir)),
        }
    }

    fn open_or_create(
        c: &CreateSpec<'_>,
        o: &OpenSpec<'_>,
        init: &mut Init<'_>,
    ) -> Result<(Object, Disposition)> {
        let dir = resolve_dir(c.dir);
        let path = dir.join(c.name.as_str());
        let mut tmp: Option<Tmp> = None;
        for _ in 0..1000 {
            if let Some(obj) = try_open(o, &dir)? {
                return Ok((obj, Disposition::Opened));
            }
            if tmp.is_none() {
                let t = build_tmp(c, &dir)?;
                run_init(&t, init)?;
                tmp = Some(t);
            }
            if let Some(t) = tmp.as_mut() {
                if let Some(fd) = publish(t, &path)? {
                    return Ok((finish(fd, path, true)?, Disposition::Created));
                }
            }
        }
        Err(Error::new(
            ErrorKind::Busy,
            "the name kept appearing and disappearing (1000 attempts); another process is \
             creating and removing it in a loop",
        )
        .at("open or create"))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::super::TMP_PREFIX;
    use super::{new_file, publish};

    #[test]
    fn both_ways_of_building_an_object_publish_exclusively_and_leave_nothing() {
        let dir = std::path::Path::new("/dev/shm")
            .join(format!("mmf-unit-publish-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let entries = || {
            let mut v: Vec<String> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        for unnamed in [true, false] {
            let target = dir.join(format!("obj-{}", unnamed));
            let mut first = new_file(&dir, unnamed).unwrap();
            // The fallback's temporary name carries this process's token.
            match &first.path {
                Some(p) => assert!(p
                    .file_name()
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .starts_with(&format!(
                        "{}{:x}.",
                        TMP_PREFIX,
                        super::super::process_token()
                    ))),
                None => assert!(unnamed, "only the fallback has a name"),
            }
            assert!(publish(&mut first, &target).unwrap().is_some());
            let mut second = new_file(&dir, unnamed).unwrap();
            assert!(
                publish(&mut second, &target).unwrap().is_none(),
                "name taken"
            );
            drop((first, second));
            assert!(
                entries().iter().all(|e| !e.starts_with(TMP_PREFIX)),
                "{:?}",
                entries()
            );
        }
        assert_eq!(
            entries(),
            vec!["obj-false".to_owned(), "obj-true".to_owned()]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
