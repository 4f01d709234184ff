//! Crash safety across PID namespaces. Every process here is PID 1 of a PID
//! namespace of its own (`unshare --pid --fork --kill-child`), as the first
//! processes of containers that share `/dev/shm` are: they all have the same
//! process id and the same thread ids, so nothing may tell a lock's owner, or
//! that it died, by those ids. Real processes, killed with SIGKILL.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::crash::{self, Ledger, Plan};
use common::{
    Launch, Rng, STAMPED_MAX, TempQueue, Worker, arg, check_stamped, num, stamp_msg, stop_requested,
};
use wq::{Error, Options, Queue};

/// Size of every message of [`waiters_killed_while_a_holder_in_another_namespace_copies`].
const BIG: usize = STAMPED_MAX;
/// How long a child that should finish gets.
const LONG: Duration = Duration::from_secs(60);

/// The child processes' entry point; a no-op unless run as a child.
#[test]
#[ignore = "entry point of child processes, started by the other tests"]
fn child() {
    let Some(role) = common::role() else { return };
    let q = Queue::open(&arg("WQ_Q"), &Options::default()).expect("open queue");
    if crash::shared_role(&role, &q) {
        return;
    }
    match role.as_str() {
        "big_worker" => big_worker(&q),
        other => panic!("unknown role {other}"),
    }
}

/// Pushes and pops 4 MiB messages until the stop file appears: "P seq" once
/// a push returned, "M producer seq" per whole message popped, "BAD ..." for
/// a broken one and "ERR ..." for an error (both end the process). Waits are
/// bounded, so that messages left by killed peers are popped and a full
/// queue never stops everyone.
fn big_worker(q: &Queue) {
    let id = num("WQ_P") as u32;
    let (mut msg, mut buf) = (Vec::new(), vec![0u8; BIG]);
    let wait = Some(Duration::from_millis(200));
    let mut seq = 0;
    stamp_msg(&mut msg, id, seq, BIG);
    println!("ready");
    while !stop_requested() {
        match q.push(&msg, wait) {
            Ok(()) => {
                println!("P {seq}");
                seq += 1;
                stamp_msg(&mut msg, id, seq, BIG);
            }
            Err(Error::Full) => {}
            Err(e) => {
                println!("ERR push: {e}");
                std::process::exit(4);
            }
        }
        match q.pop_into(&mut buf, wait) {
            Ok(n) => match check_stamped(&buf[..n]) {
                Ok((p, s)) => println!("M {p} {s}"),
                Err(e) => {
                    println!("BAD {e}");
                    std::process::exit(3);
                }
            },
            Err(Error::Empty) => {}
            Err(e) => {
                println!("ERR pop: {e}");
                std::process::exit(4);
            }
        }
    }
}

/// Whether children cannot run in PID namespaces of their own here; says so
/// on stderr, past the test harness's capture, when they cannot.
fn skipped(test: &str) -> bool {
    let Some(why) = common::pid_ns_unavailable() else {
        return false;
    };
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
    true
}

/// Checks the queue's counters while its 4 MiB messages move: no more popped
/// than pushed, and the bytes in use are those of the messages queued. A
/// mismatch must persist a moment later (a snapshot taken without a lock,
/// when one is held past 250 ms, may fall between a position and its total).
fn check_counters(queue: &Queue, kills: u64, seed: u64) {
    let snapshot = || {
        let s = queue
            .stats()
            .unwrap_or_else(|e| panic!("stats: {e} (seed {seed})"));
        assert_eq!(
            Some(s.len),
            s.pushed_total.checked_sub(s.popped_total),
            "counters disagree after {kills} kills: {s:?} (seed {seed})"
        );
        (s.bytes_used / BIG as u64 == s.len, s)
    };
    if let (false, first) = snapshot() {
        std::thread::sleep(Duration::from_millis(300));
        let (agree, again) = snapshot();
        assert!(
            agree,
            "bytes in use disagree with the messages queued after {kills} kills: {first:?}, then {again:?} (seed {seed})"
        );
    }
}

/// A holder (PID 1 of namespace A) pushes and pops 4 MiB messages in a loop,
/// so it is mostly inside a lock, mid-copy; waiters, each PID 1 of a
/// namespace of its own and so with the holder's thread id, do the same and
/// are SIGKILLed at random moments, often while blocked on a lock another
/// holds. A lock that takes a dead waiter for its owner (glibc's robust list
/// of a dying thread marks every mutex whose owner word holds its tid)
/// lets a second process in while the first is mid-copy.
#[test]
fn waiters_killed_while_a_holder_in_another_namespace_copies() {
    if skipped("waiters_killed_while_a_holder_in_another_namespace_copies") {
        return;
    }
    const WAITERS: usize = 3;
    const MAX_KILLS: u64 = 400;
    const MAX_TIME: Duration = Duration::from_secs(30);
    let q = TempQueue::new("nswait");
    let opts = Options {
        capacity: 4 * (BIG as u64 + 64),
        ..Options::default()
    };
    let queue = Queue::open(&q.name, &opts).expect("create queue");
    let (mut rng, seed) = Rng::from_time();
    println!("waiters seed {seed}");
    let start = |id: u32| {
        let env = [
            ("WQ_Q", q.name.clone()),
            ("WQ_P", id.to_string()),
            ("WQ_STOP", q.stop_file()),
        ];
        let mut w = Worker::start(Launch::PidNs, "big_worker", &env);
        w.expect_line("ready", "big_worker");
        w
    };
    let mut holder = start(0);
    let (_, _, tid) = holder.ns_ids.expect("namespace ids");
    let mut next = 1u32;
    let mut spawn_waiter = || {
        let id = next;
        next += 1;
        let w = start(id);
        // The premise: the same thread id as the holder, in another namespace.
        assert_eq!(w.ns_ids.map(|ids| ids.2), Some(tid), "waiter's thread id");
        (id, w)
    };
    let mut waiters: Vec<(u32, Worker)> = (0..WAITERS).map(|_| spawn_waiter()).collect();
    let mut ledger = Ledger::new(seed);
    let mut kills = 0u64;
    let began = Instant::now();
    while kills < MAX_KILLS && began.elapsed() < MAX_TIME && !holder.exited() {
        std::thread::sleep(Duration::from_micros(1_000 + rng.below(25_000)));
        let (id, w) = waiters.swap_remove(rng.below(WAITERS as u64) as usize);
        ledger.record(&w.sigkill(), Some(id));
        ledger.killed(true, true);
        kills += 1;
        waiters.push(spawn_waiter());
        if kills % 8 == 0 {
            check_counters(&queue, kills, seed);
        }
    }
    let took = began.elapsed();
    for (id, w) in waiters {
        ledger.record(&w.sigkill(), Some(id));
        ledger.killed(true, true);
    }
    q.request_stop();
    let (status, lines) = holder.finish(LONG);
    ledger.record(&lines, Some(0));
    assert!(
        status.is_some_and(|s| s.success()),
        "the holder failed after {kills} kills: {status:?} {:?} (seed {seed})",
        lines.last()
    );
    ledger.drain(&queue, check_stamped);
    let tally = ledger.verify(&queue, 0);
    println!(
        "waiters: {kills} waiters killed in {took:.1?} (each PID 1 of its namespace, thread id {tid} like the holder), {} confirmed pushes of 4 MiB, {} delivered, {} in flight at a kill, {} recoveries (seed {seed})",
        tally.confirmed, tally.delivered, tally.missing, tally.stats.recoveries
    );
    assert!(kills >= 30, "only {kills} kills in {took:?}");
    assert!(tally.confirmed > 50, "too few messages to mean anything");
}

/// A lock holder SIGKILLed inside its namespace is recovered by a survivor
/// in another one, 20 times (see [`crash::holders_recovered`]).
#[test]
fn a_holder_killed_in_its_namespace_is_recovered_from_another() {
    if skipped("a_holder_killed_in_its_namespace_is_recovered_from_another") {
        return;
    }
    crash::holders_recovered(Launch::PidNs, "nsholder", 20);
}

/// SIGKILL chaos among producers and consumers, each PID 1 of a namespace
/// of its own, for `WQ_CHAOS_SECS` seconds (20 by default).
#[test]
fn sigkill_chaos_with_every_worker_in_its_own_namespace() {
    if skipped("sigkill_chaos_with_every_worker_in_its_own_namespace") {
        return;
    }
    let secs = std::env::var("WQ_CHAOS_SECS").map_or(20, |s| {
        s.parse()
            .expect("WQ_CHAOS_SECS must be a number of seconds")
    });
    crash::chaos(&Plan {
        tag: "nschaos",
        launch: Launch::PidNs,
        run_for: Duration::from_secs(secs),
        producers: 4,
        consumers: 4,
        capacity: 2 << 20,
    });
}
