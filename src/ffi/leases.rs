//! The C boundary of leases: `wq_pop_leased`, `wq_ack`, `wq_nack`,
//! `wq_lease_extend`, `wq_lease_stats_get` and their types. As the rest of
//! [`crate::ffi`], it only converts arguments and calls the safe API.

use std::ffi::c_void;

use super::{buf_arg, guard, invalid, queue_arg, timeout_from_ns, wq_queue, wq_status, write_len};
use crate::{Error, Lease, LeaseStats};

/// One delivery under a lease, filled by `wq_pop_leased`; pass it to
/// `wq_ack`, `wq_nack` or `wq_lease_extend` (through any handle on the
/// queue, in any process: it is plain data).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct wq_lease {
    /// Identifies this delivery; never 0.
    pub token: u64,
    /// Times this message has been delivered, this one included (1 = first).
    pub deliveries: u32,
    /// 0.
    pub reserved: u32,
}

impl From<Lease> for wq_lease {
    fn from(lease: Lease) -> wq_lease {
        wq_lease {
            token: lease.token,
            deliveries: lease.deliveries,
            reserved: 0,
        }
    }
}

/// A snapshot of a queue's lease counters, filled by `wq_lease_stats_get`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct wq_lease_stats {
    /// Messages under a lease now.
    pub leased: u64,
    /// Leases ended by `wq_ack`, since creation.
    pub acked_total: u64,
    /// Leases ended by `wq_nack`.
    pub nacked_total: u64,
    /// Leases whose time ran out.
    pub expired_total: u64,
    /// Leases whose holder closed its handle or died.
    pub abandoned_total: u64,
    /// Deliveries after the first.
    pub redelivered_total: u64,
}

/// The most messages of one queue that can be leased or waiting for
/// redelivery at once; at the limit `wq_pop_leased` waits as if the queue
/// were empty, while `wq_pop` still works.
pub const WQ_LEASE_LIMIT: u32 = 4096;
const _: () = assert!(WQ_LEASE_LIMIT as usize == crate::LEASE_LIMIT);

/// Reads a lease argument.
///
/// # Safety
/// `lease` must be NULL or readable.
unsafe fn lease_arg(lease: *const wq_lease) -> Result<Lease, Error> {
    if lease.is_null() {
        return Err(invalid("lease is NULL"));
    }
    // SAFETY: non-NULL, and readable by the caller's contract.
    let l = unsafe { *lease };
    Ok(Lease {
        token: l.token,
        deliveries: l.deliveries,
    })
}

/// Takes the oldest message nobody holds into `buf`, exactly as `wq_pop`
/// would (same buffer, size and timeout rules), but under a lease: the
/// message stays in the queue, invisible to every other pop, until the
/// lease ends. `wq_ack` removes it for good; `wq_nack` gives it back at
/// once; it is given back too when `lease_ns` nanoseconds have passed
/// since the delivery or the last `wq_lease_extend` (`WQ_FOREVER`: never),
/// and when the handle that took it is closed or its process dies in any
/// way (found within about 250 ms). A message given back keeps its place
/// before everything pushed after it and is delivered again with
/// `deliveries` one higher. On success `*out_len` is its length and
/// `*out_lease` the lease. With `WQ_LEASE_LIMIT` messages leased or waiting
/// for redelivery it waits as if the queue were empty.
///
/// # Errors
/// As `wq_pop`: `WQ_EMPTY`, `WQ_BUFFER_TOO_SMALL` (`*out_len` receives the
/// size; nothing is leased), `WQ_INVALID_ARGUMENT` (NULL `q`, `out_len` or
/// `out_lease`), `WQ_CORRUPTED`, `WQ_INTERRUPTED`.
///
/// # Safety
/// `q` live or NULL; a non-NULL `buf` writable for `cap` bytes; `out_len`
/// and `out_lease` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wq_pop_leased(
    q: *mut wq_queue,
    buf: *mut c_void,
    cap: usize,
    out_len: *mut usize,
    out_lease: *mut wq_lease,
    lease_ns: i64,
    timeout_ns: i64,
) -> wq_status {
    guard(|| {
        // SAFETY: the caller guarantees `q` is NULL or live.
        let queue = unsafe { queue_arg(q) }?;
        if out_len.is_null() || out_lease.is_null() {
            return Err(invalid("out_len or out_lease is NULL"));
        }
        // SAFETY: the caller guarantees `buf` is writable for `cap` bytes.
        let buf = unsafe { buf_arg(buf, cap) }?;
        let result =
            queue.pop_leased_into(buf, timeout_from_ns(lease_ns), timeout_from_ns(timeout_ns));
        // SAFETY: `out_len` is non-NULL (checked above) and writable by contract.
        unsafe { write_len(out_len, result.as_ref().map(|(n, _)| *n)) };
        let (_, lease) = result?;
        // SAFETY: `out_lease` is non-NULL (checked above) and writable by contract.
        unsafe { *out_lease = wq_lease::from(lease) };
        Ok(())
    })
}

/// Ends a live lease: its message is gone for good (it then counts in
/// `popped_total`). Any handle on the queue may ack any lease.
///
/// # Errors
/// `WQ_NOT_FOUND` when the lease has already ended (acked, nacked, timed
/// out, abandoned) or its token was never issued: nothing changes.
/// `WQ_INVALID_ARGUMENT` (NULL `q` or `lease`), `WQ_CORRUPTED`,
/// `WQ_INTERRUPTED`, `WQ_SYSTEM_ERROR` with `errno` `EBUSY` when a stopped
/// peer keeps the consumers' lock for more than a second.
///
/// # Safety
/// `q` live or NULL; `lease` NULL or readable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wq_ack(q: *mut wq_queue, lease: *const wq_lease) -> wq_status {
    guard(|| {
        // SAFETY: the caller guarantees `q` is NULL or live, `lease` NULL or readable.
        let (queue, lease) = unsafe { (queue_arg(q)?, lease_arg(lease)?) };
        queue.ack(&lease)
    })
}

/// Ends a live lease and gives its message back, to be delivered again at
/// once (before everything pushed after it), with `deliveries` one higher.
///
/// # Errors
/// As `wq_ack`.
///
/// # Safety
/// As `wq_ack`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wq_nack(q: *mut wq_queue, lease: *const wq_lease) -> wq_status {
    guard(|| {
        // SAFETY: the caller guarantees `q` is NULL or live, `lease` NULL or readable.
        let (queue, lease) = unsafe { (queue_arg(q)?, lease_arg(lease)?) };
        queue.nack(&lease)
    })
}

/// Makes a live lease end `lease_ns` nanoseconds from now (`WQ_FOREVER`:
/// never by time), for a task that needs longer than it first asked.
///
/// # Errors
/// As `wq_ack`.
///
/// # Safety
/// As `wq_ack`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wq_lease_extend(
    q: *mut wq_queue,
    lease: *const wq_lease,
    lease_ns: i64,
) -> wq_status {
    guard(|| {
        // SAFETY: the caller guarantees `q` is NULL or live, `lease` NULL or readable.
        let (queue, lease) = unsafe { (queue_arg(q)?, lease_arg(lease)?) };
        queue.extend_lease(&lease, timeout_from_ns(lease_ns))
    })
}

/// Fills `*out` with the queue's lease counters. `wq_stats.len` counts
/// leased messages too; `leased` says how many are.
///
/// # Errors
/// `WQ_INVALID_ARGUMENT` (NULL `q` or `out`), `WQ_CORRUPTED`.
///
/// # Safety
/// `q` live or NULL; `out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wq_lease_stats_get(
    q: *mut wq_queue,
    out: *mut wq_lease_stats,
) -> wq_status {
    guard(|| {
        // SAFETY: the caller guarantees `q` is NULL or live.
        let queue = unsafe { queue_arg(q) }?;
        if out.is_null() {
            return Err(invalid("out is NULL"));
        }
        let LeaseStats {
            leased,
            acked_total,
            nacked_total,
            expired_total,
            abandoned_total,
            redelivered_total,
        } = queue.lease_stats()?;
        // SAFETY: `out` is non-NULL (checked above) and writable by contract.
        unsafe {
            *out = wq_lease_stats {
                leased,
                acked_total,
                nacked_total,
                expired_total,
                abandoned_total,
                redelivered_total,
            }
        };
        Ok(())
    })
}
