//! Shared values (see the crate documentation).

/// The first eight bytes of every mmf shared value.
pub(crate) const MAGIC: [u8; 8] = *b"MMFVAL\0\x01";
