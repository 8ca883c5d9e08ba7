"""Run one CPU-bound call in a forked child while the caller goes on.

Loading a large bundle parses two independent files; in one process the
interpreter lock serialises them.  ``start_forked`` runs a call in a forked
child and returns a function that waits for it and returns its result (or
raises its exception) in the caller.  Where forking is unsafe or impossible
(no ``os.fork``, other threads running) the call simply runs when its result
is asked for.
"""

from __future__ import annotations

import os
import pickle
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def start_forked(function: Callable[[], T]) -> Callable[[], T]:
    """Start ``function()`` in a forked child; the returned callable waits for its result."""
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return function
    read_fd, write_fd = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_fd)
        os.close(write_fd)
        return function
    if pid == 0:  # the child: compute, send, leave without running the parent's cleanup
        os.close(read_fd)
        code = 0
        try:
            outcome: tuple[str, Any] = ("ok", function())
        except BaseException as error:  # handed to the parent, which raises it
            outcome = ("error", error)
        try:
            with os.fdopen(write_fd, "wb") as out:
                try:
                    pickle.dump(outcome, out, protocol=pickle.HIGHEST_PROTOCOL)
                except Exception as error:  # an unpicklable result or exception
                    pickle.dump(("error", RuntimeError(repr(error))), out)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)

    def result() -> T:
        try:
            with os.fdopen(read_fd, "rb") as handle:
                # our own forked child wrote it, through a pipe only we hold
                status, payload = pickle.load(handle)  # noqa: S301
        except EOFError:
            status, payload = "error", RuntimeError("the forked worker ended without a result")
        finally:
            os.waitpid(pid, 0)
        if status == "error":
            raise payload
        value: T = payload
        return value

    return result
