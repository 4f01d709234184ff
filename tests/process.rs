//! Multi-process behaviour with real processes: persistence, exactly-once
//! delivery across producers and consumers, wake-ups, racing creators, and
//! processes killed with SIGKILL at random moments.

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::process::Child;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::crash::{self, Plan};
use common::{
    Launch, Rng, TempQueue, arg, check_msg, expect_success, finish, make_msg, num, parse_marked,
    sigkill, spawn, wait_ready_now,
};
use wq::{Error, OpenMode, Options, Queue};

const FOREVER: Option<Duration> = None;
const LONG: Duration = Duration::from_secs(60);

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

fn open(name: &str) -> Queue {
    Queue::open(name, &Options::default()).expect("open queue")
}

fn open_small(name: &str, capacity: u64) -> Queue {
    Queue::open(
        name,
        &Options {
            capacity,
            ..Options::default()
        },
    )
    .expect("open queue")
}

/// Size of message `seq` in the varied-size workloads.
fn varied(seq: u64) -> usize {
    [20, 33, 64, 100, 512, 1000, 4096, 20][(seq % 8) as usize]
}

/// A survivor of a fork pair pushes `who` and says how it went, then ends
/// without running the test harness's exit path.
fn report_child_push(q: &Queue, who: &str) -> ! {
    match q.push(who.as_bytes(), Some(Duration::from_secs(10))) {
        Ok(()) => println!("{who} ok"),
        Err(e) => println!("{who} failed: {e}"),
    }
    // SAFETY: ends this process at once, as a forked child must.
    unsafe { libc::_exit(0) }
}

/// The child processes' entry point; a no-op unless run as a child.
#[test]
#[ignore = "entry point of child processes, started by the other tests"]
fn child() {
    let Some(role) = common::role() else { return };
    if role == "race_open" {
        // Wait for the common start instant, then open or create at once.
        let start = num("WQ_START");
        while now_ns() < start {
            std::hint::spin_loop();
        }
        let opts = Options {
            capacity: 1 << 16,
            ..Options::default()
        };
        let q = Queue::open(&arg("WQ_Q"), &opts).expect("racing open");
        q.push(&num("WQ_ID").to_le_bytes(), FOREVER)
            .expect("push id");
        return;
    }
    if role == "create_big" {
        // Creation of a large queue takes a while (its memory is reserved).
        println!("ready");
        let opts = Options {
            capacity: 1 << 30,
            open_mode: OpenMode::CreateOnly,
            ..Options::default()
        };
        Queue::open(&arg("WQ_Q"), &opts).expect("create");
        return;
    }
    let q = open(&arg("WQ_Q"));
    if crash::shared_role(&role, &q) {
        return;
    }
    match role.as_str() {
        "push_n" => {
            let producer = num("WQ_P") as u32;
            for seq in 0..num("WQ_N") {
                q.push(&make_msg(producer, seq, varied(seq)), FOREVER)
                    .expect("push");
            }
        }
        "pop_n" => {
            let mut buf = vec![0u8; 1 << 16];
            for want in 0..num("WQ_N") {
                let n = q
                    .pop_into(&mut buf, Some(Duration::from_secs(10)))
                    .expect("pop");
                let (_, seq) = check_msg(&buf[..n]).expect("whole message");
                assert_eq!(seq, want, "FIFO order");
                assert_eq!(n, varied(seq).max(20));
            }
            assert!(matches!(
                q.pop_into(&mut buf, Some(Duration::ZERO)),
                Err(Error::Empty)
            ));
        }
        "consume_until_stop" => {
            // Prints "producer seq" per message; an empty message means stop.
            let mut out = String::new();
            loop {
                let msg = q.pop(FOREVER).expect("pop");
                if msg.is_empty() {
                    break;
                }
                let (p, seq) = check_msg(&msg).expect("whole message");
                out.push_str(&format!("M {p} {seq}\n"));
            }
            print!("{out}");
        }
        "create_big" => unreachable!("handled before the queue is opened"),
        "blocked_pop" => {
            println!("ready");
            let msg = q.pop(FOREVER).expect("pop");
            println!("got {}", msg.len());
        }
        "blocked_push" => {
            println!("ready");
            q.push(b"late", FOREVER).expect("push");
            println!("pushed");
        }
        "fork_parent_holds" => {
            // The fork child goes on with the parent's handle once the
            // parent (this process, SIGKILLed by the test) is gone.
            let parent = std::process::id();
            // SAFETY: the child only uses the queue, prints and _exits.
            let pid = unsafe { libc::fork() };
            assert!(pid >= 0, "fork failed");
            if pid == 0 {
                // SAFETY: getppid has no preconditions.
                while unsafe { libc::getppid() } as u32 == parent {
                    std::thread::sleep(Duration::from_millis(1));
                }
                report_child_push(&q, "child");
            }
            crash::hold_locks(&q, 0, || println!("ready"));
        }
        "fork_child_holds" => {
            // The parent (this process) goes on once the test killed its
            // fork child, which held the locks most of the time.
            // SAFETY: the child only uses the queue.
            let pid = unsafe { libc::fork() };
            assert!(pid >= 0, "fork failed");
            if pid == 0 {
                crash::hold_locks(&q, 0, || {});
            }
            println!("ready {pid}");
            let mut status = 0;
            // SAFETY: waits for our own child, with a valid status pointer.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            report_child_push(&q, "parent");
        }
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn messages_persist_after_the_producer_exits() {
    let q = TempQueue::new("persist");
    let producer = spawn(
        "push_n",
        &[q.env(), ("WQ_P", "1".into()), ("WQ_N", "10000".into())],
    );
    expect_success(producer, LONG, "producer");
    // Nobody has the queue open now; the messages live in the segment.
    assert_eq!(open(&q.name).stats().unwrap().len, 10_000);
    let consumer = spawn("pop_n", &[q.env(), ("WQ_N", "10000".into())]);
    expect_success(consumer, LONG, "consumer");
    let stats = open(&q.name).stats().unwrap();
    assert_eq!(
        (
            stats.len,
            stats.bytes_used,
            stats.pushed_total,
            stats.popped_total
        ),
        (0, 0, 10_000, 10_000)
    );
}

#[test]
fn four_producers_four_consumers_exactly_once_in_order() {
    let q = TempQueue::new("4x4");
    let queue = open_small(&q.name, 1 << 16); // small: producers block on a full queue too
    const N: u64 = 5_000;
    let consumers: Vec<Child> = (0..4)
        .map(|_| spawn("consume_until_stop", &[q.env()]))
        .collect();
    let producers: Vec<Child> = (0..4)
        .map(|p| {
            spawn(
                "push_n",
                &[q.env(), ("WQ_P", p.to_string()), ("WQ_N", N.to_string())],
            )
        })
        .collect();
    for p in producers {
        expect_success(p, LONG, "producer");
    }
    for _ in 0..4 {
        queue.push(b"", FOREVER).unwrap();
    }
    let mut seen: HashSet<(u32, u64)> = HashSet::new();
    for c in consumers {
        let out = expect_success(c, LONG, "consumer");
        let mut last: HashMap<u32, u64> = HashMap::new();
        for (p, seq) in out.lines().filter_map(parse_marked) {
            if let Some(&prev) = last.get(&p) {
                assert!(
                    seq > prev,
                    "producer {p}: {seq} after {prev} in one consumer"
                );
            }
            last.insert(p, seq);
            assert!(seen.insert((p, seq)), "({p}, {seq}) delivered twice");
        }
    }
    assert_eq!(seen.len() as u64, 4 * N, "every message delivered");
    assert_eq!(queue.stats().unwrap().len, 0);
}

#[test]
fn many_threads_share_one_handle() {
    let q = TempQueue::new("threads");
    let queue = Arc::new(open_small(&q.name, 1 << 14));
    const PER: u64 = 20_000;
    let producers: Vec<_> = (0..4u32)
        .map(|p| {
            let queue = Arc::clone(&queue);
            std::thread::spawn(move || {
                for seq in 0..PER {
                    queue.push(&make_msg(p, seq, 24), FOREVER).unwrap();
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..4)
        .map(|_| {
            let queue = Arc::clone(&queue);
            std::thread::spawn(move || {
                let mut got = Vec::new();
                let mut last: HashMap<u32, u64> = HashMap::new();
                while let Ok(msg) = queue.pop(Some(Duration::from_secs(2))) {
                    let (p, seq) = check_msg(&msg).unwrap();
                    assert!(
                        last.insert(p, seq).is_none_or(|prev| prev < seq),
                        "per-producer order"
                    );
                    got.push((p, seq));
                }
                got
            })
        })
        .collect();
    producers.into_iter().for_each(|t| t.join().unwrap());
    let mut all: Vec<(u32, u64)> = consumers
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len() as u64, 4 * PER);
}

/// Reads the child's "ready" line, then gives it time to park in the kernel.
fn wait_ready(child: &mut Child) -> BufReader<std::process::ChildStdout> {
    let out = wait_ready_now(child);
    std::thread::sleep(Duration::from_millis(100));
    out
}

#[test]
fn blocked_pop_wakes_on_push_and_blocked_push_wakes_on_pop() {
    let q = TempQueue::new("wake");
    let queue = open_small(&q.name, 64);
    let mut popper = spawn("blocked_pop", &[q.env()]);
    let out = wait_ready(&mut popper);
    let t = Instant::now();
    queue.push(b"hello", FOREVER).unwrap();
    assert!(finish(popper, out, Duration::from_secs(5)).contains("got 5"));
    assert!(t.elapsed() < Duration::from_secs(5));

    while queue.try_push(&[1u8; 8]).unwrap() {}
    let mut pusher = spawn("blocked_push", &[q.env()]);
    let out = wait_ready(&mut pusher);
    queue.pop(FOREVER).unwrap();
    assert!(finish(pusher, out, Duration::from_secs(5)).contains("pushed"));
}

#[test]
fn killed_blocked_popper_does_not_break_wakeups() {
    let q = TempQueue::new("killpop");
    let queue = open(&q.name);
    for round in 0..20 {
        let mut victim = spawn("blocked_pop", &[q.env()]);
        drop(wait_ready(&mut victim));
        sigkill(&mut victim);
        let mut survivor = spawn("blocked_pop", &[q.env()]);
        let out = wait_ready(&mut survivor);
        queue.push(b"wake", FOREVER).unwrap();
        let said = finish(survivor, out, Duration::from_secs(5));
        assert!(said.contains("got 4"), "round {round}: {said}");
    }
    assert_eq!(queue.stats().unwrap().len, 0);
}

#[test]
fn killed_blocked_pusher_does_not_break_wakeups() {
    let q = TempQueue::new("killpush");
    let queue = open_small(&q.name, 64);
    for round in 0..20 {
        while queue.try_push(&[round as u8; 8]).unwrap() {}
        let mut victim = spawn("blocked_push", &[q.env()]);
        drop(wait_ready(&mut victim));
        sigkill(&mut victim);
        let mut survivor = spawn("blocked_push", &[q.env()]);
        let out = wait_ready(&mut survivor);
        queue.pop(FOREVER).unwrap();
        let said = finish(survivor, out, Duration::from_secs(5));
        assert!(said.contains("pushed"), "round {round}: {said}");
        while queue.try_pop().unwrap().is_some() {}
    }
}

#[test]
fn sixteen_processes_racing_to_create_share_one_queue() {
    for round in 0..20 {
        let q = TempQueue::new("race");
        let start = now_ns() + 150_000_000;
        let racers: Vec<Child> = (0..16)
            .map(|id| {
                spawn(
                    "race_open",
                    &[
                        q.env(),
                        ("WQ_START", start.to_string()),
                        ("WQ_ID", id.to_string()),
                    ],
                )
            })
            .collect();
        for r in racers {
            expect_success(r, LONG, "racing opener");
        }
        let queue = Queue::open(
            &q.name,
            &Options {
                open_mode: OpenMode::OpenOnly,
                ..Options::default()
            },
        )
        .unwrap();
        let mut ids: Vec<u64> = (0..16)
            .map(|_| {
                u64::from_le_bytes(queue.pop(Some(Duration::ZERO)).unwrap().try_into().unwrap())
            })
            .collect();
        ids.sort_unstable();
        assert_eq!(
            ids,
            (0..16).collect::<Vec<_>>(),
            "round {round}: all 16 pushed into one queue"
        );
        assert_eq!(queue.stats().unwrap().capacity, 1 << 16);
    }
}

#[test]
fn sigkilled_lock_holders_are_recovered() {
    crash::holders_recovered(Launch::Plain, "holder", 3);
}

/// A fork parent or child killed while holding a lock of the handle they
/// share: the survivor (its child or parent) goes on using that handle and
/// recovers the lock, because each has an identity of its own.
#[test]
fn fork_survivors_recover_locks_their_dead_relative_held() {
    let (mut rng, seed) = Rng::from_time();
    for (role, who) in [
        ("fork_parent_holds", "child"),
        ("fork_child_holds", "parent"),
    ] {
        let q = TempQueue::new("fork");
        let queue = open_small(&q.name, 16 << 20);
        let mut rounds = 0;
        while queue.stats().unwrap().recoveries < 2 {
            assert!(
                rounds < 60,
                "{role}: no kill landed inside a lock (seed {seed})"
            );
            rounds += 1;
            let mut child = spawn(role, &[q.env()]);
            let mut out = BufReader::new(child.stdout.take().unwrap());
            let mut line = String::new();
            while !line.starts_with("ready") {
                line.clear();
                assert!(out.read_line(&mut line).unwrap() > 0, "{role} ended early");
            }
            std::thread::sleep(Duration::from_micros(2_000 + rng.below(20_000)));
            let victim = match line.trim().strip_prefix("ready ") {
                Some(pid) => pid.parse::<i32>().unwrap(),
                None => child.id() as i32,
            };
            // SAFETY: kill(2) of a process this test started (or its child).
            unsafe { libc::kill(victim, libc::SIGKILL) };
            let mut rest = String::new();
            out.read_to_string(&mut rest).unwrap();
            let _ = child.kill();
            let _ = child.wait();
            assert!(
                rest.lines().any(|l| l == format!("{who} ok")),
                "{role} round {rounds} (seed {seed}): the survivor said {rest:?}"
            );
            while let Some(msg) = queue.try_pop().unwrap() {
                assert!(
                    msg == who.as_bytes() || crash::is_held_msg(&msg),
                    "whole messages only"
                );
            }
            let s = queue.stats().unwrap();
            assert_eq!(
                (s.len, s.bytes_used),
                (0, 0),
                "{role}: consistent after the kill"
            );
        }
        println!(
            "{role}: {rounds} kills, {} recoveries",
            queue.stats().unwrap().recoveries
        );
    }
}

#[test]
fn sigkill_chaos_loses_and_duplicates_nothing() {
    crash::chaos(&Plan {
        tag: "chaos",
        launch: Launch::Plain,
        run_for: Duration::from_secs(6),
        producers: 2,
        consumers: 2,
        capacity: 2 << 20,
    });
}

#[test]
fn a_creator_killed_midway_leaves_nothing_half_made() {
    let (mut rng, seed) = Rng::from_time();
    let mut outcomes = [0u32; 3];
    for round in 0..12 {
        let q = TempQueue::new("halfmade");
        let mut creator = spawn("create_big", &[q.env()]);
        // Read end open until the kill: a creator that finished first
        // writes its test summary, which a closed pipe would turn into a
        // BrokenPipe error on the test's stderr.
        let out = wait_ready_now(&mut creator);
        std::thread::sleep(Duration::from_micros(rng.below(1_000_000)));
        sigkill(&mut creator);
        drop(out);
        // The name holds nothing, or a queue the opener can use (complete,
        // or finished by the opener when the creator died after writing its
        // geometry), or — killed in the moment between making the name and
        // writing the geometry — an empty file reported as such at once.
        let t = Instant::now();
        match Queue::open(
            &q.name,
            &Options {
                open_mode: OpenMode::OpenOnly,
                ..Options::default()
            },
        ) {
            Ok(queue) => {
                assert_eq!(queue.stats().unwrap().capacity, 1 << 30);
                outcomes[1] += 1;
            }
            Err(Error::NotFound(_)) => outcomes[0] += 1,
            Err(Error::Incompatible(e))
                if matches!(
                    e.cause,
                    wq::IncompatibleCause::Empty | wq::IncompatibleCause::Unfinished
                ) =>
            {
                outcomes[2] += 1;
                Queue::remove(&q.name).unwrap();
            }
            Err(e) => panic!("round {round} (seed {seed}): {e}"),
        }
        // Finishing a 1 GiB queue reserves its memory: allow for that.
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "took {:?}",
            t.elapsed()
        );
        // Open-or-create right after works either way.
        drop(open_small(&q.name, 4096));
    }
    println!(
        "killed creators: {} left nothing, {} had a usable queue, {} an empty file (seed {seed})",
        outcomes[0], outcomes[1], outcomes[2]
    );
}
