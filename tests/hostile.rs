//! A hostile machine: another user's queue under the caller's name, a sparse
//! segment on a full `/dev/shm`, creators racing for the last free space,
//! segments truncated under live handles, an `RLIMIT_FSIZE` below the
//! segment size, no `/proc` (waits ended by `Queue::interrupt` are in
//! `tests/interrupt.rs`).
//!
//! Everything that can go wrong here kills or hangs a process (SIGBUS,
//! SIGXFSZ, a wait that never ends), so the work runs in child processes
//! (this binary re-executed with a role) and the tests judge their exit
//! status within a bound. Tests that need root (chown, `setpriv`, private
//! mount namespaces via `unshare --mount`) say so and pass without it.

mod common;

use std::ffi::CString;
use std::fs::OpenOptions;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::child::{fail, or_exit, run_child};
use common::{TempQueue, arg, expect_success, finish, num, spawn, wait_ready_now};
use wq::{Error, OpenMode, Options, Queue};

/// The uid (and gid) of "another user".
const OTHER_UID: u32 = 12345;
/// Bound on every child process.
const LIMIT: Duration = Duration::from_secs(30);

/// Runs a child in a private mount namespace of its own: what it mounts is
/// seen by it and its children only, and goes away with them.
const PRIVATE_MOUNTS: [&str; 4] = ["unshare", "--mount", "--propagation", "private"];
/// Runs a child as [`OTHER_UID`], with no supplementary groups.
const AS_OTHER_USER: [&str; 4] = [
    "setpriv",
    "--reuid=12345",
    "--regid=12345",
    "--clear-groups",
];

// ---------------------------------------------------------------------------
// Helpers.

fn options(capacity: u64, open_mode: OpenMode, allow_other_owner: bool) -> Options {
    Options {
        capacity,
        open_mode,
        allow_other_owner,
        ..Options::default()
    }
}

fn create(name: &str, capacity: u64) -> Queue {
    or_exit(
        "create",
        Queue::open(name, &options(capacity, OpenMode::CreateOnly, false)),
    )
}

fn open_as(name: &str, open_mode: OpenMode, allow_other_owner: bool) -> wq::Result<Queue> {
    Queue::open(name, &options(1 << 16, open_mode, allow_other_owner))
}

/// Creates a queue anyone may read and write.
fn create_world_writable(name: &str) -> wq::Result<Queue> {
    Queue::open(
        name,
        &Options {
            capacity: 1 << 16,
            mode: 0o666,
            open_mode: OpenMode::CreateOnly,
            ..Options::default()
        },
    )
}

fn shm_path(name: &str) -> String {
    format!("/dev/shm/{name}")
}

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() }
}

/// Whether this process is root; says why the test passes when it is not.
fn root(test: &str) -> bool {
    let yes = euid() == 0;
    if !yes {
        eprintln!("{test}: skipped, needs root");
    }
    yes
}

/// Whether children can get private mount namespaces (root and a working
/// `unshare --mount`); says why the test passes when they cannot.
fn namespaces(test: &str) -> bool {
    static WORKS: OnceLock<bool> = OnceLock::new();
    let works = *WORKS.get_or_init(|| {
        euid() == 0
            && Command::new(PRIVATE_MOUNTS[0])
                .args(&PRIVATE_MOUNTS[1..])
                .arg("true")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
    });
    if !works {
        eprintln!("{test}: skipped, needs root and `unshare --mount`");
    }
    works
}

/// In a child of [`PRIVATE_MOUNTS`]: a fresh tmpfs of `size` bytes on `target`.
fn mount_tmpfs(target: &str, size: u64) {
    let target_c = CString::new(target).expect("no NUL");
    let data = CString::new(format!("size={size},mode=1777")).expect("no NUL");
    // SAFETY: NUL-terminated strings that outlive the call.
    let rc = unsafe {
        libc::mount(
            c"tmpfs".as_ptr(),
            target_c.as_ptr(),
            c"tmpfs".as_ptr(),
            0,
            data.as_ptr().cast(),
        )
    };
    if rc != 0 {
        fail(&format!(
            "mount tmpfs on {target}: {}",
            std::io::Error::last_os_error()
        ));
    }
}

/// The whole file of a fresh queue of `capacity` (made and removed here).
fn queue_image(name: &str, capacity: u64) -> Vec<u8> {
    drop(create(name, capacity));
    let image = std::fs::read(shm_path(name)).expect("read the segment");
    or_exit("remove", Queue::remove(name));
    image
}

/// Bytes in the file of a queue of `capacity` (made and removed here).
fn segment_size(name: &str, capacity: u64) -> u64 {
    queue_image(name, capacity).len() as u64
}

/// Bytes of memory backing the file.
fn allocated(path: &str) -> u64 {
    std::fs::metadata(path).expect("stat").blocks() * 512
}

/// Writes `image` to a new file at `path`, as a hole wherever a page of it
/// is all zeros.
fn write_sparse(path: &str, image: &[u8]) {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .expect("create the sparse file");
    file.set_len(image.len() as u64).expect("size the file");
    for (i, page) in image.chunks(4096).enumerate() {
        if page.iter().any(|&b| b != 0) {
            file.write_all_at(page, i as u64 * 4096)
                .expect("write a page");
        }
    }
}

/// Fills the filesystem holding `path` with a file there, up to ENOSPC.
fn fill_filesystem(path: &str) {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .expect("create the filler");
    let chunk = vec![0x5a; 16 << 10];
    let mut at = 0u64;
    while file.write_all_at(&chunk, at).is_ok() {
        at += chunk.len() as u64;
    }
}

/// Names left in the current `/dev/shm`.
fn shm_listing() -> Vec<String> {
    std::fs::read_dir("/dev/shm")
        .expect("list /dev/shm")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

/// A `WQ_START` value: a common instant 150 ms from now.
fn start_soon() -> String {
    (SystemTime::now() + Duration::from_millis(150))
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_nanos()
        .to_string()
}

/// In a child: spins until the instant in `WQ_START`.
fn wait_for_start() {
    let start = UNIX_EPOCH + Duration::from_nanos(num("WQ_START"));
    while SystemTime::now() < start {
        std::hint::spin_loop();
    }
}

/// Runs `body` in a fork of this process and asserts that the fork exits
/// with success (`body` returned true) within [`LIMIT`].
fn in_fork(what: &str, body: impl FnOnce() -> bool) {
    // SAFETY: the child only runs `body` (queue calls) and `_exit`s; the
    // children that call this run no other threads of their own.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        fail(&format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or(false);
        // SAFETY: _exit ends the forked child without running the parent's
        // atexit handlers or destructors.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let until = Instant::now() + LIMIT;
    let mut status = 0;
    // SAFETY: waitpid on our own child with a local status word.
    while unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == 0 {
        if Instant::now() > until {
            // SAFETY: kill and reap our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            fail(&format!("{what}: the fork did not finish within {LIMIT:?}"));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        fail(&format!(
            "{what}: the fork ended with wait status {status:#x}"
        ));
    }
}

/// Asserts that `result` is a permission error whose text names `uid`.
fn assert_refused_naming(result: wq::Result<Queue>, uid: u32, what: &str) {
    match result {
        Err(e @ Error::PermissionDenied(_)) => {
            let text = e.to_string();
            if !text.contains(&uid.to_string()) {
                fail(&format!(
                    "{what}: the refusal does not name uid {uid}: {text}"
                ));
            }
            println!("{what}: {text}");
        }
        Err(other) => fail(&format!("{what}: want PermissionDenied, got {other}")),
        Ok(_) => fail(&format!("{what}: opened a queue owned by uid {uid}")),
    }
}

/// `wq_open` through the C ABI with `flags`: the status and `wq_last_error`.
fn c_open(name: &str, flags: u32) -> (wq::ffi::wq_status, String) {
    let name = CString::new(name).expect("no NUL");
    let mut opts = std::mem::MaybeUninit::<wq::ffi::wq_options>::uninit();
    // SAFETY: wq_options_default fills the whole struct.
    let mut opts = unsafe {
        wq::ffi::wq_options_default(opts.as_mut_ptr());
        opts.assume_init()
    };
    opts.flags = flags;
    let mut q = std::ptr::null_mut();
    // SAFETY: NUL-terminated name, initialised options, `q` a local.
    let st = unsafe { wq::ffi::wq_open(name.as_ptr(), &opts, &mut q) };
    // SAFETY: wq_last_error returns this thread's NUL-terminated text.
    let text = unsafe { std::ffi::CStr::from_ptr(wq::ffi::wq_last_error()) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: `q` is NULL or the live handle just opened, closed once.
    unsafe { wq::ffi::wq_close(q) };
    (st, text)
}

// ---------------------------------------------------------------------------
// The child processes' entry point.

#[test]
#[ignore = "entry point of child processes, started by the other tests"]
fn child() {
    let Some(role) = common::role() else { return };
    match role.as_str() {
        "squat" => squat(),
        "peer_of_other_users" => peer_of_other_users(),
        "sparse_on_tiny_shm" => sparse_on_tiny_shm(),
        "race_for_room" => race_for_room(),
        "race_for_room_open" => {
            wait_for_start();
            let q = or_exit(
                "racing open-or-create",
                Queue::open(
                    &arg("WQ_Q"),
                    &options(num("WQ_CAPACITY"), OpenMode::OpenOrCreate, false),
                ),
            );
            or_exit("push id", q.push(&num("WQ_ID").to_le_bytes(), None));
        }
        "truncated_push" => use_until_corrupted(true),
        "truncated_pop" => use_until_corrupted(false),
        "fsize" => fsize(),
        "no_proc" => no_proc(),
        other => fail(&format!("unknown role {other}")),
    }
}

// ---------------------------------------------------------------------------
// Another user's queue.

#[test]
fn a_queue_owned_by_another_uid_is_refused_unless_allowed() {
    if !root("a_queue_owned_by_another_uid_is_refused_unless_allowed") {
        return;
    }
    let q = TempQueue::new("owner");
    let queue = create(&q.name, 1 << 16);
    queue.push(b"before", None).unwrap();
    drop(queue);
    std::os::unix::fs::chown(q.path(), Some(OTHER_UID), Some(OTHER_UID)).unwrap();

    for mode in [OpenMode::OpenOrCreate, OpenMode::OpenOnly] {
        assert_refused_naming(
            open_as(&q.name, mode, false),
            OTHER_UID,
            &format!("{mode:?} of a queue chowned to {OTHER_UID}"),
        );
    }
    let (st, text) = c_open(&q.name, wq::ffi::WQ_OPEN_ONLY);
    assert_eq!(st, wq::ffi::WQ_PERMISSION_DENIED, "C wq_open: {text}");
    assert!(
        text.contains("12345"),
        "wq_last_error names the owner: {text}"
    );

    let shared = open_as(&q.name, OpenMode::OpenOnly, true).expect("allow_other_owner");
    assert_eq!(shared.pop(Some(Duration::ZERO)).unwrap(), b"before");
    shared.push(b"after", None).unwrap();
    assert_eq!(shared.pop(Some(Duration::ZERO)).unwrap(), b"after");
    let (st, text) = c_open(
        &q.name,
        wq::ffi::WQ_OPEN_ONLY | wq::ffi::WQ_ALLOW_OTHER_OWNER,
    );
    assert_eq!(st, wq::ffi::WQ_OK, "C wq_open with the flag: {text}");

    // Flag bits nobody defined are refused, whatever the owner.
    for bad in [
        0x200,
        0x8000_0000,
        0x3,
        wq::ffi::WQ_ALLOW_OTHER_OWNER | 0x400,
    ] {
        let (st, text) = c_open(&q.name, bad);
        assert_eq!(st, wq::ffi::WQ_INVALID_ARGUMENT, "flags {bad:#x}: {text}");
    }
}

/// As [`OTHER_UID`]: plants a message in a world-writable queue under the
/// name a victim will use.
fn squat() {
    let q = or_exit("squat", create_world_writable(&arg("WQ_Q")));
    or_exit("plant", q.push(b"planted", None));
    println!("planted");
}

/// As [`OTHER_UID`]: root's queue opens, a third user's is refused unless
/// allowed.
fn peer_of_other_users() {
    let roots = or_exit(
        "open root's queue",
        open_as(&arg("WQ_ROOTS"), OpenMode::OpenOnly, false),
    );
    or_exit("push to root's queue", roots.push(b"from 12345", None));
    let third = arg("WQ_THIRD");
    assert_refused_naming(
        open_as(&third, OpenMode::OpenOrCreate, false),
        OTHER_UID + 1,
        "uid 12345 opening uid 12346's queue",
    );
    let shared = or_exit(
        "open uid 12346's queue with allow_other_owner",
        open_as(&third, OpenMode::OpenOnly, true),
    );
    or_exit("push to the shared queue", shared.push(b"shared", None));
    println!("peer: ok");
}

#[test]
fn a_queue_created_by_another_user_is_refused_unless_allowed() {
    if !root("a_queue_created_by_another_user_is_refused_unless_allowed") {
        return;
    }
    let q = TempQueue::new("squat");
    run_child(&AS_OTHER_USER, "squat", &[q.env()], LIMIT, "planted");
    let owner = std::fs::metadata(q.path()).unwrap().uid();
    assert_eq!(owner, OTHER_UID, "setpriv ran the squatter as uid 12345");
    for mode in [OpenMode::OpenOrCreate, OpenMode::OpenOnly] {
        let what = format!("{mode:?} of the squatter's queue");
        assert_refused_naming(open_as(&q.name, mode, false), OTHER_UID, &what);
    }
    let shared = open_as(&q.name, OpenMode::OpenOnly, true).expect("allow_other_owner");
    assert_eq!(shared.pop(Some(Duration::ZERO)).unwrap(), b"planted");

    // And the other way round: uid 12345 may open root's queue, not uid 12346's.
    let roots = TempQueue::new("roots");
    let third = TempQueue::new("third");
    let roots_q = create_world_writable(&roots.name).unwrap();
    let third_q = create_world_writable(&third.name).unwrap();
    std::os::unix::fs::chown(third.path(), Some(OTHER_UID + 1), Some(OTHER_UID + 1)).unwrap();
    let env = [
        ("WQ_ROOTS", roots.name.clone()),
        ("WQ_THIRD", third.name.clone()),
    ];
    run_child(
        &AS_OTHER_USER,
        "peer_of_other_users",
        &env,
        LIMIT,
        "peer: ok",
    );
    assert_eq!(roots_q.pop(Some(Duration::ZERO)).unwrap(), b"from 12345");
    assert_eq!(third_q.pop(Some(Duration::ZERO)).unwrap(), b"shared");
}

// ---------------------------------------------------------------------------
// A full /dev/shm.

#[test]
fn a_sparse_segment_on_a_full_dev_shm_is_an_error_at_open_not_a_sigbus() {
    if !namespaces("a_sparse_segment_on_a_full_dev_shm_is_an_error_at_open_not_a_sigbus") {
        return;
    }
    let q = TempQueue::new("sparse");
    let env = [q.env()];
    let says = "refused the 2 MiB segment";
    run_child(&PRIVATE_MOUNTS, "sparse_on_tiny_shm", &env, LIMIT, says);
}

/// In a private mount namespace: a valid queue file whose pages are mostly
/// holes, on a 1 MiB `/dev/shm`, while another thread works on a queue there.
fn sparse_on_tiny_shm() {
    let name = arg("WQ_Q");
    let path = shm_path(&name);
    // Made normally on the roomy /dev/shm, before the tiny one covers it.
    let big = queue_image(&name, 2 << 20);
    let small = queue_image(&name, 256 << 10);
    mount_tmpfs("/dev/shm", 1 << 20);

    let stop = Arc::new(AtomicBool::new(false));
    let worker = {
        let stop = Arc::clone(&stop);
        let name = format!("{name}-worker");
        std::thread::spawn(move || {
            let q = create(&name, 16 << 10);
            let mut rounds = 0u64;
            while !stop.load(Ordering::Relaxed) {
                or_exit("worker push", q.push(&rounds.to_le_bytes(), None));
                let got = or_exit("worker pop", q.pop(None));
                assert_eq!(got, rounds.to_le_bytes());
                rounds += 1;
            }
            rounds
        })
    };

    write_sparse(&path, &big);
    assert!(
        allocated(&path) < big.len() as u64 / 2,
        "the file is sparse"
    );
    for mode in [OpenMode::OpenOnly, OpenMode::OpenOrCreate] {
        match open_as(&name, mode, false) {
            Err(e @ Error::NoSpace(_)) if e.raw_os_error() == Some(libc::ENOSPC) => {
                println!("{mode:?}: refused the 2 MiB segment: {e}");
            }
            Err(other) => fail(&format!(
                "{mode:?} of a 2 MiB sparse segment on a 1 MiB /dev/shm: want NoSpace (ENOSPC), got {other} ({other:?})"
            )),
            Ok(q) => {
                // Show what that means: the ring's pages cannot be backed.
                let msg = vec![1u8; 4000];
                while q.try_push(&msg).unwrap_or(false) {}
                fail(&format!(
                    "{mode:?} opened a 2 MiB sparse segment on a 1 MiB /dev/shm (and filled it without SIGBUS?)"
                ));
            }
        }
    }
    std::fs::remove_file(&path).expect("remove the sparse file");

    // One that fits is either made whole at open or refused, never left
    // with holes a full /dev/shm cannot fill later.
    write_sparse(&path, &small);
    match open_as(&name, OpenMode::OpenOnly, false) {
        Ok(q) => {
            let (have, size) = (allocated(&path), small.len() as u64);
            if have < size {
                fail(&format!(
                    "opened a sparse 256 KiB segment but left it with holes: {have} of {size} bytes backed"
                ));
            }
            let filler = format!("{path}-filler");
            fill_filesystem(&filler);
            let msg = vec![2u8; 1000];
            let mut n = 0;
            while or_exit("fill the ring", q.try_push(&msg)) {
                n += 1;
            }
            for _ in 0..n {
                or_exit("drain the ring", q.pop(Some(Duration::ZERO)));
            }
            std::fs::remove_file(filler).expect("remove the filler");
            println!("a sparse 256 KiB segment was made whole at open ({n} messages fit)");
        }
        Err(e) => println!("a sparse 256 KiB segment was refused: {e}"),
    }
    std::fs::remove_file(&path).expect("remove the sparse file");

    stop.store(true, Ordering::Relaxed);
    let rounds = worker.join().expect("the worker thread");
    assert!(rounds > 0, "the worker made progress");
    or_exit(
        "remove the worker's queue",
        Queue::remove(&format!("{name}-worker")),
    );
    let left = shm_listing();
    if !left.is_empty() {
        fail(&format!("left in /dev/shm: {left:?}"));
    }
}

#[test]
fn creators_racing_for_room_for_one_and_a_half_queues_all_succeed() {
    if !namespaces("creators_racing_for_room_for_one_and_a_half_queues_all_succeed") {
        return;
    }
    let q = TempQueue::new("room");
    let says = "all rounds of 2-8 racers shared one queue";
    run_child(
        &PRIVATE_MOUNTS,
        "race_for_room",
        &[q.env()],
        LIMIT * 2,
        says,
    );
}

/// In a private mount namespace: a `/dev/shm` with room for 1.5 queues and
/// rounds of 2 to 8 processes that open-or-create one name at one instant.
fn race_for_room() {
    const CAPACITY: u64 = 1 << 20;
    let name = arg("WQ_Q");
    let seg = segment_size(&name, CAPACITY);
    let room = (seg + seg / 2).div_ceil(4096) * 4096;
    mount_tmpfs("/dev/shm", room);
    println!("segment {seg} bytes, /dev/shm {room} bytes");
    for (round, n) in [2u64, 3, 4, 5, 6, 7, 8, 8, 2].into_iter().enumerate() {
        let start = start_soon();
        let racers: Vec<Child> = (0..n)
            .map(|id| {
                spawn(
                    "race_for_room_open",
                    &[
                        ("WQ_Q", name.clone()),
                        ("WQ_START", start.clone()),
                        ("WQ_ID", id.to_string()),
                        ("WQ_CAPACITY", CAPACITY.to_string()),
                    ],
                )
            })
            .collect();
        for r in racers {
            expect_success(r, LIMIT, &format!("round {round}: one of {n} racers"));
        }
        let q = or_exit("reopen", open_as(&name, OpenMode::OpenOnly, false));
        let mut ids: Vec<u64> = (0..n)
            .map(|_| {
                let id = or_exit("pop an id", q.pop(Some(Duration::ZERO)));
                u64::from_le_bytes(id.try_into().expect("an 8-byte id"))
            })
            .collect();
        ids.sort_unstable();
        assert_eq!(ids, (0..n).collect::<Vec<_>>(), "round {round}: one queue");
        drop(q);
        or_exit("remove", Queue::remove(&name));
        let left = shm_listing();
        if !left.is_empty() {
            fail(&format!("round {round}: left in /dev/shm: {left:?}"));
        }
    }
    println!("all rounds of 2-8 racers shared one queue");
}

// ---------------------------------------------------------------------------
// A segment truncated under live handles.

#[test]
fn truncation_under_live_handles_is_corruption_not_sigbus() {
    type NewLen = fn(u64) -> u64;
    let cases: [(&str, NewLen); 3] = [
        ("to 0", |_| 0),
        ("to the header", |_| 4096),
        ("by one byte", |size| size - 1),
    ];
    for (what, new_len) in cases {
        let q = TempQueue::new("trunc");
        let queue = create(&q.name, 1 << 20);
        let size = std::fs::metadata(q.path()).unwrap().len();
        let users: Vec<_> = [
            "truncated_push",
            "truncated_pop",
            "truncated_push",
            "truncated_pop",
        ]
        .into_iter()
        .map(|role| {
            let mut child = spawn(role, &[q.env()]);
            let out = wait_ready_now(&mut child);
            (role, child, out)
        })
        .collect();
        // Every user has its handle and traffic flows; then this process
        // lets go of the segment (it never touches it after the truncation)
        // and truncates the file.
        let until = Instant::now() + LIMIT;
        while queue.stats().map(|s| s.popped_total).unwrap_or(0) < 200 {
            assert!(Instant::now() < until, "{what}: no traffic");
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(queue);
        OpenOptions::new()
            .write(true)
            .open(q.path())
            .unwrap()
            .set_len(new_len(size))
            .unwrap();
        for (role, child, out) in users {
            let said = finish(child, out, LIMIT);
            assert!(said.contains("corrupted after"), "{role}, {what}: {said}");
        }
        match open_as(&q.name, OpenMode::OpenOnly, false) {
            Err(Error::Incompatible(_) | Error::Corrupted(_)) => {}
            Err(other) => panic!("{what}: reopening gave {other}"),
            Ok(_) => panic!("{what}: the truncated segment opened as a queue"),
        }
        eprintln!("truncated {what}: every user got Corrupted and lived");
    }
}

/// Pushes (or pops) with short timeouts until a call says Corrupted; then
/// checks that every kind of call on the handle says so.
fn use_until_corrupted(push: bool) {
    let q = or_exit("open", open_as(&arg("WQ_Q"), OpenMode::OpenOnly, false));
    let short = Some(Duration::from_millis(5));
    let msg = [0x42u8; 100];
    let mut buf = [0u8; 1024];
    let until = Instant::now() + Duration::from_secs(15);
    let mut calls = 0u64;
    loop {
        if calls == 20 {
            println!("ready");
        }
        let result = if push {
            q.push(&msg, short)
        } else {
            q.pop_into(&mut buf, short).map(drop)
        };
        match result {
            Ok(()) | Err(Error::Empty) | Err(Error::Full) => calls += 1,
            Err(Error::Corrupted(e)) => {
                for _ in 0..3 {
                    let after = [
                        ("push", q.push(&msg, short).err()),
                        ("pop", q.pop_into(&mut buf, short).err()),
                        ("stats", q.stats().err()),
                    ];
                    for (call, err) in after {
                        if !matches!(err, Some(Error::Corrupted(_))) {
                            let first = if push { "push" } else { "pop" };
                            fail(&format!(
                                "after a {first} gave Corrupted ({e}), {call} gave {}",
                                err.map_or("Ok".to_owned(), |e| format!("{e:?}"))
                            ));
                        }
                    }
                }
                println!("corrupted after {calls} calls: {e}");
                return;
            }
            Err(other) => fail(&format!("after {calls} calls: {other} ({other:?})")),
        }
        if Instant::now() > until {
            fail(&format!("no Corrupted within 15 s ({calls} calls)"));
        }
    }
}

// ---------------------------------------------------------------------------
// RLIMIT_FSIZE and no /proc.

#[test]
fn rlimit_fsize_below_the_segment_size_is_an_error_not_sigxfsz() {
    let q = TempQueue::new("fsize");
    // In a private /dev/shm when possible, to see that nothing is left behind.
    let private = namespaces("rlimit_fsize (private /dev/shm)");
    let wrapper: &[&str] = if private { &PRIVATE_MOUNTS } else { &[] };
    let env = [q.env(), ("WQ_PRIVATE", u8::from(private).to_string())];
    run_child(wrapper, "fsize", &env, LIMIT, "fsize: ok");
    assert!(!std::path::Path::new(&q.path()).exists());
}

fn set_fsize_limit(soft: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit with a local struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut lim), 0);
        lim.rlim_cur = soft;
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &lim), 0, "setrlimit");
    }
}

fn fsize() {
    let name = arg("WQ_Q");
    if num("WQ_PRIVATE") == 1 {
        mount_tmpfs("/dev/shm", 64 << 20);
    }
    // SAFETY: restoring the default action of SIGXFSZ (terminate).
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_DFL) };
    let small = segment_size(&name, 4096);
    let limits = [1, 4096, small + (256 << 10)];
    for limit in limits {
        set_fsize_limit(limit);
        match Queue::open(&name, &options(1 << 20, OpenMode::CreateOnly, false)) {
            Err(e @ Error::System { .. }) => println!("RLIMIT_FSIZE {limit}: {e}"),
            Err(other) => fail(&format!("RLIMIT_FSIZE {limit}: want System, got {other}")),
            Ok(_) => fail(&format!("RLIMIT_FSIZE {limit}: created a 1 MiB queue")),
        }
        set_fsize_limit(libc::RLIM_INFINITY);
        if !matches!(Queue::remove(&name), Err(Error::NotFound(_))) {
            fail(&format!(
                "RLIMIT_FSIZE {limit}: the failed creation left {name}"
            ));
        }
        if num("WQ_PRIVATE") == 1 && !shm_listing().is_empty() {
            fail(&format!("RLIMIT_FSIZE {limit}: left {:?}", shm_listing()));
        }
    }
    // A queue that fits under the limit is made as usual.
    set_fsize_limit(small + (256 << 10));
    let q = create(&name, 4096);
    or_exit("push", q.push(b"fits", None));
    assert_eq!(or_exit("pop", q.pop(None)), b"fits");
    drop(q);
    or_exit("remove", Queue::remove(&name));
    println!("fsize: ok");
}

#[test]
fn queues_work_without_proc() {
    if !namespaces("queues_work_without_proc") {
        return;
    }
    let (q1, q2) = (TempQueue::new("noproc"), TempQueue::new("noproc"));
    let env = [("WQ_Q", q1.name.clone()), ("WQ_Q2", q2.name.clone())];
    run_child(&PRIVATE_MOUNTS, "no_proc", &env, LIMIT, "as uid 12345: ok");
}

/// In a private mount namespace: an empty tmpfs over `/proc`, then queues
/// made and used as root, and again as [`OTHER_UID`], also by a fork.
fn no_proc() {
    mount_tmpfs("/proc", 1 << 16);
    if std::path::Path::new("/proc/self").exists() {
        fail("/proc/self still exists");
    }
    use_without_proc(&arg("WQ_Q"), "as root");
    // SAFETY: setgroups/setresgid/setresuid with constants; glibc applies
    // them to every thread of the process.
    unsafe {
        assert_eq!(libc::setgroups(0, std::ptr::null()), 0);
        assert_eq!(libc::setresgid(OTHER_UID, OTHER_UID, OTHER_UID), 0);
        assert_eq!(libc::setresuid(OTHER_UID, OTHER_UID, OTHER_UID), 0);
    }
    use_without_proc(&arg("WQ_Q2"), "as uid 12345");
}

fn use_without_proc(name: &str, who: &str) {
    let q = create(name, 1 << 16);
    or_exit("push", q.push(b"first", None));
    assert_eq!(or_exit("pop", q.pop(None)), b"first");
    let second = or_exit("open again", open_as(name, OpenMode::OpenOrCreate, false));
    or_exit("push for the fork", second.push(b"to the fork", None));
    in_fork(&format!("{who}: a fork using its parent's handles"), || {
        let mut buf = [0u8; 64];
        let n = q.pop_into(&mut buf, Some(Duration::from_secs(5)));
        n.is_ok_and(|n| &buf[..n] == b"to the fork")
            && q.push(b"from the fork", None).is_ok()
            && second.stats().is_ok_and(|s| s.len == 1)
    });
    assert_eq!(or_exit("pop", q.pop(None)), b"from the fork");
    drop((q, second));
    or_exit("remove", Queue::remove(name));
    println!("{who}: ok");
}
