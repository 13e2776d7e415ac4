//! Streaming: values stored from an `io::Read` and retrieved into an `io::Write` (or read through
//! [`ValueReader`]) a bounded piece at a time, never buffered whole in the process.
//!
//! A streamed store claims a slot under the writer lock exactly as a whole store does, fills it
//! piece by piece and publishes it at the end; a failure at any point (the reader failed or ended
//! early, the object could not grow) gives the claim up unpublished, so the current value is
//! never touched, and a writer killed mid-stream leaves what a killed whole store leaves. A
//! streamed read holds the slot of one version pinned (renewing the pin as it goes) and validates
//! every piece before it hands it out, so the bytes a caller receives are always the version's.
//!
//! The raw forms (`store_raw`, `retrieve_raw`) take the same paths for a caller's memory given
//! as a pointer and a length, copied in one piece straight to or from the slot.
//!
//! # Safety
//! The only `unsafe` here forwards the raw forms' pointers, which their callers vouch for, to
//! `View::write_raw` and `View::read_raw`, which check the view's side of the range, or, for
//! values stored inline (at most 128 bytes), to `copy::copy_shared` with a private buffer on the
//! other side.
#![allow(unsafe_code)]

use super::protocol::{self, Claim, Held};
use super::*;
use std::io;

/// The size of one piece: the most a stream holds in memory at a time.
const PIECE: usize = 1 << 20;
/// The size of one piece a store or `retrieve_with` passes through its buffer: small enough that
/// the piece stays in the CPU's cache between the copy that fills it and the one that empties it
/// (as `cp` does, whose buffer is 128 KiB). With 1 MiB pieces, both copies went through memory:
/// `perf` put most of a 1 GiB store's and retrieve's time in the kernel's copy into the buffer.
const STREAM_PIECE: usize = 128 << 10;
/// How many bytes a stream touches before it drops the pages behind it from its resident set.
const DROP_EVERY: u64 = 8 << 20;
/// Pieces at least this large go through the object's handle (`pread`/`pwrite`) rather than a
/// view, where the platform can: a system call costs less than the page faults of first touching
/// that much of a mapping, and much more than copying a small piece that is mapped already.
const THROUGH_MIN: usize = 64 << 10;
/// How often a streamed read renews its pin (well inside `protocol::PIN_TTL_MS`).
const RENEW_MS: u64 = 1_000;

impl SharedValue {
    /// Stores exactly `len` bytes read from `reader` as the new value, a piece at a time (the
    /// value is never held whole in memory), and returns its version. Readers see the previous
    /// value until the last byte is in, then this one, whole.
    ///
    /// The writer lock is held while `reader` is read, so other stores wait for it (and give up
    /// with `Busy` after their [`lock_timeout`](ValueOptions::lock_timeout) if the reader is
    /// slow).
    ///
    /// ```
    /// use mmf::SharedValue;
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let name = format!("mmf-doc-store-from-{}", std::process::id());
    ///     let value = SharedValue::create(&name)?;
    ///     let file = vec![42u8; 3 << 20]; // anything that implements `io::Read`
    ///     value.store_from(&file[..], file.len() as u64)?;
    ///
    ///     let mut out = Vec::new();
    ///     value.retrieve_to(&mut out)?;
    ///     assert_eq!(out, file);
    ///     Ok(())
    /// }
    /// ```
    ///
    /// # Errors
    /// As for [`store`](Self::store); `InvalidInput` when `reader` ends before `len` bytes
    /// (`UnexpectedEof` underneath) or fails (its error underneath). Nothing is stored after an
    /// error: the previous value stays current.
    pub fn store_from(&self, reader: impl io::Read, len: u64) -> Result<u64> {
        self.store_stream(reader, Some(len))
    }

    /// Stores everything `reader` gives until its end as the new value, growing the value's
    /// space as it comes (for input of unknown length, such as a pipe); otherwise as
    /// [`store_from`](Self::store_from).
    ///
    /// # Errors
    /// As for [`store_from`](Self::store_from).
    pub fn store_streamed(&self, reader: impl io::Read) -> Result<u64> {
        self.store_stream(reader, None)
    }

    /// Writes the latest value into `writer` a piece at a time and returns its version (0:
    /// nothing stored yet, nothing written). `writer` is flushed at the end.
    ///
    /// # Errors
    /// As for [`ValueReader::fill`]; an error of `writer` (kind from its OS error, the error
    /// underneath). If the error comes after the first piece was written, `writer` holds a prefix
    /// of the value.
    pub fn retrieve_to(&self, mut writer: impl io::Write) -> Result<u64> {
        let v = self.retrieve_with(|piece| writer.write_all(piece))?;
        writer
            .flush()
            .map_err(|e| self.inner.sink_error("retrieve", e))?;
        Ok(v)
    }

    /// Calls `f` with consecutive pieces of the latest value (at most 1 MiB each, copied out and
    /// validated: every byte `f` sees belongs to the version returned) and returns its version
    /// (0: nothing stored yet, `f` not called). An error from `f` stops the read and is
    /// returned.
    ///
    /// If the value is replaced before the first piece was handed out, this starts again with
    /// the new one; after that, see [`ValueReader::fill`].
    ///
    /// # Errors
    /// As for [`ValueReader::fill`]; `f`'s error (kind from its OS error, the error underneath).
    pub fn retrieve_with(&self, mut f: impl FnMut(&[u8]) -> io::Result<()>) -> Result<u64> {
        loop {
            let mut reader = self.reader()?;
            let mut space = Vec::new();
            let phase = buffer_phase(reader.held.map_or(0, |h| h.offset), false);
            let buf = aligned(
                &mut space,
                (reader.len().min(STREAM_PIECE as u64)) as usize,
                phase,
            );
            let mut sent = false;
            loop {
                match reader.fill(buf) {
                    Ok(0) => return Ok(reader.version()),
                    Ok(n) => {
                        f(&buf[..n]).map_err(|e| self.inner.sink_error("retrieve", e))?;
                        sent = true;
                    }
                    Err(e) if !sent && e.kind() == ErrorKind::Busy => break,
                    Err(e) => return Err(e),
                }
            }
        }
    }

    /// Stores the `len` bytes at `src` as the new value and returns its version: [`store`] for
    /// a source that is not a private slice, such as a mapping of another object or a buffer
    /// another language lends (a Python `memoryview`, a C array). The bytes go straight into the
    /// value's slot in one copy whose every access is atomic, so the source may change while it
    /// is copied (another thread or process writes it): the value stored is then a mix of its old
    /// and new bytes, as the source was while it was read, never undefined behaviour. Readers
    /// still see each stored value whole.
    ///
    /// ```
    /// use mmf::{Mapping, SharedValue};
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let name = format!("mmf-doc-store-raw-{}", std::process::id());
    ///     let value = SharedValue::create(&name)?;
    ///     // Bytes that others may write while they are copied: here a mapping.
    ///     let frame = Mapping::anonymous(4096)?.map_mut()?;
    ///     frame.write_at(0, b"frame 1")?;
    ///     // SAFETY: `frame` maps 4,096 readable bytes and lives until after the call.
    ///     let version = unsafe { value.store_raw(frame.as_ptr(), 7) }?;
    ///
    ///     let mut out = [0u8; 16];
    ///     // SAFETY: `out` is 16 writable bytes that live until after the call.
    ///     let (got, len) = unsafe { value.retrieve_raw(out.as_mut_ptr(), out.len()) }?;
    ///     assert_eq!((got, &out[..len]), (version, &b"frame 1"[..]));
    ///     Ok(())
    /// }
    /// ```
    ///
    /// # Safety
    /// `src .. src + len` must be readable for the whole call: mapped, and not freed or unmapped
    /// by another thread meanwhile. Nothing else is required of it; it may be written
    /// concurrently, by anyone.
    ///
    /// # Errors
    /// As for [`store`].
    ///
    /// [`store`]: Self::store
    pub unsafe fn store_raw(&self, src: *const u8, len: usize) -> Result<u64> {
        let inner = &*self.inner;
        let op = "store into";
        inner.check_store(Some(len as u64))?;
        const MAX: usize = protocol::INLINE_MAX as usize;
        if len <= MAX {
            // Stored inline, from a private copy (at most 128 bytes).
            let mut small = [0u8; MAX];
            // SAFETY: `len <= MAX` readable bytes at `src` (the caller), writable ones in
            // `small`; both sides are accessed atomically.
            unsafe { crate::copy::copy_shared(small.as_mut_ptr(), src, len, len) };
            return self.store(&small[..len]);
        }
        inner.guarded(op, || {
            let mut data = inner.data_view();
            let guard = inner.lock_writer(&data)?;
            let claim = loop {
                let target = Bytes::new(&data);
                let outcome = inner.region(&target).begin(&guard.host, len as u64);
                target.take()?;
                match outcome {
                    Ok(c) => break c,
                    Err(s) => {
                        inner.settle(op, s, &mut data)?;
                    }
                }
            };
            // `begin` gave the claim a region of at least `len` bytes inside `data`.
            let wrote = match usize::try_from(claim.offset) {
                // SAFETY: the source is forwarded from the caller; `write_raw` checks the range
                // of the view it writes.
                Ok(at) => unsafe { data.write_raw(at, src, len) },
                Err(_) => Err(outside(inner, op)),
            };
            match wrote {
                Ok(()) => {
                    let target = Bytes::new(&data);
                    Ok(inner
                        .region(&target)
                        .publish(&guard.host, &claim, len as u64))
                }
                Err(e) => {
                    inner.region(&Bytes::new(&data)).abandon(&claim);
                    Err(slot_fault(inner, op, e))
                }
            }
        })
    }

    /// Copies the latest value to the `capacity` bytes at `dst` and returns its version and
    /// length (`(0, 0)`: nothing stored yet): [`retrieve_into`] for a destination that is not a
    /// private vector, such as a buffer another language lends (a numpy array, a C array), with
    /// no copy in between. The value's slot is pinned while it is copied and the copy validated
    /// afterwards, so the bytes at `dst` are one stored value, whole, when this returns. Every
    /// access to `dst` is atomic: others may read or write it meanwhile (they see some mix of
    /// its old and new bytes; what they write may be overwritten).
    ///
    /// See [`store_raw`](Self::store_raw) for an example.
    ///
    /// # Safety
    /// `dst .. dst + capacity` must be writable for the whole call: mapped, and not freed or
    /// unmapped by another thread meanwhile.
    ///
    /// # Errors
    /// `InvalidInput` when the value is longer than `capacity` (the message says both lengths;
    /// nothing was copied); otherwise as for [`retrieve`](Self::retrieve). After an error the
    /// bytes at `dst` are unspecified.
    ///
    /// [`retrieve_into`]: Self::retrieve_into
    pub unsafe fn retrieve_raw(&self, dst: *mut u8, capacity: usize) -> Result<(u64, usize)> {
        let inner = &*self.inner;
        let op = "retrieve";
        loop {
            let reader = self.reader()?;
            let held = match reader.held {
                Some(h) => h,
                None => return Ok((0, 0)),
            };
            // `hold` checked `offset + len` against a mapped length, so `len` fits in usize.
            let len = held.len as usize;
            if len > capacity {
                return Err(inner.error(
                    ErrorKind::InvalidInput,
                    op,
                    format!(
                        "the value has {} bytes and the destination holds only {}",
                        len, capacity
                    ),
                ));
            }
            if let Some(copy) = &held.inline {
                // Copied and validated when it was held.
                // SAFETY: `len <= capacity` writable bytes at `dst` (the caller); `len` bytes of
                // the private copy (`hold` checked `len <= INLINE_MAX`).
                unsafe { crate::copy::copy_shared(dst, copy.as_ptr(), len, len) };
                return Ok((held.version, len));
            }
            let view = &*reader.view;
            let stable = inner.guarded(op, || {
                let read = match usize::try_from(held.offset) {
                    // SAFETY: `len <= capacity` writable bytes at `dst`, from the caller;
                    // `read_raw` checks the range of the view it reads.
                    Ok(at) => unsafe { view.read_raw(at, dst, len) },
                    Err(_) => Err(outside(inner, op)),
                };
                read.map_err(|e| slot_fault(inner, op, e))?;
                Ok(inner.region(&Bytes::new(view)).stable(&held))
            })?;
            // A writer took the slot back meanwhile (see `ValueReader`): read the new value.
            if stable {
                return Ok((held.version, len));
            }
        }
    }

    /// Holds the latest version for reading through [`std::io::Read`] (or
    /// [`ValueReader::fill`]): its slot stays pinned until the reader is dropped, so writers
    /// store into other slots meanwhile, and every piece read is validated before it is handed
    /// out. The version and length are known at once.
    ///
    /// ```
    /// use mmf::SharedValue;
    /// use std::io::Read;
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let name = format!("mmf-doc-reader-{}", std::process::id());
    ///     let value = SharedValue::create(&name)?;
    ///     value.store(b"read me in pieces")?;
    ///
    ///     let mut reader = value.reader()?;
    ///     assert_eq!(reader.len(), 17);
    ///     let mut first = [0u8; 4];
    ///     reader.read_exact(&mut first)?;
    ///     assert_eq!(&first, b"read");
    ///     let mut rest = String::new();
    ///     reader.read_to_string(&mut rest)?;
    ///     assert_eq!(rest, " me in pieces");
    ///     Ok(())
    /// }
    /// ```
    ///
    /// # Errors
    /// As for [`retrieve`](Self::retrieve).
    pub fn reader(&self) -> Result<ValueReader> {
        let inner = &*self.inner;
        let held = inner.guarded("retrieve", || {
            let host = inner.host();
            let mut data = inner.data_view();
            loop {
                let bytes = Bytes::new(&data);
                let outcome = inner.region(&bytes).hold(&host);
                bytes.take()?;
                match outcome {
                    Ok(h) => return Ok((Some(h), data)),
                    Err(r) => match inner.unreadable(r)? {
                        Some(need) => data = inner.remap("retrieve", need, false)?,
                        None => return Ok((None, data)),
                    },
                }
            }
        })?;
        let (held, view) = held;
        Ok(ValueReader {
            value: self.clone(),
            view,
            held,
            pos: 0,
            renewed: sys::now_ms(),
            dropped: 0,
        })
    }

    /// A value that may fit inline (a known length up to `INLINE_MAX`, or an unknown one) is
    /// read first, up to one byte more than fits: if it ends there it is stored whole, inline;
    /// otherwise the bytes read go first into the streamed store.
    fn store_stream<R: io::Read>(&self, mut reader: R, len: Option<u64>) -> Result<u64> {
        let inner = &*self.inner;
        inner.check_store(len)?;
        const MAX: usize = protocol::INLINE_MAX as usize;
        if len.map_or(false, |l| l > MAX as u64) {
            return self.store_pieces(reader, len);
        }
        let want = len.map_or(MAX + 1, |l| l as usize);
        let mut small = [0u8; MAX + 1];
        let mut got = 0;
        while got < want {
            match read_some(&mut reader, &mut small[got..want]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) => return Err(input_failed(inner, got as u64, e)),
            }
        }
        if got <= MAX && len.map_or(true, |l| l == got as u64) {
            return self.store(&small[..got]);
        }
        // Longer than fits (or shorter than announced: the streamed store reports it).
        self.store_pieces(io::Read::chain(&small[..got], reader), len)
    }

    fn store_pieces<R: io::Read>(&self, mut reader: R, len: Option<u64>) -> Result<u64> {
        let inner = &*self.inner;
        inner.guarded("store into", || {
            let mut data = inner.data_view();
            let guard = inner.lock_writer(&data)?;
            let mut claim = loop {
                let target = Bytes::new(&data);
                let outcome = inner.region(&target).begin(&guard.host, len.unwrap_or(0));
                target.take()?;
                match outcome {
                    Ok(c) => break c,
                    Err(s) => {
                        if writes_through(len) {
                            grow_for_pieces(inner, "store into", &s, len)?;
                        }
                        inner.settle("store into", s, &mut data)?;
                    }
                }
            };
            let filled = fill(inner, &mut reader, len, &mut claim, &mut data).and_then(|n| {
                // A typed value streamed without a length: its size is known only now.
                inner.check_store(Some(n))?;
                Ok(n)
            });
            match filled {
                Ok(n) => {
                    let target = Bytes::new(&data);
                    Ok(inner.region(&target).publish(&guard.host, &claim, n))
                }
                Err(e) => {
                    inner.region(&Bytes::new(&data)).abandon(&claim);
                    Err(e)
                }
            }
        })
    }
}

/// Fills a claimed slot from `reader` (exactly `len` bytes, or to its end) and returns how many
/// bytes it holds. The caller holds the writer lock and publishes or abandons the claim.
fn fill<R: io::Read>(
    inner: &Inner,
    reader: &mut R,
    len: Option<u64>,
    claim: &mut Claim,
    data: &mut Arc<View>,
) -> Result<u64> {
    let op = "store into";
    let piece = len.map_or(STREAM_PIECE as u64, |l| l.min(STREAM_PIECE as u64)) as usize;
    let mut space = Vec::new();
    let buf = aligned(&mut space, piece, buffer_phase(claim.offset, true));
    let through = writes_through(len);
    let mut filled: u64 = 0;
    let mut dropped: u64 = 0;
    loop {
        let want = match len {
            Some(l) => (l - filled).min(piece as u64) as usize,
            None => piece,
        };
        if want == 0 {
            return Ok(filled);
        }
        let n = match read_some(reader, &mut buf[..want]) {
            Ok(0) => match len {
                Some(l) => {
                    return Err(inner
                        .error(
                            ErrorKind::InvalidInput,
                            op,
                            format!(
                                "the input ended after {} of the {} bytes announced; nothing was \
                                 stored",
                                filled, l
                            ),
                        )
                        .with_source(Some(io::ErrorKind::UnexpectedEof.into())))
                }
                None => return Ok(filled),
            },
            Ok(n) => n,
            Err(e) => return Err(input_failed(inner, filled, e)),
        };
        let end = filled + n as u64;
        loop {
            let target = Bytes::new(data);
            let outcome = inner.region(&target).extend(claim, end);
            target.take()?;
            match outcome {
                Ok(None) => break,
                Ok(Some((old, old_cap))) => {
                    move_bytes(inner, data, old, claim.offset, filled)?;
                    Bytes::new(data).release(old, old_cap);
                    dropped = 0;
                    break;
                }
                Err(s) => {
                    if through {
                        grow_for_pieces(inner, op, &s, len)?;
                    }
                    inner.settle(op, s, data)?;
                }
            }
        }
        let at = claim.offset + filled;
        if at + n as u64 > data.len() as u64 {
            return Err(outside(inner, op));
        }
        // Where the platform can, the piece goes in through the object's handle (`pwrite`): no
        // page faults and nothing mapped into this process, as `cp` writes a file. Readers never
        // look at an unpublished region, and the release store that publishes the value comes
        // after this write returns.
        let written = match through {
            true => inner.mapping.object.sys.write_through(at, &buf[..n]),
            false => None,
        };
        let mapped = match written {
            Some(r) => {
                r.map_err(|e| e.context(op, inner.what()))?;
                false
            }
            None => {
                // One system call faults the piece's pages in, rather than one fault per page.
                data.prefault_range(at as usize, n);
                let target = Bytes::new(data);
                let wrote = target.write(at, &buf[..n]);
                target.take()?;
                if !wrote {
                    return Err(outside(inner, op));
                }
                true
            }
        };
        filled = end;
        if !mapped {
            dropped = filled;
        } else if filled - dropped >= DROP_EVERY {
            inner.drop_pages(data, claim.offset + dropped, claim.offset + filled);
            dropped = filled;
        }
    }
}

/// Whether a store of `len` bytes (`None`: unknown) writes its pieces through the object's
/// handle where the platform can (see [`THROUGH_MIN`]).
fn writes_through(len: Option<u64>) -> bool {
    len.map_or(true, |l| l >= THROUGH_MIN as u64)
}

/// Grows the object as `step` asks without committing the new space first, where the pieces
/// are then written through the object's handle (`sys::Object::write_through`): those writes
/// allocate the pages as they fill them and report a full file system as an error, so
/// committing (`fallocate`, which zeroes every page) would only write the space twice. Elsewhere
/// this grows as a whole store does. `settle` then finds the object large enough and maps it.
///
/// A value of known length `len` is checked against the commit limit whole: all of it will be
/// written. One of unknown length grows ahead of its input (by a quarter, at least 1 MiB), so
/// only the next piece is checked; each write then reports a full file system itself.
fn grow_for_pieces(inner: &Inner, op: &'static str, step: &Store, len: Option<u64>) -> Result<()> {
    if let Store::Grow(need) = *step {
        if inner.writable && inner.mapping.len() < need {
            let check = len.map_or(STREAM_PIECE as u64, |_| u64::MAX);
            inner
                .mapping
                .grow_for_writes_through(need, check)
                .map_err(|e| {
                    inner.error(
                        e.kind(),
                        op,
                        format!(
                            "the value needs the object to grow to {} bytes: {}",
                            need, e
                        ),
                    )
                })?;
        }
    }
    Ok(())
}

/// Copies `len` bytes of the object from `from` to `to` (a claimed region that moved), a piece
/// at a time, dropping the pages behind.
/// The error for an input that failed after `filled` bytes.
fn input_failed(inner: &Inner, filled: u64, e: io::Error) -> Error {
    inner
        .error(
            ErrorKind::InvalidInput,
            "store into",
            format!(
                "reading the input failed after {} bytes: {}; nothing was stored",
                filled, e
            ),
        )
        .with_source(Some(e))
}

fn move_bytes(inner: &Inner, data: &View, from: u64, to: u64, len: u64) -> Result<()> {
    let mut buf = vec![0u8; len.min(PIECE as u64) as usize];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(PIECE as u64) as usize;
        let bytes = Bytes::new(data);
        let ok = bytes.read(from + done, &mut buf[..n]) && bytes.write(to + done, &buf[..n]);
        bytes.take()?;
        if !ok {
            return Err(outside(inner, "store into"));
        }
        done += n as u64;
        if done % DROP_EVERY < n as u64 || done == len {
            inner.drop_pages(data, from, from + done);
            inner.drop_pages(data, to, to + done);
        }
    }
    Ok(())
}

/// A zeroed buffer of `len` bytes in `space` that starts `phase` bytes into a page (see
/// [`buffer_phase`]). Small buffers (under 64 KiB) are not worth a page more.
fn aligned(space: &mut Vec<u8>, len: usize, phase: usize) -> &mut [u8] {
    const PAGE: usize = 4096;
    if len < 64 << 10 {
        space.resize(len, 0);
        return &mut space[..];
    }
    space.resize(len + 2 * PAGE, 0);
    let skip = space.as_ptr().align_offset(PAGE).min(PAGE) + phase % PAGE;
    &mut space[skip..skip + len]
}

/// Where in a page a stream's buffer should start, given where in a page the value's bytes lie
/// in the object (`object_phase`). Every piece passes through the buffer twice: from the input
/// into it and from it into the object (`into_object`), or from the object into it and from it
/// to the output. `rep movsb`, which both the kernel and `copy.rs` use for large copies, runs
/// several times slower when the destination lies a few bytes after the source modulo a page
/// (measured on AMD Zen 3: about 1 GB/s at a distance of 16 bytes against 5 GB/s at 0 or 2048).
/// A `malloc`ed buffer sits 16 bytes into a page, which made a store's `read` of its input
/// three times as slow as `cp`'s. The input and output are taken to start on page boundaries
/// (files read or written from the start, pipes).
fn buffer_phase(object_phase: u64, into_object: bool) -> usize {
    const PAGE: usize = 4096;
    const SHORT: usize = 64;
    let c = (object_phase % PAGE as u64) as usize;
    if into_object {
        // input (0) -> buffer -> object (c): the first distance is the phase itself.
        if (1..SHORT).contains(&c) {
            c + SHORT
        } else {
            c
        }
    } else {
        // object (c) -> buffer -> output (0): the second distance is a page minus the phase.
        if c > PAGE - SHORT {
            c - SHORT
        } else {
            c
        }
    }
}

/// The error for a slot whose region lies outside the object.
fn outside(inner: &Inner, op: &'static str) -> Error {
    inner.error(ErrorKind::Corrupt, op, "a slot points outside the object")
}

/// A raw copy's error, as the protocol reports it: a slot outside the view is damage
/// (`Corrupt`); a fault (`Truncated`, `OutOfSpace`) stays what it is.
fn slot_fault(inner: &Inner, op: &'static str, e: Error) -> Error {
    if e.kind() == ErrorKind::OutOfRange {
        outside(inner, op)
    } else {
        e
    }
}

/// One `read`, retried when interrupted.
fn read_some<R: io::Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match reader.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            r => return r,
        }
    }
}

/// One version of a shared value, held for reading a piece at a time: see
/// [`SharedValue::reader`]. Implements [`std::io::Read`].
///
/// The version's slot stays pinned while the reader lives (the pin is renewed as it reads), so
/// writers store into the other slots. Hold it only as long as needed: a value with `N` slots
/// lets `N - 1` readers of distinct versions hold theirs at once; past that, or after more than 5
/// seconds without a read, a writer may take the slot back, and the next read fails with `Busy`
/// instead of handing out another version's bytes.
pub struct ValueReader {
    value: SharedValue,
    view: Arc<View>,
    held: Option<Held>,
    pos: u64,
    renewed: u64,
    dropped: u64,
}

impl std::fmt::Debug for ValueReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValueReader")
            .field("object", &self.value.inner.mapping.describe())
            .field("version", &self.version())
            .field("len", &self.len())
            .field("position", &self.pos)
            .finish()
    }
}

impl ValueReader {
    /// The version held (0: nothing was stored; the reader is empty).
    pub fn version(&self) -> u64 {
        self.held.map_or(0, |h| h.version)
    }

    /// The value's length in bytes.
    pub fn len(&self) -> u64 {
        self.held.map_or(0, |h| h.len)
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many bytes were read so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Copies the next bytes of the value into `buf` and returns how many (0 at the end): the
    /// mmf-error form of [`std::io::Read::read`]. Every byte is validated as the held version's
    /// before this returns.
    ///
    /// # Errors
    /// `Busy` if a writer took the slot back (see [`ValueReader`]; nothing of the other version
    /// was handed out: read again with a new reader); `Corrupt`, `Truncated`, `OutOfSpace` as for
    /// [`SharedValue::retrieve`].
    pub fn fill(&mut self, buf: &mut [u8]) -> Result<usize> {
        let held = match self.held {
            Some(h) => h,
            None => return Ok(0),
        };
        let n = (held.len - self.pos).min(buf.len() as u64) as usize;
        if n == 0 {
            return Ok(0);
        }
        let inner = &*self.value.inner;
        let (view, pos) = (&*self.view, self.pos);
        let now = sys::now_ms();
        let renew = now.wrapping_sub(self.renewed) >= RENEW_MS;
        let dst = &mut buf[..n];
        let mut through = false;
        inner.guarded("retrieve", || {
            let bytes = Bytes::new(view);
            let region = inner.region(&bytes);
            let kept = !renew || region.renew(&held, now);
            // A large piece is read through the object's handle where the platform can (no page
            // faults); `stable` below validates it like a copy out of the view: its acquire
            // fence orders the read's loads before the slot's sequence is looked at again.
            let read = match kept && n >= THROUGH_MIN {
                true => inner
                    .mapping
                    .object
                    .sys
                    .read_through(held.offset + pos, dst),
                false => None,
            };
            let copied = match read {
                Some(_) => true,
                None => kept && region.read_held(&held, pos, dst),
            };
            bytes.take()?;
            match read {
                Some(Ok(got)) if got == n => through = true,
                Some(Ok(got)) => {
                    return Err(inner.error(
                        ErrorKind::Truncated,
                        "retrieve",
                        format!(
                            "the object ends at byte {} of the value's {} bytes at offset {}",
                            pos + got as u64,
                            held.len,
                            held.offset
                        ),
                    ))
                }
                Some(Err(e)) => return Err(e.context("retrieve", inner.what())),
                None => {}
            }
            if !kept || !region.stable(&held) {
                return Err(inner.error(
                    ErrorKind::Busy,
                    "retrieve",
                    format!(
                        "version {} was replaced after {} of its {} bytes were read (its slot \
                         was taken back by a writer: the reader was idle for more than 5 s, or \
                         more readers held other versions than the value has slots); retrieve \
                         it again",
                        held.version, pos, held.len
                    ),
                ));
            }
            if !copied {
                return Err(outside(inner, "retrieve"));
            }
            Ok(())
        })?;
        if renew {
            self.renewed = now;
        }
        self.pos += n as u64;
        if through {
            // Nothing of the view was touched.
            self.dropped = self.pos;
        } else if self.pos - self.dropped >= DROP_EVERY || self.pos == held.len {
            inner.drop_pages(view, held.offset + self.dropped, held.offset + self.pos);
            self.dropped = self.pos;
        }
        Ok(n)
    }
}

impl io::Read for ValueReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.fill(buf)?)
    }
}

impl Drop for ValueReader {
    fn drop(&mut self) {
        if let Some(held) = self.held.take() {
            let inner = &*self.value.inner;
            let view = &*self.view;
            let _ = inner.guarded("retrieve", || {
                inner.region(&Bytes::new(view)).release(&held);
                Ok(())
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{aligned, buffer_phase};

    /// No copy through a stream's buffer runs at a short forward distance modulo a page,
    /// wherever the value lies, and the buffer starts where it was asked to.
    #[test]
    fn buffers_keep_copies_off_short_distances() {
        let short = |dst: usize, src: usize| (1..64).contains(&((dst + 4096 - src) % 4096));
        for c in 0..4096u64 {
            let cu = c as usize;
            let b = buffer_phase(c, true);
            assert!(
                !short(b, 0) && !short(cu, b),
                "store, object phase {}: {}",
                c,
                b
            );
            let b = buffer_phase(c, false);
            assert!(
                !short(b, cu) && !short(0, b),
                "retrieve, object phase {}: {}",
                c,
                b
            );
        }
        let mut space = Vec::new();
        for phase in [0, 16, 704, 4032] {
            let buf = aligned(&mut space, 128 << 10, phase);
            assert_eq!(buf.len(), 128 << 10);
            assert_eq!(buf.as_ptr() as usize % 4096, phase);
        }
        assert_eq!(aligned(&mut space, 100, 16).len(), 100);
    }
}
