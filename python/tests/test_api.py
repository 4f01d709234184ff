"""The Queue API in one process: messages, batches, buffers, stats, opening
modes, closing, leases, interrupt(), timeouts, and the GIL released while a
call waits."""

import array
import ctypes
import multiprocessing
import os
import pickle
import threading
import time

import pytest

import wq


def test_push_pop_in_order_with_any_bytes_like(qname):
    with wq.Queue(qname, capacity=4096) as q:
        q.push(b"one")
        q.push(bytearray(b"two"))
        q.push(memoryview(b"xthreex")[1:-1])
        q.push(array.array("I", [1, 2]))
        q.push(b"")
        assert [q.pop(timeout=1) for _ in range(5)] == [b"one", b"two", b"three", array.array("I", [1, 2]).tobytes(), b""]
        assert q.try_pop() is None
        with pytest.raises(TypeError):
            q.push("text is not bytes")


def test_try_push_reports_full_and_push_batch_pushes_a_prefix(qname):
    with wq.Queue(qname, capacity=64) as q:
        pushed = 0
        while q.try_push(b"12345678"):
            pushed += 1
        assert pushed == 4  # 64 bytes hold four 16-byte records
        assert q.pop_batch(max=8) == [b"12345678"] * 4
        assert q.push_batch([b"a", b"bb", b"ccc", b"dddd", b"eeeee"]) == 4
        assert q.pop_batch(max=2) == [b"a", b"bb"]
        assert q.pop_batch() == [b"ccc", b"dddd"]
        assert q.push_batch([]) == 0
        with pytest.raises(ValueError):
            q.pop_batch(max=0)


def test_pop_batch_takes_messages_larger_than_its_first_buffer(qname):
    big = bytes(range(256)) * 1024  # 256 KiB, more than pop_batch's initial 64 KiB
    with wq.Queue(qname, capacity=1 << 20) as q:
        q.push_batch([big, b"after"])
        assert q.pop_batch(max=4, timeout=1) == [big, b"after"]


def test_pop_into_writable_buffers(qname):
    with wq.Queue(qname, capacity=4096) as q:
        q.push(b"hello")
        buf = bytearray(16)
        assert q.pop_into(buf, timeout=1) == 5 and buf[:5] == b"hello"
        q.push(bytes(ctypes.c_uint32(0xDEADBEEF)))
        word = ctypes.c_uint32()
        assert q.pop_into(word) == 4 and word.value == 0xDEADBEEF
        with pytest.raises(BufferError):
            q.pop_into(b"read-only bytes")


def test_stats_and_lease_stats(qname):
    with wq.Queue(qname, capacity=64) as q:
        q.push(b"abc")
        s = q.stats()
        assert isinstance(s, wq.Stats)
        assert (s.len, s.bytes_used, s.capacity, s.max_message_size) == (1, 16, 64, 56)
        assert (s.pushed_total, s.popped_total, s.recoveries) == (1, 0, 0)
        assert q.lease_stats() == wq.LeaseStats(0, 0, 0, 0, 0, 0)


def test_open_modes_geometry_and_names(names):
    name = names()
    with pytest.raises(wq.NotFound) as e:
        wq.Queue(name, create=False)
    assert e.value.name == "/" + name
    with wq.Queue(name, capacity=1 << 16, create=True) as q:
        assert q.name == "/" + name
        with pytest.raises(wq.Exists):
            wq.Queue(name, create=True)
        with wq.Queue(name, capacity=999_999, create=False) as other:
            assert other.stats().capacity == 1 << 16  # opening keeps the stored geometry
            assert q.peer_pids() == [os.getpid()]
            other.push(b"shared")
        assert q.pop(timeout=1) == b"shared"
    wq.remove(name)
    with pytest.raises(wq.NotFound):
        wq.remove(name)


def _push_from_child(q):
    q.push(b"from %d" % os.getpid())


def test_a_queue_passed_to_a_multiprocessing_child_opens_the_same_queue(qname):
    with wq.Queue(qname, capacity=4096) as q:
        child = multiprocessing.get_context("spawn").Process(target=_push_from_child, args=(q,))
        child.start()
        child.join(60)
        assert child.exitcode == 0
        assert q.pop(timeout=1) == b"from %d" % child.pid
        assert pickle.loads(pickle.dumps(q)).name == q.name


def test_closed_handle_raises_value_error(qname):
    q = wq.Queue(qname, capacity=4096)
    with q:
        assert not q.closed
    assert q.closed and "closed" in repr(q)
    with pytest.raises(ValueError):
        q.push(b"x")
    q.close()  # again: nothing


def test_timeouts(qname):
    with wq.Queue(qname, capacity=64) as q:
        t0 = time.monotonic()
        with pytest.raises(wq.Empty):
            q.pop(timeout=0.3)
        assert 0.29 <= time.monotonic() - t0 < 3
        t0 = time.monotonic()
        with pytest.raises(wq.Empty):
            q.pop(timeout=0)
        with pytest.raises(wq.Empty):
            q.pop_leased(timeout=0.05)
        while q.try_push(b"12345678"):
            pass
        with pytest.raises(wq.Full):
            q.push(b"12345678", timeout=0)
        assert time.monotonic() - t0 < 1
        t0 = time.monotonic()
        with pytest.raises(wq.Full):
            q.push(b"12345678", timeout=0.2)
        assert 0.19 <= time.monotonic() - t0 < 3
        with pytest.raises(ValueError):
            q.pop(timeout=-1)
        with pytest.raises(ValueError):
            q.pop_leased(lease=-1)


def test_a_blocked_pop_releases_the_gil(qname):
    """While one thread waits in pop(), another runs Python code at full
    speed: were the GIL held, the counting loop could not finish before the
    pop returns (after 10 s)."""
    with wq.Queue(qname, capacity=4096) as q:
        got = []
        waiter = threading.Thread(target=lambda: got.append(q.pop(timeout=10)))
        waiter.start()
        time.sleep(0.1)
        t0 = time.monotonic()
        n = 0
        while time.monotonic() - t0 < 0.5:
            n += 1
        assert waiter.is_alive() and not got
        assert time.monotonic() - t0 < 2, "the counting thread was held up"
        assert n > 10_000
        q.push(b"wake up")
        waiter.join(5)
        assert got == [b"wake up"]


def test_interrupt_ends_waits_of_this_handle(qname):
    with wq.Queue(qname, capacity=4096) as q:
        errors = []

        def wait():
            try:
                q.pop()
            except wq.Interrupted as e:
                errors.append(e)

        waiter = threading.Thread(target=wait)
        waiter.start()
        time.sleep(0.1)
        q.interrupt()
        waiter.join(5)
        assert not waiter.is_alive() and len(errors) == 1
        assert errors[0].status == "WQ_INTERRUPTED"
        q.push(b"last")
        assert q.pop() == b"last"  # no wait needed: it succeeds
        with pytest.raises(wq.Interrupted):
            q.pop()
        q.interrupt_clear()
        with pytest.raises(wq.Empty):
            q.pop(timeout=0.01)


def test_leased_with_block_acks_on_success(qname):
    with wq.Queue(qname, capacity=4096) as q:
        q.push(b"job")
        with q.pop_leased(lease=30, timeout=1) as task:
            assert (task.data, bytes(task), len(task), task.deliveries) == (b"job", b"job", 3, 1)
            assert q.stats().len == 1 and q.try_pop() is None  # invisible to other pops
        assert q.stats().len == 0
        assert q.lease_stats().acked_total == 1
        with pytest.raises(wq.LeaseEnded) as e:
            task.ack()
        assert e.value.token == task.token


def test_leased_with_block_nacks_on_exception(qname):
    with wq.Queue(qname, capacity=4096) as q:
        q.push(b"job")
        with pytest.raises(ZeroDivisionError):
            with q.pop_leased() as task:
                1 / 0
        assert q.lease_stats().nacked_total == 1
        again = q.pop_leased(timeout=1)
        assert (again.data, again.deliveries) == (b"job", 2)
        again.ack()


def test_an_unsettled_task_is_given_back_when_dropped(qname):
    with wq.Queue(qname, capacity=4096) as q:
        q.push(b"job")
        task = q.try_pop_leased()
        assert task is not None and q.try_pop_leased() is None
        del task
        task = q.try_pop_leased()
        assert task.deliveries == 2
        task.nack()
        assert q.pop(timeout=1) == b"job"  # a plain pop takes a given-back message


def test_a_lease_that_runs_out_goes_to_the_next_worker(qname):
    with wq.Queue(qname, capacity=4096) as q:
        q.push(b"slow job")
        first = q.pop_leased(lease=0.2)
        first.extend(0.3)  # now ends 0.3 s from here
        t0 = time.monotonic()
        second = q.pop_leased(timeout=5)
        assert time.monotonic() - t0 >= 0.25
        assert (second.data, second.deliveries) == (b"slow job", 2)
        with pytest.raises(wq.LeaseEnded):
            first.ack()
        second.ack()
        assert q.lease_stats().expired_total == 1
