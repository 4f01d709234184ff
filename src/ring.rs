//! The message storage: a byte ring of records.
//!
//! A record is an 8-byte little-endian header word — the length `len` in
//! bits 0..32, the record's kind in bits 32..40, a state byte in bits 40..48
//! (reserved: 0 today) and a 16-bit check (the complement of the length's
//! low half) in bits 48..64 — followed by `len` bytes, padded to a multiple
//! of 8. A *message* record carries one message; a *padding* record fills
//! the ring up to its end. No record wraps around the ring's end (the
//! layout feature `FEATURE_CONTIGUOUS`): a writer whose record would cross
//! it writes padding up to the end first and the record at offset 0, and
//! readers step over the padding. Every message therefore lies in one
//! piece, which is what lets zero-copy reservations and views hand it out
//! in place. Positions are monotonic `u64` byte counts; a record starts at
//! `pos % capacity`. Records are only ever made visible by publishing a
//! position (see `protocol`), so a reader never sees a half-written record.

use crate::error::{CorruptionCause, Error, Result};
use crate::layout::{ALIGN, RECORD_HEADER};

/// Bytes a message of `len` bytes occupies in the ring.
#[inline]
pub fn record_len(len: u64) -> u64 {
    RECORD_HEADER + len.next_multiple_of(ALIGN)
}

/// Validated distance between two published positions.
///
/// # Errors
/// [`Error::Corrupted`] if `front` is ahead of `back`, they are further
/// apart than the ring holds, or either is not a record boundary.
#[inline]
pub fn used(front: u64, back: u64, capacity: u64) -> Result<u64> {
    match back.checked_sub(front) {
        Some(used) if used <= capacity && (front | back) % ALIGN == 0 => Ok(used),
        _ => Err(Error::corrupted(
            CorruptionCause::Positions,
            format_args!(
                "ring positions out of range: head {front}, tail {back}, capacity {capacity}"
            ),
        )),
    }
}

/// Kind byte of a record holding one message.
const KIND_MESSAGE: u32 = 1;
/// Kind byte of a record that fills the ring up to its end.
const KIND_PADDING: u32 = 2;

/// Bits 32..64 of a header word without its state byte (bits 40..48,
/// reserved for leases and not checked): the kind and the check.
const KIND_AND_CHECK: u32 = 0xffff_00ff;

/// Bits 32..64 of the header word of a record of `kind` holding `len`
/// bytes, state byte 0: the kind, and as the check the complement of the
/// length's low 16 bits (a length scribbled in its high bits fails the
/// bounds checks instead). A few 32-bit ALU operations: at 100 M records/s
/// more shows.
#[inline]
fn kind_and_check(len: u32, kind: u32) -> u32 {
    (!len << 16) | kind
}

/// The header word of a record of `kind` holding `len` bytes.
#[inline]
fn header_word(len: u32, kind: u32) -> u64 {
    u64::from(len) | (u64::from(kind_and_check(len, kind)) << 32)
}

/// A validated record header: its length, kind and where its bytes start.
pub struct Record {
    /// Length of the message (or padding) in bytes.
    pub len: u64,
    /// Bytes the whole record occupies (`record_len(len)`).
    pub size: u64,
    /// Whether the record is padding up to the ring's end, not a message.
    pub padding: bool,
    /// Offset of the message's first byte in the ring.
    body: u64,
}

/// The storage area of one mapped segment: a view (pointer and geometry),
/// cheap to copy; the locked loops work on a local copy, so its fields stay
/// in registers while they write through other pointers.
#[derive(Clone, Copy)]
pub struct Ring {
    base: *mut u8,
    capacity: u64,
    /// `capacity - 1` when the capacity is a power of two (the default is):
    /// positions then map to offsets with a mask instead of a division.
    mask: Option<u64>,
}

// SAFETY: a Ring is a pointer into a shared mapping owned by the Queue that
// holds it; all access goes through raw copies whose exclusivity is ensured
// by the queue's locks, not by Rust references.
unsafe impl Send for Ring {}
// SAFETY: as above.
unsafe impl Sync for Ring {}

impl Ring {
    /// A ring over `capacity` bytes at `base`.
    ///
    /// # Safety
    /// `base` must be 8-byte aligned and point to `capacity` mapped, writable
    /// bytes that stay mapped for the life of the Ring; `capacity` must be a
    /// non-zero multiple of [`ALIGN`].
    pub unsafe fn new(base: *mut u8, capacity: u64) -> Ring {
        debug_assert!(capacity > 0 && capacity % ALIGN == 0 && base as usize % 8 == 0);
        let mask = capacity.is_power_of_two().then(|| capacity - 1);
        Ring {
            base,
            capacity,
            mask,
        }
    }

    /// Offset in the ring of the record boundary at `pos` (rounded down to
    /// one, so that an 8-byte header at the result always fits before the end).
    #[inline]
    fn offset(&self, pos: u64) -> u64 {
        let at = match self.mask {
            Some(mask) => pos & mask,
            None => pos % self.capacity,
        };
        at & !(ALIGN - 1)
    }

    /// The header word of the record at offset `at` (from [`Ring::offset`]).
    #[inline]
    fn header_ptr(&self, at: u64) -> *mut u64 {
        // SAFETY: `at` is a multiple of 8 below `capacity`, itself a multiple
        // of 8, so the 8 bytes at it lie inside the mapping and are aligned
        // (the base is).
        unsafe { self.base.add(at as usize).cast::<u64>() }
    }

    /// Bytes of padding a record of `size` bytes at `pos` needs before it
    /// so as not to cross the ring's end: 0 when it fits where it is, else
    /// the bytes up to the end (the record then starts at offset 0).
    #[inline]
    pub fn padding_before(&self, pos: u64, size: u64) -> u64 {
        let at = self.offset(pos);
        if at + size <= self.capacity {
            0
        } else {
            self.capacity - at
        }
    }

    /// Writes a padding record from `pos` up to the ring's end. The caller
    /// owns those bytes (producer lock, free space) and got their count,
    /// at most one record, from [`Ring::padding_before`].
    #[inline]
    pub fn write_padding(&self, pos: u64) {
        let at = self.offset(pos);
        let len = (self.capacity - at - RECORD_HEADER) as u32;
        // SAFETY: header_ptr is in bounds and aligned; the producer lock
        // holder owns the free bytes it writes.
        unsafe {
            self.header_ptr(at)
                .write(header_word(len, KIND_PADDING).to_le())
        };
    }

    /// Where the bytes of a record of `len` bytes at `pos` go: a pointer to
    /// `len` bytes inside the mapping, for a caller that checked with
    /// [`Ring::padding_before`] that the record does not cross the end.
    #[inline]
    pub fn body_at(&self, pos: u64, len: u64) -> *mut u8 {
        let body = self.offset(pos) + RECORD_HEADER;
        debug_assert!(body + len <= self.capacity);
        // SAFETY: `body <= capacity` (the header fits before the end), so
        // the pointer is inside the mapping or one past its end.
        unsafe { self.base.add(body as usize) }
    }

    /// Writes the header of a message record of `len` bytes at `pos`
    /// (whose bytes are in place); returns the record's length.
    #[inline]
    pub fn write_header(&self, pos: u64, len: u32) -> u64 {
        // SAFETY: header_ptr is in bounds and aligned; the producer lock
        // holder owns the free bytes it writes.
        unsafe {
            self.header_ptr(self.offset(pos))
                .write(header_word(len, KIND_MESSAGE).to_le())
        };
        record_len(u64::from(len))
    }

    /// Writes a whole record for `msg` at `pos`; returns the record's length.
    /// The caller has checked that `record_len(msg.len())` bytes are free
    /// and, with [`Ring::padding_before`], that they do not cross the end.
    #[inline]
    pub fn write_record(&self, pos: u64, msg: &[u8]) -> u64 {
        let dst = self.body_at(pos, msg.len() as u64);
        // SAFETY: `dst` has `msg.len()` bytes inside the mapping (checked by
        // the caller, see above), owned by the producer lock holder; `msg`
        // is caller memory, never the ring.
        unsafe { copy_bytes(msg.as_ptr(), dst, msg.len()) };
        self.write_header(pos, msg.len() as u32)
    }

    /// Reads and validates the header of the record at `pos`, of which
    /// `available` bytes are published.
    ///
    /// # Errors
    /// [`Error::Corrupted`] when the header is inconsistent, announces more
    /// than `max_len`, a record longer than `available`, or padding that
    /// does not end at the ring's end.
    #[inline]
    pub fn read_header(&self, pos: u64, available: u64, max_len: u64) -> Result<Record> {
        let at = self.offset(pos);
        // SAFETY: header_ptr is in bounds and aligned; the record is published.
        let header = u64::from_le(unsafe { self.header_ptr(at).read() });
        let len = header as u32;
        let len64 = u64::from(len);
        let tag = (header >> 32) as u32 & KIND_AND_CHECK;
        let size = record_len(len64);
        let fits = size <= available;
        let room = self.capacity - at;
        let padding =
            if tag == kind_and_check(len, KIND_MESSAGE) && len64 <= max_len && fits && size <= room
            {
                false
            } else if tag == kind_and_check(len, KIND_PADDING) && fits && size == room {
                true
            } else {
                return Err(bad_record(pos, header, available));
            };
        Ok(Record {
            len: len64,
            size,
            padding,
            body: at + RECORD_HEADER,
        })
    }

    /// The bytes of the message of a record validated by
    /// [`Ring::read_header`]: `record.len` bytes inside the mapping.
    #[inline]
    pub fn message_ptr(&self, record: &Record) -> *const u8 {
        // SAFETY: read_header checked `body + len <= capacity`, so the
        // pointer is inside the mapping or one past its end.
        unsafe { self.base.add(record.body as usize) }
    }

    /// Copies the message of `record` (of `record.len` bytes, as long as
    /// `dst`) into `dst`.
    #[inline]
    pub fn read_message(&self, record: &Record, dst: &mut [u8]) {
        // SAFETY: the record's bytes lie inside the mapping (read_header),
        // `dst` has as many and is caller memory, never the ring itself.
        unsafe { copy_bytes(self.message_ptr(record), dst.as_mut_ptr(), dst.len()) };
    }
}

/// Copies `len` bytes; messages of up to 16 bytes (task structs, ids) are
/// copied inline with two overlapping loads and stores instead of a call
/// to `memcpy`, which costs more than the copy itself.
///
/// # Safety
/// `src` must be valid for reads and `dst` for writes of `len` bytes, and
/// the two ranges must not overlap.
#[inline(always)]
unsafe fn copy_bytes(src: *const u8, dst: *mut u8, len: usize) {
    // SAFETY: every access below stays within the first `len` bytes of
    // `src` / `dst` (the two halves overlap when `len` is not a power of
    // two), which the caller guarantees valid and disjoint.
    unsafe {
        match len {
            0 => {}
            1..=3 => {
                for i in 0..len {
                    *dst.add(i) = *src.add(i);
                }
            }
            4..=7 => {
                let (a, b) = (
                    src.cast::<u32>().read_unaligned(),
                    src.add(len - 4).cast::<u32>().read_unaligned(),
                );
                dst.cast::<u32>().write_unaligned(a);
                dst.add(len - 4).cast::<u32>().write_unaligned(b);
            }
            8..=16 => {
                let (a, b) = (
                    src.cast::<u64>().read_unaligned(),
                    src.add(len - 8).cast::<u64>().read_unaligned(),
                );
                dst.cast::<u64>().write_unaligned(a);
                dst.add(len - 8).cast::<u64>().write_unaligned(b);
            }
            _ => std::ptr::copy_nonoverlapping(src, dst, len),
        }
    }
}

#[cold]
#[inline(never)]
fn bad_record(pos: u64, header: u64, available: u64) -> Error {
    Error::corrupted(
        CorruptionCause::Record,
        format_args!(
            "record at position {pos} is invalid (header {header:#018x}, {available} bytes published)"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_ring(capacity: usize, f: impl FnOnce(&Ring)) {
        let mut storage = vec![0u64; capacity / 8];
        // SAFETY: `storage` provides `capacity` writable bytes and outlives the Ring.
        let ring = unsafe { Ring::new(storage.as_mut_ptr().cast(), capacity as u64) };
        f(&ring);
    }

    fn set_byte(ring: &Ring, at: usize, value: u8) {
        // SAFETY: the tests' rings hold more than `at` bytes.
        unsafe { ring.base.add(at).write(value) };
    }

    #[test]
    fn record_lengths_are_padded() {
        assert_eq!(record_len(0), 8);
        assert_eq!(record_len(1), 16);
        assert_eq!(record_len(8), 16);
        assert_eq!(record_len(9), 24);
    }

    #[test]
    fn records_round_trip_and_never_cross_the_end() {
        // A power-of-two capacity (masked offsets) and another (divided).
        for capacity in [64usize, 72] {
            with_ring(capacity, |ring| {
                let cap = capacity as u64;
                for start in [0u64, 8, 16, cap - 16, cap - 8, cap + cap - 8, 5 * cap + 16] {
                    let msg: Vec<u8> = (0..21u8).collect();
                    let size = record_len(21);
                    let pad = ring.padding_before(start, size);
                    let at = start % cap;
                    if at + size <= cap {
                        assert_eq!(pad, 0, "capacity {capacity}, start {start}");
                    } else {
                        assert_eq!(pad, cap - at, "capacity {capacity}, start {start}");
                        ring.write_padding(start);
                        let padding = ring.read_header(start, pad, 56).unwrap();
                        assert!(padding.padding);
                        assert_eq!(padding.size, pad);
                    }
                    let pos = start + pad;
                    assert_eq!(ring.write_record(pos, &msg), size);
                    let record = ring.read_header(pos, size, 56).unwrap();
                    assert_eq!((record.size, record.len, record.padding), (size, 21, false));
                    let mut out = vec![0u8; 21];
                    ring.read_message(&record, &mut out);
                    assert_eq!(out, msg, "capacity {capacity}, start {start}");
                }
            });
        }
    }

    #[test]
    fn a_record_that_would_cross_the_end_is_corruption() {
        with_ring(64, |ring| {
            // A 24-byte message record at offset 48 would end at 72.
            // SAFETY: offset 48 is an aligned header slot inside the ring.
            unsafe {
                ring.header_ptr(48)
                    .write(header_word(16, KIND_MESSAGE).to_le())
            };
            assert!(ring.read_header(48, 64, 56).is_err());
            // An empty one at the very end is fine.
            // SAFETY: offset 56 is an aligned header slot inside the ring.
            unsafe {
                ring.header_ptr(56)
                    .write(header_word(0, KIND_MESSAGE).to_le())
            };
            assert_eq!(ring.read_header(56, 8, 56).unwrap().size, 8);
        });
    }

    #[test]
    fn small_copies_copy_exactly_their_bytes() {
        for len in 0..=40usize {
            let src: Vec<u8> = (1..=len as u8).collect();
            let mut dst = vec![0xAAu8; len + 8];
            // SAFETY: `src` has `len` bytes, `dst` more; distinct vectors.
            unsafe { copy_bytes(src.as_ptr(), dst.as_mut_ptr(), len) };
            assert_eq!(&dst[..len], &src[..], "len {len}");
            assert!(
                dst[len..].iter().all(|&b| b == 0xAA),
                "len {len} wrote past its end"
            );
        }
    }

    #[test]
    fn bad_headers_are_corruption() {
        with_ring(64, |ring| {
            let n = ring.write_record(0, b"hello");
            assert!(matches!(
                ring.read_header(0, n - 1, 56),
                Err(Error::Corrupted(_))
            ));
            assert!(matches!(
                ring.read_header(0, n, 4),
                Err(Error::Corrupted(_))
            ));
            set_byte(ring, 4, 9); // an unknown kind
            assert!(matches!(
                ring.read_header(0, n, 56),
                Err(Error::Corrupted(_))
            ));
            ring.write_record(0, b"hello");
            set_byte(ring, 7, 0); // the check
            assert!(matches!(
                ring.read_header(0, n, 56),
                Err(Error::Corrupted(_))
            ));
        });
    }

    #[test]
    fn padding_records_must_end_at_the_ring_end() {
        with_ring(64, |ring| {
            // A padding record of 8 bytes at offset 48 ends at 64.
            // SAFETY: offset 48 is an aligned header slot inside the ring.
            unsafe {
                ring.header_ptr(48)
                    .write(header_word(8, KIND_PADDING).to_le())
            };
            let record = ring.read_header(48, 16, 56).unwrap();
            assert!(record.padding);
            assert_eq!(record.size, 16);
            // The same record at offset 32 would not.
            // SAFETY: as above.
            unsafe {
                ring.header_ptr(32)
                    .write(header_word(8, KIND_PADDING).to_le())
            };
            assert!(ring.read_header(32, 32, 56).is_err());
            let msg = ring.read_header(0, 0, 56);
            assert!(msg.is_err(), "nothing published");
        });
    }

    #[test]
    fn used_rejects_impossible_positions() {
        assert_eq!(used(8, 32, 64).unwrap(), 24);
        assert!(used(32, 8, 64).is_err());
        assert!(used(0, 65, 64).is_err());
        assert!(used(0, 9, 64).is_err());
    }
}
