//! The segment is untrusted input: foreign, truncated and scribbled-over
//! segments give `Incompatible` / `Corrupted` (or, for a stuck lock, the
//! timeout's own outcome) — never a crash, a hang or an out-of-bounds access.
//!
//! These tests know the header layout (offsets asserted in `src/layout.rs`).

mod common;

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

use common::{Rng, TempQueue, num};
use memmap2::MmapMut;
use wq::{Error, OpenMode, Options, Queue, Span};

const PRODUCER_LOCK: usize = 128;
const TAIL: usize = 192;
const CONSUMER_LOCK: usize = 256;
const HEAD: usize = 320;
const HEADER_BYTES: u64 = 768;
const IDENTITY: u64 = 4096;
const SLOTS: u64 = 4096;
const LEASES: u64 = 69632;
const CURSOR: usize = 512;
const DATA: u64 = 200704;

fn create(name: &str, capacity: u64) -> Queue {
    Queue::open(
        name,
        &Options {
            capacity,
            open_mode: OpenMode::CreateOnly,
            ..Options::default()
        },
    )
    .expect("create")
}

fn open_only(name: &str) -> wq::Result<Queue> {
    Queue::open(
        name,
        &Options {
            open_mode: OpenMode::OpenOnly,
            ..Options::default()
        },
    )
}

/// Maps the segment's file directly, as a misbehaving peer would.
fn map_file(path: &str) -> MmapMut {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .expect("open segment file");
    // SAFETY: the mapping is only used through this MmapMut, by this test,
    // which accepts that other mappings of the file change under it.
    unsafe { MmapMut::map_mut(&file) }.expect("map segment file")
}

fn write_file(path: &str, bytes: &[u8]) {
    use std::io::Write;
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .expect("create file");
    f.write_all(bytes).unwrap();
}

fn assert_rejected(name: &str, what: &str) {
    let t = Instant::now();
    match open_only(name) {
        Err(Error::Incompatible(_)) | Err(Error::Corrupted(_)) => {}
        Err(other) => panic!("{what}: unexpected error {other}"),
        Ok(_) => panic!("{what}: opened as a queue"),
    }
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "{what}: rejection took {:?}",
        t.elapsed()
    );
}

#[test]
fn foreign_and_truncated_segments_are_rejected_and_removable() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("short", b"hello".to_vec()),
        ("zeros", vec![0; 8192]),
        ("text", b"#!/bin/sh\necho not a queue\n".repeat(300)),
        ("random", {
            let mut r = Rng::new(42);
            (0..8192).map(|_| r.next() as u8).collect()
        }),
    ];
    for (what, bytes) in cases {
        let q = TempQueue::new("foreign");
        write_file(&q.path(), &bytes);
        assert_rejected(&q.name, what);
        // OpenOrCreate must not overwrite someone else's file either.
        assert!(
            Queue::open(&q.name, &Options::default()).is_err(),
            "{what}: open-or-create"
        );
        assert_eq!(
            std::fs::read(q.path()).unwrap(),
            bytes,
            "{what}: file untouched"
        );
        Queue::remove(&q.name).unwrap();
    }

    let q = TempQueue::new("dir");
    std::fs::create_dir(q.path()).unwrap();
    assert_rejected(&q.name, "a directory");
    std::fs::remove_dir(q.path()).unwrap();
}

#[test]
fn truncated_version_bumped_and_half_initialised_queues_are_rejected() {
    type Mangle = fn(&str);
    let mangles: [(&str, Mangle); 6] = [
        ("truncated", |p| {
            let f = OpenOptions::new().write(true).open(p).unwrap();
            f.set_len(DATA + 100).unwrap();
        }),
        ("shorter than a header", |p| {
            OpenOptions::new()
                .write(true)
                .open(p)
                .unwrap()
                .set_len(100)
                .unwrap();
        }),
        ("other layout version", |p| map_file(p)[8] = 99),
        ("capacity scribbled", |p| map_file(p)[33] ^= 0x40),
        ("unknown incompatible feature", |p| map_file(p)[16] = 0x80),
        ("not ready", |p| {
            map_file(p)[28..32].copy_from_slice(&[0; 4])
        }),
    ];
    for (what, mangle) in mangles {
        let q = TempQueue::new("mangled");
        drop(create(&q.name, 1 << 16));
        mangle(&q.path());
        assert_rejected(&q.name, what);
        Queue::remove(&q.name).unwrap();
        assert!(matches!(Queue::remove(&q.name), Err(Error::NotFound(_))));
    }
}

#[test]
fn a_layout_1_queue_is_incompatible_and_says_so() {
    // The first bytes of a queue made by wq's layout 1: its magic, version
    // 1, its 576-byte header, ready, a 4096-byte ring after one page.
    let mut v1 = vec![0u8; 8192];
    v1[..8].copy_from_slice(b"WQ-SHMQ1");
    v1[8..12].copy_from_slice(&1u32.to_le_bytes());
    v1[12..16].copy_from_slice(&576u32.to_le_bytes());
    v1[16..24].copy_from_slice(&4096u64.to_le_bytes());
    v1[48..52].copy_from_slice(&0x5245_4459u32.to_le_bytes());
    let q = TempQueue::new("layout1");
    write_file(&q.path(), &v1);
    for opts in [
        Options::default(),
        Options {
            open_mode: OpenMode::OpenOnly,
            ..Options::default()
        },
    ] {
        match Queue::open(&q.name, &opts) {
            Err(Error::Incompatible(e)) => {
                assert_eq!(e.cause, wq::IncompatibleCause::OtherLayout { version: 1 });
                assert!(
                    e.detail.contains("layout version 1") && e.detail.contains("older"),
                    "{e}"
                );
            }
            other => panic!("a layout-1 queue opened as {other:?}"),
        }
    }
    assert_eq!(std::fs::read(q.path()).unwrap(), v1, "left untouched");
}

#[test]
fn a_queue_made_without_a_needed_feature_is_incompatible_and_says_which() {
    // incompat bit 0: the lease table; bit 1: records never wrap the ring;
    // bit 2: acked leases are freed in journalled batches.
    for (bits, cleared, says) in [
        (5u32, 2u32, "records may wrap"),
        (6, 1, "no lease table"),
        (3, 4, "freed one at a time"),
    ] {
        let q = TempQueue::new("features");
        drop(create(&q.name, 1 << 16));
        map_file(&q.path())[16..20].copy_from_slice(&bits.to_le_bytes());
        match Queue::open(&q.name, &Options::default()) {
            Err(Error::Incompatible(e)) => {
                assert_eq!(
                    e.cause,
                    wq::IncompatibleCause::MissingFeatures { bits: cleared }
                );
                assert!(e.detail.contains(says), "{e}");
            }
            other => panic!("a queue without feature {cleared:#x} opened as {other:?}"),
        }
    }
}

#[test]
fn impossible_positions_are_corruption_not_a_crash() {
    // The producers read only head and tail: a scribbled delivery cursor
    // is the consumers' to find.
    for (what, offset, value, producers_see_it) in [
        ("tail far ahead", TAIL, 1u64 << 40, true),
        ("head ahead of tail", HEAD, 1u64 << 40, true),
        ("cursor ahead of tail", CURSOR, 1u64 << 40, false),
        ("tail one byte ahead", TAIL, 8 + 16 + 1, true),
    ] {
        let q = TempQueue::new("pos");
        let queue = create(&q.name, 4096);
        queue.push(b"0123456789", None).unwrap();
        map_file(&q.path())[offset..offset + 8].copy_from_slice(&value.to_le_bytes());
        let short = Some(Duration::from_millis(20));
        assert!(
            matches!(queue.pop(short), Err(Error::Corrupted(_))),
            "{what}: pop"
        );
        assert!(
            matches!(queue.stats(), Err(Error::Corrupted(_))),
            "{what}: stats"
        );
        if !producers_see_it {
            continue;
        }
        // A producer reads the head only when its cached copy shows no room,
        // so it may not notice; when it does, it says so.
        for _ in 0..600 {
            match queue.push(b"x", short) {
                Ok(()) => {}
                Err(Error::Corrupted(_)) => break,
                Err(other) => panic!("{what}: push gave {other}"),
            }
        }
        assert!(
            matches!(queue.push(b"x", short), Err(Error::Corrupted(_))),
            "{what}: push"
        );
    }
}

#[test]
fn a_scribbled_record_header_is_never_delivered() {
    let q = TempQueue::new("record");
    let queue = create(&q.name, 4096);
    queue.push(b"first message", None).unwrap();
    map_file(&q.path())[DATA as usize] = 200; // the length of the first record
    assert!(matches!(
        queue.pop(Some(Duration::ZERO)),
        Err(Error::Corrupted(_))
    ));
    let s = queue.stats().unwrap();
    assert_eq!(s.len, 1, "nothing was consumed");
}

/// The tokens of the handles attached through identity slots whose pid
/// hint is `pid` (the layout of `src/liveness.rs`: slot << 19 | generation).
fn tokens_of(path: &str, pid: u32) -> Vec<u32> {
    let map = map_file(path);
    (0..SLOTS as usize)
        .filter_map(|s| {
            let at = IDENTITY as usize + 16 * s;
            let generation = u32::from_le_bytes(map[at..at + 4].try_into().unwrap());
            let hint = u32::from_le_bytes(map[at + 4..at + 8].try_into().unwrap());
            (generation % 2 == 1 && hint == pid).then_some(((s as u32) << 19) | generation)
        })
        .collect()
}

/// The token of the one handle attached by process `pid`.
fn token_of(path: &str, pid: u32) -> u32 {
    let tokens = tokens_of(path, pid);
    assert_eq!(tokens.len(), 1, "one handle attached by {pid}");
    tokens[0]
}

/// A child process that keeps a handle on `q` open until killed, and that
/// handle's identity token.
fn spawn_holder(q: &TempQueue) -> (std::process::Child, u32) {
    let mut holder = common::spawn("hold_handle", &[("WQ_Q", q.name.clone())]);
    let out = std::io::BufReader::new(holder.stdout.take().unwrap());
    let ready = std::io::BufRead::lines(out)
        .map_while(Result::ok)
        .any(|l| l == "ready");
    assert!(ready, "the holder did not start");
    let token = token_of(&q.path(), holder.id());
    (holder, token)
}

fn set_producer_lock(path: &str, word: u32) {
    map_file(path)[PRODUCER_LOCK..PRODUCER_LOCK + 4].copy_from_slice(&word.to_le_bytes());
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let out = f();
    (out, t.elapsed())
}

#[test]
fn a_lock_word_naming_a_dead_or_random_identity_is_taken_over() {
    let q = TempQueue::new("deadlock");
    let queue = create(&q.name, 4096);
    // A handle that attached and closed: its token is dead at once.
    let mine = token_of(&q.path(), std::process::id());
    let closed = {
        let _other = open_only(&q.name).unwrap();
        let both = tokens_of(&q.path(), std::process::id());
        *both
            .iter()
            .find(|&&t| t != mine)
            .expect("the other handle's token")
    };
    for (what, word) in [
        ("a closed handle's token", closed),
        ("a random token", 0x1234_5677),
        ("an out-of-range slot", 0x7fff_ffff),
        ("the waiters bit alone", 0x8000_0000),
        ("a token with the waiters bit", 0x8765_4321),
    ] {
        set_producer_lock(&q.path(), word);
        let before = queue.stats().unwrap().recoveries;
        let (pushed, took) = timed(|| queue.push(what.as_bytes(), Some(Duration::from_secs(5))));
        pushed.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(took < Duration::from_secs(1), "{what}: took {took:?}");
        assert_eq!(queue.pop(Some(Duration::ZERO)).unwrap(), what.as_bytes());
        let recovered = queue.stats().unwrap().recoveries - before;
        assert!(recovered <= 1, "{what}: {recovered} recoveries");
    }
}

#[test]
fn a_lock_word_naming_a_live_identity_bounds_every_finite_timeout() {
    let q = TempQueue::new("livelock");
    let queue = create(&q.name, 4096);
    queue.push(b"queued", None).unwrap();
    let (mut holder, token) = spawn_holder(&q);
    // The lock word now names a live handle of another process that never
    // unlocks: as if that peer held the lock for ever.
    set_producer_lock(&q.path(), token);
    let (r, took) = timed(|| queue.push(b"x", Some(Duration::from_millis(200))));
    assert!(matches!(r, Err(Error::Full)), "{r:?}");
    assert!(
        took >= Duration::from_millis(190) && took < Duration::from_secs(2),
        "timed push took {took:?}"
    );
    let (r, took) = timed(|| queue.push(b"x", Some(Duration::ZERO)));
    assert!(matches!(r, Err(Error::Full)), "{r:?}");
    assert!(took < Duration::from_secs(1), "WQ_NO_WAIT took {took:?}");
    // The consumer side has its own lock and still works.
    assert_eq!(queue.pop(Some(Duration::ZERO)).unwrap(), b"queued");
    // Stats falls back to the published counters instead of hanging.
    let (s, took) = timed(|| queue.stats().unwrap());
    assert_eq!(s.len, 0);
    assert!(took < Duration::from_secs(2));
    // A push waiting for ever completes once that identity is gone.
    std::thread::scope(|scope| {
        let waiter = scope.spawn(|| timed(|| queue.push(b"after", None)));
        std::thread::sleep(Duration::from_millis(300));
        common::sigkill(&mut holder);
        let (r, took) = waiter.join().unwrap();
        r.unwrap();
        assert!(took < Duration::from_secs(3), "forever push took {took:?}");
    });
    assert_eq!(queue.pop(Some(Duration::ZERO)).unwrap(), b"after");
}

/// A push of the largest message onto an empty queue whose tail is not at
/// the ring's start moves every position to the start, under the consumer
/// lock too. Neither a peer that keeps that lock nor a scribbled delivery
/// cursor may make it spin past its timeout (found by
/// `random_scribbles_never_crash_or_hang`: the wait saw room, the push
/// could not have it, for ever).
#[test]
fn a_push_needing_the_ring_start_is_bounded_by_its_timeout_and_sees_scribbles() {
    let q = TempQueue::new("skipstart");
    let queue = create(&q.name, 4096);
    queue.push(&[7u8; 1000], None).unwrap();
    assert_eq!(queue.pop(None).unwrap().len(), 1000);
    let largest = vec![9u8; 4096 - 8];
    let (mut holder, token) = spawn_holder(&q);
    map_file(&q.path())[CONSUMER_LOCK..CONSUMER_LOCK + 4].copy_from_slice(&token.to_le_bytes());
    for timeout in [Duration::ZERO, Duration::from_millis(200)] {
        let (r, took) = timed(|| queue.push(&largest, Some(timeout)));
        assert!(matches!(r, Err(Error::Full)), "{timeout:?}: {r:?}");
        assert!(
            took < timeout + Duration::from_secs(2),
            "{timeout:?}: took {took:?}"
        );
    }
    common::sigkill(&mut holder);
    // The holder is gone: the push takes the consumer lock over and fits.
    queue.push(&largest, Some(Duration::from_secs(5))).unwrap();
    assert_eq!(queue.pop(None).unwrap(), largest);
    // Empty again, with the tail mid-ring; a cursor scribbled away from it.
    queue.push(&[7u8; 1000], None).unwrap();
    assert_eq!(queue.pop(None).unwrap().len(), 1000);
    let mut map = map_file(&q.path());
    let tail = u64::from_le_bytes(map[TAIL..TAIL + 8].try_into().unwrap());
    map[CURSOR..CURSOR + 8].copy_from_slice(&(tail - 1016).to_le_bytes());
    let (r, took) = timed(|| queue.push(&largest, Some(Duration::from_millis(200))));
    assert!(matches!(r, Err(Error::Corrupted(_))), "{r:?}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

#[test]
fn a_lock_word_forged_to_the_callers_own_identity_does_not_hang_it() {
    let q = TempQueue::new("selflock");
    let queue = create(&q.name, 4096);
    set_producer_lock(&q.path(), token_of(&q.path(), std::process::id()));
    let (r, took) = timed(|| queue.push(b"x", Some(Duration::from_millis(100))));
    assert!(matches!(r, Err(Error::Full)), "{r:?} after {took:?}");
    // Waiting for ever, the handle finds out that none of its threads holds
    // the lock its own token names, and takes it over.
    let (r, took) = timed(|| queue.push(b"y", None));
    r.unwrap();
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert_eq!(queue.pop(Some(Duration::ZERO)).unwrap(), b"y");
}

#[test]
fn a_scribbled_identity_table_breaks_nothing_for_live_handles() {
    let q = TempQueue::new("table");
    let queue = create(&q.name, 1 << 16);
    let (mut rng, seed) = Rng::from_time();
    for round in 0..20 {
        {
            let mut map = map_file(&q.path());
            for _ in 0..1 + rng.below(64) {
                let at = (IDENTITY + rng.below(SLOTS * 16)) as usize;
                map[at] = rng.next() as u8;
            }
        }
        let other = open_only(&q.name).unwrap_or_else(|e| panic!("seed {seed} round {round}: {e}"));
        for i in 0..50u32 {
            queue
                .push(&i.to_le_bytes(), Some(Duration::from_secs(2)))
                .unwrap();
            assert_eq!(
                other.pop(Some(Duration::from_secs(2))).unwrap(),
                i.to_le_bytes()
            );
        }
        let s = queue.stats().unwrap();
        assert_eq!(s.len, 0, "seed {seed} round {round}");
    }
}

/// Entry point of the scribbling child process.
#[test]
#[ignore = "entry point of child processes, started by the other tests"]
fn child() {
    match common::role().as_deref() {
        Some("scribble") => {}
        Some("hold_handle") => {
            // Keeps a handle attached until killed.
            let _queue = open_only(&common::arg("WQ_Q")).expect("open");
            println!("ready");
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        _ => return,
    }
    let trials = num("WQ_TRIALS");
    let (mut rng, seed) = (Rng::new(num("WQ_SEED")), num("WQ_SEED"));
    let (mut crashed, mut hung, mut outcomes) = (Vec::new(), Vec::new(), [0u32; 2]);
    let mut slow = Vec::new();
    for trial in 0..trials {
        let q = TempQueue::new("scribble");
        let capacity = [64u64, 256, 4096][rng.below(3) as usize];
        {
            let queue = create(&q.name, capacity);
            for i in 0..rng.below(12) {
                let _ = queue.push(&vec![i as u8; rng.below(40) as usize], Some(Duration::ZERO));
                match rng.below(6) {
                    0 | 1 => drop(queue.pop(Some(Duration::ZERO))),
                    // Leases left outstanding (and a nacked one): the
                    // table has live entries for the scribbles to hit.
                    2 => drop(
                        queue
                            .pop_leased(None, Some(Duration::ZERO))
                            .map(|l| l.into_parts()),
                    ),
                    3 => drop(queue.pop_leased(None, Some(Duration::ZERO))),
                    _ => {}
                }
            }
        }
        let writes: Vec<(u64, u8)> = (0..1 + rng.below(8))
            .map(|_| {
                let at = match rng.below(12) {
                    0..=5 => rng.below(HEADER_BYTES),
                    6..=7 => IDENTITY + rng.below(SLOTS * 16),
                    8..=9 => LEASES + rng.below(16 * 32),
                    _ => rng.below(DATA + capacity),
                };
                (at, rng.next() as u8)
            })
            .collect();
        let op_seed = rng.next();
        // SAFETY: this process is single-threaded apart from the idle test
        // harness thread; the child only runs queue code and exits with _exit.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let mut map = map_file(&q.path());
            for &(at, byte) in &writes {
                map[at as usize] = byte;
            }
            drop(map);
            let code = if exercise(&q.name, op_seed) { 0 } else { 1 };
            // SAFETY: _exit ends the forked child without running the parent's atexit handlers.
            unsafe { libc::_exit(code) };
        }
        assert!(pid > 0, "fork failed");
        let mut status = 0;
        // Every call of `exercise` is bounded (5 ms waits, 250 ms for a
        // lock a scribble names a live holder of, 1 s to settle): a trial
        // takes 8 s at the very worst. A hang is a child still running
        // after 60 s; a loaded machine has been seen to make a trial take
        // long, so slow trials are listed with their scribbles.
        let started = Instant::now();
        let until = started + Duration::from_secs(60);
        loop {
            // SAFETY: waitpid on our own child, with a valid status pointer.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if r == pid {
                break;
            }
            if Instant::now() > until {
                // SAFETY: kill and reap our own child.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, &mut status, 0);
                }
                hung.push((trial, writes.clone()));
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        if started.elapsed() > Duration::from_secs(5) {
            slow.push((trial, started.elapsed(), writes.clone()));
        }
        if libc::WIFSIGNALED(status) && !hung.iter().any(|(t, _)| *t == trial) {
            crashed.push((trial, libc::WTERMSIG(status), writes.clone()));
        } else if libc::WIFEXITED(status) {
            outcomes[libc::WEXITSTATUS(status).min(1) as usize] += 1;
        }
    }
    println!(
        "seed {seed}: {trials} trials, {} opened and exercised, {} rejected at open, crashed {crashed:?}, hung {hung:?}, slower than 5 s {slow:?}",
        outcomes[0], outcomes[1]
    );
    assert!(
        crashed.is_empty() && hung.is_empty(),
        "seed {seed}: crashed {crashed:?} hung {hung:?}"
    );
}

/// Every operation, each with a finite timeout, on a possibly scribbled
/// queue; false when the queue was rejected at open.
fn exercise(name: &str, seed: u64) -> bool {
    let mut rng = Rng::new(seed);
    let Ok(queue) = open_only(name) else {
        return false;
    };
    let short = Some(Duration::from_millis(5));
    let mut buf = vec![0u8; 64];
    let mut spans = [Span::default(); 4];
    for _ in 0..16 {
        let _ = match rng.below(11) {
            8 => queue
                .push_reserve(rng.below(48) as usize, short)
                .and_then(|mut r| {
                    r.fill(3);
                    if rng.below(2) == 0 {
                        r.commit()
                    } else {
                        Ok(())
                    }
                }),
            9 => queue.pop_leased_view(None, short).and_then(|v| {
                let sum = v.iter().fold(0u8, |a, b| a.wrapping_add(*b));
                std::hint::black_box(sum);
                if rng.below(2) == 0 {
                    v.ack()
                } else {
                    v.extend(short)
                }
            }),
            5 => queue.pop_leased(short, short).map(drop),
            6 => queue
                .pop_leased(None, short)
                .and_then(|l| if rng.below(2) == 0 { l.ack() } else { l.nack() }),
            7 => queue.lease_stats().map(drop),
            0 => queue
                .push(&vec![1u8; rng.below(48) as usize], short)
                .map(drop),
            1 => queue.pop_into(&mut buf, short).map(drop),
            2 => queue.pop(short).map(drop),
            3 => queue.pop_batch(&mut buf, &mut spans, short).map(drop),
            _ => queue.stats().map(drop),
        };
    }
    true
}

#[test]
fn random_scribbles_never_crash_or_hang() {
    // WQ_SCRIBBLE_SEED replays a failed run (its seed is printed).
    let seed = std::env::var("WQ_SCRIBBLE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| Rng::from_time().1);
    let child = common::spawn(
        "scribble",
        &[("WQ_TRIALS", "400".into()), ("WQ_SEED", seed.to_string())],
    );
    let out = common::expect_success(child, Duration::from_secs(600), "scribbling child");
    println!("{out}");
}
