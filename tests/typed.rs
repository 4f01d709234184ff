//! Typed queues and the iterators: structs between processes, foreign-sized
//! messages (shorter, longer, empty) that are taken off and reported with
//! their bytes instead of blocking the queue, for plain and leased pops;
//! iterators that drain until empty and that end when interrupted.
//!
//! Producers are real processes (this binary re-executed with a role), and
//! so is every blocking iteration: a wait that never ends hangs a child,
//! not the test harness.

mod common;

use std::time::Duration;

use bytemuck::{Pod, Zeroable};
use common::child::{create, fail, or_exit};
use common::{TempQueue, arg, expect_success, num, spawn};
use wq::{Error, OpenMode, Options, Queue, TypedQueue};

/// Bound on every child process and on every wait of the parent.
const LIMIT: Duration = Duration::from_secs(60);

/// The message type: what a C program would declare as
/// `struct task { uint64_t id; uint32_t check[4]; }`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
struct Task {
    id: u64,
    check: [u32; 4],
}

impl Task {
    fn new(id: u64) -> Task {
        let x = id as u32;
        Task {
            id,
            check: [x, !x, x.rotate_left(7), x.wrapping_mul(2_654_435_761)],
        }
    }
}

/// Lengths of the foreign messages: none is `size_of::<Task>()` (24).
const FOREIGN_LENS: [usize; 7] = [0, 1, 8, 23, 25, 100, 3000];

/// Foreign message number `i`: its length from [`FOREIGN_LENS`], its bytes
/// derived from `i`, so that each one is recognisable.
fn foreign(i: u64) -> Vec<u8> {
    let len = FOREIGN_LENS[i as usize % FOREIGN_LENS.len()];
    (0..len).map(|k| (i as usize * 31 + k) as u8).collect()
}

fn open_existing(name: &str) -> Queue {
    let opts = Options {
        open_mode: OpenMode::OpenOnly,
        ..Options::default()
    };
    or_exit("open", Queue::open(name, &opts))
}

#[test]
#[ignore = "entry point of child processes, started by the other tests"]
fn child() {
    let Some(role) = common::role() else { return };
    match role.as_str() {
        "typed_producer" => {
            let q = or_exit(
                "typed",
                TypedQueue::<Task>::from_queue(open_existing(&arg("WQ_Q"))),
            );
            for id in 0..num("WQ_N") {
                or_exit("push", q.push_timeout(&Task::new(id), LIMIT));
            }
            println!("typed producer: ok");
        }
        "foreign_producer" => {
            let q = open_existing(&arg("WQ_Q"));
            for i in 0..num("WQ_N") {
                or_exit("push", q.push_timeout(&foreign(i), LIMIT));
            }
            println!("foreign producer: ok");
        }
        "iterators" => iterators(),
        other => fail(&format!("unknown role {other}")),
    }
}

#[test]
fn structs_cross_processes_and_foreign_messages_never_wedge_the_queue() {
    const TASKS: u64 = 20_000;
    const FOREIGN: u64 = 2_000;
    let tq = TempQueue::new("typed");
    let q = TypedQueue::<Task>::from_queue(create(&tq.name, 64 << 10)).unwrap();
    let n = |count: u64| ("WQ_N", count.to_string());
    let typed = spawn("typed_producer", &[tq.env(), n(TASKS)]);
    let raw = spawn("foreign_producer", &[tq.env(), n(FOREIGN)]);

    // Each producer's messages arrive in its order, interleaved anyhow.
    let (mut next_task, mut next_foreign) = (0, 0);
    while next_task < TASKS || next_foreign < FOREIGN {
        match q.pop_timeout(LIMIT) {
            Ok(task) => {
                assert_eq!(task, Task::new(next_task), "task {next_task}");
                next_task += 1;
            }
            Err(Error::WrongSize { expected, message }) => {
                assert_eq!(expected, 24);
                assert_eq!(
                    message,
                    foreign(next_foreign),
                    "foreign message {next_foreign}"
                );
                next_foreign += 1;
            }
            Err(e) => panic!("after {next_task} tasks and {next_foreign} foreign: {e}"),
        }
    }
    expect_success(typed, LIMIT, "typed_producer");
    expect_success(raw, LIMIT, "foreign_producer");
    let stats = q.queue().stats().unwrap();
    assert_eq!((stats.len, stats.popped_total), (0, TASKS + FOREIGN));
    assert_eq!(q.try_pop().unwrap(), None);
}

#[test]
fn a_leased_pop_acks_a_foreign_message_and_goes_on() {
    let tq = TempQueue::new("typedlease");
    let q = TypedQueue::<Task>::from_queue(create(&tq.name, 64 << 10)).unwrap();
    q.push_wait(&Task::new(1)).unwrap();
    for i in 0..FOREIGN_LENS.len() as u64 {
        q.queue().push_wait(&foreign(i)).unwrap();
    }
    q.push_wait(&Task::new(2)).unwrap();

    let first = q.pop_leased(None, Some(Duration::ZERO)).unwrap();
    assert_eq!((*first, first.deliveries()), (Task::new(1), 1));
    for i in 0..FOREIGN_LENS.len() as u64 {
        match q.pop_leased(Some(Duration::from_secs(30)), Some(Duration::ZERO)) {
            Err(Error::WrongSize {
                expected: 24,
                message,
            }) => assert_eq!(message, foreign(i)),
            other => panic!("foreign message {i}: {other:?}"),
        }
    }
    let second = q
        .try_pop_leased(None)
        .unwrap()
        .expect("the task behind them");
    assert_eq!(*second.value(), Task::new(2));
    // The foreign ones were acked: gone for good, not waiting for redelivery.
    let leases = q.queue().lease_stats().unwrap();
    assert_eq!(leases.leased, 2);
    assert_eq!(q.queue().stats().unwrap().len, 2);
    second.nack().unwrap();
    let again = q.try_pop_leased(None).unwrap().expect("the nacked task");
    assert_eq!((*again, again.deliveries()), (Task::new(2), 2));
    let (task, lease) = again.into_parts();
    assert_eq!(task, Task::new(2));
    q.queue().ack(&lease).unwrap();
    first.ack().unwrap();
    assert_eq!(q.queue().stats().unwrap().len, 0);
    assert!(q.try_pop_leased(None).unwrap().is_none());
}

#[test]
fn a_type_larger_than_the_queue_allows_is_refused() {
    let tq = TempQueue::new("typedbig");
    let opts = Options {
        capacity: 4096,
        max_message_size: 16,
        ..Options::default()
    };
    let err = TypedQueue::<Task>::open(&tq.name, &opts).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidArgument(t) if t.contains("24 bytes")),
        "{err}"
    );
    // A type that fits is fine on the same queue.
    let q = TypedQueue::<[u64; 2]>::open(&tq.name, &opts).unwrap();
    q.push_wait(&[1, 2]).unwrap();
    assert_eq!(q.try_pop().unwrap(), Some([1, 2]));
}

#[test]
fn try_iter_drains_what_is_queued_and_stops_when_empty() {
    let tq = TempQueue::new("drain");
    let q = create(&tq.name, 4096);
    let msgs: Vec<Vec<u8>> = (0..50u8).map(|i| vec![i; usize::from(i)]).collect();
    for m in &msgs {
        q.push_wait(m).unwrap();
    }
    let drained: Vec<Vec<u8>> = q.try_iter().collect::<wq::Result<_>>().unwrap();
    assert_eq!(drained, msgs);
    assert_eq!(q.try_iter().count(), 0);
    assert_eq!(q.stats().unwrap().len, 0);
    // The queue is usable after a drain; the iterator ends again when empty.
    q.push_wait(b"later").unwrap();
    assert_eq!(
        q.try_iter().map(Result::unwrap).collect::<Vec<_>>(),
        [b"later"]
    );
}

#[test]
fn blocking_iterators_end_when_the_handle_is_interrupted() {
    let tq = TempQueue::new("iters");
    let child = spawn("iterators", &[tq.env()]);
    let out = expect_success(child, LIMIT, "iterators");
    assert!(out.contains("iterators: ok"), "{out}");
}

/// In a child: `for msg in &queue` and `TypedQueue::iter` receive what
/// another thread pushes while they wait, and end once it interrupts them.
fn iterators() {
    let name = arg("WQ_Q");
    let q = create(&name, 4096);
    let pushed: Vec<Vec<u8>> = (1..=20u8).map(|i| vec![i; 3]).collect();
    let got = std::thread::scope(|s| {
        let worker = s.spawn(|| {
            let mut got = Vec::new();
            for msg in &q {
                got.push(or_exit("iter", msg));
            }
            got
        });
        for m in &pushed {
            // Give the worker time to be waiting for some of them.
            std::thread::sleep(Duration::from_millis(5));
            or_exit("push", q.push_timeout(m, LIMIT));
        }
        wait_until_empty(&q);
        q.interrupt();
        worker.join().expect("worker")
    });
    if got != pushed {
        fail(&format!("iter got {got:?}"));
    }
    // An interrupted handle stays so: a new iterator ends at once.
    if q.iter().next().is_some() {
        fail("an interrupted handle's iterator popped");
    }
    q.interrupt_clear();

    let typed = or_exit("typed", TypedQueue::<u64>::from_queue(q));
    let got = std::thread::scope(|s| {
        let worker = s.spawn(|| typed.iter().collect::<Vec<_>>());
        or_exit("push", typed.push_timeout(&1, LIMIT));
        or_exit("push", typed.queue().push_timeout(b"short", LIMIT));
        or_exit("push", typed.push_timeout(&3, LIMIT));
        wait_until_empty(typed.queue());
        typed.queue().interrupt();
        worker.join().expect("typed worker")
    });
    match got.as_slice() {
        [
            Ok(1),
            Err(Error::WrongSize {
                expected: 8,
                message,
            }),
            Ok(3),
        ] if message == b"short" => {}
        other => fail(&format!("typed iter got {other:?}")),
    }
    println!("iterators: ok");
}

fn wait_until_empty(q: &Queue) {
    let until = std::time::Instant::now() + LIMIT;
    while or_exit("stats", q.stats()).len > 0 {
        if std::time::Instant::now() > until {
            fail("the iterator never took everything");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}
