"""Statements still running far longer than the workload's, seen in the processlist.  Pure.

mysqld_exporter's processlist gauges (``catalog.runaway``) give, per ``command``
and ``state``, the threads and the seconds they have spent there: their mean age.
``long_running`` finds the groups of threads running a statement in a state of
work of their own whose mean age is long (``RUNAWAY_MIN_SECONDS``, and
``RUNAWAY_FACTOR`` times the running threads' mean age at the window's
beginning), at ``MIN_RUNAWAY_SIGHTINGS`` scrapes in a row, and growing (still
running).  ``reads_rose`` says whether the server's logical row reads rose: a
runaway consumes the server; statements slowed by a throttled disk or a stalled
server age as well, while the server reads less.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from diagnosis_operator.catalog.runaway import (
    COMMAND_LABEL,
    HANDLER_LABEL,
    HANDLERS_SERIES,
    MIN_RUNAWAY_SIGHTINGS,
    PROCESSLIST_SECONDS_SERIES,
    READ_HANDLERS,
    ROW_READ_SERIES,
    RUNAWAY_FACTOR,
    RUNAWAY_MIN_SECONDS,
    RUNNING_COMMANDS,
    STILL_RUNNING_GROWTH,
    WORKING_STATES,
)
from diagnosis_operator.catalog.server_locks import STATE_LABEL, THREAD_STATE_SERIES
from diagnosis_operator.core.diagnosis.signal_types import (
    Z_THRESHOLD,
    Detection,
    FloatArray,
    Signal,
    baseline_head,
)

_Key = tuple[str | None, str, str]  # instance, command, state


@dataclass(frozen=True, slots=True)
class LongRunning:
    """Threads running one kind of statement far longer than the workload's, still running."""

    instance: str | None
    command: str
    state: str
    threads: int  # at the last sighting
    ages: tuple[float, ...]  # the threads' mean age (s) at each sighting of the run
    typical: float  # the running threads' mean age (s) at the window's beginning

    @property
    def youngest(self) -> float:
        return min(self.ages)

    @property
    def oldest(self) -> float:
        return max(self.ages)


def long_running(signals: Sequence[Signal], timestamps: FloatArray) -> tuple[LongRunning, ...]:
    """Pure: the runaway statements one database's processlist gauges show, oldest first."""
    seconds = _by_key(signals, PROCESSLIST_SECONDS_SERIES)
    threads = _by_key(signals, THREAD_STATE_SERIES)
    head = baseline_head(timestamps.size)
    found: list[LongRunning] = []
    for key, spent in seconds.items():
        instance, command, state = key
        count = threads.get(key)
        if count is None or WORKING_STATES.search(state) is None:
            continue
        typical = _typical(seconds, threads, instance=instance, head=head)
        run = _longest_run(
            _ages(spent.values, count.values),
            timestamps,
            floor=max(RUNAWAY_MIN_SECONDS, RUNAWAY_FACTOR * typical),
        )
        if run is not None:
            last, ages = run
            found.append(
                LongRunning(
                    instance=instance,
                    command=command,
                    state=state,
                    threads=int(count.values[last]),
                    ages=ages,
                    typical=typical,
                )
            )
    return tuple(sorted(found, key=lambda r: -r.oldest))


def reads_rose(detections: Sequence[Detection]) -> bool:
    """Pure: whether the server's logical row reads rose significantly (``catalog.runaway``)."""
    for d in detections:
        if d.anomaly.direction != "up" or d.score < Z_THRESHOLD:
            continue
        name = d.signal.name.removesuffix(" rate")
        if ROW_READ_SERIES.search(name) is not None:
            return True
        handler = d.signal.labels.get(HANDLER_LABEL) or ""
        if HANDLERS_SERIES.search(name) is not None and READ_HANDLERS.search(handler) is not None:
            return True
    return False


def _by_key(signals: Sequence[Signal], series: re.Pattern[str]) -> dict[_Key, Signal]:
    """The ``series`` gauges of threads running a statement, by instance, command and state."""
    found: dict[_Key, Signal] = {}
    for s in signals:
        command = s.labels.get(COMMAND_LABEL) or ""
        if series.search(s.name) is None or RUNNING_COMMANDS.search(command) is None:
            continue
        found[(s.instance, command, s.labels.get(STATE_LABEL) or "")] = s
    return found


def _ages(spent: FloatArray, count: FloatArray) -> FloatArray:
    """The mean age of a group's threads at each step (NaN where it had none)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.isfinite(spent) & (count > 0), spent / count, np.nan)


def _typical(
    seconds: dict[_Key, Signal], threads: dict[_Key, Signal], *, instance: str | None, head: int
) -> float:
    """The running threads' highest mean age in the window's opening stretch (0 without any)."""
    spent = np.zeros(head)
    count = np.zeros(head)
    for key, series in seconds.items():
        if key[0] != instance or key not in threads:
            continue
        spent += np.nan_to_num(series.values[:head])
        count += np.nan_to_num(threads[key].values[:head])
    ages = _ages(spent, count)
    return float(np.nanmax(ages)) if np.isfinite(ages).any() else 0.0


def _longest_run(
    ages: FloatArray, timestamps: FloatArray, *, floor: float
) -> tuple[int, tuple[float, ...]] | None:
    """The last step and the ages of the longest stretch at or above ``floor`` that grew."""
    best: tuple[int, tuple[float, ...]] | None = None
    start = None
    for i in range(ages.size + 1):
        inside = i < ages.size and bool(np.isfinite(ages[i])) and ages[i] >= floor
        if inside and start is None:
            start = i
        if inside or start is None:
            continue
        first, last = start, i - 1
        start = None
        grew = ages[last] - ages[first]
        if (
            last - first + 1 >= MIN_RUNAWAY_SIGHTINGS
            and grew >= STILL_RUNNING_GROWTH * (timestamps[last] - timestamps[first])
            and (best is None or last - first + 1 > len(best[1]))
        ):
            best = (last, tuple(float(a) for a in ages[first : last + 1]))
    return best
