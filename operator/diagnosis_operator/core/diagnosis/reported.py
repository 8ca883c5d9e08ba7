"""A dependency's failure as its callers report it, in its own vocabulary.  Pure.

A database or cache refusing work says so in its reply, and its callers log
that reply: ``OOM command not allowed when used memory > 'maxmemory'``,
``ERR max number of clients reached``, ``Error 1040: Too many connections``.
Those are the failure-mode catalogue's ``callers`` signatures
(``catalog.failure_modes``): only that kind of component answers so.  When
such lines burst in a caller's logs after the window's first quarter, the
dependency failed, even if its own metrics barely moved (a Redis sitting at
``maxmemory`` under ``noeviction`` shows a flat memory line and refuses every
write): the lines become log evidence of the dependency (``with_reported``),
at their own timestamps, in the log category of the mode they match.

A caller with several dependencies of the same kind cannot tell them apart by
such a reply; it reports nothing then.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from diagnosis_operator.catalog.failure_modes import catalog_kinds, modes_of
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.logs import SEVERITY, LogCategory, LogEvent
from diagnosis_operator.core.diagnosis.vocabulary import search_any
from diagnosis_operator.models.signals import Window
from diagnosis_operator.models.topology import Topology

MIN_REPORTS = 3  # reported lines in the incident part of the window
BASELINE_SHARE = 0.1  # at most this many per incident line before it (an ordinary hour's few)

# The log category a catalogue mode's replies stand for (its severity in the ranking).
_MODE_CATEGORY: Mapping[str, LogCategory] = {
    "memory pressure and evictions": LogCategory.OUT_OF_MEMORY,
    "memory alarm": LogCategory.OUT_OF_MEMORY,
    "connection exhaustion": LogCategory.TOO_MANY_CONNECTIONS,
    "lock contention": LogCategory.DEADLOCK,
    # the server refused every new statement at its limit (``catalog.limits``)
    "prepared statement exhaustion": LogCategory.REFUSED,
    # every INSERT refused at the key type's maximum (``catalog.limits``)
    "auto-increment exhausted": LogCategory.REFUSED,
}


def _kind(ev: ComponentEvidence) -> str:
    names = [d.signal.name for d in ev.detections]
    return catalog_kinds(ev.component, names)[0]


def _category(kind: str, line: str) -> LogCategory | None:
    """The category of the first mode of ``kind`` whose caller signature ``line`` matches."""
    for mode in modes_of([kind]):
        if search_any(mode.callers, line):
            return _MODE_CATEGORY.get(mode.name, LogCategory.ERROR)
    return None


def reported_failures(
    *, topology: Topology, evidence: Mapping[str, ComponentEvidence], window: Window
) -> dict[str, dict[LogCategory, list[LogEvent]]]:
    """Pure: per dependency, its callers' lines in its own failure vocabulary, by category.

    Only callers with one dependency of that kind; only categories whose
    lines burst after the first quarter (``MIN_REPORTS``, ``BASELINE_SHARE``).
    """
    cut = window.start + 0.25 * window.duration
    reported: dict[str, dict[LogCategory, list[LogEvent]]] = {}
    for caller in topology:
        ev = evidence.get(caller.name)
        if ev is None or ev.logs is None:
            continue
        deps = [evidence[d] for d in caller.depends_on if d in evidence]
        kinds = [_kind(d) for d in deps]
        for dep, kind in zip(deps, kinds, strict=True):
            if kinds.count(kind) != 1:
                continue
            before: dict[LogCategory, int] = {}
            after: dict[LogCategory, list[LogEvent]] = {}
            for event in ev.logs.events:
                category = _category(kind, event.line) if event.severity >= 1.0 else None
                if category is None:
                    continue
                if event.ts < cut:
                    before[category] = before.get(category, 0) + 1
                else:
                    after.setdefault(category, []).append(event)
            for category, events in after.items():
                if len(events) >= MIN_REPORTS and before.get(category, 0) <= BASELINE_SHARE * len(
                    events
                ):
                    reported.setdefault(dep.component.name, {}).setdefault(category, []).extend(
                        events
                    )
    return reported


def with_reported(
    *, topology: Topology, evidence: Mapping[str, ComponentEvidence], window: Window
) -> dict[str, ComponentEvidence]:
    """Pure: the evidence, each dependency's reported failures added to its new log categories.

    A category the dependency's own logs already show new keeps its own
    first event; a reported one starts at the first reporting line.
    """
    reported = reported_failures(topology=topology, evidence=evidence, window=window)
    out = dict(evidence)
    for name, categories in reported.items():
        ev = evidence[name]
        merged = dict(ev.new_categories)
        for category, events in categories.items():
            if category in merged or SEVERITY[category] <= 0:
                continue
            first = min(events, key=lambda e: e.ts)
            merged[category] = (replace(first, category=category), len(events))
        out[name] = replace(ev, new_categories=merged)
    return out


def without_reported(ev: ComponentEvidence) -> ComponentEvidence:
    """Pure: a component's evidence with its own new log categories only (none reported).

    Actions on a component (a kill of its queries) rest on what it logged
    itself; what its callers report names it as the root, and no more.
    """
    own = {c: v for c, v in ev.new_categories.items() if v[0].component == ev.component.name}
    return ev if len(own) == len(ev.new_categories) else replace(ev, new_categories=own)
