//! The deterministic message stream shared by the producer and consumer
//! examples (the same rules as `c-examples/message_stream.h` and
//! `cpp-examples/message_stream.hpp`, so any producer can feed any
//! consumer):
//!
//! ```text
//! h      = splitmix64(i)                       for message number i
//! length = 8192 + (h >> 40) % 24576            when h % 100 == 0 (1 in 100)
//!          (h >> 8) % 1100                     otherwise
//! byte j = (i >> 8j) & 0xff                    for j < 8 when length >= 8
//!          ((h >> 8(j % 8)) + j) & 0xff        otherwise
//! ```

// Each example uses part of this module.
#![allow(dead_code)]

use std::process::ExitCode;

/// Capacity the examples create their queue with: small, so producers wait.
pub const CAPACITY: u64 = 1 << 20;

fn hash(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn length(i: u64) -> usize {
    let h = hash(i);
    if h % 100 == 0 {
        (8192 + (h >> 40) % 24576) as usize
    } else {
        ((h >> 8) % 1100) as usize
    }
}

/// Message number `i` of the stream.
pub fn message(i: u64) -> Vec<u8> {
    let h = hash(i);
    let len = length(i);
    (0..len)
        .map(|j| {
            let v = if j < 8 && len >= 8 {
                i >> (8 * j)
            } else {
                (h >> (8 * (j % 8))).wrapping_add(j as u64)
            };
            (v & 0xff) as u8
        })
        .collect()
}

/// `Ok(())` when `msg` is message `i`, otherwise what is wrong with it.
pub fn check(i: u64, msg: &[u8]) -> Result<(), String> {
    let want = message(i);
    if msg == want.as_slice() {
        return Ok(());
    }
    let what = format!("message {i} expected, ");
    if let Some(first) = msg.get(..8) {
        let got = u64::from_le_bytes(first.try_into().expect("8 bytes"));
        if got < i {
            return Err(format!(
                "{what}got message {got} again (duplicate or reordering)"
            ));
        }
        if got > i {
            return Err(format!("{what}got message {got} (a message was lost)"));
        }
    }
    Err(format!(
        "{what}got a damaged one of {} bytes (expected {})",
        msg.len(),
        want.len()
    ))
}

/// The command line `PROGRAM QUEUE COUNT`, or the usage error (exit 2).
pub fn args(program: &str) -> Result<(String, u64), ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [queue, count] if count.bytes().all(|b| b.is_ascii_digit()) => match count.parse() {
            Ok(count) => Ok((queue.clone(), count)),
            Err(_) => Err(usage(program)),
        },
        _ => Err(usage(program)),
    }
}

fn usage(program: &str) -> ExitCode {
    eprintln!("usage: {program} QUEUE COUNT");
    ExitCode::from(2)
}
