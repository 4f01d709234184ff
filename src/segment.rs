//! Named shared-memory segments: names, atomic creation, opening,
//! validation of what was found, mapping and removal.

use std::ffi::CString;
use std::os::fd::OwnedFd;

use memmap2::{MmapOptions, MmapRaw};

use crate::error::{Error, Result};
use crate::layout::{DATA_OFFSET, Geometry, Header};
use crate::sys;

/// Longest name after the leading slash.
pub const MAX_NAME_LEN: usize = 250;

/// A validated queue name in its `shm_open` form, `"/name"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name(CString);

impl Name {
    /// Parses `"name"` or `"/name"`: after the slash, 1 to 250 characters of
    /// `A-Z a-z 0-9 . _ -`, not `.` or `..`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming what is wrong.
    pub fn parse(name: &str) -> Result<Name> {
        let bare = name.strip_prefix('/').unwrap_or(name);
        let bad = |why: &str| Err(Error::InvalidArgument(format!("queue name {name:?} {why}")));
        if bare.is_empty() || bare.len() > MAX_NAME_LEN {
            return bad(&format!(
                "must have 1 to {MAX_NAME_LEN} characters after the '/'"
            ));
        }
        if bare == "." || bare == ".." {
            return bad("must not be '.' or '..'");
        }
        if !bare
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return bad("may only hold A-Z a-z 0-9 . _ -");
        }
        Ok(Name(
            CString::new(format!("/{bare}")).expect("validated names hold no NUL"),
        ))
    }

    /// The name as `shm_open` takes it, `"/name"`.
    pub fn as_str(&self) -> &str {
        self.0.to_str().expect("validated names are ASCII")
    }
}

/// A mapped, validated queue segment.
pub struct Segment {
    map: MmapRaw,
    geometry: Geometry,
}

fn map(fd: &OwnedFd, len: u64) -> Result<MmapRaw> {
    let len = usize::try_from(len)
        .map_err(|_| Error::Incompatible(format!("segment of {len} bytes cannot be mapped")))?;
    MmapOptions::new()
        .len(len)
        .map_raw(fd)
        .map_err(|e| Error::os("mmap", e))
}

impl Segment {
    /// Creates the queue `name` with `geometry` and exactly `mode`.
    /// The segment is built unnamed and then linked under its name, so other
    /// processes see a complete queue or none, and a creator killed midway
    /// leaves nothing behind. `Ok(None)`: the name was taken meanwhile.
    ///
    /// # Errors
    /// [`Error::System`] (e.g. `ENOSPC` when `/dev/shm` is full),
    /// [`Error::PermissionDenied`].
    pub fn create(name: &Name, geometry: Geometry, mode: u32) -> Result<Option<Segment>> {
        let fd = sys::create_unnamed(geometry.segment_len(), mode)
            .map_err(|(call, e)| Error::os(call, e))?;
        let map = map(&fd, geometry.segment_len())?;
        // SAFETY: the mapping is at least DATA_OFFSET >= size_of::<Header>()
        // bytes, page-aligned, zero-filled and invisible to other processes
        // until `publish` below.
        unsafe { Header::init(map.as_mut_ptr().cast::<Header>(), &geometry) }?;
        if !sys::publish(&fd, &name.0).map_err(|e| Error::os("linkat", e))? {
            return Ok(None);
        }
        Ok(Some(Segment { map, geometry }))
    }

    /// Opens and validates the existing queue `name`. `Ok(None)`: no such name.
    ///
    /// # Errors
    /// [`Error::Incompatible`] / [`Error::Corrupted`] for anything that is not
    /// a healthy wq queue of this layout; [`Error::PermissionDenied`].
    pub fn open(name: &Name) -> Result<Option<Segment>> {
        let opened = sys::open_existing(&name.0).map_err(|e| match e.raw_os_error() {
            // glibc reports a directory as EINVAL (the name itself was validated).
            Some(libc::EINVAL | libc::EISDIR | libc::ELOOP | libc::ENXIO | libc::ENODEV) => {
                Error::Incompatible(format!(
                    "{} is not a shared-memory file: {e}",
                    name.as_str()
                ))
            }
            _ => Error::os("shm_open", e),
        })?;
        let Some(fd) = opened else {
            return Ok(None);
        };
        let len = sys::regular_file_size(&fd)
            .map_err(|e| Error::os("fstat", e))?
            .ok_or_else(|| {
                Error::Incompatible(format!("{} is not a regular file", name.as_str()))
            })?;
        if len < DATA_OFFSET {
            return Err(Error::Incompatible(format!(
                "{} holds {len} bytes, too few for a wq queue (empty, or never finished initialising)",
                name.as_str()
            )));
        }
        let map = map(&fd, len)?;
        // SAFETY: the mapping holds at least DATA_OFFSET >= size_of::<Header>()
        // bytes and is page-aligned; every Header field is an atomic or an
        // UnsafeCell, so concurrent writers cannot invalidate the reference.
        let header = unsafe { &*map.as_ptr().cast::<Header>() };
        let geometry = header.validate(len)?;
        Ok(Some(Segment { map, geometry }))
    }

    /// Removes the name; open handles keep their segment. `Ok(false)`: none.
    ///
    /// # Errors
    /// [`Error::PermissionDenied`], [`Error::System`].
    pub fn unlink(name: &Name) -> Result<bool> {
        sys::unlink(&name.0).map_err(|e| Error::os("shm_unlink", e))
    }

    /// The validated geometry.
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// The header at the start of the mapping.
    pub fn header(&self) -> &Header {
        // SAFETY: validated or initialised at construction: the mapping holds
        // a Header, whose fields are all atomics or UnsafeCells.
        unsafe { &*self.map.as_ptr().cast::<Header>() }
    }

    /// Start of the message storage (`capacity` bytes).
    pub fn data(&self) -> *mut u8 {
        // SAFETY: the mapping is DATA_OFFSET + capacity bytes long (checked
        // against the file size), so the offset stays inside it.
        unsafe { self.map.as_mut_ptr().add(DATA_OFFSET as usize) }
    }
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
