#!/usr/bin/env python3
"""Runs the wq benchmark workloads (see bench/README.md); started by bench/run.sh.

Every role runs as its own process, pinned with taskset: producers (and the
ping side) on CPU 0, consumers (and the pong side) on CPU 1. Implementations
are interleaved (A B C A B C ...) over several repetitions; the table reports
medians and ratios against the Boost recipe measured in the same run.
"""

import argparse
import datetime
import itertools
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

PROD_CPU, CONS_CPU = "0", "1"
IMPLS = ["wq-c", "wq-rust", "boost-recipe", "boost-mq", "posix-mq", "pipe"]
# iceoryx2's publish-subscribe (bench/iox): a subscriber asleep on an event
# listener, or polling. One subscriber per service, so only the 1p→1c rows.
IOX = ["iceoryx2", "iceoryx2-spin"]
PEERS = IMPLS + IOX
BASE = "boost-recipe"
# The message-size sweep; posix-mq stops at 64 KiB (fs.mqueue.msgsize_max
# and RLIMIT_MSGQUEUE).
SWEEP_SIZES = [8, 64, 512, 4096, 65536, 1 << 20]
# The producers x consumers sweep: 1..4 producer x 1..4 consumer processes, 8 B.
PC_RANGE = range(1, 5)
PC_IMPLS = ["wq-c", BASE]
# The `lease` workload's rows: (key, label, message size, messages per producer, producers = consumers).
LEASE_GROUPS = [
    ("lease8", "1p→1c, 8 B; leased: pop under a lease, then ack", 8, 2_000_000, 1),
    ("lease1k", "1p→1c, 1 KiB; leased: pop under a lease, then ack", 1024, 600_000, 1),
    ("lease2p2c8", "2p→2c, 8 B; leased: pop under a lease, then ack", 8, 1_000_000, 2),
    ("lease2p2c1k", "2p→2c, 1 KiB; leased: pop under a lease, then ack", 1024, 300_000, 2),
]


class Bench:
    def __init__(self, args):
        self.args = args
        self.cbench = args.cbench
        self.rbench = args.rbench
        self.iox = args.iox
        self.prefix = args.prefix or f"wqb-{os.getpid()}"
        self.counter = itertools.count()
        self.names = []

    # ------------------------------------------------------------ processes
    def cmd(self, impl, role, name, cpu, **kv):
        exe = self.rbench if impl == "wq-rust" else self.iox if impl in IOX else self.cbench
        return ["taskset", "-c", cpu, exe, impl, role, name] + [f"{k}={v}" for k, v in kv.items()]

    def spawn(self, argv, fds=(), wrap=None):
        if wrap:
            argv = wrap() + argv
        return subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, pass_fds=fds)

    @staticmethod
    def wait_ready(p):
        line = p.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"{p.args}: expected 'ready', got {line!r}")

    @staticmethod
    def result(p, timeout=120):
        try:
            out, _ = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            raise RuntimeError(f"{p.args}: timed out")
        if p.returncode != 0:
            raise RuntimeError(f"{p.args}: exit status {p.returncode}")
        for line in out.splitlines():
            if line.startswith("result"):
                return dict(kv.split("=", 1) for kv in line.split()[1:])
        raise RuntimeError(f"{p.args}: no result line in {out!r}")

    def new_name(self):
        name = f"{self.prefix}-{next(self.counter)}"
        self.names.append(name)
        return name

    def reap(self, procs, fds, impl, name):
        """Kills what is still running of a workload, closes its pipe ends
        and removes its queues (also after a failure)."""
        for p in procs:
            p.kill()
            p.wait()
        for fd in fds:
            os.close(fd)
        self.cleanup(impl, name)

    def cleanup(self, impl, name):
        subprocess.run(self.cmd(impl, "cleanup", name, PROD_CPU), check=False)

    def pipe_fds(self):
        r, w = os.pipe()
        try:
            import fcntl
            fcntl.fcntl(w, 1031, 1 << 20)  # F_SETPIPE_SZ: 1 MiB, the default maximum
        except OSError:
            pass
        return r, w

    # ------------------------------------------------------------ workloads
    def recipe_capacity(self, size, total):
        # The recipe's deque is unbounded: give its segment room for the
        # whole run (a producer may run ahead of the consumer).
        return max(64 << 20, int(total * (size + 16) * 1.3) + (16 << 20))

    def throughput(self, impl, size, n, producers=1, consumers=1, batch=1, wrap=None, cons_role="cons",
                   lease=False, extra=None):
        """Messages per second from the first push to the last pop; `cons_role`
        "fdcons" is a consumer that waits in epoll on the queue's descriptor;
        `lease`: consumers pop under a lease and ack each message; `extra`:
        more arguments for both sides (wq-rust's `fill`, `zc`)."""
        name = self.new_name()
        kv = dict(size=size, **(extra or {}))
        if impl == BASE:
            kv["capacity"] = self.recipe_capacity(size, n * producers)
        fds = None
        if impl == "pipe":
            fds = self.pipe_fds()
        procs = []
        try:
            cons = []
            # Every producer ends with one stop message per consumer, and
            # every consumer stops at its `producers`-th: the queues are
            # FIFO, so the last stop popped comes after every message, and
            # no consumer can be left without its stops.
            for _ in range(consumers):
                ckv = dict(kv, consumers=consumers, batch=batch, stops=producers)
                if lease:
                    ckv["lease"] = 1
                pf = ()
                if fds:
                    ckv["rfd"] = fds[0]
                    pf = (fds[0],)
                p = self.spawn(self.cmd(impl, cons_role, name, CONS_CPU, **ckv), pf, wrap)
                procs.append(p)
                self.wait_ready(p)
                cons.append(p)
            prods = []
            for i in range(producers):
                pkv = dict(kv, n=n, id=i, stops=consumers, batch=batch)
                pf = ()
                if fds:
                    pkv["wfd"] = fds[1]
                    pf = (fds[1],)
                p = self.spawn(self.cmd(impl, "prod", name, PROD_CPU, **pkv), pf, wrap)
                procs.append(p)
                prods.append(p)
            if fds:
                os.close(fds[0])
                os.close(fds[1])
                fds = None
            pres = [self.result(p) for p in prods]
            cres = [self.result(p) for p in cons]
            procs = []
        finally:
            self.reap(procs, fds or (), impl, name)
        count = sum(int(r["count"]) for r in cres)
        ssum = sum(int(r["sum"]) for r in cres)
        bad = sum(int(r["bad"]) for r in cres)
        if bad or count != n * producers or ssum != producers * (n * (n - 1) // 2):
            raise RuntimeError(f"{impl}: sequence check failed: count {count}, bad {bad}")
        t0 = min(int(r["t_start"]) for r in pres)
        t1 = max(int(r["t_end"]) for r in cres)
        return count / ((t1 - t0) / 1e9) if count else 0.0

    def pingpong(self, impl, n, size=8):
        name = self.new_name()
        kv = dict(size=size)
        procs = []
        pa = pb = None
        try:
            pong_fds = ping_fds = ()
            if impl == "pipe":
                pa, pb = self.pipe_fds(), self.pipe_fds()
                pong_fds = (pa[0], pb[1])
                ping_fds = (pb[0], pa[1])
            pong = self.spawn(self.cmd(impl, "pong", name, CONS_CPU, **kv,
                                       **({"rfd": pa[0], "wfd": pb[1]} if pa else {})), pong_fds)
            procs.append(pong)
            self.wait_ready(pong)
            ping = self.spawn(self.cmd(impl, "ping", name, PROD_CPU, **kv, n=n,
                                       **({"rfd": pb[0], "wfd": pa[1]} if pa else {})), ping_fds)
            procs.append(ping)
            for fd in (pa or ()) + (pb or ()):
                os.close(fd)
            pa = pb = None
            res = self.result(ping)
            self.result(pong)
            procs = []
        finally:
            self.reap(procs, (pa or ()) + (pb or ()), impl, name)
        if int(res["bad"]):
            raise RuntimeError(f"{impl}: ping-pong sequence check failed")
        return {k: int(res[k]) / 1000 for k in ("p50", "p99", "p999", "max")}

    def wake(self, impl, n, gap_us=200):
        """Push -> return from epoll_wait and pop, in µs, of an event-loop
        consumer woken by pushes `gap_us` apart (it sleeps between them)."""
        name = self.new_name()
        kv = dict(size=16)
        procs = []
        try:
            c = self.spawn(self.cmd(impl, "fdwake", name, CONS_CPU, **kv))
            procs.append(c)
            self.wait_ready(c)
            p = self.spawn(self.cmd(impl, "prod", name, PROD_CPU, **kv, n=n, stamp=1, gap_us=gap_us))
            procs.append(p)
            self.result(p)
            res = self.result(c)
            procs = []
        finally:
            self.reap(procs, (), impl, name)
        return {k: int(res[k]) / 1000 for k in ("p50", "p99", "max")}

    def idle(self, impl, secs):
        """CPU ms of a consumer blocked `secs` seconds until one push comes."""
        name = self.new_name()
        kv = dict(size=8)
        fds = self.pipe_fds() if impl == "pipe" else None
        procs = []
        try:
            p = self.spawn(self.cmd(impl, "idle", name, CONS_CPU, **kv,
                                    **({"rfd": fds[0]} if fds else {})), (fds[0],) if fds else ())
            procs.append(p)
            self.wait_ready(p)
            q = self.spawn(self.cmd(impl, "prod", name, PROD_CPU, **kv, n=0, delay_ms=int(secs * 1000),
                                    **({"wfd": fds[1]} if fds else {})), (fds[1],) if fds else ())
            procs.append(q)
            if fds:
                os.close(fds[0])
                os.close(fds[1])
                fds = None
            self.result(q)
            res = self.result(p)
            procs = []
        finally:
            self.reap(procs, fds or (), impl, name)
        return int(res["cpu_ns"]) / 1e6

    def single(self, impl, n):
        """The recipe's pattern in one process (create, push n, pop n, open again): ms each."""
        name = self.new_name()
        try:
            p = self.spawn(self.cmd(impl, "single", name, PROD_CPU, size=8, n=n))
            r = self.result(p)
        finally:
            self.reap([], (), impl, name)
        if int(r["bad"]):
            raise RuntimeError(f"{impl}: single-process pattern popped {r['bad']} wrong tasks")
        return {k: int(r[k + "_ns"]) / 1e6 for k in ("create", "push", "pop", "reopen")}

    def calib(self):
        """The machine's cross-core cache-line round trip (threads on CPU 0
        and CPU 1): {"rtt_ns": median, "min_ns": minimum} of 21 batches."""
        n = 2000 if self.args.smoke else 20_000
        out = subprocess.run([self.cbench, "-", "calib", "-", f"n={n}"], check=True, capture_output=True,
                             text=True).stdout
        return {k: int(re.search(rf"{k}=(\d+)", out).group(1)) for k in ("rtt_ns", "min_ns")}

    def memcpy(self, size):
        out = subprocess.run(["taskset", "-c", CONS_CPU, self.cbench, "-", "memcpy", "-", f"size={size}"],
                             check=True, capture_output=True, text=True).stdout
        return float(re.search(r"bytes_per_s=(\S+)", out).group(1))

    def syscalls(self, impl, n):
        """Syscalls (and futex calls) per message of a 1p1c 8 B run with each
        process under `strace -f -c`, less a run of 0 messages (process
        start-up and opening the queue)."""
        def count(n):
            files = []

            def wrap():
                files.append(f"/tmp/{self.prefix}-strace-{len(files)}.txt")
                return ["strace", "-f", "-c", "-o", files[-1]]
            try:
                self.throughput(impl, 8, n, wrap=wrap)
                total = futex = 0
                for f in files:
                    t, fu = parse_strace(f)
                    total += t
                    futex += fu
                return total, futex
            finally:
                for f in files:
                    if os.path.exists(f):
                        os.unlink(f)
        t_n, f_n = count(n)
        t_0, f_0 = count(0)
        return (t_n - t_0) / n, (f_n - f_0) / n


def parse_strace(path):
    total = futex = 0
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 5 and parts[-1] == "total":
                total = int(parts[3])
            elif len(parts) >= 5 and parts[-1] == "futex":
                futex = int(parts[3])
    return total, futex


def median(xs):
    return statistics.median(xs)


def fmt_rate(x):
    return f"{x / 1e6:.2f} M/s"


def fmt_calib(c):
    return f"cross-core cache-line round trip (CPU 0 <-> CPU 1) {c['rtt_ns']} ns (median; min {c['min_ns']} ns)"


def human(size):
    """8 -> "8 B", 65536 -> "64 KiB", 1 << 20 -> "1 MiB"."""
    for unit, shift in (("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift} {unit}"
    return f"{size} B"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cbench", required=True)
    ap.add_argument("--rbench", required=True)
    ap.add_argument("--iox", required=True, help="the iceoryx2 bench program (bench/iox)")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies message counts")
    ap.add_argument("--out", default=None,
                    help="where RESULTS.md and results.jsonl go (default bench/; --smoke: a new temporary directory)")
    ap.add_argument("--command", default="bench/run.sh")
    ap.add_argument("--prefix", default="", help="queue name prefix (unique per run)")
    ap.add_argument("--only", default="", help="comma-separated workload keys (for development)")
    ap.add_argument("--smoke", action="store_true",
                    help="every workload once with tiny counts: checks that all runs and passes its checks")
    args = ap.parse_args()
    if args.smoke:
        args.reps, args.scale = 1, 0.01
    if args.out is None:
        args.out = tempfile.mkdtemp(prefix="wq-bench-smoke.") if args.smoke else os.path.dirname(
            os.path.abspath(__file__))
    b = Bench(args)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    try:
        run(args, b)
    except BaseException:
        # Remove whatever a failed run may have left (every kind, every name).
        for name in b.names:
            for impl in ("wq-c", "boost-recipe", "boost-mq", "posix-mq", "iceoryx2"):
                b.cleanup(impl, name)
        raise


def run(args, b):
    only = set(filter(None, args.only.split(",")))
    want = lambda key: not only or key in only
    S = args.scale
    rows = []   # (workload, impl, metric, unit, values)
    started = time.time()
    load_before = os.getloadavg()

    def slow(impl):
        # Kernel-based queues are ~5-20x slower: fewer messages keep the run short.
        return impl in ("posix-mq", "pipe", "boost-mq")

    floor = 50 if args.smoke else 1

    def count(n, impl=None, div=4):
        """`n` messages times --scale (at least a few in the smoke mode);
        `n / div` for a kernel-based `impl`."""
        return max(floor, int(n * S / (div if impl and slow(impl) else 1)))

    calib = b.calib()
    print(f"== calibration: {fmt_calib(calib)}", flush=True)

    def tp_group(key, label, size, n, impls=PEERS, producers=1, consumers=1, batch_impls=(), lease_impls=(),
                 select=None):
        """One throughput row per implementation; `batch_impls` add rows
        "IMPL batch64", `lease_impls` rows "IMPL leased" (every pop leased,
        then acked), interleaved with the others in every repetition.
        `select`: the --only key that runs it (default `key`)."""
        if not want(select or key):
            return
        res = {i: [] for i in impls}
        for i in batch_impls:
            res[i + " batch64"] = []
        for i in lease_impls:
            res[i + " leased"] = []
        for rep in range(args.reps):
            for impl in impls:
                res[impl].append(b.throughput(impl, size, count(n, impl), producers, consumers))
            for impl in batch_impls:
                res[impl + " batch64"].append(b.throughput(impl, size, count(n * 4), batch=64))
            for impl in lease_impls:
                res[impl + " leased"].append(b.throughput(impl, size, count(n), producers, consumers, lease=True))
        for impl, vals in res.items():
            rows.append(dict(workload=key, label=label, impl=impl, metric="msgs_per_s", values=vals,
                             median=median(vals), bytes_per_s=median(vals) * size))
            print(f"  {key:8} {impl:20} {fmt_rate(median(vals)):>12}  ({', '.join(fmt_rate(v) for v in vals)})",
                  flush=True)

    print(f"== wq bench, {args.reps} repetitions ==", flush=True)
    tp_group("tp8", "1p→1c, 8 B", 8, 2_000_000)
    tp_group("tp1k", "1p→1c, 1 KiB", 1024, 600_000)
    if want("tp64k"):
        mc = []
        # memcpy bandwidth measured in the same run, interleaved with the queues
        res = {i: [] for i in PEERS}
        for rep in range(args.reps):
            mc.append(b.memcpy(65536))
            for impl in PEERS:
                res[impl].append(b.throughput(impl, 65536, count(12_000, impl, 2)))
        rows.append(dict(workload="tp64k", label="memcpy 64 KiB blocks, 1 core", impl="memcpy",
                         metric="bytes_per_s", values=mc, median=median(mc), bytes_per_s=median(mc)))
        for impl, vals in res.items():
            rows.append(dict(workload="tp64k", label="1p→1c, 64 KiB", impl=impl, metric="msgs_per_s",
                             values=vals, median=median(vals), bytes_per_s=median(vals) * 65536))
            print(f"  tp64k    {impl:20} {fmt_rate(median(vals)):>12}  {median(vals) * 65536 / 1e9:.2f} GB/s", flush=True)
        print(f"  memcpy 64 KiB blocks: {median(mc) / 1e9:.2f} GB/s", flush=True)
    tp_group("tp2p2c", "2p→2c, 8 B", 8, 1_000_000, impls=IMPLS, producers=2, consumers=2)
    tp_group("batch", "1p→1c, 8 B, batches of 64", 8, 2_000_000, impls=["wq-c", "wq-rust", BASE],
             batch_impls=["wq-c", "wq-rust"])
    # At-least-once consumers: every pop under a lease that never runs out,
    # acked after the message is checked; against plain pops of the same
    # implementation and the recipe's plain pop, in the same run.
    for key, label, size, n, pc in LEASE_GROUPS:
        tp_group(key, label, size, n, impls=["wq-c", "wq-rust", BASE], producers=pc, consumers=pc,
                 lease_impls=["wq-c", "wq-rust"], select="lease")

    if want("single"):
        # The recipe's own main() in one process: 1 M tasks of 8 B pushed,
        # then popped; queue creation and a second open timed apart.
        res = {i: [] for i in ("wq-c", BASE)}
        for rep in range(args.reps):
            for impl in res:
                res[impl].append(b.single(impl, count(1_000_000)))
        for impl, vals in res.items():
            agg = {k: median([v[k] for v in vals]) for k in ("create", "push", "pop", "reopen")}
            agg["push_pop"] = median([v["push"] + v["pop"] for v in vals])
            rows.append(dict(workload="single", label="one process: 1 M × 8 B pushed, then popped (ms)",
                             impl=impl, metric="ms", values=vals, median=agg))
            print(f"  single   {impl:20} push {agg['push']:.1f} pop {agg['pop']:.1f} ms; create "
                  f"{agg['create']:.2f} ms, open {agg['reopen']:.3f} ms", flush=True)

    if want("zc"):
        # Large messages that the producer fills and the consumer reads
        # entirely: copied (push from a buffer, pop into one) against in
        # place (push_reserve + commit, pop_leased_view + ack), wq-rust;
        # and iceoryx2 in place (a loaned sample filled, read where it lies).
        modes = [("wq-rust copy", "wq-rust", dict(fill=1)), ("wq-rust zero-copy", "wq-rust", dict(zc=1))]
        modes += [(f"{i} in place", i, dict(fill=1)) for i in IOX]
        for size, n in ((65536, 20_000), (1 << 20, 1_500)):
            key = "zc64k" if size == 65536 else "zc1m"
            label = f"1p→1c, {'64 KiB' if size == 65536 else '1 MiB'}, every byte written and read"
            res = {m: [] for m, _, _ in modes}
            for rep in range(args.reps):
                for m, impl, extra in modes:
                    res[m].append(b.throughput(impl, size, count(n), extra=extra))
            for m, _, _ in modes:
                vals = res[m]
                rows.append(dict(workload=key, label=label, impl=m, metric="msgs_per_s",
                                 values=vals, median=median(vals), bytes_per_s=median(vals) * size))
                print(f"  {key:8} {m:20} {fmt_rate(median(vals)):>12}  "
                      f"{median(vals) * size / 1e9:.2f} GB/s  ({', '.join(fmt_rate(v) for v in vals)})", flush=True)

    if want("fd"):
        # Event-loop consumers (epoll on the queue's descriptor) against the
        # one peer with a pollable descriptor.
        fd_impls = ["wq-c", "posix-mq"]
        tp = {i: [] for i in fd_impls}
        wake = {i: [] for i in fd_impls}
        for rep in range(args.reps):
            for impl in fd_impls:
                tp[impl].append(b.throughput(impl, 8, count(1_000_000, impl), cons_role="fdcons"))
                wake[impl].append(b.wake(impl, count(2_000)))
        for impl in fd_impls:
            vals = tp[impl]
            rows.append(dict(workload="fdtp", label="1p→1c, 8 B, consumer waiting in epoll", impl=impl,
                             metric="msgs_per_s", values=vals, median=median(vals), bytes_per_s=median(vals) * 8))
            agg = {k: median([v[k] for v in wake[impl]]) for k in ("p50", "p99")}
            agg["max"] = max(v["max"] for v in wake[impl])
            rows.append(dict(workload="fdwake", label="push -> epoll_wait return and pop, pushes 200 µs apart",
                             impl=impl, metric="wake_us", values=wake[impl], median=agg))
            print(f"  fdtp     {impl:20} {fmt_rate(median(vals)):>12}  ({', '.join(fmt_rate(v) for v in vals)})",
                  flush=True)
            print(f"  fdwake   {impl:20} p50 {agg['p50']:.1f} p99 {agg['p99']:.1f} max {agg['max']:.1f} µs",
                  flush=True)

    # Round trips of 8 B and 64 KiB ("pingpong", "pingpong64k"; --only
    # pingpong runs both).
    for key, size, n in (("pingpong", 8, 20_000), ("pingpong64k", 65536, 5_000)):
        if not want("pingpong") and not want(key):
            continue
        res = {i: [] for i in PEERS}
        for rep in range(1 if args.smoke else max(3, args.reps // 2 + 1)):
            for impl in PEERS:
                res[impl].append(b.pingpong(impl, count(n), size))
        what = "8 B" if size == 8 else "64 KiB"
        for impl, vals in res.items():
            agg = {k: median([v[k] for v in vals]) for k in ("p50", "p99", "p999")}
            agg["max"] = max(v["max"] for v in vals)
            rows.append(dict(workload=key, label=f"ping-pong RTT, {what}, blocking pops", impl=impl,
                             metric="rtt_us", values=vals, median=agg, size=size))
            print(f"  {key:11} {impl:17} p50 {agg['p50']:.1f} p99 {agg['p99']:.1f} p99.9 {agg['p999']:.1f} "
                  f"max {agg['max']:.1f} µs", flush=True)

    if want("sizes"):
        # How cost grows with the message size: 1p→1c, every implementation
        # that takes the size; about 256 MiB (kernel-based: a quarter) a run.
        def takes(impl, size):
            return impl != "posix-mq" or size <= 65536
        sizes = [8, 4096, 1 << 20] if args.smoke else SWEEP_SIZES
        res = {(size, i): [] for size in sizes for i in PEERS if takes(i, size)}
        for rep in range(args.reps):
            for size, impl in res:
                n = min(1_000_000, (256 << 20) // size)
                res[(size, impl)].append(b.throughput(impl, size, count(n, impl)))
        for (size, impl), vals in res.items():
            rows.append(dict(workload=f"size-{size}", label=f"1p→1c, {human(size)} (size sweep)", impl=impl,
                             metric="msgs_per_s", values=vals, median=median(vals),
                             bytes_per_s=median(vals) * size, sweep="size", size=size))
            print(f"  size {human(size):>7} {impl:16} {fmt_rate(median(vals)):>12}  "
                  f"{median(vals) * size / 1e6:.0f} MB/s", flush=True)

    if want("pc"):
        # How cost grows with the number of processes: p producers (CPU 0)
        # -> c consumers (CPU 1), 8 B, 1 M messages in all a run.
        pc = [1, PC_RANGE[-1]] if args.smoke else PC_RANGE  # smoke: the corners
        res = {(p, c, i): [] for p in pc for c in pc for i in PC_IMPLS}
        for rep in range(args.reps):
            for p, c, impl in res:
                res[(p, c, impl)].append(b.throughput(impl, 8, count(1_000_000 // p), p, c))
        for (p, c, impl), vals in res.items():
            rows.append(dict(workload=f"pc-{p}x{c}", label=f"{p}p→{c}c, 8 B (producers × consumers sweep)",
                             impl=impl, metric="msgs_per_s", values=vals, median=median(vals),
                             bytes_per_s=median(vals) * 8, sweep="pc", producers=p, consumers=c))
            print(f"  pc {p}x{c} {impl:20} {fmt_rate(median(vals)):>12}", flush=True)

    if want("idle"):
        # One block of 1 s (what entering and leaving a wait costs, mostly),
        # and one of 5 s per second (what a consumer idle for long pays).
        long_secs = 2 if args.smoke else 5
        for key, secs, label in (("idle", 1, "CPU of a consumer blocked 1 s on an empty queue"),
                                 ("idle5", long_secs, f"CPU per second of a consumer blocked {long_secs} s")):
            res = {i: [] for i in IMPLS}
            for rep in range(1 if args.smoke else 2):
                for impl in IMPLS:
                    res[impl].append(b.idle(impl, secs) / secs)
            for impl, vals in res.items():
                rows.append(dict(workload=key, label=label, impl=impl, metric="cpu_ms_per_s", values=vals,
                                 median=median(vals), block_s=secs))
                print(f"  {key:8} {impl:20} {median(vals):.3f} ms CPU per s, blocked {secs} s", flush=True)

    if want("syscalls") and shutil.which("strace"):
        for impl in ["wq-c", "wq-rust", BASE]:
            per, fut = b.syscalls(impl, count(500_000))
            rows.append(dict(workload="syscalls", label="syscalls per message, 1p→1c 8 B (strace -f -c)",
                             impl=impl, metric="syscalls_per_msg", values=[per], median=per, futex_per_msg=fut))
            print(f"  syscalls {impl:20} {per:.5f} per message ({fut:.5f} futex)", flush=True)

    calib_end = b.calib()
    print(f"== calibration at the end: {fmt_calib(calib_end)}", flush=True)
    elapsed = time.time() - started
    report(args, rows, elapsed, load_before, (calib, calib_end))


def ratio(rows, workload, impl, base=BASE, key=None):
    def get(i):
        for r in rows:
            if r["workload"] == workload and r["impl"] == i:
                return r["median"] if key is None else r["median"][key]
        return None
    a, b = get(impl), get(base)
    return None if a is None or b is None or b == 0 else a / b


def report(args, rows, elapsed, load_before, calibs):
    out_md = os.path.join(args.out, "RESULTS.md")
    out_jsonl = os.path.join(args.out, "results.jsonl")
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    machine = f"{cpu}, {os.cpu_count()} CPUs, Linux {platform.release()}, glibc {platform.libc_ver()[1]}"
    boost = "?"
    try:
        with open("/usr/include/boost/version.hpp") as f:
            boost = re.search(r'BOOST_LIB_VERSION "(\S+)"', f.read()).group(1).replace("_", ".")
    except (OSError, AttributeError):
        pass

    # Targets: (description, value, goal text, met)
    targets = []

    def add(desc, value, goal, ok, fmt="{:.2f}×"):
        targets.append((desc, "n/a" if value is None else fmt.format(value), goal,
                        "n/a" if value is None else ("met" if ok(value) else "**NOT met**")))

    for impl in ("wq-c", "wq-rust"):
        add(f"1p1c 8 B, {impl} / recipe", ratio(rows, "tp8", impl), "≥ 3×", lambda v: v >= 3)
        add(f"1p1c 1 KiB, {impl} / recipe", ratio(rows, "tp1k", impl), "≥ 3×", lambda v: v >= 3)
        add(f"1p1c 1 KiB, {impl} / boost message_queue", ratio(rows, "tp1k", impl, "boost-mq"), "≥ 1.5×",
            lambda v: v >= 1.5)
        add(f"2p2c 8 B, {impl} / recipe", ratio(rows, "tp2p2c", impl), "≥ 3×", lambda v: v >= 3)
        mc = next((r["median"] for r in rows if r["workload"] == "tp64k" and r["impl"] == "memcpy"), None)
        w = next((r["bytes_per_s"] for r in rows if r["workload"] == "tp64k" and r["impl"] == impl), None)
        add(f"64 KiB, {impl} / memcpy bandwidth", None if mc is None or w is None else w / mc, "≥ 50%",
            lambda v: v >= 0.5, "{:.0%}")
        add(f"ping-pong p50, {impl} / recipe", ratio(rows, "pingpong", impl, key="p50"), "≤ 0.20×",
            lambda v: v <= 0.2, "{:.3f}×")
        add(f"ping-pong p99.9, {impl} / recipe", ratio(rows, "pingpong", impl, key="p999"), "≤ 1×",
            lambda v: v <= 1.0, "{:.3f}×")
        idle = next((r["median"] for r in rows if r["workload"] == "idle" and r["impl"] == impl), None)
        add(f"idle blocked consumer, {impl}", idle, "~0 (< 5 ms CPU per s)", lambda v: v < 5, "{:.2f} ms")
        add(f"batch-64 8 B, {impl} / recipe (single)", ratio(rows, "batch", impl + " batch64"), "≥ 10×",
            lambda v: v >= 10)
        sc = next((r for r in rows if r["workload"] == "syscalls" and r["impl"] == impl), None)
        add(f"syscalls per message 1p1c 8 B, {impl}", None if sc is None else sc["median"], "≈ 0 (< 0.01)",
            lambda v: v < 0.01, "{:.4f}")
    for key, label, size, n, pc in LEASE_GROUPS:
        what = f"{pc}p{pc}c {'8 B' if size == 8 else '1 KiB'}"
        for impl in ("wq-c", "wq-rust"):
            add(f"leased pop + ack {what}, {impl} / its plain pop", ratio(rows, key, impl + " leased", impl),
                "≥ 50%", lambda v: v >= 0.5, "{:.0%}")
            add(f"leased pop + ack {what}, {impl} / recipe (plain pop)", ratio(rows, key, impl + " leased"),
                "≥ 2×", lambda v: v >= 2)
    single = {r["impl"]: r["median"] for r in rows if r["workload"] == "single"}
    add("single process 1 M × 8 B push then pop, recipe time / wq-c time",
        single[BASE]["push_pop"] / single["wq-c"]["push_pop"] if len(single) == 2 else None, "≥ 1.5×",
        lambda v: v >= 1.5)
    # Against iceoryx2, the shared-memory IPC speed anchor (issue 12).
    for impl in ("wq-c", "wq-rust"):
        add(f"1p1c 8 B, {impl} / iceoryx2 (blocking)", ratio(rows, "tp8", impl, "iceoryx2"), "≥ 5×",
            lambda v: v >= 5)
        p50 = next((r["median"]["p50"] for r in rows if r["workload"] == "pingpong" and r["impl"] == impl), None)
        add(f"ping-pong p50, {impl}", p50, "≤ 1.0 µs", lambda v: v <= 1.0, "{:.2f} µs")
        add(f"ping-pong p50, {impl} / iceoryx2 busy-polling", ratio(rows, "pingpong", impl, "iceoryx2-spin", "p50"),
            "≤ 2×", lambda v: v <= 2)
    for key, what in (("zc64k", "64 KiB"), ("zc1m", "1 MiB")):
        add(f"zero-copy {what} (filled and read) / copying path", ratio(rows, key, "wq-rust zero-copy", "wq-rust copy"),
            "≥ 2×", lambda v: v >= 2)
    for impl in ("wq-c", "wq-rust"):
        idle5 = next((r["median"] for r in rows if r["workload"] == "idle5" and r["impl"] == impl), None)
        add(f"idle blocked consumer, {impl}, CPU per second of a long block", idle5,
            "≤ 0.1 ms CPU per s", lambda v: v <= 0.1, "{:.3f} ms")
    add("event-loop wake-up p50, wq-c / posix-mq", ratio(rows, "fdwake", "wq-c", "posix-mq", key="p50"),
        "≤ 1×", lambda v: v <= 1.0)
    add("event-loop consumer 8 B, wq-c / posix-mq", ratio(rows, "fdtp", "wq-c", "posix-mq"), "≥ 5×",
        lambda v: v >= 5)

    lines = []
    lines.append("# wq benchmark results\n")
    lines.append(f"- **Calibration**: {fmt_calib(calibs[0])} before the run; {calibs[1]['rtt_ns']} ns "
                 f"(min {calibs[1]['min_ns']} ns) after it. Every figure moves with it: compare reports of "
                 "similar calibrations")
    lines.append(f"- Date: {date}")
    lines.append(f"- Machine: {machine}")
    lines.append(f"- Load average before the run: {' '.join(f'{x:.2f}' for x in load_before)}; "
                 f"run took {elapsed:.0f} s")
    lines.append(f"- Boost {boost} (Debian libboost-dev), g++ -O2; Rust release profile")
    lines.append(f"- Command: `{args.command}` ({args.reps} repetitions, interleaved; medians)")
    lines.append("- Pinning: producers / ping on CPU 0, consumers / pong on CPU 1 (taskset)")
    lines.append("")
    lines.append("## Targets (ratios against the Boost recipe in the same run)\n")
    lines.append("| target | measured | goal | status |")
    lines.append("| --- | ---: | --- | --- |")
    for t in targets:
        lines.append(f"| {t[0]} | {t[1]} | {t[2]} | {t[3]} |")
    lines.append("")
    lines.append("## Throughput (messages/s, median; ratio = impl / Boost recipe)\n")
    lines.append("| workload | implementation | median | MB/s | vs recipe | runs |")
    lines.append("| --- | --- | ---: | ---: | ---: | --- |")
    for r in rows:
        if r["metric"] not in ("msgs_per_s", "bytes_per_s") or "sweep" in r:
            continue
        if r["metric"] == "bytes_per_s":
            lines.append(f"| {r['label']} | {r['impl']} | – | {r['median'] / 1e6:.0f} | – | "
                         f"{', '.join(f'{v / 1e6:.0f}' for v in r['values'])} MB/s |")
            continue
        base = next((x["median"] for x in rows if x["workload"] == r["workload"] and x["impl"] == BASE), None)
        rr = f"{r['median'] / base:.2f}×" if base else "–"
        lines.append(f"| {r['label']} | {r['impl']} | {r['median'] / 1e6:.2f} M | {r['bytes_per_s'] / 1e6:.0f} | "
                     f"{rr} | {', '.join(f'{v / 1e6:.2f}' for v in r['values'])} M |")
    lines.append("")
    if any(r["metric"] == "rtt_us" for r in rows):
        lines.append("## Ping-pong round trip, blocking pops (iceoryx2-spin: polling) "
                     "(µs; medians of the runs' percentiles, max of maxima)\n")
        lines.append("| size | implementation | p50 | p99 | p99.9 | max | p50 vs recipe | p99.9 vs recipe |")
        lines.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in rows:
            if r["metric"] != "rtt_us":
                continue
            m = r["median"]
            vs = [ratio(rows, r["workload"], r["impl"], key=k) for k in ("p50", "p999")]
            lines.append(f"| {human(r.get('size', 8))} | {r['impl']} | {m['p50']:.2f} | {m['p99']:.2f} | "
                         f"{m['p999']:.2f} | {m['max']:.1f} | "
                         + " | ".join("–" if v is None else f"{v:.3f}×" for v in vs) + " |")
        lines.append("")
    sizes = sorted({r["size"] for r in rows if r.get("sweep") == "size"})
    if sizes:
        lines.append("## Message-size sweep, 1p→1c (MB/s, median; plot: `plots/size.svg`)\n")
        lines.append("| implementation | " + " | ".join(human(x) for x in sizes) + " |")
        lines.append("| --- |" + " ---: |" * len(sizes))
        for impl in dict.fromkeys(r["impl"] for r in rows if r.get("sweep") == "size"):
            cells = []
            for x in sizes:
                r = next((r for r in rows if r.get("sweep") == "size" and r["size"] == x and r["impl"] == impl), None)
                cells.append("–" if r is None else f"{r['bytes_per_s'] / 1e6:.0f}")
            lines.append(f"| {impl} | " + " | ".join(cells) + " |")
        lines.append("")
    pcs = [r for r in rows if r.get("sweep") == "pc"]
    if pcs:
        lines.append("## Producers × consumers sweep, 8 B (M messages/s, median; rows: producers, columns: "
                     "consumers; plot: `plots/pc.svg`)\n")
        cs = sorted({r["consumers"] for r in pcs})
        lines.append("| implementation | producers | " + " | ".join(f"{c}c" for c in cs) + " |")
        lines.append("| --- | ---: |" + " ---: |" * len(cs))
        for impl in dict.fromkeys(r["impl"] for r in pcs):
            for p in sorted({r["producers"] for r in pcs}):
                cells = []
                for c in cs:
                    r = next((r for r in pcs if r["impl"] == impl and r["producers"] == p and r["consumers"] == c),
                             None)
                    base = ratio(rows, f"pc-{p}x{c}", impl)
                    cells.append("–" if r is None else f"{r['median'] / 1e6:.2f}"
                                 + ("" if impl == BASE or base is None else f" ({base:.1f}×)"))
                lines.append(f"| {impl} | {p}p | " + " | ".join(cells) + " |")
        lines.append("")
    def section(workload, title, header, align, row):
        """A Markdown table of the rows of one workload, if it ran."""
        picked = [r for r in rows if r["workload"] == workload]
        if picked:
            lines.extend([f"## {title}\n", header, align])
            lines.extend(row(r) for r in picked)
            lines.append("")

    section("single", "The recipe's pattern in one process: 1 M tasks of 8 B pushed, then popped (ms, medians)",
            "| implementation | push | pop | push + pop | create | open existing |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
            lambda r: f"| {r['impl']} | {r['median']['push']:.1f} | {r['median']['pop']:.1f} | "
                      f"{r['median']['push_pop']:.1f} | {r['median']['create']:.2f} | {r['median']['reopen']:.3f} |")
    section("fdwake", "Wake-up of an event-loop consumer: push -> epoll_wait return and pop (µs; medians of the runs' percentiles)",
            "| implementation | p50 | p99 | max |", "| --- | ---: | ---: | ---: |",
            lambda r: f"| {r['impl']} | {r['median']['p50']:.1f} | {r['median']['p99']:.1f} | {r['median']['max']:.1f} |")
    for key, what in (("idle", "blocked 1 s"), ("idle5", "blocked for a longer block")):
        section(key, f"CPU time per second of a consumer {what} on an empty queue",
                "| implementation | CPU ms per s (median) | runs |", "| --- | ---: | --- |",
                lambda r: f"| {r['impl']} | {r['median']:.3f} | {', '.join(f'{v:.3f}' for v in r['values'])} |")
    section("syscalls", "Syscalls per message, 1p→1c 8 B (strace -f -c on both processes, less a 0-message run)",
            "| implementation | syscalls/msg | futex/msg |", "| --- | ---: | ---: |",
            lambda r: f"| {r['impl']} | {r['median']:.5f} | {r['futex_per_msg']:.5f} |")
    md = "\n".join(lines)
    with open(out_md, "w") as f:
        f.write(md)
    with open(out_jsonl, "w") as f:
        for r in rows:
            f.write(json.dumps(dict(r, date=date, machine=machine, calib_ns=calibs[0]["rtt_ns"],
                                    calib_min_ns=calibs[0]["min_ns"], calib_end_ns=calibs[1]["rtt_ns"]),
                               ensure_ascii=False) + "\n")
    import plot  # bench/plot.py, beside this file
    if args.smoke:
        # Only whether everything ran: draw the plots too, then drop it all.
        plot.draw_all(out_jsonl, os.path.join(args.out, "plots"))
        shutil.rmtree(args.out)
        print(f"smoke: {len(rows)} rows in {elapsed:.0f} s, every run passed its checks", flush=True)
        return
    print()
    print(md)
    print(f"(written to {out_md} and {out_jsonl})")
    plot.draw_all(out_jsonl, os.path.join(args.out, "plots"))
    print("machine-readable lines:")
    with open(out_jsonl) as f:
        sys.stdout.write(f.read())


if __name__ == "__main__":
    main()
