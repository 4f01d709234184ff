//! Calls that may wait: tried once with the GIL held and no wait, then
//! without the GIL in slices, checking for signals between them, so that
//! other Python threads run while one waits and Ctrl-C (SIGINT) ends a
//! wait with `KeyboardInterrupt` (a signal alone never ends a wq wait).

use std::time::{Duration, Instant};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

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
    loop {
        let slice = match deadline {
            None => SLICE,
            Some(d) => d.saturating_duration_since(Instant::now()).min(SLICE),
        };
        match py.detach(|| attempt(Some(slice))) {
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
