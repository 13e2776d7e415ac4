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

mod format;
mod handle;
#[cfg(all(test, loom))]
mod loom;
mod options;
mod protocol;
mod shared_value;
mod stream;
mod typed;
#[cfg(not(loom))]
mod wait_async;

use self::handle::{ready_word, Bytes, Inner};
pub use self::options::ValueOptions;
pub use self::shared_value::SharedValue;
pub use self::stream::ValueReader;
pub use self::typed::Shared;
#[cfg(not(loom))]
pub use self::wait_async::{Versions, WaitNewer};

pub(crate) use format::MAGIC;
pub use format::{ValueHeader, ValueLayout};

use self::format::{
    align_data, header_size, CONTROL_OFFSET, DATA_ALIGN, FORMAT_VERSION, INLINE_OFFSET, MAX_SLOTS,
    MIN_SLOTS, OFF_READY, READY, SLOTS_OFFSET,
};
use self::protocol::{Control, Data, Dest, Host, Inline, Lock, Read, Region, Slot, Store};
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

/// The value layer recognises its own objects in listings; the listing itself knows nothing of
/// values.
impl crate::ObjectInfo {
    /// Whether the object holds an mmf shared value (rather than plain bytes).
    pub fn is_value(&self) -> bool {
        self.magic == MAGIC
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
