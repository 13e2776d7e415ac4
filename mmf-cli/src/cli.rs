//! The command line, as clap derive types. Names, flags and exit codes here are a contract that
//! users and scripts rely on: add to them, never change them.

use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

/// Memory-mapped files and named shared memory, the Win32 way.
///
/// Named objects live in /dev/shm (or --dir / $MMF_DIR): `NAME` is what `shm_open("/NAME")`
/// opens in C and what Python's `SharedMemory(name="NAME")` opens.
#[derive(Debug, Parser)]
#[cfg_attr(windows, command(long_about = WINDOWS_ABOUT))]
#[command(
    name = "mmf",
    version,
    propagate_version = true,
    after_help = "Exit status: 0 success, 1 failure, 2 usage error, 3 object not found, 4 timeout."
)]
pub struct Cli {
    /// The directory that holds named objects [default: $MMF_DIR, else /dev/shm]
    #[arg(long, global = true, value_name = "DIR")]
    #[cfg_attr(windows, arg(help = WINDOWS_DIR))]
    pub dir: Option<PathBuf>,

    /// Open objects that belong to another user. Off by default because anyone can create a name
    /// in /dev/shm: a squatter could plant an object under the name you expect and read or
    /// forge what you store. Use it only for objects of users you trust
    #[arg(long, global = true)]
    #[cfg_attr(windows, arg(help = WINDOWS_OTHER_OWNER))]
    pub allow_other_owner: bool,

    /// Print no notes or warnings on stderr (errors are still printed)
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// The top-level help on Windows, where named objects are sections and files, not files in
/// /dev/shm.
#[cfg(windows)]
const WINDOWS_ABOUT: &str = "\
Memory-mapped files and named shared memory, the Win32 way.

Handle-lifetime objects (--hold) are file-mapping objects (sections) in this session's namespace: \
`NAME` is what `OpenFileMappingW(FILE_MAP_ALL_ACCESS, FALSE, L\"Local\\\\NAME\")` opens in C, \
and what the unprefixed name opens (Win32's default namespace is the session's, `Local\\`). \
Persistent objects (the default of `mmf store`) are files in %LOCALAPPDATA%\\mmf (or --dir / \
%MMF_DIR%) that outlive every process until `mmf rm`: C programs open the file with CreateFileW \
(sharing read, write and delete) and map it with CreateFileMappingW.";

/// `--dir` on Windows.
#[cfg(windows)]
const WINDOWS_DIR: &str = "The directory of persistent objects [default: %MMF_DIR%, else \
%LOCALAPPDATA%\\mmf]; handle-lifetime objects (--hold) are sections in the session namespace";

/// `gc` on Windows, where the kernel removes a section's name with its last handle.
#[cfg(windows)]
const WINDOWS_GC: &str = "Remove what creators killed midway and removals of open objects left in \
the directory of persistent objects, and print what was removed (the kernel itself removes a \
section's name with its last handle)";

/// `--allow-other-owner` on Windows.
#[cfg(windows)]
const WINDOWS_OTHER_OWNER: &str = "Open objects that belong to another user. Off by default \
because anyone in the session can create a name: a squatter could plant an object under the name \
you expect and read or forge what you store. Use it only for objects of users you trust";

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Store a value under NAME (from DATA, stdin or --file)
    #[command(after_help = STORE_AFTER)]
    Store(StoreArgs),
    /// Write the latest value of NAME to stdout, byte-exact
    #[command(after_help = RETRIEVE_AFTER)]
    Retrieve(RetrieveArgs),
    /// Print each new value of NAME as it is stored, until interrupted
    #[command(after_help = WATCH_AFTER)]
    Watch(WatchArgs),
    /// List every named object: name, size, kind, lifetime, live holders, owner
    #[command(visible_alias = "ls")]
    List(ListArgs),
    /// Show everything known about one object
    Info(InfoArgs),
    /// Remove named objects (processes that have them open keep using them)
    Rm(RmArgs),
    /// Remove handle-lifetime objects whose holders are all gone, and print what was removed
    #[cfg_attr(windows, command(about = WINDOWS_GC))]
    Gc,
    /// Write an object's raw bytes to stdout (a hex view when stdout is a terminal)
    Dump(DumpArgs),
    /// The classic Win32 "MMF Sharing Data" dialog, in the terminal
    #[command(after_help = DIALOG_AFTER)]
    Dialog(DialogArgs),
    /// Check that this machine gives mmf what it needs, and say what to do where it does not
    #[command(after_help = DOCTOR_AFTER)]
    Doctor(DoctorArgs),
    /// Print a shell completion script
    Completions(CompletionsArgs),
    /// Print the man page (or write one page per command with --out)
    Man(ManArgs),
}

const STORE_AFTER: &str = "\
Without --raw, NAME becomes an mmf shared value: every store is a new version, readers never \
see a torn value, and `mmf watch` sees each one. With --raw, NAME is a plain object holding a C \
string: the bytes, then a NUL, readable by any C program or by Python's \
multiprocessing.shared_memory. A new plain object gets at least 4096 bytes; an existing one, of \
any size, is written in place when the value and its NUL fit (a stdin stream that outgrows it \
stops with an error; the object keeps what was written). A value from --file or stdin is
streamed into the shared value or plain object as it is read, so memory stays bounded whatever \
its size.

Examples:
  mmf store greeting 'hello, world'
  date | mmf store now
  mmf store --file big.bin blob
  mmf store --raw --hold mmfobject 'typed by the user'";

const RETRIEVE_AFTER: &str = "\
Shared values are written whole; plain objects up to their first NUL, as C programs read them. \
Both are streamed to stdout a piece at a time, so memory stays bounded whatever their size.

Examples:
  mmf retrieve greeting
  mmf retrieve --wait --timeout 5 result > result.bin";

const WATCH_AFTER: &str = "\
The current value is printed first (if one was stored), then each new one. A shared value keeps \
only its latest version: values stored faster than the watcher wakes are seen as the latest of \
them. Text output adds a newline after each value; --json gives one object per line. The watch \
sleeps until something happens (no polling) and ends on Ctrl-C, SIGTERM or SIGHUP (status 0). \
If NAME is removed, the watch says so on stderr and waits for it to be created again, then \
follows the new value. With --timeout, it gives up (status 4) when no value has been shown in \
time, also when NAME exists but holds no value yet.

Example:
  mmf watch --json sensor | jq .value
  mmf watch --wait --timeout 10 result";

const DIALOG_AFTER: &str = "\
Keys: Tab / Shift-Tab move between the field and the buttons, Enter or Space presses a button \
(Enter in the field presses the enabled one of Store and Retrieve), Alt+S stores, Alt+R \
retrieves, Esc or Alt+X exits. The mouse works too.";

#[cfg(windows)]
const DOCTOR_AFTER: &str = "\
Checks, one line each (ok, info, warn or FAIL, and what to do): the session namespace (a Local\\ \
section opens by name and goes with its last handle), SeCreateGlobalPrivilege (whether Global\\ \
objects can be created) and persistent objects. Exit status 0 when everything mmf needs works, 1 \
otherwise.";

#[cfg(not(windows))]
const DOCTOR_AFTER: &str = "\
Checks, one line each (ok, info, warn or FAIL, and what to do): the directory of named objects, \
its filesystem, size and free space, whether handle lifetime works there, user xattrs, systemd's \
RemoveIPC, containers, the memory cgroup limit, vm.max_map_count, vm.overcommit_memory, the huge \
page pool and the kernel version. Exit status 0 when everything mmf needs works, 1 otherwise.";

/// `mmf doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// A JSON object: {"ok":BOOL,"checks":[{"check","status","detail","advice"},...]}
    #[arg(long)]
    pub json: bool,
}

/// `mmf store`.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The object's name
    pub name: String,

    /// The value; read from stdin when absent or "-"
    #[arg(conflicts_with = "file")]
    pub data: Option<OsString>,

    /// Read the value from this file
    #[arg(long, short = 'f', value_name = "PATH")]
    pub file: Option<PathBuf>,

    /// Store a C string, as C programs read it: the bytes and a NUL in a plain object (a new one
    /// of at least 4096 bytes, or an existing one of any size the value fits in)
    #[arg(long)]
    pub raw: bool,

    /// Handle lifetime: the object lives only while this command (or another holder of it) runs;
    /// an existing object is joined as one more holder and keeps its own lifetime
    #[arg(long)]
    pub hold: bool,

    /// Permission bits for a new object, in octal (default 600: owner only); on Windows a DACL:
    /// the group bits for the primary group, the other bits for Everyone
    #[arg(long, value_name = "OCTAL", value_parser = parse_mode)]
    pub mode: Option<u32>,

    /// Give up when another process keeps the value's writer lock for SECS seconds without
    /// releasing it [default: 5] (exit status 4)
    #[arg(long, value_name = "SECS", conflicts_with = "raw", value_parser = parse_secs)]
    pub timeout: Option<std::time::Duration>,
}

/// `mmf retrieve`.
#[derive(Debug, Args)]
pub struct RetrieveArgs {
    /// The object's name
    pub name: String,

    /// Read NAME as a plain object (up to the first NUL), even if it holds a shared value
    #[arg(long)]
    pub raw: bool,

    #[command(flatten)]
    pub wait: WaitArgs,
}

/// `--wait` and `--timeout`, shared by `retrieve` and `watch`.
#[derive(Debug, Args, Clone, Copy, Default)]
pub struct WaitArgs {
    /// Wait until NAME exists and holds a value
    #[arg(long)]
    pub wait: bool,

    /// With --wait: give up after SECS seconds (exit status 4)
    #[arg(long, value_name = "SECS", requires = "wait", value_parser = parse_secs)]
    pub timeout: Option<std::time::Duration>,
}

/// `mmf watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The shared value's name
    pub name: String,

    /// One JSON object per line: {"version":N,"value":"..."} ("value_base64" for non-UTF-8 bytes)
    #[arg(long)]
    pub json: bool,

    /// Wait until NAME exists (instead of failing when it does not)
    #[arg(long)]
    pub wait: bool,

    /// Give up when no value has been shown after SECS seconds (exit status 4)
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub timeout: Option<std::time::Duration>,
}

/// `mmf list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// A JSON array, one object per named object
    #[arg(long)]
    pub json: bool,
}

/// `mmf info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The object's name
    pub name: String,

    /// A JSON object
    #[arg(long)]
    pub json: bool,
}

/// `mmf rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// The objects' names
    #[arg(required = true)]
    pub names: Vec<String>,

    /// Ignore names that do not exist
    #[arg(long, short = 'f')]
    pub force: bool,
}

/// `mmf dump`.
#[derive(Debug, Args)]
pub struct DumpArgs {
    /// The object's name
    pub name: String,

    /// Start at this byte (decimal or 0x hex)
    #[arg(long, value_name = "N", default_value = "0", value_parser = parse_u64)]
    pub offset: u64,

    /// At most this many bytes (default: to the end)
    #[arg(long, value_name = "N", value_parser = parse_u64)]
    pub len: Option<u64>,

    /// The hex view even when stdout is not a terminal
    #[arg(long)]
    pub hex: bool,
}

/// `mmf dialog`.
#[derive(Debug, Args)]
pub struct DialogArgs {
    /// The object's name
    #[arg(default_value = "mmfobject")]
    pub name: String,
}

/// `mmf completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    pub shell: clap_complete::Shell,
}

/// `mmf man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write mmf.1 and one page per command (mmf-store.1, ...) into this directory
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

fn parse_u64(s: &str) -> Result<u64, String> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse::<u64>(),
    };
    r.map_err(|_| format!("{s:?} is not a byte count (use decimal, or hex with 0x)"))
}

fn parse_secs(s: &str) -> Result<std::time::Duration, String> {
    s.parse::<f64>()
        .ok()
        .and_then(|f| std::time::Duration::try_from_secs_f64(f).ok())
        .ok_or_else(|| format!("{s:?} is not a number of seconds (like 5 or 0.5)"))
}

fn parse_mode(s: &str) -> Result<u32, String> {
    match u32::from_str_radix(s, 8) {
        Ok(m) if m <= 0o777 => Ok(m),
        _ => Err(format!("{s:?} is not an octal mode (like 600 or 644)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("mmf").chain(args.iter().copied()))
    }

    /// Each row: arguments, and whether they must parse.
    #[test]
    fn accepts_and_rejects() {
        let table: &[(&[&str], bool)] = &[
            (&["store", "x", "hello"], true),
            (&["store", "x"], true),
            (&["store", "x", "-"], true),
            (&["store", "x", "--file", "/etc/hostname"], true),
            (&["store", "x", "data", "--file", "f"], false),
            (&["store", "--raw", "--hold", "x", "v"], true),
            (&["store", "x", "v", "--mode", "644"], true),
            (&["store", "x", "v", "--mode", "999"], false),
            (&["store", "x", "v", "--timeout", "0.5"], true),
            (&["store", "x", "v", "--timeout", "never"], false),
            (&["store", "--raw", "x", "v", "--timeout", "1"], false),
            (&["store"], false),
            (&["retrieve", "x"], true),
            (&["retrieve", "x", "--raw"], true),
            (&["retrieve", "x", "--wait", "--timeout", "0.5"], true),
            (&["retrieve", "x", "--timeout", "1"], false),
            (&["retrieve", "x", "--wait", "--timeout", "soon"], false),
            (&["retrieve", "x", "--wait", "--timeout", "-1"], false),
            (&["watch", "x", "--json"], true),
            (&["list"], true),
            (&["ls", "--json"], true),
            (&["info", "x", "--json"], true),
            (&["info"], false),
            (&["rm", "a"], true),
            (&["rm", "a", "b"], true),
            (&["rm", "-f", "a", "b"], true),
            (&["rm", "-f"], false),
            (&["-q", "--allow-other-owner", "list"], true),
            (&["retrieve", "x", "--allow-other-owner", "-q"], true),
            (&["rm"], false),
            (&["gc"], true),
            (&["doctor"], true),
            (&["doctor", "--json"], true),
            (&["doctor", "x"], false),
            (&["gc", "x"], false),
            (&["dump", "x", "--offset", "0x10", "--len", "32"], true),
            (&["dump", "x", "--offset", "ten"], false),
            (&["dialog"], true),
            (&["dialog", "other"], true),
            (&["completions", "bash"], true),
            (&["completions", "tcsh"], false),
            (&["man"], true),
            (&["--dir", "/tmp/x", "list"], true),
            (&["list", "--dir", "/tmp/x"], true),
            (&["frobnicate"], false),
            (&[], false),
        ];
        for (args, ok) in table {
            let r = parse(args);
            assert_eq!(r.is_ok(), *ok, "mmf {}: {:?}", args.join(" "), r.err());
        }
    }

    #[test]
    fn values_are_parsed() {
        let cli = parse(&[
            "--dir", "/d", "dump", "x", "--offset", "0x10", "--len", "32",
        ])
        .unwrap();
        assert_eq!(cli.dir.as_deref(), Some(std::path::Path::new("/d")));
        match cli.command {
            Command::Dump(d) => {
                assert_eq!((d.offset, d.len, d.hex), (16, Some(32), false));
            }
            other => panic!("parsed as {other:?}"),
        }
        match parse(&["retrieve", "x", "--wait", "--timeout", "0.25"])
            .unwrap()
            .command
        {
            Command::Retrieve(r) => {
                assert!(r.wait.wait);
                assert_eq!(r.wait.timeout, Some(std::time::Duration::from_millis(250)));
            }
            other => panic!("parsed as {other:?}"),
        }
        match parse(&["dialog"]).unwrap().command {
            Command::Dialog(d) => assert_eq!(d.name, "mmfobject"),
            other => panic!("parsed as {other:?}"),
        }
        match parse(&["store", "x", "v", "--mode", "644"])
            .unwrap()
            .command
        {
            Command::Store(s) => {
                assert_eq!(s.mode, Some(0o644));
                assert_eq!(s.timeout, None);
            }
            other => panic!("parsed as {other:?}"),
        }
    }
}
