//! Consecutive views over a whole mapping, for scanning a large object or file a piece at a time.

use super::View;
use crate::mapping::Mapping;
use crate::sys;
use crate::types::{Access, Advice};
use crate::Result;

/// An iterator over consecutive views of a mapping, each `chunk_len` bytes long (the last one
/// may be shorter); see [`Mapping::chunks`].
#[must_use = "iterators are lazy and map nothing unless consumed"]
#[derive(Debug)]
pub struct Chunks {
    mapping: Mapping,
    next: u64,
    end: u64,
    chunk_len: u64,
    access: Access,
}

impl Chunks {
    pub(crate) fn new(mapping: &Mapping, chunk_len: usize, access: Access) -> Chunks {
        let gran = sys::allocation_granularity() as u64;
        let chunk_len = (chunk_len as u64).max(gran);
        let chunk_len = chunk_len - chunk_len % gran;
        Chunks {
            mapping: mapping.clone(),
            next: 0,
            end: mapping.len(),
            chunk_len,
            access,
        }
    }
}

impl Iterator for Chunks {
    type Item = Result<View>;

    fn next(&mut self) -> Option<Result<View>> {
        if self.next >= self.end {
            return None;
        }
        let len = (self.end - self.next).min(self.chunk_len) as usize;
        let v = View::new(&self.mapping, self.next, len, self.access, None);
        self.next += len as u64;
        Some(v.map(|v| {
            // Readahead hint only; a kernel that refuses it changes nothing.
            let _ = v.advise(Advice::Sequential);
            v
        }))
    }
}
