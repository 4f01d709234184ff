"""asyncio: await q.pop_async() waits on the queue's readiness descriptor in
the event loop (loop.add_reader), which keeps running other tasks."""

import asyncio
import time

import pytest

import wq


def test_pop_async_gets_what_another_process_pushes_while_the_loop_runs(names, spawn):
    name = names("aio")
    with wq.Queue(name, capacity=4096) as q:

        async def main():
            ticks = 0

            async def ticker():
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            t = asyncio.create_task(ticker())
            spawn.role("push-after", name, 0.3, "first", "second")
            got = [await q.pop_async(timeout=30), await q.pop_async(timeout=30)]
            t.cancel()
            return got, ticks

        got, ticks = asyncio.run(main())
        assert got == [b"first", b"second"]
        assert ticks >= 20, "the loop was blocked while pop_async waited"


def test_pop_async_timeout_raises_empty_and_leaves_no_reader(qname):
    with wq.Queue(qname, capacity=4096) as q:

        async def main():
            t0 = time.monotonic()
            with pytest.raises(wq.Empty):
                await q.pop_async(timeout=0.2)
            assert 0.19 <= time.monotonic() - t0 < 3
            # No reader is left registered: registering one now works and
            # removing it says it was there.
            loop = asyncio.get_running_loop()
            loop.add_reader(q.fileno(), lambda: None)
            assert loop.remove_reader(q.fileno())

        asyncio.run(main())


def test_concurrent_waiters_on_one_queue_each_get_a_message(qname):
    with wq.Queue(qname, capacity=4096) as q:

        async def main():
            waiters = [asyncio.create_task(q.pop_async(timeout=10)) for _ in range(3)]
            await asyncio.sleep(0.05)
            for m in (b"a", b"b", b"c"):
                q.push(m)
                await asyncio.sleep(0.01)
            return sorted(await asyncio.gather(*waiters))

        assert asyncio.run(main()) == [b"a", b"b", b"c"]


def test_pop_leased_async(qname):
    with wq.Queue(qname, capacity=4096) as q:

        async def main():
            later = asyncio.get_running_loop().call_later(0.1, q.push, b"job")
            with await q.pop_leased_async(lease=30, timeout=10) as task:
                assert (task.data, task.deliveries) == (b"job", 1)
            later.cancel()

        asyncio.run(main())
        assert q.stats().len == 0 and q.lease_stats().acked_total == 1
