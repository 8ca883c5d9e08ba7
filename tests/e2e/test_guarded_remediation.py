"""kill-mysql-queries and rate-limit-client by the running operator, under its shipped RBAC.

The operator (``operator_process``: ``diagnosis-operator run`` with the chart's
arguments and its ServiceAccount token only) serves every Diagnosis.  Each test
seeds a Diagnosis as the engine leaves it -- Completed, a policy snapshot, the
proposed actions -- and approves the actions with the annotation ``kubectl
diagnose approve`` writes; the operator's timer then guards, records, acts,
expires and verifies.  (The engine path that produces such proposals from
Prometheus and Loki is covered by tests/e2e/test_full_flow.py.)

* kill-mysql-queries against the real MariaDB fixture, with the credentials in a
  real Secret: a running ``SELECT SLEEP(...)`` is killed (its client sees the
  interruption) and the audit record is in status; with the action disabled, the
  same proposal only prints what it would kill and the statement keeps running.
* rate-limit-client through Envoy Gateway: a ``SecurityPolicy`` the vendor CRD
  schema accepts is created, and removed when the rule's TTL runs out; an
  allow-listed client gets no rule.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pymysql
import pytest
from kubernetes import client

from diagnosis_operator import API_GROUP, API_VERSION
from diagnosis_operator.api import DiagnosisPolicySpec
from diagnosis_operator.models.actions import idempotency_key
from diagnosis_operator.models.controls import approval_annotation, approval_value
from diagnosis_operator.models.findings import ActionType
from tests.controlplane.operator import OperatorProcess, onboard
from tests.e2e.drain_world import reset_ledger
from tests.e2e.test_traffic_objects import vendor_crds  # noqa: F401 (fixture)
from tests.k8s_json import as_json
from tests.services.mariadb import MariaDBServer

pytestmark = pytest.mark.e2e

T = TypeVar("T")
WAIT = 120.0  # a deadline for failing, not a measured threshold
SLEEP_SECONDS = 300


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = WAIT) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


@dataclass
class World:
    namespace: str
    custom: client.CustomObjectsApi
    core: client.CoreV1Api

    def diagnosis(self, name: str) -> dict[str, Any]:
        return as_json(
            self.custom.get_namespaced_custom_object(
                API_GROUP, API_VERSION, self.namespace, "diagnoses", name
            )
        )

    def remediations(self, name: str) -> list[dict[str, Any]]:
        return list((self.diagnosis(name).get("status") or {}).get("remediations") or [])

    def seed(
        self,
        *,
        name: str,
        policy: dict[str, Any],
        proposals: Callable[[str], list[dict[str, Any]]],
    ) -> str:
        """A Completed remediate-mode Diagnosis with ``proposals(uid)``; returns its uid."""
        made_policy = self.custom.create_namespaced_custom_object(
            API_GROUP,
            API_VERSION,
            self.namespace,
            "diagnosispolicies",
            {
                "apiVersion": f"{API_GROUP}/{API_VERSION}",
                "kind": "DiagnosisPolicy",
                "metadata": {"name": name},
                "spec": policy,
            },
        )
        made_policy = as_json(made_policy)
        created = self.custom.create_namespaced_custom_object(
            API_GROUP,
            API_VERSION,
            self.namespace,
            "diagnoses",
            {
                "apiVersion": f"{API_GROUP}/{API_VERSION}",
                "kind": "Diagnosis",
                "metadata": {"name": name},
                "spec": {
                    "symptom": {"component": "edge"},
                    "window": {"lookback": "15m"},
                    "policyRef": {"name": name},
                    "mode": "remediate",
                },
            },
        )
        created = as_json(created)
        # Let the operator's create handler see it first (it would find no sources and
        # fail the run); the seeded status below is what the engine would have left.
        wait_for(
            "the operator to pick the Diagnosis up",
            lambda: (
                (self.diagnosis(name).get("status") or {}).get("phase") in ("Failed", "Completed")
            ),
        )
        self.custom.patch_namespaced_custom_object_status(
            API_GROUP,
            API_VERSION,
            self.namespace,
            "diagnoses",
            name,
            {
                "status": {
                    "phase": "Completed",
                    "observedGeneration": created["metadata"]["generation"],
                    "conditions": None,
                    "policySnapshot": {
                        "name": name,
                        "uid": made_policy["metadata"]["uid"],
                        "resourceVersion": made_policy["metadata"]["resourceVersion"],
                        "generation": made_policy["metadata"]["generation"],
                        "spec": DiagnosisPolicySpec.model_validate(policy).to_wire(),
                    },
                    "remediations": proposals(created["metadata"]["uid"]),
                }
            },
        )
        return str(created["metadata"]["uid"])

    def approve(self, name: str, *keys: str) -> None:
        self.custom.patch_namespaced_custom_object(
            API_GROUP,
            API_VERSION,
            self.namespace,
            "diagnoses",
            name,
            {
                "metadata": {
                    "annotations": {
                        approval_annotation(key): approval_value(
                            user="oncall@example.org", at=time.time()
                        )
                        for key in keys
                    }
                }
            },
        )

    def events(self, name: str) -> set[str | None]:
        return {
            event.reason
            for event in self.core.list_namespaced_event(
                self.namespace, field_selector=f"involvedObject.name={name}"
            ).items
        }


@pytest.fixture
def world(operator_process: OperatorProcess, kube_admin: client.ApiClient) -> Iterator[World]:
    core = client.CoreV1Api(kube_admin)
    reset_ledger(core, operator_process.install.namespace)
    namespace = f"guarded-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    onboard(kube_admin, operator_process.install, namespace)  # its Secrets, its report
    yield World(namespace=namespace, custom=client.CustomObjectsApi(kube_admin), core=core)


# --------------------------------------------------------------------- kill-mysql-queries


@dataclass
class SlowClient:
    """One connection running ``SELECT SLEEP(n)`` in a thread; what it got back."""

    params: dict[str, Any]
    result: Any = None
    error: BaseException | None = None
    thread_id: int | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        connection = pymysql.connect(**self.params)
        self.thread_id = connection.thread_id()  # type: ignore[no-untyped-call]  # unannotated in types-PyMySQL

        def run() -> None:
            try:
                with connection.cursor() as cursor:
                    cursor.execute(f"SELECT SLEEP({SLEEP_SECONDS})")
                    self.result = cursor.fetchone()
            except BaseException as error:  # the kill's answer is what the test reads
                self.error = error
            finally:
                connection.close()
                self.done.set()

        threading.Thread(target=run, daemon=True).start()


def _running(server: MariaDBServer, thread_id: int, *, longer_than: float = 0.0) -> bool:
    """Is the SLEEP still running on ``thread_id`` (for more than ``longer_than`` s)?"""
    with server.root() as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT INFO, TIME_MS FROM information_schema.PROCESSLIST WHERE ID = %s",
            (thread_id,),
        )
        row = cursor.fetchone()
    return bool(row and row[0] and "SLEEP" in row[0] and float(row[1]) > longer_than * 1000)


def _mysql_secret(world: World, server: MariaDBServer) -> str:
    password = secrets.token_hex(10)
    user = f"killer{uuid.uuid4().hex[:4]}"
    server.create_user(
        name=user, password=password, grants=["PROCESS ON *.*", "CONNECTION ADMIN ON *.*"]
    )

    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    world.core.create_namespaced_secret(
        world.namespace,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name="mysql-killer"),
            data={
                "host": b64(server.host),
                "port": b64(str(server.port)),
                "user": b64(user),
                "password": b64(password),
            },
        ),
    )
    return "mysql-killer"


def _kill_policy(secret: str, *, enabled: bool) -> dict[str, Any]:
    return {
        "components": [
            {"name": "edge", "kind": "proxy", "selector": {"job": "edge"}, "dependsOn": ["db"]},
            {"name": "db", "kind": "mysql", "selector": {"job": "db"}},
        ],
        "remediation": {
            "verification": {"after": "5s"},
            "killMysqlQueries": {
                "enabled": enabled,
                "requireApproval": True,
                "budget": {"maxActions": 5, "window": "1h"},
                "cooldown": "1s",
                "connection": {"secretRef": {"name": secret}},
                "params": {"minQuerySeconds": 1},
            },
        },
    }


def _kill_key(uid: str) -> str:
    return idempotency_key(diagnosis_uid=uid, action=ActionType.KILL_MYSQL_QUERIES, target="db")


def _kill_proposals(uid: str) -> list[dict[str, Any]]:
    return [_kill_proposal(uid)]


def _kill_proposal(uid: str) -> dict[str, Any]:
    return {
        "action": "kill-mysql-queries",
        "target": "db",
        "state": "proposed",
        "idempotencyKey": _kill_key(uid),
        "reason": "db: slow queries ran 4.2-4.5 s",
        "params": {"busyTime": 1, "matchInfo": f"SELECT SLEEP({SLEEP_SECONDS})"},
    }


def test_kill_mysql_queries_kills_the_running_statement_and_audits_it(
    world: World, mariadb_server: MariaDBServer
) -> None:
    secret = _mysql_secret(world, mariadb_server)
    victim = SlowClient(mariadb_server.connect_params())
    victim.start()
    assert victim.thread_id is not None
    # Busy for longer than the proposal's busyTime (1 s), so that it is a candidate.
    wait_for(
        "the SLEEP to run for 2 s",
        lambda: _running(mariadb_server, victim.thread_id or 0, longer_than=2),
    )

    uid = world.seed(
        name="db-kill", policy=_kill_policy(secret, enabled=True), proposals=_kill_proposals
    )
    key = _kill_key(uid)
    world.approve("db-kill", key)

    done = wait_for(
        "the kill to finish",
        lambda: next(
            (
                r
                for r in world.remediations("db-kill")
                if r.get("state") not in ("proposed",) and r.get("state") != "running"
            ),
            None,
        ),
    )
    assert done["state"] == "succeeded", done
    assert done["idempotencyKey"] == key and done["approvedBy"] == "oncall@example.org"
    assert victim.done.wait(timeout=WAIT)
    # The statement was interrupted: an error, or SLEEP's "interrupted" answer (1), never 0.
    if victim.error is not None:
        assert isinstance(victim.error, pymysql.err.OperationalError), victim.error
        assert victim.error.args[0] in (1317, 2013), victim.error
    else:
        assert victim.result == (1,), victim.result
    [record] = done["params"]["executor"]["audit"]
    assert record["threadId"] == victim.thread_id and record["outcome"] == "killed"
    assert record["executed"] is True and record["command"].startswith("KILL QUERY")
    history = [h["state"] for h in done["params"]["executor"]["history"]]
    assert "running" in history and history[-1] == "succeeded"
    assert {"RemediationStarted", "RemediationApplied"} <= world.events("db-kill")

    # Verification: the server has no matching thread any more, so the kill is kept.
    verified = wait_for(
        "the kill to be verified",
        lambda: (
            (r := world.remediations("db-kill")[0])["params"]["executor"].get("verification") and r
        ),
    )
    assert verified["params"]["executor"]["verification"]["outcome"] == "resolved", verified
    assert "RemediationVerified" in world.events("db-kill")


def test_a_disabled_kill_only_prints_what_it_would_kill(
    world: World, mariadb_server: MariaDBServer
) -> None:
    secret = _mysql_secret(world, mariadb_server)
    victim = SlowClient(mariadb_server.connect_params())
    victim.start()
    assert victim.thread_id is not None
    # Busy for longer than the proposal's busyTime (1 s), so that it is a candidate.
    wait_for(
        "the SLEEP to run for 2 s",
        lambda: _running(mariadb_server, victim.thread_id or 0, longer_than=2),
    )
    try:
        uid = world.seed(
            name="db-dry",
            policy=_kill_policy(secret, enabled=False),
            proposals=_kill_proposals,
        )
        key = idempotency_key(diagnosis_uid=uid, action=ActionType.KILL_MYSQL_QUERIES, target="db")
        world.approve("db-dry", key)
        done = wait_for(
            "the dry run to be recorded",
            lambda: next(
                (r for r in world.remediations("db-dry") if r.get("state") == "skipped"), None
            ),
        )
        assert "dry run" in done["reason"] and "not enabled" in done["reason"], done
        [record] = done["params"]["executor"]["audit"]
        assert record["threadId"] == victim.thread_id and record["outcome"] == "print-only"
        assert record["executed"] is False
        assert "RemediationDryRun" in world.events("db-dry")
        assert _running(mariadb_server, victim.thread_id)
        assert not victim.done.is_set()
    finally:
        with mariadb_server.root() as connection, connection.cursor() as cursor:
            cursor.execute("KILL QUERY %s", (int(victim.thread_id),))
        victim.done.wait(timeout=WAIT)


# --------------------------------------------------------------------- rate-limit-client


def _limit_key(uid: str, ip: str) -> str:
    return idempotency_key(
        diagnosis_uid=uid, action=ActionType.RATE_LIMIT_CLIENT, target=f"{ip}/32"
    )


def _limit_proposal(uid: str, ip: str) -> dict[str, Any]:
    return {
        "action": "rate-limit-client",
        "target": ip,
        "state": "proposed",
        "idempotencyKey": _limit_key(uid, ip),
        "reason": f"abusive traffic from {ip}: 7 identical requests in 1 s",
        "params": {"component": "edge", "pattern": "burst", "requests": 7},
    }


def test_rate_limit_client_creates_a_security_policy_and_removes_it_after_its_ttl(
    world: World,
    vendor_crds: client.ApiClient,  # noqa: F811
) -> None:
    policy = {
        "components": [{"name": "edge", "kind": "proxy", "selector": {"job": "edge"}}],
        "remediation": {
            "verification": {"after": "1s"},
            "rateLimitClient": {
                "enabled": True,
                "requireApproval": True,
                "budget": {"maxActions": 5, "window": "1h"},
                "cooldown": "1s",
                "params": {
                    "provider": "envoy-gateway",
                    "targetRef": {"kind": "Gateway", "name": "public"},
                },
                "limits": {
                    "ladder": [{"mode": "deny", "ttlSeconds": 20}],
                    "allow": ["10.0.0.0/8"],
                },
            },
        },
    }
    abusive, internal = "203.0.113.9", "10.1.2.3"
    uid = world.seed(
        name="edge-abuse",
        policy=policy,
        proposals=lambda uid: [_limit_proposal(uid, abusive), _limit_proposal(uid, internal)],
    )
    keys = [_limit_key(uid, ip) for ip in (abusive, internal)]
    world.approve("edge-abuse", *keys)

    def security_policy() -> dict[str, Any] | None:
        try:
            found = as_json(
                world.custom.get_namespaced_custom_object(
                    "gateway.envoyproxy.io",
                    "v1alpha1",
                    world.namespace,
                    "securitypolicies",
                    "diagnosis-operator-deny",
                )
            )
        except client.ApiException as error:
            if error.status == 404:
                return None
            raise
        return found

    created = wait_for("the SecurityPolicy", security_policy)
    rules = created["spec"]["authorization"]["rules"]
    assert [rule["principal"]["clientCIDRs"] for rule in rules] == [[f"{abusive}/32"]]
    assert created["spec"]["targetRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "public"}
    ]

    def decided() -> list[dict[str, Any]] | None:
        found = world.remediations("edge-abuse")
        if found and all(r.get("state") in ("succeeded", "denied") for r in found):
            return found
        return None

    items = wait_for("both proposals decided", decided)
    by_target = {item["target"]: item for item in items}
    assert by_target[abusive]["state"] == "succeeded", by_target[abusive]
    assert by_target[internal]["state"] == "denied"
    assert "allow-listed" in by_target[internal]["reason"]

    wait_for("the rule's TTL to remove the SecurityPolicy", lambda: security_policy() is None)
    lifted = wait_for(
        "the removal in status",
        lambda: next(
            (
                r
                for r in world.remediations("edge-abuse")
                if r["target"] == abusive and r["params"]["executor"].get("removed")
            ),
            None,
        ),
    )
    assert "TTL ran out" in lifted["reason"]
    assert "RateLimitLifted" in world.events("edge-abuse")
    # No signal source is configured: verification cannot judge, so it escalates.
    escalated = wait_for(
        "the Escalated condition",
        lambda: next(
            (
                c
                for c in (world.diagnosis("edge-abuse").get("status") or {}).get("conditions") or []
                if c["type"] == "Escalated"
            ),
            None,
        ),
    )
    assert escalated["status"] == "True" and escalated["reason"] == "VerificationEscalated"
