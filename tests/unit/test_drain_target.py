"""A drain that names an instance address: the pod found by its IP, or refused."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from diagnosis_operator.api import (
    DiagnosisPolicySpec,
    Mode,
    RemediationAction,
    RemediationState,
    RemediationStatus,
)
from diagnosis_operator.core.remediation.drain_target import instance_address, pick_by_address
from diagnosis_operator.models.actions import DenialCode, Denied
from diagnosis_operator.models.cluster import PodInfo
from diagnosis_operator.service.remediate import DiagnosisRef, lift_due, remediate
from tests.fakes.cluster import FakeCluster, FakeDocumentStore, make_pod

NOW = 1_900_000_000.0
# The Diagnosis lives in "shop"; the component (and its pods) in "front".
DIAGNOSIS = DiagnosisRef(namespace="shop", name="checkout-slow", uid="uid-9")


@pytest.mark.parametrize(
    ("target", "address"),
    [
        ("10.0.2.101:8080", "10.0.2.101"),
        ("10.0.2.101", "10.0.2.101"),
        ("[FD00::0007]:8080", "fd00::7"),
        ("fd00::7", "fd00::7"),
        (" 127.0.0.2:9000 ", "127.0.0.2"),
    ],
)
def test_an_instance_with_an_address_names_it_in_normal_form(target: str, address: str) -> None:
    assert instance_address(target) == address


@pytest.mark.parametrize(
    "target",
    [
        "web-1",
        "web-1:8080",
        "10.0.2.101:http",
        "10.0.2.101:70000",
        "[fd00::7",
        "[fd00::7]x",
        "fe80::1%eth0",
        "10.0.2.101,10.0.2.102",
        "status.podIP=1.2.3.4",
        "",
    ],
)
def test_anything_else_names_no_address(target: str) -> None:
    assert instance_address(target) is None


def _at(name: str, ip: str, *, namespace: str = "shop", phase: str = "Running") -> PodInfo:
    return dataclasses.replace(make_pod(name, namespace=namespace, pod_ip=ip), phase=phase)


def test_exactly_one_live_pod_of_the_namespace_is_picked() -> None:
    pods = [
        _at("web-1", "10.0.2.101"),
        _at("old", "10.0.2.101", phase="Succeeded"),
        _at("elsewhere", "10.0.2.101", namespace="other"),
        _at("web-2", "10.0.2.102"),
    ]
    found = pick_by_address(
        target="10.0.2.101:8080", address="10.0.2.101", namespace="shop", pods=pods
    )
    assert isinstance(found, PodInfo) and found.name == "web-1"


def test_no_pod_or_several_pods_with_the_address_is_a_refusal() -> None:
    none = pick_by_address(target="10.0.2.9:80", address="10.0.2.9", namespace="shop", pods=[])
    assert isinstance(none, Denied) and none.code is DenialCode.TARGET_NOT_FOUND
    assert "status.podIP 10.0.2.9" in none.reason and "namespace shop" in none.reason
    two = [_at("web-2", "10.0.2.9"), _at("web-1", "10.0.2.9")]
    many = pick_by_address(target="10.0.2.9:80", address="10.0.2.9", namespace="shop", pods=two)
    assert isinstance(many, Denied) and many.code is DenialCode.AMBIGUOUS_TARGET
    assert "2 pods" in many.reason and "web-1, web-2" in many.reason


# --------------------------------------------------------------------- the executor


def _policy(**drain: Any) -> DiagnosisPolicySpec:
    settings = {"enabled": True, "requireApproval": False, "ttl": "5m", **drain}
    return DiagnosisPolicySpec.model_validate(
        {
            "components": [
                {"name": "web", "kind": "app", "namespace": "front", "selector": {"job": "web"}}
            ],
            "remediation": {"drainPod": settings},
        }
    )


def _proposal(target: str, **params: Any) -> RemediationStatus:
    return RemediationStatus(
        action=RemediationAction.DRAIN_POD,
        target=target,
        state=RemediationState.PROPOSED,
        reason=f"{target} is degraded while its siblings are not",
        params={"component": "web", "instance": target, **params},
    )


def _front(name: str, ip: str, *, phase: str = "Running") -> PodInfo:
    return _at(name, ip, namespace="front", phase=phase)


def _cluster(*pods: PodInfo) -> FakeCluster:
    cluster = FakeCluster(list(pods))
    cluster.selectors["front"] = [{"app": "web"}]
    return cluster


def _web() -> FakeCluster:
    return _cluster(
        _front("web-a", "10.0.2.101"), _front("web-b", "10.0.2.102"), _front("web-c", "10.0.2.103")
    )


def _remediate(
    cluster: FakeCluster, items: list[RemediationStatus], policy: DiagnosisPolicySpec | None = None
) -> list[RemediationStatus]:
    return remediate(
        diagnosis=DIAGNOSIS,
        policy=policy or _policy(),
        remediations=items,
        cluster=cluster,
        ledger=FakeDocumentStore(),
        now=NOW,
        mode=Mode.REMEDIATE,
        record=lambda _items: None,
    )


def test_the_pod_with_the_instance_ip_is_quarantined_and_lifted_by_name() -> None:
    cluster = _web()
    [done] = _remediate(cluster, [_proposal("10.0.2.102:8080")])
    assert done.state is RemediationState.SUCCEEDED, done.reason
    assert cluster.ip_lookups == [("front", "10.0.2.102")]
    assert "pod front/web-b quarantined" in done.reason
    assert done.params["executor"]["podName"] == "web-b"
    assert done.params["executor"]["podNamespace"] == "front"
    quarantined = [pod.name for pod in cluster.list_quarantined()]
    assert quarantined == ["web-b"]
    # the TTL restore finds the pod by the name recorded, not the instance address
    [lifted] = lift_due(
        diagnosis=DIAGNOSIS,
        remediations=[done],
        cluster=cluster,
        now=NOW + 301,
        record=lambda _items: None,
    )
    assert "quarantine lifted because its TTL ran out" in lifted.reason
    assert cluster.list_quarantined() == ()


def test_a_pod_label_wins_over_the_address() -> None:
    cluster = _web()
    [done] = _remediate(cluster, [_proposal("10.0.2.102:8080", pod="web-c")])
    assert done.state is RemediationState.SUCCEEDED, done.reason
    assert cluster.ip_lookups == []
    assert [pod.name for pod in cluster.list_quarantined()] == ["web-c"]


@pytest.mark.parametrize(
    ("pods", "code"),
    [
        (
            (_front("web-a", "10.0.2.101"), _front("web-b", "10.0.2.101")),
            DenialCode.AMBIGUOUS_TARGET,
        ),
        ((_at("web-a", "10.0.2.101", namespace="other"),), DenialCode.TARGET_NOT_FOUND),
    ],
)
def test_an_address_naming_no_single_pod_of_the_namespace_is_denied(
    pods: tuple[PodInfo, ...], code: DenialCode
) -> None:
    cluster = _cluster(*pods, _front("web-z", "10.0.2.200"))
    [item] = _remediate(cluster, [_proposal("10.0.2.101:8080")])
    assert item.state is RemediationState.DENIED
    assert item.reason.startswith(f"{code.value}: instance 10.0.2.101:8080")
    assert cluster.quarantine_patches == 0


def test_the_never_list_matches_the_resolved_pod_name() -> None:
    cluster = _web()
    policy = _policy(neverList=["front/web-b"])
    [item] = _remediate(cluster, [_proposal("10.0.2.102:8080")], policy)
    assert item.state is RemediationState.DENIED
    assert item.reason.startswith(DenialCode.NEVER_LISTED.value)
    assert cluster.quarantine_patches == 0
