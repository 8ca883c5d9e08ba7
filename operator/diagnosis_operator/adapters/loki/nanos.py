"""Loki's time on the wire: epoch nanoseconds as decimal strings, durations as seconds."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

_NANOS = 1_000_000_000


def to_nanos(seconds: float) -> int:
    """Epoch seconds to integer nanoseconds, through the shortest decimal form.  Pure.

    ``int(seconds * 1e9)`` is off by hundreds of nanoseconds for today's epochs;
    the decimal of ``repr(seconds)`` is what the caller meant.
    """
    exact = Decimal(repr(float(seconds))) * _NANOS
    return int(exact.to_integral_value(rounding=ROUND_HALF_EVEN))


def from_nanos(nanos: int | str) -> float:
    """Integer (or decimal-string) nanoseconds to epoch seconds, correctly rounded.  Pure."""
    value = int(nanos)
    return value / _NANOS


def duration_param(seconds: float) -> str:
    # Loki takes a float number of seconds for step.
    return format(Decimal(repr(float(seconds))).normalize(), "f")
