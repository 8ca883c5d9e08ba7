"""A ``QueryChecker`` (service.policy_check) that refuses by rule and records what it was asked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from diagnosis_operator.ports import SignalError


@dataclass
class FakeQueryChecker:
    """``refuse(promql)`` returns Prometheus' would-be error, or None to accept.

    With ``unreachable`` set, every call raises ``SignalError`` as the adapter
    does when Prometheus does not answer.
    """

    refuse: Callable[[str], str | None] = lambda promql: None
    unreachable: bool = False
    asked: list[str] = field(default_factory=list)

    def check_query(self, *, promql: str) -> str | None:
        self.asked.append(promql)
        if self.unreachable:
            raise SignalError(
                backend="prometheus", query=promql, window=None, reason="connection refused"
            )
        return self.refuse(promql)
