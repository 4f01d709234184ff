//! Finding and classifying what lives in `/dev/shm`.
//!
//! A file is recognised as a wq queue by opening it with the library
//! ([`wq::OpenMode::OpenOnly`]), which validates its header, never by its
//! name. What the library reports decides the [`State`].

use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use wq::{LeaseStats, OpenMode, Options, Queue, Stats};

/// Where POSIX shared-memory names live on Linux.
pub const SHM_DIR: &str = "/dev/shm";

/// What a file in `/dev/shm` turned out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// A healthy wq queue and its counters.
    Ok(Stats),
    /// A wq queue (its magic and layout version match) that fails validation.
    Corrupt(String),
    /// A wq queue whose creator never finished initialising it.
    Incomplete(String),
    /// Not a wq queue of this layout: another program's segment, a
    /// semaphore, an empty file, or a queue of another wq layout version.
    Foreign(String),
    /// The file could not be opened to check it.
    NoAccess(String),
    /// Checking failed for another reason (an OS error).
    Failed(String),
}

impl State {
    /// The state's name as shown by `ls` and in JSON.
    pub fn label(&self) -> &'static str {
        match self {
            State::Ok(_) => "ok",
            State::Corrupt(_) => "corrupt",
            State::Incomplete(_) => "incomplete",
            State::Foreign(_) => "foreign",
            State::NoAccess(_) => "no access",
            State::Failed(_) => "error",
        }
    }

    /// Why the state is not `ok`, if it is not.
    pub fn reason(&self) -> Option<&str> {
        match self {
            State::Ok(_) => None,
            State::Corrupt(r)
            | State::Incomplete(r)
            | State::Foreign(r)
            | State::NoAccess(r)
            | State::Failed(r) => Some(r),
        }
    }

    /// Whether `rm --stale` removes it: a wq queue that can never work again.
    pub fn is_stale(&self) -> bool {
        matches!(self, State::Corrupt(_) | State::Incomplete(_))
    }

    /// Classifies a failure to open or read a queue by its typed cause.
    ///
    /// Only a queue whose magic and layout match but whose creator never
    /// finished it ([`wq::IncompatibleCause::Unfinished`]) is incomplete;
    /// every other `Incompatible` (bad magic, zero-filled, too small, other
    /// layout) may belong to another program and counts as foreign.
    /// Texts name the queue as [`unslash`] does.
    pub fn from_error(error: &wq::Error, name: &str) -> State {
        let text = |t: &dyn std::fmt::Display| unslash(&t.to_string(), name);
        match error {
            wq::Error::Corrupted(r) => State::Corrupt(text(r)),
            wq::Error::Incompatible(r) if r.cause == wq::IncompatibleCause::Unfinished => {
                State::Incomplete(text(r))
            }
            wq::Error::Incompatible(r) => State::Foreign(text(r)),
            wq::Error::InvalidArgument(r) => {
                State::Foreign(format!("not a valid wq queue name ({r})"))
            }
            wq::Error::PermissionDenied(r) => State::NoAccess(text(r)),
            other => State::Failed(text(other)),
        }
    }
}

/// One file in `/dev/shm` and what it is.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The queue name (the file name, without a leading slash).
    pub name: String,
    /// The file's path.
    pub path: PathBuf,
    /// File size in bytes.
    pub size: u64,
    /// Owner's user id.
    pub uid: u32,
    /// Owner's user name, or the uid as text when unknown.
    pub owner: String,
    /// Permission bits.
    pub mode: u32,
    /// What the file is.
    pub state: State,
    /// Pid hints of the other handles attached to a healthy queue (each
    /// in its own PID namespace); empty otherwise.
    pub peers: Vec<u32>,
    /// The lease counters of a healthy queue; zero otherwise.
    pub leases: LeaseStats,
}

/// Resolves user ids to names from `/etc/passwd`.
#[derive(Debug, Default)]
pub struct Users(HashMap<u32, String>);

impl Users {
    /// Reads `/etc/passwd`; an unreadable one leaves every uid numeric.
    pub fn load() -> Users {
        let text = fs::read_to_string("/etc/passwd").unwrap_or_default();
        Users(
            text.lines()
                .filter_map(|line| {
                    let mut fields = line.split(':');
                    let name = fields.next()?;
                    let uid = fields.nth(1)?.parse().ok()?;
                    Some((uid, name.to_owned()))
                })
                .collect(),
        )
    }

    /// The user name of `uid`, or the uid itself.
    pub fn name(&self, uid: u32) -> String {
        self.0.get(&uid).cloned().unwrap_or_else(|| uid.to_string())
    }
}

/// Whose queues a command opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owners {
    /// Only this user's (and root's): commands that push or pop, so that a
    /// queue planted by another user is refused.
    Mine,
    /// Anyone's: read-only commands (`ls`, `stat`), which show every queue.
    Any,
}

/// Opens queue `name` the way every command does: existing only.
pub fn open(name: &str, owners: Owners) -> wq::Result<Queue> {
    Queue::open(
        name,
        &Options {
            open_mode: OpenMode::OpenOnly,
            allow_other_owner: owners == Owners::Any,
            ..Options::default()
        },
    )
}

/// `text` with the library's form of queue `name` (`"/name"`) written as
/// `wq` prints names, without the slash; paths (`/dev/shm/name`) and other
/// names that merely end in `name` stay as they are.
pub fn unslash(text: &str, name: &str) -> String {
    let in_name = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    let slashed = format!("/{name}");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(&slashed) {
        let (before, after) = (&rest[..at], &rest[at + slashed.len()..]);
        let alone =
            !before.ends_with(|c: char| in_name(c) || c == '/') && !after.starts_with(in_name);
        out.push_str(before);
        out.push_str(if alone { name } else { &slashed });
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The path of queue `name` (given without its leading slash, as every
/// name in `wq` is: see [`crate::units::parse_name`]).
pub fn path_of(name: &str) -> PathBuf {
    Path::new(SHM_DIR).join(name)
}

/// This process's effective uid.
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Why this process may not remove the file at `path` (`None`: it may): it
/// must be able to write its directory, and that directory's sticky bit
/// (`/dev/shm` has it) lets only the file's owner, the directory's owner
/// and root remove a file.
pub fn removal_refused(path: &Path, users: &Users) -> Option<String> {
    use std::os::unix::ffi::OsStrExt;
    let me = euid();
    let dir = path.parent()?;
    let (Ok(file), Ok(dir_meta)) = (fs::symlink_metadata(path), fs::metadata(dir)) else {
        return None; // let the removal itself say what is wrong
    };
    let dir_c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: a NUL-terminated path; faccessat only reads it.
    let writable = unsafe {
        libc::faccessat(
            libc::AT_FDCWD,
            dir_c.as_ptr(),
            libc::W_OK | libc::X_OK,
            libc::AT_EACCESS,
        )
    } == 0;
    let sticky = dir_meta.mode() & libc::S_ISVTX != 0;
    if me == 0 || (writable && (!sticky || file.uid() == me || dir_meta.uid() == me)) {
        return None;
    }
    Some(if writable && file.uid() == 0 {
        format!("only root may remove it from {}", dir.display())
    } else if writable {
        format!(
            "only its owner ({}) or root may remove it from {}",
            users.name(file.uid()),
            dir.display()
        )
    } else {
        format!("this user may not remove files from {}", dir.display())
    })
}

/// Examines queue `name` (without its leading slash). `Err` only when
/// there is no such file (or the name is not one) — every other problem
/// is a [`State`].
pub fn probe(bare: &str, users: &Users) -> wq::Result<Entry> {
    let path = path_of(bare);
    let none = || (Vec::new(), LeaseStats::default());
    let (state, (peers, leases)) = match open(bare, Owners::Any) {
        Ok(queue) => match queue.stats().and_then(|s| Ok((s, queue.lease_stats()?))) {
            Ok((stats, leases)) => (State::Ok(stats), (queue.peer_pids(), leases)),
            Err(e) => (State::from_error(&e, bare), none()),
        },
        Err(e @ (wq::Error::NotFound(_) | wq::Error::InvalidArgument(_))) => return Err(e),
        Err(e) => (State::from_error(&e, bare), none()),
    };
    let meta = fs::metadata(&path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => wq::Error::NotFound(bare.to_owned()),
        _ => wq::Error::System {
            call: "stat",
            source: e,
        },
    })?;
    let mut entry = entry(bare, path, &meta, users, state);
    entry.peers = peers;
    entry.leases = leases;
    Ok(entry)
}

fn entry(name: &str, path: PathBuf, meta: &fs::Metadata, users: &Users, state: State) -> Entry {
    Entry {
        peers: Vec::new(),
        leases: LeaseStats::default(),
        name: name.to_owned(),
        path,
        size: meta.len(),
        uid: meta.uid(),
        owner: users.name(meta.uid()),
        mode: meta.permissions().mode() & 0o7777,
        state,
    }
}

/// Examines every regular file in `/dev/shm`, sorted by name. Files that
/// vanish while being examined are left out.
pub fn scan(users: &Users) -> io::Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for dirent in fs::read_dir(SHM_DIR)? {
        let dirent = dirent?;
        if !dirent.file_type()?.is_file() {
            continue;
        }
        let Some(name) = dirent.file_name().to_str().map(str::to_owned) else {
            continue; // not UTF-8: certainly not a wq queue name
        };
        match probe(&name, users) {
            Ok(entry) => entries.push(entry),
            Err(wq::Error::NotFound(_)) => {}
            Err(e) => {
                // Not a name wq accepts (or stat failed): still list the file.
                let Ok(meta) = dirent.metadata() else {
                    continue;
                };
                let state = State::from_error(&e, &name);
                entries.push(entry(&name, dirent.path(), &meta, users, state));
            }
        }
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_from_errors() {
        let corrupted = wq::Error::Corrupted(wq::Corrupted {
            cause: wq::CorruptionCause::Record,
            detail: "x".into(),
        });
        assert_eq!(State::from_error(&corrupted, "q").label(), "corrupt");
        let incompatible = |cause| {
            wq::Error::Incompatible(wq::Incompatible {
                cause,
                detail: "x".into(),
            })
        };
        assert_eq!(
            State::from_error(&incompatible(wq::IncompatibleCause::Unfinished), "q").label(),
            "incomplete"
        );
        for cause in [
            wq::IncompatibleCause::Empty,
            wq::IncompatibleCause::NotAQueue,
            wq::IncompatibleCause::OtherLayout { version: 1 },
        ] {
            assert_eq!(
                State::from_error(&incompatible(cause), "q").label(),
                "foreign"
            );
        }
        assert_eq!(
            State::from_error(&wq::Error::PermissionDenied("x".into()), "q").label(),
            "no access"
        );
        assert!(State::Corrupt(String::new()).is_stale());
        assert!(State::Incomplete(String::new()).is_stale());
        assert!(!State::Foreign(String::new()).is_stale());
        assert!(!State::NoAccess(String::new()).is_stale());
    }

    #[test]
    fn names_lose_the_librarys_slash_but_paths_keep_theirs() {
        assert_eq!(
            unslash(r#"no queue named "/jobs""#, "jobs"),
            r#"no queue named "jobs""#
        );
        assert_eq!(
            unslash(
                "/jobs belongs to uid 7; /dev/shm/jobs; /jobs2; a/jobs; (/jobs); /jobs.",
                "jobs"
            ),
            "jobs belongs to uid 7; /dev/shm/jobs; /jobs2; a/jobs; (jobs); /jobs."
        );
        assert_eq!(unslash("nothing here", "jobs"), "nothing here");
    }

    #[test]
    fn users_fall_back_to_uid() {
        let users = Users::load();
        assert_eq!(users.name(0), "root");
        assert_eq!(users.name(4_000_000_000), "4000000000");
    }
}
