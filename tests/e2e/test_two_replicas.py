"""Two live replicas under leader election (a coordination.k8s.io Lease): one acts, ever.

Why a Lease and not kopf's peering: peers of equal priority all pause (kopf's
documented behaviour), so two replicas of one Deployment could not both be live
peers; see docs/architecture.md, "Two replicas".  Here two real operator
processes run with the same flags (the chart rendered with
``leaderElection.enabled=true``, its Role for the Lease applied), under the
chart's ServiceAccount token, against the real apiserver:

- with both up, only the Lease holder acts on an approved drain: the side effect
  is performed once (the executor's ``applied`` record, shared by both
  processes), the ledger holds one executed entry, the standby's log never names
  the action;
- the holder is SIGKILLed in the middle of the drain (held at a checkpoint before
  or after the side effect); the standby takes the Lease over once it expires and
  finishes the action, without performing it a second time.

The Diagnosis is seeded as the engine leaves it when a drain waits for approval
(as in test_restart.py).  Operators of the session, if any run, use kopf's
peering: an entry of a priority above theirs is written into the peering object
for the test's duration, so they pause, and removed afterwards.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, utils

from diagnosis_operator import API_GROUP, API_VERSION
from diagnosis_operator.api import DiagnosisPolicySpec
from diagnosis_operator.core.remediation.ledger import decode
from diagnosis_operator.entrypoints.kopf.leader import LOST_LEASE_EXIT
from diagnosis_operator.models.actions import DrainPod, LedgerOutcome, action_key
from diagnosis_operator.models.cluster import QUARANTINE_ANNOTATION
from diagnosis_operator.models.controls import approval_annotation, approval_value
from tests.controlplane.cluster import ControlPlane, Process, free_port, start_process, tail
from tests.controlplane.operator import (
    OperatorInstall,
    find,
    operator_argv,
    rendered_objects,
)
from tests.e2e.drain_world import (
    ensure_node,
    new_namespace,
    operator_ports,
    reset_ledger,
    wait_for,
    web_workload,
)
from tests.e2e.test_restart import handled_annotations, peering_name
from tests.k8s_json import annotations_of, as_json

pytestmark = pytest.mark.e2e

LEASE = "diagnosis-operator"
# Short lease timings keep the takeover within seconds (the chart's are 15/10/2).
LEASE_ENV = {
    "DIAG_LEASE_DURATION": "6",
    "DIAG_LEASE_RENEW_DEADLINE": "4",
    "DIAG_LEASE_RETRY_PERIOD": "1",
}
PAUSE_PRIORITY = 2**31 - 1  # above every priority the session's operators use
POLICY: dict[str, Any] = {
    "components": [{"name": "web", "kind": "app", "selector": {"job": "web"}}],
    "remediation": {
        "drainPod": {
            "enabled": True,
            "requireApproval": True,
            "budget": {"maxActions": 10, "window": "1h"},
            "cooldown": "1m",
            "ttl": "1h",
        }
    },
}


@dataclass
class Replica:
    process: Process
    identity: str  # how it names itself in the Lease: <hostname>-<pid>

    def log_text(self) -> str:
        return self.process.log.read_text(encoding="utf-8", errors="replace")


@dataclass
class World:
    plane: ControlPlane
    install: OperatorInstall
    argv: list[str]
    custom: client.CustomObjectsApi
    core: client.CoreV1Api
    coordination: client.CoordinationV1Api
    namespace: str
    name: str
    key: str
    checkpoints: Path
    admin: client.ApiClient
    binding: dict[str, Any]  # the chart's RoleBinding for the Lease
    started: list[Process] = field(default_factory=list)  # stopped by the fixture, always

    def lease(self) -> dict[str, Any]:
        found = self.coordination.read_namespaced_lease(LEASE, self.install.namespace)
        return as_json(self.coordination.api_client.sanitize_for_serialization(found))

    def holder(self) -> str | None:
        try:
            spec = self.lease().get("spec") or {}
        except client.ApiException as error:
            if error.status == 404:
                return None
            raise
        return spec.get("holderIdentity")

    def diagnosis(self) -> dict[str, Any]:
        return as_json(
            self.custom.get_namespaced_custom_object(
                API_GROUP, API_VERSION, self.namespace, "diagnoses", self.name
            )
        )

    def remediation(self) -> dict[str, Any]:
        [item] = (self.diagnosis().get("status") or {}).get("remediations") or [{}]
        return dict(item)

    def applied(self) -> list[str]:
        path = self.checkpoints / "applied"
        return path.read_text(encoding="utf-8").split() if path.exists() else []


def _may(kube_admin: client.ApiClient, install: OperatorInstall, verb: str, **where: str) -> bool:
    """Whether the operator's ServiceAccount may ``verb`` a Lease (SubjectAccessReview)."""
    review = client.V1SubjectAccessReview(
        spec=client.V1SubjectAccessReviewSpec(
            user=f"system:serviceaccount:{install.namespace}:{install.service_account}",
            groups=["system:serviceaccounts", f"system:serviceaccounts:{install.namespace}"],
            resource_attributes=client.V1ResourceAttributes(
                group="coordination.k8s.io", resource="leases", verb=verb, **where
            ),
        )
    )
    answer = client.AuthorizationV1Api(kube_admin).create_subject_access_review(review)
    return bool(answer.status and answer.status.allowed)


def _lease_rbac(
    kube_admin: client.ApiClient, install: OperatorInstall
) -> tuple[list[str], dict[str, Any]]:
    """Apply the chart's leader-election Role and binding: the argv and the binding."""
    objects = rendered_objects("--set", "leaderElection.enabled=true")
    rbac = [
        obj
        for obj in objects
        if obj["kind"] in ("Role", "RoleBinding")
        and obj["metadata"]["name"].endswith("-leader-election")
    ]
    for obj in rbac:
        _create(kube_admin, obj)
    ours = {"name": LEASE, "namespace": install.namespace}
    wait_for("the Lease Role to take effect", lambda: _may(kube_admin, install, "update", **ours))
    # Least privilege: that one Lease, in the operator's namespace, never deleted.
    assert not _may(kube_admin, install, "update", name="other", namespace=install.namespace)
    assert not _may(kube_admin, install, "update", name=LEASE, namespace="kube-system")
    assert not _may(kube_admin, install, "delete", **ours)
    assert not _may(kube_admin, install, "create", namespace="kube-node-lease")
    argv = operator_argv(find(objects, "Deployment"))
    assert "--leader-election" in argv and not any(a.startswith("--peering") for a in argv)
    [binding] = [obj for obj in rbac if obj["kind"] == "RoleBinding"]
    return argv, binding


def _create(kube_admin: client.ApiClient, obj: dict[str, Any]) -> None:
    try:
        utils.create_from_dict(kube_admin, obj)  # type: ignore[no-untyped-call]
    except utils.FailToCreateError as error:
        if any(e.status != 409 for e in error.api_exceptions):
            raise


def _pause_session_operators(custom: client.CustomObjectsApi, peering: str) -> str:
    """A peering entry above everyone's priority: kopf-peered operators pause meanwhile."""
    entry = f"two-replicas-test-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC).isoformat()
    custom.patch_cluster_custom_object(
        "kopf.dev",
        "v1",
        "clusterkopfpeerings",
        peering,
        {
            "status": {
                entry: {
                    "priority": PAUSE_PRIORITY,
                    "lifetime": 600,
                    "lastseen": now,
                    "birthtime": now,
                }
            }
        },
    )
    return entry


def _seed(world_admin: client.ApiClient, namespace: str) -> tuple[str, str]:
    """A Completed Diagnosis with one drain of web-1 waiting for approval: (name, key)."""
    custom = client.CustomObjectsApi(world_admin)
    policy = as_json(
        custom.create_namespaced_custom_object(
            API_GROUP,
            API_VERSION,
            namespace,
            "diagnosispolicies",
            {
                "apiVersion": f"{API_GROUP}/{API_VERSION}",
                "kind": "DiagnosisPolicy",
                "metadata": {"name": "shop"},
                "spec": POLICY,
            },
        )
    )
    name = "checkout-5xx"
    diagnosis: dict[str, Any] = {
        "apiVersion": f"{API_GROUP}/{API_VERSION}",
        "kind": "Diagnosis",
        "metadata": {"name": name},
        "spec": {
            "symptom": {"component": "web"},
            "window": {"lookback": "15m"},
            "policyRef": {"name": "shop"},
            "mode": "remediate",
        },
    }
    defaulted = as_json(
        custom.create_namespaced_custom_object(
            API_GROUP, API_VERSION, namespace, "diagnoses", diagnosis, dry_run="All"
        )
    )
    diagnosis["metadata"]["annotations"] = handled_annotations(defaulted)
    created = as_json(
        custom.create_namespaced_custom_object(
            API_GROUP, API_VERSION, namespace, "diagnoses", diagnosis
        )
    )
    key = action_key(
        diagnosis_uid=created["metadata"]["uid"],
        action=DrainPod(component="web", namespace=namespace, pod="web-1", reason=""),
    )
    snapshot = {
        "name": "shop",
        "uid": policy["metadata"]["uid"],
        "resourceVersion": policy["metadata"]["resourceVersion"],
        "generation": policy["metadata"]["generation"],
        "spec": DiagnosisPolicySpec.model_validate(POLICY).to_wire(),
    }
    proposed = {
        "action": "drain-pod",
        "target": "web-1",
        "state": "proposed",
        "reason": f"waits for approval: kubectl diagnose approve {key}",
        "idempotencyKey": key,
        "params": {"component": "web", "namespace": namespace, "pod": "web-1"},
    }
    custom.patch_namespaced_custom_object_status(
        API_GROUP,
        API_VERSION,
        namespace,
        "diagnoses",
        name,
        {
            "status": {
                "phase": "Completed",
                "observedGeneration": created["metadata"]["generation"],
                "policySnapshot": snapshot,
                "remediations": [proposed],
            }
        },
    )
    return name, key


@pytest.fixture
def world(
    control_plane: ControlPlane,
    operator_install: OperatorInstall,
    kube_admin: client.ApiClient,
    tmp_path: Path,
) -> Iterator[World]:
    core = client.CoreV1Api(kube_admin)
    custom = client.CustomObjectsApi(kube_admin)
    coordination = client.CoordinationV1Api(kube_admin)
    argv, binding = _lease_rbac(kube_admin, operator_install)
    peering = peering_name(operator_install)
    entry = _pause_session_operators(custom, peering)
    ensure_node(core)
    reset_ledger(core, operator_install.namespace)
    namespace = new_namespace(core, "replicas")
    web_workload(core, client.AppsV1Api(kube_admin), namespace)
    name, key = _seed(kube_admin, namespace)
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    started: list[Process] = []
    try:
        yield World(
            plane=control_plane,
            install=operator_install,
            argv=argv,
            custom=custom,
            core=core,
            coordination=coordination,
            namespace=namespace,
            name=name,
            key=key,
            checkpoints=checkpoints,
            admin=kube_admin,
            binding=binding,
            started=started,
        )
    finally:
        for process in started:
            process.stop()
        custom.patch_cluster_custom_object(
            "kopf.dev", "v1", "clusterkopfpeerings", peering, {"status": {entry: None}}
        )
        try:
            coordination.delete_namespaced_lease(LEASE, operator_install.namespace)
        except client.ApiException as error:
            if error.status != 404:
                raise


def start_replica(world: World, label: str) -> Replica:
    token_file = world.plane.directory / "two-replicas.token"
    token_file.write_text(world.install.token, encoding="utf-8")
    token_file.chmod(0o600)
    liveness = f"http://127.0.0.1:{free_port()}/healthz"
    argv = [
        str(Path(sys.executable).with_name("diagnosis-operator")),
        *world.argv,
        f"--liveness={liveness}",
        f"--server={world.plane.server}",
        f"--token-file={token_file}",
        f"--certificate-authority={world.plane.ca_file}",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIAG_", "KUBECONFIG"))}
    env.update(
        {
            **LEASE_ENV,
            "DIAG_SOURCE_RETRIES": "0",
            "DIAG_OPERATOR_NAMESPACE": world.install.namespace,
            "DIAG_TEST_CHECKPOINT_DIR": str(world.checkpoints),
        }
    )
    process = start_process(
        f"operator-replica-{label}-{uuid.uuid4().hex[:4]}",
        argv,
        directory=world.plane.directory,
        env=env,
    )
    world.started.append(process)

    def alive() -> bool:
        if process.popen.poll() is not None:
            raise AssertionError(f"operator {label} exited:\n{tail(process.log)}")
        try:
            with urllib.request.urlopen(liveness, timeout=3) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    wait_for(f"operator {label}'s liveness endpoint", alive, timeout=90)
    return Replica(process=process, identity=f"{os.uname().nodename}-{process.popen.pid}")


def approve(world: World) -> None:
    annotation = approval_value(user="alice@example.org", at=time.time())
    world.custom.patch_namespaced_custom_object(
        API_GROUP,
        API_VERSION,
        world.namespace,
        "diagnoses",
        world.name,
        {"metadata": {"annotations": {approval_annotation(world.key): annotation}}},
    )


def finished(world: World) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        found = world.remediation()
        states = ("succeeded", "failed", "denied", "skipped")
        return found if found.get("state") in states else None

    return wait_for("the remediation to finish", done, timeout=90)


def two_replicas(world: World) -> tuple[Replica, Replica]:
    """Both started, both alive; (leader, standby) as the Lease names them."""
    first = start_replica(world, "a")
    second = start_replica(world, "b")
    replicas = {first.identity: first, second.identity: second}
    holder = wait_for("a Lease holder among the replicas", lambda: world.holder() in replicas)
    assert holder
    leader = replicas[str(world.holder())]
    standby = second if leader is first else first
    assert standby.process.popen.poll() is None, "both replicas stay up"
    assert "standing by" in standby.log_text()
    return leader, standby


def ledger_outcome(world: World) -> LedgerOutcome | None:
    _, ledger = operator_ports(world.plane, world.install)
    entry = decode(ledger.read().text).find(world.key)
    return None if entry is None else entry.outcome


def test_with_two_replicas_up_only_the_lease_holder_acts_once(world: World) -> None:
    leader, standby = two_replicas(world)
    try:
        approve(world)
        done = finished(world)
        # The standby still stands by: it has not touched the Diagnosis meanwhile.
        assert world.holder() == leader.identity
        assert standby.process.popen.poll() is None
        standby_log = standby.log_text()
    finally:
        standby.process.stop()
        leader.process.stop()
    assert done["state"] == "succeeded", done
    assert world.applied() == [world.key], "the side effect ran exactly once"
    assert ledger_outcome(world) is LedgerOutcome.EXECUTED
    # The standby never got past the Lease: it did not start kopf at all.
    assert f"acquired by {standby.identity}" not in standby_log
    assert "serving" not in standby_log, standby_log
    assert f"acquired by {leader.identity}" in leader.log_text()
    history = [h["state"] for h in done["params"]["executor"]["history"]]
    assert history.count("running") == 1 and history[-1] == "succeeded", history


@pytest.mark.parametrize("step", ["after-apply", "before-apply"])
def test_sigkill_of_the_holder_mid_drain_the_standby_finishes_it_once(
    world: World, step: str
) -> None:
    (world.checkpoints / f"hold-{step}").write_text("", encoding="utf-8")
    leader, standby = two_replicas(world)
    try:
        approve(world)
        wait_for(
            f"the holder to reach {step}",
            lambda: (world.checkpoints / f"reached-{step}-{world.key}").exists(),
            timeout=90,
        )
        assert world.remediation()["state"] == "running"
        before = list(world.applied())
        assert before == ([world.key] if step == "after-apply" else [])
        lease_before = world.lease()["spec"]
        leader.process.popen.send_signal(signal.SIGKILL)
        leader.process.popen.wait(timeout=30)
        # Only after the kill may the checkpoint open: what follows is the standby's.
        (world.checkpoints / f"hold-{step}").unlink()
        wait_for(
            "the standby to take the Lease over",
            lambda: world.holder() == standby.identity,
            timeout=60,
        )
        done = finished(world)
    finally:
        standby.process.stop()
        leader.process.stop()
    assert done["state"] == "succeeded", done
    assert world.applied() == [world.key], "the side effect ran exactly once in total"
    assert ledger_outcome(world) is LedgerOutcome.EXECUTED
    lease_after = world.lease()["spec"]
    assert int(lease_after.get("leaseTransitions") or 0) == (
        int(lease_before.get("leaseTransitions") or 0) + 1
    )
    record = json.loads(
        annotations_of(world.core.read_namespaced_pod("web-1", world.namespace))[
            QUARANTINE_ANNOTATION
        ]
    )
    assert record["key"] == world.key
    if step == "after-apply":
        assert "not repeated" in done["reason"], done
    taken = standby.log_text()
    assert f"acquired by {standby.identity}: {leader.identity}'s lease expired" in taken, taken


def test_a_holder_that_cannot_renew_exits_and_the_standby_takes_over(world: World) -> None:
    """The fence: without its Lease rights the holder stops itself within the renew
    deadline; once the rights are back, the standby leads."""
    leader, standby = two_replicas(world)
    rbac = client.RbacAuthorizationV1Api(world.admin)
    name = world.binding["metadata"]["name"]
    try:
        rbac.delete_namespaced_role_binding(name, world.install.namespace)
        try:
            code = leader.process.popen.wait(timeout=60)
        finally:
            _create(world.admin, world.binding)
        wait_for(
            "the standby to take the Lease over",
            lambda: world.holder() == standby.identity,
            timeout=60,
        )
        assert standby.process.popen.poll() is None, "the standby waits through refusals"
    finally:
        standby.process.stop()
        leader.process.stop()
    assert code == LOST_LEASE_EXIT, tail(leader.process.log)
    said = leader.log_text()
    assert f"lease {world.install.namespace}/{LEASE} not renewed for 4s: exiting" in said, said
    assert world.applied() == []  # nothing was approved: nobody acted
