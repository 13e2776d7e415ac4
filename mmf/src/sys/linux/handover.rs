//! Handing an object to another process: descriptor inheritance across `spawn` and
//! `SCM_RIGHTS` over a Unix socket, with the receiving side's checks.
//!
//! # Safety
//!
//! See `linux/mod.rs`: each unsafe call states the invariant it relies on.

#![allow(unsafe_code)]

use super::named::named_object;
use super::{ident, ioerr, is_regular, Object};
use crate::error::Detail;
use crate::sys::contract::HandOver;
use crate::sys::{backing_tag, parse_backing, parse_token};
use crate::sys::{Error, Result};
use crate::types::Backing;
use crate::{ErrorKind, Name};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{self as rfs, FlockOperation, Mode, OFlags};
use rustix::io::Errno;
use std::io;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::Command;

impl HandOver for Object {
    /// Prepares a descriptor that the child spawned from `cmd` inherits. It stays close-on-exec
    /// in this process, so children spawned by other threads do not get it; only `cmd`'s child
    /// clears the flag, between fork and exec.
    fn inherit(&self, backing: Backing, cmd: &mut Command) -> Result<Inheritance> {
        use std::os::unix::process::CommandExt;
        let keep = self.transferable()?;
        let raw = rustix::fd::AsRawFd::as_raw_fd(&keep);
        let st = rfs::fstat(&keep).map_err(|e| Error::os(e).at("hand over"))?;
        let (dev, ino) = ident(&st);
        // The identity lets the child check that the number still names this object.
        let token = format!(
            "mmf:{}:{}:{}:{}:{}",
            backing_tag(backing),
            if self.writable { "rw" } else { "ro" },
            raw,
            dev,
            ino
        );
        // SAFETY: the closure runs in the child between fork and exec and only makes one
        // async-signal-safe system call (fcntl) on a descriptor that is open there: `fd` lives in
        // the returned Inheritance, which the caller keeps until after spawning.
        unsafe {
            cmd.pre_exec(move || {
                let fd = BorrowedFd::borrow_raw(raw);
                rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::empty()).map_err(ioerr)
            });
        }
        Ok(Inheritance { token, _keep: keep })
    }

    /// Takes over a descriptor inherited from the parent, described by `token`.
    ///
    /// Everything is checked on a borrowed descriptor first: the number is not a standard stream
    /// (0-2), it is open, it is the very object the token names (device and inode), it is the kind
    /// of object the token says, it allows the access the token claims, and it was inherited
    /// (close-on-exec clear). Only then is it taken: duplicated with close-on-exec and the
    /// inherited number closed. On every error the descriptor is left open and unchanged.
    fn from_inherited(token: &str) -> Result<(Object, Backing, Option<Name>)> {
        let bad = || {
            Error::new(
                ErrorKind::InvalidInput,
                "not a token made by Mapping::inherit (expected mmf:KIND:ACCESS:FD:DEV:INO)",
            )
            .at("take over")
        };
        let (backing, writable, rest) = parse_token(token).ok_or_else(bad)?;
        let mut nums = rest.split(':');
        let (raw, dev, ino) = match (nums.next(), nums.next(), nums.next(), nums.next()) {
            (Some(fd), Some(dev), Some(ino), None) => (
                fd.parse::<i32>().map_err(|_| bad())?,
                dev.parse::<u64>().map_err(|_| bad())?,
                ino.parse::<u64>().map_err(|_| bad())?,
            ),
            _ => return Err(bad()),
        };
        if raw < 0 {
            return Err(bad());
        }
        let refuse =
            |kind: ErrorKind, detail: &'static str| Error::new(kind, detail).at("take over");
        if raw <= 2 {
            return Err(refuse(
                ErrorKind::InvalidInput,
                "descriptors 0, 1 and 2 are standard input, output and error, never an inherited \
                 object",
            ));
        }
        // SAFETY: the borrow is only used for checks (fcntl, fstat, readlink) that do not change
        // the descriptor, whatever it is; ownership is taken only once every check has passed.
        let borrowed = unsafe { BorrowedFd::borrow_raw(raw) };
        let flags = rustix::io::fcntl_getfd(borrowed).map_err(|e| {
            refuse(
                ErrorKind::NotFound,
                "descriptor is not open in this process; was the child spawned with \
                 Mapping::inherit?",
            )
            .with_os(e)
        })?;
        let st = rfs::fstat(borrowed).map_err(|e| Error::os(e).at("take over"))?;
        if ident(&st) != (dev, ino) {
            return Err(refuse(
                ErrorKind::NotFound,
                "that descriptor number now names another file, not the inherited object (was it \
                 closed and reused?)",
            ));
        }
        // An inherited descriptor arrives with close-on-exec cleared (`inherit` clears it in the
        // child only); every descriptor this process opened itself, std's and mmf's, has it set.
        // This refuses the parent's own token, a second takeover of the same token, and taking
        // over a descriptor something else in this process owns, any of which would close it
        // twice.
        if flags.contains(rustix::io::FdFlags::CLOEXEC) {
            return Err(refuse(
                ErrorKind::NotFound,
                "that descriptor belongs to this process, not to an inherited handle (taken over \
                 already, or the token is the parent's)",
            ));
        }
        let checked = inspect(borrowed, &st, backing, writable, "take over")?;
        let fd = rustix::io::fcntl_dupfd_cloexec(borrowed, 0)
            .map_err(|e| Error::os(e).at("take over"))?;
        // Close the inherited number: our duplicate (close-on-exec) replaces it.
        // SAFETY: the descriptor is open, not close-on-exec and the object the token names, so it
        // came from the parent for this takeover (checked above) and nothing else here owns it.
        drop(unsafe { <OwnedFd as rustix::fd::FromRawFd>::from_raw_fd(raw) });
        Ok(checked.into_object(fd))
    }

    /// Sends this object over a Unix socket (`SCM_RIGHTS`).
    fn send(&self, backing: Backing, sock: &UnixStream) -> Result<()> {
        use rustix::net::{sendmsg, SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
        let keep = self.transferable()?;
        let header = [
            b'm',
            b'm',
            b'f',
            b'1',
            backing_tag(backing) as u8,
            self.writable as u8,
        ];
        let fds = [keep.as_fd()];
        let mut space = [0u8; rustix::cmsg_space!(ScmRights(1))];
        let mut anc = SendAncillaryBuffer::new(&mut space);
        anc.push(SendAncillaryMessage::ScmRights(&fds));
        let iov = [io::IoSlice::new(&header)];
        sendmsg(sock, &iov, &mut anc, SendFlags::NOSIGNAL).map_err(|e| Error::os(e).at("send"))?;
        Ok(())
    }

    /// Receives an object sent with `send`.
    fn receive(sock: &UnixStream) -> Result<(Object, Backing, Option<Name>)> {
        use rustix::net::{recvmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
        let mut header = [0u8; 6];
        let mut space = [0u8; rustix::cmsg_space!(ScmRights(4))];
        let mut anc = RecvAncillaryBuffer::new(&mut space);
        let mut iov = [io::IoSliceMut::new(&mut header)];
        let got = recvmsg(sock, &mut iov, &mut anc, RecvFlags::CMSG_CLOEXEC)
            .map_err(|e| Error::os(e).at("receive"))?;
        let mut fds: Vec<OwnedFd> = Vec::new();
        for msg in anc.drain() {
            if let RecvAncillaryMessage::ScmRights(r) = msg {
                fds.extend(r);
            }
        }
        let bad =
            |detail: &'static str| Err(Error::new(ErrorKind::InvalidInput, detail).at("receive"));
        if got.bytes == 0 {
            return bad("the peer closed the connection without sending an object");
        }
        if got.bytes != header.len() || &header[..4] != b"mmf1" {
            return bad("the message is not an mmf object (expected what Mapping::send sends)");
        }
        let backing = match parse_backing(&(header[4] as char).to_string()) {
            Some(b) => b,
            None => return bad("unknown object kind in the message"),
        };
        if fds.len() != 1 {
            return bad("the message carried no descriptor, or more than one");
        }
        let fd = fds
            .pop()
            .ok_or_else(|| Error::new(ErrorKind::InvalidInput, "no descriptor").at("receive"))?;
        let st = rfs::fstat(&fd).map_err(|e| Error::os(e).at("receive"))?;
        let checked = inspect(fd.as_fd(), &st, backing, header[5] != 0, "receive")?;
        Ok(checked.into_object(fd))
    }
}

impl Object {
    /// A new descriptor for this object that another process can hold on its own: for a named
    /// object a fresh open file description with its own shared lock (so the receiver is a holder
    /// independent of us), otherwise a duplicate. Close-on-exec is set.
    ///
    /// Our copy is only ever *closed*, never run through the last-holder check: the receiver
    /// shares its open file description, and `flock` conversion is not atomic (a failed attempt
    /// to take the lock exclusively can drop the shared lock, which would be the receiver's).
    fn transferable(&self) -> Result<OwnedFd> {
        let fail = |e: Errno| Error::os(e).at("hand over");
        if self.named.is_none() {
            return rustix::io::fcntl_dupfd_cloexec(&self.fd, 0).map_err(fail);
        }
        let access = if self.writable {
            OFlags::RDWR
        } else {
            OFlags::RDONLY
        };
        let proc_path = format!("/proc/self/fd/{}", rustix::fd::AsRawFd::as_raw_fd(&self.fd));
        let fd = rfs::openat(
            rfs::CWD,
            proc_path.as_str(),
            access | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(fail)?;
        rfs::flock(&fd, FlockOperation::LockShared).map_err(fail)?;
        Ok(fd)
    }
}

/// A descriptor kept open for a child to inherit; see `Object::inherit`.
pub(crate) struct Inheritance {
    token: String,
    _keep: OwnedFd,
}

impl Inheritance {
    pub(crate) fn token(&self) -> &str {
        &self.token
    }
}

/// A handed-over descriptor that passed every check, waiting to be owned.
struct Checked {
    st: rfs::Stat,
    backing: Backing,
    writable: bool,
    path: Option<PathBuf>,
    name: Option<Name>,
}

impl Checked {
    /// The object around `fd`, the descriptor that was checked (or a duplicate of it). For a
    /// named object the descriptor already holds its own shared lock (see `transferable`).
    fn into_object(self, fd: OwnedFd) -> (Object, Backing, Option<Name>) {
        let object = match self.path {
            Some(path) => named_object(fd, &self.st, path, self.writable),
            None => Object {
                fd,
                writable: self.writable,
                commit: self.backing == Backing::Anonymous,
                named: None,
            },
        };
        (object, self.backing, self.name)
    }
}

/// Checks that `fd` (whose status is `st`) is the kind of object `backing` says and allows the
/// access claimed, without taking or changing it.
fn inspect(
    fd: BorrowedFd<'_>,
    st: &rfs::Stat,
    backing: Backing,
    writable: bool,
    op: &'static str,
) -> Result<Checked> {
    let wrong = |detail: Detail| Error::new(ErrorKind::InvalidInput, detail).at(op);
    if !is_regular(st) {
        return Err(wrong(
            "the descriptor is not a regular file, so not a mapping object".into(),
        ));
    }
    let link = rfs::readlinkat(
        rfs::CWD,
        format!("/proc/self/fd/{}", rustix::fd::AsRawFd::as_raw_fd(&fd)),
        Vec::new(),
    )
    .map_err(|e| Error::os(e).at(op))?;
    let link = link.to_string_lossy().into_owned();
    let memfd = link.starts_with("/memfd:");
    let kind = match backing {
        Backing::Anonymous => "an anonymous object",
        Backing::Named => "a named object",
        Backing::File => "a file",
    };
    // A file-backed object may be any regular file, a memfd included.
    if backing != Backing::File && memfd != (backing == Backing::Anonymous) {
        return Err(wrong(Detail::NotAsClaimed {
            claimed: kind,
            actual: if memfd {
                "an anonymous memory object"
            } else {
                "a file with a name"
            },
        }));
    }
    let mode = rustix::fs::fcntl_getfl(fd).map_err(|e| Error::os(e).at(op))?;
    if writable && (mode & OFlags::RWMODE) != OFlags::RDWR {
        return Err(wrong(
            "the token says read-write but the descriptor is open read-only".into(),
        ));
    }
    let (path, name) = if backing == Backing::Named {
        let path = PathBuf::from(link.trim_end_matches(" (deleted)"));
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| Name::new(n).ok());
        (Some(path), name)
    } else {
        (None, None)
    };
    Ok(Checked {
        st: *st,
        backing,
        writable,
        path,
        name,
    })
}
