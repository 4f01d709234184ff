//! C programs (tests/c/*.c) built at test time against `include/wq.h` and
//! the library cargo built (`libwq.so` / `libwq.a`), with warnings as errors:
//! a C contract checker, a C producer or consumer talking to this Rust
//! process through one queue, and the header compiled as C99, C11 and C++17.
//!
//! `cargo test` builds every crate type of the library (cdylib, staticlib,
//! rlib) into `target/<profile>/deps/` before it runs integration tests; the
//! test binary lives in that same directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use wq::{Error, OpenMode, Options, Queue, Span};

const MESSAGES: u32 = 20_000;
const TIMEOUT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------
// Helpers (kept in this file on purpose: tests/common belongs to others).

fn unique_name() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "wqt-ffi-{}-c{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Queue names owned by one test; dropping it removes them all.
struct Names(Vec<String>);

impl Names {
    fn one() -> Names {
        Names(vec![unique_name()])
    }

    fn first(&self) -> &str {
        &self.0[0]
    }
}

impl Drop for Names {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = Queue::remove(n);
        }
    }
}

/// A spawned program, killed and reaped if the test fails first.
struct Spawned(Option<Child>);

impl Spawned {
    fn finish(mut self) -> Output {
        let child = self.0.take().expect("finished once");
        child.wait_with_output().expect("wait for the C program")
    }

    /// Like [`Spawned::finish`], but kills the program (and panics) if it
    /// runs longer than `limit`. Its output must fit in the pipes meanwhile.
    fn finish_within(mut self, limit: Duration, what: &str) -> Output {
        let deadline = std::time::Instant::now() + limit;
        let child = self.0.as_mut().expect("finished once");
        while child.try_wait().expect("try_wait").is_none() {
            if std::time::Instant::now() > deadline {
                let out = self.finish();
                panic!(
                    "{what} did not finish within {limit:?}\nstdout:\n{}\nstderr:\n{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.finish()
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The directory holding the `libwq.so` and `libwq.a` of this build: the
/// test binary's own `deps/` directory (or its parent, after `cargo build`).
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let deps = exe.parent().expect("the test binary has a directory");
    for dir in [deps, deps.parent().unwrap_or(deps)] {
        if dir.join("libwq.so").is_file() && dir.join("libwq.a").is_file() {
            return dir.to_path_buf();
        }
    }
    panic!(
        "libwq.so and libwq.a not found next to {} (cargo test builds all crate types of the lib)",
        exe.display()
    );
}

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("wqt-c");
    std::fs::create_dir_all(&dir).expect("create the C output directory");
    dir
}

/// The target triple the tests run on: rustc's host (`rustc -vV`), which is
/// what `cargo test` built for unless told `--target`.
fn target_triple() -> String {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(rustc)
        .arg("-vV")
        .output()
        .expect("run rustc -vV");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .expect("rustc -vV names its host")
        .to_owned()
}

fn compiler(cpp: bool) -> cc::Tool {
    let target = target_triple();
    cc::Build::new()
        .target(&target)
        .host(&target)
        .opt_level(1)
        .debug(true)
        .cpp(cpp)
        .cargo_metadata(false)
        .cargo_warnings(false)
        .try_get_compiler()
        .expect("a C/C++ compiler for the build target")
}

#[derive(Clone, Copy)]
enum Link {
    /// Against libwq.so, found at run time through an rpath that wins over
    /// `LD_LIBRARY_PATH` (cargo's points at `target/debug` too, whose copy of
    /// the library a `cargo test` of some targets does not refresh).
    Shared,
    /// Against libwq.a and the system libraries Rust's std needs.
    Static,
    /// `-fsyntax-only`: no output at all.
    SyntaxOnly,
}

/// Compiles `sources` (relative to tests/c) with `std` and warnings as
/// errors; returns the executable's path (unless `SyntaxOnly`).
fn build(sources: &[&str], out: &str, cpp: bool, std: &str, link: Link, extra: &[&str]) -> PathBuf {
    let tool = compiler(cpp);
    let mut cmd = tool.to_command();
    cmd.arg(format!("-std={std}"))
        .args(["-Wall", "-Wextra", "-Wpedantic", "-Werror"])
        .arg("-I")
        .arg(repo().join("include"))
        .arg("-I")
        .arg(repo().join("tests/c"))
        .args(extra);
    for s in sources {
        cmd.arg(repo().join("tests/c").join(s));
    }
    let exe = out_dir().join(format!("{out}-{}", std::process::id()));
    match link {
        Link::SyntaxOnly => {
            cmd.arg("-fsyntax-only");
        }
        Link::Shared => {
            let lib = lib_dir();
            cmd.arg("-o")
                .arg(&exe)
                .arg(format!("-L{}", lib.display()))
                .arg(format!("-Wl,-rpath,{}", lib.display()))
                .arg("-Wl,--disable-new-dtags")
                .args(["-lwq", "-pthread"]);
        }
        Link::Static => {
            cmd.arg("-o")
                .arg(&exe)
                .arg(lib_dir().join("libwq.a"))
                .args([
                    "-pthread",
                    "-lgcc_s",
                    "-lutil",
                    "-lrt",
                    "-lpthread",
                    "-lm",
                    "-ldl",
                ]);
        }
    }
    let result = cmd.output().expect("run the C compiler");
    assert!(
        result.status.success(),
        "compiling {sources:?} failed: {cmd:?}\n{}{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
    exe
}

fn assert_ran_ok(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed with {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// The message stream of tests/c/stream.h, in Rust.

const STREAM_MAX_LEN: usize = 4096;

fn stream_mix(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

fn stream_len(seq: u32) -> usize {
    if seq % 97 == 0 {
        0
    } else if seq % 101 == 0 {
        STREAM_MAX_LEN
    } else {
        (stream_mix(seq) % (STREAM_MAX_LEN as u32 + 1)) as usize
    }
}

fn stream_fnv(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |h: u32, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

fn stream_message(seq: u32) -> Vec<u8> {
    let len = stream_len(seq);
    let salt = (stream_mix(seq ^ 0xa5a5_a5a5) >> 24) as u8;
    let mut m: Vec<u8> = (0..len)
        .map(|i| salt ^ (i.wrapping_mul(131) as u8) ^ ((i >> 8) as u8))
        .collect();
    if len >= 8 {
        m[..4].copy_from_slice(&seq.to_le_bytes());
        let sum = stream_fnv(&m[8..]);
        m[4..8].copy_from_slice(&sum.to_le_bytes());
    }
    m
}

/// Checks that `got` is message `seq`: length, sequence number, checksum
/// and every byte.
fn check_message(seq: u32, got: &[u8]) {
    let want = stream_message(seq);
    if got.len() >= 8 {
        let carried = u32::from_le_bytes(got[..4].try_into().unwrap());
        assert_eq!(
            carried, seq,
            "message {seq} carries sequence number {carried}"
        );
        let sum = u32::from_le_bytes(got[4..8].try_into().unwrap());
        assert_eq!(sum, stream_fnv(&got[8..]), "message {seq}: bad checksum");
    }
    assert_eq!(got.len(), want.len(), "message {seq}: wrong length");
    assert!(got == want.as_slice(), "message {seq}: content differs");
}

fn interop_queue(name: &str) -> Queue {
    let opts = Options {
        capacity: 64 << 10,
        open_mode: OpenMode::CreateOnly,
        ..Options::default()
    };
    Queue::open(name, &opts).expect("create the interop queue")
}

// ---------------------------------------------------------------------------
// Tests.

#[test]
fn the_library_files_are_built_by_cargo_test() {
    let dir = lib_dir();
    for lib in ["libwq.so", "libwq.a"] {
        let meta = std::fs::metadata(dir.join(lib)).unwrap();
        assert!(meta.len() > 0, "{lib} is empty");
    }
    // The shared library exports the whole C API.
    let so = std::fs::read(dir.join("libwq.so")).unwrap();
    for sym in [
        "wq_options_default",
        "wq_open",
        "wq_push",
        "wq_pop",
        "wq_push_batch",
        "wq_pop_batch",
        "wq_stats_get",
        "wq_close",
        "wq_remove",
        "wq_status_str",
        "wq_last_error",
        "wq_version",
    ] {
        let needle = format!("{sym}\0");
        assert!(
            so.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "libwq.so lacks {sym}"
        );
    }
}

fn run_api_contract(link: Link, out: &str, extra: &[&str]) {
    let exe = build(&["api_contract.c"], out, false, "c11", link, extra);
    let names = Names::one();
    let base = names.first().to_owned();
    let _cleanup = Names(vec![format!("{base}-missing"), format!("{base}-big")]);
    let result = Command::new(&exe)
        .arg(&base)
        .env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        .output()
        .expect("run api_contract");
    assert_ran_ok("api_contract", &result);
    // It removed what it created.
    assert!(matches!(Queue::remove(&base), Err(Error::NotFound(_))));
}

#[test]
fn c_program_checks_the_api_contract_with_the_shared_library() {
    run_api_contract(Link::Shared, "api_contract_so", &[]);
}

#[test]
fn c_program_checks_the_api_contract_with_the_static_library() {
    run_api_contract(Link::Static, "api_contract_a", &[]);
}

#[test]
fn c_program_checks_the_api_contract_under_asan_and_ubsan() {
    run_api_contract(
        Link::Shared,
        "api_contract_asan",
        &[
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=undefined",
            "-fno-omit-frame-pointer",
        ],
    );
}

#[test]
fn c_producer_to_rust_consumer() {
    let exe = build(&["producer.c"], "producer", false, "c11", Link::Shared, &[]);
    let names = Names::one();
    let q = interop_queue(names.first());
    let producer = Spawned(Some(
        Command::new(&exe)
            .args([names.first(), &MESSAGES.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the C producer"),
    ));
    let mut buf = vec![0u8; 4 * STREAM_MAX_LEN];
    let mut spans = [Span::default(); 8];
    let mut seq = 0u32;
    while seq < MESSAGES {
        if (seq / 100) % 2 == 0 {
            let msg = q
                .pop(Some(TIMEOUT))
                .unwrap_or_else(|e| panic!("pop message {seq}: {e}"));
            check_message(seq, &msg);
            seq += 1;
        } else {
            let n = q
                .pop_batch(&mut buf, &mut spans, Some(TIMEOUT))
                .unwrap_or_else(|e| panic!("pop_batch at message {seq}: {e}"));
            assert!((1..=spans.len()).contains(&n));
            for s in &spans[..n] {
                assert!(seq < MESSAGES, "more than {MESSAGES} messages");
                check_message(seq, &buf[s.offset..s.offset + s.len]);
                seq += 1;
            }
        }
    }
    let out = producer.finish();
    assert_ran_ok("the C producer", &out);
    assert!(matches!(q.pop(Some(Duration::ZERO)), Err(Error::Empty)));
    let s = q.stats().unwrap();
    assert_eq!((s.pushed_total, s.popped_total, s.len), (20_000, 20_000, 0));
}

#[test]
fn messages_of_an_exited_c_producer_persist() {
    let exe = build(&["producer.c"], "producer", false, "c11", Link::Shared, &[]);
    let names = Names::one();
    let opts = Options {
        capacity: 4 << 20,
        open_mode: OpenMode::CreateOnly,
        ..Options::default()
    };
    drop(Queue::open(names.first(), &opts).expect("create the queue"));
    // No process has the queue open while the producer runs and after.
    let out = Command::new(&exe)
        .args([names.first(), "500"])
        .output()
        .expect("run the C producer");
    assert_ran_ok("the C producer", &out);
    let q = Queue::open(
        names.first(),
        &Options {
            open_mode: OpenMode::OpenOnly,
            ..Options::default()
        },
    )
    .expect("reopen the queue");
    for seq in 0..500 {
        let msg = q
            .pop(Some(Duration::ZERO))
            .unwrap_or_else(|e| panic!("pop message {seq}: {e}"));
        check_message(seq, &msg);
    }
    assert!(matches!(q.pop(Some(Duration::ZERO)), Err(Error::Empty)));
}

#[test]
fn rust_producer_to_c_consumer() {
    let exe = build(&["consumer.c"], "consumer", false, "c11", Link::Shared, &[]);
    let names = Names::one();
    let q = interop_queue(names.first());
    let consumer = Spawned(Some(
        Command::new(&exe)
            .args([names.first(), &MESSAGES.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the C consumer"),
    ));
    let mut seq = 0u32;
    while seq < MESSAGES {
        if (seq / 64) % 2 == 0 {
            q.push(&stream_message(seq), Some(TIMEOUT))
                .unwrap_or_else(|e| panic!("push message {seq}: {e}"));
            seq += 1;
        } else {
            let batch: Vec<Vec<u8>> = (seq..MESSAGES.min(seq + 8)).map(stream_message).collect();
            let n = q
                .push_batch(&batch, Some(TIMEOUT))
                .unwrap_or_else(|e| panic!("push_batch at message {seq}: {e}"));
            assert!((1..=batch.len()).contains(&n));
            seq += n as u32;
        }
    }
    let out = consumer.finish();
    assert_ran_ok("the C consumer", &out);
    let s = q.stats().unwrap();
    assert_eq!((s.pushed_total, s.popped_total, s.len), (20_000, 20_000, 0));
}

#[test]
fn header_compiles_as_c99_and_c11() {
    for std in ["c99", "c11", "c17"] {
        build(
            &["header_c.c"],
            "header_c",
            false,
            std,
            Link::SyntaxOnly,
            &[],
        );
    }
}

#[test]
fn header_compiles_as_cxx17_and_links_with_c_linkage() {
    build(
        &["header_cxx.cpp"],
        "header_cxx",
        true,
        "c++17",
        Link::SyntaxOnly,
        &[],
    );
    let exe = build(
        &["header_cxx.cpp"],
        "header_cxx",
        true,
        "c++17",
        Link::Shared,
        &[],
    );
    let out = Command::new(&exe).output().expect("run header_cxx");
    assert_ran_ok("header_cxx", &out);
}

#[test]
fn the_cxx_header_refuses_cxx14_with_a_message_naming_cxx17() {
    let tool = compiler(true);
    let out = tool
        .to_command()
        .args(["-std=c++14", "-fsyntax-only", "-I"])
        .arg(repo().join("include"))
        .arg(repo().join("tests/c/wq_hpp_cxx14.cpp"))
        .output()
        .expect("run the C++ compiler");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "compiled as C++14");
    assert!(stderr.contains("wq.hpp needs C++17"), "{stderr}");
    // One error, not a cascade from deep inside the header.
    assert_eq!(stderr.matches("error:").count(), 1, "{stderr}");
}

// ---------------------------------------------------------------------------
// A peer that holds the lock for ever (stopped with SIGSTOP mid-copy).

fn signal(child: &Spawned, sig: i32) {
    let pid = child.0.as_ref().expect("running").id() as libc::pid_t;
    // SAFETY: kill has no memory-safety preconditions; `pid` is our child.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0, "kill({pid}, {sig})");
}

/// Waits until the child is in the stopped state ('T' in /proc/PID/stat).
fn wait_stopped(child: &Spawned) {
    let pid = child.0.as_ref().expect("running").id();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let state = stat.rsplit(')').next().unwrap().trim_start().chars().next();
        if matches!(state, Some('T' | 't')) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{pid} did not stop");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn spawn_flood(exe: &Path, name: &str, role: &str, size: usize) -> Spawned {
    Spawned(Some(
        Command::new(exe)
            .args([name, role, &size.to_string()])
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn flood"),
    ))
}

/// `wq_push` / `wq_pop` through the C ABI on a handle opened here.
struct CHandle(*mut wq::ffi::wq_queue);

impl CHandle {
    fn open(name: &str) -> CHandle {
        let name = std::ffi::CString::new(name).unwrap();
        let mut q = std::ptr::null_mut();
        // SAFETY: NUL-terminated name, NULL options (defaults), `q` a local.
        let st = unsafe { wq::ffi::wq_open(name.as_ptr(), std::ptr::null(), &mut q) };
        assert_eq!(st, wq::ffi::WQ_OK);
        CHandle(q)
    }

    fn push(&self, msg: &[u8], timeout: i64) -> wq::ffi::wq_status {
        // SAFETY: live handle; `msg` is readable for its length.
        unsafe { wq::ffi::wq_push(self.0, msg.as_ptr().cast(), msg.len(), timeout) }
    }

    fn pop(&self, buf: &mut [u8], timeout: i64) -> wq::ffi::wq_status {
        let mut len = 0usize;
        // SAFETY: live handle; `buf` is writable for its length; `len` a local.
        unsafe {
            wq::ffi::wq_pop(
                self.0,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut len,
                timeout,
            )
        }
    }
}

impl Drop for CHandle {
    fn drop(&mut self) {
        // SAFETY: a live handle from wq_open, closed once.
        unsafe { wq::ffi::wq_close(self.0) };
    }
}

/// Checks one call that must fail with `want` after about `timeout`.
fn timed(
    want: wq::ffi::wq_status,
    timeout: Duration,
    call: impl FnOnce(i64) -> wq::ffi::wq_status,
) {
    let t = std::time::Instant::now();
    let st = call(timeout.as_nanos() as i64);
    let elapsed = t.elapsed();
    assert_eq!(st, want);
    assert!(
        elapsed >= timeout.mul_f64(0.9),
        "returned after {elapsed:?}, before the {timeout:?} timeout"
    );
    let bound = timeout.max(Duration::from_secs(1)) + Duration::from_secs(10);
    assert!(
        elapsed <= bound,
        "a peer's held lock kept the call {elapsed:?}"
    );
}

#[test]
fn finite_timeouts_bound_the_wait_for_a_lock_a_stopped_peer_holds() {
    const SIZE: usize = 4 << 20;
    const ROUNDS: u32 = 300;
    let exe = build(&["flood.c"], "flood", false, "c11", Link::Shared, &[]);
    let names = Names::one();
    let q = Queue::open(
        names.first(),
        &Options {
            capacity: 32 << 20,
            open_mode: OpenMode::CreateOnly,
            ..Options::default()
        },
    )
    .unwrap();
    let h = CHandle::open(names.first());
    let producer = spawn_flood(&exe, names.first(), "push", SIZE);
    let consumer = spawn_flood(&exe, names.first(), "pop", SIZE);
    let mut buf = vec![0u8; SIZE];
    let wait_until = |what: &str, cond: &dyn Fn(wq::Stats) -> bool| {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !cond(q.stats().expect("stats with a stopped peer")) {
            assert!(std::time::Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(1));
        }
    };

    // The producer stopped while holding the producer lock: pushes time out.
    let mut held = 0;
    let mut rounds = 0;
    for round in 0..ROUNDS {
        rounds += 1;
        std::thread::sleep(Duration::from_millis(2 + u64::from(round % 11)));
        signal(&producer, libc::SIGSTOP);
        wait_stopped(&producer);
        // The consumer drains what was published: there is room now.
        wait_until("the consumer drains the queue", &|s| s.len == 0);
        let t = std::time::Instant::now();
        match h.push(b"probe", wq::ffi::WQ_NO_WAIT) {
            wq::ffi::WQ_OK => {}
            wq::ffi::WQ_FULL => {
                // Room, yet FULL: the stopped producer holds the lock.
                assert!(
                    t.elapsed() < Duration::from_secs(1),
                    "WQ_NO_WAIT waited {:?}",
                    t.elapsed()
                );
                timed(wq::ffi::WQ_FULL, Duration::from_millis(300), |ns| {
                    h.push(b"probe", ns)
                });
                held += 1;
            }
            other => panic!("push: {other}"),
        }
        signal(&producer, libc::SIGCONT);
        if held == 3 {
            break;
        }
    }
    assert!(
        held > 0,
        "the producer never held its lock when stopped in {ROUNDS} rounds"
    );
    eprintln!("caught the stopped producer holding its lock {held} times in {rounds} rounds");

    // The consumer stopped while holding the consumer lock: pops time out.
    let mut held = 0;
    let mut rounds = 0;
    for round in 0..ROUNDS {
        rounds += 1;
        std::thread::sleep(Duration::from_millis(2 + u64::from(round % 11)));
        signal(&consumer, libc::SIGSTOP);
        wait_stopped(&consumer);
        wait_until("the producer publishes a message", &|s| s.len > 0);
        let t = std::time::Instant::now();
        match h.pop(&mut buf, wq::ffi::WQ_NO_WAIT) {
            wq::ffi::WQ_OK => {}
            wq::ffi::WQ_EMPTY => {
                // Messages, yet EMPTY: the stopped consumer holds the lock.
                assert!(
                    t.elapsed() < Duration::from_secs(1),
                    "WQ_NO_WAIT waited {:?}",
                    t.elapsed()
                );
                timed(wq::ffi::WQ_EMPTY, Duration::from_millis(300), |ns| {
                    h.pop(&mut buf, ns)
                });
                held += 1;
            }
            other => panic!("pop: {other}"),
        }
        signal(&consumer, libc::SIGCONT);
        if held == 3 {
            break;
        }
    }
    assert!(
        held > 0,
        "the consumer never held its lock when stopped in {ROUNDS} rounds"
    );
    eprintln!("caught the stopped consumer holding its lock {held} times in {rounds} rounds");
    drop((producer, consumer));
}

#[test]
fn a_failing_call_from_an_atexit_handler_returns_its_status() {
    let exe = build(&["atexit.c"], "atexit", false, "c11", Link::Shared, &[]);
    // A clean environment: under cargo test's own variables the process
    // exits before the handler's call can go wrong, hiding the failure.
    let out = Command::new(&exe)
        .env_clear()
        .output()
        .expect("run the atexit program");
    assert_ran_ok("atexit.c", &out);
}

// ---------------------------------------------------------------------------
// Hostile conditions at the C boundary: pthread_cancel, signal handlers
// calling wq_interrupt, malloc failing inside wq_open.

/// Builds `source` (which includes tests/c/hostile.h) against `link`.
fn build_hostile(source: &str, link: Link) -> PathBuf {
    let suffix = match link {
        Link::Static => "_a",
        _ => "_so",
    };
    let out = format!("{}{suffix}", source.trim_end_matches(".c"));
    build(&[source], &out, false, "c11", link, &[])
}

/// Runs `exe` with a base name and `args` (the program uses BASE-`suffix`
/// for each of `suffixes`, all removed afterwards even on failure); kills it
/// past a minute. Returns how it ended.
fn run_hostile(exe: &Path, suffixes: &[&str], args: &[&str]) -> Output {
    let what = exe.display().to_string();
    let base = unique_name();
    let _cleanup = Names(suffixes.iter().map(|s| format!("{base}-{s}")).collect());
    let program = Spawned(Some(
        Command::new(exe)
            .arg(&base)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {what}: {e}")),
    ));
    let result = program.finish_within(Duration::from_secs(60), &what);
    let stdout = String::from_utf8_lossy(&result.stdout);
    eprintln!("{what} {args:?}:\n{}", stdout.trim_end());
    result
}

/// Builds and runs `source` with no arguments, asserting that it passed;
/// returns its stdout.
fn run_hostile_ok(source: &str, suffixes: &[&str]) -> String {
    let result = run_hostile(&build_hostile(source, Link::Shared), suffixes, &[]);
    assert_ran_ok(source, &result);
    String::from_utf8_lossy(&result.stdout).into_owned()
}

#[test]
fn pthread_cancel_of_threads_inside_wq_calls_does_not_abort() {
    let out = run_hostile_ok("cancel.c", &["loop", "block"]);
    assert!(out.contains("wq_push on a full queue: completed"), "{out}");
}

#[test]
fn wq_interrupt_from_signal_handlers_ends_forever_waits() {
    let out = run_hostile_ok("interrupt.c", &["intr"]);
    assert!(out.contains("300 racing signals"), "{out}");
}

#[test]
fn malloc_failing_inside_wq_open_gives_a_status_not_an_abort() {
    // Each part in a process of its own, so that one abort hides no other.
    let parts = ["fresh-thread", "bad-name", "create", "open-existing"];
    let mut failed = Vec::new();
    for (link, lib) in [(Link::Shared, "libwq.so"), (Link::Static, "libwq.a")] {
        let exe = build_hostile("nomem.c", link);
        for part in parts {
            let result = run_hostile(&exe, &["new", "old"], &[part]);
            if !result.status.success() {
                failed.push(format!(
                    "{part} ({lib}): {:?}\n{}{}",
                    result.status,
                    String::from_utf8_lossy(&result.stdout),
                    String::from_utf8_lossy(&result.stderr)
                ));
            }
        }
    }
    assert!(failed.is_empty(), "nomem.c failed:\n{}", failed.join("\n"));
}
