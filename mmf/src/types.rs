//! The shared vocabulary: the plain types that every layer speaks, from the platform layer
//! (`sys`) up to shared values and the public API. This module depends on nothing else in the
//! crate, so edges between layers point one way: `types`, `error`, `name` ← `sys` ←
//! `mapping`/`view` ← `value`.

/// How long a named object lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lifetime {
    /// As on Windows: the object exists while any handle or view of it is open in any process, and
    /// its name goes away with the last one, also when the holders are killed. After a crash of
    /// every holder the name is removed by the next create, open, [`Namespace::list`](crate::Namespace::list) or
    /// [`Namespace::gc`](crate::Namespace::gc) that meets it; it is never removed while a live process holds it.
    /// Linux and Windows; on macOS and the BSDs creating such an object is
    /// [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) (their shared memory cannot be
    /// locked to count holders).
    Handle,
    /// As POSIX shared memory: the object stays until [`Namespace::remove`](crate::Namespace::remove) (or `shm_unlink`).
    /// Objects created by other programs (C `shm_open`, Python) are treated as persistent.
    /// Linux, macOS and the BSDs; [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) on
    /// Windows.
    Persistent,
}

/// Whether [`CreateOptions::open_or_create`](crate::CreateOptions::open_or_create) created the object or opened an existing one (the
/// `ERROR_ALREADY_EXISTS` case of `CreateFileMapping`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Disposition {
    /// This call created the object.
    Created,
    /// The object existed; this call opened it.
    Opened,
}

/// What backs a mapping object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backing {
    /// A named memory-backed object (the paging-file case of `CreateFileMapping`).
    Named,
    /// An unnamed memory-backed object, shared by handing its handle to another process.
    Anonymous,
    /// A file on disk.
    File,
}

/// When a new object's memory is committed (backed by RAM, swap or `/dev/shm` space): the choice
/// between `SEC_COMMIT` and `SEC_RESERVE` in `CreateFileMapping`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Commit {
    /// Commit the whole object at creation (`SEC_COMMIT`, `fallocate`), the default: a full
    /// `/dev/shm` or a machine short of memory is an `OutOfSpace` error from `create`, never a
    /// `SIGBUS` at first touch.
    #[doc(alias = "SEC_COMMIT")]
    Now,
    /// Only reserve the size (`SEC_RESERVE`; on Linux a sparse object whose pages are allocated
    /// when first written): creation succeeds beyond the memory available, and
    /// [`View::commit`](crate::View::commit) backs a range ahead of use, with an `OutOfSpace` error rather than a fault
    /// at first touch. On Windows each view commits the pages it maps. This is how to overcommit
    /// on purpose.
    #[doc(alias = "SEC_RESERVE")]
    Reserve,
}

/// Which Windows kernel-object namespace a name lives in. Linux has one system-wide namespace
/// (the shared-memory directory), so there both choices are the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// `Local\`: the name is visible only in the caller's session (the default, as for a Win32
    /// name without a prefix).
    Local,
    /// `Global\`: the name is visible across sessions (services and user programs). Creating a
    /// name there needs the `SeCreateGlobalPrivilege` privilege.
    Global,
}

/// Who may open a named object, as Unix permission bits. The default is owner-only (`0600`).
///
/// The mode is applied exactly, not filtered through the umask.
///
/// On Windows the mode becomes the new section's DACL (a protected one: nothing is inherited),
/// one access-allowed ACE per class that grants something:
///
/// | class | Windows trustee | `r` | `w` |
/// |---|---|---|---|
/// | owner | the creator's user (always listed; it also holds `READ_CONTROL`, `WRITE_DAC`, `WRITE_OWNER`, `DELETE`) | `FILE_MAP_READ` | `FILE_MAP_WRITE` (the owner's `rw` is `FILE_MAP_ALL_ACCESS`) |
/// | group | the creator's primary group (`None` for local accounts, `Domain Users` in a domain; as Cygwin maps it) | `FILE_MAP_READ` | `FILE_MAP_WRITE` |
/// | other | Everyone (`S-1-1-0`) | `FILE_MAP_READ` | `FILE_MAP_WRITE` |
///
/// Every class that grants something may also query the size and read the owner. Windows has no
/// class precedence: allowed ACEs add up, so a group member also gets what `other` grants (the
/// named constants never differ in that way). Another user's program should open with
/// `FILE_MAP_READ | FILE_MAP_WRITE`, not `FILE_MAP_ALL_ACCESS`, which only the owner holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Permissions(u32);

impl Permissions {
    /// `0600`: the owner reads and writes; nobody else has access.
    pub const OWNER_ONLY: Permissions = Permissions(0o600);
    /// `0640`: the owner reads and writes; the group reads.
    pub const GROUP_READ: Permissions = Permissions(0o640);
    /// `0660`: the owner and the group read and write.
    pub const GROUP_READ_WRITE: Permissions = Permissions(0o660);
    /// `0644`: the owner reads and writes; everyone reads.
    pub const EVERYONE_READ: Permissions = Permissions(0o644);
    /// `0666`: everyone reads and writes.
    pub const EVERYONE_READ_WRITE: Permissions = Permissions(0o666);

    /// Any mode; only the read and write bits (`0o666`) are kept.
    pub fn from_mode(mode: u32) -> Permissions {
        Permissions(mode & 0o666)
    }

    /// The permission bits.
    pub fn mode(self) -> u32 {
        self.0
    }
}

impl Default for Permissions {
    fn default() -> Permissions {
        Permissions::OWNER_ONLY
    }
}

/// How a view may touch the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Read only (`FILE_MAP_READ`, `PROT_READ` + `MAP_SHARED`). Sees other writers' changes.
    ReadOnly,
    /// Read and write (`FILE_MAP_WRITE`, `MAP_SHARED`). Writes are seen by every other read-write
    /// or read-only view of the object, in any process, and reach the file.
    ReadWrite,
    /// Copy-on-write (`FILE_MAP_COPY`, `MAP_PRIVATE`): writes stay private to this view and never
    /// reach the object or the file. Pages not yet written may still show other writers' changes
    /// (Linux, and Windows alike).
    CopyOnWrite,
}

/// Access-pattern advice for a view (`madvise`). None of these change the memory's contents.
///
/// Defaults, from the mmap-versus-read trade-offs (see the README): views start with `Normal`
/// readahead; use `Random` for point lookups in files (avoids reading 128 KiB ahead for every
/// 4 KiB used), `Sequential` for scans ([`Mapping::chunks`](crate::Mapping::chunks) does this for you), `WillNeed` to
/// start reading a range in the background.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Advice {
    /// Default readahead.
    Normal,
    /// Expect sequential access: aggressive readahead, early reclaim behind.
    Sequential,
    /// Expect random access: no readahead.
    Random,
    /// Start reading the range in now.
    WillNeed,
    /// Back the range with transparent huge pages where the system allows it (for shared memory
    /// this needs `/sys/kernel/mm/transparent_hugepage/shmem_enabled` set to `advise` or more).
    HugePage,
    /// Do not use transparent huge pages for the range.
    NoHugePage,
}

/// Advice that may change what the memory holds; see [`View::advise_unchecked`](crate::View::advise_unchecked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UncheckedAdvice {
    /// `MADV_DONTNEED`: drop this process's pages. Shared views reread the object's current
    /// contents afterwards; copy-on-write views lose their private changes.
    DontNeed,
    /// `MADV_REMOVE`: free the object's backing store for the range; every process then reads
    /// zeros there.
    Remove,
}

/// What [`Namespace::list`](crate::Namespace::list) reports about one named object.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectInfo {
    /// The name, as `shm_open` would take it without the leading `/` (on Windows, as
    /// `OpenFileMappingW` takes it after `Local\`, or the persistent object's file name;
    /// `Global\NAME` for a global section).
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// The owner's user id (0 on Windows, where owners are SIDs: see `owner_name`).
    pub owner_uid: u32,
    /// The owner's account where the system names owners itself: on Windows `DOMAIN\user`, the
    /// trustee of the owner entry of the object's DACL (see [`Permissions`]; the descriptor's
    /// recorded owner can be a group: Administrators for an elevated creator, or under Wine the
    /// creator's primary group for a section). `None` on Unix, where `owner_uid` is the owner, and
    /// where it cannot be read.
    pub owner_name: Option<String>,
    /// Permission bits. On Windows they are read back from the object's DACL by the table of
    /// [`Permissions`] (owner, group and Everyone entries; `r` for reading the data, `w` for
    /// writing it); 0 where it cannot be read.
    pub mode: u32,
    /// The lifetime mmf gave it; `None` for objects made by other programs (treated as persistent).
    pub lifetime: Option<Lifetime>,
    /// Open handles holding it (processes may hold more than one); `None` where it cannot be read.
    ///
    /// On Linux this is read from `/proc/locks`, which the kernel can only hand over consistently
    /// in one `read` of at most a page (about 80 locks on the whole machine); mmf retries until it
    /// gets such a read. On a machine with more locks than that, while other processes lock and
    /// unlock, the count is approximate (never 0 for an object that is held).
    pub holders: Option<usize>,
    /// The processes holding it, where visible.
    pub holder_pids: Vec<u32>,
    /// The object's first bytes (zeros past its end), for layers that recognise formats.
    pub(crate) magic: [u8; 8],
}
