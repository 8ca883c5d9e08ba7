"""An instance answering a 4xx its siblings do not return: affected by a fault of its own."""

from __future__ import annotations

import numpy as np

from diagnosis_operator.core.diagnosis.own_statuses import own_status_instances, with_own_statuses
from diagnosis_operator.core.diagnosis.signal_types import Detection, Signal, SignalKind
from diagnosis_operator.core.diagnosis.signals import grid_timestamps
from diagnosis_operator.models.findings import Anomaly
from diagnosis_operator.models.signals import Labels, Window

STEP = 15.0
T0 = 1_700_000_000.0
TS = grid_timestamps(window=Window(start=T0, end=T0 + STEP * 119), step=STEP)
assert TS.size == 120
ONSET = float(TS[60])
INSTANCES = ("10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80")


def _ratio(instance: str) -> Signal:
    requests = np.full(TS.shape, 30.0)  # 2 requests a second
    return Signal(
        "auth",
        instance,
        "http_requests_total 5xx ratio",
        "http_requests_total errors",
        SignalKind.ERROR_RATIO,
        "q",
        np.zeros(TS.shape),
        Labels({"instance": instance}),
        events=np.zeros(TS.shape),
        requests=requests,
    )


def _status(instance: str, code: str, rate: float) -> Signal:
    values = np.where(TS >= ONSET, rate, 0.0)
    labels = Labels({"instance": instance, "code": code, "pod": f"auth-{instance[-4]}"})
    return Signal(
        "auth",
        instance,
        "http_requests_total rate",
        "http_requests_total",
        SignalKind.RATE,
        "q",
        values,
        labels,
    )


def _detected(signal: Signal, kind: SignalKind | None = None) -> Detection:
    if kind is not None:
        signal = Signal(
            "auth",
            signal.instance,
            "error/warn log lines",
            "log",
            kind,
            "q",
            signal.values,
            Labels({"instance": signal.instance or ""}),
        )
    anomaly = Anomaly("auth", signal.name, signal.instance, ONSET, ONSET, 1.0, 0.0, 50.0, "up", "q")
    return Detection(signal=signal, anomaly=anomaly, exceedances=10, peak=1.0)


RATIOS = [_ratio(i) for i in INSTANCES]


def _found(rejecting: list[str], *, rate: float = 0.9, complain: bool = True) -> list[str]:
    status = [_status(i, "401", rate) for i in rejecting]
    detections = [_detected(s) for s in status]
    if complain:
        detections += [_detected(s, SignalKind.LOG_SIGNIFICANT) for s in status]
    found = own_status_instances(
        component="auth", signals=RATIOS + status, detections=detections, timestamps=TS
    )
    return sorted(f.instance.instance for f in found)


def test_one_instance_rejecting_what_its_siblings_serve_is_affected() -> None:
    assert _found(["10.0.0.2:80"]) == ["10.0.0.2:80"]


def test_without_its_own_error_lines_a_client_pinned_to_it_may_explain_it() -> None:
    assert _found(["10.0.0.2:80"], complain=False) == []


def test_a_shared_cause_rejecting_on_most_instances_singles_none_out() -> None:
    assert _found(list(INSTANCES[:3])) == []


def test_a_few_rejections_are_no_fault_of_the_instance() -> None:
    assert _found(["10.0.0.2:80"], rate=0.005) == []


def test_server_errors_are_left_to_the_5xx_ratio() -> None:
    status = [_status("10.0.0.2:80", "503", 0.9)]
    detections = [_detected(status[0]), _detected(status[0], SignalKind.LOG_SIGNIFICANT)]
    found = with_own_statuses(
        [], signals={"auth": RATIOS + status}, detections={"auth": detections}, timestamps=TS
    )
    assert found == []


def test_the_finding_names_the_status_and_keeps_the_pod() -> None:
    status = [_status("10.0.0.2:80", "401", 0.9)]
    detections = [_detected(status[0]), _detected(status[0], SignalKind.LOG_SIGNIFICANT)]
    (finding,) = with_own_statuses(
        [], signals={"auth": RATIOS + status}, detections={"auth": detections}, timestamps=TS
    )
    assert "401" in finding.instance.reason and finding.instance.pod == "auth-2"
    assert finding.healthy_siblings == 3
