//! Linux: files in `/dev/shm`, open-file-description locks, futexes, the
//! monotonic clock, signals, fork hooks and thread cancellation.
//!
//! Every function here is a thin, checked wrapper over one OS facility that
//! returns a typed outcome; the queue logic lives elsewhere. Calls that glibc
//! makes cancellation points (`fcntl(F_SETLKW)`, `nanosleep`...) are avoided
//! or issued as raw system calls, so that no wq call is a cancellation point.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::AtomicU32;

use crate::error::FixedText;

/// Where `shm_open` keeps its files: queue `/q` is `/dev/shm/q`.
pub const SHM_DIR: &str = "/dev/shm";

// glibc values (pthread.h); the libc crate does not export them for Linux.
const PTHREAD_CANCEL_DISABLE: libc::c_int = 1;

unsafe extern "C" {
    fn pthread_setcancelstate(state: libc::c_int, old: *mut libc::c_int) -> libc::c_int;
    fn pthread_atfork(
        prepare: Option<unsafe extern "C" fn()>,
        parent: Option<unsafe extern "C" fn()>,
        child: Option<unsafe extern "C" fn()>,
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

/// Takes ownership of a descriptor a successful call just returned.
fn owned(fd: libc::c_int) -> OwnedFd {
    // SAFETY: callers pass a descriptor that was just returned by the kernel
    // and is owned by nobody else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Creates the file `path` exclusively (`O_CREAT | O_EXCL`, never through a
/// symbolic link) with exactly `mode` (the umask does not apply).
/// `Ok(None)` when the name is taken.
///
/// # Errors
/// The failing call and its OS error.
pub fn create_exclusive(
    path: &CStr,
    mode: u32,
) -> Result<Option<OwnedFd>, (&'static str, io::Error)> {
    // SAFETY: `path` is NUL-terminated; flags and mode are plain integers.
    let fd = match check(unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            0o600 as libc::c_uint,
        )
    }) {
        Ok(fd) => owned(fd),
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => return Ok(None),
        Err(e) => return Err(("open(O_CREAT | O_EXCL)", e)),
    };
    // SAFETY: `fd` is an open descriptor owned by this function.
    check(unsafe { libc::fchmod(fd.as_raw_fd(), mode as libc::mode_t) })
        .map_err(|e| ("fchmod", e))?;
    Ok(Some(fd))
}

/// Opens the existing file `path` for reading and writing, never through a
/// symbolic link. `Ok(None)` when there is none.
///
/// # Errors
/// `open`'s OS error (`EACCES` without permission).
pub fn open_existing(path: &CStr) -> io::Result<Option<OwnedFd>> {
    // SAFETY: `path` is NUL-terminated; flags are plain integers.
    match check(unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDWR | libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK,
        )
    }) {
        Ok(fd) => Ok(Some(owned(fd))),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A second, independent open file description of the file behind `fd`
/// (so that locks taken through it are its own): through `/proc/self/fd`,
/// or, without `/proc`, through `path` if it still names the same file.
///
/// # Errors
/// The OS error of the last attempt; `ESTALE` when `path` names another file.
pub fn reopen(fd: &OwnedFd, path: &CStr) -> io::Result<OwnedFd> {
    let mut proc_path = FixedText::<32>::new();
    proc_path.set(format_args!("/proc/self/fd/{}", fd.as_raw_fd()));
    let proc_path = CStr::from_bytes_with_nul(proc_path.as_bytes_with_nul())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `proc_path` is NUL-terminated; flags are plain integers.
    let reopened =
        check(unsafe { libc::open(proc_path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) }).map(owned);
    if let Ok(new) = reopened {
        return Ok(new);
    }
    let new = open_existing(path)?.ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))?;
    let (a, b) = (file_info(fd)?, file_info(&new)?);
    if (a.dev, a.ino) != (b.dev, b.ino) {
        return Err(io::Error::from_raw_os_error(libc::ESTALE));
    }
    Ok(new)
}

/// What `fstat` tells about a segment file.
#[derive(Clone, Copy, Debug)]
pub struct FileInfo {
    /// Whether it is a regular file.
    pub regular: bool,
    /// Its size in bytes.
    pub len: u64,
    /// Bytes of storage allocated to it.
    pub allocated: u64,
    /// Its owner.
    pub uid: u32,
    /// Hard links to it (0 once removed).
    pub links: u64,
    dev: u64,
    ino: u64,
}

/// `fstat` of `fd`.
///
/// # Errors
/// `fstat`'s OS error.
pub fn file_info(fd: &OwnedFd) -> io::Result<FileInfo> {
    // SAFETY: an all-zero `stat` is a valid value of this plain C struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is open and `st` is a writable `stat`.
    check(unsafe { libc::fstat(fd.as_raw_fd(), &mut st) })?;
    Ok(FileInfo {
        regular: st.st_mode & libc::S_IFMT == libc::S_IFREG,
        len: u64::try_from(st.st_size).unwrap_or(0),
        allocated: u64::try_from(st.st_blocks).unwrap_or(0).saturating_mul(512),
        uid: st.st_uid,
        links: st.st_nlink,
        dev: st.st_dev,
        ino: st.st_ino,
    })
}

/// The effective uid of this process.
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The process id, kept in the segment only as a hint for humans.
pub fn pid() -> u32 {
    // SAFETY: getpid has no preconditions and cannot fail.
    unsafe { libc::getpid() as u32 }
}

/// The soft `RLIMIT_FSIZE` of this process, `None` when unlimited.
pub fn file_size_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a writable rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_FSIZE, &mut lim) } != 0
        || lim.rlim_cur == libc::RLIM_INFINITY
    {
        return None;
    }
    Some(lim.rlim_cur)
}

/// Sets the length of the file `fd`.
///
/// # Errors
/// `ftruncate`'s OS error.
pub fn set_len(fd: &OwnedFd, len: u64) -> io::Result<()> {
    let len = libc::off_t::try_from(len).map_err(|_| io::Error::from_raw_os_error(libc::EFBIG))?;
    // SAFETY: `fd` is an open descriptor.
    check(unsafe { libc::ftruncate(fd.as_raw_fd(), len) }).map(drop)
}

/// Reserves storage for bytes `0..len` of `fd` (what is allocated already
/// stays), so that a full `/dev/shm` fails here and never as SIGBUS later.
///
/// # Errors
/// `fallocate`'s OS error (`ENOSPC`).
pub fn allocate(fd: &OwnedFd, len: u64) -> io::Result<()> {
    let len = libc::off_t::try_from(len).map_err(|_| io::Error::from_raw_os_error(libc::EFBIG))?;
    loop {
        // SAFETY: `fd` is an open descriptor; mode 0 allocates without
        // changing what is stored.
        match check(unsafe { libc::fallocate(fd.as_raw_fd(), 0, 0, len) }) {
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            other => return other.map(drop),
        }
    }
}

/// Room in the filesystem that holds a file.
#[derive(Clone, Copy, Debug)]
pub struct Space {
    /// Bytes that an unprivileged process may still allocate there.
    pub free: u64,
    /// The filesystem's size in bytes (0 when it reports none).
    pub size: u64,
}

/// `fstatvfs` of `fd`: the room in its filesystem.
///
/// # Errors
/// `fstatvfs`'s OS error.
pub fn space(fd: &OwnedFd) -> io::Result<Space> {
    // SAFETY: an all-zero `statvfs` is a valid value of this plain C struct.
    let mut sv: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is open and `sv` is a writable `statvfs`.
    check(unsafe { libc::fstatvfs(fd.as_raw_fd(), &mut sv) })?;
    // The fields are 32 bits wide on some 32-bit targets.
    #[allow(clippy::unnecessary_cast)]
    let bytes = |blocks| (blocks as u64).saturating_mul(sv.f_frsize as u64);
    Ok(Space {
        free: bytes(sv.f_bavail),
        size: bytes(sv.f_blocks),
    })
}

/// Reads up to `len` bytes at offset 0 of `fd` into `buf`.
///
/// # Safety
/// `buf` must be valid for writes of `len` bytes.
///
/// # Errors
/// `pread`'s OS error.
pub unsafe fn read_start(fd: &OwnedFd, buf: *mut u8, len: usize) -> io::Result<usize> {
    // SAFETY: the caller guarantees `buf` is writable for `len` bytes.
    let n = unsafe { libc::pread(fd.as_raw_fd(), buf.cast(), len, 0) };
    usize::try_from(n).map_err(|_| last_os_error())
}

/// Writes `bytes` at offset 0 of `fd`, all of them.
///
/// # Errors
/// `pwrite`'s OS error (`ENOSPC`); `EIO` for a short write.
pub fn write_start(fd: &OwnedFd, bytes: &[u8]) -> io::Result<()> {
    // SAFETY: `bytes` is valid for reads of its length.
    let n = unsafe { libc::pwrite(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len(), 0) };
    match usize::try_from(n) {
        Ok(n) if n == bytes.len() => Ok(()),
        Ok(_) => Err(io::Error::from_raw_os_error(libc::EIO)),
        Err(_) => Err(last_os_error()),
    }
}

/// The C library's description of error number `errno`, without
/// allocating (glibc's `strerrordesc_np`); `None` where unknown.
pub fn errno_description(errno: i32) -> Option<&'static str> {
    #[cfg(target_env = "gnu")]
    {
        unsafe extern "C" {
            fn strerrordesc_np(errnum: libc::c_int) -> *const libc::c_char;
        }
        // SAFETY: strerrordesc_np takes any int and returns NULL or a static,
        // NUL-terminated, untranslated string.
        let text = unsafe { strerrordesc_np(errno) };
        if text.is_null() {
            return None;
        }
        // SAFETY: non-NULL: a static NUL-terminated string (see above).
        unsafe { CStr::from_ptr(text) }.to_str().ok()
    }
    #[cfg(not(target_env = "gnu"))]
    {
        let _ = errno;
        None
    }
}

/// A non-blocking eventfd (counter 0): readable while its counter is not 0.
///
/// # Errors
/// `eventfd`'s OS error (`EMFILE`).
pub fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: plain integer arguments; a descriptor or -1 comes back.
    check(unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) }).map(owned)
}

/// Reads or writes (`call`) an eventfd's 8-byte counter through `value`
/// with a raw system call, not a cancellation point. Failures (a counter
/// already 0 on a read, full on a write) are what callers ignore.
fn eventfd_counter(fd: RawFd, call: libc::c_long, value: &mut u64) {
    // SAFETY: `value` is 8 readable and writable bytes for the call; the
    // descriptor is non-blocking.
    unsafe { libc::syscall(call, fd, (value as *mut u64).cast::<libc::c_void>(), 8usize) };
}

/// Adds 1 to an eventfd's counter: it polls readable.
pub fn eventfd_signal(fd: RawFd) {
    eventfd_counter(fd, libc::SYS_write, &mut 1);
}

/// Resets an eventfd's counter to 0.
pub fn eventfd_drain(fd: RawFd) {
    eventfd_counter(fd, libc::SYS_read, &mut 0);
}

/// Sets the calling thread's errno.
pub fn set_errno(value: i32) {
    // SAFETY: __errno_location returns a valid pointer to this thread's errno.
    unsafe { *libc::__errno_location() = value };
}

/// Removes the file `path`. `Ok(false)` if there was none.
///
/// # Errors
/// `unlink`'s OS error.
pub fn unlink(path: &CStr) -> io::Result<bool> {
    // SAFETY: `path` is NUL-terminated.
    match check(unsafe { libc::unlink(path.as_ptr()) }) {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
        Err(e) => Err(e),
    }
}

/// An open-file-description lock request on one byte at `offset`.
fn ofd_lock_request(kind: libc::c_int, offset: u64) -> libc::flock {
    // SAFETY: an all-zero flock is a valid value of this plain C struct.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = kind as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = offset as libc::off_t;
    fl.l_len = 1;
    fl
}

/// `fcntl` as a raw system call: glibc's wrapper is a cancellation point
/// for some commands, and wq calls must not be.
fn fcntl_lock(fd: RawFd, cmd: libc::c_int, fl: &mut libc::flock) -> io::Result<()> {
    // SAFETY: `fl` is a valid, writable flock for the duration of the call.
    let ret = unsafe { libc::syscall(libc::SYS_fcntl, fd, cmd, fl as *mut libc::flock) };
    if ret == -1 {
        Err(last_os_error())
    } else {
        Ok(())
    }
}

/// Takes an exclusive open-file-description lock on the byte at `offset`
/// through `fd`, without waiting. `Ok(false)` when another description
/// holds it. The kernel drops it when the description's last reference
/// goes away (the process exits or dies, the descriptor is closed).
///
/// # Errors
/// `fcntl`'s OS error other than a conflict.
pub fn ofd_try_lock(fd: RawFd, offset: u64) -> io::Result<bool> {
    let mut fl = ofd_lock_request(libc::F_WRLCK, offset);
    match fcntl_lock(fd, libc::F_OFD_SETLK, &mut fl) {
        Ok(()) => Ok(true),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EACCES)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Releases a lock taken with [`ofd_try_lock`] through the same `fd`.
pub fn ofd_unlock(fd: RawFd, offset: u64) {
    let mut fl = ofd_lock_request(libc::F_UNLCK, offset);
    // Unlocking a byte this description holds cannot fail but for a bad fd.
    let _ = fcntl_lock(fd, libc::F_OFD_SETLK, &mut fl);
}

/// Whether any open file description other than `fd`'s holds a lock on the
/// byte at `offset`.
///
/// # Errors
/// `fcntl`'s OS error.
pub fn ofd_is_locked(fd: RawFd, offset: u64) -> io::Result<bool> {
    let mut fl = ofd_lock_request(libc::F_WRLCK, offset);
    fcntl_lock(fd, libc::F_OFD_GETLK, &mut fl)?;
    Ok(fl.l_type != libc::F_UNLCK as libc::c_short)
}

/// Nanoseconds on the monotonic clock.
pub fn monotonic_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

/// Nanoseconds on the monotonic clock as of the last timer tick (a few
/// milliseconds behind at most, and cheaper to read): for checks that
/// need no precision.
pub fn coarse_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC_COARSE)
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a writable timespec; both monotonic clocks always
    // exist on Linux.
    unsafe { libc::clock_gettime(clock, &mut ts) };
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

/// `struct futex_waitv` of `<linux/futex.h>`.
#[repr(C)]
struct FutexWaitv {
    val: u64,
    uaddr: u64,
    flags: u32,
    reserved: u32,
}

const FUTEX2_SIZE_U32: u32 = 0x02;
const FUTEX2_PRIVATE: u32 = 128;

/// Sleeps while `*word == expected` (a futex shared between processes: wake
/// it with a shared [`futex_wake`], even where it lies in private memory)
/// and `*interrupt == 0` (a futex private to this process), until the absolute
/// monotonic time `until_ns` (None: no limit). Returns on a wake-up of
/// either word, a changed value, a signal or the time; callers re-check
/// their condition. Kernels without `futex_waitv` (before 5.16) sleep on
/// `word` alone in slices of at most 5 ms, so an interrupt is seen that late.
pub fn futex_wait(word: &AtomicU32, expected: u32, interrupt: &AtomicU32, until_ns: Option<u64>) {
    let waiters = [
        FutexWaitv {
            val: u64::from(expected),
            uaddr: word.as_ptr() as u64,
            flags: FUTEX2_SIZE_U32,
            reserved: 0,
        },
        FutexWaitv {
            val: 0,
            uaddr: interrupt.as_ptr() as u64,
            flags: FUTEX2_SIZE_U32 | FUTEX2_PRIVATE,
            reserved: 0,
        },
    ];
    let ts = until_ns.map(timespec_of_ns);
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: both words are valid, aligned 32-bit atomics for the duration
    // of the call and the kernel only reads them; `waiters` and `ts` outlive it.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_futex_waitv,
            waiters.as_ptr(),
            waiters.len() as libc::c_uint,
            0 as libc::c_uint,
            ts_ptr,
            libc::CLOCK_MONOTONIC,
        )
    };
    if ret == -1 && last_os_error().raw_os_error() == Some(libc::ENOSYS) {
        let slice = 5_000_000;
        let left = until_ns.map_or(slice, |u| u.saturating_sub(monotonic_ns()).min(slice));
        let rel = timespec_of_ns(left);
        // SAFETY: as above; FUTEX_WAIT takes a relative timeout.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAIT,
                expected,
                &rel as *const libc::timespec,
            );
        }
    }
}

/// Wakes up to `count` sleepers of [`futex_wait`] on `word`; `shared` when
/// `word` lives in shared memory (waiters in other processes).
pub fn futex_wake(word: &AtomicU32, count: i32, shared: bool) {
    let op = if shared {
        libc::FUTEX_WAKE
    } else {
        libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG
    };
    // SAFETY: `word` is a valid, aligned 32-bit atomic; FUTEX_WAKE does not
    // access memory beyond looking the address up. The call leaves errno
    // as it was unless it fails, and it cannot fail on a valid address.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), op, count);
    }
}

/// Sleeps for `ns` nanoseconds without being a cancellation point (a
/// futex wait on a private word nobody wakes).
pub fn sleep_ns(ns: u64) {
    let word = AtomicU32::new(0);
    let never = AtomicU32::new(0);
    futex_wait(&word, 0, &never, Some(monotonic_ns().saturating_add(ns)));
}

/// Thread cancellation stays disabled while this lives: wq calls are not
/// cancellation points, and a cancellation unwinding through Rust frames
/// would abort the process.
pub struct NoCancel(libc::c_int);

impl NoCancel {
    /// Disables cancellation for the calling thread until the guard drops.
    pub fn new() -> NoCancel {
        let mut old = 0;
        // SAFETY: `old` is writable; the state is a valid constant.
        unsafe { pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &mut old) };
        NoCancel(old)
    }
}

impl Drop for NoCancel {
    fn drop(&mut self) {
        let mut ignored = 0;
        // SAFETY: restores the state read by `new`.
        unsafe { pthread_setcancelstate(self.0, &mut ignored) };
    }
}

/// Runs `child` in the child process after every `fork()`.
///
/// # Errors
/// `pthread_atfork`'s error number.
pub fn on_fork_child(child: unsafe extern "C" fn()) -> io::Result<()> {
    // SAFETY: `child` is a function that stays loaded as long as this
    // library (glibc unregisters it when the library is unloaded).
    match unsafe { pthread_atfork(None, None, Some(child)) } {
        0 => Ok(()),
        err => Err(io::Error::from_raw_os_error(err)),
    }
}

/// Closes a descriptor (in a fork child's handler: async-signal-safe).
pub fn close_raw(fd: RawFd) {
    // SAFETY: the caller owns `fd` and never uses it again; close(2) as a
    // raw system call is async-signal-safe and not a cancellation point.
    unsafe { libc::syscall(libc::SYS_close, fd) };
}

/// The signal handler type [`install_sigbus`] takes.
pub type FaultHandler = extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);

/// Installs `handler` for SIGBUS and returns the previous disposition, to
/// chain to for faults that are not wq's.
///
/// # Errors
/// `sigaction`'s OS error.
pub fn install_sigbus(handler: FaultHandler) -> io::Result<libc::sigaction> {
    // SAFETY: all-zero sigaction structs are valid values.
    let mut new: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    new.sa_sigaction = handler as usize;
    new.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_RESTART;
    // SAFETY: `new.sa_mask` is a writable sigset.
    unsafe { libc::sigemptyset(&mut new.sa_mask) };
    // SAFETY: both structs are valid for the call.
    check(unsafe { libc::sigaction(libc::SIGBUS, &new, &mut old) })?;
    Ok(old)
}

/// Hands a SIGBUS that is not wq's to the disposition `prev` found before
/// wq's handler: its handler, or the default action (the fault repeats when
/// the handler returns, and then kills the process as it would have).
///
/// # Safety
/// Must be called from the SIGBUS handler with its arguments.
pub unsafe fn chain_sigbus(
    prev: &libc::sigaction,
    sig: libc::c_int,
    info: *mut libc::siginfo_t,
    ctx: *mut libc::c_void,
) {
    let handler = prev.sa_sigaction;
    if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
        // SAFETY: all-zero sigaction is SIG_DFL with an empty mask.
        let dfl: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: sigaction is async-signal-safe; `dfl` is valid.
        unsafe { libc::sigaction(libc::SIGBUS, &dfl, std::ptr::null_mut()) };
    } else if prev.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: the previous handler was installed for SIGBUS with
        // SA_SIGINFO, so it has this signature.
        let f: FaultHandler = unsafe { std::mem::transmute(handler) };
        f(sig, info, ctx);
    } else {
        // SAFETY: a handler installed without SA_SIGINFO takes the signal number.
        let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(handler) };
        f(sig);
    }
}

/// Replaces `len` bytes of mappings at `addr` by private zero pages, so
/// that accesses to a segment whose file was truncated under it no longer
/// fault. Async-signal-safe.
///
/// # Errors
/// `mmap`'s OS error.
pub fn map_zeros_over(addr: usize, len: usize) -> io::Result<()> {
    // SAFETY: MAP_FIXED over a range this process mapped itself (the
    // caller's contract); mmap is async-signal-safe.
    let p = unsafe {
        libc::mmap(
            addr as *mut libc::c_void,
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        Err(last_os_error())
    } else {
        Ok(())
    }
}

/// The faulting address of a SIGBUS.
///
/// # Safety
/// `info` must be the siginfo the kernel passed to a SIGBUS handler.
pub unsafe fn fault_address(info: *const libc::siginfo_t) -> usize {
    // SAFETY: guaranteed by the caller; si_addr is valid for SIGBUS.
    unsafe { (*info).si_addr() as usize }
}

/// errno of the calling thread, saved and restored around a signal handler.
pub fn errno_location() -> *mut libc::c_int {
    // SAFETY: __errno_location always returns this thread's errno.
    unsafe { libc::__errno_location() }
}
