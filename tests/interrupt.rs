//! Interrupting waits: [`Queue::interrupt`] ends the waits of other threads
//! and, called from a signal handler, the wait of the thread the signal
//! landed on, and an interrupt that lands before a wait is never lost;
//! calls that need no wait still succeed; another handle is not affected.
//!
//! The work runs in child processes (this binary re-executed with a role):
//! a wait that never ends must hang a child, not the test harness.

mod common;

use std::os::unix::thread::JoinHandleExt;
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, Instant};

use common::child::{create, fail, or_exit, run_child};
use common::{Rng, TempQueue, arg};
use wq::{Error, OpenMode, Options, Queue};

/// Bound on every child process.
const LIMIT: Duration = Duration::from_secs(30);
/// Time for a thread to reach its wait and sleep in the kernel.
const SETTLE: Duration = Duration::from_millis(150);

#[test]
#[ignore = "entry point of child processes, started by the other tests"]
fn child() {
    let Some(role) = common::role() else { return };
    match role.as_str() {
        "interrupt_threads" => interrupt_threads(),
        "interrupt_signals" => interrupt_signals(),
        other => fail(&format!("unknown role {other}")),
    }
}

#[test]
fn interrupt_ends_waits_of_other_threads() {
    let q = TempQueue::new("intr");
    let says = "interrupt from threads: ok";
    run_child(&[], "interrupt_threads", &[q.env()], LIMIT, says);
}

#[test]
fn interrupt_from_a_signal_handler_ends_a_wait_and_is_never_lost() {
    let q = TempQueue::new("intrsig");
    let says = "interrupt from signal handlers: ok";
    run_child(&[], "interrupt_signals", &[q.env()], LIMIT, says);
}

type Waiter = (mpsc::Receiver<wq::Result<Vec<u8>>>, libc::pthread_t);

/// A thread blocked in `call` (a pop or push with no timeout), given time to
/// sleep; its result arrives on the receiver.
fn waiter(q: &'static Queue, call: fn(&Queue) -> wq::Result<Vec<u8>>) -> Waiter {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let _ = tx.send(call(q));
    });
    let tid = thread.as_pthread_t();
    std::thread::sleep(SETTLE);
    (rx, tid)
}

fn pop_forever(q: &Queue) -> wq::Result<Vec<u8>> {
    q.pop(None)
}

/// What [`push_forever`] pushes, and what fills a queue before it does
/// (the same size, so that a full queue has no room for it either).
const FILLER: [u8; 64] = [7; 64];

fn push_forever(q: &Queue) -> wq::Result<Vec<u8>> {
    q.push(&FILLER, None).map(|()| Vec::new())
}

/// Asserts that the waiter is still waiting.
fn still_waiting(w: &Waiter, what: &str) {
    if let Ok(r) = w.0.recv_timeout(Duration::from_millis(300)) {
        fail(&format!("{what}: the wait ended with {r:?}"));
    }
}

/// Asserts that the waiter's call ends with `Interrupted` soon.
fn ends_interrupted(w: &Waiter, what: &str) {
    match w.0.recv_timeout(Duration::from_secs(5)) {
        Ok(Err(Error::Interrupted)) => println!("{what}: Interrupted"),
        Ok(other) => fail(&format!("{what}: want Interrupted, got {other:?}")),
        Err(_) => fail(&format!("{what}: the wait did not end within 5 s")),
    }
}

/// Asserts that `call` returns `Interrupted` at once (it would have waited).
fn interrupted_at_once<T: std::fmt::Debug>(what: &str, call: impl FnOnce() -> wq::Result<T>) {
    let t = Instant::now();
    match call() {
        Err(Error::Interrupted) if t.elapsed() < Duration::from_millis(500) => {}
        other => fail(&format!(
            "{what}: want Interrupted at once, got {other:?} after {:?}",
            t.elapsed()
        )),
    }
}

/// Asserts that an empty pop with `timeout` waits it out again.
fn waits_again(q: &Queue, what: &str) {
    let t = Instant::now();
    let timeout = Duration::from_millis(200);
    match q.pop(Some(timeout)) {
        Err(Error::Empty) if t.elapsed() >= timeout.mul_f64(0.9) => {}
        other => fail(&format!(
            "{what}: want Empty after {timeout:?}, got {other:?} after {:?}",
            t.elapsed()
        )),
    }
}

fn interrupt_threads() {
    let q: &'static Queue = Box::leak(Box::new(create(&arg("WQ_Q"), 4096)));

    let w = waiter(q, pop_forever);
    q.interrupt();
    ends_interrupted(&w, "a pop(None) of another thread");

    // While interrupted: waits end at once, calls that need none succeed.
    interrupted_at_once("pop(None) on an empty queue", || q.pop(None));
    interrupted_at_once("pop(2 s) on an empty queue", || {
        q.pop(Some(Duration::from_secs(2)))
    });
    match q.pop(Some(Duration::ZERO)) {
        Err(Error::Empty | Error::Interrupted) => {}
        other => fail(&format!("pop(0) while interrupted: {other:?}")),
    }
    for m in [&b"a"[..], b"b", b"c"] {
        or_exit("push while interrupted", q.push(m, None));
    }
    for m in [&b"a"[..], b"b", b"c"] {
        let got = or_exit("pop of a queued message while interrupted", q.pop(None));
        assert_eq!(got, m, "FIFO while interrupted");
    }
    interrupted_at_once("pop(None) once drained", || q.pop(None));

    q.interrupt_clear();
    waits_again(q, "after interrupt_clear");
    let mut filled = 0;
    while or_exit("fill", q.try_push(&FILLER)) {
        filled += 1;
    }
    let w = waiter(q, push_forever);
    q.interrupt();
    ends_interrupted(&w, "a push(None) of another thread on a full queue");
    interrupted_at_once("push(None) on a full queue", || q.push(&FILLER, None));
    for _ in 0..filled {
        or_exit("drain while interrupted", q.pop(None));
    }
    interrupted_at_once("pop(None) once drained", || q.pop(None));

    q.interrupt_clear();
    waits_again(q, "after the second interrupt_clear");
    let w = waiter(q, pop_forever);
    or_exit("push", q.push(b"after", None));
    match w.0.recv_timeout(Duration::from_secs(5)) {
        Ok(Ok(m)) if m == b"after" => {}
        other => fail(&format!("pop(None) after interrupt_clear: {other:?}")),
    }

    // Another handle on the same queue is not interrupted.
    let other: &'static Queue = Box::leak(Box::new(or_exit(
        "second handle",
        Queue::open(
            q.name(),
            &Options {
                open_mode: OpenMode::OpenOnly,
                ..Options::default()
            },
        ),
    )));
    q.interrupt();
    waits_again(other, "another handle while the first is interrupted");
    let w = waiter(other, pop_forever);
    q.interrupt();
    still_waiting(
        &w,
        "another handle's pop(None) after interrupt of the first",
    );
    or_exit("push to wake", q.push(b"wake", None));
    match w.0.recv_timeout(Duration::from_secs(5)) {
        Ok(Ok(m)) if m == b"wake" => {}
        other => fail(&format!("the other handle's pop: {other:?}")),
    }
    q.interrupt_clear();
    println!("interrupt from threads: ok");
}

/// The queue the signal handlers interrupt.
static SIGNALLED: OnceLock<Queue> = OnceLock::new();

extern "C" fn interrupt_handler(_: libc::c_int) {
    if let Some(q) = SIGNALLED.get() {
        q.interrupt();
    }
}

extern "C" fn ignore_handler(_: libc::c_int) {}

/// Installs `handler` for `sig`, without SA_RESTART.
fn on_signal(sig: libc::c_int, handler: extern "C" fn(libc::c_int)) {
    // SAFETY: a zeroed sigaction is valid; the handler only makes an
    // async-signal-safe call (or none).
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(sig, &sa, std::ptr::null_mut()), 0);
    }
}

fn send(tid: libc::pthread_t, sig: libc::c_int) {
    // SAFETY: `tid` is a live thread of this process.
    assert_eq!(unsafe { libc::pthread_kill(tid, sig) }, 0);
}

fn interrupt_signals() {
    assert!(SIGNALLED.set(create(&arg("WQ_Q"), 4096)).is_ok());
    let q = SIGNALLED.get().expect("set above");
    on_signal(libc::SIGUSR1, interrupt_handler);
    on_signal(libc::SIGALRM, interrupt_handler);
    on_signal(libc::SIGUSR2, ignore_handler);

    // On the waiting thread itself: a signal alone does not end the wait,
    // one whose handler calls interrupt does.
    let w = waiter(q, pop_forever);
    send(w.1, libc::SIGUSR2);
    still_waiting(&w, "pop(None) after a signal whose handler does nothing");
    send(w.1, libc::SIGUSR1);
    ends_interrupted(&w, "pop(None) of the thread whose handler interrupted");

    // SIGALRM to the process, handled by whichever thread.
    q.interrupt_clear();
    let w = waiter(q, pop_forever);
    let timer = libc::itimerval {
        it_interval: libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
        it_value: libc::timeval {
            tv_sec: 0,
            tv_usec: 100_000,
        },
    };
    // SAFETY: setitimer with a local value and no old value wanted.
    let armed = unsafe { libc::setitimer(libc::ITIMER_REAL, &timer, std::ptr::null_mut()) };
    assert_eq!(armed, 0, "setitimer");
    ends_interrupted(&w, "pop(None) with SIGALRM's handler interrupting");

    // An interrupt that lands before the wait starts is not lost.
    q.interrupt_clear();
    // SAFETY: raise runs the handler on this thread before it returns.
    assert_eq!(unsafe { libc::raise(libc::SIGUSR1) }, 0);
    interrupted_at_once("pop(None) after the handler ran", || q.pop(None));

    // Signals landing at random instants around and inside the calls.
    let (mut rng, seed) = Rng::from_time();
    println!("race seed {seed}");
    // SAFETY: pthread_self has no preconditions.
    let me = unsafe { libc::pthread_self() };
    let (go_tx, go_rx) = mpsc::channel::<u64>();
    let (sent_tx, sent_rx) = mpsc::channel();
    let sender = std::thread::spawn(move || {
        for delay_ns in go_rx {
            let until = Instant::now() + Duration::from_nanos(delay_ns);
            while Instant::now() < until {
                std::hint::spin_loop();
            }
            send(me, libc::SIGUSR1);
            sent_tx.send(()).expect("main waits for it");
        }
    });
    for round in 0..300 {
        q.interrupt_clear();
        let calls = rng.below(3);
        go_tx.send(rng.below(300_000)).expect("sender runs");
        for _ in 0..calls {
            or_exit("push (no wait needed)", q.push(b"r", None));
            or_exit("pop (no wait needed)", q.pop(None));
        }
        match q.pop(None) {
            Err(Error::Interrupted) => {}
            other => fail(&format!("round {round}: pop(None) gave {other:?}")),
        }
        sent_rx.recv().expect("the signal was sent");
    }
    drop(go_tx);
    sender.join().expect("sender");
    q.interrupt_clear();
    waits_again(q, "after the last interrupt_clear");
    println!("interrupt from signal handlers: ok");
}
