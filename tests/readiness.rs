//! The readiness descriptor (`Queue::readable_fd`, `wq_readable_fd`) with
//! real processes: readable after another process's push (also from another
//! PID namespace), reset by the pop that finds the queue empty, usable in
//! `epoll` beside other descriptors, unharmed by killed producers and killed
//! fd-waiting consumers, and costing no thread or descriptor to a handle
//! that never asks.

mod common;

use std::io::{BufRead, BufReader};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use common::{TempQueue, arg, num, sigkill, spawn, spawn_under};
use wq::{Error, Options, Queue};

const NO_WAIT: Option<Duration> = Some(Duration::ZERO);

fn open(name: &str) -> Queue {
    let opts = Options {
        capacity: 1 << 16,
        ..Options::default()
    };
    Queue::open(name, &opts).expect("open queue")
}

/// Whether `fd` polls readable within `ms` milliseconds.
fn readable(fd: RawFd, ms: i32) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    assert!(n >= 0, "poll failed");
    n == 1 && pfd.revents & libc::POLLIN != 0
}

/// Pops with no wait until the queue is empty (which resets the fd).
fn drain(q: &Queue) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    loop {
        match q.pop(NO_WAIT) {
            Ok(m) => got.push(m),
            Err(Error::Empty) => return got,
            Err(e) => panic!("pop: {e}"),
        }
    }
}

/// Threads of this process.
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}

/// Descriptors of this process.
fn descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

#[test]
#[ignore = "entry point of child processes, started by the other tests"]
fn child() {
    let Some(role) = common::role() else { return };
    let (t0, d0) = (threads(), descriptors());
    let q = open(&arg("WQ_Q"));
    if role == "count_resources" {
        return count_resources(q, t0, d0);
    }
    match role.as_str() {
        "push_later" => {
            // The test polls before this push lands.
            std::thread::sleep(Duration::from_millis(num("WQ_DELAY_MS")));
            q.push(arg("WQ_MSG").as_bytes(), None).expect("push");
            println!("pushed");
        }
        "push_forever" => {
            println!("ready");
            for i in 0u64.. {
                q.push(&i.to_le_bytes(), None).expect("push");
            }
        }
        "fork_pops" => {
            // The parent waits on the fd; a fork child drains the queue
            // through the same handle and must leave the parent's fd alone.
            let fd = q.readable_fd().expect("readable_fd").as_raw_fd();
            q.push(b"a", None).expect("push a");
            assert!(readable(fd, 10_000), "readable after push a");
            // SAFETY: the child only pops and _exits.
            let pid = unsafe { libc::fork() };
            assert!(pid >= 0, "fork");
            if pid == 0 {
                let got = drain(&q);
                // SAFETY: ends the forked child at once.
                unsafe { libc::_exit(if got == [b"a".to_vec()] { 0 } else { 1 }) };
            }
            let mut status = 0;
            // SAFETY: our own child, a valid status pointer.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            assert!(
                libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
                "child"
            );
            q.push(b"b", None).expect("push b");
            assert!(
                readable(fd, 10_000),
                "the parent's fd after the child's pops"
            );
            assert_eq!(drain(&q), [b"b".to_vec()]);
            q.push(b"c", None).expect("push c");
            assert!(
                readable(fd, 10_000),
                "re-armed by the parent's own empty pop"
            );
            println!("fork ok");
        }
        "wait_on_fd" => {
            let fd = q.readable_fd().expect("readable_fd");
            println!("ready");
            loop {
                readable(fd.as_raw_fd(), -1);
                drain(&q);
            }
        }
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn a_push_from_another_process_makes_the_fd_readable_and_draining_resets_it() {
    let q = TempQueue::new("ready");
    let queue = open(&q.name);
    let fd = queue.readable_fd().unwrap().as_raw_fd();
    assert_eq!(
        queue.readable_fd().unwrap().as_raw_fd(),
        fd,
        "one fd per handle"
    );
    assert!(!readable(fd, 50), "readable on an empty queue");
    for round in 0..20 {
        let msg = format!("job {round}");
        // Before the spawn: the child sleeps 20 ms after it starts, which
        // is after this; a clock read after the spawn may come late (a
        // descheduled test thread) and see the push sooner than 15 ms.
        let t = Instant::now();
        let pusher = spawn(
            "push_later",
            &[
                q.env(),
                ("WQ_DELAY_MS", "20".into()),
                ("WQ_MSG", msg.clone()),
            ],
        );
        assert!(
            readable(fd, 10_000),
            "round {round}: not readable after a push"
        );
        let woke = t.elapsed();
        assert!(
            woke >= Duration::from_millis(15),
            "round {round}: readable before the push ({woke:?})"
        );
        assert_eq!(drain(&queue), [msg.into_bytes()], "round {round}");
        assert!(
            !readable(fd, 0),
            "round {round}: still readable after draining"
        );
        common::expect_success(pusher, Duration::from_secs(30), "pusher");
    }
}

#[test]
fn epoll_waits_on_two_queues_and_a_socket() {
    let (qa, qb) = (TempQueue::new("epa"), TempQueue::new("epb"));
    let (a, b) = (open(&qa.name), open(&qb.name));
    let (mut sock_w, sock_r) = std::os::unix::net::UnixStream::pair().unwrap();
    // SAFETY: epoll_create1 with a valid flag.
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    assert!(ep >= 0);
    let fds = [
        a.readable_fd().unwrap().as_raw_fd(),
        b.readable_fd().unwrap().as_raw_fd(),
        sock_r.as_raw_fd(),
    ];
    for (i, &fd) in fds.iter().enumerate() {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: i as u64,
        };
        // SAFETY: valid epoll descriptor, target descriptor and event.
        let added = unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &mut ev) };
        assert_eq!(added, 0);
    }
    let wait = |ms: i32| -> Vec<u64> {
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 4];
        // SAFETY: `evs` holds 4 writable events.
        let n = unsafe { libc::epoll_wait(ep, evs.as_mut_ptr(), 4, ms) };
        assert!(n >= 0);
        let mut ids: Vec<u64> = evs[..n as usize].iter().map(|e| e.u64).collect();
        ids.sort_unstable();
        ids
    };
    assert_eq!(wait(50), Vec::<u64>::new());
    let pusher = spawn(
        "push_later",
        &[
            qb.env(),
            ("WQ_DELAY_MS", "10".into()),
            ("WQ_MSG", "to b".into()),
        ],
    );
    assert_eq!(wait(10_000), [1], "queue b only");
    assert_eq!(drain(&b), [b"to b".to_vec()]);
    common::expect_success(pusher, Duration::from_secs(30), "pusher");
    assert_eq!(wait(20), Vec::<u64>::new(), "b reset by draining");
    std::io::Write::write_all(&mut sock_w, b"x").unwrap();
    a.push(b"to a", None).unwrap();
    // The socket is ready at once, queue a's fd a moment later (its helper
    // thread wakes on the push): both, and only they, show up.
    let until = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    while seen != [0, 2] && Instant::now() < until {
        seen.extend(wait(100));
        seen.sort_unstable();
        seen.dedup();
    }
    assert_eq!(seen, [0, 2], "queue a and the socket");
    assert_eq!(drain(&a), [b"to a".to_vec()]);
    // SAFETY: closing the epoll descriptor this test made.
    unsafe { libc::close(ep) };
}

#[test]
fn readiness_crosses_pid_namespaces() {
    if let Some(why) = common::pid_ns_unavailable() {
        eprintln!("SKIPPED readiness_crosses_pid_namespaces: {why}");
        return;
    }
    let q = TempQueue::new("readyns");
    let queue = open(&q.name);
    let fd = queue.readable_fd().unwrap().as_raw_fd();
    let pusher = spawn_under(
        &["unshare", "--pid", "--fork", "--kill-child", "--"],
        "push_later",
        &[
            q.env(),
            ("WQ_DELAY_MS", "20".into()),
            ("WQ_MSG", "from pid 1".into()),
        ],
    );
    assert!(
        readable(fd, 10_000),
        "not readable after a push from another namespace"
    );
    assert_eq!(drain(&queue), [b"from pid 1".to_vec()]);
    common::expect_success(
        pusher,
        Duration::from_secs(30),
        "pusher in its own namespace",
    );
}

#[test]
fn killed_producers_and_killed_fd_waiters_break_nothing() {
    let q = TempQueue::new("readykill");
    let queue = open(&q.name);
    let fd = queue.readable_fd().unwrap().as_raw_fd();
    for round in 0..10 {
        // A consumer of another process waiting on its own fd, killed.
        let mut waiter = spawn("wait_on_fd", &[q.env()]);
        common::read_until_ready(&mut BufReader::new(waiter.stdout.take().unwrap()));
        std::thread::sleep(Duration::from_millis(5));
        sigkill(&mut waiter);
        // A producer killed mid-stream.
        let mut producer = spawn("push_forever", &[q.env()]);
        let mut out = BufReader::new(producer.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        std::thread::sleep(Duration::from_millis(2));
        sigkill(&mut producer);
        // This handle's fd still follows the queue.
        drain(&queue);
        assert!(!readable(fd, 0), "round {round}: readable after draining");
        queue.push(b"after", None).unwrap();
        assert!(
            readable(fd, 10_000),
            "round {round}: not readable after a push"
        );
        assert_eq!(drain(&queue), [b"after".to_vec()], "round {round}");
    }
}

#[test]
fn a_fork_child_popping_through_the_handle_leaves_the_parents_fd_working() {
    let q = TempQueue::new("readyfork");
    let out = common::expect_success(
        spawn("fork_pops", &[q.env()]),
        Duration::from_secs(30),
        "fork_pops",
    );
    assert!(out.contains("fork ok"), "{out}");
}

#[test]
fn a_handle_that_never_asks_has_no_thread_and_no_descriptor() {
    // In a child: the test harness's other threads would blur the counts.
    let q = TempQueue::new("readynone");
    let out = common::expect_success(
        spawn("count_resources", &[q.env()]),
        Duration::from_secs(30),
        "counter",
    );
    assert!(out.contains("counted"), "{out}");
}

/// Counts this process's threads and descriptors around a handle's life;
/// `t0`, `d0` are the counts before it was opened.
fn count_resources(queue: Queue, t0: usize, d0: usize) {
    for i in 0..1000u32 {
        queue.push(&i.to_le_bytes(), None).unwrap();
        queue.pop(None).unwrap();
    }
    assert!(matches!(queue.pop(NO_WAIT), Err(Error::Empty)));
    // Opening a handle costs its two descriptors of the segment file.
    assert_eq!(
        (threads(), descriptors()),
        (t0, d0 + 2),
        "before readable_fd"
    );
    let fd = queue.readable_fd().unwrap().as_raw_fd();
    assert_eq!(
        (threads(), descriptors()),
        (t0 + 1, d0 + 3),
        "after readable_fd"
    );
    assert_eq!(queue.readable_fd().unwrap().as_raw_fd(), fd);
    drop(queue);
    assert_eq!((threads(), descriptors()), (t0, d0), "after close");
    println!("counted");
}
