"""Fault suite: the apiserver answers 409 or 429 to the action ledger's writes.

A fake at the port boundary (``DocumentStore``, the ledger ConfigMap's port)
stands in for a proxy in front of the apiserver: the real kube-apiserver of the
e2e tests has no way to inject a 429, and a TLS-terminating proxy for the
operator's two clients (kopf's and the kubernetes client's) was not built.  The
executor, guard, ledger and drain strategy are the real ones.

| fault on ledger writes        | end state                                  |
|-------------------------------|--------------------------------------------|
| 409 on the reservation        | re-read, one reservation, applied once     |
| 429 on the reservation        | LedgerUnavailable, nothing applied; the    |
|                               | retried pass applies it exactly once       |
| 429 on the "applied" mark     | LedgerUnavailable after the patch; the     |
|                               | retried pass recovers it, not repeated     |
"""

from __future__ import annotations

import pytest

from diagnosis_operator.api import RemediationState, RemediationStatus
from diagnosis_operator.core.remediation.ledger import decode
from diagnosis_operator.ports import ClusterError
from diagnosis_operator.service.remediate import LedgerUnavailable
from tests.fakes.cluster import FakeDocumentStore
from tests.unit.test_execute import NOW, Recorder, _cluster, _proposal, _run


class ThrottledStore(FakeDocumentStore):
    """The ledger ConfigMap behind an apiserver that throttles chosen writes (HTTP 429)."""

    def __init__(self, *, throttle: set[int]) -> None:
        super().__init__()
        self.throttle = throttle  # which write attempts (1-based) answer 429
        self.attempts = 0

    def write(self, *, text: str, version: str | None) -> str:
        self.attempts += 1
        if self.attempts in self.throttle:
            raise ClusterError(
                what="update configmap diagnosis-operator/diagnosis-operator-ledger",
                status=429,
                body="Too many requests, please try again later.",
            )
        return super().write(text=text, version=version)


def _entries(store: FakeDocumentStore) -> int:
    return len(decode(store.text).entries)


def test_conflicting_ledger_writes_are_decided_again_and_applied_once() -> None:
    cluster, store = _cluster(), FakeDocumentStore()
    store.conflicts = 2
    [done] = _run(cluster, store, [_proposal()])
    assert done.state is RemediationState.SUCCEEDED, done.reason
    assert cluster.quarantine_patches == 1
    assert _entries(store) == 1


def test_a_throttled_reservation_applies_nothing_then_exactly_once() -> None:
    cluster, store, recorder = _cluster(), ThrottledStore(throttle={1}), Recorder()
    with pytest.raises(LedgerUnavailable, match="HTTP 429"):
        _run(cluster, store, [_proposal()], recorder=recorder)
    assert cluster.quarantine_patches == 0
    assert store.text is None  # nothing reserved, nothing spent
    last: list[RemediationStatus] = recorder.last if recorder.snapshots else [_proposal()]
    [done] = _run(cluster, store, last, now=NOW + 20)
    assert done.state is RemediationState.SUCCEEDED, done.reason
    assert cluster.quarantine_patches == 1
    assert _entries(store) == 1


def test_a_throttled_applied_mark_is_recovered_not_repeated() -> None:
    cluster, store, recorder = _cluster(), ThrottledStore(throttle={2}), Recorder()
    with pytest.raises(LedgerUnavailable, match="HTTP 429"):
        _run(cluster, store, [_proposal()], recorder=recorder)
    assert cluster.quarantine_patches == 1
    persisted = recorder.last[0]
    assert persisted.state is RemediationState.RUNNING
    [done] = _run(cluster, store, [persisted], now=NOW + 20)
    assert done.state is RemediationState.SUCCEEDED, done.reason
    assert "not repeated" in done.reason
    assert cluster.quarantine_patches == 1
    entry = decode(store.text).find(done.idempotency_key or "")
    assert entry is not None and entry.detail.startswith("applied: ")
