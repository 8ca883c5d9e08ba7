"""The causal chain of a diagnosis: its components ordered from the root cause up.

Pure: a ``DiagnosisResult`` in, a ``Chain`` of layers out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from diagnosis_operator.models.findings import (
    CLIENT_CAUSE,
    NO_INCIDENT,
    AffectedInstance,
    Candidate,
    DiagnosisResult,
    Evidence,
    TimelineEvent,
)

# Roles a component plays in the chain, in the order the evidence is told.
ROOT = "root"
PROPAGATION = "propagation"
SYMPTOM = "symptom"
AGGRAVATING = "aggravating"
OTHER = "other"


@dataclass(frozen=True)
class Layer:
    role: str
    component: str
    candidate: Candidate | None
    affected: tuple[AffectedInstance, ...]
    evidence: tuple[Evidence, ...]
    events: tuple[TimelineEvent, ...]

    @property
    def first_ts(self) -> float | None:
        stamps = [event.ts for event in self.events]
        stamps += [item.ts for item in self.evidence if item.ts is not None]
        return min(stamps) if stamps else None

    @property
    def last_ts(self) -> float | None:
        stamps = [event.ts for event in self.events]
        stamps += [item.ts for item in self.evidence if item.ts is not None]
        return max(stamps) if stamps else None


@dataclass(frozen=True)
class Chain:
    """The components ordered from the root cause up to the symptom."""

    layers: tuple[Layer, ...]  # root first, then propagation, then symptom
    aggravating: tuple[Layer, ...]
    other: tuple[Layer, ...]
    client_evidence: tuple[Evidence, ...]
    client_events: tuple[TimelineEvent, ...]
    client_onset: float | None  # when abusive traffic is the root cause

    @property
    def root(self) -> Layer | None:
        return next((layer for layer in self.layers if layer.role == ROOT), None)

    @property
    def root_onset(self) -> float | None:
        root = self.root
        return root.first_ts if root is not None else self.client_onset

    def told_in_order(self) -> tuple[Layer, ...]:
        return self.layers + self.aggravating + self.other


def event_key(event: TimelineEvent) -> tuple[float, str]:
    return (event.ts, event.event)


def _symptom_component(result: DiagnosisResult, known: Sequence[str]) -> str | None:
    """The component where the diagnosis says the symptom was seen, else its first symptom.

    The diagnosis's own symptom (the component it was asked about, or the
    text that starts with it) ends the chain; the highest-scored symptom
    candidate only when the diagnosis names none it knows.
    """
    if result.symptom:
        # The symptom text usually starts with the component where it was seen.
        head = re.split(r"[\s:/,(]", result.symptom.strip(), maxsplit=1)[0]
        if head in known:
            return head
    for candidate in result.candidates:
        if candidate.role == SYMPTOM:
            return candidate.component
    return None


def _known_components(result: DiagnosisResult) -> list[str]:
    """Every component the result names, root cause first, in order of mention."""
    root_name = result.root_cause.component
    names = [root_name] if root_name not in (CLIENT_CAUSE, NO_INCIDENT) else []
    names += [candidate.component for candidate in result.candidates]
    names += [affected.component for affected in result.affected]
    names += [item.component for item in result.evidence]
    names += [event.component for event in result.timeline]
    known: list[str] = []
    for name in names:
        if name not in known and name not in (CLIENT_CAUSE, NO_INCIDENT):
            known.append(name)
    return known


def _layer(result: DiagnosisResult, name: str, role: str) -> Layer:
    return Layer(
        role=role,
        component=name,
        # the last candidate of that name, as a dict keyed by component keeps it
        candidate={c.component: c for c in result.candidates}.get(name),
        affected=tuple(a for a in result.affected if a.component == name),
        evidence=tuple(e for e in result.evidence if e.component == name),
        events=tuple(sorted((t for t in result.timeline if t.component == name), key=event_key)),
    )


def build_chain(result: DiagnosisResult) -> Chain:
    root_name = result.root_cause.component
    known = _known_components(result)
    aggravating_names = [c.component for c in result.aggravating if c.component != root_name]
    symptom_name = _symptom_component(result, known)
    if symptom_name == root_name or symptom_name in aggravating_names:
        symptom_name = None

    rank = {name: index for index, name in enumerate(known)}
    middle = [
        _layer(result, name, PROPAGATION)
        for name in known
        if name not in (root_name, symptom_name) and name not in aggravating_names
    ]
    on_path = [
        m for m in middle if m.affected or m.events or (m.candidate and m.candidate.role != OTHER)
    ]
    off_path = [m for m in middle if m not in on_path]
    on_path.sort(
        key=lambda m: (m.first_ts if m.first_ts is not None else math.inf, rank[m.component])
    )

    layers: list[Layer] = []
    if root_name in known:
        layers.append(_layer(result, root_name, ROOT))
    layers.extend(on_path)
    if symptom_name is not None:
        layers.append(_layer(result, symptom_name, SYMPTOM))
    others = [
        Layer(OTHER, m.component, m.candidate, m.affected, m.evidence, m.events) for m in off_path
    ]
    return Chain(
        layers=tuple(layers),
        aggravating=tuple(_layer(result, name, AGGRAVATING) for name in aggravating_names),
        other=tuple(o for o in others if o.evidence),
        client_evidence=tuple(e for e in result.evidence if e.component == CLIENT_CAUSE),
        client_events=tuple(t for t in result.timeline if t.component == CLIENT_CAUSE),
        client_onset=_client_onset(result) if root_name == CLIENT_CAUSE else None,
    )


def _client_onset(result: DiagnosisResult) -> float | None:
    stamps = [c.first_seen for c in result.clients if c.first_seen is not None]
    stamps += [e.ts for e in result.evidence if e.component == CLIENT_CAUSE and e.ts is not None]
    stamps += [t.ts for t in result.timeline if t.component == CLIENT_CAUSE]
    return min(stamps, default=None)
