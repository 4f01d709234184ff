//! `wq::Error` as Python exceptions: one class per variant, defined in
//! `wq/_errors.py` (so they can also derive from `queue.Empty`,
//! `ValueError`, `OSError`, ...), each raised with the error's full text,
//! its detail (what `wq_last_error()` says) and the variant's fields.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyModule;
use wq::{CorruptionCause, Error, IncompatibleCause};

/// `wq._errors`, imported on the first error.
static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// The Python exception for `err`.
pub fn to_py(py: Python<'_>, err: Error) -> PyErr {
    build(py, &err).unwrap_or_else(|e| e)
}

/// Converts a wq result, for `?` in methods.
pub trait IntoPy<T> {
    /// The value, or the Python exception for the error.
    fn py(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPy<T> for wq::Result<T> {
    fn py(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, e))
    }
}

fn build(py: Python<'_>, err: &Error) -> PyResult<PyErr> {
    let module =
        MODULE.get_or_try_init(py, || PyModule::import(py, "wq._errors").map(Bound::unbind))?;
    let (class, fields) = describe(py, err)?;
    let exc = module.bind(py).getattr(class)?.call1((err.to_string(),))?;
    exc.setattr("detail", err.detail().to_string())?;
    for (key, value) in fields {
        exc.setattr(key, value)?;
    }
    Ok(PyErr::from_value(exc))
}

type Fields<'py> = Vec<(&'static str, Bound<'py, PyAny>)>;

/// The class name of `err` and its fields as attributes.
fn describe<'py>(py: Python<'py>, err: &Error) -> PyResult<(&'static str, Fields<'py>)> {
    let int = |v: u64| v.into_pyobject(py).map(|b| b.into_any());
    let text = |v: &str| v.into_pyobject(py).map(|b| b.into_any());
    Ok(match err {
        Error::Empty => ("Empty", vec![]),
        Error::Full => ("Full", vec![]),
        Error::InvalidArgument(_) => ("InvalidArgument", vec![]),
        Error::NotFound(name) => ("NotFound", vec![("name", text(name)?)]),
        Error::Exists(name) => ("Exists", vec![("name", text(name)?)]),
        Error::MessageTooLarge { len, max } => (
            "MessageTooLarge",
            vec![("len", int(*len)?), ("max", int(*max)?)],
        ),
        Error::BufferTooSmall { needed, cap } => (
            "BufferTooSmall",
            vec![("needed", int(*needed)?), ("cap", int(*cap)?)],
        ),
        Error::Incompatible(e) => {
            let (cause, extra) = match e.cause {
                IncompatibleCause::NotAQueue => ("not_a_queue", None),
                IncompatibleCause::OtherLayout { version } => {
                    ("other_layout", Some(("version", u64::from(version))))
                }
                IncompatibleCause::UnknownFeatures { bits } => {
                    ("unknown_features", Some(("bits", u64::from(bits))))
                }
                IncompatibleCause::MissingFeatures { bits } => {
                    ("missing_features", Some(("bits", u64::from(bits))))
                }
                IncompatibleCause::Empty => ("empty", None),
                IncompatibleCause::Unfinished => ("unfinished", None),
                _ => ("other", None),
            };
            let mut fields = vec![("cause", text(cause)?)];
            if let Some((key, value)) = extra {
                fields.push((key, int(value)?));
            }
            ("Incompatible", fields)
        }
        Error::Corrupted(e) => {
            let cause = match e.cause {
                CorruptionCause::Header => "header",
                CorruptionCause::Truncated => "truncated",
                CorruptionCause::Positions => "positions",
                CorruptionCause::Record => "record",
                CorruptionCause::Leases => "leases",
                _ => "other",
            };
            ("Corrupted", vec![("cause", text(cause)?)])
        }
        Error::PermissionDenied(_) => ("PermissionDenied", vec![]),
        Error::System { call, source } => {
            let errno = source.raw_os_error().unwrap_or(0);
            (
                "SystemCallFailed",
                vec![
                    ("call", text(call)?),
                    ("errno", errno.into_pyobject(py)?.into_any()),
                    ("strerror", text(&source.to_string())?),
                ],
            )
        }
        Error::Internal(_) => ("Internal", vec![]),
        Error::LeaseEnded { token } => ("LeaseEnded", vec![("token", int(*token)?)]),
        Error::Interrupted => ("Interrupted", vec![]),
        // A variant newer than this module: the base class still says it.
        _ => ("Error", vec![]),
    })
}
