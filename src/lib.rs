//! # wq — a crash-safe shared-memory work queue
//!
//! Processes on one machine open the same named queue (a POSIX shared-memory
//! segment, `/dev/shm/NAME`) and push and pop byte-string messages through
//! it: one FIFO order over all producers, every message delivered whole and
//! exactly once. A process killed at any instant — holding the lock, blocked,
//! mid-copy — neither blocks the others nor corrupts, loses or duplicates a
//! committed message. The segment is treated as untrusted input: anything
//! that is not a healthy queue yields [`Error::Incompatible`] or
//! [`Error::Corrupted`], never a crash.
//!
//! The same queue is reachable from C and C++ through the C ABI in
//! [`ffi`] (`include/wq.h`), and from Rust through [`Queue`]:
//!
//! ```
//! use std::time::Duration;
//! use wq::{Options, Queue};
//!
//! # let name = format!("wq-doc-lib-{}", std::process::id());
//! let q = Queue::open(&name, &Options::default())?;
//! q.push(b"task 1", None)?;
//! q.push_batch(&[b"task 2", b"task 3"], None)?;
//! let mut buf = [0u8; 64];
//! let n = q.pop_into(&mut buf, Some(Duration::from_millis(100)))?;
//! assert_eq!(&buf[..n], b"task 1");
//! assert_eq!(q.stats()?.len, 2);
//! Queue::remove(&name)?;
//! # Ok::<(), wq::Error>(())
//! ```
#![deny(unsafe_op_in_unsafe_fn)]
#![doc(test(attr(deny(warnings))))]

/// The README's Rust examples, compiled and run as doc-tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}

#[cfg(feature = "tokio")]
mod aio;
mod error;
pub mod ffi;
mod handles;
mod iter;
mod layout;
mod lease;
mod leased;
mod liveness;
mod lock;
mod options;
mod protocol;
mod queue;
mod readiness;
mod reservation;
mod ring;
mod segment;
mod sink;
mod sync;
mod sys;
mod typed;

/// The crate whose [`Pod`](bytemuck::Pod) bound [`TypedQueue`] uses, re-exported.
pub use bytemuck;
pub use error::{
    Corrupted, CorruptionCause, Error, Incompatible, IncompatibleCause, NoSpace, Result,
};
pub use iter::Iter;
pub use lease::{Lease, LeaseStats};
pub use leased::{Leased, LeasedView, SharedBytes};
pub use options::{DEFAULT_CAPACITY, DEFAULT_MODE, OpenMode, Options};
pub use protocol::Stats;
pub use queue::Queue;
pub use reservation::Reservation;
pub use segment::MAX_NAME_LEN;
pub use typed::{LeasedValue, TypedIter, TypedQueue};

/// How many messages of one queue may be leased or waiting for redelivery
/// at once; at the limit, leased pops wait as if the queue were empty.
pub const LEASE_LIMIT: usize = layout::LEASE_SLOTS as usize;
pub use sink::Span;
