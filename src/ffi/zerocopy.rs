//! The C boundary of zero-copy messages: `wq_push_reserve`,
//! `wq_push_commit`, `wq_push_cancel` and `wq_pop_leased_view`. As the rest
//! of [`crate::ffi`], it only converts arguments and calls the safe API.

use std::ffi::c_void;

use super::leases::wq_lease;
use super::{guard, invalid, queue_arg, timeout_from_ns, wq_queue, wq_status};

/// Reserves room for a message of `len` bytes in one piece inside the
/// queue's shared memory, waiting for it exactly as `wq_push` waits for
/// room (same timeout rules), and sets `*out_buf` to it: the caller writes
/// the message there, then publishes it with `wq_push_commit` or drops it
/// with `wq_push_cancel`. Until then this handle holds the producers' side
/// of the queue: other producers wait, consumers go on. The thread that
/// reserved must commit or cancel before it pushes again: a push or
/// reservation from it on this handle fails with `WQ_INVALID_ARGUMENT`,
/// and on another handle of the same queue it would wait for itself. A
/// process killed before it commits leaves nothing behind. Closing the
/// handle cancels a reservation it holds.
///
/// # Errors
/// `WQ_FULL` when no room appeared in time; `WQ_MESSAGE_TOO_LARGE`;
/// `WQ_INVALID_ARGUMENT` (NULL `q` or `out_buf`, or this thread already
/// holds a reservation on `q`); `WQ_CORRUPTED`; `WQ_INTERRUPTED`.
///
/// # Safety
/// `q` live or NULL; `out_buf` NULL or writable. The bytes at `*out_buf`
/// may be written until the commit or cancel, not after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wq_push_reserve(
    q: *mut wq_queue,
    len: usize,
    out_buf: *mut *mut c_void,
    timeout_ns: i64,
) -> wq_status {
    guard(|| {
        // SAFETY: the caller guarantees `q` is NULL or live.
        let queue = unsafe { queue_arg(q) }?;
        if out_buf.is_null() {
            return Err(invalid("out_buf is NULL"));
        }
        let ptr = queue
            .handle()
            .reserve(len as u64, timeout_from_ns(timeout_ns))?;
        // SAFETY: `out_buf` is non-NULL (checked above) and writable by contract.
        unsafe { *out_buf = ptr.cast() };
        Ok(())
    })
}

/// Publishes the first `len` bytes of this handle's reservation (`len` may
/// be less than was reserved) as one message and ends the reservation;
/// waiting consumers are woken as by `wq_push`.
///
/// # Errors
/// `WQ_INVALID_ARGUMENT` when the handle holds no reservation or `len`
/// exceeds it (the reservation then stays); `WQ_CORRUPTED` when the segment
/// was truncated under the handle (the reservation ends, nothing is
/// published).
///
/// # Safety
/// `q` live or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wq_push_commit(q: *mut wq_queue, len: usize) -> wq_status {
    guard(|| {
        // SAFETY: the caller guarantees `q` is NULL or live.
        let queue = unsafe { queue_arg(q) }?;
        queue.handle().commit_reserved(len as u64)
    })
}

/// Ends this handle's reservation without publishing anything.
///
/// # Errors
/// `WQ_INVALID_ARGUMENT` when the handle holds no reservation.
///
/// # Safety
/// `q` live or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wq_push_cancel(q: *mut wq_queue) -> wq_status {
    guard(|| {
        // SAFETY: the caller guarantees `q` is NULL or live.
        let queue = unsafe { queue_arg(q) }?;
        queue.handle().cancel_reserved()
    })
}

/// `wq_pop_leased` without the copy: leases the oldest message nobody
/// holds under the same rules and sets `*out_buf` to where it lies in the
/// queue's shared memory and `*out_len` to its length. The bytes stay the
/// message's until its lease ends (`wq_ack`, `wq_nack`, its time, or the
/// handle's close), and stay mapped until the handle is closed. They are
/// shared memory: a peer process with write access to the queue could
/// change them while they are read.
///
/// # Errors
/// As `wq_pop_leased`, without `WQ_BUFFER_TOO_SMALL`: `WQ_EMPTY`,
/// `WQ_INVALID_ARGUMENT` (NULL `q`, `out_buf`, `out_len` or `out_lease`),
/// `WQ_CORRUPTED`, `WQ_INTERRUPTED`.
///
/// # Safety
/// `q` live or NULL; `out_buf`, `out_len` and `out_lease` NULL or writable.
/// The bytes at `*out_buf` must only be read, and not after the handle is
/// closed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wq_pop_leased_view(
    q: *mut wq_queue,
    out_buf: *mut *const c_void,
    out_len: *mut usize,
    out_lease: *mut wq_lease,
    lease_ns: i64,
    timeout_ns: i64,
) -> wq_status {
    guard(|| {
        // SAFETY: the caller guarantees `q` is NULL or live.
        let queue = unsafe { queue_arg(q) }?;
        if out_buf.is_null() || out_len.is_null() || out_lease.is_null() {
            return Err(invalid("out_buf, out_len or out_lease is NULL"));
        }
        let view = queue.pop_leased_view(timeout_from_ns(lease_ns), timeout_from_ns(timeout_ns))?;
        let (bytes, lease) = view.into_parts();
        // SAFETY: the three are non-NULL (checked above) and writable by contract.
        unsafe {
            *out_buf = bytes.as_ptr().cast();
            *out_len = bytes.len();
            *out_lease = wq_lease::from(lease);
        }
        Ok(())
    })
}
