"""The one definition of the backends' time formats (Loki nanoseconds, RFC 3339, Prometheus ms)."""

from __future__ import annotations

import pytest

from diagnosis_operator.models.timefmt import (
    BadTimestampError,
    nanos_to_seconds,
    prometheus_ms,
    prometheus_step_ms,
    rfc3339_nanoseconds,
    seconds_to_nanos,
)


def test_seconds_to_nanos_is_the_decimal_the_caller_wrote() -> None:
    assert seconds_to_nanos(1765441184.12) == 1765441184_120000000
    assert seconds_to_nanos(1765441184.0000005) == 1765441184_000000500  # below a microsecond
    assert seconds_to_nanos(0.1 + 0.2) == 300_000_000  # 0.30000000000000004 s: half-even
    assert nanos_to_seconds("1765441184120000000") == 1765441184.12
    assert nanos_to_seconds(seconds_to_nanos(1765441184.123)) == 1765441184.123


@pytest.mark.parametrize(
    ("text", "nanos"),
    [
        ("2025-12-11T09:19:44Z", 1765444784_000000000),
        ("2025-12-11T09:19:44.12Z", 1765444784_120000000),
        ("2025-12-11t09:19:44.123456789z", 1765444784_123456789),
        ("2025-12-11T10:19:44.5+01:00", 1765444784_500000000),
    ],
)
def test_rfc3339_nanoseconds(text: str, nanos: int) -> None:
    assert rfc3339_nanoseconds(text) == nanos


@pytest.mark.parametrize(
    "text", ["2025-12-11 09:19:44Z", "2025-12-11T09:19:44", "2025-13-11T09:19:44Z", "x"]
)
def test_rfc3339_nanoseconds_rejects_other_text(text: str) -> None:
    with pytest.raises(BadTimestampError):
        rfc3339_nanoseconds(text)


def test_prometheus_rounding() -> None:
    assert prometheus_ms(0.0006) == 1
    assert prometheus_ms(1735690200.123) == 1735690200123
    assert prometheus_step_ms(0.0159) == 15
    with pytest.raises(ValueError, match="at least 1 ms"):
        prometheus_step_ms(0.0001)
