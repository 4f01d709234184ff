//! Leasing consumers that report what they do, and the ledger that checks a
//! SIGKILL chaos run of them against the lease contract and the queue's
//! counters.
//!
//! A consumer prints one [`Report`] line per step, each written (one
//! `write(2)`) before the next step begins, so that the lines of a killed
//! consumer tell everything it did up to its kill. Times are
//! [`monotonic_ns`], the clock the leases are timed by, the same in every
//! process and PID namespace; the test notes the time just before each kill.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::time::Duration;

use wq::{Error, Lease, LeaseStats, Leased, Queue, Stats};

use super::child::fail;
use super::{Rng, check_msg, monotonic_ns, stop_requested};

/// The short lease of [`Habits::Chaos`] (a quarter of its deliveries).
pub const SHORT_LEASE: Duration = Duration::from_millis(200);

/// How a lease is settled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum How {
    Ack,
    Nack,
}

/// One step of a leasing consumer, as one line of its stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Report {
    /// `got P S LEN D TOKEN LEASE T0 T1`: a leased pop called at `t0` with
    /// a lease of `lease_ns` (`forever`: none) returned at `t1` the whole
    /// message `msg` (producer, seq) of `len` bytes, delivered for the
    /// `deliveries`th time under `token`.
    Got {
        msg: (u32, u64),
        len: usize,
        deliveries: u32,
        token: u64,
        lease_ns: Option<u64>,
        t0: u64,
        t1: u64,
    },
    /// `ack TOKEN AT` / `nack TOKEN AT`: about to settle `token`.
    Settling { token: u64, how: How, at: u64 },
    /// `acked TOKEN AT` / `nacked TOKEN AT` (`ok`), `ackfail TOKEN AT` /
    /// `nackfail TOKEN AT` (`Error::LeaseEnded`): the settle returned at `at`.
    Settled {
        token: u64,
        how: How,
        ok: bool,
        at: u64,
    },
    /// `bye AT`: about to close the handle.
    Bye { at: u64 },
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = |how: How| match how {
            How::Ack => "ack",
            How::Nack => "nack",
        };
        match *self {
            Report::Got {
                msg: (p, s),
                len,
                deliveries,
                token,
                lease_ns,
                t0,
                t1,
            } => {
                let lease = lease_ns.map_or("forever".to_string(), |ns| ns.to_string());
                write!(
                    f,
                    "got {p} {s} {len} {deliveries} {token} {lease} {t0} {t1}"
                )
            }
            Report::Settling { token, how, at } => write!(f, "{} {token} {at}", verb(how)),
            Report::Settled { token, how, ok, at } => {
                let result = if ok { "ed" } else { "fail" };
                write!(f, "{}{result} {token} {at}", verb(how))
            }
            Report::Bye { at } => write!(f, "bye {at}"),
        }
    }
}

impl Report {
    /// The report a line holds, if it is one (the test harness prints
    /// lines of its own).
    pub fn parse(line: &str) -> Option<Report> {
        let words: Vec<&str> = line.split(' ').collect();
        let n = |i: usize| words.get(i)?.parse::<u64>().ok();
        let (verb, count) = (*words.first()?, words.len());
        let how = |verb: &str| {
            if verb.starts_with("ack") {
                How::Ack
            } else {
                How::Nack
            }
        };
        Some(match (verb, count) {
            ("got", 9) => Report::Got {
                msg: (u32::try_from(n(1)?).ok()?, n(2)?),
                len: usize::try_from(n(3)?).ok()?,
                deliveries: u32::try_from(n(4)?).ok()?,
                token: n(5)?,
                lease_ns: match words[6] {
                    "forever" => None,
                    _ => Some(n(6)?),
                },
                t0: n(7)?,
                t1: n(8)?,
            },
            ("ack" | "nack", 3) => Report::Settling {
                token: n(1)?,
                how: how(verb),
                at: n(2)?,
            },
            ("acked" | "ackfail" | "nacked" | "nackfail", 3) => Report::Settled {
                token: n(1)?,
                how: how(verb),
                ok: verb.ends_with("ed"),
                at: n(2)?,
            },
            ("bye", 2) => Report::Bye { at: n(1)? },
            _ => return None,
        })
    }
}

/// How a [`consume`] loop behaves.
pub enum Habits {
    /// Until the stop file appears: a quarter of the leases
    /// [`SHORT_LEASE`], the rest for ever; a tenth nacked, a fifth acked
    /// after a nap (up to twice the short lease for a short lease, so that
    /// about half of those expire; up to 20 ms otherwise), the rest acked
    /// at once. Half the pops into a buffer, half into a [`Leased`] guard.
    Chaos(Rng),
    /// Leases for ever and acks at once until nothing comes for `wait`.
    Clean { wait: Duration },
}

/// A message taken under a lease, through either API.
enum Taken<'q> {
    Guard(Leased<'q>),
    Parts(usize, Lease),
}

/// Leases, checks and settles messages of [`super::make_msg`] from `q` as
/// `habits` say, giving `report` each step before taking the next. A
/// broken message or an error other than an ended lease fails (see
/// [`fail`]).
pub fn consume(q: &Queue, mut habits: Habits, mut report: impl FnMut(Report)) {
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let (lease, wait, into) = match &mut habits {
            Habits::Chaos(rng) => {
                if stop_requested() {
                    break;
                }
                let lease = (rng.below(4) == 0).then_some(SHORT_LEASE);
                (lease, Duration::from_millis(100), rng.below(2) == 0)
            }
            Habits::Clean { wait } => (None, *wait, false),
        };
        let t0 = monotonic_ns();
        let taken = if into {
            q.pop_leased_into(&mut buf, lease, Some(wait))
                .map(|(n, l)| Taken::Parts(n, l))
        } else {
            q.pop_leased(lease, Some(wait)).map(Taken::Guard)
        };
        let taken = match taken {
            Ok(taken) => taken,
            Err(Error::Empty) if matches!(habits, Habits::Clean { .. }) => break,
            Err(Error::Empty) => continue,
            Err(e) => fail(&format!("pop_leased: {e} ({e:?})")),
        };
        let t1 = monotonic_ns();
        let (bytes, l) = match &taken {
            Taken::Guard(g) => (&g[..], g.lease()),
            Taken::Parts(n, l) => (&buf[..*n], *l),
        };
        let msg = check_msg(bytes).unwrap_or_else(|e| fail(&format!("BAD {e}")));
        report(Report::Got {
            msg,
            len: bytes.len(),
            deliveries: l.deliveries,
            token: l.token,
            lease_ns: lease.map(|d| d.as_nanos() as u64),
            t0,
            t1,
        });
        let how = match &mut habits {
            Habits::Chaos(rng) => match rng.below(10) {
                0 => How::Nack,
                1 | 2 => {
                    let nap_ms = match lease {
                        Some(short) => rng.below(2 * short.as_millis() as u64),
                        None => rng.below(20),
                    };
                    std::thread::sleep(Duration::from_millis(nap_ms));
                    How::Ack
                }
                _ => How::Ack,
            },
            Habits::Clean { .. } => How::Ack,
        };
        report(Report::Settling {
            token: l.token,
            how,
            at: monotonic_ns(),
        });
        let result = match (taken, how) {
            (Taken::Guard(g), How::Ack) => g.ack(),
            (Taken::Guard(g), How::Nack) => g.nack(),
            (Taken::Parts(_, l), How::Ack) => q.ack(&l),
            (Taken::Parts(_, l), How::Nack) => q.nack(&l),
        };
        let ok = match result {
            Ok(()) => true,
            Err(Error::LeaseEnded { token }) if token == l.token => false,
            Err(e) => fail(&format!("{how:?} {}: {e} ({e:?})", l.token)),
        };
        report(Report::Settled {
            token: l.token,
            how,
            ok,
            at: monotonic_ns(),
        });
    }
    report(Report::Bye { at: monotonic_ns() });
}

/// One delivery a consumer reported, and what it did with it.
struct Delivery {
    msg: (u32, u64),
    deliveries: u32,
    token: u64,
    lease_ns: Option<u64>,
    t0: u64,
    t1: u64,
    /// Index into [`LeaseLedger::consumers`].
    consumer: usize,
    /// How it was about to be settled, and when.
    settling: Option<(How, u64)>,
    /// Whether that settle returned Ok, and when it returned.
    settled: Option<(bool, u64)>,
}

impl Delivery {
    fn acked(&self) -> bool {
        matches!(
            (self.settling, self.settled),
            (Some((How::Ack, _)), Some((true, _)))
        )
    }
}

/// How a consumer ended.
struct Consumer {
    name: String,
    /// Just before its SIGKILL (it was alive then).
    killed_at: Option<u64>,
    /// Just before it closed its handle.
    bye_at: Option<u64>,
}

/// What the processes of a leasing chaos run said they did: producers'
/// "P seq" lines (crash.rs's `chaos_producer`), consumers' [`Report`]s.
pub struct LeaseLedger {
    seed: u64,
    /// Producer incarnation -> pushes it confirmed (seqs 0..n).
    confirmed: BTreeMap<u32, u64>,
    /// Producers killed (each may have pushed one message it never confirmed).
    killed_producers: BTreeSet<u32>,
    deliveries: Vec<Delivery>,
    tokens: HashMap<u64, usize>,
    consumers: Vec<Consumer>,
}

/// What a [`LeaseLedger`] found.
#[derive(Debug)]
pub struct LeaseTally {
    /// Distinct messages (every one pushed, delivered and acked).
    pub messages: u64,
    /// Pushes the producers confirmed.
    pub confirmed: u64,
    /// Deliveries reported (by consumers and the drain).
    pub reported: u64,
    /// Deliveries no `got` line shows (taken by a consumer killed before it
    /// could print it).
    pub unseen: u64,
    /// Acks that took effect in a consumer killed before it said so.
    pub acks_in_flight: u64,
    /// `ackfail` / `nackfail` lines: leases that expired under a live holder.
    pub ended_under_holder: u64,
    /// Producers / consumers killed.
    pub producer_kills: u64,
    pub consumer_kills: u64,
    /// Kills of a consumer holding a forever lease it never settled, and
    /// the longest time from such a kill to the next delivery of the
    /// message (ns).
    pub kills_holding: u64,
    pub max_kill_redelivery_ns: u64,
    pub stats: Stats,
    pub leases: LeaseStats,
}

impl LeaseLedger {
    /// An empty ledger for the run of `seed`.
    pub fn new(seed: u64) -> LeaseLedger {
        LeaseLedger {
            seed,
            confirmed: BTreeMap::new(),
            killed_producers: BTreeSet::new(),
            deliveries: Vec::new(),
            tokens: HashMap::new(),
            consumers: Vec::new(),
        }
    }

    fn refuse_failures(&self, who: &str, lines: &[String]) {
        for line in lines {
            assert!(
                !["BAD ", "ERR ", "FAIL"].iter().any(|p| line.starts_with(p)),
                "{who} failed: {line} (seed {})",
                self.seed
            );
        }
    }

    /// Takes the lines of producer incarnation `id`, `killed` or not.
    pub fn producer(&mut self, id: u32, lines: &[String], killed: bool) {
        self.refuse_failures(&format!("producer {id}"), lines);
        let mut n = 0;
        for seq in lines.iter().filter_map(|l| l.strip_prefix("P ")) {
            assert_eq!(seq.parse::<u64>().ok(), Some(n), "producer {id}: P lines");
            n += 1;
        }
        assert!(
            self.confirmed.insert(id, n).is_none(),
            "producer {id} twice"
        );
        if killed {
            self.killed_producers.insert(id);
        }
    }

    /// Takes the lines of consumer `name`, killed at `killed_at` (the
    /// monotonic time just before its SIGKILL) or ended on its own.
    pub fn consumer(&mut self, name: &str, lines: &[String], killed_at: Option<u64>) {
        self.refuse_failures(name, lines);
        let c = self.consumers.len();
        self.consumers.push(Consumer {
            name: name.to_string(),
            killed_at,
            bye_at: None,
        });
        let seed = self.seed;
        // The delivery this consumer holds, if any.
        let mut holding: Option<usize> = None;
        for report in lines.iter().filter_map(|l| Report::parse(l)) {
            match report {
                Report::Got {
                    msg,
                    deliveries,
                    token,
                    lease_ns,
                    t0,
                    t1,
                    ..
                } => {
                    assert!(
                        holding.is_none(),
                        "{name} leased again before settling (seed {seed})"
                    );
                    assert!(token != 0 && deliveries >= 1, "{name}: {report}");
                    let i = self.deliveries.len();
                    assert!(
                        self.tokens.insert(token, i).is_none(),
                        "token {token} issued twice (seed {seed})"
                    );
                    self.deliveries.push(Delivery {
                        msg,
                        deliveries,
                        token,
                        lease_ns,
                        t0,
                        t1,
                        consumer: c,
                        settling: None,
                        settled: None,
                    });
                    holding = Some(i);
                }
                Report::Settling { token, how, at } => {
                    let i = holding.expect("settling without a lease");
                    let d = &mut self.deliveries[i];
                    assert!(d.token == token && d.settling.is_none(), "{name}: {report}");
                    d.settling = Some((how, at));
                }
                Report::Settled { token, how, ok, at } => {
                    let i = holding.take().expect("settled without a lease");
                    let d = &mut self.deliveries[i];
                    assert!(
                        d.token == token && d.settling.map(|s| s.0) == Some(how),
                        "{name}: {report}"
                    );
                    d.settled = Some((ok, at));
                }
                Report::Bye { at } => {
                    assert!(holding.is_none(), "{name} left holding a lease");
                    self.consumers[c].bye_at = Some(at);
                }
            }
        }
        if killed_at.is_none() {
            assert!(
                self.consumers[c].bye_at.is_some(),
                "{name} ended without saying bye: {:?}",
                lines.last()
            );
        }
    }

    /// Leases and acks what is still queued, as the consumer "drain" (a
    /// lease held by a dead consumer is given back within a check).
    pub fn drain(&mut self, queue: &Queue) {
        let mut lines = Vec::new();
        let wait = Duration::from_millis(1500);
        consume(queue, Habits::Clean { wait }, |r| lines.push(r.to_string()));
        self.consumer("drain", &lines, None);
    }

    /// The earliest moment lease `d` may have ended without an ack
    /// (`None`: it could not have): its time running out, its nack, its
    /// holder's death or close.
    fn earliest_end(&self, d: &Delivery) -> Option<u64> {
        let c = &self.consumers[d.consumer];
        let nack = match d.settling {
            Some((How::Nack, at)) => Some(at),
            _ => None,
        };
        [d.lease_ns.map(|l| d.t0 + l), nack, c.killed_at, c.bye_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// Checks every delivery against the lease contract and the queue's
    /// counters against the deliveries (see the comments below); the
    /// run must be over and the queue drained.
    pub fn verify(&self, queue: &Queue) -> LeaseTally {
        let seed = self.seed;
        let producer_kills = self.killed_producers.len() as u64;
        let consumer_kills = self
            .consumers
            .iter()
            .filter(|c| c.killed_at.is_some())
            .count() as u64;
        let mut by_msg: BTreeMap<(u32, u64), Vec<&Delivery>> = BTreeMap::new();
        for d in &self.deliveries {
            by_msg.entry(d.msg).or_default().push(d);
        }
        let who = |d: &Delivery| &self.consumers[d.consumer].name;
        let (mut unseen, mut acks_in_flight, mut redeliveries) = (0u64, 0u64, 0u64);
        let (mut kills_holding, mut max_kill_redelivery_ns) = (0u64, 0u64);
        let mut unconfirmed: BTreeSet<u32> = BTreeSet::new();
        for (&(p, s), ds) in &mut by_msg {
            let m = format!("message ({p}, {s})");
            // A message the producer never confirmed was pushed by a
            // producer killed mid-push: its next message, one at most.
            let confirmed = *self
                .confirmed
                .get(&p)
                .unwrap_or_else(|| panic!("{m} of an unknown producer"));
            if s >= confirmed {
                assert!(
                    s == confirmed && self.killed_producers.contains(&p) && unconfirmed.insert(p),
                    "{m} delivered, {confirmed} confirmed by its producer (seed {seed})"
                );
            }
            // Deliveries count up: no two deliveries of one message under
            // one count (two leases on it, or one delivery told twice).
            ds.sort_by_key(|d| d.deliveries);
            for w in ds.windows(2) {
                assert!(
                    w[0].deliveries < w[1].deliveries,
                    "{m} delivered twice as delivery {} (to {} and {}, seed {seed})",
                    w[1].deliveries,
                    who(w[0]),
                    who(w[1])
                );
            }
            unseen += u64::from(ds[0].deliveries - 1);
            for w in ds.windows(2) {
                let (a, b) = (w[0], w[1]);
                unseen += u64::from(b.deliveries - a.deliveries - 1);
                // An acked message is gone: never delivered again.
                assert!(
                    !a.acked(),
                    "{m} delivered again (delivery {} to {}) after {} acked delivery {} (seed {seed})",
                    b.deliveries,
                    who(b),
                    who(a),
                    a.deliveries
                );
                // Delivered again only once the lease before could have
                // ended: b's pop returned after that lease's time ran out,
                // after its holder's nack began, after its holder was killed
                // or closed its handle. Otherwise two leases were live on
                // the message at once.
                let end = self.earliest_end(a);
                assert!(
                    end.is_some_and(|end| end <= b.t1),
                    "{m}: delivery {} (to {}, returned at {}) while delivery {} (to {}, lease {:?}, settling {:?}) was still live until at least {end:?} (seed {seed})",
                    b.deliveries,
                    who(b),
                    b.t1,
                    a.deliveries,
                    who(a),
                    a.lease_ns,
                    a.settling
                );
                let killer = self.consumers[a.consumer].killed_at;
                if let (Some(k), None, None) = (killer, a.lease_ns, a.settling) {
                    if b.deliveries == a.deliveries + 1 {
                        kills_holding += 1;
                        max_kill_redelivery_ns = max_kill_redelivery_ns.max(b.t1 - k);
                    }
                }
            }
            // Every message was acked in the end: by its last delivery
            // (said so, or in flight at its consumer's kill).
            let last = ds[ds.len() - 1];
            redeliveries += u64::from(last.deliveries - 1);
            let c = &self.consumers[last.consumer];
            match (last.settling, last.settled) {
                (Some((How::Ack, _)), Some((true, _))) => {}
                (Some((How::Ack, _)), None) if c.killed_at.is_some() => acks_in_flight += 1,
                _ => panic!(
                    "{m} was never acked: last delivery {} to {} (lease {:?}, settling {:?}, settled {:?}) (seed {seed})",
                    last.deliveries, c.name, last.lease_ns, last.settling, last.settled
                ),
            }
        }
        // Every confirmed push was delivered.
        for (&p, &n) in &self.confirmed {
            for s in 0..n {
                assert!(
                    by_msg.contains_key(&(p, s)),
                    "confirmed message ({p}, {s}) never delivered (seed {seed})"
                );
            }
        }
        // A kill hides at most the one delivery its consumer was taking.
        assert!(
            unseen <= consumer_kills,
            "{unseen} deliveries nobody reported, {consumer_kills} consumers killed (seed {seed})"
        );
        let (mut acked_lines, mut nacked_lines, mut ended_under_holder) = (0u64, 0u64, 0u64);
        let (mut nacks_in_flight, mut finite, mut must_abandon) = (0u64, 0u64, 0u64);
        for d in &self.deliveries {
            let killed = self.consumers[d.consumer].killed_at.is_some();
            finite += u64::from(d.lease_ns.is_some());
            match (d.settling, d.settled) {
                (Some((How::Ack, _)), Some((true, _))) => acked_lines += 1,
                (Some((How::Nack, _)), Some((true, _))) => nacked_lines += 1,
                (Some((How::Nack, _)), None) if killed => nacks_in_flight += 1,
                (None, None) if killed && d.lease_ns.is_none() => must_abandon += 1,
                _ => {}
            }
            if let (Some(lease), Some((how, start)), Some((ok, at))) =
                (d.lease_ns, d.settling, d.settled)
            {
                // The lease ends at its pop's clock reading (between t0 and
                // t1) plus `lease`: a settle that began after t1 + lease
                // cannot succeed, one that returned before t0 + lease
                // cannot find it ended.
                assert!(
                    !ok || start < d.t1 + lease,
                    "{how:?} of token {} succeeded {} ns after its lease ran out (seed {seed})",
                    d.token,
                    start - (d.t1 + lease)
                );
                assert!(
                    ok || at >= d.t0 + lease,
                    "{how:?} of token {} found it ended {} ns before its lease ran out (seed {seed})",
                    d.token,
                    d.t0 + lease - at
                );
            }
            if d.settled.is_some_and(|(ok, _)| !ok) {
                // A live holder's forever lease never ends by itself.
                assert!(
                    d.lease_ns.is_some(),
                    "the forever lease {} of a live holder ended (seed {seed})",
                    d.token
                );
                ended_under_holder += 1;
            }
        }

        let stats = queue.stats().expect("stats");
        let leases = queue.lease_stats().expect("lease_stats");
        let messages = by_msg.len() as u64;
        let confirmed: u64 = self.confirmed.values().sum();
        // Drained: nothing queued, held or waiting; every message left
        // through an ack, which counts as a pop.
        assert_eq!(
            (stats.len, stats.bytes_used, leases.leased),
            (0, 0, 0),
            "the queue is empty in the end: {stats:?} {leases:?} (seed {seed})"
        );
        assert_eq!(
            (stats.pushed_total, stats.popped_total, leases.acked_total),
            (messages, messages, messages),
            "every message pushed was delivered and acked once: {stats:?} {leases:?} (seed {seed})"
        );
        assert_eq!(
            confirmed + unconfirmed.len() as u64,
            messages,
            "confirmed pushes plus those of killed producers (seed {seed})"
        );
        // Acks: every one said so, but those in flight at a kill (each the
        // last delivery of its message, one per killed consumer at most).
        assert!(
            acked_lines + acks_in_flight == leases.acked_total && acks_in_flight <= consumer_kills,
            "{acked_lines} acked lines, {acks_in_flight} in flight, {consumer_kills} consumers killed: {leases:?} (seed {seed})"
        );
        // Each delivery after a message's first counts once, and the last
        // delivery of every message (the acked one) was reported, so the
        // highest count reported is the message's.
        assert_eq!(
            leases.redelivered_total, redeliveries,
            "redeliveries: counted against reported (seed {seed})"
        );
        // Nacks: those said, plus those in flight at a kill.
        assert!(
            nacked_lines <= leases.nacked_total
                && leases.nacked_total <= nacked_lines + nacks_in_flight,
            "{nacked_lines} nacked lines, {nacks_in_flight} in flight: {leases:?} (seed {seed})"
        );
        // Expiries: at least the leases a live holder found ended, at most
        // the short leases (reported, or hidden by a kill).
        assert!(
            ended_under_holder <= leases.expired_total && leases.expired_total <= finite + unseen,
            "{ended_under_holder} leases ended under their holder, {finite} short ones, {unseen} unseen: {leases:?} (seed {seed})"
        );
        // Abandoned: only by killed consumers (one lease each at most), at
        // least the forever leases they never began to settle.
        assert!(
            must_abandon <= leases.abandoned_total && leases.abandoned_total <= consumer_kills,
            "{must_abandon} forever leases left by killed consumers, {consumer_kills} consumers killed: {leases:?} (seed {seed})"
        );
        // Every delivery's lease ended exactly once, one way or another.
        assert_eq!(
            leases.acked_total
                + leases.nacked_total
                + leases.expired_total
                + leases.abandoned_total,
            messages + leases.redelivered_total,
            "lease ends against deliveries: {leases:?} (seed {seed})"
        );
        LeaseTally {
            messages,
            confirmed,
            reported: self.deliveries.len() as u64,
            unseen,
            acks_in_flight,
            ended_under_holder,
            producer_kills,
            consumer_kills,
            kills_holding,
            max_kill_redelivery_ns,
            stats,
            leases,
        }
    }
}
