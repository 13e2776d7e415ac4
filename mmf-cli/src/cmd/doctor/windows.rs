//! The Windows checks: the session namespace (and handle lifetime in it), the privilege that
//! `Global\` names need, and persistent objects.
//!
//! Each check does what mmf does (creates, opens and closes a real object) rather than guessing
//! from settings; the token is read only to explain a `Global\` result.

use super::{Check, Status, check};
use crate::cmd::Ctx;
use mmf::{ErrorKind, Lifetime, Scope};

pub(super) fn checks(ctx: &Ctx) -> Vec<Check> {
    let token = Token::of_this_process();
    vec![
        session_namespace(ctx, &token),
        global_namespace(ctx, &token),
        persistent(ctx),
    ]
}

/// A name unique to this run, for the objects the checks create.
fn probe_name(what: &str) -> String {
    format!("mmf-doctor-{what}-{}", std::process::id())
}

/// Creates a handle-lifetime object in `Local\`, opens it again by name, closes both and checks
/// that the name went with the last handle.
fn session_namespace(ctx: &Ctx, token: &Token) -> Check {
    const NAME: &str = "session namespace";
    let name = probe_name("local");
    let session = match token.session {
        Some(n) => format!("session {n} (\\Sessions\\{n}\\BaseNamedObjects)"),
        None => "this session".to_owned(),
    };
    let mut opts = ctx.create_options();
    opts.size(4096).lifetime(Lifetime::Handle);
    let created = match opts.create(name.as_str()) {
        Ok(m) => m,
        Err(e) => {
            return check(
                NAME,
                Status::Fail,
                format!("cannot create a section in {session}: {e}"),
            )
            .advise("run mmf as a user with a normal interactive or service logon session");
        }
    };
    let opened = ctx.open_options().open(name.as_str());
    let reopened = opened.is_ok();
    drop(opened);
    drop(created);
    let gone = matches!(
        ctx.open_options().open(name.as_str()),
        Err(e) if e.kind() == ErrorKind::NotFound
    );
    match (reopened, gone) {
        (true, true) => check(
            NAME,
            Status::Ok,
            format!(
                "{session}: a Local\\ section opens by name, and goes away with its last handle \
                 (handle lifetime)"
            ),
        ),
        (false, _) => check(
            NAME,
            Status::Fail,
            format!("a Local\\ section created in {session} does not open again by its name"),
        )
        .advise("check that no security software blocks named sections"),
        (true, false) => check(
            NAME,
            Status::Fail,
            format!("a Local\\ section in {session} outlived its last handle"),
        )
        .advise("check that no other process opened the probe object"),
    }
}

/// Whether this process can create names in `Global\` (SeCreateGlobalPrivilege): not needed by
/// default, only for objects shared across sessions (with a service, say).
fn global_namespace(ctx: &Ctx, token: &Token) -> Check {
    const NAME: &str = "SeCreateGlobalPrivilege";
    let privilege = match token.create_global {
        Some(Privilege::Enabled) => "held and enabled",
        Some(Privilege::Disabled) => "held but disabled",
        Some(Privilege::Absent) => "not held",
        None => "unknown (the process token cannot be read)",
    };
    let mut opts = ctx.create_options();
    opts.size(4096)
        .lifetime(Lifetime::Handle)
        .scope(Scope::Global);
    match opts.create(probe_name("global").as_str()) {
        Ok(m) => {
            drop(m);
            check(
                NAME,
                Status::Ok,
                format!(
                    "{privilege}: objects in Global\\ (shared by every session) can be created"
                ),
            )
        }
        Err(e) if e.kind() == ErrorKind::PermissionDenied => check(
            NAME,
            Status::Info,
            format!(
                "{privilege}: Global\\ objects can be opened but not created here; the default, \
                 Local\\, needs no privilege"
            ),
        )
        .advise(
            "to create objects that other sessions (services) open, run elevated or as a \
             service, which hold SeCreateGlobalPrivilege",
        ),
        Err(e) => check(
            NAME,
            Status::Warn,
            format!("{privilege}: creating a Global\\ object failed: {e}"),
        )
        .advise("use the default Local\\ namespace"),
    }
}

/// Whether objects that outlive every process (`mmf store` without `--hold`) can be made: files
/// in the directory of persistent objects.
fn persistent(ctx: &Ctx) -> Check {
    const NAME: &str = "persistent objects";
    let name = probe_name("persistent");
    let dir = ctx.namespace().dir().map_or_else(
        || "(no directory: LOCALAPPDATA is not set)".to_owned(),
        |d| d.display().to_string(),
    );
    let mut opts = ctx.create_options();
    opts.size(4096).lifetime(Lifetime::Persistent);
    match opts.create(name.as_str()) {
        Ok(m) => {
            drop(m);
            let reopened = ctx.open_options().open(name.as_str()).is_ok();
            let removed = ctx.namespace().remove(name.as_str());
            match (reopened, removed) {
                (true, Ok(())) => check(
                    NAME,
                    Status::Ok,
                    format!(
                        "files in {dir}: an object outlives its last handle and is removed with \
                         `mmf rm`"
                    ),
                ),
                (_, Err(e)) => check(
                    NAME,
                    Status::Fail,
                    format!("a persistent object was made but cannot be removed: {e}"),
                )
                .advise(format!("remove {name} by hand")),
                (false, Ok(())) => check(
                    NAME,
                    Status::Fail,
                    "a persistent object was gone once its last handle closed",
                )
                .advise("check that nothing removes the objects mmf makes"),
            }
        }
        Err(e) => check(
            NAME,
            Status::Fail,
            format!("cannot create a persistent object in {dir}: {e}"),
        )
        .advise(
            "make the directory writable, or choose another with --dir or %MMF_DIR%; meanwhile \
             `mmf store --hold NAME ...` makes objects that live while that process runs",
        ),
    }
}

/// Whether a privilege is in the token and switched on.
#[derive(Debug, Clone, Copy)]
enum Privilege {
    Enabled,
    Disabled,
    Absent,
}

/// What the checks read from this process's access token; `None` where it could not be read.
struct Token {
    session: Option<u32>,
    create_global: Option<Privilege>,
}

impl Token {
    fn of_this_process() -> Token {
        match token::open() {
            Some(t) => Token {
                session: token::session_id(&t),
                create_global: token::privilege(&t, "SeCreateGlobalPrivilege"),
            },
            None => Token {
                session: None,
                create_global: None,
            },
        }
    }
}

/// The few token queries, on windows-sys.
mod token {
    use super::Privilege;
    use std::os::windows::io::{FromRawHandle, OwnedHandle};
    use windows_sys::Win32::Foundation::{FALSE, LUID};
    use windows_sys::Win32::Security::{
        GetTokenInformation, LUID_AND_ATTRIBUTES, LookupPrivilegeValueW, SE_PRIVILEGE_ENABLED,
        TOKEN_PRIVILEGES, TOKEN_QUERY, TokenPrivileges, TokenSessionId,
    };
    use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

    pub fn open() -> Option<OwnedHandle> {
        let mut h = std::ptr::null_mut();
        // SAFETY: the pseudo-handle of this process is always valid; `h` is a valid out pointer.
        if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut h) } == FALSE {
            return None;
        }
        // SAFETY: the call succeeded, so `h` is a new handle that nothing else owns.
        Some(unsafe { OwnedHandle::from_raw_handle(h) })
    }

    pub fn session_id(t: &OwnedHandle) -> Option<u32> {
        use std::os::windows::io::AsRawHandle;
        let mut id = 0u32;
        let mut len = 0u32;
        // SAFETY: `t` is an open token with TOKEN_QUERY; `id` is a writable u32 of the size given.
        let ok = unsafe {
            GetTokenInformation(
                t.as_raw_handle(),
                TokenSessionId,
                (&mut id as *mut u32).cast(),
                4,
                &mut len,
            )
        };
        (ok != FALSE).then_some(id)
    }

    pub fn privilege(t: &OwnedHandle, name: &str) -> Option<Privilege> {
        use std::os::windows::io::AsRawHandle;
        let wname: Vec<u16> = name.encode_utf16().chain([0]).collect();
        let mut luid = LUID {
            LowPart: 0,
            HighPart: 0,
        };
        // SAFETY: `wname` is NUL-terminated and outlives the call; `luid` is a valid out pointer.
        if unsafe { LookupPrivilegeValueW(std::ptr::null(), wname.as_ptr(), &mut luid) } == FALSE {
            return None;
        }
        // The list's size is asked first, then read into a buffer of u64s (aligned for the
        // structure).
        let mut len = 0u32;
        // SAFETY: a size query: no buffer, `len` is a valid out pointer.
        unsafe {
            GetTokenInformation(
                t.as_raw_handle(),
                TokenPrivileges,
                std::ptr::null_mut(),
                0,
                &mut len,
            )
        };
        if len == 0 {
            return None;
        }
        let mut buf = vec![0u64; (len as usize).div_ceil(8)];
        // SAFETY: `buf` is writable for `len` bytes and aligned for TOKEN_PRIVILEGES.
        let ok = unsafe {
            GetTokenInformation(
                t.as_raw_handle(),
                TokenPrivileges,
                buf.as_mut_ptr().cast(),
                len,
                &mut len,
            )
        };
        if ok == FALSE {
            return None;
        }
        let head = buf.as_ptr().cast::<TOKEN_PRIVILEGES>();
        // SAFETY: the call filled `buf` with a TOKEN_PRIVILEGES of `PrivilegeCount` entries,
        // which lie inside it (the system wrote `len` bytes).
        let all: &[LUID_AND_ATTRIBUTES] = unsafe {
            let count = (*head).PrivilegeCount as usize;
            std::slice::from_raw_parts(std::ptr::addr_of!((*head).Privileges).cast(), count)
        };
        let found = all
            .iter()
            .find(|p| p.Luid.LowPart == luid.LowPart && p.Luid.HighPart == luid.HighPart);
        Some(match found {
            Some(p) if p.Attributes & SE_PRIVILEGE_ENABLED != 0 => Privilege::Enabled,
            Some(_) => Privilege::Disabled,
            None => Privilege::Absent,
        })
    }
}
