"""A fake ``NotificationPort``: records what it was sent, or fails with ``error``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class FakeSink:
    def __init__(self, error: Exception | None = None) -> None:
        self.sent: list[tuple[str, Mapping[str, Any]]] = []
        self.error = error

    def send(self, *, path: str, content_type: str, body: Mapping[str, Any]) -> None:
        if self.error is not None:
            raise self.error
        self.sent.append((path, body))
