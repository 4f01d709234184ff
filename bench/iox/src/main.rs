//! Bench roles for iceoryx2's publish-subscribe, with the command line and
//! output of `bench/cbench.cpp` and `bench/src/main.rs`, so that
//! `bench/driver.py` runs them like the other implementations:
//!
//! ```text
//! wq-bench-iox IMPL ROLE NAME key=value...
//! ```
//!
//! IMPL is `iceoryx2` (a subscriber that finds no sample sleeps on an event
//! listener; the publisher notifies after every send: iceoryx2's own way to
//! block) or `iceoryx2-spin` (the subscriber polls `receive` in a loop).
//! ROLE is `cons`, `prod`, `ping`, `pong` or `cleanup`.
//!
//! Each message is a slice of `size / 8` 64-bit words. Word 0 is the tag of
//! the other benches (producer id in the top 8 bits, 0xFF = stop; sequence
//! number in the low 56). A producer copies its message into the loaned
//! sample (as `push` copies into a wq queue) and the consumer checks the tag
//! in place (nothing is copied out: iceoryx2 delivers a reference). With
//! `fill=1` the producer writes every word of the sample in place with the tag
//! and the consumer reads and checks every word (the zero-copy rows).
//! One service has one publisher and one subscriber; the subscriber's buffer
//! holds about 32 MiB of samples (as wq's default queue) and the publisher
//! retries while it is full (`RetryUntilDelivered`, no overflow), so no
//! message is lost.

#[path = "../../src/common.rs"]
mod common;

use std::collections::HashMap;
use std::process::ExitCode;

use common::{die, now_ns, ready, report_rtt};

use iceoryx2::port::listener::Listener;
use iceoryx2::port::notifier::Notifier;
use iceoryx2::port::publisher::Publisher;
use iceoryx2::port::subscriber::Subscriber;
use iceoryx2::prelude::*;

const STOP: u64 = 0xFF << 56;
/// The first message of a throughput run (not counted); see `prod`.
const HELLO: u64 = 0xFE << 56;
const SEQ_MASK: u64 = (1 << 56) - 1;

type Svc = ipc::Service;

/// The value of an iceoryx2 call, or the end of this process with its error.
fn ok<T, E: std::fmt::Debug>(r: Result<T, E>, what: &str) -> T {
    r.unwrap_or_else(|e| die(&format!("{what}: {e:?}")))
}

struct Cfg {
    name: String,
    blocking: bool,
    /// Message length in 64-bit words.
    words: usize,
    kv: HashMap<String, String>,
}

impl Cfg {
    fn get(&self, key: &str, default: u64) -> u64 {
        common::get(&self.kv, key, default)
    }
}

/// One direction of traffic: a publish-subscribe service `NAME` and, for
/// blocking, an event service `NAME.ev` that wakes the subscriber.
struct Channel<'a> {
    node: &'a Node<Svc>,
    name: String,
    depth: usize,
    words: usize,
}

impl<'a> Channel<'a> {
    fn new(node: &'a Node<Svc>, name: &str, words: usize) -> Self {
        let bytes = words * 8;
        let depth = ((32usize << 20) / bytes).clamp(16, 4096);
        Channel {
            node,
            name: name.to_owned(),
            depth,
            words,
        }
    }

    fn service(
        &self,
    ) -> iceoryx2::service::port_factory::publish_subscribe::PortFactory<Svc, [u64], ()> {
        let name = ok(ServiceName::new(&self.name), "service name");
        ok(
            self.node
                .service_builder(&name)
                .publish_subscribe::<[u64]>()
                .max_publishers(1)
                .max_subscribers(1)
                .history_size(0)
                .subscriber_max_buffer_size(self.depth)
                .enable_safe_overflow(false)
                .open_or_create(),
            "publish_subscribe open_or_create",
        )
    }

    fn event(&self) -> EventService {
        event(self.node, &format!("{}.ev", self.name))
    }

    fn publisher(&self, blocking: bool) -> Sender {
        let service = self.service();
        let publisher = ok(
            service
                .publisher_builder()
                .initial_max_slice_len(self.words)
                .backpressure_strategy(BackpressureStrategy::RetryUntilDelivered)
                .create(),
            "publisher",
        );
        let notifier = blocking.then(|| ok(self.event().notifier_builder().create(), "notifier"));
        Sender {
            publisher,
            notifier,
            words: self.words,
        }
    }

    fn subscriber(&self, blocking: bool) -> Receiver {
        let service = self.service();
        let subscriber = ok(
            service
                .subscriber_builder()
                .buffer_size(self.depth)
                .create(),
            "subscriber",
        );
        let listener = blocking.then(|| ok(self.event().listener_builder().create(), "listener"));
        Receiver {
            subscriber,
            listener,
        }
    }
}

type EventService = iceoryx2::service::port_factory::event::PortFactory<Svc>;

fn event(node: &Node<Svc>, name: &str) -> EventService {
    let name = ok(ServiceName::new(name), "service name");
    ok(
        node.service_builder(&name).event().open_or_create(),
        "event open_or_create",
    )
}

struct Sender {
    publisher: Publisher<Svc, [u64], ()>,
    notifier: Option<Notifier<Svc>>,
    words: usize,
}

impl Sender {
    /// Sends a message whose every word is `tag` (`fill`, written in place)
    /// or a copy of `msg`.
    fn send(&self, msg: &[u64], tag: u64, fill: bool) {
        let sample = ok(self.publisher.loan_slice_uninit(self.words), "loan");
        let sample = if fill {
            sample.write_from_fn(|_| tag)
        } else {
            sample.write_from_slice(msg)
        };
        ok(sample.send(), "send");
        if let Some(n) = &self.notifier {
            ok(n.notify(), "notify");
        }
    }
}

struct Receiver {
    subscriber: Subscriber<Svc, [u64], ()>,
    listener: Option<Listener<Svc>>,
}

impl Receiver {
    /// Waits for the next sample (asleep on the listener, or polling) and
    /// hands it to `f`.
    fn recv<R>(&self, mut f: impl FnMut(&[u64]) -> R) -> R {
        loop {
            if let Some(sample) = ok(self.subscriber.receive(), "receive") {
                return f(&sample);
            }
            if let Some(l) = &self.listener {
                ok(l.blocking_wait(|_| {}), "blocking_wait");
            } else {
                std::hint::spin_loop();
            }
        }
    }
}

fn node() -> Node<Svc> {
    ok(NodeBuilder::new().create::<Svc>(), "node")
}

/// Receives until a stop message, checking the producer's sequence (and,
/// with `fill=1`, every word of every message).
fn cons(c: &Cfg) -> u8 {
    let node = node();
    let rx = Channel::new(&node, &c.name, c.words).subscriber(c.blocking);
    let fill = c.get("fill", 0) != 0;
    let (mut count, mut sum, mut bad, mut last) = (0u64, 0u64, 0u64, -1i64);
    let mut ack = None;
    ready();
    loop {
        let stop = rx.recv(|msg| {
            let t = msg[0];
            if t == HELLO {
                // The producer's listener exists by now: tell it that this
                // subscriber is connected.
                let n = ok(
                    ack_service(&node, c).notifier_builder().create(),
                    "notifier",
                );
                ok(n.notify(), "notify");
                ack = Some(n);
                return false;
            }
            if msg.len() != c.words || (fill && msg.iter().fold(false, |b, &w| b | (w != t))) {
                bad += 1;
            }
            if t & !SEQ_MASK == STOP {
                return true;
            }
            let seq = (t & SEQ_MASK) as i64;
            if seq != last + 1 {
                bad += 1;
            }
            last = seq;
            count += 1;
            sum += seq as u64;
            false
        });
        if stop {
            break;
        }
    }
    let t_end = now_ns();
    let Some(ack) = ack else {
        die("stop before hello")
    };
    ok(ack.notify(), "notify");
    println!("result t_end={t_end} count={count} sum={sum} bad={bad}");
    u8::from(bad != 0)
}

/// The event service on which a consumer tells its producer that it is
/// connected and, at the end, that it has received everything.
fn ack_service(node: &Node<Svc>, c: &Cfg) -> EventService {
    event(node, &format!("{}.ack", c.name))
}

/// Sends `n` messages and stops. A publisher's samples are delivered to a
/// subscriber that has not connected yet only while its buffer has room
/// (a full one, with no connected receiver, drops them), and a publisher that
/// leaves may take undelivered samples with it: so the run starts with a
/// hello that the consumer acknowledges, and the producer stays until the
/// consumer has acknowledged the stop.
fn prod(c: &Cfg) -> u8 {
    let node = node();
    let acks = ok(
        ack_service(&node, c).listener_builder().create(),
        "listener",
    );
    let tx = Channel::new(&node, &c.name, c.words).publisher(c.blocking);
    let n = c.get("n", 1_000_000);
    let id = c.get("id", 0);
    let fill = c.get("fill", 0) != 0;
    let mut msg = vec![u64::from_le_bytes(*b"xxxxxxxx"); c.words];
    tx.send(&[HELLO; 1].repeat(c.words), HELLO, false);
    let wait_ack = || {
        while ok(acks.blocking_wait(|_| {}), "blocking_wait") == 0 {}
    };
    wait_ack();
    let t_start = now_ns();
    for i in 0..n {
        msg[0] = (id << 56) | i;
        tx.send(&msg, msg[0], fill);
    }
    msg[0] = STOP;
    for _ in 0..c.get("stops", 1) {
        tx.send(&msg, STOP, fill);
    }
    let t_done = now_ns();
    wait_ack();
    println!("result t_start={t_start} t_done={t_done}");
    0
}

/// Round trips over two services: NAME-a carries pings, NAME-b the replies.
fn ping(c: &Cfg) -> u8 {
    let node = node();
    let tx = Channel::new(&node, &format!("{}-a", c.name), c.words).publisher(c.blocking);
    let rx = Channel::new(&node, &format!("{}-b", c.name), c.words).subscriber(c.blocking);
    let n = c.get("n", 20_000);
    let warm = c.get("warm", 1000);
    let mut msg = vec![0u64; c.words];
    let mut rtt = Vec::with_capacity(n as usize);
    let mut bad = 0u64;
    for i in 0..n + warm {
        msg[0] = i;
        let t0 = now_ns();
        tx.send(&msg, i, false);
        let got = rx.recv(|m| m[0]);
        let t1 = now_ns();
        bad += u64::from(got != i);
        if i >= warm {
            rtt.push(t1 - t0);
        }
    }
    msg[0] = STOP;
    tx.send(&msg, STOP, false);
    report_rtt(rtt, bad)
}

fn pong(c: &Cfg) -> u8 {
    let node = node();
    let rx = Channel::new(&node, &format!("{}-a", c.name), c.words).subscriber(c.blocking);
    let tx = Channel::new(&node, &format!("{}-b", c.name), c.words).publisher(c.blocking);
    ready();
    // The reply is copied from the received sample into the loaned one: one
    // copy a hop, as ping's send (wq's pong: a pop into a buffer, a push).
    while rx.recv(|m| {
        if m[0] != STOP {
            tx.send(m, m[0], false);
        }
        m[0] != STOP
    }) {}
    println!("result");
    0
}

/// Removes what processes of this bench that died left behind (iceoryx2
/// cleans up after live nodes by itself).
fn cleanup() -> u8 {
    let _ = Node::<Svc>::list(Config::global_config(), |state| {
        if let NodeState::<Svc>::Dead(view) = state {
            let _ = view.try_remove_stale_resources();
        }
        CallbackProgression::Continue
    });
    0
}

fn main() -> ExitCode {
    let (imp, role, name, kv) =
        common::args("usage: wq-bench-iox iceoryx2|iceoryx2-spin ROLE NAME key=value...");
    let blocking = match imp.as_str() {
        "iceoryx2" => true,
        "iceoryx2-spin" => false,
        other => die(&format!("unknown implementation {other}")),
    };
    let mut c = Cfg {
        name,
        blocking,
        words: 1,
        kv,
    };
    let size = c.get("size", 8);
    if size == 0 || !size.is_multiple_of(8) {
        die("size must be a positive multiple of 8");
    }
    c.words = (size / 8) as usize;
    set_log_level(LogLevel::Error);
    let code = match role.as_str() {
        "cons" => cons(&c),
        "prod" => prod(&c),
        "ping" => ping(&c),
        "pong" => pong(&c),
        "cleanup" => cleanup(),
        other => die(&format!("unknown role {other}")),
    };
    ExitCode::from(code)
}
