//! Helpers for driving the real `wq` binary against real queues.

#![allow(dead_code)]

use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// The `wq` binary under test.
pub const WQ: &str = env!("CARGO_BIN_EXE_wq");

/// A `wq` command with stdin detached (so `rm --stale` never sees a TTY).
pub fn wq<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut cmd = Command::new(WQ);
    cmd.args(args).stdin(Stdio::null());
    cmd
}

/// Names of `/dev/shm` files this test made; removed on drop, pass or fail.
pub struct Shm {
    names: Vec<String>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl Shm {
    /// A fresh guard.
    pub fn new() -> Shm {
        Shm { names: Vec::new() }
    }

    /// A unique name (pid and a counter) that this guard will clean up.
    pub fn name(&mut self, tag: &str) -> String {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("wq-cli-test-{}-{n}-{tag}", std::process::id());
        self.names.push(name.clone());
        name
    }

    /// A unique name holding `bytes` as a plain file: a foreign segment.
    pub fn foreign(&mut self, tag: &str, bytes: &[u8]) -> String {
        let name = self.name(tag);
        std::fs::write(path(&name), bytes).expect("write a foreign segment");
        name
    }
}

impl Drop for Shm {
    fn drop(&mut self) {
        for name in &self.names {
            let _ = std::fs::remove_file(path(name));
        }
    }
}

/// `/dev/shm/NAME`.
pub fn path(name: &str) -> PathBuf {
    Path::new("/dev/shm").join(name)
}

/// Overwrites bytes of a segment file at `offset` (to break a real queue).
pub fn poke(name: &str, offset: u64, bytes: &[u8]) {
    let mut f = OpenOptions::new()
        .write(true)
        .open(path(name))
        .expect("open segment");
    f.seek(SeekFrom::Start(offset)).expect("seek");
    f.write_all(bytes).expect("write");
}

/// Runs `cmd`, returning (exit code, stdout, stderr).
pub fn run(cmd: &mut Command) -> (i32, Vec<u8>, String) {
    let out = cmd.output().expect("run wq");
    (
        out.status.code().expect("exited normally"),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `cmd` asserting its exit code is `code`; returns (stdout, stderr).
fn run_expecting(cmd: &mut Command, code: i32) -> (Vec<u8>, String) {
    let (got, stdout, stderr) = run(cmd);
    assert_eq!(
        got,
        code,
        "{cmd:?}: exit code {got}, expected {code}\nstdout: {}\nstderr: {stderr}",
        String::from_utf8_lossy(&stdout)
    );
    (stdout, stderr)
}

/// Runs `cmd` expecting exit code `code`; returns stdout as text.
pub fn expect(cmd: &mut Command, code: i32) -> String {
    let (stdout, _) = run_expecting(cmd, code);
    String::from_utf8(stdout).expect("utf-8 stdout")
}

/// Runs `cmd` expecting exit code `code`; returns stderr.
pub fn expect_err(cmd: &mut Command, code: i32) -> String {
    let (_, stderr) = run_expecting(cmd, code);
    assert!(!stderr.is_empty(), "{cmd:?}: expected a message on stderr");
    stderr
}

/// Creates queue `name` with `capacity` through the CLI.
pub fn create(name: &str, capacity: &str) {
    expect(&mut wq(["create", name, "--capacity", capacity]), 0);
}

/// `wq stat NAME --json`, parsed.
pub fn stat_json(name: &str) -> serde_json::Value {
    let out = expect(&mut wq(["stat", name, "--json"]), 0);
    serde_json::from_str(&out).expect("stat --json is JSON")
}

/// The `ls --json` entry named `name`, if listed.
pub fn ls_entry(cmd: &mut Command, name: &str) -> Option<serde_json::Value> {
    let out = expect(cmd, 0);
    let listing: serde_json::Value = serde_json::from_str(&out).expect("ls --json is JSON");
    listing["segments"]
        .as_array()
        .expect("segments array")
        .iter()
        .find(|e| e["name"] == name)
        .cloned()
}

/// Whether the tests run as root (`/proc/self` is owned by our uid).
pub fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A command line that runs the `wq` at `bin` as user `nobody`, if this
/// system has a way to.
pub fn as_nobody(bin: &std::path::Path) -> Option<std::process::Command> {
    let exists = |p: &str| std::path::Path::new(p).exists();
    let mut cmd = if exists("/usr/bin/setpriv") {
        let mut c = std::process::Command::new("/usr/bin/setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
        c
    } else if exists("/usr/sbin/runuser") {
        let mut c = std::process::Command::new("/usr/sbin/runuser");
        c.args(["-u", "nobody", "--"]);
        c
    } else {
        return None;
    };
    cmd.arg(bin).stdin(std::process::Stdio::null());
    Some(cmd)
}
