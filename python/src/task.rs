//! `wq.Task`: a message popped under a lease, and the lease to settle.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};
use wq::Lease;

use crate::errors::IntoPy;
use crate::wait::seconds;

/// A message popped under a lease (``Queue.pop_leased``). ``ack()`` when
/// it is done (removed for good), ``nack()`` to give it back (delivered
/// again at once). As a context manager it acks when the block succeeds
/// and nacks when it raises; a task dropped unsettled is given back too.
/// ``deliveries`` counts this delivery (1 for the first).
#[pyclass(module = "wq._wq", name = "Task", frozen)]
pub struct Task {
    queue: Arc<wq::Queue>,
    data: Py<PyBytes>,
    lease: Lease,
    /// Set once ack, nack or the `with` block's end settled it.
    settled: AtomicBool,
}

impl Task {
    pub fn new(py: Python<'_>, queue: Arc<wq::Queue>, msg: &[u8], lease: Lease) -> Task {
        Task {
            queue,
            data: PyBytes::new(py, msg).unbind(),
            lease,
            settled: AtomicBool::new(false),
        }
    }

    fn settle(&self, py: Python<'_>, ack: bool) -> wq::Result<()> {
        self.settled.store(true, Ordering::Relaxed);
        let (q, lease) = (&self.queue, &self.lease);
        py.detach(|| if ack { q.ack(lease) } else { q.nack(lease) })
    }
}

#[pymethods]
impl Task {
    /// The message.
    #[getter]
    fn data(&self, py: Python<'_>) -> Py<PyBytes> {
        self.data.clone_ref(py)
    }

    /// Times the message has been delivered, this delivery included.
    #[getter]
    fn deliveries(&self) -> u32 {
        self.lease.deliveries
    }

    /// The lease token (any handle's ``wq_ack`` in C may settle it).
    #[getter]
    fn token(&self) -> u64 {
        self.lease.token
    }

    /// The task is done: its message is removed for good. Raises
    /// ``wq.LeaseEnded`` when the lease had already ended (it timed out:
    /// the message may have gone to another worker).
    fn ack(&self, py: Python<'_>) -> PyResult<()> {
        self.settle(py, true).py(py)
    }

    /// Gives the message back, to be delivered again at once.
    fn nack(&self, py: Python<'_>) -> PyResult<()> {
        self.settle(py, false).py(py)
    }

    /// Keeps the message for ``lease`` more seconds from now (``None``:
    /// until settled or the holder goes).
    #[pyo3(signature = (lease = None))]
    fn extend(&self, py: Python<'_>, lease: Option<f64>) -> PyResult<()> {
        let lease_for = seconds(lease, "lease")?;
        let (q, l) = (&self.queue, &self.lease);
        py.detach(|| q.extend_lease(l, lease_for)).py(py)
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    /// Acks after a block that succeeded, nacks after one that raised (a
    /// lease that had already ended then needs nothing); never swallows
    /// the block's exception.
    #[pyo3(signature = (*exc))]
    fn __exit__(&self, py: Python<'_>, exc: &Bound<'_, PyTuple>) -> PyResult<bool> {
        if self.settled.load(Ordering::Relaxed) {
            return Ok(false);
        }
        let raised = exc.get_item(0).is_ok_and(|t| !t.is_none());
        match self.settle(py, !raised) {
            Err(wq::Error::LeaseEnded { .. }) if raised => Ok(false),
            done => done.py(py).map(|()| false),
        }
    }

    fn __bytes__(&self, py: Python<'_>) -> Py<PyBytes> {
        self.data.clone_ref(py)
    }

    fn __len__(&self, py: Python<'_>) -> usize {
        self.data.bind(py).as_bytes().len()
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "<wq.Task {} bytes, delivery {}, token {:#x}>",
            self.__len__(py),
            self.lease.deliveries,
            self.lease.token
        )
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        if !self.settled.load(Ordering::Relaxed) {
            // As wq::Leased does: an ended lease needs nothing; any other
            // failure leaves it to time out or to the handle's close.
            let _ = self.queue.nack(&self.lease);
        }
    }
}
