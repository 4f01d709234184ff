//! Waiting across processes: deadlines on the monotonic clock and futex
//! events that a killed waiter cannot break.
//!
//! Why not a process-shared `pthread_cond_t`: glibc's condition variable
//! keeps per-waiter state in the shared object, and a waiter killed while
//! blocked leaves it inconsistent, so later wake-ups are lost (reproduced
//! with glibc 2.36). An [`Event`] is a 32-bit futex sequence word plus a
//! "someone may be sleeping" hint: a dead waiter at worst leaves the hint set,
//! costing the next waker one needless `FUTEX_WAKE`.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering, fence};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::layout::EventWord;
use crate::sys;

/// How long a `WQ_NO_WAIT` call may wait for a busy lock. A peer holds a
/// lock only for one copy, so this is only reached when it is stopped or
/// stuck.
pub const NO_WAIT_LOCK_BOUND: Duration = Duration::from_millis(250);

/// How long a waiter whose recent waits were answered soon ([`Watch::quick`])
/// spins, watching the queue, before it sleeps in the kernel: long enough
/// to catch a reply in a ping-pong without a syscall.
const SPIN: Duration = Duration::from_micros(50);

/// How long the other waiters spin: the first wait of a handle, and every
/// wait after one that outlasted [`SPIN`] (an idle consumer then pays a few
/// microseconds per wait, not fifty). Longer than [`GATHER`].
const SHORT_SPIN: Duration = Duration::from_micros(8);

/// How long a spinning waiter holds out for a few cache lines' worth of
/// progress before it takes whatever there is (see [`Event::wait_until`]).
const GATHER: Duration = Duration::from_micros(4);

/// The longest a waiter sleeps before it looks at the queue's health (a
/// truncated segment, whose peers can no longer wake it) and its condition
/// again, whatever wake-ups it missed. Each look costs a wake-up (~50 µs of
/// CPU on a VM): at 5 s an idle consumer pays ~10 µs per second of waiting,
/// and a waiter blocked for ever on a truncated queue hears of it within 5 s.
const SLICE_NS: u64 = 5_000_000_000;

/// The time budget of one call: `None` waits for ever, `Some(ZERO)` not at
/// all. The clock is read lazily, only when waiting becomes possible.
pub struct Deadline {
    timeout: Option<Duration>,
    start_ns: Cell<Option<u64>>,
}

impl Deadline {
    /// A budget of `timeout` from the first time it is consulted.
    #[inline]
    pub fn new(timeout: Option<Duration>) -> Deadline {
        Deadline {
            timeout,
            start_ns: Cell::new(None),
        }
    }

    /// Whether the budget is spent (a zero budget always is).
    pub fn spent(&self) -> bool {
        self.remaining() == Some(Duration::ZERO)
    }

    fn start(&self) -> u64 {
        self.start_ns.get().unwrap_or_else(|| {
            let now = sys::monotonic_ns();
            self.start_ns.set(Some(now));
            now
        })
    }

    fn budget_until(&self, budget: Duration) -> u64 {
        self.start()
            .saturating_add(u64::try_from(budget.as_nanos()).unwrap_or(u64::MAX))
    }

    /// Absolute monotonic time at which waiting for a lock gives up
    /// (`None`: never). A zero timeout still allows [`NO_WAIT_LOCK_BOUND`].
    pub fn lock_until_ns(&self) -> Option<u64> {
        self.timeout
            .map(|t| self.budget_until(if t.is_zero() { NO_WAIT_LOCK_BOUND } else { t }))
    }

    /// Time left to wait for messages or room: `None` for ever,
    /// `Some(ZERO)` when the budget is spent (or was zero).
    pub fn remaining(&self) -> Option<Duration> {
        let t = self.timeout?;
        if t.is_zero() {
            return Some(Duration::ZERO);
        }
        let until = self.budget_until(t);
        Some(Duration::from_nanos(
            until.saturating_sub(sys::monotonic_ns()),
        ))
    }
}

/// What a waiter watches besides its condition and its deadline.
pub struct Watch<'a, H, W> {
    /// The handle's interrupt word: non-zero ends the wait (waits sleep on
    /// it too).
    pub interrupt: &'a AtomicU32,
    /// Asked after every full slice of sleep (the segment's health).
    pub healthy: H,
    /// Given the time, when the wait is to end anyway (`None`: not before
    /// the deadline); asked again on every pass, since what it depends on
    /// (a consumer waking up to check leases) may start while it sleeps.
    pub wake_at: W,
    /// Whether this waiter's last wait was answered within [`SPIN`]: it
    /// then spins that long, else only [`SHORT_SPIN`]; each wait sets it
    /// by how it ended (a hint of the waiting process, no peer sees it).
    /// `None`: always [`SPIN`] (a waiter whose wake-up latency is its
    /// whole purpose, and that spins once per burst, not per idle second).
    pub quick: Option<&'a AtomicBool>,
}

/// How [`Event::wait_until`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Waited {
    /// The condition holds (with `plenty`, if gathering had the time).
    Ready,
    /// The condition holds, but the gather ran out of time before
    /// `plenty` came: progress comes a little at a time (a lone message).
    Trickle,
    /// It does not: the deadline passed, or the time `wake_at` named came.
    NotYet,
}

impl Waited {
    /// Whether the condition holds.
    pub fn ready(self) -> bool {
        self != Waited::NotYet
    }
}

/// Sleeping until the other side makes progress, over an [`EventWord`].
pub struct Event<'a>(pub &'a EventWord);

impl Event<'_> {
    /// Wakes every sleeper, if the hint says there may be one.
    ///
    /// The caller must have published its progress (Release) before; the
    /// SeqCst fence here pairs with the one in [`Event::wait_until`], so
    /// either this call sees the hint or the waiter sees the progress.
    #[inline]
    pub fn notify(&self) {
        fence(Ordering::SeqCst);
        if self.0.waiting.load(Ordering::Relaxed) != 0 {
            self.0.waiting.store(0, Ordering::Relaxed);
            self.0.seq.fetch_add(1, Ordering::Release);
            sys::futex_wake(&self.0.seq, i32::MAX, true);
        }
    }

    /// Waits until `progress()` (bytes published, or bytes of room) reaches
    /// `need`, the deadline passes or the time `watch.wake_at` names comes;
    /// returns whether the condition holds. Spins for a short while first,
    /// then sleeps on the futex (and on the handle's interrupt word), in
    /// slices after which `watch.healthy` is asked.
    ///
    /// For the first [`GATHER`] of the spin it holds out for `plenty` bytes
    /// rather than `need`: a consumer that takes each message the instant it
    /// appears keeps pulling the cache line the producer is writing, and both
    /// sides then pay a cross-core transfer per message. Gathering a few
    /// lines first costs a lone message at most [`GATHER`] of latency, and
    /// [`Waited::Trickle`] tells the caller it paid it (so that it can stop
    /// gathering while messages come one at a time).
    ///
    /// # Errors
    /// [`Error::Interrupted`] once the interrupt word is set while the
    /// condition does not hold; what `watch.healthy` returns.
    pub fn wait_until(
        &self,
        deadline: &Deadline,
        progress: impl Fn() -> u64,
        need: u64,
        plenty: u64,
        watch: Watch<'_, impl Fn() -> Result<()>, impl Fn(u64) -> Option<u64>>,
    ) -> Result<Waited> {
        let Watch {
            interrupt,
            healthy,
            wake_at,
            quick,
        } = watch;
        let now = progress();
        if now >= plenty {
            return Ok(Waited::Ready);
        }
        // Whether the condition holds, once gathering is over: a trickle
        // if there was more to wait for.
        let outcome = |ready: bool| match ready {
            false => Waited::NotYet,
            true if plenty > need => Waited::Trickle,
            true => Waited::Ready,
        };
        if deadline.remaining() == Some(Duration::ZERO) {
            return Ok(outcome(now >= need));
        }
        let interrupted = || interrupt.load(Ordering::Relaxed) != 0;
        if interrupted() {
            return if now >= need {
                Ok(outcome(true))
            } else {
                Err(Error::Interrupted)
            };
        }
        let start = sys::monotonic_ns();
        let spin = match quick {
            Some(quick) if !quick.load(Ordering::Relaxed) => SHORT_SPIN,
            _ => SPIN,
        };
        let (gather_until, spin_until) = (
            start + GATHER.as_nanos() as u64,
            start + spin.as_nanos() as u64,
        );
        let mut want = plenty;
        let mut spins = 0u32;
        loop {
            std::hint::spin_loop();
            if progress() >= want {
                if let Some(quick) = quick.filter(|q| !q.load(Ordering::Relaxed)) {
                    quick.store(true, Ordering::Relaxed);
                }
                return Ok(if want == plenty {
                    Waited::Ready
                } else {
                    outcome(true)
                });
            }
            spins = spins.wrapping_add(1);
            if spins % 16 == 0 {
                let now = sys::monotonic_ns();
                if now >= gather_until {
                    want = need;
                }
                if now >= spin_until {
                    break;
                }
            }
        }
        let ready = || progress() >= need;
        let waited = loop {
            let left = deadline.remaining();
            if left == Some(Duration::ZERO) {
                break outcome(ready());
            }
            if interrupted() {
                if !ready() {
                    return Err(Error::Interrupted);
                }
                break outcome(true);
            }
            let seq = self.0.seq.load(Ordering::Acquire);
            self.0.waiting.store(1, Ordering::Relaxed);
            fence(Ordering::SeqCst);
            if ready() {
                break outcome(true);
            }
            let now = sys::monotonic_ns();
            let wake = wake_at(now);
            if wake.is_some_and(|at| at <= now) {
                break Waited::NotYet;
            }
            let slice = left.map_or(SLICE_NS, |l| {
                u64::try_from(l.as_nanos())
                    .unwrap_or(u64::MAX)
                    .min(SLICE_NS)
            });
            let slice = wake.map_or(slice, |at| slice.min(at - now));
            sys::futex_wait(&self.0.seq, seq, interrupt, Some(now.saturating_add(slice)));
            if ready() {
                break outcome(true);
            }
            if sys::monotonic_ns() >= now.saturating_add(slice) {
                healthy()?;
            }
        };
        // Answered within a full spin: the next wait spins that long.
        if let Some(quick) = quick {
            quick.store(
                waited.ready() && sys::monotonic_ns() < start + SPIN.as_nanos() as u64,
                Ordering::Relaxed,
            );
        }
        Ok(waited)
    }
}
