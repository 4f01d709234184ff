"""A Python worker for the tasks task_producer.cpp pushes (a C++ struct).

    python struct_worker.py QUEUE COUNT [struct|ctypes]

Pops COUNT tasks, checks each against what the producer computed from its
id, prints a summary. The same 64-byte layout, described twice:

- ``struct``: ``"@QIId32sH0Q"`` - native sizes and alignment as the C++
  compiler lays them out; the trailing ``0Q`` adds the end padding that
  ``struct`` leaves out (a C struct's size is a multiple of its alignment).
- ``ctypes``: a ``ctypes.Structure`` with the same fields, padded by ctypes.
"""

import ctypes
import sys

import wq

TASK_FORMAT = "@QIId32sH0Q"


class ResizeTask(ctypes.Structure):
    _fields_ = [
        ("id", ctypes.c_uint64),
        ("width", ctypes.c_uint32),
        ("height", ctypes.c_uint32),
        ("scale", ctypes.c_double),
        ("path", ctypes.c_char * 32),
        ("priority", ctypes.c_uint16),
    ]


def expected(i):
    """Task i as task_producer.cpp fills it: (id, width, height, scale, path, priority)."""
    return (i, 640 + i % 1000, 480 + i % 7, i * 0.5, b"img/%06d.png" % i, i % 3)


def fields(task):
    """The fields of a task from either layout, as a tuple."""
    if isinstance(task, tuple):
        return task[:4] + (task[4].rstrip(b"\0"),) + task[5:]
    return (task.id, task.width, task.height, task.scale, task.path, task.priority)


def main(argv):
    name, count = argv[1], int(argv[2])
    layout = ResizeTask if argv[3:] == ["ctypes"] else TASK_FORMAT
    with wq.Queue(name) as q:
        tasks = wq.TaskQueue(q, layout)
        assert tasks.size == 64, tasks.size
        for i in range(count):
            got = fields(tasks.pop_task(timeout=30))
            if got != expected(i):
                print(f"struct_worker: task {i}: got {got}, expected {expected(i)}", file=sys.stderr)
                return 1
    print(f"struct_worker: {count} tasks from {name} checked ({'ctypes' if layout is ResizeTask else 'struct'})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
