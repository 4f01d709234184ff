//! Why a command failed, and the process exit code each cause maps to.
//!
//! The codes from 3 to 12 equal the C API's `wq_status` values, so a script
//! can handle the CLI and a C program alike.

use std::fmt;
use std::io;

/// Every exit code of `wq`, as printed by `wq --help` (and only there).
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
   0  success
   1  nothing happened in time: pop found the queue empty, push found it full
   2  usage error (bad arguments, a malformed escape for push --escaped,
      or `rm --stale` needs --yes off a terminal)
   3  invalid argument (bad queue name, capacity, message size or mode)
   4  no queue of that name; pop --lease: a lease ended before its ack
   5  a queue of that name already exists (create)
   6  message larger than the queue's maximum message size
   7  buffer too small (not expected from this tool)
   8  not a wq queue (a foreign or incompatible segment)
   9  the queue is corrupted
  10  permission denied
  11  an operating-system call failed
  12  internal error in wq (a bug)
  13  reading input or writing output failed (stdin, --file, stdout, /dev/shm)
Codes 3-12 equal the C API's wq_status values.";

/// The one line on exit codes in each subcommand's help.
pub const EXIT_CODES_HINT: &str = "\
Exit codes: 0 success, 1 nothing in time, 2 usage, 3-12 the C API's wq_status, 13 I/O; `wq --help` explains each.";

/// Exit code: success.
pub const OK: u8 = 0;
/// Exit code: pop found nothing / push found no room within the timeout.
pub const TIMEOUT: u8 = 1;
/// Exit code: usage error (clap's own errors use it too).
pub const USAGE: u8 = 2;
/// Exit code: a queue file was not a wq queue (also `rm` refusing one).
pub const INCOMPATIBLE: u8 = 8;
/// Exit code: permission denied (also `rm` refusing an unreadable file).
pub const PERMISSION_DENIED: u8 = 10;
/// Exit code: an I/O error of the tool itself, outside the library.
pub const IO: u8 = 13;

/// The exit code for a library error.
pub fn code_of(error: &wq::Error) -> u8 {
    match error {
        wq::Error::Empty | wq::Error::Full | wq::Error::Interrupted => TIMEOUT,
        wq::Error::InvalidArgument(_) => 3,
        wq::Error::NotFound(_) | wq::Error::LeaseEnded { .. } => 4,
        wq::Error::Exists(_) => 5,
        wq::Error::MessageTooLarge { .. } => 6,
        wq::Error::BufferTooSmall { .. } => 7,
        wq::Error::Incompatible(_) => INCOMPATIBLE,
        wq::Error::Corrupted(_) => 9,
        wq::Error::PermissionDenied(_) => PERMISSION_DENIED,
        wq::Error::System { .. } | wq::Error::NoSpace(_) => 11,
        _ => 12,
    }
}

/// A failed command: what was being done, and why it failed.
#[derive(Debug)]
pub enum Failure {
    /// A queue operation failed.
    Queue {
        /// What was being done, e.g. `pop jobs`.
        context: String,
        /// The library's error.
        error: wq::Error,
    },
    /// Reading input or writing output failed.
    Io {
        /// What was being done, e.g. `reading /tmp/x`.
        context: String,
        /// The OS error.
        error: io::Error,
    },
    /// A refusal or usage problem with its own exit code and message.
    Other {
        /// The exit code.
        code: u8,
        /// The message for stderr.
        message: String,
    },
}

impl Failure {
    /// Wraps a library error with what was being done.
    pub fn queue(context: impl Into<String>, error: wq::Error) -> Failure {
        Failure::Queue {
            context: context.into(),
            error,
        }
    }

    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>, error: io::Error) -> Failure {
        Failure::Io {
            context: context.into(),
            error,
        }
    }

    /// The process exit code for this failure.
    pub fn code(&self) -> u8 {
        match self {
            Failure::Queue { error, .. } => code_of(error),
            Failure::Io { .. } => IO,
            Failure::Other { code, .. } => *code,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Queue { context, error } => write!(f, "{context}: {error}"),
            Failure::Io { context, error } => write!(f, "{context}: {error}"),
            Failure::Other { message, .. } => f.write_str(message),
        }
    }
}

/// Result of a command: `Ok` carries the exit code of a command that may
/// legitimately end with 1 (nothing popped) without an error message.
pub type Outcome = Result<u8, Failure>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_match_the_c_api() {
        let errors = [
            wq::Error::InvalidArgument(String::new()),
            wq::Error::NotFound(String::new()),
            wq::Error::LeaseEnded { token: 1 },
            wq::Error::Exists(String::new()),
            wq::Error::MessageTooLarge { len: 1, max: 0 },
            wq::Error::BufferTooSmall { needed: 1, cap: 0 },
            wq::Error::Incompatible(wq::Incompatible {
                cause: wq::IncompatibleCause::NotAQueue,
                detail: String::new(),
            }),
            wq::Error::Corrupted(wq::Corrupted {
                cause: wq::CorruptionCause::Header,
                detail: String::new(),
            }),
            wq::Error::PermissionDenied(String::new()),
            wq::Error::System {
                call: "x",
                source: io::Error::from_raw_os_error(5),
            },
            wq::Error::Internal(String::new()),
        ];
        use wq::ffi::*;
        let statuses = [
            WQ_INVALID_ARGUMENT,
            WQ_NOT_FOUND,
            WQ_NOT_FOUND,
            WQ_EXISTS,
            WQ_MESSAGE_TOO_LARGE,
            WQ_BUFFER_TOO_SMALL,
            WQ_INCOMPATIBLE,
            WQ_CORRUPTED,
            WQ_PERMISSION_DENIED,
            WQ_SYSTEM_ERROR,
            WQ_INTERNAL,
        ];
        for (e, status) in errors.iter().zip(statuses) {
            assert_eq!(i32::from(code_of(e)), status, "{e:?}");
        }
        assert_eq!(code_of(&wq::Error::Empty), TIMEOUT);
        assert_eq!(code_of(&wq::Error::Full), TIMEOUT);
    }
}
