//! Pushes COUNT messages of the example stream onto QUEUE.
//!
//! ```text
//! usage: cargo run --example producer -- QUEUE COUNT
//! ```
//!
//! Opens (or creates, with 1 MiB of storage) the queue and pushes messages
//! 0 .. COUNT-1, in batches of up to 8 (`Queue::push_batch` pushes as many
//! as fit; the rest go in the next call). Exit status: 0 done, 2 bad usage,
//! 3 a wq call failed.

mod common;

use std::process::ExitCode;
use std::time::Duration;

use wq::{Options, Queue};

fn main() -> ExitCode {
    let (name, count) = match common::args("rust-producer") {
        Ok(args) => args,
        Err(code) => return code,
    };
    match run(&name, count) {
        Ok(()) => {
            println!("rust-producer: pushed {count} messages to {name}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rust-producer: {e}");
            ExitCode::from(3)
        }
    }
}

fn run(name: &str, count: u64) -> Result<(), wq::Error> {
    let options = Options {
        capacity: common::CAPACITY,
        ..Options::default()
    };
    let queue = Queue::open(name, &options)?;
    let mut next = 0;
    while next < count {
        let batch: Vec<Vec<u8>> = (next..count.min(next + 8)).map(common::message).collect();
        let mut sent = 0;
        while sent < batch.len() {
            sent += queue.push_batch(&batch[sent..], Some(Duration::from_secs(60)))?;
        }
        next += batch.len() as u64;
    }
    Ok(())
}
