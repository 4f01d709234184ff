//! Pops COUNT messages of the example stream from QUEUE and checks them:
//! every message exactly once, whole, in order; then checks that nothing
//! more arrives and removes the queue.
//!
//! ```text
//! usage: cargo run --example consumer -- QUEUE COUNT
//! ```
//!
//! Exit status: 0 all good, 1 wrong data, 2 bad usage, 3 a wq call failed.

mod common;

use std::process::ExitCode;
use std::time::Duration;

use wq::{Error, Options, Queue};

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
    let (name, count) = match common::args("rust-consumer") {
        Ok(args) => args,
        Err(code) => return code,
    };
    match run(&name, count) {
        Ok(()) => {
            println!("rust-consumer: received {count} messages from {name}, all in order");
            ExitCode::SUCCESS
        }
        Err(Failure::Data(what)) => {
            eprintln!("rust-consumer: {what}");
            ExitCode::from(1)
        }
        Err(Failure::Wq(e)) => {
            eprintln!("rust-consumer: {e}");
            ExitCode::from(3)
        }
    }
}

fn run(name: &str, count: u64) -> Result<(), Failure> {
    let options = Options {
        capacity: common::CAPACITY,
        ..Options::default()
    };
    let queue = Queue::open(name, &options)?;
    let mut buf = vec![0u8; 64 * 1024];
    for i in 0..count {
        let len = match queue.pop_into(&mut buf, Some(Duration::from_secs(60))) {
            Ok(len) => len,
            Err(Error::Empty) => {
                return Err(Failure::Data(format!(
                    "nothing arrived for 60 s, waiting for message {i}"
                )));
            }
            Err(e) => return Err(e.into()),
        };
        common::check(i, &buf[..len]).map_err(Failure::Data)?;
    }
    match queue.pop(Some(Duration::from_millis(200))) {
        Ok(extra) => {
            return Err(Failure::Data(format!(
                "an extra message of {} bytes after {count}",
                extra.len()
            )));
        }
        Err(Error::Empty) => {}
        Err(e) => return Err(e.into()),
    }
    match Queue::remove(name) {
        Ok(()) | Err(Error::NotFound(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
