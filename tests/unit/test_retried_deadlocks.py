"""A store's deadlocks its callers did not feel are no incident; felt, they stay one."""

from __future__ import annotations

from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.gate import incident_gate
from diagnosis_operator.core.diagnosis.logs import LogCategory
from diagnosis_operator.core.diagnosis.retried_deadlocks import deadlock_category
from diagnosis_operator.models.signals import Labels
from diagnosis_operator.models.topology import Component, ComponentKind
from tests.unit.test_quiet_lines import SERVICE, WINDOW, _evidence

DEADLOCK = (
    "2031-03-04  7:48:08 2254 [Note] InnoDB: Transactions deadlock detected, dumping "
    "detailed information."
)


def _api(*, harmed: bool) -> ComponentEvidence:
    if not harmed:
        return ComponentEvidence(component=Component("api", ComponentKind.APP, Labels({}), ("db",)))
    api, _ = _evidence("api", ComponentKind.APP, [("api-0:8080", SERVICE[0])] * 30)
    component = Component("api", ComponentKind.APP, Labels({"job": "api"}), ("db",))
    return ComponentEvidence(component=component, detections=api.detections, logs=api.logs)


def test_deadlocks_no_caller_felt_are_no_incident() -> None:
    """Two workers deadlocking every few seconds and retrying; the API at its baseline."""
    db, detection = _evidence("db", ComponentKind.MYSQL, [("db-0:9104", DEADLOCK)] * 30)
    assert deadlock_category(db, detection) is LogCategory.DEADLOCK
    gate = incident_gate(evidence={"db": db, "api": _api(harmed=False)}, window=WINDOW, step=15.0)
    assert not gate.incident
    assert "db logged retried deadlocks that none of its callers felt" in gate.describe()


def test_deadlocks_their_callers_felt_stay_an_incident() -> None:
    db, _ = _evidence("db", ComponentKind.MYSQL, [("db-0:9104", DEADLOCK)] * 30)
    gate = incident_gate(evidence={"db": db, "api": _api(harmed=True)}, window=WINDOW, step=15.0)
    assert gate.incident


def test_deadlocks_among_other_errors_stay_the_stores_symptom() -> None:
    lines = [("db-0:9104", DEADLOCK)] * 10 + [("db-0:9104", SERVICE[0])] * 20
    db, detection = _evidence("db", ComponentKind.MYSQL, lines)
    assert deadlock_category(db, detection) is None
    gate = incident_gate(evidence={"db": db, "api": _api(harmed=False)}, window=WINDOW, step=15.0)
    assert gate.incident


def test_an_applications_own_deadlocks_are_no_stores() -> None:
    app, detection = _evidence("web", ComponentKind.APP, [("w-1", DEADLOCK)] * 30)
    assert deadlock_category(app, detection) is None
