//! The on-memory format of a shared value (described for other languages in `FORMAT.md`): the
//! constants and offsets, the layout fingerprint, and a pure parser for a copy of the header.
//!
//! Nothing here touches shared memory: the parser works on bytes already copied out, so it can be
//! fuzzed (`mmf/fuzz`) and can never be confused by a concurrent writer. Every field is treated as
//! untrusted; a bad header is an error, never a panic.

use crate::{Error, ErrorKind, Result};

/// The first eight bytes of every mmf shared value.
pub(crate) const MAGIC: [u8; 8] = *b"MMFVAL\0\x01";
/// The format this library reads and writes.
pub(crate) const FORMAT_VERSION: u32 = 4;
/// The formats before this one, whose headers are 192 + 64 · slots bytes (no inline buffers; 3
/// reused data regions, 2 never did): a damaged magic is still recognised on them, and opening
/// one is a version mismatch.
pub(crate) const PREVIOUS_FORMATS: [u32; 2] = [3, 2];
/// The value of the ready word once the creator has initialised the header ("REDY").
pub(crate) const READY: u32 = u32::from_le_bytes(*b"REDY");

// Offsets of the fixed header fields (all little-endian).
pub(crate) const OFF_FORMAT: usize = 8;
pub(crate) const OFF_HEADER_SIZE: usize = 12;
pub(crate) const OFF_SLOTS: usize = 16;
pub(crate) const OFF_FLAGS: usize = 20;
pub(crate) const OFF_LAYOUT_SIZE: usize = 24;
pub(crate) const OFF_LAYOUT_ALIGN: usize = 32;
pub(crate) const OFF_READY: usize = 36;
pub(crate) const OFF_LAYOUT_ID: usize = 40;
pub(crate) const OFF_FINGERPRINT: usize = 48;
pub(crate) const OFF_CREATOR: usize = 56;
/// The control block (`protocol::Control`): 128 bytes of atomics, in two cache lines: what
/// readers poll (64..128) apart from what only writers touch (128..192).
pub(crate) const CONTROL_OFFSET: usize = 64;
pub(crate) const OFF_CURRENT: usize = CONTROL_OFFSET;
pub(crate) const OFF_DATA_END: usize = CONTROL_OFFSET + 88;
pub(crate) const OFF_REGIONS: usize = CONTROL_OFFSET + 104;
/// The two inline buffers (`protocol::Inline`), [`INLINE_MAX`] bytes each: values up to that size
/// live here, next to the readers' cache line, and need no slot.
pub(crate) const INLINE_OFFSET: usize = 192;
/// The largest value stored inline.
pub(crate) const INLINE_MAX: usize = 128;
/// The slot descriptors (`protocol::Slot`), 64 bytes each.
pub(crate) const SLOTS_OFFSET: usize = INLINE_OFFSET + 2 * INLINE_MAX;
pub(crate) const SLOT_SIZE: usize = 64;
/// In the low byte of `current`: the value is in inline buffer `byte & 1`, not in a slot.
pub(crate) const INLINE_TAG: u64 = 0x80;

/// The fewest and most slots a value may have.
pub(crate) const MIN_SLOTS: u32 = 2;
pub(crate) const MAX_SLOTS: u32 = 64;
/// Slot data regions start at multiples of this.
pub(crate) const DATA_ALIGN: u64 = 64;

/// The header size (and the offset of the first data region) for `slots` slots.
pub(crate) fn header_size(slots: u32) -> u64 {
    SLOTS_OFFSET as u64 + SLOT_SIZE as u64 * slots as u64
}

/// The header size of a value of format `format` with `slots` slots (formats 2 and 3 had no
/// inline buffers); `None` for a format this library does not know.
fn header_size_of(format: u32, slots: u32) -> Option<u64> {
    if format == FORMAT_VERSION {
        Some(header_size(slots))
    } else if PREVIOUS_FORMATS.contains(&format) {
        Some(INLINE_OFFSET as u64 + SLOT_SIZE as u64 * slots as u64)
    } else {
        None
    }
}

/// Rounds `n` up to a multiple of [`DATA_ALIGN`]; `None` on overflow.
pub(crate) fn align_data(n: u64) -> Option<u64> {
    n.checked_add(DATA_ALIGN - 1).map(|x| x & !(DATA_ALIGN - 1))
}

/// The layout of a typed value: what [`Shared<T>`](crate::Shared) records at creation and checks
/// on open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ValueLayout {
    /// `size_of::<T>()`.
    pub size: u64,
    /// `align_of::<T>()`.
    pub align: u32,
    /// [`Pod::LAYOUT_ID`](crate::Pod::LAYOUT_ID).
    pub id: u64,
}

impl ValueLayout {
    /// The fingerprint stored in the header: FNV-1a over size, align and id (little-endian,
    /// 8 bytes each), never 0 (0 marks an untyped value).
    pub fn fingerprint(&self) -> u64 {
        crate::pod::fingerprint(self.size, u64::from(self.align), self.id)
    }
}

/// What the header of a shared value says, parsed from a copy of its bytes.
///
/// [`ValueHeader::parse`] is a pure function over bytes, for tools that want to inspect an
/// object (`mmf inspect`) and for fuzzing. It checks everything that can be checked without the
/// value's live state; the live fields (`version`, `data_end`) are a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ValueHeader {
    /// The format version (4).
    pub format_version: u32,
    /// How many slots hold versions of the value.
    pub slots: u32,
    /// Bytes taken by the header; slot data starts here.
    pub header_size: u64,
    /// The layout of a typed value; `None` for an untyped (bytes) value.
    pub layout: Option<ValueLayout>,
    /// The creator's process id (informational).
    pub creator_pid: u32,
    /// The latest version stored when the copy was taken (0: nothing stored yet).
    pub version: u64,
    /// The slot holding that version, or the inline buffer (0 or 1) if
    /// [`current_inline`](Self::current_inline).
    pub current_slot: u32,
    /// Whether that version is a small value stored inline in the header rather than in a slot.
    pub current_inline: bool,
    /// The end of the allocated data area: the object is at least this long.
    pub data_end: u64,
}

/// Why a header copy was refused: a kind and a lowercase explanation.
pub(crate) type ParseError = (ErrorKind, String);

fn u32_at(b: &[u8], off: usize) -> u32 {
    let mut w = [0u8; 4];
    if let Some(s) = b.get(off..off + 4) {
        w.copy_from_slice(s);
    }
    u32::from_le_bytes(w)
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    let mut w = [0u8; 8];
    if let Some(s) = b.get(off..off + 8) {
        w.copy_from_slice(s);
    }
    u64::from_le_bytes(w)
}

impl ValueHeader {
    /// Parses a copy of the first bytes of an object (at least the header; more is ignored).
    /// `object_len` is the object's size, read *after* the copy was taken.
    ///
    /// # Errors
    /// `NotReady` (the header is not initialised yet: all zero, or the ready word is not set),
    /// `Corrupt` (not a shared value, a damaged magic (see
    /// [`has_damaged_magic`](Self::has_damaged_magic)), or fields that contradict each other or
    /// the size), `VersionMismatch` (another format version).
    pub fn parse(bytes: &[u8], object_len: u64) -> Result<ValueHeader> {
        parse(bytes, object_len)
            .map_err(|(kind, detail)| Error::new(kind, "parse", "shared value header", detail))
    }

    /// Whether `bytes`, the first bytes of an object (64 are enough), are a shared value whose
    /// magic was damaged, as opposed to a plain object that is simply not a shared value. Tools
    /// that read plain objects as such (`mmf retrieve`) use it to refuse a damaged value instead
    /// of printing its header as if it were data.
    ///
    /// The magic is damaged when the first 8 bytes are not `"MMFVAL\0\x01"` (whatever they
    /// hold: flipped bits, zeros, text) but the rest of the fixed header is a shared value's:
    /// format version 4 (or 3 or 2) at byte 8, 2 to 64 slots at byte 16, the matching header
    /// size (448 + 64 · slots; 192 + 64 · slots for formats 3 and 2) at byte 12, and the ready
    /// word `"REDY"` at byte 36. An intact magic is
    /// not damaged; plain bytes (zeros, text, even text that starts like the magic, another
    /// program's header) are not either. A value whose header fields were overwritten along with
    /// its magic cannot be told from plain bytes.
    ///
    /// ```
    /// fn main() -> Result<(), mmf::Error> {
    ///     let name = format!("mmf-doc-damaged-magic-{}", std::process::id());
    ///     let v = mmf::SharedValue::create(&name)?;
    ///     let view = v.mapping().map_mut()?;
    ///     assert!(!mmf::ValueHeader::has_damaged_magic(&view.read_vec(0, 64)?));
    ///     view.write_at(0, b"garbage!")?; // the magic is overwritten; the rest is intact
    ///     assert!(mmf::ValueHeader::has_damaged_magic(&view.read_vec(0, 64)?));
    ///     assert!(!mmf::ValueHeader::has_damaged_magic(b"plain text, as C or Python writes it"));
    ///     Ok(())
    /// }
    /// ```
    pub fn has_damaged_magic(bytes: &[u8]) -> bool {
        damaged_magic(bytes)
    }
}

/// Whether `b`, the first bytes of an object, is a shared value whose magic was damaged rather
/// than a plain object: the first 8 bytes are not the magic (flipped bits, zeros, anything), yet
/// the rest of the fixed header is a shared value's: format version 4, 3 or 2 at byte 8, 2 to 64
/// slots at byte 16, that format's header size at byte 12 (448 + 64 · slots; 192 + 64 · slots
/// for 3 and 2), and the ready word `"REDY"` at byte 36
/// (a creator writes the magic before it publishes `ready`, so a sound value never has a wrong
/// magic and a set ready word).
///
/// Anything else without the magic is a plain object, whatever its first bytes: zeros, text (even
/// text that starts like the magic, such as the C string `"MMFVAL"`, which differs from it in one
/// bit), another program's header. Plain bytes pass these checks only if 16 of their first 40
/// bytes hold exactly these values (about 2^-90 for random bytes). A value whose magic *and*
/// header fields were both overwritten cannot be told from plain bytes, and is read as such.
pub(crate) fn damaged_magic(b: &[u8]) -> bool {
    match b.get(..8) {
        Some(m) if m != MAGIC => {}
        _ => return false,
    }
    if b.len() < OFF_READY + 4 {
        return false;
    }
    let slots = u32_at(b, OFF_SLOTS);
    (MIN_SLOTS..=MAX_SLOTS).contains(&slots)
        && header_size_of(u32_at(b, OFF_FORMAT), slots)
            == Some(u64::from(u32_at(b, OFF_HEADER_SIZE)))
        && u32_at(b, OFF_READY) == READY
}

/// The parser behind [`ValueHeader::parse`], with errors that callers attach to an object.
pub(crate) fn parse(b: &[u8], object_len: u64) -> std::result::Result<ValueHeader, ParseError> {
    let have = (b.len() as u64).min(object_len);
    let magic = b.get(..8);
    match magic {
        Some(m) if m == MAGIC => {}
        Some(m) if damaged_magic(b) => {
            return Err((
                ErrorKind::Corrupt,
                format!(
                    "it is an mmf shared value whose magic is damaged: the first 8 bytes are \
                     {:02x?}, not \"MMFVAL\\0\\x01\", but the rest of its header is a shared \
                     value's",
                    m
                ),
            ))
        }
        Some(m) if m.iter().all(|&x| x == 0) && have >= SLOTS_OFFSET as u64 => {
            return Err((
                ErrorKind::NotReady,
                "its header is not initialised (all zero): the creator has not finished, or it is \
                 not a shared value"
                    .into(),
            ));
        }
        Some(m) => {
            return Err((
                ErrorKind::Corrupt,
                format!(
                    "it is not an mmf shared value: the first 8 bytes are {:02x?}, not the magic \
                     \"MMFVAL\\0\\x01\"",
                    m
                ),
            ))
        }
        None => {
            return Err((
                ErrorKind::Corrupt,
                format!(
                    "it is truncated: {} bytes, less than the {}-byte header of a shared value",
                    have, SLOTS_OFFSET
                ),
            ))
        }
    }
    let format_version = u32_at(b, OFF_FORMAT);
    if have >= (OFF_FORMAT + 4) as u64 && format_version != FORMAT_VERSION {
        return Err((
            ErrorKind::VersionMismatch,
            format!(
                "it has format version {}; this library reads version {}",
                format_version, FORMAT_VERSION
            ),
        ));
    }
    if have < SLOTS_OFFSET as u64 {
        return Err((
            ErrorKind::Corrupt,
            format!(
                "it is truncated: {} bytes, less than the {}-byte fixed header",
                have, SLOTS_OFFSET
            ),
        ));
    }
    let ready = u32_at(b, OFF_READY);
    if ready == 0 {
        return Err((
            ErrorKind::NotReady,
            "its creator has not published the header yet (the ready word is 0)".into(),
        ));
    }
    if ready != READY {
        return Err((
            ErrorKind::Corrupt,
            format!("its ready word is {:#010x}, neither 0 nor \"REDY\"", ready),
        ));
    }
    let flags = u32_at(b, OFF_FLAGS);
    if flags != 0 {
        return Err((
            ErrorKind::VersionMismatch,
            format!(
                "it uses format flags {:#x} that this library does not know",
                flags
            ),
        ));
    }
    let slots = u32_at(b, OFF_SLOTS);
    if !(MIN_SLOTS..=MAX_SLOTS).contains(&slots) {
        return Err((
            ErrorKind::Corrupt,
            format!(
                "its header claims {} slots; a value has {} to {}",
                slots, MIN_SLOTS, MAX_SLOTS
            ),
        ));
    }
    let header_size = u32_at(b, OFF_HEADER_SIZE) as u64;
    if header_size != self::header_size(slots) {
        return Err((
            ErrorKind::Corrupt,
            format!(
                "its header size {} does not match its {} slots ({} expected)",
                header_size,
                slots,
                self::header_size(slots)
            ),
        ));
    }
    if have < header_size {
        return Err((
            ErrorKind::Corrupt,
            format!(
                "it is truncated: {} bytes, less than its {}-byte header",
                have, header_size
            ),
        ));
    }
    let fingerprint = u64_at(b, OFF_FINGERPRINT);
    let layout = ValueLayout {
        size: u64_at(b, OFF_LAYOUT_SIZE),
        align: u32_at(b, OFF_LAYOUT_ALIGN),
        id: u64_at(b, OFF_LAYOUT_ID),
    };
    let layout = if fingerprint == 0 {
        if layout
            != (ValueLayout {
                size: 0,
                align: 0,
                id: 0,
            })
        {
            return Err((
                ErrorKind::Corrupt,
                "it is marked untyped but records a type layout".into(),
            ));
        }
        None
    } else {
        if !layout.align.is_power_of_two() || layout.fingerprint() != fingerprint {
            return Err((
                ErrorKind::Corrupt,
                format!(
                    "its layout record (size {}, align {}, id {:#x}) does not match its \
                     fingerprint {:#x}",
                    layout.size, layout.align, layout.id, fingerprint
                ),
            ));
        }
        Some(layout)
    };
    let data_end = u64_at(b, OFF_DATA_END);
    if data_end < header_size || data_end > object_len || data_end % DATA_ALIGN != 0 {
        return Err((
            ErrorKind::Corrupt,
            if data_end > object_len {
                format!(
                    "it is truncated: its data ends at byte {} but the object has {} bytes",
                    data_end, object_len
                )
            } else {
                format!(
                    "its data end {} is not a {}-byte boundary past the header",
                    data_end, DATA_ALIGN
                )
            },
        ));
    }
    let current = u64_at(b, OFF_CURRENT);
    let current_inline = current != 0 && current & INLINE_TAG != 0;
    let current_slot = if current_inline {
        (current & !INLINE_TAG & 0xff) as u32
    } else {
        (current & 0xff) as u32
    };
    if current_inline && current_slot > 1 {
        return Err((
            ErrorKind::Corrupt,
            format!(
                "its current version is in inline buffer {}, but it has two",
                current_slot
            ),
        ));
    }
    if current != 0 && !current_inline && current_slot >= slots {
        return Err((
            ErrorKind::Corrupt,
            format!(
                "its current version is in slot {}, but it has {} slots",
                current_slot, slots
            ),
        ));
    }
    Ok(ValueHeader {
        format_version,
        slots,
        header_size,
        layout,
        creator_pid: u64_at(b, OFF_CREATOR) as u32,
        version: current >> 8,
        current_slot,
        current_inline,
        data_end,
    })
}

/// Writes the fixed part of a new header (everything but the ready word and the live fields).
pub(crate) fn encode_fixed(slots: u32, layout: Option<ValueLayout>, creator: u64) -> [u8; 64] {
    let mut h = [0u8; 64];
    h[..8].copy_from_slice(&MAGIC);
    h[OFF_FORMAT..OFF_FORMAT + 4].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h[OFF_HEADER_SIZE..OFF_HEADER_SIZE + 4]
        .copy_from_slice(&(header_size(slots) as u32).to_le_bytes());
    h[OFF_SLOTS..OFF_SLOTS + 4].copy_from_slice(&slots.to_le_bytes());
    if let Some(l) = layout {
        h[OFF_LAYOUT_SIZE..OFF_LAYOUT_SIZE + 8].copy_from_slice(&l.size.to_le_bytes());
        h[OFF_LAYOUT_ALIGN..OFF_LAYOUT_ALIGN + 4].copy_from_slice(&l.align.to_le_bytes());
        h[OFF_LAYOUT_ID..OFF_LAYOUT_ID + 8].copy_from_slice(&l.id.to_le_bytes());
        h[OFF_FINGERPRINT..OFF_FINGERPRINT + 8].copy_from_slice(&l.fingerprint().to_le_bytes());
    }
    h[OFF_CREATOR..OFF_CREATOR + 8].copy_from_slice(&creator.to_le_bytes());
    h
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn valid(slots: u32, layout: Option<ValueLayout>) -> Vec<u8> {
        let hs = header_size(slots) as usize;
        let mut b = vec![0u8; hs];
        b[..64].copy_from_slice(&encode_fixed(slots, layout, 42));
        b[OFF_READY..OFF_READY + 4].copy_from_slice(&READY.to_le_bytes());
        b[OFF_DATA_END..OFF_DATA_END + 8].copy_from_slice(&(hs as u64).to_le_bytes());
        b
    }

    #[test]
    fn round_trip() {
        let l = ValueLayout {
            size: 24,
            align: 8,
            id: 7,
        };
        let b = valid(8, Some(l));
        let h = parse(&b, b.len() as u64).unwrap();
        assert_eq!(h.slots, 8);
        assert_eq!(h.layout, Some(l));
        assert_eq!(h.version, 0);
        assert_eq!(h.creator_pid, 42);
        let b = valid(2, None);
        assert_eq!(parse(&b, b.len() as u64).unwrap().layout, None);
    }

    #[test]
    fn refusals() {
        let kind = |b: &[u8], len: u64| parse(b, len).unwrap_err().0;
        let good = valid(4, None);
        let n = good.len() as u64;
        assert_eq!(kind(&[], 0), ErrorKind::Corrupt);
        assert_eq!(kind(&good[..100], 100), ErrorKind::Corrupt);
        assert_eq!(kind(&good, 100), ErrorKind::Corrupt);
        assert_eq!(kind(&vec![0u8; 512], 512), ErrorKind::NotReady);
        let mut b = good.clone();
        b[0] = b'X';
        assert_eq!(kind(&b, n), ErrorKind::Corrupt);
        let mut b = good.clone();
        b[OFF_FORMAT] = 1; // the first format, with one control cache line
        assert_eq!(kind(&b, n), ErrorKind::VersionMismatch);
        // The second, whose data regions were never reused, and the third, without inline
        // buffers (their own header sizes, so the versions are what is refused).
        for old in PREVIOUS_FORMATS {
            b[OFF_FORMAT] = old as u8;
            let hs = INLINE_OFFSET as u32 + 64 * 4;
            b[OFF_HEADER_SIZE..OFF_HEADER_SIZE + 4].copy_from_slice(&hs.to_le_bytes());
            let e = parse(&b, n).unwrap_err();
            assert_eq!(e.0, ErrorKind::VersionMismatch);
            assert!(
                e.1.contains(&format!("format version {}", old)) && e.1.contains("reads version 4"),
                "{}",
                e.1
            );
        }
        b[OFF_FORMAT] = 5;
        assert_eq!(kind(&b, n), ErrorKind::VersionMismatch);
        let mut b = good.clone();
        b[OFF_READY..OFF_READY + 4].copy_from_slice(&[0; 4]);
        assert_eq!(kind(&b, n), ErrorKind::NotReady);
        let mut b = good.clone();
        b[OFF_SLOTS] = 200;
        assert_eq!(kind(&b, n), ErrorKind::Corrupt);
        let mut b = good.clone();
        b[OFF_FINGERPRINT] = 1;
        assert_eq!(kind(&b, n), ErrorKind::Corrupt);
        let mut b = good.clone();
        b[OFF_DATA_END..OFF_DATA_END + 8].copy_from_slice(&(n + 64).to_le_bytes());
        assert_eq!(kind(&b, n), ErrorKind::Corrupt);
        let mut b = good.clone();
        b[OFF_CURRENT..OFF_CURRENT + 8].copy_from_slice(&((5u64 << 8) | 9).to_le_bytes());
        assert_eq!(kind(&b, n), ErrorKind::Corrupt);
        // Inline buffers 0 and 1 exist; 2 does not.
        let mut b = good;
        for (tag, ok) in [(0x80u64, true), (0x81, true), (0x82, false), (0xff, false)] {
            b[OFF_CURRENT..OFF_CURRENT + 8].copy_from_slice(&((5u64 << 8) | tag).to_le_bytes());
            match parse(&b, n) {
                Ok(h) => {
                    assert!(ok && h.current_inline, "{:#x}", tag);
                    assert_eq!(h.current_slot as u64, tag & 1);
                }
                Err(e) => assert!(!ok && e.0 == ErrorKind::Corrupt, "{:#x}", tag),
            }
        }
    }

    #[test]
    fn damaged_magic_is_told_from_plain_bytes() {
        let good = valid(4, None);
        assert!(!damaged_magic(&good));
        let n = good.len() as u64;
        // Format 3's header (no inline buffers) with a damaged magic is still a damaged value.
        let mut b = good.clone();
        b[OFF_FORMAT] = 3;
        b[OFF_HEADER_SIZE..OFF_HEADER_SIZE + 4].copy_from_slice(&(192u32 + 64 * 4).to_le_bytes());
        b[0] = b'X';
        assert!(damaged_magic(&b));
        b[OFF_HEADER_SIZE..OFF_HEADER_SIZE + 4].copy_from_slice(&(448u32 + 64 * 4).to_le_bytes());
        assert!(!damaged_magic(&b));
        // Flipped bits, with the rest of the header intact; without it, plain bytes.
        for bits in [1u8, 0x81, 0xff] {
            let mut b = good.clone();
            b[3] ^= bits;
            assert!(damaged_magic(&b), "{:#x}", bits);
            assert!(!damaged_magic(&b[..8]), "{:#x}", bits);
            let e = parse(&b, n).unwrap_err();
            assert_eq!(e.0, ErrorKind::Corrupt);
            assert!(e.1.contains("magic is damaged"), "{}", e.1);
        }
        // Overwritten or zeroed, with the rest intact.
        for head in [*b"NOTVALUE", [0; 8]] {
            let mut b = good.clone();
            b[..8].copy_from_slice(&head);
            assert!(damaged_magic(&b));
            assert_eq!(parse(&b, n).unwrap_err().0, ErrorKind::Corrupt);
        }
        // Plain bytes: text, zeros, text that starts like the magic, the C string "MMFVAL".
        let mut c_string = vec![0u8; 4096];
        c_string[..6].copy_from_slice(b"MMFVAL");
        for plain in [
            &b"typed by the user\0"[..],
            &[0u8; 4096][..],
            b"MMFVAL is not a header, it is text",
            &c_string,
            &[],
        ] {
            assert!(!damaged_magic(plain), "{:?}", plain);
        }
        // Zeros with a ready word but not a header's other fields: not a value.
        let mut b = vec![0u8; 192];
        b[OFF_READY..OFF_READY + 4].copy_from_slice(&READY.to_le_bytes());
        assert!(!damaged_magic(&b));
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..2000 {
            let mut b = valid(3, None);
            let n = (round % 7) * 3 + 1;
            for _ in 0..n {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let i = (x as usize) % b.len();
                b[i] = (x >> 32) as u8;
            }
            let _ = parse(&b, (x >> 40) % 1024);
            let _ = parse(&b[..(x as usize) % b.len()], b.len() as u64);
        }
    }
}
