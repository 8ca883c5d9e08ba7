"""A proxy timing out on an upstream that answers as it always did: its own timeout."""

from __future__ import annotations

from diagnosis_operator.catalog.failure_modes import FAILURE_MODES
from diagnosis_operator.core.diagnosis.edge_timeouts import own_fault, times_out_itself
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.signal_types import SignalKind
from tests.unit.test_edge_faults import (
    FAILING_API,
    QUIET_API,
    READ_TIMEOUT,
    REFUSED,
    STACK,
    _api_down_on,
    _detection,
    _proxy,
)

SLOW_API = ComponentEvidence(
    component=STACK.get("api"), detections=(_detection("api", SignalKind.LATENCY),)
)


def test_the_catalogue_names_the_own_timeout_mode_with_sources() -> None:
    modes = [m for m in FAILURE_MODES if m.kind == "proxy" and "timeout" in m.name]
    assert modes and all(m.sources and m.logs for m in modes)


def test_timeouts_on_an_upstream_with_no_harm_of_its_own_are_the_proxys_timeout() -> None:
    edge = _proxy([READ_TIMEOUT] * 10)
    assert times_out_itself(caller=edge, dependency=QUIET_API)
    assert own_fault(caller=edge, dependency=QUIET_API)


def test_timeouts_on_a_slow_or_failing_upstream_are_the_upstreams() -> None:
    edge = _proxy([READ_TIMEOUT] * 10)
    assert not times_out_itself(caller=edge, dependency=SLOW_API)
    assert not own_fault(caller=edge, dependency=SLOW_API)
    assert not own_fault(caller=edge, dependency=FAILING_API)


def test_timeouts_that_were_usual_before_or_a_few_are_no_own_timeout() -> None:
    usual = _proxy([READ_TIMEOUT] * 10, before=[READ_TIMEOUT] * 10)
    assert not times_out_itself(caller=usual, dependency=QUIET_API)
    few = _proxy([READ_TIMEOUT] * 3 + [REFUSED.replace("111", "999")] * 20)
    assert not times_out_itself(caller=few, dependency=QUIET_API)


def test_own_fault_keeps_the_route_model() -> None:
    assert own_fault(caller=_proxy([REFUSED] * 10), dependency=QUIET_API)
    assert not own_fault(caller=_proxy([REFUSED] * 10), dependency=FAILING_API)


def test_timeouts_on_an_instance_that_stopped_answering_its_scrapes_are_that_instances() -> None:
    # a hung process (SIGSTOP): its up fell, nothing else of it moved
    edge = _proxy([READ_TIMEOUT] * 10)
    assert not times_out_itself(caller=edge, dependency=_api_down_on("10.9.8.7:8080"))
    # another instance's scrape says nothing about the address the proxy timed out on
    assert times_out_itself(caller=edge, dependency=_api_down_on("10.9.8.6:8080"))
