"""The 5xx a caller's access log blames on each instance of its upstream.  Pure.

A proxy answers its upstream's failures: ingress-nginx writes the address it
forwarded to (``$upstream_addr``) beside the status, Envoy its
``%UPSTREAM_HOST%`` beside ``%RESPONSE_FLAGS%`` (``UC``: the upstream closed
the connection; ``UF``: it could not connect; ``URX``, ``UT``...).  Such a 5xx
is the upstream instance's failure reported by its caller, not the proxy's
own, unless a flag says the proxy refused the request itself
(``catalog.releases.EDGE_OWN_FLAGS``: circuit breaking, no route, local rate
limit, overload).  An instance whose own metrics see nothing (Node closing an
idle keep-alive connection as the proxy reuses it logs no error, counts no
5xx) is failing all the same.

``reported_signals`` turns those lines into one count signal per upstream
instance (the 5xx blamed on it per step, over the time its metric series
exist), for ``release_harm`` to compare a release's new instances with the
old ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from diagnosis_operator.catalog.failure_modes import compiled
from diagnosis_operator.catalog.releases import EDGE_OWN_FLAGS, RESPONSE_FLAGS
from diagnosis_operator.core.diagnosis.logs import ComponentLogs, LogEvent
from diagnosis_operator.core.diagnosis.signal_types import FloatArray, Signal, SignalKind
from diagnosis_operator.models.findings import EvidenceSource
from diagnosis_operator.models.signals import Labels
from diagnosis_operator.models.topology import Topology

REPORTED_FAMILY = "5xx reported by callers"


def flags_of(line: str) -> frozenset[str]:
    """Pure: the Envoy response flags an access line carries (empty without any)."""
    for pattern in RESPONSE_FLAGS:
        match = compiled(pattern).search(line)
        if match:
            return frozenset(match.group(1).upper().split(","))
    return frozenset()


def blamed_upstream(event: LogEvent) -> str | None:
    """Pure: the upstream address a 5xx access line blames, or None (not a 5xx of it).

    nginx lists every upstream it tried (``a:1, b:2 : c:3``): the last answered.
    """
    access = event.access
    if access is None or access.status is None or access.status < 500 or not access.upstream:
        return None
    if flags_of(event.line) & EDGE_OWN_FLAGS:
        return None
    return access.upstream.replace(" : ", ",").split(",")[-1].strip() or None


def _host(address: str) -> str:
    return address.rsplit(":", 1)[0] if address.count(":") == 1 else address


def _lives(signals: Sequence[Signal]) -> dict[str, tuple[int, int, Labels]]:
    """Each instance's first and last grid index with data, and its labels."""
    lives: dict[str, tuple[int, int, Labels]] = {}
    for signal in signals:
        finite = np.flatnonzero(np.isfinite(signal.values))
        if not signal.instance or finite.size == 0:
            continue
        first, last = int(finite[0]), int(finite[-1])
        if signal.instance in lives:
            known = lives[signal.instance]
            first, last = min(first, known[0]), max(last, known[1])
        lives[signal.instance] = (first, last, signal.labels)
    return lives


def _instance_of(address: str, lives: Mapping[str, object]) -> str | None:
    if address in lives:
        return address
    hosts = [i for i in lives if _host(i) == _host(address)]
    return hosts[0] if len(hosts) == 1 else None


def _caller_signals(
    *,
    component: str,
    caller: str,
    events: Sequence[LogEvent],
    lives: Mapping[str, tuple[int, int, Labels]],
    timestamps: FloatArray,
) -> list[Signal]:
    step = float(timestamps[1] - timestamps[0])
    counts = {instance: np.zeros(timestamps.size) for instance in lives}
    query = ""
    for event in events:
        address = blamed_upstream(event)
        instance = _instance_of(address, lives) if address else None
        index = int((event.ts - float(timestamps[0])) // step)
        if instance is None or not 0 <= index < timestamps.size:
            continue
        counts[instance][index] += 1.0
        query = query or event.query
    if not query:
        return []
    out = []
    for instance, (first, last, labels) in lives.items():
        values = np.full(timestamps.size, np.nan)
        values[first : last + 1] = counts[instance][first : last + 1]
        kept = {k: labels[k] for k in ("instance", "pod", "namespace") if k in labels}
        out.append(
            Signal(
                component=component,
                instance=instance,
                name=f"5xx reported by {caller}",
                family=REPORTED_FAMILY,
                kind=SignalKind.ERROR_RATIO,
                query=query,
                values=values,
                labels=Labels({**kept, "instance": instance}),
                source=EvidenceSource.LOKI,
                events=values,
            )
        )
    return out


def reported_signals(
    *,
    topology: Topology,
    logs: Mapping[str, ComponentLogs],
    signals: Mapping[str, Sequence[Signal]],
    timestamps: FloatArray,
) -> dict[str, list[Signal]]:
    """Pure: per component, the 5xx its callers' access lines blame on each of its instances."""
    if timestamps.size < 2:
        return {}
    found: dict[str, list[Signal]] = {}
    for component in topology:
        lives = _lives(signals.get(component.name, ()))
        if not lives:
            continue
        for caller in topology.dependents_of(component.name):
            read = logs.get(caller)
            if read is None:
                continue
            made = _caller_signals(
                component=component.name,
                caller=caller,
                events=read.events,
                lives=lives,
                timestamps=timestamps,
            )
            if made:
                found.setdefault(component.name, []).extend(made)
    return found
