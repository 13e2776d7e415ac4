//! Exit codes, the CLI's own errors, and the one mapping from an error to a code and a message.

use std::fmt;
use std::io;

/// The command did what was asked.
pub const SUCCESS: u8 = 0;
/// Anything else went wrong.
pub const FAILURE: u8 = 1;
/// The command line was wrong (also an invalid object name).
pub const USAGE: u8 = 2;
/// The named object does not exist.
pub const NOT_FOUND: u8 = 3;
/// A wait ran out of time: `--wait --timeout`, or a store whose value's writer lock another
/// process kept (`store --timeout`).
pub const TIMEOUT: u8 = 4;

/// Errors the CLI raises itself (the library's errors arrive as `mmf::Error`).
#[derive(Debug)]
pub enum CliError {
    /// An object is missing. `what` names it like the library does (`shared memory object "x"`).
    NotFound { what: String, detail: String },
    /// A wait ran out of time.
    Timeout { what: String, detail: String },
    /// The request does not make sense (wrong kind of object, bad combination of inputs).
    Usage(String),
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::NotFound { what, detail } => write!(f, "{what}: not found: {detail}"),
            CliError::Timeout { what, detail } => write!(f, "{what}: timed out: {detail}"),
            CliError::Usage(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for CliError {}

/// Describes a named object the way the library's messages do.
pub fn object(name: &str) -> String {
    format!("shared memory object {name:?}")
}

/// What an error means for the exit status, and what to tell the user.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Exit with this code after printing this line on stderr.
    Fail(u8, String),
    /// Stdout was closed by the reader (`mmf dump x | head`): stop quietly with success.
    BrokenPipe,
}

/// The one mapping from an error to an exit code and a one-line message with a hint.
/// Writes one line to stderr. Unlike `eprintln!`, it never panics: with stderr closed or a broken
/// pipe, the line is dropped.
pub fn note(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(io::stderr(), "{line}");
}

/// Set by `--quiet`: notes and warnings are not printed (errors still are).
static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `--quiet`: from now on, [`inform`] prints nothing.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, std::sync::atomic::Ordering::Relaxed);
}

/// A note or a warning (not an error): one line on stderr, unless `--quiet`.
pub fn inform(line: std::fmt::Arguments<'_>) {
    if !QUIET.load(std::sync::atomic::Ordering::Relaxed) {
        note(line);
    }
}

/// Whether an error means "no such object" (exit status 3), by the one mapping in [`outcome`].
pub fn is_not_found(err: &anyhow::Error) -> bool {
    matches!(outcome(err), Outcome::Fail(NOT_FOUND, _))
}

pub fn outcome(err: &anyhow::Error) -> Outcome {
    let mut code = FAILURE;
    let mut hint: Option<&str> = None;
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<io::Error>() {
            if e.kind() == io::ErrorKind::BrokenPipe {
                return Outcome::BrokenPipe;
            }
        }
        if let Some(e) = cause.downcast_ref::<mmf::Error>() {
            use mmf::ErrorKind as K;
            let (c, h) = match e.kind() {
                K::NotFound => (NOT_FOUND, Some("`mmf list` shows the objects that exist")),
                K::Timeout => (TIMEOUT, Some("wait longer with --timeout")),
                K::InvalidName => (USAGE, None),
                K::AlreadyExists => (
                    FAILURE,
                    Some("remove it with `mmf rm NAME` or choose another name"),
                ),
                // The library refuses another user's object unless asked (name squatting).
                K::PermissionDenied if e.is_other_owner() => (
                    FAILURE,
                    Some("if you trust its owner, open it anyway with --allow-other-owner"),
                ),
                K::PermissionDenied => (FAILURE, Some("check its owner and mode with `mmf info`")),
                K::OutOfSpace => (
                    FAILURE,
                    Some("free space with `mmf gc` and `mmf rm`, or store less"),
                ),
                K::Corrupt | K::VersionMismatch | K::LayoutMismatch => (
                    FAILURE,
                    Some("read its bytes with `mmf retrieve --raw` or `mmf dump`"),
                ),
                // The writer lock of a value was kept by another process: the message names it
                // and says what to do.
                K::Busy => (TIMEOUT, None),
                K::NotReady => (FAILURE, Some("try again in a moment")),
                K::Truncated => (
                    FAILURE,
                    Some("another process cut the object short while it was read; try again"),
                ),
                _ => (FAILURE, None),
            };
            code = c;
            hint = h;
            break;
        }
        if let Some(e) = cause.downcast_ref::<CliError>() {
            code = match e {
                CliError::NotFound { .. } => NOT_FOUND,
                CliError::Timeout { .. } => TIMEOUT,
                CliError::Usage(_) => USAGE,
            };
            break;
        }
    }
    // `{:#}` joins the chain with ": " on one line.
    let mut msg = format!("mmf: {err:#}");
    if let Some(h) = hint {
        msg.push_str(" (");
        msg.push_str(h);
        msg.push(')');
    }
    // One line, whatever the causes contained.
    let msg = msg.replace(['\n', '\r'], " ");
    debug_assert_ne!(code, SUCCESS, "a failure never exits 0");
    Outcome::Fail(code, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        let nf = anyhow::Error::new(CliError::NotFound {
            what: object("x"),
            detail: "no object of that name".into(),
        });
        let Outcome::Fail(c, m) = outcome(&nf) else {
            panic!()
        };
        assert_eq!(c, NOT_FOUND);
        assert_eq!(
            m,
            "mmf: shared memory object \"x\": not found: no object of that name"
        );

        let to = anyhow::Error::new(CliError::Timeout {
            what: object("x"),
            detail: "waited 1s".into(),
        });
        assert!(matches!(outcome(&to), Outcome::Fail(TIMEOUT, _)));

        let usage = anyhow::Error::new(CliError::Usage("bad".into()));
        assert!(matches!(outcome(&usage), Outcome::Fail(USAGE, _)));

        let other = anyhow::anyhow!("something\nbroke");
        assert_eq!(
            outcome(&other),
            Outcome::Fail(FAILURE, "mmf: something broke".into())
        );

        let pipe = anyhow::Error::new(io::Error::from(io::ErrorKind::BrokenPipe))
            .context("writing to stdout");
        assert_eq!(outcome(&pipe), Outcome::BrokenPipe);
    }

    #[test]
    fn library_errors_keep_their_message_and_get_a_hint() {
        let dir = std::env::temp_dir().join(format!("mmf-cli-exit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let err = mmf::OpenOptions::new()
            .dir(&dir)
            .open("no-such-object")
            .unwrap_err();
        let err = anyhow::Error::new(err);
        let Outcome::Fail(c, m) = outcome(&err) else {
            panic!()
        };
        std::fs::remove_dir(&dir).unwrap();
        assert_eq!(c, NOT_FOUND);
        assert!(m.starts_with("mmf: cannot open shared memory object \"no-such-object\""));
        assert!(
            m.ends_with("(`mmf list` shows the objects that exist)"),
            "{m}"
        );

        let bad = anyhow::Error::new(mmf::Mapping::open("a/b").unwrap_err());
        assert!(matches!(outcome(&bad), Outcome::Fail(USAGE, _)));
    }
}
