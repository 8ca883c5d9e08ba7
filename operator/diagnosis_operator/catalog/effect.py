"""The smallest change of a signal worth calling a departure, by the unit in its name.

Pure data.  A flat baseline makes any step look extreme to a z-score: a
latency gauge that moves from 2 to 3 microseconds (redis_exporter's
``redis_latency_percentiles_usec`` mostly times the exporter's own INFO
calls) is a 50 % rise that no user will ever notice.  A level change must be
at least this large, in the signal's own unit, before it is scored at all
(``core.diagnosis.scoring`` floors the baseline's spread with it).

A gauge that counts things (connections, threads, pending reads, an undo
history length) varies like a count: a step of one or two from a flat 0 or 1
(an InnoDB internal counter, a second idle connection) is what counts do,
not a departure.  Its floor is Poisson's: the change must reach the z
threshold in units of the square root of its baseline (at least 1), unless
the gauge is a state flag (``is_state_flag``).

Units follow Prometheus' naming conventions (base units as suffixes:
https://prometheus.io/docs/practices/naming/#base-units) and the exporters
that deviate from them (redis_exporter's ``_usec``, MySQL's ``_ms``).
"""

from __future__ import annotations

import re

# (name suffix, smallest change worth a departure, in that unit)
UNIT_FLOORS: tuple[tuple[str, float], ...] = (
    ("_usec", 1_000.0),  # 1 ms
    ("_microseconds", 1_000.0),
    ("_ms", 1.0),
    ("_milliseconds", 1.0),
    ("_seconds", 0.001),
)


# State flags: a gauge of 0 and 1 whose flip is the news (``mysql_up``, a node's
# ``kube_node_status_condition``, a pod's ``..._ready``), never a count.
STATE_FLAG = re.compile(
    r"(^|_)(up|ready|healthy|available|condition|status|running|master_link_up|enabled)$"
)


def is_state_flag(family: str) -> bool:
    """Pure: whether a gauge is a state flag (its flips count however small)."""
    return bool(STATE_FLAG.search(family)) or is_alarm_flag(family)


# Alarm flags: a 0/1 gauge that turns 1 when the component raises an alarm, the
# reverse of a health flag (RabbitMQ's ``rabbitmq_alarms_free_disk_space_watermark``,
# ``..._memory_used_watermark``, ``..._file_descriptor_limit``: "Memory and Disk
# Alarms", https://www.rabbitmq.com/docs/alarms, https://www.rabbitmq.com/docs/prometheus).
ALARM_FLAG = re.compile(r"(^|_)alarms?_")


def is_alarm_flag(family: str) -> bool:
    """Pure: whether a gauge is an alarm flag (a state flag whose rise, not fall, is harm)."""
    return bool(ALARM_FLAG.search(family))


def min_effect(family: str) -> float:
    """Pure: the smallest level change of ``family`` worth scoring (0: any).

    A derived signal's family names its metric first (``..._usec latency``, the
    mean of a summary in the metric's unit): the metric's unit holds for it.
    """
    name = family.split(" ", 1)[0].removesuffix("_total")
    for suffix, floor in UNIT_FLOORS:
        if name.endswith(suffix):
            return floor
    return 0.0
