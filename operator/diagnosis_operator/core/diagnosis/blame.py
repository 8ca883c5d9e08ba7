"""Which dependency a caller's incident error lines name.  Pure.

A caller whose errors name a dependency ("Lock wait timeout ... sql", "redis
... refused") tells which one failed: that dependency may have gone bad a
little later than the caller noticed (``named_lead``), and it gets the blame
(``caller_blame``) in the ranking.

A line names a dependency by its component name, by its kind's words
("mysql", "redis"...), or in the dependency's own vocabulary, read from the
failure-mode catalogue (``catalog.failure_modes``):

* its error numbers and messages as its drivers print them (``Error 1213
  (40001): Deadlock found``, ``Error 1040: Too many connections``,
  ``READONLY You can't write ...``), when it is the caller's only dependency
  of that kind;
* its address: a ``host:port`` whose host is one the dependency's own series
  or lines carry (``10.0.4.20:3306`` for a database exported from
  ``10.0.4.20:9104``), narrowed by port when dependencies share a host; or,
  for a host the caller does not know, the kind's default port (3306, 5432,
  6379, 5672) when one dependency has that kind.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from diagnosis_operator.catalog.failure_modes import (
    KIND_CALLERS,
    KIND_PORTS,
    catalog_kinds,
    modes_of,
)
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.logs import SEVERITY
from diagnosis_operator.core.diagnosis.vocabulary import search_any
from diagnosis_operator.models.signals import Window
from diagnosis_operator.models.topology import Component, ComponentKind, Topology


def named_lead(window: Window, tolerance: float) -> float:
    """Pure: how much earlier a caller may fail than a dependency its errors name.

    A caller notices a failing dependency at its first failed call, while the
    dependency's own metrics show it only once scraped and aggregated; when
    the caller's errors say which dependency failed, a lead of a few minutes
    is no evidence against it.
    """
    return max(tolerance, 0.05 * window.duration)


NAMED_SHARE = 1 / 3  # share of a caller's dependency mentions that says "this one failed"


def names_mostly(mentions: Mapping[str, int], dependency: str) -> bool:
    total = sum(mentions.values())
    return total > 0 and mentions.get(dependency, 0) / total >= NAMED_SHARE


_KIND_WORDS: Mapping[ComponentKind, tuple[str, ...]] = {
    ComponentKind.MYSQL: ("mysql", "mariadb", "sql"),
    ComponentKind.REDIS: ("redis",),
}


def named_dependencies(
    *, topology: Topology, evidence: Mapping[str, ComponentEvidence], window: Window
) -> dict[str, dict[str, int]]:
    """Pure: per caller with several dependencies, how many of its incident error lines name each.

    A caller's error lines (severity >= 1, after the window's first quarter)
    name a dependency by component name or by kind ("mysql", "redis"...).  A
    caller with a single dependency is left out: its errors (often access
    lines whose paths may hold any word) cannot tell one dependency from
    another.
    """
    cut = window.start + 0.25 * window.duration
    named: dict[str, dict[str, int]] = {}
    for caller in topology:
        if len(caller.depends_on) < 2:
            continue
        ev = evidence.get(caller.name)
        if ev is None or ev.logs is None:
            continue
        profiles = [
            _profile(topology.get(dependency), evidence.get(dependency))
            for dependency in caller.depends_on
        ]
        mentions = dict.fromkeys(caller.depends_on, 0)
        for event in ev.logs.events:
            if event.ts < cut or SEVERITY[event.category] < 1.0:
                continue
            for dependency in line_names(event.line, profiles):
                mentions[dependency] += 1
        if any(mentions.values()):
            named[caller.name] = mentions
    return named


@dataclass(frozen=True)
class DependencyProfile:
    """How a caller's lines may name one dependency."""

    name: str
    kind: str  # the catalogue kind ("mysql", "postgres"...)
    words: tuple[str, ...]  # its name and its kind's words, lowercase
    hosts: frozenset[str] = frozenset()  # hosts its own series and lines carry
    ports: frozenset[int] = frozenset()  # ports they carry, and its kind's default ports
    vocabulary: tuple[str, ...] = ()  # catalogue regexes of its kind's caller errors


_ADDRESS = re.compile(
    r"(?:\[(?P<v6>[0-9a-f:]+)\]|(?P<host>[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)):(?P<port>\d{2,5})\b",
    re.IGNORECASE,
)
_ADDRESS_LABELS = ("instance", "host", "hostname", "address", "server", "addr", "pod_ip")


def addresses(text: str) -> list[tuple[str, int]]:
    """Pure: the ``host:port`` pairs of a line (``[v6]:port`` too), hosts lowercase."""
    return [
        ((m.group("v6") or m.group("host")).lower(), int(m.group("port")))
        for m in _ADDRESS.finditer(text)
    ]


def _split(value: str) -> tuple[str, int | None]:
    found = addresses(value)
    if found and len(found) == 1:
        return found[0]
    return value.strip("[]").lower(), None


def _own_addresses(component: Component, ev: ComponentEvidence | None) -> list[str]:
    values = [v for k, v in component.selector.items() if k in _ADDRESS_LABELS]
    if ev is not None:
        for detection in ev.detections:
            labels = detection.signal.labels
            values.extend(v for k, v in labels.items() if k in _ADDRESS_LABELS)
        if ev.logs is not None:
            values.extend({e.instance for e in ev.logs.events if e.instance})
    return values


def _profile(component: Component, ev: ComponentEvidence | None) -> DependencyProfile:
    metric_names = [d.signal.name for d in ev.detections] if ev is not None else []
    kind = catalog_kinds(component, metric_names)[0]
    hosts: set[str] = set()
    ports: set[int] = set(KIND_PORTS.get(kind, ()))
    for value in _own_addresses(component, ev):
        host, port = _split(value)
        hosts.add(host)
        if port is not None:
            ports.add(port)
    vocabulary = tuple(p for m in modes_of([kind]) for p in m.callers) + KIND_CALLERS.get(kind, ())
    return DependencyProfile(
        name=component.name,
        kind=kind,
        words=(component.name.lower(), *_KIND_WORDS.get(component.kind, ())),
        hosts=frozenset(hosts),
        ports=frozenset(ports),
        vocabulary=vocabulary,
    )


def line_names(line: str, profiles: Sequence[DependencyProfile]) -> set[str]:
    """Pure: the dependencies one caller line names (see the module docstring)."""
    text = line.lower()
    named = {p.name for p in profiles if any(word in text for word in p.words)}
    named.update(_by_address(line, profiles))
    for profile in profiles:
        same_kind = [p for p in profiles if p.kind == profile.kind]
        if len(same_kind) == 1 and search_any(profile.vocabulary, line):
            named.add(profile.name)
    return named


def _by_address(line: str, profiles: Sequence[DependencyProfile]) -> Iterable[str]:
    for host, port in addresses(line):
        candidates = [p for p in profiles if host in p.hosts]
        if len(candidates) > 1:
            candidates = [p for p in candidates if port in p.ports]
        if not candidates:
            candidates = [p for p in profiles if port in KIND_PORTS.get(p.kind, ())]
        if len(candidates) == 1:
            yield candidates[0].name


def caller_blame(named: Mapping[str, Mapping[str, int]]) -> dict[str, float]:
    """Pure: per dependency, its largest share of a caller's dependency mentions.

    A dependency named by none of its callers' errors gets 0 from a caller
    that names others; one whose callers name nothing is absent (neutral).
    """
    blame: dict[str, float] = {}
    for mentions in named.values():
        total = sum(mentions.values())
        for dependency, count in mentions.items():
            blame[dependency] = max(blame.get(dependency, 0.0), count / total)
    return blame
