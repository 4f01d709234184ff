//! The lease transactions (see [`crate::lease`]): a leased pop, settling a
//! lease (ack, nack, extend), redelivery to plain pops, the periodic check
//! of held leases, and giving back the leases of a closing handle. Each runs
//! under the consumer lock, like a plain pop.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use super::{Handle, Held, Which};
use crate::error::{CorruptionCause, Error, Result};
use crate::layout::Counter;
use crate::lease::{Change, Entry, Lease, LeaseStats};
use crate::ring::{self, Record};
use crate::sink::{Sink, Take};
use crate::sync::{Deadline, Event};
use crate::sys;

/// How long settling a lease waits for the consumer lock before it gives
/// up (a peer holds it for one copy; only a stopped one holds it longer).
const SETTLE_LOCK_BOUND: Duration = Duration::from_secs(1);

/// How far the coarse monotonic clock may be behind the precise one (a
/// timer tick: 10 ms at the lowest `HZ`), see [`Handle::end_lapsed_if_due`].
const COARSE_LAG_NS: u64 = 10_000_000;

/// What to do with a live lease.
#[derive(Clone, Copy, Debug)]
pub enum Settle {
    /// The message is done: gone for good.
    Ack,
    /// Give it back, to be delivered again at once.
    Nack,
    /// Keep it for this much longer from now (`None`: for ever).
    Extend(Option<Duration>),
}

/// The monotonic time `lease` after `now` (`None`: never, `u64::MAX`).
fn deadline_after(now: u64, lease: Option<Duration>) -> u64 {
    lease.map_or(u64::MAX, |d| {
        now.saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    })
}

impl Handle {
    /// Pops the oldest message nobody holds into `sink` under a lease of
    /// `lease` (`None`: until settled or its holder goes), waiting up to
    /// `timeout` for one (see [`crate::Queue::pop_leased_into`]).
    pub fn pop_leased<T: Take>(
        &self,
        sink: &mut T,
        lease: Option<Duration>,
        timeout: Option<Duration>,
    ) -> Result<Lease> {
        let deadline = Deadline::new(timeout);
        let mut gather = self.gathering(timeout);
        let mut last_look = false;
        let mut waited = false;
        loop {
            if let Some(lease) = self.pop_leased_locked(sink, lease, &deadline, gather)? {
                self.note_arrival(waited);
                return Ok(lease);
            }
            if !self.wait_for_messages(&deadline, true, &mut last_look)? {
                return Err(Error::Empty);
            }
            (gather, waited) = (false, true);
        }
    }

    /// Under the consumer lock: leases a message waiting for redelivery if
    /// there is one, else the one at the cursor if a slot is free. `None`
    /// when there is none (with `gather`, also when less than a few cache
    /// lines are published, as for a plain pop).
    fn pop_leased_locked<T: Take>(
        &self,
        sink: &mut T,
        lease: Option<Duration>,
        deadline: &Deadline,
        gather: bool,
    ) -> Result<Option<Lease>> {
        let held = self.begin_pop(deadline)?;
        let leases = self.leases();
        self.end_lapsed_if_due(&held)?;
        // The next check is due a while after a lease is taken: the
        // coarse clock is enough for it; a lease's end is precise.
        let now = sys::coarse_ns();
        let until = lease.map_or(u64::MAX, |_| deadline_after(sys::monotonic_ns(), lease));
        let (head, cursor) = self.lease_range()?;
        let entry = if let Some((i, e)) = leases.oldest_released(head, cursor)? {
            let record = self.released_record(&e, cursor)?;
            sink.take(&self.ring, &record)?;
            let entry = Entry {
                token: leases.issue(i),
                holder: held.me,
                deliveries: e.deliveries.saturating_add(1),
                deadline: until,
                ..e
            };
            self.commit_unraced(&leases.counted(i, entry, Counter::Redelivered))?;
            entry
        } else {
            // None: every slot is in use, or acked and left for a later
            // reap, which the wait that follows makes.
            let Some(i) = leases.free_slot() else {
                return Ok(None);
            };
            let Some((pos, record)) = self.next_at_cursor(&held, cursor, gather)? else {
                return Ok(None);
            };
            sink.take(&self.ring, &record)?;
            let entry = Entry {
                token: leases.issue(i),
                pos,
                holder: held.me,
                deliveries: 1,
                deadline: until,
            };
            if self.segment.entry().broken() {
                self.segment.check_whole()?;
            }
            leases.take(i, &entry, pos + record.size);
            entry
        };
        leases.note_deadline(until, now);
        Ok(Some(Lease {
            token: entry.token,
            deliveries: entry.deliveries,
        }))
    }

    /// The first message record at or after the cursor (stepping over
    /// padding), with its position; `None` when nothing is published (or,
    /// with `gather`, too little).
    fn next_at_cursor(
        &self,
        held: &Held<'_>,
        cursor: u64,
        gather: bool,
    ) -> Result<Option<(u64, Record)>> {
        let side = held.side;
        let capacity = self.geometry.capacity;
        let mut available = match ring::used(cursor, side.cached_peer.load(Relaxed), capacity) {
            Ok(0) | Err(_) => match self.refresh_tail(side, cursor)? {
                thin if gather && thin < super::GATHER_BYTES => return Ok(None),
                available => available,
            },
            Ok(available) => available,
        };
        let mut pos = cursor;
        loop {
            if available == 0 {
                available = self.refresh_tail(side, pos)?;
                if available == 0 {
                    return Ok(None);
                }
            }
            let record = self
                .ring
                .read_header(pos, available, self.geometry.max_message_size)?;
            if !record.padding {
                return Ok(Some((pos, record)));
            }
            pos += record.size;
            available -= record.size;
        }
    }

    /// The validated positions `head` and cursor.
    fn lease_range(&self) -> Result<(u64, u64)> {
        let head = self.header().head.pos.load(Relaxed);
        let cursor = self.leases().cursor().load(Relaxed);
        ring::used(head, cursor, self.geometry.capacity)?;
        Ok((head, cursor))
    }

    /// The record of a message waiting for redelivery, validated: a whole
    /// message before the cursor.
    fn released_record(&self, e: &Entry, cursor: u64) -> Result<Record> {
        let record =
            self.ring
                .read_header(e.pos, cursor - e.pos, self.geometry.max_message_size)?;
        if record.padding {
            return Err(Error::corrupted(
                CorruptionCause::Leases,
                format_args!("a lease names the padding record at {}", e.pos),
            ));
        }
        Ok(record)
    }

    /// Applies a lease-table change, unless the segment was truncated
    /// under the handle (the writes may have gone to private zero pages).
    /// Returns whether it applied: `false` when a lock-free ack took the
    /// slot first.
    fn commit(&self, change: &Change) -> Result<bool> {
        if self.segment.entry().broken() {
            self.segment.check_whole()?;
        }
        Ok(self.leases().commit(change))
    }

    /// [`Handle::commit`] of a change no ack can race with (the slot is
    /// free, waiting for redelivery or acked).
    fn commit_unraced(&self, change: &Change) -> Result<()> {
        if self.commit(change)? {
            return Ok(());
        }
        Err(Error::corrupted(
            CorruptionCause::Leases,
            format_args!("a lease slot changed under the consumer lock"),
        ))
    }

    /// Under the consumer lock: frees the slots acked without the lock
    /// (see [`crate::lease::Table::ack`]), moving `head` and waking who
    /// waits for the storage or for a slot.
    pub(super) fn reap_acked(&self) -> Result<()> {
        if self.segment.entry().broken() {
            self.segment.check_whole()?;
        }
        let h = self.header();
        let was_at_limit = h.leases.at_limit();
        let (head, cursor) = self.lease_range()?;
        if self.leases().reap(head, cursor)? > 0 {
            if self.release_storage()? {
                Event(&h.not_full).notify();
            }
            if was_at_limit {
                Event(&h.not_empty).notify();
            }
        }
        Ok(())
    }

    /// Under the consumer lock, for a plain pop while slots are in use:
    /// ends lapsed leases if due, then pops the oldest message waiting for
    /// redelivery into `sink`, if there is one (`Some(1)`).
    pub(super) fn pop_released<S: Sink>(
        &self,
        held: &Held<'_>,
        sink: &mut S,
    ) -> Result<Option<usize>> {
        let leases = self.leases();
        self.end_lapsed_if_due(held)?;
        let (head, cursor) = self.lease_range()?;
        let Some((i, e)) = leases.oldest_released(head, cursor)? else {
            return Ok(None);
        };
        let record = self.released_record(&e, cursor)?;
        sink.take(&self.ring, &record)?;
        let mut change = leases.counted(i, Entry::default(), Counter::Redelivered);
        change.total += 1;
        self.commit_unraced(&change)?;
        if e.pos == head {
            self.release_storage()?;
        }
        Ok(Some(1))
    }

    /// Under the consumer lock: if held leases are due for a check, ends
    /// those whose time ran out or whose holder is gone, and wakes the
    /// waiting consumers when it did. The cheap coarse clock answers "not
    /// yet" for almost every pop; the precise one decides the rest.
    #[inline]
    fn end_lapsed_if_due(&self, held: &Held<'_>) -> Result<()> {
        let leases = self.leases();
        if !leases.any_held() || !leases.due(sys::coarse_ns().saturating_add(COARSE_LAG_NS)) {
            return Ok(());
        }
        self.end_lapsed(held, sys::monotonic_ns())
    }

    /// [`Handle::end_lapsed_if_due`] once the coarse clock says it may be.
    fn end_lapsed(&self, held: &Held<'_>, now: u64) -> Result<()> {
        let leases = self.leases();
        if !leases.due(now) {
            return Ok(());
        }
        // Also frees what an acker that died before its note acked.
        self.reap_acked()?;
        let (head, cursor) = self.lease_range()?;
        let me = held.me;
        if leases.end_lapsed(now, head, cursor, |token| self.alive(token, me))? > 0 {
            Event(&self.header().not_empty).notify();
        }
        Ok(())
    }

    /// Settles the live lease `token` (see [`Settle`]); any handle on the
    /// queue may.
    ///
    /// # Errors
    /// [`Error::LeaseEnded`] when it is not live (it then changes nothing);
    /// [`Error::System`] (`EBUSY`) when a stopped peer keeps the consumer
    /// lock past [`SETTLE_LOCK_BOUND`]; [`Error::Interrupted`];
    /// [`Error::Corrupted`].
    pub fn settle(&self, token: u64, how: Settle) -> Result<()> {
        if let Settle::Ack = how {
            if self.ack_unlocked(token)? {
                return Ok(());
            }
        }
        let deadline = Deadline::new(Some(SETTLE_LOCK_BOUND));
        let held = self.begin(Which::Consumer, &deadline, || {
            Error::errno("waiting for the consumer lock", libc::EBUSY)
        })?;
        let leases = self.leases();
        let ended = || Error::LeaseEnded { token };
        let Some((i, e)) = leases.lookup(token) else {
            return Err(ended());
        };
        let (head, cursor) = self.lease_range()?;
        leases.check(i, &e, head, cursor)?;
        let now = if e.deadline == u64::MAX {
            0
        } else {
            sys::monotonic_ns()
        };
        let h = self.header();
        if e.deadline <= now {
            // Its time ran out before anyone checked: it has ended (unless
            // an ack took it first; then it has ended too).
            self.commit(&leases.counted(i, e.released(), Counter::Expired))?;
            drop(held);
            Event(&h.not_empty).notify();
            return Err(ended());
        }
        // A commit that does not apply lost the race to a lock-free ack.
        match how {
            Settle::Ack => {
                // Sent here for a lease that looked expired, and extended
                // since: ack it as the unlocked path would, and free it.
                if leases.ack(token).is_none() {
                    return Err(ended());
                }
                self.reap_acked()?;
            }
            Settle::Nack => {
                if !self.commit(&leases.counted(i, e.released(), Counter::Nacked))? {
                    return Err(ended());
                }
                drop(held);
                Event(&h.not_empty).notify();
            }
            Settle::Extend(lease) => {
                let now = sys::monotonic_ns();
                let until = deadline_after(now, lease);
                let longer = Entry {
                    deadline: until,
                    ..e
                };
                if !self.commit(&leases.change(i, longer))? {
                    return Err(ended());
                }
                leases.note_deadline(until, now);
            }
        }
        Ok(())
    }

    /// Acks the live lease `token` without the consumer lock (see
    /// [`crate::lease::Table::ack`]). `Ok(false)` sends the caller to the
    /// locked path: the lease's time has run out, which only that path
    /// may record. When a producer waits for room or a leased pop for a
    /// slot, frees the slot at once; otherwise the next consumer-lock
    /// holder does.
    fn ack_unlocked(&self, token: u64) -> Result<bool> {
        if self.segment.entry().broken() {
            self.segment.check_whole()?;
        }
        let leases = self.leases();
        // Only the token is written, by a compare-and-swap from the exact
        // value issued: the slot's other fields are validated by whoever
        // frees it.
        let Some((_, e)) = leases.lookup(token) else {
            return Err(Error::LeaseEnded { token });
        };
        if e.deadline != u64::MAX && sys::monotonic_ns() >= e.deadline {
            return Ok(false);
        }
        let Some(first) = leases.ack(token) else {
            return Err(Error::LeaseEnded { token });
        };
        let h = self.header();
        if first {
            // A producer short of room frees the storage itself once it
            // sees the note; one asleep since before it is woken. Pairs
            // with the fence of a waiter that registered before it looked
            // at the note (see `sync::Event::wait_until`).
            Event(&h.not_full).notify();
        }
        if h.leases.at_limit() {
            let deadline = Deadline::new(Some(Duration::ZERO));
            // Beginning a consumer transaction reaps (and wakes leased
            // pops waiting for a slot); a busy lock's holder reaps at its
            // next one.
            drop(self.begin(Which::Consumer, &deadline, || Error::Empty));
        }
        Ok(true)
    }

    /// The lease counters (see [`crate::Queue::lease_stats`]); ends lapsed
    /// leases first if they are due, so that `leased` counts live ones.
    pub fn lease_stats(&self) -> Result<LeaseStats> {
        self.segment.check_whole()?;
        let deadline = Deadline::new(Some(Duration::ZERO));
        let held = self.begin_for_stats(Which::Consumer, &deadline)?;
        if let Some(held) = &held {
            self.end_lapsed_if_due(held)?;
        }
        Ok(self.leases().stats())
    }

    /// A closing handle gives back the leases it holds (counted as
    /// abandoned). When the consumer lock cannot be had at once, the
    /// periodic check gives them back instead: the handle's token is dead
    /// once it detached.
    pub(super) fn abandon_leases(&self) {
        let Some(me) = self.identity.attached() else {
            return;
        };
        if !self.leases().any_held() {
            return;
        }
        let deadline = Deadline::new(Some(Duration::ZERO));
        let Ok(held) = self.begin(Which::Consumer, &deadline, || Error::Empty) else {
            return;
        };
        let leases = self.leases();
        let mine: Vec<(usize, Entry)> = leases.held_by(me).collect();
        for (i, e) in &mine {
            // Not applied: acked meanwhile, nothing to give back.
            if self
                .commit(&leases.counted(*i, e.released(), Counter::Abandoned))
                .is_err()
            {
                return;
            }
        }
        drop(held);
        if !mine.is_empty() {
            Event(&self.header().not_empty).notify();
        }
    }
}
