"""wq: a crash-safe shared-memory work queue for processes on one Linux machine.

Processes open the same named queue (``/dev/shm/NAME``) and push and pop
byte-string messages through it: one FIFO order over all producers, every
message delivered whole and exactly once (or at least once, under a lease).
The same queue is open to C, C++ and Rust processes through wq's other APIs.

>>> import wq
>>> with wq.Queue("jobs-doc", capacity=1 << 20) as q:
...     q.push(b"resize photo 17")
...     q.pop(timeout=1.0)
b'resize photo 17'
>>> wq.remove("jobs-doc")
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Callable, NamedTuple, Optional, TypeVar

from . import _wq
from ._errors import (
    BufferTooSmall,
    Corrupted,
    Empty,
    Error,
    Exists,
    Full,
    Incompatible,
    Internal,
    Interrupted,
    InvalidArgument,
    LeaseEnded,
    MessageTooLarge,
    NotFound,
    PermissionDenied,
    SystemCallFailed,
)
from ._wq import DEFAULT_CAPACITY, DEFAULT_MODE, LEASE_LIMIT, MAX_NAME_LEN, Task, __version__, remove

__all__ = [
    "BufferTooSmall", "Corrupted", "DEFAULT_CAPACITY", "DEFAULT_MODE", "Empty", "Error", "Exists",
    "ForeignMessage", "Full", "Incompatible", "Internal", "Interrupted", "InvalidArgument", "LEASE_LIMIT", "LeaseEnded",
    "LeaseStats", "MAX_NAME_LEN", "MessageTooLarge", "NotFound", "PermissionDenied", "Queue", "Stats",
    "SystemCallFailed", "Task", "TaskQueue", "__version__", "remove",
]

_T = TypeVar("_T")


class Stats(NamedTuple):
    """A snapshot of a queue's counters (``Queue.stats()``)."""

    #: Messages queued now (leased ones included).
    len: int
    #: Bytes of ``capacity`` in use now, record headers included.
    bytes_used: int
    #: Bytes of message storage.
    capacity: int
    #: The largest message the queue takes.
    max_message_size: int
    #: Messages pushed since creation.
    pushed_total: int
    #: Messages popped since creation.
    popped_total: int
    #: Times a dead lock owner was detected and recovered.
    recoveries: int


class LeaseStats(NamedTuple):
    """A snapshot of a queue's lease counters (``Queue.lease_stats()``)."""

    #: Messages under a lease now.
    leased: int
    #: Leases ended by an ack, since creation.
    acked_total: int
    #: Leases ended by a nack.
    nacked_total: int
    #: Leases whose time ran out.
    expired_total: int
    #: Leases whose holder closed its handle or died.
    abandoned_total: int
    #: Deliveries after the first.
    redelivered_total: int


class _Readiness:
    """The waiters of one queue in one event loop: one reader on the queue's
    descriptor, registered while someone waits, wakes them all."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int) -> None:
        self.loop, self.fd = loop, fd
        self.waiters: set[asyncio.Future[None]] = set()

    def wait(self) -> asyncio.Future[None]:
        fut = self.loop.create_future()
        if not self.waiters:
            self.loop.add_reader(self.fd, self._ready)
        self.waiters.add(fut)
        return fut

    def discard(self, fut: asyncio.Future[None]) -> None:
        self.waiters.discard(fut)
        if not self.waiters:
            self.loop.remove_reader(self.fd)

    def _ready(self) -> None:
        waiters, self.waiters = self.waiters, set()
        self.loop.remove_reader(self.fd)
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)


class Queue(_wq.Queue):
    __doc__ = _wq.Queue.__doc__
    __readiness: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Readiness]

    def __reduce__(self) -> tuple[Callable[[str], "Queue"], tuple[str]]:
        """Pickled (``multiprocessing`` arguments), a handle is its name: the
        other process opens the existing queue."""
        return _reopen, (self.name,)

    def stats(self) -> Stats:
        """A snapshot of the queue's counters."""
        return Stats(*self._stats())

    def lease_stats(self) -> LeaseStats:
        """A snapshot of the queue's lease counters."""
        return LeaseStats(*self._lease_stats())

    async def pop_async(self, timeout: Optional[float] = None) -> bytes:
        """``pop`` for asyncio: waits for the queue's descriptor in the
        running loop (``loop.add_reader``), never blocking it. Raises
        ``wq.Empty`` after ``timeout`` seconds."""
        return await self._when_ready(self.try_pop, timeout)

    async def pop_leased_async(self, lease: Optional[float] = None, timeout: Optional[float] = None) -> Task:
        """``pop_leased`` for asyncio, as ``pop_async``."""
        return await self._when_ready(lambda: self.try_pop_leased(lease), timeout)

    async def _when_ready(self, attempt: Callable[[], Optional[_T]], timeout: Optional[float]) -> _T:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        readiness = self._readiness(loop)
        while True:
            got = attempt()  # None (empty) also resets the descriptor
            if got is not None:
                return got
            if deadline is not None and loop.time() >= deadline:
                err = Empty("the queue is empty (no message arrived within the timeout)")
                err.detail = str(err)
                raise err
            fut = readiness.wait()
            try:
                await asyncio.wait_for(fut, None if deadline is None else deadline - loop.time())
            except asyncio.TimeoutError:
                pass
            finally:
                readiness.discard(fut)

    def _readiness(self, loop: asyncio.AbstractEventLoop) -> _Readiness:
        try:
            per_loop = self.__readiness
        except AttributeError:
            per_loop = self.__readiness = weakref.WeakKeyDictionary()
        r = per_loop.get(loop)
        if r is None:
            r = per_loop[loop] = _Readiness(loop, self.fileno())
        return r


def _reopen(name: str) -> Queue:
    return Queue(name, create=False)


from ._structs import ForeignMessage, TaskQueue  # noqa: E402
