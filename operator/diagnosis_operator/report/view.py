"""The view model of a report: every sentence and row the Markdown and HTML show.

The report follows the shape of a hand-written incident report: a summary, the
evidence chain layer by layer from the root cause up to the symptom, the
timeline and causal chain, the root cause with its contributing factors, and
recommendations by urgency with the remediation plan.  Every sentence is built
from the ``DiagnosisResult``; nothing here knows about any particular incident.

Pure: ``build_view(result)`` is values in, values out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from diagnosis_operator.models.coverage import Outcome
from diagnosis_operator.models.findings import (
    CLIENT_CAUSE,
    NO_CONCLUSION,
    NO_INCIDENT,
    AffectedInstance,
    Candidate,
    DiagnosisResult,
    Evidence,
    ProposedRemediation,
    Recommendation,
    RootCause,
    Urgency,
)
from diagnosis_operator.models.signals import Window
from diagnosis_operator.report._chain import (
    AGGRAVATING,
    OTHER,
    PROPAGATION,
    ROOT,
    SYMPTOM,
    Chain,
    Layer,
    build_chain,
    event_key,
)
from diagnosis_operator.report._format import clock, limited, num, percent, span, stamp
from diagnosis_operator.report._narrative import (
    chain_label,
    change_text,
    feed_target,
    inference,
    root_label,
    standing,
    wrap_up,
)

_LAYER_TITLES = {
    ROOT: "Root layer",
    PROPAGATION: "Propagation layer",
    SYMPTOM: "Symptom layer",
    AGGRAVATING: "Aggravating factor",
    OTHER: "Other evidence",
}

URGENCY_TITLES = (
    (Urgency.IMMEDIATE, "Immediate actions"),
    (Urgency.SHORT_TERM, "Short-term fixes"),
    (Urgency.LONG_TERM, "Long-term hardening"),
)


@dataclass(frozen=True)
class EvidenceView:
    number: int
    title: str
    time: str | None
    instance: str | None
    content: str
    inference: str
    source: str
    query: str
    line: str | None


@dataclass(frozen=True)
class LayerView:
    anchor: str
    heading: str
    role: str
    component: str
    standing: str
    affected: tuple[AffectedInstance, ...]
    evidence: tuple[EvidenceView, ...]
    wrap_up: str


@dataclass(frozen=True)
class ChainRow:
    start: float
    span: str
    label: str
    role: str
    happened: str


@dataclass(frozen=True)
class ClientView:
    ip: str
    pattern: str
    requests: str
    first_seen: str
    last_seen: str
    reason: str


@dataclass(frozen=True)
class RecommendationGroup:
    title: str
    items: tuple[Recommendation, ...]


@dataclass(frozen=True)
class ReportView:
    quiet: bool
    title: str
    window: str
    symptom: str
    time_span: str
    impact: str
    affected: tuple[AffectedInstance, ...]
    root_cause_line: str
    root_cause: RootCause
    root_summary: str
    layers: tuple[LayerView, ...]
    clients: tuple[ClientView, ...]
    client_evidence: tuple[EvidenceView, ...]
    chain_rows: tuple[ChainRow, ...]
    chain_text: str
    chain_sentence: str
    feeding: tuple[str, ...]
    timeline: tuple[tuple[str, str, str], ...]
    candidates: tuple[Candidate, ...]
    contributing: tuple[str, ...]
    recommendation_groups: tuple[RecommendationGroup, ...]
    remediations: tuple[ProposedRemediation, ...]
    warnings: tuple[str, ...]
    evidence_count: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)


def _evidence_view(number: int, item: Evidence, inference: str) -> EvidenceView:
    return EvidenceView(
        number=number,
        title=item.summary,
        time=stamp(item.ts) if item.ts is not None else None,
        instance=item.instance,
        content=change_text(item),
        inference=inference,
        source=item.source.value,
        query=item.query,
        line=item.line,
    )


def _layer_view(
    layer: Layer, chain: Chain, result: DiagnosisResult, *, anchor: str, number: int
) -> LayerView:
    """One layer of the evidence chain; its evidence is numbered on from ``number``."""
    items: list[EvidenceView] = []
    ordered = sorted(layer.evidence, key=lambda e: e.ts if e.ts is not None else math.inf)
    for index, item in enumerate(ordered):
        why = inference(item, layer, chain, result, first=index == 0)
        items.append(_evidence_view(number + index + 1, item, why))
    return LayerView(
        anchor=anchor,
        heading=f"{_LAYER_TITLES[layer.role]}: {layer.component}",
        role=layer.role,
        component=layer.component,
        standing=standing(layer),
        affected=layer.affected,
        evidence=tuple(items),
        wrap_up=wrap_up(layer, window=result.window),
    )


def _layer_views(chain: Chain, result: DiagnosisResult) -> list[LayerView]:
    views: list[LayerView] = []
    number = 0
    for layer in chain.told_in_order():
        view = _layer_view(layer, chain, result, anchor=f"layer-{len(views) + 1}", number=number)
        number += len(view.evidence)
        views.append(view)
    return views


def _client_evidence(chain: Chain, result: DiagnosisResult, *, number: int) -> list[EvidenceView]:
    inference = (
        "This traffic is the cause: it arrives before the layers it hits degrade."
        if result.root_cause.component == CLIENT_CAUSE
        else "This traffic arrives while the system is already degraded and adds to its load."
    )
    return [
        _evidence_view(number + index + 1, item, inference)
        for index, item in enumerate(chain.client_evidence)
    ]


def _client_views(result: DiagnosisResult) -> tuple[ClientView, ...]:
    return tuple(
        ClientView(
            ip=c.ip,
            pattern=c.pattern.value,
            requests=num(c.requests),
            first_seen=stamp(c.first_seen) if c.first_seen is not None else "—",
            last_seen=stamp(c.last_seen) if c.last_seen is not None else "—",
            reason=c.reason,
        )
        for c in result.clients
    )


def _clients_row(result: DiagnosisResult, *, window: Window, label: str, role: str) -> ChainRow:
    """The chain row of the offending clients, from the first to the last time seen."""
    first = min((c.first_seen for c in result.clients if c.first_seen is not None), default=None)
    last = max((c.last_seen for c in result.clients if c.last_seen is not None), default=None)
    return ChainRow(
        start=first if first is not None else math.inf,
        span=span(first, last, window=window),
        label=label,
        role=role,
        happened="; ".join(limited(c.reason for c in result.clients)),
    )


def _chain_rows(chain: Chain, result: DiagnosisResult) -> tuple[ChainRow, ...]:
    window = result.window
    client_cause = result.root_cause.component == CLIENT_CAUSE
    rows: list[ChainRow] = []
    if client_cause and result.clients:
        rows.append(_clients_row(result, window=window, label=root_label(result), role=ROOT))
    for layer in (*chain.layers, *chain.aggravating):
        rows.append(
            ChainRow(
                start=layer.first_ts if layer.first_ts is not None else math.inf,
                span=span(layer.first_ts, layer.last_ts, window=window),
                label=chain_label(layer),
                role=layer.role,
                happened="; ".join(
                    limited([e.event for e in layer.events] or [e.summary for e in layer.evidence])
                ),
            )
        )
    if not client_cause and result.clients:
        label = "clients " + ", ".join(c.ip for c in result.clients)
        rows.append(_clients_row(result, window=window, label=label, role=AGGRAVATING))
    rows.sort(key=lambda row: row.start)
    return tuple(rows)


def _chain_text(rows: Sequence[ChainRow]) -> str:
    width_span = max((len(row.span) for row in rows), default=0)
    width_label = max((len(f"{row.label} ({row.role})") for row in rows), default=0)
    lines = [
        f"{row.span:<{width_span}}  {f'{row.label} ({row.role})':<{width_label}}  {row.happened}"
        for row in rows
    ]
    return "\n".join(lines) or "(no timeline)"


def _chain_sentence(chain: Chain, result: DiagnosisResult) -> str:
    path = [root_label(result)] if result.root_cause.component == CLIENT_CAUSE else []
    path += [chain_label(layer) for layer in chain.layers]
    if chain.layers and chain.layers[-1].role != SYMPTOM and result.symptom:
        path.append(f"symptom: {result.symptom}")
    return " → ".join(path)


def _feeding(chain: Chain, result: DiagnosisResult) -> tuple[str, ...]:
    target = feed_target(chain)
    feeding = [f"{layer.component} aggravates {target}" for layer in chain.aggravating if target]
    if result.root_cause.component != CLIENT_CAUSE:
        feeding += [
            f"client {c.ip} ({c.pattern.value}) adds load to {target}"
            for c in result.clients
            if target
        ]
    return tuple(feeding)


def _contributing(chain: Chain, result: DiagnosisResult) -> tuple[str, ...]:
    contributing: list[str] = []
    for layer in chain.aggravating:
        reasons = "; ".join(layer.candidate.reasons) if layer.candidate else ""
        contributing.append(
            f"Aggravating: {layer.component}" + (f" — {reasons}" if reasons else "")
        )
    if result.root_cause.component != CLIENT_CAUSE:
        contributing += [
            f"Abusive client {c.ip} ({c.pattern.value}, {c.requests} requests): {c.reason}"
            for c in result.clients
        ]
    contributing += [
        f"Degraded instance {a.component} {a.instance}: {a.reason}" for a in result.affected
    ]
    return tuple(contributing)


def _impact(result: DiagnosisResult) -> str:
    if result.affected:
        names = sorted({a.component for a in result.affected})
        return (
            f"Local: {len(result.affected)} instance(s) of {', '.join(names)} are degraded "
            "while their sibling instances are not."
        )
    if result.root_cause.component == NO_INCIDENT:
        return "None: no component left its baseline enough to call it an incident."
    return (
        "Broad: no single instance stands out; each affected component degrades"
        " on all its instances alike."
    )


def _time_span(result: DiagnosisResult) -> str:
    stamps = [t.ts for t in result.timeline]
    if not stamps:
        return "no timeline events"
    if max(stamps) - min(stamps) < 1:
        return f"at {stamp(min(stamps))} ({len(stamps)} timeline event(s))"
    return f"{stamp(min(stamps))} to {stamp(max(stamps))} ({len(stamps)} timeline events)"


def _root_line(result: DiagnosisResult) -> str:
    cause = result.root_cause
    if result.coverage.outcome is Outcome.FAILED:
        return f"unknown: no conclusion ({result.coverage.reason}: {result.coverage.message})"
    if cause.component == NO_INCIDENT:
        return "none: no incident in this window"
    line = root_label(result) + (f": {cause.failure_mode}" if cause.failure_mode else "")
    if cause.kind and cause.component != CLIENT_CAUSE:
        line += f", kind {cause.kind}"
    return line + f" — confidence {percent(cause.confidence)}"


def _title(result: DiagnosisResult) -> str:
    subject = result.symptom or "the diagnosed window"
    if result.coverage.outcome is Outcome.FAILED:
        return f"Diagnosis report: no conclusion, the sources gave nothing to go on ({subject})"
    if result.coverage.outcome is Outcome.DEGRADED:
        return f"Diagnosis report, degraded (part of the evidence is missing): {subject}"
    if result.root_cause.component == NO_INCIDENT:
        return f"Diagnosis report: no incident found ({subject})"
    return f"Incident diagnosis report: {subject}"


def build_view(result: DiagnosisResult) -> ReportView:
    """Pure: everything the report says about ``result``, ready to be laid out."""
    window = result.window
    chain = build_chain(result)
    layer_views = _layer_views(chain, result)
    number = sum(len(view.evidence) for view in layer_views)
    client_items = _client_evidence(chain, result, number=number)
    rows = _chain_rows(chain, result)
    return ReportView(
        quiet=result.root_cause.component in (NO_INCIDENT, NO_CONCLUSION),
        title=_title(result),
        window=f"{stamp(window.start)} to {stamp(window.end)}",
        symptom=result.symptom or "not given",
        time_span=_time_span(result),
        impact=_impact(result),
        affected=result.affected,
        root_cause_line=_root_line(result),
        root_cause=result.root_cause,
        root_summary=result.root_cause.summary,
        layers=tuple(v for v in layer_views if v.evidence or v.role != OTHER),
        clients=_client_views(result),
        client_evidence=tuple(client_items),
        chain_rows=rows,
        chain_text=_chain_text(rows),
        chain_sentence=_chain_sentence(chain, result),
        feeding=_feeding(chain, result),
        timeline=tuple(
            (clock(t.ts, window=window), t.component, t.event)
            for t in sorted(result.timeline, key=event_key)
        ),
        candidates=result.candidates,
        contributing=_contributing(chain, result),
        recommendation_groups=tuple(
            RecommendationGroup(
                title, tuple(r for r in result.recommendations if r.urgency == urgency)
            )
            for urgency, title in URGENCY_TITLES
        ),
        remediations=result.remediations,
        warnings=result.warnings,
        evidence_count=number + len(client_items),
    )
