//! The Rust leased worker of the cross-language lease test (built as the
//! cargo example `lease_cross`), with [`Queue::pop_leased`] and the
//! [`wq::Leased`] guard. The same rules as the C worker (`lease_cross.c`,
//! "work" role):
//!
//! ```text
//! usage: lease-cross-rust QUEUE COUNT NACK
//! ```
//!
//! prints `ready`, then `ack N D` per task N acked at delivery D, and
//! `nack N` per task whose number is a multiple of NACK (> 0) that it gave
//! back at its first delivery; ends when nothing is left to lease and the
//! queue's `acked_total` reached COUNT; fails after 60 s.
//!
//! Exit status: 0 done, 1 wrong data or no end, 2 bad usage, 3 a wq call failed.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use wq::{Error, Options, Queue};

const LEASE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(100);
const GIVE_UP: Duration = Duration::from_secs(60);

enum Failure {
    Data(String),
    Wq(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Wq(e)
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let parsed = match args.as_slice() {
        [_, name, count, nack] => count
            .parse::<u64>()
            .ok()
            .zip(nack.parse::<u64>().ok())
            .map(|(c, n)| (name.as_str(), c, n)),
        _ => None,
    };
    let Some((name, count, nack_every)) = parsed else {
        eprintln!("usage: lease-cross-rust QUEUE COUNT NACK");
        return ExitCode::from(2);
    };
    match work(name, count, nack_every) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Data(what)) => {
            eprintln!("lease-cross-rust: {what}");
            ExitCode::from(1)
        }
        Err(Failure::Wq(e)) => {
            eprintln!("lease-cross-rust: {e}");
            ExitCode::from(3)
        }
    }
}

/// The task number of a message `task N`.
fn task_number(msg: &[u8], count: u64) -> Option<u64> {
    let digits = msg.strip_prefix(b"task ")?;
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = std::str::from_utf8(digits).ok()?.parse::<u64>().ok()?;
    (n < count).then_some(n)
}

fn work(name: &str, count: u64, nack_every: u64) -> Result<(), Failure> {
    let options = Options {
        capacity: 1 << 20,
        ..Options::default()
    };
    let queue = Queue::open(name, &options)?;
    let mut out = std::io::stdout().lock();
    let log = |out: &mut std::io::StdoutLock<'_>, line: std::fmt::Arguments<'_>| {
        writeln!(out, "{line}").map_err(|e| Failure::Data(format!("stdout: {e}")))
    };
    log(&mut out, format_args!("ready"))?;
    out.flush()
        .map_err(|e| Failure::Data(format!("stdout: {e}")))?;
    let give_up = Instant::now() + GIVE_UP;
    loop {
        let task = match queue.pop_leased(Some(LEASE), Some(POLL)) {
            Ok(task) => task,
            Err(Error::Empty) => {
                let stats = queue.lease_stats()?;
                if stats.acked_total >= count {
                    return Ok(());
                }
                if Instant::now() > give_up {
                    return Err(Failure::Data(format!(
                        "only {} of {count} acked after 60 s",
                        stats.acked_total
                    )));
                }
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let Some(n) = task_number(&task, count) else {
            return Err(Failure::Data(format!(
                "not a task: {:?}",
                String::from_utf8_lossy(&task)
            )));
        };
        let deliveries = task.deliveries();
        if nack_every != 0 && n % nack_every == 0 && deliveries == 1 {
            task.nack()?;
            log(&mut out, format_args!("nack {n}"))?;
            continue;
        }
        std::thread::sleep(Duration::from_micros(100)); // the "work"
        task.ack()?;
        log(&mut out, format_args!("ack {n} {deliveries}"))?;
    }
}
