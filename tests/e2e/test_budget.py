"""The global action budget holds under many concurrent writers on the real ledger.

Threads, each with its own connection and the operator's ServiceAccount token,
race to reserve actions in the ledger ConfigMap (optimistic concurrency on its
resourceVersion; a 409 re-reads and decides again).  Whatever the interleaving,
no more reservations succeed than the budget allows, and the stored ledger agrees.
"""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubernetes import client

from diagnosis_operator.adapters.kubernetes.cluster import ConfigMapDocument
from diagnosis_operator.core.remediation.ledger import GlobalBudget, decode
from diagnosis_operator.models.actions import Allowed, Denied, LedgerEntry, LedgerOutcome
from diagnosis_operator.models.findings import ActionType
from diagnosis_operator.service.remediate import ActionLedger
from tests.controlplane.cluster import ControlPlane
from tests.controlplane.operator import OperatorInstall
from tests.e2e.drain_world import reset_ledger

pytestmark = pytest.mark.e2e


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    budget=st.integers(min_value=0, max_value=4),
    workers=st.integers(min_value=2, max_value=10),
    already=st.integers(min_value=0, max_value=2),
)
def test_concurrent_reservations_never_exceed_the_global_budget(
    control_plane: ControlPlane,
    operator_install: OperatorInstall,
    kube_admin: client.ApiClient,
    budget: int,
    workers: int,
    already: int,
) -> None:
    namespace = operator_install.namespace
    reset_ledger(client.CoreV1Api(kube_admin), namespace)
    now = time.time()
    limits = GlobalBudget(max_actions=budget, window_seconds=3600)

    def entry(key: str) -> LedgerEntry:
        return LedgerEntry(
            key=key,
            action=ActionType.RATE_LIMIT_CLIENT,
            targets=(key,),
            at=now,
            outcome=LedgerOutcome.EXECUTED,
            detail="reserved: race",
        )

    clients = [control_plane.api_client(token=operator_install.token) for _ in range(workers)]
    try:
        # Some budget may already be spent by earlier actions.
        seeding = ActionLedger(
            store=ConfigMapDocument(api_client=clients[0], namespace=namespace),
            budget=GlobalBudget(max_actions=10, window_seconds=3600),
        )
        for index in range(already):
            assert isinstance(
                seeding.reserve(
                    entry=entry(f"earlier-{index}"),
                    now=now,
                    decide=lambda _l: Allowed(False, "seed"),
                ),
                Allowed,
            )

        barrier = threading.Barrier(workers)
        verdicts: list[Allowed | Denied] = []
        errors: list[BaseException] = []

        def worker(index: int) -> None:
            ledger = ActionLedger(
                store=ConfigMapDocument(api_client=clients[index], namespace=namespace),
                budget=limits,
                attempts=500,
            )
            barrier.wait()
            try:
                verdicts.append(
                    ledger.reserve(
                        entry=entry(f"w{index}"), now=now, decide=lambda _l: Allowed(False, "race")
                    )
                )
            except BaseException as error:  # reported below, not swallowed
                errors.append(error)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        won = sum(isinstance(v, Allowed) for v in verdicts)
        assert won <= max(0, budget - already)
        # Every worker reached a decision, so exactly the free budget was taken.
        assert won == min(workers, max(0, budget - already))
        stored = decode(ConfigMapDocument(api_client=clients[0], namespace=namespace).read().text)
        assert stored.used(now=now, window_seconds=3600) == already + won
        assert len([e for e in stored.entries if e.key.startswith("w")]) == won
    finally:
        for api in clients:
            api.close()  # type: ignore[no-untyped-call]  # ApiClient.close is unannotated
