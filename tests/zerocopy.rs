//! Zero-copy messages (`Queue::push_reserve`, `Queue::pop_leased_view`,
//! `wq_push_reserve` / `wq_push_commit` / `wq_push_cancel` /
//! `wq_pop_leased_view`): a reservation publishes exactly what is committed
//! and nothing when cancelled, closed or killed; it holds the producers'
//! side only; records never cross the ring's end, so every message can be
//! viewed in one piece; a killed viewer gives its message back.

mod common;

use std::collections::VecDeque;
use std::ffi::{CString, c_void};
use std::time::{Duration, Instant};

use common::{Launch, TempQueue, Worker, num};
use wq::ffi::{
    WQ_FULL, WQ_INVALID_ARGUMENT, WQ_OK, wq_close, wq_lease, wq_open, wq_pop, wq_pop_leased_view,
    wq_push, wq_push_cancel, wq_push_commit, wq_push_reserve, wq_queue,
};
use wq::{Error, Options, Queue};

const NO_WAIT: Option<Duration> = Some(Duration::ZERO);
const FOREVER: Option<Duration> = None;
const SECOND: Option<Duration> = Some(Duration::from_secs(1));

fn open(name: &str, capacity: u64) -> Queue {
    let opts = Options {
        capacity,
        ..Options::default()
    };
    Queue::open(name, &opts).expect("open queue")
}

/// The bytes of message `n` of `len` bytes: every byte depends on both.
fn pattern(n: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (n.wrapping_mul(31).wrapping_add(i as u64 * 7) % 251) as u8)
        .collect()
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

#[test]
#[ignore = "entry point of child processes, started by the other tests"]
fn child() {
    let Some(role) = common::role() else { return };
    let q = common::child::open_named();
    match role.as_str() {
        "reserve-and-hang" => {
            let len = num("WQ_LEN") as usize;
            let mut r = q.push_reserve(len, SECOND).expect("reserve");
            r[..len / 2].fill(0xEE);
            println!("reserved");
            std::thread::sleep(Duration::from_secs(60));
        }
        "view-and-hang" => {
            let view = q.pop_leased_view(FOREVER, SECOND).expect("view");
            let sum: u64 = view.iter().map(|&b| u64::from(b)).sum();
            println!("viewing {} {sum}", view.len());
            std::thread::sleep(Duration::from_secs(60));
        }
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn a_reservation_publishes_what_is_committed_and_nothing_when_cancelled() {
    let q = TempQueue::new("zc-commit");
    let queue = open(&q.name, 1 << 20);
    let mut r = queue.push_reserve(1000, NO_WAIT).unwrap();
    assert_eq!(r.len(), 1000);
    r.copy_from_slice(&pattern(1, 1000));
    r.commit().unwrap();
    let mut r = queue.push_reserve(1000, NO_WAIT).unwrap();
    r[..10].copy_from_slice(b"0123456789");
    r.commit_len(10).unwrap();
    let mut r = queue.push_reserve(50, NO_WAIT).unwrap();
    r.fill(1);
    drop(r); // cancelled
    let r = queue.push_reserve(20, NO_WAIT).unwrap();
    assert!(matches!(r.commit_len(21), Err(Error::InvalidArgument(_))));
    queue.push_reserve(0, NO_WAIT).unwrap().commit().unwrap();
    let s = queue.stats().unwrap();
    assert_eq!((s.len, s.pushed_total), (3, 3));
    assert_eq!(queue.pop(NO_WAIT).unwrap(), pattern(1, 1000));
    assert_eq!(queue.pop(NO_WAIT).unwrap(), b"0123456789");
    assert_eq!(queue.pop(NO_WAIT).unwrap(), b"");
    assert!(matches!(queue.pop(NO_WAIT), Err(Error::Empty)));
    let max = queue.stats().unwrap().max_message_size as usize;
    assert!(matches!(
        queue.push_reserve(max + 1, NO_WAIT),
        Err(Error::MessageTooLarge { .. })
    ));
}

#[test]
fn a_reservation_holds_the_producers_side_only() {
    let q = TempQueue::new("zc-side");
    let a = open(&q.name, 1 << 16);
    let b = open(&q.name, 1 << 16);
    b.push(b"before", None).unwrap();
    let mut r = a.push_reserve(8, NO_WAIT).unwrap();
    r.copy_from_slice(b"reserved");
    // This thread may not push through the reserving handle: it would wait
    // for itself.
    assert!(matches!(
        a.push(b"x", FOREVER),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        a.push_reserve(1, FOREVER),
        Err(Error::InvalidArgument(_))
    ));
    // Other producers wait; consumers go on.
    let started = Instant::now();
    assert!(matches!(
        b.push(b"x", Some(Duration::from_millis(50))),
        Err(Error::Full)
    ));
    assert!(started.elapsed() >= Duration::from_millis(50));
    std::thread::scope(|s| {
        let other = s.spawn(|| a.push(b"other thread", Some(Duration::from_millis(50))));
        assert!(matches!(other.join().unwrap(), Err(Error::Full)));
    });
    assert_eq!(b.pop(NO_WAIT).unwrap(), b"before");
    std::thread::scope(|s| {
        let waiting = s.spawn(|| b.push(b"after", Some(Duration::from_secs(10))));
        std::thread::sleep(Duration::from_millis(20));
        r.commit().unwrap();
        waiting.join().unwrap().unwrap();
    });
    assert_eq!(b.pop(NO_WAIT).unwrap(), b"reserved");
    assert_eq!(b.pop(NO_WAIT).unwrap(), b"after");
    a.push(b"free again", NO_WAIT).unwrap();
}

/// Pushes and reservations of random sizes, up to the largest, on a small
/// ring, checked against a model: every message comes out whole and in
/// order through plain pops and views, and an empty queue always takes a
/// message of any size at once, wherever its positions stand.
#[test]
fn records_never_cross_the_ring_end() {
    let q = TempQueue::new("zc-wrap");
    for capacity in [4096u64, 4104] {
        let _ = Queue::remove(&q.name);
        let queue = open(&q.name, capacity);
        let max = queue.stats().unwrap().max_message_size;
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ capacity);
        let mut model: VecDeque<(u64, usize)> = VecDeque::new();
        let mut next = 0u64;
        for round in 0..6000 {
            let len = match rng.below(4) {
                0 => rng.below(max + 1),
                1 => max - rng.below(64.min(max + 1)),
                _ => rng.below(200),
            } as usize;
            let pushed = if rng.below(2) == 0 {
                match queue.push_reserve(len, NO_WAIT) {
                    Ok(mut r) => {
                        r.copy_from_slice(&pattern(next, len));
                        r.commit().unwrap();
                        true
                    }
                    Err(Error::Full) => false,
                    Err(e) => panic!("reserve: {e}"),
                }
            } else {
                queue.try_push(&pattern(next, len)).unwrap()
            };
            if model.is_empty() {
                assert!(
                    pushed,
                    "capacity {capacity}, round {round}: an empty queue refused {len} bytes"
                );
            }
            if pushed {
                model.push_back((next, len));
                next += 1;
            }
            if !pushed || rng.below(3) == 0 {
                let (n, len) = model.pop_front().expect("something to pop");
                if rng.below(2) == 0 {
                    let view = queue.pop_leased_view(None, NO_WAIT).unwrap();
                    assert_eq!(&view[..], &pattern(n, len)[..], "round {round}");
                    view.ack().unwrap();
                } else {
                    assert_eq!(
                        queue.pop(NO_WAIT).unwrap(),
                        pattern(n, len),
                        "round {round}"
                    );
                }
            }
        }
        while let Some((n, len)) = model.pop_front() {
            assert_eq!(queue.pop(NO_WAIT).unwrap(), pattern(n, len));
        }
        let s = queue.stats().unwrap();
        assert_eq!((s.len, s.bytes_used, s.pushed_total), (0, 0, next));
        drop(queue);
    }
}

/// Producers in threads, each with a handle of its own, mixing copies and
/// reservations, and a consumer mixing copies and views: every message
/// arrives once, whole.
#[test]
fn concurrent_reservations_and_views_lose_and_mix_nothing() {
    const PER: u64 = 3000;
    let q = TempQueue::new("zc-threads");
    let consumer = open(&q.name, 1 << 14);
    let mut seen = vec![0u8; (2 * PER) as usize];
    std::thread::scope(|s| {
        for p in 0..2u64 {
            let name = q.name.clone();
            s.spawn(move || {
                let queue = open(&name, 1 << 14);
                for i in 0..PER {
                    let n = p * PER + i;
                    let len = 8 + (n * 37 % 1500) as usize;
                    let mut msg = pattern(n, len);
                    msg[..8].copy_from_slice(&n.to_le_bytes());
                    if n % 2 == 0 {
                        let mut r = queue.push_reserve(len, FOREVER).unwrap();
                        r.copy_from_slice(&msg);
                        r.commit().unwrap();
                    } else {
                        queue.push(&msg, FOREVER).unwrap();
                    }
                }
            });
        }
        for k in 0..2 * PER {
            let check = |m: &[u8]| {
                let n = u64::from_le_bytes(m[..8].try_into().unwrap());
                let mut want = pattern(n, m.len());
                want[..8].copy_from_slice(&n.to_le_bytes());
                assert_eq!(m, &want[..], "message {n}");
                n
            };
            let n = if k % 3 == 0 {
                let view = consumer
                    .pop_leased_view(None, Some(Duration::from_secs(20)))
                    .unwrap();
                let n = check(&view);
                view.ack().unwrap();
                n
            } else {
                check(&consumer.pop(Some(Duration::from_secs(20))).unwrap())
            };
            seen[n as usize] += 1;
        }
    });
    assert!(seen.iter().all(|&c| c == 1));
    assert!(matches!(consumer.pop(NO_WAIT), Err(Error::Empty)));
}

/// A producer SIGKILLed between reserve and commit, plainly or as PID 1 of
/// a PID namespace of its own: the others take the producers' side over
/// and find nothing of it.
#[test]
fn a_producer_killed_while_reserving_leaves_nothing() {
    for launch in [Launch::Plain, Launch::PidNs] {
        if launch == Launch::PidNs {
            if let Some(why) = common::pid_ns_unavailable() {
                panic!("PID namespaces are needed here: {why}");
            }
        }
        let q = TempQueue::new("zc-kill");
        let queue = open(&q.name, 1 << 16);
        for round in 0..5u64 {
            queue.push(&pattern(round, 100), None).unwrap();
            let mut w = Worker::start(
                launch,
                "reserve-and-hang",
                &[q.env(), ("WQ_LEN", "3000".into())],
            );
            w.expect_line("reserved", "reserver");
            assert!(matches!(
                queue.push(b"x", Some(Duration::from_millis(20))),
                Err(Error::Full)
            ));
            w.sigkill();
            let started = Instant::now();
            queue
                .push(&pattern(round + 100, 50), Some(Duration::from_secs(5)))
                .unwrap();
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "{:?}",
                started.elapsed()
            );
            assert_eq!(queue.pop(NO_WAIT).unwrap(), pattern(round, 100));
            assert_eq!(queue.pop(NO_WAIT).unwrap(), pattern(round + 100, 50));
            assert!(matches!(queue.pop(NO_WAIT), Err(Error::Empty)));
        }
        let s = queue.stats().unwrap();
        assert_eq!((s.len, s.pushed_total, s.popped_total), (0, 10, 10));
        assert!(s.recoveries >= 5, "{s:?}");
    }
}

/// A consumer SIGKILLed while it reads a message in place: another worker
/// blocked in a view gets the same bytes, delivered a second time.
#[test]
fn a_viewer_killed_gives_its_message_back() {
    let q = TempQueue::new("zc-view-kill");
    let queue = open(&q.name, 1 << 20);
    let msg = pattern(7, 65536);
    queue.push(&msg, None).unwrap();
    let sum: u64 = msg.iter().map(|&b| u64::from(b)).sum();
    let mut w = Worker::start(Launch::Plain, "view-and-hang", &[q.env()]);
    assert_eq!(
        w.expect_line("viewing", "viewer"),
        format!("viewing 65536 {sum}")
    );
    std::thread::scope(|s| {
        let waiting = s.spawn(|| {
            let view = queue
                .pop_leased_view(None, Some(Duration::from_secs(10)))
                .unwrap();
            let at = Instant::now();
            assert_eq!((&view[..], view.deliveries()), (&msg[..], 2));
            view.ack().unwrap();
            at
        });
        std::thread::sleep(Duration::from_millis(100));
        let killed = Instant::now();
        w.sigkill();
        let at = waiting.join().unwrap();
        assert!(at - killed < Duration::from_secs(1), "{:?}", at - killed);
    });
    assert_eq!(queue.stats().unwrap().len, 0);
}

fn c_open(name: &str) -> *mut wq_queue {
    let name = CString::new(name).unwrap();
    let mut q = std::ptr::null_mut();
    // SAFETY: a NUL-terminated name, default options, a writable out pointer.
    let status = unsafe { wq_open(name.as_ptr(), std::ptr::null(), &mut q) };
    assert_eq!(status, WQ_OK);
    q
}

#[test]
fn the_c_calls_check_their_arguments_and_close_cancels() {
    let q = TempQueue::new("zc-ffi");
    drop(open(&q.name, 1 << 16));
    let a = c_open(&q.name);
    let b = c_open(&q.name);
    let mut buf: *mut c_void = std::ptr::null_mut();
    let mut view: *const c_void = std::ptr::null();
    let mut len = 0usize;
    let mut lease = wq_lease::default();
    // SAFETY: live handles from wq_open, writable out pointers, and NULLs
    // where the calls must reject them; the reserved bytes are written
    // within their length before the commit.
    unsafe {
        assert_eq!(
            wq_push_reserve(std::ptr::null_mut(), 1, &mut buf, 0),
            WQ_INVALID_ARGUMENT
        );
        assert_eq!(
            wq_push_reserve(a, 1, std::ptr::null_mut(), 0),
            WQ_INVALID_ARGUMENT
        );
        assert_eq!(
            wq_push_commit(a, 0),
            WQ_INVALID_ARGUMENT,
            "nothing reserved"
        );
        assert_eq!(wq_push_cancel(a), WQ_INVALID_ARGUMENT, "nothing reserved");
        assert_eq!(wq_push_commit(std::ptr::null_mut(), 0), WQ_INVALID_ARGUMENT);
        assert_eq!(wq_push_cancel(std::ptr::null_mut()), WQ_INVALID_ARGUMENT);
        assert_eq!(
            wq_pop_leased_view(a, std::ptr::null_mut(), &mut len, &mut lease, -1, 0),
            WQ_INVALID_ARGUMENT
        );
        assert_eq!(
            wq_pop_leased_view(a, &mut view, &mut len, std::ptr::null_mut(), -1, 0),
            WQ_INVALID_ARGUMENT
        );
        assert_eq!(wq_push_reserve(a, 5, &mut buf, 0), WQ_OK);
        std::ptr::copy_nonoverlapping(b"hello".as_ptr(), buf.cast::<u8>(), 5);
        assert_eq!(
            wq_push_commit(a, 6),
            WQ_INVALID_ARGUMENT,
            "longer than reserved"
        );
        assert_eq!(wq_push(b, b"x".as_ptr().cast(), 1, 20_000_000), WQ_FULL);
        assert_eq!(wq_push_commit(a, 5), WQ_OK);
        assert_eq!(
            wq_pop_leased_view(b, &mut view, &mut len, &mut lease, -1, 0),
            WQ_OK
        );
        assert_eq!(std::slice::from_raw_parts(view.cast::<u8>(), len), b"hello");
        assert_eq!(lease.deliveries, 1);
        assert_eq!(wq::ffi::wq_ack(b, &lease), WQ_OK);
        // A handle closed while reserving gives the producers' side back.
        assert_eq!(wq_push_reserve(a, 100, &mut buf, 0), WQ_OK);
        wq_close(a);
        assert_eq!(wq_push(b, b"y".as_ptr().cast(), 1, 0), WQ_OK);
        let mut out = [0u8; 8];
        assert_eq!(wq_pop(b, out.as_mut_ptr().cast(), 8, &mut len, 0), WQ_OK);
        assert_eq!(&out[..len], b"y");
        wq_close(b);
    }
}

/// A fork child of a reserving process does not hold its parent's
/// reservation: it cannot commit or cancel it, and its pushes wait for
/// the parent (they do not fail as the reserving thread's would).
#[test]
fn a_fork_child_does_not_inherit_the_reservation() {
    let q = TempQueue::new("zc-fork");
    let queue = open(&q.name, 1 << 16);
    let mut r = queue.push_reserve(6, NO_WAIT).unwrap();
    r.copy_from_slice(b"parent");
    // SAFETY: the child only calls wq through its inherited handle and
    // leaves with _exit, touching no lock another thread may hold.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let code = match (
            queue.push(b"child", Some(Duration::from_millis(50))),
            r.commit(),
        ) {
            (Err(Error::Full), Err(Error::InvalidArgument(_))) => 0,
            _ => 1,
        };
        // SAFETY: ends the child at once, running nothing of the parent's.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for the child just forked.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child status {status:#x}"
    );
    r.commit().unwrap();
    assert_eq!(queue.pop(NO_WAIT).unwrap(), b"parent");
    assert!(matches!(queue.pop(NO_WAIT), Err(Error::Empty)));
}
