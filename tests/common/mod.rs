//! Support for the multi-process tests: unique queue names that are removed
//! even when a test fails, and child processes that are this very test
//! binary re-executed with a role (the `child` test, ignored unless asked for),
//! started plainly or each as PID 1 of a PID namespace of its own.
#![allow(dead_code)] // each test binary uses its own subset

pub mod child;
pub mod crash;
pub mod leases;

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Environment variable carrying a child's role.
pub const ROLE: &str = "WQ_TEST_ROLE";

/// Set for a child started in a PID namespace of its own: [`role`] then
/// announces the child's ids (see [`Worker::start`]).
const ANNOUNCE: &str = "WQ_TEST_ANNOUNCE_NS";

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

    /// The environment variable that hands this queue's name to a child.
    pub fn env(&self) -> (&'static str, String) {
        ("WQ_Q", self.name.clone())
    }

    /// A file whose creation tells this queue's children to stop (see
    /// [`stop_requested`]); removed with the queue.
    pub fn stop_file(&self) -> String {
        format!("{}/{}.stop", std::env::temp_dir().display(), self.name)
    }

    /// Tells the children watching [`TempQueue::stop_file`] to stop.
    pub fn request_stop(&self) {
        std::fs::write(self.stop_file(), b"stop").expect("create the stop file");
    }
}

impl Drop for TempQueue {
    fn drop(&mut self) {
        if std::fs::remove_file(self.path()).is_err() {
            let _ = std::fs::remove_dir(self.path());
        }
        let _ = std::fs::remove_file(self.stop_file());
    }
}

/// Whether the stop file named by the child's `WQ_STOP` exists (false for
/// a child without one).
pub fn stop_requested() -> bool {
    std::env::var_os("WQ_STOP").is_some_and(|p| std::path::Path::new(&p).exists())
}

/// How a child process is started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Launch {
    /// A plain child of the test process.
    Plain,
    /// PID 1 of a new PID namespace of its own (`unshare --pid --fork
    /// --kill-child`): its process and thread ids are those of every other
    /// child started so, as between containers.
    PidNs,
}

impl Launch {
    /// The command line that runs a child so (see [`spawn_under`]).
    fn wrapper(self) -> &'static [&'static str] {
        match self {
            Launch::Plain => &[],
            // --kill-child: the namespace's PID 1 dies with unshare.
            Launch::PidNs => &["unshare", "--pid", "--fork", "--kill-child", "--"],
        }
    }
}

/// The command that runs this test binary under `wrapper` (see
/// [`spawn_under`]) as a child running `role` with `env`, its stdout piped
/// to the caller, dying with the thread that started it.
fn child_command(wrapper: &[&str], role: &str, env: &[(&str, String)]) -> Command {
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
    cmd
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
    child_command(wrapper, role, env)
        .spawn()
        .expect("spawn child test process")
}

/// Why children cannot be started in PID namespaces of their own here
/// (`None`: they can).
pub fn pid_ns_unavailable() -> Option<String> {
    match Command::new("unshare")
        .args(["--pid", "--fork", "--kill-child", "true"])
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(format!(
            "`unshare --pid --fork --kill-child true` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Some(format!("cannot run unshare: {e}")),
    }
}

/// A child process started by [`Worker::start`], whose stdout lines are
/// collected as they come.
pub struct Worker {
    child: Child,
    /// What [`Worker::sigkill`] kills: the child, or its process group
    /// (unshare and the namespace's PID 1).
    target: libc::pid_t,
    /// For [`Launch::PidNs`]: its pid in the test's namespace, and its pid
    /// and tid (of the thread running the role) in its own.
    pub ns_ids: Option<(u32, u32, u32)>,
    incoming: mpsc::Receiver<String>,
    lines: Vec<String>,
    reader: std::thread::JoinHandle<()>,
}

impl Worker {
    /// Starts this test binary as a child running `role` with `env`. For
    /// [`Launch::PidNs`] it returns once the child, running as PID 1 of its
    /// namespace, has said so.
    pub fn start(launch: Launch, role: &str, env: &[(&str, String)]) -> Worker {
        let mut cmd = child_command(launch.wrapper(), role, env);
        if launch == Launch::PidNs {
            // A process group of their own lets one kill(2) reach unshare
            // and the namespace's PID 1 at once.
            cmd.env(ANNOUNCE, "1").process_group(0);
        }
        let mut child = cmd.spawn().expect("spawn child test process");
        let out = child.stdout.take().expect("piped stdout");
        let (tx, incoming) = mpsc::channel();
        // Reads to the end even when nobody listens any more (a failed
        // test), so that the child never writes into a closed pipe.
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let pid = child.id() as libc::pid_t;
        let mut worker = Worker {
            child,
            target: pid,
            ns_ids: None,
            incoming,
            lines: Vec::new(),
            reader,
        };
        if launch == Launch::PidNs {
            worker.target = -pid;
            let line = worker.expect_line("NS ", role);
            let ids: Vec<u32> = line
                .split(' ')
                .skip(1)
                .map(|n| n.parse().expect("announced id"))
                .collect();
            let &[host_pid, ns_pid, ns_tid] = ids.as_slice() else {
                panic!("bad announcement {line:?}")
            };
            assert_eq!(ns_pid, 1, "{role} runs as PID 1 of its namespace");
            worker.ns_ids = Some((host_pid, ns_pid, ns_tid));
        }
        worker
    }

    /// Waits up to `limit` for a line starting with `prefix` and returns
    /// it; `None` when the child closed its stdout or the time ran out.
    pub fn wait_line(&mut self, prefix: &str, limit: Duration) -> Option<String> {
        let until = Instant::now() + limit;
        loop {
            let left = until.checked_duration_since(Instant::now())?;
            let line = self.incoming.recv_timeout(left).ok()?;
            self.lines.push(line.clone());
            if line.starts_with(prefix) {
                return Some(line);
            }
        }
    }

    /// Waits (a minute at most) for a line starting with `prefix`, which
    /// the child running `role` must print.
    pub fn expect_line(&mut self, prefix: &str, role: &str) -> String {
        self.wait_line(prefix, Duration::from_secs(60))
            .unwrap_or_else(|| panic!("{role} never printed {prefix:?}: {:?}", self.lines))
    }

    /// Whether the child has exited.
    pub fn exited(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_some()
    }

    /// SIGKILLs the child (in a namespace: its PID 1 and unshare at once)
    /// and returns every line it printed.
    pub fn sigkill(mut self) -> Vec<String> {
        // Once reaped, its pid (and so its group's id) may name another
        // process; until then it cannot. A namespace's PID 1 is gone before
        // its unshare exits, or dies with it.
        if let Ok(None) = self.child.try_wait() {
            // SAFETY: kill(2) of a child we spawned and have not reaped, or
            // of the process group named by that unreaped child's pid.
            unsafe { libc::kill(self.target, libc::SIGKILL) };
        }
        let _ = self.child.wait();
        self.rest()
    }

    /// Waits for the child to exit (killing it past `limit`: `None`) and
    /// returns its status and every line it printed.
    pub fn finish(mut self, limit: Duration) -> (Option<ExitStatus>, Vec<String>) {
        let status = wait_for(&mut self.child, limit);
        (status, self.rest())
    }

    fn rest(mut self) -> Vec<String> {
        self.reader.join().expect("stdout reader");
        self.lines.extend(self.incoming.try_iter());
        self.lines
    }
}

/// The role this process was started for, if it is a child. A child in a
/// PID namespace of its own first prints `NS <pid in the test's namespace>
/// <pid> <tid>` (the tid of the calling thread, the one that runs the role).
pub fn role() -> Option<String> {
    let role = std::env::var(ROLE).ok()?;
    if std::env::var_os(ANNOUNCE).is_some() {
        // /proc is the test's: its NSpid line starts with our pid there.
        let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
        let host_pid = status
            .lines()
            .find_map(|l| l.strip_prefix("NSpid:"))
            .and_then(|ids| ids.split_whitespace().next())
            .expect("NSpid line");
        // SAFETY: gettid(2) has no preconditions.
        let tid = unsafe { libc::gettid() };
        println!("NS {host_pid} {} {tid}", std::process::id());
    }
    Some(role)
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

/// Numeric environment variable of a child, `default` when it is not set.
pub fn num_or(key: &str, default: u64) -> u64 {
    std::env::var(key).map_or(default, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{key} must be a number"))
    })
}

/// The monotonic clock (`CLOCK_MONOTONIC`, the one leases are timed by), in
/// nanoseconds: one clock for every process of the machine, whatever its
/// PID namespace, so that children's reports and the test's kills can be
/// put in one order.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a writable timespec; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
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

/// Parses a child's "M producer seq" line (other lines are the test
/// harness's or another kind of report).
pub fn parse_marked(line: &str) -> Option<(u32, u64)> {
    let mut it = line.strip_prefix("M ")?.split(' ');
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// Longest message [`stamp_msg`] makes.
pub const STAMPED_MAX: usize = 4 << 20;
/// Bytes from one stamp of a [`stamp_msg`] message to the next.
const STAMP_EVERY: usize = 256;
/// Bytes of a stamp: producer (4), length (4), sequence number (8), index
/// of the stamp in the message (8).
const STAMP_LEN: usize = 24;

/// The bytes of every stamped message between its stamps, the same in
/// every process.
const FILLER: [u8; STAMP_EVERY - STAMP_LEN] = {
    let mut bytes = [0u8; STAMP_EVERY - STAMP_LEN];
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut i = 0;
    while i < bytes.len() {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        bytes[i] = (x >> 56) as u8;
        i += 1;
    }
    bytes
};

fn stamp_of(producer: u32, seq: u64, len: usize, index: usize) -> [u8; STAMP_LEN] {
    let mut stamp = [0u8; STAMP_LEN];
    stamp[..4].copy_from_slice(&producer.to_le_bytes());
    stamp[4..8].copy_from_slice(&(len as u32).to_le_bytes());
    stamp[8..16].copy_from_slice(&seq.to_le_bytes());
    stamp[16..].copy_from_slice(&(index as u64).to_le_bytes());
    stamp
}

/// Makes in `buf` the `len`-byte message `seq` of `producer`, cheap to make
/// and check even for megabytes (and in debug builds): every 256 bytes a
/// stamp of (producer, len, seq, its own index), fixed bytes between them,
/// so that [`check_stamped`] tells a message mixed from two, shifted, cut
/// short or half overwritten.
pub fn stamp_msg(buf: &mut Vec<u8>, producer: u32, seq: u64, len: usize) {
    assert!(
        (STAMP_LEN..=STAMPED_MAX).contains(&len),
        "stamped length {len}"
    );
    if buf.len() != len {
        *buf = vec![0; len]; // every byte is written below
    }
    for (i, chunk) in buf.chunks_mut(STAMP_EVERY).enumerate() {
        let stamp = stamp_of(producer, seq, len, i);
        let (n, end) = (chunk.len().min(STAMP_LEN), chunk.len());
        chunk[..n].copy_from_slice(&stamp[..n]);
        chunk[n..].copy_from_slice(&FILLER[..end - n]);
    }
}

/// Checks a message made by [`stamp_msg`]; returns (producer, seq).
pub fn check_stamped(msg: &[u8]) -> Result<(u32, u64), String> {
    if !(STAMP_LEN..=STAMPED_MAX).contains(&msg.len()) {
        return Err(format!("a {}-byte message is not a stamped one", msg.len()));
    }
    let producer = u32::from_le_bytes(msg[..4].try_into().expect("4 bytes"));
    let len = u32::from_le_bytes(msg[4..8].try_into().expect("4 bytes")) as usize;
    let seq = u64::from_le_bytes(msg[8..16].try_into().expect("8 bytes"));
    if len != msg.len() {
        return Err(format!(
            "({producer}, {seq}) was stamped for {len} bytes, {} delivered",
            msg.len()
        ));
    }
    for (i, chunk) in msg.chunks(STAMP_EVERY).enumerate() {
        let stamp = stamp_of(producer, seq, len, i);
        let n = chunk.len().min(STAMP_LEN);
        if chunk[..n] != stamp[..n] || chunk[n..] != FILLER[..chunk.len() - n] {
            let start = i * STAMP_EVERY;
            return Err(format!(
                "bytes {start}..{} of the {len}-byte message ({producer}, {seq}) are not its own",
                start + chunk.len()
            ));
        }
    }
    Ok((producer, seq))
}
