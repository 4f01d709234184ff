"""Child processes of the tests: python roles.py ROLE QUEUE [ARGS...].

Each role opens the existing queue QUEUE and reports on stdout, one line
per step, flushed, so that the test can act between steps.
"""

import os
import signal
import sys
import time

import wq


def say(*words):
    """One line on stdout in one write(2), so a kill never leaves half of it."""
    os.write(1, (" ".join(map(str, words)) + "\n").encode())


def lease_hold(q):
    """Leases one message, says so, then holds it until killed."""
    task = q.pop_leased(timeout=30)
    say("leased", task.data.hex(), task.deliveries)
    time.sleep(300)


def lease_ack(q):
    """Leases one message, says so, acks it."""
    with q.pop_leased(timeout=30) as task:
        say("leased", task.data.hex(), task.deliveries)
    say("acked")


def lease_worker(q):
    """Leases messages until none comes for 2 s, acking each after a short
    'work'; says 'got' when it has one and 'acked' when it acked it."""
    while True:
        try:
            task = q.pop_leased(timeout=2)
        except wq.Empty:
            say("drained")
            return
        with task:
            say("got", task.data.decode(), task.deliveries)
            time.sleep(0.002)
        say("acked", task.data.decode())


def block(q, op):
    """Says 'ready', then waits for ever in `op` (pop, pop_leased, push on a
    full queue); Ctrl-C must end the wait with KeyboardInterrupt."""
    if op == "push":
        while q.try_push(b"x" * 8):
            pass
    call = {"pop": q.pop, "pop_leased": q.pop_leased, "push": lambda: q.push(b"x" * 8)}[op]
    # Python raises KeyboardInterrupt only where SIGINT was not ignored at
    # its start, which a job started with '&' by a non-interactive shell
    # (a CI runner) inherits: ask for it explicitly.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    say("ready")
    try:
        call()
    except KeyboardInterrupt:
        say("KeyboardInterrupt")
        return
    say("returned")
    sys.exit(1)


def push_after(q, delay, *msgs):
    """Pushes each message after `delay` seconds."""
    for m in msgs:
        time.sleep(float(delay))
        q.push(m.encode())
    say("pushed")


ROLES = {"lease-hold": lease_hold, "lease-ack": lease_ack, "lease-worker": lease_worker, "block": block,
         "push-after": push_after}

if __name__ == "__main__":
    role, name, *args = sys.argv[1:]
    with wq.Queue(name, create=False) as queue:
        ROLES[role](queue, *args)
