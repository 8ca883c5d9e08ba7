"""An in-memory ``RedisProbe``: answers the test sets, a record of what was asked.

``fail`` makes a method raise (the message names the server and what was
asked, like the real adapter's ``RedisError``); ``block`` makes ``info`` wait on
an event, so a test can hold a worker past the time budget and release it after.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from diagnosis_operator.models.observations import KeySize, LatencyEvent, RedisInfo, SlowlogEntry


@dataclass
class FakeRedisProbe:
    server: str = "127.0.0.1:6379/0"
    info_answer: RedisInfo = field(default_factory=RedisInfo)
    entries: list[SlowlogEntry] = field(default_factory=list)
    threshold: float | None = 0.01
    latency: list[LatencyEvent] = field(default_factory=list)
    sizes: dict[str, KeySize] = field(default_factory=dict)
    fail: set[str] = field(default_factory=set)  # method names that raise
    block: threading.Event | None = None
    asked: list[str] = field(default_factory=list)
    closed: bool = False

    def _ask(self, what: str) -> None:
        self.asked.append(what)
        if what in self.fail:
            raise RuntimeError(f"redis {self.server}: {what} failed: ConnectionError: refused")

    def describe(self) -> str:
        return self.server

    def slowlog(self, *, limit: int) -> tuple[SlowlogEntry, ...]:
        self._ask("slowlog")
        newest_first = sorted(self.entries, key=lambda e: e.entry_id, reverse=True)
        return tuple(newest_first[:limit])

    def slowlog_threshold(self) -> float | None:
        self._ask("slowlog_threshold")
        return self.threshold

    def info(self) -> RedisInfo:
        if self.block is not None:
            self.block.wait(timeout=60)
        self._ask("info")
        return self.info_answer

    def latency_latest(self) -> tuple[LatencyEvent, ...]:
        self._ask("latency_latest")
        return tuple(self.latency)

    def key_sizes(self, *, keys: Sequence[str]) -> tuple[KeySize, ...]:
        self._ask("key_sizes")
        return tuple(self.sizes.get(key, KeySize(key, "none", None, None)) for key in keys)

    def close(self) -> None:
        self.closed = True
