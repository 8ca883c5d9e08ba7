"""Time formats of the backends, one definition each.  Pure: no clock, no I/O.

Epoch seconds (floats, as the pipeline carries them) to and from Loki's integer
nanoseconds, RFC 3339 text to nanoseconds, and the millisecond rounding of the
Prometheus HTTP API.  The Loki client and the offline bundle source both use
these, so a window asked of Loki and of a bundle covers the same nanoseconds.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal

NANOS_PER_SECOND = 1_000_000_000

_RFC3339 = re.compile(
    r"(?P<date>\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d)(?:\.(?P<fraction>\d{1,9}))?"
    r"(?P<zone>[Zz]|[+-]\d\d:\d\d)\Z",
    re.ASCII,
)


class BadTimestampError(ValueError):
    """Text that is not an RFC 3339 timestamp."""


def seconds_to_nanos(seconds: float) -> int:
    """Epoch seconds to integer nanoseconds, through the shortest decimal form.

    ``int(seconds * 1e9)`` is off by hundreds of nanoseconds for today's epochs;
    the decimal of ``repr(seconds)`` is what the caller meant.
    """
    exact = Decimal(repr(float(seconds))) * NANOS_PER_SECOND
    return int(exact.to_integral_value(rounding=ROUND_HALF_EVEN))


def nanos_to_seconds(nanos: int | str) -> float:
    """Integer (or decimal-string) nanoseconds to epoch seconds, correctly rounded."""
    return int(nanos) / NANOS_PER_SECOND


def rfc3339_nanoseconds(text: str) -> int:
    """An RFC 3339 timestamp (any offset) to integer nanoseconds since the epoch.

    Raises ``BadTimestampError`` (a ``ValueError``) for anything else.
    """
    match = _RFC3339.match(text)
    if not match:
        raise BadTimestampError(text)
    zone = match.group("zone")
    try:
        moment = datetime.fromisoformat(
            match.group("date").upper() + ("+00:00" if zone in "Zz" else zone)
        )
    except ValueError:
        raise BadTimestampError(text) from None
    fraction = match.group("fraction") or ""
    whole = int(moment.astimezone(UTC).timestamp())
    return whole * NANOS_PER_SECOND + int((fraction + "000000000")[:9])


def prometheus_ms(seconds: float) -> int:
    """Epoch seconds to milliseconds exactly as the Prometheus HTTP API parses ``start``/``end``.

    Mirrors Go: ``s, ns := math.Modf(t); ns = math.Round(ns*1000)/1000``, then
    ``time.Unix(s, int64(ns*1e9))`` truncated to milliseconds.
    """
    fraction, whole = math.modf(seconds)
    rounded = math.copysign(math.floor(abs(fraction) * 1000 + 0.5), fraction) / 1000
    nanos = int(rounded * 1e9)
    return int(whole) * 1000 + nanos // 1_000_000


def prometheus_step_ms(step: float) -> int:
    """A range-query step in milliseconds (Prometheus truncates to whole milliseconds)."""
    millis = int(step * 1e9) // 1_000_000
    if millis <= 0:
        raise ValueError(f"step must be at least 1 ms, got {step!r} s")
    return millis
