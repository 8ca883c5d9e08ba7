"""A proxy's error lines that are its own rate limiter shedding load, or clients' misses.  Pure.

A limiter (nginx ``limit_req`` / ``limit_conn``) rejecting a burst logs each
rejection as an error line (``catalog.gate.RATE_LIMIT_LINES``); the requests it
turns away were never served, by design.  A rise of a proxy's error/warn lines
made (``SHED_SHARE``) of such rejections is the limiter at work, not a symptom
of a failure: ``sheds_by_design`` tells the incident gate to leave it out.
Whatever else users felt (5xx from an upstream, latency, other error lines)
still counts; an answer the proxy gave itself (the limiter's 429 or 503) does not.

The same holds for a client asking for files that are not there (a scanner
walking a word list): nginx logs each miss at ``error`` level
(``catalog.gate.CLIENT_MISS_LINES``) and answers 404.  The client's 4xx are not
the server's harm; such lines are no symptom either.

And for any component, a rise of error lines that are mostly its own telemetry failing to
leave it (an OpenTelemetry, Jaeger or Zipkin exporter: ``catalog.gate.
TELEMETRY_EXPORT_LINES``), or a monitoring agent's own errors (an exporter's scrapes failing
for its user's grants: ``catalog.gate.MONITORING_AGENT_LINES``), is its observability's
trouble, not its service's:
``telemetry_only`` leaves it out too, and ``telemetry_lines`` a new category of such lines.
"""

from __future__ import annotations

from collections.abc import Sequence

from diagnosis_operator.catalog.failure_modes import compiled
from diagnosis_operator.catalog.gate import (
    CLIENT_MISS_LINES,
    MONITORING_AGENT_LINES,
    RATE_LIMIT_LINES,
    TELEMETRY_EXPORT_LINES,
)
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.logs import LogEvent
from diagnosis_operator.core.diagnosis.signal_types import Detection, SignalKind
from diagnosis_operator.core.diagnosis.vocabulary import search_any
from diagnosis_operator.models.topology import ComponentKind

SHED_SHARE = 0.8  # of the proxy's sampled error lines from the rise on
SHED_MIN_LINES = 5


def is_rate_limit_line(line: str) -> bool:
    """Pure: whether a line is a proxy's rate limiter rejecting a request."""
    return any(compiled(p).search(line) for p in RATE_LIMIT_LINES)


def is_client_miss_line(line: str) -> bool:
    """Pure: whether a line is a proxy logging a client's request for a missing file."""
    return any(compiled(p).search(line) for p in CLIENT_MISS_LINES)


def sheds_by_design(ev: ComponentEvidence, detection: Detection) -> bool:
    """Pure: whether a proxy's rise of error/warn lines is mostly its own limiter's rejections
    or clients' requests for missing files (the module docstring)."""
    if (
        ev.component.kind is not ComponentKind.PROXY
        or detection.signal.kind is not SignalKind.LOG_SIGNIFICANT
        or ev.logs is None
    ):
        return False
    lines = [
        e.line
        for e in _since(ev, detection)
        if e.severity >= 1.0
        and (e.access is None or e.access.upstream)  # a 5xx from an upstream is a failure
    ]
    if len(lines) < SHED_MIN_LINES:
        return False
    by_design = sum(1 for line in lines if is_rate_limit_line(line) or is_client_miss_line(line))
    return by_design >= SHED_SHARE * len(lines)


def telemetry_only(ev: ComponentEvidence, detection: Detection) -> bool:
    """Pure: whether a rise of a component's error/warn lines is mostly its own telemetry
    failing to leave it (the module docstring)."""
    if detection.signal.kind is not SignalKind.LOG_SIGNIFICANT:
        return False
    return telemetry_lines([e.line for e in _since(ev, detection)])


def is_telemetry_export(line: str) -> bool:
    """Pure: whether a line is an application's own telemetry failing to leave it
    (``catalog.gate.TELEMETRY_EXPORT_LINES``) or a monitoring agent's own errors (its
    scrapes failing, its user denied: ``MONITORING_AGENT_LINES``): about its observability,
    not its service."""
    return search_any(TELEMETRY_EXPORT_LINES, line) or search_any(MONITORING_AGENT_LINES, line)


def telemetry_lines(lines: Sequence[str]) -> bool:
    """Pure: whether lines are mostly an application's telemetry failing to leave it."""
    telemetry = sum(1 for line in lines if is_telemetry_export(line))
    return telemetry >= SHED_MIN_LINES and telemetry >= SHED_SHARE * len(lines)


def _since(ev: ComponentEvidence, detection: Detection) -> list[LogEvent]:
    """The component's sampled lines from the detection's onset on, of its instance."""
    return events_since(ev, onset=detection.onset, instance=detection.signal.instance)


def events_since(ev: ComponentEvidence, *, onset: float, instance: str | None) -> list[LogEvent]:
    """Pure: the component's sampled lines from ``onset`` on, of ``instance`` (``None``: all)."""
    if ev.logs is None:
        return []
    return [
        e
        for e in ev.logs.events
        if e.ts >= onset and (instance is None or e.instance in (None, instance))
    ]
