//! The operating system's object under a mapping, for code that needs it: `AsFd`/`AsRawFd` where
//! the backend has descriptors (Linux, Android, macOS, the BSDs), `AsHandle`/`AsRawHandle` on
//! Windows. The fallback backend (wasm32, other Unix systems) has neither, and these impls are absent
//! there. What the descriptor is, and what must not be done with it: `Mapping`'s documentation.
//!
//! Shared values forward to their mapping (`impl_os_handle!`), so a `SharedValue` or `Shared<T>`
//! hands out the same descriptor as [`SharedValue::mapping`](crate::SharedValue::mapping).

/// Backends whose objects are descriptors: `sys/linux/` (Linux, Android) and `sys/posix.rs`.
macro_rules! cfg_fd {
    ($($item:item)*) => {$(
        #[cfg(any(
            target_os = "linux",
            target_os = "android",
            target_os = "macos",
            target_os = "ios",
            target_os = "freebsd",
            target_os = "netbsd",
            target_os = "openbsd",
            target_os = "dragonfly"
        ))]
        $item
    )*};
}
pub(crate) use cfg_fd;

cfg_fd! {
    /// The object's descriptor: see [Descriptor and handle](crate::Mapping#descriptor-and-handle).
    impl std::os::unix::io::AsFd for super::Mapping {
        fn as_fd(&self) -> std::os::unix::io::BorrowedFd<'_> {
            self.object.sys.fd()
        }
    }

    /// The object's descriptor: see [Descriptor and handle](crate::Mapping#descriptor-and-handle).
    impl std::os::unix::io::AsRawFd for super::Mapping {
        fn as_raw_fd(&self) -> std::os::unix::io::RawFd {
            std::os::unix::io::AsRawFd::as_raw_fd(&self.object.sys.fd())
        }
    }
}

/// The section handle: see [Descriptor and handle](crate::Mapping#descriptor-and-handle).
#[cfg(windows)]
impl std::os::windows::io::AsHandle for super::Mapping {
    fn as_handle(&self) -> std::os::windows::io::BorrowedHandle<'_> {
        self.object.sys.handle()
    }
}

/// The section handle: see [Descriptor and handle](crate::Mapping#descriptor-and-handle).
#[cfg(windows)]
impl std::os::windows::io::AsRawHandle for super::Mapping {
    fn as_raw_handle(&self) -> std::os::windows::io::RawHandle {
        std::os::windows::io::AsRawHandle::as_raw_handle(&self.object.sys.handle())
    }
}

/// `AsFd`/`AsRawFd` (or `AsHandle`/`AsRawHandle`) for a type over one `Mapping`, forwarding to
/// the mapping `$get` returns.
macro_rules! impl_os_handle {
    ($(impl<$gen:ident: $bound:path>)? for $ty:ty, |$this:ident| $get:expr) => {
        $crate::mapping::cfg_fd! {
            /// Its mapping's descriptor: see
            /// [Descriptor and handle](crate::Mapping#descriptor-and-handle).
            impl$(<$gen: $bound>)? std::os::unix::io::AsFd for $ty {
                fn as_fd(&self) -> std::os::unix::io::BorrowedFd<'_> {
                    let $this = self;
                    std::os::unix::io::AsFd::as_fd($get)
                }
            }

            /// Its mapping's descriptor: see
            /// [Descriptor and handle](crate::Mapping#descriptor-and-handle).
            impl$(<$gen: $bound>)? std::os::unix::io::AsRawFd for $ty {
                fn as_raw_fd(&self) -> std::os::unix::io::RawFd {
                    let $this = self;
                    std::os::unix::io::AsRawFd::as_raw_fd($get)
                }
            }
        }

        /// Its mapping's section handle: see
        /// [Descriptor and handle](crate::Mapping#descriptor-and-handle).
        #[cfg(windows)]
        impl$(<$gen: $bound>)? std::os::windows::io::AsHandle for $ty {
            fn as_handle(&self) -> std::os::windows::io::BorrowedHandle<'_> {
                let $this = self;
                std::os::windows::io::AsHandle::as_handle($get)
            }
        }

        /// Its mapping's section handle: see
        /// [Descriptor and handle](crate::Mapping#descriptor-and-handle).
        #[cfg(windows)]
        impl$(<$gen: $bound>)? std::os::windows::io::AsRawHandle for $ty {
            fn as_raw_handle(&self) -> std::os::windows::io::RawHandle {
                let $this = self;
                std::os::windows::io::AsRawHandle::as_raw_handle($get)
            }
        }
    };
}
pub(crate) use impl_os_handle;
