//! Shared values of plain-old-data types: `Shared<T>`, with the type's layout checked on open.
//!
//! # Safety
//!
//! Values are converted to and from bytes under the [`Pod`] contract.
#![allow(unsafe_code)]

use super::*;

/// A named shared value of a plain-old-data type `T`: [`SharedValue`] with the type's layout
/// recorded at creation and checked on open.
///
/// ```
/// fn main() -> Result<(), mmf::Error> {
///     let name = format!("mmf-doc-shared-{}", std::process::id());
///     let counter = mmf::Shared::<[u64; 4]>::create(&name)?;
///     counter.store(&[1, 2, 3, 4])?;
///
///     // Another process (here, another handle) opens it with the same type...
///     let same = mmf::Shared::<[u64; 4]>::open(&name)?;
///     assert_eq!(same.load()?, [1, 2, 3, 4]);
///
///     // ...and a different type is refused.
///     let err = mmf::Shared::<[u32; 8]>::open(&name).unwrap_err();
///     assert_eq!(err.kind(), mmf::ErrorKind::LayoutMismatch);
///     Ok(())
/// }
/// ```
#[must_use = "dropping the last handle of a handle-lifetime value removes it"]
pub struct Shared<T: Pod> {
    value: SharedValue,
    _type: PhantomData<fn() -> T>,
}

crate::mapping::impl_os_handle!(impl<T: Pod> for Shared<T>, |s| s.as_value().mapping());

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

    /// Waits without blocking the thread until a version newer than `seen` is stored; see
    /// [`SharedValue::wait_newer_async`].
    #[cfg(not(loom))]
    pub fn wait_newer_async(&self, seen: u64) -> super::WaitNewer {
        self.value.wait_newer_async(seen)
    }

    /// A `Stream` of the versions stored after `seen`; see [`SharedValue::versions`].
    #[cfg(not(loom))]
    pub fn versions(&self, seen: u64) -> super::Versions {
        self.value.versions(seen)
    }

    /// The untyped value underneath.
    pub fn as_value(&self) -> &SharedValue {
        &self.value
    }
}
