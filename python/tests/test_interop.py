"""Python with the other languages, each a separate process on one queue:
a C producer (c-examples/producer.c) for a Python consumer, and a Python
producer for the Rust consumer (examples/consumer.rs); 100,000 messages of
the examples' stream each way, every one checked."""

import pytest
import stream

import wq

COUNT = 100_000
CAPACITY = 1 << 20  # what the examples create their queue with


def test_python_consumer_of_a_c_producer(built, names, spawn, tmp_path):
    exe = built.compile(tmp_path, ["c-examples/producer.c"], "c-producer", includes=["c-examples"])
    name = names("c2py")
    with wq.Queue(name, capacity=CAPACITY, create=True) as q:
        producer = spawn([exe, name, COUNT])
        for i in range(COUNT):
            msg = q.pop(timeout=60)
            if msg != stream.message(i):
                pytest.fail(f"message {i}: {len(msg)} bytes {msg[:16].hex()}..., expected "
                            f"{len(stream.message(i))} bytes {stream.message(i)[:16].hex()}...")
        producer.line("c-producer: pushed 100000 messages")
        assert producer.wait() == 0
        with pytest.raises(wq.Empty):
            q.pop(timeout=0.2)
        assert q.stats().popped_total == COUNT


def test_python_producer_for_a_rust_consumer(built, names, spawn):
    name = names("py2rust")
    with wq.Queue(name, capacity=CAPACITY, create=True) as q:
        consumer = spawn([built.consumer, name, COUNT])
        i = 0
        while i < COUNT:
            if i % 1000 < 500:
                q.push(stream.message(i), timeout=60)
                i += 1
            else:  # batches too: a prefix is pushed, the rest next round
                i += q.push_batch([stream.message(j) for j in range(i, min(i + 16, COUNT))], timeout=60)
        consumer.line(f"rust-consumer: received {COUNT} messages from {name}, all in order", timeout=120)
        assert consumer.wait() == 0
        assert q.stats().pushed_total == COUNT
