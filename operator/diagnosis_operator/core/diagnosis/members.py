"""A member of a component named by its own service's exporter.  Pure.

A database or proxy host runs several exporters side by side: mysqld_exporter
(default port 9104, https://github.com/prometheus/mysqld_exporter) or
postgres_exporter (9187), redis_exporter (9121), the NGINX exporter (9113)
beside node_exporter (9100, https://github.com/prometheus/node_exporter), all
under one component's selector.  The port allocations are listed in
Prometheus' default port registry
(https://github.com/prometheus/prometheus/wiki/Default-port-allocations).
Each exporter's ``instance`` label is its own address, so one server shows as
several "instances" on the same host.  The member is the server: when a host
carries the component's own exporter (its metrics start with the catalogue
kind's prefixes, ``catalog.failure_modes.exporter_prefixes``), what the host's
other exporters single out (a disk's iowait on node_exporter) is named by that
exporter's address, with the reasons of both.  A host without the component's
own exporter, or with several, is left as it was; so is a kind without
exporters of its own (an application exports its own metrics).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from diagnosis_operator.catalog.failure_modes import catalog_kinds, exporter_prefixes
from diagnosis_operator.core.diagnosis.signal_types import Signal
from diagnosis_operator.models.topology import Component

if TYPE_CHECKING:
    from diagnosis_operator.core.diagnosis.affected import AffectedFinding


def host_of(instance: str) -> str:
    """Pure: the host part of an ``address:port`` instance (the instance when it has no port)."""
    if instance.startswith("[") and "]:" in instance:
        return instance[1 : instance.index("]:")]
    return instance.rsplit(":", 1)[0] if instance.count(":") == 1 else instance


def own_members(component: Component, signals: Sequence[Signal]) -> dict[str, str]:
    """Pure: each instance and the instance that names its member (its host's own exporter)."""
    names = [s.name for s in signals]
    prefixes = exporter_prefixes(catalog_kinds(component, names)[0])
    instances = sorted({s.instance for s in signals if s.instance})
    if not prefixes:
        return {instance: instance for instance in instances}
    own_by_host: dict[str, set[str]] = defaultdict(set)
    for signal in signals:
        if signal.instance and signal.name.startswith(prefixes):
            own_by_host[host_of(signal.instance)].add(signal.instance)
    named = {}
    for instance in instances:
        own = own_by_host.get(host_of(instance), set())
        named[instance] = next(iter(own)) if len(own) == 1 else instance
    return named


def by_own_exporter(
    component: Component, signals: Sequence[Signal], findings: Sequence[AffectedFinding]
) -> tuple[list[AffectedFinding], int]:
    """Pure: the findings named by their member's own exporter (merged), and the member count."""
    named = own_members(component, signals)
    merged: dict[str, AffectedFinding] = {}
    for finding in findings:
        member = named.get(finding.instance.instance, finding.instance.instance)
        moved = replace(finding, instance=replace(finding.instance, instance=member))
        earlier = merged.get(member)
        if earlier is None:
            merged[member] = moved
            continue
        reason = f"{earlier.instance.reason}; {moved.instance.reason}"
        merged[member] = replace(
            earlier,
            instance=replace(earlier.instance, reason=reason),
            detections=earlier.detections + moved.detections,
        )
    return list(merged.values()), len(set(named.values()))
