//! What child processes (this test binary re-executed with a role) do
//! when a check fails, and how a test runs one and judges it.

use std::time::Duration;

use super::{expect_success, spawn_under};

/// The value, or [`fail`].
pub fn or_exit<T>(what: &str, result: wq::Result<T>) -> T {
    result.unwrap_or_else(|e| fail(&format!("{what}: {e} ({e:?})")))
}

/// Creates the queue `name`, which must not exist yet, of `capacity` bytes;
/// or [`fail`].
pub fn create(name: &str, capacity: u64) -> wq::Queue {
    let opts = wq::Options {
        capacity,
        open_mode: wq::OpenMode::CreateOnly,
        ..wq::Options::default()
    };
    or_exit("create", wq::Queue::open(name, &opts))
}

/// In a child: opens the queue the test named in `WQ_Q`, which must
/// exist; or [`fail`].
pub fn open_named() -> wq::Queue {
    let opts = wq::Options {
        open_mode: wq::OpenMode::OpenOnly,
        ..wq::Options::default()
    };
    or_exit("open", wq::Queue::open(&super::arg("WQ_Q"), &opts))
}

/// In a child: reports `why` on stdout (which the parent shows) and exits
/// with status 1, at once, whichever thread fails. In the test itself: panics.
pub fn fail(why: &str) -> ! {
    if super::role().is_none() {
        panic!("{why}");
    }
    println!("FAIL: {why}");
    std::process::exit(1)
}

/// Runs `role` in a child of this binary under `wrapper`, asserts that it
/// succeeds within `limit` and says `says`; shows and returns its stdout.
pub fn run_child(
    wrapper: &[&str],
    role: &str,
    env: &[(&str, String)],
    limit: Duration,
    says: &str,
) -> String {
    let out = expect_success(spawn_under(wrapper, role, env), limit, role);
    eprint!("{out}");
    assert!(out.contains(says), "{role} did not say {says:?}:\n{out}");
    out
}
