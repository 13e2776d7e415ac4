//! `mmf watch NAME`: each new value as it is stored.
//!
//! The main thread sleeps in the kernel (it parks) until one of three things wakes it: the value's
//! async wait ([`SharedValue::wait_newer_async`], whose waker unparks it), an interrupt (a thread
//! waiting for Ctrl-C and the like, see `interrupt.rs`), or a change of NAME in the directory of
//! named objects (an inotify thread: NAME removed, created, renamed). Nothing polls: an idle watch
//! costs no CPU. Where inotify cannot be used (a file system without it, the limit of watches
//! reached), removal is checked once a second instead. On Windows a persistent object is a file
//! in the directory of persistent objects, watched with a change notification
//! (`FindFirstChangeNotificationW`) and told apart from a new file of the same name by its file
//! index; a handle-lifetime object is a section, which cannot be taken away from its holders, this
//! watch among them. Nothing tells when a section is created, so while `--wait` waits for a
//! missing NAME on Windows it looks once a second.

use super::Ctx;
use super::values::Opened;
use crate::cli::WatchArgs;
use crate::exit::{CliError, object};
use crate::interrupt::Interrupts;
use mmf::SharedValue;
use std::future::Future;
use std::io::Write;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// How often NAME is looked at when inotify is not available.
const NO_INOTIFY_CHECK: Duration = Duration::from_secs(1);

/// Unparks the main thread.
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// What wakes the main thread, besides the value.
struct Events {
    stop: Arc<AtomicBool>,
    /// Bumped on each inotify event about NAME; `None` without inotify.
    changes: Option<Arc<AtomicU64>>,
}

pub fn run(ctx: &Ctx, a: WatchArgs) -> anyhow::Result<()> {
    let main = std::thread::current();
    let events = Events {
        stop: stop_on_signals(&main)?,
        changes: watch_name(&ctx.dir_path(), &a.name, &main),
    };
    let waker = Waker::from(Arc::new(Unpark(main)));
    let path = ctx.dir_path().join(&a.name);
    let deadline = a.timeout.and_then(|t| Instant::now().checked_add(t));
    let mut out = std::io::stdout().lock();
    let mut shown = false;
    // After a removal: waiting for NAME to be created again.
    let mut again = false;
    loop {
        // Open NAME (waiting for it with --wait or after a removal), then follow it until it is
        // removed.
        let wait = a.wait || again;
        let (v, id) = match open(ctx, &a, wait, &events, &path, deadline, shown)? {
            Some(o) => o,
            None => return Ok(()), // interrupted
        };
        if again {
            eprintln!("mmf watch: {} was created again", object(&a.name));
        }
        let mut seen = 0;
        let mut change = events.changes();
        loop {
            let (version, bytes) = v.retrieve_versioned()?;
            if version > seen {
                print(&mut out, a.json, version, &bytes)?;
                seen = version;
                shown = true;
            }
            let mut next = v.wait_newer_async(seen);
            let woke = sleep(
                &events,
                false,
                &mut change,
                deadline,
                shown,
                |cx| Pin::new(&mut next).poll(cx),
                &waker,
            );
            match woke {
                Woke::Value(r) => {
                    r?;
                }
                Woke::Stop => return Ok(()),
                Woke::Deadline => return Err(timed_out(&a)),
                Woke::Name | Woke::Check => {
                    if identity(&path) != Some(id) {
                        break;
                    }
                }
            }
        }
        eprintln!(
            "mmf watch: {} was removed; waiting for it to be created again",
            object(&a.name)
        );
        // Later values come from the new object, whose versions start again.
        again = true;
    }
}

/// What ended a sleep.
enum Woke<T> {
    Value(T),
    Stop,
    Deadline,
    /// An inotify event about NAME.
    Name,
    /// Time to look at NAME (no inotify).
    Check,
}

impl Events {
    fn changes(&self) -> u64 {
        self.changes
            .as_ref()
            .map_or(0, |c| c.load(Ordering::SeqCst))
    }
}

/// Parks until `poll` is ready, a signal arrives, NAME changes in the directory, or the deadline
/// (which only counts while nothing has been shown) passes. With `looking` (or without a watch on
/// the directory), it also returns `Woke::Check` once a second.
fn sleep<T>(
    events: &Events,
    looking: bool,
    change: &mut u64,
    deadline: Option<Instant>,
    shown: bool,
    mut poll: impl FnMut(&mut Context<'_>) -> Poll<T>,
    waker: &Waker,
) -> Woke<T> {
    let mut cx = Context::from_waker(waker);
    let started = Instant::now();
    loop {
        if events.stop.load(Ordering::SeqCst) {
            return Woke::Stop;
        }
        if let Poll::Ready(t) = poll(&mut cx) {
            return Woke::Value(t);
        }
        let now = events.changes();
        if now != *change {
            *change = now;
            return Woke::Name;
        }
        let mut park = if events.changes.is_none() || looking {
            match NO_INOTIFY_CHECK.checked_sub(started.elapsed()) {
                Some(left) if !left.is_zero() => Some(left),
                _ => return Woke::Check,
            }
        } else {
            None
        };
        if let (Some(d), false) = (deadline, shown) {
            let left = d.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Woke::Deadline;
            }
            park = Some(park.map_or(left, |p| p.min(left)));
        }
        match park {
            Some(t) => std::thread::park_timeout(t),
            None => std::thread::park(),
        }
    }
}

/// Opens NAME as a shared value, waiting (with `wait`) while it does not exist; `None` when a
/// signal ends the wait.
fn open(
    ctx: &Ctx,
    a: &WatchArgs,
    wait: bool,
    events: &Events,
    path: &Path,
    deadline: Option<Instant>,
    shown: bool,
) -> anyhow::Result<Option<(SharedValue, (u64, u64))>> {
    let mut change = events.changes();
    loop {
        // The identity first: if NAME is replaced between this and the open, the next event
        // about it makes the watch look again.
        let before = identity(path);
        match super::values::open_any(ctx, &a.name) {
            Ok(Opened::Value(v)) => {
                let id = identity(path).or(before).unwrap_or((0, 0));
                return Ok(Some((v, id)));
            }
            Ok(Opened::Plain(_)) => {
                return Err(CliError::Usage(format!(
                    "{} is a plain object; `mmf watch` follows shared values (made by `mmf store` \
                     without --raw)",
                    object(&a.name)
                ))
                .into());
            }
            Err(e) if wait && crate::exit::is_not_found(&e) => {}
            Err(e) => return Err(e),
        }
        let pending = |_: &mut Context<'_>| Poll::<()>::Pending;
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        // Nothing announces a new section on Windows: look once a second there.
        match sleep(
            events,
            cfg!(windows),
            &mut change,
            deadline,
            shown,
            pending,
            &waker,
        ) {
            Woke::Stop => return Ok(None),
            Woke::Deadline => return Err(timed_out(a)),
            Woke::Value(()) | Woke::Name | Woke::Check => {}
        }
    }
}

fn timed_out(a: &WatchArgs) -> anyhow::Error {
    let secs = a.timeout.unwrap_or_default().as_secs_f64();
    CliError::Timeout {
        what: object(&a.name),
        detail: format!("no value was shown within {secs}s (wait longer with --timeout)"),
    }
    .into()
}

/// The device and inode of the file NAME names now (`None`: there is none).
#[cfg(unix)]
fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Windows: the volume and file index of the persistent object's file; `(0, 0)` where there is
/// none (a section stays the same object for as long as this watch holds it, and a removed
/// persistent object differs from every file).
#[cfg(windows)]
fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::windows::fs::OpenOptionsExt;
    use std::os::windows::io::AsRawHandle;
    use windows_sys::Win32::Storage::FileSystem::{
        BY_HANDLE_FILE_INFORMATION, FILE_READ_ATTRIBUTES, FILE_SHARE_DELETE, FILE_SHARE_READ,
        FILE_SHARE_WRITE, GetFileInformationByHandle,
    };
    let file = std::fs::OpenOptions::new()
        .access_mode(FILE_READ_ATTRIBUTES)
        .share_mode(FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE)
        .open(path);
    let Ok(file) = file else {
        return Some((0, 0));
    };
    // SAFETY: plain data, for which all-zero bytes are a valid value.
    let mut info: BY_HANDLE_FILE_INFORMATION = unsafe { std::mem::zeroed() };
    // SAFETY: a file handle that lives through the call and a writable structure.
    if unsafe { GetFileInformationByHandle(file.as_raw_handle(), &mut info) } == 0 {
        return Some((0, 0));
    }
    let index = (u64::from(info.nFileIndexHigh) << 32) | u64::from(info.nFileIndexLow);
    Some((u64::from(info.dwVolumeSerialNumber) | 1 << 32, index))
}

/// Ctrl-C, SIGTERM and SIGHUP (Ctrl-C, Ctrl-Break and a closing console on Windows) end the
/// watch normally (status 0): a thread receives them, sets the flag and unparks the main thread.
fn stop_on_signals(main: &Thread) -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut interrupts = Interrupts::catch()?;
    let (flag, main) = (Arc::clone(&stop), main.clone());
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            interrupts.wait();
            flag.store(true, Ordering::SeqCst);
            main.unpark();
        })?;
    Ok(stop)
}

/// Windows: a change notification on the directory of persistent objects (files created,
/// removed or renamed there); each one bumps the counter and unparks the main thread. `None`
/// (a check once a second) if the directory cannot be watched.
#[cfg(windows)]
fn watch_name(dir: &Path, _name: &str, main: &Thread) -> Option<Arc<AtomicU64>> {
    use std::os::windows::ffi::OsStrExt;
    use windows_sys::Win32::Foundation::{INVALID_HANDLE_VALUE, WAIT_OBJECT_0};
    use windows_sys::Win32::Storage::FileSystem::{
        FILE_NOTIFY_CHANGE_FILE_NAME, FindFirstChangeNotificationW, FindNextChangeNotification,
    };
    use windows_sys::Win32::System::Threading::{INFINITE, WaitForSingleObject};
    let wide: Vec<u16> = dir.as_os_str().encode_wide().chain([0]).collect();
    // SAFETY: a NUL-terminated path that outlives the call.
    let h = unsafe { FindFirstChangeNotificationW(wide.as_ptr(), 0, FILE_NOTIFY_CHANGE_FILE_NAME) };
    if h == INVALID_HANDLE_VALUE || h.is_null() {
        return None;
    }
    // The handle is kept (never closed) by the thread below, for as long as the process runs.
    let h = h as usize;
    let changes = Arc::new(AtomicU64::new(0));
    let (counter, main) = (Arc::clone(&changes), main.clone());
    std::thread::Builder::new()
        .name("dir-changes".into())
        .spawn(move || {
            let h = h as windows_sys::Win32::Foundation::HANDLE;
            loop {
                // SAFETY: the notification handle made above, never closed.
                if unsafe { WaitForSingleObject(h, INFINITE) } != WAIT_OBJECT_0 {
                    return;
                }
                counter.fetch_add(1, Ordering::SeqCst);
                main.unpark();
                // SAFETY: as above.
                if unsafe { FindNextChangeNotification(h) } == 0 {
                    return;
                }
            }
        })
        .ok()?;
    Some(changes)
}

/// Watches the directory of named objects for NAME being created, removed or renamed; each event
/// bumps the counter and unparks the main thread. `None` if inotify cannot be used there.
#[cfg(unix)]
fn watch_name(dir: &Path, name: &str, main: &Thread) -> Option<Arc<AtomicU64>> {
    use rustix::fs::inotify::{self, CreateFlags, WatchFlags};
    let fd = inotify::init(CreateFlags::CLOEXEC).ok()?;
    let flags = WatchFlags::CREATE
        | WatchFlags::DELETE
        | WatchFlags::MOVED_FROM
        | WatchFlags::MOVED_TO
        | WatchFlags::DELETE_SELF
        | WatchFlags::MOVE_SELF;
    inotify::add_watch(&fd, dir, flags).ok()?;
    let changes = Arc::new(AtomicU64::new(0));
    let (counter, main, name) = (
        Arc::clone(&changes),
        main.clone(),
        std::path::PathBuf::from(name),
    );
    std::thread::Builder::new()
        .name("inotify".into())
        .spawn(move || {
            let mut buf = [std::mem::MaybeUninit::uninit(); 4096];
            let mut reader = inotify::Reader::new(&fd, &mut buf);
            loop {
                let about_name = match reader.next() {
                    Ok(e) => e
                        .file_name()
                        .is_none_or(|f| f.to_bytes() == name.as_os_str().as_encoded_bytes()),
                    Err(e) if e == rustix::io::Errno::INTR => continue,
                    Err(_) => return,
                };
                if about_name {
                    counter.fetch_add(1, Ordering::SeqCst);
                    main.unpark();
                }
            }
        })
        .ok()?;
    Some(changes)
}

/// One value: its bytes and a newline, or a JSON line.
fn print(out: &mut impl Write, json: bool, version: u64, bytes: &[u8]) -> std::io::Result<()> {
    if json {
        let mut m = serde_json::Map::new();
        m.insert("version".into(), version.into());
        crate::output::value_fields(&mut m, bytes);
        writeln!(out, "{}", serde_json::Value::Object(m))?;
    } else {
        out.write_all(bytes)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}
