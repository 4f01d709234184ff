//! The safe Rust API of leases: [`Queue::pop_leased`] and the [`Leased`]
//! guard, which gives its message back (nacks) unless it was acked.
//!
//! A leased message stays in the queue, invisible to every other pop, until
//! its lease ends: acked (gone for good), nacked, timed out, or abandoned
//! because its holder closed its handle or died in any way, SIGKILL
//! included. A lease that ends without an ack makes the message go out
//! again before everything pushed after it, with one more delivery. So a
//! task survives the worker that dies doing it: delivery is at least once,
//! and a task runs twice only when a lease on it ended without an ack
//! (its worker died, was too slow, or gave it back).

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::lease::{Lease, LeaseStats};
use crate::protocol::Settle;
use crate::queue::Queue;
use crate::sink::{InPlace, IntoSlice, IntoVec};

/// A message popped under a lease: its bytes, and the lease to settle.
/// Dropping it without [`Leased::ack`] gives the message back (a nack), so
/// a task handler that returns early, fails with `?` or panics hands its
/// task to the next worker.
///
/// ```
/// # use std::time::Duration;
/// # use wq::{Options, Queue};
/// # let name = format!("wq-doc-{}-{}", std::process::id(), line!());
/// let q = Queue::open(&name, &Options { capacity: 4096, ..Options::default() })?;
/// q.push(b"resize photo 17", None)?;
/// let task = q.pop_leased(Some(Duration::from_secs(30)), None)?;
/// assert_eq!((&task[..], task.deliveries()), (&b"resize photo 17"[..], 1));
/// drop(task); // not acked: given back
/// let task = q.pop_leased(Some(Duration::from_secs(30)), None)?;
/// assert_eq!(task.deliveries(), 2);
/// task.ack()?; // done: gone for good
/// assert_eq!(q.stats()?.len, 0);
/// # Queue::remove(&name)?;
/// # Ok::<(), wq::Error>(())
/// ```
///
/// The bytes are a copy (`Vec<u8>`), or with [`Queue::pop_leased_view`]
/// the message where it lies in the queue ([`LeasedView`]).
#[derive(Debug)]
#[must_use = "a lease that is dropped gives its message back"]
pub struct Leased<'q, B: Deref<Target = [u8]> = Vec<u8>> {
    queue: &'q Queue,
    bytes: B,
    lease: Lease,
    settled: bool,
}

/// A message leased without a copy ([`Queue::pop_leased_view`]): a
/// [`Leased`] whose bytes are the message in the queue's shared memory.
pub type LeasedView<'q> = Leased<'q, SharedBytes<'q>>;

/// A message's bytes in the queue's shared memory, valid (mapped) as long
/// as the queue handle. They stay the message's while its lease is live;
/// after it ends (acked, nacked, timed out) the queue may reuse them. A
/// peer process with write access to the queue could change them while
/// they are read: treat them as input, as any message.
pub struct SharedBytes<'q> {
    ptr: *const u8,
    len: usize,
    queue: PhantomData<&'q Queue>,
}

impl Deref for SharedBytes<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `ptr` points at `len` bytes of the queue's mapping (a
        // record validated in one piece by the leased pop), which stays
        // mapped while the borrowed queue handle lives.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl fmt::Debug for SharedBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedBytes({} bytes)", self.len)
    }
}

impl<B: Deref<Target = [u8]>> Leased<'_, B> {
    /// The message.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Times the message has been delivered, this delivery included (1 for
    /// the first): a rising count marks a task that keeps failing.
    pub fn deliveries(&self) -> u32 {
        self.lease.deliveries
    }

    /// The lease, for settling it later or from another handle
    /// ([`Queue::ack`]); see [`Leased::into_parts`].
    pub fn lease(&self) -> Lease {
        self.lease
    }

    /// The message is done: removes it for good.
    ///
    /// # Errors
    /// [`Error::LeaseEnded`] when the lease had already ended (timed out,
    /// or its handle was closed): the message may have gone to another
    /// worker. Those of [`Queue::ack`].
    pub fn ack(mut self) -> Result<()> {
        self.settled = true;
        self.queue.ack(&self.lease)
    }

    /// Gives the message back, to be delivered again at once, before
    /// everything pushed after it.
    ///
    /// # Errors
    /// As [`Leased::ack`].
    pub fn nack(mut self) -> Result<()> {
        self.settled = true;
        self.queue.nack(&self.lease)
    }

    /// Keeps the message for `lease` more from now (`None`: until it is
    /// settled or its holder goes).
    ///
    /// # Errors
    /// As [`Leased::ack`].
    pub fn extend(&self, lease: Option<Duration>) -> Result<()> {
        self.queue.extend_lease(&self.lease, lease)
    }

    /// The message and its lease, without the guard: the lease stays live
    /// until settled through [`Queue::ack`] / [`Queue::nack`] (by any
    /// handle), until it times out, or until this handle closes.
    pub fn into_parts(self) -> (B, Lease) {
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again, so its bytes are
        // moved out exactly once; the rest of it is references and plain data.
        (unsafe { std::ptr::read(&this.bytes) }, this.lease)
    }
}

impl<B: Deref<Target = [u8]>> Deref for Leased<'_, B> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

impl<B: Deref<Target = [u8]>> Drop for Leased<'_, B> {
    fn drop(&mut self) {
        if !self.settled {
            // A lease that already ended needs nothing; any other failure
            // leaves it to time out or to the handle's close.
            let _ = self.queue.nack(&self.lease);
        }
    }
}

impl Queue {
    /// Takes the oldest message nobody holds, as [`Queue::pop`] would, but
    /// under a lease: it stays queued, invisible to other pops, until the
    /// lease ends (see [`Leased`]). `lease` is how long it may be held
    /// before it is given to another worker (`None`: until settled, or its
    /// holder closes its handle or dies). Waits up to `timeout` for a
    /// message; with [`LEASE_LIMIT`](crate::LEASE_LIMIT) messages leased or
    /// waiting for redelivery, it waits as if the queue were empty (plain
    /// pops still work).
    ///
    /// # Errors
    /// As [`Queue::pop`].
    pub fn pop_leased(
        &self,
        lease: Option<Duration>,
        timeout: Option<Duration>,
    ) -> Result<Leased<'_>> {
        let mut sink = IntoVec(Vec::new());
        let lease = self.handle().pop_leased(&mut sink, lease, timeout)?;
        Ok(Leased {
            queue: self,
            bytes: sink.0,
            lease,
            settled: false,
        })
    }

    /// [`Queue::pop_leased`] without the copy: the message is handed out
    /// where it lies in the queue's shared memory (see [`SharedBytes`]),
    /// for large messages read in place.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use wq::{Options, Queue};
    /// # let name = format!("wq-doc-{}-{}", std::process::id(), line!());
    /// # let q = Queue::open(&name, &Options { capacity: 1 << 20, ..Options::default() })?;
    /// q.push(&[7u8; 65536], None)?;
    /// let view = q.pop_leased_view(Some(Duration::from_secs(30)), None)?;
    /// assert!(view.iter().all(|&b| b == 7));
    /// view.ack()?;
    /// # Queue::remove(&name)?;
    /// # Ok::<(), wq::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Queue::pop_leased`].
    pub fn pop_leased_view(
        &self,
        lease: Option<Duration>,
        timeout: Option<Duration>,
    ) -> Result<LeasedView<'_>> {
        let mut place = InPlace {
            ptr: std::ptr::null(),
            len: 0,
        };
        let lease = self.handle().pop_leased(&mut place, lease, timeout)?;
        Ok(Leased {
            queue: self,
            bytes: SharedBytes {
                ptr: place.ptr,
                len: place.len,
                queue: PhantomData,
            },
            lease,
            settled: false,
        })
    }

    /// Like [`Queue::pop_leased`] without waiting; `Ok(None)` when there is
    /// nothing to lease.
    ///
    /// # Errors
    /// As [`Queue::pop_leased`], except that nothing to lease is `Ok(None)`.
    pub fn try_pop_leased(&self, lease: Option<Duration>) -> Result<Option<Leased<'_>>> {
        match self.pop_leased(lease, Some(Duration::ZERO)) {
            Ok(leased) => Ok(Some(leased)),
            Err(Error::Empty) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// [`Queue::pop_leased`] into the caller's buffer, without a guard:
    /// returns the message's length and the lease, which stays live until
    /// settled ([`Queue::ack`], [`Queue::nack`]), timed out, or until this
    /// handle closes.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use wq::{Error, Options, Queue};
    /// # let name = format!("wq-doc-{}-{}", std::process::id(), line!());
    /// # let q = Queue::open(&name, &Options { capacity: 4096, ..Options::default() })?;
    /// q.push(b"job", None)?;
    /// let mut buf = [0u8; 64];
    /// let (n, lease) = q.pop_leased_into(&mut buf, None, Some(Duration::ZERO))?;
    /// assert_eq!((&buf[..n], lease.deliveries), (&b"job"[..], 1));
    /// let other = Queue::open(&name, &Options::default())?;
    /// other.ack(&lease)?; // any handle may settle it
    /// assert!(matches!(q.ack(&lease), Err(Error::LeaseEnded { .. })));
    /// # Queue::remove(&name)?;
    /// # Ok::<(), wq::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Queue::pop_into`].
    pub fn pop_leased_into(
        &self,
        buf: &mut [u8],
        lease: Option<Duration>,
        timeout: Option<Duration>,
    ) -> Result<(usize, Lease)> {
        let mut sink = IntoSlice { buf, len: 0 };
        let lease = self.handle().pop_leased(&mut sink, lease, timeout)?;
        Ok((sink.len, lease))
    }

    /// Ends the live lease `lease` (from any handle on the queue): its
    /// message is gone for good and counts as popped.
    ///
    /// # Errors
    /// [`Error::LeaseEnded`] when the lease has ended or was never issued
    /// (nothing changes); [`Error::System`] (`EBUSY`) when a stopped peer
    /// keeps the consumers' lock for more than a second;
    /// [`Error::Interrupted`]; [`Error::Corrupted`].
    pub fn ack(&self, lease: &Lease) -> Result<()> {
        self.handle().settle(lease.token, Settle::Ack)
    }

    /// Ends the live lease `lease` and gives its message back, to be
    /// delivered again at once, before everything pushed after it.
    ///
    /// # Errors
    /// As [`Queue::ack`].
    pub fn nack(&self, lease: &Lease) -> Result<()> {
        self.handle().settle(lease.token, Settle::Nack)
    }

    /// Makes the live lease `lease` end `lease_for` from now (`None`:
    /// never by time).
    ///
    /// # Errors
    /// As [`Queue::ack`].
    pub fn extend_lease(&self, lease: &Lease, lease_for: Option<Duration>) -> Result<()> {
        self.handle().settle(lease.token, Settle::Extend(lease_for))
    }

    /// The queue's lease counters. [`Stats::len`](crate::Stats::len)
    /// counts leased messages too; [`LeaseStats::leased`] says how many.
    ///
    /// ```
    /// # use wq::{Options, Queue};
    /// # let name = format!("wq-doc-{}-{}", std::process::id(), line!());
    /// # let q = Queue::open(&name, &Options { capacity: 4096, ..Options::default() })?;
    /// q.push_batch(&[b"a", b"b"], None)?;
    /// let a = q.pop_leased(None, None)?;
    /// let b = q.pop_leased(None, None)?;
    /// b.nack()?;
    /// let s = q.lease_stats()?;
    /// assert_eq!((s.leased, s.nacked_total, q.stats()?.len), (1, 1, 2));
    /// a.ack()?;
    /// # Queue::remove(&name)?;
    /// # Ok::<(), wq::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Corrupted`] when the lease table is impossible.
    pub fn lease_stats(&self) -> Result<LeaseStats> {
        self.handle().lease_stats()
    }
}
