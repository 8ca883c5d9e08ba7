"""kill-mysql-queries and rate-limit-client in the executor, against fakes."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from diagnosis_operator.adapters.traffic.envoy_gateway import EnvoyGatewayBackend, PolicyTarget
from diagnosis_operator.api import (
    DiagnosisPolicySpec,
    Mode,
    RemediationAction,
    RemediationState,
    RemediationStatus,
)
from diagnosis_operator.core.remediation.ledger import decode
from diagnosis_operator.core.remediation.verify import Better, SignalCheck
from diagnosis_operator.models.actions import LedgerOutcome, ProcessRow
from diagnosis_operator.service.remediate import (
    ActionPorts,
    DiagnosisRef,
    ExecutorSettings,
    PortUnavailable,
    awaits_verification,
    expire_rules,
    follow_up,
    needs_attention,
    remediate,
)
from tests.fakes.cluster import FakeCluster, FakeDocumentStore
from tests.fakes.mysql import FakeMySQLAdmin
from tests.fakes.traffic import FakeObjectStore

NOW = 1_900_000_000.0
DIAGNOSIS = DiagnosisRef(namespace="shop", name="db-slow", uid="uid-77")
COMPONENTS = [
    {"name": "edge", "kind": "proxy", "selector": {"job": "edge"}, "dependsOn": ["db"]},
    {"name": "db", "kind": "mysql", "selector": {"job": "db"}},
]


def _spec(**remediation: Any) -> DiagnosisPolicySpec:
    return DiagnosisPolicySpec.model_validate(
        {"components": COMPONENTS, "remediation": remediation}
    )


def _enabled(**more: Any) -> dict[str, Any]:
    return {
        "enabled": True,
        "requireApproval": False,
        "cooldown": "1m",
        "budget": {"maxActions": 5, "window": "1h"},
        **more,
    }


def _kill_item(**params: Any) -> RemediationStatus:
    return RemediationStatus(
        action=RemediationAction.KILL_MYSQL_QUERIES,
        target="db",
        state=RemediationState.PROPOSED,
        reason="db: slow queries ran 40-60 s",
        params={"busyTime": 5, **params},
    )


def _limit_item(ip: str = "203.0.113.9") -> RemediationStatus:
    return RemediationStatus(
        action=RemediationAction.RATE_LIMIT_CLIENT,
        target=ip,
        state=RemediationState.PROPOSED,
        reason=f"abusive traffic from {ip}",
        params={"component": "edge"},
    )


def _mysql() -> FakeMySQLAdmin:
    admin = FakeMySQLAdmin()
    admin.add(
        ProcessRow(
            11, "shop", "10.9.0.4:41", "app", "Query", 50.0, "User sleep", "SELECT SLEEP(600)"
        )
    )
    admin.add(
        ProcessRow(12, "shop", "10.9.0.4:42", "app", "Query", 1.0, "Sending data", "SELECT 1")
    )
    admin.add(ProcessRow(13, "root", "localhost", None, "Query", 90.0, None, "SELECT SLEEP(900)"))
    return admin


class Status:
    """The status as the handler would persist it, one snapshot per record call."""

    def __init__(self) -> None:
        self.snapshots: list[list[RemediationStatus]] = []

    def __call__(self, items: list[RemediationStatus]) -> None:
        self.snapshots.append(list(items))


def _run(
    items: list[RemediationStatus],
    *,
    spec: DiagnosisPolicySpec,
    ports: ActionPorts,
    store: FakeDocumentStore,
    cluster: FakeCluster | None = None,
    mode: Mode = Mode.REMEDIATE,
    now: float = NOW,
    status: Status | None = None,
    settings: ExecutorSettings | None = None,
) -> list[RemediationStatus]:
    return remediate(
        diagnosis=DIAGNOSIS,
        policy=spec,
        remediations=items,
        cluster=cluster or FakeCluster(),
        ledger=store,
        now=now,
        mode=mode,
        record=status or Status(),
        settings=settings,
        ports=ports,
    )


# --------------------------------------------------------------------- kill-mysql-queries


def test_kill_records_the_key_and_audits_each_victim_before_finishing() -> None:
    admin, store, status = _mysql(), FakeDocumentStore(), Status()
    [item] = _run(
        [_kill_item()],
        spec=_spec(killMysqlQueries=_enabled(params={"minQuerySeconds": 2})),
        ports=ActionPorts(mysql=lambda _c: admin),
        store=store,
        status=status,
    )
    assert item.state is RemediationState.SUCCEEDED, item.reason
    assert [c.thread_id for c in admin.kills] == [11]  # root is protected, 12 is not busy
    audit = item.params["executor"]["audit"]
    assert [(a["threadId"], a["outcome"], a["executed"]) for a in audit] == [(11, "killed", True)]
    # running (with the key) was recorded before the kill, and the audit before the end
    states = [snap[0].state for snap in status.snapshots]
    assert RemediationState.RUNNING in states
    running = next(s[0] for s in status.snapshots if s[0].state is RemediationState.RUNNING)
    assert running.idempotency_key == item.idempotency_key and "audit" not in running.params.get(
        "executor", {}
    )
    entry = decode(store.read().text).find(item.idempotency_key or "")
    assert entry is not None and entry.outcome is LedgerOutcome.EXECUTED
    assert awaits_verification(item)


@pytest.mark.parametrize(
    ("remediation", "mode", "why"),
    [
        ({"killMysqlQueries": {"params": {"minQuerySeconds": 2}}}, Mode.REMEDIATE, "not enabled"),
        (
            {"killMysqlQueries": _enabled(params={"minQuerySeconds": 2})},
            Mode.DRY_RUN,
            "dry-run mode",
        ),
        (
            {"killMysqlQueries": _enabled(match={"busyTime": 2, "printOnly": True})},
            Mode.REMEDIATE,
            "printOnly",
        ),
    ],
)
def test_a_kill_not_enabled_only_prints_what_it_would_kill(
    remediation: dict[str, Any], mode: Mode, why: str
) -> None:
    admin, store = _mysql(), FakeDocumentStore()
    [item] = _run(
        [_kill_item()],
        spec=_spec(**remediation),
        ports=ActionPorts(mysql=lambda _c: admin),
        store=store,
        mode=mode,
    )
    assert admin.kills == []
    assert item.state is RemediationState.SKIPPED and why in item.reason
    [record] = item.params["executor"]["audit"]
    assert record["outcome"] == "print-only" and record["threadId"] == 11
    assert decode(store.read().text).entries == ()


def test_a_missing_connection_or_nothing_matching_is_a_skip_with_a_reason() -> None:
    def refuse(component: str) -> FakeMySQLAdmin:
        raise PortUnavailable(f"no MySQL connection for {component}")

    [item] = _run(
        [_kill_item()],
        spec=_spec(killMysqlQueries=_enabled()),
        ports=ActionPorts(mysql=refuse),
        store=FakeDocumentStore(),
    )
    assert item.state is RemediationState.SKIPPED and "no MySQL connection for db" in item.reason
    [idle] = _run(
        [_kill_item(busyTime=500)],
        spec=_spec(killMysqlQueries=_enabled()),
        ports=ActionPorts(mysql=lambda _c: _mysql()),
        store=FakeDocumentStore(),
    )
    assert idle.state is RemediationState.SKIPPED and "nothing to kill" in idle.reason


def test_a_kill_interrupted_after_its_first_victim_does_not_kill_it_again() -> None:
    admin, store, status = _mysql(), FakeDocumentStore(), Status()
    admin.add(
        ProcessRow(14, "shop", "10.9.0.4:44", "app", "Query", 40.0, None, "SELECT SLEEP(700)")
    )
    spec = _spec(killMysqlQueries=_enabled(params={"minQuerySeconds": 2}))

    class Crash(BaseException):  # the process dies: nothing catches it
        pass

    kills_before = len(admin.kills)
    original = admin.kill

    def kill_once_then_crash(**kwargs: Any) -> str:
        if len(admin.kills) > kills_before:
            raise Crash
        return original(**kwargs)

    admin.kill = kill_once_then_crash  # type: ignore[method-assign]
    with pytest.raises(Crash):
        _run(
            [_kill_item()],
            spec=spec,
            ports=ActionPorts(mysql=lambda _c: admin),
            store=store,
            status=status,
        )
    # execute_kill turns a failed kill into an audit record; a crash of the process
    # is what the Crash models: only what reached status survives.
    survived = status.snapshots[-1]
    assert survived[0].state is RemediationState.RUNNING
    admin.kill = original  # type: ignore[method-assign]
    [done] = _run(
        survived, spec=spec, ports=ActionPorts(mysql=lambda _c: admin), store=store, now=NOW + 5
    )
    assert done.state is RemediationState.SUCCEEDED, done.reason
    assert sorted(c.thread_id for c in admin.kills) == [11, 14]  # each once


# --------------------------------------------------------------------- rate-limit-client


def _limits(**more: Any) -> dict[str, Any]:
    return _enabled(
        ttl="10m",
        params={
            "provider": "envoy-gateway",
            "targetRef": {"kind": "Gateway", "name": "public"},
            "requestsPerSecond": 2,
        },
        **more,
    )


def _backend(store: FakeObjectStore) -> EnvoyGatewayBackend:
    return EnvoyGatewayBackend(store=store, namespace="shop", targets=[PolicyTarget(name="public")])


def test_rate_limit_applies_one_rule_with_its_ttl_and_removes_it_when_it_expires() -> None:
    objects, ledger, cluster = FakeObjectStore(), FakeDocumentStore(), FakeCluster()
    backend = _backend(objects)
    ports = ActionPorts(traffic=lambda: backend)
    [item] = _run([_limit_item()], spec=_spec(rateLimitClient=_limits()), ports=ports, store=ledger)
    assert item.state is RemediationState.SUCCEEDED, item.reason
    [rule] = backend.active()
    assert rule.network == ipaddress.ip_network("203.0.113.9/32")
    assert rule.expires_at == NOW + 600 and rule.rule_id == (item.idempotency_key or "")[:12]
    assert objects.kinds() == ["BackendTrafficPolicy"]
    assert needs_attention(remediations=[item], annotations={})

    # Reconciling again (e.g. after a restart) neither stacks nor repeats it.
    [again] = _run([item], spec=_spec(rateLimitClient=_limits()), ports=ports, store=ledger)
    assert again == item and objects.puts == 1

    kept = expire_rules(
        diagnosis=DIAGNOSIS,
        remediations=[item],
        traffic=lambda: backend,
        cluster=cluster,
        now=NOW + 599,
        record=Status(),
    )
    assert backend.active() == (rule,) and kept == [item]
    [lifted] = expire_rules(
        diagnosis=DIAGNOSIS,
        remediations=[item],
        traffic=lambda: backend,
        cluster=cluster,
        now=NOW + 600,
        record=Status(),
    )
    assert backend.active() == () and objects.kinds() == []
    assert lifted.params["executor"]["removed"] == NOW + 600
    assert "RateLimitLifted" in cluster.reasons()


def test_a_running_rule_already_at_the_backend_is_recognised_not_reapplied() -> None:
    objects, ledger, status = FakeObjectStore(), FakeDocumentStore(), Status()
    backend = _backend(objects)
    settings = ExecutorSettings(checkpoint=lambda step, _key: _crash(step, "after-apply"))
    with pytest.raises(RuntimeError, match="after-apply"):
        _run(
            [_limit_item()],
            spec=_spec(rateLimitClient=_limits()),
            ports=ActionPorts(traffic=lambda: backend),
            store=ledger,
            status=status,
            settings=settings,
        )
    survived = status.snapshots[-1]
    assert survived[0].state is RemediationState.RUNNING and len(backend.active()) == 1
    [done] = _run(
        survived,
        spec=_spec(rateLimitClient=_limits()),
        ports=ActionPorts(traffic=lambda: backend),
        store=ledger,
        now=NOW + 3,
    )
    assert done.state is RemediationState.SUCCEEDED and "not repeated" in done.reason
    assert objects.puts == 1


def _crash(step: str, at: str) -> None:
    if step == at:
        raise RuntimeError(at)


def test_allow_listed_clients_get_no_rule_and_shadow_rules_are_only_recorded() -> None:
    objects, ledger = FakeObjectStore(), FakeDocumentStore()
    backend = _backend(objects)
    ports = ActionPorts(traffic=lambda: backend)
    spec = _spec(rateLimitClient=_limits(limits={"allow": ["203.0.113.0/24"]}))
    [allowed] = _run([_limit_item()], spec=spec, ports=ports, store=ledger)
    assert allowed.state is RemediationState.DENIED and "allow-listed" in allowed.reason
    shadow = _spec(rateLimitClient=_limits(limits={"shadow": True}))
    [recorded] = _run([_limit_item("198.51.100.7")], spec=shadow, ports=ports, store=ledger)
    assert recorded.state is RemediationState.SKIPPED and "shadow" in recorded.reason
    assert recorded.params["executor"]["rule"]["shadow"] is True
    assert backend.active() == () and objects.puts == 0
    unconfigured = _spec(rateLimitClient=_enabled())
    [skipped] = _run([_limit_item()], spec=unconfigured, ports=ports, store=ledger)
    assert skipped.state is RemediationState.SKIPPED and "targetRef" in skipped.reason


def test_a_repeat_offender_climbs_the_ladder() -> None:
    objects, ledger = FakeObjectStore(), FakeDocumentStore()
    backend = _backend(objects)
    ports = ActionPorts(traffic=lambda: backend)
    spec = _spec(rateLimitClient=_limits())
    [first] = _run([_limit_item()], spec=spec, ports=ports, store=ledger)
    expire_rules(
        diagnosis=DIAGNOSIS,
        remediations=[first],
        traffic=lambda: backend,
        cluster=FakeCluster(),
        now=NOW + 700,
        record=Status(),
    )
    second = remediate(
        diagnosis=DiagnosisRef(namespace="shop", name="db-slow-2", uid="uid-78"),
        policy=spec,
        remediations=[_limit_item()],
        cluster=FakeCluster(),
        ledger=ledger,
        now=NOW + 800,
        mode=Mode.REMEDIATE,
        record=Status(),
        ports=ports,
    )
    assert second[0].state is RemediationState.SUCCEEDED, second[0].reason
    [rule] = backend.active()
    assert rule.level == 1 and rule.ttl_seconds == 3600


def test_verification_that_finds_a_rule_made_things_worse_removes_it() -> None:
    objects, ledger, cluster = FakeObjectStore(), FakeDocumentStore(), FakeCluster()
    backend = _backend(objects)
    [item] = _run(
        [_limit_item()],
        spec=_spec(rateLimitClient=_limits()),
        ports=ActionPorts(traffic=lambda: backend),
        store=ledger,
    )
    worse = SignalCheck(name="5xx at edge", before=2.0, after=5.0, better=Better.LOWER, healthy=0.0)
    [rolled] = follow_up(
        diagnosis=DIAGNOSIS,
        remediations=[item],
        checks=lambda _i: [worse],
        cluster=cluster,
        now=NOW + 300,
        record=Status(),
        traffic=lambda: backend,
    )
    assert rolled.state is RemediationState.ROLLED_BACK and backend.active() == ()
    assert "RemediationRolledBack" in cluster.reasons()
    assert not awaits_verification(rolled)


def test_a_kill_that_did_not_help_is_escalated_not_rolled_back() -> None:
    admin, cluster = _mysql(), FakeCluster()
    [item] = _run(
        [_kill_item()],
        spec=_spec(killMysqlQueries=_enabled()),
        ports=ActionPorts(mysql=lambda _c: admin),
        store=FakeDocumentStore(),
    )
    worse = SignalCheck(name="slow lines", before=1.0, after=4.0, healthy=0.0)
    not_due = follow_up(
        diagnosis=DIAGNOSIS,
        remediations=[item],
        checks=lambda _i: [worse],
        cluster=cluster,
        now=NOW + 10,
        record=Status(),
        due=lambda _i: False,
    )
    assert not_due == [item]
    [escalated] = follow_up(
        diagnosis=DIAGNOSIS,
        remediations=[item],
        checks=lambda _i: [worse],
        cluster=cluster,
        now=NOW + 300,
        record=Status(),
    )
    assert escalated.state is RemediationState.SUCCEEDED
    assert escalated.params["executor"]["verification"]["followUp"] == "escalate"
    assert "RemediationEscalated" in cluster.reasons()


def test_a_verdict_short_of_resolved_waits_for_settle_a_resolved_one_does_not() -> None:
    admin = _mysql()
    [item] = _run(
        [_kill_item()],
        spec=_spec(killMysqlQueries=_enabled()),
        ports=ActionPorts(mysql=lambda _c: admin),
        store=FakeDocumentStore(),
    )
    still = SignalCheck(name="slow lines", before=4.0, after=3.0, healthy=0.0)
    back = SignalCheck(name="slow lines", before=4.0, after=0.0, healthy=0.0)

    def look(check: SignalCheck, *, final: bool, cluster: FakeCluster) -> RemediationStatus:
        [seen] = follow_up(
            diagnosis=DIAGNOSIS,
            remediations=[item],
            checks=lambda _i: [check],
            cluster=cluster,
            now=NOW + 300,
            record=Status(),
            final=lambda _i: final,
        )
        return seen

    waiting = FakeCluster()
    assert look(still, final=False, cluster=waiting) == item and not waiting.reasons()
    assert awaits_verification(item)
    resolved = look(back, final=False, cluster=FakeCluster())
    assert resolved.params["executor"]["verification"]["outcome"] == "resolved"
    settled = FakeCluster()
    escalated = look(still, final=True, cluster=settled)
    assert escalated.params["executor"]["verification"]["outcome"] == "not-resolved"
    assert "RemediationEscalated" in settled.reasons()
