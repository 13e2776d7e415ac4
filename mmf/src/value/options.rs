//! The options that create and open shared values.

use super::*;

/// Options for creating and opening shared values.
///
/// ```
/// use mmf::{Lifetime, ValueOptions};
///
/// fn main() -> Result<(), mmf::Error> {
///     let name = format!("mmf-doc-value-options-{}", std::process::id());
///     let v = ValueOptions::new()
///         .slots(4)                     // fewer slots: less memory for large values
///         .lifetime(Lifetime::Handle)   // gone when the last handle closes (the default)
///         .create(&name)?;
///     v.store(b"hello")?;
///     Ok(())
/// }
/// ```
#[derive(Debug, Clone)]
pub struct ValueOptions {
    /// Where, how long and for whom the object lives: the options of the object underneath.
    pub(super) create: CreateOptions,
    pub(super) open: OpenOptions,
    pub(super) capacity: u64,
    pub(super) slots: u32,
    pub(super) timeout: Duration,
    pub(super) lock_timeout: Duration,
    pub(super) layout: Option<ValueLayout>,
}

impl Default for ValueOptions {
    fn default() -> ValueOptions {
        ValueOptions::new()
    }
}

impl ValueOptions {
    /// Defaults: 4 KiB capacity (used only where objects cannot grow), 8 slots, handle lifetime, owner-only, writable, 1 s to wait for
    /// a creator that has not finished initialising, 5 s for a writer lock that is not released.
    #[must_use]
    pub fn new() -> ValueOptions {
        ValueOptions {
            create: CreateOptions::new(),
            open: OpenOptions::new(),
            capacity: DEFAULT_CAPACITY,
            slots: DEFAULT_SLOTS,
            timeout: Duration::from_secs(1),
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            layout: None,
        }
    }

    /// Creation, where objects cannot give memory back (Windows sections): the size of the data
    /// region each slot gets at creation (rounded up to 64 bytes); the object is created with
    /// `slots × capacity` bytes of data, and a larger value grows it (a handle-lifetime value up
    /// to 1 GiB, or up to its initial size if that is larger; a persistent one, a file, as far
    /// as the disk allows). Elsewhere objects start with their header alone
    /// and grow as values need: values up to 128 bytes are stored inline, each slot gets a data
    /// region sized to the first larger value it takes, and regions are freed when the value is
    /// small again; the capacity is then only checked, not used.
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
        self.create.lifetime(lifetime);
        self
    }

    /// Creation: who may open the object (default owner-only).
    pub fn permissions(&mut self, permissions: Permissions) -> &mut Self {
        self.create.permissions(permissions);
        self
    }

    /// The directory that holds named objects (Linux; default `$MMF_DIR`, else `/dev/shm`).
    pub fn dir(&mut self, dir: impl Into<PathBuf>) -> &mut Self {
        let dir = dir.into();
        self.create.dir(dir.clone());
        self.open.dir(dir);
        self
    }

    /// Opening: the handle's access (default [`Access::ReadWrite`], which stores, retrieves and
    /// waits). An [`Access::ReadOnly`] handle needs only read permission on the object; it
    /// retrieves and waits, but cannot pin slots (so a flat-out writer may make it retry). While
    /// it waits it counts itself among the waiters through a second, writable descriptor, so a
    /// writer wakes it; where the object's permissions do not allow that (on Linux), it re-checks
    /// every 10 ms instead. Opening with
    /// [`Access::CopyOnWrite`] fails with `InvalidInput`: a value has no private copy to write.
    /// Creating always gives a read-write handle.
    pub fn access(&mut self, access: Access) -> &mut Self {
        self.open.access(access);
        self
    }

    /// Opening: accept an object that belongs to another user (default: refuse).
    pub fn allow_other_owner(&mut self, allow: bool) -> &mut Self {
        self.open.allow_other_owner(allow);
        self
    }

    /// Windows: the namespace the value (and its notification objects) live in (default
    /// [`Scope::Local`]). Ignored on Linux.
    pub fn scope(&mut self, scope: Scope) -> &mut Self {
        self.create.scope(scope);
        self.open.scope(scope);
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
    ///
    /// fn main() -> Result<(), mmf::Error> {
    ///     let name = format!("mmf-doc-lock-timeout-{}", std::process::id());
    ///     let v = ValueOptions::new()
    ///         .lock_timeout(Duration::from_millis(500))
    ///         .create(&name)?;
    ///     match v.store(b"hello") {
    ///         Ok(_) => {}
    ///         // Another process kept the writer lock for 500 ms: the message names it.
    ///         Err(e) if e.kind() == ErrorKind::Busy => eprintln!("{}", e),
    ///         Err(e) => return Err(e),
    ///     }
    ///     Ok(())
    /// }
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
        // Where objects grow, the slots' regions come later (see `SharedValue::initialise`).
        let reserved = if sys::OBJECTS_GIVE_BACK { Some(0) } else { cap };
        let size = reserved
            .and_then(|c| c.checked_mul(self.slots as u64))
            .and_then(|d| d.checked_add(header_size(self.slots)))
            .filter(|s| *s <= i64::MAX as u64);
        let too_large = cap
            .and_then(|c| c.checked_mul(self.slots as u64))
            .and_then(|d| d.checked_add(header_size(self.slots)))
            .map_or(true, |s| s > i64::MAX as u64);
        let (cap, size) = match (cap, size) {
            (Some(c), Some(s)) if !too_large => (c, s),
            _ => {
                return Err(invalid(format!(
                    "a capacity of {} bytes per slot is too large",
                    self.capacity
                )))
            }
        };
        let mut co = self.create.clone();
        co.size(size).growable(true);
        // The header is written by the creator's initialiser, which on Linux runs before the
        // object has its name: no opener can ever see the object without its header, and a
        // creator killed midway leaves no half-made value behind (see `CreateOptions::create_with`).
        let (slots, layout) = (self.slots, self.layout);
        let mapping = co.create_with(&name, |v| {
            SharedValue::initialise(v.mapping(), slots, cap, layout).map(drop)
        })?;
        let mut o = self.clone();
        o.open.access(Access::ReadWrite);
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
        if self.open.access_mode() == Access::CopyOnWrite {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "open",
                name.describe(),
                "a shared value cannot be opened copy-on-write; open it read-only or read-write",
            ));
        }
        let mapping = self.open.open(&name)?;
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
