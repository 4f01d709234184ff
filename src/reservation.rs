//! The safe Rust API of zero-copy pushes: [`Queue::push_reserve`] and the
//! [`Reservation`] guard, which publishes nothing unless committed.

use std::ops::{Deref, DerefMut};
use std::time::Duration;

use crate::error::Result;
use crate::queue::Queue;

/// Room for one message in the queue's shared memory, to be filled in
/// place and then published with [`Reservation::commit`]. While it lives,
/// its handle holds the producers' side: other producers wait, and a push
/// from this thread on this handle fails with
/// [`Error::InvalidArgument`](crate::Error::InvalidArgument). Dropping it
/// uncommitted publishes nothing, and so does a process that dies holding
/// one.
///
/// ```
/// # use wq::{Options, Queue};
/// # let name = format!("wq-doc-{}-{}", std::process::id(), line!());
/// let q = Queue::open(&name, &Options { capacity: 1 << 20, ..Options::default() })?;
/// let mut frame = q.push_reserve(65536, None)?;
/// frame.fill(0xAB); // written where the consumer will read it
/// frame.commit()?;
/// assert_eq!(q.pop(None)?, vec![0xAB; 65536]);
/// # Queue::remove(&name)?;
/// # Ok::<(), wq::Error>(())
/// ```
#[must_use = "a reservation that is dropped publishes nothing"]
pub struct Reservation<'q> {
    queue: &'q Queue,
    ptr: *mut u8,
    len: usize,
    open: bool,
}

impl Reservation<'_> {
    /// Publishes the whole reservation as one message.
    ///
    /// # Errors
    /// [`Error::Corrupted`](crate::Error::Corrupted) when the queue's
    /// segment was truncated under the handle (nothing is published).
    pub fn commit(self) -> Result<()> {
        let len = self.len;
        self.commit_len(len)
    }

    /// Publishes the first `len` bytes as one message (a message shorter
    /// than what was reserved).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) when `len`
    /// exceeds the reservation (which is then cancelled); as
    /// [`Reservation::commit`].
    pub fn commit_len(mut self, len: usize) -> Result<()> {
        if len > self.len {
            return Err(crate::Error::invalid(format_args!(
                "commit of {len} bytes exceeds the {} bytes reserved",
                self.len
            )));
        }
        self.open = false;
        self.queue.handle().commit_reserved(len as u64)
    }
}

impl Deref for Reservation<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `ptr` points at `len` bytes of the queue's mapping that
        // the reservation owns (the producers' lock is held and they lie
        // after the tail, in one piece); they stay mapped while the queue
        // handle, borrowed for the guard's life, lives.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl DerefMut for Reservation<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`; no reader looks at unpublished bytes, and
        // `&mut self` makes this the only view of them in this process.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.open {
            // Fails only when no reservation is held, which `open` rules out.
            let _ = self.queue.handle().cancel_reserved();
        }
    }
}

impl Queue {
    /// Reserves room for a message of `len` bytes in one piece in the
    /// queue's shared memory, for the caller to write in place (no copy);
    /// waits up to `timeout` for room as [`Queue::push`] does.
    ///
    /// # Errors
    /// [`Error::MessageTooLarge`](crate::Error::MessageTooLarge);
    /// [`Error::Full`](crate::Error::Full) when no room appeared in time;
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) when this
    /// thread already holds a reservation on this handle;
    /// [`Error::Interrupted`](crate::Error::Interrupted);
    /// [`Error::Corrupted`](crate::Error::Corrupted).
    pub fn push_reserve(&self, len: usize, timeout: Option<Duration>) -> Result<Reservation<'_>> {
        let ptr = self.handle().reserve(len as u64, timeout)?;
        Ok(Reservation {
            queue: self,
            ptr,
            len,
            open: true,
        })
    }
}
