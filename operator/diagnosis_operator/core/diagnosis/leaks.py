"""A client's release leaking a server resource until the server's limit: who leaked.  Pure.

The model (``catalog.limits``): a resource clients hold on a database server
(prepared statements, connections) climbs steadily to its configured limit
(``climb``), and from then the server refuses every client alike.  The server
only enforces its limit; the cause is the caller whose release began the climb:
one of its instances appeared (its series begin inside the window: a rollout,
a new version) when the climb started (``arrivals``).  When exactly one caller
of the database changed so, ``find_leak`` names it, and ``rerooted`` makes it
the root in place of the database (or of a caller failing at the limit).
Without a release at the climb's start, or with several callers changed
then, nothing is decided here: the database stays what the ranking made it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from diagnosis_operator.catalog.failure_modes import catalog_kinds
from diagnosis_operator.catalog.limits import (
    FULL_SHARE,
    MIN_CLIMB_SECONDS,
    MIN_CLIMB_STEPS,
    MYSQL_HELD,
    START_SHARE,
    STEADY_SHARE,
    HeldResource,
)
from diagnosis_operator.catalog.mode_types import MYSQL
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.gate import GateVerdict
from diagnosis_operator.core.diagnosis.proxy_harm import proxy_rerooted
from diagnosis_operator.core.diagnosis.ranking import ROLE_ROOT, ROLE_SYMPTOM, Ranking, rank
from diagnosis_operator.core.diagnosis.signal_types import FloatArray, Signal, SignalKind
from diagnosis_operator.core.diagnosis.signals import grid_timestamps
from diagnosis_operator.models.findings import AbusiveClient, Candidate, RootCause
from diagnosis_operator.models.signals import SignalSet, isoformat_z
from diagnosis_operator.models.topology import Topology

LEAK_MODE = "bad release"


@dataclass(frozen=True, slots=True)
class Leak:
    """A caller's release that leaked a database's resource up to its limit."""

    database: str
    leaker: str
    instance: str  # the leaker's instance that arrived when the climb began
    resource: HeldResource
    climb_start: float
    full_at: float
    limit: float

    @property
    def mode(self) -> str:
        return f"{LEAK_MODE} leaking {self.resource.resource}"

    def describe(self) -> str:
        return (
            f"{self.database}'s {self.resource.usage} climbed steadily from "
            f"{isoformat_z(self.climb_start)}, when {self.leaker}'s instance {self.instance} "
            f"started, to its limit {self.resource.limit} ({self.limit:g}) at "
            f"{isoformat_z(self.full_at)}; from then the server refused every client alike: "
            f"roll {self.leaker}'s release back"
        )


def climb(usage: FloatArray, *, limit: float, timestamps: FloatArray) -> tuple[float, float] | None:
    """Pure: (start, full) of a steady climb of ``usage`` to ``limit``, or ``None``.

    Full: the first step at ``FULL_SHARE`` of the limit.  Start: the last step
    before it within ``START_SHARE`` of the way from the lowest usage to the
    limit.  Steady: at least ``MIN_CLIMB_SECONDS`` and ``MIN_CLIMB_STEPS`` long,
    and ``STEADY_SHARE`` of its steps not going down.
    """
    if not np.isfinite(limit) or limit <= 0:
        return None
    values = np.asarray(usage, dtype=np.float64)
    full = np.flatnonzero(np.nan_to_num(values, nan=-np.inf) >= FULL_SHARE * limit)
    if full.size == 0 or full[0] == 0:
        return None
    end = int(full[0])
    before = values[:end]
    if not np.isfinite(before).any():
        return None
    low = float(np.nanmin(before))
    near = np.flatnonzero(np.nan_to_num(before, nan=np.inf) <= low + START_SHARE * (limit - low))
    start = int(near[-1])
    steps = values[start : end + 1]
    diffs = np.diff(steps[np.isfinite(steps)])
    seconds = float(timestamps[end] - timestamps[start])
    if end - start < MIN_CLIMB_STEPS or seconds < MIN_CLIMB_SECONDS or diffs.size == 0:
        return None
    if float(np.mean(diffs >= 0)) < STEADY_SHARE:
        return None
    return float(timestamps[start]), float(timestamps[end])


def arrivals(signals: Sequence[Signal], timestamps: FloatArray) -> dict[str, float]:
    """Pure: the instances whose metric series begin inside the window, and when."""
    first: dict[str, int] = {}
    for signal in signals:
        if signal.instance is None or signal.kind in (
            SignalKind.LOG_LINES,
            SignalKind.LOG_SIGNIFICANT,
        ):
            continue
        finite = np.flatnonzero(np.isfinite(signal.values))
        if finite.size:
            index = int(finite[0])
            first[signal.instance] = min(index, first.get(signal.instance, index))
    return {instance: float(timestamps[i]) for instance, i in first.items() if i > 1}


def _held(signals: Sequence[Signal], name: str) -> dict[str, Signal]:
    return {s.instance or "": s for s in signals if s.name == name and s.kind is SignalKind.GAUGE}


def _climbs(
    signals: Sequence[Signal], timestamps: FloatArray
) -> list[tuple[HeldResource, float, float, float]]:
    """(resource, start, full, limit) of every held resource that climbed to its limit."""
    found = []
    for resource in MYSQL_HELD:
        limits = _held(signals, resource.limit)
        for instance, usage in _held(signals, resource.usage).items():
            limit_signal = limits.get(instance)
            if limit_signal is None or not np.isfinite(limit_signal.values).any():
                continue
            limit = float(np.nanmax(limit_signal.values))
            found_climb = climb(usage.values, limit=limit, timestamps=timestamps)
            if found_climb is not None:
                found.append((resource, *found_climb, limit))
    return found


def find_leak(
    *,
    topology: Topology,
    signals: Mapping[str, Sequence[Signal]],
    timestamps: FloatArray,
    step: float,
) -> Leak | None:
    """Pure: the caller whose release leaked a MySQL resource to its limit (the module)."""
    slack = max(3.0 * step, 90.0)
    for component in topology:
        own = signals.get(component.name, ())
        if catalog_kinds(component, [s.name for s in own])[0] != MYSQL:
            continue
        for resource, start, full, limit in _climbs(own, timestamps):
            changed = {
                (caller, instance)
                for caller in topology.dependents_of(component.name)
                for instance, at in arrivals(signals.get(caller, ()), timestamps).items()
                if abs(at - start) <= slack
            }
            if len({caller for caller, _ in changed}) != 1:
                continue
            caller, instance = sorted(changed)[0]
            return Leak(
                database=component.name,
                leaker=caller,
                instance=instance,
                resource=resource,
                climb_start=start,
                full_at=full,
                limit=limit,
            )
    return None


def rerooted(
    *, ranking: Ranking, leak: Leak | None, topology: Topology, tolerance: float
) -> Ranking:
    """Pure: the ranking with the leaker as root, when the incident began at the limit.

    Only when the ranking's root is the database or another of its callers,
    and its failure did not begin before the usage reached the limit.
    """
    if leak is None or ranking.root_onset is None:
        return ranking
    root = ranking.root_cause.component
    if root not in (leak.database, *topology.dependents_of(leak.database)):
        return ranking
    if root == leak.leaker or ranking.root_onset < leak.full_at - tolerance:
        return ranking
    reason = f"its release leaked {leak.database}'s {leak.resource.resource} to the limit"
    leaker = next((c for c in ranking.candidates if c.component == leak.leaker), None)
    first = Candidate(
        component=leak.leaker,
        score=leaker.score if leaker else 0.0,
        role=ROLE_ROOT,
        reasons=(*(leaker.reasons if leaker else ()), reason),
    )
    candidates = (
        first,
        *(
            replace(c, role=ROLE_SYMPTOM) if c.component == root else c
            for c in ranking.candidates
            if c.component != leak.leaker
        ),
    )
    return replace(
        ranking,
        root_cause=RootCause(
            component=leak.leaker,
            kind=topology.get(leak.leaker).kind.value,
            instance=leak.instance,
            confidence=ranking.root_cause.confidence,
            summary="",
        ),
        candidates=candidates,
        root_onset=leak.climb_start,
    )


def leak_rerooted(
    *,
    ranking: Ranking,
    topology: Topology,
    signals: Mapping[str, Sequence[Signal]],
    timestamps: FloatArray,
    step: float,
) -> tuple[Ranking, Leak | None]:
    """Pure: ``rerooted`` on the leak ``find_leak`` finds; the leak only when it is the root."""
    leak = find_leak(topology=topology, signals=signals, timestamps=timestamps, step=step)
    if leak is None:
        return ranking, None
    moved = rerooted(ranking=ranking, leak=leak, topology=topology, tolerance=max(2.0 * step, 30.0))
    return moved, leak if moved.root_cause.component == leak.leaker else None


def ranked_with_leak(
    *,
    topology: Topology,
    evidence: Mapping[str, ComponentEvidence],
    clients: Sequence[AbusiveClient],
    signals: SignalSet,
    gate: GateVerdict,
    confined: frozenset[str],
    by_component: Mapping[str, Sequence[Signal]],
    on_stage: Callable[[str], None] | None = None,
) -> tuple[Ranking, Leak | None]:
    """Pure: ``ranking.rank``, with the leaking caller as root when a release leaked a
    database resource to its limit (the leak is returned only then)."""
    ranking = rank(
        topology=topology,
        evidence=evidence,
        clients=clients,
        window=signals.window,
        step=signals.step,
        gate=gate,
        confined=confined,
    )
    timestamps = grid_timestamps(window=signals.window, step=signals.step)
    ranking, leak = leak_rerooted(
        ranking=ranking,
        topology=topology,
        signals=by_component,
        timestamps=timestamps,
        step=signals.step,
    )
    if leak is None:  # a proxy whose own behaviour harmed the root (``proxy_harm``)
        ranking, _ = proxy_rerooted(
            ranking=ranking,
            topology=topology,
            evidence=evidence,
            signals=by_component,
            timestamps=timestamps,
            step=signals.step,
        )
    if on_stage is not None:
        on_stage("planning")
    return ranking, leak
