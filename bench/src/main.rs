//! Bench roles for wq through its safe Rust API, with the same command line
//! and output as `bench/cbench.cpp` so that `bench/driver.py` runs both
//! alike:
//!
//! ```text
//! wq-bench wq-rust ROLE NAME key=value...
//! ```
//!
//! ROLE is `cons` (with `lease=1`: every pop leased, then acked), `prod`,
//! `ping`, `pong`, `idle` or `cleanup`. Every message
//! starts with an 8-byte tag (producer id in the top 8 bits, 0xFF = stop;
//! sequence number in the low 56); consumers check every producer's sequence
//! and print one `result key=value...` line.

mod common;

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Duration;

use common::{clock_ns, die, now_ns, ready, report_rtt};
use wq::{Options, Queue, Span};

const STOP: u64 = 0xFF << 56;
const SEQ_MASK: u64 = (1 << 56) - 1;

const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;

struct Cfg {
    name: String,
    size: usize,
    kv: HashMap<String, String>,
}

impl Cfg {
    fn get(&self, key: &str, default: u64) -> u64 {
        common::get(&self.kv, key, default)
    }

    fn open(&self, name: &str) -> Queue {
        let options = Options {
            capacity: self.get("capacity", 32 << 20),
            ..Options::default()
        };
        Queue::open(name, &options).unwrap_or_else(|e| die(&format!("open {name}: {e}")))
    }
}

fn tag(msg: &[u8]) -> u64 {
    u64::from_le_bytes(msg[..8].try_into().expect("8-byte tag"))
}

/// Pops until `stops` stop messages (one from each producer: see
/// `bench/driver.py`), checking every producer's sequence; with
/// `lease=1`, every pop is leased (for ever) and acked after the check.
fn cons(c: &Cfg) -> u8 {
    let q = c.open(&c.name);
    let batch = c.get("batch", 1).max(1) as usize;
    let lease = c.get("lease", 0) != 0;
    let exact = c.get("consumers", 1) == 1;
    let size = c.size.max(8);
    let mut buf = vec![0u8; size * batch];
    let mut spans = vec![Span::default(); batch];
    let mut last = [-1i64; 255];
    let (mut count, mut sum, mut bad, mut bad_fill) = (0u64, 0u64, 0u64, 0u64);
    let mut stops_left = c.get("stops", 1);
    let mut stop = false;
    ready();
    let mut check = |msg: &[u8], stop: &mut bool| {
        let t = tag(msg);
        if msg.len() != c.size {
            bad += 1;
        }
        if t & !SEQ_MASK == STOP {
            stops_left -= 1;
            *stop = stops_left == 0;
            return;
        }
        let id = (t >> 56) as usize;
        let seq = (t & SEQ_MASK) as i64;
        if if exact {
            seq != last[id] + 1
        } else {
            seq <= last[id]
        } {
            bad += 1;
        }
        last[id] = seq;
        count += 1;
        sum += seq as u64;
    };
    // `fill`: every byte of a message after its tag repeats the tag, and the
    // consumer reads and checks every one; `zc`: in place (a view under a
    // lease, acked after the check) instead of a copy.
    let fill = c.get("fill", 0) != 0;
    let zc = c.get("zc", 0) != 0;
    while !stop {
        if fill || zc {
            let mut whole = |msg: &[u8], stop: &mut bool| {
                if !filled_with_tag(msg) {
                    bad_fill += 1;
                }
                check(msg, stop);
            };
            if zc {
                let view = q
                    .pop_leased_view(None, None)
                    .unwrap_or_else(|e| die(&format!("pop_leased_view: {e}")));
                whole(&view, &mut stop);
                view.ack().unwrap_or_else(|e| die(&format!("ack: {e}")));
            } else {
                let len = q
                    .pop_into(&mut buf, None)
                    .unwrap_or_else(|e| die(&format!("pop: {e}")));
                whole(&buf[..len], &mut stop);
            }
        } else if batch > 1 {
            let n = q
                .pop_batch(&mut buf, &mut spans, None)
                .unwrap_or_else(|e| die(&format!("pop_batch: {e}")));
            for s in &spans[..n] {
                check(&buf[s.offset..s.offset + s.len], &mut stop);
            }
        } else if lease {
            let (len, lease) = q
                .pop_leased_into(&mut buf, None, None)
                .unwrap_or_else(|e| die(&format!("pop_leased_into: {e}")));
            check(&buf[..len], &mut stop);
            q.ack(&lease).unwrap_or_else(|e| die(&format!("ack: {e}")));
        } else {
            let len = q
                .pop_into(&mut buf, None)
                .unwrap_or_else(|e| die(&format!("pop: {e}")));
            check(&buf[..len], &mut stop);
        }
    }
    let t_end = now_ns();
    let bad = bad + bad_fill;
    println!("result t_end={t_end} count={count} sum={sum} bad={bad}");
    u8::from(bad != 0)
}

/// Writes `tag` into every 8-byte word of `msg` (whose length is a
/// multiple of 8).
fn fill_with_tag(msg: &mut [u8], tag: u64) {
    for word in msg.chunks_exact_mut(8) {
        word.copy_from_slice(&tag.to_le_bytes());
    }
}

/// Whether every 8-byte word of `msg` is its first: reads every byte.
fn filled_with_tag(msg: &[u8]) -> bool {
    let first = tag(msg);
    msg.chunks_exact(8).fold(true, |ok, w| {
        ok & (u64::from_le_bytes(w.try_into().expect("8 bytes")) == first)
    })
}

fn prod(c: &Cfg) -> u8 {
    let q = c.open(&c.name);
    let n = c.get("n", 1_000_000);
    let id = c.get("id", 0);
    let stops = c.get("stops", 1);
    let batch = c.get("batch", 1).max(1) as usize;
    let delay = Duration::from_millis(c.get("delay_ms", 0));
    let size = c.size.max(8);
    let mut buf = vec![b'x'; size * batch];
    // See `cons`: a producer that fills every byte, in a copy or in place.
    let fill = c.get("fill", 0) != 0;
    let zc = c.get("zc", 0) != 0;
    if !delay.is_zero() {
        std::thread::sleep(delay);
    }
    let t_start = now_ns();
    let mut i = 0u64;
    while i < n {
        let k = batch.min((n - i) as usize);
        for j in 0..k {
            let t = (id << 56) | (i + j as u64);
            buf[j * size..j * size + 8].copy_from_slice(&t.to_le_bytes());
        }
        if zc {
            let t = (id << 56) | i;
            let mut r = q
                .push_reserve(size, None)
                .unwrap_or_else(|e| die(&format!("push_reserve: {e}")));
            fill_with_tag(&mut r, t);
            r.commit().unwrap_or_else(|e| die(&format!("commit: {e}")));
        } else if k == 1 {
            if fill {
                let t = (id << 56) | i;
                fill_with_tag(&mut buf[..size], t);
            }
            q.push(&buf[..size], None)
                .unwrap_or_else(|e| die(&format!("push: {e}")));
        } else {
            let msgs: Vec<&[u8]> = buf[..k * size].chunks(size).collect();
            let mut done = 0;
            while done < k {
                done += q
                    .push_batch(&msgs[done..], None)
                    .unwrap_or_else(|e| die(&format!("push_batch: {e}")));
            }
        }
        i += k as u64;
    }
    if fill || zc {
        fill_with_tag(&mut buf[..size], STOP);
    } else {
        buf[..8].copy_from_slice(&STOP.to_le_bytes());
    }
    for _ in 0..stops {
        q.push(&buf[..size], None)
            .unwrap_or_else(|e| die(&format!("push: {e}")));
    }
    println!("result t_start={t_start} t_done={}", now_ns());
    0
}

/// Round trips over two queues: NAME-a carries pings, NAME-b the replies.
fn ping(c: &Cfg) -> u8 {
    let a = c.open(&format!("{}-a", c.name));
    let b = c.open(&format!("{}-b", c.name));
    let n = c.get("n", 20_000);
    let warm = c.get("warm", 1000);
    let size = c.size.max(8);
    let mut msg = vec![0u8; size];
    let mut buf = vec![0u8; size];
    let mut rtt = Vec::with_capacity(n as usize);
    let mut bad = 0u64;
    for i in 0..n + warm {
        msg[..8].copy_from_slice(&i.to_le_bytes());
        let t0 = now_ns();
        a.push(&msg, None)
            .unwrap_or_else(|e| die(&format!("push: {e}")));
        let len = b
            .pop_into(&mut buf, None)
            .unwrap_or_else(|e| die(&format!("pop: {e}")));
        let t1 = now_ns();
        if tag(&buf[..len]) != i {
            bad += 1;
        }
        if i >= warm {
            rtt.push(t1 - t0);
        }
    }
    msg[..8].copy_from_slice(&STOP.to_le_bytes());
    a.push(&msg, None)
        .unwrap_or_else(|e| die(&format!("push: {e}")));
    report_rtt(rtt, bad)
}

fn pong(c: &Cfg) -> u8 {
    let a = c.open(&format!("{}-a", c.name));
    let b = c.open(&format!("{}-b", c.name));
    let mut buf = vec![0u8; c.size.max(8)];
    ready();
    loop {
        let len = a
            .pop_into(&mut buf, None)
            .unwrap_or_else(|e| die(&format!("pop: {e}")));
        if tag(&buf[..len]) == STOP {
            break;
        }
        b.push(&buf[..len], None)
            .unwrap_or_else(|e| die(&format!("push: {e}")));
    }
    println!("result");
    0
}

/// Blocks in one pop on an empty queue until the driver's producer pushes.
fn idle(c: &Cfg) -> u8 {
    let q = c.open(&c.name);
    let mut buf = vec![0u8; c.size.max(8)];
    ready();
    let (w0, c0) = (now_ns(), clock_ns(CLOCK_PROCESS_CPUTIME_ID));
    q.pop_into(&mut buf, None)
        .unwrap_or_else(|e| die(&format!("pop: {e}")));
    let (c1, w1) = (clock_ns(CLOCK_PROCESS_CPUTIME_ID), now_ns());
    println!("result cpu_ns={} wall_ns={}", c1 - c0, w1 - w0);
    0
}

fn main() -> ExitCode {
    let usage = "usage: wq-bench wq-rust ROLE NAME key=value...";
    let (imp, role, name, kv) = common::args(usage);
    if imp != "wq-rust" {
        die(usage);
    }
    let mut c = Cfg { name, size: 8, kv };
    c.size = c.get("size", 8) as usize;
    let code = match role.as_str() {
        "cons" => cons(&c),
        "prod" => prod(&c),
        "ping" => ping(&c),
        "pong" => pong(&c),
        "idle" => idle(&c),
        "cleanup" => {
            for suffix in ["", "-a", "-b"] {
                let _ = Queue::remove(&format!("{}{suffix}", c.name));
            }
            0
        }
        other => die(&format!("unknown role {other}")),
    };
    ExitCode::from(code)
}
