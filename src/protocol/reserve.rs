//! The zero-copy push transaction: **reserve** (take the producers' lock
//! and room for one record in one piece after the tail, padding to the
//! ring's end first if need be), the caller fills the message in place,
//! then **commit** (write the record header, publish, unlock) or
//! **cancel** (unlock: nothing was published). The lock stays held in
//! between, across calls, so the reservation is the handle's, kept in
//! [`Reservation`]. A producer that dies holding it leaves the tail where
//! it was: whoever takes the lock over finds nothing to repair, and the
//! bytes written after the tail are overwritten by the next push.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use super::{Handle, Held, Which};
use crate::error::{Error, Result};
use crate::handles;
use crate::ring::record_len;
use crate::sync::{Deadline, Event};

/// The reservation a handle holds, with the producers' lock.
pub(super) struct Reservation {
    /// Where its record goes (after any padding).
    pos: u64,
    /// The bytes reserved.
    len: u64,
    /// The holder's identity token (the lock word's value).
    me: u32,
    /// The fork generation it was made in: a child of `fork` does not hold
    /// its parent's lock.
    generation: u32,
}

/// A value telling this thread from every other live one: the address of
/// a thread-local.
fn this_thread() -> usize {
    thread_local!(static MARK: u8 = const { 0 });
    MARK.with(|m| std::ptr::from_ref(m) as usize)
}

impl Handle {
    /// Reserves `len` bytes in one piece for a message written in place,
    /// waiting up to `timeout` for room; returns where they are. The
    /// handle then holds the producers' side until [`Handle::commit_reserved`] or
    /// [`Handle::cancel_reserved`].
    ///
    /// # Errors
    /// [`Error::MessageTooLarge`]; [`Error::Full`] when no room appeared in
    /// time; [`Error::InvalidArgument`] when this thread already holds a
    /// reservation on this handle (waiting for it would never end);
    /// [`Error::Interrupted`]; [`Error::Corrupted`].
    pub fn reserve(&self, len: u64, timeout: Option<Duration>) -> Result<*mut u8> {
        let max = self.geometry.max_message_size;
        if len > max {
            return Err(Error::MessageTooLarge { len, max });
        }
        self.refuse_while_reserving()?;
        let size = record_len(len);
        let deadline = Deadline::new(timeout);
        let mut last_look = false;
        loop {
            let held = self.begin(Which::Producer, &deadline, || Error::Full)?;
            let mut space = self.space(&held)?;
            if let Some(pos) = self.place_record(&held, &mut space, size, 0, &deadline)? {
                let mut slot = self.reservation.lock().unwrap_or_else(|p| p.into_inner());
                *slot = Some(Reservation {
                    pos,
                    len,
                    me: held.me,
                    generation: handles::fork_generation(),
                });
                self.reserver.store(this_thread(), Relaxed);
                // The lock stays held (and this handle's hold record odd)
                // until the reservation ends.
                std::mem::forget(held);
                return Ok(self.ring.body_at(pos, len));
            }
            drop(held);
            self.wait_for_room(&deadline, size, &mut last_look)?;
        }
    }

    /// Publishes the first `len` bytes of the handle's reservation as a
    /// message and ends it.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the handle holds no reservation (or
    /// its parent process does) or `len` exceeds it (it then stays held);
    /// [`Error::Corrupted`] when the segment was truncated under the handle
    /// (the reservation ends, publishing nothing).
    pub fn commit_reserved(&self, len: u64) -> Result<()> {
        let h = self.header();
        let held = {
            let mut slot = self.reservation.lock().unwrap_or_else(|p| p.into_inner());
            let r = self.own_reservation(&mut slot)?;
            if len > r.len {
                return Err(Error::invalid(format_args!(
                    "commit of {len} bytes exceeds the {} bytes reserved",
                    r.len
                )));
            }
            let r = slot.take().expect("checked above");
            let end = r.pos + self.ring.write_header(r.pos, len as u32);
            (self.end_reservation(r.me), end)
        };
        let (held, end) = held;
        let published = self.publish(held.side, &h.tail.pos, end, 1);
        drop(held);
        published?;
        Event(&h.not_empty).notify();
        Ok(())
    }

    /// Ends the handle's reservation without publishing anything.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the handle holds no reservation.
    pub fn cancel_reserved(&self) -> Result<()> {
        let mut slot = self.reservation.lock().unwrap_or_else(|p| p.into_inner());
        self.own_reservation(&mut slot)?;
        let r = slot.take().expect("checked above");
        drop(self.end_reservation(r.me));
        Ok(())
    }

    /// Ends a reservation a closing handle still holds.
    pub(super) fn cancel_on_close(&self) {
        let mut slot = self.reservation.lock().unwrap_or_else(|p| p.into_inner());
        if slot
            .as_ref()
            .is_some_and(|r| r.generation == handles::fork_generation())
        {
            let r = slot.take().expect("checked above");
            drop(self.end_reservation(r.me));
        }
    }

    /// The handle's reservation, if this process holds it; one inherited
    /// across `fork` is dropped (the lock is the parent's).
    fn own_reservation<'a>(&self, slot: &'a mut Option<Reservation>) -> Result<&'a Reservation> {
        if slot
            .as_ref()
            .is_some_and(|r| r.generation != handles::fork_generation())
        {
            *slot = None;
            self.reserver.store(0, Relaxed);
        }
        slot.as_ref()
            .ok_or_else(|| Error::invalid(format_args!("this handle holds no push reservation")))
    }

    /// The lock guard of a reservation that ends: dropping it unlocks.
    fn end_reservation(&self, me: u32) -> Held<'_> {
        self.reserver.store(0, Relaxed);
        Held {
            side: &self.header().producer,
            hold: &self.holds[0],
            me,
        }
    }

    /// Fails a push or reservation from the thread that holds this
    /// handle's reservation: it would wait for itself.
    #[inline]
    pub(super) fn refuse_while_reserving(&self) -> Result<()> {
        let reserver = self.reserver.load(Relaxed);
        if reserver != 0 && reserver == this_thread() {
            return self.refuse_reserver();
        }
        Ok(())
    }

    /// The calling thread made this handle's reservation: an error, unless
    /// the reservation is its parent's (a fork child's thread inherits
    /// the parent thread's marker), which is dropped.
    #[cold]
    fn refuse_reserver(&self) -> Result<()> {
        let mut slot = self.reservation.lock().unwrap_or_else(|p| p.into_inner());
        match self.own_reservation(&mut slot) {
            Ok(_) => Err(Error::invalid(format_args!(
                "this thread holds a push reservation on this handle: commit or cancel it first"
            ))),
            Err(_) => Ok(()),
        }
    }
}
