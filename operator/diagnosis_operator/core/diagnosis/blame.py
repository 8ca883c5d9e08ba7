"""Which dependency a caller's incident error lines name.  Pure.

A caller whose errors name a dependency ("Lock wait timeout ... sql", "redis
... refused") tells which one failed: that dependency may have gone bad a
little later than the caller noticed (``named_lead``), and it gets the blame
(``caller_blame``) in the ranking.
"""

from __future__ import annotations

from collections.abc import Mapping

from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.logs import SEVERITY
from diagnosis_operator.models.signals import Window
from diagnosis_operator.models.topology import ComponentKind, Topology


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
        words = {
            dependency: (dependency.lower(), *_KIND_WORDS.get(topology.get(dependency).kind, ()))
            for dependency in caller.depends_on
        }
        mentions = dict.fromkeys(caller.depends_on, 0)
        for event in ev.logs.events:
            if event.ts < cut or SEVERITY[event.category] < 1.0:
                continue
            text = event.line.lower()
            for dependency, keys in words.items():
                if any(key in text for key in keys):
                    mentions[dependency] += 1
        if any(mentions.values()):
            named[caller.name] = mentions
    return named


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
