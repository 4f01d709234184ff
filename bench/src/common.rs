//! What every Rust bench program shares (`bench/src/main.rs`, and
//! `bench/iox/src/main.rs`, which includes this file by path): the clock,
//! the command line and the output lines that `bench/driver.py` reads.

use std::collections::HashMap;
use std::io::Write;

#[repr(C)]
struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}

unsafe extern "C" {
    fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
}

/// CLOCK_MONOTONIC: shared by the processes of a run, so the driver can
/// subtract a producer's start from a consumer's end.
pub const CLOCK_MONOTONIC: i32 = 1;

pub fn clock_ns(clock: i32) -> u64 {
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a writable timespec (x86_64/aarch64 Linux layout);
    // the clocks the benches use always exist on Linux.
    unsafe { clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

pub fn now_ns() -> u64 {
    clock_ns(CLOCK_MONOTONIC)
}

pub fn die(what: &str) -> ! {
    eprintln!("{}: {what}", env!("CARGO_PKG_NAME"));
    std::process::exit(2)
}

/// Tells the driver that this side is set up.
pub fn ready() {
    println!("ready");
    std::io::stdout().flush().expect("stdout");
}

/// `PROGRAM IMPL ROLE NAME key=value...`: (IMPL, ROLE, NAME, the pairs).
pub fn args(usage: &str) -> (String, String, String, HashMap<String, String>) {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        die(usage);
    }
    let mut kv = HashMap::new();
    for a in &args[4..] {
        let (k, v) = a
            .split_once('=')
            .unwrap_or_else(|| die(&format!("bad argument {a}")));
        kv.insert(k.to_owned(), v.to_owned());
    }
    (args[1].clone(), args[2].clone(), args[3].clone(), kv)
}

/// A numeric `key=value` argument, or `default`.
pub fn get(kv: &HashMap<String, String>, key: &str, default: u64) -> u64 {
    kv.get(key)
        .map_or(default, |v| v.parse().expect("numeric argument"))
}

/// The ping side's result line: percentiles of the round trips (ns).
pub fn report_rtt(mut rtt: Vec<u64>, bad: u64) -> u8 {
    rtt.sort_unstable();
    let pct = |p: f64| rtt[((p * rtt.len() as f64) as usize).min(rtt.len() - 1)];
    println!(
        "result p50={} p99={} p999={} max={} bad={bad}",
        pct(0.50),
        pct(0.99),
        pct(0.999),
        rtt[rtt.len() - 1]
    );
    u8::from(bad != 0)
}
