"""The summary: one paragraph saying what happened, from the root to the symptom.  Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from diagnosis_operator.core.diagnosis.affected import AffectedFinding
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.explain._text import clock, num
from diagnosis_operator.core.diagnosis.logs import EVENT_NAMES
from diagnosis_operator.core.diagnosis.ranking import ROLE_AGGRAVATING, ROLE_SYMPTOM
from diagnosis_operator.core.diagnosis.shifted_load import LOAD_ONLY, TOOK_OVER
from diagnosis_operator.models.findings import (
    CLIENT_CAUSE,
    NO_INCIDENT,
    AbusiveClient,
    Candidate,
    RootCause,
)


def _root_facts(ev: ComponentEvidence) -> list[str]:
    """New log categories of the root, then its first two metric moves."""
    facts = [
        f"{EVENT_NAMES[category]} ({count}, from {clock(first.ts)})"
        for category, (first, count) in sorted(
            ev.new_categories.items(), key=lambda item: item[1][0].ts
        )
    ]
    for detection in ev.metric_detections[:2]:
        facts.append(
            f"{detection.signal.name} {num(detection.anomaly.baseline)} -> "
            f"{num(detection.anomaly.value)}"
        )
    return facts


def _root_sentence(root: str, ev: ComponentEvidence | None) -> str:
    text = f"{root} went bad first"
    if ev is not None and ev.onset is not None:
        text += f" (from {clock(ev.onset)})"
    facts = _root_facts(ev) if ev is not None else []
    if facts:
        text += ": " + "; ".join(facts)
    return text + "."


def _reason(candidate: Candidate, prefix: str) -> bool:
    return candidate.role == ROLE_SYMPTOM and any(r.startswith(prefix) for r in candidate.reasons)


def _followers(
    *,
    candidates: Sequence[Candidate],
    affected: Sequence[AffectedFinding],
    clients: Sequence[AbusiveClient],
    dependencies: frozenset[str],
) -> str:
    """The callers and dependencies that followed, aggravating components, abusive clients."""
    text = ""
    took_over = [c.component for c in candidates if _reason(c, TOOK_OVER)]
    asked = [c.component for c in candidates if _reason(c, LOAD_ONLY)]
    followed = [
        c.component
        for c in candidates
        if c.role == ROLE_SYMPTOM and c.component not in took_over + asked
    ]
    symptoms = [name for name in followed if name not in dependencies]
    felt = [name for name in followed if name in dependencies]
    if felt:
        text += f" Its own dependencies felt it: {', '.join(felt)}."
    if symptoms:
        text += f" Its callers followed: {', '.join(symptoms)}"
        if affected:
            text += (
                " ("
                + "; ".join(f"{a.instance.instance}: {a.instance.reason}" for a in affected)
                + ")"
            )
        text += "."
    if took_over:
        text += f" {', '.join(took_over)} took over its work (a symptom, not a second fault)."
    if asked:
        text += f" Only the load of {', '.join(asked)} changed (no harm of its own)."
    aggravating = [c.component for c in candidates if c.role == ROLE_AGGRAVATING]
    if aggravating:
        text += f" Aggravating: {', '.join(aggravating)} degraded later, feeding the same callers."
    if clients:
        text += (
            " Abusive clients added load: "
            + ", ".join(f"{c.ip} ({c.reason})" for c in clients[:3])
            + "."
        )
    return text


def summary(
    *,
    root_cause: RootCause,
    candidates: Sequence[Candidate],
    evidence: Mapping[str, ComponentEvidence],
    affected: Sequence[AffectedFinding],
    clients: Sequence[AbusiveClient],
    symptom: str | None,
    dependencies: frozenset[str] = frozenset(),
) -> str:
    """Pure: one paragraph saying what happened, from the root to the symptom."""
    if root_cause.component == NO_INCIDENT:
        return root_cause.summary or (
            "No incident in the window: no signal left its baseline far or long enough, "
            "and no client traffic was abusive."
        )
    seen_at = f" seen at {symptom}" if symptom else ""
    if root_cause.component == CLIENT_CAUSE:
        victims = ", ".join(c.component for c in candidates) or "no component"
        if not clients:
            return (
                f"Client traffic caused the incident{seen_at}: the requests at the edge at "
                "least doubled before anything failed, spread over the clients (no single "
                f"address to limit). Affected: {victims}."
            )
        lead = ", ".join(f"{c.ip} ({c.reason})" for c in clients[:3])
        return f"Abusive client traffic caused the incident{seen_at}: {lead}. Affected: {victims}."
    root = root_cause.component
    text = _root_sentence(root, evidence.get(root))
    text += _followers(
        candidates=candidates, affected=affected, clients=clients, dependencies=dependencies
    )
    if symptom:
        text += f" Symptom{seen_at}."
    return text
