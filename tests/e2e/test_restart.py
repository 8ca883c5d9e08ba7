"""SIGKILL the operator in the middle of an action: after a restart it is neither lost nor repeated.

The real operator (``diagnosis-operator run``, the chart's arguments, its
ServiceAccount token) is started with ``DIAG_TEST_CHECKPOINT_DIR``: the executor
then stops at a checkpoint around the side effect while ``hold-<step>`` exists in
that folder, and appends one line to ``applied`` per side effect it really
performed (see ``service.execute.checkpoint_from_dir``).  The test kills the
process there with SIGKILL, starts a new one and counts.

The Diagnosis is seeded as the engine and the Remediating phase leave it when a
drain waits for approval (Completed, a policy snapshot, one proposed drain-pod
with its idempotency key); approving it (the annotation ``kubectl diagnose
approve`` writes) is what sets the operator to work.

Other operators may run in the same session (the session-wide one of
``tests/controlplane/operator.py``, in the same kopf peering).  The seed is
therefore what an operator really leaves behind, including kopf's record that it
handled this generation (``last-handled-configuration``): without it, a live
operator takes the seeded Diagnosis for a new one and diagnoses it afresh
between its creation and the status seed, overwriting the seeded phase.  The
restart operators lead the peering (every start a priority of its own, above
what ``run`` draws), the test waits until the session's operators see them
there before approving, and the entries the SIGKILLed ones leave are removed
afterwards, so that nobody else stands by for their lifetime.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import kopf
import pytest
from kubernetes import client

from diagnosis_operator import API_GROUP, API_VERSION
from diagnosis_operator.api import DiagnosisPolicySpec
from diagnosis_operator.core.remediation.ledger import decode
from diagnosis_operator.entrypoints.kopf.lifecycle import configure
from diagnosis_operator.models.actions import DrainPod, LedgerOutcome, action_key
from diagnosis_operator.models.cluster import QUARANTINE_ANNOTATION
from diagnosis_operator.models.controls import approval_annotation, approval_value
from tests.controlplane.cluster import ControlPlane, Process, free_port, start_process, tail
from tests.controlplane.operator import OperatorInstall, find, onboard, operator_argv
from tests.e2e.drain_world import (
    ensure_node,
    new_namespace,
    operator_ports,
    reset_ledger,
    wait_for,
    web_workload,
)
from tests.k8s_json import annotations_of, as_json, labels_of, metadata_of

pytestmark = pytest.mark.e2e
# Above any random priority `run` picks (< 2**30): a session-wide operator, if one
# runs, pauses while these run (kopf peering).  Each start takes the next one: two
# live peers with one priority would both pause, and a SIGKILLed operator's entry
# stays in the peering for its lifetime.
PRIORITIES = itertools.count(2_000_000_000)

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


def peering_name(install: OperatorInstall) -> str:
    argv = operator_argv(find(install.objects, "Deployment"))
    return next(arg.split("=", 1)[1] for arg in argv if arg.startswith("--peering="))


def peers(custom: client.CustomObjectsApi, peering: str) -> dict[str, Any]:
    found = as_json(
        custom.get_cluster_custom_object("kopf.dev", "v1", "clusterkopfpeerings", peering)
    )
    return {k: v for k, v in (found.get("status") or {}).items() if isinstance(v, dict)}


def drop_peers(custom: client.CustomObjectsApi, peering: str, priorities: set[int]) -> None:
    """Remove the entries of (killed) operators with these priorities, as a clean exit does."""
    stale = [k for k, v in peers(custom, peering).items() if v.get("priority") in priorities]
    if stale:
        custom.patch_cluster_custom_object(
            "kopf.dev", "v1", "clusterkopfpeerings", peering, {"status": dict.fromkeys(stale)}
        )


def handled_annotations(body: dict[str, Any]) -> dict[str, str]:
    """The annotations kopf, configured as the operator configures it, leaves on ``body``
    once it has handled it: its last-handled record of the object's essence."""
    settings = kopf.OperatorSettings()
    # kopf's decorator retypes the startup handler as ActivityFn (every kwarg required);
    # it is the plain function, which takes the rest as **_.
    configure(settings=settings)  # type: ignore[call-arg]
    storage = settings.persistence.diffbase_storage
    seen = kopf.Body(cast(kopf.RawBody, body))  # an object as the API server returned it
    patch = kopf.Patch()
    storage.store(body=seen, patch=patch, essence=storage.build(body=seen))
    return dict(patch["metadata"]["annotations"])


def start_operator(
    plane: ControlPlane, install: OperatorInstall, *, checkpoints: Path, priority: int, name: str
) -> Process:
    token_file = plane.directory / "restart-operator.token"
    token_file.write_text(install.token, encoding="utf-8")
    token_file.chmod(0o600)
    liveness = f"http://127.0.0.1:{free_port()}/healthz"
    argv = [
        str(Path(sys.executable).with_name("diagnosis-operator")),
        *operator_argv(find(install.objects, "Deployment")),
        f"--liveness={liveness}",
        f"--server={plane.server}",
        f"--token-file={token_file}",
        f"--certificate-authority={plane.ca_file}",
        f"--priority={priority}",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIAG_", "KUBECONFIG"))}
    env.update(
        {
            "DIAG_SOURCE_RETRIES": "0",
            "DIAG_OPERATOR_NAMESPACE": install.namespace,
            "DIAG_TEST_CHECKPOINT_DIR": str(checkpoints),
        }
    )
    process = start_process(name, argv, directory=plane.directory, env=env)

    def alive() -> bool:
        if process.popen.poll() is not None:
            raise AssertionError(f"operator exited:\n{tail(process.log)}")
        try:
            with urllib.request.urlopen(liveness, timeout=3) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    wait_for("the operator's liveness endpoint", alive, timeout=90)
    return process


def get_diagnosis(custom: client.CustomObjectsApi, namespace: str, name: str) -> dict[str, Any]:
    return as_json(
        custom.get_namespaced_custom_object(API_GROUP, API_VERSION, namespace, "diagnoses", name)
    )


def remediation_of(diagnosis: dict[str, Any]) -> dict[str, Any]:
    [item] = (diagnosis.get("status") or {}).get("remediations") or [{}]
    return dict(item)


@pytest.fixture
def seeded(
    control_plane: ControlPlane,
    operator_install: OperatorInstall,
    kube_admin: client.ApiClient,
) -> Iterator[dict[str, Any]]:
    core = client.CoreV1Api(kube_admin)
    ensure_node(core)
    reset_ledger(core, operator_install.namespace)
    namespace = new_namespace(core, "restart")
    onboard(kube_admin, operator_install, namespace)
    web_workload(core, client.AppsV1Api(kube_admin), namespace)
    custom = client.CustomObjectsApi(kube_admin)
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
    diagnosis: dict[str, Any] = {
        "apiVersion": f"{API_GROUP}/{API_VERSION}",
        "kind": "Diagnosis",
        "metadata": {"name": "checkout-5xx"},
        "spec": {
            "symptom": {"component": "web"},
            "window": {"lookback": "15m"},
            "policyRef": {"name": "shop"},
            "mode": "remediate",
        },
    }
    # The object as the apiserver stores it (schema defaults applied) gives kopf's record.
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
    uid = created["metadata"]["uid"]
    key = action_key(
        diagnosis_uid=uid,
        action=DrainPod(component="web", namespace=namespace, pod="web-1", reason=""),
    )
    spec = DiagnosisPolicySpec.model_validate(POLICY).to_wire()
    custom.patch_namespaced_custom_object_status(
        API_GROUP,
        API_VERSION,
        namespace,
        "diagnoses",
        "checkout-5xx",
        {
            "status": {
                "phase": "Completed",
                "observedGeneration": created["metadata"]["generation"],
                "policySnapshot": {
                    "name": "shop",
                    "uid": policy["metadata"]["uid"],
                    "resourceVersion": policy["metadata"]["resourceVersion"],
                    "generation": policy["metadata"]["generation"],
                    "spec": spec,
                },
                "remediations": [
                    {
                        "action": "drain-pod",
                        "target": "web-1",
                        "state": "proposed",
                        "reason": f"waits for approval: kubectl diagnose approve {key}",
                        "idempotencyKey": key,
                        "params": {"component": "web", "namespace": namespace, "pod": "web-1"},
                    }
                ],
            }
        },
    )
    started: set[int] = set()
    yield {
        "namespace": namespace,
        "name": "checkout-5xx",
        "key": key,
        "custom": custom,
        "core": core,
        "priorities": started,
    }
    drop_peers(custom, peering_name(operator_install), started)


@pytest.mark.parametrize("step", ["after-apply", "before-apply"])
def test_sigkill_mid_action_neither_loses_nor_repeats_it(
    control_plane: ControlPlane,
    operator_install: OperatorInstall,
    seeded: dict[str, Any],
    tmp_path: Path,
    step: str,
) -> None:
    namespace, name, key = seeded["namespace"], seeded["name"], seeded["key"]
    custom: client.CustomObjectsApi = seeded["custom"]
    core: client.CoreV1Api = seeded["core"]
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    (checkpoints / f"hold-{step}").write_text("", encoding="utf-8")
    applied = checkpoints / "applied"
    peering = peering_name(operator_install)
    priorities: set[int] = seeded["priorities"]

    def leading(priority: int) -> Any:
        # Every operator of the session watches the peering: the others stand by now.
        return lambda: any(p.get("priority") == priority for p in peers(custom, peering).values())

    priorities.add(priority := next(PRIORITIES))
    first = start_operator(
        control_plane,
        operator_install,
        checkpoints=checkpoints,
        priority=priority,
        name=f"operator-restart-1-{uuid.uuid4().hex[:4]}",
    )
    try:
        wait_for("the restarted operator in the peering", leading(priority))
        custom.patch_namespaced_custom_object(
            API_GROUP,
            API_VERSION,
            namespace,
            "diagnoses",
            name,
            {
                "metadata": {
                    "annotations": {
                        approval_annotation(key): approval_value(
                            user="alice@example.org", at=time.time()
                        )
                    }
                }
            },
        )
        wait_for(
            f"the operator to reach {step}",
            lambda: (checkpoints / f"reached-{step}-{key}").exists(),
            timeout=90,
        )
        # The key was recorded as started in status before the side effect.
        before = remediation_of(get_diagnosis(custom, namespace, name))
        assert before["state"] == "running" and before["idempotencyKey"] == key, before
        assert before["approvedBy"] == "alice@example.org"
        first.popen.send_signal(signal.SIGKILL)
        first.popen.wait(timeout=30)
    finally:
        first.stop()

    pod = core.read_namespaced_pod("web-1", namespace)
    annotation = (metadata_of(pod).annotations or {}).get(QUARANTINE_ANNOTATION)
    if step == "after-apply":
        assert annotation is not None and json.loads(annotation)["key"] == key
        assert applied.read_text(encoding="utf-8").split() == [key]
    else:
        assert annotation is None and not applied.exists()

    (checkpoints / f"hold-{step}").unlink()
    priorities.add(priority := next(PRIORITIES))
    second = start_operator(
        control_plane,
        operator_install,
        checkpoints=checkpoints,
        priority=priority,
        name=f"operator-restart-2-{uuid.uuid4().hex[:4]}",
    )
    try:
        done = as_json(
            wait_for(
                "the remediation to finish after the restart",
                lambda: (
                    (r := remediation_of(get_diagnosis(custom, namespace, name))).get("state")
                    in ("succeeded", "failed", "denied", "skipped")
                    and r
                ),
                timeout=90,
            )
        )
    finally:
        second.stop()

    assert done["state"] == "succeeded", done
    assert done["idempotencyKey"] == key
    # Exactly one side effect in total, whichever process performed it.
    assert applied.read_text(encoding="utf-8").split() == [key]
    pod = core.read_namespaced_pod("web-1", namespace)
    record = json.loads(annotations_of(pod)[QUARANTINE_ANNOTATION])
    assert record["key"] == key
    assert "app" not in labels_of(pod)
    if step == "after-apply":
        assert annotations_of(pod)[QUARANTINE_ANNOTATION] == annotation, "re-patched"
        assert "not repeated" in done["reason"]
    history = [h["state"] for h in done["params"]["executor"]["history"]]
    assert history[-1] == "succeeded" and "running" in history
    _, ledger = operator_ports(control_plane, operator_install)
    entry = decode(ledger.read().text).find(key)
    assert entry is not None and entry.outcome is LedgerOutcome.EXECUTED
    assert entry.detail.startswith("applied: ")
