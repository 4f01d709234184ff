//! `Queue::pop_async` (cargo feature `tokio`) under a multi-threaded tokio
//! runtime, with producers in other processes: every message exactly once
//! across four consuming tasks, and cancelled futures lose nothing.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use common::{TempQueue, arg, num, spawn};
use wq::{Options, Queue};

const PER_PRODUCER: u64 = 50_000;

fn open(name: &str) -> Queue {
    let opts = Options {
        capacity: 1 << 20,
        ..Options::default()
    };
    Queue::open(name, &opts).expect("open queue")
}

#[test]
#[ignore = "entry point of child processes, started by the other tests"]
fn child() {
    let Some(role) = common::role() else { return };
    assert_eq!(role, "produce");
    let q = open(&arg("WQ_Q"));
    let id = num("WQ_ID");
    for seq in 0..num("WQ_N") {
        let mut msg = id.to_le_bytes().to_vec();
        msg.extend_from_slice(&seq.to_le_bytes());
        q.push(&msg, None).expect("push");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_tasks_receive_two_producer_processes_exactly_once() {
    let q = TempQueue::new("async");
    let queue = Arc::new(open(&q.name));
    let producers: Vec<_> = (0..2u64)
        .map(|id| {
            spawn(
                "produce",
                &[
                    q.env(),
                    ("WQ_ID", id.to_string()),
                    ("WQ_N", PER_PRODUCER.to_string()),
                ],
            )
        })
        .collect();
    let total = 2 * PER_PRODUCER;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let consumers: Vec<_> = (0..4)
        .map(|_| {
            let (queue, tx) = (Arc::clone(&queue), tx.clone());
            tokio::spawn(async move {
                loop {
                    let msg = queue.pop_async().await.expect("pop_async");
                    if tx.send(msg).is_err() {
                        return;
                    }
                }
            })
        })
        .collect();
    drop(tx);
    let mut seen = HashSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while (seen.len() as u64) < total {
        let msg = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("all messages within 120 s")
            .expect("consumers run");
        assert_eq!(msg.len(), 16, "whole messages");
        let id = u64::from_le_bytes(msg[..8].try_into().unwrap());
        let seq = u64::from_le_bytes(msg[8..].try_into().unwrap());
        assert!(id < 2 && seq < PER_PRODUCER, "a message no producer made");
        assert!(seen.insert((id, seq)), "message {id}/{seq} delivered twice");
    }
    for c in consumers {
        c.abort();
    }
    for p in producers {
        common::expect_success(p, Duration::from_secs(60), "producer");
    }
    assert_eq!(queue.stats().unwrap().len, 0, "nothing left over");
    println!(
        "{} messages from 2 processes, each once, over 4 tasks",
        seen.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_pop_async_loses_nothing() {
    let q = TempQueue::new("asyncdrop");
    let queue = open(&q.name);
    for round in 0..50u32 {
        // Cancelled while waiting on an empty queue.
        let r = tokio::time::timeout(Duration::from_millis(2), queue.pop_async()).await;
        assert!(r.is_err(), "round {round}: returned on an empty queue");
        queue.push(&round.to_le_bytes(), None).unwrap();
        // A select that the other branch wins at once.
        tokio::select! {
            biased;
            () = std::future::ready(()) => {}
            m = queue.pop_async() => panic!("round {round}: the losing branch took {m:?}"),
        }
        let m = tokio::time::timeout(Duration::from_secs(10), queue.pop_async())
            .await
            .expect("the message arrives")
            .unwrap();
        assert_eq!(
            m,
            round.to_le_bytes(),
            "round {round}: the message was kept"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leasing_tasks_get_every_message_and_a_dead_holder_s_back() {
    let q = TempQueue::new("asynclease");
    let queue = Arc::new(open(&q.name));
    let n = 2000u64;
    let producer = spawn(
        "produce",
        &[q.env(), ("WQ_ID", "7".into()), ("WQ_N", n.to_string())],
    );
    // Another handle leases the first message for ever, before the tasks
    // start (so that it surely gets one), and closes without settling it
    // once they wait: a waiting task gets it back.
    let holder = open(&q.name);
    let (held, holder) = tokio::task::spawn_blocking(move || {
        let t = holder
            .pop_leased(None, Some(Duration::from_secs(30)))
            .expect("holder's lease");
        let seq = u64::from_le_bytes(t[8..16].try_into().unwrap());
        std::mem::forget(t.into_parts());
        (seq, holder)
    })
    .await
    .unwrap();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let queue = Arc::clone(&queue);
            tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let next = tokio::time::timeout(
                        Duration::from_secs(3),
                        queue.pop_leased_async(Some(Duration::from_secs(60))),
                    );
                    let Ok(task) = next.await else { return got };
                    let task = task.expect("pop_leased_async");
                    let seq = u64::from_le_bytes(task[8..16].try_into().unwrap());
                    got.push((seq, task.deliveries()));
                    task.ack().expect("ack");
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(holder);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    common::expect_success(producer, Duration::from_secs(60), "producer");
    let seqs: HashSet<u64> = all.iter().map(|&(s, _)| s).collect();
    assert_eq!(
        (all.len() as u64, seqs.len() as u64),
        (n, n),
        "each acked once"
    );
    assert!(
        all.contains(&(held, 2)),
        "the closed holder's message came back"
    );
    assert_eq!(queue.stats().unwrap().len, 0);
}
