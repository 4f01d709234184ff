//! Leases (`Queue::pop_leased`, `wq_pop_leased`): what ends a lease and what
//! follows. Ack removes for good; nack, a lease's time running out, the
//! holder's close and the holder's death give the message back, in front of
//! later messages, with one more delivery; settling works from any handle
//! and process, and an ended, never issued or scribbled token changes
//! nothing; the lease limit makes leased pops wait while plain pops go on;
//! a long lease holds the storage; a scribbled lease table is an error or a
//! redelivery, never a crash. (Killed holders under load, and holders in
//! several PID namespaces, are in `leases_chaos.rs`.)

mod common;

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use common::{TempQueue, arg, sigkill, spawn};
use wq::{Error, LEASE_LIMIT, Lease, Options, Queue};

const NO_WAIT: Option<Duration> = Some(Duration::ZERO);
const FOREVER: Option<Duration> = None;
const SECOND: Option<Duration> = Some(Duration::from_secs(1));
/// Offset of the lease table in the segment, and of a slot's holder field.
const LEASES: usize = 69632;
const HOLDER: usize = 16;

fn open(name: &str, capacity: u64) -> Queue {
    let opts = Options {
        capacity,
        ..Options::default()
    };
    Queue::open(name, &opts).expect("open queue")
}

fn ended(r: wq::Result<()>) -> bool {
    matches!(r, Err(Error::LeaseEnded { .. }))
}

#[test]
#[ignore = "entry point of child processes, started by the other tests"]
fn child() {
    let Some(role) = common::role() else { return };
    let q = common::child::open_named();
    match role.as_str() {
        "hold" => {
            let (msg, lease) = q.pop_leased(FOREVER, SECOND).expect("lease").into_parts();
            println!("holding {} {}", String::from_utf8_lossy(&msg), lease.token);
            std::thread::sleep(Duration::from_secs(60));
        }
        "ack" => {
            let lease = Lease {
                token: arg("WQ_TOKEN").parse().unwrap(),
                deliveries: 1,
            };
            q.ack(&lease).expect("ack from another process");
            println!("acked");
        }
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn ack_removes_and_counts_as_popped() {
    let q = TempQueue::new("lease-ack");
    let queue = open(&q.name, 4096);
    queue.push(b"job", None).unwrap();
    let task = queue.pop_leased(FOREVER, NO_WAIT).unwrap();
    assert_eq!((&task[..], task.deliveries()), (&b"job"[..], 1));
    let s = queue.stats().unwrap();
    assert_eq!(
        (s.len, s.popped_total),
        (1, 0),
        "a leased message is queued"
    );
    assert_eq!(queue.lease_stats().unwrap().leased, 1);
    assert!(matches!(queue.pop(NO_WAIT), Err(Error::Empty)), "invisible");
    assert!(matches!(
        queue.pop_leased(FOREVER, NO_WAIT),
        Err(Error::Empty)
    ));
    task.ack().unwrap();
    let s = queue.stats().unwrap();
    assert_eq!((s.len, s.popped_total, s.bytes_used), (0, 1, 0));
    let l = queue.lease_stats().unwrap();
    assert_eq!((l.leased, l.acked_total, l.redelivered_total), (0, 1, 0));
}

#[test]
fn nack_redelivers_at_once_in_front_of_later_messages() {
    let q = TempQueue::new("lease-nack");
    let queue = open(&q.name, 4096);
    for m in [&b"a"[..], b"b", b"c"] {
        queue.push(m, None).unwrap();
    }
    let a = queue.pop_leased(FOREVER, NO_WAIT).unwrap();
    let b = queue.pop_leased(FOREVER, NO_WAIT).unwrap();
    b.nack().unwrap();
    a.nack().unwrap();
    queue.push(b"d", None).unwrap();
    // Both given back: they go out again in the queue's order, first.
    let order: Vec<(Vec<u8>, u32)> = (0..4)
        .map(|_| {
            let t = queue.pop_leased(FOREVER, NO_WAIT).unwrap();
            let (msg, lease) = t.into_parts();
            queue.ack(&lease).unwrap();
            (msg, lease.deliveries)
        })
        .collect();
    let want: Vec<(Vec<u8>, u32)> = vec![
        (b"a".to_vec(), 2),
        (b"b".to_vec(), 2),
        (b"c".to_vec(), 1),
        (b"d".to_vec(), 1),
    ];
    assert_eq!(order, want);
    let l = queue.lease_stats().unwrap();
    assert_eq!(
        (l.nacked_total, l.redelivered_total, l.acked_total),
        (2, 2, 4)
    );
    assert_eq!(queue.stats().unwrap().len, 0);
}

#[test]
fn a_plain_pop_takes_a_given_back_message_first() {
    let q = TempQueue::new("lease-mixed");
    let queue = open(&q.name, 4096);
    queue.push_batch(&[b"1", b"2", b"3"], None).unwrap();
    let one = queue.pop_leased(FOREVER, NO_WAIT).unwrap();
    assert_eq!(
        queue.pop(NO_WAIT).unwrap(),
        b"2",
        "plain pops skip leased ones"
    );
    one.nack().unwrap();
    let mut buf = [0u8; 8];
    let mut spans = [wq::Span::default(); 4];
    let n = queue.pop_batch(&mut buf, &mut spans, NO_WAIT).unwrap();
    assert_eq!(
        (n, &buf[..1]),
        (1, &b"1"[..]),
        "the redelivery first, alone"
    );
    assert_eq!(queue.pop(NO_WAIT).unwrap(), b"3");
    let s = queue.stats().unwrap();
    assert_eq!((s.len, s.popped_total, s.bytes_used), (0, 3, 0));
    assert_eq!(queue.lease_stats().unwrap().redelivered_total, 1);
}

#[test]
fn a_lease_that_times_out_goes_to_the_next_worker_and_its_late_ack_fails() {
    let q = TempQueue::new("lease-timeout");
    let queue = open(&q.name, 4096);
    queue.push(b"slow job", None).unwrap();
    let slow = queue
        .pop_leased(Some(Duration::from_millis(100)), NO_WAIT)
        .unwrap();
    let other = open(&q.name, 4096);
    let start = Instant::now();
    // A waiting worker gets it once the lease ran out, without a push.
    let next = other
        .pop_leased(FOREVER, Some(Duration::from_secs(5)))
        .unwrap();
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(90) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
    assert_eq!((&next[..], next.deliveries()), (&b"slow job"[..], 2));
    assert!(ended(slow.ack()), "the late ack of the slow holder");
    next.ack().unwrap();
    let l = queue.lease_stats().unwrap();
    assert_eq!((l.expired_total, l.acked_total, l.leased), (1, 1, 0));
}

#[test]
fn an_ack_after_the_time_ran_out_fails_even_before_anyone_noticed() {
    let q = TempQueue::new("lease-late");
    let queue = open(&q.name, 4096);
    queue.push(b"x", None).unwrap();
    let t = queue
        .pop_leased(Some(Duration::from_millis(20)), NO_WAIT)
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert!(ended(t.ack()));
    assert_eq!(queue.lease_stats().unwrap().expired_total, 1);
    assert_eq!(queue.pop(NO_WAIT).unwrap(), b"x", "still there");
}

#[test]
fn extend_keeps_a_lease_past_its_first_time() {
    let q = TempQueue::new("lease-extend");
    let queue = open(&q.name, 4096);
    queue.push(b"long job", None).unwrap();
    let t = queue
        .pop_leased(Some(Duration::from_millis(100)), NO_WAIT)
        .unwrap();
    t.extend(Some(Duration::from_secs(30))).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(matches!(
        queue.pop_leased(FOREVER, NO_WAIT),
        Err(Error::Empty)
    ));
    t.extend(Some(Duration::from_millis(1))).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert!(ended(t.extend(FOREVER)), "it ended: extending fails");
    assert_eq!(queue.pop(NO_WAIT).unwrap(), b"long job");
}

#[test]
fn closing_a_handle_gives_its_leases_back_at_once() {
    let q = TempQueue::new("lease-close");
    let queue = open(&q.name, 4096);
    queue.push_batch(&[b"p", b"q", b"r"], None).unwrap();
    let holder = open(&q.name, 4096);
    let p = holder.pop_leased(FOREVER, NO_WAIT).unwrap().into_parts().1;
    let q2 = holder.pop_leased(FOREVER, NO_WAIT).unwrap().into_parts().1;
    assert_eq!((p.deliveries, q2.deliveries), (1, 1));
    drop(holder);
    for want in [&b"p"[..], b"q"] {
        let t = queue.pop_leased(FOREVER, NO_WAIT).unwrap();
        assert_eq!((&t[..], t.deliveries()), (want, 2));
        t.ack().unwrap();
    }
    assert!(ended(queue.ack(&p)), "the closed handle's token is dead");
    let l = queue.lease_stats().unwrap();
    assert_eq!((l.abandoned_total, l.redelivered_total), (2, 2));
    assert_eq!(queue.pop(NO_WAIT).unwrap(), b"r");
}

#[test]
fn any_handle_in_any_process_may_settle_a_lease() {
    let q = TempQueue::new("lease-other");
    let queue = open(&q.name, 4096);
    queue.push_batch(&[b"one", b"two"], None).unwrap();
    let (_, one) = queue
        .pop_leased_into(&mut [0u8; 8], FOREVER, NO_WAIT)
        .unwrap();
    let other = open(&q.name, 4096);
    other.ack(&one).unwrap();
    assert!(ended(queue.ack(&one)), "acked once only");
    let (_, two) = queue
        .pop_leased_into(&mut [0u8; 8], FOREVER, NO_WAIT)
        .unwrap();
    let child = spawn("ack", &[q.env(), ("WQ_TOKEN", two.token.to_string())]);
    common::expect_success(child, Duration::from_secs(20), "acking child");
    let s = queue.stats().unwrap();
    assert_eq!((s.len, s.popped_total), (0, 2));
}

#[test]
fn tokens_never_issued_reused_or_scribbled_change_nothing() {
    let q = TempQueue::new("lease-tokens");
    let queue = open(&q.name, 4096);
    queue.push_batch(&[b"a", b"b"], None).unwrap();
    let (_, a) = queue
        .pop_leased_into(&mut [0u8; 8], FOREVER, NO_WAIT)
        .unwrap();
    let (_, b) = queue
        .pop_leased_into(&mut [0u8; 8], FOREVER, NO_WAIT)
        .unwrap();
    queue.ack(&a).unwrap();
    let forged = |token: u64| Lease {
        token,
        deliveries: 1,
    };
    let mut bad = vec![0, 1, u64::MAX, a.token, b.token ^ 1, b.token ^ (1 << 12)];
    bad.extend((0..200u64).map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15)));
    for token in bad.into_iter().filter(|&t| t != b.token) {
        let l = forged(token);
        assert!(ended(queue.ack(&l)), "ack {token:#x}");
        assert!(ended(queue.nack(&l)), "nack {token:#x}");
        assert!(ended(queue.extend_lease(&l, FOREVER)), "extend {token:#x}");
    }
    let l = queue.lease_stats().unwrap();
    assert_eq!((l.leased, l.acked_total, l.nacked_total), (1, 1, 0));
    // The slot a's lease used is reused: a's token still names nothing.
    queue.push(b"c", None).unwrap();
    let (_, c) = queue
        .pop_leased_into(&mut [0u8; 8], FOREVER, NO_WAIT)
        .unwrap();
    assert_ne!(c.token, a.token);
    assert!(ended(queue.ack(&a)));
    queue.ack(&b).unwrap();
    queue.ack(&c).unwrap();
    assert_eq!(queue.stats().unwrap().len, 0);
}

#[test]
fn at_the_lease_limit_leased_pops_wait_and_plain_pops_work() {
    let q = TempQueue::new("lease-limit");
    let queue = open(&q.name, 1 << 20);
    let n = LEASE_LIMIT + 2;
    for i in 0..n as u32 {
        queue.push(&i.to_le_bytes(), None).unwrap();
    }
    let leases: Vec<Lease> = (0..LEASE_LIMIT)
        .map(|_| queue.pop_leased(FOREVER, NO_WAIT).unwrap().into_parts().1)
        .collect();
    assert_eq!(queue.lease_stats().unwrap().leased, LEASE_LIMIT as u64);
    assert!(matches!(
        queue.pop_leased(FOREVER, NO_WAIT),
        Err(Error::Empty)
    ));
    let start = Instant::now();
    assert!(matches!(
        queue.pop_leased(FOREVER, Some(Duration::from_millis(100))),
        Err(Error::Empty)
    ));
    assert!(start.elapsed() >= Duration::from_millis(90), "it waited");
    let want = (LEASE_LIMIT as u32).to_le_bytes();
    assert_eq!(queue.pop(NO_WAIT).unwrap(), want, "plain pops still work");
    // An ack frees a slot for a waiting leased pop.
    let waiter = std::thread::scope(|s| {
        let t = s.spawn(|| {
            let got = queue.pop_leased(FOREVER, Some(Duration::from_secs(10)));
            got.map(|l| l.into_parts())
        });
        std::thread::sleep(Duration::from_millis(50));
        queue.ack(&leases[0]).unwrap();
        t.join().unwrap()
    });
    let (msg, last) = waiter.expect("a leased pop after an ack");
    assert_eq!(msg, (LEASE_LIMIT as u32 + 1).to_le_bytes());
    for l in leases[1..].iter().chain([&last]) {
        queue.ack(l).unwrap();
    }
    let s = queue.stats().unwrap();
    assert_eq!((s.len, s.popped_total, s.bytes_used), (0, n as u64, 0));
}

#[test]
fn a_long_lease_holds_its_storage_until_acked() {
    let q = TempQueue::new("lease-storage");
    let queue = open(&q.name, 64);
    queue.push(b"first", None).unwrap();
    let first = queue.pop_leased(FOREVER, NO_WAIT).unwrap();
    let mut pushed = 0;
    while queue.try_push(b"more").unwrap() {
        pushed += 1;
    }
    assert_eq!(pushed, 3, "the leased record keeps its 16 bytes");
    for _ in 0..3 {
        queue.pop(NO_WAIT).unwrap();
    }
    assert!(
        !queue.try_push(b"more").unwrap(),
        "popped after a lease: still held"
    );
    first.ack().unwrap();
    assert_eq!(queue.stats().unwrap().bytes_used, 0);
    assert!(queue.try_push(b"more").unwrap());
}

#[test]
fn a_buffer_too_small_leases_nothing() {
    let q = TempQueue::new("lease-small");
    let queue = open(&q.name, 4096);
    queue.push(b"twelve bytes", None).unwrap();
    let mut small = [0u8; 4];
    assert!(matches!(
        queue.pop_leased_into(&mut small, FOREVER, NO_WAIT),
        Err(Error::BufferTooSmall { needed: 12, .. })
    ));
    assert_eq!(queue.lease_stats().unwrap().leased, 0);
    let mut buf = [0u8; 12];
    let (n, lease) = queue.pop_leased_into(&mut buf, FOREVER, NO_WAIT).unwrap();
    assert_eq!((n, lease.deliveries), (12, 1));
    queue.nack(&lease).unwrap();
    assert!(matches!(
        queue.pop_leased_into(&mut small, FOREVER, NO_WAIT),
        Err(Error::BufferTooSmall { needed: 12, .. })
    ));
    assert_eq!(queue.pop(NO_WAIT).unwrap(), b"twelve bytes");
}

#[test]
fn a_dropped_guard_gives_the_task_back() {
    let q = TempQueue::new("lease-drop");
    let queue = open(&q.name, 4096);
    queue.push(b"task", None).unwrap();
    let failing = || -> wq::Result<()> {
        let _task = queue.pop_leased(FOREVER, NO_WAIT)?;
        Err(Error::Full) // the handler fails before acking
    };
    assert!(failing().is_err());
    let again = queue.pop_leased(FOREVER, NO_WAIT).unwrap();
    assert_eq!(again.deliveries(), 2);
    again.ack().unwrap();
}

#[test]
fn a_killed_holder_s_message_reaches_a_waiting_worker_within_a_second() {
    let q = TempQueue::new("lease-kill");
    let queue = open(&q.name, 4096);
    queue.push(b"survives", None).unwrap();
    let mut holder = spawn("hold", &[q.env()]);
    let mut out = BufReader::new(holder.stdout.take().unwrap());
    let line = (&mut out)
        .lines()
        .map(|l| l.unwrap())
        .find(|l| l.starts_with("holding"))
        .expect("the holder's report");
    assert!(line.starts_with("holding survives"), "{line:?}");
    let waiter = std::thread::scope(|s| {
        let t = s.spawn(|| {
            let got = queue.pop_leased(FOREVER, Some(Duration::from_secs(10)));
            (
                got.map(|l| (l.to_vec(), l.deliveries(), l.ack())),
                Instant::now(),
            )
        });
        std::thread::sleep(Duration::from_millis(100));
        let killed = Instant::now();
        sigkill(&mut holder);
        let (got, at) = t.join().unwrap();
        (got, at - killed)
    });
    let (got, latency) = waiter;
    let (msg, deliveries, acked) = got.expect("redelivered");
    assert_eq!((msg, deliveries), (b"survives".to_vec(), 2));
    acked.unwrap();
    assert!(latency < Duration::from_secs(1), "{latency:?}");
    let l = queue.lease_stats().unwrap();
    assert_eq!((l.abandoned_total, l.acked_total), (1, 1));
}

/// The segment file, mapped for scribbling.
fn map_file(path: &str) -> memmap2::MmapMut {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    // SAFETY: the test accepts that its mapping changes under other handles.
    unsafe { memmap2::MmapMut::map_mut(&file) }.unwrap()
}

#[test]
fn a_scribbled_lease_table_is_corruption_or_a_redelivery() {
    let q = TempQueue::new("lease-scribble");
    let queue = open(&q.name, 4096);
    queue.push_batch(&[b"a", b"b"], None).unwrap();
    let a = queue.pop_leased(FOREVER, NO_WAIT).unwrap().into_parts().1;
    let slot = (a.token & 0xfff) as usize;
    let mut map = map_file(&q.path());
    // A holder token nobody has: the lease counts as abandoned.
    let at = LEASES + 32 * slot + HOLDER;
    map[at..at + 4].copy_from_slice(&0x7fff_fff1u32.to_le_bytes());
    std::thread::sleep(Duration::from_millis(300));
    let t = queue.pop_leased(FOREVER, SECOND).unwrap();
    assert_eq!((&t[..], t.deliveries()), (&b"a"[..], 2));
    // A position outside the queue: reported, never followed. A lock-free
    // ack writes only the slot's token, so it may take it; the consumer
    // transaction that would free the slot reports it.
    let slot = (t.lease().token & 0xfff) as usize;
    let at = LEASES + 32 * slot + 8;
    map[at..at + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    match t.ack() {
        Ok(()) | Err(Error::Corrupted(_)) => {}
        Err(e) => panic!("ack of the scribbled slot: {e}"),
    }
    assert!(matches!(queue.lease_stats(), Err(Error::Corrupted(_))));
    match queue.pop(NO_WAIT) {
        Ok(m) => assert_eq!(m, b"b"),
        Err(Error::Corrupted(_)) => {}
        Err(e) => panic!("pop after the scribble: {e}"),
    }
}

/// Whether `fd` polls readable within `ms` milliseconds.
fn readable(fd: std::os::fd::RawFd, ms: i32) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    n == 1 && pfd.revents & libc::POLLIN != 0
}

#[test]
fn the_readiness_descriptor_ignores_leased_messages_until_their_lease_ends() {
    use std::os::fd::AsRawFd;
    let q = TempQueue::new("lease-fd");
    let queue = open(&q.name, 4096);
    queue.push(b"job", None).unwrap();
    let held = queue
        .pop_leased(Some(Duration::from_millis(300)), NO_WAIT)
        .unwrap()
        .into_parts()
        .1;
    let other = open(&q.name, 4096);
    let fd = other.readable_fd().unwrap().as_raw_fd();
    // Nothing a pop could take: readable at most once (spuriously), and
    // reset by the empty pop, for as long as the lease lasts.
    let mut spurious = 0;
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(200) {
        if readable(fd, 20) {
            spurious += 1;
            assert!(matches!(other.pop(NO_WAIT), Err(Error::Empty)));
        }
    }
    assert!(
        spurious <= 1,
        "readable {spurious} times with nothing to pop"
    );
    // Its lease runs out: readable again without a push (and, in the
    // meantime, readable for the periodic checks of held leases).
    let t = loop {
        assert!(start.elapsed() < Duration::from_secs(3), "never readable");
        if readable(fd, 100) {
            match other.pop_leased(FOREVER, NO_WAIT) {
                Ok(t) => break t,
                Err(Error::Empty) => spurious += 1,
                Err(e) => panic!("{e}"),
            }
        }
    };
    assert!(
        spurious <= 4,
        "readable {spurious} times with nothing to pop"
    );
    assert_eq!(t.deliveries(), 2);
    t.ack().unwrap();
    assert!(ended(queue.ack(&held)));
}

#[test]
fn a_consumer_asleep_before_the_lease_existed_gets_it_when_it_expires() {
    let q = TempQueue::new("lease-asleep");
    let queue = open(&q.name, 4096);
    std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            let b = open(&q.name, 4096);
            b.pop_leased(FOREVER, Some(Duration::from_secs(5)))
                .map(|l| (l.deliveries(), l.ack()))
        });
        std::thread::sleep(Duration::from_millis(300));
        queue.push(b"job", None).unwrap();
        // Taken before the sleeper could: it goes back to sleep, and must
        // wake up for the lease's end.
        let _ = queue
            .pop_leased(Some(Duration::from_millis(100)), NO_WAIT)
            .map(|l| l.into_parts());
        let start = Instant::now();
        let got = waiter.join().unwrap();
        match got {
            Ok((deliveries, acked)) => {
                acked.unwrap();
                assert!(deliveries <= 2);
            }
            Err(e) => panic!("the sleeper got nothing: {e} after {:?}", start.elapsed()),
        }
    });
}

#[test]
fn an_ack_alone_makes_room_for_a_blocked_producer() {
    // Acks take no lock: the acked message's storage is freed by the next
    // transaction of a consumer or, as here with no consumer left doing
    // anything, by the producer that is short of room.
    let q = TempQueue::new("lease-room");
    let queue = open(&q.name, 64);
    for _ in 0..4 {
        queue.push(b"12345678", None).unwrap();
    }
    let leases: Vec<Lease> = (0..4)
        .map(|_| queue.pop_leased(FOREVER, NO_WAIT).unwrap().into_parts().1)
        .collect();
    let other = open(&q.name, 64);
    for (round, lease) in leases.iter().enumerate() {
        let blocked = std::thread::scope(|s| {
            let pusher = s.spawn(|| {
                let start = Instant::now();
                let r = other.push(b"87654321", Some(Duration::from_secs(5)));
                (r, start.elapsed())
            });
            std::thread::sleep(Duration::from_millis(50 + 50 * round as u64));
            queue.ack(lease).unwrap();
            pusher.join().unwrap()
        });
        let (pushed, waited) = blocked;
        pushed.unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert!(waited < Duration::from_secs(1), "round {round}: {waited:?}");
    }
    let s = queue.stats().unwrap();
    assert_eq!((s.len, s.popped_total, s.pushed_total), (4, 4, 8));
    assert_eq!(queue.lease_stats().unwrap().acked_total, 4);
}
