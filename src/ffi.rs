//! The C boundary: the functions, types and constants of `include/wq.h`.
//!
//! This layer converts arguments, calls the safe API ([`Queue`]) and
//! maps [`Error`] to `wq_status` in one place (`status_of`). It holds no
//! queue logic. Every export runs its body through `guard`, which catches
//! panics (returning `WQ_INTERNAL`) and records the failure text that
//! `wq_last_error()` returns.
//!
//! No wq call is a cancellation point: thread cancellation is disabled
//! inside the calls that make system calls glibc could cancel (opening,
//! closing, removing), and the others make none.
#![allow(non_camel_case_types)]

use std::cell::RefCell;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::os::fd::AsRawFd;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use crate::error::{Error, FixedText};
use crate::{OpenMode, Options, Queue, Span, Stats};

mod leases;
mod zerocopy;

pub use leases::{
    WQ_LEASE_LIMIT, wq_ack, wq_lease, wq_lease_extend, wq_lease_stats, wq_lease_stats_get, wq_nack,
    wq_pop_leased,
};
pub use zerocopy::{wq_pop_leased_view, wq_push_cancel, wq_push_commit, wq_push_reserve};

/// Result code of every fallible wq call. `WQ_OK` (0) is success.
///
/// It is a fixed-width integer, not a C enum, so that any value can cross the
/// boundary safely; the named `WQ_*` constants below are its values.
pub type wq_status = i32;

/// Success.
pub const WQ_OK: wq_status = 0;
/// `wq_pop`: nothing arrived within the timeout (0 = don't wait).
pub const WQ_EMPTY: wq_status = 1;
/// `wq_push`: no room appeared within the timeout.
pub const WQ_FULL: wq_status = 2;
/// NULL where not allowed, bad name, bad options.
pub const WQ_INVALID_ARGUMENT: wq_status = 3;
/// `WQ_OPEN_ONLY` / `wq_remove`: no queue of that name; `wq_ack` /
/// `wq_nack` / `wq_lease_extend`: no live lease with that token.
pub const WQ_NOT_FOUND: wq_status = 4;
/// `WQ_CREATE_ONLY`: the name is taken.
pub const WQ_EXISTS: wq_status = 5;
/// `wq_push`: len > the queue's max message size.
pub const WQ_MESSAGE_TOO_LARGE: wq_status = 6;
/// `wq_pop`: cap < next message; `*out_len` = its size; it stays queued.
pub const WQ_BUFFER_TOO_SMALL: wq_status = 7;
/// The name holds something that is not a wq queue of this layout.
pub const WQ_INCOMPATIBLE: wq_status = 8;
/// Shared state failed validation.
pub const WQ_CORRUPTED: wq_status = 9;
/// The operating system refused access.
pub const WQ_PERMISSION_DENIED: wq_status = 10;
/// An OS call failed; errno and `wq_last_error()` say which.
pub const WQ_SYSTEM_ERROR: wq_status = 11;
/// A bug (e.g. a caught Rust panic); never expected.
pub const WQ_INTERNAL: wq_status = 12;
/// A call that would have waited was ended by `wq_interrupt`.
pub const WQ_INTERRUPTED: wq_status = 13;

/// `wq_options.flags`: open the queue, creating it if it does not exist (default).
pub const WQ_OPEN_OR_CREATE: u32 = 0;
/// `wq_options.flags`: create the queue; `WQ_EXISTS` if the name is taken.
pub const WQ_CREATE_ONLY: u32 = 1;
/// `wq_options.flags`: open an existing queue; `WQ_NOT_FOUND` if there is none.
pub const WQ_OPEN_ONLY: u32 = 2;
/// `wq_options.flags` bit (ORed with the open mode): open an existing queue
/// even when its file belongs to a uid other than the caller's effective uid
/// or root. Without it such a queue is `WQ_PERMISSION_DENIED`, and
/// `wq_last_error()` names the owner: another user may have created the name
/// first to read the caller's tasks and inject its own.
pub const WQ_ALLOW_OTHER_OWNER: u32 = 0x100;
/// The bits of `wq_options.flags` that hold the open mode.
const OPEN_MODE_MASK: u32 = 0xff;

/// `timeout_ns`: return at once. The queue's lock is still waited for, but at
/// most 250 ms (a peer holds it only for the length of one copy).
/// Waits end early with `WQ_INTERRUPTED` once `wq_interrupt` was called.
pub const WQ_NO_WAIT: i64 = 0;
/// `timeout_ns`: wait without limit (any negative value does); `(-1)` in C.
pub const WQ_FOREVER: i64 = -1;

/// Default `wq_options.capacity`: 32 MiB of message storage.
pub const WQ_DEFAULT_CAPACITY: u64 = 33_554_432;
/// Default `wq_options.mode`: owner read/write only.
pub const WQ_DEFAULT_MODE: u32 = 0o600;

/// An open queue: the opaque handle returned by `wq_open`.
///
/// One handle may be used by many threads at once, and a child of `fork()`
/// may go on using its parent's handle. Release it with `wq_close`.
pub struct wq_queue(Queue);

/// How `wq_open` opens or creates a queue. Fill it with `wq_options_default`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct wq_options {
    /// Bytes of message storage; default 32 MiB (33554432). Rounded up to a
    /// multiple of 8. Each message takes its length rounded up to 8, plus 8.
    pub capacity: u64,
    /// 0 = the largest message that fits in an empty queue (`capacity - 8`).
    pub max_message_size: u64,
    /// Permission bits of a created segment; default 0600. Applied exactly
    /// (not reduced by the umask).
    pub mode: u32,
    /// `WQ_OPEN_OR_CREATE` (default), `WQ_CREATE_ONLY` or `WQ_OPEN_ONLY`.
    pub flags: u32,
}

/// A snapshot of a queue's counters, filled by `wq_stats_get`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct wq_stats {
    /// Messages queued now.
    pub len: u64,
    /// Bytes of `capacity` in use now (record headers and padding included); 0 when empty.
    pub bytes_used: u64,
    /// Bytes of message storage.
    pub capacity: u64,
    /// Effective maximum message size.
    pub max_message_size: u64,
    /// Messages pushed since creation.
    pub pushed_total: u64,
    /// Messages popped since creation.
    pub popped_total: u64,
    /// Times a dead lock owner was detected and recovered.
    pub recoveries: u64,
}

/// One message to push with `wq_push_batch`: `len` bytes at `data`
/// (`data` may be NULL when `len` is 0).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct wq_iovec {
    /// First byte of the message.
    pub data: *const c_void,
    /// Length of the message in bytes.
    pub len: usize,
}

/// Where `wq_pop_batch` put one message: `len` bytes at `buf + offset`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct wq_span {
    /// Offset of the message's first byte in the caller's buffer.
    pub offset: usize,
    /// Length of the message in bytes.
    pub len: usize,
}

const _: () = {
    assert!(std::mem::size_of::<wq_span>() == std::mem::size_of::<Span>());
    assert!(std::mem::align_of::<wq_span>() == std::mem::align_of::<Span>());
    assert!(std::mem::offset_of!(wq_span, offset) == std::mem::offset_of!(Span, offset));
    assert!(std::mem::offset_of!(wq_span, len) == std::mem::offset_of!(Span, len));
};

/// Room for the detail of one failure (longer texts are cut short).
const DETAIL_BYTES: usize = 1024;

/// Detail of the calling thread's last failed call, kept without the heap
/// so that reporting a failure never fails for lack of memory.
struct LastError {
    /// A static text, or `None` when `text` holds the detail.
    fixed: Option<&'static CStr>,
    text: FixedText<DETAIL_BYTES>,
}

thread_local! {
    static LAST_ERROR: RefCell<LastError> = const {
        RefCell::new(LastError {
            fixed: Some(c""),
            text: FixedText::new(),
        })
    };
}

/// The one mapping from [`Error`] to `wq_status`.
fn status_of(err: &Error) -> wq_status {
    match err {
        Error::Empty => WQ_EMPTY,
        Error::Full => WQ_FULL,
        Error::InvalidArgument(_) => WQ_INVALID_ARGUMENT,
        Error::NotFound(_) | Error::LeaseEnded { .. } => WQ_NOT_FOUND,
        Error::Exists(_) => WQ_EXISTS,
        Error::MessageTooLarge { .. } => WQ_MESSAGE_TOO_LARGE,
        Error::BufferTooSmall { .. } => WQ_BUFFER_TOO_SMALL,
        Error::Incompatible(_) => WQ_INCOMPATIBLE,
        Error::Corrupted(_) => WQ_CORRUPTED,
        Error::PermissionDenied(_) => WQ_PERMISSION_DENIED,
        Error::System { .. } | Error::NoSpace(_) => WQ_SYSTEM_ERROR,
        Error::Internal(_) => WQ_INTERNAL,
        Error::Interrupted => WQ_INTERRUPTED,
        // Only typed queues (Rust) make it; a C pop takes any length.
        Error::WrongSize { .. } => WQ_INVALID_ARGUMENT,
    }
}

/// Records `err` as this thread's last error (and errno for OS failures).
fn record(err: &Error) {
    let fixed = match err {
        // The hot "nothing to do" outcomes of polling loops format nothing.
        Error::Empty => Some(c"the queue is empty (no message arrived within the timeout)"),
        Error::Full => Some(c"the queue is full (no room appeared within the timeout)"),
        _ => None,
    };
    if let Some(errno) = err.raw_os_error() {
        crate::sys::set_errno(errno);
    }
    // During thread or process teardown (an atexit handler) the slot may be
    // gone already: the status alone must do then.
    let _ = LAST_ERROR.try_with(|slot| {
        let mut slot = slot.borrow_mut();
        slot.fixed = fixed;
        if fixed.is_none() {
            slot.text.set(format_args!("{}", err.detail()));
        }
    });
}

/// Runs one export's body: catches panics and maps the outcome to `wq_status`.
fn guard(body: impl FnOnce() -> Result<(), Error>) -> wq_status {
    let outcome = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        Err(Error::Internal(format!("panic: {what}")))
    });
    match outcome {
        Ok(()) => WQ_OK,
        Err(err) => {
            record(&err);
            status_of(&err)
        }
    }
}

/// Writes a pop's `*out_len`: the message's length on success, the size
/// it needs with `WQ_BUFFER_TOO_SMALL`; nothing otherwise.
///
/// # Safety
/// `out_len` must be writable.
unsafe fn write_len(out_len: *mut usize, result: Result<usize, &Error>) {
    let written = match result {
        Ok(n) => Some(n),
        Err(Error::BufferTooSmall { needed, .. }) => usize::try_from(*needed).ok(),
        Err(_) => None,
    };
    if let Some(n) = written {
        // SAFETY: writable by the caller's contract.
        unsafe { *out_len = n };
    }
}

fn invalid(what: &str) -> Error {
    Error::invalid(format_args!("{what}"))
}

/// Converts a C timeout or lease duration (negative = forever) to the Rust
/// API's.
fn timeout_from_ns(timeout_ns: i64) -> Option<Duration> {
    u64::try_from(timeout_ns).ok().map(Duration::from_nanos)
}

/// Reads a NUL-terminated queue name.
///
/// # Safety
/// `name` must be NULL or point to a NUL-terminated string.
unsafe fn name_arg<'a>(name: *const c_char) -> Result<&'a str, Error> {
    if name.is_null() {
        return Err(invalid("name is NULL"));
    }
    // SAFETY: the caller guarantees a non-NULL `name` is NUL-terminated.
    let name = unsafe { CStr::from_ptr(name) };
    name.to_str()
        .map_err(|_| invalid("name is not valid UTF-8"))
}

/// Borrows the queue behind a handle.
///
/// # Safety
/// `q` must be NULL or a handle from `wq_open` not yet closed.
unsafe fn queue_arg<'a>(q: *mut wq_queue) -> Result<&'a Queue, Error> {
    // SAFETY: the caller guarantees a non-NULL `q` is a live handle.
    unsafe { q.as_ref() }
        .map(|q| &q.0)
        .ok_or_else(|| invalid("queue handle is NULL"))
}

/// Views `len` bytes at `data` (NULL allowed when `len` is 0).
///
/// # Safety
/// A non-NULL `data` must be valid for reads of `len` bytes for `'a`.
unsafe fn bytes_arg<'a>(data: *const c_void, len: usize, what: &str) -> Result<&'a [u8], Error> {
    if len == 0 {
        return Ok(&[]);
    }
    if data.is_null() {
        return Err(Error::invalid(format_args!(
            "{what} is NULL but its length is {len}"
        )));
    }
    // SAFETY: non-NULL and, by the caller's contract, valid for `len` bytes.
    Ok(unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) })
}

/// Views `cap` writable bytes at `buf` (NULL allowed when `cap` is 0).
///
/// # Safety
/// A non-NULL `buf` must be valid for writes of `cap` bytes for `'a`.
unsafe fn buf_arg<'a>(buf: *mut c_void, cap: usize) -> Result<&'a mut [u8], Error> {
    if cap == 0 {
        return Ok(&mut []);
    }
    if buf.is_null() {
        return Err(invalid("buf is NULL but cap is not 0"));
    }
    // SAFETY: non-NULL and, by the caller's contract, valid for `cap` writable bytes.
    Ok(unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>(), cap) })
}

fn options_from_c(o: &wq_options) -> Result<Options, Error> {
    let unknown = o.flags & !(OPEN_MODE_MASK | WQ_ALLOW_OTHER_OWNER);
    let open_mode = match o.flags & OPEN_MODE_MASK {
        _ if unknown != 0 => None,
        WQ_OPEN_OR_CREATE => Some(OpenMode::OpenOrCreate),
        WQ_CREATE_ONLY => Some(OpenMode::CreateOnly),
        WQ_OPEN_ONLY => Some(OpenMode::OpenOnly),
        _ => None,
    };
    let Some(open_mode) = open_mode else {
        return Err(Error::invalid(format_args!(
            "unknown flags value {:#x} (an open mode 0..=2, optionally ORed with WQ_ALLOW_OTHER_OWNER)",
            o.flags
        )));
    };
    Ok(Options {
        capacity: o.capacity,
        max_message_size: o.max_message_size,
        mode: o.mode,
        open_mode,
        allow_other_owner: o.flags & WQ_ALLOW_OTHER_OWNER != 0,
    })
}

fn stats_to_c(s: Stats) -> wq_stats {
    wq_stats {
        len: s.len,
        bytes_used: s.bytes_used,
        capacity: s.capacity,
        max_message_size: s.max_message_size,
        pushed_total: s.pushed_total,
        popped_total: s.popped_total,
        recoveries: s.recoveries,
    }
}

/// Heap memory for one C handle, allocated before the queue is opened (a
/// failed allocation is `ENOMEM`, not an abort); freed if never filled.
struct HandleMemory(*mut wq_queue);

impl HandleMemory {
    fn new() -> Result<HandleMemory, Error> {
        // SAFETY: `wq_queue` is not zero-sized.
        let raw = unsafe { std::alloc::alloc(std::alloc::Layout::new::<wq_queue>()) };
        if raw.is_null() {
            return Err(Error::errno("allocating a queue handle", libc::ENOMEM));
        }
        Ok(HandleMemory(raw.cast()))
    }

    /// Moves `queue` in; the pointer is later freed by `Box::from_raw` in
    /// `wq_close`, with the same layout.
    fn fill(self, queue: Queue) -> *mut wq_queue {
        let raw = self.0;
        std::mem::forget(self);
        // SAFETY: `raw` is valid for writing one `wq_queue`.
        unsafe { raw.write(wq_queue(queue)) };
        raw
    }
}

impl Drop for HandleMemory {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout and never filled.
        unsafe { std::alloc::dealloc(self.0.cast(), std::alloc::Layout::new::<wq_queue>()) };
    }
}

/// A `wq_iovec` from a `wq_push_batch` caller, viewed as bytes in place (no
/// copy of the array). Only made from elements whose `data` is non-NULL or
/// whose `len` is 0, and whose bytes the caller guarantees readable for the
/// duration of the call.
#[repr(transparent)]
struct Message(wq_iovec);

impl AsRef<[u8]> for Message {
    fn as_ref(&self) -> &[u8] {
        if self.0.len == 0 {
            return &[];
        }
        // SAFETY: non-NULL with this length (checked before the wrapper is
        // made), readable for the call by the caller's contract.
        unsafe { std::slice::from_raw_parts(self.0.data.cast::<u8>(), self.0.len) }
    }
}

/// Fills `*out` with the default options: 32 MiB capacity, the largest
/// message size that fits, mode 0600, `WQ_OPEN_OR_CREATE`. NULL is a no-op.
///
/// # Safety
/// `out` must be NULL or valid for writing one `wq_options`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wq_options_default(out: *mut wq_options) {
    let _ = catch_unwind(|| {
        let d = Options::default();
        let value = wq_options {
            capacity: d.capacity,
            max_message_size: d.max_message_size,
            mode: d.mode,
            flags: WQ_OPEN_OR_CREATE,
        };
        // SAFETY: the caller guarantees a non-NULL `out` is writable.
        if let Some(out) = unsafe { out.as_mut() } {
            *out = value;
        }
    });
}

/// Opens the queue `name` ("q" and "/q" are the same; 1 to 250 characters of
/// `A-Z a-z 0-9 . _ -` after the slash, not "." or ".."), creating it as
/// `options` say (NULL = defaults). On success `*out` receives the handle.
///
/// Any number of processes may open or create one fresh name at once: all
/// share one queue, and only one of them reserves its memory. Opening an
/// existing queue keeps its stored geometry. A queue whose creator is still
/// initialising it is waited for (at most 10 s); one whose creator died
/// after writing its geometry is finished by the opener; a file that is
/// empty or whose creator died before that is `WQ_INCOMPATIBLE` after at
/// most 100 ms (`wq_remove` clears it). An existing file whose memory is
/// not fully reserved (sparse) is reserved now, so a full `/dev/shm` is an
/// error here, never a SIGBUS later.
///
/// An existing queue whose file belongs to a uid other than the caller's
/// effective uid or root is refused with `WQ_PERMISSION_DENIED` (the detail
/// names the owner) unless `options->flags` has `WQ_ALLOW_OTHER_OWNER`.
///
/// Each handle holds two descriptors of the segment file (`O_CLOEXEC`):
/// one it mapped and one whose kernel lock tells other processes it is
/// alive. Like every wq call, `wq_open` is not a cancellation point.
///
/// # Errors
/// `WQ_INVALID_ARGUMENT` (NULL `name`/`out`, bad name, options or flag
/// bits), `WQ_NOT_FOUND` (`WQ_OPEN_ONLY`), `WQ_EXISTS` (`WQ_CREATE_ONLY`),
/// `WQ_INCOMPATIBLE` (not a wq queue of this layout, or never finished
/// initialising), `WQ_CORRUPTED`, `WQ_PERMISSION_DENIED` (no access, or
/// another user's queue), `WQ_SYSTEM_ERROR` (e.g. `/dev/shm` full: memory
/// is reserved at creation and at open; `RLIMIT_FSIZE` below the segment
/// size: `EFBIG`; out of memory: `ENOMEM`).
///
/// # Safety
/// `name` must be NULL or NUL-terminated; `options` NULL or valid; `out` NULL
/// or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wq_open(
    name: *const c_char,
    options: *const wq_options,
    out: *mut *mut wq_queue,
) -> wq_status {
    guard(|| {
        if out.is_null() {
            return Err(invalid("out is NULL"));
        }
        // SAFETY: the caller guarantees `name` is NULL or NUL-terminated.
        let name = unsafe { name_arg(name) }?;
        // SAFETY: the caller guarantees a non-NULL `options` is valid.
        let options = match unsafe { options.as_ref() } {
            Some(o) => options_from_c(o)?,
            None => Options::default(),
        };
        // The handle's memory first: once a queue is created, nothing may fail.
        let handle = HandleMemory::new()?;
        let handle = handle.fill(Queue::open(name, &options)?);
        // SAFETY: `out` is non-NULL (checked above) and writable by contract.
        unsafe { *out = handle };
        Ok(())
    })
}

/// Appends one message of `len` bytes (copied) at the tail of the queue,
/// waiting up to `timeout_ns` nanoseconds for room (`WQ_NO_WAIT`: don't wait;
/// negative: for ever).
///
/// # Errors
/// `WQ_FULL` (no room within the timeout, or the lock could not be had within
/// it), `WQ_MESSAGE_TOO_LARGE`, `WQ_INVALID_ARGUMENT` (NULL `q`, or NULL
/// `data` with `len` > 0), `WQ_CORRUPTED` (also for a segment truncated
/// under the handle), `WQ_INTERRUPTED` (it would have had to wait).
///
/// # Safety
/// `q` must be a live handle or NULL; a non-NULL `data` must be readable for
/// `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wq_push(
    q: *mut wq_queue,
    data: *const c_void,
    len: usize,
    timeout_ns: i64,
) -> wq_status {
    guard(|| {
        // SAFETY: the caller guarantees `q` is NULL or live.
        let queue = unsafe { queue_arg(q) }?;
        // SAFETY: the caller guarantees `data` is readable for `len` bytes.
        let msg = unsafe { bytes_arg(data, len, "data") }?;
        queue.push(msg, timeout_from_ns(timeout_ns))
    })
}

/// Takes the message at the head of the queue into `buf` (capacity `cap`),
/// waiting up to `timeout_ns` for one to arrive. On success `*out_len` is its
/// length. `buf` may be NULL when `cap` is 0, to learn the next message's
/// size: a message longer than `cap` is `WQ_BUFFER_TOO_SMALL` and stays
/// queued, so a zero-length message, which fits, is popped (`WQ_OK`,
/// `*out_len` 0).
///
/// # Errors
/// `WQ_EMPTY` (nothing within the timeout), `WQ_BUFFER_TOO_SMALL` (`*out_len`
/// receives the message's size; it stays queued), `WQ_INVALID_ARGUMENT`,
/// `WQ_CORRUPTED`, `WQ_INTERRUPTED` (it would have had to wait).
///
/// # Safety
/// `q` must be a live handle or NULL; a non-NULL `buf` must be writable for
/// `cap` bytes; `out_len` must be NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wq_pop(
    q: *mut wq_queue,
    buf: *mut c_void,
    cap: usize,
    out_len: *mut usize,
    timeout_ns: i64,
) -> wq_status {
    guard(|| {
        // SAFETY: the caller guarantees `q` is NULL or live.
        let queue = unsafe { queue_arg(q) }?;
        if out_len.is_null() {
            return Err(invalid("out_len is NULL"));
        }
        // SAFETY: the caller guarantees `buf` is writable for `cap` bytes.
        let buf = unsafe { buf_arg(buf, cap) }?;
        let result = queue.pop_into(buf, timeout_from_ns(timeout_ns));
        // SAFETY: `out_len` is non-NULL (checked above) and writable by contract.
        unsafe { write_len(out_len, result.as_ref().copied()) };
        result.map(drop)
    })
}

/// Appends a prefix of `count` messages under one lock acquisition and one
/// wake-up. Waits up to `timeout_ns` for room for the first message, then
/// pushes, in order and with no other producer's message between them, as
/// many as fit at that moment (stopping before a message larger than the
/// queue's limit). `*out_pushed` receives how many were pushed.
/// `count` = 0 succeeds with `*out_pushed` = 0.
///
/// # Errors
/// `WQ_FULL` (not even the first fits within the timeout), `WQ_MESSAGE_TOO_LARGE`
/// (the first is larger than the limit), `WQ_INVALID_ARGUMENT`, `WQ_CORRUPTED`,
/// `WQ_INTERRUPTED`.
/// Nothing is pushed on any error, and `*out_pushed` is then not written (as
/// no output parameter is on failure).
///
/// # Safety
/// `q` live or NULL; `msgs` NULL (only with `count` 0) or valid for `count`
/// elements, each readable as it describes; `out_pushed` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wq_push_batch(
    q: *mut wq_queue,
    msgs: *const wq_iovec,
    count: usize,
    out_pushed: *mut usize,
    timeout_ns: i64,
) -> wq_status {
    guard(|| {
        // SAFETY: the caller guarantees `q` is NULL or live.
        let queue = unsafe { queue_arg(q) }?;
        if out_pushed.is_null() {
            return Err(invalid("out_pushed is NULL"));
        }
        if msgs.is_null() && count > 0 {
            return Err(invalid("msgs is NULL but count is not 0"));
        }
        let iovecs: &[wq_iovec] = if count == 0 {
            &[]
        } else {
            // SAFETY: non-NULL and, by the caller's contract, valid for `count` elements.
            unsafe { std::slice::from_raw_parts(msgs, count) }
        };
        if let Some(v) = iovecs.iter().find(|v| v.data.is_null() && v.len > 0) {
            return Err(Error::invalid(format_args!(
                "a wq_iovec has NULL data and length {}",
                v.len
            )));
        }
        // SAFETY: `Message` is a transparent wrapper of `wq_iovec`, and every
        // element was just checked to be a valid `Message` (see its docs).
        let messages: &[Message] =
            unsafe { std::slice::from_raw_parts(iovecs.as_ptr().cast(), iovecs.len()) };
        let pushed = queue.push_batch(messages, timeout_from_ns(timeout_ns))?;
        // SAFETY: `out_pushed` is non-NULL (checked above) and writable by contract.
        unsafe { *out_pushed = pushed };
        Ok(())
    })
}

/// Takes up to `max_msgs` messages from the head under one lock acquisition,
/// waiting up to `timeout_ns` for the first. They are packed one after another
/// into `buf` (capacity `cap`), message `i` at `spans[i].offset`, `spans[i].len`
/// bytes, with no padding between them (an offset is aligned only as the
/// lengths before it make it: copy a message out before reading it as a
/// struct); `*out_count` receives how many. It takes as many queued messages,
/// in order, as fit in `buf` and `spans`, and at least one; a message waiting
/// for redelivery (a lease that ended without an ack) comes alone.
///
/// # Errors
/// `WQ_EMPTY` (nothing within the timeout), `WQ_BUFFER_TOO_SMALL` (the first
/// message does not fit: `spans[0].len` receives its size, `*out_count` 0, and
/// it stays queued), `WQ_INVALID_ARGUMENT` (NULL `q`/`out_count`, `max_msgs`
/// 0, NULL `spans`), `WQ_CORRUPTED`, `WQ_INTERRUPTED`.
///
/// # Safety
/// `q` live or NULL; a non-NULL `buf` writable for `cap` bytes; `spans` NULL
/// or writable for `max_msgs` elements; `out_count` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wq_pop_batch(
    q: *mut wq_queue,
    buf: *mut c_void,
    cap: usize,
    spans: *mut wq_span,
    max_msgs: usize,
    out_count: *mut usize,
    timeout_ns: i64,
) -> wq_status {
    guard(|| {
        // SAFETY: the caller guarantees `q` is NULL or live.
        let queue = unsafe { queue_arg(q) }?;
        if out_count.is_null() || spans.is_null() || max_msgs == 0 {
            return Err(invalid(
                "out_count and spans must not be NULL, max_msgs not 0",
            ));
        }
        // SAFETY: the caller guarantees `buf` is writable for `cap` bytes.
        let buf = unsafe { buf_arg(buf, cap) }?;
        // SAFETY: `spans` is non-NULL and writable for `max_msgs` elements by
        // contract; `wq_span` and `Span` have one layout (asserted above).
        let spans = unsafe { std::slice::from_raw_parts_mut(spans.cast::<Span>(), max_msgs) };
        match queue.pop_batch(buf, spans, timeout_from_ns(timeout_ns)) {
            Ok(n) => {
                // SAFETY: `out_count` is non-NULL (checked above) and writable.
                unsafe { *out_count = n };
                Ok(())
            }
            Err(err) => {
                if let Error::BufferTooSmall { needed, .. } = &err {
                    spans[0] = Span {
                        offset: 0,
                        len: usize::try_from(*needed).unwrap_or(usize::MAX),
                    };
                    // SAFETY: `out_count` is non-NULL (checked above) and writable.
                    unsafe { *out_count = 0 };
                }
                Err(err)
            }
        }
    })
}

/// Fills `*out` with a snapshot of the queue's counters. The snapshot is
/// exact when no operation is in flight.
///
/// # Errors
/// `WQ_INVALID_ARGUMENT` (NULL `q` or `out`), `WQ_CORRUPTED`.
///
/// # Safety
/// `q` live or NULL; `out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wq_stats_get(q: *mut wq_queue, out: *mut wq_stats) -> wq_status {
    guard(|| {
        // SAFETY: the caller guarantees `q` is NULL or live.
        let queue = unsafe { queue_arg(q) }?;
        if out.is_null() {
            return Err(invalid("out is NULL"));
        }
        let stats = stats_to_c(queue.stats()?);
        // SAFETY: `out` is non-NULL (checked above) and writable by contract.
        unsafe { *out = stats };
        Ok(())
    })
}

/// Closes a handle (unmaps the queue; its messages stay). NULL is a no-op.
///
/// # Safety
/// `q` must be NULL or a live handle, not used again afterwards by any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wq_close(q: *mut wq_queue) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        if !q.is_null() {
            // SAFETY: a non-NULL `q` came from Box::into_raw in wq_open and is
            // closed once, by the caller's contract.
            drop(unsafe { Box::from_raw(q) });
        }
    }));
}

/// Interrupts the handle `q` in this process: every call waiting on it (for
/// messages, for room or for a lock) returns `WQ_INTERRUPTED`, and from then
/// on so does every call on `q` that would have to wait; calls that need no
/// wait still succeed, so a worker can drain what is queued. Other handles
/// and other processes are not affected. `wq_interrupt_clear` ends it.
///
/// Async-signal-safe: a signal handler may call it (a signal alone never
/// ends a wait). It never sets `wq_last_error()` and keeps `errno`.
///
/// # Errors
/// `WQ_INVALID_ARGUMENT` (NULL `q`).
///
/// # Safety
/// `q` must be NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wq_interrupt(q: *mut wq_queue) -> wq_status {
    // Not through `guard`: nothing here may allocate or touch thread-locals.
    // SAFETY: the caller guarantees a non-NULL `q` is a live handle.
    match unsafe { q.as_ref() } {
        Some(q) => {
            q.0.interrupt();
            WQ_OK
        }
        None => WQ_INVALID_ARGUMENT,
    }
}

/// Ends the interrupted state of `q` that `wq_interrupt` set: calls wait again.
///
/// # Errors
/// `WQ_INVALID_ARGUMENT` (NULL `q`).
///
/// # Safety
/// `q` must be NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wq_interrupt_clear(q: *mut wq_queue) -> wq_status {
    guard(|| {
        // SAFETY: the caller guarantees `q` is NULL or live.
        unsafe { queue_arg(q) }?.interrupt_clear();
        Ok(())
    })
}

/// A file descriptor, owned by the handle (valid until `wq_close`; do not
/// close or read it), that `poll`/`epoll`/`select` report readable while the
/// queue may hold a message a pop could take. It may be readable
/// spuriously: after it is, pop with `WQ_NO_WAIT` until `WQ_EMPTY`, which
/// also resets it. It becomes readable within about a millisecond of a push
/// by any process.
///
/// The first call on a handle starts one helper thread, which sleeps on the
/// queue's futex event and signals an eventfd; later calls return the same
/// descriptor. A handle that never asks has neither, and its pushes and
/// pops cost nothing more. A fork child gets a descriptor of its own.
///
/// # Errors
/// -1 with `errno` and `wq_last_error()` set: `EINVAL` for a NULL `q`,
/// `EMFILE` and the like when the eventfd or the thread cannot be had.
///
/// # Safety
/// `q` must be NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wq_readable_fd(q: *mut wq_queue) -> c_int {
    let mut fd = -1;
    let status = guard(|| {
        // SAFETY: the caller guarantees `q` is NULL or live.
        fd = unsafe { queue_arg(q) }?.readable_fd()?.as_raw_fd();
        Ok(())
    });
    if status != WQ_OK {
        if status != WQ_SYSTEM_ERROR {
            crate::sys::set_errno(libc::EINVAL);
        }
        return -1;
    }
    fd
}

/// Removes the queue `name`: unlinks it so that later opens create a new one.
/// Handles already open keep working on the old queue.
///
/// # Errors
/// `WQ_NOT_FOUND` (no such queue), `WQ_INVALID_ARGUMENT` (bad name),
/// `WQ_PERMISSION_DENIED`, `WQ_SYSTEM_ERROR`.
///
/// # Safety
/// `name` must be NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wq_remove(name: *const c_char) -> wq_status {
    guard(|| {
        // SAFETY: the caller guarantees `name` is NULL or NUL-terminated.
        let name = unsafe { name_arg(name) }?;
        Queue::remove(name)
    })
}

/// A static description of a status code, never NULL (unknown values too).
#[unsafe(no_mangle)]
pub extern "C" fn wq_status_str(s: wq_status) -> *const c_char {
    let text: &'static CStr = match s {
        WQ_OK => c"ok",
        WQ_EMPTY => c"queue empty",
        WQ_FULL => c"queue full",
        WQ_INVALID_ARGUMENT => c"invalid argument",
        WQ_NOT_FOUND => c"not found (no such queue, or no live lease with that token)",
        WQ_EXISTS => c"queue already exists",
        WQ_MESSAGE_TOO_LARGE => c"message too large",
        WQ_BUFFER_TOO_SMALL => c"buffer too small",
        WQ_INCOMPATIBLE => c"not a compatible wq queue",
        WQ_CORRUPTED => c"queue corrupted",
        WQ_PERMISSION_DENIED => c"permission denied",
        WQ_SYSTEM_ERROR => c"system error",
        WQ_INTERNAL => c"internal error",
        WQ_INTERRUPTED => c"interrupted",
        _ => c"unknown status",
    };
    text.as_ptr()
}

/// The calling thread's detail of its last failed wq call, or "" if none:
/// what went wrong, without the words of `wq_status_str` (print
/// `"<call>: <wq_status_str(s)>: <wq_last_error()>"` to say each once).
/// The text stays valid until this thread's next failing wq call.
#[unsafe(no_mangle)]
pub extern "C" fn wq_last_error() -> *const c_char {
    catch_unwind(|| {
        LAST_ERROR
            .try_with(|slot| {
                let slot = slot.borrow();
                match slot.fixed {
                    Some(s) => s.as_ptr(),
                    None => slot.text.as_bytes_with_nul().as_ptr().cast(),
                }
            })
            .unwrap_or(c"".as_ptr())
    })
    .unwrap_or(c"".as_ptr())
}

/// The library's version, "MAJOR.MINOR.PATCH" (equal to `WQ_VERSION`).
#[unsafe(no_mangle)]
pub extern "C" fn wq_version() -> *const c_char {
    const VERSION: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => panic!("the crate version contains no NUL"),
        };
    VERSION.as_ptr()
}
