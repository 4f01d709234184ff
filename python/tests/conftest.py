"""Shared fixtures of the Python tests: unique queue names that are removed
whatever happens, the C library and Rust example built by cargo, C/C++
programs compiled against them, and Python child processes by role.

Queue names start with $WQ_TEST_TAG when it is set (test-all.sh checks that
no queue of its tag is left in /dev/shm).
"""

import itertools
import json
import os
import pathlib
import queue
import subprocess
import sys
import threading

import pytest

import wq

REPO = pathlib.Path(__file__).resolve().parents[2]
TAG = os.environ.get("WQ_TEST_TAG", "wqt")
ROLES = pathlib.Path(__file__).with_name("roles.py")
_counter = itertools.count()


def new_name(what):
    return f"{TAG}-py{os.getpid()}-{what}{next(_counter)}"


@pytest.fixture
def names(request):
    """names(what) -> a fresh queue name; every one is removed at teardown."""
    made = []

    def make(what="q"):
        made.append(new_name(what))
        return made[-1]

    yield make
    for n in made:
        try:
            wq.remove(n)
        except wq.NotFound:
            pass
        # A test may have made a file of this name that is no queue.
        pathlib.Path("/dev/shm", n).unlink(missing_ok=True)


@pytest.fixture
def qname(names):
    return names()


class Built:
    """What cargo built: the directory of libwq.so and the Rust consumer example."""

    def __init__(self):
        cmd = ["cargo", "build", "-p", "wq", "--example", "consumer", "--message-format=json-render-diagnostics"]
        out = subprocess.run(cmd, cwd=REPO, stdout=subprocess.PIPE, check=True, text=True).stdout
        self.lib_dir = self.consumer = None
        for line in out.splitlines():
            msg = json.loads(line)
            if msg.get("reason") != "compiler-artifact" or msg["package_id"].find("wq") < 0:
                continue
            for f in msg.get("filenames", []):
                if f.endswith("/libwq.so"):
                    self.lib_dir = pathlib.Path(f).parent
            if msg["target"]["name"] == "consumer" and msg.get("executable"):
                self.consumer = pathlib.Path(msg["executable"])
        assert self.lib_dir and self.consumer, f"cargo did not report libwq.so and the consumer example:\n{out}"

    def compile(self, tmp_path, sources, out, cpp=False, includes=()):
        """Compiles `sources` (paths relative to the repository) with warnings
        as errors against include/ and libwq.so; returns the executable."""
        exe = tmp_path / out
        cmd = ["c++", "-std=c++17"] if cpp else ["cc", "-std=c11"]
        cmd += ["-O1", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-I", str(REPO / "include")]
        for inc in includes:
            cmd += ["-I", str(REPO / inc)]
        cmd += [str(REPO / s) for s in sources]
        cmd += ["-o", str(exe), f"-L{self.lib_dir}", f"-Wl,-rpath,{self.lib_dir}", "-lwq", "-pthread"]
        subprocess.run(cmd, check=True)
        return exe


@pytest.fixture(scope="session")
def built():
    return Built()


class Child:
    """A child process whose stdout lines are read by a thread, so that a
    test can wait for one with a timeout."""

    def __init__(self, argv, **popen):
        self.proc = subprocess.Popen(argv, text=True, stdout=subprocess.PIPE, **popen)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def line(self, prefix, timeout=30):
        """The next line of output, which must start with `prefix`."""
        try:
            got = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"{self.proc.args}: no output within {timeout} s") from None
        assert got is not None and got.startswith(prefix), f"{self.proc.args}: expected {prefix!r}, got {got!r}"
        return got

    def wait(self, timeout=60):
        """The exit status; the child is killed if it runs past `timeout`."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"{self.proc.args}: still running after {timeout} s") from None


@pytest.fixture
def spawn():
    """spawn(argv) / spawn.role(ROLE, args...) -> Child; all are killed at teardown."""
    children = []

    def start(argv, **popen):
        children.append(Child([str(a) for a in argv], **popen))
        return children[-1]

    start.role = lambda name, *args, **popen: start([sys.executable, ROLES, name, *args], **popen)
    yield start
    for c in children:
        if c.proc.poll() is None:
            c.proc.kill()
        c.proc.wait()
