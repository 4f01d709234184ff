//! The readiness descriptor of a handle: an eventfd that `poll`/`epoll`
//! report readable while the queue may hold a message, for event loops.
//!
//! Nothing exists until a handle asks for it: then one helper thread per
//! handle sleeps on the queue's "not empty" futex event (so producers pay a
//! `FUTEX_WAKE` only while it sleeps, through the same "maybe sleeping"
//! hint as every waiter) and, once the queue holds something, adds 1 to
//! the eventfd and waits to be re-armed. A pop on the handle that finds the
//! queue empty drains the eventfd and re-arms the helper, which signals
//! again at once if a push raced with that pop. The helper's only shared
//! state is the hint, which a killed process cannot break (see
//! [`crate::sync::Event`]); the descriptor and the thread end with the
//! handle.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;

use crate::error::{Error, Result};
use crate::layout::Header;
use crate::sync::{Deadline, Event, Watch};
use crate::sys;

/// What the handle and its helper thread share.
struct Shared {
    fd: OwnedFd,
    /// Non-zero once the helper must end; its waits sleep on it too.
    stop: AtomicU32,
    /// Bumped by every pop that found the queue empty.
    rearm: AtomicU32,
}

/// The mapped header, handed to the helper thread.
struct HeaderPtr(*const Header);

// SAFETY: the header is all atomics, shared between processes anyway; the
// helper only uses it while the mapping lives (the handle joins the helper
// before it unmaps).
unsafe impl Send for HeaderPtr {}

/// A handle's readiness descriptor and its helper thread.
pub struct Readiness {
    shared: Arc<Shared>,
    helper: Option<JoinHandle<()>>,
    /// The fork generation it was made in (a fork child has no helper).
    generation: u32,
}

impl Readiness {
    /// Creates the eventfd and starts the helper for the queue whose
    /// mapped header is `header`.
    ///
    /// # Safety
    /// `header` must stay mapped until the returned value is dropped.
    ///
    /// # Errors
    /// [`Error::System`] when the eventfd or the thread cannot be had.
    pub unsafe fn start(header: *const Header, generation: u32) -> Result<Readiness> {
        let fd = sys::eventfd().map_err(|e| Error::os("eventfd", e))?;
        let shared = Arc::new(Shared {
            fd,
            stop: AtomicU32::new(0),
            rearm: AtomicU32::new(0),
        });
        let theirs = Arc::clone(&shared);
        let header = HeaderPtr(header);
        let helper = std::thread::Builder::new()
            .name("wq-readiness".into())
            .spawn(move || {
                let header = header;
                // SAFETY: the mapping outlives the helper (start's contract:
                // the handle joins the helper before it unmaps).
                signal_while_ready(unsafe { &*header.0 }, &theirs);
            })
            .map_err(|e| Error::os("starting the readiness thread", e))?;
        Ok(Readiness {
            shared,
            helper: Some(helper),
            generation,
        })
    }

    /// The descriptor.
    pub fn fd(&self) -> RawFd {
        self.shared.fd.as_raw_fd()
    }

    /// Whether it was made in the fork generation `generation`.
    pub fn made_in(&self, generation: u32) -> bool {
        self.generation == generation
    }

    /// A pop found the queue empty: clear the descriptor and re-arm.
    pub fn reset(&self) {
        sys::eventfd_drain(self.fd());
        self.shared.rearm.fetch_add(1, Ordering::Release);
        // A shared wake: `sys::futex_wait` sleeps on its word as shared.
        sys::futex_wake(&self.shared.rearm, 1, true);
    }

    /// Forgets a readiness inherited by a fork child: there is no helper to
    /// stop, and the descriptor is the parent's too.
    pub fn abandon(mut self) {
        self.helper = None;
    }
}

impl Drop for Readiness {
    fn drop(&mut self) {
        if let Some(helper) = self.helper.take() {
            self.shared.stop.store(1, Ordering::Release);
            sys::futex_wake(&self.shared.stop, i32::MAX, false);
            let _ = helper.join();
        }
    }
}

/// The helper's loop: signal while the queue holds something a pop could
/// take, or while held leases are due for a check (the pop that follows
/// makes it, and may find a message whose holder died), then wait to be
/// re-armed; sleep on "not empty" while there is nothing, waking up for
/// the checks.
fn signal_while_ready(h: &Header, shared: &Shared) {
    let published = || h.leases.takeable(h.tail.pos.load(Ordering::Acquire), false);
    let forever = Deadline::new(None);
    while shared.stop.load(Ordering::Acquire) == 0 {
        let rearm = shared.rearm.load(Ordering::Acquire);
        if published() != 0 || h.leases.check_due(sys::monotonic_ns()) {
            sys::eventfd_signal(shared.fd.as_raw_fd());
            sys::futex_wait(&shared.rearm, rearm, &shared.stop, None);
            continue;
        }
        // Ends on a push or at the check's time; Err(Interrupted) once stopped.
        let _ = Event(&h.not_empty).wait_until(
            &forever,
            published,
            1,
            1,
            Watch {
                interrupt: &shared.stop,
                healthy: || Ok(()),
                wake_at: |now| h.leases.wake_at(now),
                // It wakes an event loop: the full spin every time.
                quick: None,
            },
        );
    }
}
