"""The lab stack, smoke-tested: real services serve, are scraped, their logs shipped, recorded.

One short burst of user traffic through nginx, then: Prometheus scrapes every
target (three app instances, the three exporters), the app's RED metrics carry
each instance, the exporters reach their servers, the log shipper has put the
JSON access lines (with the users' addresses) into Loki, and ``bundle record``
turns the window into a bundle that loads with every component.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from diagnosis_operator.adapters.bundle import load_bundle
from diagnosis_operator.entrypoints.cli.main import main as cli
from tests.lab import traffic
from tests.lab.scenarios import POLICY
from tests.lab.stack import LOKI_TENANT, Lab

pytestmark = pytest.mark.integration


def _eventually(check: Callable[[], Any], what: str, timeout: float = 90.0) -> Any:
    """Poll until ``check`` returns something truthy (scrapes and pushes are periodic)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"not seen within {timeout:.0f} s: {what}")
        time.sleep(1.0)


def _instant(lab: Lab, promql: str) -> dict[str, float]:
    series = lab.prometheus.instant(promql, time.time())
    return {
        ",".join(f"{k}={v}" for k, v in sorted(s["metric"].items())): float(s["value"][1])
        for s in series
    }


def _loki_lines(lab: Lab, query: str, start: float) -> list[str]:
    answer = requests.get(
        f"{lab.loki_url}/loki/api/v1/query_range",
        params={
            "query": query,
            "start": str(int(start * 1e9)),
            "end": str(int((time.time() + 1) * 1e9)),
            "limit": "5000",
        },
        headers={"X-Scope-OrgID": LOKI_TENANT},
        timeout=30,
    )
    answer.raise_for_status()
    return [value[1] for stream in answer.json()["data"]["result"] for value in stream["values"]]


def test_lab_serves_is_scraped_ships_logs_and_records(lab: Lab, tmp_path: Path) -> None:
    start = time.time()
    tally = traffic.users(lab.nginx.url, seconds=10, rate=2.0)
    assert tally.counts[200] > 0
    assert set(tally.counts) == {200}, tally.counts

    up = _eventually(
        lambda: (found := _instant(lab, "up == 1")) and len(found) == 6 and found,
        "all six targets up",
    )
    assert {key.split("job=")[1] for key in up} == {"api", "nginx", "mysql", "redis"}
    served = _eventually(
        lambda: _instant(lab, 'sum by (instance) (http_requests_total{job="api",code="200"})'),
        "requests counted per app instance",
    )
    assert {key.removeprefix("instance=") for key in served} == set(lab.backends)
    for gauge in ("mysql_up", "redis_up", "nginx_up"):
        assert set(_instant(lab, gauge).values()) == {1.0}, gauge

    access = _eventually(
        lambda: _loki_lines(lab, '{job="nginx",log="access"}', start), "access lines in Loki"
    )
    clients = {json.loads(line)["remote_addr"] for line in access}
    assert clients <= set(traffic.USERS)
    assert clients
    assert _loki_lines(lab, '{job="api",log="app"}', start)

    # At least two 15 s steps of scrapes inside the recorded window.
    time.sleep(max(0.0, start + 35 - time.time()))
    end = time.time()
    out = tmp_path / "recorded"
    code = cli(
        [
            "bundle",
            "record",
            "--prometheus",
            lab.prometheus.url,
            "--loki",
            lab.loki_url,
            "--loki-tenant",
            LOKI_TENANT,
            "--policy",
            str(POLICY),
            "--from",
            repr(start),
            "--to",
            repr(end),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    bundle = load_bundle(out)
    names = {stored.name for stored in bundle.series}
    assert {"http_requests_total", "mysql_up", "redis_up", "nginx_up"} <= names
    metrics = (out / "metrics.om").read_text(encoding="utf-8")
    assert "# TYPE http_requests counter" in metrics
    assert "# TYPE http_request_duration_seconds histogram" in metrics
    jobs = {stream.labels["job"] for stream in bundle.streams}
    assert {"nginx", "api"} <= jobs
