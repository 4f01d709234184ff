//! Support for the multi-process tests: unique queue names that are removed
//! even when a test fails, and child processes that are this very test
//! binary re-executed with a role (the `child` test, ignored unless asked for).
#![allow(dead_code)] // each test binary uses its own subset

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Environment variable carrying a child's role.
pub const ROLE: &str = "WQ_TEST_ROLE";

/// A unique queue name, removed (with anything it names) when dropped.
pub struct TempQueue {
    pub name: String,
}

impl TempQueue {
    pub fn new(tag: &str) -> TempQueue {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("wqt-{tag}-{}-{n}", std::process::id());
        let _ = std::fs::remove_file(format!("/dev/shm/{name}"));
        TempQueue { name }
    }

    /// The segment's file.
    pub fn path(&self) -> String {
        format!("/dev/shm/{}", self.name)
    }
}

impl Drop for TempQueue {
    fn drop(&mut self) {
        if std::fs::remove_file(self.path()).is_err() {
            let _ = std::fs::remove_dir(self.path());
        }
    }
}

/// Starts this test binary as a child running `role` with `env`, its
/// stdout piped to the caller.
pub fn spawn(role: &str, env: &[(&str, String)]) -> Child {
    spawn_under(&[], role, env)
}

/// [`spawn`] under `wrapper`, a command line that executes the rest of its
/// arguments in place (`unshare --mount`, `setpriv --reuid=…`); empty for
/// none.
pub fn spawn_under(wrapper: &[&str], role: &str, env: &[(&str, String)]) -> Child {
    let exe = std::env::current_exe().expect("test binary path");
    let mut cmd = match wrapper.split_first() {
        Some((program, args)) => {
            let mut cmd = Command::new(program);
            cmd.args(args).arg(exe);
            cmd
        }
        None => Command::new(exe),
    };
    cmd.args([
        "--exact",
        "child",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
        "-q",
    ])
    .env(ROLE, role)
    .stdin(Stdio::null())
    .stdout(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    // SAFETY: the closure runs in the forked child before exec and only
    // calls prctl, which is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            // A child outlives no failed test: it dies with its parent.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    cmd.spawn().expect("spawn child test process")
}

/// The role this process was started for, if it is a child.
pub fn role() -> Option<String> {
    std::env::var(ROLE).ok()
}

/// A required environment variable of a child.
pub fn arg(key: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| panic!("child needs {key}"))
}

/// Numeric environment variable of a child.
pub fn num(key: &str) -> u64 {
    arg(key)
        .parse()
        .unwrap_or_else(|_| panic!("{key} must be a number"))
}

/// Waits for `child` at most `limit`; kills it (and returns None) past that.
pub fn wait_for(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let until = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() >= until {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Waits for `child`, asserting it exits successfully within `limit`, and
/// returns its stdout.
pub fn expect_success(mut child: Child, limit: Duration, what: &str) -> String {
    let mut out = String::new();
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let _ = stdout.read_to_string(&mut out);
        out
    });
    let status = wait_for(&mut child, limit);
    let out = reader.join().expect("reader thread");
    match status {
        Some(s) if s.success() => out,
        Some(s) => panic!("{what} failed: {s}\n{out}"),
        None => panic!("{what} did not finish within {limit:?}\n{out}"),
    }
}

/// Skips the test harness's own lines up to the child's "ready".
pub fn read_until_ready(out: &mut impl BufRead) {
    let mut line = String::new();
    while line.trim() != "ready" {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "child ended before it was ready"
        );
    }
}

/// Reads the child's "ready" line.
pub fn wait_ready_now(child: &mut Child) -> BufReader<std::process::ChildStdout> {
    let mut out = BufReader::new(child.stdout.take().unwrap());
    read_until_ready(&mut out);
    out
}

/// Waits for `child` at most `limit`, asserting that it succeeds; returns
/// the rest of its stdout after what `out` already read.
pub fn finish(
    mut child: Child,
    mut out: BufReader<std::process::ChildStdout>,
    limit: Duration,
) -> String {
    let status = wait_for(&mut child, limit)
        .unwrap_or_else(|| panic!("the child did not finish within {limit:?}"));
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert!(status.success(), "child failed: {status}: {rest}");
    rest
}

/// Sends SIGKILL to `child` and reaps it.
pub fn sigkill(child: &mut Child) {
    // SAFETY: kill(2) with a pid we spawned and have not reaped yet.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
    let _ = child.wait();
}

/// A small deterministic PRNG (xorshift64*), so failures can be replayed
/// from the printed seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    pub fn from_time() -> (Rng, u64) {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
            ^ u64::from(std::process::id());
        (Rng::new(seed), seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A message that carries its producer, sequence number and a checksum over
/// a deterministic payload, so that a consumer can verify it is whole.
pub fn make_msg(producer: u32, seq: u64, len: usize) -> Vec<u8> {
    let len = len.max(20);
    let mut msg = Vec::with_capacity(len);
    msg.extend_from_slice(&producer.to_le_bytes());
    msg.extend_from_slice(&seq.to_le_bytes());
    let mut x = seq.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ u64::from(producer);
    while msg.len() < len - 8 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        msg.push((x >> 56) as u8);
    }
    let sum = checksum(&msg);
    msg.extend_from_slice(&sum.to_le_bytes());
    msg
}

fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Checks a message made by [`make_msg`]; returns (producer, seq).
pub fn check_msg(msg: &[u8]) -> Result<(u32, u64), String> {
    if msg.len() < 20 {
        return Err(format!("message of {} bytes is too short", msg.len()));
    }
    let (body, sum) = msg.split_at(msg.len() - 8);
    if checksum(body) != u64::from_le_bytes(sum.try_into().expect("8 bytes")) {
        return Err(format!("checksum mismatch in a {}-byte message", msg.len()));
    }
    let producer = u32::from_le_bytes(body[..4].try_into().expect("4 bytes"));
    let seq = u64::from_le_bytes(body[4..12].try_into().expect("8 bytes"));
    Ok((producer, seq))
}
