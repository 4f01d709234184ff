//! wq's own lock: one 32-bit futex word per side, holding the holder's
//! identity token (see [`crate::liveness`]) and a waiters bit.
//!
//! Locking is one compare-and-swap from 0 to the caller's token, unlocking
//! one swap back to 0, with a `FUTEX_WAKE` only when the waiters bit says
//! someone may sleep. A waiter that has seen the same holder for a while
//! (1 ms at first, backing off to 64 ms) asks whether that holder is
//! alive; a dead, detached, out-of-range or scribbled token is dead, and the
//! waiter takes the lock over (the caller then repairs what the dead holder
//! left half done). Nothing in the word is trusted beyond that: its worst
//! value keeps finite waits finite and makes the side wait for a holder
//! that really is alive.

use std::sync::atomic::{AtomicU32, Ordering};

use crate::liveness::WAITERS;
use crate::sync::Deadline;
use crate::sys;

/// Busy checks of a held lock before sleeping: a holder keeps a lock for
/// one copy, usually far shorter than a sleep and wake-up.
const SPINS: u32 = 200;
/// How long a holder is watched before its liveness is first checked.
const FIRST_CHECK_NS: u64 = 1_000_000;
/// The longest interval between two liveness checks of one holder.
const MAX_CHECK_NS: u64 = 64_000_000;
/// How long a lock word must show this very handle, while no thread of the
/// handle holds the lock, before it is taken for a forgery.
const SELF_FORGERY_NS: u64 = 1_000_000_000;

/// Why a lock could not be taken.
#[derive(Debug, PartialEq, Eq)]
pub enum LockError {
    /// The deadline passed while a peer held the lock.
    TimedOut,
    /// The handle was interrupted.
    Interrupted,
}

/// A handle's private record of holding one side's lock: odd while one of
/// its threads holds it, bumped on every acquire and release by the holder
/// only. It tells a lock word forged to this handle's own token from a
/// lock that another thread of the handle really holds.
#[derive(Default)]
pub struct Hold(AtomicU32);

impl Hold {
    /// Called by the thread that just took the lock.
    #[inline]
    pub fn enter(&self) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(1) | 1,
            Ordering::Relaxed,
        );
    }

    /// Called by the holder right before it unlocks.
    #[inline]
    pub fn leave(&self) {
        self.0.store(
            (self.0.load(Ordering::Relaxed) | 1).wrapping_add(1),
            Ordering::Relaxed,
        );
    }

    fn now(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }
}

/// What waiting for a lock needs to know about its caller.
pub struct Waiter<'a, F: Fn(u32) -> bool> {
    /// The caller's token.
    pub me: u32,
    /// The caller's handle's record of holding this lock.
    pub hold: &'a Hold,
    /// Non-zero once the handle is interrupted; waits sleep on it too.
    pub interrupt: &'a AtomicU32,
    /// Whether another handle's token is alive.
    pub alive: F,
}

/// Takes the lock `word` for `waiter.me` within `deadline`. `Ok(true)`:
/// it was taken over from a dead holder, whose update the caller must
/// repair before relying on the side's state.
#[inline]
pub fn lock<F: Fn(u32) -> bool>(
    word: &AtomicU32,
    waiter: &Waiter<'_, F>,
    deadline: &Deadline,
) -> Result<bool, LockError> {
    if word
        .compare_exchange(0, waiter.me, Ordering::Acquire, Ordering::Relaxed)
        .is_ok()
    {
        return Ok(false);
    }
    lock_slow(word, waiter, deadline)
}

/// The holder of one lock as a waiter watches it.
struct Watch {
    owner: u32,
    since_ns: u64,
    interval_ns: u64,
    hold: u32,
}

#[cold]
fn lock_slow<F: Fn(u32) -> bool>(
    word: &AtomicU32,
    waiter: &Waiter<'_, F>,
    deadline: &Deadline,
) -> Result<bool, LockError> {
    let mut spins = 0u32;
    let mut slept = false;
    let mut watch: Option<Watch> = None;
    loop {
        let v = word.load(Ordering::Relaxed);
        let owner = v & !WAITERS;
        if owner == 0 {
            // Whoever slept keeps the bit set: others may sleep still.
            let new = waiter.me | if slept { WAITERS } else { v & WAITERS };
            if word
                .compare_exchange(v, new, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return Ok(false);
            }
            continue;
        }
        if spins < SPINS {
            spins += 1;
            std::hint::spin_loop();
            continue;
        }
        if waiter.interrupt.load(Ordering::Relaxed) != 0 {
            return Err(LockError::Interrupted);
        }
        let now = sys::monotonic_ns();
        let until = deadline.lock_until_ns();
        if until.is_some_and(|u| now >= u) {
            return Err(LockError::TimedOut);
        }
        let w = match &mut watch {
            Some(w) if w.owner == owner => w,
            _ => watch.insert(Watch {
                owner,
                since_ns: now,
                interval_ns: FIRST_CHECK_NS,
                hold: waiter.hold.now(),
            }),
        };
        let dead = if owner == waiter.me {
            // No other handle holds our token: a thread of ours holds the
            // lock, unless our own record has said otherwise for long.
            let hold = waiter.hold.now();
            if hold != w.hold || hold % 2 == 1 {
                w.hold = hold;
                w.since_ns = now;
                false
            } else {
                now - w.since_ns >= SELF_FORGERY_NS
            }
        } else if now.saturating_sub(w.since_ns) >= w.interval_ns {
            w.since_ns = now;
            w.interval_ns = (w.interval_ns * 2).min(MAX_CHECK_NS);
            !(waiter.alive)(owner)
        } else {
            false
        };
        if dead {
            if word
                .compare_exchange(v, waiter.me | WAITERS, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return Ok(true);
            }
            continue;
        }
        if v & WAITERS == 0
            && word
                .compare_exchange(v, v | WAITERS, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            continue;
        }
        let next_check = w.since_ns.saturating_add(if owner == waiter.me {
            SELF_FORGERY_NS
        } else {
            w.interval_ns
        });
        let wake_at = until.map_or(next_check, |u| u.min(next_check));
        sys::futex_wait(word, v | WAITERS, waiter.interrupt, Some(wake_at));
        slept = true;
    }
}

/// Releases a lock the caller holds, waking one sleeper if any may sleep.
#[inline]
pub fn unlock(word: &AtomicU32) {
    if word.swap(0, Ordering::Release) & WAITERS != 0 {
        sys::futex_wake(word, 1, true);
    }
}
