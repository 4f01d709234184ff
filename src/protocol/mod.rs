//! The locked protocol: side transactions over one attached segment (the
//! lease transactions are in [`leased`]).
//!
//! Producers and consumers have a lock each (wq's own lock word in their
//! [`Side`], see [`crate::lock`]), so pushers and poppers never contend with
//! each other. A side transaction is: **begin** (take the side's lock,
//! repairing what a dead holder left), **write or read** (under the lock a
//! producer writes whole records after `tail`, a consumer copies records out
//! from the delivery cursor), **publish** (the new position with Release,
//! then the side's message total). A record is therefore visible only once
//! complete, and its storage is released for reuse (`head` moves) only once
//! it was copied out and no lease is left on it or before it (see
//! [`crate::lease`]). A lock holder first notes the position it started
//! from and the total it will publish (`pending_*`), so that whoever takes
//! over the lock of a dead holder can tell whether the update was published
//! and finish it ([`Handle::repair`]).
//!
//! Nothing read from the segment is trusted: positions and record headers
//! are validated before use, and a segment truncated under the handle is
//! seen (SIGBUS handler, file size) before anything is published.

use std::os::fd::{OwnedFd, RawFd};
use std::sync::Mutex;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize};
use std::time::Duration;

use crate::error::{CorruptionCause, Error, Result};
use crate::handles;
use crate::layout::{Geometry, Header, Side};
use crate::lease;
use crate::liveness::{Identity, Table};
use crate::lock::{self, Hold, LockError, Waiter};
use crate::readiness::Readiness;
use crate::ring::{self, Ring, record_len};
use crate::segment::Segment;
use crate::sink::Sink;
use crate::sync::{Deadline, Event, Waited, Watch};
use crate::sys;

mod leased;
mod reserve;

pub use leased::Settle;

/// Bytes of progress (four cache lines) a waiter prefers to see before it
/// takes over (see `sync::Event::wait_until`).
const GATHER_BYTES: u64 = 256;

/// Every this many transactions a handle asks the file's size, so that a
/// truncation too small to fault (less than a page) is seen by a handle
/// that never waits; waits, stats and opens ask every time.
const SIZE_CHECK_EVERY: u32 = 1024;

/// A pop frees acked lease slots (and their storage) only every this many
/// pops of its handle, unless the storage or the slots may be wanted
/// sooner (see [`Handle::begin_pop`]): freeing is one pass over the table
/// and one journal entry for however many there are.
const REAP_EVERY: u32 = 16;

/// A snapshot of a queue's counters (see [`crate::Queue::stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages queued now.
    pub len: u64,
    /// Bytes of `capacity` in use now (record headers included); 0 when empty.
    pub bytes_used: u64,
    /// Bytes of message storage.
    pub capacity: u64,
    /// Effective maximum message size.
    pub max_message_size: u64,
    /// Messages pushed since creation.
    pub pushed_total: u64,
    /// Messages popped since creation.
    pub popped_total: u64,
    /// Times a dead lock owner was detected and recovered.
    pub recoveries: u64,
}

/// Which side a transaction is on.
#[derive(Clone, Copy)]
enum Which {
    Producer,
    Consumer,
}

/// One attached handle: the mapped segment, its ring, this handle's
/// identity and its private waiting state.
pub struct Handle {
    segment: Segment,
    ring: Ring,
    geometry: Geometry,
    identity: Identity,
    /// Non-zero while interrupted ([`Handle::interrupt`]); waits sleep on it.
    interrupt: AtomicU32,
    holds: [Hold; 2],
    /// Transactions begun, for [`SIZE_CHECK_EVERY`] (a racy count is enough).
    transactions: AtomicU32,
    /// The readiness descriptor, made when first asked for.
    readiness: Mutex<Option<Readiness>>,
    /// Whether `readiness` may hold one (read by every pop that finds the
    /// queue empty, so that handles without one pay nothing).
    has_readiness: AtomicBool,
    /// The zero-copy push this handle holds the producers' lock for.
    reservation: Mutex<Option<reserve::Reservation>>,
    /// The thread that made it (0: none), so that its own pushes fail
    /// instead of waiting for it.
    reserver: AtomicUsize,
    /// Set when this handle's last wait for messages held out for a few
    /// cache lines of them in vain (a lone message, as in a request and
    /// its reply): its pops then take each message the moment it comes,
    /// until one finds messages already there (a stream), see
    /// [`Event::wait_until`]. A hint of this process: no peer sees it.
    lone: AtomicBool,
    /// Whether this handle's last wait was answered within a full spin
    /// (see [`Watch::quick`]). A hint of this process.
    quick: AtomicBool,
    /// Pops of this handle since it last freed acked slots (see
    /// [`REAP_EVERY`]; a racy count is enough).
    unreaped_pops: AtomicU32,
}

/// Where a producer transaction writes: the position after what it wrote,
/// and the bytes in use before it (as of the last look at the head).
struct Space {
    pos: u64,
    used: u64,
}

/// A side transaction in progress: the side's lock, held; released on drop.
struct Held<'a> {
    side: &'a Side,
    hold: &'a Hold,
    /// The identity token of the handle holding it.
    me: u32,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.hold.leave();
        lock::unlock(&self.side.lock);
    }
}

impl Handle {
    /// Attaches to a mapped segment (publishing it as ready if this process
    /// is creating it).
    ///
    /// # Errors
    /// Those of reopening the file and attaching an identity.
    pub fn attach(segment: Segment) -> Result<Handle> {
        let geometry = segment.geometry();
        let lock_fd = {
            let _no_cancel = sys::NoCancel::new();
            segment.reopen()?
        };
        let identity = Identity::attach(Table::new(segment.slots()), segment.entry(), lock_fd)?;
        // SAFETY: the segment maps `capacity` bytes of storage at `data()`
        // (validated against its size), a non-zero multiple of 8, for as long
        // as the segment (owned alongside the ring) lives.
        let ring = unsafe { Ring::new(segment.data(), geometry.capacity) };
        segment.publish();
        Ok(Handle {
            segment,
            ring,
            geometry,
            identity,
            interrupt: AtomicU32::new(0),
            holds: [Hold::default(), Hold::default()],
            transactions: AtomicU32::new(0),
            readiness: Mutex::new(None),
            has_readiness: AtomicBool::new(false),
            reservation: Mutex::new(None),
            reserver: AtomicUsize::new(0),
            lone: AtomicBool::new(false),
            quick: AtomicBool::new(false),
            unreaped_pops: AtomicU32::new(0),
        })
    }

    /// The validated geometry.
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    #[inline]
    fn header(&self) -> &Header {
        self.segment.header()
    }

    #[inline]
    fn table(&self) -> Table<'_> {
        Table::new(self.segment.slots())
    }

    /// The lease table, for the consumer lock's holder.
    #[inline]
    fn leases(&self) -> lease::Table<'_> {
        let h = self.header();
        lease::Table::new(&h.leases, self.segment.lease_slots(), &h.consumer)
    }

    fn reopen(&self) -> Result<OwnedFd> {
        self.segment.reopen()
    }

    /// Ends every wait of this handle in this process, now and until
    /// [`Handle::interrupt_clear`]. Async-signal-safe: one store and one
    /// private futex wake.
    pub fn interrupt(&self) {
        self.interrupt.store(1, Release);
        sys::futex_wake(&self.interrupt, i32::MAX, false);
    }

    /// Ends the interrupted state.
    pub fn interrupt_clear(&self) {
        self.interrupt.store(0, Release);
    }

    /// Whether a peer's token is alive, asked through this handle's own
    /// liveness descriptor (`me` is: the kernel would not see its own lock).
    fn alive(&self, token: u32, me: u32) -> bool {
        if token == me {
            return true;
        }
        match self.segment.entry().lock_fd() {
            Some(fd) => self.table().is_alive(token, fd),
            None => true,
        }
    }

    /// Begins a transaction on `which` side: takes its lock within
    /// `deadline`, repairing the update of a dead holder; on the consumer
    /// side, frees the lease slots acked since the last transaction. `busy`
    /// is the error for a lock a peer keeps past the deadline.
    fn begin(&self, which: Which, deadline: &Deadline, busy: fn() -> Error) -> Result<Held<'_>> {
        let held = self.lock_side(which, deadline, busy)?;
        if let Which::Consumer = which {
            if self.leases().reap_due() {
                self.reap_acked()?;
            }
        }
        Ok(held)
    }

    /// Begins a pop: as [`Handle::begin`] on the consumer side, but acked
    /// slots are freed only every [`REAP_EVERY`] pops of the handle, or at
    /// once when a producer sleeps for room, the ring is more than half in
    /// use or every slot may be (a pop that finds nothing frees them too,
    /// see [`Handle::wait_for_messages`]).
    fn begin_pop(&self, deadline: &Deadline) -> Result<Held<'_>> {
        let held = self.lock_side(Which::Consumer, deadline, || Error::Empty)?;
        if self.leases().reap_due() && self.reap_wanted() {
            self.reap_acked()?;
        }
        Ok(held)
    }

    /// Whether a pop that may free acked slots does so now (see
    /// [`Handle::begin_pop`]); counts the pops that do not.
    fn reap_wanted(&self) -> bool {
        let h = self.header();
        let pops = self.unreaped_pops.load(Relaxed).wrapping_add(1);
        let half_used = ring::used(
            h.head.pos.load(Relaxed),
            h.consumer.cached_peer.load(Relaxed),
            self.geometry.capacity,
        )
        .map_or(true, |used| used > self.geometry.capacity / 2);
        let wanted = pops >= REAP_EVERY
            || h.not_full.waiting.load(Relaxed) != 0
            || half_used
            || h.leases.at_limit();
        self.unreaped_pops
            .store(if wanted { 0 } else { pops }, Relaxed);
        wanted
    }

    /// Takes `which` side's lock within `deadline`, repairing the update
    /// of a dead holder (see [`Handle::begin`]).
    #[inline(always)]
    fn lock_side(
        &self,
        which: Which,
        deadline: &Deadline,
        busy: fn() -> Error,
    ) -> Result<Held<'_>> {
        let n = self.transactions.load(Relaxed).wrapping_add(1);
        self.transactions.store(n, Relaxed);
        if n % SIZE_CHECK_EVERY == 0 || self.segment.entry().broken() {
            self.segment.check_whole()?;
        }
        let h = self.header();
        let (side, position, hold) = match which {
            Which::Producer => (&h.producer, &h.tail.pos, &self.holds[0]),
            Which::Consumer => (&h.consumer, &h.leases.cursor, &self.holds[1]),
        };
        let me = self
            .identity
            .token(self.table(), self.segment.entry(), || self.reopen())?;
        let waiter = Waiter {
            me,
            hold,
            interrupt: &self.interrupt,
            alive: |token| self.alive(token, me),
        };
        let took_over = lock::lock(&side.lock, &waiter, deadline).map_err(|e| match e {
            LockError::TimedOut => busy(),
            LockError::Interrupted => Error::Interrupted,
        })?;
        hold.enter();
        let held = Held { side, hold, me };
        if took_over {
            self.repair(which, side, position);
        }
        Ok(held)
    }

    /// Runs under a lock whose previous holder died holding it: on the
    /// consumer side, apply its journalled lease change again (see
    /// [`crate::lease`]); if its update published the position but not the
    /// total, finish it; on the consumer side, move `head` up to what the
    /// lease table still holds; count the recovery. A half-written record
    /// beyond `tail` needs nothing: it was never published and will be
    /// overwritten.
    fn repair(&self, which: Which, side: &Side, position: &AtomicU64) {
        if let Which::Consumer = which {
            self.leases().repair();
        }
        if position.load(Relaxed) != side.pending_pos.load(Relaxed) {
            side.total.store(side.pending_total.load(Relaxed), Relaxed);
        }
        if let Which::Consumer = which {
            // An impossible table is reported by the next transaction.
            let _ = self.release_storage();
        }
        self.header().recoveries.fetch_add(1, Relaxed);
    }

    /// Under the consumer lock: moves `head` up to the oldest message
    /// still leased or waiting for redelivery (the cursor when there is
    /// none), freeing the storage before it; returns whether it moved.
    ///
    /// # Errors
    /// [`Error::Corrupted`] when the positions or the lease table are impossible.
    fn release_storage(&self) -> Result<bool> {
        let h = self.header();
        let leases = self.leases();
        let head = h.head.pos.load(Relaxed);
        let cursor = leases.cursor().load(Relaxed);
        ring::used(head, cursor, self.geometry.capacity)?;
        let oldest = if leases.in_use() {
            leases.oldest_pos(head, cursor)?
        } else {
            cursor
        };
        if oldest > head {
            h.head.pos.store(oldest, Release);
            return Ok(true);
        }
        Ok(false)
    }

    /// Publishes a side's new position, then its total (see the module docs).
    /// Refuses when the segment was truncated under the handle: what was
    /// written may have gone to private zero pages.
    #[inline]
    fn publish(&self, side: &Side, position: &AtomicU64, pos: u64, count: u64) -> Result<()> {
        if self.segment.entry().broken() {
            return self.segment.check_whole();
        }
        let total = side.total.load(Relaxed).wrapping_add(count);
        side.pending_total.store(total, Relaxed);
        position.store(pos, Release);
        side.total.store(total, Relaxed);
        Ok(())
    }

    /// Pushes a prefix of `msgs` (see [`crate::Queue::push_batch`]); the
    /// first message is known to fit the queue's limit.
    pub fn push_batch<M: AsRef<[u8]>>(
        &self,
        msgs: &[M],
        timeout: Option<Duration>,
    ) -> Result<usize> {
        self.refuse_while_reserving()?;
        let h = self.header();
        let first_len = msgs.first().map_or(0, |m| m.as_ref().len() as u64);
        let deadline = Deadline::new(timeout);
        let mut gather = timeout != Some(Duration::ZERO);
        let mut last_look = false;
        loop {
            let pushed = self.push_locked(msgs, &deadline, gather)?;
            if pushed > 0 {
                Event(&h.not_empty).notify();
                return Ok(pushed);
            }
            self.wait_for_room(&deadline, record_len(first_len), &mut last_look)?;
            gather = false;
        }
    }

    /// Waits until a record of `size` bytes may fit after the tail
    /// (padding included), or acked messages wait for their storage to be
    /// freed (which it then frees). Once the deadline has passed, the
    /// caller gets one more look (`last_look` says whether it had it),
    /// then [`Error::Full`], even if the room this wait sees, from
    /// positions read without a lock, cannot be had.
    ///
    /// # Errors
    /// [`Error::Full`] once the deadline passed; [`Error::Interrupted`];
    /// those of checking the segment.
    fn wait_for_room(&self, deadline: &Deadline, size: u64, last_look: &mut bool) -> Result<()> {
        if deadline.spent() {
            if *last_look {
                return Err(Error::Full);
            }
            *last_look = true;
        }
        let h = self.header();
        let capacity = self.geometry.capacity;
        // At most the whole ring: an empty queue always lets its first
        // record through (see `place_record`).
        let tail = h.tail.pos.load(Acquire);
        let need = (self.ring.padding_before(tail, size) + size).min(capacity);
        // Bytes of room; tail first: a head read later can only be further
        // on. Impossible positions count as room: the locked path reports them.
        let room = || {
            let tail = h.tail.pos.load(Acquire);
            ring::used(h.head.pos.load(Acquire), tail, capacity)
                .map_or(capacity, |used| capacity - used)
        };
        let plenty = need.saturating_add(GATHER_BYTES).min(capacity);
        let waited = Event(&h.not_full).wait_until(
            deadline,
            room,
            need,
            plenty,
            Watch {
                interrupt: &self.interrupt,
                healthy: || self.segment.check_whole(),
                // Acked messages whose storage nobody freed yet.
                wake_at: |now| self.leases().reap_due().then_some(now),
                quick: Some(&self.quick),
            },
        )?;
        if !waited.ready() {
            // Woken by the note of an ack, or out of time with acked
            // messages holding storage: beginning a consumer transaction
            // frees it (unless another did), and the caller looks again.
            if self.leases().reap_due() {
                drop(self.begin(Which::Consumer, deadline, || Error::Full)?);
            } else if deadline.spent() {
                return Err(Error::Full);
            }
        }
        Ok(())
    }

    /// Under the producer lock, writes as many leading `msgs` as fit. With
    /// `gather`, it writes nothing when it had to re-read the head and found
    /// less than [`GATHER_BYTES`] to spare: the caller then waits a moment for
    /// more room (see [`Event::wait_until`]) instead of chasing the consumer.
    fn push_locked<M: AsRef<[u8]>>(
        &self,
        msgs: &[M],
        deadline: &Deadline,
        gather: bool,
    ) -> Result<usize> {
        let h = self.header();
        let held = self.begin(Which::Producer, deadline, || Error::Full)?;
        let side = held.side;
        let max_message_size = self.geometry.max_message_size;
        // A copy: the handle holds atomics, so a reference to it does not
        // tell the compiler that the ring's fields stay put across writes.
        let ring = self.ring;
        let mut space = self.space(&held)?;
        let mut count = 0u64;
        for msg in msgs {
            let msg = msg.as_ref();
            if msg.len() as u64 > max_message_size {
                break;
            }
            let extra = if gather && count == 0 {
                GATHER_BYTES
            } else {
                0
            };
            let Some(at) = self.place_record(
                &held,
                &mut space,
                record_len(msg.len() as u64),
                extra,
                deadline,
            )?
            else {
                break;
            };
            ring.write_record(at, msg);
            count += 1;
        }
        if count > 0 {
            self.publish(side, &h.tail.pos, space.pos, count)?;
        }
        Ok(count as usize)
    }

    /// Under the producer lock: where this transaction writes, starting at
    /// the tail (which it notes as the position it started from).
    #[inline(always)]
    fn space(&self, held: &Held<'_>) -> Result<Space> {
        let side = held.side;
        let tail = self.header().tail.pos.load(Relaxed);
        let used = match ring::used(side.cached_peer.load(Relaxed), tail, self.geometry.capacity) {
            Ok(used) => used,
            Err(_) => self.refresh_head(side, tail)?,
        };
        side.pending_pos.store(tail, Relaxed);
        Ok(Space { pos: tail, used })
    }

    /// Under the producer lock: room for a record of `size` bytes at
    /// `space.pos`, in one piece. Writes the padding up to the ring's end
    /// the record needs first, if any, and returns where the record goes,
    /// advancing `space` past it; `None` when there is no room (with
    /// `extra`, when less than `extra` bytes would be left to spare after a
    /// re-read of the head). The first record of a transaction on a queue
    /// with nothing in it always fits: if its padding would not leave room
    /// for it, the ring's positions skip to the start.
    #[inline(always)]
    fn place_record(
        &self,
        held: &Held<'_>,
        space: &mut Space,
        size: u64,
        extra: u64,
        deadline: &Deadline,
    ) -> Result<Option<u64>> {
        let pad = self.ring.padding_before(space.pos, size);
        if pad == 0 && self.geometry.capacity - space.used >= size {
            let at = space.pos;
            space.pos += size;
            space.used += size;
            return Ok(Some(at));
        }
        self.place_record_slow(held, space, pad, size, extra, deadline)
    }

    /// [`Handle::place_record`] for a record that needs padding or a fresh
    /// look at the head.
    #[inline(never)]
    fn place_record_slow(
        &self,
        held: &Held<'_>,
        space: &mut Space,
        mut pad: u64,
        size: u64,
        extra: u64,
        deadline: &Deadline,
    ) -> Result<Option<u64>> {
        let capacity = self.geometry.capacity;
        if capacity - space.used < pad + size {
            space.used = self.refresh_head(held.side, space.pos)?;
            // The gathering target stops at the whole ring; the need does not.
            let want = (pad + size).saturating_add(extra).min(capacity);
            if capacity - space.used < want.max(pad + size) {
                if space.used != 0
                    || pad + size <= capacity
                    || !self.skip_to_start(space.pos, pad, deadline)?
                {
                    return Ok(None);
                }
                space.pos += pad;
                pad = 0;
            }
        }
        if pad > 0 {
            self.ring.write_padding(space.pos);
        }
        let at = space.pos + pad;
        space.pos = at + size;
        space.used += pad + size;
        Ok(Some(at))
    }

    /// Under the producer lock, on a queue with nothing in it whose next
    /// record would not fit after padding to the ring's end: pads to the
    /// end and moves every position past the padding, under the consumer
    /// lock too, so that the whole ring is free from offset 0. Returns
    /// `false` (changing nothing) if the consumer lock is not had before the
    /// deadline; [`Error::Corrupted`] if the consumers' positions or lease
    /// slots say the queue is not empty after all.
    #[cold]
    fn skip_to_start(&self, tail: u64, pad: u64, deadline: &Deadline) -> Result<bool> {
        let h = self.header();
        let held = match self.begin(Which::Consumer, deadline, || Error::Full) {
            Ok(held) => held,
            Err(Error::Full) => return Ok(false),
            Err(e) => return Err(e),
        };
        let leases = self.leases();
        let (head, cursor) = (h.head.pos.load(Relaxed), leases.cursor().load(Relaxed));
        // The producer saw `head` at its `tail`; consumers move `head` only
        // up to the cursor, never past the tail: anything else is a scribble
        // (and refusing quietly would have the caller wait for room that
        // it sees and never gets).
        if head != tail || cursor != tail {
            return Err(Error::corrupted(
                CorruptionCause::Positions,
                format_args!(
                    "an empty queue's positions disagree: head {head}, delivery cursor {cursor}, tail {tail}"
                ),
            ));
        }
        if leases.in_use() {
            // No slot can name a position in an empty range: a used one is
            // reported, a stale hint recounted.
            leases.oldest_pos(head, cursor)?;
            leases.recount();
        }
        self.ring.write_padding(tail);
        let start = tail + pad;
        // The padding first, as if pushed; then the consumers step over it.
        self.publish(&h.producer, &h.tail.pos, start, 0)?;
        self.publish(held.side, leases.cursor(), start, 0)?;
        h.head.pos.store(start, Release);
        Ok(true)
    }

    /// Re-reads the published head; returns the bytes used up to `pos`.
    fn refresh_head(&self, side: &Side, pos: u64) -> Result<u64> {
        let head = self.header().head.pos.load(Acquire);
        side.cached_peer.store(head, Relaxed);
        ring::used(head, pos, self.geometry.capacity)
    }

    /// Pops up to `max` messages into `sink`, waiting up to `timeout` for
    /// the first.
    pub fn pop_records<S: Sink>(
        &self,
        sink: &mut S,
        max: usize,
        timeout: Option<Duration>,
    ) -> Result<usize> {
        let h = self.header();
        let deadline = Deadline::new(timeout);
        let mut gather = self.gathering(timeout);
        let mut last_look = false;
        let mut waited = false;
        loop {
            let popped = self.pop_locked(sink, max, &deadline, gather)?;
            if popped > 0 {
                Event(&h.not_full).notify();
                self.note_arrival(waited);
                return Ok(popped);
            }
            if !self.wait_for_messages(&deadline, false, &mut last_look)? {
                return Err(Error::Empty);
            }
            (gather, waited) = (false, true);
        }
    }

    /// Whether a pop with `timeout` holds out for a few cache lines of
    /// messages before it takes any (see [`Event::wait_until`]): not when
    /// it cannot wait, nor while messages come one at a time ([`Handle::lone`]).
    #[inline]
    fn gathering(&self, timeout: Option<Duration>) -> bool {
        timeout != Some(Duration::ZERO) && !self.lone.load(Relaxed)
    }

    /// A pop took messages, `waited` for them or not: one that found them
    /// at once sees a stream, and its handle gathers again.
    #[inline]
    fn note_arrival(&self, waited: bool) {
        if !waited && self.lone.load(Relaxed) {
            self.lone.store(false, Relaxed);
        }
    }

    /// Waits until a pop may find a message (a leased pop: one it can
    /// lease, with a free slot), or held leases are due for a check;
    /// returns `false` once the deadline passed (having reset the readiness
    /// descriptor). A pop whose time ran out while a check was due gets
    /// one more look (`last_look` says whether it had it).
    fn wait_for_messages(
        &self,
        deadline: &Deadline,
        leasing: bool,
        last_look: &mut bool,
    ) -> Result<bool> {
        let h = self.header();
        if self.leases().reap_due() {
            // Found nothing: free what `begin_pop` left acked, so that an
            // idle queue's counts and storage are exact. A busy lock's
            // holder frees it instead.
            let now = Deadline::new(Some(Duration::ZERO));
            drop(self.begin(Which::Consumer, &now, || Error::Empty));
        }
        let published = || h.leases.takeable(h.tail.pos.load(Acquire), leasing);
        let plenty = if self.lone.load(Relaxed) {
            1
        } else {
            GATHER_BYTES
        };
        let waited = Event(&h.not_empty).wait_until(
            deadline,
            published,
            1,
            plenty,
            Watch {
                interrupt: &self.interrupt,
                healthy: || self.segment.check_whole(),
                wake_at: |now| h.leases.wake_at(now),
                quick: Some(&self.quick),
            },
        )?;
        if waited == Waited::Trickle {
            self.lone.store(true, Relaxed);
        }
        if waited.ready() || !deadline.spent() {
            return Ok(true);
        }
        if !*last_look && h.leases.check_due(sys::monotonic_ns()) {
            *last_look = true;
            return Ok(true);
        }
        if self.has_readiness.load(Relaxed) {
            self.reset_readiness();
        }
        Ok(false)
    }

    /// The readiness descriptor of this handle, made (with its helper
    /// thread) on first use, see [`crate::readiness`].
    ///
    /// # Errors
    /// [`Error::System`] when the eventfd or the thread cannot be had.
    pub fn readable_fd(&self) -> Result<RawFd> {
        let mut slot = self.readiness.lock().unwrap_or_else(|p| p.into_inner());
        let generation = handles::fork_generation();
        if let Some(r) = slot.take_if(|r| !r.made_in(generation)) {
            r.abandon();
        }
        if let Some(r) = slot.as_ref() {
            return Ok(r.fd());
        }
        let _no_cancel = sys::NoCancel::new();
        // SAFETY: the header stays mapped while the handle lives, and the
        // handle drops its readiness first thing when it goes.
        let r = unsafe { Readiness::start(self.header(), generation) }?;
        let fd = r.fd();
        *slot = Some(r);
        self.has_readiness.store(true, Release);
        Ok(fd)
    }

    /// A pop found the queue empty: reset this process's descriptor (one
    /// a fork child inherited is its parent's, which the child must leave
    /// alone).
    #[cold]
    fn reset_readiness(&self) {
        let slot = self.readiness.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = slot
            .as_ref()
            .filter(|r| r.made_in(handles::fork_generation()))
        {
            r.reset();
        }
    }

    /// Under the consumer lock, copies out as many messages as `sink`
    /// takes, up to `max`, stepping over padding: one waiting for
    /// redelivery if there is one, else those at the cursor. With `gather`, it takes
    /// nothing when it had to re-read the tail and found less than
    /// [`GATHER_BYTES`] published: the caller then waits a moment for more
    /// (see [`Event::wait_until`]) instead of chasing the producer through
    /// the line it is writing.
    fn pop_locked<S: Sink>(
        &self,
        sink: &mut S,
        max: usize,
        deadline: &Deadline,
        gather: bool,
    ) -> Result<usize> {
        let h = self.header();
        let held = self.begin_pop(deadline)?;
        let side = held.side;
        let leases = self.leases();
        if leases.in_use() || leases.any_released() {
            if let Some(popped) = self.pop_released(&held, sink)? {
                return Ok(popped);
            }
        }
        let Geometry {
            capacity,
            max_message_size,
        } = self.geometry;
        let ring = self.ring;
        let head = leases.cursor().load(Relaxed);
        // The storage not yet released ends at the cursor.
        ring::used(h.head.pos.load(Relaxed), head, capacity)?;
        let mut available = match ring::used(head, side.cached_peer.load(Relaxed), capacity) {
            Ok(0) | Err(_) => match self.refresh_tail(side, head)? {
                thin if gather && thin < GATHER_BYTES => return Ok(0),
                available => available,
            },
            Ok(available) => available,
        };
        side.pending_pos.store(head, Relaxed);
        let mut pos = head;
        let mut count = 0usize;
        while count < max {
            if available == 0 {
                available = self.refresh_tail(side, pos)?;
                if available == 0 {
                    break;
                }
            }
            let record = ring.read_header(pos, available, max_message_size)?;
            let len = record.len;
            let rec = record.size;
            if !record.padding {
                let Some(dst) = sink.place(count, len as usize) else {
                    if count == 0 {
                        return Err(Error::BufferTooSmall {
                            needed: len,
                            cap: sink.room() as u64,
                        });
                    }
                    break;
                };
                ring.read_message(&record, dst);
                count += 1;
            }
            pos += rec;
            available -= rec;
        }
        if pos != head {
            self.publish(side, leases.cursor(), pos, count as u64)?;
            if !leases.in_use() {
                h.head.pos.store(pos, Release);
            }
        }
        Ok(count)
    }

    /// Re-reads the published tail; returns the bytes published from `pos`.
    fn refresh_tail(&self, side: &Side, pos: u64) -> Result<u64> {
        let tail = self.header().tail.pos.load(Acquire);
        side.cached_peer.store(tail, Relaxed);
        ring::used(pos, tail, self.geometry.capacity)
    }

    /// A snapshot of the queue's counters (see [`crate::Queue::stats`]).
    pub fn stats(&self) -> Result<Stats> {
        self.segment.check_whole()?;
        let h = self.header();
        let deadline = Deadline::new(Some(Duration::ZERO));
        let _producer = self.begin_for_stats(Which::Producer, &deadline)?;
        let _consumer = self.begin_for_stats(Which::Consumer, &deadline)?;
        // Consumer side first: what it moved was pushed before.
        let popped_total = h.consumer.total.load(Relaxed);
        let head = h.head.pos.load(Acquire);
        let cursor = self.leases().cursor().load(Relaxed);
        let tail = h.tail.pos.load(Acquire);
        let pushed_total = h.producer.total.load(Relaxed);
        ring::used(head, cursor, self.geometry.capacity)?;
        ring::used(cursor, tail, self.geometry.capacity)?;
        Ok(Stats {
            len: pushed_total.saturating_sub(popped_total),
            bytes_used: ring::used(head, tail, self.geometry.capacity)?,
            capacity: self.geometry.capacity,
            max_message_size: self.geometry.max_message_size,
            pushed_total,
            popped_total,
            recoveries: h.recoveries.load(Relaxed),
        })
    }

    /// The pid hints of the other live handles attached to the queue.
    pub fn peer_pids(&self) -> Vec<u32> {
        match self.segment.entry().lock_fd() {
            Some(fd) => self.table().peer_pid_hints(self.identity.current(), fd),
            None => Vec::new(),
        }
    }

    /// Takes a lock for [`Handle::stats`]: `None` when a peer keeps it past
    /// the deadline or the handle is interrupted (the counters are then
    /// read without it).
    fn begin_for_stats(&self, which: Which, deadline: &Deadline) -> Result<Option<Held<'_>>> {
        match self.begin(which, deadline, || Error::Empty) {
            Ok(held) => Ok(Some(held)),
            Err(Error::Empty | Error::Interrupted) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // Closing descriptors is a cancellation point in glibc.
        let _no_cancel = sys::NoCancel::new();
        self.cancel_on_close();
        self.abandon_leases();
        // First: the helper thread reads the mapping.
        let readiness = self.readiness.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = readiness.take() {
            if r.made_in(handles::fork_generation()) {
                drop(r);
            } else {
                r.abandon();
            }
        }
        self.identity.detach(self.table(), self.segment.entry());
    }
}
