//! How to open a queue: [`Options`], [`OpenMode`] and the defaults.

/// Default capacity of a created queue: 32 MiB of message storage.
pub const DEFAULT_CAPACITY: u64 = 32 << 20;
/// Default permission bits of a created queue: owner read/write only.
pub const DEFAULT_MODE: u32 = 0o600;
/// Whether [`Queue::open`](crate::Queue::open) may create the queue, or must.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OpenMode {
    /// Open the queue, creating it if it does not exist.
    #[default]
    OpenOrCreate,
    /// Create the queue; [`Error::Exists`](crate::Error::Exists) if the name is taken.
    CreateOnly,
    /// Open an existing queue; [`Error::NotFound`](crate::Error::NotFound) if there is none.
    OpenOnly,
}

/// How to open or create a queue. The geometry only applies to creation:
/// opening an existing queue keeps its stored geometry.
///
/// ```
/// use wq::{OpenMode, Options};
/// let opts = Options { capacity: 4 << 20, mode: 0o660, open_mode: OpenMode::CreateOnly, ..Options::default() };
/// assert_eq!(opts.max_message_size, 0); // the largest that fits
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Bytes of message storage (rounded up to a multiple of 8). Each message
    /// occupies its length rounded up to 8, plus an 8-byte header.
    pub capacity: u64,
    /// Largest message; 0 = the largest that fits in an empty queue.
    pub max_message_size: u64,
    /// Permission bits of a created segment, applied exactly (no umask).
    pub mode: u32,
    /// Whether to open, create, or either.
    pub open_mode: OpenMode,
    /// Open an existing queue even when its file belongs to another user
    /// than this process's effective uid or root (`WQ_ALLOW_OTHER_OWNER`).
    /// Off by default: another user can create a name in the
    /// world-writable `/dev/shm` first, and would then read the tasks this
    /// process pushes and inject its own. Turn it on for queues shared by
    /// services of different users (mode 0660 and a common group).
    pub allow_other_owner: bool,
}

impl Default for Options {
    /// 32 MiB, the largest message that fits, mode 0600, open or create,
    /// only queues of this user (or root).
    fn default() -> Options {
        Options {
            capacity: DEFAULT_CAPACITY,
            max_message_size: 0,
            mode: DEFAULT_MODE,
            open_mode: OpenMode::OpenOrCreate,
            allow_other_owner: false,
        }
    }
}
