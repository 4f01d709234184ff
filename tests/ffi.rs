//! Contract tests of the C ABI (`include/wq.h`, /work/shared/spec/c-api.md),
//! calling the exported `wq::ffi` functions exactly as C does: raw pointers,
//! NUL-terminated names and `wq_status` integers.
//!
//! Every test works on its own queue name (`wqt-ffi-<pid>-<counter>`) and a
//! [`Named`] guard removes the segment even when the test fails.

use std::ffi::{CStr, CString, c_char, c_void};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::ptr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use wq::ffi::*;

// ---------------------------------------------------------------------------
// Helpers (kept in this file on purpose: tests/common belongs to others).

const MS: i64 = 1_000_000;

/// Every status code of the contract, with its fixed value.
const ALL_STATUSES: [(wq_status, i32); 14] = [
    (WQ_OK, 0),
    (WQ_EMPTY, 1),
    (WQ_FULL, 2),
    (WQ_INVALID_ARGUMENT, 3),
    (WQ_NOT_FOUND, 4),
    (WQ_EXISTS, 5),
    (WQ_MESSAGE_TOO_LARGE, 6),
    (WQ_BUFFER_TOO_SMALL, 7),
    (WQ_INCOMPATIBLE, 8),
    (WQ_CORRUPTED, 9),
    (WQ_PERMISSION_DENIED, 10),
    (WQ_SYSTEM_ERROR, 11),
    (WQ_INTERNAL, 12),
    (WQ_INTERRUPTED, 13),
];

/// Serialises the tests that change the process-wide umask.
static UMASK_LOCK: Mutex<()> = Mutex::new(());

fn unique_name() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "wqt-ffi-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A queue name owned by one test; dropping it removes the segment.
struct Named {
    name: String,
    c: CString,
}

impl Named {
    fn new() -> Named {
        Named::from(unique_name())
    }

    fn from(name: String) -> Named {
        let c = CString::new(name.clone()).unwrap();
        Named { name, c }
    }

    fn ptr(&self) -> *const c_char {
        self.c.as_ptr()
    }

    /// The shared-memory file (`/dev/shm/NAME` on Linux, per the contract).
    fn path(&self) -> PathBuf {
        PathBuf::from("/dev/shm").join(&self.name)
    }
}

impl Drop for Named {
    fn drop(&mut self) {
        // SAFETY: `self.c` is a NUL-terminated string alive for the call.
        let _ = unsafe { wq_remove(self.c.as_ptr()) };
        // Also clear foreign files that some tests plant under the name.
        let _ = std::fs::remove_file(self.path());
    }
}

/// An open handle; dropping it closes it.
struct Handle(*mut wq_queue);

impl Handle {
    fn raw(&self) -> *mut wq_queue {
        self.0
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle came from a successful wq_open and is closed once.
        unsafe { wq_close(self.0) };
    }
}

// SAFETY: the contract lets one handle be used by many threads at once.
unsafe impl Send for Handle {}
// SAFETY: as above.
unsafe impl Sync for Handle {}

fn options(capacity: u64, max_message_size: u64, mode: u32, flags: u32) -> wq_options {
    wq_options {
        capacity,
        max_message_size,
        mode,
        flags,
    }
}

fn small(capacity: u64) -> wq_options {
    options(capacity, 0, 0o600, WQ_OPEN_OR_CREATE)
}

/// `wq_open` returning the raw status and the handle on success.
fn try_open(name: *const c_char, opts: Option<&wq_options>) -> (wq_status, Option<Handle>) {
    let mut out: *mut wq_queue = ptr::null_mut();
    let opts = opts.map_or(ptr::null(), |o| o as *const wq_options);
    // SAFETY: `name` is NULL or NUL-terminated (callers pass CString pointers),
    // `opts` NULL or a live reference, `out` a local.
    let st = unsafe { wq_open(name, opts, &mut out) };
    if st == WQ_OK {
        assert!(!out.is_null(), "wq_open returned WQ_OK but a NULL handle");
        (st, Some(Handle(out)))
    } else {
        assert!(out.is_null(), "wq_open wrote *out on failure ({st})");
        (st, None)
    }
}

fn open(n: &Named, opts: Option<&wq_options>) -> Handle {
    let (st, h) = try_open(n.ptr(), opts);
    assert_eq!(st, WQ_OK, "wq_open({}): {}", n.name, last_error());
    h.unwrap()
}

fn push(h: &Handle, msg: &[u8], timeout_ns: i64) -> wq_status {
    // SAFETY: live handle; `msg` is readable for its length.
    unsafe {
        wq_push(
            h.raw(),
            msg.as_ptr().cast::<c_void>(),
            msg.len(),
            timeout_ns,
        )
    }
}

fn push_ok(h: &Handle, msg: &[u8]) {
    assert_eq!(push(h, msg, WQ_NO_WAIT), WQ_OK, "push: {}", last_error());
}

/// `wq_pop` into a buffer of `cap` bytes: the status and, on success, the message.
fn pop(h: &Handle, cap: usize, timeout_ns: i64) -> (wq_status, Vec<u8>) {
    let mut buf = vec![0u8; cap];
    let mut len = usize::MAX;
    // SAFETY: live handle; `buf` is writable for `cap` bytes; `len` is a local.
    let st = unsafe {
        wq_pop(
            h.raw(),
            buf.as_mut_ptr().cast::<c_void>(),
            cap,
            &mut len,
            timeout_ns,
        )
    };
    if st == WQ_OK {
        assert!(len <= cap, "out_len {len} exceeds cap {cap}");
        buf.truncate(len);
        (st, buf)
    } else {
        if st != WQ_BUFFER_TOO_SMALL {
            assert_eq!(len, usize::MAX, "*out_len written on failure {st}");
        }
        (st, Vec::new())
    }
}

fn pop_ok(h: &Handle) -> Vec<u8> {
    let (st, msg) = pop(h, 1 << 16, WQ_NO_WAIT);
    assert_eq!(st, WQ_OK, "pop: {}", last_error());
    msg
}

fn stats(h: &Handle) -> wq_stats {
    let mut s = wq_stats::default();
    // SAFETY: live handle; `s` is a local.
    let st = unsafe { wq_stats_get(h.raw(), &mut s) };
    assert_eq!(st, WQ_OK, "wq_stats_get: {}", last_error());
    s
}

fn last_error() -> String {
    let p = wq_last_error();
    assert!(!p.is_null(), "wq_last_error returned NULL");
    // SAFETY: non-NULL and NUL-terminated per the contract; copied at once.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

fn status_str(s: wq_status) -> String {
    let p = wq_status_str(s);
    assert!(!p.is_null(), "wq_status_str({s}) returned NULL");
    // SAFETY: non-NULL static NUL-terminated text per the contract.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .expect("status text is UTF-8")
        .to_owned()
}

fn remove(name: *const c_char) -> wq_status {
    // SAFETY: callers pass NULL or a NUL-terminated string.
    unsafe { wq_remove(name) }
}

fn file_mode(n: &Named) -> u32 {
    std::fs::metadata(n.path())
        .expect("the segment exists under /dev/shm")
        .permissions()
        .mode()
        & 0o7777
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn set_errno(v: i32) {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() = v };
}

/// Asserts that a wait took about `timeout` (never returned early, and not
/// far beyond it; the bound is generous for a loaded 2-core machine).
fn assert_waited(elapsed: Duration, timeout: Duration) {
    assert!(
        elapsed >= timeout.mul_f64(0.9),
        "returned after {elapsed:?}, before the {timeout:?} timeout"
    );
    assert!(
        elapsed <= timeout + Duration::from_secs(10),
        "returned after {elapsed:?}, far beyond the {timeout:?} timeout"
    );
}

/// WQ_NO_WAIT never waits for messages or room, and for an uncontended
/// lock not at all (the contract allows at most 1 s for a held one).
fn assert_no_wait(elapsed: Duration) {
    assert!(
        elapsed < Duration::from_secs(1),
        "WQ_NO_WAIT took {elapsed:?}"
    );
}

// ---------------------------------------------------------------------------
// Constants, options, status texts, version.

#[test]
fn status_and_flag_values_are_fixed() {
    for (s, v) in ALL_STATUSES {
        assert_eq!(s, v);
    }
    assert_eq!(WQ_OPEN_OR_CREATE, 0);
    assert_eq!(WQ_CREATE_ONLY, 1);
    assert_eq!(WQ_OPEN_ONLY, 2);
    assert_eq!(WQ_ALLOW_OTHER_OWNER, 0x100);
    assert_eq!(WQ_NO_WAIT, 0);
    assert_eq!(WQ_FOREVER, -1);
}

#[test]
fn options_default_values() {
    let mut o = options(1, 2, 3, 4);
    // SAFETY: `o` is a live, writable wq_options.
    unsafe { wq_options_default(&mut o) };
    assert_eq!(o.capacity, 33_554_432);
    assert_eq!(o.max_message_size, 0);
    assert_eq!(o.mode, 0o600);
    assert_eq!(o.flags, WQ_OPEN_OR_CREATE);
    // SAFETY: NULL is documented as a no-op.
    unsafe { wq_options_default(ptr::null_mut()) };
}

#[test]
fn status_str_covers_every_code_and_unknown_values() {
    for (s, _) in ALL_STATUSES {
        let text = status_str(s);
        assert!(!text.is_empty(), "wq_status_str({s}) is empty");
        // Static text: the same pointer every time.
        assert_eq!(wq_status_str(s), wq_status_str(s));
    }
    for unknown in [-1, 14, 1000, i32::MIN, i32::MAX] {
        let text = status_str(unknown);
        assert!(!text.is_empty(), "wq_status_str({unknown}) is empty");
    }
}

#[test]
fn version_matches_cargo_and_header_macros() {
    // SAFETY: wq_version returns static NUL-terminated text.
    let v = unsafe { CStr::from_ptr(wq_version()) }.to_str().unwrap();
    assert_eq!(v, env!("CARGO_PKG_VERSION"));
    let header = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/wq.h"))
        .expect("include/wq.h is readable");
    let mac = |name: &str| -> String {
        let prefix = format!("#define {name} ");
        let line = header
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("wq.h defines {name}"));
        line[prefix.len()..].trim().to_owned()
    };
    assert_eq!(mac("WQ_VERSION"), format!("\"{v}\""));
    let parts: Vec<&str> = v.split('.').collect();
    assert_eq!(parts.len(), 3, "version {v:?} is MAJOR.MINOR.PATCH");
    assert_eq!(mac("WQ_VERSION_MAJOR"), parts[0]);
    assert_eq!(mac("WQ_VERSION_MINOR"), parts[1]);
    assert_eq!(mac("WQ_VERSION_PATCH"), parts[2]);
    assert_eq!(mac("WQ_VERSION_MAJOR"), env!("CARGO_PKG_VERSION_MAJOR"));
    assert_eq!(mac("WQ_VERSION_MINOR"), env!("CARGO_PKG_VERSION_MINOR"));
    assert_eq!(mac("WQ_VERSION_PATCH"), env!("CARGO_PKG_VERSION_PATCH"));
    // The status values in the header are the contract's.
    for (name, value) in [
        ("WQ_OK", 0),
        ("WQ_EMPTY", 1),
        ("WQ_FULL", 2),
        ("WQ_INVALID_ARGUMENT", 3),
        ("WQ_NOT_FOUND", 4),
        ("WQ_EXISTS", 5),
        ("WQ_MESSAGE_TOO_LARGE", 6),
        ("WQ_BUFFER_TOO_SMALL", 7),
        ("WQ_INCOMPATIBLE", 8),
        ("WQ_CORRUPTED", 9),
        ("WQ_PERMISSION_DENIED", 10),
        ("WQ_SYSTEM_ERROR", 11),
        ("WQ_INTERNAL", 12),
        ("WQ_OPEN_OR_CREATE", 0),
        ("WQ_CREATE_ONLY", 1),
        ("WQ_OPEN_ONLY", 2),
        ("WQ_NO_WAIT", 0),
    ] {
        assert_eq!(mac(name), value.to_string(), "{name} in wq.h");
    }
    assert_eq!(mac("WQ_FOREVER"), "(-1)");
}

// ---------------------------------------------------------------------------
// NULL handling and output parameters.

#[test]
fn null_arguments_are_invalid() {
    let n = Named::new();
    let mut out: *mut wq_queue = ptr::NonNull::dangling().as_ptr();
    let sentinel = out;
    // SAFETY: NULL name is allowed to be passed; `out` is a local.
    let st = unsafe { wq_open(ptr::null(), ptr::null(), &mut out) };
    assert_eq!(st, WQ_INVALID_ARGUMENT);
    assert_eq!(out, sentinel, "*out written on failure");
    // SAFETY: NULL out is allowed to be passed; the name is NUL-terminated.
    let st = unsafe { wq_open(n.ptr(), ptr::null(), ptr::null_mut()) };
    assert_eq!(st, WQ_INVALID_ARGUMENT);
    assert!(!n.path().exists(), "a rejected open created the segment");
    assert_eq!(remove(ptr::null()), WQ_INVALID_ARGUMENT);

    let q: *mut wq_queue = ptr::null_mut();
    let byte = [7u8];
    let mut buf = [0u8; 8];
    let mut len = 12345usize;
    let mut stats = wq_stats {
        len: 99,
        ..wq_stats::default()
    };
    let iov = [wq_iovec {
        data: byte.as_ptr().cast(),
        len: 1,
    }];
    let mut spans = [wq_span { offset: 5, len: 6 }; 2];
    let mut count = 777usize;
    // SAFETY: every non-NULL pointer below is a live local of the right size.
    unsafe {
        assert_eq!(
            wq_push(q, byte.as_ptr().cast(), 1, WQ_NO_WAIT),
            WQ_INVALID_ARGUMENT
        );
        assert_eq!(
            wq_pop(q, buf.as_mut_ptr().cast(), 8, &mut len, WQ_NO_WAIT),
            WQ_INVALID_ARGUMENT
        );
        assert_eq!(wq_stats_get(q, &mut stats), WQ_INVALID_ARGUMENT);
        assert_eq!(
            wq_push_batch(q, iov.as_ptr(), 1, &mut count, WQ_NO_WAIT),
            WQ_INVALID_ARGUMENT
        );
        assert_eq!(
            wq_pop_batch(
                q,
                buf.as_mut_ptr().cast(),
                8,
                spans.as_mut_ptr(),
                2,
                &mut count,
                WQ_NO_WAIT
            ),
            WQ_INVALID_ARGUMENT
        );
        wq_close(ptr::null_mut());
    }
    assert_eq!(len, 12345, "*out_len written on failure");
    assert_eq!(stats.len, 99, "*out written on failure");
    assert_eq!(count, 777, "*out_count written on failure");
    assert_eq!(spans[0].offset, 5, "spans written on failure");
    assert!(!last_error().is_empty());
}

#[test]
fn null_pointers_on_a_live_handle() {
    let n = Named::new();
    let h = open(&n, Some(&small(4096)));
    push_ok(&h, b"abc");
    let mut len = 4242usize;
    let mut buf = [0u8; 16];
    // SAFETY: every non-NULL pointer is a live local of the stated size.
    unsafe {
        // data NULL with len > 0.
        assert_eq!(
            wq_push(h.raw(), ptr::null(), 1, WQ_NO_WAIT),
            WQ_INVALID_ARGUMENT
        );
        // out_len NULL.
        assert_eq!(
            wq_pop(
                h.raw(),
                buf.as_mut_ptr().cast(),
                16,
                ptr::null_mut(),
                WQ_NO_WAIT
            ),
            WQ_INVALID_ARGUMENT
        );
        // buf NULL with cap > 0.
        assert_eq!(
            wq_pop(h.raw(), ptr::null_mut(), 16, &mut len, WQ_NO_WAIT),
            WQ_INVALID_ARGUMENT
        );
        assert_eq!(len, 4242);
        // stats out NULL.
        assert_eq!(wq_stats_get(h.raw(), ptr::null_mut()), WQ_INVALID_ARGUMENT);
    }
    // None of the failures took the message.
    assert_eq!(stats(&h).len, 1);
    assert_eq!(pop_ok(&h), b"abc");
}

#[test]
fn null_data_with_zero_len_pushes_an_empty_message() {
    let n = Named::new();
    let h = open(&n, Some(&small(4096)));
    // SAFETY: data may be NULL when len is 0.
    let st = unsafe { wq_push(h.raw(), ptr::null(), 0, WQ_NO_WAIT) };
    assert_eq!(st, WQ_OK, "{}", last_error());
    assert_eq!(stats(&h).len, 1);
    let mut len = 99usize;
    // SAFETY: buf may be NULL when cap is 0; `len` is a local.
    let st = unsafe { wq_pop(h.raw(), ptr::null_mut(), 0, &mut len, WQ_NO_WAIT) };
    assert_eq!(st, WQ_OK, "an empty message fits a 0-byte buffer");
    assert_eq!(len, 0);
    assert_eq!(stats(&h).len, 0);
}

#[test]
fn null_buffer_with_zero_cap_learns_the_size_and_keeps_the_message() {
    let n = Named::new();
    let h = open(&n, Some(&small(4096)));
    let msg: Vec<u8> = (0..100u8).collect();
    push_ok(&h, &msg);
    push_ok(&h, b"second");
    for _ in 0..3 {
        let mut len = 0usize;
        // SAFETY: buf may be NULL when cap is 0; `len` is a local.
        let st = unsafe { wq_pop(h.raw(), ptr::null_mut(), 0, &mut len, WQ_NO_WAIT) };
        assert_eq!(st, WQ_BUFFER_TOO_SMALL);
        assert_eq!(len, 100, "*out_len = the next message's size");
    }
    // A buffer one byte short: same, and the buffer is untouched.
    let mut buf = vec![0xeeu8; 99];
    let mut len = 0usize;
    // SAFETY: `buf` is writable for 99 bytes; `len` is a local.
    let st = unsafe { wq_pop(h.raw(), buf.as_mut_ptr().cast(), 99, &mut len, WQ_NO_WAIT) };
    assert_eq!(st, WQ_BUFFER_TOO_SMALL);
    assert_eq!(len, 100);
    let s = stats(&h);
    assert_eq!((s.len, s.popped_total), (2, 0), "the message stays queued");
    assert_eq!(pop(&h, 100, WQ_NO_WAIT), (WQ_OK, msg));
    assert_eq!(pop_ok(&h), b"second");
}

#[test]
fn outputs_are_untouched_on_failure() {
    let n = Named::new();
    let h = open(&n, Some(&small(4096)));
    // EMPTY: neither *out_len nor the buffer is written.
    let mut buf = [0xabu8; 32];
    let mut len = 31337usize;
    // SAFETY: `buf` is writable for 32 bytes; `len` is a local.
    let st = unsafe { wq_pop(h.raw(), buf.as_mut_ptr().cast(), 32, &mut len, WQ_NO_WAIT) };
    assert_eq!(st, WQ_EMPTY);
    assert_eq!(len, 31337);
    assert!(buf.iter().all(|&b| b == 0xab));
    // A failed open leaves *out alone.
    let mut out: *mut wq_queue = ptr::NonNull::dangling().as_ptr();
    let sentinel = out;
    let missing = Named::new();
    let o = options(4096, 0, 0o600, WQ_OPEN_ONLY);
    // SAFETY: NUL-terminated name, live options, `out` a local.
    let st = unsafe { wq_open(missing.ptr(), &o, &mut out) };
    assert_eq!(st, WQ_NOT_FOUND);
    assert_eq!(out, sentinel);
    // A failed batch push leaves *out_pushed alone.
    let big = vec![0u8; 5000];
    let iov = [wq_iovec {
        data: big.as_ptr().cast(),
        len: big.len(),
    }];
    let mut pushed = 4444usize;
    // SAFETY: `iov` describes readable bytes; `pushed` is a local.
    let st = unsafe { wq_push_batch(h.raw(), iov.as_ptr(), 1, &mut pushed, WQ_NO_WAIT) };
    assert_eq!(st, WQ_MESSAGE_TOO_LARGE);
    assert_eq!(pushed, 4444);
    // A failed batch pop (EMPTY) leaves *out_count and the spans alone.
    let mut spans = [wq_span { offset: 1, len: 2 }; 4];
    let mut count = 5555usize;
    // SAFETY: `buf` writable for 32 bytes, `spans` for 4 elements, `count` a local.
    let st = unsafe {
        wq_pop_batch(
            h.raw(),
            buf.as_mut_ptr().cast(),
            32,
            spans.as_mut_ptr(),
            4,
            &mut count,
            WQ_NO_WAIT,
        )
    };
    assert_eq!(st, WQ_EMPTY);
    assert_eq!(count, 5555);
    assert!(spans.iter().all(|s| s.offset == 1 && s.len == 2));
    assert!(buf.iter().all(|&b| b == 0xab));
}

// ---------------------------------------------------------------------------
// Names and flags.

#[test]
fn leading_slash_names_the_same_queue_under_dev_shm() {
    let n = Named::new();
    let slashed = CString::new(format!("/{}", n.name)).unwrap();
    let create = options(4096, 0, 0o600, WQ_CREATE_ONLY);
    let (st, a) = try_open(slashed.as_ptr(), Some(&create));
    assert_eq!(st, WQ_OK, "{}", last_error());
    let a = a.unwrap();
    assert!(n.path().is_file(), "queue /q is the file /dev/shm/q");
    assert_eq!(try_open(n.ptr(), Some(&create)).0, WQ_EXISTS);
    let b = open(&n, Some(&options(4096, 0, 0o600, WQ_OPEN_ONLY)));
    push_ok(&a, b"via slash");
    assert_eq!(pop_ok(&b), b"via slash");
    drop((a, b));
    assert_eq!(remove(slashed.as_ptr()), WQ_OK);
    assert!(!n.path().exists());
    assert_eq!(remove(n.ptr()), WQ_NOT_FOUND);
}

#[test]
fn names_of_the_contract_alphabet_and_250_chars_are_accepted() {
    let base = unique_name();
    let every = Named::from(format!("{base}.AZaz09_-"));
    drop(open(&every, Some(&small(64))));
    assert!(every.path().is_file());

    let long = Named::from(format!("{base}{}", "x".repeat(250 - base.len())));
    assert_eq!(long.name.len(), 250);
    drop(open(&long, Some(&small(64))));
    assert!(long.path().is_file());
    assert_eq!(remove(long.ptr()), WQ_OK);
    // "/" + 250 characters is also fine.
    let slashed = CString::new(format!("/{}", long.name)).unwrap();
    let (st, h) = try_open(slashed.as_ptr(), Some(&small(64)));
    assert_eq!(st, WQ_OK, "{}", last_error());
    drop(h);
    assert_eq!(remove(slashed.as_ptr()), WQ_OK);
}

#[test]
fn bad_names_are_invalid_arguments() {
    let base = unique_name();
    let mut bad: Vec<Vec<u8>> = [
        "",
        "/",
        ".",
        "..",
        "/.",
        "/..",
        "//",
        "a/b",
        "//q",
        "a b",
        " q",
        "q ",
        "tab\tq",
        "new\nline",
        "é",
        "q\u{263a}",
        "star*",
        "back\\slash",
        "colon:",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    bad.push(format!("{base}{}", "y".repeat(251 - base.len())).into_bytes());
    bad.push(format!("/{base}{}", "y".repeat(251 - base.len())).into_bytes());
    bad.push(b"\xff\xfe".to_vec());
    bad.push(b"ok-prefix-\xc3".to_vec());
    bad.push(format!("{base}-\u{e9}").into_bytes());
    for name in bad {
        let c = CString::new(name.clone()).unwrap();
        let (st, h) = try_open(c.as_ptr(), Some(&small(64)));
        drop(h);
        assert_eq!(
            st,
            WQ_INVALID_ARGUMENT,
            "wq_open({:?})",
            String::from_utf8_lossy(&name)
        );
        // The detail only: "<call>: <status text>: <detail>" names the
        // kind once.
        let detail = last_error();
        assert!(!detail.is_empty());
        assert!(!detail.starts_with("invalid argument"), "{detail}");
        assert_eq!(
            remove(c.as_ptr()),
            WQ_INVALID_ARGUMENT,
            "wq_remove({:?})",
            String::from_utf8_lossy(&name)
        );
    }
    // Nothing of ours appeared under /dev/shm.
    let leaked: Vec<_> = std::fs::read_dir("/dev/shm")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(&base))
        .collect();
    assert!(leaked.is_empty(), "bad names left {leaked:?}");
}

#[test]
fn open_flags() {
    let n = Named::new();
    // OPEN_ONLY on a missing queue: NOT_FOUND, nothing created.
    let (st, _) = try_open(n.ptr(), Some(&options(4096, 0, 0o600, WQ_OPEN_ONLY)));
    assert_eq!(st, WQ_NOT_FOUND);
    assert!(!n.path().exists());
    // Invalid flags: INVALID_ARGUMENT, nothing created.
    for flags in [3, 7, 0x103, 0x200, 0x80, u32::MAX] {
        let (st, _) = try_open(n.ptr(), Some(&options(4096, 0, 0o600, flags)));
        assert_eq!(st, WQ_INVALID_ARGUMENT, "flags {flags}");
        assert!(!n.path().exists());
    }
    // CREATE_ONLY creates, then EXISTS.
    let create = options(4096, 0, 0o600, WQ_CREATE_ONLY);
    let a = open(&n, Some(&create));
    let (st, _) = try_open(n.ptr(), Some(&create));
    assert_eq!(st, WQ_EXISTS);
    assert!(!last_error().is_empty());
    // OPEN_ONLY and OPEN_OR_CREATE open the existing one.
    let b = open(&n, Some(&options(4096, 0, 0o600, WQ_OPEN_ONLY)));
    let c = open(&n, Some(&options(4096, 0, 0o600, WQ_OPEN_OR_CREATE)));
    // Invalid flags on an existing queue are still invalid.
    let (st, _) = try_open(n.ptr(), Some(&options(4096, 0, 0o600, 7)));
    assert_eq!(st, WQ_INVALID_ARGUMENT);
    // WQ_ALLOW_OTHER_OWNER combines with every open mode.
    for mode in [WQ_OPEN_OR_CREATE, WQ_OPEN_ONLY] {
        drop(open(
            &n,
            Some(&options(4096, 0, 0o600, mode | WQ_ALLOW_OTHER_OWNER)),
        ));
    }
    let (st, _) = try_open(
        n.ptr(),
        Some(&options(
            4096,
            0,
            0o600,
            WQ_CREATE_ONLY | WQ_ALLOW_OTHER_OWNER,
        )),
    );
    assert_eq!(st, WQ_EXISTS);
    push_ok(&a, b"1");
    push_ok(&b, b"2");
    assert_eq!(pop_ok(&c), b"1");
    assert_eq!(pop_ok(&a), b"2");
}

#[test]
fn bad_geometry_is_invalid_and_creates_nothing() {
    let n = Named::new();
    for o in [
        options(0, 0, 0o600, WQ_OPEN_OR_CREATE),
        options(0, 0, 0o600, WQ_CREATE_ONLY),
        options(4096, 4097, 0o600, WQ_OPEN_OR_CREATE),
        options(4096, u64::MAX, 0o600, WQ_CREATE_ONLY),
        options(64, 1 << 20, 0o600, WQ_OPEN_OR_CREATE),
    ] {
        let (st, _) = try_open(n.ptr(), Some(&o));
        assert_eq!(st, WQ_INVALID_ARGUMENT, "{o:?}");
        assert!(!last_error().is_empty());
        assert!(!n.path().exists(), "{o:?} left a segment");
    }
}

#[test]
fn null_options_mean_defaults() {
    let n = Named::new();
    let h = open(&n, None);
    let s = stats(&h);
    assert_eq!(s.capacity, 33_554_432);
    assert!(s.max_message_size > 0 && s.max_message_size <= s.capacity);
    assert_eq!(file_mode(&n), 0o600);
}

#[test]
fn reopening_keeps_the_stored_geometry() {
    let n = Named::new();
    let a = open(&n, Some(&options(4096, 100, 0o640, WQ_CREATE_ONLY)));
    let before = stats(&a);
    assert_eq!(before.capacity, 4096);
    assert_eq!(before.max_message_size, 100);
    for o in [
        options(1 << 20, 0, 0o666, WQ_OPEN_OR_CREATE),
        options(64, 8, 0o600, WQ_OPEN_ONLY),
        options(1 << 20, 5000, 0o600, WQ_OPEN_OR_CREATE),
    ] {
        let b = open(&n, Some(&o));
        let s = stats(&b);
        assert_eq!(
            (s.capacity, s.max_message_size),
            (4096, 100),
            "reopened with {o:?}"
        );
        assert_eq!(push(&b, &[1u8; 101], WQ_NO_WAIT), WQ_MESSAGE_TOO_LARGE);
        push_ok(&b, &[2u8; 100]);
        assert_eq!(pop_ok(&a), vec![2u8; 100]);
    }
    assert_eq!(file_mode(&n), 0o640, "reopening does not change the mode");
}

// ---------------------------------------------------------------------------
// Messages, limits, timeouts.

#[test]
fn message_too_large() {
    let n = Named::new();
    let h = open(&n, Some(&options(4096, 100, 0o600, WQ_OPEN_OR_CREATE)));
    push_ok(&h, &[9u8; 100]);
    assert_eq!(push(&h, &[9u8; 101], WQ_NO_WAIT), WQ_MESSAGE_TOO_LARGE);
    assert_eq!(push(&h, &[9u8; 101], 50 * MS), WQ_MESSAGE_TOO_LARGE);
    assert_eq!(push(&h, &[9u8; 101], WQ_FOREVER), WQ_MESSAGE_TOO_LARGE);
    assert!(!last_error().is_empty());
    assert_eq!(stats(&h).len, 1);

    // max_message_size 0: the largest message that fits an empty queue fits.
    let m = Named::new();
    let h = open(&m, Some(&small(4096)));
    let max = usize::try_from(stats(&h).max_message_size).unwrap();
    assert!(max > 0 && max <= 4096);
    push_ok(&h, &vec![1u8; max]);
    assert_eq!(pop(&h, max, WQ_NO_WAIT), (WQ_OK, vec![1u8; max]));
    assert_eq!(
        push(&h, &vec![1u8; max + 1], WQ_NO_WAIT),
        WQ_MESSAGE_TOO_LARGE
    );
}

#[test]
fn full_with_no_wait_and_with_a_timeout() {
    let n = Named::new();
    let h = open(&n, Some(&small(512)));
    let msg = [0x5au8; 40];
    let mut pushed = 0u64;
    loop {
        match push(&h, &msg, WQ_NO_WAIT) {
            WQ_OK => pushed += 1,
            WQ_FULL => break,
            other => panic!("push: {other} {}", last_error()),
        }
        assert!(pushed < 512, "a 512-byte queue never filled");
    }
    assert!(pushed >= 1);
    assert!(!last_error().is_empty(), "FULL is a failed call");
    let t = Instant::now();
    assert_eq!(push(&h, &msg, WQ_NO_WAIT), WQ_FULL);
    assert_no_wait(t.elapsed());
    assert_eq!(stats(&h).len, pushed);
    let timeout = Duration::from_millis(300);
    let t = Instant::now();
    assert_eq!(push(&h, &msg, timeout.as_nanos() as i64), WQ_FULL);
    assert_waited(t.elapsed(), timeout);
    let s = stats(&h);
    assert_eq!(
        (s.len, s.pushed_total),
        (pushed, pushed),
        "FULL pushed nothing"
    );
    // Room appears once a message is popped.
    assert_eq!(pop_ok(&h), msg);
    assert_eq!(push(&h, &msg, WQ_NO_WAIT), WQ_OK);
}

#[test]
fn empty_with_no_wait_and_with_a_timeout() {
    let n = Named::new();
    let h = open(&n, Some(&small(512)));
    let t = Instant::now();
    assert_eq!(pop(&h, 64, WQ_NO_WAIT).0, WQ_EMPTY);
    assert_no_wait(t.elapsed());
    assert!(!last_error().is_empty());
    let timeout = Duration::from_millis(300);
    let t = Instant::now();
    assert_eq!(pop(&h, 64, timeout.as_nanos() as i64).0, WQ_EMPTY);
    assert_waited(t.elapsed(), timeout);
    assert_eq!(stats(&h).popped_total, 0);
}

#[test]
fn a_push_wakes_a_pop_waiting_for_ever_and_a_pop_wakes_a_full_push() {
    let n = Named::new();
    let h = open(&n, Some(&small(256)));
    let h = &h;
    std::thread::scope(|s| {
        // Any negative timeout waits without limit.
        for timeout in [WQ_FOREVER, -12345] {
            let waiter = s.spawn(move || pop(h, 64, timeout));
            std::thread::sleep(Duration::from_millis(100));
            push_ok(h, b"wake");
            assert_eq!(waiter.join().unwrap(), (WQ_OK, b"wake".to_vec()));
        }
        while push(h, &[1u8; 50], WQ_NO_WAIT) == WQ_OK {}
        let waiter = s.spawn(move || push(h, b"late", WQ_FOREVER));
        std::thread::sleep(Duration::from_millis(100));
        while pop(h, 64, WQ_NO_WAIT).1 == [1u8; 50] {}
        assert_eq!(waiter.join().unwrap(), WQ_OK);
    });
    // The last pop loop may have taken "late" already or not.
    let s = stats(h);
    assert_eq!(s.pushed_total, s.popped_total + s.len);
}

#[test]
fn many_threads_on_one_handle_keep_per_thread_order() {
    const THREADS: u32 = 4;
    const EACH: u32 = 1000;
    let n = Named::new();
    let h = open(&n, Some(&small(4096)));
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let h = &h;
            s.spawn(move || {
                for i in 0..EACH {
                    let mut msg = t.to_le_bytes().to_vec();
                    msg.extend_from_slice(&i.to_le_bytes());
                    assert_eq!(push(h, &msg, 30_000 * MS), WQ_OK);
                }
            });
        }
        let mut next = [0u32; THREADS as usize];
        for _ in 0..THREADS * EACH {
            let (st, msg) = pop(&h, 64, 30_000 * MS);
            assert_eq!(st, WQ_OK, "{}", last_error());
            let t = u32::from_le_bytes(msg[..4].try_into().unwrap()) as usize;
            let i = u32::from_le_bytes(msg[4..8].try_into().unwrap());
            assert_eq!(i, next[t], "thread {t}'s messages out of order");
            next[t] += 1;
        }
    });
    assert_eq!(pop(&h, 64, WQ_NO_WAIT).0, WQ_EMPTY);
}

// ---------------------------------------------------------------------------
// Remove, persistence, statistics.

#[test]
fn remove_missing_is_not_found_and_open_handles_survive_a_remove() {
    let n = Named::new();
    assert_eq!(remove(n.ptr()), WQ_NOT_FOUND);
    assert!(!last_error().is_empty());
    let h = open(&n, Some(&small(4096)));
    push_ok(&h, b"kept");
    assert_eq!(remove(n.ptr()), WQ_OK);
    assert!(!n.path().exists(), "wq_remove unlinks /dev/shm/NAME");
    assert_eq!(remove(n.ptr()), WQ_NOT_FOUND);
    let (st, _) = try_open(n.ptr(), Some(&options(4096, 0, 0o600, WQ_OPEN_ONLY)));
    assert_eq!(st, WQ_NOT_FOUND);
    // The old handle keeps working on the old segment.
    push_ok(&h, b"after");
    assert_eq!(pop_ok(&h), b"kept");
    // A new open creates a fresh, empty queue under the name.
    let fresh = open(&n, Some(&small(4096)));
    let s = stats(&fresh);
    assert_eq!((s.len, s.pushed_total), (0, 0));
    assert_eq!(pop(&fresh, 64, WQ_NO_WAIT).0, WQ_EMPTY);
    assert_eq!(pop_ok(&h), b"after");
}

#[test]
fn messages_persist_across_close_and_reopen() {
    let n = Named::new();
    let msgs: Vec<Vec<u8>> = (0..50u32)
        .map(|i| (0..i * 3).map(|b| (b ^ i) as u8).collect())
        .collect();
    {
        let h = open(&n, Some(&small(1 << 16)));
        for m in &msgs {
            push_ok(&h, m);
        }
    }
    {
        let h = open(&n, Some(&options(0, 0, 0o600, WQ_OPEN_ONLY)));
        for m in &msgs[..25] {
            assert_eq!(&pop_ok(&h), m);
        }
    }
    let h = open(&n, None);
    let s = stats(&h);
    assert_eq!((s.len, s.pushed_total, s.popped_total), (25, 50, 25));
    for m in &msgs[25..] {
        assert_eq!(&pop_ok(&h), m);
    }
    assert_eq!(pop(&h, 64, WQ_NO_WAIT).0, WQ_EMPTY);
}

#[test]
fn stats_fields() {
    let n = Named::new();
    let h = open(&n, Some(&options(1000, 200, 0o600, WQ_CREATE_ONLY)));
    let s = stats(&h);
    assert_eq!(s.len, 0);
    assert_eq!(s.bytes_used, 0);
    assert!(s.capacity >= 1000, "capacity {}", s.capacity);
    assert_eq!(s.max_message_size, 200);
    assert_eq!((s.pushed_total, s.popped_total, s.recoveries), (0, 0, 0));
    for len in [0usize, 1, 7, 8, 9, 100, 200] {
        push_ok(&h, &vec![3u8; len]);
    }
    let s = stats(&h);
    assert_eq!(s.len, 7);
    assert!(s.bytes_used >= 325, "bytes_used {} < payload", s.bytes_used);
    assert!(s.bytes_used <= s.capacity);
    assert_eq!((s.pushed_total, s.popped_total), (7, 0));
    for _ in 0..3 {
        pop_ok(&h);
    }
    let s2 = stats(&h);
    assert_eq!((s2.len, s2.pushed_total, s2.popped_total), (4, 7, 3));
    assert!(s2.bytes_used < s.bytes_used && s2.bytes_used > 0);
    for _ in 0..4 {
        pop_ok(&h);
    }
    let s = stats(&h);
    assert_eq!((s.len, s.bytes_used), (0, 0), "bytes_used is 0 when empty");
    assert_eq!((s.pushed_total, s.popped_total, s.recoveries), (7, 7, 0));
    assert_eq!(s.capacity, stats(&h).capacity);
}

// ---------------------------------------------------------------------------
// Errors: wq_last_error, errno, foreign segments, permissions.

#[test]
fn last_error_is_per_thread() {
    let fresh = std::thread::spawn(last_error).join().unwrap();
    assert_eq!(fresh, "", "a fresh thread has no last error");

    let failed = std::thread::spawn(|| {
        assert_eq!(remove(ptr::null()), WQ_INVALID_ARGUMENT);
        let first = last_error();
        // Another thread's failure does not change this thread's text.
        let other = std::thread::spawn(|| {
            let before = last_error();
            let missing = Named::new();
            assert_eq!(remove(missing.ptr()), WQ_NOT_FOUND);
            (before, last_error())
        })
        .join()
        .unwrap();
        (first, last_error(), other)
    })
    .join()
    .unwrap();
    let (first, again, (other_before, other_after)) = failed;
    assert!(!first.is_empty(), "wq_last_error empty after a failure");
    assert_eq!(first, again);
    assert_eq!(other_before, "");
    assert!(!other_after.is_empty());
    assert_ne!(first, other_after);
}

#[test]
fn last_error_text_stays_valid_until_the_next_failure() {
    let n = Named::new();
    let h = open(&n, Some(&small(4096)));
    assert_eq!(pop(&h, 64, WQ_NO_WAIT).0, WQ_EMPTY);
    let p = wq_last_error();
    // SAFETY: the contract keeps the text valid until this thread's next
    // failing call; copied at once.
    let text = unsafe { CStr::from_ptr(p) }.to_owned();
    assert!(!text.is_empty());
    // Successful calls do not invalidate or change it.
    push_ok(&h, b"x");
    assert_eq!(pop_ok(&h), b"x");
    let _ = stats(&h);
    // SAFETY: as above: no wq call of this thread has failed since.
    assert_eq!(unsafe { CStr::from_ptr(p) }, text.as_c_str());
    assert_eq!(last_error().as_bytes(), text.as_bytes());
}

#[test]
fn system_error_sets_errno_and_leaves_no_segment() {
    // 1 TiB (the largest capacity) cannot be reserved in a /dev/shm smaller
    // than that: creation fails with an OS error (ENOSPC).
    // SAFETY: statvfs on a NUL-terminated path into a zeroed local.
    let avail = unsafe {
        let mut sv: libc::statvfs = std::mem::zeroed();
        assert_eq!(libc::statvfs(c"/dev/shm".as_ptr(), &mut sv), 0);
        sv.f_bavail as u128 * sv.f_frsize as u128
    };
    let capacity = 1u64 << 40;
    assert!(
        avail < u128::from(capacity),
        "/dev/shm too large for this test"
    );
    let n = Named::new();
    set_errno(0);
    let (st, h) = try_open(n.ptr(), Some(&options(capacity, 0, 0o600, WQ_CREATE_ONLY)));
    let e = errno();
    drop(h);
    assert_eq!(st, WQ_SYSTEM_ERROR, "{}", last_error());
    assert_ne!(e, 0, "errno is set on WQ_SYSTEM_ERROR");
    assert_eq!(e, libc::ENOSPC, "errno {e}");
    assert!(!last_error().is_empty());
    assert!(!n.path().exists(), "a failed creation leaves no segment");
}

/// Puts a foreign file under the queue's name, readable and writable by us
/// whatever the umask another test may have set meanwhile.
fn plant(n: &Named, bytes: &[u8]) {
    std::fs::write(n.path(), bytes).unwrap();
    std::fs::set_permissions(n.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn foreign_segments_are_incompatible_and_removable() {
    // An empty file (a creator that died before sizing it).
    let empty = Named::new();
    plant(&empty, b"");
    let t = Instant::now();
    let (st, _) = try_open(empty.ptr(), None);
    assert_eq!(st, WQ_INCOMPATIBLE, "{}", last_error());
    assert!(t.elapsed() < Duration::from_secs(30), "bounded wait");
    assert_eq!(remove(empty.ptr()), WQ_OK, "wq_remove clears it");
    assert!(!empty.path().exists());

    // Short and page-sized junk.
    for junk in [vec![0x42u8; 10], vec![0x42u8; 8192], vec![0u8; 65536]] {
        let n = Named::new();
        plant(&n, &junk);
        let (st, _) = try_open(n.ptr(), Some(&small(4096)));
        assert!(
            st == WQ_INCOMPATIBLE || st == WQ_CORRUPTED,
            "{} junk bytes: {st} {}",
            junk.len(),
            last_error()
        );
        assert!(!last_error().is_empty());
        let (st, _) = try_open(n.ptr(), Some(&options(4096, 0, 0o600, WQ_CREATE_ONLY)));
        assert_eq!(st, WQ_EXISTS);
        assert_eq!(remove(n.ptr()), WQ_OK);
    }

    // A real queue whose first bytes (its identity) were overwritten.
    let n = Named::new();
    drop(open(&n, Some(&small(4096))));
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(n.path())
            .unwrap();
        f.seek(SeekFrom::Start(0)).unwrap();
        f.write_all(&[0xffu8; 16]).unwrap();
    }
    let (st, _) = try_open(n.ptr(), None);
    assert!(
        st == WQ_INCOMPATIBLE || st == WQ_CORRUPTED,
        "scribbled header: {st} {}",
        last_error()
    );
}

/// Runs `body` with the process umask set to `mask`, restoring it after.
fn with_umask<T>(mask: libc::mode_t, body: impl FnOnce() -> T) -> T {
    let _lock = UMASK_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    // SAFETY: umask only swaps the process's file-creation mask.
    let old = unsafe { libc::umask(mask) };
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
    // SAFETY: as above; restores the previous mask.
    unsafe { libc::umask(old) };
    out.unwrap_or_else(|p| std::panic::resume_unwind(p))
}

#[test]
fn created_segments_get_exactly_the_requested_mode_whatever_the_umask() {
    for mask in [0o022, 0o077, 0o000, 0o777] {
        for mode in [0o640, 0o600, 0o666, 0o604, 0o660, 0o644, 0o400] {
            let n = Named::new();
            let h = with_umask(mask, || {
                open(&n, Some(&options(4096, 0, mode, WQ_CREATE_ONLY)))
            });
            assert_eq!(
                file_mode(&n),
                mode,
                "mode {mode:o} under umask {mask:o}: got {:o}",
                file_mode(&n)
            );
            // The queue works whatever its mode (we opened it).
            push_ok(&h, b"m");
            assert_eq!(pop_ok(&h), b"m");
        }
    }
}

const ROLE_ENV: &str = "WQT_FFI_ROLE";

/// Re-executed as another user: opening a 0600 queue of root's must be
/// WQ_PERMISSION_DENIED.
#[test]
fn opening_without_permission_is_permission_denied() {
    if let Ok(role) = std::env::var(ROLE_ENV) {
        // Child role: exit code 42 = the contract held (0 could also mean
        // that the filter matched no test).
        let name = CString::new(role).unwrap();
        let (st, _) = try_open(name.as_ptr(), None);
        let (st2, _) = try_open(name.as_ptr(), Some(&options(4096, 0, 0o600, WQ_OPEN_ONLY)));
        if st != WQ_PERMISSION_DENIED || st2 != WQ_PERMISSION_DENIED {
            eprintln!("child: wq_open gave {st}/{st2}: {}", last_error());
            std::process::exit(3);
        }
        std::process::exit(42);
    }
    let n = Named::new();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        // Root bypasses file modes: ask an unprivileged child instead.
        let _h = open(&n, Some(&options(4096, 0, 0o600, WQ_CREATE_ONLY)));
        use std::os::unix::process::CommandExt;
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "opening_without_permission_is_permission_denied",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ROLE_ENV, &n.name)
            .uid(65534)
            .gid(65534)
            .output()
            .expect("spawn the test binary as nobody");
        assert_eq!(
            out.status.code(),
            Some(42),
            "child as nobody: {:?}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        let _h = open(&n, Some(&options(4096, 0, 0o000, WQ_CREATE_ONLY)));
        let (st, _) = try_open(n.ptr(), None);
        assert_eq!(st, WQ_PERMISSION_DENIED, "{}", last_error());
    }
}

// ---------------------------------------------------------------------------
// Batches.

fn iovecs(msgs: &[Vec<u8>]) -> Vec<wq_iovec> {
    msgs.iter()
        .map(|m| wq_iovec {
            data: m.as_ptr().cast(),
            len: m.len(),
        })
        .collect()
}

fn push_batch(h: &Handle, msgs: &[Vec<u8>], timeout_ns: i64) -> (wq_status, usize) {
    let iov = iovecs(msgs);
    let mut pushed = usize::MAX;
    // SAFETY: `iov` describes live, readable buffers; `pushed` is a local.
    let st = unsafe { wq_push_batch(h.raw(), iov.as_ptr(), iov.len(), &mut pushed, timeout_ns) };
    (st, pushed)
}

/// `wq_pop_batch` into `cap` bytes and `max` spans: the status, the count
/// and the messages (or, on failure, spans[0]).
fn pop_batch(h: &Handle, cap: usize, max: usize) -> (wq_status, usize, Vec<Vec<u8>>, wq_span) {
    let mut buf = vec![0u8; cap];
    let mut spans = vec![wq_span { offset: 1, len: 1 }; max];
    let mut count = usize::MAX;
    // SAFETY: `buf` writable for `cap` bytes, `spans` for `max` elements.
    let st = unsafe {
        wq_pop_batch(
            h.raw(),
            buf.as_mut_ptr().cast(),
            cap,
            spans.as_mut_ptr(),
            max,
            &mut count,
            WQ_NO_WAIT,
        )
    };
    if st != WQ_OK {
        return (st, count, Vec::new(), spans[0]);
    }
    assert!(count >= 1 && count <= max, "count {count} of max {max}");
    let mut end = 0;
    let msgs = spans[..count]
        .iter()
        .map(|s| {
            assert!(s.offset >= end, "spans overlap or go backwards");
            end = s.offset + s.len;
            assert!(end <= cap, "span beyond the buffer");
            buf[s.offset..end].to_vec()
        })
        .collect();
    (st, count, msgs, spans[0])
}

fn numbered(i: usize, len: usize) -> Vec<u8> {
    let mut m = vec![i as u8; len];
    if len > 0 {
        m[0] = 0xf0 ^ i as u8;
    }
    m
}

#[test]
fn push_batch_pushes_a_prefix_in_order() {
    let n = Named::new();
    let h = open(&n, Some(&options(256, 100, 0o600, WQ_OPEN_OR_CREATE)));
    // count 0 with NULL msgs: OK, *out_pushed = 0.
    let mut pushed = 9usize;
    // SAFETY: msgs may be NULL with count 0; `pushed` is a local.
    let st = unsafe { wq_push_batch(h.raw(), ptr::null(), 0, &mut pushed, WQ_NO_WAIT) };
    assert_eq!((st, pushed), (WQ_OK, 0));
    // NULL msgs with count > 0, NULL out_pushed: invalid.
    // SAFETY: the NULL pointers are the point; nothing is dereferenced.
    let st = unsafe { wq_push_batch(h.raw(), ptr::null(), 2, &mut pushed, WQ_NO_WAIT) };
    assert_eq!(st, WQ_INVALID_ARGUMENT);
    let one = iovecs(&[b"x".to_vec()]);
    // SAFETY: `one` is live; out_pushed NULL is the point.
    let st = unsafe { wq_push_batch(h.raw(), one.as_ptr(), 1, ptr::null_mut(), WQ_NO_WAIT) };
    assert_eq!(st, WQ_INVALID_ARGUMENT);
    // An iovec with NULL data and len 0 is an empty message.
    let empty = [wq_iovec {
        data: ptr::null(),
        len: 0,
    }];
    // SAFETY: NULL data with len 0 is allowed; `pushed` is a local.
    let st = unsafe { wq_push_batch(h.raw(), empty.as_ptr(), 1, &mut pushed, WQ_NO_WAIT) };
    assert_eq!((st, pushed), (WQ_OK, 1));
    assert_eq!(pop_ok(&h), b"");
    assert_eq!(stats(&h).len, 0);

    // Eight 40-byte messages (48 bytes of storage or more each) into 256
    // bytes: a non-empty prefix fits, the rest does not, order kept.
    let msgs: Vec<Vec<u8>> = (0..8).map(|i| numbered(i, 40)).collect();
    let (st, first) = push_batch(&h, &msgs, WQ_NO_WAIT);
    assert_eq!(st, WQ_OK, "{}", last_error());
    assert!(
        (1..8).contains(&first),
        "pushed {first} of 8 into 256 bytes"
    );
    let (st, rest) = push_batch(&h, &msgs[first..], WQ_NO_WAIT);
    assert_eq!(st, WQ_FULL, "no room for the first of the rest");
    assert_eq!(rest, usize::MAX, "*out_pushed untouched on FULL");
    assert_eq!(stats(&h).len, first as u64);
    for m in &msgs[..first] {
        assert_eq!(&pop_ok(&h), m);
    }
    assert_eq!(pop(&h, 64, WQ_NO_WAIT).0, WQ_EMPTY);

    // The first message too large: MESSAGE_TOO_LARGE, nothing pushed.
    let big_first = vec![vec![1u8; 101], vec![2u8; 3]];
    assert_eq!(
        push_batch(&h, &big_first, WQ_NO_WAIT).0,
        WQ_MESSAGE_TOO_LARGE
    );
    assert_eq!(stats(&h).len, 0);
    // A too-large message later stops the batch before it.
    let mixed = vec![vec![1u8; 5], vec![2u8; 101], vec![3u8; 5]];
    assert_eq!(push_batch(&h, &mixed, WQ_NO_WAIT), (WQ_OK, 1));
    assert_eq!(pop_ok(&h), vec![1u8; 5]);
    assert_eq!(pop(&h, 64, WQ_NO_WAIT).0, WQ_EMPTY);

    // FULL with a finite timeout waits about that long and pushes nothing.
    while push(&h, &[0u8; 40], WQ_NO_WAIT) == WQ_OK {}
    let before = stats(&h).len;
    let timeout = Duration::from_millis(200);
    let t = Instant::now();
    let (st, _) = push_batch(&h, &msgs, timeout.as_nanos() as i64);
    assert_eq!(st, WQ_FULL);
    assert_waited(t.elapsed(), timeout);
    assert_eq!(stats(&h).len, before);
}

#[test]
fn pop_batch_takes_an_ordered_prefix() {
    let n = Named::new();
    let h = open(&n, Some(&small(4096)));
    let mut spans = [wq_span::default(); 4];
    let mut buf = [0u8; 64];
    let mut count = 11usize;
    // SAFETY: live locals of the stated sizes; the NULLs/zero are the point.
    unsafe {
        assert_eq!(
            wq_pop_batch(
                h.raw(),
                buf.as_mut_ptr().cast(),
                64,
                spans.as_mut_ptr(),
                0,
                &mut count,
                WQ_NO_WAIT
            ),
            WQ_INVALID_ARGUMENT,
            "max_msgs 0"
        );
        assert_eq!(
            wq_pop_batch(
                h.raw(),
                buf.as_mut_ptr().cast(),
                64,
                ptr::null_mut(),
                4,
                &mut count,
                WQ_NO_WAIT
            ),
            WQ_INVALID_ARGUMENT,
            "NULL spans"
        );
        assert_eq!(
            wq_pop_batch(
                h.raw(),
                buf.as_mut_ptr().cast(),
                64,
                spans.as_mut_ptr(),
                4,
                ptr::null_mut(),
                WQ_NO_WAIT
            ),
            WQ_INVALID_ARGUMENT,
            "NULL out_count"
        );
        assert_eq!(
            wq_pop_batch(
                h.raw(),
                ptr::null_mut(),
                64,
                spans.as_mut_ptr(),
                4,
                &mut count,
                WQ_NO_WAIT
            ),
            WQ_INVALID_ARGUMENT,
            "NULL buf with cap > 0"
        );
    }
    assert_eq!(count, 11);
    assert_eq!(pop_batch(&h, 64, 4).0, WQ_EMPTY);

    let msgs: Vec<Vec<u8>> = [10, 20, 0, 30, 100, 5, 5]
        .iter()
        .enumerate()
        .map(|(i, &len)| numbered(i, len))
        .collect();
    assert_eq!(push_batch(&h, &msgs, WQ_NO_WAIT), (WQ_OK, 7));

    // Limited by max_msgs.
    let (st, c, got, _) = pop_batch(&h, 1024, 2);
    assert_eq!((st, c), (WQ_OK, 2));
    assert_eq!(got, msgs[..2]);
    // Limited by the buffer: 0 + 30 fit in 40, the 100 does not (prefix).
    let (st, c, got, _) = pop_batch(&h, 40, 8);
    assert_eq!((st, c), (WQ_OK, 2), "{got:?}");
    assert_eq!(got, msgs[2..4]);
    // The first does not fit: BUFFER_TOO_SMALL, spans[0].len = its size,
    // *out_count 0, and it stays queued.
    let (st, c, _, span0) = pop_batch(&h, 99, 8);
    assert_eq!(st, WQ_BUFFER_TOO_SMALL);
    assert_eq!(c, 0, "*out_count 0 on BUFFER_TOO_SMALL");
    assert_eq!(span0.len, 100, "spans[0].len = the first message's size");
    // The same with buf NULL and cap 0.
    let mut sp = [wq_span::default(); 2];
    let mut count = 3usize;
    // SAFETY: buf may be NULL with cap 0; `sp` and `count` are locals.
    let st = unsafe {
        wq_pop_batch(
            h.raw(),
            ptr::null_mut(),
            0,
            sp.as_mut_ptr(),
            2,
            &mut count,
            WQ_NO_WAIT,
        )
    };
    assert_eq!((st, count, sp[0].len), (WQ_BUFFER_TOO_SMALL, 0, 100));
    assert_eq!(stats(&h).len, 3);
    // Everything left, in order.
    let (st, c, got, _) = pop_batch(&h, 4096, 16);
    assert_eq!((st, c), (WQ_OK, 3));
    assert_eq!(got, msgs[4..]);
    let s = stats(&h);
    assert_eq!(
        (s.len, s.bytes_used, s.pushed_total, s.popped_total),
        (0, 0, 7, 7)
    );
}

#[test]
fn pop_batch_empty_times_out_after_about_the_timeout() {
    let n = Named::new();
    let h = open(&n, Some(&small(4096)));
    let mut buf = [0u8; 64];
    let mut spans = [wq_span::default(); 4];
    let mut count = 0usize;
    let timeout = Duration::from_millis(300);
    let t = Instant::now();
    // SAFETY: live locals of the stated sizes.
    let st = unsafe {
        wq_pop_batch(
            h.raw(),
            buf.as_mut_ptr().cast(),
            64,
            spans.as_mut_ptr(),
            4,
            &mut count,
            timeout.as_nanos() as i64,
        )
    };
    assert_eq!(st, WQ_EMPTY);
    assert_waited(t.elapsed(), timeout);
}

// ---------------------------------------------------------------------------
// Readiness descriptor.

#[test]
fn readable_fd_is_one_descriptor_per_handle_reset_by_an_empty_pop() {
    set_errno(0);
    // SAFETY: NULL is documented to fail.
    assert_eq!(unsafe { wq_readable_fd(ptr::null_mut()) }, -1);
    assert_eq!(errno(), libc::EINVAL);
    assert!(!last_error().is_empty());

    let n = Named::new();
    let h = open(&n, Some(&small(4096)));
    // SAFETY: `h` is a live handle.
    let fd = unsafe { wq_readable_fd(h.raw()) };
    assert!(fd >= 0, "{}", last_error());
    // SAFETY: as above.
    let again = unsafe { wq_readable_fd(h.raw()) };
    assert_eq!(again, fd, "the same descriptor");
    let poll = |ms: i32| {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut pfd, 1, ms) == 1 }
    };
    assert!(!poll(20));
    push_ok(&h, b"m");
    assert!(poll(10_000));
    assert_eq!(pop_ok(&h), b"m");
    assert_eq!(pop(&h, 16, WQ_NO_WAIT).0, WQ_EMPTY);
    assert!(!poll(0), "reset by the pop that found the queue empty");
}
