//! A `/dev/shm` with room for one default queue and not two (as Docker's
//! 64 MiB default): creating the second fails with `Error::NoSpace`, which
//! says how much the queue needs and how much `/dev/shm` has free (in C
//! `WQ_SYSTEM_ERROR` with `errno` `ENOSPC`, the numbers in
//! `wq_last_error()`), and leaves no segment behind.
//!
//! The work runs in a child process (this binary re-executed with a role)
//! in a private mount namespace with a 40 MiB tmpfs on `/dev/shm`; that
//! needs root and `unshare --mount`, without which the test says so and
//! passes.

mod common;

use std::ffi::{CStr, CString};
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::child::{fail, or_exit, run_child};
use common::{TempQueue, arg};
use wq::{Error, OpenMode, Options, Queue};

/// The size of the small `/dev/shm`: one default queue (32 MiB of
/// messages and its header) fits, a second does not.
const SHM_SIZE: u64 = 40 << 20;

/// Runs the rest of the command line in a private mount namespace whose
/// `/dev/shm` is a fresh tmpfs of [`SHM_SIZE`].
const SMALL_SHM: [&str; 6] = ["unshare", "--mount", "--propagation", "private", "sh", "-c"];
const MOUNT_THEN_EXEC: &str =
    "mount -t tmpfs -o size=40m,mode=1777 tmpfs /dev/shm && exec \"$0\" \"$@\"";

/// The wrapper for [`run_child`], or `None` (and why, on stderr) where
/// this machine cannot give a child a `/dev/shm` of its own.
fn small_shm(test: &str) -> Option<Vec<&'static str>> {
    let mut wrapper = SMALL_SHM.to_vec();
    wrapper.push(MOUNT_THEN_EXEC);
    let works = Command::new(wrapper[0])
        .args(&wrapper[1..])
        .arg("true")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !works {
        eprintln!("{test}: skipped, needs root and `unshare --mount` to mount a tmpfs");
    }
    works.then_some(wrapper)
}

#[test]
#[ignore = "entry point of child processes, started by the other tests"]
fn child() {
    let Some(role) = common::role() else { return };
    match role.as_str() {
        "second_queue" => second_queue(),
        other => fail(&format!("unknown role {other}")),
    }
}

#[test]
fn a_second_default_queue_on_a_small_dev_shm_says_what_it_needs_and_what_is_free() {
    let test = "a_second_default_queue_on_a_small_dev_shm_says_what_it_needs_and_what_is_free";
    let Some(wrapper) = small_shm(test) else {
        return;
    };
    let q = TempQueue::new("nospace");
    let says = "the second queue was refused with its numbers";
    let limit = Duration::from_secs(60);
    run_child(&wrapper, "second_queue", &[q.env()], limit, says);
}

/// What `/dev/shm` holds now.
fn listing() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir("/dev/shm")
        .expect("list /dev/shm")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Bytes free in `/dev/shm` for an unprivileged process.
fn free_bytes() -> u64 {
    // SAFETY: an all-zero statvfs is a valid value; the path is
    // NUL-terminated and `sv` a writable local.
    let sv = unsafe {
        let mut sv: libc::statvfs = std::mem::zeroed();
        assert_eq!(libc::statvfs(c"/dev/shm".as_ptr(), &mut sv), 0);
        sv
    };
    sv.f_bavail * sv.f_frsize
}

fn create(name: &str, open_mode: OpenMode) -> wq::Result<Queue> {
    Queue::open(
        name,
        &Options {
            open_mode,
            ..Options::default()
        },
    )
}

/// In the child: a default queue fills most of the 40 MiB `/dev/shm`; a
/// second one is refused, through Rust and C, and nothing of it stays.
fn second_queue() {
    let first = arg("WQ_Q");
    let second = format!("{first}-second");
    if !listing().is_empty() {
        fail(&format!("the fresh /dev/shm is not empty: {:?}", listing()));
    }
    let queue = or_exit("the first queue", create(&first, OpenMode::CreateOnly));
    let segment = std::fs::metadata(format!("/dev/shm/{first}"))
        .expect("stat the first queue")
        .len();
    println!("one default queue: {segment} bytes");
    for mode in [OpenMode::CreateOnly, OpenMode::OpenOrCreate] {
        let Err(e) = create(&second, mode) else {
            fail(&format!("{mode:?}: a second default queue fit in 40 MiB"));
        };
        println!("{mode:?}: {e}");
        let Error::NoSpace(space) = e else {
            fail(&format!("{mode:?}: want NoSpace, got {e:?}"));
        };
        // The numbers are the queue's size and what is free without it.
        assert_eq!(space.needed, segment, "{mode:?}: {space:?}");
        assert_eq!(space.free, free_bytes(), "{mode:?}: {space:?}");
        assert_eq!(space.size, SHM_SIZE, "{mode:?}: {space:?}");
        assert!(space.free < space.needed, "{mode:?}: {space:?}");
        assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{mode:?}");
        let text = e.to_string();
        for part in [
            format!("needs 32.2 MiB ({segment} bytes)"),
            format!("has 7.8 MiB ({} bytes) free", space.free),
            "of 40.0 MiB".to_owned(),
            "--shm-size".to_owned(),
        ] {
            assert!(text.contains(&part), "{mode:?}: {part:?} not in {text:?}");
        }
        assert_eq!(
            listing(),
            std::slice::from_ref(&first),
            "{mode:?} left a segment"
        );
    }

    // C: the status it always was, errno ENOSPC, the numbers in the detail.
    let name = CString::new(second.as_str()).expect("no NUL");
    let mut handle = std::ptr::null_mut();
    // SAFETY: a NUL-terminated name, NULL options (the defaults) and a
    // local for the handle; errno_location is this thread's errno.
    let (status, errno) = unsafe {
        *libc::__errno_location() = 0;
        let status = wq::ffi::wq_open(name.as_ptr(), std::ptr::null(), &mut handle);
        (status, *libc::__errno_location())
    };
    // SAFETY: this thread's last error text, NUL-terminated.
    let detail = unsafe { CStr::from_ptr(wq::ffi::wq_last_error()) }.to_string_lossy();
    println!("C: status {status}, errno {errno}: {detail}");
    assert_eq!(status, wq::ffi::WQ_SYSTEM_ERROR, "{detail}");
    assert!(handle.is_null());
    assert_eq!(errno, libc::ENOSPC);
    assert!(
        detail.contains(&format!("({segment} bytes)")) && detail.contains("free"),
        "{detail}"
    );
    assert_eq!(listing(), std::slice::from_ref(&first), "C left a segment");

    // The first queue is untouched, and once it is gone the second fits:
    // nothing of the failed attempts kept any memory.
    or_exit("push to the first", queue.push(b"still here", None));
    assert_eq!(
        or_exit("pop", queue.pop(Some(Duration::ZERO))),
        b"still here"
    );
    drop(queue);
    or_exit("remove the first", Queue::remove(&first));
    let again = or_exit("the second, alone", create(&second, OpenMode::CreateOnly));
    let meta = std::fs::metadata(format!("/dev/shm/{second}")).expect("stat");
    assert!(meta.blocks() * 512 >= segment, "its memory is reserved");
    drop(again);
    or_exit("remove the second", Queue::remove(&second));
    println!("the second queue was refused with its numbers");
}
