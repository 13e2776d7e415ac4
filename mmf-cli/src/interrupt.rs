//! Ctrl-C and its relatives, caught so that a waiting command (`store --hold`, `watch`, the
//! dialog) ends normally, releasing what it holds, instead of being killed.
//!
//! - Unix: SIGINT, SIGTERM and SIGHUP (signal-hook).
//! - Windows: the console control handler (`SetConsoleCtrlHandler`): Ctrl-C, Ctrl-Break and the
//!   console window closing. Windows has no signals to send a process; `taskkill /F` and
//!   `TerminateProcess` kill without notice, which the kernel's handle cleanup already survives
//!   (handle-lifetime objects go with their last holder).

/// Interrupts caught from [`Interrupts::catch`] on, for as long as the value lives.
pub struct Interrupts {
    inner: imp::Inner,
}

impl Interrupts {
    /// Starts catching: from now on an interrupt no longer ends the process.
    pub fn catch() -> std::io::Result<Interrupts> {
        Ok(Interrupts {
            inner: imp::Inner::catch()?,
        })
    }

    /// Blocks until an interrupt arrives (at once if one arrived since [`Interrupts::catch`]).
    pub fn wait(&mut self) {
        self.inner.wait();
    }

    /// Whether an interrupt arrived since [`Interrupts::catch`]; does not block.
    pub fn arrived(&mut self) -> bool {
        self.inner.arrived()
    }
}

#[cfg(unix)]
mod imp {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    use signal_hook::iterator::Signals;

    pub struct Inner {
        signals: Signals,
        seen: bool,
    }

    impl Inner {
        pub fn catch() -> std::io::Result<Inner> {
            Ok(Inner {
                signals: Signals::new([SIGINT, SIGTERM, SIGHUP])?,
                seen: false,
            })
        }

        pub fn wait(&mut self) {
            if !self.seen {
                self.signals.forever().next();
                self.seen = true;
            }
        }

        pub fn arrived(&mut self) -> bool {
            if !self.seen && self.signals.pending().next().is_some() {
                self.seen = true;
            }
            self.seen
        }
    }
}

#[cfg(windows)]
mod imp {
    use std::sync::{Condvar, Mutex};
    use windows_sys::Win32::Foundation::{BOOL, FALSE, TRUE};
    use windows_sys::Win32::System::Console::{
        CTRL_BREAK_EVENT, CTRL_C_EVENT, CTRL_CLOSE_EVENT, SetConsoleCtrlHandler,
    };

    /// Whether an interrupt arrived, and the waiters to wake. The handler runs on a thread of its
    /// own that the system starts, so ordinary locking is allowed there (unlike in a Unix signal
    /// handler).
    static ARRIVED: Mutex<bool> = Mutex::new(false);
    static WAKE: Condvar = Condvar::new();

    unsafe extern "system" fn handler(event: u32) -> BOOL {
        match event {
            CTRL_C_EVENT | CTRL_BREAK_EVENT | CTRL_CLOSE_EVENT => {
                *ARRIVED.lock().unwrap_or_else(|e| e.into_inner()) = true;
                WAKE.notify_all();
                // Handled: the process goes on and ends by itself. (After CTRL_CLOSE_EVENT the
                // system ends it once this returns, as the window is going.)
                TRUE
            }
            _ => FALSE,
        }
    }

    pub struct Inner;

    impl Inner {
        pub fn catch() -> std::io::Result<Inner> {
            *ARRIVED.lock().unwrap_or_else(|e| e.into_inner()) = false;
            // SAFETY: `handler` is a function with the signature the system calls, valid for the
            // life of the process; it stays registered (a second `catch` adds it again, which is
            // harmless: it only sets a flag).
            if unsafe { SetConsoleCtrlHandler(Some(handler), TRUE) } == FALSE {
                return Err(std::io::Error::last_os_error());
            }
            Ok(Inner)
        }

        pub fn wait(&mut self) {
            let mut arrived = ARRIVED.lock().unwrap_or_else(|e| e.into_inner());
            while !*arrived {
                arrived = WAKE.wait(arrived).unwrap_or_else(|e| e.into_inner());
            }
        }

        pub fn arrived(&mut self) -> bool {
            *ARRIVED.lock().unwrap_or_else(|e| e.into_inner())
        }
    }
}
