//! The process-wide registry of open handles, for the two things that
//! happen to a process rather than to a call:
//!
//! - **fork**: a child inherits its parent's descriptors, among them each
//!   handle's liveness lock (see [`crate::liveness`]). A child that kept them
//!   would keep its parent looking alive after the parent died, so a handler
//!   run in every fork child closes them all at once and bumps
//!   [`fork_generation`]; a child that goes on using a handle attaches it
//!   anew, with an identity of its own.
//! - **SIGBUS**: a peer that truncates a segment makes every access to the
//!   lost pages fault. wq's SIGBUS handler maps private zero pages over the
//!   whole mapping of a faulting handle (as libwayland-server does for its
//!   shm pools) and flags it as broken, so that the access completes and the
//!   call reports [`crate::Error::Corrupted`] instead of the process dying.
//!   Faults elsewhere are handed to the handler that was installed before.
//!
//! Entries live in blocks that are never freed, linked lock-free, so the
//! fork and signal handlers can walk them without locks or allocation.

use std::os::fd::RawFd;
use std::ptr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicUsize, Ordering};

use crate::error::{Error, Result};
use crate::sys;

const BLOCK: usize = 64;

/// One open handle's process-wide state.
pub struct Entry {
    used: AtomicBool,
    map_start: AtomicUsize,
    map_len: AtomicUsize,
    broken: AtomicBool,
    lock_fd: AtomicI32,
}

struct Block {
    entries: [Entry; BLOCK],
    next: AtomicPtr<Block>,
}

impl Block {
    const fn new() -> Block {
        Block {
            entries: [const {
                Entry {
                    used: AtomicBool::new(false),
                    map_start: AtomicUsize::new(0),
                    map_len: AtomicUsize::new(0),
                    broken: AtomicBool::new(false),
                    lock_fd: AtomicI32::new(-1),
                }
            }; BLOCK],
            next: AtomicPtr::new(ptr::null_mut()),
        }
    }
}

static FIRST: Block = Block::new();
static FORK_GENERATION: AtomicU32 = AtomicU32::new(0);
/// SIGBUS's disposition before wq's handler, once installed.
static PREVIOUS_SIGBUS: OnceLock<libc::sigaction> = OnceLock::new();
static HOOKS: OnceLock<std::result::Result<(), i32>> = OnceLock::new();

/// Bumped in every fork child: a handle whose identity was made in another
/// generation must attach anew.
#[inline]
pub fn fork_generation() -> u32 {
    FORK_GENERATION.load(Ordering::Acquire)
}

fn blocks() -> impl Iterator<Item = &'static Block> {
    let mut next: *const Block = &FIRST;
    std::iter::from_fn(move || {
        // SAFETY: `next` is null or a block that is never freed (FIRST, or
        // one leaked by `register`).
        let block = unsafe { next.as_ref() }?;
        next = block.next.load(Ordering::Acquire);
        Some(block)
    })
}

fn entries() -> impl Iterator<Item = &'static Entry> {
    blocks().flat_map(|b| b.entries.iter())
}

/// Registers a handle whose segment is mapped at `start..start + len`.
/// The first call installs the fork and SIGBUS handlers.
///
/// # Errors
/// [`Error::System`] when a handler cannot be installed or memory for the
/// registry cannot be had (`ENOMEM`).
pub fn register(start: usize, len: usize) -> Result<&'static Entry> {
    install_hooks()?;
    loop {
        for entry in entries() {
            if entry
                .used
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                entry.broken.store(false, Ordering::Relaxed);
                entry.lock_fd.store(-1, Ordering::Relaxed);
                entry.map_len.store(len, Ordering::Relaxed);
                entry.map_start.store(start, Ordering::Release);
                return Ok(entry);
            }
        }
        grow()?;
    }
}

/// Appends a block to the registry, without aborting when memory is short.
fn grow() -> Result<()> {
    let layout = std::alloc::Layout::new::<Block>();
    // SAFETY: the layout has a non-zero size.
    let raw = unsafe { std::alloc::alloc(layout) }.cast::<Block>();
    if raw.is_null() {
        return Err(Error::errno("allocating the handle registry", libc::ENOMEM));
    }
    // SAFETY: `raw` is valid for writing one Block.
    unsafe { raw.write(Block::new()) };
    let mut last = &FIRST;
    loop {
        match last
            .next
            .compare_exchange(ptr::null_mut(), raw, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => return Ok(()),
            // SAFETY: a non-null `next` is a block that is never freed.
            Err(next) => last = unsafe { &*next },
        }
    }
}

fn install_hooks() -> Result<()> {
    let installed = HOOKS.get_or_init(|| {
        let previous = sys::install_sigbus(on_sigbus).map_err(|e| e.raw_os_error().unwrap_or(0))?;
        let _ = PREVIOUS_SIGBUS.set(previous);
        sys::on_fork_child(on_fork_child).map_err(|e| e.raw_os_error().unwrap_or(0))
    });
    installed.map_err(|errno| Error::errno("installing the SIGBUS and fork handlers", errno))
}

impl Entry {
    /// Whether the SIGBUS handler found this handle's segment truncated.
    #[inline]
    pub fn broken(&self) -> bool {
        self.broken.load(Ordering::Relaxed)
    }

    /// Marks the handle's segment as broken for good (it was truncated).
    pub fn mark_broken(&self) {
        self.broken.store(true, Ordering::Release);
    }

    /// Hands the handle's liveness descriptor to the registry, which closes
    /// it in fork children.
    pub fn set_lock_fd(&self, fd: RawFd) {
        self.lock_fd.store(fd, Ordering::Release);
    }

    /// The liveness descriptor, if this process still has it.
    #[inline]
    pub fn lock_fd(&self) -> Option<RawFd> {
        let fd = self.lock_fd.load(Ordering::Acquire);
        (fd >= 0).then_some(fd)
    }

    /// Takes the liveness descriptor back (the caller closes it).
    pub fn take_lock_fd(&self) -> Option<RawFd> {
        let fd = self.lock_fd.swap(-1, Ordering::AcqRel);
        (fd >= 0).then_some(fd)
    }

    /// Frees the entry; called before the segment is unmapped.
    pub fn release(&self) {
        self.map_start.store(0, Ordering::Release);
        self.map_len.store(0, Ordering::Relaxed);
        self.used.store(false, Ordering::Release);
    }
}

/// Runs in the child after every fork: closes the inherited liveness
/// descriptors, so that the parent's identities die with the parent.
unsafe extern "C" fn on_fork_child() {
    for entry in entries() {
        if let Some(fd) = entry.take_lock_fd() {
            sys::close_raw(fd);
        }
    }
    FORK_GENERATION.fetch_add(1, Ordering::AcqRel);
}

extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let errno = sys::errno_location();
    // SAFETY: errno_location is this thread's errno; restored below.
    let saved = unsafe { *errno };
    // SAFETY: the kernel passes a SIGBUS siginfo.
    let addr = unsafe { sys::fault_address(info) };
    let mut ours = false;
    for entry in entries() {
        let start = entry.map_start.load(Ordering::Acquire);
        let len = entry.map_len.load(Ordering::Relaxed);
        if start != 0 && addr >= start && addr - start < len {
            ours = sys::map_zeros_over(start, len).is_ok();
            entry.broken.store(true, Ordering::Release);
            break;
        }
    }
    if !ours {
        if let Some(prev) = PREVIOUS_SIGBUS.get() {
            // SAFETY: called from the SIGBUS handler with its own arguments.
            unsafe { sys::chain_sigbus(prev, sig, info, ctx) };
        }
    }
    // SAFETY: as above.
    unsafe { *errno = saved };
}
