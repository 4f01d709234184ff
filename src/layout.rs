//! The `#[repr(C)]` header at the start of every queue segment: magic,
//! layout version, geometry, the two locks and the ring positions; how it is
//! initialised and how an opener validates it.
//!
//! Every field is an atomic (or the pthread mutex inside an `UnsafeCell`):
//! other processes write the segment concurrently, and a peer may scribble
//! over it, so no plain Rust reference to segment bytes is ever formed.

use std::cell::UnsafeCell;
use std::mem::{align_of, offset_of, size_of};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::error::{Error, Result};
use crate::sys::{self, RawMutex};

/// "WQ-SHMQ1" in little-endian: the first 8 bytes of every wq segment.
pub const MAGIC: u64 = u64::from_le_bytes(*b"WQ-SHMQ1");
/// Version of this header layout and record format, independent of the
/// crate version. Bumped on any incompatible change.
pub const LAYOUT_VERSION: u32 = 1;
/// Value of `ready` once the creator has finished initialising.
pub const READY: u32 = 0x5245_4459;
/// Offset of the message storage: the header rounded up to a page.
pub const DATA_OFFSET: u64 = 4096;
/// Bytes of each record's header (length and its complement).
pub const RECORD_HEADER: u64 = 8;
/// Record lengths are multiples of this.
pub const ALIGN: u64 = 8;
/// Smallest allowed capacity.
pub const MIN_CAPACITY: u64 = 16;
/// Largest allowed capacity (1 TiB).
pub const MAX_CAPACITY: u64 = 1 << 40;
/// Largest message a record can describe (its length is a `u32`).
pub const MAX_MESSAGE_LIMIT: u64 = u32::MAX as u64 - (ALIGN - 1);

/// One side of the queue (producers or consumers): its lock and the state
/// only the lock holder writes. Shared by the two sides so that one piece of
/// code serves both.
#[repr(C, align(64))]
pub struct Side {
    /// Robust, process-shared mutex serialising this side.
    pub lock: UnsafeCell<RawMutex>,
    /// Last value of the other side's position seen by this side.
    pub cached_peer: AtomicU64,
    /// This side's position when the lock holder began its update.
    pub pending_pos: AtomicU64,
    /// The message total the update in flight will publish.
    pub pending_total: AtomicU64,
    /// Messages moved by this side since creation (pushed or popped).
    pub total: AtomicU64,
}

/// A position in the ring, on a cache line of its own: published by one side
/// with Release, read by the other with Acquire.
#[repr(C, align(64))]
pub struct Position {
    /// Monotonic byte position (never wraps in practice: 2^64 bytes).
    pub pos: AtomicU64,
}

/// A place to sleep until the other side makes progress: a futex sequence
/// word and a "someone may be sleeping" hint (see [`crate::sync::Event`]).
#[repr(C, align(64))]
pub struct EventWord {
    /// Bumped by every wake-up; waiters sleep on it.
    pub seq: AtomicU32,
    /// Non-zero when a waiter may be asleep; cleared by the waker.
    pub waiting: AtomicU32,
}

/// The segment header. Identity and geometry are written once, before the
/// segment is published, and are protected by `check`.
#[repr(C, align(64))]
pub struct Header {
    /// [`MAGIC`].
    pub magic: AtomicU64,
    /// [`LAYOUT_VERSION`].
    pub layout_version: AtomicU32,
    /// `size_of::<Header>()` of the creator.
    pub header_size: AtomicU32,
    /// Bytes of message storage (a multiple of [`ALIGN`]).
    pub capacity: AtomicU64,
    /// Effective maximum message size.
    pub max_message_size: AtomicU64,
    /// Offset of the message storage from the start of the segment.
    pub data_offset: AtomicU64,
    /// Checksum over the identity and geometry fields.
    pub check: AtomicU64,
    /// [`READY`] once initialised.
    pub ready: AtomicU32,
    _reserved: AtomicU32,
    /// Times a dead lock owner was detected and recovered.
    pub recoveries: AtomicU64,
    /// Producer side: lock, pushed total.
    pub producer: Side,
    /// Where the next record is written; published after the record.
    pub tail: Position,
    /// Consumer side: lock, popped total.
    pub consumer: Side,
    /// Where the oldest record starts; published after it was copied out.
    pub head: Position,
    /// Consumers sleep here until a push.
    pub not_empty: EventWord,
    /// Producers sleep here until a pop.
    pub not_full: EventWord,
}

// The layout lives in shared memory: it must not drift silently.
const _: () = {
    assert!(
        size_of::<RawMutex>() == 40,
        "x86_64/aarch64 glibc pthread_mutex_t"
    );
    assert!(size_of::<Side>() == 128 && align_of::<Side>() == 64);
    assert!(size_of::<Position>() == 64);
    assert!(size_of::<EventWord>() == 64);
    assert!(offset_of!(Header, magic) == 0);
    assert!(offset_of!(Header, layout_version) == 8);
    assert!(offset_of!(Header, header_size) == 12);
    assert!(offset_of!(Header, capacity) == 16);
    assert!(offset_of!(Header, max_message_size) == 24);
    assert!(offset_of!(Header, data_offset) == 32);
    assert!(offset_of!(Header, check) == 40);
    assert!(offset_of!(Header, ready) == 48);
    assert!(offset_of!(Header, recoveries) == 56);
    assert!(offset_of!(Header, producer) == 64);
    assert!(offset_of!(Header, tail) == 192);
    assert!(offset_of!(Header, consumer) == 256);
    assert!(offset_of!(Header, head) == 384);
    assert!(offset_of!(Header, not_empty) == 448);
    assert!(offset_of!(Header, not_full) == 512);
    assert!(size_of::<Header>() == 576);
    assert!(size_of::<Header>() as u64 <= DATA_OFFSET);
};

/// The validated, immutable shape of a queue, kept by each handle so that
/// it is never read from the segment again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Bytes of message storage.
    pub capacity: u64,
    /// Effective maximum message size.
    pub max_message_size: u64,
}

impl Geometry {
    /// Checks requested creation options and resolves their defaults:
    /// capacity rounded up to [`ALIGN`], `max_message_size` 0 meaning the
    /// largest that fits in an empty queue.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a capacity out of
    /// [`MIN_CAPACITY`]..=[`MAX_CAPACITY`] or a message size that could never fit.
    pub fn for_creation(capacity: u64, max_message_size: u64) -> Result<Geometry> {
        if !(MIN_CAPACITY..=MAX_CAPACITY).contains(&capacity) {
            return Err(Error::InvalidArgument(format!(
                "capacity {capacity} is outside {MIN_CAPACITY}..={MAX_CAPACITY} bytes"
            )));
        }
        let capacity = capacity.next_multiple_of(ALIGN);
        let fits = (capacity - RECORD_HEADER).min(MAX_MESSAGE_LIMIT);
        let max_message_size = match max_message_size {
            0 => fits,
            m if m <= fits => m,
            m => {
                return Err(Error::InvalidArgument(format!(
                    "max_message_size {m} can never fit in a queue of capacity {capacity} (at most {fits})"
                )));
            }
        };
        Ok(Geometry {
            capacity,
            max_message_size,
        })
    }

    /// Total segment size: header page plus storage.
    pub fn segment_len(&self) -> u64 {
        DATA_OFFSET + self.capacity
    }

    fn checksum(&self) -> u64 {
        // FNV-1a over the identity and geometry words.
        [
            MAGIC,
            u64::from(LAYOUT_VERSION),
            size_of::<Header>() as u64,
            self.capacity,
            self.max_message_size,
            DATA_OFFSET,
        ]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    }
}

impl Header {
    /// Initialises a freshly created, zero-filled, not yet published segment.
    ///
    /// # Safety
    /// `header` must point to a zero-filled, writable mapping of at least
    /// `size_of::<Header>()` bytes that no other process can see yet.
    ///
    /// # Errors
    /// [`Error::System`] if a mutex cannot be initialised.
    pub unsafe fn init(header: *mut Header, geometry: &Geometry) -> Result<()> {
        // SAFETY: the caller guarantees a valid, exclusive mapping.
        let h = unsafe { &*header };
        for side in [&h.producer, &h.consumer] {
            // SAFETY: the mutex memory is mapped, writable and unused (caller's contract).
            unsafe { sys::mutex_init(side.lock.get()) }.map_err(|errno| Error::System {
                call: "pthread_mutex_init",
                source: std::io::Error::from_raw_os_error(errno),
            })?;
        }
        h.magic.store(MAGIC, Ordering::Relaxed);
        h.layout_version.store(LAYOUT_VERSION, Ordering::Relaxed);
        h.header_size
            .store(size_of::<Header>() as u32, Ordering::Relaxed);
        h.capacity.store(geometry.capacity, Ordering::Relaxed);
        h.max_message_size
            .store(geometry.max_message_size, Ordering::Relaxed);
        h.data_offset.store(DATA_OFFSET, Ordering::Relaxed);
        h.check.store(geometry.checksum(), Ordering::Relaxed);
        h.ready.store(READY, Ordering::Release);
        Ok(())
    }

    /// Validates the identity and geometry of a segment of `file_len` bytes,
    /// reading each field once.
    ///
    /// # Errors
    /// [`Error::Incompatible`] for a foreign or other-version segment or one
    /// that never finished initialising; [`Error::Corrupted`] when the
    /// geometry fails its checksum or does not match the file size.
    pub fn validate(&self, file_len: u64) -> Result<Geometry> {
        let magic = self.magic.load(Ordering::Relaxed);
        if magic != MAGIC {
            return Err(Error::Incompatible(if magic == 0 {
                "the segment is empty or never finished initialising".to_owned()
            } else {
                format!("bad magic {magic:#018x}: not a wq queue")
            }));
        }
        let version = self.layout_version.load(Ordering::Relaxed);
        let header_size = self.header_size.load(Ordering::Relaxed);
        if version != LAYOUT_VERSION || header_size as usize != size_of::<Header>() {
            return Err(Error::Incompatible(format!(
                "layout version {version} (header {header_size} bytes); this library reads version {LAYOUT_VERSION} ({} bytes)",
                size_of::<Header>()
            )));
        }
        if self.ready.load(Ordering::Acquire) != READY {
            return Err(Error::Incompatible(
                "the segment never finished initialising".to_owned(),
            ));
        }
        let geometry = Geometry {
            capacity: self.capacity.load(Ordering::Relaxed),
            max_message_size: self.max_message_size.load(Ordering::Relaxed),
        };
        let data_offset = self.data_offset.load(Ordering::Relaxed);
        if data_offset != DATA_OFFSET || self.check.load(Ordering::Relaxed) != geometry.checksum() {
            return Err(Error::Corrupted(
                "the header's geometry fails its checksum".to_owned(),
            ));
        }
        let sane = (MIN_CAPACITY..=MAX_CAPACITY).contains(&geometry.capacity)
            && geometry.capacity % ALIGN == 0
            && geometry.max_message_size
                <= (geometry.capacity - RECORD_HEADER).min(MAX_MESSAGE_LIMIT);
        if !sane {
            return Err(Error::Corrupted(format!(
                "impossible geometry {geometry:?}"
            )));
        }
        if geometry.segment_len() != file_len {
            return Err(Error::Corrupted(format!(
                "segment is {file_len} bytes but its header describes {}",
                geometry.segment_len()
            )));
        }
        Ok(geometry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creation_geometry_resolves_defaults_and_rounds() {
        let g = Geometry::for_creation(1001, 0).unwrap();
        assert_eq!(g.capacity, 1008);
        assert_eq!(g.max_message_size, 1000);
        assert_eq!(
            Geometry::for_creation(4096, 100).unwrap().max_message_size,
            100
        );
    }

    #[test]
    fn creation_geometry_rejects_nonsense() {
        assert!(matches!(
            Geometry::for_creation(0, 0),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            Geometry::for_creation(MAX_CAPACITY + 1, 0),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            Geometry::for_creation(64, 57),
            Err(Error::InvalidArgument(_))
        ));
        assert!(Geometry::for_creation(64, 56).is_ok());
    }

    #[test]
    fn checksum_covers_each_geometry_field() {
        let g = Geometry::for_creation(1 << 20, 0).unwrap();
        let mut other = g;
        other.capacity += 8;
        assert_ne!(g.checksum(), other.checksum());
        other = g;
        other.max_message_size -= 1;
        assert_ne!(g.checksum(), other.checksum());
    }
}
