//! The public handle of a shared value: create, open, store, retrieve, wait.

use super::*;
use crate::sys::contract::*;

/// A named shared value: the latest version of a byte string, stored and retrieved whole by any
/// number of processes.
///
/// Cloning is cheap and shares the handle.
///
/// ```
/// use mmf::SharedValue;
///
/// fn main() -> Result<(), mmf::Error> {
///     let name = format!("mmf-doc-shared-value-{}", std::process::id());
///     let writer = SharedValue::create(&name)?;
///     let reader = SharedValue::open(&name)?;
///     assert_eq!(reader.retrieve_versioned()?, (0, Vec::new())); // nothing stored yet
///
///     let v = writer.store(b"typed by the user")?;
///     assert_eq!(reader.retrieve()?, b"typed by the user");
///     assert_eq!(reader.version(), v);
///
///     // Values larger than 128 bytes live in slots, which grow the object; open handles follow.
///     writer.store(&vec![7u8; 100_000])?;
///     assert_eq!(reader.retrieve()?.len(), 100_000);
///     Ok(())
/// }
/// ```
///
/// # How it works
///
/// The object starts with a self-describing header (magic, format version, layout fingerprint,
/// a ready word the creator publishes last), then a control block, two inline buffers and `N`
/// slot descriptors (default 8), then the slots' data. Each store goes into an inline buffer or
/// a slot that is not the current one, and is published by switching the `current` word.
/// (`FORMAT.md` has the byte layout and the algorithms.)
///
/// - **Small values** (up to 128 bytes) are stored inline, in the buffer next to the cache
///   line readers poll: a hand-over moves that line and the buffer's, not a slot descriptor
///   and a data region too. A reader copies the buffer and checks that `current` did not move,
///   so a torn copy is never returned. A writer alternates between the two buffers, so one
///   killed mid-store never touches the current value.
/// - **Larger values** go into a slot that no reader has pinned. Readers copy the current slot
///   with atomic loads and validate its version before and after, so a torn copy is never
///   returned; they pin the slot they copy so that a writer storing flat out uses the other
///   slots instead of overwriting it, which is why large reads are not starved.
///
/// - **Space.** Slots get their data regions when they first take a value too large to be
///   inline; where objects can grow, a new object holds only its header. A value larger than
///   its slot's region gets a new one: in the first free gap
///   between the slots' regions, else at the end, growing the object (commit first, then
///   resize); readers see a slot that lies past their mapping and map the object again. After
///   such a store, large regions (over 64 KiB) that no slot needs any more are freed and their
///   memory given back to the system (`fallocate(PUNCH_HOLE)`), keeping one spare that fits the
///   value, so storing values of varying size reaches a steady state (about three times the
///   largest value at most). A region a reader has pinned is never freed under it. The object
///   never shrinks. When the value is small again (stored inline), every region no reader has
///   pinned is freed and its memory given back, so the object keeps only its header resident.
///   Where objects cannot give memory back (Windows sections), every slot gets a region of
///   [`capacity`](ValueOptions::capacity) bytes at creation and keeps the largest it has had;
///   the object grows there within the range its section reserved at creation (1 GiB, or the
///   initial size if larger).
/// - **Writers** are serialised by a lock word holding the owner's process id and start time. A
///   writer killed in the middle of a store never published its slot, so the previous value is
///   intact; the next writer notices the dead owner within 10 ms and takes the lock over. A
///   live owner that keeps the lock without releasing it (stopped with Ctrl-Z, hung) makes
///   other stores fail with [`ErrorKind::Busy`] after [`ValueOptions::lock_timeout`] (5 s by
///   default), naming it.
/// - **Truncation.** If another process cuts the object short (or a sparse object's file system
///   cannot provide a page), every operation returns `Truncated` (or `OutOfSpace`) instead of
///   dying of `SIGBUS`, including a `wait_newer` already asleep; see [`View`](crate::View).
/// - **Streaming.** [`store_from`](Self::store_from), [`store_streamed`](Self::store_streamed),
///   [`retrieve_to`](Self::retrieve_to), [`retrieve_with`](Self::retrieve_with) and
///   [`reader`](Self::reader) move values of any size a piece at a time, never holding them whole
///   in memory, with the same guarantees: a failed or killed streamed store publishes nothing,
///   and every piece read is validated as the version's.
/// - **Notification** is a futex word (a kernel event on Windows) incremented by every store,
///   which wakes its waiters (read-only handles included, which count themselves through a
///   second, writable descriptor where they may); [`SharedValue::wait_newer`] sleeps on
///   it, and [`SharedValue::wait_newer_async`] / [`SharedValue::versions`] await it from async
///   code (a waiter thread of the process sleeps on it for them).
///
/// Readers pin the slot they copy, which needs a writable mapping: a handle opened with
/// [`access(Access::ReadOnly)`](ValueOptions::access) cannot pin, so under a writer storing flat out
/// it may have to retry; its reads are still never torn. Processes that share a value must
/// share a pid namespace (the writer lock identifies owners by pid and start time).
#[must_use = "dropping the last handle of a handle-lifetime value removes it"]
#[derive(Clone)]
pub struct SharedValue {
    pub(super) inner: Arc<Inner>,
}

crate::mapping::impl_os_handle!(for SharedValue, |v| v.mapping());

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
    /// Creates the named value with the default options (8 slots whose regions are allocated
    /// as values need them, handle lifetime, owner-only).
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

    pub(super) fn initialise(
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
        // Where objects grow, slots get their regions when a value too large to be inline needs
        // one (the object then holds only its header until then); where they cannot, each slot
        // gets its region now.
        let cap = if sys::OBJECTS_GIVE_BACK { 0 } else { cap };
        let data_end = hs + cap * slots as u64;
        let mut desc = Vec::with_capacity(64 * slots as usize);
        for i in 0..slots as u64 {
            let mut d = [0u8; 64];
            if cap > 0 {
                d[8..16].copy_from_slice(&(hs + i * cap).to_le_bytes());
                d[16..24].copy_from_slice(&cap.to_le_bytes());
            }
            desc.extend_from_slice(&d);
        }
        view.write_at(SLOTS_OFFSET, &desc)?;
        view.write_at(format::OFF_DATA_END, &data_end.to_le_bytes())?;
        view.write_at(format::OFF_REGIONS, &(cap * slots as u64).to_le_bytes())?;
        let notifier = sys::Notifier::new(mapping.name(), mapping.object.sys.global())
            .map_err(|e| e.context("wait on", "a shared value's notification objects"))?;
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

    pub(super) fn attach(mapping: Mapping, o: &ValueOptions) -> Result<SharedValue> {
        let what = mapping.describe().to_owned();
        if cfg!(loom) {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "open",
                what,
                "not under loom",
            ));
        }
        let writable = o.open.access_mode() == Access::ReadWrite;
        let view = if writable {
            mapping.map_mut()?
        } else {
            mapping.map()?
        };
        let notifier = sys::Notifier::new(mapping.name(), mapping.object.sys.global())
            .map_err(|e| e.context("wait on", "a shared value's notification objects"))?;
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
    pub(super) fn finish(
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
                counter: Mutex::new(None),
            }),
        })
    }

    /// Stores `bytes` as the new value and returns its version. Every reader sees either the
    /// previous value or this one, whole. Concurrent stores from any process are serialised. A
    /// value of up to 128 bytes is stored inline, in the header; a larger one in a slot, whose
    /// region may grow the object.
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
        inner.check_store(Some(bytes.len() as u64))?;
        inner.guarded("store into", || {
            let mut data = inner.data_view();
            let guard = inner.lock_writer(&data)?;
            loop {
                let target = Bytes::new(&data);
                let outcome = inner.region(&target).store(&guard.host, bytes);
                target.take()?;
                if let Some(v) = inner.settle("store into", outcome, &mut data)? {
                    return Ok(v);
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
        let counter = inner.counter_view();
        let got = loop {
            let got = inner.guarded_counting(
                counter.as_deref(),
                "wait for a new version of",
                |word| {
                    Ok(inner.region(&Bytes::new(&data)).wait_newer(
                        &inner.host(),
                        seen,
                        deadline,
                        word,
                        READ_ONLY_WAIT_SLICE,
                    ))
                },
            )?;
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

    pub(super) fn read_exact(&self, out: &mut [u8]) -> Result<u64> {
        let inner = &*self.inner;
        inner.guarded("retrieve", || inner.read(&mut Dest::Exact(out)))
    }
}
