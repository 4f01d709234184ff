//! Pops COUNT messages of the example stream from QUEUE with four tokio
//! tasks awaiting `Queue::pop_async` on one handle (cargo feature `tokio`),
//! checks that each message arrived once and whole (the tasks take
//! them in no particular order; messages of fewer than 8 bytes carry no
//! number, so those are only counted), then removes the queue.
//!
//! ```text
//! usage: cargo run --features tokio --example async_consumer -- QUEUE COUNT
//! ```
//!
//! Exit status: 0 all good, 1 wrong data, 2 bad usage, 3 a wq call failed.

mod common;

use std::collections::HashSet;
use std::process::ExitCode;
use std::sync::Arc;

use wq::{Options, Queue};

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() -> ExitCode {
    let (name, count) = match common::args("async-consumer") {
        Ok(args) => args,
        Err(code) => return code,
    };
    let opts = Options {
        capacity: common::CAPACITY,
        ..Options::default()
    };
    let queue = match Queue::open(&name, &opts) {
        Ok(q) => Arc::new(q),
        Err(e) => {
            eprintln!("async-consumer: {e}");
            return ExitCode::from(3);
        }
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for _ in 0..4 {
        let (queue, tx) = (Arc::clone(&queue), tx.clone());
        tokio::spawn(async move {
            while let Ok(msg) = queue.pop_async().await {
                if tx.send(msg).is_err() {
                    return;
                }
            }
        });
    }
    drop(tx);
    let short_expected = (0..count).filter(|&i| common::message(i).len() < 8).count();
    let (mut seen, mut short) = (HashSet::new(), 0);
    while seen.len() + short < count as usize {
        let Some(msg) = rx.recv().await else {
            eprintln!("async-consumer: the consuming tasks stopped");
            return ExitCode::from(3);
        };
        if msg.len() < 8 {
            short += 1;
            continue;
        }
        let i = u64::from_le_bytes(msg[..8].try_into().expect("8 bytes"));
        if let Err(why) = common::check(i, &msg) {
            eprintln!("async-consumer: message {i}: {why}");
            return ExitCode::from(1);
        }
        if !seen.insert(i) {
            eprintln!("async-consumer: message {i} arrived twice");
            return ExitCode::from(1);
        }
    }
    if short != short_expected {
        eprintln!("async-consumer: {short} short messages, expected {short_expected}");
        return ExitCode::from(1);
    }
    println!("async-consumer: {count} messages from {name}, each once");
    match Queue::remove(&name) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("async-consumer: {e}");
            ExitCode::from(3)
        }
    }
}
