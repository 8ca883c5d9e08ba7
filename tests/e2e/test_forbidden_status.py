"""An operator without ``patch`` on ``diagnoses/status`` stops, says so, and does not retry.

The chart's ClusterRole is copied without ``diagnoses/status``, bound to a
ServiceAccount of its own, and an operator process runs with that account's
token (leading the kopf peering, so the session's operator stands by).  A
Diagnosis is created: the operator's first status write gets HTTP 403.  On main
the handler retried forever; now it ends for good:

* a Warning Event ``StatusForbidden`` naming the missing permission;
* kopf ends the handling cycle (a permanent failure: its last-handled record is
  written and no retry is scheduled), read from the object, not timed;
* one error line in the operator's log, not a loop of them.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from diagnosis_operator import API_GROUP, API_VERSION
from tests.controlplane.cluster import ControlPlane
from tests.controlplane.operator import OperatorInstall, find
from tests.e2e.drain_world import new_namespace, wait_for
from tests.e2e.test_restart import PRIORITIES, drop_peers, peering_name, start_operator
from tests.k8s_json import as_json, minted_token, request_body

pytestmark = pytest.mark.e2e
ACCOUNT = "diag-no-status"
# The operator's kopf persistence prefix (entrypoints/kopf/lifecycle.py).
LAST_HANDLED = "diagnosis.dev/last-handled-configuration"


def _without_diagnosis_status(role: dict[str, Any]) -> dict[str, Any]:
    narrowed = copy.deepcopy(role)
    narrowed["metadata"] = {"name": ACCOUNT}
    for rule in narrowed["rules"]:
        rule["resources"] = [r for r in rule.get("resources", []) if r != "diagnoses/status"]
    narrowed["rules"] = [rule for rule in narrowed["rules"] if rule["resources"]]
    return narrowed


@pytest.fixture
def narrowed_install(
    operator_install: OperatorInstall, kube_admin: client.ApiClient
) -> Iterator[OperatorInstall]:
    core, rbac = client.CoreV1Api(kube_admin), client.RbacAuthorizationV1Api(kube_admin)
    namespace = operator_install.namespace
    # The operator's own ClusterRole: the one its ClusterRoleBinding names.
    bound = find(operator_install.objects, "ClusterRoleBinding")["roleRef"]["name"]
    [own] = [
        o
        for o in operator_install.objects
        if o["kind"] == "ClusterRole" and o["metadata"]["name"] == bound
    ]
    role = _without_diagnosis_status(own)
    rbac.create_cluster_role(request_body(role))
    core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=ACCOUNT))
    )
    rbac.create_cluster_role_binding(
        request_body(
            {
                "metadata": {"name": ACCOUNT},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": ACCOUNT,
                },
                "subjects": [{"kind": "ServiceAccount", "name": ACCOUNT, "namespace": namespace}],
            }
        )
    )
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600)
    )
    token = minted_token(core.create_namespaced_service_account_token(ACCOUNT, namespace, request))
    try:
        yield OperatorInstall(
            objects=operator_install.objects,
            namespace=namespace,
            service_account=ACCOUNT,
            token=token,
            cluster_role=role,
        )
    finally:
        rbac.delete_cluster_role_binding(ACCOUNT)
        rbac.delete_cluster_role(ACCOUNT)
        core.delete_namespaced_service_account(ACCOUNT, namespace)


def test_a_forbidden_status_write_stops_the_handler_with_a_clear_event(
    control_plane: ControlPlane,
    operator_install: OperatorInstall,
    narrowed_install: OperatorInstall,
    kube_admin: client.ApiClient,
    tmp_path: Path,
) -> None:
    custom, core = client.CustomObjectsApi(kube_admin), client.CoreV1Api(kube_admin)
    namespace = new_namespace(core, prefix="nostatus")
    priority = next(PRIORITIES)
    process = start_operator(
        control_plane,
        narrowed_install,
        checkpoints=tmp_path,
        priority=priority,
        name=f"operator-no-status-{uuid.uuid4().hex[:4]}",
    )
    try:
        wait_for(
            "the narrowed operator to lead the peering",
            lambda: any(
                isinstance(v, dict) and v.get("priority") == priority
                for v in (
                    as_json(
                        custom.get_cluster_custom_object(
                            "kopf.dev", "v1", "clusterkopfpeerings", peering_name(operator_install)
                        )
                    ).get("status")
                    or {}
                ).values()
            ),
        )
        custom.create_namespaced_custom_object(
            API_GROUP,
            API_VERSION,
            namespace,
            "diagnoses",
            {
                "apiVersion": f"{API_GROUP}/{API_VERSION}",
                "kind": "Diagnosis",
                "metadata": {"name": "mute"},
                "spec": {
                    "symptom": {"component": "web"},
                    "window": {"lookback": "30m"},
                    "policyRef": {"name": "none"},
                },
            },
        )

        def forbidden_events() -> list[Any]:
            events = core.list_namespaced_event(
                namespace, field_selector="involvedObject.name=mute"
            ).items
            return [e for e in events if e.reason == "StatusForbidden"]

        [event] = wait_for("the StatusForbidden Event", forbidden_events, timeout=90)
        assert event.type == "Warning"
        assert "diagnoses/status" in event.message and "403" in event.message

        def handled() -> dict[str, str] | None:
            found = as_json(
                custom.get_namespaced_custom_object(
                    API_GROUP, API_VERSION, namespace, "diagnoses", "mute"
                )
            )
            annotations: dict[str, str] = found["metadata"].get("annotations") or {}
            return annotations if LAST_HANDLED in annotations else None

        # kopf records the change as handled (a permanent failure ends the cycle):
        # nothing is scheduled to retry it.
        annotations = wait_for("kopf's record that the change was handled", handled, timeout=60)
        assert not [k for k in annotations if "reconcile_diagnosis" in k], annotations
        log = process.log.read_text(encoding="utf-8")
        assert log.count("status_write: cannot write the status of") == 1, log[-4000:]
        assert "failed permanently" in log, log[-4000:]
        assert "status" not in as_json(
            custom.get_namespaced_custom_object(
                API_GROUP, API_VERSION, namespace, "diagnoses", "mute"
            )
        )
    finally:
        process.stop()
        drop_peers(custom, peering_name(operator_install), {priority})
