"""The collector's executor for an in-process source (a bundle): one call after the other."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

__all__ = ["DeadlineExceeded", "InlineExecutor"]


class DeadlineExceeded(TimeoutError):
    """A query not answered before the diagnosis deadline."""


class InlineExecutor:
    """The part of ``ThreadPoolExecutor`` collect uses, running each call at once."""

    def __init__(self, *, deadline: float | None = None) -> None:
        self.deadline = deadline

    def shutdown(self, *, wait: bool = True, cancel_futures: bool = False) -> None:
        return None

    def submit(self, function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        if self.deadline is not None and time.monotonic() >= self.deadline:
            future.set_exception(DeadlineExceeded("not asked: the diagnosis deadline had passed"))
            return future
        try:
            future.set_result(function(*args, **kwargs))
        except Exception as error:  # recorded like a failed query of the pool
            future.set_exception(error)
        return future
