//! Where popped messages go: the caller's buffer, a new `Vec`, or a batch
//! of [`Span`]s packed into one buffer; or, for a leased pop, nowhere: the
//! message is seen in place ([`InPlace`]).

use crate::error::{Error, Result};
use crate::ring::{Record, Ring};

/// Where [`Queue::pop_batch`](crate::Queue::pop_batch) put one message: `buf[offset..offset + len]`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    /// Offset of the message's first byte in the buffer.
    pub offset: usize,
    /// Length of the message.
    pub len: usize,
}

/// A destination for popped messages.
pub(crate) trait Sink {
    /// Room for message number `index` of `len` bytes, or `None` if it does
    /// not fit (the message then stays queued).
    fn place(&mut self, index: usize, len: usize) -> Option<&mut [u8]>;
    /// Bytes still free, for error reports.
    fn room(&self) -> usize;
}

/// Into the caller's buffer; `len` is the message's length once placed.
pub(crate) struct IntoSlice<'a> {
    pub buf: &'a mut [u8],
    pub len: usize,
}

impl Sink for IntoSlice<'_> {
    fn place(&mut self, _index: usize, len: usize) -> Option<&mut [u8]> {
        self.len = len;
        self.buf.get_mut(..len)
    }
    fn room(&self) -> usize {
        self.buf.len()
    }
}

/// Into a new `Vec`, sized to the message.
pub(crate) struct IntoVec(pub Vec<u8>);

impl Sink for IntoVec {
    fn place(&mut self, _index: usize, len: usize) -> Option<&mut [u8]> {
        self.0.resize(len, 0);
        Some(&mut self.0)
    }
    fn room(&self) -> usize {
        usize::MAX
    }
}

/// Packed one after another into `buf`, with their places in `spans`.
pub(crate) struct IntoBatch<'a> {
    pub buf: &'a mut [u8],
    pub spans: &'a mut [Span],
    pub used: usize,
}

impl Sink for IntoBatch<'_> {
    fn place(&mut self, index: usize, len: usize) -> Option<&mut [u8]> {
        let span = self.spans.get_mut(index)?;
        let end = self.used.checked_add(len)?;
        let dst = self.buf.get_mut(self.used..end)?;
        *span = Span {
            offset: self.used,
            len,
        };
        self.used = end;
        Some(dst)
    }
    fn room(&self) -> usize {
        self.buf.len() - self.used
    }
}

/// How a leased pop takes its one message: copied out into a [`Sink`], or
/// seen where it lies ([`InPlace`]).
pub(crate) trait Take {
    /// Takes the message of `record`, validated and published.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] when a sink has no room for it.
    fn take(&mut self, ring: &Ring, record: &Record) -> Result<()>;
}

impl<S: Sink> Take for S {
    fn take(&mut self, ring: &Ring, record: &Record) -> Result<()> {
        let Some(dst) = self.place(0, record.len as usize) else {
            return Err(Error::BufferTooSmall {
                needed: record.len,
                cap: self.room() as u64,
            });
        };
        ring.read_message(record, dst);
        Ok(())
    }
}

/// The message in the segment: where it starts and its length.
pub(crate) struct InPlace {
    pub ptr: *const u8,
    pub len: usize,
}

impl Take for InPlace {
    fn take(&mut self, ring: &Ring, record: &Record) -> Result<()> {
        self.ptr = ring.message_ptr(record);
        self.len = record.len as usize;
        Ok(())
    }
}
