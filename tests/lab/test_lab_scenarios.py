"""The lab's long scenarios (``make lab``; marker ``lab``, excluded from ``make test``).

Each scenario starts a fresh lab, runs users for a baseline, injects its fault
with ``python -m tests.lab.fault`` and records the window with ``bundle record``
(``tests/lab/scenarios.py``), about four minutes each.  Before the lab stops, the
window is also diagnosed live from its Prometheus and Loki (the operator's path);
the recording diagnosed offline must name the same root cause.  The recording must load,
hold the marks of the injected fault, and be diagnosed as its expectation says;
the scenarios the engine still gets wrong are expected failures, as in the
offline suite (not strict: a live run is not byte-for-byte the recorded one).
For the reference combination, an alert rule must have fired and reached the
webhook receiver through Alertmanager.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from bench.firstsight import score

from diagnosis_operator.adapters.loki import LokiClient, LokiLogSource
from diagnosis_operator.adapters.prometheus import PrometheusAdapter
from diagnosis_operator.entrypoints.cli.bundle_record import read_policy
from diagnosis_operator.entrypoints.cli.diagnose import diagnose_bundle
from diagnosis_operator.models.signals import Window
from diagnosis_operator.service.diagnose import run_diagnosis
from tests.lab.scenarios import POLICY, SCENARIOS, run_scenario, unpack
from tests.lab.stack import LOKI_TENANT, Lab
from tests.lab.test_lab_recordings import STILL_WRONG

pytestmark = pytest.mark.lab


def diagnose_live(lab: Lab, window: tuple[float, float]) -> dict[str, Any]:
    """The diagnosis of the window from the lab's live Prometheus and Loki (the live path)."""
    topology = read_policy(str(POLICY)).to_topology()
    client = LokiClient(lab.loki_url, tenant=LOKI_TENANT)
    try:
        with PrometheusAdapter(lab.prometheus.url) as metrics:
            result = run_diagnosis(
                topology=topology,
                window=Window(*window),
                symptom="nginx",
                series=metrics,
                logs=LokiLogSource(client),
                now=window[1],
            )
    finally:
        client.close()
    answer: dict[str, Any] = json.loads(json.dumps(result.to_json()))
    return answer


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(
            name,
            marks=pytest.mark.xfail(reason=STILL_WRONG[name], strict=False)
            if name in STILL_WRONG
            else (),
        )
        for name in SCENARIOS
    ],
)
def test_lab_scenario_live_recording_diagnosed_as_injected(name: str, tmp_path: Path) -> None:
    live: list[dict[str, Any]] = []
    recorded = run_scenario(
        name,
        out=tmp_path / "recorded",
        workdir=tmp_path / "lab",
        inspect=lambda lab, window: live.append(diagnose_live(lab, window)),
    )
    expected = yaml.safe_load((recorded / "expected.yaml").read_text(encoding="utf-8"))
    bundle = unpack(recorded, tmp_path / "bundle")
    result = json.loads(json.dumps(diagnose_bundle(bundle).to_json()))
    # The recording keeps what the live path saw: the same root cause either way.
    assert live[0]["rootCause"]["component"] == result["rootCause"]["component"], (
        live[0]["rootCause"],
        result["rootCause"],
    )
    if name == "reference":
        # The alert half of the live loop: a rule fired and Alertmanager delivered it.
        sink = tmp_path / "lab" / "alerts.jsonl"
        notifications = [json.loads(line) for line in sink.read_text().splitlines() if line]
        fired = {
            alert["labels"]["alertname"]
            for note in notifications
            for alert in note["alerts"]
            if alert["status"] == "firing"
        }
        assert fired & {"LabApiErrorRatioHigh", "LabApiLatencyHigh"}, fired
    verdict = score(expected, result)
    assert verdict["whole"], f"{name}: {verdict['problems']} ({verdict['summary']})"
