//! The safe Rust API: [`Queue`] and its statistics.
//!
//! # Protocol
//! Producers and consumers have a lock each (a robust mutex in their
//! [`Side`]), so pushers and poppers never contend with each other. Under its
//! lock a producer writes whole records after `tail` and then publishes the
//! new `tail` (Release); a consumer copies records out from `head` and then
//! publishes the new `head`. A record is therefore visible only once complete,
//! and it is released for reuse only once copied out. The message totals are
//! published after the positions; a lock holder first notes the position it
//! started from and the total it will publish (`pending_*`), so that whoever
//! takes over the lock of a killed holder can tell whether the update was
//! published and finish it (see [`Queue::repair`]).

use std::time::Duration;

use crate::error::{Error, Result};
use crate::layout::{Geometry, Header, Position, Side};
use crate::options::{OpenMode, Options};
use crate::ring::{self, Ring, record_len};
use crate::segment::{Name, Segment};
use crate::sink::{IntoBatch, IntoSlice, IntoVec, Sink, Span};
use crate::sync::{Deadline, Event, Guard, LockError};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

/// Bytes of progress (four cache lines) a waiter prefers to see before it
/// takes over (see `sync::Event::wait_until`).
const GATHER_BYTES: u64 = 256;

/// A snapshot of a queue's counters (see [`Queue::stats`]).
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

/// An open handle to a named shared-memory work queue.
///
/// Any number of processes and threads may push and pop concurrently; one
/// handle may be shared by many threads (`Queue` is `Send + Sync`). Messages
/// are byte strings, delivered whole, exactly once, in one FIFO order over
/// all producers. They persist in the segment until popped or until
/// [`Queue::remove`], even when no process has the queue open.
///
/// ```
/// use std::time::Duration;
/// use wq::{Options, Queue};
///
/// # let name = format!("wq-doc-{}", std::process::id());
/// let q = Queue::open(&name, &Options::default())?;
/// q.push(b"hello", None)?;
/// assert_eq!(q.pop(Some(Duration::from_secs(1)))?, b"hello");
/// Queue::remove(&name)?;
/// # Ok::<(), wq::Error>(())
/// ```
pub struct Queue {
    segment: Segment,
    ring: Ring,
    geometry: Geometry,
    name: Name,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("name", &self.name.as_str())
            .field("capacity", &self.geometry.capacity)
            .field("max_message_size", &self.geometry.max_message_size)
            .finish()
    }
}

/// Maps a lock failure: a timeout is the operation's own "nothing happened"
/// outcome, anything else a broken queue.
fn lock_failure(err: LockError, timed_out: Error) -> Error {
    match err {
        LockError::TimedOut => timed_out,
        LockError::Broken(errno) => Error::Corrupted(format!(
            "the queue's lock is unusable: {}",
            std::io::Error::from_raw_os_error(errno)
        )),
    }
}

impl Queue {
    /// Opens the queue `name` (`"q"` and `"/q"` are the same: the file
    /// `/dev/shm/q`), creating it as `options` say. Any number of processes
    /// may open or create one fresh name at once; all share one queue.
    ///
    /// ```
    /// use wq::{OpenMode, Options, Queue};
    /// # let name = format!("wq-doc-open-{}", std::process::id());
    /// let opts = Options { capacity: 1 << 20, open_mode: OpenMode::CreateOnly, ..Options::default() };
    /// let q = Queue::open(&name, &opts)?;
    /// assert_eq!(q.stats()?.capacity, 1 << 20);
    /// assert!(matches!(Queue::open(&name, &opts), Err(wq::Error::Exists(_))));
    /// Queue::remove(&name)?;
    /// # Ok::<(), wq::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] (bad name, capacity, message size or mode),
    /// [`Error::NotFound`] ([`OpenMode::OpenOnly`]), [`Error::Exists`]
    /// ([`OpenMode::CreateOnly`]), [`Error::Incompatible`] (the name holds
    /// something else), [`Error::Corrupted`], [`Error::PermissionDenied`],
    /// [`Error::System`] (e.g. `/dev/shm` full).
    pub fn open(name: &str, options: &Options) -> Result<Queue> {
        let name = Name::parse(name)?;
        if options.mode > 0o777 {
            return Err(Error::InvalidArgument(format!(
                "mode {:#o} has bits beyond 0o777",
                options.mode
            )));
        }
        let geometry = match options.open_mode {
            OpenMode::OpenOnly => None,
            _ => Some(Geometry::for_creation(
                options.capacity,
                options.max_message_size,
            )?),
        };
        // A name can appear and vanish between our steps (a racing creator,
        // a racing remove); a few rounds settle it.
        for _ in 0..64 {
            if options.open_mode != OpenMode::CreateOnly {
                match Segment::open(&name)? {
                    Some(segment) => return Ok(Queue::over(segment, name)),
                    None if options.open_mode == OpenMode::OpenOnly => {
                        return Err(Error::NotFound(name.as_str().to_owned()));
                    }
                    None => {}
                }
            }
            let geometry = geometry.expect("creation modes resolved a geometry");
            match Segment::create(&name, geometry, options.mode)? {
                Some(segment) => return Ok(Queue::over(segment, name)),
                None if options.open_mode == OpenMode::CreateOnly => {
                    return Err(Error::Exists(name.as_str().to_owned()));
                }
                None => {}
            }
        }
        Err(Error::Internal(format!(
            "{} kept appearing and vanishing while opening",
            name.as_str()
        )))
    }

    fn over(segment: Segment, name: Name) -> Queue {
        let geometry = segment.geometry();
        // SAFETY: the segment maps `capacity` bytes of storage at `data()`
        // (validated against its size), a non-zero multiple of 8, for as long
        // as the segment (owned alongside the ring) lives.
        let ring = unsafe { Ring::new(segment.data(), geometry.capacity) };
        Queue {
            segment,
            ring,
            geometry,
            name,
        }
    }

    /// Removes the queue `name`: later opens no longer find it. Handles
    /// already open keep working on the old queue until closed.
    ///
    /// ```
    /// # let name = format!("wq-doc-{}-{}", std::process::id(), line!());
    /// let q = wq::Queue::open(&name, &wq::Options::default())?;
    /// wq::Queue::remove(&name)?;
    /// q.push(b"still works on the old queue", None)?;
    /// assert!(matches!(wq::Queue::remove(&name), Err(wq::Error::NotFound(_))));
    /// # Ok::<(), wq::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::InvalidArgument`],
    /// [`Error::PermissionDenied`], [`Error::System`].
    pub fn remove(name: &str) -> Result<()> {
        let name = Name::parse(name)?;
        if Segment::unlink(&name)? {
            Ok(())
        } else {
            Err(Error::NotFound(name.as_str().to_owned()))
        }
    }

    /// The queue's name, with its leading slash (`"/q"`).
    pub fn name(&self) -> &str {
        self.name.as_str()
    }

    fn header(&self) -> &Header {
        self.segment.header()
    }

    /// Appends `msg` at the tail, waiting up to `timeout` for room (`None`:
    /// for ever; `Some(Duration::ZERO)`: not at all).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use wq::{Error, Options, Queue};
    /// # let name = format!("wq-doc-{}-{}", std::process::id(), line!());
    /// # let q = Queue::open(&name, &Options { capacity: 64, ..Options::default() })?;
    /// q.push(b"job 1", None)?; // waits for room as long as it takes
    /// q.push(b"job 2", Some(Duration::from_millis(10)))?;
    /// assert!(matches!(q.push(&[0u8; 57], None), Err(Error::MessageTooLarge { .. })));
    /// # Queue::remove(&name)?;
    /// # Ok::<(), wq::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Full`] (no room, or the lock was held by a peer, for the
    /// whole timeout), [`Error::MessageTooLarge`], [`Error::Corrupted`].
    pub fn push(&self, msg: &[u8], timeout: Option<Duration>) -> Result<()> {
        self.push_batch(&[msg], timeout).map(drop)
    }

    /// Like [`Queue::push`] without waiting; `Ok(false)` when full.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use wq::{Error, Options, Queue};
    /// # let name = format!("wq-doc-{}-{}", std::process::id(), line!());
    /// # let q = Queue::open(&name, &Options { capacity: 64, ..Options::default() })?;
    /// let mut pushed = 0;
    /// while q.try_push(b"12345678")? {
    ///     pushed += 1;
    /// }
    /// assert_eq!(pushed, 4); // 64 bytes hold four 16-byte records
    /// # Queue::remove(&name)?;
    /// # Ok::<(), wq::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Queue::push`], except that a full queue is `Ok(false)`.
    pub fn try_push(&self, msg: &[u8]) -> Result<bool> {
        match self.push(msg, Some(Duration::ZERO)) {
            Ok(()) => Ok(true),
            Err(Error::Full) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Appends a prefix of `msgs` under one lock acquisition and one wake-up:
    /// waits up to `timeout` for room for the first, then pushes, in order
    /// and with no other producer's message between them, as many as fit at
    /// that moment (stopping before one larger than the limit). Returns how
    /// many were pushed (0 only for an empty `msgs`).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use wq::{Error, Options, Queue};
    /// # let name = format!("wq-doc-{}-{}", std::process::id(), line!());
    /// # let q = Queue::open(&name, &Options { capacity: 64, ..Options::default() })?;
    /// let jobs = [&b"a"[..], b"bb", b"ccc", b"dddd", b"eeeee"];
    /// assert_eq!(q.push_batch(&jobs, None)?, 4); // only four fit in 64 bytes
    /// assert_eq!(q.pop(None)?, b"a");
    /// # Queue::remove(&name)?;
    /// # Ok::<(), wq::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Full`], [`Error::MessageTooLarge`] (the first message),
    /// [`Error::Corrupted`]; nothing was pushed then.
    pub fn push_batch<M: AsRef<[u8]>>(
        &self,
        msgs: &[M],
        timeout: Option<Duration>,
    ) -> Result<usize> {
        let Some(first) = msgs.first() else {
            return Ok(0);
        };
        let first_len = first.as_ref().len() as u64;
        if first_len > self.geometry.max_message_size {
            return Err(Error::MessageTooLarge {
                len: first_len,
                max: self.geometry.max_message_size,
            });
        }
        let h = self.header();
        let need = record_len(first_len);
        let capacity = self.geometry.capacity;
        let deadline = Deadline::new(timeout);
        let mut gather = timeout != Some(Duration::ZERO);
        loop {
            let pushed = self.push_locked(msgs, &deadline, gather)?;
            if pushed > 0 {
                Event(&h.not_empty).notify();
                return Ok(pushed);
            }
            // Bytes of room; tail first: a head read later can only be further
            // on. Impossible positions count as room: the locked path reports them.
            let room = || {
                let tail = h.tail.pos.load(Acquire);
                ring::used(h.head.pos.load(Acquire), tail, capacity)
                    .map_or(capacity, |used| capacity - used)
            };
            let plenty = need.saturating_add(GATHER_BYTES).min(capacity);
            if !Event(&h.not_full).wait_until(&deadline, room, need, plenty) {
                return Err(Error::Full);
            }
            gather = false;
        }
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
        let side = &h.producer;
        let _guard = Guard::lock(side, deadline, || self.repair(side, &h.tail))
            .map_err(|e| lock_failure(e, Error::Full))?;
        let Geometry {
            capacity,
            max_message_size,
        } = self.geometry;
        let tail = h.tail.pos.load(Relaxed);
        let mut used = match ring::used(side.cached_peer.load(Relaxed), tail, capacity) {
            Ok(used) => used,
            Err(_) => self.refresh_head(side, tail)?,
        };
        side.pending_pos.store(tail, Relaxed);
        let mut pos = tail;
        let mut count = 0u64;
        for msg in msgs {
            let msg = msg.as_ref();
            if msg.len() as u64 > max_message_size {
                break;
            }
            let need = record_len(msg.len() as u64);
            if capacity - used < need {
                used = self.refresh_head(side, pos)?;
                let want = if gather && count == 0 {
                    need.saturating_add(GATHER_BYTES).min(capacity)
                } else {
                    need
                };
                if capacity - used < want {
                    break;
                }
            }
            pos += self.ring.write_record(pos, msg);
            used += need;
            count += 1;
        }
        if count > 0 {
            self.publish(side, &h.tail, pos, count);
        }
        Ok(count as usize)
    }

    /// Re-reads the published head; returns the bytes used up to `pos`.
    fn refresh_head(&self, side: &Side, pos: u64) -> Result<u64> {
        let head = self.header().head.pos.load(Acquire);
        side.cached_peer.store(head, Relaxed);
        ring::used(head, pos, self.geometry.capacity)
    }

    /// Publishes a side's new position, then its total (see the module docs).
    fn publish(&self, side: &Side, position: &Position, pos: u64, count: u64) {
        let total = side.total.load(Relaxed).wrapping_add(count);
        side.pending_total.store(total, Relaxed);
        position.pos.store(pos, Release);
        side.total.store(total, Relaxed);
    }

    /// Runs under a lock whose previous owner died holding it: if its update
    /// published the position but not the total, finish it; count the
    /// recovery. A half-written record beyond `tail` needs nothing: it was
    /// never published and will be overwritten.
    fn repair(&self, side: &Side, position: &Position) {
        if position.pos.load(Relaxed) != side.pending_pos.load(Relaxed) {
            side.total.store(side.pending_total.load(Relaxed), Relaxed);
        }
        self.header().recoveries.fetch_add(1, Relaxed);
    }

    /// Takes the message at the head into `buf`, waiting up to `timeout`
    /// for one; returns its length.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use wq::{Error, Options, Queue};
    /// # let name = format!("wq-doc-{}-{}", std::process::id(), line!());
    /// # let q = Queue::open(&name, &Options { capacity: 64, ..Options::default() })?;
    /// q.push(b"hello", None)?;
    /// let mut small = [0u8; 2];
    /// assert!(matches!(q.pop_into(&mut small, None), Err(Error::BufferTooSmall { needed: 5, .. })));
    /// let mut buf = [0u8; 16];
    /// let n = q.pop_into(&mut buf, Some(Duration::ZERO))?;
    /// assert_eq!(&buf[..n], b"hello");
    /// # Queue::remove(&name)?;
    /// # Ok::<(), wq::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Empty`] (nothing within the timeout), [`Error::BufferTooSmall`]
    /// (the message stays queued; `needed` is its length), [`Error::Corrupted`].
    pub fn pop_into(&self, buf: &mut [u8], timeout: Option<Duration>) -> Result<usize> {
        let mut sink = IntoSlice { buf, len: 0 };
        self.pop_records(&mut sink, 1, timeout)?;
        Ok(sink.len)
    }

    /// Takes the message at the head as a new `Vec`, waiting up to `timeout`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use wq::{Error, Options, Queue};
    /// # let name = format!("wq-doc-{}-{}", std::process::id(), line!());
    /// # let q = Queue::open(&name, &Options { capacity: 64, ..Options::default() })?;
    /// q.push(b"hello", None)?;
    /// assert_eq!(q.pop(Some(Duration::from_secs(1)))?, b"hello");
    /// assert!(matches!(q.pop(Some(Duration::from_millis(1))), Err(Error::Empty)));
    /// # Queue::remove(&name)?;
    /// # Ok::<(), wq::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Empty`], [`Error::Corrupted`].
    pub fn pop(&self, timeout: Option<Duration>) -> Result<Vec<u8>> {
        let mut sink = IntoVec(Vec::new());
        self.pop_records(&mut sink, 1, timeout)?;
        Ok(sink.0)
    }

    /// Like [`Queue::pop`] without waiting; `Ok(None)` when empty.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use wq::{Error, Options, Queue};
    /// # let name = format!("wq-doc-{}-{}", std::process::id(), line!());
    /// # let q = Queue::open(&name, &Options { capacity: 64, ..Options::default() })?;
    /// assert_eq!(q.try_pop()?, None);
    /// q.push(b"x", None)?;
    /// assert_eq!(q.try_pop()?, Some(b"x".to_vec()));
    /// # Queue::remove(&name)?;
    /// # Ok::<(), wq::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Queue::pop`], except that an empty queue is `Ok(None)`.
    pub fn try_pop(&self) -> Result<Option<Vec<u8>>> {
        match self.pop(Some(Duration::ZERO)) {
            Ok(msg) => Ok(Some(msg)),
            Err(Error::Empty) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Takes up to `spans.len()` messages under one lock acquisition, waiting
    /// up to `timeout` for the first. They are packed into `buf`, message `i`
    /// at `buf[spans[i].offset..][..spans[i].len]`; as many queued messages,
    /// in order, as fit, and at least one. Returns how many.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use wq::{Error, Options, Queue};
    /// # let name = format!("wq-doc-{}-{}", std::process::id(), line!());
    /// # let q = Queue::open(&name, &Options { capacity: 64, ..Options::default() })?;
    /// q.push_batch(&[&b"one"[..], b"two", b"three"], None)?;
    /// let mut buf = [0u8; 64];
    /// let mut spans = [wq::Span::default(); 8];
    /// let n = q.pop_batch(&mut buf, &mut spans, None)?;
    /// let got: Vec<&[u8]> = spans[..n].iter().map(|s| &buf[s.offset..][..s.len]).collect();
    /// assert_eq!(got, [&b"one"[..], b"two", b"three"]);
    /// # Queue::remove(&name)?;
    /// # Ok::<(), wq::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Empty`], [`Error::BufferTooSmall`] (the first message does
    /// not fit; it stays queued), [`Error::InvalidArgument`] (no spans),
    /// [`Error::Corrupted`].
    pub fn pop_batch(
        &self,
        buf: &mut [u8],
        spans: &mut [Span],
        timeout: Option<Duration>,
    ) -> Result<usize> {
        if spans.is_empty() {
            return Err(Error::InvalidArgument(
                "pop_batch needs at least one span".to_owned(),
            ));
        }
        let max = spans.len();
        self.pop_records(
            &mut IntoBatch {
                buf,
                spans,
                used: 0,
            },
            max,
            timeout,
        )
    }

    fn pop_records<S: Sink>(
        &self,
        sink: &mut S,
        max: usize,
        timeout: Option<Duration>,
    ) -> Result<usize> {
        let h = self.header();
        let deadline = Deadline::new(timeout);
        let mut gather = timeout != Some(Duration::ZERO);
        loop {
            let popped = self.pop_locked(sink, max, &deadline, gather)?;
            if popped > 0 {
                Event(&h.not_full).notify();
                return Ok(popped);
            }
            let published = || {
                h.tail
                    .pos
                    .load(Acquire)
                    .wrapping_sub(h.head.pos.load(Acquire))
            };
            if !Event(&h.not_empty).wait_until(&deadline, published, 1, GATHER_BYTES) {
                return Err(Error::Empty);
            }
            gather = false;
        }
    }

    /// Under the consumer lock, copies out as many head messages as `sink`
    /// takes, up to `max`. With `gather`, it takes nothing when it had to
    /// re-read the tail and found less than [`GATHER_BYTES`] published: the
    /// caller then waits a moment for more (see [`Event::wait_until`])
    /// instead of chasing the producer through the line it is writing.
    fn pop_locked<S: Sink>(
        &self,
        sink: &mut S,
        max: usize,
        deadline: &Deadline,
        gather: bool,
    ) -> Result<usize> {
        let h = self.header();
        let side = &h.consumer;
        let _guard = Guard::lock(side, deadline, || self.repair(side, &h.head))
            .map_err(|e| lock_failure(e, Error::Empty))?;
        let Geometry {
            capacity,
            max_message_size,
        } = self.geometry;
        let head = h.head.pos.load(Relaxed);
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
                if count == 0 {
                    return Ok(0);
                }
                available = self.refresh_tail(side, pos)?;
                if available == 0 {
                    break;
                }
            }
            let record = self.ring.read_header(pos, available, max_message_size)?;
            let len = record.len;
            let Some(dst) = sink.place(count, len as usize) else {
                if count == 0 {
                    return Err(Error::BufferTooSmall {
                        needed: len,
                        cap: sink.room() as u64,
                    });
                }
                break;
            };
            self.ring.read_message(&record, dst);
            let rec = record_len(len);
            pos += rec;
            available -= rec;
            count += 1;
        }
        self.publish(side, &h.head, pos, count as u64);
        Ok(count)
    }

    /// Re-reads the published tail; returns the bytes published from `pos`.
    fn refresh_tail(&self, side: &Side, pos: u64) -> Result<u64> {
        let tail = self.header().tail.pos.load(Acquire);
        side.cached_peer.store(tail, Relaxed);
        ring::used(pos, tail, self.geometry.capacity)
    }

    /// A snapshot of the queue's counters. It takes both locks briefly (at
    /// most 250 ms each), which also repairs a lock whose owner died; when a
    /// stopped peer holds one, it reads the published counters without it.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use wq::{Error, Options, Queue};
    /// # let name = format!("wq-doc-{}-{}", std::process::id(), line!());
    /// # let q = Queue::open(&name, &Options { capacity: 64, ..Options::default() })?;
    /// q.push(b"abc", None)?;
    /// let s = q.stats()?;
    /// assert_eq!((s.len, s.bytes_used, s.capacity, s.max_message_size), (1, 16, 64, 56));
    /// assert_eq!((s.pushed_total, s.popped_total, s.recoveries), (1, 0, 0));
    /// # Queue::remove(&name)?;
    /// # Ok::<(), wq::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Corrupted`] when the shared positions are impossible or a
    /// lock is unusable.
    pub fn stats(&self) -> Result<Stats> {
        let h = self.header();
        let deadline = Deadline::new(Some(Duration::ZERO));
        let _producer =
            lock_for_stats(&h.producer, &deadline, || self.repair(&h.producer, &h.tail))?;
        let _consumer =
            lock_for_stats(&h.consumer, &deadline, || self.repair(&h.consumer, &h.head))?;
        // Consumer side first: what it moved was pushed before.
        let popped_total = h.consumer.total.load(Relaxed);
        let head = h.head.pos.load(Acquire);
        let tail = h.tail.pos.load(Acquire);
        let pushed_total = h.producer.total.load(Relaxed);
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
}

/// Takes a lock for [`Queue::stats`]: `None` when a peer keeps it past the
/// deadline (the counters are then read without it).
fn lock_for_stats<'a>(
    side: &'a Side,
    deadline: &Deadline,
    repair: impl FnOnce(),
) -> Result<Option<Guard<'a>>> {
    match Guard::lock(side, deadline, repair) {
        Ok(guard) => Ok(Some(guard)),
        Err(LockError::TimedOut) => Ok(None),
        Err(e) => Err(lock_failure(e, Error::Empty)),
    }
}
