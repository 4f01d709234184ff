//! Named shared-memory segments: names, creation, opening, validation of
//! what was found (owner, allocation, header), mapping and removal.
//!
//! Creation makes the name first (`O_CREAT | O_EXCL`), so racing creators
//! never reserve more than one queue's worth of memory, and holds a kernel
//! lock on the file's [`CREATION_BYTE`] while it sizes the file, writes the
//! geometry (state `CREATING`), reserves the memory and marks it `READY`.
//! Openers that find a segment not yet ready wait while that lock is held
//! (at most [`READY_WAIT`]); a segment whose creator died after writing its
//! geometry is finished by the next opener; one whose creator died before is
//! reported as unfinished. Nothing needs `/proc`.

use std::ffi::CStr;
use std::mem::size_of;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use memmap2::{MmapOptions, MmapRaw};

use crate::error::{Error, IncompatibleCause, NoSpace, Result, text};
use crate::handles::{self, Entry};
use crate::layout::{
    DATA_OFFSET, Geometry, Header, IDENTITY_OFFSET, IDENTITY_SLOTS, LEASE_OFFSET, LEASE_SLOTS,
    LeaseSlot, Slot, Stage,
};
use crate::liveness::CREATION_BYTE;
use crate::options::{OpenMode, Options};
use crate::sys;

/// Longest name after the leading slash.
pub const MAX_NAME_LEN: usize = 250;
/// How long an opener waits for a creator that is still initialising.
pub const READY_WAIT: Duration = Duration::from_secs(10);
/// How long an empty, unlocked file may stay so before it is reported as
/// unfinished (a creator makes its name and locks it a moment apart).
const UNLOCKED_GRACE_NS: u64 = 100_000_000;

/// A validated queue name: the `shm_open` form `"/name"` and its file.
#[derive(Debug, PartialEq, Eq)]
pub struct Name {
    /// `/dev/shm/name` and a NUL, built without aborting on a full heap.
    path: Vec<u8>,
}

impl Name {
    /// Parses `"name"` or `"/name"`: after the slash, 1 to 250 characters of
    /// `A-Z a-z 0-9 . _ -`, not `.` or `..`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming what is wrong.
    pub fn parse(name: &str) -> Result<Name> {
        let bare = name.strip_prefix('/').unwrap_or(name);
        let bad = |why: std::fmt::Arguments<'_>| {
            Err(Error::invalid(format_args!("queue name {name:?} {why}")))
        };
        if bare.is_empty() || bare.len() > MAX_NAME_LEN {
            return bad(format_args!(
                "must have 1 to {MAX_NAME_LEN} characters after the '/'"
            ));
        }
        if bare == "." || bare == ".." {
            return bad(format_args!("must not be '.' or '..'"));
        }
        if !bare
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return bad(format_args!("may only hold A-Z a-z 0-9 . _ -"));
        }
        let mut path = Vec::new();
        path.try_reserve_exact(sys::SHM_DIR.len() + 2 + bare.len())
            .map_err(|_| Error::errno("allocating a queue name", libc::ENOMEM))?;
        path.extend_from_slice(sys::SHM_DIR.as_bytes());
        path.push(b'/');
        path.extend_from_slice(bare.as_bytes());
        path.push(0);
        Ok(Name { path })
    }

    /// A copy, or an error when memory is short.
    fn try_clone(&self) -> Result<Name> {
        let mut path = Vec::new();
        path.try_reserve_exact(self.path.len())
            .map_err(|_| Error::errno("allocating a queue name", libc::ENOMEM))?;
        path.extend_from_slice(&self.path);
        Ok(Name { path })
    }

    /// The file, `/dev/shm/name`.
    fn path(&self) -> &CStr {
        CStr::from_bytes_with_nul(&self.path).unwrap_or(c"")
    }

    /// The name as `shm_open` takes it, `"/name"`.
    pub fn as_str(&self) -> &str {
        let path = std::str::from_utf8(&self.path[..self.path.len() - 1]).unwrap_or("");
        &path[sys::SHM_DIR.len().min(path.len())..]
    }

    /// The name as an owned `String` for errors (cut short, not aborting,
    /// when memory is short).
    pub fn owned(&self) -> String {
        text(format_args!("{}", self.as_str()))
    }
}

/// A mapped, validated queue segment, registered with the process.
pub struct Segment {
    map: MmapRaw,
    /// Always `Some` until dropped (closed without glibc's `close`, a
    /// cancellation point).
    fd: Option<OwnedFd>,
    name: Name,
    geometry: Geometry,
    entry: &'static Entry,
    /// Made by this process and not yet published as ready: removed again
    /// if dropped before [`Segment::publish`].
    creating: AtomicBool,
}

/// What one attempt to open found.
enum Found {
    Segment(Segment),
    /// The name vanished or changed meanwhile: try again.
    Retry,
}

impl Segment {
    /// Opens or creates `name` as `options` say.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Exists`], [`Error::Incompatible`],
    /// [`Error::Corrupted`], [`Error::PermissionDenied`] (including a queue
    /// of another user), [`Error::NoSpace`] (`/dev/shm` too full),
    /// [`Error::System`].
    pub fn open(name: &Name, options: &Options, geometry: Option<Geometry>) -> Result<Segment> {
        // A name can appear and vanish between our steps (a racing creator,
        // a racing remove); a few rounds settle it.
        for _ in 0..64 {
            if options.open_mode != OpenMode::CreateOnly {
                let opened = sys::open_existing(name.path()).map_err(|e| open_error(name, e))?;
                match opened {
                    Some(fd) => match attach_existing(name, fd, options)? {
                        Found::Segment(s) => return Ok(s),
                        Found::Retry => continue,
                    },
                    None if options.open_mode == OpenMode::OpenOnly => {
                        return Err(Error::NotFound(name.owned()));
                    }
                    None => {}
                }
            }
            let geometry = geometry
                .ok_or_else(|| Error::Internal(text(format_args!("no geometry to create with"))))?;
            match sys::create_exclusive(name.path(), options.mode)
                .map_err(|(call, e)| Error::os(call, e))?
            {
                Some(fd) => return create(name, fd, geometry),
                None if options.open_mode == OpenMode::CreateOnly => {
                    return Err(Error::Exists(name.owned()));
                }
                None => {}
            }
        }
        Err(Error::Internal(text(format_args!(
            "{} kept appearing and vanishing while opening",
            name.as_str()
        ))))
    }

    /// Removes the name; open handles keep their segment. `Ok(false)`: none.
    ///
    /// # Errors
    /// [`Error::PermissionDenied`], [`Error::System`].
    pub fn unlink(name: &Name) -> Result<bool> {
        sys::unlink(name.path()).map_err(|e| Error::os("shm_unlink", e))
    }

    /// Publishes a segment this process created as ready for everyone,
    /// once the creator's own handle is attached; a no-op otherwise.
    pub fn publish(&self) {
        if self.creating.swap(false, Ordering::AcqRel) {
            self.header().mark_ready();
            sys::ofd_unlock(self.fd().as_raw_fd(), CREATION_BYTE);
        }
    }

    /// The validated geometry.
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// The handle's entry in the process registry.
    #[inline]
    pub fn entry(&self) -> &'static Entry {
        self.entry
    }

    /// The header at the start of the mapping.
    #[inline]
    pub fn header(&self) -> &Header {
        // SAFETY: validated or initialised at construction: the mapping holds
        // a Header, whose fields are all atomics.
        unsafe { &*self.map.as_ptr().cast::<Header>() }
    }

    /// The identity table.
    #[inline]
    pub fn slots(&self) -> &[Slot] {
        // SAFETY: the mapping is DATA_OFFSET + capacity bytes long (checked
        // against the file size) and the table lies within its first
        // DATA_OFFSET bytes, 16-byte aligned; a Slot is all atomics.
        unsafe {
            std::slice::from_raw_parts(
                self.map
                    .as_ptr()
                    .add(IDENTITY_OFFSET as usize)
                    .cast::<Slot>(),
                IDENTITY_SLOTS as usize,
            )
        }
    }

    /// The lease table.
    #[inline]
    pub fn lease_slots(&self) -> &[LeaseSlot] {
        // SAFETY: the mapping is DATA_OFFSET + capacity bytes long (checked
        // against the file size) and the table lies within its first
        // DATA_OFFSET bytes, 8-byte aligned; a LeaseSlot is all atomics.
        unsafe {
            std::slice::from_raw_parts(
                self.map
                    .as_ptr()
                    .add(LEASE_OFFSET as usize)
                    .cast::<LeaseSlot>(),
                LEASE_SLOTS as usize,
            )
        }
    }

    /// Start of the message storage (`capacity` bytes).
    #[inline]
    pub fn data(&self) -> *mut u8 {
        // SAFETY: the mapping is DATA_OFFSET + capacity bytes long (checked
        // against the file size), so the offset stays inside it.
        unsafe { self.map.as_mut_ptr().add(DATA_OFFSET as usize) }
    }

    /// A description of the segment file of its own (for a liveness lock).
    ///
    /// # Errors
    /// [`Error::System`] when neither `/proc` nor the name can reopen it.
    pub fn reopen(&self) -> Result<OwnedFd> {
        sys::reopen(self.fd(), self.name.path())
            .map_err(|e| Error::os("reopening the segment file", e))
    }

    /// Whether the segment is still whole: not truncated under this handle
    /// (seen by the SIGBUS handler, or by the file's size). Once it was, the
    /// handle stays broken.
    ///
    /// # Errors
    /// [`Error::Corrupted`] when it was truncated.
    pub fn check_whole(&self) -> Result<()> {
        let len = sys::file_info(self.fd()).map(|i| i.len).unwrap_or(u64::MAX);
        if self.entry.broken() || len < self.geometry.segment_len() {
            self.entry.mark_broken();
            return Err(truncated(len, self.geometry.segment_len()));
        }
        Ok(())
    }
}

impl Segment {
    fn fd(&self) -> &OwnedFd {
        self.fd
            .as_ref()
            .expect("the descriptor lives as long as the segment")
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        // Made here but never published: nobody else can have used it.
        if self.creating.load(Ordering::Relaxed)
            && sys::file_info(self.fd()).is_ok_and(|i| i.links > 0)
        {
            let _ = sys::unlink(self.name.path());
        }
        // Before the mapping goes: the SIGBUS handler must not look at it.
        self.entry.release();
        if let Some(fd) = self.fd.take() {
            sys::close_raw(std::os::fd::IntoRawFd::into_raw_fd(fd));
        }
    }
}

fn truncated(len: u64, want: u64) -> Error {
    Error::corrupted(
        crate::error::CorruptionCause::Truncated,
        format_args!("the segment file was truncated under this handle ({len} of {want} bytes)"),
    )
}

fn open_error(name: &Name, e: std::io::Error) -> Error {
    match e.raw_os_error() {
        Some(libc::EISDIR | libc::ELOOP | libc::ENXIO | libc::ENODEV | libc::EINVAL) => {
            Error::incompatible(
                IncompatibleCause::NotAQueue,
                format_args!("{} is not a shared-memory file: {e}", name.as_str()),
            )
        }
        _ => Error::os("shm_open", e),
    }
}

fn map(fd: &OwnedFd, len: u64) -> Result<MmapRaw> {
    let len = usize::try_from(len).map_err(|_| {
        Error::incompatible(
            IncompatibleCause::NotAQueue,
            format_args!("segment of {len} bytes cannot be mapped"),
        )
    })?;
    MmapOptions::new()
        .len(len)
        .map_raw(fd)
        .map_err(|e| Error::os("mmap", e))
}

/// Maps `fd` and registers the mapping with the process.
/// `creating`: this process made the file and holds its creation lock
/// until [`Segment::publish`].
fn finish(name: &Name, fd: OwnedFd, geometry: Geometry, creating: bool) -> Result<Segment> {
    let name = name.try_clone()?;
    let map = map(&fd, geometry.segment_len())?;
    let entry = handles::register(map.as_ptr() as usize, map.len())?;
    Ok(Segment {
        map,
        fd: Some(fd),
        name,
        geometry,
        entry,
        creating: AtomicBool::new(creating),
    })
}

/// Reads the header of `fd` into a private copy (a short file reads as zeros).
fn read_header(fd: &OwnedFd) -> Result<Header> {
    // SAFETY: Header is all atomics: zero bytes are a valid value.
    let mut header: Header = unsafe { std::mem::zeroed() };
    // SAFETY: `header` is valid for writes of its size, and any bytes are a
    // valid Header (all atomics).
    unsafe { sys::read_start(fd, (&raw mut header).cast::<u8>(), size_of::<Header>()) }
        .map_err(|e| Error::os("pread", e))?;
    Ok(header)
}

/// Validates an existing file and maps it: the owner, the header (waiting
/// for a creator still at work, finishing one that died), its allocation.
fn attach_existing(name: &Name, fd: OwnedFd, options: &Options) -> Result<Found> {
    let stat = |fd: &OwnedFd| sys::file_info(fd).map_err(|e| Error::os("fstat", e));
    let info = stat(&fd)?;
    if !info.regular {
        return Err(Error::incompatible(
            IncompatibleCause::NotAQueue,
            format_args!("{} is not a regular file", name.as_str()),
        ));
    }
    let me = sys::euid();
    if info.uid != me && info.uid != 0 && !options.allow_other_owner {
        return Err(Error::PermissionDenied(text(format_args!(
            "{} belongs to uid {}, not to this process's uid {me} or root: another user may have created it to read or inject tasks (open it with WQ_ALLOW_OTHER_OWNER / Options::allow_other_owner if that is intended)",
            name.as_str(),
            info.uid
        ))));
    }
    let start = sys::monotonic_ns();
    let mut unlocked_since: Option<u64> = None;
    let mut pause_ns = 200_000;
    let geometry = loop {
        let info = stat(&fd)?;
        if info.links == 0 {
            return Ok(Found::Retry);
        }
        let now = sys::monotonic_ns();
        let creator_busy = || sys::ofd_is_locked(fd.as_raw_fd(), CREATION_BYTE).unwrap_or(true);
        match read_header(&fd)?.validate(info.len) {
            Ok((geometry, Stage::Ready)) => break geometry,
            Ok((geometry, Stage::Creating)) => {
                if sys::ofd_try_lock(fd.as_raw_fd(), CREATION_BYTE)
                    .map_err(|e| Error::os("fcntl(F_OFD_SETLK)", e))?
                {
                    // Its creator died after writing the geometry: finish it.
                    let finished = finish_creation(&fd, geometry);
                    sys::ofd_unlock(fd.as_raw_fd(), CREATION_BYTE);
                    finished?;
                    continue;
                }
            }
            Err(Error::Incompatible(e))
                if matches!(
                    e.cause,
                    IncompatibleCause::Empty | IncompatibleCause::Unfinished
                ) =>
            {
                if creator_busy() {
                    unlocked_since = None;
                } else if now - *unlocked_since.get_or_insert(now) >= UNLOCKED_GRACE_NS {
                    return Err(Error::Incompatible(e));
                }
            }
            Err(e) => return Err(e),
        }
        if now - start >= READY_WAIT.as_nanos() as u64 {
            return Err(Error::incompatible(
                IncompatibleCause::Unfinished,
                format_args!(
                    "{} is still being initialised after {} s (its creator is stuck; remove it to start over)",
                    name.as_str(),
                    READY_WAIT.as_secs()
                ),
            ));
        }
        sys::sleep_ns(pause_ns);
        pause_ns = (pause_ns * 2).min(10_000_000);
    };
    // A file someone else made may be sparse: reserve what is missing now,
    // so that a full /dev/shm is an error here and not a SIGBUS later.
    let info = stat(&fd)?;
    if info.allocated < info.len {
        reserve(
            &fd,
            info.len,
            "fallocate of a queue whose memory was never reserved",
        )?;
    }
    finish(name, fd, geometry, false).map(Found::Segment)
}

/// Reserves the memory of a segment in state `CREATING` whose creator died
/// and marks it ready. The caller holds the creation lock.
fn finish_creation(fd: &OwnedFd, geometry: Geometry) -> Result<()> {
    allocate(fd, geometry)?;
    let map = map(fd, size_of::<Header>() as u64)?;
    // SAFETY: the mapping holds a Header (all atomics), its page allocated.
    let header = unsafe { &*map.as_ptr().cast::<Header>() };
    header.mark_ready();
    Ok(())
}

/// Initialises the file `fd` this process just created under `name`.
/// On failure the name is removed again.
/// It stays in state `CREATING`, its creation lock held, until
/// [`Segment::publish`]: whatever fails before that (up to attaching the
/// caller's handle) leaves no queue behind.
fn create(name: &Name, fd: OwnedFd, geometry: Geometry) -> Result<Segment> {
    let _ = sys::ofd_try_lock(fd.as_raw_fd(), CREATION_BYTE);
    match initialise(&fd, geometry).and_then(|()| finish(name, fd, geometry, true)) {
        Ok(segment) => Ok(segment),
        Err(e) => {
            let _ = sys::unlink(name.path());
            Err(e)
        }
    }
}

fn allocate(fd: &OwnedFd, geometry: Geometry) -> Result<()> {
    reserve(fd, geometry.segment_len(), "fallocate")
}

/// Reserves the memory of bytes `0..len` of `fd`. A filesystem too full
/// for it is [`Error::NoSpace`], saying how much was missing and is free.
fn reserve(fd: &OwnedFd, len: u64, call: &'static str) -> Result<()> {
    let Err(e) = sys::allocate(fd, len) else {
        return Ok(());
    };
    if e.raw_os_error() != Some(libc::ENOSPC) {
        return Err(Error::os(call, e));
    }
    // A failed fallocate of tmpfs gives back what it took: the file holds
    // what it held before, which is room for it as well as what is free.
    let held = sys::file_info(fd).map_or(0, |i| i.allocated.min(len));
    match sys::space(fd) {
        Ok(space) => Err(Error::NoSpace(NoSpace {
            needed: len,
            free: space.free.saturating_add(held),
            size: space.size,
        })),
        Err(_) => Err(Error::os(call, e)),
    }
}

fn initialise(fd: &OwnedFd, geometry: Geometry) -> Result<()> {
    let len = geometry.segment_len();
    if sys::file_size_limit().is_some_and(|limit| limit < len) {
        return Err(Error::errno(
            "creating the segment (RLIMIT_FSIZE is below its size)",
            libc::EFBIG,
        ));
    }
    sys::set_len(fd, len).map_err(|e| Error::os("ftruncate", e))?;
    // The geometry goes in with pwrite, not through a mapping: on a full
    // /dev/shm that is an error, not a SIGBUS.
    // SAFETY: Header is all atomics: zero bytes are a valid value.
    let marker: Header = unsafe { std::mem::zeroed() };
    marker.mark_creating(&geometry);
    // SAFETY: `marker` is a plain value of its size; its bytes are read
    // while it is not modified.
    let bytes = unsafe {
        std::slice::from_raw_parts((&raw const marker).cast::<u8>(), size_of::<Header>())
    };
    sys::write_start(fd, bytes).map_err(|e| Error::os("pwrite", e))?;
    allocate(fd, geometry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_accept_the_contract_alphabet() {
        assert_eq!(Name::parse("work-queue").unwrap().as_str(), "/work-queue");
        assert_eq!(
            Name::parse("/work-queue").unwrap(),
            Name::parse("work-queue").unwrap()
        );
        assert!(Name::parse("a.b_c-D9").is_ok());
        assert!(Name::parse(&"x".repeat(250)).is_ok());
        assert!(Name::parse("...").is_ok());
    }

    #[test]
    fn names_reject_everything_else() {
        for bad in [
            "",
            "/",
            ".",
            "..",
            "/..",
            "a/b",
            "//a",
            "a b",
            "é",
            "a\n",
            &"x".repeat(251),
        ] {
            assert!(
                matches!(Name::parse(bad), Err(Error::InvalidArgument(_))),
                "{bad:?}"
            );
        }
    }
}
