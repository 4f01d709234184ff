//! Liveness the kernel keeps: who holds a lock, and whether they are alive.
//!
//! Every open handle attaches to the queue through one slot of the
//! identity table (see [`crate::layout::Slot`]) and holds, for as long as it
//! is open, an exclusive open-file-description lock (`F_OFD_SETLK`) on the
//! slot's byte of the segment file, taken through a descriptor of its own
//! that is never mapped. The kernel drops that lock when the handle is
//! closed or its process dies in any way, in any PID namespace, as any uid;
//! a lock survives neither its holder nor can it be forged by writing
//! memory. A handle's *token* is its slot and the slot's generation at
//! attach time (bumped by every attach and detach), so a reused slot never
//! passes for its last owner; the token is what lock words and, later,
//! leases record.
//!
//! A token is alive while the table still shows its generation and some
//! other description holds the slot's lock. Anything else — a detached or
//! reattached slot, an out-of-range or scribbled token — is dead.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::error::{Error, Result};
use crate::handles::{self, Entry};
use crate::layout::{IDENTITY_SLOTS, Slot};
use crate::sys;

/// Bit of a lock word saying that a waiter may be asleep on it; the other
/// 31 bits are the holder's token.
pub const WAITERS: u32 = 1 << 31;
const GEN_BITS: u32 = 19;
const GEN_MASK: u32 = (1 << GEN_BITS) - 1;
/// File offset of slot 0's lock byte; slot `s` locks `LOCK_BASE + s`.
/// Locks may lie beyond the end of the file: these never touch its data.
pub const LOCK_BASE: u64 = 1 << 50;
/// File offset of the byte a creator locks while it initialises a segment.
pub const CREATION_BYTE: u64 = LOCK_BASE - 1;

const _: () = assert!(IDENTITY_SLOTS <= 1 << (31 - GEN_BITS));

/// The token of slot `slot` at generation `generation` (odd, so never 0).
fn token(slot: u32, generation: u32) -> u32 {
    (slot << GEN_BITS) | (generation & GEN_MASK)
}

/// The identity table of one mapped segment.
#[derive(Clone, Copy)]
pub struct Table<'a> {
    slots: &'a [Slot],
}

impl<'a> Table<'a> {
    /// The table over `slots` (mapped from a validated segment).
    pub fn new(slots: &'a [Slot]) -> Table<'a> {
        Table { slots }
    }

    /// Attaches through a free slot, locking it through `lock_fd`; returns
    /// the new token. Slots that look attached are tried last: their
    /// holders are probably alive.
    ///
    /// # Errors
    /// [`Error::System`]: `EMFILE`-like exhaustion when every slot is held,
    /// or the lock call failing.
    pub fn attach(&self, lock_fd: RawFd) -> Result<u32> {
        let n = self.slots.len();
        let start = (sys::pid() as usize).wrapping_mul(2_654_435_761) % n.max(1);
        for pass in 0..2 {
            for i in 0..n {
                let s = (start + i) % n;
                let slot = &self.slots[s];
                let generation = slot.generation.load(Ordering::Relaxed);
                if pass == 0 && generation % 2 == 1 {
                    continue;
                }
                if !sys::ofd_try_lock(lock_fd, LOCK_BASE + s as u64)
                    .map_err(|e| Error::os("fcntl(F_OFD_SETLK)", e))?
                {
                    continue;
                }
                // This description now owns the slot: no live peer writes it.
                let generation = slot.generation.load(Ordering::Relaxed);
                let next = (if generation % 2 == 1 {
                    generation + 2
                } else {
                    generation + 1
                }) & GEN_MASK;
                slot.generation.store(next, Ordering::Release);
                slot.pid_hint.store(sys::pid(), Ordering::Relaxed);
                return Ok(token(s as u32, next));
            }
        }
        Err(Error::errno(
            "attaching to the queue (all identity slots are held by open handles)",
            libc::EMFILE,
        ))
    }

    /// Detaches `token` (which this process attached through `lock_fd`):
    /// marks its slot free, then drops the kernel lock.
    pub fn detach(&self, token: u32, lock_fd: RawFd) {
        let s = (token >> GEN_BITS) as usize;
        if let Some(slot) = self.slots.get(s) {
            let _ = slot.generation.compare_exchange(
                token & GEN_MASK,
                (token + 1) & GEN_MASK,
                Ordering::Release,
                Ordering::Relaxed,
            );
            sys::ofd_unlock(lock_fd, LOCK_BASE + s as u64);
        }
    }

    /// Whether the handle `token` names is attached and alive, asked through
    /// `via_fd` (a description other than the token's own). When the kernel
    /// cannot be asked, the holder is presumed alive: a live holder must
    /// never be taken for dead.
    pub fn is_alive(&self, token: u32, via_fd: RawFd) -> bool {
        let s = (token >> GEN_BITS) as usize;
        let generation = token & GEN_MASK;
        let Some(slot) = self.slots.get(s) else {
            return false;
        };
        if generation % 2 == 0 || slot.generation.load(Ordering::Acquire) != generation {
            return false;
        }
        sys::ofd_is_locked(via_fd, LOCK_BASE + s as u64).unwrap_or(true)
    }
}

impl Table<'_> {
    /// The pid hints of the live handles attached to the queue other than
    /// `mine`, asked through `via_fd` (`mine`'s own description).
    pub fn peer_pid_hints(&self, mine: u32, via_fd: RawFd) -> Vec<u32> {
        let mut pids = Vec::new();
        for (s, slot) in self.slots.iter().enumerate() {
            let generation = slot.generation.load(Ordering::Acquire);
            let t = token(s as u32, generation);
            if generation % 2 == 1 && t != mine && self.is_alive(t, via_fd) {
                pids.push(slot.pid_hint.load(Ordering::Relaxed));
            }
        }
        pids
    }
}

/// This handle's identity: its token, and the liveness descriptor that
/// keeps it alive (kept in the handle's registry entry, so that fork
/// children close it). A fork child attaches anew on first use.
pub struct Identity {
    token: AtomicU32,
    generation: AtomicU32,
    reattach: Mutex<()>,
}

impl Identity {
    /// Attaches a handle that was just opened; `lock_fd` is a description of
    /// the segment file of its own.
    ///
    /// # Errors
    /// As [`Table::attach`].
    pub fn attach(table: Table<'_>, entry: &Entry, lock_fd: OwnedFd) -> Result<Identity> {
        let generation = handles::fork_generation();
        let token = table.attach(lock_fd.as_raw_fd())?;
        entry.set_lock_fd(std::os::fd::IntoRawFd::into_raw_fd(lock_fd));
        Ok(Identity {
            token: AtomicU32::new(token),
            generation: AtomicU32::new(generation),
            reattach: Mutex::new(()),
        })
    }

    /// This handle's token in this process, attaching anew first if the
    /// process is a fork child that has not used the handle yet
    /// (`reopen` gives the child a description of its own).
    ///
    /// # Errors
    /// Those of `reopen` and [`Table::attach`].
    #[inline]
    pub fn token(
        &self,
        table: Table<'_>,
        entry: &Entry,
        reopen: impl FnOnce() -> Result<OwnedFd>,
    ) -> Result<u32> {
        if self.generation.load(Ordering::Acquire) == handles::fork_generation() {
            return Ok(self.token.load(Ordering::Relaxed));
        }
        self.attach_anew(table, entry, reopen)
    }

    #[cold]
    fn attach_anew(
        &self,
        table: Table<'_>,
        entry: &Entry,
        reopen: impl FnOnce() -> Result<OwnedFd>,
    ) -> Result<u32> {
        let _serial = self.reattach.lock().unwrap_or_else(|p| p.into_inner());
        let generation = handles::fork_generation();
        if self.generation.load(Ordering::Acquire) != generation {
            let _no_cancel = sys::NoCancel::new();
            let fd = reopen()?;
            let token = table.attach(fd.as_raw_fd())?;
            entry.set_lock_fd(std::os::fd::IntoRawFd::into_raw_fd(fd));
            self.token.store(token, Ordering::Relaxed);
            self.generation.store(generation, Ordering::Release);
        }
        Ok(self.token.load(Ordering::Relaxed))
    }

    /// The token as last attached in this process (no re-attachment).
    pub fn current(&self) -> u32 {
        self.token.load(Ordering::Relaxed)
    }

    /// The token, if this process attached it (not a fork child that
    /// never used the handle).
    pub fn attached(&self) -> Option<u32> {
        (self.generation.load(Ordering::Acquire) == handles::fork_generation())
            .then(|| self.token.load(Ordering::Relaxed))
    }

    /// Detaches, if this process is the one that attached (a fork child
    /// that never used the handle leaves its parent's attachment alone).
    pub fn detach(&self, table: Table<'_>, entry: &Entry) {
        if self.generation.load(Ordering::Acquire) != handles::fork_generation() {
            return;
        }
        if let Some(fd) = entry.take_lock_fd() {
            table.detach(self.token.load(Ordering::Relaxed), fd);
            sys::close_raw(fd);
        }
    }
}
