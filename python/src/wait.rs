//! Calls that may wait: tried once with the GIL held and no wait, then
//! without the GIL, so that other Python threads run while one waits. The
//! main thread, where Python runs signal handlers, waits in slices and
//! checks for signals between them, so that Ctrl-C (SIGINT) ends a wait
//! with `KeyboardInterrupt` (a signal alone never ends a wq wait); other
//! threads wait in one piece, without wake-ups.

use std::time::{Duration, Instant};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyModule;

use crate::errors::to_py;

/// Longest wait between two signal checks: how late Ctrl-C may be noticed.
const SLICE: Duration = Duration::from_millis(50);

/// A timeout in seconds from Python: `None` waits for ever, `0` not at all.
pub fn seconds(timeout: Option<f64>, what: &str) -> PyResult<Option<Duration>> {
    match timeout {
        None => Ok(None),
        Some(t) => Duration::try_from_secs_f64(t).map(Some).map_err(|_| {
            PyValueError::new_err(format!(
                "{what} must be None or a number of seconds >= 0, not {t}"
            ))
        }),
    }
}

/// Runs `attempt` until it succeeds, fails otherwise than by its timeout
/// (`Empty` for a pop, `Full` for a push), or `timeout` has passed.
pub fn wait<T, F>(py: Python<'_>, timeout: Option<Duration>, mut attempt: F) -> PyResult<T>
where
    F: FnMut(Option<Duration>) -> wq::Result<T> + Send,
    T: Send,
{
    let timed_out = |e: &wq::Error| matches!(e, wq::Error::Empty | wq::Error::Full);
    match attempt(Some(Duration::ZERO)) {
        Err(e) if timed_out(&e) && timeout != Some(Duration::ZERO) => {}
        done => return done.map_err(|e| to_py(py, e)),
    }
    let deadline = timeout.map(|t| Instant::now() + t);
    let sliced = on_main_thread(py)?;
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let slice = if sliced {
            Some(left.map_or(SLICE, |l| l.min(SLICE)))
        } else {
            left
        };
        match py.detach(|| attempt(slice)) {
            Err(e) if timed_out(&e) => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Err(to_py(py, e));
                }
                py.check_signals()?;
            }
            done => return done.map_err(|e| to_py(py, e)),
        }
    }
}

/// Whether this is Python's main thread (`threading.main_thread()`).
fn on_main_thread(py: Python<'_>) -> PyResult<bool> {
    static THREADING: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    let threading = THREADING
        .get_or_try_init(py, || PyModule::import(py, "threading").map(Bound::unbind))?
        .bind(py);
    let main = threading.call_method0("main_thread")?;
    Ok(threading.call_method0("current_thread")?.is(&main))
}
