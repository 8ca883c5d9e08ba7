"""The PromQL a signal shows as its query.  Pure.

Label values go through ``models.querytext.quote``, the one escaper of the project.
"""

from __future__ import annotations

from collections.abc import Mapping

from diagnosis_operator.models.querytext import quote


def selector_text(name: str, labels: Mapping[str, str], extra: str = "") -> str:
    """Pure: ``name{a="b",...}`` with the labels sorted and ``extra`` matchers appended."""
    inner = ",".join(f"{key}={quote(value)}" for key, value in sorted(labels.items()))
    if extra:
        inner = f"{inner},{extra}" if inner else extra
    return f"{name}{{{inner}}}"


def rate_range(step: float) -> str:
    """Pure: the range shown in rate() queries for a grid step (4 steps, at least 1m)."""
    seconds = max(60, round(4 * step))
    return f"{seconds // 60}m" if seconds % 60 == 0 else f"{seconds}s"
