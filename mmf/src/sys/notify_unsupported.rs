//! Blocking notification for the fallback backend (`unsupported.rs`); see the contract in
//! `sys/mod.rs`. Nothing can be waited for, and process liveness cannot be told.

use crate::sys::{Error, Result};
use crate::Name;
use std::io;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// A notifier that cannot be made.
pub(crate) struct Notifier(());

impl Notifier {
    pub(crate) fn new(_key: Option<&Name>, _global: bool) -> Result<Notifier> {
        Err(Error::unsupported("mmf has no backend for this platform"))
    }

    pub(crate) fn wait(
        &self,
        _word: &AtomicU32,
        _expected: u32,
        _timeout: Option<Duration>,
    ) -> io::Result<bool> {
        Err(io::ErrorKind::Unsupported.into())
    }

    pub(crate) fn wake_all(&self, _word: &AtomicU32) {}
}

/// Without a way to identify processes, every process has the same token.
pub(crate) fn process_token() -> u64 {
    1
}

/// Liveness cannot be told here.
pub(crate) fn process_alive(_token: u64) -> Option<bool> {
    None
}

/// Whether a process is stopped cannot be told here.
pub(crate) fn process_stopped(_token: u64) -> Option<bool> {
    None
}
