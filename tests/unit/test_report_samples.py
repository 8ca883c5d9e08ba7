"""Diagnosis results of several shapes, built by hand for the report tests.

Not the reference incident: other names, addresses and times, so the renderer
cannot lean on one example.  No tests here; the report tests import these.
"""

from __future__ import annotations

from datetime import UTC, datetime

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
from diagnosis_operator.models.signals import Window

START = datetime(2026, 3, 4, 14, 0, tzinfo=UTC).timestamp()
END = START + 3600
STEP = 30.0
HOSTILE = '<script>alert("x")</script> <img src=x onerror=alert(1)> | `tick` **bold** [l](http://e)'


def at(minutes: float) -> float:
    return START + minutes * 60


def ramp(
    *, onset_minute: float, base: float, high: float
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    timestamps = tuple(START + i * STEP for i in range(int(3600 / STEP) + 1))
    values = tuple(
        high if ts >= at(onset_minute) else base + (i % 5) * base * 0.02
        for i, ts in enumerate(timestamps)
    )
    return timestamps, values


def full_incident() -> DiagnosisResult:
    """A data store fails, one app instance degrades, the proxy returns 503s."""
    db_ts, db_values = ramp(onset_minute=21, base=3.0, high=57.0)
    app_ts, app_values = ramp(onset_minute=24, base=0.999, high=0.71)
    edge_ts, edge_values = ramp(onset_minute=31, base=0.2, high=14.0)
    calm_ts, calm_values = ramp(onset_minute=999, base=40.0, high=40.0)
    return DiagnosisResult(
        window=Window(START, END),
        symptom="edge: 503 on /v3/orders",
        root_cause=RootCause(
            component="db",
            kind="mysql",
            instance=None,
            confidence=0.83,
            summary="db ran out of connections after lock waits piled up; "
            "orders-api threads blocked on it.",
        ),
        candidates=(
            Candidate("db", 0.83, "root", ("first to leave its baseline", "lock wait timeouts")),
            Candidate("orders-api", 0.61, "candidate", ("success ratio fell on one instance",)),
            Candidate("cache", 0.34, "aggravating", ("evictions and timeouts",)),
            Candidate("edge", 0.22, "symptom", ("503 ratio up",)),
        ),
        affected=(
            AffectedInstance(
                "orders-api",
                "10.9.3.7:8080",
                "success 71% vs 99.9% baseline, CPU 94%",
                pod="orders-api-7d9f-xk2",
                namespace="shop",
            ),
        ),
        clients=(
            AbusiveClient(
                "203.0.113.50",
                "41 identical requests in 2 s",
                41,
                ClientPattern.RETRY_LOOP,
                first_seen=at(31),
                last_seen=at(31.05),
            ),
        ),
        timeline=(
            TimelineEvent(at(21), "db", "first lock wait timeout", EvidenceSource.LOKI),
            TimelineEvent(at(23.5), "db", "Too many connections"),
            TimelineEvent(at(22), "cache", "first command timeout"),
            TimelineEvent(at(24), "orders-api", "success ratio drops on 10.9.3.7:8080"),
            TimelineEvent(at(31), "edge", "503 burst"),
        ),
        evidence=(
            Evidence(
                "db",
                EvidenceSource.LOKI,
                '{job="db"} |= "Lock wait timeout"',
                "6 lock wait timeouts in 3 minutes",
                ts=at(21),
                value=6,
                baseline=0,
                line="2026-03-04T14:21:00Z 812 [ERROR] Lock wait timeout exceeded; "
                "try restarting transaction",
            ),
            Evidence(
                "db",
                EvidenceSource.PROMETHEUS,
                'mysql_global_status_threads_connected{job="db"}',
                "connections at the limit",
                ts=at(23.5),
                value=151,
                baseline=12,
            ),
            Evidence(
                "orders-api",
                EvidenceSource.PROMETHEUS,
                'sum by (instance) (rate(http_requests_total{job="orders-api",code!~"5.."}[1m]))',
                "success ratio 71% on one instance",
                ts=at(24),
                value=0.71,
                baseline=0.999,
                instance="10.9.3.7:8080",
            ),
            Evidence(
                "cache",
                EvidenceSource.LOKI,
                '{job="cache"} |= "timeout"',
                "command timeouts",
                ts=at(22),
                value=19,
                baseline=1,
            ),
            Evidence(
                "edge",
                EvidenceSource.LOKI,
                '{job="edge"} |~ " 503 "',
                "503 responses",
                ts=at(31),
                value=212,
                baseline=0,
                line=HOSTILE,
            ),
            Evidence(
                CLIENT_CAUSE,
                EvidenceSource.LOKI,
                '{job="edge"} | pattern "<ip> ..."',
                "one client repeats the same request",
                ts=at(31),
                value=41,
                baseline=0,
            ),
        ),
        remediations=(
            ProposedRemediation(
                ActionType.KILL_MYSQL_QUERIES, "db", "long lock waits", params={"minSeconds": 30}
            ),
            ProposedRemediation(
                ActionType.DRAIN_POD,
                "shop/orders-api-7d9f-xk2",
                "degraded instance",
                state="denied",
            ),
            ProposedRemediation(ActionType.RATE_LIMIT_CLIENT, "203.0.113.50", "retry loop"),
        ),
        recommendations=(
            Recommendation(
                "db",
                Urgency.IMMEDIATE,
                "Kill the long-running transactions holding locks.",
                "6 lock wait timeouts",
            ),
            Recommendation(
                "db",
                Urgency.SHORT_TERM,
                "Add an index for the query behind the lock waits.",
                "slow scans",
            ),
            Recommendation(
                "orders-api",
                Urgency.LONG_TERM,
                "Add a circuit breaker around db calls.",
                "threads blocked on db",
            ),
        ),
        key_signals=(
            KeySignal(
                "db",
                None,
                "threads connected",
                'mysql_global_status_threads_connected{job="db"}',
                db_ts,
                db_values,
                True,
            ),
            KeySignal(
                "orders-api",
                "10.9.3.7:8080",
                "success ratio",
                "success ratio query",
                app_ts,
                app_values,
                True,
            ),
            KeySignal(
                "orders-api",
                "10.9.3.8:8080",
                "success ratio",
                "success ratio query",
                calm_ts,
                calm_values,
                False,
            ),
            KeySignal("edge", None, "5xx per second", "rate of 5xx", edge_ts, edge_values, True),
        ),
        warnings=("cache: 2 of 40 samples missing",),
    )


def client_cause() -> DiagnosisResult:
    """Outside traffic floods the proxy; no data store is involved."""
    edge_ts, edge_values = ramp(onset_minute=10, base=50.0, high=2400.0)
    return DiagnosisResult(
        window=Window(START, END),
        symptom="gateway: 429 and 504 on /search",
        root_cause=RootCause(
            CLIENT_CAUSE, None, None, 0.77, "Two clients sent 80% of all requests."
        ),
        candidates=(Candidate("gateway", 0.5, "symptom", ("request rate ×48",)),),
        clients=(
            AbusiveClient(
                "198.51.100.23",
                "18,000 requests in 5 min",
                18000,
                ClientPattern.FLOOD,
                at(10),
                at(15),
            ),
            AbusiveClient(
                "198.51.100.24",
                "9,000 requests in 5 min",
                9000,
                ClientPattern.FLOOD,
                at(10.5),
                at(15),
            ),
        ),
        timeline=(TimelineEvent(at(10), "gateway", "request rate jumps"),),
        evidence=(
            Evidence(
                "gateway",
                EvidenceSource.PROMETHEUS,
                "sum(rate(nginx_http_requests_total[1m]))",
                "request rate ×48",
                ts=at(10),
                value=2400,
                baseline=50,
            ),
        ),
        remediations=(ProposedRemediation(ActionType.RATE_LIMIT_CLIENT, "198.51.100.23", "flood"),),
        key_signals=(
            KeySignal("gateway", None, "requests per second", "q", edge_ts, edge_values, True),
        ),
    )


def quiet() -> DiagnosisResult:
    return DiagnosisResult(
        window=Window(START, END),
        symptom=None,
        root_cause=RootCause(NO_INCIDENT, None, None, 0.0, "No signal left its baseline."),
    )
