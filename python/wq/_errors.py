"""The exceptions of wq: one class per ``wq::Error`` variant (C ``wq_status``).

Every class derives from :class:`wq.Error`. ``str(e)`` is the full message,
``e.detail`` what ``wq_last_error()`` says in C, ``e.status`` the C status
name; some carry the variant's fields as attributes. Where Python has a
matching exception, the class derives from it too (``wq.Empty`` is a
``queue.Empty``, ``wq.InvalidArgument`` a ``ValueError``, ...).
"""

import queue as _queue


class Error(Exception):
    """Base of every wq error."""

    status = "WQ_ERROR"
    #: The error's detail, without the words that name its kind.
    detail: str = ""


class Empty(Error, _queue.Empty):
    """A pop found no message within its timeout."""

    status = "WQ_EMPTY"


class Full(Error, _queue.Full):
    """A push found no room within its timeout."""

    status = "WQ_FULL"


class InvalidArgument(Error, ValueError):
    """A bad name, bad options or a bad argument."""

    status = "WQ_INVALID_ARGUMENT"


class NotFound(Error):
    """No queue of that name exists (``name``)."""

    status = "WQ_NOT_FOUND"
    name: str


class Exists(Error):
    """``create=True`` but a queue of that name exists (``name``)."""

    status = "WQ_EXISTS"
    name: str


class MessageTooLarge(Error, ValueError):
    """The message (``len`` bytes) exceeds the queue's maximum (``max``)."""

    status = "WQ_MESSAGE_TOO_LARGE"
    len: int
    max: int


class BufferTooSmall(Error):
    """``pop_into``: the next message (``needed`` bytes) does not fit the
    buffer (``cap`` bytes); it stays queued."""

    status = "WQ_BUFFER_TOO_SMALL"
    needed: int
    cap: int


class Incompatible(Error):
    """The name holds something that is not a wq queue of this layout.
    ``cause``: ``"not_a_queue"``, ``"other_layout"`` (with ``version``),
    ``"unknown_features"`` / ``"missing_features"`` (with ``bits``),
    ``"empty"``, ``"unfinished"``."""

    status = "WQ_INCOMPATIBLE"
    cause: str


class Corrupted(Error):
    """Shared state failed validation. ``cause``: ``"header"``,
    ``"truncated"``, ``"positions"``, ``"record"``, ``"leases"``."""

    status = "WQ_CORRUPTED"
    cause: str


class PermissionDenied(Error, PermissionError):
    """The OS refused access, or the queue belongs to another user."""

    status = "WQ_PERMISSION_DENIED"


class SystemCallFailed(Error, OSError):
    """An OS call (``call``) failed with ``errno``."""

    status = "WQ_SYSTEM_ERROR"
    call: str


class Internal(Error):
    """A bug in wq; never expected."""

    status = "WQ_INTERNAL"


class LeaseEnded(Error):
    """``ack``/``nack``/``extend``: the lease (``token``) has already ended."""

    status = "WQ_NOT_FOUND"  # the C API's status for an ended lease
    token: int


class Interrupted(Error):
    """A wait was ended by ``Queue.interrupt()``."""

    status = "WQ_INTERRUPTED"
