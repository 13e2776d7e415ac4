//! Surviving `SIGBUS` (Linux): copies through a mapping that fail instead of killing the process.
//!
//! A mapped page whose backing is gone raises `SIGBUS` on access: the object was truncated under
//! the view by another process (`ftruncate`), or a sparse object's file system (a full tmpfs)
//! cannot provide the page. The default action kills the process. mmf instead brackets every
//! copy it makes through a mapping with a *guard* ([`guarded`]), the technique of libwayland's
//! `wl_shm`:
//!
//! 1. A process-wide `SIGBUS` handler is installed once (`sigaction` with `SA_SIGINFO |
//!    SA_ONSTACK | SA_NODEFER`), remembering the handler that was there before.
//! 2. A guard claims a slot of a fixed static registry ([`SLOTS`] entries) with a
//!    compare-and-swap, recording the owning thread's id (`gettid`), the guarded page range and
//!    the protection to patch with.
//! 3. On `SIGBUS`, the handler looks for a slot owned by the faulting thread whose range holds
//!    `si_addr` (the innermost one if guards nest), records the page in that slot, maps a private
//!    anonymous zero page over it (`mmap(MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS)`), bumps the
//!    global patch epoch and returns. The faulting instruction runs again, now on the zero page,
//!    and the copy finishes over zeros.
//! 4. When the guarded closure returns, still in normal context, the guard maps the object back
//!    over every patched page (`mmap(MAP_FIXED)` of the object's descriptor at the page's file
//!    offset, with the view's own protection and sharing), so the view stays coherent: if the
//!    object grows back, the view reads and writes the object again rather than private memory.
//!    It reports a [`Fault`]: `truncated` when a patched page lay past the object's end (the
//!    handler asks `fstat` right after patching, and the guard asks again at the end), otherwise
//!    out of space (the page exists but could not be provided), unless the file system has
//!    plenty of free space (`fstatfs`): then the object was cut and grown back between the fault
//!    and the handler's look, which a loaded machine makes possible, and it is reported as
//!    truncated too. The slot is released last.
//!
//! A fault that is not ours (no guard of this thread covers the address) goes to the previous
//! handler, unchanged: its `sa_sigaction` or `sa_handler` is called with the same arguments. If
//! the previous disposition was `SIG_DFL` or `SIG_IGN`, the handler resets `SIGBUS` to `SIG_DFL`
//! and returns: the instruction faults again and the process dies of `SIGBUS` as it would have
//! without mmf (the kernel never ignores a synchronous `SIGBUS`).
//!
//! Each guard covers at most [`MAX_GUARD_PAGES`] pages, and its slot can record that many
//! patched pages (each page is recorded once), so the record never overflows; callers copy larger
//! ranges in chunks, one guard each, and stop at the first chunk that faulted. A wholesale remap of
//! a large range is never needed, which matters for copy-on-write views, whose private pages a
//! remap would discard.
//!
//! # Signal safety
//!
//! The handler runs at an arbitrary instruction of the faulting thread, possibly inside `malloc`
//! or while that thread holds a lock. It therefore does only this:
//!
//! - **System calls that are async-signal-safe**, made directly: `gettid`, `mmap` and `fstat`
//!   through rustix's raw-syscall backend (no libc wrapper, no `errno`), and `sigaction` (on
//!   POSIX's list of async-signal-safe functions, like `fstat`) to reset the default disposition.
//! - **Loads and stores of atomics in static memory** (the registry, the epoch, the saved previous
//!   handler). No allocation, no lock, no thread-local (a thread-local's first access may allocate,
//!   for example in a `dlopen`ed library such as a Python extension), no formatting, no panics:
//!   slots and pages are reached with iterators and `get`, never indexing, and the only arithmetic
//!   is wrapping or cannot overflow.
//! - **Same-thread ordering.** A slot is written by its owner thread in normal context and read by
//!   the handler on the same thread, which interrupts that thread between two of its
//!   instructions; `compiler_fence(SeqCst)` after a guard's set-up and before its tear-down keeps
//!   the compiler from moving the slot writes across the guarded accesses. Other threads never
//!   match a slot they do not own (thread ids are unique among live threads).
//!
//! **Re-executing the faulting instruction is sound.** The copies mmf guards are made of atomic
//! loads and stores (and `rep movsb`, which is interruptible and resumes from its registers) on
//! memory that stays mapped: the anonymous page replaces exactly one page of a mapping the guard's
//! caller holds alive (the view is borrowed for the whole guard), so no other memory is touched.
//! The access then completes on zeros, which is a value the bytes could have held anyway (any bit
//! pattern is valid for what mmf copies), and the caller gets an error rather than the bytes.
//!
//! **Faults in unguarded code** (the `unsafe` slice accessors, user code with raw pointers) are
//! never patched: they go to the previous handler or kill the process as before. Nor are faults
//! other than `BUS_ADRERR` (a page that cannot be provided), such as a hardware memory error
//! (`BUS_MCEERR_*`). One edge stays: when a chained fault does not happen again on re-execution
//! (the page came back in between), the process goes on with `SIGBUS` at its default action (our
//! reset, or std's), so later guards no longer catch anything.
//!
//! **Rust's std** installs a `SIGSEGV`/`SIGBUS` handler at start-up for stack-overflow detection.
//! mmf installs its own later (at the first guard) and chains to it, so a guard-page hit is still
//! reported as a stack overflow and any other foreign `SIGBUS` still kills the process (std's
//! handler resets the default and returns). A handler installed *after* mmf's that does not chain
//! disables this protection; nothing can prevent that.
//!
//! **Nested guards** (a shared value's header guard around the guarded copies of its data) each
//! hold their own slot; the handler records a fault in the innermost guard covering the address
//! (the one with the greatest nesting depth), which is the one that restores it first. A guard
//! whose pages the thread's innermost guard already covers claims no slot: that guard records,
//! restores and reports its faults (so such an inner copy returns normally, over zeros, and the
//! enclosing operation fails). Normal context keeps each thread's id, guard count, innermost
//! range and last slot in a thread-local; the handler never reads it. Slots are
//! claimed in normal context; when all are busy the claimer yields and tries again, never
//! proceeding unguarded. Outer guards may only use the first slots and inner ones all of them, so
//! threads waiting for an inner slot never hold every slot (no deadlock for up to [`MAX_NEST`]
//! levels; mmf nests two).
//!
//! **`fork`.** The child is a copy with one thread. A `pthread_atfork` child handler (atomics only)
//! frees every slot, whose owners are threads that do not exist in the child, and invalidates
//! the per-thread cache of thread ids used in normal context. Guards are never held across `fork`
//! by mmf.
//!
//! **Threads that read a patched page.** A page is replaced for the whole process, so another
//! thread copying the same page between the patch and the restore reads zeros without faulting.
//! Each guard therefore samples the global patch epoch when it starts; if it changed by the end,
//! the guard re-checks the object's size and reports truncation when its range now lies past the
//! end. The remaining race: a page patched because the file system was full (not truncated)
//! and read by another thread during that window is returned as zeros without an error.
//!
//! Also not covered: bytes past a truncated object's end but inside its last page read as zeros
//! without any fault (the kernel maps that partial page), so they are not reported; objects on
//! huge pages (`MAP_HUGETLB`) cannot be patched with a small page, so a fault there still kills
//! the process.
//!
//! # Safety
//!
//! This module calls `sigaction`, `pthread_atfork` and `mmap(MAP_FIXED)`. Each call states the
//! invariant it relies on; the handler's constraints are above.
#![allow(unsafe_code)]

use crate::sys::Fault;
use rustix::fd::{AsRawFd, BorrowedFd};
use rustix::mm::{self, MapFlags, ProtFlags};
use std::cell::Cell;
use std::ffi::c_void;
use std::os::raw::c_int;
use std::sync::atomic::{compiler_fence, AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Once;

/// `si_code` of a `SIGBUS` for a page that does not exist (Linux uapi `asm-generic/siginfo.h`,
/// the same on every architecture).
const BUS_ADRERR: c_int = 2;
/// A file system with less free space than this could have failed to provide a page.
const LOW_SPACE: u64 = 1 << 20;

/// Guard slots in the registry: enough for 64 threads copying at once (more wait their turn).
pub(crate) const SLOTS: usize = 64;
/// The most pages one guard may cover (and record as patched).
pub(crate) const MAX_GUARD_PAGES: usize = 16;
/// Guards may nest this deep without risk of deadlock when all slots are busy.
pub(crate) const MAX_NEST: usize = 3;
/// Slots kept for each nesting level beyond the outermost.
const RESERVE: usize = 8;

/// One guard's registration, on cache lines of its own (threads claim slots concurrently).
#[repr(align(64))]
struct Slot {
    /// 0: free; otherwise the owner's thread id.
    owner: AtomicU64,
    /// Nesting depth of this guard in its thread (0 = outermost).
    depth: AtomicUsize,
    /// The guarded address range, page-aligned: `[start, end)`.
    start: AtomicUsize,
    end: AtomicUsize,
    /// Patch with a writable page (the view is writable).
    writable: AtomicBool,
    /// The object's descriptor, the mapping's first byte and the object offset it maps: for the
    /// handler's `fstat`, which tells truncation from a full file system at the moment of the
    /// fault (a later look could find the object grown back).
    fd: AtomicI32,
    base: AtomicUsize,
    file_offset: AtomicU64,
    /// A patched page lay past the object's end when it was patched.
    past_end: AtomicBool,
    /// Patched pages recorded so far (at most `MAX_GUARD_PAGES`).
    count: AtomicUsize,
    pages: [AtomicUsize; MAX_GUARD_PAGES],
}

#[allow(clippy::declare_interior_mutable_const)] // only used to initialise the statics below
const PAGE_INIT: AtomicUsize = AtomicUsize::new(0);
#[allow(clippy::declare_interior_mutable_const)]
const SLOT_INIT: Slot = Slot {
    owner: AtomicU64::new(0),
    depth: AtomicUsize::new(0),
    start: AtomicUsize::new(0),
    end: AtomicUsize::new(0),
    writable: AtomicBool::new(false),
    fd: AtomicI32::new(-1),
    base: AtomicUsize::new(0),
    file_offset: AtomicU64::new(0),
    past_end: AtomicBool::new(false),
    count: AtomicUsize::new(0),
    pages: [PAGE_INIT; MAX_GUARD_PAGES],
};

static REGISTRY: [Slot; SLOTS] = [SLOT_INIT; SLOTS];
/// Bumped by the handler after every patch.
static EPOCH: AtomicU64 = AtomicU64::new(0);
/// Bumped in a forked child, so that cached thread ids are looked up again.
static FORK_GEN: AtomicU64 = AtomicU64::new(0);
/// The page size, for the handler (which must not call anything that might initialise lazily).
static PAGE_SIZE: AtomicUsize = AtomicUsize::new(4096);
/// The previous `SIGBUS` disposition: its `sa_sigaction` and `sa_flags`.
static PREV_ACTION: AtomicUsize = AtomicUsize::new(libc::SIG_DFL);
static PREV_FLAGS: AtomicUsize = AtomicUsize::new(0);
static INSTALL: Once = Once::new();

/// What a thread keeps about its guards (normal context only), in cells read and written one
/// at a time.
struct ThreadState {
    /// The fork generation `tid` was looked up in.
    gen: Cell<u64>,
    /// The thread's id; 0 until looked up.
    tid: Cell<u64>,
    /// How many guards the thread holds (the nesting depth of its next guard).
    depth: Cell<usize>,
    /// The page range of its innermost guard (when `depth > 0`).
    start: Cell<usize>,
    end: Cell<usize>,
    /// The slot last used at each depth: tried first, so a thread keeps reusing a slot whose
    /// cache line is already its own.
    hint: [Cell<u8>; MAX_NEST],
}

#[allow(clippy::declare_interior_mutable_const)] // only used to initialise the thread-local
const NO_HINT: Cell<u8> = Cell::new(u8::MAX);

thread_local! {
    // Clippy for Android does not see this `const` initialiser (the macro expands differently
    // there) and asks for one.
    #[cfg_attr(target_os = "android", allow(clippy::missing_const_for_thread_local))]
    static THREAD: ThreadState = const {
        ThreadState {
            gen: Cell::new(0),
            tid: Cell::new(0),
            depth: Cell::new(0),
            start: Cell::new(0),
            end: Cell::new(0),
            hint: [NO_HINT; MAX_NEST],
        }
    };
}

fn raw_tid() -> u64 {
    rustix::thread::gettid().as_raw_nonzero().get() as u64
}

/// The calling thread's id, guard count and slot hint for that depth (normal context only; the
/// handler asks the kernel). Without thread-locals (a thread being torn down) they are looked up:
/// the depth by counting the thread's slots.
#[inline]
fn current() -> (u64, usize, usize) {
    let gen = FORK_GEN.load(Ordering::Relaxed);
    THREAD
        .try_with(|st| {
            if st.tid.get() == 0 || st.gen.get() != gen {
                // First use, or a forked child (whose slots were all freed).
                st.gen.set(gen);
                st.tid.set(raw_tid());
                st.depth.set(0);
            }
            let depth = st.depth.get();
            let hint = st.hint.get(depth).map_or(usize::MAX, |h| h.get() as usize);
            (st.tid.get(), depth, hint)
        })
        .unwrap_or_else(|_| {
            let tid = raw_tid();
            let depth = REGISTRY
                .iter()
                .filter(|s| s.owner.load(Ordering::Relaxed) == tid)
                .count();
            (tid, depth, usize::MAX)
        })
}

/// Whether the innermost guard of the calling thread covers the pages `[start, end)`.
#[inline]
fn covered(start: usize, end: usize) -> bool {
    THREAD
        .try_with(|st| st.depth.get() > 0 && st.start.get() <= start && end <= st.end.get())
        .unwrap_or(false)
}

/// The calling thread's innermost guard's range.
#[inline]
fn innermost() -> (usize, usize) {
    THREAD
        .try_with(|st| (st.start.get(), st.end.get()))
        .unwrap_or((0, 0))
}

/// Records that the calling thread holds `depth` guards, the innermost covering `range`, the
/// last one claimed in slot `index` if given.
#[inline]
fn set_current(depth: usize, range: (usize, usize), index: Option<usize>) {
    let _ = THREAD.try_with(|st| {
        st.depth.set(depth);
        st.start.set(range.0);
        st.end.set(range.1);
        if let (Some(i), Some(h)) = (index, depth.checked_sub(1).and_then(|d| st.hint.get(d))) {
            h.set(i as u8);
        }
    });
}

/// In a forked child: no slot's owner exists here.
extern "C" fn after_fork_child() {
    for s in REGISTRY.iter() {
        s.owner.store(0, Ordering::Relaxed);
    }
    FORK_GEN.fetch_add(1, Ordering::Relaxed);
}

/// Installs the handler once per process.
#[inline]
fn install() {
    INSTALL.call_once(|| {
        PAGE_SIZE.store(rustix::param::page_size(), Ordering::Relaxed);
        // SAFETY: `sigaction` with valid pointers to initialised (zeroed, then filled) structs;
        // a zeroed `sigaction` is a valid value (SIG_DFL, empty mask, no flags). The handler
        // installed is `on_sigbus`, whose signal-safety is argued in the module documentation.
        // The previous disposition is saved before ours is installed, so the handler never chains
        // to a stale value; if it changed in between (another thread installing one), the value
        // `sigaction` returned when replacing it is saved instead.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut old) != 0 {
                return;
            }
            PREV_ACTION.store(old.sa_sigaction, Ordering::SeqCst);
            PREV_FLAGS.store(old.sa_flags as usize, Ordering::SeqCst);
            let mut new: libc::sigaction = std::mem::zeroed();
            new.sa_sigaction = on_sigbus as extern "C" fn(_, _, _) as usize;
            new.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
            libc::sigemptyset(&mut new.sa_mask);
            let mut replaced: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGBUS, &new, &mut replaced) != 0 {
                return;
            }
            if replaced.sa_sigaction != old.sa_sigaction {
                PREV_FLAGS.store(replaced.sa_flags as usize, Ordering::SeqCst);
                PREV_ACTION.store(replaced.sa_sigaction, Ordering::SeqCst);
            }
            libc::pthread_atfork(None, None, Some(after_fork_child));
        }
    });
}

/// The `SIGBUS` handler. See "Signal safety" in the module documentation.
extern "C" fn on_sigbus(sig: c_int, info: *mut libc::siginfo_t, ctx: *mut c_void) {
    let addr = if info.is_null() {
        0
    } else {
        // SAFETY: with SA_SIGINFO the kernel passes a valid siginfo; for SIGBUS `si_addr` is the
        // faulting address. Only a page the kernel could not provide (`BUS_ADRERR`, which is
        // what a fault past the end of a file or on a full file system raises) is patched;
        // a hardware memory error (`BUS_MCEERR_*`) or a misaligned access is left alone.
        unsafe {
            if (*info).si_code == BUS_ADRERR {
                (*info).si_addr() as usize
            } else {
                0
            }
        }
    };
    if addr != 0 && patch(addr) {
        return;
    }
    chain(sig, info, ctx);
}

/// Patches the page at `addr` if a guard of this thread covers it; `false` if none does or the
/// page could not be patched.
fn patch(addr: usize) -> bool {
    let tid = raw_tid();
    let mut best: Option<&Slot> = None;
    let mut best_depth = 0;
    for s in REGISTRY.iter() {
        if s.owner.load(Ordering::Relaxed) == tid
            && s.start.load(Ordering::Relaxed) <= addr
            && addr < s.end.load(Ordering::Relaxed)
        {
            let d = s.depth.load(Ordering::Relaxed);
            if best.is_none() || d > best_depth {
                best = Some(s);
                best_depth = d;
            }
        }
    }
    let s = match best {
        Some(s) => s,
        None => return false,
    };
    let ps = PAGE_SIZE.load(Ordering::Relaxed);
    let page = addr & !ps.wrapping_sub(1);
    let n = s.count.load(Ordering::Relaxed);
    let known = s
        .pages
        .iter()
        .take(n)
        .any(|p| p.load(Ordering::Relaxed) == page);
    if !known {
        match s.pages.get(n) {
            Some(p) => {
                p.store(page, Ordering::Relaxed);
                s.count.store(n.wrapping_add(1), Ordering::Relaxed);
            }
            // Cannot happen: a guard covers at most MAX_GUARD_PAGES distinct pages.
            None => return false,
        }
    }
    let prot = if s.writable.load(Ordering::Relaxed) {
        ProtFlags::READ | ProtFlags::WRITE
    } else {
        ProtFlags::READ
    };
    // SAFETY: `page` lies in `[start, end)` of a guard of this very thread, which the guard's
    // caller keeps mapped (it borrows the view) until the guard ends; replacing that one page with
    // zeros touches no other memory. rustix makes the raw system call: async-signal-safe.
    let r = unsafe {
        mm::mmap_anonymous(
            page as *mut c_void,
            ps,
            prot,
            MapFlags::PRIVATE | MapFlags::FIXED,
        )
    };
    if r.is_err() {
        return false;
    }
    EPOCH.fetch_add(1, Ordering::SeqCst);
    // Truncated, or out of space? Asked now, while the answer still holds.
    let fd = s.fd.load(Ordering::Relaxed);
    let off = s
        .file_offset
        .load(Ordering::Relaxed)
        .wrapping_add(page.wrapping_sub(s.base.load(Ordering::Relaxed)) as u64);
    if fd >= 0 {
        // SAFETY: `fd` is the descriptor of the object the guard's caller holds open for the
        // whole guard. rustix makes the raw system call (`fstat` is async-signal-safe).
        let st = rustix::fs::fstat(unsafe { BorrowedFd::borrow_raw(fd) });
        if let Ok(st) = st {
            if off >= st.st_size as u64 {
                s.past_end.store(true, Ordering::Relaxed);
            }
        }
    }
    true
}

/// Hands a fault that is not ours to the previous disposition.
fn chain(sig: c_int, info: *mut libc::siginfo_t, ctx: *mut c_void) {
    let prev = PREV_ACTION.load(Ordering::SeqCst);
    let flags = PREV_FLAGS.load(Ordering::SeqCst) as c_int;
    if prev == libc::SIG_DFL || prev == libc::SIG_IGN {
        // SAFETY: `sigaction` is async-signal-safe; a zeroed struct is SIG_DFL with an empty
        // mask. Returning re-executes the faulting instruction, which now kills the process.
        unsafe {
            let mut dfl: libc::sigaction = std::mem::zeroed();
            dfl.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(libc::SIGBUS, &dfl, std::ptr::null_mut());
        }
        return;
    }
    if flags & libc::SA_SIGINFO != 0 {
        // SAFETY: `prev` is the `sa_sigaction` of a handler installed with SA_SIGINFO, so it has
        // this signature; it is called with the arguments the kernel gave us.
        let f: extern "C" fn(c_int, *mut libc::siginfo_t, *mut c_void) =
            unsafe { std::mem::transmute(prev) };
        f(sig, info, ctx);
    } else {
        // SAFETY: a handler installed without SA_SIGINFO is an `sa_handler`.
        let f: extern "C" fn(c_int) = unsafe { std::mem::transmute(prev) };
        f(sig);
    }
}

/// The patch epoch (see "Threads that read a patched page").
pub(crate) fn epoch() -> u64 {
    EPOCH.load(Ordering::SeqCst)
}

/// Claims a free slot for a guard of thread `tid` that holds `depth` guards already (normal
/// context), trying slot `hint` first; waits while all usable ones are busy. Returns its index.
#[inline]
fn claim(tid: u64, depth: usize, hint: usize) -> usize {
    if let Some(s) = REGISTRY.get(hint) {
        if hint < usable_slots(depth)
            && s.owner
                .compare_exchange(0, tid, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        {
            return hint;
        }
    }
    claim_any(tid, depth, hint)
}

/// How many slots, from the first, a guard at `depth` may use: outer guards leave the last ones
/// to inner guards (see "Nested guards").
#[inline]
fn usable_slots(depth: usize) -> usize {
    SLOTS - RESERVE * (MAX_NEST - 1).saturating_sub(depth)
}

/// [`claim`] when the hinted slot is taken or unusable.
#[cold]
fn claim_any(tid: u64, depth: usize, hint: usize) -> usize {
    let usable = usable_slots(depth);
    let mut i = if hint < usable {
        hint
    } else {
        (tid as usize) % usable
    };
    let mut spins = 0u32;
    loop {
        for _ in 0..usable {
            let s = &REGISTRY[i];
            if s.owner.load(Ordering::Relaxed) == 0
                && s.owner
                    .compare_exchange(0, tid, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return i;
            }
            i += 1;
            if i == usable {
                i = 0;
            }
        }
        spins += 1;
        if spins < 64 {
            std::thread::yield_now();
        } else {
            std::thread::sleep(std::time::Duration::from_micros(100));
        }
    }
}

/// A mapping to guard: what restoring a page needs.
pub(crate) struct Target<'a> {
    /// The object's descriptor.
    pub fd: BorrowedFd<'a>,
    /// The mapping's first byte (page-aligned) and its length.
    pub base: *mut u8,
    pub len: usize,
    /// The object offset the mapping starts at.
    pub file_offset: u64,
    /// Mapped writable (`PROT_WRITE`).
    pub writable: bool,
    /// `MAP_PRIVATE` (copy-on-write) rather than `MAP_SHARED`.
    pub private: bool,
}

/// A claimed slot; restores and releases on drop (also when the guarded closure panics).
struct Active<'a, 't> {
    slot: &'static Slot,
    target: &'a Target<'t>,
    /// The thread's guard count and innermost range before this guard.
    depth: usize,
    outer: (usize, usize),
}

impl Active<'_, '_> {
    /// Maps the object back over every patched page; returns the lowest object offset patched.
    #[inline]
    fn restore(&self) -> Option<u64> {
        compiler_fence(Ordering::SeqCst);
        let n = self.slot.count.load(Ordering::Relaxed).min(MAX_GUARD_PAGES);
        if n == 0 {
            return None;
        }
        let t = self.target;
        let ps = PAGE_SIZE.load(Ordering::Relaxed);
        let (prot, flags) = match (t.writable, t.private) {
            (false, _) => (ProtFlags::READ, MapFlags::SHARED),
            (true, false) => (ProtFlags::READ | ProtFlags::WRITE, MapFlags::SHARED),
            (true, true) => (ProtFlags::READ | ProtFlags::WRITE, MapFlags::PRIVATE),
        };
        let mut lowest: Option<u64> = None;
        for p in self.slot.pages.iter().take(n) {
            let page = p.load(Ordering::Relaxed);
            let rel = page - t.base as usize;
            let off = t.file_offset + rel as u64;
            // SAFETY: `page` is one page inside the target mapping (the handler patched it only
            // within the guarded range, which lies inside the mapping, checked in `guarded`),
            // which is alive while the guard borrows it. Mapping the object's own page back at
            // the same offset, with the mapping's own protection and sharing, restores what was
            // there; the only contents lost are the zeros of the patch (and, for a
            // copy-on-write view, writes made to the patch during this failed operation).
            let _ = unsafe {
                mm::mmap(
                    page as *mut c_void,
                    ps,
                    prot,
                    flags | MapFlags::FIXED,
                    t.fd,
                    off,
                )
            };
            lowest = Some(lowest.map_or(off, |l| l.min(off)));
        }
        self.slot.count.store(0, Ordering::Relaxed);
        lowest
    }
}

impl Drop for Active<'_, '_> {
    #[inline]
    fn drop(&mut self) {
        self.restore();
        compiler_fence(Ordering::SeqCst);
        self.slot.end.store(0, Ordering::Relaxed);
        self.slot.owner.store(0, Ordering::Release);
        set_current(self.depth, self.outer, None);
    }
}

/// Runs `f`, which accesses `len > 0` bytes at `offset` of the target mapping, with `SIGBUS` in
/// that range caught. `Err` if a page faulted (and was restored), or if another thread patched a
/// page meanwhile and the range now lies past the object's end.
///
/// The range must lie inside the mapping and cover at most [`MAX_GUARD_PAGES`] pages (checked:
/// a larger range panics, a bug in the caller).
pub(crate) fn guarded<R>(
    target: &Target<'_>,
    offset: usize,
    len: usize,
    f: impl FnOnce() -> R,
) -> Result<R, Fault> {
    if len == 0 {
        return Ok(f());
    }
    install();
    let ps = PAGE_SIZE.load(Ordering::Relaxed);
    assert!(
        offset.checked_add(len).map_or(false, |e| e <= target.len),
        "guarded range outside the mapping"
    );
    let base = target.base as usize;
    let start = (base + offset) & !(ps - 1);
    let end = (base + offset + len + ps - 1) & !(ps - 1);
    assert!(
        end - start <= MAX_GUARD_PAGES * ps,
        "guarded range of more than {} pages",
        MAX_GUARD_PAGES
    );
    if covered(start, end) {
        // The enclosing guard of this thread covers these pages: a fault here is recorded,
        // restored and reported by it (the handler picks the innermost guard covering the
        // address, which is that one), so this one would only add cost.
        return Ok(f());
    }
    let (tid, depth, hint) = current();
    let outer = innermost();
    let index = claim(tid, depth, hint);
    let slot = &REGISTRY[index];
    set_current(depth + 1, (start, end), Some(index));
    slot.depth.store(depth, Ordering::Relaxed);
    slot.writable.store(target.writable, Ordering::Relaxed);
    slot.fd.store(target.fd.as_raw_fd(), Ordering::Relaxed);
    slot.base.store(base, Ordering::Relaxed);
    slot.file_offset
        .store(target.file_offset, Ordering::Relaxed);
    slot.past_end.store(false, Ordering::Relaxed);
    slot.count.store(0, Ordering::Relaxed);
    slot.start.store(start, Ordering::Relaxed);
    slot.end.store(end, Ordering::Relaxed);
    let epoch = EPOCH.load(Ordering::SeqCst);
    compiler_fence(Ordering::SeqCst);
    let active = Active {
        slot,
        target,
        depth,
        outer,
    };
    let r = f();
    let patched = active.restore();
    let past_end = slot.past_end.load(Ordering::Relaxed);
    drop(active);
    let range_end = target.file_offset + (offset + len) as u64;
    let size = || {
        rustix::fs::fstat(target.fd)
            .ok()
            .map(|st| st.st_size as u64)
    };
    match patched {
        Some(first) => {
            let size = size();
            // A page inside the object that faulted was either gone for a while (the object was
            // cut and grown back before anyone looked) or not providable for lack of space: the
            // file system's free space tells which.
            Err(Fault {
                truncated: past_end || size.map_or(false, |s| first >= s) || roomy(target.fd),
                offset: first,
                size,
            })
        }
        None if EPOCH.load(Ordering::SeqCst) != epoch => match size() {
            Some(s) if range_end > s => Err(Fault {
                truncated: true,
                offset: target.file_offset + offset as u64,
                size: Some(s),
            }),
            _ => Ok(r),
        },
        None => Ok(r),
    }
}

/// The object's file system has plenty of free space.
#[allow(clippy::unnecessary_cast)] // the field types differ between architectures
fn roomy(fd: BorrowedFd<'_>) -> bool {
    rustix::fs::fstatfs(fd).map_or(false, |st| {
        (st.f_bavail as u64).saturating_mul(st.f_bsize as u64) >= LOW_SPACE
    })
}

/// Calls `f(position, length)` for consecutive pieces of `[offset, offset + len)` of the target
/// mapping, each under its own guard of at most [`MAX_GUARD_PAGES`] pages (pieces end on page
/// boundaries); stops at the first piece that faulted. The range lies inside the mapping.
pub(crate) fn guarded_each(
    target: &Target<'_>,
    offset: usize,
    len: usize,
    mut f: impl FnMut(usize, usize),
) -> Result<(), Fault> {
    install();
    let ps = PAGE_SIZE.load(Ordering::Relaxed);
    let max = MAX_GUARD_PAGES * ps;
    let base = target.base as usize;
    let end = offset + len;
    let mut pos = offset;
    while pos < end {
        let abs = base + pos;
        let n = ((abs & !(ps - 1)) + max - abs).min(end - pos);
        guarded(target, pos, n, || f(pos, n))?;
        pos += n;
    }
    Ok(())
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn slots_are_claimed_released_and_nested() {
        let (tid, depth, _) = current();
        assert_eq!(tid, raw_tid(), "cached thread id");
        assert_eq!(depth, 0);
        let a = &REGISTRY[claim(tid, 0, usize::MAX)];
        let b = &REGISTRY[claim(tid, 1, usize::MAX)];
        assert!(!std::ptr::eq(a, b));
        assert_eq!(a.owner.load(Ordering::Relaxed), tid);
        assert_eq!(b.owner.load(Ordering::Relaxed), tid);
        a.owner.store(0, Ordering::Release);
        b.owner.store(0, Ordering::Release);
        // A guard over private memory: no fault, the depth goes up inside and back after. The
        // range starts on a page boundary, so offsets 10 and 200 share the first page.
        let ps = PAGE_SIZE
            .load(Ordering::Relaxed)
            .max(rustix::param::page_size());
        let mut buf = vec![0u8; 4 * ps];
        let skip = buf.as_ptr().align_offset(ps);
        let page = &mut buf[skip..skip + 3 * ps];
        let file = any_file();
        let target = private_target(&file, page);
        let inner = guarded(&target, 10, 100, || {
            assert_eq!(current().1, 1);
            // Inside the outer guard's page: no slot of its own.
            assert_eq!(guarded(&target, 200, 10, || current().1), Ok(1));
            guarded(&target, ps, 10, || current().1)
        });
        assert_eq!(inner, Ok(Ok(2)));
        assert_eq!(current().1, 0);
    }

    /// A file to stand behind guards over private memory: guards only `fstat` it after a fault,
    /// and nothing faults in these tests.
    fn any_file() -> std::fs::File {
        std::fs::File::open("/proc/self/exe").unwrap()
    }

    /// A guard target over `mem`, private memory of this process.
    fn private_target<'a>(file: &'a std::fs::File, mem: &mut [u8]) -> Target<'a> {
        Target {
            fd: std::os::unix::io::AsFd::as_fd(file),
            base: mem.as_mut_ptr(),
            len: mem.len(),
            file_offset: 0,
            writable: true,
            private: true,
        }
    }

    #[test]
    fn more_threads_than_slots_nest_guards_without_deadlock() {
        let threads = SLOTS + 16;
        let (done, finished) = std::sync::mpsc::channel();
        for _ in 0..threads {
            let done = done.clone();
            std::thread::spawn(move || {
                let mut page = vec![0u8; 2 * 4096];
                let file = any_file();
                let target = private_target(&file, &mut page);
                let mut sum = 0;
                for _ in 0..500 {
                    let r = guarded(&target, 0, 8, || {
                        guarded(&target, 4096, 8, || {
                            std::thread::yield_now();
                            1
                        })
                    });
                    sum += r.unwrap().unwrap();
                }
                let _ = done.send(sum);
            });
        }
        for _ in 0..threads {
            let n = finished
                .recv_timeout(std::time::Duration::from_secs(120))
                .expect("watchdog: guards deadlocked");
            assert_eq!(n, 500);
        }
    }

    #[test]
    fn outer_guards_leave_slots_for_inner_ones() {
        // Fill every slot an outermost guard may use with foreign owners, then claim as a thread
        // that holds one already: it must get one of the reserved slots, not wait.
        let tid = current().0;
        let fake = u64::MAX - 7;
        let outer = &REGISTRY[claim(tid, 0, usize::MAX)];
        let mut taken = Vec::new();
        // Only the slots an outermost guard may use: other tests' inner guards keep theirs.
        for s in REGISTRY.iter().take(SLOTS - RESERVE * (MAX_NEST - 1)) {
            if s.owner
                .compare_exchange(0, fake, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                taken.push(s);
            }
        }
        let inner = &REGISTRY[claim(tid, 1, usize::MAX)];
        inner.owner.store(0, Ordering::Release);
        outer.owner.store(0, Ordering::Release);
        for s in taken {
            s.owner.store(0, Ordering::Release);
        }
    }
}
