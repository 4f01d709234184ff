"""Fixed-layout tasks: the Python side of C++'s ``wq::work_queue<T>``.

A C or C++ producer pushes a trivially copyable struct as its raw bytes
(``queue.push_task(task)`` in C++, ``wq_push(q, &task, sizeof task, ...)``
in C). Describe the same struct with a ``struct.Struct`` (format with an
explicit byte order and alignment, e.g. ``"=QIf16s"``; ``"@"`` native
formats pad like the C compiler) or a ``ctypes.Structure`` subclass, and a
Python worker reads and writes it here.
"""

from __future__ import annotations

import ctypes
import struct
from typing import Any, Optional, Union

from ._errors import Error

Layout = Union[struct.Struct, str, type]


class ForeignMessage(Error, ValueError):
    """A message whose size is not the task's: something else pushed it.
    ``data`` holds it (it was taken off the queue)."""

    data: bytes


class TaskQueue:
    """A view of a ``wq.Queue`` whose messages are one fixed-size struct.

    ``layout`` is a ``struct.Struct``, a ``struct`` format string (tasks
    are tuples) or a ``ctypes.Structure`` subclass (tasks are instances).
    """

    def __init__(self, queue: Any, layout: Layout) -> None:
        self.queue = queue
        if isinstance(layout, str):
            layout = struct.Struct(layout)
        if isinstance(layout, struct.Struct):
            self._struct: Optional[struct.Struct] = layout
            self._ctype: Optional[type] = None
            self.size = layout.size
        elif isinstance(layout, type) and issubclass(layout, (ctypes.Structure, ctypes.Union)):
            self._struct, self._ctype = None, layout
            self.size = ctypes.sizeof(layout)
        else:
            raise TypeError(f"layout must be a struct.Struct, a format or a ctypes.Structure subclass, not {layout!r}")

    def push_task(self, task: Any, timeout: Optional[float] = None) -> None:
        """Pushes one task (a tuple for a ``struct`` layout, an instance
        for a ctypes one), waiting up to ``timeout`` for room."""
        self.queue.push(self._encode(task), timeout)

    def pop_task(self, timeout: Optional[float] = None) -> Any:
        """Pops one task, waiting up to ``timeout`` (raises ``wq.Empty``)."""
        return self._decode(self.queue.pop(timeout))

    def try_pop_task(self) -> Any:
        """Pops one task without waiting; ``None`` when the queue is empty."""
        msg = self.queue.try_pop()
        return None if msg is None else self._decode(msg)

    def decode(self, msg: bytes) -> Any:
        """One task from a message popped otherwise (``Task.data`` of
        ``pop_leased``)."""
        return self._decode(msg)

    def _encode(self, task: Any) -> Any:
        if self._struct is not None:
            return self._struct.pack(*task)
        if not isinstance(task, self._ctype):  # type: ignore[arg-type]
            raise TypeError(f"expected a {self._ctype.__name__}, not {type(task).__name__}")  # type: ignore[union-attr]
        return task

    def _decode(self, msg: bytes) -> Any:
        if len(msg) != self.size:
            err = ForeignMessage(f"a message of {len(msg)} bytes is no task of {self.size} bytes")
            err.detail, err.data = str(err), msg
            raise err
        if self._struct is not None:
            return self._struct.unpack(msg)
        return self._ctype.from_buffer_copy(msg)  # type: ignore[union-attr]
