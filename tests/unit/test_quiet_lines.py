"""Error lines that are no harm by themselves (``quiet_lines``, the incident gate).

Clients' credentials refused alike by every instance (RFC 6750's ``invalid_token``, a
retired signing key) are the clients' own 4xx; a store's error lines made of its slow
log are judged as its slow log (an incident only when its callers felt them).
"""

from __future__ import annotations

import numpy as np
import pytest

from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.gate import incident_gate
from diagnosis_operator.core.diagnosis.logs import ComponentLogs, LogCategory, read_event
from diagnosis_operator.core.diagnosis.quiet_lines import (
    clients_refused,
    is_auth_refusal,
    slow_log_category,
)
from diagnosis_operator.core.diagnosis.signal_types import Detection, Signal, SignalKind
from diagnosis_operator.models.findings import Anomaly
from diagnosis_operator.models.signals import Labels, Window
from diagnosis_operator.models.topology import Component, ComponentKind

T0 = 1_800_000_000.0
WINDOW = Window(start=T0, end=T0 + 3600.0)
STEPS = 241
ONSET = T0 + 1800.0
PODS = ("10.0.1.5:8000", "10.0.2.5:8000", "10.0.3.5:8000")

REFUSALS = [
    '{"level":"warning","event":"auth.token_rejected","reason":"unknown kid","kid":"k-05"}',
    'level=warn msg="token rejected" error="token is expired"',
    "WARN  o.s.s.o.s.r.w.BearerTokenAuthenticationFilter : invalid_token: Jwt expired at "
    "2031-03-04T10:00:00Z",
    "jwt.exceptions.ExpiredSignatureError: Signature has expired",
    'level=warn msg="token rejected" error="token used before issued"',
    "JsonWebTokenError: invalid signature",
    "rpc error: code = Unauthenticated desc = missing bearer token",
]
SERVICE = [
    "ERROR OperationalError: (2003, \"Can't connect to MySQL server on '10.0.0.5' (111)\")",
    "Error 1045 (28000): Access denied for user 'accounts'@'10.8.3.17' (using password: YES)",
    'level=error msg="token bucket refill failed: redis timeout"',
    "upstream timed out (110: Connection timed out) while reading response header",
]
SLOW = (
    "# Query_time: 0.000412  Lock_time: 0.000002 Rows_sent: 1  Rows_examined: 1 "
    "SELECT name FROM accounts WHERE id = 7;"
)
SCAN = (
    "# Query_time: 4.812000  Lock_time: 0.000002 Rows_sent: 1  Rows_examined: 2400000 "
    "SELECT count(*) FROM orders WHERE note LIKE '%x%';"
)


def _evidence(
    name: str,
    kind: ComponentKind,
    lines: list[tuple[str, str]],
    *,
    ongoing: bool = True,
    depends_on: tuple[str, ...] = (),
) -> tuple[ComponentEvidence, Detection]:
    """A component whose error/warn lines rose from ``ONSET`` (``lines``: instance, line)."""
    component = Component(name, kind, Labels({"job": name}), depends_on)
    values = np.zeros(STEPS)
    values[120 : None if ongoing else 140] = 40.0
    signal = Signal(
        component=name,
        instance=lines[0][0],
        name="error/warn log lines",
        family="log:significant",
        kind=SignalKind.LOG_SIGNIFICANT,
        query="q",
        values=values,
        labels=Labels({"job": name, "instance": lines[0][0]}),
    )
    anomaly = Anomaly(
        component=name,
        signal=signal.name,
        instance=signal.instance,
        onset=ONSET,
        peak_ts=ONSET,
        value=40.0,
        baseline=0.0,
        score=100.0,
        direction="up",
        query="q",
    )
    detection = Detection(signal=signal, anomaly=anomaly, exceedances=120, peak=40.0)
    events = tuple(
        read_event(component=name, instance=pod, ts=ONSET + i, line=line, query="")
        for i, (pod, line) in enumerate(lines)
    )
    logs = ComponentLogs(component=name, events=events)
    return ComponentEvidence(component=component, detections=(detection,), logs=logs), detection


def _spread(lines: list[str], pods: tuple[str, ...] = PODS) -> list[tuple[str, str]]:
    return [(pods[i % len(pods)], line) for i, line in enumerate(lines * 4)]


@pytest.mark.parametrize("line", REFUSALS)
def test_refused_credentials_are_told_apart(line: str) -> None:
    assert is_auth_refusal(line)


@pytest.mark.parametrize("line", SERVICE)
def test_the_service_own_errors_are_no_refusals(line: str) -> None:
    assert not is_auth_refusal(line)


def test_refusals_on_every_instance_are_no_incident() -> None:
    """A key rotation: every instance refuses the retired key's tokens, clients refresh."""
    ev, detection = _evidence("api", ComponentKind.APP, _spread(REFUSALS))
    assert clients_refused(ev, detection)
    assert not incident_gate(evidence={"api": ev}, window=WINDOW, step=15.0).incident


def test_one_instance_refusing_to_the_end_is_an_incident() -> None:
    """A pod whose node's clock jumped refuses fresh tokens its siblings accept."""
    ev, detection = _evidence("api", ComponentKind.APP, _spread(REFUSALS, PODS[:1]))
    assert not clients_refused(ev, detection)
    assert incident_gate(evidence={"api": ev}, window=WINDOW, step=15.0).incident
    # ... unless its refusals were over by the window's end (the clients refreshed)
    healed, detection = _evidence(
        "api", ComponentKind.APP, _spread(REFUSALS, PODS[:1]), ongoing=False
    )
    assert clients_refused(healed, detection)


def test_refusals_among_the_service_own_errors_stay_a_symptom() -> None:
    ev, detection = _evidence("api", ComponentKind.APP, _spread(REFUSALS[:2] + SERVICE))
    assert not clients_refused(ev, detection)
    assert incident_gate(evidence={"api": ev}, window=WINDOW, step=15.0).incident


def test_a_store_error_lines_of_its_slow_log_no_caller_felt_are_no_incident() -> None:
    """long_query_time = 0: the slow log records every statement; its caller is at baseline."""
    db, detection = _evidence("db", ComponentKind.MYSQL, [("db-0:9104", SLOW)] * 60)
    api = ComponentEvidence(component=Component("api", ComponentKind.APP, Labels({}), ("db",)))
    assert slow_log_category(db, detection) is LogCategory.SLOW_QUERY
    gate = incident_gate(evidence={"db": db, "api": api}, window=WINDOW, step=15.0)
    assert not gate.incident
    assert "db logged slow statements that none of its callers felt" in gate.describe()


def test_a_store_error_lines_of_other_kinds_stay_a_symptom() -> None:
    lines = [("db-0:9104", SLOW)] * 20 + [("db-0:9104", SERVICE[0])] * 20
    db, detection = _evidence("db", ComponentKind.MYSQL, lines)
    api = ComponentEvidence(component=Component("api", ComponentKind.APP, Labels({}), ("db",)))
    assert slow_log_category(db, detection) is None
    assert incident_gate(evidence={"db": db, "api": api}, window=WINDOW, step=15.0).incident
    # an application's own slow lines are no store's slow log
    app, detection = _evidence("web", ComponentKind.APP, [("w-1", SLOW)] * 60)
    assert slow_log_category(app, detection) is None


def test_a_store_slow_log_of_slow_statements_stays_its_own_symptom() -> None:
    """Full scans of seconds each are the store's trouble, not a lowered threshold's
    sample: its error-line rise is no mere slow log (the lab's ``mysql-scans``)."""
    db, detection = _evidence("db", ComponentKind.MYSQL, [("db-0:9104", SCAN)] * 60)
    assert slow_log_category(db, detection) is None
