//! The one error type of the crate.
//!
//! Every failure of the safe API is an [`Error`]; the C boundary maps each
//! variant to exactly one `wq_status` (see [`Error::status_code`]).

use std::io;

/// What went wrong in a queue operation.
///
/// The variants correspond one-to-one to the C API's `wq_status` codes
/// (`WQ_EMPTY` … `WQ_INTERNAL`).
///
/// ```
/// use wq::{Error, OpenMode, Options, Queue};
/// let opts = Options { open_mode: OpenMode::OpenOnly, ..Options::default() };
/// match Queue::open("wq-doc-no-such-queue", &opts) {
///     Err(Error::NotFound(name)) => assert_eq!(name, "/wq-doc-no-such-queue"),
///     other => panic!("{other:?}"),
/// }
/// assert!(matches!(Queue::open("bad/name", &opts), Err(Error::InvalidArgument(_))));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `pop`: no message arrived within the timeout.
    #[error("the queue is empty (no message arrived within the timeout)")]
    Empty,
    /// `push`: no room appeared within the timeout.
    #[error("the queue is full (no room appeared within the timeout)")]
    Full,
    /// A bad name, bad options or a missing argument.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// No queue of that name exists.
    #[error("no queue named {0:?}")]
    NotFound(String),
    /// Creation was requested exclusively but the name is taken.
    #[error("a queue named {0:?} already exists")]
    Exists(String),
    /// The message is longer than the queue's maximum message size.
    #[error("message of {len} bytes exceeds the queue's maximum message size of {max} bytes")]
    MessageTooLarge {
        /// Length of the rejected message.
        len: u64,
        /// The queue's effective maximum message size.
        max: u64,
    },
    /// The caller's buffer cannot hold the next message; it stays queued.
    #[error("buffer of {cap} bytes is too small for the next message of {needed} bytes")]
    BufferTooSmall {
        /// Size of the next message.
        needed: u64,
        /// Capacity of the buffer that was offered.
        cap: u64,
    },
    /// The name holds something that is not a wq queue of this layout.
    #[error("not a compatible wq queue: {0}")]
    Incompatible(String),
    /// Shared state failed validation.
    #[error("queue state is corrupted: {0}")]
    Corrupted(String),
    /// The operating system refused access.
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// An operating-system call failed.
    #[error("{call} failed: {source}")]
    System {
        /// The call that failed, e.g. `"ftruncate"`.
        call: &'static str,
        /// The OS error, carrying its errno.
        #[source]
        source: io::Error,
    },
    /// A bug in wq (for example a caught panic); never expected.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The OS error number behind a [`Error::System`] failure, if any.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::System { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    /// Classifies a failed OS call: `EACCES`/`EPERM` become
    /// [`Error::PermissionDenied`], anything else [`Error::System`].
    pub(crate) fn os(call: &'static str, source: io::Error) -> Error {
        match source.raw_os_error() {
            Some(libc::EACCES) | Some(libc::EPERM) => {
                Error::PermissionDenied(format!("{call}: {source}"))
            }
            _ => Error::System { call, source },
        }
    }
}

/// Shorthand for results of wq operations.
pub type Result<T> = std::result::Result<T, Error>;
