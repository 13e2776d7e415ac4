//! What the seed's buttons do to the shared object, apart from the window: the start-up check,
//! Store Data and Retrieve Data (mmf1.asm's `initdlg`, `map` and `retrieve`). Plain mmf calls, so
//! it runs (and is tested) on every platform; on Windows the object is the section
//! `Local\mmfobject`, which the seed's `OpenFileMappingA("mmfobject")` opens.
#![cfg_attr(not(windows), allow(dead_code))] // the Windows program and the tests use it

use mmf::{Access, ErrorKind, Lifetime, Mapping, ValueHeader, ValueOptions, View};

/// The seed's object name (`szObjectName`).
pub const DEFAULT_NAME: &str = "mmfobject";
/// The seed's object size: `CreateFileMappingA(.., 0, 1000h, ..)`.
pub const OBJECT_SIZE: u64 = 0x1000;
/// The most the edit box takes: what the object holds with the terminating NUL.
pub const MAX_CHARS: usize = OBJECT_SIZE as usize - 1;
/// What the edit box shows after Store Data (`szNewInst`).
pub const NEW_INSTANCE: &str = "Open a new instance now!";

/// The object as one dialog instance holds it: opened at start-up if it existed, else created by
/// Store Data; closed when the instance exits (dropped), so the object lives while any instance
/// does, and is gone after the last one.
pub struct Seed {
    name: String,
    held: Option<(Mapping, View)>,
    existed: bool,
}

/// What Store Data wrote.
#[derive(Debug, PartialEq, Eq)]
pub struct Stored {
    /// Bytes written, not counting the NUL.
    pub bytes: usize,
    /// Whether the text was longer than the object holds and its end was left out.
    pub cut: bool,
}

impl Seed {
    /// `OpenFileMapping(name)` at start-up: if it succeeds, another instance made the object.
    ///
    /// # Errors
    /// A bad name, or any failure other than "not found" (permission denied, for example).
    pub fn start(name: &str) -> mmf::Result<Seed> {
        let name = mmf::Name::new(name)?; // a bad name fails now, not on Store
        let held = match Mapping::open(&name) {
            Ok(m) => Some(Self::mapped(m)?),
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        Ok(Seed {
            existed: held.is_some(),
            name: name.as_str().to_owned(),
            held,
        })
    }

    fn mapped(m: Mapping) -> mmf::Result<(Mapping, View)> {
        let v = m.map_mut()?;
        Ok((m, v))
    }

    /// Whether the object existed at start-up (Store disabled, Retrieve enabled); otherwise the
    /// reverse.
    pub fn existed_at_start(&self) -> bool {
        self.existed
    }

    /// Store Data: creates the 4 KiB handle-lifetime object, or opens it if it exists
    /// (`CreateFileMapping` semantics), and writes `text` in UTF-8 and a NUL. A text longer than
    /// the object holds is cut at a character boundary.
    ///
    /// # Errors
    /// As for creating and writing the object; an object holding an mmf shared value (made by
    /// `mmf store`) is refused, since the text would overwrite its header.
    pub fn store(&mut self, text: &str) -> Result<Stored, StoreError> {
        if self.held.is_none() {
            let (m, _) = mmf::CreateOptions::new()
                .size(OBJECT_SIZE)
                .lifetime(Lifetime::Handle)
                .open_or_create(self.name.as_str())?;
            self.held = Some(Self::mapped(m)?);
        }
        let (_, view) = self.held.as_ref().expect("opened or created above");
        if holds_value(view) {
            return Err(StoreError::HoldsValue(self.name.clone()));
        }
        let room = view.len().min(OBJECT_SIZE as usize).saturating_sub(1);
        let mut end = text.len().min(room);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        view.write_at(0, &text.as_bytes()[..end])?;
        view.write_at(end, &[0])?;
        Ok(Stored {
            bytes: end,
            cut: end < text.len(),
        })
    }

    /// Retrieve Data: the text up to its NUL (invalid UTF-8 shown as U+FFFD). An object holding
    /// an mmf shared value gives the value instead of its header's bytes.
    ///
    /// # Errors
    /// `NotFound` if the object is gone (no instance stored, or all that held it exited).
    pub fn retrieve(&mut self) -> mmf::Result<String> {
        if self.held.is_none() {
            self.held = Some(Self::mapped(Mapping::open(self.name.as_str())?)?);
        }
        let (_, view) = self.held.as_ref().expect("opened above");
        let bytes = if holds_value(view) {
            let mut value = ValueOptions::new()
                .access(Access::ReadOnly)
                .open(self.name.as_str())?
                .retrieve()?;
            value.truncate(MAX_CHARS);
            value
        } else {
            view.read_vec(0, view.len().min(OBJECT_SIZE as usize))?
        };
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        Ok(String::from_utf8_lossy(&bytes[..end]).into_owned())
    }
}

/// Why Store Data failed.
#[derive(Debug)]
pub enum StoreError {
    /// Creating, opening or writing the object failed (the error names it).
    Mmf(mmf::Error),
    /// The object (named here) holds an mmf shared value, which the text would overwrite.
    HoldsValue(String),
}

impl From<mmf::Error> for StoreError {
    fn from(e: mmf::Error) -> StoreError {
        StoreError::Mmf(e)
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Mmf(e) => e.fmt(f),
            StoreError::HoldsValue(name) => write!(
                f,
                "object '{name}' holds an mmf shared value, which the text would overwrite; \
                 change it with `mmf store {name}`"
            ),
        }
    }
}

/// Whether the object holds an mmf shared value rather than the seed's plain text.
fn holds_value(view: &View) -> bool {
    let len = view.len().min(4096);
    view.read_vec(0, len)
        .map(|head| ValueHeader::parse(&head, view.len() as u64).is_ok())
        .unwrap_or(false)
}

/// The command line: `[--name NAME]`. `Ok(None)` asks for the usage text.
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<String>, String> {
    let mut name = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "-h" | "--help" | "/?" => return Ok(None),
            "--name" => args.next().ok_or("--name needs a value")?,
            _ => match arg.strip_prefix("--name=") {
                Some(v) => v.to_owned(),
                None => return Err(format!("unexpected argument '{arg}'")),
            },
        };
        if name.replace(value).is_some() {
            return Err("--name given twice".into());
        }
    }
    Ok(Some(name.unwrap_or_else(|| DEFAULT_NAME.to_owned())))
}

/// The usage text.
pub const USAGE: &str = "usage: mmf-dialog [--name NAME]\n\n\
    The seed's \"MMF Sharing Data\" dialog. Store Data puts the text into the shared object \
    NAME (default: mmfobject, 4 KiB, alive while an instance holds it); a second instance \
    retrieves it.";

#[cfg(test)]
mod tests {
    use super::*;

    fn unique(tag: &str) -> String {
        format!("mmf-dialog-test-{}-{tag}", std::process::id())
    }

    fn args(a: &[&str]) -> Result<Option<String>, String> {
        parse_args(a.iter().map(|s| s.to_string()))
    }

    #[test]
    fn command_line() {
        assert_eq!(args(&[]), Ok(Some("mmfobject".into())));
        assert_eq!(args(&["--name", "x"]), Ok(Some("x".into())));
        assert_eq!(args(&["--name=y"]), Ok(Some("y".into())));
        assert_eq!(args(&["--help"]), Ok(None));
        assert!(args(&["--name"]).unwrap_err().contains("needs a value"));
        assert!(
            args(&["--name", "a", "--name", "b"])
                .unwrap_err()
                .contains("twice")
        );
        assert!(args(&["other"]).unwrap_err().contains("'other'"));
    }

    /// The seed's walkthrough: the first instance stores, the second finds the object at
    /// start-up and retrieves the text, and the object is gone once both have exited.
    #[test]
    fn two_instances_share_the_text_and_the_object_goes_with_them() {
        let name = unique("two");
        let mut first = Seed::start(&name).unwrap();
        assert!(!first.existed_at_start());
        assert_eq!(first.retrieve().unwrap_err().kind(), ErrorKind::NotFound);
        let stored = first.store("héllo").unwrap();
        assert_eq!(
            stored,
            Stored {
                bytes: 6,
                cut: false
            }
        );

        let mut second = Seed::start(&name).unwrap();
        assert!(second.existed_at_start());
        assert_eq!(second.retrieve().unwrap(), "héllo");
        // Store in the second instance opens the same object.
        second.store("hi").unwrap();
        assert_eq!(first.retrieve().unwrap(), "hi");
        drop(first);
        assert_eq!(second.retrieve().unwrap(), "hi");
        drop(second);
        assert_eq!(
            Mapping::open(name.as_str()).unwrap_err().kind(),
            ErrorKind::NotFound
        );
    }

    #[test]
    fn the_object_is_4_kib_and_a_long_text_is_cut_at_a_character_boundary() {
        let name = unique("long");
        let mut s = Seed::start(&name).unwrap();
        assert_eq!(
            s.store(&"a".repeat(MAX_CHARS)).unwrap(),
            Stored {
                bytes: 4095,
                cut: false
            }
        );
        let other = Mapping::open(name.as_str()).unwrap();
        assert!(other.len() >= OBJECT_SIZE && other.len() < 2 * OBJECT_SIZE);
        // 3000 two-byte characters: 2047 fit with the NUL.
        assert_eq!(
            s.store(&"é".repeat(3000)).unwrap(),
            Stored {
                bytes: 4094,
                cut: true
            }
        );
        assert_eq!(s.retrieve().unwrap(), "é".repeat(2047));
    }

    #[test]
    fn a_shared_value_is_retrieved_as_its_value_and_not_overwritten() {
        let name = unique("value");
        let v = ValueOptions::new()
            .lifetime(Lifetime::Handle)
            .create(name.as_str())
            .unwrap();
        v.store(b"the value").unwrap();
        let mut s = Seed::start(&name).unwrap();
        assert!(s.existed_at_start());
        assert_eq!(s.retrieve().unwrap(), "the value");
        let err = s.store("text").unwrap_err();
        assert!(err.to_string().contains("shared value"), "{err}");
        assert_eq!(v.retrieve().unwrap(), b"the value");
    }

    #[test]
    fn a_bad_name_fails_at_start() {
        let err = Seed::start("a/b").err().unwrap();
        assert_eq!(err.kind(), ErrorKind::InvalidName);
    }
}
