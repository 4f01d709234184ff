//! Iterators over a queue's messages: [`Queue::iter`] pops until the handle
//! is interrupted, [`Queue::try_iter`] until the queue is empty.

use std::iter::FusedIterator;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::queue::Queue;

impl Queue {
    /// An iterator that pops messages, waiting for each as long as it takes,
    /// and ends when this handle is interrupted ([`Queue::interrupt`], e.g.
    /// from a signal handler) once nothing is left that needs no wait.
    /// A worker's loop:
    ///
    /// ```
    /// # use wq::{Options, Queue};
    /// # let name = format!("wq-doc-{}-{}", std::process::id(), line!());
    /// let q = Queue::open(&name, &Options { capacity: 4096, ..Options::default() })?;
    /// q.push_batch(&[&b"a"[..], b"b"], None)?;
    /// std::thread::scope(|s| {
    ///     let worker = s.spawn(|| q.iter().collect::<Result<Vec<_>, _>>());
    ///     q.push_wait(b"c")?;
    ///     while q.stats()?.len > 0 {
    ///         std::thread::yield_now();
    ///     }
    ///     q.interrupt(); // the worker's wait ends: so does its iterator
    ///     assert_eq!(worker.join().unwrap()?, [b"a", b"b", b"c"]);
    ///     Ok::<(), wq::Error>(())
    /// })?;
    /// # Queue::remove(&name)?;
    /// # Ok::<(), wq::Error>(())
    /// ```
    ///
    /// An error other than the interruption is the iterator's last item.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            queue: self,
            timeout: None,
            done: false,
        }
    }

    /// An iterator that pops the messages queued now, without waiting, and
    /// ends when the queue is empty (a drain). Like [`Queue::try_pop`], it
    /// also ends when a peer holds the consumers' lock at that instant.
    ///
    /// ```
    /// # use wq::{Options, Queue};
    /// # let name = format!("wq-doc-{}-{}", std::process::id(), line!());
    /// # let q = Queue::open(&name, &Options { capacity: 4096, ..Options::default() })?;
    /// q.push_batch(&[&b"a"[..], b"b", b"c"], None)?;
    /// let all: Vec<Vec<u8>> = q.try_iter().collect::<Result<_, _>>()?;
    /// assert_eq!(all, [b"a", b"b", b"c"]);
    /// assert_eq!(q.try_iter().count(), 0);
    /// # Queue::remove(&name)?;
    /// # Ok::<(), wq::Error>(())
    /// ```
    ///
    /// An error other than the queue being empty is the iterator's last item.
    pub fn try_iter(&self) -> Iter<'_> {
        Iter {
            queue: self,
            timeout: Some(Duration::ZERO),
            done: false,
        }
    }
}

/// The item of a popping iterator for one pop's `result`: `None` at the end
/// (the queue was empty for the whole timeout, or the handle was
/// interrupted); an error is the last item. Sets `done` for both.
pub(crate) fn next_item<T>(done: &mut bool, result: Result<T>) -> Option<Result<T>> {
    match result {
        Ok(value) => Some(Ok(value)),
        Err(Error::Empty | Error::Interrupted) => {
            *done = true;
            None
        }
        Err(e) => {
            *done = true;
            Some(Err(e))
        }
    }
}

/// The messages of a [`Queue`], popped one by one: [`Queue::iter`] (until
/// interrupted) and [`Queue::try_iter`] (until empty).
#[derive(Debug)]
#[must_use = "iterators pop nothing until consumed"]
pub struct Iter<'q> {
    queue: &'q Queue,
    timeout: Option<Duration>,
    done: bool,
}

impl Iterator for Iter<'_> {
    type Item = Result<Vec<u8>>;

    fn next(&mut self) -> Option<Result<Vec<u8>>> {
        if self.done {
            return None;
        }
        let popped = self.queue.pop(self.timeout);
        next_item(&mut self.done, popped)
    }
}

impl FusedIterator for Iter<'_> {}

impl<'q> IntoIterator for &'q Queue {
    type Item = Result<Vec<u8>>;
    type IntoIter = Iter<'q>;

    /// [`Queue::iter`]: `for msg in &queue` pops until interrupted.
    fn into_iter(self) -> Iter<'q> {
        self.iter()
    }
}
