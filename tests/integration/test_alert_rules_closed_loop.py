"""Rules rendered from a policy, run by the real Prometheus, delivered by the real Alertmanager.

The closed loop of ``alerts``: ``policy render`` output passes ``promtool check rules``
(hostile selector values included) and the Loki rules parse with Grafana's LogQL
grammar; then a replayed incident (a bundle's ``metrics.om`` backfilled with the
replay adapter) is loaded into Prometheus with the rendered rules.  Prometheus
evaluates rules at wall-clock time, so the replay is written with timestamps ending
just before now: forty minutes of a checkout service answering 1 % 5xx, the last six
of them 40 %.  The error-ratio rule fires (``for`` is the policy's
``minSymptomDuration``, 15 s here; rules are evaluated every second), Alertmanager
delivers it to the operator's webhook (in-process, a fake writer standing in for the
apiserver) on the policy's path, and exactly one Diagnosis is created, for the
policy's component, with a window holding the incident's onset, however often
Alertmanager repeats the notification.
"""

from __future__ import annotations

import asyncio
import math
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from diagnosis_operator.adapters.replay import backfill_metrics, find_promtool
from diagnosis_operator.api import DiagnosisPolicySpec
from diagnosis_operator.core.alerts import AlertRouting
from diagnosis_operator.core.rules import loki_rule_file, render_rules
from diagnosis_operator.entrypoints.cli.main import main as cli
from diagnosis_operator.entrypoints.http.webhook import PolicyRouting, TokenSource, build_app
from tests.fakes.diagnosis_writer import FakeDiagnosisWriter
from tests.integration.test_logql_grammar import check as check_logql
from tests.services.alertmanager import AlertmanagerFactory, WebhookReceiver
from tests.services.ports import LOOPBACK, free_port
from tests.services.prometheus import PrometheusFactory

pytestmark = pytest.mark.integration

TOKEN = "prometheus-to-operator-token"
DEADLINE = 120.0  # seconds to wait for the loop before failing, not a measured threshold
STEP = 15.0
HISTORY = 40 * 60.0
INCIDENT = 6 * 60.0
REQUESTS_PER_SECOND = 10.0
POLICY: dict[str, Any] = {
    "apiVersion": "diagnosis.dev/v1alpha1",
    "kind": "DiagnosisPolicy",
    "metadata": {"name": "checkout", "namespace": "shop"},
    "spec": {
        "components": [
            {"name": "edge", "kind": "proxy", "selector": {"job": "edge"}, "dependsOn": ["api"]},
            {"name": "api", "kind": "app", "selector": {"job": "checkout"}},
        ],
        "thresholds": {"minSymptomDuration": "15s", "minErrorRatioRise": 0.05},
        "alerts": {"baseline": "20m", "labels": {"severity": "page"}},
    },
}


def test_rendered_rules_pass_promtool_and_the_logql_grammar(tmp_path: Path) -> None:
    hostile = {**POLICY, "spec": {**POLICY["spec"], "components": [
        {"name": "api", "kind": "app", "selector": {"job": 'we"ird\\ {{ .X }}\n`x`'}},
        {"name": "db", "kind": "redis", "selector": {"job": "cache", "pod": "{{"}},
    ]}}  # fmt: skip
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(yaml.safe_dump(hostile))
    rules_file = tmp_path / "rules.yaml"
    assert (
        cli(["policy", "render", str(policy_file), "--format", "rules", "--out", str(rules_file)])
        == 0
    )
    checked = subprocess.run(
        [find_promtool(None), "check", "rules", str(rules_file)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout
    spec = DiagnosisPolicySpec.model_validate(hostile["spec"])
    loki = loki_rule_file(render_rules(spec, policy="checkout", namespace="shop"))
    queries = [rule["expr"] for group in loki["groups"] for rule in group["rules"]]
    assert len(queries) == 2
    results = check_logql(queries)
    assert [r for r in results if not r["ok"]] == [], results


def write_replay(path: Path, *, end: float) -> float:
    """A bundle's metrics.om ending at ``end``: 1 % 5xx, then 40 % for the last six minutes."""
    onset = end - INCIDENT
    times = [end - HISTORY + index * STEP for index in range(int(HISTORY / STEP) + 1)]
    ok = errors = 0.0
    lines = ["# TYPE http_requests counter"]
    samples: dict[str, list[str]] = {"200": [], "500": []}
    for at in times:
        share = 0.4 if at > onset else 0.01
        ok += REQUESTS_PER_SECOND * STEP * (1 - share)
        errors += REQUESTS_PER_SECOND * STEP * share
        for code, value in (("200", ok), ("500", errors)):
            labels = f'job="checkout",instance="10.1.0.7:8080",code="{code}"'
            samples[code].append(f"http_requests_total{{{labels}}} {value:.0f} {at:.3f}")
    lines += samples["200"] + samples["500"] + ["# EOF"]
    path.write_text("\n".join(lines) + "\n")
    return onset


@pytest.fixture
def webhook() -> Iterator[tuple[str, FakeDiagnosisWriter]]:
    writer = FakeDiagnosisWriter(policies={("shop", "checkout"): POLICY})
    app = build_app(
        writer=writer,
        routing=PolicyRouting(reader=writer, template=AlertRouting(policy="none", namespace="x")),
        token=TokenSource(value=TOKEN),
    )
    port = free_port()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    started = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, LOOPBACK, port).start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, name="webhook", daemon=True)
    thread.start()
    assert started.wait(30), "webhook server did not start"
    yield f"http://{LOOPBACK}:{port}", writer
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=30)
    loop.close()


def wait_for(what: str, condition: Callable[[], bool], logs: Callable[[], str]) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{logs()}")
        time.sleep(0.5)


def test_rendered_rules_fire_on_replayed_data_and_give_one_diagnosis(
    tmp_path: Path,
    prometheus_factory: PrometheusFactory,
    alertmanager_factory: AlertmanagerFactory,
    webhook: tuple[str, FakeDiagnosisWriter],
) -> None:
    url, writer = webhook
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(yaml.safe_dump(POLICY))
    rules_file = tmp_path / "rules.yaml"
    assert (
        cli(["policy", "render", str(policy_file), "--format", "rules", "--out", str(rules_file)])
        == 0
    )
    end = math.floor(time.time()) - 5.0
    metrics = tmp_path / "bundle" / "metrics.om"
    metrics.parent.mkdir()
    onset = write_replay(metrics, end=end)
    data = backfill_metrics(
        metrics_file=metrics, data_dir=tmp_path / "tsdb", promtool=find_promtool(None)
    ).data_dir
    alertmanager = alertmanager_factory(
        receivers=[
            WebhookReceiver(name="diagnosis", url=f"{url}/alertmanager/shop/checkout", token=TOKEN)
        ],
        group_by=["diagnosis_policy", "diagnosis_component"],
    )
    prometheus = prometheus_factory(
        data_dir=data,
        rule_files=[rules_file],
        alertmanagers=[alertmanager.url.removeprefix("http://")],
        evaluation_interval="1s",
    )

    def logs() -> str:
        return prometheus.process.logs() + "\n" + alertmanager.process.logs()

    wait_for("a Diagnosis from the fired alert", lambda: bool(writer.created()), logs)
    # Alertmanager repeats the notification (repeat_interval 3 s): still one Diagnosis.
    wait_for("repeated notifications", lambda: len(writer.attempts) >= 3, logs)
    created = writer.created()
    assert len(created) == 1, created
    (diagnosis,) = created
    assert {name for _, name in writer.attempts} == {diagnosis["metadata"]["name"]}
    assert diagnosis["metadata"]["namespace"] == "shop"
    assert diagnosis["spec"]["policyRef"] == {"name": "checkout"}
    assert diagnosis["spec"]["symptom"]["component"] == "api"
    assert (
        "DiagnosisErrorRatioHigh"
        in diagnosis["metadata"]["annotations"]["diagnosis.dev/alertnames"]
    )
    window = diagnosis["spec"]["window"]
    start, stop = (datetime.fromisoformat(window[key]).timestamp() for key in ("start", "end"))
    assert start <= onset < end <= stop
    firing = prometheus.api("alerts")["data"]["alerts"]
    assert {a["labels"]["alertname"] for a in firing if a["state"] == "firing"} == {
        "DiagnosisErrorRatioHigh"
    }
