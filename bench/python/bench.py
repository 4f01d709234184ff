#!/usr/bin/env python3
"""Python producer -> Python consumer, one process each, 8 B and 1 KiB
messages: wq against multiprocessing.Queue and faster-fifo, in one run.

Started by bench/python/run.sh (which installs wq and faster-fifo into a
venv). The producer runs on CPU 0, the consumer on CPU 1; implementations
are interleaved (A B C A B C ...) over the repetitions and the table gives
medians and ratios against multiprocessing.Queue. Every message starts
with its sequence number (8 bytes, little-endian); the consumer checks that
each arrives once, in order, and the run fails otherwise.
"""

import argparse
import datetime
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time

import faster_fifo

import wq

PROD_CPU, CONS_CPU = 0, 1
SIZES = [(8, "8 B"), (1024, "1 KiB")]
BASE = "multiprocessing.Queue"
# Messages per run at --scale 1: rates, so the slower get fewer.
COUNTS = {"wq": 1_000_000, "wq batch64": 2_000_000, "faster-fifo": 400_000, "faster-fifo raw": 400_000,
          "faster-fifo raw many64": 1_000_000, BASE: 200_000}
BATCH = 64


def raw_dumps(msg):
    return msg


def raw_loads(view):
    return bytes(view)


class Impl:
    """One queue implementation: make() in the parent, handles passed to
    the two child processes, put/get loops there."""

    def __init__(self, name, prefix):
        self.name, self.prefix = name, prefix

    def make(self, run, size):
        if self.name.startswith("wq"):
            qname = f"{self.prefix}-{run}"
            wq.Queue(qname, create=True).close()  # default 32 MiB
            return qname
        if self.name == BASE:
            return mp.get_context("fork").Queue()
        if self.name == "faster-fifo":
            return faster_fifo.Queue(max_size_bytes=32 << 20)
        return faster_fifo.Queue(max_size_bytes=32 << 20, loads=raw_loads, dumps=raw_dumps)

    def cleanup(self, handle):
        if self.name.startswith("wq"):
            try:
                wq.remove(handle)
            except wq.NotFound:
                pass

    def produce(self, handle, n, size):
        pad = bytes(size - 8)
        msgs = (i.to_bytes(8, "little") + pad for i in range(n))
        if self.name == "wq":
            with wq.Queue(handle, create=False) as q:
                push = q.push
                for m in msgs:
                    push(m)
        elif self.name == "wq batch64":
            with wq.Queue(handle, create=False) as q:
                batch = []
                for m in msgs:
                    batch.append(m)
                    if len(batch) == BATCH:
                        while batch:
                            del batch[:q.push_batch(batch)]
                while batch:
                    del batch[:q.push_batch(batch)]
        elif self.name.endswith("many64"):
            batch = []
            for m in msgs:
                batch.append(m)
                if len(batch) == BATCH:
                    handle.put_many(batch, True, 60)
                    batch = []
            if batch:
                handle.put_many(batch, True, 60)
        else:
            put = handle.put
            for m in msgs:
                put(m, True, 60)

    def consume(self, handle, n):
        """Pops n messages; returns the number out of order."""
        bad = 0
        if self.name.startswith("wq"):
            with wq.Queue(handle, create=False) as q:
                if self.name == "wq":
                    pop = q.pop
                    for i in range(n):
                        if int.from_bytes(pop(60)[:8], "little") != i:
                            bad += 1
                else:
                    i = 0
                    while i < n:
                        for m in q.pop_batch(BATCH, 60):
                            if int.from_bytes(m[:8], "little") != i:
                                bad += 1
                            i += 1
        elif self.name.endswith("many64"):
            i = 0
            while i < n:
                for m in handle.get_many(True, 60, BATCH):
                    if int.from_bytes(m[:8], "little") != i:
                        bad += 1
                    i += 1
        else:
            get = handle.get
            for i in range(n):
                if int.from_bytes(get(True, 60)[:8], "little") != i:
                    bad += 1
        return bad


def producer(impl, handle, n, size, start, out):
    os.sched_setaffinity(0, {PROD_CPU})
    start.wait()
    t0 = time.monotonic_ns()
    impl.produce(handle, n, size)
    out.send(t0)


def consumer(impl, handle, n, ready, out):
    os.sched_setaffinity(0, {CONS_CPU})
    ready.set()
    bad = impl.consume(handle, n)
    out.send((time.monotonic_ns(), bad))


def run_once(impl, run, size, n):
    ctx = mp.get_context("fork")
    handle = impl.make(run, size)
    try:
        ready = ctx.Event()
        pr, pw = ctx.Pipe(False)
        cr, cw = ctx.Pipe(False)
        cons = ctx.Process(target=consumer, args=(impl, handle, n, ready, cw))
        prod = ctx.Process(target=producer, args=(impl, handle, n, size, ready, pw))
        cons.start()
        ready.wait(30)
        prod.start()
        if not pr.poll(300) or not cr.poll(300):
            raise RuntimeError(f"{impl.name} {size} B: no result within 300 s")
        t0 = pr.recv()
        t1, bad = cr.recv()
        prod.join(30)
        cons.join(30)
        if bad or prod.exitcode or cons.exitcode:
            raise RuntimeError(f"{impl.name} {size} B: {bad} messages out of order, exit codes "
                               f"{prod.exitcode} {cons.exitcode}")
        return n / ((t1 - t0) / 1e9)
    finally:
        for p in ("prod", "cons"):
            proc = locals().get(p)
            if proc is not None and proc.is_alive():
                proc.kill()
                proc.join()
        impl.cleanup(handle)


def fmt(rate):
    return f"{rate / 1e6:.3f} M" if rate >= 1e5 else f"{rate / 1e3:.1f} k"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies message counts")
    ap.add_argument("--prefix", default=f"wqb-{os.getpid()}-py")
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--command", default="bench/run.sh --only py")
    args = ap.parse_args()
    if len(os.sched_getaffinity(0)) < 2:
        sys.exit("bench.py: needs 2 CPUs (producer and consumer are pinned apart)")
    impls = [Impl(n, args.prefix) for n in COUNTS]
    load = os.getloadavg()
    started = time.time()
    runs = 0
    rates = {(i.name, s): [] for i in impls for s, _ in SIZES}
    for rep in range(args.reps):
        for size, label in SIZES:
            for impl in impls:
                n = max(1000, int(COUNTS[impl.name] * args.scale * (0.5 if size > 8 else 1)))
                r = run_once(impl, runs, size, n)
                runs += 1
                rates[(impl.name, size)].append(r)
                print(f"  rep {rep + 1} {label:6} {impl.name:22} {fmt(r):>10}/s", flush=True)
    elapsed = time.time() - started

    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    with open("/proc/cpuinfo") as f:
        cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "?")
    import importlib.metadata as md
    lines = [
        "# wq Python benchmark results\n",
        f"- Date: {date}",
        f"- Machine: {cpu}, {os.cpu_count()} CPUs, Linux {platform.release()}",
        f"- Python {platform.python_version()}; wq {wq.__version__} (release build), "
        f"faster-fifo {md.version('faster-fifo')}",
        f"- Load average before the run: {' '.join(f'{x:.2f}' for x in load)}; run took {elapsed:.0f} s",
        f"- Command: `{args.command}` ({args.reps} repetitions, interleaved; medians)",
        "- One producer process (CPU 0) → one consumer process (CPU 1), both Python; every message "
        "carries its sequence number, checked by the consumer",
        "- wq: `push` / `pop` (blocking); wq batch64: `push_batch` / `pop_batch` of 64; "
        "multiprocessing.Queue and faster-fifo: `put` / `get` (pickled bytes); "
        "faster-fifo raw: the same without pickle (identity `dumps`/`loads`); "
        "faster-fifo raw many64: `put_many` / `get_many` of 64, without pickle",
        "",
        "| size | implementation | messages/s (median) | vs multiprocessing.Queue | runs |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    for size, label in SIZES:
        base = statistics.median(rates[(BASE, size)])
        for impl in impls:
            vals = rates[(impl.name, size)]
            med = statistics.median(vals)
            lines.append(f"| {label} | {impl.name} | {fmt(med)} | {med / base:.2f}× | "
                         f"{', '.join(fmt(v) for v in vals)} |")
    lines.append("")
    lines.append("Target: wq ≥ 5× multiprocessing.Queue at 8 B and 1 KiB: " + ", ".join(
        f"{label} {statistics.median(rates[('wq', s)]) / statistics.median(rates[(BASE, s)]):.1f}× "
        f"({'met' if statistics.median(rates[('wq', s)]) >= 5 * statistics.median(rates[(BASE, s)]) else 'NOT met'})"
        for s, label in SIZES))
    md_text = "\n".join(lines) + "\n"
    out = os.path.join(args.out, "RESULTS.md")
    with open(out, "w") as f:
        f.write(md_text)
    print()
    print(md_text)
    print(f"(written to {out})")


if __name__ == "__main__":
    main()
