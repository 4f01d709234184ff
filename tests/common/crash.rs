//! The SIGKILL tests that tests/process.rs runs with plain children and
//! tests/namespaces.rs with every child PID 1 of a PID namespace of its own:
//! the child roles they share, the drivers, and the ledger that accounts for
//! every message across kills.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use wq::{Options, Queue, Stats};

use super::{
    Launch, Rng, STAMPED_MAX, TempQueue, Worker, check_msg, check_stamped, make_msg, num, num_or,
    parse_marked, stamp_msg,
};

/// How long a child that should finish gets.
const LONG: Duration = Duration::from_secs(60);

/// A child role: its name and what it runs on the child's queue.
struct Role {
    name: &'static str,
    run: fn(&Queue),
}

/// The roles every multi-process test binary shares.
const ROLES: &[Role] = &[
    Role {
        name: "hold_locks",
        run: hold_locks_role,
    },
    Role {
        name: "after_holder_kill",
        run: after_holder_kill,
    },
    Role {
        name: "chaos_producer",
        run: chaos_producer,
    },
    Role {
        name: "chaos_consumer",
        run: chaos_consumer,
    },
];

/// Runs `role` on `q` if it is one of the shared roles; false if it is not.
pub fn shared_role(role: &str, q: &Queue) -> bool {
    let found = ROLES.iter().find(|r| r.name == role);
    found.map(|r| (r.run)(q)).is_some()
}

/// The `hold_locks` role: [`hold_locks`] as producer `WQ_P`, saying
/// "ready" when it starts.
fn hold_locks_role(q: &Queue) {
    hold_locks(q, num("WQ_P") as u32, || println!("ready"));
}

/// Spends nearly all its time inside a lock: 4 MiB copies in and out of
/// a message stamped for `producer` (see [`is_held_msg`]). Calls `ready`
/// once the message is made, just before the first copy.
pub fn hold_locks(q: &Queue, producer: u32, ready: impl FnOnce()) -> ! {
    let mut msg = Vec::new();
    stamp_msg(&mut msg, producer, 0, STAMPED_MAX);
    let mut buf = vec![0u8; STAMPED_MAX];
    ready();
    loop {
        let _ = q.push(&msg, Some(Duration::from_secs(1)));
        let _ = q.pop_into(&mut buf, Some(Duration::from_secs(1)));
    }
}

/// Whether `msg` is a whole message of a [`hold_locks`] process.
pub fn is_held_msg(msg: &[u8]) -> bool {
    msg.len() == STAMPED_MAX && check_stamped(msg).is_ok()
}

/// Runs after a [`hold_locks`] process was killed: both locks are usable,
/// the counters agree, only whole messages are queued. Prints the
/// recoveries so far.
fn after_holder_kill(q: &Queue) {
    q.push(b"after", Some(Duration::from_secs(5)))
        .expect("push after a holder was killed");
    let s = q.stats().expect("stats");
    assert_eq!(
        Some(s.len),
        s.pushed_total.checked_sub(s.popped_total),
        "{s:?}"
    );
    while let Some(msg) = q.try_pop().expect("pop") {
        assert!(
            msg == b"after" || is_held_msg(&msg),
            "whole messages only: {:?}",
            check_stamped(&msg)
        );
    }
    let s = q.stats().expect("stats");
    assert_eq!(s.bytes_used, 0, "{s:?}");
    println!("RECOVERIES {}", s.recoveries);
}

/// Pushes messages of `WQ_MIN_LEN` bytes plus up to `WQ_LEN_SPAN` - 1 more
/// (1–97 KiB unless set; [`make_msg`] makes them 20 bytes at least) for
/// ever, printing "P seq" once each push returned; an error is printed as
/// "ERR ..." and ends the process.
fn chaos_producer(q: &Queue) {
    let incarnation = num("WQ_P") as u32;
    let (min, span) = (num_or("WQ_MIN_LEN", 1024), num_or("WQ_LEN_SPAN", 96 * 1024));
    let mut rng = Rng::new(u64::from(incarnation) * 7919);
    for seq in 0.. {
        let len = (min + rng.below(span)) as usize;
        if let Err(e) = q.push(&make_msg(incarnation, seq, len), None) {
            println!("ERR push: {e}");
            std::process::exit(4);
        }
        println!("P {seq}");
    }
}

/// Pops until an empty message, printing "M producer seq" per whole
/// message, "BAD ..." for a broken one and "ERR ..." for an error (both
/// end the process).
fn chaos_consumer(q: &Queue) {
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match q.pop_into(&mut buf, None) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                println!("ERR pop: {e}");
                std::process::exit(4);
            }
        };
        match check_msg(&buf[..n]) {
            Ok((p, seq)) => println!("M {p} {seq}"),
            Err(e) => {
                println!("BAD {e}");
                std::process::exit(3);
            }
        }
    }
}

/// SIGKILLs processes that spend nearly all their time inside a lock (4 MiB
/// copies in and out) until survivors have recovered a dead owner's lock
/// `want` times. After each kill a new process checks the queue (see
/// [`after_holder_kill`]). Every process is started as `launch` says.
pub fn holders_recovered(launch: Launch, tag: &str, want: u64) {
    let q = TempQueue::new(tag);
    let opts = Options {
        capacity: 16 << 20,
        ..Options::default()
    };
    drop(Queue::open(&q.name, &opts).expect("create queue"));
    let (mut rng, seed) = Rng::from_time();
    let env_q = ("WQ_Q", q.name.clone());
    let (mut kills, mut recoveries) = (0u64, 0u64);
    let mut tids = BTreeSet::new();
    while recoveries < want {
        assert!(
            kills < 70 * want,
            "{recoveries} of {kills} kills landed inside a lock (seed {seed})"
        );
        let env = [env_q.clone(), ("WQ_P", kills.to_string())];
        let mut holder = Worker::start(launch, "hold_locks", &env);
        holder.expect_line("ready", "hold_locks");
        tids.extend(holder.ns_ids.map(|ids| ids.2));
        std::thread::sleep(Duration::from_micros(2_000 + rng.below(20_000)));
        holder.sigkill();
        kills += 1;
        let survivor = Worker::start(launch, "after_holder_kill", std::slice::from_ref(&env_q));
        tids.extend(survivor.ns_ids.map(|ids| ids.2));
        let (status, lines) = survivor.finish(LONG);
        let reported = lines
            .iter()
            .find_map(|l| l.strip_prefix("RECOVERIES ")?.parse().ok());
        match (status, reported) {
            (Some(s), Some(r)) if s.success() => recoveries = r,
            _ => panic!("the survivor of kill {kills} failed: {status:?} (seed {seed}) {lines:?}"),
        }
    }
    let ns = if tids.is_empty() {
        String::new()
    } else {
        format!(", every process PID 1 of its own namespace, thread ids {tids:?}")
    };
    println!("{kills} kills, {recoveries} recoveries{ns} (seed {seed})");
}

/// Checks a message and returns its (producer, seq): [`check_msg`] or
/// [`check_stamped`].
pub type MessageCheck = fn(&[u8]) -> Result<(u32, u64), String>;

/// What the processes of a SIGKILL test said they did, from the lines they
/// printed: "P seq" once a push of theirs returned, "M producer seq" once
/// they popped a whole message; "BAD ..." or "ERR ..." fail the test.
pub struct Ledger {
    /// The seed of the run, for every failure message.
    seed: u64,
    /// Producer (incarnation) -> the sequence numbers it confirmed.
    confirmed: BTreeMap<u32, Vec<u64>>,
    delivered: Vec<(u32, u64)>,
    /// Processes killed while they may have been pushing / popping.
    push_kills: u64,
    pop_kills: u64,
    kills: u64,
}

/// What a [`Ledger`] found.
pub struct Tally {
    /// Pushes the processes confirmed.
    pub confirmed: u64,
    /// Messages delivered (printed by a process, or left for the test).
    pub delivered: u64,
    /// Confirmed messages a killed process took with it.
    pub missing: u64,
    /// The queue's counters at the end.
    pub stats: Stats,
}

impl Ledger {
    /// An empty ledger for the run of `seed`.
    pub fn new(seed: u64) -> Ledger {
        Ledger {
            seed,
            confirmed: BTreeMap::new(),
            delivered: Vec::new(),
            push_kills: 0,
            pop_kills: 0,
            kills: 0,
        }
    }

    /// Takes the lines of one process; `producer`: its id if it pushed.
    pub fn record(&mut self, lines: &[String], producer: Option<u32>) {
        let mut last: HashMap<u32, u64> = HashMap::new();
        for line in lines {
            assert!(
                !line.starts_with("BAD ") && !line.starts_with("ERR "),
                "a process failed: {line} (after {} kills, seed {})",
                self.kills,
                self.seed
            );
            if let (Some(id), Some(seq)) = (producer, line.strip_prefix("P ")) {
                let seq = seq.parse().expect("P line");
                self.confirmed.entry(id).or_default().push(seq);
            }
            let Some((p, seq)) = parse_marked(line) else {
                continue;
            };
            assert!(
                last.insert(p, seq).is_none_or(|prev| prev < seq),
                "producer {p}: {seq} popped after a later one by one process"
            );
            self.delivered.push((p, seq));
        }
        if let Some(id) = producer {
            self.confirmed.entry(id).or_default();
        }
    }

    /// Counts a process SIGKILLed while it may have been pushing and/or
    /// popping a message.
    pub fn killed(&mut self, pushing: bool, popping: bool) {
        self.push_kills += u64::from(pushing);
        self.pop_kills += u64::from(popping);
        self.kills += 1;
    }

    /// Pops what is still queued (nothing, normally) as delivered to the test.
    pub fn drain(&mut self, queue: &Queue, check: MessageCheck) {
        while let Some(msg) = queue.try_pop().expect("drain the queue") {
            self.delivered
                .push(check(&msg).expect("a whole message left in the queue"));
        }
    }

    /// Checks that nothing was delivered twice, nothing confirmed lost
    /// (beyond one message in flight at each killed popper, which the
    /// queue's own counters must show as popped), and the counters agree.
    /// `stops`: messages the test itself pushed and the processes popped
    /// without printing.
    pub fn verify(&self, queue: &Queue, stops: u64) -> Tally {
        let seed = self.seed;
        let unique: HashSet<(u32, u64)> = self.delivered.iter().copied().collect();
        assert_eq!(
            unique.len(),
            self.delivered.len(),
            "a message was delivered twice (seed {seed})"
        );
        for &(p, seq) in &self.delivered {
            let confirmed = self.confirmed.get(&p).map(Vec::len);
            let confirmed = confirmed.unwrap_or_else(|| panic!("message of unknown producer {p}"));
            // A producer killed mid-push may have committed one more message than it confirmed.
            assert!(
                seq <= confirmed as u64,
                "producer {p} delivered seq {seq} beyond {confirmed} confirmed (seed {seed})"
            );
        }
        let confirmed: u64 = self.confirmed.values().map(|s| s.len() as u64).sum();
        let missing = self
            .confirmed
            .iter()
            .flat_map(|(&p, seqs)| seqs.iter().map(move |&s| (p, s)))
            .filter(|m| !unique.contains(m))
            .count() as u64;
        assert!(
            missing <= self.pop_kills,
            "{missing} confirmed messages lost, {} poppers killed (seed {seed})",
            self.pop_kills
        );
        let stats = queue.stats().expect("stats");
        assert_eq!(
            (stats.len, stats.bytes_used, stats.pushed_total),
            (0, 0, stats.popped_total),
            "an emptied queue (seed {seed}): {stats:?}"
        );
        // The queue's own count tells the missing ones were really taken by
        // a killed process before it could print them, not lost: pops that
        // nobody printed cover every missing message, plus at most one
        // unconfirmed push per killed pusher.
        let unprinted = stats
            .popped_total
            .checked_sub(self.delivered.len() as u64 + stops)
            .unwrap_or_else(|| panic!("more delivered than popped: {stats:?} (seed {seed})"));
        assert!(
            missing <= unprinted && unprinted <= missing + self.push_kills,
            "{missing} missing, {unprinted} popped but unprinted, {} pushers killed (seed {seed})",
            self.push_kills
        );
        let pushed = stats.pushed_total - stops;
        assert!(
            confirmed <= pushed && pushed <= confirmed + self.push_kills,
            "{pushed} pushed, {confirmed} confirmed, {} pushers killed (seed {seed})",
            self.push_kills
        );
        Tally {
            confirmed,
            delivered: self.delivered.len() as u64,
            missing,
            stats,
        }
    }
}

/// A SIGKILL chaos run (see [`chaos`]).
pub struct Plan {
    /// Names the queue.
    pub tag: &'static str,
    /// How each producer and consumer is started.
    pub launch: Launch,
    /// How long processes are killed and respawned.
    pub run_for: Duration,
    pub producers: usize,
    pub consumers: usize,
    /// The queue's capacity.
    pub capacity: u64,
}

/// SIGKILLs producers and consumers of 1–97 KiB messages at random moments,
/// starting a new one for each, for `plan.run_for`; then checks that every
/// confirmed push was delivered once, whole, in each producer's order
/// (see [`Ledger::verify`]).
pub fn chaos(plan: &Plan) -> Tally {
    let q = TempQueue::new(plan.tag);
    let opts = Options {
        capacity: plan.capacity,
        ..Options::default()
    };
    let queue = Queue::open(&q.name, &opts).expect("create queue");
    let (mut rng, seed) = Rng::from_time();
    println!("chaos seed {seed}");
    let env_q = ("WQ_Q", q.name.clone());
    let mut next_incarnation = 0u32;
    let mut spawn_producer = || {
        let id = next_incarnation;
        next_incarnation += 1;
        let env = [env_q.clone(), ("WQ_P", id.to_string())];
        (id, Worker::start(plan.launch, "chaos_producer", &env))
    };
    let spawn_consumer =
        || Worker::start(plan.launch, "chaos_consumer", std::slice::from_ref(&env_q));
    let mut producers: Vec<_> = (0..plan.producers).map(|_| spawn_producer()).collect();
    let mut consumers: Vec<_> = (0..plan.consumers).map(|_| spawn_consumer()).collect();
    let mut ledger = Ledger::new(seed);
    let (mut kills, mut consumer_kills) = (0u64, 0u64);
    let until = Instant::now() + plan.run_for;
    while Instant::now() < until {
        std::thread::sleep(Duration::from_micros(5_000 + rng.below(40_000)));
        kills += 1;
        if rng.below(2) == 0 {
            let (id, c) = producers.swap_remove(rng.below(producers.len() as u64) as usize);
            ledger.record(&c.sigkill(), Some(id));
            ledger.killed(true, false);
            producers.push(spawn_producer());
        } else {
            let c = consumers.swap_remove(rng.below(consumers.len() as u64) as usize);
            ledger.record(&c.sigkill(), None);
            ledger.killed(false, true);
            consumer_kills += 1;
            consumers.push(spawn_consumer());
        }
    }
    for (id, c) in producers {
        ledger.record(&c.sigkill(), Some(id));
        ledger.killed(true, false);
    }
    let stops = consumers.len() as u64;
    for _ in 0..stops {
        queue.push(b"", None).expect("push a stop marker"); // consumers exit on an empty message
    }
    for c in consumers {
        let (status, lines) = c.finish(LONG);
        assert!(
            status.is_some_and(|s| s.success()),
            "consumer failed: {status:?} {:?} (seed {seed})",
            lines.last()
        );
        ledger.record(&lines, None);
    }
    ledger.drain(&queue, check_msg);
    let tally = ledger.verify(&queue, stops);
    println!(
        "chaos: {kills} kills ({consumer_kills} consumers), {} confirmed pushes, {} delivered, {} in flight at a consumer kill, {} recoveries (seed {seed})",
        tally.confirmed, tally.delivered, tally.missing, tally.stats.recoveries
    );
    assert!(
        tally.confirmed > 100,
        "the chaos run moved too little to mean anything"
    );
    tally
}
