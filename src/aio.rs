//! Async pops for tokio (cargo feature `tokio`): [`Queue::pop_async`]
//! and [`Queue::pop_leased_async`] wait on the handle's readiness descriptor ([`Queue::readable_fd`])
//! through tokio's reactor instead of blocking a thread.
//!
//! Cancellation safety: a message is taken only inside a synchronous pop
//! that either returns it from the same poll of the future or takes
//! nothing, so dropping a `pop_async` future (a `select!` branch that lost,
//! a timeout) never loses a message; a leased one that was dropped never
//! took its lease.

use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::error::{Error, Result};
use crate::leased::Leased;
use crate::queue::Queue;

/// The handle's readiness descriptor, as tokio registers it (the handle
/// owns the descriptor; this only names it).
pub(crate) struct Readable(RawFd);

impl AsRawFd for Readable {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// A handle's registration with tokio's reactor, made on first use.
pub(crate) type Registration = AsyncFd<Readable>;

impl Queue {
    /// Takes the message at the head as a new `Vec`, waiting for one
    /// without blocking the thread: the task sleeps in tokio's reactor on
    /// the handle's readiness descriptor. Any number of tasks may await it
    /// on one handle at once (each message goes to one of them), from the
    /// tasks of one tokio runtime (the handle registers with the reactor of
    /// the runtime it is first awaited in).
    ///
    /// Cancel-safe: dropping the future never loses a message. It is not
    /// ended by [`Queue::interrupt`]; cancel it by dropping it (`select!`,
    /// `tokio::time::timeout`).
    ///
    /// ```
    /// # use wq::{Options, Queue};
    /// # let name = format!("wq-doc-{}-{}", std::process::id(), line!());
    /// # let rt = tokio::runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let q = Queue::open(&name, &Options { capacity: 4096, ..Options::default() })?;
    /// q.push(b"job", None)?;
    /// assert_eq!(q.pop_async().await?, b"job");
    /// # Queue::remove(&name)?;
    /// # Ok::<(), wq::Error>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// Those of [`Queue::try_pop`] and [`Queue::readable_fd`], and
    /// [`Error::System`] when tokio cannot register the descriptor.
    pub async fn pop_async(&self) -> Result<Vec<u8>> {
        self.when_ready(|| self.try_pop()).await
    }

    /// [`Queue::pop_leased`] without blocking the thread, as
    /// [`Queue::pop_async`] waits: the message comes under a lease of
    /// `lease` (`None`: until settled or the handle goes), in a guard that
    /// gives it back unless acked.
    ///
    /// Cancel-safe: a dropped future never takes a lease.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use wq::{Options, Queue};
    /// # let name = format!("wq-doc-{}-{}", std::process::id(), line!());
    /// # let rt = tokio::runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let q = Queue::open(&name, &Options { capacity: 4096, ..Options::default() })?;
    /// q.push(b"job", None)?;
    /// let task = q.pop_leased_async(Some(Duration::from_secs(60))).await?;
    /// assert_eq!(&task[..], b"job");
    /// task.ack()?;
    /// # Queue::remove(&name)?;
    /// # Ok::<(), wq::Error>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// Those of [`Queue::try_pop_leased`] and of [`Queue::pop_async`].
    pub async fn pop_leased_async(&self, lease: Option<Duration>) -> Result<Leased<'_>> {
        self.when_ready(|| self.try_pop_leased(lease)).await
    }

    /// Runs `attempt` (a pop that does not wait) until it gives something,
    /// sleeping on the readiness descriptor in between. An empty pop also
    /// resets the descriptor (see [`Queue::readable_fd`]).
    async fn when_ready<T>(&self, attempt: impl Fn() -> Result<Option<T>>) -> Result<T> {
        loop {
            if let Some(got) = attempt()? {
                return Ok(got);
            }
            let mut ready = self
                .registration()?
                .readable()
                .await
                .map_err(|e| Error::os("waiting on the readiness descriptor", e))?;
            ready.clear_ready();
        }
    }

    fn registration(&self) -> Result<&Registration> {
        if let Some(r) = self.async_fd.get() {
            return Ok(r);
        }
        // One registration per descriptor: a second one would fail, and
        // dropping it would unregister the first.
        let _once = self.async_init.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = self.async_fd.get() {
            return Ok(r);
        }
        let fd = self.readable_fd()?.as_raw_fd();
        // SAFETY: the descriptor is the handle's and stays open, naming the
        // same eventfd, until the handle closes; the queue drops this
        // registration before its handle (field order of `Queue`).
        let r = unsafe { AsyncFd::register_with_interest(Readable(fd), Interest::READABLE) }
            .map_err(|e| Error::os("registering the readiness descriptor with tokio", e.into()))?;
        Ok(self.async_fd.get_or_init(|| r))
    }
}
