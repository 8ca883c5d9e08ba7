"""One idempotency key per remediation: the status has it from the start, the executor agrees.

``core.phases.with_result`` writes the key of every proposed remediation in every
mode (``kubectl diagnose approve`` names it even in ``observe``); the executor
(``service.execute.remediate``) derives it again before it decides.  If they ever
differed, an approval given on the key shown would approve nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from diagnosis_operator.api import (
    DiagnosisPolicySpec,
    DiagnosisStatus,
    Mode,
    Phase,
    PolicySnapshot,
    RemediationAction,
    RemediationState,
    RemediationStatus,
)
from diagnosis_operator.core.phases import transition, with_result
from diagnosis_operator.core.remediation.keys import drain_action_of, key_for
from diagnosis_operator.models.actions import DrainPod, action_key
from diagnosis_operator.models.findings import (
    ActionType,
    DiagnosisResult,
    ProposedRemediation,
    RootCause,
)
from diagnosis_operator.models.signals import Window
from diagnosis_operator.service.remediate import DiagnosisRef, ExecutorSettings, remediate
from tests.fakes.cluster import FakeCluster, FakeDocumentStore, make_pod

T0 = datetime(2031, 3, 4, 5, 0, tzinfo=UTC)
UID = "6b1f0e3c-0d7a-4c55-9a43-1f0c2b7d9e21"
POLICY = DiagnosisPolicySpec.model_validate(
    {
        "components": [
            # The pod's namespace comes from its component when the proposal has none.
            {"name": "web", "kind": "app", "selector": {"job": "web"}, "namespace": "frontend"},
            {"name": "orders-db", "kind": "mysql", "selector": {"job": "orders-db"}},
        ],
        "remediation": {
            "drainPod": {"enabled": True, "requireApproval": True},
            "killMysqlQueries": {"enabled": True, "requireApproval": True},
            "rateLimitClient": {"enabled": True, "requireApproval": True},
        },
    }
)
PROPOSALS = (
    ProposedRemediation(
        action=ActionType.DRAIN_POD,
        target="web-7f9c-x2",
        reason="web-7f9c-x2 answers 503 while its siblings do not",
        params={"component": "web", "pod": "web-7f9c-x2"},
    ),
    ProposedRemediation(
        action=ActionType.KILL_MYSQL_QUERIES, target="orders-db", reason="full scans pile up"
    ),
    # Not in normal form on purpose: the key is the network's, /32 included.
    ProposedRemediation(
        action=ActionType.RATE_LIMIT_CLIENT, target="198.51.100.23", reason="one client floods"
    ),
)


def _written(*, proposals: tuple[ProposedRemediation, ...] = PROPOSALS) -> DiagnosisStatus:
    status = transition(DiagnosisStatus(), target=Phase.PENDING, generation=1, now=T0)
    status = status.model_copy(
        update={
            "policy_snapshot": PolicySnapshot(
                name="checkout", resource_version="7", generation=1, spec=POLICY
            )
        }
    )
    result = DiagnosisResult(
        window=Window(start=T0.timestamp() - 1800, end=T0.timestamp()),
        root_cause=RootCause(
            component="orders-db", kind="mysql", instance=None, confidence=0.9, summary="slow"
        ),
        remediations=proposals,
    )
    return with_result(status, result=result, diagnosis_uid=UID, namespace="checkout")


def test_every_proposal_carries_its_key_from_the_moment_it_is_written() -> None:
    items = _written().remediations
    assert all(item.state is RemediationState.PROPOSED for item in items)
    keys = [item.idempotency_key for item in items]
    assert all(keys) and len(set(keys)) == 3, keys
    drain = drain_action_of(remediation=items[0], policy=POLICY, diagnosis_namespace="checkout")
    assert drain == DrainPod(
        component="web", namespace="frontend", pod="web-7f9c-x2", reason=items[0].reason
    )
    assert keys[0] == action_key(diagnosis_uid=UID, action=drain)
    # Another Diagnosis (uid) gives other keys for the same proposals.
    other = with_result(
        _written(),
        result=DiagnosisResult(
            window=Window(start=0, end=1),
            root_cause=RootCause(
                component="x", kind="app", instance=None, confidence=0.5, summary=""
            ),
            remediations=PROPOSALS,
        ),
        diagnosis_uid="another-uid",
        namespace="checkout",
    )
    assert not {i.idempotency_key for i in other.remediations} & set(keys)


@pytest.mark.parametrize("mode", [Mode.DRY_RUN, Mode.REMEDIATE])
def test_the_executor_derives_the_key_the_status_shows(mode: Mode) -> None:
    written = _written().remediations
    cluster = FakeCluster(
        [make_pod(name, namespace="frontend") for name in ("web-7f9c-x2", "web-7f9c-k8")]
    )
    cluster.selectors["frontend"] = [{"app": "web"}]
    snapshots: list[list[RemediationStatus]] = []
    done = remediate(
        diagnosis=DiagnosisRef(namespace="checkout", name="checkout-5xx", uid=UID),
        policy=POLICY,
        remediations=written,
        cluster=cluster,
        ledger=FakeDocumentStore(),
        now=T0.timestamp(),
        mode=mode,
        record=snapshots.append,
        # The pods live in "frontend": the admin grants the policy's namespace that.
        settings=ExecutorSettings(write_grants={"checkout": frozenset({"frontend"})}),
    )
    assert [d.idempotency_key for d in done] == [w.idempotency_key for w in written]
    # The drain waits for approval under the very key the status showed.
    assert done[0].state is RemediationState.PROPOSED, done[0].reason
    assert str(written[0].idempotency_key) in done[0].reason
    # Nothing had to be re-keyed on the way.
    for snapshot in snapshots:
        assert [s.idempotency_key for s in snapshot] == [w.idempotency_key for w in written]


def test_a_target_that_names_no_action_has_no_key_and_is_denied() -> None:
    bad = ProposedRemediation(
        action=ActionType.RATE_LIMIT_CLIENT, target="10.1.2.3/8", reason="host bits set"
    )
    [item] = _written(proposals=(bad,)).remediations
    assert item.idempotency_key is None
    with pytest.raises(ValueError, match="rate-limit-client target"):
        key_for(diagnosis_uid=UID, diagnosis_namespace="checkout", remediation=item, policy=POLICY)
    [done] = remediate(
        diagnosis=DiagnosisRef(namespace="checkout", name="checkout-5xx", uid=UID),
        policy=POLICY,
        remediations=[item],
        cluster=FakeCluster([]),
        ledger=FakeDocumentStore(),
        now=T0.timestamp(),
        mode=Mode.REMEDIATE,
        record=lambda _items: None,
    )
    assert done.state is RemediationState.DENIED and "10.1.2.3/8" in done.reason


def test_a_kill_key_names_the_server_not_the_namespace() -> None:
    item = RemediationStatus(
        action=RemediationAction.KILL_MYSQL_QUERIES,
        target="orders-db",
        state=RemediationState.PROPOSED,
        reason="",
    )
    key = key_for(diagnosis_uid=UID, diagnosis_namespace="a", remediation=item, policy=POLICY)
    assert key == key_for(
        diagnosis_uid=UID, diagnosis_namespace="b", remediation=item, policy=POLICY
    )
