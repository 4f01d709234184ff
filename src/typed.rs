//! Typed queues of plain-old-data messages: [`TypedQueue<T>`] pushes and
//! pops values of one [`bytemuck::Pod`] type, each message the value's
//! bytes (`size_of::<T>()` of them, native byte order and layout), so a C
//! or C++ program exchanges the same `struct` through the same queue.
//!
//! Why bytemuck: its [`Pod`] is exactly the promise a message type needs
//! (`Copy`, no padding, no pointers, every bit pattern valid), it has no
//! dependencies, no build script and no proc-macro unless its `derive`
//! feature is asked for, it needs no `unsafe` here, and it is the most
//! widely used crate for the job (zerocopy offers more, such as
//! unaligned and variable-length types, which fixed-size messages do not
//! need, with a larger derive-based surface).

use std::marker::PhantomData;
use std::mem::size_of;
use std::ops::Deref;
use std::time::Duration;

use bytemuck::Pod;

use crate::error::{Error, Result};
use crate::iter::next_item;
use crate::lease::Lease;
use crate::leased::Leased;
use crate::options::Options;
use crate::queue::{Queue, none_if_empty};
use crate::sink::Sink;

/// A queue whose messages are values of `T`, a plain-old-data type (derive
/// `bytemuck::Pod` and `bytemuck::Zeroable` for a `#[repr(C)]` struct).
///
/// The calls mirror [`Queue`]'s (`push`/`pop` with a timeout, `_wait`,
/// `_timeout` and `try_` shorthands, leased pops, iterators). A message of
/// another length, pushed by some other program, never blocks the queue:
/// the pop that meets it takes it off and returns [`Error::WrongSize`]
/// with its bytes, and the next pop goes on with the message behind it.
///
/// ```
/// use bytemuck::{Pod, Zeroable};
/// use wq::{Options, TypedQueue};
///
/// #[repr(C)]
/// #[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
/// struct Task {
///     id: u64,
///     weight: f32,
///     flags: u32,
/// }
///
/// # let name = format!("wq-doc-typed-{}", std::process::id());
/// let q = TypedQueue::<Task>::open(&name, &Options { capacity: 4096, ..Options::default() })?;
/// q.push_wait(&Task { id: 7, weight: 0.5, flags: 1 })?;
/// assert_eq!(q.try_pop()?, Some(Task { id: 7, weight: 0.5, flags: 1 }));
///
/// q.queue().push_wait(b"not a task")?; // from a program that got it wrong
/// q.push_wait(&Task { id: 8, weight: 1.0, flags: 0 })?;
/// match q.try_pop() {
///     Err(wq::Error::WrongSize { expected: 16, message }) => assert_eq!(message, b"not a task"),
///     other => panic!("{other:?}"),
/// }
/// assert_eq!(q.try_pop()?.map(|t| t.id), Some(8)); // the queue goes on
/// # wq::Queue::remove(&name)?;
/// # Ok::<(), wq::Error>(())
/// ```
pub struct TypedQueue<T> {
    queue: Queue,
    _message: PhantomData<fn(T) -> T>,
}

impl<T> std::fmt::Debug for TypedQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypedQueue")
            .field("type", &std::any::type_name::<T>())
            .field("queue", &self.queue)
            .finish()
    }
}

impl<T: Pod> TypedQueue<T> {
    /// [`Queue::open`], then [`TypedQueue::from_queue`].
    ///
    /// # Errors
    /// Those of [`Queue::open`], and [`Error::InvalidArgument`] when the
    /// queue's maximum message size is below `size_of::<T>()`.
    pub fn open(name: &str, options: &Options) -> Result<TypedQueue<T>> {
        TypedQueue::from_queue(Queue::open(name, options)?)
    }

    /// A typed view of an open queue.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the queue's maximum message size is
    /// below `size_of::<T>()`: no value could ever be pushed.
    pub fn from_queue(queue: Queue) -> Result<TypedQueue<T>> {
        let size = size_of::<T>() as u64;
        let max = queue.handle().geometry().max_message_size;
        if size > max {
            return Err(Error::invalid(format_args!(
                "{} has {size} bytes, more than the maximum message size {max} of queue {}",
                std::any::type_name::<T>(),
                queue.name()
            )));
        }
        Ok(TypedQueue {
            queue,
            _message: PhantomData,
        })
    }

    /// The untyped queue underneath (stats, interrupt, readiness, bytes).
    pub fn queue(&self) -> &Queue {
        &self.queue
    }

    /// The untyped queue, without the type.
    pub fn into_queue(self) -> Queue {
        self.queue
    }

    /// Appends `value` at the tail, waiting up to `timeout` for room, as
    /// [`Queue::push`].
    ///
    /// # Errors
    /// As [`Queue::push`].
    pub fn push(&self, value: &T, timeout: Option<Duration>) -> Result<()> {
        self.queue.push(bytemuck::bytes_of(value), timeout)
    }

    /// [`TypedQueue::push`] that waits as long as it takes.
    ///
    /// # Errors
    /// As [`Queue::push_wait`].
    pub fn push_wait(&self, value: &T) -> Result<()> {
        self.push(value, None)
    }

    /// [`TypedQueue::push`] that waits up to `timeout`.
    ///
    /// # Errors
    /// As [`Queue::push`].
    pub fn push_timeout(&self, value: &T, timeout: Duration) -> Result<()> {
        self.push(value, Some(timeout))
    }

    /// [`TypedQueue::push`] without waiting; `Ok(false)` when full.
    ///
    /// # Errors
    /// As [`Queue::try_push`].
    pub fn try_push(&self, value: &T) -> Result<bool> {
        self.queue.try_push(bytemuck::bytes_of(value))
    }

    /// Takes the value at the head, waiting up to `timeout` for one.
    ///
    /// # Errors
    /// [`Error::WrongSize`] (the message at the head was not a `T`; it was
    /// taken off), and those of [`Queue::pop`].
    pub fn pop(&self, timeout: Option<Duration>) -> Result<T> {
        let mut sink = IntoValue::<T>::new();
        self.queue.handle().pop_records(&mut sink, 1, timeout)?;
        sink.into_value()
    }

    /// [`TypedQueue::pop`] that waits as long as it takes.
    ///
    /// # Errors
    /// As [`TypedQueue::pop`] (never [`Error::Empty`]), and
    /// [`Error::Interrupted`].
    pub fn pop_wait(&self) -> Result<T> {
        self.pop(None)
    }

    /// [`TypedQueue::pop`] that waits up to `timeout`.
    ///
    /// # Errors
    /// As [`TypedQueue::pop`].
    pub fn pop_timeout(&self, timeout: Duration) -> Result<T> {
        self.pop(Some(timeout))
    }

    /// [`TypedQueue::pop`] without waiting; `Ok(None)` when empty.
    ///
    /// # Errors
    /// As [`TypedQueue::pop`], except that an empty queue is `Ok(None)`.
    pub fn try_pop(&self) -> Result<Option<T>> {
        none_if_empty(self.pop(Some(Duration::ZERO)))
    }

    /// Takes the oldest value nobody holds under a lease, as
    /// [`Queue::pop_leased`]: dropping the guard without
    /// [`LeasedValue::ack`] gives it back.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # let name = format!("wq-doc-typed-{}-{}", std::process::id(), line!());
    /// let q = wq::TypedQueue::<[u32; 4]>::open(&name, &wq::Options { capacity: 4096, ..Default::default() })?;
    /// q.push_wait(&[1, 2, 3, 4])?;
    /// let job = q.pop_leased(Some(Duration::from_secs(30)), None)?;
    /// assert_eq!((*job, job.deliveries()), ([1, 2, 3, 4], 1));
    /// drop(job); // not acked: given back
    /// let job = q.pop_leased(None, None)?;
    /// assert_eq!(job.deliveries(), 2);
    /// job.ack()?;
    /// assert_eq!(q.try_pop()?, None);
    /// # wq::Queue::remove(&name)?;
    /// # Ok::<(), wq::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::WrongSize`] (the message was not a `T`: it was acked, so it
    /// is gone and will not be redelivered), and those of
    /// [`Queue::pop_leased`] and, for a message of the wrong size,
    /// [`Queue::ack`].
    pub fn pop_leased(
        &self,
        lease: Option<Duration>,
        timeout: Option<Duration>,
    ) -> Result<LeasedValue<'_, T>> {
        LeasedValue::new(self.queue.pop_leased(lease, timeout)?)
    }

    /// [`TypedQueue::pop_leased`] without waiting; `Ok(None)` when there is
    /// nothing to lease.
    ///
    /// # Errors
    /// As [`TypedQueue::pop_leased`], except that nothing to lease is
    /// `Ok(None)`.
    pub fn try_pop_leased(&self, lease: Option<Duration>) -> Result<Option<LeasedValue<'_, T>>> {
        none_if_empty(self.pop_leased(lease, Some(Duration::ZERO)))
    }

    /// An iterator that pops values as [`Queue::iter`] does: it waits for
    /// each and ends when the handle is interrupted. A value of the wrong
    /// size is an `Err` item, and the iteration goes on after it.
    pub fn iter(&self) -> TypedIter<'_, T> {
        TypedIter {
            queue: self,
            timeout: None,
            done: false,
        }
    }

    /// An iterator that pops the values queued now, as [`Queue::try_iter`]
    /// does: it ends when the queue is empty. A value of the wrong size is
    /// an `Err` item, and the iteration goes on after it.
    ///
    /// ```
    /// # let name = format!("wq-doc-typed-{}-{}", std::process::id(), line!());
    /// let q = wq::TypedQueue::<u64>::open(&name, &wq::Options { capacity: 4096, ..Default::default() })?;
    /// q.push_wait(&1)?;
    /// q.queue().push_wait(b"odd")?;
    /// q.push_wait(&3)?;
    /// let got: Vec<_> = q.try_iter().collect();
    /// assert!(matches!(got[..], [Ok(1), Err(wq::Error::WrongSize { .. }), Ok(3)]));
    /// # wq::Queue::remove(&name)?;
    /// # Ok::<(), wq::Error>(())
    /// ```
    pub fn try_iter(&self) -> TypedIter<'_, T> {
        TypedIter {
            queue: self,
            timeout: Some(Duration::ZERO),
            done: false,
        }
    }
}

/// Where a typed pop puts its message: into a `T` when the length is
/// right, else into a `Vec` for [`Error::WrongSize`]. It takes any length,
/// so a pop never leaves a foreign message at the head.
struct IntoValue<T> {
    value: T,
    foreign: Option<Vec<u8>>,
}

impl<T: Pod> IntoValue<T> {
    fn new() -> IntoValue<T> {
        IntoValue {
            value: T::zeroed(),
            foreign: None,
        }
    }

    fn into_value(self) -> Result<T> {
        match self.foreign {
            None => Ok(self.value),
            Some(message) => Err(wrong_size::<T>(message)),
        }
    }
}

impl<T: Pod> Sink for IntoValue<T> {
    fn place(&mut self, _index: usize, len: usize) -> Option<&mut [u8]> {
        if len == size_of::<T>() {
            self.foreign = None;
            Some(bytemuck::bytes_of_mut(&mut self.value))
        } else {
            Some(self.foreign.insert(vec![0; len]))
        }
    }
    fn room(&self) -> usize {
        usize::MAX
    }
}

fn wrong_size<T>(message: Vec<u8>) -> Error {
    Error::WrongSize {
        expected: size_of::<T>() as u64,
        message,
    }
}

/// A value popped under a lease ([`TypedQueue::pop_leased`]): the value, and
/// the lease, given back (nacked) when the guard drops without
/// [`LeasedValue::ack`]. Dereferences to the value.
#[derive(Debug)]
#[must_use = "a lease that is dropped gives its message back"]
pub struct LeasedValue<'q, T> {
    leased: Leased<'q>,
    value: T,
}

impl<'q, T: Pod> LeasedValue<'q, T> {
    /// Decodes a leased message; one of the wrong size is acked (taken off
    /// for good) and returned in [`Error::WrongSize`].
    fn new(leased: Leased<'q>) -> Result<LeasedValue<'q, T>> {
        match bytemuck::try_pod_read_unaligned(leased.bytes()) {
            Ok(value) => Ok(LeasedValue { leased, value }),
            Err(_) => {
                let message = leased.bytes().to_vec();
                leased.ack()?;
                Err(wrong_size::<T>(message))
            }
        }
    }

    /// The value.
    pub fn value(&self) -> &T {
        &self.value
    }

    /// Times the message has been delivered, this delivery included.
    pub fn deliveries(&self) -> u32 {
        self.leased.deliveries()
    }

    /// The lease, for settling it later or from another handle.
    pub fn lease(&self) -> Lease {
        self.leased.lease()
    }

    /// The value is done: removes its message for good, as [`Leased::ack`].
    ///
    /// # Errors
    /// As [`Leased::ack`].
    pub fn ack(self) -> Result<()> {
        self.leased.ack()
    }

    /// Gives the value back, to be delivered again at once, as
    /// [`Leased::nack`].
    ///
    /// # Errors
    /// As [`Leased::nack`].
    pub fn nack(self) -> Result<()> {
        self.leased.nack()
    }

    /// Keeps the value for `lease` more from now, as [`Leased::extend`].
    ///
    /// # Errors
    /// As [`Leased::extend`].
    pub fn extend(&self, lease: Option<Duration>) -> Result<()> {
        self.leased.extend(lease)
    }

    /// The value and its lease, without the guard, as [`Leased::into_parts`].
    pub fn into_parts(self) -> (T, Lease) {
        let (_, lease) = self.leased.into_parts();
        (self.value, lease)
    }
}

impl<T> Deref for LeasedValue<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// The values of a [`TypedQueue`], popped one by one: [`TypedQueue::iter`]
/// and [`TypedQueue::try_iter`].
#[derive(Debug)]
#[must_use = "iterators pop nothing until consumed"]
pub struct TypedIter<'q, T> {
    queue: &'q TypedQueue<T>,
    timeout: Option<Duration>,
    done: bool,
}

impl<T: Pod> Iterator for TypedIter<'_, T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        if self.done {
            return None;
        }
        match self.queue.pop(self.timeout) {
            // A foreign message is off the queue: report it and go on.
            Err(e @ Error::WrongSize { .. }) => Some(Err(e)),
            popped => next_item(&mut self.done, popped),
        }
    }
}

impl<T: Pod> std::iter::FusedIterator for TypedIter<'_, T> {}
