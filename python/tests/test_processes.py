"""Python workers as real processes: a worker SIGKILLed while it holds a
lease loses no task (another worker gets it, delivered twice), and Ctrl-C
(SIGINT) ends a blocking wait with KeyboardInterrupt."""

import os
import random
import signal
import time

import pytest

import wq


@pytest.mark.parametrize("round", range(3))
def test_a_task_of_a_worker_killed_mid_lease_goes_to_another_worker(names, spawn, round):
    name = names("kill")
    with wq.Queue(name, capacity=1 << 16) as q:
        q.push(b"task %d" % round)
        holder = spawn.role("lease-hold", name)
        assert holder.line("leased") == f"leased {(b'task %d' % round).hex()} 1"
        assert q.lease_stats().leased == 1 and q.try_pop() is None
        os.kill(holder.proc.pid, signal.SIGKILL)
        assert holder.wait() == -signal.SIGKILL
        taker = spawn.role("lease-ack", name)
        assert taker.line("leased") == f"leased {(b'task %d' % round).hex()} 2"
        taker.line("acked")
        assert taker.wait() == 0
        assert q.stats().len == 0
        assert q.lease_stats().abandoned_total == 1


def test_workers_killed_at_random_moments_lose_no_task(names, spawn):
    """Workers lease and ack 1000 tasks one by one; each of the first three
    is SIGKILLed after a random 50-300 ms, wherever it is, and the fourth
    drains the rest. No task is lost or acked twice (the queue counts 1000
    acks and is empty); a task comes again (delivery 2, or more if the
    next worker was killed with it too) only from a killed worker: one it
    said it was given and never said it acked, or one it was killed with
    before it could say so."""
    name = names("chaos")
    tasks = [str(i) for i in range(1000)]
    acked, redelivered, said_got, killed_got = [], [], set(), set()
    with wq.Queue(name, capacity=1 << 16) as q:
        q.push_batch([t.encode() for t in tasks])
        for w in range(4):
            worker = spawn.role("lease-worker", name)
            kill_at = time.monotonic() + random.uniform(0.05, 0.3) if w < 3 else None
            given = None  # the task it was given and has not said it acked
            while (line := worker.lines.get(timeout=60)) not in (None, "drained"):
                word, task, *rest = line.split()
                if word == "got":
                    if rest != ["1"]:
                        redelivered.append((task, rest, task in said_got))
                    given = task
                    said_got.add(task)
                else:
                    acked.append(task)
                    given = None
                if kill_at is not None and time.monotonic() >= kill_at:
                    os.kill(worker.proc.pid, signal.SIGKILL)
                    kill_at = None
            assert worker.wait() == (0 if w == 3 else -signal.SIGKILL)
            if given is not None:  # killed holding it, or between its ack and saying so
                killed_got.add(given)
        assert len(acked) == len(set(acked)), "no task acked twice"
        assert set(tasks) - set(acked) <= killed_got, "every task acked, or acked just before a kill"
        for task, deliveries, said in redelivered:
            assert 2 <= int(deliveries[0]) <= 4 and (task in killed_got or not said), (task, deliveries)
        assert len(redelivered) <= 3
        assert q.stats().len == 0
        s = q.lease_stats()
        assert (s.acked_total, s.abandoned_total) == (1000, len(redelivered))


@pytest.mark.parametrize("op", ["pop", "pop_leased", "push"])
def test_ctrl_c_ends_a_blocking_call_with_keyboard_interrupt(names, spawn, op):
    name = names("sigint")
    with wq.Queue(name, capacity=4096):
        child = spawn.role("block", name, op)
        child.line("ready")
        time.sleep(0.3)  # well inside the wait
        t0 = time.monotonic()
        child.proc.send_signal(signal.SIGINT)
        child.line("KeyboardInterrupt", timeout=10)
        assert child.wait() == 0
        assert time.monotonic() - t0 < 2
