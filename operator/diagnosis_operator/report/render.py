"""Markdown and HTML reports of a diagnosis, and reading a saved diagnosis back.

The report follows the shape of a hand-written incident report: a summary, the
evidence chain layer by layer from the root cause up to the symptom, the
timeline and causal chain, the root cause with its contributing factors, and
recommendations by urgency with the remediation plan.  Every sentence is built
from the ``DiagnosisResult``; nothing here knows about any particular incident.

Everything that comes from the data (log lines above all) is untrusted: the HTML
template autoescapes it, and Markdown output escapes it or fences it as code.

All functions here are pure: values in, text out.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import jinja2
import markupsafe

from diagnosis_operator.models.findings import (
    CLIENT_CAUSE,
    NO_INCIDENT,
    AbusiveClient,
    ActionType,
    AffectedInstance,
    Candidate,
    ClientPattern,
    DiagnosisResult,
    Evidence,
    EvidenceSource,
    KeySignal,
    ProposedRemediation,
    Recommendation,
    RootCause,
    TimelineEvent,
    Urgency,
)
from diagnosis_operator.models.signals import Window, from_seconds, utc_seconds

__all__ = [
    "ResultFormatError",
    "render_html",
    "render_markdown",
    "result_from_json",
]

# Roles a component plays in the chain, in the order the evidence is told.
ROOT = "root"
PROPAGATION = "propagation"
SYMPTOM = "symptom"
AGGRAVATING = "aggravating"
OTHER = "other"

_LAYER_TITLES = {
    ROOT: "Root layer",
    PROPAGATION: "Propagation layer",
    SYMPTOM: "Symptom layer",
    AGGRAVATING: "Aggravating factor",
    OTHER: "Other evidence",
}

_URGENCY_TITLES = (
    (Urgency.IMMEDIATE, "Immediate actions"),
    (Urgency.SHORT_TERM, "Short-term fixes"),
    (Urgency.LONG_TERM, "Long-term hardening"),
)

# Enough to read a plot and a chain; the rest stays in the JSON.
_MAX_PLOTTED_SIGNALS = 24
_MAX_POINTS_PER_SIGNAL = 480
_MAX_BOXES_PER_COLUMN = 4
_MAX_EVENTS_PER_CHAIN_ROW = 4
_MARKER_ROWS = 4
_LABEL_CHAR_WIDTH = 7.0


# --------------------------------------------------------------------------- formatting


def _is_same_day(window: Window) -> bool:
    return from_seconds(window.start).date() == from_seconds(window.end).date()


def _stamp(ts: float) -> str:
    """``2025-12-11 09:07:07Z`` (milliseconds only when there are some)."""
    moment = from_seconds(ts)
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond // 1000:03d}"
    return text + "Z"


def _clock(ts: float, *, window: Window) -> str:
    """Time of day when the window is within one day, else the full stamp."""
    if _is_same_day(window):
        return from_seconds(ts).strftime("%H:%M:%S")
    return _stamp(ts)


def _duration(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 1:
        return "under a second"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _num(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.0f}%"


# --------------------------------------------------------------------------- the chain


@dataclass(frozen=True)
class _Layer:
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
class _Chain:
    """The components ordered from the root cause up to the symptom."""

    layers: tuple[_Layer, ...]  # root first, then propagation, then symptom
    aggravating: tuple[_Layer, ...]
    other: tuple[_Layer, ...]
    client_evidence: tuple[Evidence, ...]
    client_events: tuple[TimelineEvent, ...]
    client_onset: float | None  # when abusive traffic is the root cause

    @property
    def root(self) -> _Layer | None:
        return next((layer for layer in self.layers if layer.role == ROOT), None)

    @property
    def root_onset(self) -> float | None:
        root = self.root
        return root.first_ts if root is not None else self.client_onset

    def told_in_order(self) -> tuple[_Layer, ...]:
        return self.layers + self.aggravating + self.other


def _symptom_component(result: DiagnosisResult, known: Sequence[str]) -> str | None:
    for candidate in result.candidates:
        if candidate.role == SYMPTOM:
            return candidate.component
    if result.symptom:
        # The symptom text usually starts with the component where it was seen.
        head = re.split(r"[\s:/,(]", result.symptom.strip(), maxsplit=1)[0]
        if head in known:
            return head
    return None


def _build_chain(result: DiagnosisResult) -> _Chain:
    root_name = result.root_cause.component
    known: list[str] = []

    def note(name: str) -> None:
        if name not in known and name not in (CLIENT_CAUSE, NO_INCIDENT):
            known.append(name)

    if root_name not in (CLIENT_CAUSE, NO_INCIDENT):
        note(root_name)
    for candidate in result.candidates:
        note(candidate.component)
    for affected in result.affected:
        note(affected.component)
    for item in result.evidence:
        note(item.component)
    for event in result.timeline:
        note(event.component)

    candidates = {c.component: c for c in result.candidates}
    aggravating_names = [c.component for c in result.aggravating if c.component != root_name]
    symptom_name = _symptom_component(result, known)
    if symptom_name == root_name or symptom_name in aggravating_names:
        symptom_name = None

    def layer(name: str, role: str) -> _Layer:
        return _Layer(
            role=role,
            component=name,
            candidate=candidates.get(name),
            affected=tuple(a for a in result.affected if a.component == name),
            evidence=tuple(e for e in result.evidence if e.component == name),
            events=tuple(
                sorted((t for t in result.timeline if t.component == name), key=_event_key)
            ),
        )

    rank = {name: index for index, name in enumerate(known)}
    middle = [
        layer(name, PROPAGATION)
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

    layers: list[_Layer] = []
    if root_name in known:
        layers.append(layer(root_name, ROOT))
    layers.extend(on_path)
    if symptom_name is not None:
        layers.append(layer(symptom_name, SYMPTOM))
    aggravating = [layer(name, AGGRAVATING) for name in aggravating_names]
    others = [
        _Layer(OTHER, m.component, m.candidate, m.affected, m.evidence, m.events) for m in off_path
    ]
    return _Chain(
        layers=tuple(layers),
        aggravating=tuple(aggravating),
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


def _event_key(event: TimelineEvent) -> tuple[float, str]:
    return (event.ts, event.event)


# --------------------------------------------------------------------------- the view


@dataclass(frozen=True)
class _EvidenceView:
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
class _LayerView:
    anchor: str
    heading: str
    role: str
    component: str
    standing: str
    affected: tuple[AffectedInstance, ...]
    evidence: tuple[_EvidenceView, ...]
    wrap_up: str


@dataclass(frozen=True)
class _ChainRow:
    start: float
    span: str
    label: str
    role: str
    happened: str


@dataclass(frozen=True)
class _ClientView:
    ip: str
    pattern: str
    requests: str
    first_seen: str
    last_seen: str
    reason: str


@dataclass(frozen=True)
class _RecommendationGroup:
    title: str
    items: tuple[Recommendation, ...]


@dataclass(frozen=True)
class _ReportView:
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
    layers: tuple[_LayerView, ...]
    clients: tuple[_ClientView, ...]
    client_evidence: tuple[_EvidenceView, ...]
    chain_rows: tuple[_ChainRow, ...]
    chain_text: str
    chain_sentence: str
    feeding: tuple[str, ...]
    timeline: tuple[tuple[str, str, str], ...]
    candidates: tuple[Candidate, ...]
    contributing: tuple[str, ...]
    recommendation_groups: tuple[_RecommendationGroup, ...]
    remediations: tuple[ProposedRemediation, ...]
    warnings: tuple[str, ...]
    evidence_count: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)


def _change_text(item: Evidence) -> str:
    if item.value is None:
        return ""
    if item.baseline is None:
        return f"value {_num(item.value)}"
    text = f"value {_num(item.value)} against a baseline of {_num(item.baseline)}"
    if item.baseline == 0:
        return text + (" (absent before the incident)" if item.value != 0 else "")
    ratio = item.value / item.baseline
    if ratio >= 1.5:
        return text + f" (×{ratio:.1f})"
    if 0 <= ratio <= 1 / 1.5:
        return text + f" ({_percent(ratio)} of baseline)"
    return text


def _relative(ts: float | None, onset: float | None) -> str | None:
    if ts is None or onset is None:
        return None
    delta = ts - onset
    if abs(delta) < 1:
        return "at the same moment as the root cause's first sign"
    when = _duration(delta)
    return (
        f"{when} after the root cause's first sign"
        if delta > 0
        else (f"{when} before the root cause's first sign")
    )


def _magnitude(item: Evidence) -> str:
    """How strong one piece of evidence is on its own, read from value and baseline."""
    if item.value is None or item.baseline is None:
        return ""
    if item.baseline == 0:
        return "absent before the incident, so it came with it" if item.value != 0 else ""
    ratio = item.value / item.baseline
    if ratio >= 1.5:
        return f"{ratio:.1f} times its baseline, far outside normal variation"
    if 0 <= ratio <= 1 / 1.5:
        return f"down to {_percent(ratio)} of its baseline"
    return "close to its baseline, so weak on its own"


def _inference(
    item: Evidence, layer: _Layer, chain: _Chain, result: DiagnosisResult, *, first: bool
) -> str:
    """Why this piece of evidence matters where it sits in the chain."""
    ts = item.ts if item.ts is not None else layer.first_ts
    magnitude = _magnitude(item)
    strength = f" The signal is {magnitude}." if magnitude else ""
    where = f"`{item.instance}`" if item.instance else f"`{layer.component}`"
    if not first:
        since = (
            f"{_duration(ts - layer.first_ts)} after this layer's first sign"
            if ts is not None and layer.first_ts is not None and ts - layer.first_ts >= 1
            else "together with this layer's first sign"
        )
        follow = {
            ROOT: "another sign at the origin of the chain",
            PROPAGATION: "the failure keeps spreading here",
            SYMPTOM: "more of the failure users see",
            AGGRAVATING: "continued pressure from this factor",
        }.get(layer.role, "seen in the window")
        return f"{where}: {follow}, {since}.{strength}"
    relative = _relative(ts, chain.root_onset)
    if layer.role == ROOT:
        confidence = _percent(result.root_cause.confidence)
        return (
            f"{where} is where the chain starts (root cause, confidence {confidence}); "
            f"the layers above degrade after it.{strength}"
        )
    if layer.role == PROPAGATION:
        timing = f", {relative}" if relative else ""
        local = ""
        if layer.affected:
            local = (
                " Only the listed instances degrade while their siblings stay healthy,"
                " so the fault is local to them."
            )
        return (
            f"{where} sits between the root cause and the symptom and degrades{timing}: "
            f"it passes the failure upward.{strength}{local}"
        )
    if layer.role == SYMPTOM:
        timing = f" It shows {relative}." if relative else ""
        return f"This is where the failure becomes visible to users.{timing}{strength}"
    if layer.role == AGGRAVATING:
        timing = f" It starts {relative}." if relative else ""
        return (
            f"`{layer.component}` is not where the incident starts, but it adds to the load "
            f"and latency of the degraded layers.{timing}{strength}"
        )
    return f"Seen in the window but not on the causal path.{strength}"


def _evidence_view(number: int, item: Evidence, inference: str) -> _EvidenceView:
    return _EvidenceView(
        number=number,
        title=item.summary,
        time=_stamp(item.ts) if item.ts is not None else None,
        instance=item.instance,
        content=_change_text(item),
        inference=inference,
        source=item.source.value,
        query=item.query,
        line=item.line,
    )


def _standing(layer: _Layer) -> str:
    parts: list[str] = []
    if layer.candidate is not None:
        parts.append(f"anomaly score {layer.candidate.score:.2f}")
        parts.extend(layer.candidate.reasons)
    return "; ".join(parts)


def _wrap_up(layer: _Layer, *, window: Window) -> str:
    first, last = layer.first_ts, layer.last_ts
    count = len(layer.evidence)
    noun = "piece" if count == 1 else "pieces"
    text = f"{count} {noun} of evidence"
    if first is not None and last is not None:
        if last - first >= 1:
            text += f" between {_clock(first, window=window)} and {_clock(last, window=window)}"
        else:
            text += f" at {_clock(first, window=window)}"
    if layer.events:
        text += "; events: " + "; ".join(_limited(e.event for e in layer.events))
    if layer.affected:
        text += "; degraded instances: " + ", ".join(a.instance for a in layer.affected)
    return text + "."


def _limited(texts: Iterable[str], limit: int = _MAX_EVENTS_PER_CHAIN_ROW) -> list[str]:
    unique: list[str] = []
    for text in texts:
        if text not in unique:
            unique.append(text)
    if len(unique) > limit:
        return [*unique[:limit], f"and {len(unique) - limit} more"]
    return unique


def _chain_label(layer: _Layer) -> str:
    if layer.role == ROOT and layer.affected:
        return f"{layer.component} ({', '.join(a.instance for a in layer.affected)})"
    if layer.affected:
        return f"{layer.component} ({', '.join(a.instance for a in layer.affected)})"
    return layer.component


def _root_label(result: DiagnosisResult) -> str:
    cause = result.root_cause
    if cause.component == CLIENT_CAUSE:
        ips = ", ".join(c.ip for c in result.clients)
        return f"abusive client traffic ({ips})" if ips else "abusive client traffic"
    label = cause.component
    if cause.instance:
        label += f" ({cause.instance})"
    return label


def _span(first: float | None, last: float | None, *, window: Window) -> str:
    if first is None:
        return "—"
    if last is None or last - first < 1:
        return _clock(first, window=window)
    return f"{_clock(first, window=window)}–{_clock(last, window=window)}"


def _clients_row(result: DiagnosisResult, *, window: Window, label: str, role: str) -> _ChainRow:
    """The chain row of the offending clients, from the first to the last time seen."""
    first = min((c.first_seen for c in result.clients if c.first_seen is not None), default=None)
    last = max((c.last_seen for c in result.clients if c.last_seen is not None), default=None)
    return _ChainRow(
        start=first if first is not None else math.inf,
        span=_span(first, last, window=window),
        label=label,
        role=role,
        happened="; ".join(_limited(c.reason for c in result.clients)),
    )


def _build_view(result: DiagnosisResult) -> _ReportView:
    window = result.window
    cause = result.root_cause
    quiet = cause.component == NO_INCIDENT
    chain = _build_chain(result)

    number = 0
    layer_views: list[_LayerView] = []
    for layer in chain.told_in_order():
        items: list[_EvidenceView] = []
        ordered = sorted(layer.evidence, key=lambda e: e.ts if e.ts is not None else math.inf)
        for index, item in enumerate(ordered):
            number += 1
            inference = _inference(item, layer, chain, result, first=index == 0)
            items.append(_evidence_view(number, item, inference))
        if layer.role == AGGRAVATING:
            heading = f"{_LAYER_TITLES[AGGRAVATING]}: {layer.component}"
        else:
            heading = f"{_LAYER_TITLES[layer.role]}: {layer.component}"
        layer_views.append(
            _LayerView(
                anchor=f"layer-{len(layer_views) + 1}",
                heading=heading,
                role=layer.role,
                component=layer.component,
                standing=_standing(layer),
                affected=layer.affected,
                evidence=tuple(items),
                wrap_up=_wrap_up(layer, window=window),
            )
        )

    client_items: list[_EvidenceView] = []
    for item in chain.client_evidence:
        number += 1
        inference = (
            "This traffic is the cause: it arrives before the layers it hits degrade."
            if cause.component == CLIENT_CAUSE
            else "This traffic arrives while the system is already degraded and adds to its load."
        )
        client_items.append(_evidence_view(number, item, inference))

    clients = tuple(
        _ClientView(
            ip=c.ip,
            pattern=c.pattern.value,
            requests=_num(c.requests),
            first_seen=_stamp(c.first_seen) if c.first_seen is not None else "—",
            last_seen=_stamp(c.last_seen) if c.last_seen is not None else "—",
            reason=c.reason,
        )
        for c in result.clients
    )

    chain_rows: list[_ChainRow] = []
    if cause.component == CLIENT_CAUSE and result.clients:
        chain_rows.append(_clients_row(result, window=window, label=_root_label(result), role=ROOT))
    for layer in (*chain.layers, *chain.aggravating):
        chain_rows.append(
            _ChainRow(
                start=layer.first_ts if layer.first_ts is not None else math.inf,
                span=_span(layer.first_ts, layer.last_ts, window=window),
                label=_chain_label(layer),
                role=layer.role,
                happened="; ".join(
                    _limited([e.event for e in layer.events] or [e.summary for e in layer.evidence])
                ),
            )
        )
    if cause.component != CLIENT_CAUSE and result.clients:
        chain_rows.append(
            _clients_row(
                result,
                window=window,
                label="clients " + ", ".join(c.ip for c in result.clients),
                role=AGGRAVATING,
            )
        )
    chain_rows.sort(key=lambda row: row.start)

    path = [_root_label(result)] if cause.component == CLIENT_CAUSE else []
    path += [_chain_label(layer) for layer in chain.layers]
    if chain.layers and chain.layers[-1].role != SYMPTOM and result.symptom:
        path.append(f"symptom: {result.symptom}")
    chain_sentence = " → ".join(path)
    target = _feed_target(chain)
    feeding: list[str] = [
        f"{layer.component} aggravates {target}" for layer in chain.aggravating if target
    ]
    if cause.component != CLIENT_CAUSE:
        feeding += [
            f"client {c.ip} ({c.pattern.value}) adds load to {target}"
            for c in result.clients
            if target
        ]

    contributing: list[str] = []
    for layer in chain.aggravating:
        reasons = "; ".join(layer.candidate.reasons) if layer.candidate else ""
        contributing.append(
            f"Aggravating: {layer.component}" + (f" — {reasons}" if reasons else "")
        )
    if cause.component != CLIENT_CAUSE:
        contributing += [
            f"Abusive client {c.ip} ({c.pattern.value}, {c.requests} requests): {c.reason}"
            for c in result.clients
        ]
    contributing += [
        f"Degraded instance {a.component} {a.instance}: {a.reason}" for a in result.affected
    ]

    if result.affected:
        names = sorted({a.component for a in result.affected})
        impact = (
            f"Local: {len(result.affected)} instance(s) of {', '.join(names)} are degraded "
            "while their sibling instances are not."
        )
    elif quiet:
        impact = "None: no component left its baseline enough to call it an incident."
    else:
        impact = (
            "Broad: no single instance stands out; each affected component degrades"
            " on all its instances alike."
        )

    stamps = [t.ts for t in result.timeline]
    if not stamps:
        time_span = "no timeline events"
    elif max(stamps) - min(stamps) < 1:
        time_span = f"at {_stamp(min(stamps))} ({len(stamps)} timeline event(s))"
    else:
        time_span = (
            f"{_stamp(min(stamps))} to {_stamp(max(stamps))} ({len(stamps)} timeline events)"
        )
    if cause.component == NO_INCIDENT:
        root_line = "none: no incident in this window"
    else:
        root_line = _root_label(result)
        if cause.kind and cause.component != CLIENT_CAUSE:
            root_line += f", kind {cause.kind}"
        root_line += f" — confidence {_percent(cause.confidence)}"

    groups = tuple(
        _RecommendationGroup(
            title, tuple(r for r in result.recommendations if r.urgency == urgency)
        )
        for urgency, title in _URGENCY_TITLES
    )
    subject = result.symptom or "the diagnosed window"
    title = (
        f"Diagnosis report: no incident found ({subject})"
        if quiet
        else f"Incident diagnosis report: {subject}"
    )
    rows = tuple(chain_rows)
    return _ReportView(
        quiet=quiet,
        title=title,
        window=f"{_stamp(window.start)} to {_stamp(window.end)}",
        symptom=result.symptom or "not given",
        time_span=time_span,
        impact=impact,
        affected=result.affected,
        root_cause_line=root_line,
        root_cause=cause,
        root_summary=cause.summary,
        layers=tuple(v for v in layer_views if v.evidence or v.role != OTHER),
        clients=clients,
        client_evidence=tuple(client_items),
        chain_rows=rows,
        chain_text=_chain_text(rows),
        chain_sentence=chain_sentence,
        feeding=tuple(feeding),
        timeline=tuple(
            (_clock(t.ts, window=window), t.component, t.event)
            for t in sorted(result.timeline, key=_event_key)
        ),
        candidates=result.candidates,
        contributing=tuple(contributing),
        recommendation_groups=groups,
        remediations=result.remediations,
        warnings=result.warnings,
        evidence_count=number,
    )


def _feed_target(chain: _Chain) -> str | None:
    """Where aggravating factors and clients push: the degraded layer, else the symptom."""
    for layer in chain.layers:
        if layer.role == PROPAGATION and layer.affected:
            return _chain_label(layer)
    for layer in chain.layers:
        if layer.role == PROPAGATION:
            return _chain_label(layer)
    return _chain_label(chain.layers[-1]) if chain.layers else None


# --------------------------------------------------------------------------- Markdown

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#!~])")


def _md(text: str, *, strip: bool = True) -> str:
    """Free text for Markdown: one line, markup characters escaped."""
    flat = re.sub(r"\s+", " ", text)
    return _MD_SPECIAL.sub(r"\\\1", flat.strip() if strip else flat)


def _md_code(text: str, *, in_table: bool = False) -> str:
    """An inline code span that the text cannot close."""
    flat = " ".join(text.split())
    if in_table:
        flat = flat.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") or not flat else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def _md_block(text: str, *, language: str = "text") -> list[str]:
    longest = max((len(run) for run in re.findall(r"`{3,}", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{language}", *text.splitlines(), fence]


def _md_cell(text: str) -> str:
    return _md(text) if text else "—"


def render_markdown(result: DiagnosisResult) -> str:
    """Pure: the report as Markdown (CommonMark with GitHub tables)."""
    view = _build_view(result)
    out: list[str] = [f"# {_md(view.title)}", ""]
    if view.quiet:
        out += _md_quiet(view, result)
        return "\n".join(out).rstrip() + "\n"

    out += ["## 1. Summary", ""]
    out += [
        f"- **Symptom**: {_md(view.symptom)}",
        f"- **Window**: {view.window}",
        f"- **Incident span**: {view.time_span}",
        f"- **Impact scope**: {_md(view.impact)}",
    ]
    if view.affected:
        out.append("- **Affected instances**:")
        out += [f"  - {_md_affected(a)}" for a in view.affected]
    else:
        out.append("- **Affected instances**: none singled out")
    out.append(f"- **Root cause**: {_md(view.root_cause_line)}")
    if view.clients:
        out.append(f"- **Abusive clients**: {', '.join(_md_code(c.ip) for c in view.clients)}")
    out += ["", _md(view.root_summary) or "_No summary given._", ""]

    out += [
        "## 2. Evidence chain",
        "",
        "Evidence is told layer by layer, from the root cause up to where the symptom is seen; "
        "aggravating factors and abusive clients follow.",
        "",
    ]
    section = 0
    for layer in view.layers:
        section += 1
        out += [f"### 2.{section} {_md(layer.heading)}", ""]
        if layer.standing:
            out += [f"_{_md(layer.standing)}_", ""]
        if not layer.evidence:
            out += ["No evidence item was recorded for this layer.", ""]
        for item in layer.evidence:
            out += _md_evidence(item)
        out += [f"**Layer summary**: {_md(layer.wrap_up)}", ""]
    if view.clients or view.client_evidence:
        section += 1
        out += [f"### 2.{section} Abusive clients", ""]
        out += _md_clients(view)
        for item in view.client_evidence:
            out += _md_evidence(item)
    section += 1
    out += [f"### 2.{section} Timeline and causal chain", ""]
    out += _md_block(view.chain_text)
    out += ["", f"**Causal chain**: {_md(view.chain_sentence) or 'not established'}"]
    for line in view.feeding:
        out.append(f"- {_md(line)}")
    out.append("")
    if view.timeline:
        out += ["| Time | Component | Event |", "|---|---|---|"]
        out += [
            f"| {ts} | {_md_code(component, in_table=True)} | {_md_cell(event)} |"
            for ts, component, event in view.timeline
        ]
        out.append("")

    out += ["## 3. Root cause and contributing factors", ""]
    out += [f"**Root cause**: {_md(view.root_cause_line)}", "", _md(view.root_summary), ""]
    out += _md_candidates(view)
    out += ["**Contributing factors**:", ""]
    out += [f"- {_md(text)}" for text in view.contributing] or ["- none found"]
    out.append("")

    out += ["## 4. Recommendations", ""]
    for index, group in enumerate(view.recommendation_groups, start=1):
        out += [f"### 4.{index} {group.title}", ""]
        if not group.items:
            out += ["None.", ""]
            continue
        for number, rec in enumerate(group.items, start=1):
            out.append(f"{number}. **{_md_code(rec.component)}**: {_md(rec.text)}")
            if rec.because:
                out.append(f"   _Because_: {_md(rec.because)}")
        out.append("")
    out += [f"### 4.{len(view.recommendation_groups) + 1} Remediation plan", ""]
    out += _md_remediations(view)
    out += _md_notes(view)
    return "\n".join(out).rstrip() + "\n"


def _md_quiet(view: _ReportView, result: DiagnosisResult) -> list[str]:
    out = [
        "## 1. Summary",
        "",
        "**No incident found.**",
        "",
        f"- **Window**: {view.window}",
        f"- **Symptom reported**: {_md(view.symptom)}",
        "",
    ]
    if view.root_summary:
        out += [_md(view.root_summary), ""]
    if view.candidates:
        out += ["Signals that moved, but not enough to call an incident:", ""]
        out += [f"- {_md_code(c.component)} (score {c.score:.2f})" for c in view.candidates]
        out.append("")
    if result.remediations:
        out += ["## Remediation plan", ""]
        out += _md_remediations(view)
    out += _md_notes(view)
    return out


def _md_notes(view: _ReportView) -> list[str]:
    if not view.warnings:
        return []
    return ["## Notes", "", *(f"- {_md(w)}" for w in view.warnings), ""]


def _md_affected(affected: AffectedInstance) -> str:
    where = f"{_md_code(affected.component)} {_md_code(affected.instance)}"
    if affected.pod:
        pod = f"{affected.namespace}/{affected.pod}" if affected.namespace else affected.pod
        where += f" (pod {_md_code(pod)})"
    return f"{where}: {_md(affected.reason)}"


def _md_evidence(item: _EvidenceView) -> list[str]:
    out = [f"- **Evidence {item.number}: {_md(item.title)}**"]
    if item.time:
        out.append(f"  - **Time**: {item.time}")
    if item.instance:
        out.append(f"  - **Instance**: {_md_code(item.instance)}")
    content = _md(item.title) + (f"; {_md(item.content)}" if item.content else "")
    out.append(f"  - **Content**: {content}")
    # The inference text quotes names in backticks on purpose; escape everything else.
    out.append(f"  - **Inference**: {_md_with_code(item.inference)}")
    out.append(f"  - **Query** ({_md(item.source)}): {_md_code(item.query)}")
    if item.line is not None:
        out.append("  - **Log line**:")
        out += ["", *(f"    {row}" for row in _md_block(item.line))]
    out.append("")
    return out


def _md_with_code(text: str) -> str:
    """Free text whose backticked parts (names we put there) become code spans."""
    parts = re.split(r"`([^`]*)`", text)
    return "".join(
        _md_code(part) if index % 2 else _md(part, strip=False) for index, part in enumerate(parts)
    ).strip()


def _md_clients(view: _ReportView) -> list[str]:
    if not view.clients:
        return []
    out = [
        "| Client IP | Pattern | Requests | First seen | Last seen | Why |",
        "|---|---|---|---|---|---|",
    ]
    out += [
        f"| {_md_code(c.ip, in_table=True)} | {c.pattern} | {c.requests} | {c.first_seen} | "
        f"{c.last_seen} | {_md_cell(c.reason)} |"
        for c in view.clients
    ]
    return [*out, ""]


def _md_candidates(view: _ReportView) -> list[str]:
    if not view.candidates:
        return []
    out = ["| Rank | Component | Role | Score | Reasons |", "|---|---|---|---|---|"]
    out += [
        f"| {rank} | {_md_code(c.component, in_table=True)} | {_md(c.role)} | {c.score:.2f} | "
        f"{_md_cell('; '.join(c.reasons))} |"
        for rank, c in enumerate(view.candidates, start=1)
    ]
    return [*out, ""]


def _md_remediations(view: _ReportView) -> list[str]:
    if not view.remediations:
        return ["No remediation is proposed.", ""]
    out = ["| Action | Target | State | Reason | Parameters |", "|---|---|---|---|---|"]
    out += [
        f"| {_md_code(r.action.value, in_table=True)} | {_md_code(r.target, in_table=True)} | "
        f"**{_md(r.state)}** | {_md_cell(r.reason)} | {_md_cell(_params_text(r.params))} |"
        for r in view.remediations
    ]
    return [*out, ""]


def _params_text(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(params.items()))


def _chain_text(rows: Sequence[_ChainRow]) -> str:
    width_span = max((len(row.span) for row in rows), default=0)
    width_label = max((len(f"{row.label} ({row.role})") for row in rows), default=0)
    lines = [
        f"{row.span:<{width_span}}  {f'{row.label} ({row.role})':<{width_label}}  {row.happened}"
        for row in rows
    ]
    return "\n".join(lines) or "(no timeline)"


# --------------------------------------------------------------------------- HTML plots

_PALETTE = (
    "#c0392b",
    "#2e86c1",
    "#d68910",
    "#239b56",
    "#7d3c98",
    "#17a589",
    "#b9770e",
    "#5d6d7e",
)


@dataclass(frozen=True)
class _Lane:
    label: str
    detail: str
    query: str
    anomalous: bool
    color: str
    top: float
    height: float
    points: str
    minimum: str
    maximum: str


@dataclass(frozen=True)
class _Marker:
    x: float
    label: str
    title: str
    color: str
    label_y: float


@dataclass(frozen=True)
class _Tick:
    x: float
    label: str


@dataclass(frozen=True)
class _EventDot:
    x: float
    color: str
    title: str


@dataclass(frozen=True)
class _SignalPlot:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    lanes: tuple[_Lane, ...]
    markers: tuple[_Marker, ...]
    ticks: tuple[_Tick, ...]
    events: tuple[_EventDot, ...]
    events_y: float
    hidden: int
    legend: tuple[tuple[str, str], ...]


def _component_colors(chain: _Chain, result: DiagnosisResult) -> dict[str, str]:
    names = [layer.component for layer in chain.told_in_order()]
    for name in [k.component for k in result.key_signals] + [t.component for t in result.timeline]:
        if name not in names:
            names.append(name)
    return {name: _PALETTE[index % len(_PALETTE)] for index, name in enumerate(names)}


def _thin(timestamps: Sequence[float], values: Sequence[float]) -> list[tuple[float, float]]:
    """At most ``_MAX_POINTS_PER_SIGNAL`` points, keeping each bucket's min and max."""
    pairs = [(t, v) for t, v in zip(timestamps, values, strict=True) if math.isfinite(v)]
    if len(pairs) <= _MAX_POINTS_PER_SIGNAL:
        return pairs
    buckets = _MAX_POINTS_PER_SIGNAL // 2
    size = math.ceil(len(pairs) / buckets)
    kept: list[tuple[float, float]] = []
    for start in range(0, len(pairs), size):
        chunk = pairs[start : start + size]
        low = min(chunk, key=lambda p: p[1])
        high = max(chunk, key=lambda p: p[1])
        kept.extend(sorted({low, high}))
    return kept


def _time_range(result: DiagnosisResult) -> tuple[float, float]:
    start, end = result.window.start, result.window.end
    for signal in result.key_signals:
        if signal.timestamps:
            start = min(start, signal.timestamps[0])
            end = max(end, signal.timestamps[-1])
    return start, end


def _nice_step(span: float) -> float:
    for step in (15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400):
        if span / step <= 10:
            return float(step)
    return 86400.0 * math.ceil(span / 86400 / 10)


def _signal_plot(result: DiagnosisResult, chain: _Chain, colors: Mapping[str, str]) -> _SignalPlot:
    order = {layer.component: index for index, layer in enumerate(chain.told_in_order())}
    ranked = sorted(
        result.key_signals,
        key=lambda s: (not s.anomalous, order.get(s.component, len(order)), s.component, s.signal),
    )
    shown = ranked[:_MAX_PLOTTED_SIGNALS]
    shown.sort(key=lambda s: (order.get(s.component, len(order)), not s.anomalous, s.signal))

    width, left, right, top = 1200, 300, 20, 16 + _MARKER_ROWS * 15
    lane_height, gap = 40.0, 8.0
    plot_width = width - left - right
    start, end = _time_range(result)
    span = max(end - start, 1.0)

    def x_of(ts: float) -> float:
        return round(left + (ts - start) / span * plot_width, 1)

    lanes: list[_Lane] = []
    for index, signal in enumerate(shown):
        lane_top = top + index * (lane_height + gap)
        pairs = _thin(signal.timestamps, signal.values)
        values = [v for _, v in pairs]
        low = min(values, default=0.0)
        high = max(values, default=0.0)
        spread = high - low

        def y_of(
            value: float, lane_top: float = lane_top, low: float = low, spread: float = spread
        ) -> float:
            fraction = 0.5 if spread == 0 else (value - low) / spread
            return round(lane_top + lane_height - 3 - fraction * (lane_height - 6), 1)

        points = " ".join(f"{x_of(t)},{y_of(v)}" for t, v in pairs)
        where = signal.component + (f" {signal.instance}" if signal.instance else "")
        lanes.append(
            _Lane(
                label=signal.signal,
                detail=where,
                query=signal.query,
                anomalous=signal.anomalous,
                color=colors.get(signal.component, _PALETTE[-1]),
                top=lane_top,
                height=lane_height,
                points=points,
                minimum=_num(low),
                maximum=_num(high),
            )
        )

    plot_bottom = top + max(len(lanes), 1) * (lane_height + gap)
    events_y = plot_bottom + 10
    onsets: dict[str, TimelineEvent] = {}
    for event in sorted(result.timeline, key=_event_key):
        onsets.setdefault(event.component, event)
    markers: list[_Marker] = []
    row_ends: list[float] = []  # right edge of the last label in each row
    for event in sorted(onsets.values(), key=_event_key):
        x = x_of(event.ts)
        label = f"{event.component} {_clock(event.ts, window=result.window)}"
        row = next((i for i, end in enumerate(row_ends) if end < x), None)
        if row is None:
            row = len(row_ends) % _MARKER_ROWS if len(row_ends) >= _MARKER_ROWS else len(row_ends)
            if row == len(row_ends):
                row_ends.append(0.0)
        row_ends[row] = x + 8 + _LABEL_CHAR_WIDTH * min(len(label), 28)
        markers.append(
            _Marker(
                x=x,
                label=label,
                title=f"{event.component}: {event.event} ({_stamp(event.ts)})",
                color=colors.get(event.component, _PALETTE[-1]),
                label_y=16 + row * 15,
            )
        )
    events = tuple(
        _EventDot(
            x=x_of(event.ts),
            color=colors.get(event.component, _PALETTE[-1]),
            title=f"{_stamp(event.ts)} {event.component}: {event.event}",
        )
        for event in result.timeline
    )
    step = _nice_step(span)
    first_tick = math.ceil(start / step) * step
    ticks: list[_Tick] = []
    tick = first_tick
    while tick <= end:
        ticks.append(_Tick(x=x_of(tick), label=_clock(tick, window=result.window)))
        tick += step
    legend = tuple((name, colors[name]) for name in colors if name in {s.component for s in shown})
    return _SignalPlot(
        width=width,
        height=int(events_y + 40),
        left=left,
        right=width - right,
        top=top,
        bottom=int(plot_bottom),
        lanes=tuple(lanes),
        markers=tuple(markers),
        ticks=tuple(ticks),
        events=events,
        events_y=events_y,
        hidden=len(ranked) - len(shown),
        legend=legend,
    )


@dataclass(frozen=True)
class _Box:
    key: str
    x: float
    y: float
    width: float
    height: float
    title: str
    subtitle: str
    role: str
    color: str


@dataclass(frozen=True)
class _Arrow:
    path: str
    role: str
    label: str


@dataclass(frozen=True)
class _ChainGraph:
    width: int
    height: int
    boxes: tuple[_Box, ...]
    arrows: tuple[_Arrow, ...]


def _short(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _chain_graph(result: DiagnosisResult, chain: _Chain, colors: Mapping[str, str]) -> _ChainGraph:
    box_w, box_h, col_gap, row_gap, margin = 210.0, 58.0, 70.0, 14.0, 20.0

    # Each column: the boxes of one layer, root first.
    columns: list[list[tuple[str, str, str, str]]] = []  # (title, subtitle, role, color key)
    if result.root_cause.component == CLIENT_CAUSE:
        columns.append(
            [
                (f"client {c.ip}", f"{c.pattern.value}, {c.requests} requests", ROOT, CLIENT_CAUSE)
                for c in result.clients
            ]
            or [("client traffic", "abusive clients", ROOT, CLIENT_CAUSE)]
        )
    for layer in chain.layers:
        column: list[tuple[str, str, str, str]] = []
        if layer.affected:
            column = [
                (layer.component, a.instance, layer.role, layer.component) for a in layer.affected
            ]
        elif layer.role == ROOT and result.root_cause.instance:
            column = [(layer.component, result.root_cause.instance, ROOT, layer.component)]
        else:
            subtitle = {ROOT: "root cause", PROPAGATION: "degraded", SYMPTOM: "symptom"}[layer.role]
            column = [(layer.component, subtitle, layer.role, layer.component)]
        if len(column) > _MAX_BOXES_PER_COLUMN:
            extra = len(column) - _MAX_BOXES_PER_COLUMN + 1
            column = [
                *column[: _MAX_BOXES_PER_COLUMN - 1],
                (layer.component, f"+{extra} more", layer.role, layer.component),
            ]
        columns.append(column)
    if not chain.layers or chain.layers[-1].role != SYMPTOM:
        columns.append([("symptom", result.symptom or "as reported", SYMPTOM, SYMPTOM)])

    feeders_above = [
        (layer.component, "aggravating", AGGRAVATING, layer.component)
        for layer in chain.aggravating
    ]
    feeders_below = (
        []
        if result.root_cause.component == CLIENT_CAUSE
        else [
            (f"client {c.ip}", f"{c.pattern.value}, {c.requests} requests", "client", CLIENT_CAUSE)
            for c in result.clients
        ]
    )
    feeders_above = feeders_above[:_MAX_BOXES_PER_COLUMN]
    feeders_below = feeders_below[:_MAX_BOXES_PER_COLUMN]

    tallest = max(len(column) for column in columns)
    main_top = margin + (box_h + 50 if feeders_above else 0)
    main_height = tallest * box_h + (tallest - 1) * row_gap
    main_width = len(columns) * box_w + (len(columns) - 1) * col_gap
    feed_width = max(len(feeders_above), len(feeders_below)) * (box_w + row_gap)
    width = int(2 * margin + max(main_width, feed_width))
    below_top = main_top + main_height + 50
    height = int(below_top + box_h + margin if feeders_below else main_top + main_height + margin)

    boxes: list[_Box] = []
    arrows: list[_Arrow] = []
    placed: list[list[_Box]] = []
    for col_index, column in enumerate(columns):
        x = margin + col_index * (box_w + col_gap)
        column_height = len(column) * box_h + (len(column) - 1) * row_gap
        y0 = main_top + (main_height - column_height) / 2
        placed_column: list[_Box] = []
        for row_index, (title, subtitle, role, color_key) in enumerate(column):
            box = _Box(
                key=f"c{col_index}r{row_index}",
                x=x,
                y=y0 + row_index * (box_h + row_gap),
                width=box_w,
                height=box_h,
                title=title,
                subtitle=subtitle,
                role=role,
                color=colors.get(color_key, _PALETTE[-1]),
            )
            placed_column.append(box)
            boxes.append(box)
        placed.append(placed_column)
    for source_column, target_column in itertools.pairwise(placed):
        for source in source_column:
            for target in target_column:
                x1, y1 = source.x + source.width, source.y + source.height / 2
                x2, y2 = target.x - 4, target.y + target.height / 2
                mid = (x1 + x2) / 2
                arrows.append(
                    _Arrow(
                        path=_curve((x1, y1), (mid, y1), (mid, y2), (x2, y2)),
                        role="chain",
                        label=f"{source.title} → {target.title}",
                    )
                )

    target_index = _feed_column(chain, result, len(placed))
    target_column = placed[target_index]
    for feeders, above in ((feeders_above, True), (feeders_below, False)):
        count = len(feeders)
        if not count:
            continue
        row_width = count * box_w + (count - 1) * row_gap
        centre = target_column[0].x + box_w / 2
        x0 = min(max(margin, centre - row_width / 2), width - margin - row_width)
        y = margin if above else below_top
        for index, (title, subtitle, role, color_key) in enumerate(feeders):
            box = _Box(
                key=f"{'a' if above else 'b'}{index}",
                x=x0 + index * (box_w + row_gap),
                y=y,
                width=box_w,
                height=box_h,
                title=title,
                subtitle=subtitle,
                role=role,
                color=colors.get(color_key, _PALETTE[-1]),
            )
            boxes.append(box)
            goal = target_column[0] if above else target_column[-1]
            x1 = box.x + box_w / 2
            x2 = goal.x + goal.width / 2
            if above:
                y1, y2 = box.y + box_h, goal.y - 4
            else:
                y1, y2 = box.y, goal.y + goal.height + 4
            midy = (y1 + y2) / 2
            arrows.append(
                _Arrow(
                    path=_curve((x1, y1), (x1, midy), (x2, midy), (x2, y2)),
                    role="feed",
                    label=f"{title} → {goal.title}",
                )
            )
    return _ChainGraph(width=width, height=height, boxes=tuple(boxes), arrows=tuple(arrows))


def _curve(*points: tuple[float, float]) -> str:
    """An SVG cubic Bézier path through a start, two control points and an end."""
    (x1, y1), (c1x, c1y), (c2x, c2y), (x2, y2) = points
    return f"M{x1:.1f},{y1:.1f} C{c1x:.1f},{c1y:.1f} {c2x:.1f},{c2y:.1f} {x2:.1f},{y2:.1f}"


def _feed_column(chain: _Chain, result: DiagnosisResult, column_count: int) -> int:
    offset = 1 if result.root_cause.component == CLIENT_CAUSE else 0
    for index, layer in enumerate(chain.layers):
        if layer.role == PROPAGATION and layer.affected:
            return index + offset
    for index, layer in enumerate(chain.layers):
        if layer.role == PROPAGATION:
            return index + offset
    return column_count - 1


# --------------------------------------------------------------------------- HTML


def _html_with_code(text: str) -> markupsafe.Markup:
    """Free text whose backticked parts (names we put there) become ``<code>``; all escaped."""
    parts = re.split(r"`([^`]*)`", text)
    return markupsafe.Markup("").join(
        markupsafe.Markup("<code>{}</code>").format(part) if index % 2 else markupsafe.escape(part)
        for index, part in enumerate(parts)
    )


@functools.cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("diagnosis_operator", "resources"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["short"] = _short
    environment.filters["percent"] = _percent
    environment.filters["params"] = _params_text
    environment.filters["ticks"] = _html_with_code
    return environment


def render_html(result: DiagnosisResult) -> str:
    """Pure: the report as one self-contained HTML page (inline CSS and SVG, no script)."""
    view = _build_view(result)
    chain = _build_chain(result)
    colors = _component_colors(chain, result)
    plot = _signal_plot(result, chain, colors) if result.key_signals else None
    graph = None if view.quiet else _chain_graph(result, chain, colors)
    template = _environment().get_template("report.html.j2")
    return template.render(view=view, plot=plot, graph=graph, urgency_titles=_URGENCY_TITLES)


# --------------------------------------------------------------------------- JSON in


class ResultFormatError(ValueError):
    """A saved diagnosis that cannot be read; the message names the field."""


class _Reader:
    """Typed access to a JSON object that names the path of anything wrong."""

    def __init__(self, data: object, path: str) -> None:
        if not isinstance(data, dict):
            raise ResultFormatError(
                f"{path or 'the document'}: expected an object, got {_kind(data)}"
            )
        self._data: dict[str, Any] = data
        self._path = path

    def where(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key

    def has(self, key: str) -> bool:
        return self._data.get(key) is not None

    def raw(self, key: str) -> object:
        return self._data.get(key)

    def string(self, key: str) -> str:
        value = self._data.get(key)
        if not isinstance(value, str):
            raise ResultFormatError(f"{self.where(key)}: expected a string, got {_kind(value)}")
        return value

    def optional_string(self, key: str) -> str | None:
        return None if self._data.get(key) is None else self.string(key)

    def number(self, key: str) -> float:
        value = self._data.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ResultFormatError(f"{self.where(key)}: expected a number, got {_kind(value)}")
        return float(value)

    def optional_number(self, key: str) -> float | None:
        return None if self._data.get(key) is None else self.number(key)

    def integer(self, key: str) -> int:
        value = self._data.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ResultFormatError(f"{self.where(key)}: expected an integer, got {_kind(value)}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self._data.get(key, default)
        if not isinstance(value, bool):
            raise ResultFormatError(
                f"{self.where(key)}: expected true or false, got {_kind(value)}"
            )
        return value

    def time(self, key: str) -> float:
        text = self.string(key)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ResultFormatError(
                f"{self.where(key)}: {text!r} is not an RFC 3339 time"
            ) from None
        if moment.tzinfo is None:
            raise ResultFormatError(f"{self.where(key)}: {text!r} has no time zone")
        return utc_seconds(moment)

    def optional_time(self, key: str) -> float | None:
        return None if self._data.get(key) is None else self.time(key)

    def strings(self, key: str) -> tuple[str, ...]:
        items = self.sequence(key)
        for index, item in enumerate(items):
            if not isinstance(item, str):
                raise ResultFormatError(
                    f"{self.where(key)}[{index}]: expected a string, got {_kind(item)}"
                )
        return tuple(str(item) for item in items)

    def sequence(self, key: str) -> list[object]:
        value = self._data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise ResultFormatError(f"{self.where(key)}: expected a list, got {_kind(value)}")
        return value

    def objects(self, key: str) -> list[_Reader]:
        return [
            _Reader(item, f"{self.where(key)}[{index}]")
            for index, item in enumerate(self.sequence(key))
        ]

    def object(self, key: str) -> _Reader:
        return _Reader(self._data.get(key), self.where(key))

    def mapping(self, key: str) -> dict[str, Any]:
        value = self._data.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ResultFormatError(f"{self.where(key)}: expected an object, got {_kind(value)}")
        return dict(value)

    def choice(self, key: str, choices: type[Any]) -> Any:
        text = self.string(key)
        try:
            return choices(text)
        except ValueError:
            allowed = ", ".join(member.value for member in choices)
            raise ResultFormatError(
                f"{self.where(key)}: {text!r} is not one of {allowed}"
            ) from None


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), f"a {type(value).__name__}"
    )


def result_from_json(data: object) -> DiagnosisResult:
    """Pure: the inverse of ``DiagnosisResult.to_json()``.

    Fields the reader does not know are ignored (the output contract says more
    may be added); known fields with the wrong shape raise ``ResultFormatError``
    naming the field, e.g. ``evidence[3].ts``.
    """
    doc = _Reader(data, "")
    window_doc = doc.object("window")
    try:
        window = Window(window_doc.time("start"), window_doc.time("end"))
    except ResultFormatError:
        raise
    except ValueError as error:
        raise ResultFormatError(f"window: {error}") from None
    cause = doc.object("rootCause")
    root_cause = RootCause(
        component=cause.string("component"),
        kind=cause.optional_string("kind"),
        instance=cause.optional_string("instance"),
        confidence=cause.number("confidence"),
        summary=cause.optional_string("summary") or "",
    )
    candidates = tuple(
        Candidate(
            component=c.string("component"),
            score=c.number("score"),
            role=c.optional_string("role") or "candidate",
            reasons=c.strings("reasons"),
        )
        for c in doc.objects("candidates")
    )
    affected = tuple(
        AffectedInstance(
            component=a.string("component"),
            instance=a.string("instance"),
            reason=a.optional_string("reason") or "",
            pod=a.optional_string("pod"),
            namespace=a.optional_string("namespace"),
        )
        for a in doc.objects("affected")
    )
    clients = tuple(
        AbusiveClient(
            ip=c.string("ip"),
            reason=c.optional_string("reason") or "",
            requests=c.integer("requests"),
            pattern=c.choice("pattern", ClientPattern),
            first_seen=c.optional_time("firstSeen"),
            last_seen=c.optional_time("lastSeen"),
        )
        for c in doc.objects("clients")
    )
    timeline = tuple(
        TimelineEvent(
            ts=t.time("ts"),
            component=t.string("component"),
            event=t.string("event"),
            source=t.choice("source", EvidenceSource) if t.has("source") else None,
        )
        for t in doc.objects("timeline")
    )
    evidence = tuple(
        Evidence(
            component=e.string("component"),
            source=e.choice("source", EvidenceSource),
            query=e.optional_string("query") or "",
            summary=e.optional_string("summary") or "",
            ts=e.optional_time("ts"),
            value=e.optional_number("value"),
            baseline=e.optional_number("baseline"),
            instance=e.optional_string("instance"),
            line=e.optional_string("line"),
        )
        for e in doc.objects("evidence")
    )
    remediations = tuple(
        ProposedRemediation(
            action=r.choice("action", ActionType),
            target=r.string("target"),
            reason=r.optional_string("reason") or "",
            state=r.optional_string("state") or "proposed",
            params=r.mapping("params"),
        )
        for r in doc.objects("remediations")
    )
    recommendations = tuple(
        Recommendation(
            component=r.string("component"),
            urgency=r.choice("urgency", Urgency),
            text=r.string("text"),
            because=r.optional_string("because") or "",
        )
        for r in doc.objects("recommendations")
    )
    key_signals = tuple(_key_signal(k) for k in doc.objects("keySignals"))
    return DiagnosisResult(
        window=window,
        root_cause=root_cause,
        candidates=candidates,
        affected=affected,
        clients=clients,
        timeline=timeline,
        evidence=evidence,
        remediations=remediations,
        recommendations=recommendations,
        key_signals=key_signals,
        symptom=doc.optional_string("symptom"),
        warnings=doc.strings("warnings"),
    )


def _key_signal(reader: _Reader) -> KeySignal:
    timestamps: list[float] = []
    values: list[float] = []
    for index, point in enumerate(reader.sequence("points")):
        if (
            not isinstance(point, list)
            or len(point) != 2
            or not all(
                isinstance(part, int | float) and not isinstance(part, bool) for part in point
            )
        ):
            raise ResultFormatError(
                f"{reader.where('points')}[{index}]: expected [timestamp, value], got {point!r:.80}"
            )
        timestamps.append(float(point[0]))
        values.append(float(point[1]))
    return KeySignal(
        component=reader.string("component"),
        instance=reader.optional_string("instance"),
        signal=reader.string("signal"),
        query=reader.optional_string("query") or "",
        timestamps=tuple(timestamps),
        values=tuple(values),
        anomalous=reader.boolean("anomalous", False),
    )
