//! The one error type of the crate, its typed causes, and error text that
//! is built without aborting when the heap is exhausted.
//!
//! Every failure of the safe API is an [`Error`]; the C boundary maps each
//! variant to exactly one `wq_status`.

use std::fmt;
use std::io;

/// What went wrong in a queue operation.
///
/// Each variant maps to one of the C API's `wq_status` codes (`WQ_EMPTY` …
/// `WQ_INTERRUPTED`), most one-to-one; [`Error::LeaseEnded`] is
/// `WQ_NOT_FOUND`, and [`Error::WrongSize`], which only the Rust
/// [`TypedQueue`](crate::TypedQueue) makes, `WQ_INVALID_ARGUMENT`.
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
    Incompatible(Incompatible),
    /// Shared state failed validation.
    #[error("queue state is corrupted: {0}")]
    Corrupted(Corrupted),
    /// The operating system refused access, or the queue belongs to
    /// another user (see [`Options::allow_other_owner`](crate::Options::allow_other_owner)).
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// An operating-system call failed.
    #[error("{call} failed: {}", OsText(.source))]
    System {
        /// The call that failed, e.g. `"ftruncate"`.
        call: &'static str,
        /// The OS error, carrying its errno.
        #[source]
        source: io::Error,
    },
    /// The queue's memory could not be reserved: the shared-memory
    /// filesystem is too full (`ENOSPC`, e.g. a second 32 MiB queue in
    /// Docker's default 64 MiB `/dev/shm`). In C `WQ_SYSTEM_ERROR` with
    /// `errno` `ENOSPC`, as [`Error::raw_os_error`] says; no queue is left
    /// behind by a creation that fails so.
    #[error("no space left in {dir}: {0}", dir = crate::sys::SHM_DIR)]
    NoSpace(NoSpace),
    /// A bug in wq (for example a caught panic); never expected.
    #[error("internal error: {0}")]
    Internal(String),
    /// `ack`, `nack`, `extend`: the lease has already ended (acked,
    /// nacked, timed out, abandoned) or was never issued.
    #[error("no live lease with token {token:#x} (it ended, or was never issued)")]
    LeaseEnded {
        /// The token that was presented.
        token: u64,
    },
    /// A call that would have waited was ended by
    /// [`Queue::interrupt`](crate::Queue::interrupt).
    #[error("interrupted: the queue handle was interrupted (Queue::interrupt / wq_interrupt)")]
    Interrupted,
    /// A [`TypedQueue`](crate::TypedQueue) popped a message whose length is
    /// not the size of its type. The message was taken off the queue (a
    /// leased one acked), so it cannot block the messages behind it; here
    /// are its bytes.
    #[error("a message of {} bytes where the typed queue's messages have {expected}; it was taken off the queue", .message.len())]
    WrongSize {
        /// The size of the queue's message type.
        expected: u64,
        /// The message, as it was queued.
        message: Vec<u8>,
    },
}

/// Why a name does not hold a usable queue ([`Error::Incompatible`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IncompatibleCause {
    /// The file holds something else (wrong magic, too short, a directory).
    NotAQueue,
    /// A wq queue of another layout version.
    OtherLayout {
        /// The layout version found.
        version: u32,
    },
    /// A wq queue of this layout that needs features this library lacks.
    UnknownFeatures {
        /// The feature bits this library does not know.
        bits: u32,
    },
    /// A wq queue of this layout made without features this library needs
    /// (an early layout-2 build, before leases).
    MissingFeatures {
        /// The feature bits the queue lacks.
        bits: u32,
    },
    /// An empty or zero-filled file: a creator that died before it wrote
    /// anything, or something that is no wq queue at all.
    Empty,
    /// A wq queue whose creator never finished initialising it (it died,
    /// or is stuck): it can never work, and removing it is safe.
    Unfinished,
}

/// Why shared state failed validation ([`Error::Corrupted`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CorruptionCause {
    /// The header's identity or geometry fails its checksum or is impossible.
    Header,
    /// The file is not as long as the header says, or was truncated under
    /// an open handle.
    Truncated,
    /// The published ring positions are impossible.
    Positions,
    /// A record header in the ring is inconsistent.
    Record,
    /// An entry of the lease table is impossible.
    Leases,
}

/// How much room a queue needed and found ([`Error::NoSpace`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoSpace {
    /// The segment's size in bytes.
    pub needed: u64,
    /// Bytes the filesystem had for it when that failed: what was free,
    /// plus what the segment's file held already.
    pub free: u64,
    /// The filesystem's size in bytes (0 when it reports none).
    pub size: u64,
}

impl fmt::Display for NoSpace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = crate::sys::SHM_DIR;
        write!(
            f,
            "the queue needs {} and {dir} has {} free",
            Bytes(self.needed),
            Bytes(self.free)
        )?;
        if self.size > 0 {
            write!(f, " of {}", Bytes(self.size))?;
        }
        write!(
            f,
            "; remove queues no longer used, choose a smaller capacity or enlarge {dir} (Docker: --shm-size)"
        )
    }
}

/// A byte count for people, exact too: `32.0 MiB (33554432 bytes)`.
struct Bytes(u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (scale, unit) = match self.0 {
            0..1024 => return write!(f, "{} bytes", self.0),
            1024..0x10_0000 => (1024.0, "KiB"),
            0x10_0000..0x4000_0000 => (1048576.0, "MiB"),
            _ => (1073741824.0, "GiB"),
        };
        write!(f, "{:.1} {unit} ({} bytes)", self.0 as f64 / scale, self.0)
    }
}

/// [`Error::detail`].
struct Detail<'a>(&'a Error);

impl fmt::Display for Detail<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Error::InvalidArgument(detail)
            | Error::PermissionDenied(detail)
            | Error::Internal(detail) => f.write_str(detail),
            Error::Incompatible(e) => f.write_str(&e.detail),
            Error::Corrupted(e) => f.write_str(&e.detail),
            other => write!(f, "{other}"),
        }
    }
}

/// The detail of an [`Error::Incompatible`]: a typed cause and a text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incompatible {
    /// What kind of incompatibility.
    pub cause: IncompatibleCause,
    /// A human-readable description.
    pub detail: String,
}

/// The detail of an [`Error::Corrupted`]: a typed cause and a text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Corrupted {
    /// What failed validation.
    pub cause: CorruptionCause,
    /// A human-readable description.
    pub detail: String,
}

impl fmt::Display for Incompatible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

impl fmt::Display for Corrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

impl Error {
    /// The error's detail without the words that name its kind (which a
    /// status text already says): what `wq_last_error()` returns, so that
    /// `"<call>: <wq_status_str>: <wq_last_error>"` says each thing once.
    pub fn detail(&self) -> impl fmt::Display + '_ {
        Detail(self)
    }

    /// The OS error number behind a [`Error::System`] failure (`ENOSPC`
    /// for [`Error::NoSpace`]), if any.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::System { source, .. } => source.raw_os_error(),
            Error::NoSpace(_) => Some(libc::ENOSPC),
            _ => None,
        }
    }

    /// Classifies a failed OS call: `EACCES`/`EPERM` become
    /// [`Error::PermissionDenied`], anything else [`Error::System`].
    pub(crate) fn os(call: &'static str, source: io::Error) -> Error {
        match source.raw_os_error() {
            Some(libc::EACCES) | Some(libc::EPERM) => {
                Error::PermissionDenied(text(format_args!("{call}: {}", OsText(&source))))
            }
            _ => Error::System { call, source },
        }
    }

    /// An [`Error::System`] from an errno value.
    pub(crate) fn errno(call: &'static str, errno: i32) -> Error {
        Error::System {
            call,
            source: io::Error::from_raw_os_error(errno),
        }
    }

    pub(crate) fn incompatible(cause: IncompatibleCause, detail: fmt::Arguments<'_>) -> Error {
        Error::Incompatible(Incompatible {
            cause,
            detail: text(detail),
        })
    }

    pub(crate) fn corrupted(cause: CorruptionCause, detail: fmt::Arguments<'_>) -> Error {
        Error::Corrupted(Corrupted {
            cause,
            detail: text(detail),
        })
    }

    pub(crate) fn invalid(detail: fmt::Arguments<'_>) -> Error {
        Error::InvalidArgument(text(detail))
    }
}

/// An OS error as text, formatted without the heap (the standard library's
/// `Display` of an OS error allocates, which turns heap exhaustion into an
/// abort on the error path).
struct OsText<'a>(&'a io::Error);

impl fmt::Display for OsText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.raw_os_error() {
            Some(errno) => match crate::sys::errno_description(errno) {
                Some(text) => write!(f, "{text} (os error {errno})"),
                None => write!(f, "os error {errno}"),
            },
            None => write!(f, "{}", self.0),
        }
    }
}

/// Shorthand for results of wq operations.
pub type Result<T> = std::result::Result<T, Error>;

/// Formats `args` into a new `String` without aborting when memory runs
/// out: the text is cut short instead (error paths must not turn heap
/// exhaustion into an abort).
pub(crate) fn text(args: fmt::Arguments<'_>) -> String {
    struct Fallible(String);
    impl fmt::Write for Fallible {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0.try_reserve(s.len()).map_err(|_| fmt::Error)?;
            self.0.push_str(s);
            Ok(())
        }
    }
    let mut out = Fallible(String::new());
    let _ = fmt::write(&mut out, args);
    out.0
}

/// A fixed buffer that `fmt::Write` fills, cutting the text short when it
/// is full: text built without the heap (paths, `wq_last_error`).
pub(crate) struct FixedText<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> FixedText<N> {
    /// An empty text.
    pub const fn new() -> FixedText<N> {
        FixedText {
            buf: [0; N],
            len: 0,
        }
    }

    /// Replaces the text by `args`, cut at a character boundary to leave
    /// room for a terminating NUL.
    pub fn set(&mut self, args: fmt::Arguments<'_>) {
        self.len = 0;
        let _ = fmt::write(self, args);
        self.buf[self.len] = 0;
    }

    /// The text with its terminating NUL.
    pub fn as_bytes_with_nul(&self) -> &[u8] {
        &self.buf[..=self.len]
    }
}

impl<const N: usize> fmt::Write for FixedText<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = N - 1 - self.len;
        let mut take = s.len().min(room);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        self.buf[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        if take < s.len() {
            Err(fmt::Error)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_text_cuts_at_a_character_boundary_and_ends_with_nul() {
        let mut t = FixedText::<8>::new();
        t.set(format_args!("ab{}", "ééé"));
        assert_eq!(t.as_bytes_with_nul(), "abéé\0".as_bytes() as &[u8]);
        t.set(format_args!("x"));
        assert_eq!(t.as_bytes_with_nul(), b"x\0");
    }

    #[test]
    fn text_formats() {
        assert_eq!(text(format_args!("{}-{}", 1, "a")), "1-a");
    }
}
