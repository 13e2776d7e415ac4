//! What every handle of one shared value shares: the mapping, its views, the notifier, and the
//! glue between the protocol (`protocol.rs`) and the mapped object: the platform services
//! (`MappedHost`), guarded copies (`Bytes`), growth and remapping, and the writer-lock guard.
//!
//! # Safety
//!
//! The control block and slot descriptors are used as `&Control` and `&[Slot]` (atomics only)
//! in `Inner::control` and `Inner::slots`, relying on the view length checked at open.
#![allow(unsafe_code)]

use super::*;

/// What `SharedValue` clones share.
pub(super) struct Inner {
    pub(super) mapping: Mapping,
    /// The first view; the control block and slot descriptors are used through it for life.
    pub(super) header: Arc<View>,
    /// The latest view of the whole object (replaced when the object grows).
    pub(super) data: Mutex<Arc<View>>,
    pub(super) slots: u32,
    pub(super) header_size: u64,
    pub(super) layout: Option<ValueLayout>,
    pub(super) writable: bool,
    pub(super) notifier: sys::Notifier,
    /// How long a store waits for a writer lock that is not released (`None`: for ever).
    pub(super) lock_timeout: Option<Duration>,
    /// A read-only handle's writable mapping of the header, through which it counts itself in
    /// `waiters` while it waits (made on first use; `Some(None)`: not needed or not allowed).
    pub(super) counter: Mutex<Option<Option<Arc<View>>>>,
}

/// How long a writable handle sleeps in the kernel before it looks at the value again: a value
/// truncated under a sleeper is never woken, and this is how soon the sleeper notices.
#[cfg(not(loom))]
const WAIT_SLICE: Duration = Duration::from_secs(1);

/// The platform services for the protocol, for one operation: the notifier, the process token
/// (looked up once) and the fault epoch when the operation started.
#[cfg_attr(loom, allow(dead_code))] // under loom the notifier is never used
pub(super) struct MappedHost<'a>(&'a sys::Notifier, std::cell::Cell<u64>, u64);

impl Host for MappedHost<'_> {
    /// Looked up once per operation (a store takes and releases the lock with it).
    fn token(&self) -> u64 {
        let t = self.1.get();
        if t != 0 {
            return t;
        }
        let t = sys::process_token();
        self.1.set(t);
        t
    }

    fn alive(&self, token: u64) -> bool {
        sys::process_alive(token) != Some(false)
    }

    #[cfg(not(loom))]
    fn wait(&self, word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> bool {
        // Spurious wake-ups are allowed: callers look again (and notice a truncation).
        let timeout = Some(timeout.map_or(WAIT_SLICE, |t| t.min(WAIT_SLICE)));
        match self.0.wait(word, expected, timeout) {
            Ok(woken) => woken,
            Err(_) => {
                // No kernel wait here: do not spin.
                std::thread::sleep(
                    timeout.map_or(READ_ONLY_WAIT_SLICE, |t| t.min(READ_ONLY_WAIT_SLICE)),
                );
                false
            }
        }
    }

    #[cfg(loom)]
    fn wait(&self, _word: &AtomicU32, _expected: u32, _timeout: Option<Duration>) -> bool {
        // Mapped values are never built under loom (see `SharedValue::attach`).
        false
    }

    #[cfg(not(loom))]
    fn wake(&self, word: &AtomicU32) {
        self.0.wake_all(word);
    }

    #[cfg(loom)]
    fn wake(&self, _word: &AtomicU32) {}

    fn wake_always(&self) -> bool {
        sys::WAKE_IS_CHEAP
    }

    fn now_ms(&self) -> u64 {
        sys::now_ms()
    }

    /// A page was patched somewhere in the process since the operation started (see
    /// `sys/linux/fault.rs`): perhaps ours, so a wait must stop and let the guard report it.
    fn abandoned(&self) -> bool {
        sys::fault_epoch() != self.2
    }
}

/// A data view for one protocol call: a copy that faulted (`Truncated`, `OutOfSpace`) is kept, so
/// the operation reports it rather than the `Corrupt` the protocol makes of a failed copy.
pub(super) struct Bytes<'a> {
    pub(super) view: &'a View,
    pub(super) fault: std::cell::Cell<Option<Error>>,
}

impl<'a> Bytes<'a> {
    pub(super) fn new(view: &'a View) -> Bytes<'a> {
        Bytes {
            view,
            fault: std::cell::Cell::new(None),
        }
    }

    pub(super) fn keep(&self, r: Result<()>) -> bool {
        match r {
            Ok(()) => true,
            Err(e) => {
                if matches!(e.kind(), ErrorKind::Truncated | ErrorKind::OutOfSpace) {
                    self.fault.set(Some(e));
                }
                false
            }
        }
    }

    /// The fault a copy met, if any.
    pub(super) fn take(&self) -> Result<()> {
        match self.fault.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Data for Bytes<'_> {
    fn len(&self) -> u64 {
        self.view.len() as u64
    }

    fn read(&self, offset: u64, dst: &mut [u8]) -> bool {
        match usize::try_from(offset) {
            Ok(o) => self.keep(self.view.read_at(o, dst)),
            Err(_) => false,
        }
    }

    fn write(&self, offset: u64, src: &[u8]) -> bool {
        match usize::try_from(offset) {
            Ok(o) => self.keep(self.view.write_at(o, src)),
            Err(_) => false,
        }
    }

    /// `fallocate(PUNCH_HOLE)` on the whole pages inside the range (`View::decommit`); where the
    /// platform cannot (Windows sections), the memory stays committed and is reused by later
    /// regions.
    fn release(&self, offset: u64, len: u64) {
        let page = sys::page_size() as u64;
        let start = match offset.checked_add(page - 1) {
            Some(s) => s / page * page,
            None => return,
        };
        let end = offset.saturating_add(len).min(self.view.len() as u64) / page * page;
        if end > start && self.view.access() != Access::ReadOnly {
            let _ = self.view.decommit(start as usize, (end - start) as usize);
        }
    }
}

/// The ready word of a view of at least 40 bytes.
pub(super) fn ready_word(view: &View) -> Option<&AtomicU32> {
    if view.len() < OFF_READY + 4 {
        return None;
    }
    // SAFETY: in bounds (checked above); the view starts on a page boundary, so offset 36 is
    // 4-byte aligned; an AtomicU32 has the layout of a u32; the memory stays mapped while `view`
    // is borrowed. Other processes may write it concurrently, which atomics allow; callers only
    // load it (Relaxed, which is sound on read-only mappings) or store through a writable view.
    Some(unsafe { &*(view.as_ptr().add(OFF_READY) as *const AtomicU32) })
}

/// The `waiters` word of a writable header view (see `Inner::counter_view`).
pub(super) fn waiters_word(view: &View) -> &AtomicU32 {
    // SAFETY: as for `Inner::control`: the view maps the header from offset 0 (page-aligned),
    // at least `header_size` bytes, so the control block's `waiters` word (byte 12 of it) is in
    // bounds and 4-byte aligned; it is an atomic that other processes write concurrently.
    unsafe { &*(view.as_ptr().add(CONTROL_OFFSET + 12) as *const AtomicU32) }
}

impl Inner {
    pub(super) fn control(&self) -> &Control {
        // SAFETY: `header` is at least `header_size` = 448 + 64·slots bytes long (checked in
        // `finish`, the only constructor of `Inner`) and starts on a page boundary, so bytes
        // 64..192 are in bounds and 8-byte aligned. `Control` is `repr(C)` and made only of
        // atomics (128 bytes, asserted in `protocol`), so every bit pattern is valid and
        // concurrent writes by other processes are not data races. The memory stays mapped while
        // `self.header` lives. Read-only handles only load from it (`writable` guards every
        // store).
        unsafe { &*(self.header.as_ptr().add(CONTROL_OFFSET) as *const Control) }
    }

    /// The view through which this handle counts itself in `waiters` while it waits: `None` for
    /// a writable handle (its own header), where writers wake on every store anyway
    /// (`sys::WAKE_IS_CHEAP`), and where no writable mapping may be had (the handle then looks
    /// again every `READ_ONLY_WAIT_SLICE`).
    pub(super) fn counter_view(&self) -> Option<Arc<View>> {
        if self.writable || sys::WAKE_IS_CHEAP {
            return None;
        }
        let mut cached = self.counter.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = &*cached {
            return v.clone();
        }
        let o = &self.mapping.object;
        let view = o.sys.reopen_writable().and_then(|sys| {
            let m = Mapping::from_parts(sys, o.what.clone(), None, o.backing);
            m.map_range(0, self.header_size as usize, Access::ReadWrite)
                .ok()
                .map(Arc::new)
        });
        *cached = Some(view.clone());
        view
    }

    pub(super) fn inline(&self) -> &[Inline; 2] {
        // SAFETY: as for `control`: bytes 192 .. 448 lie within the header view (at least
        // `header_size` bytes), 8-byte aligned, and `Inline` is a `repr(C)` block of atomics
        // (128 bytes, asserted in `protocol`), so two of them are those 256 bytes.
        unsafe { &*(self.header.as_ptr().add(INLINE_OFFSET) as *const [Inline; 2]) }
    }

    pub(super) fn slots(&self) -> &[Slot] {
        // SAFETY: as for `control`: bytes 448 .. 448 + 64·slots lie within the header view,
        // 8-byte aligned, and `Slot` is a `repr(C)` block of atomics.
        unsafe {
            std::slice::from_raw_parts(
                self.header.as_ptr().add(SLOTS_OFFSET) as *const Slot,
                self.slots as usize,
            )
        }
    }

    pub(super) fn region<'a, D: Data>(&'a self, data: &'a D) -> Region<'a, D> {
        Region {
            control: self.control(),
            inline: self.inline(),
            slots: self.slots(),
            data,
            data_start: self.header_size,
            writable: self.writable,
        }
    }

    pub(super) fn host(&self) -> MappedHost<'_> {
        MappedHost(&self.notifier, std::cell::Cell::new(0), sys::fault_epoch())
    }

    /// Runs a value operation with the header (control block and slot descriptors, which the
    /// protocol uses in place) guarded against `SIGBUS`: if the object shrinks under it, `f`
    /// goes on over zeros (the protocol's loops end on zeroed state) and the operation fails with
    /// `Truncated` or `OutOfSpace`, which take precedence over whatever `f` made of the zeros.
    ///
    /// A truncation that cuts the object inside the header's page faults nowhere (the kernel maps
    /// the rest of that page as zeros): the protocol then finds its state inconsistent, and the
    /// `Corrupt` it reports becomes `Truncated` when the object is now smaller than it was mapped.
    pub(super) fn guarded<R>(&self, op: &'static str, f: impl FnOnce() -> Result<R>) -> Result<R> {
        match self
            .header
            .guarded(op, 0, self.header_size as usize, f)
            .and_then(|r| r)
        {
            Err(e) if e.kind() == ErrorKind::Corrupt => Err(self.shrunk(op).unwrap_or(e)),
            r => r,
        }
    }

    /// `guarded`, with the `waiters` word of `counter` (see `counter_view`) guarded too and
    /// handed to `f`.
    pub(super) fn guarded_counting<R>(
        &self,
        counter: Option<&View>,
        op: &'static str,
        f: impl FnOnce(Option<&AtomicU32>) -> Result<R>,
    ) -> Result<R> {
        match counter {
            Some(v) => v
                .guarded(op, CONTROL_OFFSET, 16, || {
                    self.guarded(op, || f(Some(waiters_word(v))))
                })
                .and_then(|r| r),
            None => self.guarded(op, || f(None)),
        }
    }

    /// `Truncated` if the object is now smaller than this handle's first view of it (objects of
    /// shared values never shrink, so only another process cutting the file does this).
    pub(super) fn shrunk(&self, op: &'static str) -> Option<Error> {
        let have = self.mapping.len();
        let mapped = self.header.len() as u64;
        if have < mapped {
            Some(self.error(
                ErrorKind::Truncated,
                op,
                format!(
                    "the object shrank to {} bytes under this handle, which mapped {}",
                    have, mapped
                ),
            ))
        } else {
            None
        }
    }

    pub(super) fn data_view(&self) -> Arc<View> {
        match self.data.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub(super) fn what(&self) -> String {
        self.mapping.describe().to_owned()
    }

    pub(super) fn error(
        &self,
        kind: ErrorKind,
        op: &'static str,
        detail: impl Into<String>,
    ) -> Error {
        Error::new(kind, op, self.what(), detail.into())
    }

    /// The error for a store that gave up waiting for the writer lock: who holds it, whether it
    /// is stopped, and what to do.
    pub(super) fn lock_busy(&self, host: &MappedHost<'_>, owner: u64, waited: Duration) -> Error {
        let pid = owner as u32;
        let waited = format!(
            "waited {:.1} s without it being released",
            waited.as_secs_f64()
        );
        let detail = if owner == host.token() {
            format!(
                "the writer lock is held by this process (pid {}): another thread is storing a \
                 very large value, or the lock word is damaged and names this process; {}",
                pid, waited
            )
        } else if sys::process_stopped(owner) == Some(true) {
            format!(
                "the writer lock is held by pid {}, which is stopped (SIGSTOP, Ctrl-Z or a \
                 debugger); resume it with `kill -CONT {}`; {}",
                pid, pid, waited
            )
        } else {
            format!(
                "the writer lock is held by pid {}; if that process is hung, stop it (a writer \
                 that dies is taken over at once), or wait longer with a larger \
                 ValueOptions::lock_timeout; {}",
                pid, waited
            )
        };
        self.error(ErrorKind::Busy, "store into", detail)
    }

    /// A view covering at least `need` bytes, growing the object first if `grow`.
    /// Other threads keep using the current view meanwhile: the lock is only held to swap it.
    pub(super) fn remap(&self, op: &'static str, need: u64, grow: bool) -> Result<Arc<View>> {
        let current = self.data_view();
        if current.len() as u64 >= need {
            return Ok(current);
        }
        // Only a store (`grow`) can need more; for a reader, a region past the object is damage,
        // reported as `Corrupt` below whatever its size.
        if grow && need > i64::MAX as u64 {
            return Err(self.error(
                ErrorKind::OutOfSpace,
                op,
                "the value would need an object larger than the address space",
            ));
        }
        let have = self.mapping.len();
        if have < need {
            if !grow {
                return Err(self.error(
                    ErrorKind::Truncated,
                    op,
                    format!(
                        "its data reaches byte {} but the object has only {} bytes",
                        need, have
                    ),
                ));
            }
            self.mapping.grow(need).map_err(|e| {
                let hint = if e.kind() == ErrorKind::Unsupported {
                    "; objects cannot grow on this platform, so create the value with a larger \
                     ValueOptions::capacity"
                } else {
                    ""
                };
                self.error(
                    e.kind(),
                    op,
                    format!(
                        "the value needs the object to grow from {} to {} bytes: {}{}",
                        have, need, e, hint
                    ),
                )
            })?;
        }
        let view = if self.writable {
            self.mapping.map_mut()?
        } else {
            self.mapping.map()?
        };
        if (view.len() as u64) < need {
            return Err(self.error(
                ErrorKind::Corrupt,
                op,
                format!(
                    "the object has {} bytes after growing to {}",
                    view.len(),
                    need
                ),
            ));
        }
        let mut guard = match self.data.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if guard.len() < view.len() {
            *guard = Arc::new(view);
        }
        Ok(guard.clone())
    }

    /// Takes the writer lock (see `Region::lock`); released when the guard drops.
    pub(super) fn lock_writer(&self, data: &View) -> Result<LockGuard<'_>> {
        let host = self.host();
        match self
            .region(&Bytes::new(data))
            .lock(&host, self.lock_timeout)
        {
            Lock::Taken | Lock::TakenOver => Ok(LockGuard { inner: self, host }),
            Lock::Busy { owner, waited } => Err(self.lock_busy(&host, owner, waited)),
        }
    }

    /// What a store step's outcome asks for: `Some(version)` when it was published, `None`
    /// after growing or remapping `data` as asked (call the step again), or the error.
    pub(super) fn settle(
        &self,
        op: &'static str,
        outcome: Store,
        data: &mut Arc<View>,
    ) -> Result<Option<u64>> {
        match outcome {
            Store::Done(v) => Ok(Some(v)),
            Store::Grow(need) => {
                // Whole pages: the tail of the last page is then free space like any other gap,
                // which a trim gives back (see `Region::trim`).
                let page = sys::page_size() as u64;
                let need = need.checked_add(page - 1).map_or(need, |n| n / page * page);
                *data = self.remap(op, need, true)?;
                Ok(None)
            }
            Store::Remap(need) => {
                *data = self.remap(op, need, false)?;
                Ok(None)
            }
            Store::Corrupt(why) => Err(self.error(ErrorKind::Corrupt, op, why)),
            Store::Exhausted => Err(self.error(
                ErrorKind::OutOfSpace,
                op,
                "all 2^56 versions have been used; create a new value",
            )),
        }
    }

    /// Drops this process's page-table entries for the whole pages in object bytes
    /// `from..to` of `view` (`MADV_DONTNEED`): a streamed value keeps the process's resident
    /// memory bounded rather than counting every page it touched. The object keeps the bytes
    /// (shared pages are only unmapped from this process). Best effort: where the platform
    /// cannot, the pages simply stay resident.
    pub(super) fn drop_pages(&self, view: &View, from: u64, to: u64) {
        let page = sys::page_size() as u64;
        let start = from.saturating_add(page - 1) / page * page;
        let end = to.min(view.len() as u64) / page * page;
        if end > start {
            // SAFETY: shared values never hand out `as_slice`/`as_mut_slice` references into
            // their views (every access is a guarded copy), so no reference sees the contents
            // change; for a shared view they do not change anyway (the object keeps them).
            let _ = unsafe {
                view.advise_unchecked(
                    crate::UncheckedAdvice::DontNeed,
                    start as usize,
                    (end - start) as usize,
                )
            };
        }
    }

    pub(super) fn read(&self, dest: &mut Dest<'_>) -> Result<u64> {
        let host = self.host();
        // The first view first: an inline value (or a slot inside it) needs no other, and it is
        // at hand without the lock that guards the latest view.
        let mut data: Option<Arc<View>> = None;
        loop {
            let view = data.as_deref().unwrap_or(&self.header);
            let bytes = Bytes::new(view);
            let outcome = self.region(&bytes).read(&host, dest);
            bytes.take()?;
            if let Read::Value(v) = outcome {
                return Ok(v);
            }
            match self.unreadable(outcome)? {
                Some(need) => data = Some(self.remap("retrieve", need, false)?),
                None => {
                    if let Dest::Vec(v) = dest {
                        v.clear();
                    }
                    return Ok(0);
                }
            }
        }
    }

    /// What a read that copied nothing means: `Some(n)` to map `n` bytes and retry, `None` for
    /// an empty value, or the error.
    pub(super) fn unreadable(&self, outcome: Read) -> Result<Option<u64>> {
        match outcome {
            Read::Remap(need) => Ok(Some(need)),
            Read::Empty | Read::Value(_) => {
                // An empty value reads `current == 0`, as does a header cut short.
                match self.shrunk("retrieve") {
                    Some(e) => Err(e),
                    None => Ok(None),
                }
            }
            Read::WrongLength(n) => {
                let want = self.layout.map_or(0, |l| l.size);
                Err(self.error(
                    ErrorKind::Corrupt,
                    "retrieve",
                    format!(
                        "it holds a value of {} bytes, but its type has {} bytes",
                        n, want
                    ),
                ))
            }
            Read::Corrupt(why) => Err(self.error(ErrorKind::Corrupt, "retrieve", why)),
        }
    }

    /// Refuses a store through a read-only handle, or one of `len` bytes into a typed value of
    /// another size (`None`: not known yet).
    pub(super) fn check_store(&self, len: Option<u64>) -> Result<()> {
        if !self.writable {
            return Err(self.error(
                ErrorKind::PermissionDenied,
                "store into",
                "this handle was opened read-only",
            ));
        }
        if let (Some(l), Some(len)) = (self.layout, len) {
            if len != l.size {
                return Err(self.error(
                    ErrorKind::InvalidInput,
                    "store into",
                    format!(
                        "it holds a typed value of {} bytes; {} bytes were given",
                        l.size, len
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The error for a caller's sink (or source) that failed during `op`.
    pub(super) fn sink_error(&self, op: &'static str, e: std::io::Error) -> Error {
        self.error(
            sys::classify(&e),
            op,
            format!("writing the value out failed: {}", e),
        )
        .with_source(Some(e))
    }
}

/// Releases the writer lock when a store ends, however it ends (with the host that took it).
pub(super) struct LockGuard<'a> {
    pub(super) inner: &'a Inner,
    pub(super) host: MappedHost<'a>,
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        // The lock word is in the header: the first view will do, without the latest view's lock.
        let header = &self.inner.header;
        self.inner.region(&Bytes::new(header)).unlock(&self.host);
    }
}
