//! # mmf: memory-mapped files and named shared memory, the Win32 way, in safe Rust
//!
//! mmf brings the Win32 *file-mapping object* to Rust: create a named object
//! ([`Mapping::create`], `CreateFileMapping`), open it from another process ([`Mapping::open`],
//! `OpenFileMapping`), map views of it at any offset ([`Mapping::map_range`], `MapViewOfFile`),
//! flush them ([`View::flush`], `FlushViewOfFile`), and let it disappear when the last handle
//! closes ([`Lifetime::Handle`]), even if every process holding it was killed.
//!
//! On Linux a named object *is* a POSIX shared-memory object: `NAME` is what `shm_open("/NAME")`
//! opens in C, what Python's `SharedMemory(name="NAME")` opens, with no hidden header inside, so
//! plain objects stay interoperable. On Windows mmf uses the real Win32 API.
//!
//! ```
//! use mmf::{Mapping, ErrorKind};
//!
//! fn main() -> Result<(), mmf::Error> {
//!     let name = format!("mmf-doc-crate-{}", std::process::id());
//!
//!     // "Store Data", as in the classic Win32 shared-memory dialog: the first instance creates a
//!     // 4 KiB object and writes into it.
//!     let first = Mapping::create(&name, 4096)?;
//!     first.map_mut()?.write_at(0, b"typed by the user\0")?;
//!
//!     // "Retrieve Data": a second instance opens it by name and reads it back.
//!     let second = Mapping::open(&name)?;
//!     let text = second.map()?.read_vec(0, 17)?;
//!     assert_eq!(text, b"typed by the user");
//!
//!     // When the last handle and view close, the name is gone (handle lifetime, as in Win32).
//!     drop((first, second));
//!     assert_eq!(Mapping::open(&name).unwrap_err().kind(), ErrorKind::NotFound);
//!     Ok(())
//! }
//! ```
//!
//! ## Shared values
//!
//! The classic Win32 example copies a string into shared memory while another instance may be
//! copying it out, with nothing to stop a half-written read. A [`SharedValue`] is what it should have had:
//! [`store`](SharedValue::store) replaces the value atomically, [`retrieve`](SharedValue::retrieve)
//! copies out the latest whole value, and [`wait_newer`](SharedValue::wait_newer) sleeps in the
//! kernel until another process stores a newer one
//! ([`wait_newer_async`](SharedValue::wait_newer_async) and [`versions`](SharedValue::versions)
//! are the same as a `Future` and a `Stream`, for any executor). Values grow as needed, any number of
//! processes may store (they are serialised, and a writer killed mid-store loses only its own
//! store), and readers never block writers. [`Shared<T>`] does the same for plain-old-data types
//! ([`Pod`]), checking the type's layout on open. The byte format is documented in `FORMAT.md`, so
//! programs in other languages can read and write the same objects.
//!
//! ```
//! use mmf::SharedValue;
//! use std::time::Duration;
//!
//! fn main() -> Result<(), mmf::Error> {
//!     let name = format!("mmf-doc-crate-value-{}", std::process::id());
//!
//!     let first = SharedValue::create(&name)?;          // the first instance
//!     let second = SharedValue::open(&name)?;           // another instance, by name
//!     let seen = second.version();
//!
//!     first.store(b"typed by the user")?;               // "Store Data"
//!     let v = second.wait_newer(seen, Some(Duration::from_secs(5)))?;
//!     assert_eq!(second.retrieve_versioned()?, (v, b"typed by the user".to_vec())); // "Retrieve Data"
//!     Ok(())
//! }
//! ```
//!
//! ## Soundness
//!
//! Memory in a mapping can be written by another process at any moment, so mmf never gives out a
//! safe `&[u8]` into it. [`View::read_at`] and [`View::write_at`] copy with atomic accesses,
//! [`View::atomic_u32`] gives shared atomics, and [`View::as_slice`] is `unsafe` with the exact
//! promise it needs.
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]
#![warn(missing_docs)]

mod copy;
mod error;
mod mapping;
mod name;
mod pod;
mod sync;
mod sys;
mod types;
mod value;
mod view;

pub use error::{Error, ErrorKind, Result};
pub use mapping::{
    allocation_granularity, page_size, CreateOptions, FileOptions, Inheritance, Mapping, Namespace,
    OpenOptions,
};
/// Derives [`Pod`](trait@Pod) for a `#[repr(C)]` struct, checking it at compile time; see
/// [Deriving](trait@Pod#deriving).
#[cfg(feature = "derive")]
pub use mmf_derive::Pod;
pub use name::{IntoName, Name, MAX_NAME_LEN};
#[doc(hidden)]
pub use pod::__derive;
pub use pod::{layout_fingerprint, Offset, Pod};
pub use types::{
    Access, Advice, Backing, Commit, Disposition, Lifetime, ObjectInfo, Permissions, Scope,
    UncheckedAdvice,
};
pub use value::{Shared, SharedValue, ValueHeader, ValueLayout, ValueOptions};
#[cfg(not(loom))]
pub use value::{Versions, WaitNewer};
pub use view::{Chunks, Cursor, View, ViewOptions};
