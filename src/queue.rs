//! The safe Rust API: [`Queue`], the documented face of the locked
//! protocol in [`crate::protocol`].

use std::os::fd::BorrowedFd;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::layout::Geometry;
use crate::options::{OpenMode, Options};
use crate::protocol::{Handle, Stats};
use crate::segment::{Name, Segment};
use crate::sink::{IntoBatch, IntoSlice, IntoVec, Span};
use crate::sys;

/// An open handle to a named shared-memory work queue.
///
/// Any number of processes and threads may push and pop concurrently; one
/// handle may be shared by many threads (`Queue` is `Send + Sync`). Messages
/// are byte strings, delivered whole, exactly once, in one FIFO order over
/// all producers. They persist in the segment until popped or until
/// [`Queue::remove`], even when no process has the queue open.
///
/// Every push and pop comes in one general form that takes the timeout
/// (`None`: wait for ever, `Some(Duration::ZERO)`: do not wait) and in
/// shorthands for the common cases:
///
/// | waits              | push                      | pop                     |
/// |--------------------|---------------------------|-------------------------|
/// | as said            | [`push(msg, timeout)`](Queue::push) | [`pop(timeout)`](Queue::pop) |
/// | for ever           | [`push_wait`](Queue::push_wait) | [`pop_wait`](Queue::pop_wait) |
/// | up to a duration   | [`push_timeout`](Queue::push_timeout) | [`pop_timeout`](Queue::pop_timeout) |
/// | not at all         | [`try_push`](Queue::try_push) (`Ok(false)`: full) | [`try_pop`](Queue::try_pop) (`Ok(None)`: empty) |
///
/// [`Queue::iter`] pops for ever, until the handle is interrupted
/// ([`Queue::interrupt`]); [`Queue::try_iter`] pops until the queue is empty.
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
    /// Before `handle`: unregistered before the descriptor closes.
    #[cfg(feature = "tokio")]
    pub(crate) async_fd: std::sync::OnceLock<crate::aio::Registration>,
    #[cfg(feature = "tokio")]
    pub(crate) async_init: std::sync::Mutex<()>,
    handle: Handle,
    name: Name,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("name", &self.name.as_str())
            .field("capacity", &self.handle.geometry().capacity)
            .field("max_message_size", &self.handle.geometry().max_message_size)
            .finish()
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
    /// [`Error::NoSpace`] when `/dev/shm` cannot hold the new queue (it says
    /// how much it needs and how much is free); [`Error::System`].
    pub fn open(name: &str, options: &Options) -> Result<Queue> {
        let name = Name::parse(name)?;
        if options.mode > 0o777 {
            return Err(Error::invalid(format_args!(
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
        let _no_cancel = sys::NoCancel::new();
        let segment = Segment::open(&name, options, geometry)?;
        Ok(Queue {
            #[cfg(feature = "tokio")]
            async_fd: std::sync::OnceLock::new(),
            #[cfg(feature = "tokio")]
            async_init: std::sync::Mutex::new(()),
            handle: Handle::attach(segment)?,
            name,
        })
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
        let _no_cancel = sys::NoCancel::new();
        if Segment::unlink(&name)? {
            Ok(())
        } else {
            Err(Error::NotFound(name.owned()))
        }
    }

    /// The locked protocol under this queue.
    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }

    /// The queue's name, with its leading slash (`"/q"`).
    pub fn name(&self) -> &str {
        self.name.as_str()
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

    /// [`Queue::push`] that waits for room as long as it takes (or until
    /// [`Queue::interrupt`]).
    ///
    /// # Errors
    /// As [`Queue::push`] (never [`Error::Full`]), and
    /// [`Error::Interrupted`].
    pub fn push_wait(&self, msg: &[u8]) -> Result<()> {
        self.push(msg, None)
    }

    /// [`Queue::push`] that waits up to `timeout` for room.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use wq::{Error, Options, Queue};
    /// # let name = format!("wq-doc-{}-{}", std::process::id(), line!());
    /// # let q = Queue::open(&name, &Options { capacity: 64, ..Options::default() })?;
    /// q.push_wait(&[7u8; 40])?;
    /// let full = q.push_timeout(&[7u8; 40], Duration::from_millis(5));
    /// assert!(matches!(full, Err(Error::Full)));
    /// # Queue::remove(&name)?;
    /// # Ok::<(), wq::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Queue::push`].
    pub fn push_timeout(&self, msg: &[u8], timeout: Duration) -> Result<()> {
        self.push(msg, Some(timeout))
    }

    /// Like [`Queue::push`] without waiting; `Ok(false)` when full.
    ///
    /// ```
    /// # use wq::{Options, Queue};
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
    /// # use wq::{Options, Queue};
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
        let max = self.handle.geometry().max_message_size;
        if first_len > max {
            return Err(Error::MessageTooLarge {
                len: first_len,
                max,
            });
        }
        self.handle.push_batch(msgs, timeout)
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
        self.handle.pop_records(&mut sink, 1, timeout)?;
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
        self.handle.pop_records(&mut sink, 1, timeout)?;
        Ok(sink.0)
    }

    /// [`Queue::pop`] that waits for a message as long as it takes (or until
    /// [`Queue::interrupt`]).
    ///
    /// # Errors
    /// As [`Queue::pop`] (never [`Error::Empty`]), and
    /// [`Error::Interrupted`].
    pub fn pop_wait(&self) -> Result<Vec<u8>> {
        self.pop(None)
    }

    /// [`Queue::pop`] that waits up to `timeout` for a message.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use wq::{Error, Options, Queue};
    /// # let name = format!("wq-doc-{}-{}", std::process::id(), line!());
    /// # let q = Queue::open(&name, &Options { capacity: 64, ..Options::default() })?;
    /// q.push_wait(b"job")?;
    /// assert_eq!(q.pop_timeout(Duration::from_secs(1))?, b"job");
    /// assert!(matches!(q.pop_timeout(Duration::from_millis(5)), Err(Error::Empty)));
    /// # Queue::remove(&name)?;
    /// # Ok::<(), wq::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Queue::pop`].
    pub fn pop_timeout(&self, timeout: Duration) -> Result<Vec<u8>> {
        self.pop(Some(timeout))
    }

    /// Like [`Queue::pop`] without waiting; `Ok(None)` when empty.
    ///
    /// ```
    /// # use wq::{Options, Queue};
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
        none_if_empty(self.pop(Some(Duration::ZERO)))
    }

    /// Takes up to `spans.len()` messages under one lock acquisition, waiting
    /// up to `timeout` for the first. They are packed into `buf`, message `i`
    /// at `buf[spans[i].offset..][..spans[i].len]` with no padding between
    /// them; as many queued messages, in order, as fit, and at least one (a
    /// message waiting for redelivery after a lease ended comes alone).
    /// Returns how many.
    ///
    /// ```
    /// # use wq::{Options, Queue};
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
        self.handle.pop_records(
            &mut IntoBatch {
                buf,
                spans,
                used: 0,
            },
            max,
            timeout,
        )
    }

    /// A snapshot of the queue's counters. It takes both locks briefly (at
    /// most 250 ms each), which also repairs a lock whose owner died; when a
    /// stopped peer holds one, it reads the published counters without it.
    ///
    /// ```
    /// # use wq::{Options, Queue};
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
        self.handle.stats()
    }

    /// The process ids of the other handles attached to this queue now, as
    /// each process saw its own pid (in its own PID namespace: a container's
    /// process may show as 1). A hint for humans (`wq stat`), never an
    /// identity: which handles are alive is the kernel's answer, the pids
    /// are what they wrote.
    ///
    /// ```
    /// # use wq::{Options, Queue};
    /// # let name = format!("wq-doc-{}-{}", std::process::id(), line!());
    /// let q = Queue::open(&name, &Options { capacity: 64, ..Options::default() })?;
    /// assert!(q.peer_pids().is_empty());
    /// let other = Queue::open(&name, &Options::default())?;
    /// assert_eq!(q.peer_pids(), [std::process::id()]);
    /// drop(other);
    /// assert!(q.peer_pids().is_empty());
    /// # Queue::remove(&name)?;
    /// # Ok::<(), wq::Error>(())
    /// ```
    pub fn peer_pids(&self) -> Vec<u32> {
        self.handle.peer_pids()
    }

    /// A descriptor that `poll`/`epoll`/`select` report readable while the
    /// queue may hold a message this handle could pop, for event loops. It
    /// may be readable spuriously: once it is, pop with
    /// `Some(Duration::ZERO)` until [`Error::Empty`], which also resets it.
    /// It becomes readable within about a millisecond of a push by any
    /// process. It belongs to the handle (do not close or read it) and
    /// lives until the handle is dropped.
    ///
    /// The first call starts one helper thread for this handle, which
    /// sleeps on the queue's futex event and signals an eventfd; a handle
    /// that never asks has neither, and pushes and pops cost the same.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use std::os::fd::AsRawFd;
    /// # use wq::{Error, Options, Queue};
    /// # let name = format!("wq-doc-{}-{}", std::process::id(), line!());
    /// let q = Queue::open(&name, &Options { capacity: 4096, ..Options::default() })?;
    /// let fd = q.readable_fd()?;
    /// q.push(b"job", None)?;
    /// let mut pfd = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    /// // SAFETY: one valid pollfd.
    /// assert_eq!(unsafe { libc::poll(&mut pfd, 1, 5000) }, 1);
    /// assert_eq!(q.pop(Some(Duration::ZERO))?, b"job");
    /// assert!(matches!(q.pop(Some(Duration::ZERO)), Err(Error::Empty))); // resets it
    /// # Queue::remove(&name)?;
    /// # Ok::<(), wq::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::System`] when the eventfd or the thread cannot be had.
    pub fn readable_fd(&self) -> Result<BorrowedFd<'_>> {
        let fd = self.handle.readable_fd()?;
        // SAFETY: the descriptor stays open as long as the handle, which the
        // returned borrow cannot outlive.
        Ok(unsafe { BorrowedFd::borrow_raw(fd) })
    }

    /// Interrupts this handle in this process: every call waiting on it
    /// (for messages, for room or for a lock) returns
    /// [`Error::Interrupted`], and so does, from then on, every call that
    /// would have to wait; calls that need no wait still succeed, so a
    /// worker can drain what is queued. Other handles and other processes
    /// are not affected. Async-signal-safe: a signal handler may call it
    /// (a signal alone never ends a wait).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use wq::{Error, Options, Queue};
    /// # let name = format!("wq-doc-{}-{}", std::process::id(), line!());
    /// let q = Queue::open(&name, &Options { capacity: 64, ..Options::default() })?;
    /// q.push(b"last", None)?;
    /// q.interrupt();
    /// assert_eq!(q.pop(None)?, b"last"); // no wait needed: it succeeds
    /// assert!(matches!(q.pop(None), Err(Error::Interrupted)));
    /// q.interrupt_clear();
    /// assert!(matches!(q.pop(Some(Duration::from_millis(1))), Err(Error::Empty)));
    /// # Queue::remove(&name)?;
    /// # Ok::<(), wq::Error>(())
    /// ```
    pub fn interrupt(&self) {
        self.handle.interrupt();
    }

    /// Ends the state [`Queue::interrupt`] set: calls wait again.
    pub fn interrupt_clear(&self) {
        self.handle.interrupt_clear();
    }
}

/// `Ok(None)` for [`Error::Empty`]: the shape of the `try_` pops.
pub(crate) fn none_if_empty<T>(result: Result<T>) -> Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(Error::Empty) => Ok(None),
        Err(e) => Err(e),
    }
}
