//! The `#[repr(C)]` layout of every queue segment: the header (magic,
//! layout version, feature words, geometry, the two side locks, the ring
//! positions, the wake-up words, the lease bookkeeping), the identity and
//! lease tables that follow it, and how a creator initialises and an opener
//! validates them.
//!
//! ```text
//! 0       header (one page)
//! 4096    identity table: IDENTITY_SLOTS slots of 16 bytes
//! 69632   lease table: LEASE_SLOTS slots of 32 bytes
//! 200704  message storage (the ring): `capacity` bytes
//! ```
//!
//! Every field is an atomic: other processes write the segment
//! concurrently, and a peer may scribble over it, so no plain Rust
//! reference to segment bytes is ever formed. Nothing in the segment is a
//! pointer or libc state: the locks are wq's own 32-bit words.

use std::mem::{align_of, offset_of, size_of};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::error::{CorruptionCause, Error, IncompatibleCause, Result};

/// "WQ-SHMQ1" in little-endian: the first 8 bytes of every wq segment, of
/// every layout version.
pub const MAGIC: u64 = u64::from_le_bytes(*b"WQ-SHMQ1");
/// Version of this header layout and record format, independent of the
/// crate version. Bumped on any change older readers cannot handle.
pub const LAYOUT_VERSION: u32 = 2;
/// `state` once the creator has finished initialising.
pub const READY: u32 = 0x5245_4459;
/// `state` while a creator initialises (the geometry is already written).
pub const CREATING: u32 = 0x4352_4541;
/// Feature bits (ext4-style) this library understands in each word:
/// `incompat` (a reader must understand every bit, or refuse the queue),
/// `ro_compat` (a reader that does not understand a bit may only read; wq
/// always writes, so it refuses too) and `compat` (may be ignored).
pub const KNOWN_INCOMPAT: u32 = FEATURE_LEASES | FEATURE_CONTIGUOUS | FEATURE_BATCH_REAP;
/// Incompat feature: the queue has a lease table, and messages between
/// `head` and the delivery cursor may still be leased (a reader that did
/// not know would deliver them twice).
pub const FEATURE_LEASES: u32 = 1;
/// Incompat feature: no record wraps around the ring's end (a writer pads
/// to the end first), so every message lies in one piece and can be
/// handed out in place (zero-copy reservations and views); a writer that
/// did not know would wrap records.
pub const FEATURE_CONTIGUOUS: u32 = 2;
/// Incompat feature: acked lease slots are freed in batches, each slot
/// marked reaping first and the batch journalled once (a reader that did
/// not know would take a marked slot for an impossible one, or a batch
/// in the journal for a one-slot change).
pub const FEATURE_BATCH_REAP: u32 = 4;
/// The incompat features this library needs a queue to have: a queue
/// made without one of them is refused.
const REQUIRED_INCOMPAT: u32 = FEATURE_LEASES | FEATURE_CONTIGUOUS | FEATURE_BATCH_REAP;
/// See [`KNOWN_INCOMPAT`].
pub const KNOWN_RO_COMPAT: u32 = 0;
/// Offset of the identity table: right after the header page.
pub const IDENTITY_OFFSET: u64 = 4096;
/// Slots in the identity table: at most this many handles may be attached
/// to one queue at once.
pub const IDENTITY_SLOTS: u32 = 4096;
/// Offset of the lease table: right after the identity table.
pub const LEASE_OFFSET: u64 = IDENTITY_OFFSET + IDENTITY_SLOTS as u64 * size_of::<Slot>() as u64;
/// Slots in the lease table: at most this many messages may be leased or
/// waiting for redelivery at once.
pub const LEASE_SLOTS: u32 = 4096;
/// Offset of the message storage.
pub const DATA_OFFSET: u64 = LEASE_OFFSET + LEASE_SLOTS as u64 * size_of::<LeaseSlot>() as u64;
/// Bytes of each record's header.
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
    /// wq's lock word: the holder's identity token and a waiters bit (see
    /// [`crate::lock`]); 0 when free.
    pub lock: AtomicU32,
    _pad: AtomicU32,
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

/// One slot of the identity table: the handle attached through it is alive
/// while some open file description holds the kernel lock on the slot's
/// byte (see [`crate::liveness`]).
#[repr(C)]
pub struct Slot {
    /// Odd while attached, even once detached; bumped by every attach and
    /// detach, so a token names one attachment only.
    pub generation: AtomicU32,
    /// The attaching process's pid in its own namespace: a hint for humans
    /// (`wq ls`), never an identity.
    pub pid_hint: AtomicU32,
    _reserved: AtomicU64,
}

/// One slot of the lease table (see [`crate::lease`]): free while `token`
/// is 0; otherwise it names a message between `head` and the delivery
/// cursor that is not yet acked: leased while `holder` is non-zero,
/// waiting for redelivery while it is 0.
#[repr(C)]
pub struct LeaseSlot {
    /// The token of the message's last delivery: a sequence number above
    /// the slot's index ([`crate::lease`]); 0 when the slot is free.
    pub token: AtomicU64,
    /// Ring position of the message's record.
    pub pos: AtomicU64,
    /// Identity token of the handle holding the lease; 0 once it ended.
    pub holder: AtomicU32,
    /// Times the message was delivered, the last one included.
    pub deliveries: AtomicU32,
    /// Monotonic time (ns) at which the lease ends; `u64::MAX`: never.
    pub deadline: AtomicU64,
}

/// The lease counters, in [`LeaseState::counters`] and journal images.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    /// Leases ended by an ack.
    Acked,
    /// Leases ended by a nack.
    Nacked,
    /// Leases whose time ran out.
    Expired,
    /// Leases whose holder closed its handle or died.
    Abandoned,
    /// Deliveries after the first.
    Redelivered,
}

/// How many [`Counter`]s there are.
pub const COUNTERS: usize = 5;

impl Counter {
    /// Every counter, in the order of their words.
    pub const ALL: [Counter; COUNTERS] = [
        Counter::Acked,
        Counter::Nacked,
        Counter::Expired,
        Counter::Abandoned,
        Counter::Redelivered,
    ];
}

/// The one lease-table update in flight, written before it is applied so
/// that whoever takes over the consumer lock from a holder that died
/// mid-update can apply it again (every field is the value after it).
#[repr(C, align(64))]
pub struct Journal {
    /// What is being applied: 0 nothing, 1 the one-slot change below, 2
    /// the freeing of every slot marked reaping (acked ones), after which
    /// `total` and `count` (the acked counter) hold the values below.
    pub armed: AtomicU32,
    /// The slot the update writes.
    pub slot: AtomicU32,
    /// The slot's fields after the update (`token`, `pos`, `holder`,
    /// `deliveries`, `deadline`).
    pub image: LeaseSlot,
    /// The delivery cursor after the update.
    pub cursor: AtomicU64,
    /// The consumers' total (messages popped or acked) after the update.
    pub total: AtomicU64,
    /// The [`Counter`] the update changes, or [`COUNTERS`] for none.
    pub counter: AtomicU32,
    _pad: AtomicU32,
    /// That counter's value after the update.
    pub count: AtomicU64,
    /// The slot's token before the update: it applies only over that.
    pub before: AtomicU64,
}

/// The consumers' lease bookkeeping, written only under the consumer lock.
#[repr(C, align(64))]
pub struct LeaseState {
    /// The delivery cursor: the next record no pop has taken. Messages
    /// between `head` and it are acked, popped or in a lease slot.
    pub cursor: AtomicU64,
    /// Sequence number of the last lease token issued.
    pub sequence: AtomicU64,
    /// Monotonic time (ns) by which the held leases are to be checked for
    /// expiry and dead holders.
    pub check_at: AtomicU64,
    /// Every slot at or above this index is free (a hint, recounted by a
    /// takeover and by every check).
    pub high: AtomicU32,
    /// Slots whose lease is held (hint, as `high`).
    pub held: AtomicU32,
    /// Slots waiting for redelivery (hint, as `high`).
    pub released: AtomicU32,
    /// Non-zero when a slot may have been acked since the last reap (set
    /// by lock-free acks, swapped to 0 by the consumer-lock holder that
    /// frees acked slots).
    pub reap: AtomicU32,
    /// The [`Counter`]s, since creation.
    pub counters: [AtomicU64; COUNTERS],
    /// The update in flight.
    pub journal: Journal,
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
    /// Features a reader must understand.
    pub incompat: AtomicU32,
    /// Features a reader must understand to write.
    pub ro_compat: AtomicU32,
    /// Features a reader may ignore.
    pub compat: AtomicU32,
    /// [`CREATING`], then [`READY`].
    pub state: AtomicU32,
    /// Bytes of message storage (a multiple of [`ALIGN`]).
    pub capacity: AtomicU64,
    /// Effective maximum message size.
    pub max_message_size: AtomicU64,
    /// Offset of the message storage from the start of the segment.
    pub data_offset: AtomicU64,
    /// Offset of the identity table.
    pub identity_offset: AtomicU64,
    /// Slots in the identity table.
    pub identity_slots: AtomicU32,
    /// Slots in the lease table.
    pub lease_slots: AtomicU32,
    /// Checksum over the identity, feature and geometry fields.
    pub check: AtomicU64,
    /// Times a dead lock owner was detected and recovered.
    pub recoveries: AtomicU64,
    /// Offset of the lease table.
    pub lease_offset: AtomicU64,
    _reserved: [AtomicU64; 4],
    /// Producer side: lock, pushed total.
    pub producer: Side,
    /// Where the next record is written; published after the record.
    pub tail: Position,
    /// Consumer side: lock, popped total.
    pub consumer: Side,
    /// Where the oldest record not yet popped or acked starts: the storage
    /// before it is free. Published after the records were copied out.
    pub head: Position,
    /// Consumers sleep here until a push.
    pub not_empty: EventWord,
    /// Producers sleep here until a pop.
    pub not_full: EventWord,
    /// Delivery cursor, lease counters and journal.
    pub leases: LeaseState,
}

// The layout lives in shared memory: it must not drift silently.
const _: () = {
    assert!(size_of::<Side>() == 64 && align_of::<Side>() == 64);
    assert!(offset_of!(Side, lock) == 0);
    assert!(offset_of!(Side, total) == 32);
    assert!(size_of::<Position>() == 64);
    assert!(size_of::<EventWord>() == 64);
    assert!(size_of::<Slot>() == 16);
    assert!(size_of::<LeaseSlot>() == 32);
    assert!(offset_of!(LeaseSlot, holder) == 16 && offset_of!(LeaseSlot, deadline) == 24);
    assert!(offset_of!(Journal, image) == 8 && offset_of!(Journal, counter) == 56);
    assert!(offset_of!(Journal, count) == 64 && offset_of!(Journal, before) == 72);
    assert!(size_of::<Journal>() == 128);
    assert!(offset_of!(LeaseState, high) == 24 && offset_of!(LeaseState, counters) == 40);
    assert!(offset_of!(LeaseState, journal) == 128);
    assert!(size_of::<LeaseState>() == 256);
    assert!(offset_of!(Header, magic) == 0);
    assert!(offset_of!(Header, layout_version) == 8);
    assert!(offset_of!(Header, header_size) == 12);
    assert!(offset_of!(Header, incompat) == 16);
    assert!(offset_of!(Header, ro_compat) == 20);
    assert!(offset_of!(Header, compat) == 24);
    assert!(offset_of!(Header, state) == 28);
    assert!(offset_of!(Header, capacity) == 32);
    assert!(offset_of!(Header, max_message_size) == 40);
    assert!(offset_of!(Header, data_offset) == 48);
    assert!(offset_of!(Header, identity_offset) == 56);
    assert!(offset_of!(Header, identity_slots) == 64);
    assert!(offset_of!(Header, lease_slots) == 68);
    assert!(offset_of!(Header, lease_offset) == 88);
    assert!(offset_of!(Header, check) == 72);
    assert!(offset_of!(Header, recoveries) == 80);
    assert!(offset_of!(Header, producer) == 128);
    assert!(offset_of!(Header, tail) == 192);
    assert!(offset_of!(Header, consumer) == 256);
    assert!(offset_of!(Header, head) == 320);
    assert!(offset_of!(Header, not_empty) == 384);
    assert!(offset_of!(Header, not_full) == 448);
    assert!(offset_of!(Header, leases) == 512);
    assert!(size_of::<Header>() == 768);
    assert!(size_of::<Header>() as u64 <= IDENTITY_OFFSET);
    assert!(LEASE_OFFSET == 69632 && DATA_OFFSET == 200704 && DATA_OFFSET % 4096 == 0);
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
            return Err(Error::invalid(format_args!(
                "capacity {capacity} is outside {MIN_CAPACITY}..={MAX_CAPACITY} bytes"
            )));
        }
        let capacity = capacity.next_multiple_of(ALIGN);
        let fits = (capacity - RECORD_HEADER).min(MAX_MESSAGE_LIMIT);
        let max_message_size = match max_message_size {
            0 => fits,
            m if m <= fits => m,
            m => {
                return Err(Error::invalid(format_args!(
                    "max_message_size {m} can never fit in a queue of capacity {capacity} (at most {fits})"
                )));
            }
        };
        Ok(Geometry {
            capacity,
            max_message_size,
        })
    }

    /// Total segment size: header page, identity and lease tables, storage.
    pub fn segment_len(&self) -> u64 {
        DATA_OFFSET + self.capacity
    }

    fn checksum(&self) -> u64 {
        // FNV-1a over the identity, feature and geometry words.
        [
            MAGIC,
            u64::from(LAYOUT_VERSION),
            size_of::<Header>() as u64,
            u64::from(KNOWN_INCOMPAT),
            u64::from(KNOWN_RO_COMPAT),
            self.capacity,
            self.max_message_size,
            DATA_OFFSET,
            IDENTITY_OFFSET,
            u64::from(IDENTITY_SLOTS),
            LEASE_OFFSET,
            u64::from(LEASE_SLOTS),
        ]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    }
}

/// How far a validated segment's creator got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Its identity and geometry are written; its storage may not be
    /// allocated yet.
    Creating,
    /// Complete and usable.
    Ready,
}

impl Header {
    /// Writes the identity, features and geometry of a segment being
    /// created and marks it [`CREATING`]. The rest of a fresh segment is
    /// zero, which is its initial state.
    pub fn mark_creating(&self, geometry: &Geometry) {
        self.magic.store(MAGIC, Ordering::Relaxed);
        self.layout_version.store(LAYOUT_VERSION, Ordering::Relaxed);
        self.header_size
            .store(size_of::<Header>() as u32, Ordering::Relaxed);
        self.incompat.store(KNOWN_INCOMPAT, Ordering::Relaxed);
        self.ro_compat.store(KNOWN_RO_COMPAT, Ordering::Relaxed);
        self.compat.store(0, Ordering::Relaxed);
        self.capacity.store(geometry.capacity, Ordering::Relaxed);
        self.max_message_size
            .store(geometry.max_message_size, Ordering::Relaxed);
        self.data_offset.store(DATA_OFFSET, Ordering::Relaxed);
        self.identity_offset
            .store(IDENTITY_OFFSET, Ordering::Relaxed);
        self.identity_slots.store(IDENTITY_SLOTS, Ordering::Relaxed);
        self.lease_offset.store(LEASE_OFFSET, Ordering::Relaxed);
        self.lease_slots.store(LEASE_SLOTS, Ordering::Relaxed);
        self.check.store(geometry.checksum(), Ordering::Relaxed);
        self.state.store(CREATING, Ordering::Release);
    }

    /// Publishes a segment whose storage is allocated as ready.
    pub fn mark_ready(&self) {
        self.state.store(READY, Ordering::Release);
    }

    /// Validates the identity and geometry of a segment of `file_len` bytes,
    /// reading each field once, and says how far its creator got.
    ///
    /// # Errors
    /// [`Error::Incompatible`] for a foreign or other-version segment, one
    /// needing unknown features, or one whose creator has not written its
    /// geometry yet ([`IncompatibleCause::Unfinished`]); [`Error::Corrupted`]
    /// when the geometry fails its checksum or does not match the file size.
    pub fn validate(&self, file_len: u64) -> Result<(Geometry, Stage)> {
        let magic = self.magic.load(Ordering::Relaxed);
        if magic != MAGIC {
            return Err(if magic == 0 {
                Error::incompatible(
                    IncompatibleCause::Empty,
                    format_args!(
                        "the file is empty or zero-filled: no wq queue, or one whose creator died before writing it (remove it to start over)"
                    ),
                )
            } else {
                Error::incompatible(
                    IncompatibleCause::NotAQueue,
                    format_args!("bad magic {magic:#018x}: not a wq queue"),
                )
            });
        }
        let version = self.layout_version.load(Ordering::Relaxed);
        if version != LAYOUT_VERSION {
            return Err(Error::incompatible(
                IncompatibleCause::OtherLayout { version },
                format_args!(
                    "the queue has layout version {version}{}; this library reads layout {LAYOUT_VERSION} only (drain it with the wq that made it, or remove it)",
                    if version < LAYOUT_VERSION {
                        " (made by an older wq)"
                    } else {
                        " (made by a newer wq)"
                    }
                ),
            ));
        }
        let incompat = self.incompat.load(Ordering::Relaxed);
        let unknown_incompat = incompat & !KNOWN_INCOMPAT;
        let unknown_ro = self.ro_compat.load(Ordering::Relaxed) & !KNOWN_RO_COMPAT;
        if unknown_incompat | unknown_ro != 0 {
            return Err(Error::incompatible(
                IncompatibleCause::UnknownFeatures {
                    bits: unknown_incompat | unknown_ro,
                },
                format_args!(
                    "the queue uses features this library does not know (incompat {unknown_incompat:#x}, ro_compat {unknown_ro:#x}): made by a newer wq"
                ),
            ));
        }
        let missing = REQUIRED_INCOMPAT & !incompat;
        if missing != 0 {
            return Err(Error::incompatible(
                IncompatibleCause::MissingFeatures { bits: missing },
                format_args!(
                    "the queue lacks features this library needs (incompat {missing:#x}: {}): made by an early layout-2 wq (drain it with the wq that made it, or remove it)",
                    if missing & FEATURE_LEASES != 0 {
                        "no lease table"
                    } else if missing & FEATURE_CONTIGUOUS != 0 {
                        "records may wrap around the ring's end"
                    } else {
                        "acked leases are freed one at a time"
                    }
                ),
            ));
        }
        let header_size = self.header_size.load(Ordering::Relaxed);
        if header_size as usize != size_of::<Header>() {
            return Err(Error::corrupted(
                CorruptionCause::Header,
                format_args!("header size {header_size}, not {}", size_of::<Header>()),
            ));
        }
        let stage = match self.state.load(Ordering::Acquire) {
            READY => Stage::Ready,
            CREATING => Stage::Creating,
            0 => return Err(unfinished()),
            other => {
                return Err(Error::corrupted(
                    CorruptionCause::Header,
                    format_args!("impossible state word {other:#x}"),
                ));
            }
        };
        let geometry = Geometry {
            capacity: self.capacity.load(Ordering::Relaxed),
            max_message_size: self.max_message_size.load(Ordering::Relaxed),
        };
        let offsets_ok = self.data_offset.load(Ordering::Relaxed) == DATA_OFFSET
            && self.identity_offset.load(Ordering::Relaxed) == IDENTITY_OFFSET
            && self.identity_slots.load(Ordering::Relaxed) == IDENTITY_SLOTS
            && self.lease_offset.load(Ordering::Relaxed) == LEASE_OFFSET
            && self.lease_slots.load(Ordering::Relaxed) == LEASE_SLOTS;
        if !offsets_ok || self.check.load(Ordering::Relaxed) != geometry.checksum() {
            return Err(Error::corrupted(
                CorruptionCause::Header,
                format_args!("the header's geometry fails its checksum"),
            ));
        }
        let sane = (MIN_CAPACITY..=MAX_CAPACITY).contains(&geometry.capacity)
            && geometry.capacity % ALIGN == 0
            && geometry.max_message_size
                <= (geometry.capacity - RECORD_HEADER).min(MAX_MESSAGE_LIMIT);
        if !sane {
            return Err(Error::corrupted(
                CorruptionCause::Header,
                format_args!("impossible geometry {geometry:?}"),
            ));
        }
        if geometry.segment_len() != file_len {
            return Err(Error::corrupted(
                CorruptionCause::Truncated,
                format_args!(
                    "the segment is {file_len} bytes but its header describes {}",
                    geometry.segment_len()
                ),
            ));
        }
        Ok((geometry, stage))
    }
}

/// The error for a wq segment whose creator never finished it.
pub fn unfinished() -> Error {
    Error::incompatible(
        IncompatibleCause::Unfinished,
        format_args!(
            "the queue's creator never finished initialising it (remove it to start over)"
        ),
    )
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
