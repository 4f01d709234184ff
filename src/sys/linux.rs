//! Linux: POSIX shared memory files in `/dev/shm`, robust process-shared
//! pthread mutexes, futexes and the monotonic clock.
//!
//! Every function here is a thin, checked wrapper over one OS facility; the
//! queue logic lives elsewhere.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// Where `shm_open` keeps its files: queue `/q` is `/dev/shm/q`.
pub const SHM_DIR: &str = "/dev/shm";

/// The pthread mutex type that lives in the shared header.
pub type RawMutex = libc::pthread_mutex_t;

// glibc values (pthread.h); the libc crate does not export them for Linux.
const PTHREAD_PROCESS_SHARED: libc::c_int = 1;
const PTHREAD_MUTEX_ROBUST: libc::c_int = 1;

unsafe extern "C" {
    // glibc >= 2.30; the libc crate does not bind it.
    fn pthread_mutex_clocklock(
        mutex: *mut libc::pthread_mutex_t,
        clock: libc::clockid_t,
        abstime: *const libc::timespec,
    ) -> libc::c_int;
}

fn last_os_error() -> io::Error {
    io::Error::last_os_error()
}

/// Converts a `-1`-on-failure return value into a `Result`.
fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(last_os_error())
    } else {
        Ok(ret)
    }
}

/// Creates an unnamed file in `/dev/shm` (`O_TMPFILE`) with exactly `mode`
/// (the umask does not apply), `len` bytes long, its memory reserved up
/// front so that a full `/dev/shm` fails here and never as SIGBUS later.
///
/// # Errors
/// The failing call and its OS error (`ENOSPC` when `/dev/shm` is full).
pub fn create_unnamed(len: u64, mode: u32) -> Result<OwnedFd, (&'static str, io::Error)> {
    let dir = CString::new(SHM_DIR).expect("SHM_DIR has no NUL");
    // SAFETY: `dir` is NUL-terminated; the flags and mode are plain integers.
    let fd = check(unsafe {
        libc::open(
            dir.as_ptr(),
            libc::O_TMPFILE | libc::O_RDWR | libc::O_CLOEXEC,
            0o600,
        )
    })
    .map_err(|e| ("open(O_TMPFILE) in /dev/shm", e))?;
    // SAFETY: `fd` was just returned by open and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: `fd` is an open descriptor owned by this function.
    check(unsafe { libc::fchmod(fd.as_raw_fd(), mode as libc::mode_t) })
        .map_err(|e| ("fchmod", e))?;
    let len = libc::off_t::try_from(len)
        .map_err(|_| ("ftruncate", io::Error::from_raw_os_error(libc::EFBIG)))?;
    // SAFETY: `fd` is an open descriptor owned by this function.
    check(unsafe { libc::ftruncate(fd.as_raw_fd(), len) }).map_err(|e| ("ftruncate", e))?;
    // SAFETY: `fd` is an open descriptor; posix_fallocate returns an errno value.
    let err = unsafe { libc::posix_fallocate(fd.as_raw_fd(), 0, len) };
    if err != 0 {
        return Err(("posix_fallocate", io::Error::from_raw_os_error(err)));
    }
    Ok(fd)
}

/// Gives the unnamed file `fd` the shared-memory name `name` ("/q"),
/// atomically: the name appears fully initialised or not at all.
/// Returns `Ok(false)` when the name is already taken.
///
/// # Errors
/// `linkat`'s OS error other than `EEXIST`.
pub fn publish(fd: &OwnedFd, name: &CStr) -> io::Result<bool> {
    let from = CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).expect("no NUL");
    let to = shm_path(name);
    // SAFETY: both paths are NUL-terminated strings that outlive the call.
    let ret = unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    };
    match check(ret) {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(false),
        Err(e) => Err(e),
    }
}

fn shm_path(name: &CStr) -> CString {
    let mut path = SHM_DIR.as_bytes().to_vec();
    path.extend_from_slice(name.to_bytes());
    CString::new(path).expect("names hold no NUL")
}

/// Opens the existing shared-memory object `name` ("/q") for reading and
/// writing. `Ok(None)` when there is none.
///
/// # Errors
/// `shm_open`'s OS error (`EACCES` without permission).
pub fn open_existing(name: &CStr) -> io::Result<Option<OwnedFd>> {
    // SAFETY: `name` is NUL-terminated; flags and mode are plain integers.
    match check(unsafe {
        libc::shm_open(
            name.as_ptr(),
            libc::O_RDWR | libc::O_CLOEXEC | libc::O_NOFOLLOW,
            0,
        )
    }) {
        // SAFETY: the descriptor was just returned by shm_open and is owned by nobody else.
        Ok(fd) => Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) })),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Size in bytes of the regular file `fd`; `Ok(None)` if it is not a regular file.
///
/// # Errors
/// `fstat`'s OS error.
pub fn regular_file_size(fd: &OwnedFd) -> io::Result<Option<u64>> {
    // SAFETY: an all-zero `stat` is a valid value of this plain C struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is open and `st` is a writable `stat`.
    check(unsafe { libc::fstat(fd.as_raw_fd(), &mut st) })?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Ok(None);
    }
    Ok(u64::try_from(st.st_size).ok())
}

/// Removes the shared-memory name `name` ("/q"). `Ok(false)` if there was none.
///
/// # Errors
/// `shm_unlink`'s OS error.
pub fn unlink(name: &CStr) -> io::Result<bool> {
    // SAFETY: `name` is NUL-terminated.
    match check(unsafe { libc::shm_unlink(name.as_ptr()) }) {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Nanoseconds on the monotonic clock.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

fn timespec_of_ns(ns: u64) -> libc::timespec {
    libc::timespec {
        tv_sec: (ns / 1_000_000_000).min(i64::MAX as u64) as libc::time_t,
        tv_nsec: (ns % 1_000_000_000) as libc::c_long,
    }
}

/// Sleeps while `*word == expected`, at most `timeout` (None: no limit).
/// Returns on a wake-up, a changed word, a signal or the timeout; callers
/// re-check their condition. The futex is shared (no `FUTEX_PRIVATE_FLAG`)
/// so that waiters and wakers in different processes meet.
pub fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
    let ts = timeout.map(|t| timespec_of_ns(u64::try_from(t.as_nanos()).unwrap_or(u64::MAX)));
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `word` is a valid, aligned 32-bit atomic for the duration of the
    // call; the kernel only reads it. `ts_ptr` is NULL or points to `ts`.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            ts_ptr,
        );
    }
}

/// Wakes every process and thread sleeping in [`futex_wait`] on `word`.
pub fn futex_wake_all(word: &AtomicU32) {
    // SAFETY: `word` is a valid, aligned 32-bit atomic; FUTEX_WAKE does not
    // access memory beyond looking the address up.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, i32::MAX);
    }
}

/// Byte offset of glibc's `__kind` in `pthread_mutex_t` (64-bit glibc:
/// `__lock`, `__count`, `__owner`, `__nusers`, then `__kind`).
#[cfg(all(target_env = "gnu", target_pointer_width = "64"))]
const KIND_OFFSET: usize = 16;

/// The `__kind` word of a robust, process-shared mutex as this glibc writes
/// it, learnt once from a mutex initialised here.
#[cfg(all(target_env = "gnu", target_pointer_width = "64"))]
fn expected_kind() -> i32 {
    static KIND: std::sync::OnceLock<i32> = std::sync::OnceLock::new();
    *KIND.get_or_init(|| {
        // SAFETY: an all-zero pthread_mutex_t is valid storage for init.
        let mut m: RawMutex = unsafe { std::mem::zeroed() };
        // SAFETY: `m` is a private, writable mutex that no one else uses.
        unsafe { mutex_init(&mut m) }.expect("a local robust mutex can be initialised");
        // SAFETY: KIND_OFFSET + 4 <= size_of::<RawMutex>() (40); read as an
        // unaligned i32 from the private copy.
        let kind = unsafe {
            std::ptr::read_unaligned((&raw const m).cast::<u8>().add(KIND_OFFSET).cast::<i32>())
        };
        // SAFETY: `m` is initialised, unlocked and unused.
        unsafe { libc::pthread_mutex_destroy(&mut m) };
        kind
    })
}

/// The `__kind` word inside the mutex at `m` (4-byte aligned, as the mutex is).
#[cfg(all(target_env = "gnu", target_pointer_width = "64"))]
fn kind_word(m: *mut RawMutex) -> *const std::sync::atomic::AtomicI32 {
    m.cast::<u8>().wrapping_add(KIND_OFFSET).cast()
}

/// Whether the mutex still has the type it was created with. glibc trusts
/// this word: a scribbled one sends it down paths for other mutex types,
/// some of which abort the process on their internal assertions. Checked
/// before every lock, so that a scribbled segment is an error, not a crash.
///
/// # Safety
/// `m` must point to a mapped `pthread_mutex_t` (possibly scribbled over).
#[cfg(all(target_env = "gnu", target_pointer_width = "64"))]
pub unsafe fn mutex_kind_intact(m: *mut RawMutex) -> bool {
    // SAFETY: kind_word points inside the mapped, aligned mutex (caller's contract).
    unsafe { &*kind_word(m) }.load(std::sync::atomic::Ordering::Relaxed) == expected_kind()
}

/// Writes the creation-time type back into a mutex the caller holds, so
/// that unlocking it takes the right path even if a peer scribbled over it.
///
/// # Safety
/// The calling thread must hold `m`.
#[cfg(all(target_env = "gnu", target_pointer_width = "64"))]
pub unsafe fn mutex_restore_kind(m: *mut RawMutex) {
    // SAFETY: the caller guarantees `m` is mapped (and held).
    if !unsafe { mutex_kind_intact(m) } {
        // SAFETY: kind_word points inside the mapped, aligned mutex we hold.
        unsafe { &*kind_word(m) }.store(expected_kind(), std::sync::atomic::Ordering::Relaxed);
    }
}

/// Other C libraries: no known type word to check.
///
/// # Safety
/// None beyond the signature; kept `unsafe` to match the glibc version.
#[cfg(not(all(target_env = "gnu", target_pointer_width = "64")))]
pub unsafe fn mutex_kind_intact(_m: *mut RawMutex) -> bool {
    true
}

/// Other C libraries: nothing to restore.
///
/// # Safety
/// None beyond the signature; kept `unsafe` to match the glibc version.
#[cfg(not(all(target_env = "gnu", target_pointer_width = "64")))]
pub unsafe fn mutex_restore_kind(_m: *mut RawMutex) {}

/// Initialises a robust, process-shared mutex in place.
///
/// # Safety
/// `m` must point to writable memory for one `pthread_mutex_t` that no
/// process uses yet.
///
/// # Errors
/// The errno value of the failing pthread call.
pub unsafe fn mutex_init(m: *mut RawMutex) -> Result<(), i32> {
    // SAFETY: an all-zero attribute object is overwritten by pthread_mutexattr_init.
    let mut attr: libc::pthread_mutexattr_t = unsafe { std::mem::zeroed() };
    // SAFETY: `attr` is writable; each call returns 0 or an errno value.
    let ret = unsafe {
        let mut r = libc::pthread_mutexattr_init(&mut attr);
        if r == 0 {
            r = libc::pthread_mutexattr_setpshared(&mut attr, PTHREAD_PROCESS_SHARED);
        }
        if r == 0 {
            r = libc::pthread_mutexattr_setrobust(&mut attr, PTHREAD_MUTEX_ROBUST);
        }
        if r == 0 {
            r = libc::pthread_mutex_init(m, &attr);
        }
        libc::pthread_mutexattr_destroy(&mut attr);
        r
    };
    if ret == 0 { Ok(()) } else { Err(ret) }
}

/// `pthread_mutex_trylock`: 0, `EBUSY`, `EOWNERDEAD` or another errno value.
///
/// # Safety
/// `m` must point to a mapped `pthread_mutex_t` (possibly scribbled over).
pub unsafe fn mutex_trylock(m: *mut RawMutex) -> i32 {
    // SAFETY: the caller guarantees `m` is mapped memory of the right size.
    unsafe { libc::pthread_mutex_trylock(m) }
}

/// Locks, giving up at `until_ns` on the monotonic clock (None: never).
/// Returns 0, `ETIMEDOUT`, `EOWNERDEAD` or another errno value.
///
/// # Safety
/// `m` must point to a mapped `pthread_mutex_t` (possibly scribbled over).
pub unsafe fn mutex_lock_until(m: *mut RawMutex, until_ns: Option<u64>) -> i32 {
    match until_ns {
        // SAFETY: the caller guarantees `m` is mapped memory of the right size.
        None => unsafe { libc::pthread_mutex_lock(m) },
        Some(ns) => {
            let ts = timespec_of_ns(ns);
            // SAFETY: as above; `ts` outlives the call.
            unsafe { pthread_mutex_clocklock(m, libc::CLOCK_MONOTONIC, &ts) }
        }
    }
}

/// Marks a mutex whose owner died as consistent again (after repair).
///
/// # Safety
/// The calling thread must hold `m`, acquired with `EOWNERDEAD`.
pub unsafe fn mutex_consistent(m: *mut RawMutex) -> i32 {
    // SAFETY: guaranteed by the caller.
    unsafe { libc::pthread_mutex_consistent(m) }
}

/// Unlocks a mutex held by the calling thread.
///
/// # Safety
/// The calling thread must hold `m`.
pub unsafe fn mutex_unlock(m: *mut RawMutex) -> i32 {
    // SAFETY: guaranteed by the caller.
    unsafe { libc::pthread_mutex_unlock(m) }
}
