"""The operator's Prometheus metrics, and the one-line helpers the rest of the code calls.

All metrics live in ``REGISTRY`` (not prometheus-client's global one), which
``/metrics`` on the webhook server exposes together with the process collectors.
Label values are short codes chosen by the caller (an outcome, a backend name, an
action type, a guard reason), never free text from input, so cardinality stays
bounded; anything longer than ``MAX_LABEL_LENGTH`` is cut.

prometheus-client (and the HTTP, e-mail and socket modules its exposition pulls
in) is imported when the registry is first wanted (``REGISTRY``, ``exposition``),
not with this module: an offline ``diagnose`` process records a few dozen
queries nobody will ever scrape.  Until then the helpers keep what they are told
in order (at most ``PENDING_LIMIT`` records; one more builds the registry) and
the registry replays them when built, so its figures are the same either way.

Dashboard: charts/diagnosis-operator/dashboards/diagnosis-operator.json.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

NAMESPACE = "diagnosis_operator"
MAX_LABEL_LENGTH = 64
# Records kept before the registry exists; one more builds it (bounded memory).
PENDING_LIMIT = 1000
_pending: list[Callable[[_Metrics], None]] = []
_lock = threading.Lock()


@dataclass(frozen=True)
class _Metrics:
    registry: CollectorRegistry
    diagnoses: Counter
    diagnosis_duration: Histogram
    diagnoses_running: Gauge
    signal_queries: Counter
    signal_query_errors: Counter
    actions: Counter
    guard_denials: Counter
    alert_notifications: Counter


@functools.cache
def _built() -> _Metrics:
    """The registry and its metrics, made (and prometheus-client imported) once."""
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
    from prometheus_client.platform_collector import PlatformCollector
    from prometheus_client.process_collector import ProcessCollector

    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)

    def counter(name: str, documentation: str, labels: list[str]) -> Counter:
        return Counter(name, documentation, labels, namespace=NAMESPACE, registry=registry)

    return _Metrics(
        registry=registry,
        diagnoses=counter(
            "diagnoses",
            "Diagnoses finished, by outcome (e.g. diagnosed, no-incident, failed).",
            ["outcome"],
        ),
        diagnosis_duration=Histogram(
            "diagnosis_duration_seconds",
            "Wall-clock time of one diagnosis, from collection to verdict.",
            ["outcome"],
            namespace=NAMESPACE,
            registry=registry,
            buckets=(0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600),
        ),
        diagnoses_running=Gauge(
            "diagnoses_running",
            "Diagnoses being worked on now (at most the handler threads of this replica).",
            namespace=NAMESPACE,
            registry=registry,
        ),
        signal_queries=counter(
            "signal_queries",
            "Queries sent to a signal backend (prometheus, loki, mysql, redis, kubernetes, "
            "bundle).",
            ["backend"],
        ),
        signal_query_errors=counter(
            "signal_query_errors", "Queries to a signal backend that failed.", ["backend"]
        ),
        actions=counter(
            "actions",
            "Remediation actions, by type and outcome (e.g. applied, dry-run, failed, verified).",
            ["action", "outcome"],
        ),
        guard_denials=counter(
            "guard_denials",
            "Actions the guard refused, by action type and reason code.",
            ["action", "reason"],
        ),
        alert_notifications=counter(
            "alert_notifications",
            "Alertmanager notifications received, by result "
            "(created, deduplicated, ignored, invalid, unroutable, unauthorized, failed).",
            ["result"],
        ),
    )


def _metrics() -> _Metrics:
    """The built metrics, with every record kept until now applied, in order."""
    with _lock:  # one registry, and each kept record applied once
        built = _built()
        while _pending:
            _pending.pop(0)(built)
    return built


def _record(apply: Callable[[_Metrics], None]) -> None:
    """Apply ``apply`` now if the registry exists (or too much is kept), else keep it."""
    if _built.cache_info().currsize or len(_pending) >= PENDING_LIMIT:
        apply(_metrics())
    else:
        _pending.append(apply)


def __getattr__(name: str) -> CollectorRegistry:
    """``REGISTRY``: built on first use (see the module docstring)."""
    if name == "REGISTRY":
        return _metrics().registry
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _label(value: str) -> str:
    return value[:MAX_LABEL_LENGTH] if value else "unknown"


def record_diagnosis(outcome: str, seconds: float) -> None:
    """One finished diagnosis and how long it took."""
    label, value = _label(outcome), max(seconds, 0.0)

    def apply(m: _Metrics) -> None:
        m.diagnoses.labels(outcome=label).inc()
        m.diagnosis_duration.labels(outcome=label).observe(value)

    _record(apply)


@contextmanager
def diagnosis_running() -> Iterator[None]:
    """Count one diagnosis in ``diagnoses_running`` while the block runs."""
    _record(lambda m: m.diagnoses_running.inc())
    try:
        yield
    finally:
        _record(lambda m: m.diagnoses_running.dec())


def record_query(backend: str, ok: bool) -> None:
    """One query to a signal backend; ``ok=False`` also counts an error."""
    label = _label(backend)

    def apply(m: _Metrics) -> None:
        m.signal_queries.labels(backend=label).inc()
        if not ok:
            m.signal_query_errors.labels(backend=label).inc()

    _record(apply)


def record_action(action: str, outcome: str) -> None:
    labels = {"action": _label(action), "outcome": _label(outcome)}
    _record(lambda m: m.actions.labels(**labels).inc())


def record_guard_denial(action: str, reason: str) -> None:
    labels = {"action": _label(action), "reason": _label(reason)}
    _record(lambda m: m.guard_denials.labels(**labels).inc())


def record_alert_notification(result: str) -> None:
    label = _label(result)
    _record(lambda m: m.alert_notifications.labels(result=label).inc())


def exposition() -> tuple[bytes, str]:
    """The text exposition of ``REGISTRY`` and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return generate_latest(_metrics().registry), CONTENT_TYPE_LATEST
