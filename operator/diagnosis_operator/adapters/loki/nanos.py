"""Loki's time on the wire: epoch nanoseconds as decimal strings, durations as seconds.

The conversions themselves live once, in ``models.timefmt`` (the bundle reader uses
the same ones, so live and offline agree to the nanosecond).
"""

from __future__ import annotations

from decimal import Decimal

from diagnosis_operator.models.timefmt import nanos_to_seconds as from_nanos
from diagnosis_operator.models.timefmt import seconds_to_nanos as to_nanos

__all__ = ["duration_param", "from_nanos", "to_nanos"]


def duration_param(seconds: float) -> str:
    # Loki takes a float number of seconds for step.
    return format(Decimal(repr(float(seconds))).normalize(), "f")
