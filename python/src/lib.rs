//! `wq._wq`: the Python extension module of wq, over the safe Rust API.
//! The package `wq` (python/wq/) re-exports it and adds what is easier
//! said in Python: the exception classes, `Stats`, asyncio, `TaskQueue`.

mod buffer;
mod errors;
mod task;
mod wait;

use std::cell::RefCell;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};
use wq::{OpenMode, Options, Span};

use crate::buffer::Buffer;
use crate::errors::IntoPy;
use crate::task::Task;
use crate::wait::{seconds, wait};

/// An open handle to a named shared-memory work queue (`/dev/shm/NAME`),
/// shared with any process that opens the same name, in any language.
///
/// ``Queue(name, capacity=DEFAULT_CAPACITY, max_message_size=0, mode=0o600,
/// create=None, allow_other_owner=False)``: ``create=None`` opens the queue
/// or creates it, ``True`` only creates it (``wq.Exists`` if the name is
/// taken), ``False`` only opens it (``wq.NotFound``). The geometry applies
/// to creation only. A context manager: ``with`` closes the handle (the
/// queue and its messages stay until ``wq.remove(name)``).
///
/// Timeouts are seconds: ``None`` waits as long as it takes, ``0`` not at
/// all. Waiting calls release the GIL and end with ``KeyboardInterrupt``
/// on Ctrl-C. One handle may be used by many threads.
#[pyclass(module = "wq._wq", name = "Queue", subclass, frozen)]
pub struct PyQueue {
    inner: Mutex<Option<Arc<wq::Queue>>>,
}

impl PyQueue {
    fn slot(&self) -> MutexGuard<'_, Option<Arc<wq::Queue>>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The open handle, or `ValueError` once closed.
    fn get(&self) -> PyResult<Arc<wq::Queue>> {
        self.slot()
            .clone()
            .ok_or_else(|| PyValueError::new_err("operation on a closed wq.Queue"))
    }
}

/// Room of `pop_batch`'s buffer beside its largest message.
const BATCH_ROOM: usize = 64 << 10;

thread_local! {
    /// The buffer `pop_batch` packs messages into, one per thread, grown
    /// to the largest message seen plus [`BATCH_ROOM`].
    static BATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; BATCH_ROOM]);
}

#[pymethods]
impl PyQueue {
    #[new]
    #[pyo3(signature = (name, capacity = wq::DEFAULT_CAPACITY, max_message_size = 0, mode = wq::DEFAULT_MODE, create = None, allow_other_owner = false))]
    fn new(
        py: Python<'_>,
        name: &str,
        capacity: u64,
        max_message_size: u64,
        mode: u32,
        create: Option<bool>,
        allow_other_owner: bool,
    ) -> PyResult<PyQueue> {
        let options = Options {
            capacity,
            max_message_size,
            mode,
            open_mode: match create {
                None => OpenMode::OpenOrCreate,
                Some(true) => OpenMode::CreateOnly,
                Some(false) => OpenMode::OpenOnly,
            },
            allow_other_owner,
        };
        let queue = py.detach(|| wq::Queue::open(name, &options)).py(py)?;
        Ok(PyQueue {
            inner: Mutex::new(Some(Arc::new(queue))),
        })
    }

    /// The queue's name, with its leading slash (``"/jobs"``).
    #[getter]
    fn name(&self) -> PyResult<String> {
        Ok(self.get()?.name().to_owned())
    }

    /// Whether ``close()`` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.slot().is_none()
    }

    /// Closes this handle (the queue stays). Leases it holds end when
    /// their ``Task`` objects are gone too. Calling it again does nothing.
    fn close(&self) {
        self.slot().take();
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, _exc: &Bound<'_, PyTuple>) {
        self.close();
    }

    fn __repr__(&self) -> String {
        match self.slot().as_ref() {
            Some(q) => format!("<wq.Queue {:?}>", q.name()),
            None => "<wq.Queue (closed)>".to_owned(),
        }
    }

    /// Appends ``msg`` (any bytes-like object) at the tail, waiting up to
    /// ``timeout`` for room. Raises ``wq.Full`` when none appeared,
    /// ``wq.MessageTooLarge``.
    #[pyo3(signature = (msg, timeout = None))]
    fn push(&self, py: Python<'_>, msg: &Bound<'_, PyAny>, timeout: Option<f64>) -> PyResult<()> {
        let q = self.get()?;
        let buf = Buffer::read(msg)?;
        let msg = buf.as_slice();
        wait(py, seconds(timeout, "timeout")?, |t| q.push(msg, t))
    }

    /// Like ``push`` without waiting: ``False`` when the queue is full.
    fn try_push(&self, py: Python<'_>, msg: &Bound<'_, PyAny>) -> PyResult<bool> {
        let q = self.get()?;
        let buf = Buffer::read(msg)?;
        q.try_push(buf.as_slice()).py(py)
    }

    /// Appends a prefix of ``msgs`` (bytes-like objects) in one step, with
    /// no other producer's message between them: waits up to ``timeout``
    /// for room for the first, then pushes as many as fit. Returns how
    /// many (push the rest again).
    #[pyo3(signature = (msgs, timeout = None))]
    fn push_batch(
        &self,
        py: Python<'_>,
        msgs: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<usize> {
        let q = self.get()?;
        let bufs = msgs
            .try_iter()?
            .map(|m| Buffer::read(&m?))
            .collect::<PyResult<Vec<_>>>()?;
        let msgs: Vec<&[u8]> = bufs.iter().map(Buffer::as_slice).collect();
        if msgs.is_empty() {
            return Ok(0);
        }
        wait(py, seconds(timeout, "timeout")?, |t| q.push_batch(&msgs, t))
    }

    /// Takes the message at the head, waiting up to ``timeout`` for one.
    /// Raises ``wq.Empty`` when none arrived.
    #[pyo3(signature = (timeout = None))]
    fn pop<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyBytes>> {
        let q = self.get()?;
        let msg = wait(py, seconds(timeout, "timeout")?, |t| q.pop(t))?;
        Ok(PyBytes::new(py, &msg))
    }

    /// Like ``pop`` without waiting: ``None`` when the queue is empty.
    fn try_pop<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let q = self.get()?;
        Ok(q.try_pop().py(py)?.map(|msg| PyBytes::new(py, &msg)))
    }

    /// Takes the message at the head into ``buffer`` (a writable
    /// bytes-like object: ``bytearray``, ``memoryview``, a numpy array, a
    /// ctypes structure), waiting up to ``timeout``; returns its length.
    /// Raises ``wq.BufferTooSmall`` (the message stays queued).
    #[pyo3(signature = (buffer, timeout = None))]
    fn pop_into(
        &self,
        py: Python<'_>,
        buffer: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<usize> {
        let q = self.get()?;
        let mut buf = Buffer::write(buffer)?;
        let out = buf.as_mut_slice();
        wait(py, seconds(timeout, "timeout")?, |t| q.pop_into(out, t))
    }

    /// Takes up to ``max`` messages in one step, waiting up to ``timeout``
    /// for the first; returns them in order (at least one).
    #[pyo3(signature = (max = 64, timeout = None))]
    fn pop_batch<'py>(
        &self,
        py: Python<'py>,
        max: usize,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyList>> {
        if max == 0 {
            return Err(PyValueError::new_err("pop_batch needs max >= 1"));
        }
        let q = self.get()?;
        let mut spans = vec![Span::default(); max];
        let n = wait(py, seconds(timeout, "timeout")?, |t| {
            BATCH.with_borrow_mut(|buf| {
                loop {
                    match q.pop_batch(buf, &mut spans, t) {
                        Err(wq::Error::BufferTooSmall { needed, .. }) => {
                            buf.resize(needed as usize + BATCH_ROOM, 0)
                        }
                        done => return done,
                    }
                }
            })
        })?;
        BATCH.with_borrow(|buf| {
            PyList::new(
                py,
                spans[..n]
                    .iter()
                    .map(|s| PyBytes::new(py, &buf[s.offset..][..s.len])),
            )
        })
    }

    /// Takes the oldest message nobody holds under a lease: it stays
    /// queued, invisible to other pops, until the returned ``Task`` is
    /// acked (gone for good), nacked, or its lease ends otherwise — after
    /// ``lease`` seconds (``None``: never by time), or when its holder
    /// closes its handle or dies, SIGKILL included; then it is delivered
    /// again, before anything pushed after it. ``with q.pop_leased() as
    /// task:`` acks when the block succeeds and nacks when it raises.
    /// Waits up to ``timeout`` (raises ``wq.Empty``).
    #[pyo3(signature = (lease = None, timeout = None))]
    fn pop_leased(
        &self,
        py: Python<'_>,
        lease: Option<f64>,
        timeout: Option<f64>,
    ) -> PyResult<Task> {
        let q = self.get()?;
        let lease = seconds(lease, "lease")?;
        let (msg, l) = wait(py, seconds(timeout, "timeout")?, |t| {
            q.pop_leased(lease, t).map(wq::Leased::into_parts)
        })?;
        Ok(Task::new(py, q, &msg, l))
    }

    /// Like ``pop_leased`` without waiting: ``None`` when there is nothing
    /// to lease.
    #[pyo3(signature = (lease = None))]
    fn try_pop_leased(&self, py: Python<'_>, lease: Option<f64>) -> PyResult<Option<Task>> {
        let q = self.get()?;
        let lease = seconds(lease, "lease")?;
        let got = q.try_pop_leased(lease).py(py)?.map(wq::Leased::into_parts);
        Ok(got.map(|(msg, l)| Task::new(py, q, &msg, l)))
    }

    /// The counters as a tuple, in the order of the fields of ``wq.Stats``.
    fn _stats(&self, py: Python<'_>) -> PyResult<(u64, u64, u64, u64, u64, u64, u64)> {
        let q = self.get()?;
        let s = py.detach(|| q.stats()).py(py)?;
        Ok((
            s.len,
            s.bytes_used,
            s.capacity,
            s.max_message_size,
            s.pushed_total,
            s.popped_total,
            s.recoveries,
        ))
    }

    /// The lease counters as a tuple, in the order of ``wq.LeaseStats``.
    fn _lease_stats(&self, py: Python<'_>) -> PyResult<(u64, u64, u64, u64, u64, u64)> {
        let q = self.get()?;
        let s = py.detach(|| q.lease_stats()).py(py)?;
        Ok((
            s.leased,
            s.acked_total,
            s.nacked_total,
            s.expired_total,
            s.abandoned_total,
            s.redelivered_total,
        ))
    }

    /// The process ids of the other handles attached to the queue now: a
    /// hint for humans, never an identity.
    fn peer_pids(&self) -> PyResult<Vec<u32>> {
        Ok(self.get()?.peer_pids())
    }

    /// A descriptor that ``select``/``poll``/asyncio report readable while
    /// the queue may hold a message (spuriously too: then ``try_pop`` until
    /// it returns ``None``, which also resets it). It belongs to the handle:
    /// do not close or read it.
    fn fileno(&self, py: Python<'_>) -> PyResult<i32> {
        let q = self.get()?;
        Ok(q.readable_fd().py(py)?.as_raw_fd())
    }

    /// Makes every call of this handle that waits, now or later, raise
    /// ``wq.Interrupted`` (calls that need no wait still succeed), until
    /// ``interrupt_clear()``. Other handles and processes are unaffected.
    fn interrupt(&self) -> PyResult<()> {
        self.get()?.interrupt();
        Ok(())
    }

    /// Ends what ``interrupt()`` began: calls wait again.
    fn interrupt_clear(&self) -> PyResult<()> {
        self.get()?.interrupt_clear();
        Ok(())
    }
}

/// Removes the queue ``name``: later opens no longer find it; handles
/// already open keep working on the old queue. Raises ``wq.NotFound``.
#[pyfunction]
fn remove(py: Python<'_>, name: &str) -> PyResult<()> {
    py.detach(|| wq::Queue::remove(name)).py(py)
}

#[pymodule]
fn _wq(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyQueue>()?;
    m.add_class::<Task>()?;
    m.add_function(wrap_pyfunction!(remove, m)?)?;
    m.add("DEFAULT_CAPACITY", wq::DEFAULT_CAPACITY)?;
    m.add("DEFAULT_MODE", wq::DEFAULT_MODE)?;
    m.add("LEASE_LIMIT", wq::LEASE_LIMIT)?;
    m.add("MAX_NAME_LEN", wq::MAX_NAME_LEN)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
