"""Honest failure (issue 12): a diagnosis never reports a calm it did not measure.

The Diagnosis handler with the fakes of ``test_diagnosis_handler`` and sources that
fail the way a broken backend does (every query raises the adapters' ``SignalError``
with the HTTP status and body), hang, or hold no data for the window:

* both sources failing end ``Failed`` (``SourcesFailed``), never "NoIncident";
* the logs failing end ``Degraded``: a Warning Event, the ``Degraded`` condition,
  a confidence scaled by the evidence that answered;
* the symptom's own metrics failing end ``Failed`` (``SymptomSourceFailed``);
* a window in the future ends ``Failed`` (``WindowInFuture``), one beyond the
  data ``Failed`` (``NoData``);
* a source that hangs is cut off by the diagnosis deadline;
* a 403 on the status write ends the handler for good; a 429 is retried.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import kopf
import pytest

from diagnosis_operator.adapters.kubernetes.errors import KubernetesError
from diagnosis_operator.entrypoints.bootstrap.signals import Sources
from diagnosis_operator.entrypoints.kopf import status_write
from diagnosis_operator.entrypoints.kopf.status_write import StatusForbidden
from diagnosis_operator.models.signals import LogCount, LogStream, Series, Window
from diagnosis_operator.ports import SignalError
from tests.fakes.logs import FakeLogSource
from tests.fakes.metrics import FakeSeriesSource
from tests.unit.test_diagnosis_handler import (
    POLICY,
    SPEC,
    FakeKube,
    _context,
    _reasons,
    _reconcile,
    events,
    flat_series,
)

__all__ = ["events"]  # the fixture, used by name
pytestmark = pytest.mark.usefixtures("events")  # every test posts Events


def _upstream_error(backend: str, query: str, window: Window) -> SignalError:
    return SignalError(
        backend=backend,
        query=query,
        window=window,
        status=500,
        body='{"status":"error","error":"upstream exploded"}',
    )


class BrokenSeries(FakeSeriesSource):
    """Prometheus answering 500 to every query (for ``jobs``, or all)."""

    def __init__(self, *, jobs: Sequence[str] | None = None) -> None:
        super().__init__(raw=flat_series())
        self.jobs = jobs

    def range_series(
        self, *, selector: Mapping[str, str], window: Window, step: float
    ) -> list[Series]:
        if self.jobs is None or selector.get("job") in self.jobs:
            raise _upstream_error("prometheus", f"{{job={selector.get('job')!r}}}", window)
        return super().range_series(selector=selector, window=window, step=step)


class BrokenLogs(FakeLogSource):
    """Loki answering 500 to every query."""

    def sample_lines(self, **arguments: Any) -> list[LogStream]:
        raise _upstream_error("loki", "{job=...}", arguments["window"])

    def count_lines(self, **arguments: Any) -> list[LogCount]:
        raise _upstream_error("loki", "count_over_time", arguments["window"])

    def count_extracted(self, **arguments: Any) -> list[LogCount]:
        raise _upstream_error("loki", "sum by (ip)", arguments["window"])


class HangingLogs(FakeLogSource):
    """Loki that answered the probe and then never answers a query (until released)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def _hang(self) -> list[Any]:
        self.release.wait(timeout=60)
        return []

    def sample_lines(self, **_: Any) -> list[LogStream]:
        return self._hang()

    def count_lines(self, **_: Any) -> list[LogCount]:
        return self._hang()

    def count_extracted(self, **_: Any) -> list[LogCount]:
        return self._hang()


def _fine_sources() -> Sources:
    return Sources(series=FakeSeriesSource(raw=flat_series()), logs=FakeLogSource(), endpoints=())


def _conditions(kube: FakeKube) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in kube.status["conditions"]}


def _run(series: Any, logs: Any, **settings: Any) -> FakeKube:
    kube = FakeKube(POLICY)

    def sources(**_: Any) -> Sources:
        return Sources(series=series, logs=logs, endpoints=())

    _reconcile(_context(kube, sources, **{"source_retries": 0, **settings}))
    return kube


def test_both_sources_failing_end_failed_with_the_upstream_answer(
    events: asyncio.Queue[Any],
) -> None:
    kube = _run(BrokenSeries(), BrokenLogs())
    assert kube.status["phase"] == "Failed"
    failed = _conditions(kube)["Failed"]
    assert failed["reason"] == "SourcesFailed"
    assert "HTTP 500" in failed["message"] and "upstream exploded" in failed["message"]
    assert "window" in failed["message"]
    assert "rootCause" not in kube.status
    assert ("Warning", "SourcesFailed") in _reasons(events)


def test_failing_logs_end_degraded_with_a_scaled_confidence(events: asyncio.Queue[Any]) -> None:
    kube = _run(FakeSeriesSource(raw=flat_series()), BrokenLogs())
    assert kube.status["phase"] == "Degraded"
    conditions = _conditions(kube)
    assert conditions["Degraded"]["status"] == "True"
    assert conditions["Degraded"]["reason"] == "PartialData"
    assert "HTTP 500" in conditions["Degraded"]["message"]
    assert conditions["Complete"]["status"] == "True"
    assert kube.status["rootCause"]["confidence"] < 0.5
    assert any("PartialData" in w for w in kube.status["warnings"])
    assert ("Warning", "PartialData") in _reasons(events)


def test_the_symptoms_own_metrics_failing_end_failed() -> None:
    kube = _run(BrokenSeries(jobs=["gateway"]), FakeLogSource())
    assert kube.status["phase"] == "Failed"
    assert _conditions(kube)["Failed"]["reason"] == "SymptomSourceFailed"
    assert "gateway" in _conditions(kube)["Failed"]["message"]


def test_a_window_in_the_future_fails_naming_the_window() -> None:
    spec = {**SPEC, "window": {"start": "2999-01-01T10:00:00Z", "end": "2999-01-01T11:00:00Z"}}
    kube = FakeKube(POLICY)

    def sources(**_: Any) -> Sources:
        raise AssertionError("no source is asked for a window in the future")

    _reconcile(_context(kube, sources), spec=spec)
    failed = _conditions(kube)["Failed"]
    assert kube.status["phase"] == "Failed"
    assert failed["reason"] == "WindowInFuture"
    assert "2999-01-01T10:00:00" in failed["message"]


def test_a_window_beyond_the_data_fails_with_no_data() -> None:
    kube = _run(FakeSeriesSource(raw=[]), FakeLogSource())
    assert kube.status["phase"] == "Failed"
    failed = _conditions(kube)["Failed"]
    assert failed["reason"] == "NoData"
    assert "2026-01-01T10:00:00Z to 2026-01-01T11:00:00Z" in failed["message"]


def test_a_hanging_source_is_cut_off_by_the_deadline(events: asyncio.Queue[Any]) -> None:
    logs = HangingLogs()
    try:
        kube = _run(FakeSeriesSource(raw=flat_series()), logs, diagnosis_deadline=1.0)
    finally:
        logs.release.set()
    assert kube.status["phase"] == "Degraded"
    degraded = _conditions(kube)["Degraded"]
    assert degraded["reason"] == "DeadlineExceeded"
    assert "timed out" in degraded["message"]
    assert ("Warning", "DeadlineExceeded") in _reasons(events)


def test_a_run_past_its_deadline_fails_before_asking_anything() -> None:
    kube = FakeKube(POLICY)
    asked: list[object] = []

    def sources(**arguments: Any) -> Sources:
        asked.append(arguments)
        return Sources(
            series=FakeSeriesSource(raw=flat_series()), logs=FakeLogSource(), endpoints=()
        )

    context = _context(kube, sources, diagnosis_deadline=1.0)
    _reconcile(context, runtime_seconds=5.0)
    assert _conditions(kube)["Failed"]["reason"] == "DeadlineExceeded"
    assert "DIAG_DIAGNOSIS_DEADLINE" in _conditions(kube)["Failed"]["message"]
    assert asked == []


class RefusingKube(FakeKube):
    """An apiserver that answers the status writes with ``statuses`` first."""

    def __init__(self, statuses: Sequence[int]) -> None:
        super().__init__(POLICY)
        self.statuses = list(statuses)
        self.attempts = 0

    def patch_diagnosis_status(
        self, *, namespace: str, name: str, status: Mapping[str, Any]
    ) -> None:
        self.attempts += 1
        if self.statuses:
            code = self.statuses.pop(0)
            raise KubernetesError(
                what=f"patch diagnoses/status {namespace}/{name}", status=code, body="refused"
            )
        super().patch_diagnosis_status(namespace=namespace, name=name, status=status)


def test_a_forbidden_status_write_ends_the_handler_for_good(
    events: asyncio.Queue[Any], caplog: pytest.LogCaptureFixture
) -> None:
    kube = RefusingKube([403] * 100)
    with pytest.raises(kopf.PermanentError) as stopped:
        _reconcile(_context(kube, lambda **_: None))
    assert isinstance(stopped.value, StatusForbidden)
    assert "patch on diagnoses/status" in str(stopped.value)
    assert kube.attempts == 1  # a 403 is not retried
    assert ("Warning", "StatusForbidden") in _reasons(events)
    assert any("diagnoses/status" in r.getMessage() for r in caplog.records)


def test_throttled_status_writes_are_retried_then_the_pass_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(status_write, "STATUS_WRITE_BACKOFF", 0.0)
    kube = RefusingKube([429, 409])

    def sources(**_: Any) -> Sources:
        return Sources(
            series=FakeSeriesSource(raw=flat_series()), logs=FakeLogSource(), endpoints=()
        )

    _reconcile(_context(kube, sources))
    assert kube.status["phase"] == "Completed"
    assert not kube.statuses


def test_status_writes_throttled_for_good_hand_the_pass_back_to_kopf(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(status_write, "STATUS_WRITE_BACKOFF", 0.0)
    kube = RefusingKube([429] * 100)
    with pytest.raises(kopf.TemporaryError, match="HTTP 429"):
        _reconcile(_context(kube, lambda **_: None))
    assert kube.attempts == status_write.STATUS_WRITE_ATTEMPTS
