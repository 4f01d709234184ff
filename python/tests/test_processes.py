"""Python workers as real processes: a worker SIGKILLed while it holds a
lease loses no task (another worker gets it, delivered twice), and Ctrl-C
(SIGINT) ends a blocking wait with KeyboardInterrupt."""

import os
import queue
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
    """Workers lease and ack 300 tasks one by one; each of the first three
    is SIGKILLed after a random 50-300 ms, wherever it is. Every task is
    acked exactly once, and only a task a killed worker had been given
    comes again (delivery 2)."""
    name = names("chaos")
    tasks = [str(i) for i in range(300)]
    acked, redelivered, killed_got = [], [], set()
    with wq.Queue(name, capacity=1 << 16) as q:
        q.push_batch([t.encode() for t in tasks])
        for w in range(4):
            worker = spawn.role("lease-worker", name)
            deadline = time.monotonic() + (random.uniform(0.05, 0.3) if w < 3 else 120)
            given = None
            while True:
                if w < 3 and time.monotonic() >= deadline:
                    os.kill(worker.proc.pid, signal.SIGKILL)
                    break
                try:
                    line = worker.lines.get(timeout=0.01)
                except queue.Empty:
                    continue
                if line is None or line == "drained":
                    break
                word, task, *rest = line.split()
                if word == "got":
                    given = task
                    if rest != ["1"]:
                        redelivered.append(task)
                else:
                    acked.append(task)
                    given = None
            worker.wait()
            if w < 3:
                # The kill may have come before or after the ack of the last
                # task it was given; drain what it did say.
                while (line := worker.lines.get(timeout=5)) is not None:
                    if line.startswith("acked"):
                        acked.append(line.split()[1])
                        given = None
                    elif line.startswith("got"):
                        given = line.split()[1]
                if given is not None:
                    killed_got.add(given)
        assert sorted(acked, key=int) == tasks, "every task acked exactly once"
        assert set(redelivered) <= killed_got
        assert q.stats().len == 0


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
