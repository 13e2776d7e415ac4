//! Test payloads for shared values, shared by the helper binary (`src/bin/mmf-testhelper.rs`,
//! through `#[path]`) and the integration tests: `len < 16`: every byte is `len ^ 0xa5`;
//! otherwise an 8-byte id, a body, and 8 bytes sealing the body's hash with the id. A mix of two
//! payloads fails the check.
#![allow(dead_code)]

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn hash(b: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(0x0000_0100_0000_01b3);
        h ^= h >> 29;
    }
    for &x in chunks.remainder() {
        h = (h ^ x as u64).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The last 8 bytes: the hash of the body (bytes 8..len-8) sealed with the id (bytes 0..8).
fn seal(body_hash: u64, id: u64) -> u64 {
    mix(body_hash ^ mix(id))
}

pub fn make(id: u64, len: usize, out: &mut Vec<u8>) {
    out.clear();
    if len < 16 {
        out.resize(len, len as u8 ^ 0xa5);
        return;
    }
    out.extend_from_slice(&id.to_le_bytes());
    let mut k = 0u64;
    while out.len() + 8 <= len - 8 {
        out.extend_from_slice(&mix(id ^ k).to_le_bytes());
        k += 1;
    }
    while out.len() < len - 8 {
        out.push(k as u8);
    }
    let h = seal(hash(&out[8..]), id);
    out.extend_from_slice(&h.to_le_bytes());
}

/// A large payload whose id changes without rewriting or rehashing its body (built once by
/// repeating a 64 KiB block): `len >= 16`.
pub struct Fixed {
    buf: Vec<u8>,
    body_hash: u64,
}

impl Fixed {
    pub fn new(seed: u64, len: usize) -> Fixed {
        let mut block = Vec::new();
        make(seed, 64 << 10, &mut block);
        let mut buf = Vec::with_capacity(len);
        while buf.len() < len {
            let n = (len - buf.len()).min(block.len());
            buf.extend_from_slice(&block[..n]);
        }
        let body_hash = hash(&buf[8..len - 8]);
        Fixed { buf, body_hash }
    }

    pub fn with_id(&mut self, id: u64) -> &[u8] {
        let n = self.buf.len();
        self.buf[..8].copy_from_slice(&id.to_le_bytes());
        let tail = seal(self.body_hash, id);
        self.buf[n - 8..].copy_from_slice(&tail.to_le_bytes());
        &self.buf
    }
}

pub fn check(b: &[u8]) -> bool {
    if b.len() < 16 {
        return b.iter().all(|&x| x == b.len() as u8 ^ 0xa5);
    }
    let word = |at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[at..at + 8]);
        u64::from_le_bytes(w)
    };
    seal(hash(&b[8..b.len() - 8]), word(0)) == word(b.len() - 8)
}

/// [`make`] into a new vector.
#[allow(dead_code)]
pub fn make_vec(id: u64, len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    make(id, len, &mut out);
    out
}

/// The id of a payload (its first 8 bytes).
#[allow(dead_code)]
pub fn id(b: &[u8]) -> Option<u64> {
    let mut w = [0u8; 8];
    w.copy_from_slice(b.get(..8)?);
    Some(u64::from_le_bytes(w))
}
