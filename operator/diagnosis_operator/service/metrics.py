"""The operator's Prometheus metrics, and the one-line helpers the rest of the code calls.

All metrics live in ``REGISTRY`` (not prometheus-client's global one), which
``/metrics`` on the webhook server exposes together with the process collectors.
Label values are short codes chosen by the caller (an outcome, a backend name, an
action type, a guard reason), never free text from input, so cardinality stays
bounded; anything longer than ``MAX_LABEL_LENGTH`` is cut.

Dashboard: charts/diagnosis-operator/dashboards/diagnosis-operator.json.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

NAMESPACE = "diagnosis_operator"
MAX_LABEL_LENGTH = 64

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

DIAGNOSES = Counter(
    "diagnoses",
    "Diagnoses finished, by outcome (e.g. diagnosed, no-incident, failed).",
    ["outcome"],
    namespace=NAMESPACE,
    registry=REGISTRY,
)
DIAGNOSIS_DURATION = Histogram(
    "diagnosis_duration_seconds",
    "Wall-clock time of one diagnosis, from collection to verdict.",
    ["outcome"],
    namespace=NAMESPACE,
    registry=REGISTRY,
    buckets=(0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600),
)
DIAGNOSES_RUNNING = Gauge(
    "diagnoses_running",
    "Diagnoses being worked on now (at most the handler threads of this replica).",
    namespace=NAMESPACE,
    registry=REGISTRY,
)
SIGNAL_QUERIES = Counter(
    "signal_queries",
    "Queries sent to a signal backend (prometheus, loki, mysql, redis, kubernetes, bundle).",
    ["backend"],
    namespace=NAMESPACE,
    registry=REGISTRY,
)
SIGNAL_QUERY_ERRORS = Counter(
    "signal_query_errors",
    "Queries to a signal backend that failed.",
    ["backend"],
    namespace=NAMESPACE,
    registry=REGISTRY,
)
ACTIONS = Counter(
    "actions",
    "Remediation actions, by type and outcome (e.g. applied, dry-run, failed, verified).",
    ["action", "outcome"],
    namespace=NAMESPACE,
    registry=REGISTRY,
)
GUARD_DENIALS = Counter(
    "guard_denials",
    "Actions the guard refused, by action type and reason code.",
    ["action", "reason"],
    namespace=NAMESPACE,
    registry=REGISTRY,
)
ALERT_NOTIFICATIONS = Counter(
    "alert_notifications",
    "Alertmanager notifications received, by result "
    "(created, deduplicated, ignored, invalid, unroutable, unauthorized, failed).",
    ["result"],
    namespace=NAMESPACE,
    registry=REGISTRY,
)


def _label(value: str) -> str:
    return value[:MAX_LABEL_LENGTH] if value else "unknown"


def record_diagnosis(outcome: str, seconds: float) -> None:
    """One finished diagnosis and how long it took."""
    DIAGNOSES.labels(outcome=_label(outcome)).inc()
    DIAGNOSIS_DURATION.labels(outcome=_label(outcome)).observe(max(seconds, 0.0))


@contextmanager
def diagnosis_running() -> Iterator[None]:
    """Count one diagnosis in ``DIAGNOSES_RUNNING`` while the block runs."""
    DIAGNOSES_RUNNING.inc()
    try:
        yield
    finally:
        DIAGNOSES_RUNNING.dec()


def record_query(backend: str, ok: bool) -> None:
    """One query to a signal backend; ``ok=False`` also counts an error."""
    SIGNAL_QUERIES.labels(backend=_label(backend)).inc()
    if not ok:
        SIGNAL_QUERY_ERRORS.labels(backend=_label(backend)).inc()


def record_action(action: str, outcome: str) -> None:
    ACTIONS.labels(action=_label(action), outcome=_label(outcome)).inc()


def record_guard_denial(action: str, reason: str) -> None:
    GUARD_DENIALS.labels(action=_label(action), reason=_label(reason)).inc()


def record_alert_notification(result: str) -> None:
    ALERT_NOTIFICATIONS.labels(result=_label(result)).inc()


def exposition() -> tuple[bytes, str]:
    """The text exposition of ``REGISTRY`` and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
