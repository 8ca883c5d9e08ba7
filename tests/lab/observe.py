"""What the world looks like once the operator has acted (the live loop's evidence).

``observe_applied`` waits until the Diagnosis has concluded (its actions run in the
same pass), then looks at each applied action's effect from outside the
operator, as a person would:

* kill-mysql-queries: the threads its audit says were killed, looked up in
  MariaDB's processlist (still running the same statement, or gone);
* drain-pod: the pod's address in the Service's EndpointSlices, in nginx's
  upstream (``UpstreamSync``), and the requests nginx sent it once it was out
  (its access log's ``upstream_addr``) beside those sent to the others;
* rate-limit-client: what the limited client gets from nginx, and what another
  loopback address gets; with ``ttl_restore``, again once the rule's TTL ran out.

Then it waits for every applied action's verification and keeps its verdict.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from kubernetes import client

from tests.e2e.drain_world import ready_addresses
from tests.lab import traffic
from tests.lab.cluster import SERVICE, UpstreamSync
from tests.lab.config import ACCESS_LOG, root_connection
from tests.lab.explain import verdict_readings
from tests.lab.stack import Lab

if TYPE_CHECKING:
    from tests.lab.live import LiveRun, World

T = TypeVar("T")
ALERTNAMES = "diagnosis.dev/alertnames"
NEIGHBOUR = "127.0.0.9"  # another client address, never limited
SETTLE = 4.0  # seconds of traffic looked at after nginx's upstream changed
WAIT = 240.0  # a deadline for failing, not a measured threshold
DONE = ("succeeded", "failed", "denied", "skipped", "rolled-back")


@dataclass
class Observations:
    killed: list[int] = field(default_factory=list)
    still_running: list[int] = field(default_factory=list)
    slice_after: set[str] = field(default_factory=set)
    upstream_after: set[str] = field(default_factory=set)
    sent_after: Counter[str] = field(default_factory=Counter)  # upstream -> requests
    client: list[int] = field(default_factory=list)
    neighbour: list[int] = field(default_factory=list)
    restored: list[int] = field(default_factory=list)
    verdicts: dict[str, dict[str, Any]] = field(default_factory=dict)  # action -> verification
    readings: dict[str, str] = field(default_factory=dict)  # action -> what it was judged on


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    timeout: float = WAIT,
    explain: Callable[[], str] | None = None,
) -> T:
    """``probe``'s first true value; on the deadline an AssertionError with ``explain()``."""
    deadline = time.monotonic() + timeout
    while not (value := probe()):
        if time.monotonic() > deadline:
            why = f"\n{explain()}" if explain is not None else ""
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}{why}")
        time.sleep(0.5)
    return value


def _executor(item: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = (item.get("params") or {}).get("executor") or {}
    return found


def _statuses(lab: Lab, client_ip: str, count: int = 4) -> list[int]:
    return [
        traffic.request(lab.nginx.url, "/api/items?id=3", client=client_ip, agent="probe/1")
        for _ in range(count)
    ]


def _processlist(lab: Lab, ids: list[int]) -> list[int]:
    """Of ``ids``, the threads still running a statement (Command Query)."""
    if not ids:
        return []
    with root_connection(lab.state) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT ID, INFO FROM information_schema.PROCESSLIST WHERE COMMAND = 'Query'"
        )
        running = {int(row[0]) for row in cursor.fetchall() if row[1]}
    return sorted(running & set(ids))


def _without(addresses: set[str], pod: str) -> set[str] | None:
    return addresses if addresses and pod not in addresses else None


def concluded(
    current: Callable[[], list[dict[str, Any]]], firing: Callable[[], list[str]]
) -> list[dict[str, Any]] | None:
    """Every Diagnosis once each firing lab alert has one and all reached a terminal phase."""
    found = current()
    named = {
        name.strip()
        for d in found
        for name in str(d["metadata"].get("annotations", {}).get(ALERTNAMES, "")).split(",")
    }
    phases = [(d.get("status") or {}).get("phase") for d in found]
    if not found or not set(firing()) <= named:
        return None
    return found if all(p in ("Completed", "Degraded", "Failed") for p in phases) else None


def _items(diagnoses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [i for d in diagnoses for i in (d.get("status") or {}).get("remediations") or []]


def _kill(lab: Lab, item: dict[str, Any], seen: Observations) -> None:
    audit = _executor(item).get("audit") or []
    seen.killed = [int(r["threadId"]) for r in audit if r.get("outcome") == "killed"]
    seen.still_running = _processlist(lab, seen.killed)


def _drain(
    lab: Lab, sync: UpstreamSync, discovery: client.DiscoveryV1Api, namespace: str, pod: str
) -> Observations:
    seen = Observations()
    seen.slice_after = wait_for(
        "the drained pod to leave the EndpointSlice",
        lambda: _without(ready_addresses(discovery, namespace, SERVICE), pod),
    )
    seen.upstream_after = set(
        wait_for("nginx's upstream without it", lambda: _without(set(sync.served()), pod))
    )
    log = lab.nginx.prefix / "logs" / ACCESS_LOG
    offset = log.stat().st_size
    time.sleep(SETTLE)
    with log.open("rb") as handle:
        handle.seek(offset)
        for raw in handle.read().splitlines():
            entry = json.loads(raw)
            if entry.get("upstream_addr"):
                seen.sent_after[str(entry["upstream_addr"]).rsplit(":", 1)[0]] += 1
    return seen


def _limit(lab: Lab, target: str, seen: Observations) -> None:
    ip = target.split("/", 1)[0]
    seen.client = wait_for(
        "nginx to limit or deny the client",
        lambda: s if {403, 429} & set(s := _statuses(lab, ip)) else None,
        timeout=90,
    )
    seen.neighbour = _statuses(lab, NEIGHBOUR)


def _applied(items: list[dict[str, Any]], action: str) -> dict[str, Any] | None:
    return next(
        (i for i in items if i.get("action") == action and i.get("state") == "succeeded"), None
    )


def observe_applied(
    *,
    run_record: LiveRun,
    lab: Lab,
    world: World,
    sync: UpstreamSync,
    current: Callable[[], list[dict[str, Any]]],
    explain: Callable[[], str] | None = None,
) -> None:
    """Fill ``run_record.seen`` and its marks (module docstring); ``explain`` says where an
    alert's way to a Diagnosis stopped, should one never conclude."""

    def firing() -> list[str]:
        alerts = lab.prometheus.api("alerts")["data"]["alerts"]
        return [a["labels"]["alertname"] for a in alerts if a["state"] == "firing"]

    finished = wait_for(
        "a Diagnosis for each firing alert, each concluded with its actions run",
        lambda: concluded(current, firing),
        explain=explain,
    )
    looked: set[str] = set()
    applied = _look(run_record, lab, world, sync, _items(finished), looked)
    _verdicts(run_record, lab, current, applied=bool(applied))
    # An alert group that fired later (the error ratio after the latency) may have acted
    # since: its actions are looked at too (before their TTL, which outlives the verdicts).
    applied = _look(run_record, lab, world, sync, _items(current()), looked)
    if applied:
        run_record.marks["first_action"] = min(applied)
    seen = run_record.seen
    if run_record.scenario.ttl_restore and seen.client:
        limited = run_record.scenario.client or ""
        seen.restored = wait_for(
            "the client served again once the rule's TTL ran out",
            lambda: s if set(s := _statuses(lab, limited)) == {200} else None,
            timeout=WAIT,
        )


def _look(
    run_record: LiveRun,
    lab: Lab,
    world: World,
    sync: UpstreamSync,
    items: list[dict[str, Any]],
    looked: set[str],
) -> list[float]:
    """Look at each applied action not ``looked`` at yet; when every action was applied."""
    seen = run_record.seen
    if (
        "kill-mysql-queries" not in looked
        and (item := _applied(items, "kill-mysql-queries")) is not None
    ):
        looked.add("kill-mysql-queries")
        _kill(lab, item, seen)
    if "drain-pod" not in looked and _applied(items, "drain-pod") is not None:
        looked.add("drain-pod")
        discovery = client.DiscoveryV1Api(world.kube_admin)
        drained = _drain(lab, sync, discovery, run_record.namespace, run_record.degraded)
        seen.slice_after, seen.upstream_after = drained.slice_after, drained.upstream_after
        seen.sent_after = drained.sent_after
    if (
        "rate-limit-client" not in looked
        and (item := _applied(items, "rate-limit-client")) is not None
    ):
        looked.add("rate-limit-client")
        _limit(lab, str(item["target"]), seen)
    return [float(_executor(i)["appliedAt"]) for i in items if _executor(i).get("appliedAt")]


def _verdicts(
    run_record: LiveRun, lab: Lab, current: Callable[[], list[dict[str, Any]]], *, applied: bool
) -> None:
    """Each applied action's verdict, and its readings (``explain.verdict_readings``)."""
    if not applied:
        return

    def verified() -> list[tuple[dict[str, Any], dict[str, Any]]] | None:
        done = [(d, i) for d in current() for i in _items([d]) if _executor(i).get("appliedAt")]
        return done if all(_executor(i).get("verification") for _, i in done) else None

    done = wait_for("every applied action's verification", verified)
    run_record.seen.verdicts = {str(i["action"]): _executor(i)["verification"] for _, i in done}
    run_record.seen.readings = {
        str(i["action"]): verdict_readings(lab, diagnosis, i) for diagnosis, i in done
    }
    # the verifier's own clock: when the last verdict was reached
    stamps = [float(v["at"]) for v in run_record.seen.verdicts.values() if "at" in v]
    run_record.marks["verified"] = max(stamps) if stamps else time.time()
