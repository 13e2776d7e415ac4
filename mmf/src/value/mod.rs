//! Shared values: one named object holding the latest version of a value, which any number of
//! processes store and retrieve whole.
//!
//! A [`SharedValue`] is what the classic Win32 "store a string, retrieve it in another instance"
//! example should have had: `store` replaces the value atomically (a reader sees the old value or the new
//! one, never a mix), `retrieve` copies the latest value out, `wait_newer` blocks in the kernel
//! until a newer version is stored. [`Shared<T>`] does the same for plain-old-data types, with
//! the type's layout checked on open.
//!
//! The design is described on [`SharedValue`] (public) and in `protocol.rs` (the argument);
//! the byte format in `FORMAT.md`.
//!
//! # Safety
//!
//! The control block and the slot descriptors in a mapped view are used as `&Control` and
//! `&[Slot]`: structures made only of atomics, so other processes writing them concurrently is
//! not a data race. The casts are in [`Inner::control`] and [`Inner::slots`], which rely on the
//! view length checked at open. Typed values are converted to and from bytes under the [`Pod`]
//! contract.
#![allow(unsafe_code)]

mod format;
/// The value layer recognises its own objects in listings; the listing itself knows nothing of
/// values.
impl crate::ObjectInfo {
    /// Whether the object holds an mmf shared value (rather than plain bytes).
    pub fn is_value(&self) -> bool {
        self.magic == MAGIC
    }
}

#[cfg(all(test, loom))]
mod loom;
mod protocol;

pub(crate) use format::MAGIC;
pub use format::{ValueHeader, ValueLayout};

use self::format::{
    align_data, header_size, CONTROL_OFFSET, DATA_ALIGN, FORMAT_VERSION, MAX_SLOTS, MIN_SLOTS,
    OFF_READY, READY, SLOTS_OFFSET,
};
use self::protocol::{Control, Data, Dest, Host, Lock, Read, Region, Slot, Store};
use crate::sync::{fence, AtomicU32, Ordering};
use crate::sys;
use crate::view::View;
use crate::{
    Access, CreateOptions, Disposition, Error, ErrorKind, IntoName, Lifetime, Mapping, Name,
    OpenOptions, Permissions, Pod, Result, Scope,
};
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often a read-only handle re-checks the version while it waits (it cannot register as a
/// waiter, so a writer does not always wake it).
const READ_ONLY_WAIT_SLICE: Duration = Duration::from_millis(10);
/// The default per-slot capacity.
const DEFAULT_CAPACITY: u64 = 4096;
/// The default number of slots.
const DEFAULT_SLOTS: u32 = 8;
/// The default for [`ValueOptions::lock_timeout`].
const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(5);

fn layout_of<T: Pod>() -> ValueLayout {
    ValueLayout {
        size: std::mem::size_of::<T>() as u64,
        align: std::mem::align_of::<T>() as u32,
        id: T::LAYOUT_ID,
    }
}

/// Options for creating and opening shared values.
///
/// ```
/// use mmf::{Lifetime, ValueOptions};
/// # let name = format!("mmf-doc-value-options-{}", std::process::id());
/// let v = ValueOptions::new()
///     .capacity(64 * 1024)          // values up to 64 KiB store without growing the object
///     .lifetime(Lifetime::Handle)   // gone when the last handle closes (the default)
///     .create(&name)?;
/// v.store(b"hello")?;
/// # Ok::<(), mmf::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ValueOptions {
    capacity: u64,
    slots: u32,
    lifetime: Lifetime,
    permissions: Permissions,
    dir: Option<PathBuf>,
    access: Access,
    allow_other_owner: bool,
    scope: Scope,
    timeout: Duration,
    lock_timeout: Duration,
    layout: Option<ValueLayout>,
}

impl Default for ValueOptions {
    fn default() -> ValueOptions {
        ValueOptions::new()
    }
}

impl ValueOptions {
    /// Defaults: 4 KiB capacity, 8 slots, handle lifetime, owner-only, writable, 1 s to wait for
    /// a creator that has not finished initialising, 5 s for a writer lock that is not released.
    pub fn new() -> ValueOptions {
        ValueOptions {
            capacity: DEFAULT_CAPACITY,
            slots: DEFAULT_SLOTS,
            lifetime: Lifetime::Handle,
            permissions: Permissions::OWNER_ONLY,
            dir: None,
            access: Access::ReadWrite,
            allow_other_owner: false,
            scope: Scope::Local,
            timeout: Duration::from_secs(1),
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            layout: None,
        }
    }

    /// Creation: the largest value each slot holds before the object has to grow (rounded up to
    /// 64 bytes). The object starts with `slots × capacity` bytes of data. On platforms where
    /// objects cannot grow (Windows), this is the largest value that can ever be stored.
    pub fn capacity(&mut self, bytes: u64) -> &mut Self {
        self.capacity = bytes;
        self
    }

    /// Creation: how many slots hold versions of the value (2 to 64, default 8). A reader that
    /// pinned its slot is never overwritten while fewer than `slots - 1` readers copy distinct
    /// older versions at once; more slots protect more concurrent readers and cost memory.
    pub fn slots(&mut self, slots: u32) -> &mut Self {
        self.slots = slots;
        self
    }

    /// Creation: how long the object lives (default [`Lifetime::Handle`], as for a
    /// [`Mapping`]).
    pub fn lifetime(&mut self, lifetime: Lifetime) -> &mut Self {
        self.lifetime = lifetime;
        self
    }

    /// Creation: who may open the object (default owner-only).
    pub fn permissions(&mut self, permissions: Permissions) -> &mut Self {
        self.permissions = permissions;
        self
    }

    /// The directory that holds named objects (Linux; default `$MMF_DIR`, else `/dev/shm`).
    pub fn dir(&mut self, dir: impl Into<PathBuf>) -> &mut Self {
        self.dir = Some(dir.into());
        self
    }

    /// Opening: the handle's access (default [`Access::ReadWrite`], which stores, retrieves and
    /// waits). An [`Access::ReadOnly`] handle needs only read permission on the object; it
    /// retrieves and waits, but cannot pin slots (so a flat-out writer may make it retry) and
    /// re-checks every 10 ms while waiting (the writer cannot know it waits). Opening with
    /// [`Access::CopyOnWrite`] fails with `InvalidInput`: a value has no private copy to write.
    /// Creating always gives a read-write handle.
    pub fn access(&mut self, access: Access) -> &mut Self {
        self.access = access;
        self
    }

    /// Opening: accept an object that belongs to another user (default: refuse).
    pub fn allow_other_owner(&mut self, allow: bool) -> &mut Self {
        self.allow_other_owner = allow;
        self
    }

    /// Windows: the namespace the value (and its notification objects) live in (default
    /// [`Scope::Local`]). Ignored on Linux.
    pub fn scope(&mut self, scope: Scope) -> &mut Self {
        self.scope = scope;
        self
    }

    /// Opening: how long to wait for a creator that has not published the header yet before
    /// failing with `NotReady` (default 1 s).
    pub fn timeout(&mut self, timeout: Duration) -> &mut Self {
        self.timeout = timeout;
        self
    }

    /// How long a store waits for the writer lock while another live process keeps it without
    /// releasing it (default 5 s) before failing with [`ErrorKind::Busy`]. The error names the
    /// holder's pid and, on Linux, says whether it is stopped (SIGSTOP, Ctrl-Z, a debugger).
    ///
    /// The clock restarts whenever the lock is released, so stores queued behind other writers
    /// wait as long as the lock keeps changing hands; what the timeout catches is one holder that
    /// stopped making progress. A holder that *died* is taken over within 10 ms whatever this
    /// says. A store of a value of several GiB holds the lock as long as the copy takes: raise
    /// the timeout for such values; `Duration::MAX` waits as long as it takes (the behaviour
    /// before this option existed).
    ///
    /// ```
    /// use std::time::Duration;
    /// use mmf::{ErrorKind, ValueOptions};
    /// # let name = format!("mmf-doc-lock-timeout-{}", std::process::id());
    /// let v = ValueOptions::new()
    ///     .lock_timeout(Duration::from_millis(500))
    ///     .create(&name)?;
    /// match v.store(b"hello") {
    ///     Ok(_) => {}
    ///     // Another process kept the writer lock for 500 ms: the message names it.
    ///     Err(e) if e.kind() == ErrorKind::Busy => eprintln!("{}", e),
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok::<(), mmf::Error>(())
    /// ```
    pub fn lock_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.lock_timeout = timeout;
        self
    }

    /// Creates the named value; fails with `AlreadyExists` if the name is taken.
    ///
    /// # Errors
    /// `AlreadyExists`, `InvalidName`, `InvalidInput` (slots outside 2..=64, capacity too large),
    /// `OutOfSpace`, `PermissionDenied`, `Unsupported`.
    pub fn create(&self, name: impl IntoName) -> Result<SharedValue> {
        let name = name.into_name()?;
        let what = name.describe();
        let invalid =
            |detail: String| Error::new(ErrorKind::InvalidInput, "create", what.clone(), detail);
        if !(MIN_SLOTS..=MAX_SLOTS).contains(&self.slots) {
            return Err(invalid(format!(
                "a shared value has {} to {} slots, not {}",
                MIN_SLOTS, MAX_SLOTS, self.slots
            )));
        }
        let cap = align_data(self.capacity);
        let size = cap
            .and_then(|c| c.checked_mul(self.slots as u64))
            .and_then(|d| d.checked_add(header_size(self.slots)))
            .filter(|s| *s <= i64::MAX as u64);
        let (cap, size) = match (cap, size) {
            (Some(c), Some(s)) => (c, s),
            _ => {
                return Err(invalid(format!(
                    "a capacity of {} bytes per slot is too large",
                    self.capacity
                )))
            }
        };
        let mut co = CreateOptions::new();
        co.size(size)
            .lifetime(self.lifetime)
            .permissions(self.permissions)
            .scope(self.scope);
        if let Some(d) = &self.dir {
            co.dir(d.clone());
        }
        // The header is written by the creator's initialiser, which on Linux runs before the
        // object has its name: no opener can ever see the object without its header, and a
        // creator killed midway leaves no half-made value behind (see `CreateOptions::create_with`).
        let (slots, layout) = (self.slots, self.layout);
        let mapping = co.create_with(&name, |v| {
            SharedValue::initialise(v.mapping(), slots, cap, layout).map(drop)
        })?;
        let mut o = self.clone();
        o.access = Access::ReadWrite;
        SharedValue::attach(mapping, &o)
    }

    /// Opens an existing named value, waiting up to [`timeout`](Self::timeout) for a creator
    /// that is still initialising it.
    ///
    /// # Errors
    /// `NotFound`; `NotReady` (never initialised within the timeout); `Corrupt` (not a shared
    /// value, a damaged header, a truncated object); `VersionMismatch`; `LayoutMismatch` (typed
    /// values); `PermissionDenied`.
    pub fn open(&self, name: impl IntoName) -> Result<SharedValue> {
        let name = name.into_name()?;
        if self.access == Access::CopyOnWrite {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "open",
                name.describe(),
                "a shared value cannot be opened copy-on-write; open it read-only or read-write",
            ));
        }
        let mut oo = OpenOptions::new();
        oo.access(self.access)
            .allow_other_owner(self.allow_other_owner)
            .scope(self.scope);
        if let Some(d) = &self.dir {
            oo.dir(d.clone());
        }
        let mapping = oo.open(&name)?;
        SharedValue::attach(mapping, self)
    }

    /// Opens the named value, or creates it if it does not exist, and says which. Exactly one of
    /// any number of racing processes creates it; the others wait for its header.
    ///
    /// # Errors
    /// As for [`create`](Self::create) and [`open`](Self::open).
    pub fn open_or_create(&self, name: impl IntoName) -> Result<(SharedValue, Disposition)> {
        let name = name.into_name()?;
        let mut last = None;
        for _ in 0..8 {
            match self.open(&name) {
                Ok(v) => return Ok((v, Disposition::Opened)),
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            match self.create(&name) {
                Ok(v) => return Ok((v, Disposition::Created)),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            Error::new(
                ErrorKind::Busy,
                "open or create",
                name.describe(),
                "it keeps appearing and disappearing",
            )
        }))
    }
}

/// What `SharedValue` clones share.
struct Inner {
    mapping: Mapping,
    /// The first view; the control block and slot descriptors are used through it for life.
    header: Arc<View>,
    /// The latest view of the whole object (replaced when the object grows).
    data: Mutex<Arc<View>>,
    slots: u32,
    header_size: u64,
    layout: Option<ValueLayout>,
    writable: bool,
    notifier: sys::Notifier,
    /// How long a store waits for a writer lock that is not released (`None`: for ever).
    lock_timeout: Option<Duration>,
}

/// How long a writable handle sleeps in the kernel before it looks at the value again: a value
/// truncated under a sleeper is never woken, and this is how soon the sleeper notices.
#[cfg(not(loom))]
const WAIT_SLICE: Duration = Duration::from_secs(1);

/// The platform services for the protocol, for one operation: the notifier, the process token
/// (looked up once) and the fault epoch when the operation started.
struct MappedHost<'a>(&'a sys::Notifier, std::cell::Cell<u64>, u64);

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

    fn now_ms(&self) -> u64 {
        sys::now_ms()
    }

    /// A page was patched somewhere in the process since the operation started (see
    /// `sys/fault.rs`): perhaps ours, so a wait must stop and let the guard report it.
    fn abandoned(&self) -> bool {
        sys::fault_epoch() != self.2
    }
}

/// A data view for one protocol call: a copy that faulted (`Truncated`, `OutOfSpace`) is kept, so
/// the operation reports it rather than the `Corrupt` the protocol makes of a failed copy.
struct Bytes<'a> {
    view: &'a View,
    fault: std::cell::Cell<Option<Error>>,
}

impl<'a> Bytes<'a> {
    fn new(view: &'a View) -> Bytes<'a> {
        Bytes {
            view,
            fault: std::cell::Cell::new(None),
        }
    }

    fn keep(&self, r: Result<()>) -> bool {
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
    fn take(&self) -> Result<()> {
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
}

/// The ready word of a view of at least 40 bytes.
fn ready_word(view: &View) -> Option<&AtomicU32> {
    if view.len() < OFF_READY + 4 {
        return None;
    }
    // SAFETY: in bounds (checked above); the view starts on a page boundary, so offset 36 is
    // 4-byte aligned; an AtomicU32 has the layout of a u32; the memory stays mapped while `view`
    // is borrowed. Other processes may write it concurrently, which atomics allow; callers only
    // load it (Relaxed, which is sound on read-only mappings) or store through a writable view.
    Some(unsafe { &*(view.as_ptr().add(OFF_READY) as *const AtomicU32) })
}

impl Inner {
    fn control(&self) -> &Control {
        // SAFETY: `header` is at least `header_size` = 192 + 64·slots bytes long (checked in
        // `finish`, the only constructor of `Inner`) and starts on a page boundary, so bytes
        // 64..192 are in bounds and 8-byte aligned. `Control` is `repr(C)` and made only of
        // atomics (128 bytes, asserted in `protocol`), so every bit pattern is valid and
        // concurrent writes by other processes are not data races. The memory stays mapped while
        // `self.header` lives. Read-only handles only load from it (`writable` guards every
        // store).
        unsafe { &*(self.header.as_ptr().add(CONTROL_OFFSET) as *const Control) }
    }

    fn slots(&self) -> &[Slot] {
        // SAFETY: as for `control`: bytes 192 .. 192 + 64·slots lie within the header view,
        // 8-byte aligned, and `Slot` is a `repr(C)` block of atomics.
        unsafe {
            std::slice::from_raw_parts(
                self.header.as_ptr().add(SLOTS_OFFSET) as *const Slot,
                self.slots as usize,
            )
        }
    }

    fn region<'a, D: Data>(&'a self, data: &'a D) -> Region<'a, D> {
        Region {
            control: self.control(),
            slots: self.slots(),
            data,
            data_start: self.header_size,
            writable: self.writable,
        }
    }

    fn host(&self) -> MappedHost<'_> {
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
    fn guarded<R>(&self, op: &'static str, f: impl FnOnce() -> Result<R>) -> Result<R> {
        match self
            .header
            .guarded(op, 0, self.header_size as usize, f)
            .and_then(|r| r)
        {
            Err(e) if e.kind() == ErrorKind::Corrupt => Err(self.shrunk(op).unwrap_or(e)),
            r => r,
        }
    }

    /// `Truncated` if the object is now smaller than this handle's first view of it (objects of
    /// shared values never shrink, so only another process cutting the file does this).
    fn shrunk(&self, op: &'static str) -> Option<Error> {
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

    fn data_view(&self) -> Arc<View> {
        match self.data.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn what(&self) -> String {
        self.mapping.describe().to_owned()
    }

    fn error(&self, kind: ErrorKind, op: &'static str, detail: impl Into<String>) -> Error {
        Error::new(kind, op, self.what(), detail.into())
    }

    /// The error for a store that gave up waiting for the writer lock: who holds it, whether it
    /// is stopped, and what to do.
    fn lock_busy(&self, host: &MappedHost<'_>, owner: u64, waited: Duration) -> Error {
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
    fn remap(&self, op: &'static str, need: u64, grow: bool) -> Result<Arc<View>> {
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

    fn read(&self, dest: &mut Dest<'_>) -> Result<u64> {
        let host = self.host();
        let mut data = self.data_view();
        loop {
            let bytes = Bytes::new(&data);
            let outcome = self.region(&bytes).read(&host, dest);
            bytes.take()?;
            match outcome {
                Read::Value(v) => return Ok(v),
                Read::Empty => {
                    // An empty value reads `current == 0`, as does a header cut short.
                    if let Some(e) = self.shrunk("retrieve") {
                        return Err(e);
                    }
                    if let Dest::Vec(v) = dest {
                        v.clear();
                    }
                    return Ok(0);
                }
                Read::Remap(need) => data = self.remap("retrieve", need, false)?,
                Read::WrongLength(n) => {
                    let want = self.layout.map_or(0, |l| l.size);
                    return Err(self.error(
                        ErrorKind::Corrupt,
                        "retrieve",
                        format!(
                            "it holds a value of {} bytes, but its type has {} bytes",
                            n, want
                        ),
                    ));
                }
                Read::Corrupt(why) => {
                    return Err(self.error(ErrorKind::Corrupt, "retrieve", why));
                }
            }
        }
    }
}

/// Releases the writer lock when a store ends, however it ends (with the host that took it).
struct LockGuard<'a> {
    inner: &'a Inner,
    host: MappedHost<'a>,
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        let data = self.inner.data_view();
        self.inner.region(&Bytes::new(&data)).unlock(&self.host);
    }
}

/// A named shared value: the latest version of a byte string, stored and retrieved whole by any
/// number of processes.
///
/// Cloning is cheap and shares the handle.
///
/// ```
/// use mmf::SharedValue;
/// # let name = format!("mmf-doc-shared-value-{}", std::process::id());
/// let writer = SharedValue::create(&name)?;
/// let reader = SharedValue::open(&name)?;
/// assert_eq!(reader.retrieve_versioned()?, (0, Vec::new())); // nothing stored yet
///
/// let v = writer.store(b"typed by the user")?;
/// assert_eq!(reader.retrieve()?, b"typed by the user");
/// assert_eq!(reader.version(), v);
///
/// // Values larger than the capacity grow the object; open handles follow.
/// writer.store(&vec![7u8; 100_000])?;
/// assert_eq!(reader.retrieve()?.len(), 100_000);
/// # Ok::<(), mmf::Error>(())
/// ```
///
/// # How it works
///
/// The object starts with a self-describing header (magic, format version, layout fingerprint,
/// a ready word the creator publishes last), then a control block and `N` slot descriptors
/// (default 8), then the slots' data. Each store goes into a slot that is not the current one and
/// is not pinned by a reader, and is published by switching the `current` word. Readers copy
/// the current slot with atomic loads and validate its version before and after, so a torn copy
/// is never returned; readers pin the slot they copy so that a writer storing flat out uses the
/// other slots instead of overwriting it, which is why large reads are not starved (`FORMAT.md` has
/// the byte layout and the algorithms).
///
/// - **Growth.** A value larger than its slot grows the object (commit first, then resize) and
///   takes a new data region at the end; readers see a slot that lies past their mapping and map
///   the object again. Nothing moves under a reader, and the object never shrinks. Where objects
///   cannot grow (Windows sections), create the value with enough
///   [`capacity`](ValueOptions::capacity).
/// - **Writers** are serialised by a lock word holding the owner's process id and start time. A
///   writer killed in the middle of a store never published its slot, so the previous value is
///   intact; the next writer notices the dead owner within 10 ms and takes the lock over. A
///   live owner that keeps the lock without releasing it (stopped with Ctrl-Z, hung) makes
///   other stores fail with [`ErrorKind::Busy`] after [`ValueOptions::lock_timeout`] (5 s by
///   default), naming it.
/// - **Truncation.** If another process cuts the object short (or a sparse object's file system
///   cannot provide a page), every operation returns `Truncated` (or `OutOfSpace`) instead of
///   dying of `SIGBUS`, including a `wait_newer` already asleep; see [`View`](crate::View).
/// - **Notification** is a futex word (a kernel event on Windows) incremented by every store;
///   [`SharedValue::wait_newer`] sleeps on it.
///
/// Readers pin the slot they copy, which needs a writable mapping: a handle opened with
/// [`access(Access::ReadOnly)`](ValueOptions::access) cannot pin, so under a writer storing flat out
/// it may have to retry; its reads are still never torn. Processes that share a value must
/// share a pid namespace (the writer lock identifies owners by pid and start time).
#[derive(Clone)]
pub struct SharedValue {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SharedValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedValue")
            .field("object", &self.inner.mapping.describe())
            .field("version", &self.version())
            .field("slots", &self.inner.slots)
            .field("writable", &self.inner.writable)
            .finish()
    }
}

impl SharedValue {
    /// Creates the named value with the default options (4 KiB capacity that grows as needed,
    /// 8 slots, handle lifetime, owner-only).
    ///
    /// # Errors
    /// As for [`ValueOptions::create`].
    pub fn create(name: impl IntoName) -> Result<SharedValue> {
        ValueOptions::new().create(name)
    }

    /// Opens the named value for storing and retrieving.
    ///
    /// # Errors
    /// As for [`ValueOptions::open`]: `NotFound`, `NotReady`, `Corrupt`, `VersionMismatch`.
    pub fn open(name: impl IntoName) -> Result<SharedValue> {
        ValueOptions::new().open(name)
    }

    /// Opens the named value or creates it with the default options, and says which.
    ///
    /// # Errors
    /// As for [`ValueOptions::open_or_create`].
    pub fn open_or_create(name: impl IntoName) -> Result<(SharedValue, Disposition)> {
        ValueOptions::new().open_or_create(name)
    }

    fn initialise(
        mapping: Mapping,
        slots: u32,
        cap: u64,
        layout: Option<ValueLayout>,
    ) -> Result<SharedValue> {
        if cfg!(loom) {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "create",
                mapping.describe().to_owned(),
                "not under loom",
            ));
        }
        let view = mapping.map_mut()?;
        let hs = header_size(slots);
        view.write_at(
            0,
            &format::encode_fixed(slots, layout, sys::process_token()),
        )?;
        let data_end = hs + cap * slots as u64;
        let mut desc = Vec::with_capacity(64 * slots as usize);
        for i in 0..slots as u64 {
            let mut d = [0u8; 64];
            d[8..16].copy_from_slice(&(hs + i * cap).to_le_bytes());
            d[16..24].copy_from_slice(&cap.to_le_bytes());
            desc.extend_from_slice(&d);
        }
        view.write_at(SLOTS_OFFSET, &desc)?;
        view.write_at(format::OFF_DATA_END, &data_end.to_le_bytes())?;
        let notifier = sys::Notifier::new(mapping.name(), mapping.object.sys.global())?;
        if let Some(ready) = ready_word(&view) {
            view.guarded("create", OFF_READY, 4, || {
                // The sync point: everything above is visible to whoever sees READY (Acquire).
                ready.store(READY, Ordering::Release);
            })?;
            #[cfg(not(loom))]
            notifier.wake_all(ready);
        }
        SharedValue::finish(mapping, view, slots, hs, layout, true, notifier, None)
    }

    fn attach(mapping: Mapping, o: &ValueOptions) -> Result<SharedValue> {
        let what = mapping.describe().to_owned();
        if cfg!(loom) {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "open",
                what,
                "not under loom",
            ));
        }
        let writable = o.access == Access::ReadWrite;
        let view = if writable {
            mapping.map_mut()?
        } else {
            mapping.map()?
        };
        let notifier = sys::Notifier::new(mapping.name(), mapping.object.sys.global())?;
        // Wait for the creator's ready word: on Linux mmf's creators publish the name after the
        // header, but another implementation of FORMAT.md (or Windows, where a section is named
        // at creation) may not.
        let deadline = Instant::now().checked_add(o.timeout);
        if let Some(ready) = ready_word(&view) {
            loop {
                let r = view.guarded("open", OFF_READY, 4, || ready.load(Ordering::Relaxed))?;
                fence(Ordering::Acquire);
                let mut magic = [0u8; 8];
                view.read_at(0, &mut magic)?;
                let foreign = magic != MAGIC && magic != [0; 8];
                if r != 0 || foreign {
                    break;
                }
                let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                if left == Some(Duration::ZERO) {
                    break;
                }
                let slice = left.map_or(READ_ONLY_WAIT_SLICE * 5, |l| {
                    l.min(READ_ONLY_WAIT_SLICE * 5)
                });
                #[cfg(not(loom))]
                if notifier.wait(ready, 0, Some(slice)).is_err() {
                    std::thread::sleep(slice.min(READ_ONLY_WAIT_SLICE));
                }
                #[cfg(loom)]
                let _ = slice;
            }
        }
        let max = header_size(MAX_SLOTS) as usize;
        let snapshot = view.read_vec(0, view.len().min(max))?;
        // The length after the copy: the object only grows, and it grows before its data end
        // moves, so a consistent header never claims more than this.
        let len = mapping.len();
        let h = format::parse(&snapshot, len)
            .map_err(|(kind, detail)| Error::new(kind, "open", what.clone(), detail))?;
        match (o.layout, h.layout) {
            (Some(want), Some(have)) if want != have => {
                return Err(Error::new(
                    ErrorKind::LayoutMismatch,
                    "open",
                    what,
                    format!(
                        "it was created for a type of {} bytes, alignment {}, layout id {:#x}; \
                         it was opened as a type of {} bytes, alignment {}, layout id {:#x}",
                        have.size, have.align, have.id, want.size, want.align, want.id
                    ),
                ))
            }
            (Some(want), None) => {
                return Err(Error::new(
                    ErrorKind::LayoutMismatch,
                    "open",
                    what,
                    format!(
                        "it holds untyped bytes; it was opened as a type of {} bytes, \
                         alignment {}, layout id {:#x}",
                        want.size, want.align, want.id
                    ),
                ))
            }
            _ => {}
        }
        if h.format_version != FORMAT_VERSION || (view.len() as u64) < h.header_size {
            return Err(Error::new(
                ErrorKind::Corrupt,
                "open",
                what,
                "the header does not fit in the object",
            ));
        }
        SharedValue::finish(
            mapping,
            view,
            h.slots,
            h.header_size,
            h.layout,
            writable,
            notifier,
            Some(o.lock_timeout),
        )
    }

    // A private constructor with one caller per path; a struct of arguments would only rename them.
    #[allow(clippy::too_many_arguments)]
    fn finish(
        mapping: Mapping,
        view: View,
        slots: u32,
        header_size: u64,
        layout: Option<ValueLayout>,
        writable: bool,
        notifier: sys::Notifier,
        lock_timeout: Option<Duration>,
    ) -> Result<SharedValue> {
        // The invariant `Inner::control` and `Inner::slots` rely on, checked here, in the one
        // constructor of `Inner`: the header lies inside this view. (The parser checked the header
        // against the object's length, which another process may have grown past this view's.)
        if header_size != self::format::header_size(slots)
            || (view.len() as u64) < header_size
            || header_size % DATA_ALIGN != 0
        {
            return Err(Error::new(
                ErrorKind::Corrupt,
                "open",
                mapping.describe().to_owned(),
                format!(
                    "its header ({} bytes for {} slots) does not fit the {} bytes mapped",
                    header_size,
                    slots,
                    view.len()
                ),
            ));
        }
        let view = Arc::new(view);
        Ok(SharedValue {
            inner: Arc::new(Inner {
                mapping,
                header: view.clone(),
                data: Mutex::new(view),
                slots,
                header_size,
                layout,
                writable,
                notifier,
                lock_timeout,
            }),
        })
    }

    /// Stores `bytes` as the new value and returns its version. Every reader sees either the
    /// previous value or this one, whole. Concurrent stores from any process are serialised; a
    /// value larger than the slot capacity grows the object.
    ///
    /// # Errors
    /// `PermissionDenied` (read-only handle); `InvalidInput` (a typed value and a length other
    /// than its type's); `OutOfSpace` (the object cannot grow, or 2^56 versions were used);
    /// `Unsupported` (growth on a platform where objects cannot grow); `Busy` (another live
    /// process kept the writer lock for [`ValueOptions::lock_timeout`] without releasing it:
    /// the message names its pid and says whether it is stopped; nothing was stored);
    /// `Corrupt`; `Truncated` (another process cut the object short; nothing was published);
    /// `OutOfSpace` also when a page of a sparse object could not be provided.
    pub fn store(&self, bytes: &[u8]) -> Result<u64> {
        let inner = &*self.inner;
        if !inner.writable {
            return Err(inner.error(
                ErrorKind::PermissionDenied,
                "store into",
                "this handle was opened read-only",
            ));
        }
        if let Some(l) = inner.layout {
            if bytes.len() as u64 != l.size {
                return Err(inner.error(
                    ErrorKind::InvalidInput,
                    "store into",
                    format!(
                        "it holds a typed value of {} bytes; {} bytes were given",
                        l.size,
                        bytes.len()
                    ),
                ));
            }
        }
        inner.guarded("store into", || {
            let mut data = inner.data_view();
            let host = inner.host();
            match inner
                .region(&Bytes::new(&data))
                .lock(&host, inner.lock_timeout)
            {
                Lock::Taken | Lock::TakenOver => {}
                Lock::Busy { owner, waited } => return Err(inner.lock_busy(&host, owner, waited)),
            }
            let guard = LockGuard { inner, host };
            loop {
                let target = Bytes::new(&data);
                let outcome = inner.region(&target).store(&guard.host, bytes);
                target.take()?;
                match outcome {
                    Store::Done(v) => return Ok(v),
                    Store::Grow(need) => data = inner.remap("store into", need, true)?,
                    Store::Remap(need) => data = inner.remap("store into", need, false)?,
                    Store::Corrupt(why) => {
                        return Err(inner.error(ErrorKind::Corrupt, "store into", why))
                    }
                    Store::Exhausted => {
                        return Err(inner.error(
                            ErrorKind::OutOfSpace,
                            "store into",
                            "all 2^56 versions have been used; create a new value",
                        ))
                    }
                }
            }
        })
    }

    /// Copies the latest value out; an empty vector if nothing was stored yet.
    ///
    /// # Errors
    /// `Corrupt` (the object was damaged); `Truncated` (another process cut the object short
    /// under this handle: reported instead of the `SIGBUS` the kernel raises); `OutOfSpace` (a
    /// page of a sparse object could not be provided: its file system is full).
    pub fn retrieve(&self) -> Result<Vec<u8>> {
        let mut v = Vec::new();
        self.retrieve_into(&mut v)?;
        Ok(v)
    }

    /// Copies the latest value out with its version (0 and an empty vector if nothing was stored
    /// yet).
    ///
    /// # Errors
    /// As for [`retrieve`](Self::retrieve).
    pub fn retrieve_versioned(&self) -> Result<(u64, Vec<u8>)> {
        let mut v = Vec::new();
        let version = self.retrieve_into(&mut v)?;
        Ok((version, v))
    }

    /// Copies the latest value into `buf` (replacing its contents, reusing its allocation) and
    /// returns its version (0: nothing stored yet, `buf` is emptied).
    ///
    /// # Errors
    /// As for [`retrieve`](Self::retrieve).
    pub fn retrieve_into(&self, buf: &mut Vec<u8>) -> Result<u64> {
        let inner = &*self.inner;
        inner.guarded("retrieve", || inner.read(&mut Dest::Vec(buf)))
    }

    /// The latest version stored (0: none). One atomic load (guarded: 0 if the object was
    /// truncated under this handle; the next [`retrieve`](Self::retrieve) reports `Truncated`).
    pub fn version(&self) -> u64 {
        let inner = &*self.inner;
        inner
            .header
            .guarded("read the version of", CONTROL_OFFSET, 8, || {
                inner.control().current.load(Ordering::Relaxed) >> 8
            })
            .unwrap_or(0)
    }

    /// Blocks until a version newer than `seen` is stored (in any process) and returns it;
    /// returns at once if there is one already. Sleeps in the kernel (a futex on Linux), never
    /// spins. `None` waits without limit.
    ///
    /// # Errors
    /// `Timeout` when `timeout` passes first; `Truncated` when another process cuts the object
    /// short meanwhile (noticed within a second).
    pub fn wait_newer(&self, seen: u64, timeout: Option<Duration>) -> Result<u64> {
        let inner = &*self.inner;
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let data = inner.data_view();
        let got = loop {
            let got = inner.guarded("wait for a new version of", || {
                Ok(inner.region(&Bytes::new(&data)).wait_newer(
                    &inner.host(),
                    seen,
                    deadline,
                    READ_ONLY_WAIT_SLICE,
                ))
            })?;
            // `None` before the deadline: a page was patched elsewhere in the process (not in
            // this value, or the guard would have said so); wait again.
            let early = deadline.map_or(true, |d| Instant::now() < d);
            if got.is_some() || !early {
                break got;
            }
        };
        match got {
            Some(v) => Ok(v),
            None => Err(inner.error(
                ErrorKind::Timeout,
                "wait for a new version of",
                format!(
                    "no version newer than {} was stored within {:?}",
                    seen,
                    timeout.unwrap_or_default()
                ),
            )),
        }
    }

    /// The mapping object underneath.
    pub fn mapping(&self) -> &Mapping {
        &self.inner.mapping
    }

    /// The value's name.
    pub fn name(&self) -> Option<&Name> {
        self.inner.mapping.name()
    }

    /// A snapshot of the header, as [`ValueHeader::parse`] reads it.
    ///
    /// # Errors
    /// `Corrupt` if the header was damaged since the value was opened; `Truncated` if the object
    /// shrank under this handle, `OutOfSpace` if its file system could not provide a page.
    pub fn header(&self) -> Result<ValueHeader> {
        let inner = &*self.inner;
        let snapshot = inner.header.read_vec(0, inner.header_size as usize)?;
        format::parse(&snapshot, inner.mapping.len())
            .map_err(|(kind, detail)| inner.error(kind, "inspect", detail))
    }

    fn read_exact(&self, out: &mut [u8]) -> Result<u64> {
        let inner = &*self.inner;
        inner.guarded("retrieve", || inner.read(&mut Dest::Exact(out)))
    }
}

/// A named shared value of a plain-old-data type `T`: [`SharedValue`] with the type's layout
/// recorded at creation and checked on open.
///
/// ```
/// # let name = format!("mmf-doc-shared-{}", std::process::id());
/// let counter = mmf::Shared::<[u64; 4]>::create(&name)?;
/// counter.store(&[1, 2, 3, 4])?;
///
/// // Another process (here, another handle) opens it with the same type...
/// let same = mmf::Shared::<[u64; 4]>::open(&name)?;
/// assert_eq!(same.load()?, [1, 2, 3, 4]);
///
/// // ...and a different type is refused.
/// let err = mmf::Shared::<[u32; 8]>::open(&name).unwrap_err();
/// assert_eq!(err.kind(), mmf::ErrorKind::LayoutMismatch);
/// # Ok::<(), mmf::Error>(())
/// ```
pub struct Shared<T: Pod> {
    value: SharedValue,
    _type: PhantomData<fn() -> T>,
}

impl<T: Pod> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared {
            value: self.value.clone(),
            _type: PhantomData,
        }
    }
}

impl<T: Pod> std::fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("type", &std::any::type_name::<T>())
            .field("value", &self.value)
            .finish()
    }
}

impl<T: Pod> Shared<T> {
    fn typed(options: &ValueOptions) -> ValueOptions {
        let mut o = options.clone();
        o.layout = Some(layout_of::<T>());
        o.capacity = std::mem::size_of::<T>() as u64;
        o
    }

    fn wrap(value: SharedValue) -> Shared<T> {
        Shared {
            value,
            _type: PhantomData,
        }
    }

    /// Creates the named value for `T` with the default options. Until the first store,
    /// [`load`](Self::load) returns all-zero bytes as a `T`.
    ///
    /// # Errors
    /// As for [`ValueOptions::create`].
    pub fn create(name: impl IntoName) -> Result<Shared<T>> {
        Shared::create_with(&ValueOptions::new(), name)
    }

    /// Opens the named value, checking that it was created for a type with `T`'s layout.
    ///
    /// # Errors
    /// `LayoutMismatch`, and as for [`ValueOptions::open`].
    pub fn open(name: impl IntoName) -> Result<Shared<T>> {
        Shared::open_with(&ValueOptions::new(), name)
    }

    /// Opens or creates the named value for `T`, and says which.
    ///
    /// # Errors
    /// As for [`open`](Self::open) and [`create`](Self::create).
    pub fn open_or_create(name: impl IntoName) -> Result<(Shared<T>, Disposition)> {
        Shared::open_or_create_with(&ValueOptions::new(), name)
    }

    /// [`create`](Self::create) with options (the capacity is always `size_of::<T>()`).
    ///
    /// # Errors
    /// As for [`ValueOptions::create`].
    pub fn create_with(options: &ValueOptions, name: impl IntoName) -> Result<Shared<T>> {
        Self::typed(options).create(name).map(Shared::wrap)
    }

    /// [`open`](Self::open) with options.
    ///
    /// # Errors
    /// As for [`open`](Self::open).
    pub fn open_with(options: &ValueOptions, name: impl IntoName) -> Result<Shared<T>> {
        Self::typed(options).open(name).map(Shared::wrap)
    }

    /// [`open_or_create`](Self::open_or_create) with options.
    ///
    /// # Errors
    /// As for [`open_or_create`](Self::open_or_create).
    pub fn open_or_create_with(
        options: &ValueOptions,
        name: impl IntoName,
    ) -> Result<(Shared<T>, Disposition)> {
        Self::typed(options)
            .open_or_create(name)
            .map(|(v, d)| (Shared::wrap(v), d))
    }

    /// Stores `value` as the new version and returns the version.
    ///
    /// # Errors
    /// As for [`SharedValue::store`].
    pub fn store(&self, value: &T) -> Result<u64> {
        // SAFETY: `T: Pod` has no padding, so all `size_of::<T>()` bytes of `*value` are
        // initialised; the slice borrows `value` and lives only for this call.
        let bytes = unsafe {
            std::slice::from_raw_parts(value as *const T as *const u8, std::mem::size_of::<T>())
        };
        self.value.store(bytes)
    }

    /// The latest value (all-zero bytes as a `T` if nothing was stored yet).
    ///
    /// # Errors
    /// As for [`SharedValue::retrieve`].
    pub fn load(&self) -> Result<T> {
        self.load_versioned().map(|(_, v)| v)
    }

    /// The latest value and its version (0: nothing stored yet, and the value is all-zero).
    ///
    /// # Errors
    /// As for [`SharedValue::retrieve`].
    pub fn load_versioned(&self) -> Result<(u64, T)> {
        let mut out = MaybeUninit::<T>::zeroed();
        // SAFETY: `out` is `size_of::<T>()` bytes, all initialised (zeroed), and exclusively
        // borrowed here; u8 has alignment 1.
        let bytes = unsafe {
            std::slice::from_raw_parts_mut(out.as_mut_ptr() as *mut u8, std::mem::size_of::<T>())
        };
        let version = self.value.read_exact(bytes)?;
        // SAFETY: every byte is initialised (zeroed, then possibly overwritten), and `T: Pod`
        // makes every bit pattern a valid `T`.
        Ok((version, unsafe { out.assume_init() }))
    }

    /// The latest version stored (0: none).
    pub fn version(&self) -> u64 {
        self.value.version()
    }

    /// Blocks until a version newer than `seen` is stored; see [`SharedValue::wait_newer`].
    ///
    /// # Errors
    /// `Timeout`.
    pub fn wait_newer(&self, seen: u64, timeout: Option<Duration>) -> Result<u64> {
        self.value.wait_newer(seen, timeout)
    }

    /// The untyped value underneath.
    pub fn as_value(&self) -> &SharedValue {
        &self.value
    }
}

#[allow(dead_code)]
fn assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<SharedValue>();
    is::<Shared<u64>>();
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn name(tag: &str) -> String {
        use std::sync::atomic::AtomicUsize;
        static N: AtomicUsize = AtomicUsize::new(0);
        format!(
            "mmf-unit-value-{}-{}-{}",
            tag,
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        )
    }

    #[test]
    fn store_retrieve_and_versions() {
        let v = SharedValue::create(name("basic")).unwrap();
        assert_eq!(v.retrieve_versioned().unwrap(), (0, vec![]));
        let a = v.store(b"one").unwrap();
        let b = v.store(b"two").unwrap();
        assert!(b > a && a > 0);
        assert_eq!(v.retrieve_versioned().unwrap(), (b, b"two".to_vec()));
        assert_eq!(v.version(), b);
        let mut buf = vec![9u8; 100];
        assert_eq!(v.retrieve_into(&mut buf).unwrap(), b);
        assert_eq!(buf, b"two");
        v.store(b"").unwrap();
        assert_eq!(v.retrieve().unwrap(), b"");
    }

    #[test]
    fn growth_is_seen_by_other_handles() {
        let n = name("grow");
        let w = ValueOptions::new()
            .capacity(64)
            .slots(2)
            .create(&n)
            .unwrap();
        let r = SharedValue::open(&n).unwrap();
        if cfg!(windows) {
            // Sections cannot grow: a clear error that says what to do.
            let e = w.store(&[1u8; 100]).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Unsupported, "{}", e);
            assert!(e.to_string().contains("capacity"), "{}", e);
            return;
        }
        let before = w.mapping().len();
        for len in [10usize, 100, 5000, 70_000, 3, 200_000] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 + len) as u8).collect();
            let ver = w.store(&data).unwrap();
            assert_eq!(r.retrieve_versioned().unwrap(), (ver, data));
        }
        assert!(w.mapping().len() > before);
        let h = r.header().unwrap();
        assert_eq!(h.slots, 2);
        assert_eq!(h.version, w.version());
    }

    #[test]
    fn invalid_options() {
        let e = ValueOptions::new()
            .slots(1)
            .create(name("opt"))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let e = ValueOptions::new()
            .capacity(u64::MAX)
            .create(name("opt"))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn pod_layout_ids_differ() {
        assert_ne!(layout_of::<u64>(), layout_of::<i64>());
        assert_ne!(layout_of::<u64>(), layout_of::<f64>());
        assert_ne!(layout_of::<[u32; 2]>(), layout_of::<[i32; 2]>());
        assert_ne!(layout_of::<[u8; 4]>(), layout_of::<[[u8; 2]; 2]>());
        assert_eq!(layout_of::<[u8; 4]>(), layout_of::<[u8; 4]>());
    }
}
