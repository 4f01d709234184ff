"""Exceptions: one class per wq::Error variant, with the C status name, the
full text, the detail text and the variant's fields."""

import os
import queue

import pytest

import wq


def test_hierarchy():
    for cls in (wq.Empty, wq.Full, wq.InvalidArgument, wq.NotFound, wq.Exists, wq.MessageTooLarge,
                wq.BufferTooSmall, wq.Incompatible, wq.Corrupted, wq.PermissionDenied, wq.SystemCallFailed,
                wq.Internal, wq.LeaseEnded, wq.Interrupted):
        assert issubclass(cls, wq.Error) and cls.status.startswith("WQ_")
    assert issubclass(wq.Empty, queue.Empty) and issubclass(wq.Full, queue.Full)
    assert issubclass(wq.InvalidArgument, ValueError) and issubclass(wq.MessageTooLarge, ValueError)
    assert issubclass(wq.PermissionDenied, PermissionError) and issubclass(wq.SystemCallFailed, OSError)


def test_message_too_large_says_sizes(qname):
    with wq.Queue(qname, capacity=64) as q:
        with pytest.raises(wq.MessageTooLarge) as e:
            q.push(bytes(57))
    assert (e.value.len, e.value.max) == (57, 56)
    assert str(e.value) == "message of 57 bytes exceeds the queue's maximum message size of 56 bytes"
    assert e.value.detail == str(e.value) and e.value.status == "WQ_MESSAGE_TOO_LARGE"


def test_buffer_too_small_leaves_the_message(qname):
    with wq.Queue(qname, capacity=4096) as q:
        q.push(b"hello")
        with pytest.raises(wq.BufferTooSmall) as e:
            q.pop_into(bytearray(2))
        assert (e.value.needed, e.value.cap) == (5, 2)
        assert q.pop() == b"hello"


def test_invalid_arguments_have_a_detail():
    with pytest.raises(wq.InvalidArgument) as e:
        wq.Queue("bad/name")
    assert isinstance(e.value, ValueError)
    assert str(e.value).startswith("invalid argument: ") and e.value.detail
    assert e.value.detail in str(e.value) and "invalid argument" not in e.value.detail
    with pytest.raises(wq.InvalidArgument):
        wq.Queue("wqt-py-mode", mode=0o1777)


def test_a_file_that_is_no_queue_is_incompatible(qname):
    with open(os.path.join("/dev/shm", qname), "wb") as f:
        f.write(b"not a queue" * 100)
    os.chmod(os.path.join("/dev/shm", qname), 0o600)
    with pytest.raises(wq.Incompatible) as e:
        wq.Queue(qname, create=False)
    assert e.value.cause == "not_a_queue" and e.value.detail
    assert str(e.value) == "not a compatible wq queue: " + e.value.detail
