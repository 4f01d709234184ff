//! Leases: the table of messages delivered but not yet acked, kept in the
//! segment and changed only under the consumer lock.
//!
//! A leased message stays in the ring. The consumers keep a *delivery
//! cursor* beside `head`: records before the cursor have been taken by some
//! pop; records before `head` are free storage. Every message between the
//! two that is neither acked nor popped has a slot in the lease table —
//! *held* while a live lease is on it, *released* once its lease ended
//! without an ack (it then waits to be delivered again, before anything
//! after the cursor) — and `head` is the oldest such slot's position, or the
//! cursor when there is none. A table with no slot in use (`high == 0`)
//! costs a plain pop nothing but one load.
//!
//! A lease token is a sequence number above the slot's index, so a token
//! names one delivery only: once its lease ends, or the message is
//! delivered again, it matches nothing. The holder is an identity token of
//! [`crate::liveness`], so a holder's death is the kernel's answer, in any
//! PID namespace; held leases are checked for expiry and dead holders at
//! least every [`CHECK_EVERY_NS`], by whichever consumer comes first
//! (waiting consumers wake up for it).
//!
//! Every change of a slot — with the cursor, the consumers' total and the
//! counters that go with it — is written to the [`Journal`] before it is
//! applied, so that whoever takes over the lock of a holder that died
//! half-way applies it again (each field holds its value after the change).
//! Acked slots are freed in batches under one journal entry ([`Table::reap`]).
//! Everything read from the table is validated first: a slot naming a
//! position outside `head..cursor`, a token of another slot or no delivery
//! is [`Error::Corrupted`].

use std::sync::atomic::Ordering::{AcqRel, Relaxed, Release};

use crate::error::{CorruptionCause, Error, Result};
use crate::layout::{ALIGN, COUNTERS, Counter, Journal, LEASE_SLOTS, LeaseSlot, LeaseState, Side};

/// Bits of a lease token below its sequence number: the slot's index.
const INDEX_BITS: u32 = 12;
const INDEX_MASK: u64 = (1 << INDEX_BITS) - 1;
/// A slot's token with this bit: its lease ended without an ack; the
/// message waits for redelivery. Issued tokens never have it.
const ENDED: u64 = 1 << 63;
/// A slot's token with this bit: acked (by a compare-and-swap, without the
/// lock); the next consumer-lock holder frees the slot. Issued tokens
/// never have it.
const ACKED: u64 = 1 << 62;
const FLAGS: u64 = ENDED | ACKED;
/// A slot's token with both bits: acked, and being freed by the batch
/// the journal holds (see [`Table::reap`]).
const REAPING: u64 = FLAGS;
const _: () = assert!(1 << INDEX_BITS == LEASE_SLOTS);

/// The journal's `armed`: nothing in flight.
const IDLE: u32 = 0;
/// The journal's `armed`: one slot's change (see [`Table::commit`]).
const ONE_CHANGE: u32 = 1;
/// The journal's `armed`: the freeing of every [`REAPING`] slot, with
/// the consumers' total and the acked count after it (see [`Table::reap`]).
const BATCH_FREE: u32 = 2;

/// Held leases are checked for dead holders at least this often (ns), and
/// a waiting consumer wakes up to do it: a message whose holder died is
/// delivered again within this time (plus the wake-up).
pub const CHECK_EVERY_NS: u64 = 250_000_000;

/// One delivery under a lease: what `wq_lease` carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Lease {
    /// Names this delivery (never 0); any handle on the queue may settle it.
    pub token: u64,
    /// Times the message has been delivered, this delivery included (1 for
    /// the first).
    pub deliveries: u32,
}

/// A snapshot of a queue's lease counters (see
/// [`Queue::lease_stats`](crate::Queue::lease_stats)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LeaseStats {
    /// Messages under a lease now.
    pub leased: u64,
    /// Leases ended by an ack, since creation.
    pub acked_total: u64,
    /// Leases ended by a nack.
    pub nacked_total: u64,
    /// Leases whose time ran out.
    pub expired_total: u64,
    /// Leases whose holder closed its handle or died.
    pub abandoned_total: u64,
    /// Deliveries after the first (by leased and plain pops).
    pub redelivered_total: u64,
}

/// The fields of one slot, each read once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    /// Token of the last delivery; 0 for a free slot.
    pub token: u64,
    /// Ring position of the message's record.
    pub pos: u64,
    /// Identity token of the holder; 0 once the lease ended.
    pub holder: u32,
    /// Deliveries so far.
    pub deliveries: u32,
    /// When the lease ends (monotonic ns; `u64::MAX`: never).
    pub deadline: u64,
}

impl Entry {
    fn is_used(&self) -> bool {
        self.token != 0
    }

    /// Whether a live lease may be on it.
    pub fn is_held(&self) -> bool {
        self.token != 0 && self.token & FLAGS == 0
    }

    fn is_released(&self) -> bool {
        self.token & FLAGS == ENDED
    }

    /// Whether it counts in the `held` hint: held, or acked and not yet
    /// freed (the hint goes down when the slot is).
    fn counts_held(&self) -> bool {
        self.is_used() && !self.is_released()
    }

    /// The same message with its lease ended.
    pub fn released(self) -> Entry {
        Entry {
            token: self.token | ENDED,
            holder: 0,
            ..self
        }
    }
}

fn load(slot: &LeaseSlot) -> Entry {
    Entry {
        token: slot.token.load(Relaxed),
        pos: slot.pos.load(Relaxed),
        holder: slot.holder.load(Relaxed),
        deliveries: slot.deliveries.load(Relaxed),
        deadline: slot.deadline.load(Relaxed),
    }
}

fn store(slot: &LeaseSlot, e: &Entry) {
    slot.pos.store(e.pos, Relaxed);
    slot.holder.store(e.holder, Relaxed);
    slot.deliveries.store(e.deliveries, Relaxed);
    slot.deadline.store(e.deadline, Relaxed);
    slot.token.store(e.token, Relaxed);
}

/// One change of the table: a slot's token before it and new fields, and
/// the cursor, total and the one counter it changes after it (what the
/// journal holds). It applies only if the token is still the one before: a
/// lock-free ack may win the race for a held slot.
pub struct Change {
    slot: usize,
    before: u64,
    entry: Entry,
    /// The delivery cursor after the change.
    pub cursor: u64,
    /// The consumers' total after the change.
    pub total: u64,
    counted: Option<(Counter, u64)>,
}

impl LeaseState {
    /// What a waiting consumer watches (read without the lock, so hints):
    /// the bytes published after the cursor, `u64::MAX` when a message
    /// waits for redelivery, 0 for a leased pop (`leasing`) when every
    /// slot is in use.
    #[inline]
    pub fn takeable(&self, tail: u64, leasing: bool) -> u64 {
        if self.released.load(Relaxed) != 0 {
            u64::MAX
        } else if leasing && self.at_limit() {
            0
        } else {
            tail.wrapping_sub(self.cursor.load(Relaxed))
        }
    }

    /// Whether held leases are due for their check at `now`, as waiters
    /// see it (the lock holder's own test, [`Table::due`], also takes a
    /// date too far ahead for a scribble).
    pub fn check_due(&self, now: u64) -> bool {
        self.wake_at(now).is_some_and(|at| at <= now)
    }

    /// Whether every slot may be in use (a hint): leased pops then wait.
    pub fn at_limit(&self) -> bool {
        let used = self
            .held
            .load(Relaxed)
            .saturating_add(self.released.load(Relaxed));
        used >= LEASE_SLOTS
    }

    /// When a waiting consumer is to wake up for the check of held leases,
    /// seen at `now` (`None`: none is held); never further than
    /// [`CHECK_EVERY_NS`] ahead.
    pub fn wake_at(&self, now: u64) -> Option<u64> {
        (self.held.load(Relaxed) != 0).then(|| {
            self.check_at
                .load(Relaxed)
                .min(now.saturating_add(CHECK_EVERY_NS))
        })
    }
}

/// The lease table of one mapped segment, with the consumer side it
/// belongs to. Only the consumer lock's holder may change it.
#[derive(Clone, Copy)]
pub struct Table<'a> {
    state: &'a LeaseState,
    slots: &'a [LeaseSlot],
    consumer: &'a Side,
}

impl<'a> Table<'a> {
    /// The table over `slots`, with its bookkeeping `state` and the
    /// consumer side whose total acks count in.
    pub fn new(state: &'a LeaseState, slots: &'a [LeaseSlot], consumer: &'a Side) -> Table<'a> {
        Table {
            state,
            slots,
            consumer,
        }
    }

    /// The delivery cursor.
    #[inline]
    pub fn cursor(&self) -> &'a std::sync::atomic::AtomicU64 {
        &self.state.cursor
    }

    /// Whether any slot may be in use (a hint: with none, `head` is the
    /// cursor and pops need not look at the table).
    #[inline]
    pub fn in_use(&self) -> bool {
        self.state.high.load(Relaxed) != 0
    }

    /// Whether a lease may be held (a hint).
    #[inline]
    pub fn any_held(&self) -> bool {
        self.state.held.load(Relaxed) != 0
    }

    /// Whether a message may wait for redelivery (a hint).
    #[inline]
    pub fn any_released(&self) -> bool {
        self.state.released.load(Relaxed) != 0
    }

    /// The slots below the high-water mark (the others are free).
    fn high(&self) -> usize {
        (self.state.high.load(Relaxed) as usize).min(self.slots.len())
    }

    /// The fields of slot `i`.
    pub fn entry(&self, i: usize) -> Entry {
        load(&self.slots[i])
    }

    /// Checks a used slot read from the segment: its token names it and a
    /// delivery, its position is a record boundary in `head..cursor`.
    ///
    /// # Errors
    /// [`Error::Corrupted`] when it does not.
    pub fn check(&self, i: usize, e: &Entry, head: u64, cursor: u64) -> Result<()> {
        let ok = e.token & INDEX_MASK == i as u64
            && (e.token & !FLAGS) >> INDEX_BITS != 0
            && e.pos % ALIGN == 0
            && (head..cursor).contains(&e.pos)
            && e.deliveries >= 1;
        if ok {
            Ok(())
        } else {
            Err(Error::corrupted(
                CorruptionCause::Leases,
                format_args!(
                    "lease slot {i} is impossible: token {:#x}, position {}, {} deliveries (head {head}, cursor {cursor})",
                    e.token, e.pos, e.deliveries
                ),
            ))
        }
    }

    /// The change that gives slot `slot` the fields `entry` and leaves the
    /// rest as it is (adjust it before [`Table::commit`]).
    pub fn change(&self, slot: usize, entry: Entry) -> Change {
        Change {
            slot,
            before: self.slots[slot].token.load(Relaxed),
            entry,
            cursor: self.state.cursor.load(Relaxed),
            total: self.consumer.total.load(Relaxed),
            counted: None,
        }
    }

    /// [`Table::change`], counting one more of `counter` with it.
    pub fn counted(&self, slot: usize, entry: Entry, counter: Counter) -> Change {
        let count = self.state.counters[counter as usize].load(Relaxed);
        Change {
            counted: Some((counter, count.wrapping_add(1))),
            ..self.change(slot, entry)
        }
    }

    /// Applies `c`: journal first, then the slot, cursor, total and
    /// counters, then the hints. Returns `false`, changing nothing, when a
    /// lock-free ack took the slot first.
    pub fn commit(&self, c: &Change) -> bool {
        let j = &self.state.journal;
        j.slot.store(c.slot as u32, Relaxed);
        j.before.store(c.before, Relaxed);
        store(&j.image, &c.entry);
        j.cursor.store(c.cursor, Relaxed);
        j.total.store(c.total, Relaxed);
        let (counter, count) = c.counted.map_or((COUNTERS, 0), |(c, n)| (c as usize, n));
        j.counter.store(counter as u32, Relaxed);
        j.count.store(count, Relaxed);
        j.armed.store(ONE_CHANGE, Release);
        let before = self.entry(c.slot);
        let applied = self.apply(c);
        j.armed.store(IDLE, Release);
        if applied {
            self.update_hints(c.slot, &before, &c.entry);
        }
        applied
    }

    /// Leases the message at the cursor through the free slot `slot`
    /// (`entry`), moving the cursor to `cursor`. No journal: the cursor's
    /// store is the commit point, and whoever takes over the lock of a
    /// holder that died before it frees the slot ([`Table::repair`]: a slot
    /// at or after the cursor was never handed out).
    pub fn take(&self, slot: usize, entry: &Entry, cursor: u64) {
        store(&self.slots[slot], entry);
        self.state.cursor.store(cursor, Release);
        self.update_hints(slot, &Entry::default(), entry);
    }

    /// Writes a change to the table (its slot index is in bounds) over the
    /// token it was made from; a slot already showing the token after it
    /// was written before (a journal replay). Any other token means an ack
    /// took the slot: then it returns `false`. The token goes last, by a
    /// compare-and-swap; the other fields of a slot an ack took are dead.
    fn apply(&self, c: &Change) -> bool {
        let slot = &self.slots[c.slot];
        let token = slot.token.load(Relaxed);
        if token == c.before {
            slot.pos.store(c.entry.pos, Relaxed);
            slot.holder.store(c.entry.holder, Relaxed);
            slot.deliveries.store(c.entry.deliveries, Relaxed);
            slot.deadline.store(c.entry.deadline, Relaxed);
            if slot
                .token
                .compare_exchange(c.before, c.entry.token, AcqRel, Relaxed)
                .is_err()
            {
                return false;
            }
        } else if token != c.entry.token {
            return false;
        }
        // Nothing of a plain pop is in flight: the side's repair rule
        // (`pending_pos` against the cursor) must leave this total alone.
        self.consumer.pending_total.store(c.total, Relaxed);
        self.consumer.pending_pos.store(c.cursor, Relaxed);
        self.state.cursor.store(c.cursor, Relaxed);
        self.consumer.total.store(c.total, Relaxed);
        if let Some((counter, count)) = c.counted {
            self.state.counters[counter as usize].store(count, Relaxed);
        }
        true
    }

    /// The change the journal holds, read once; `None` when its slot index
    /// or counter is out of range.
    fn journalled(&self, j: &Journal) -> Option<Change> {
        let slot = j.slot.load(Relaxed) as usize;
        let counted = match j.counter.load(Relaxed) as usize {
            n if n == COUNTERS => None,
            n => Some((*Counter::ALL.get(n)?, j.count.load(Relaxed))),
        };
        (slot < self.slots.len()).then(|| Change {
            slot,
            before: j.before.load(Relaxed),
            entry: load(&j.image),
            cursor: j.cursor.load(Relaxed),
            total: j.total.load(Relaxed),
            counted,
        })
    }

    /// Keeps the hints right across one slot's change.
    fn update_hints(&self, slot: usize, before: &Entry, after: &Entry) {
        let adjust = |word: &std::sync::atomic::AtomicU32, was: bool, is: bool| {
            if was != is {
                let n = word.load(Relaxed);
                word.store(
                    if is {
                        n.wrapping_add(1)
                    } else {
                        n.saturating_sub(1)
                    },
                    Relaxed,
                );
            }
        };
        adjust(&self.state.held, before.counts_held(), after.counts_held());
        adjust(
            &self.state.released,
            before.is_released(),
            after.is_released(),
        );
        let high = self.high();
        if after.is_used() {
            self.state.high.store(high.max(slot + 1) as u32, Relaxed);
        } else {
            self.lower_high(high);
        }
    }

    /// Stores the high-water mark below `high` that leaves no used slot
    /// above it (free slots at the top dropped).
    fn lower_high(&self, mut high: usize) {
        while high > 0 && self.slots[high - 1].token.load(Relaxed) == 0 {
            high -= 1;
        }
        self.state.high.store(high as u32, Relaxed);
    }

    /// Run by whoever took the consumer lock over from a dead holder:
    /// applies a journalled change or batch again, then recounts the
    /// hints. (A dead reaper's [`REAPING`] marks with no batch armed are
    /// acked slots the next reap counts.)
    pub fn repair(&self) {
        let j = &self.state.journal;
        match j.armed.load(Relaxed) {
            ONE_CHANGE => {
                if let Some(change) = self.journalled(j) {
                    let _ = self.apply(&change);
                }
            }
            BATCH_FREE => {
                self.free_reaping(
                    self.slots,
                    j.cursor.load(Relaxed),
                    j.total.load(Relaxed),
                    j.count.load(Relaxed),
                );
            }
            _ => {}
        }
        j.armed.store(IDLE, Relaxed);
        let cursor = self.state.cursor.load(Relaxed);
        for slot in self.slots {
            if slot.token.load(Relaxed) != 0 && slot.pos.load(Relaxed) >= cursor {
                slot.token.store(0, Relaxed);
            }
        }
        self.recount();
    }

    /// Recomputes the hints from the table.
    pub fn recount(&self) {
        let (mut high, mut held, mut released) = (0, 0u32, 0u32);
        for (i, slot) in self.slots.iter().enumerate() {
            let e = load(slot);
            if e.is_used() {
                high = i + 1;
                held += u32::from(e.counts_held());
                released += u32::from(e.is_released());
            }
        }
        self.state.high.store(high as u32, Relaxed);
        self.state.held.store(held, Relaxed);
        self.state.released.store(released, Relaxed);
    }

    /// The released message that comes first, if any.
    ///
    /// # Errors
    /// [`Error::Corrupted`] for an impossible slot.
    #[inline]
    pub fn oldest_released(&self, head: u64, cursor: u64) -> Result<Option<(usize, Entry)>> {
        if !self.any_released() {
            return Ok(None);
        }
        self.find_oldest_released(head, cursor)
    }

    fn find_oldest_released(&self, head: u64, cursor: u64) -> Result<Option<(usize, Entry)>> {
        let mut best: Option<(usize, Entry)> = None;
        for i in 0..self.high() {
            let e = self.entry(i);
            if e.is_released() {
                self.check(i, &e, head, cursor)?;
                if best.is_none_or(|(_, b)| e.pos < b.pos) {
                    best = Some((i, e));
                }
            }
        }
        if best.is_none() {
            // A scribbled hint: waiters would take it for a message.
            self.state.released.store(0, Relaxed);
        }
        Ok(best)
    }

    /// Where the storage still in use starts: the oldest used slot's
    /// position, or `cursor` when none is.
    ///
    /// # Errors
    /// [`Error::Corrupted`] for an impossible slot.
    pub fn oldest_pos(&self, head: u64, cursor: u64) -> Result<u64> {
        let mut oldest = cursor;
        for i in 0..self.high() {
            let e = self.entry(i);
            if e.is_used() {
                self.check(i, &e, head, cursor)?;
                oldest = oldest.min(e.pos);
            }
        }
        Ok(oldest)
    }

    /// A free slot, or `None` when all are in use (the hints then say so
    /// too, for the waiters).
    pub fn free_slot(&self) -> Option<usize> {
        let free = self
            .slots
            .iter()
            .position(|slot| slot.token.load(Relaxed) == 0);
        if free.is_none() {
            self.recount();
        }
        free
    }

    /// A new token for a delivery through slot `slot`.
    pub fn issue(&self, slot: usize) -> u64 {
        let sequence =
            (self.state.sequence.load(Relaxed).wrapping_add(1) & (u64::MAX >> INDEX_BITS)).max(1);
        self.state.sequence.store(sequence, Relaxed);
        sequence << INDEX_BITS | slot as u64
    }

    /// The slot of the live-looking lease `token`, if it is one.
    pub fn lookup(&self, token: u64) -> Option<(usize, Entry)> {
        let i = (token & INDEX_MASK) as usize;
        let e = self.entry(i);
        (token != 0 && token & FLAGS == 0 && e.token == token).then_some((i, e))
    }

    /// Notes a new lease ending at `deadline`, taken at `now`.
    pub fn note_deadline(&self, deadline: u64, now: u64) {
        let check_at = self.state.check_at.load(Relaxed);
        let limit = now.saturating_add(CHECK_EVERY_NS);
        let next = if check_at <= now || check_at > limit {
            limit
        } else {
            check_at
        };
        self.state.check_at.store(next.min(deadline), Relaxed);
    }

    /// Whether held leases are due for a check at `now` (a date further
    /// than [`CHECK_EVERY_NS`] ahead is a scribble, and due).
    pub fn due(&self, now: u64) -> bool {
        self.any_held() && {
            let at = self.state.check_at.load(Relaxed);
            at <= now || at > now.saturating_add(CHECK_EVERY_NS)
        }
    }

    /// Ends every held lease whose time ran out by `now` or whose holder
    /// `alive` says is gone; returns how many ended. Recounts the hints
    /// and sets the next check.
    ///
    /// # Errors
    /// [`Error::Corrupted`] for an impossible slot.
    pub fn end_lapsed(
        &self,
        now: u64,
        head: u64,
        cursor: u64,
        alive: impl Fn(u32) -> bool,
    ) -> Result<usize> {
        self.recount();
        let mut next = now.saturating_add(CHECK_EVERY_NS);
        let mut seen: Vec<(u32, bool)> = Vec::new();
        let mut ended = 0;
        for i in 0..self.high() {
            let e = self.entry(i);
            if !e.is_held() {
                continue;
            }
            self.check(i, &e, head, cursor)?;
            let counter = if e.deadline <= now {
                Some(Counter::Expired)
            } else {
                let live = match seen.iter().find(|(h, _)| *h == e.holder) {
                    Some(&(_, live)) => live,
                    None => {
                        let live = alive(e.holder);
                        seen.push((e.holder, live));
                        live
                    }
                };
                (!live).then_some(Counter::Abandoned)
            };
            match counter {
                // False when an ack took it meanwhile: then it did not end.
                Some(counter) => {
                    ended += usize::from(self.commit(&self.counted(i, e.released(), counter)))
                }
                None => next = next.min(e.deadline),
            }
        }
        self.state.check_at.store(next, Relaxed);
        Ok(ended)
    }

    /// Acks the live lease `token` without the lock: one compare-and-swap
    /// on its slot's token (which a lock holder ending the lease races
    /// with the same way), then a note for the next lock holder to free
    /// the slot. Returns `None` when the lease was not live, else whether
    /// this ack wrote the note (the first since the last reap).
    pub fn ack(&self, token: u64) -> Option<bool> {
        if token == 0 || token & FLAGS != 0 {
            return None;
        }
        let slot = &self.slots[(token & INDEX_MASK) as usize];
        let acked = slot
            .token
            .compare_exchange(token, token | ACKED, AcqRel, Relaxed)
            .is_ok();
        if acked && self.state.reap.load(Relaxed) == 0 {
            self.state.reap.store(1, Release);
            return Some(true);
        }
        acked.then_some(false)
    }

    /// Whether a slot may have been acked and not freed yet.
    #[inline]
    pub fn reap_due(&self) -> bool {
        self.state.reap.load(Relaxed) != 0
    }

    /// Frees the slots acked since the last reap, counting each as acked
    /// and popped; returns how many. Also run by every check of held
    /// leases, for an acker that died before its note.
    ///
    /// One journal entry covers the whole batch: each acked slot is first
    /// marked [`REAPING`] (only the lock holder changes an acked slot),
    /// then the journal takes the total and the acked count after the
    /// batch, then the marked slots are freed and the counts stored. A
    /// takeover with the batch armed frees every marked slot and stores the
    /// counts again; with none armed, marked slots are acked ones that the
    /// next reap counts.
    ///
    /// # Errors
    /// [`Error::Corrupted`] for an impossible slot.
    pub fn reap(&self, head: u64, cursor: u64) -> Result<usize> {
        self.state.reap.swap(0, AcqRel);
        let high = self.high();
        let mut marked = 0u64;
        for (i, slot) in self.slots[..high].iter().enumerate() {
            // Acked, or marked by a reaper that died before its batch.
            let token = slot.token.load(Relaxed);
            if token & ACKED != 0 {
                let e = Entry {
                    token,
                    ..load(slot)
                };
                self.check(i, &e, head, cursor)?;
                slot.token.store(token | REAPING, Relaxed);
                marked += 1;
            }
        }
        if marked == 0 {
            return Ok(0);
        }
        let j = &self.state.journal;
        let total = self.consumer.total.load(Relaxed).wrapping_add(marked);
        let acked = self.state.counters[Counter::Acked as usize]
            .load(Relaxed)
            .wrapping_add(marked);
        j.cursor.store(cursor, Relaxed);
        j.total.store(total, Relaxed);
        j.count.store(acked, Relaxed);
        j.armed.store(BATCH_FREE, Release);
        self.free_reaping(&self.slots[..high], cursor, total, acked);
        j.armed.store(IDLE, Release);
        let held = self.state.held.load(Relaxed);
        self.state
            .held
            .store(held.saturating_sub(marked as u32), Relaxed);
        self.lower_high(high);
        Ok(marked as usize)
    }

    /// Frees every [`REAPING`] slot of `slots` and stores the consumers'
    /// `total` and the `acked` count (with the side's pending fields, so
    /// that its repair rule leaves the total alone): the batch of
    /// [`Table::reap`], also replayed by [`Table::repair`].
    fn free_reaping(&self, slots: &[LeaseSlot], cursor: u64, total: u64, acked: u64) {
        for slot in slots {
            if slot.token.load(Relaxed) & FLAGS == REAPING {
                slot.token.store(0, Relaxed);
            }
        }
        self.consumer.pending_total.store(total, Relaxed);
        self.consumer.pending_pos.store(cursor, Relaxed);
        self.consumer.total.store(total, Relaxed);
        self.state.counters[Counter::Acked as usize].store(acked, Relaxed);
    }

    /// The used slots whose lease `holder` holds.
    pub fn held_by(&self, holder: u32) -> impl Iterator<Item = (usize, Entry)> + '_ {
        (0..self.high())
            .map(|i| (i, self.entry(i)))
            .filter(move |(_, e)| e.is_held() && e.holder == holder)
    }

    /// The counters and the number of held leases.
    pub fn stats(&self) -> LeaseStats {
        let c = |counter: Counter| self.state.counters[counter as usize].load(Relaxed);
        LeaseStats {
            leased: (0..self.high())
                .filter(|&i| self.entry(i).is_held())
                .count() as u64,
            acked_total: c(Counter::Acked),
            nacked_total: c(Counter::Nacked),
            expired_total: c(Counter::Expired),
            abandoned_total: c(Counter::Abandoned),
            redelivered_total: c(Counter::Redelivered),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lease table in ordinary memory, as a segment would hold it.
    struct Fixture {
        state: Box<LeaseState>,
        slots: Vec<LeaseSlot>,
        consumer: Box<Side>,
    }

    fn zeroed<T>() -> T {
        // SAFETY: every field of the layout types used here is an atomic
        // integer (or an array or struct of them), for which all-zero
        // bytes are a valid value.
        unsafe { std::mem::zeroed() }
    }

    impl Fixture {
        fn new() -> Fixture {
            Fixture {
                state: Box::new(zeroed()),
                slots: (0..LEASE_SLOTS).map(|_| zeroed()).collect(),
                consumer: Box::new(zeroed()),
            }
        }

        fn table(&self) -> Table<'_> {
            Table::new(&self.state, &self.slots, &self.consumer)
        }

        /// Leases `n` messages of 16 bytes from the cursor on.
        fn lease(&self, n: usize) -> Vec<u64> {
            let t = self.table();
            (0..n)
                .map(|_| {
                    let i = t.free_slot().unwrap();
                    let pos = t.cursor().load(Relaxed);
                    let entry = Entry {
                        token: t.issue(i),
                        pos,
                        holder: 7,
                        deliveries: 1,
                        deadline: u64::MAX,
                    };
                    t.take(i, &entry, pos + 16);
                    entry.token
                })
                .collect()
        }

        fn acked(&self) -> u64 {
            self.state.counters[Counter::Acked as usize].load(Relaxed)
        }

        fn total(&self) -> u64 {
            self.consumer.total.load(Relaxed)
        }

        fn slot_of(&self, token: u64) -> &LeaseSlot {
            &self.slots[(token & INDEX_MASK) as usize]
        }

        /// What a reaper that died half-way through a batch of `tokens`
        /// (acked) left: every one marked; with `armed`, the batch
        /// journalled and the first `freed` of them freed.
        fn die_reaping(&self, tokens: &[u64], armed: bool, freed: usize) {
            for &token in tokens {
                self.slot_of(token).token.store(token | REAPING, Relaxed);
            }
            if armed {
                let j = &self.state.journal;
                j.cursor.store(self.state.cursor.load(Relaxed), Relaxed);
                j.total.store(self.total() + tokens.len() as u64, Relaxed);
                j.count.store(self.acked() + tokens.len() as u64, Relaxed);
                j.armed.store(BATCH_FREE, Relaxed);
                for &token in &tokens[..freed] {
                    self.slot_of(token).token.store(0, Relaxed);
                }
            }
        }
    }

    #[test]
    fn a_reap_frees_every_acked_slot_and_counts_each_once() {
        let f = Fixture::new();
        let t = f.table();
        let tokens = f.lease(5);
        for &token in &[tokens[0], tokens[3], tokens[4]] {
            assert!(t.ack(token).is_some());
        }
        let cursor = t.cursor().load(Relaxed);
        assert_eq!(t.reap(0, cursor).unwrap(), 3);
        assert_eq!((f.acked(), f.total()), (3, 3));
        assert_eq!(
            t.oldest_pos(0, cursor).unwrap(),
            16,
            "tokens[1] is the oldest left"
        );
        assert_eq!(f.state.held.load(Relaxed), 2);
        assert_eq!(
            f.state.high.load(Relaxed),
            3,
            "the freed slots at the top are dropped"
        );
        assert_eq!(t.reap(0, cursor).unwrap(), 0, "nothing acked since");
        assert_eq!(t.stats().leased, 2);
        assert_eq!(f.state.journal.armed.load(Relaxed), IDLE);
    }

    #[test]
    fn a_reaper_dead_before_its_batch_leaves_acked_slots_the_next_reap_counts() {
        let f = Fixture::new();
        let t = f.table();
        let tokens = f.lease(3);
        t.ack(tokens[0]);
        t.ack(tokens[2]);
        f.die_reaping(&[tokens[0] | ACKED], false, 0);
        t.repair();
        assert_eq!((f.acked(), f.total()), (0, 0), "nothing was counted");
        let cursor = t.cursor().load(Relaxed);
        t.check(0, &t.entry(0), 0, cursor).unwrap();
        assert_eq!(t.reap(0, cursor).unwrap(), 2);
        assert_eq!((f.acked(), f.total()), (2, 2));
        assert_eq!(t.stats().leased, 1);
    }

    #[test]
    fn a_reaper_dead_inside_its_batch_is_finished_once_whatever_was_acked_after() {
        for freed in 0..=2 {
            let f = Fixture::new();
            let t = f.table();
            let tokens = f.lease(3);
            t.ack(tokens[0]);
            t.ack(tokens[1]);
            f.die_reaping(&[tokens[0] | ACKED, tokens[1] | ACKED], true, freed);
            // An ack after the reaper died is not part of its batch.
            t.ack(tokens[2]);
            t.repair();
            assert_eq!(
                (f.acked(), f.total()),
                (2, 2),
                "{freed} freed before the death"
            );
            assert_eq!(f.state.journal.armed.load(Relaxed), IDLE);
            assert_eq!(f.slot_of(tokens[0]).token.load(Relaxed), 0);
            assert_eq!(f.slot_of(tokens[1]).token.load(Relaxed), 0);
            // A second takeover (the first one died too) changes nothing.
            t.repair();
            assert_eq!((f.acked(), f.total()), (2, 2));
            let cursor = t.cursor().load(Relaxed);
            assert_eq!(t.reap(0, cursor).unwrap(), 1, "the later ack");
            assert_eq!((f.acked(), f.total()), (3, 3));
            assert_eq!(t.oldest_pos(0, cursor).unwrap(), cursor);
        }
    }

    #[test]
    fn a_slot_being_reaped_is_neither_held_nor_released_nor_ackable() {
        let f = Fixture::new();
        let t = f.table();
        let tokens = f.lease(1);
        t.ack(tokens[0]);
        f.die_reaping(&[tokens[0] | ACKED], false, 0);
        let e = t.entry(0);
        assert!(!e.is_held() && !e.is_released() && e.counts_held());
        assert_eq!(t.lookup(tokens[0]), None);
        assert_eq!(t.ack(tokens[0]), None);
        assert_eq!(t.ack(tokens[0] | REAPING), None);
        let cursor = t.cursor().load(Relaxed);
        assert_eq!(t.oldest_released(0, cursor).unwrap(), None);
        assert_eq!(
            t.oldest_pos(0, cursor).unwrap(),
            0,
            "its storage is still in use"
        );
    }
}
