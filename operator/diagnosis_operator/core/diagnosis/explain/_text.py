"""How times, numbers and roles read in evidence, timelines and advice.  Pure."""

from __future__ import annotations

import math

from diagnosis_operator.models.signals import isoformat_z

# How a component's role reads in a sentence ("redis was an aggravating factor of ...").
ROLE_PHRASES = {
    "root": "the root cause",
    "aggravating": "an aggravating factor",
    "symptom": "a symptom",
    "candidate": "a candidate cause",
}


def clock(ts: float) -> str:
    return isoformat_z(ts)[11:19]


def num(value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"
