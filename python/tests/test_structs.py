"""Fixed-layout tasks: a C++ producer (python/examples/task_producer.cpp,
wq::work_queue<resize_task>) and Python workers reading the same struct
with `struct` and with ctypes (python/examples/struct_worker.py)."""

import ctypes
import pathlib
import struct
import sys

import pytest

import wq

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))
import struct_worker  # noqa: E402


@pytest.fixture(scope="module")
def producer(built, tmp_path_factory):
    return built.compile(tmp_path_factory.mktemp("cxx"), ["python/examples/task_producer.cpp"], "task_producer",
                         cpp=True)


@pytest.mark.parametrize("layout", ["struct", "ctypes"])
def test_a_python_worker_reads_the_tasks_a_cpp_producer_pushes(producer, names, spawn, layout):
    name = names("structs")
    with wq.Queue(name, create=True):
        cxx = spawn([producer, name, 5000])
        worker = spawn([sys.executable, EXAMPLES / "struct_worker.py", name, 5000, layout])
        worker.line(f"struct_worker: 5000 tasks from {name} checked ({layout})")
        assert worker.wait() == 0 and cxx.wait() == 0


def test_task_queue_round_trip_and_foreign_messages(qname):
    with wq.Queue(qname, capacity=1 << 16) as q:
        by_struct = wq.TaskQueue(q, struct_worker.TASK_FORMAT)
        by_ctypes = wq.TaskQueue(q, struct_worker.ResizeTask)
        assert by_struct.size == by_ctypes.size == ctypes.sizeof(struct_worker.ResizeTask) == 64
        by_struct.push_task((7, 640, 480, 1.5, b"img/x.png", 2))
        t = by_ctypes.pop_task(timeout=1)
        assert struct_worker.fields(t) == (7, 640, 480, 1.5, b"img/x.png", 2)
        by_ctypes.push_task(t)
        assert struct_worker.fields(by_struct.try_pop_task()) == (7, 640, 480, 1.5, b"img/x.png", 2)
        assert by_struct.try_pop_task() is None
        q.push(b"not a task")
        with pytest.raises(wq.ForeignMessage) as e:
            by_struct.pop_task()
        assert e.value.data == b"not a task"
        with pytest.raises(TypeError):
            wq.TaskQueue(q, 42)
        with pytest.raises(struct.error):
            by_struct.push_task((1, 2))
