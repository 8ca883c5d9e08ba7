"""Every panel of the shipped Grafana dashboard has data after real work of the operator.

The session's operator (``operator_process``: the chart's arguments, its ServiceAccount)
serves ``/metrics``.  One test makes it do each kind of work a panel shows:

* a live diagnosis whose Prometheus answers and whose Loki fails (signal queries and
  query errors, a finished diagnosis with its duration);
* a diagnosis that fails (its policy names no signal sources);
* a kill of a real MariaDB statement, approved and applied (an applied action);
* a kill the guard refuses (the target is on the never list: a guard denial);
* an Alertmanager notification with a wrong token (counted as unauthorized);

then reads ``/metrics`` and evaluates each panel's series: every one is non-zero.
The panels come from ``charts/diagnosis-operator/dashboards/diagnosis-operator.json``,
so a panel added there without its metric being recorded fails this test.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from diagnosis_operator import API_GROUP, API_VERSION
from tests.controlplane.operator import OperatorProcess
from tests.e2e.test_guarded_remediation import (
    WAIT,
    SlowClient,
    World,
    _kill_key,
    _kill_policy,
    _kill_proposals,
    _mysql_secret,
    _running,
    wait_for,
    world,  # noqa: F401 (fixture)
)
from tests.services.mariadb import MariaDBServer

pytestmark = pytest.mark.e2e

DASHBOARD = (
    Path(__file__).resolve().parents[2]
    / "charts/diagnosis-operator/dashboards/diagnosis-operator.json"
)
_SERIES = re.compile(r"(diagnosis_operator_[a-z_]+)(?:\{([^}]*)\})?")
_MATCHER = re.compile(r'([a-z_]+)="([^"$]*)"')
EMPTY_MATRIX = b'{"status":"success","data":{"resultType":"matrix","result":[]}}'


class _Signals(BaseHTTPRequestHandler):
    """A Prometheus that answers every query with no data, or a Loki that answers 500."""

    failing = False

    def do_GET(self) -> None:
        if self.path.split("?")[0] in ("", "/"):
            self._answer(200, b"ok")
        elif self.failing:
            self._answer(500, b"query failed: too many outstanding requests")
        else:
            self._answer(200, EMPTY_MATRIX)

    do_POST = do_GET

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


class _FailingLoki(_Signals):
    failing = True


@pytest.fixture
def signal_servers() -> Iterator[tuple[str, str]]:
    servers = [
        ThreadingHTTPServer(("127.0.0.1", 0), handler) for handler in (_Signals, _FailingLoki)
    ]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield tuple(f"http://127.0.0.1:{s.server_address[1]}" for s in servers)  # type: ignore[misc]
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def panel_series() -> list[tuple[str, str, dict[str, str]]]:
    """(panel title, metric name, fixed label matchers) for every series a panel reads."""
    found = []
    for panel in json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]:
        for target in panel.get("targets", []):
            for name, matchers in _SERIES.findall(target["expr"]):
                fixed = dict(_MATCHER.findall(matchers or ""))
                found.append((panel["title"], name, fixed))
    return found


def scrape(url: str) -> list[tuple[str, dict[str, str], float]]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        text = answer.read().decode()
    return [
        (sample.name, dict(sample.labels), float(sample.value))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def _create(place: World, plural: str, kind: str, name: str, spec: dict[str, Any]) -> None:
    place.custom.create_namespaced_custom_object(
        API_GROUP,
        API_VERSION,
        place.namespace,
        plural,
        {
            "apiVersion": f"{API_GROUP}/{API_VERSION}",
            "kind": kind,
            "metadata": {"name": name},
            "spec": spec,
        },
    )


def _finished(place: World, name: str) -> str | None:
    phase = (place.diagnosis(name).get("status") or {}).get("phase")
    return str(phase) if phase in ("Completed", "Degraded", "Failed") else None


def _live_diagnosis(place: World, prometheus: str, loki: str) -> None:
    components = [
        {"name": "edge", "kind": "proxy", "selector": {"job": "edge"}, "dependsOn": ["db"]},
        {"name": "db", "kind": "mysql", "selector": {"job": "db"}},
    ]
    signals = {"prometheus": {"url": prometheus}, "loki": {"url": loki}}
    _create(
        place,
        "diagnosispolicies",
        "DiagnosisPolicy",
        "live",
        {"components": components, "signals": signals},
    )
    window = {"lookback": "10m"}
    for name, policy in (("live", "live"), ("no-policy", "missing")):
        _create(
            place,
            "diagnoses",
            "Diagnosis",
            name,
            {"symptom": {"component": "edge"}, "window": window, "policyRef": {"name": policy}},
        )
    for name in ("live", "no-policy"):
        wait_for(f"diagnosis {name} to finish", partial(_finished, place, name))


def _ended(place: World, name: str, state: str) -> bool:
    states = [r.get("state") for r in place.remediations(name)]
    finished = {"succeeded", "failed", "skipped", "denied", "rolled-back"}
    assert state in states or not finished & set(states), f"{name}: {place.remediations(name)}"
    return state in states


def _applied_and_refused_kills(place: World, server: MariaDBServer) -> None:
    secret = _mysql_secret(place, server)
    victim = SlowClient(server.connect_params())
    victim.start()
    wait_for("the SLEEP to run", lambda: _running(server, victim.thread_id or 0, longer_than=2))
    # Refused first, while the statement runs (with nothing to kill, no guard is asked).
    never = _kill_policy(secret, enabled=True)
    never["remediation"]["killMysqlQueries"]["neverList"] = ["db"]
    never_uid = place.seed(name="db-never", policy=never, proposals=_kill_proposals)
    place.approve("db-never", _kill_key(never_uid))
    wait_for("db-never to be denied", partial(_ended, place, "db-never", "denied"))
    uid = place.seed(
        name="db-kill", policy=_kill_policy(secret, enabled=True), proposals=_kill_proposals
    )
    place.approve("db-kill", _kill_key(uid))
    wait_for("db-kill to succeed", partial(_ended, place, "db-kill", "succeeded"))
    assert victim.done.wait(timeout=WAIT)


def _unauthorized_notification(metrics_url: str) -> None:
    request = urllib.request.Request(
        metrics_url.replace("/metrics", "/alertmanager"),
        data=b'{"version": "4", "alerts": []}',
        headers={"Content-Type": "application/json", "Authorization": "Bearer wrong"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 401


def test_every_dashboard_panel_has_data_after_real_work(
    world: World,  # noqa: F811 (the fixture imported above)
    operator_process: OperatorProcess,
    mariadb_server: MariaDBServer,
    signal_servers: tuple[str, str],
) -> None:
    _live_diagnosis(world, *signal_servers)
    _applied_and_refused_kills(world, mariadb_server)
    _unauthorized_notification(operator_process.metrics_url)

    samples = scrape(operator_process.metrics_url)
    series = panel_series()
    assert len({title for title, _, _ in series}) >= 10  # the dashboard as shipped
    empty = []
    for title, name, fixed in series:
        total = sum(
            value
            for sample, labels, value in samples
            if sample == name and all(labels.get(k) == v for k, v in fixed.items())
        )
        if total <= 0:
            empty.append(f"{title}: {name}{fixed or ''}")
    assert not empty, "panels without data:\n" + "\n".join(empty)
    # The query errors are Loki's, under its backend name; Prometheus answered.
    loki_errors = [
        value
        for sample, labels, value in samples
        if sample == "diagnosis_operator_signal_query_errors_total"
        and labels.get("backend") == "loki"
    ]
    assert loki_errors and loki_errors[0] > 0
