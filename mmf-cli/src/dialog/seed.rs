//! The seed program's logic (mmf1.asm's `DlgProc`), without any user interface: what happens at
//! start-up, on Store Data and on Retrieve Data, with the same objects and the same rules.

use crate::cmd::Ctx;
use mmf::{ErrorKind, Lifetime, Mapping, View};

/// The seed's object size: `CreateFileMapping(.., 0, 1000h, ..)`.
pub const OBJECT_SIZE: u64 = 4096;
/// The longest text that fits with its NUL.
pub const MAX_TEXT: usize = OBJECT_SIZE as usize - 1;
/// What the seed shows in the field after storing.
pub const NEW_INSTANCE: &str = "Open a new instance now!";

/// One instance of the seed dialog's state.
pub struct Seed {
    ctx: Ctx,
    name: String,
    /// `hFileMapping`: held from start-up (second instance) or from Store (first instance) until
    /// exit, so the object lives while any instance runs, as in Win32.
    mapping: Option<Mapping>,
    /// `lpMappedObject`.
    view: Option<View>,
    /// IDC_BUTTON1 is enabled.
    pub store_enabled: bool,
    /// IDC_BUTTON2 is enabled.
    pub retrieve_enabled: bool,
    /// Whether the object existed at start-up (this is a second instance).
    pub found_at_start: bool,
}

impl Seed {
    /// `initdlg`: `OpenFileMapping(name)`. If the object exists, another instance made it:
    /// Store is disabled. Otherwise Retrieve is disabled.
    ///
    /// # Errors
    /// Anything but "not found" (a bad name, permission denied).
    pub fn start(ctx: &Ctx, name: &str) -> mmf::Result<Seed> {
        let mut seed = Seed {
            ctx: ctx.clone(),
            name: name.to_owned(),
            mapping: None,
            view: None,
            store_enabled: true,
            retrieve_enabled: false,
            found_at_start: false,
        };
        match ctx.open_options().open(name) {
            Ok(m) => {
                seed.mapping = Some(m);
                seed.store_enabled = false;
                seed.retrieve_enabled = true;
                seed.found_at_start = true;
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                // Validate the name now, so a bad one fails at start-up, not on Store.
                mmf::Name::new(name)?;
            }
            Err(e) => return Err(e),
        }
        Ok(seed)
    }

    /// The object's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// "Store Data": `CreateFileMapping(INVALID_HANDLE_VALUE, .., 4096, name)` with handle
    /// lifetime, `MapViewOfFile`, copy the text and its NUL; enable Retrieve, disable Store.
    /// Returns the number of bytes stored (the text is cut at [`MAX_TEXT`] bytes).
    ///
    /// # Errors
    /// As for `CreateOptions::open_or_create` and `View::write_at`; an object that holds an mmf
    /// shared value is refused (the text would overwrite its header).
    pub fn store(&mut self, text: &str) -> anyhow::Result<usize> {
        if self.is_value() {
            anyhow::bail!(
                "{} holds an mmf shared value; store into it with `mmf store {}`",
                crate::exit::object(&self.name),
                self.name
            );
        }
        if self.mapping.is_none() {
            // Like CreateFileMapping, this opens the object if another instance made it since.
            let (m, _) = self
                .ctx
                .create_options()
                .size(OBJECT_SIZE)
                .lifetime(Lifetime::Handle)
                .open_or_create(self.name.as_str())?;
            self.mapping = Some(m);
        }
        let view = self.view()?;
        let bytes = truncate(text, MAX_TEXT.min(view.len().saturating_sub(1)));
        view.write_at(0, bytes.as_bytes())?;
        view.write_at(bytes.len(), &[0])?;
        self.retrieve_enabled = true;
        self.store_enabled = false;
        Ok(bytes.len())
    }

    /// "Retrieve Data": `OpenFileMapping`, `MapViewOfFile`, and the text up to its NUL. An object
    /// that holds an mmf shared value (made by `mmf store`) gives its latest value instead of
    /// its header's bytes.
    ///
    /// # Errors
    /// `NotFound` when every instance that held the object has exited.
    pub fn retrieve(&mut self) -> anyhow::Result<String> {
        if self.mapping.is_none() {
            self.mapping = Some(self.ctx.open_options().open(self.name.as_str())?);
        }
        if self.is_value() {
            let bytes = crate::cmd::values::latest(&self.ctx, &self.name)?;
            let text = String::from_utf8_lossy(&bytes);
            return Ok(truncate(&text, MAX_TEXT).to_owned());
        }
        let view = self.view()?;
        let len = view.len().min(OBJECT_SIZE as usize);
        let bytes = view.read_vec(0, len)?;
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        Ok(String::from_utf8_lossy(&bytes[..end]).into_owned())
    }

    /// Whether the name holds an mmf shared value rather than the seed's plain text.
    fn is_value(&self) -> bool {
        self.ctx.find(&self.name).is_ok_and(|o| o.is_value())
    }

    fn view(&mut self) -> mmf::Result<&View> {
        if self.view.is_none() {
            let m = self
                .mapping
                .as_ref()
                .expect("opened or created before mapping");
            self.view = Some(m.map_mut()?);
        }
        Ok(self.view.as_ref().expect("just mapped"))
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    struct TempDir(std::path::PathBuf);
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn ctx(tag: &str) -> (Ctx, TempDir) {
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            std::path::PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("mmf-cli-seed-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        (
            Ctx {
                dir: Some(dir.clone()),
                ..Ctx::default()
            },
            TempDir(dir),
        )
    }

    /// The seed's walkthrough: first instance stores, second sees it and retrieves, and the
    /// object goes when both exit.
    #[test]
    fn two_instances_share_text() {
        let (ctx, _dir) = ctx("two");
        let mut first = Seed::start(&ctx, "mmfobject").unwrap();
        assert!(!first.found_at_start);
        assert!(first.store_enabled && !first.retrieve_enabled);
        assert_eq!(first.store("héllo").unwrap(), 6);
        assert!(!first.store_enabled && first.retrieve_enabled);

        let mut second = Seed::start(&ctx, "mmfobject").unwrap();
        assert!(second.found_at_start);
        assert!(!second.store_enabled && second.retrieve_enabled);
        assert_eq!(second.retrieve().unwrap(), "héllo");
        assert_eq!(first.retrieve().unwrap(), "héllo");

        drop(first);
        assert_eq!(second.retrieve().unwrap(), "héllo");
        drop(second);
        let err = ctx.open_options().open("mmfobject").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
    }

    #[test]
    fn long_text_is_cut_at_a_character_boundary() {
        let (ctx, _dir) = ctx("long");
        let mut s = Seed::start(&ctx, "long").unwrap();
        let text = "é".repeat(3000); // 6000 bytes
        assert_eq!(s.store(&text).unwrap(), 4094);
        assert_eq!(s.retrieve().unwrap(), "é".repeat(2047));
        assert_eq!(truncate("abc", 2), "ab");
        assert_eq!(truncate("aé", 2), "a");
    }

    /// A shared value under the name gives its value, not its header's bytes, and is not
    /// overwritten by Store.
    #[test]
    fn a_shared_value_is_retrieved_as_its_value() {
        let (ctx, _dir) = ctx("value");
        let _persistent =
            crate::cmd::values::store(&ctx, "v", b"the value", Lifetime::Persistent, None, None)
                .unwrap();
        let mut s = Seed::start(&ctx, "v").unwrap();
        assert!(s.found_at_start);
        assert_eq!(s.retrieve().unwrap(), "the value");
        let err = s.store("text").unwrap_err();
        assert!(format!("{err:#}").contains("shared value"), "{err:#}");
        assert_eq!(crate::cmd::values::latest(&ctx, "v").unwrap(), b"the value");
    }

    #[test]
    fn bad_names_fail_at_start() {
        let (ctx, _dir) = ctx("bad");
        let err = Seed::start(&ctx, "a/b").err().unwrap();
        assert_eq!(err.kind(), ErrorKind::InvalidName);
    }
}
