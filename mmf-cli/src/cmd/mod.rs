//! One module per subcommand, and what they share.

pub mod completions;
pub mod doctor;
pub mod dump;
pub mod gc;
pub mod info;
pub mod list;
pub mod man;
pub mod retrieve;
pub mod rm;
pub mod store;
pub mod values;
pub mod watch;

use crate::exit::{CliError, object};
use mmf::{CreateOptions, Namespace, ObjectInfo, OpenOptions};
use std::path::{Path, PathBuf};

/// What every command gets from the global flags.
#[derive(Debug, Clone, Default)]
pub struct Ctx {
    /// `--dir`; `None` for the library's default (`$MMF_DIR`, else /dev/shm).
    pub dir: Option<PathBuf>,
    /// `--allow-other-owner`: open objects that belong to another user.
    pub allow_other_owner: bool,
}

impl Ctx {
    /// The directory named objects live in, for messages and `info`.
    pub fn dir_path(&self) -> PathBuf {
        self.namespace().dir().unwrap_or_default()
    }

    /// The namespace to list, collect and remove in.
    pub fn namespace(&self) -> Namespace {
        match &self.dir {
            Some(d) => Namespace::at(d),
            None => Namespace::default(),
        }
    }

    /// Options to open an existing object.
    pub fn open_options(&self) -> OpenOptions {
        let mut o = OpenOptions::new();
        if let Some(d) = &self.dir {
            o.dir(d);
        }
        o.allow_other_owner(self.allow_other_owner);
        o
    }

    /// Options to create an object.
    pub fn create_options(&self) -> CreateOptions {
        let mut o = CreateOptions::new();
        if let Some(d) = &self.dir {
            o.dir(d);
        }
        o.allow_other_owner(self.allow_other_owner);
        o
    }

    /// Checks that the directory of named objects exists: a missing one is a usage error that
    /// names where it came from, not "object not found".
    /// Where names are not files (Windows: sections in the session namespace), there is no
    /// directory to check, and `--dir` is refused here, before any command runs.
    pub fn check_dir(&self) -> anyhow::Result<()> {
        let Some(dir) = self.namespace().dir() else {
            return match &self.dir {
                Some(d) => Err(CliError::Usage(format!(
                    "--dir {}: named objects on this platform are not files in a directory, so \
                     there is no directory to choose",
                    d.display()
                ))
                .into()),
                None => Ok(()),
            };
        };
        if dir.is_dir() {
            return Ok(());
        }
        let from = if self.dir.is_some() {
            "given with --dir"
        } else if std::env::var_os("MMF_DIR").is_some() {
            "given with $MMF_DIR"
        } else {
            "the default"
        };
        let what = if dir.exists() {
            "is not a directory"
        } else {
            "does not exist"
        };
        Err(CliError::Usage(format!(
            "the directory for named objects, {} ({from}), {what}",
            dir.display()
        ))
        .into())
    }

    /// Where objects are looked for, as messages say it: the directory (on Windows, also the
    /// session's namespace, where handle-lifetime objects are sections).
    fn searched(&self) -> String {
        let dir = self.dir_path().display().to_string();
        if cfg!(windows) {
            format!("the Local\\ namespace or in {dir}")
        } else {
            dir
        }
    }

    /// Where `o` is: its file, or on Windows for a section its kernel name (`Local\\NAME`,
    /// `Global\\NAME`).
    pub fn location(&self, o: &ObjectInfo) -> String {
        if cfg!(windows) && o.lifetime == Some(mmf::Lifetime::Handle) {
            if o.name.starts_with("Global\\") {
                return o.name.clone();
            }
            return format!("Local\\{}", o.name);
        }
        self.dir_path().join(&o.name).display().to_string()
    }

    /// What `mmf list` says about `name`. Opens nothing, so the holder count is not disturbed.
    pub fn find(&self, name: &str) -> anyhow::Result<ObjectInfo> {
        // Validate the name the library's way first, so a bad name is a usage error. On Windows
        // the listing names global sections `Global\NAME`, and so may the caller.
        let (global, bare) = match name.strip_prefix("Global\\") {
            Some(bare) if cfg!(windows) => ("Global\\", bare),
            _ => ("", name),
        };
        let name = format!("{global}{}", mmf::Name::new(bare)?.as_str());
        let name = name.as_str();
        let found = self
            .namespace()
            .list()?
            .into_iter()
            .find(|o| o.name == name);
        found.ok_or_else(|| {
            CliError::NotFound {
                what: object(name),
                detail: format!(
                    "no object of that name in {} (`mmf list` shows the objects that exist)",
                    self.searched()
                ),
            }
            .into()
        })
    }
}

/// `Lifetime` as a word.
pub fn lifetime_word(l: Option<mmf::Lifetime>) -> &'static str {
    match l {
        Some(mmf::Lifetime::Handle) => "handle",
        Some(mmf::Lifetime::Persistent) | None => "persistent",
    }
}

/// `value` or `plain`.
pub fn kind_word(info: &ObjectInfo) -> &'static str {
    if info.is_value() { "value" } else { "plain" }
}

/// The object's owner: on Windows the account the library read from its security descriptor
/// (`-` where it could not), elsewhere the user name of its uid.
pub fn owner(info: &ObjectInfo) -> String {
    match &info.owner_name {
        Some(name) => name.clone(),
        None if cfg!(windows) => "-".to_owned(),
        None => user_name(info.owner_uid),
    }
}

/// The user name of `uid` from /etc/passwd, else the number.
fn user_name(uid: u32) -> String {
    let passwd = std::fs::read_to_string(Path::new("/etc/passwd")).unwrap_or_default();
    passwd
        .lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            let _pw = f.next()?;
            let id = f.next()?.parse::<u32>().ok()?;
            Some((name, id))
        })
        .find(|(_, id)| *id == uid)
        .map(|(n, _)| n.to_owned())
        .unwrap_or_else(|| uid.to_string())
}
