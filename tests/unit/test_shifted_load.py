"""Work moved onto a dependency when its sibling failed: a symptom of the root."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.logs import ComponentLogs, read_event
from diagnosis_operator.core.diagnosis.ranking import (
    ROLE_AGGRAVATING,
    ROLE_ROOT,
    ROLE_SYMPTOM,
    Ranking,
    rank,
)
from diagnosis_operator.core.diagnosis.shifted_load import (
    ASKED_LESS,
    ASKED_MORE,
    asked_more,
    fallback_symptom,
    load_symptom_reason,
    only_asked_more,
    took_over_work,
)
from diagnosis_operator.core.diagnosis.signal_types import Detection, Signal, SignalKind
from diagnosis_operator.core.diagnosis.signals import grid_timestamps
from diagnosis_operator.models.findings import Anomaly
from diagnosis_operator.models.signals import Labels, Window
from diagnosis_operator.models.topology import Component, ComponentKind, Topology

T0 = 1_700_000_000.0
WINDOW = Window(start=T0, end=T0 + 3600.0)
STEP = 15.0
TOLERANCE = 30.0
TS = grid_timestamps(window=WINDOW, step=STEP)
INCIDENT = T0 + 2000.0

STACK = Topology(
    components=(
        Component("front", ComponentKind.PROXY, Labels({"job": "front"}), ("svc",)),
        Component("svc", ComponentKind.APP, Labels({"job": "svc"}), ("store", "kv")),
        Component("store", ComponentKind.MYSQL, Labels({"job": "store"})),
        Component("kv", ComponentKind.REDIS, Labels({"job": "kv"})),
    )
)
REDIS_FULL = "ERROR cache: redis.exceptions.ConnectionError: max number of clients reached"


def _detection(
    component: str, name: str, onset: float, *, kind: SignalKind = SignalKind.RATE
) -> Detection:
    values = np.where(onset <= TS, 3.0, 1.0)
    signal = Signal(component, None, name, name.removesuffix(" rate"), kind, name, values, Labels())
    anomaly = Anomaly(
        component=component,
        signal=name,
        instance=None,
        onset=onset,
        peak_ts=onset,
        value=3.0,
        baseline=1.0,
        score=60.0,
        direction="up",
        query=name,
    )
    return Detection(signal=signal, anomaly=anomaly, exceedances=10, peak=3.0)


def _store(*detections: Detection) -> ComponentEvidence:
    return ComponentEvidence(component=STACK.get("store"), detections=detections)


WORK = "mysql_global_status_questions rate"
THREADS = "mysql_global_status_threads_running"
LOCKS = "mysql_global_status_innodb_row_lock_waits rate"


def test_the_catalogue_tells_work_asked_from_other_metrics() -> None:
    assert asked_more("mysql_global_status_questions")
    assert asked_more("redis_commands_processed_total")
    assert asked_more("pg_stat_database_xact_commit")
    assert asked_more("http_requests_total")
    assert not asked_more("mysql_global_status_threads_running")
    assert not asked_more("redis_rejected_connections_total")


def test_an_anomaly_that_opens_with_more_work_from_the_roots_failure_on_took_it_over() -> None:
    store = _store(_detection("store", WORK, INCIDENT + 15), _detection("store", THREADS, INCIDENT))
    assert took_over_work(evidence=store, root_onset=INCIDENT, tolerance=TOLERANCE)


def test_an_anomaly_before_the_roots_is_its_own() -> None:
    store = _store(_detection("store", WORK, INCIDENT - 300))
    assert not took_over_work(evidence=store, root_onset=INCIDENT, tolerance=TOLERANCE)


def test_work_that_rose_only_long_after_its_first_move_is_no_takeover() -> None:
    store = _store(_detection("store", LOCKS, INCIDENT), _detection("store", WORK, INCIDENT + 600))
    assert not took_over_work(evidence=store, root_onset=INCIDENT, tolerance=TOLERANCE)


def test_a_fallback_needs_callers_naming_the_root_and_never_it() -> None:
    store = _store(_detection("store", WORK, INCIDENT))
    kwargs = {"evidence": store, "root_onset": INCIDENT, "tolerance": TOLERANCE}
    assert fallback_symptom(blame=0.0, root_blame=1.0, **kwargs)  # type: ignore[arg-type]
    assert not fallback_symptom(blame=0.2, root_blame=0.8, **kwargs)  # type: ignore[arg-type]
    assert not fallback_symptom(blame=0.5, root_blame=0.5, **kwargs)  # type: ignore[arg-type]


def _ranking(store: ComponentEvidence, line: str = REDIS_FULL) -> Ranking:
    events = tuple(
        read_event(component="svc", instance=None, ts=INCIDENT + 5 * i, line=line, query="")
        for i in range(40)
    )
    evidence = {c.name: ComponentEvidence(component=c) for c in STACK}
    evidence["kv"] = ComponentEvidence(
        component=STACK.get("kv"),
        detections=(
            _detection("kv", "redis_rejected_connections_total rate", INCIDENT),
            _detection("kv", "redis_connected_clients", INCIDENT, kind=SignalKind.GAUGE),
        ),
    )
    evidence["svc"] = ComponentEvidence(
        component=STACK.get("svc"),
        detections=(_detection("svc", "5xx ratio", INCIDENT + 15, kind=SignalKind.ERROR_RATIO),),
        logs=ComponentLogs(component="svc", events=events),
    )
    evidence["store"] = store
    return rank(topology=STACK, evidence=evidence, clients=[], window=WINDOW, step=STEP)


def _role(ranking: Ranking, name: str) -> str:
    return next(c.role for c in ranking.candidates if c.component == name)


def test_the_database_a_failed_cache_sent_its_lookups_to_is_a_symptom() -> None:
    store = _store(
        _detection("store", WORK, INCIDENT + 15),
        _detection("store", THREADS, INCIDENT + 15, kind=SignalKind.GAUGE),
        _detection("store", "mysql_global_status_slow_queries rate", INCIDENT + 30),
    )
    ranking = _ranking(store)
    assert ranking.root_cause.component == "kv"
    assert _role(ranking, "kv") == ROLE_ROOT
    assert _role(ranking, "store") == ROLE_SYMPTOM
    reasons = next(c.reasons for c in ranking.candidates if c.component == "store")
    assert any("took over work of failed kv" in r for r in reasons)


def test_a_database_whose_trouble_opens_with_its_own_lock_waits_still_aggravates() -> None:
    store = _store(
        _detection("store", LOCKS, INCIDENT + 15),
        _detection("store", THREADS, INCIDENT + 15, kind=SignalKind.GAUGE),
    )
    ranking = _ranking(store)
    assert ranking.root_cause.component == "kv"
    assert _role(ranking, "store") == ROLE_AGGRAVATING


def test_a_dependency_that_only_received_more_work_and_no_harm_explains_nobody() -> None:
    # an external provider fails the service's sends; the retry list in the cache
    # grows and the cache processes more commands: no errors, no slowness of its own
    line = "ERROR send failed: x509: certificate has expired or is not yet valid"
    kv = ComponentEvidence(
        component=STACK.get("kv"),
        detections=(
            _detection("kv", "redis_commands_processed_total rate", INCIDENT),
            _detection("kv", "redis_memory_used_bytes", INCIDENT + 300, kind=SignalKind.GAUGE),
        ),
    )
    assert only_asked_more(evidence=kv, tolerance=TOLERANCE)
    events = tuple(
        read_event(component="svc", instance=None, ts=INCIDENT + 5 * i, line=line, query="")
        for i in range(40)
    )
    evidence = {c.name: ComponentEvidence(component=c) for c in STACK}
    evidence["kv"] = kv
    evidence["svc"] = ComponentEvidence(
        component=STACK.get("svc"),
        detections=(_detection("svc", "5xx ratio", INCIDENT, kind=SignalKind.ERROR_RATIO),),
        logs=ComponentLogs(component="svc", events=events),
    )
    ranking = rank(topology=STACK, evidence=evidence, clients=[], window=WINDOW, step=STEP)
    assert ranking.root_cause.component == "svc"
    assert _role(ranking, "kv") == ROLE_SYMPTOM
    reasons = next(c.reasons for c in ranking.candidates if c.component == "kv")
    assert ASKED_MORE in reasons


def test_a_dependency_with_harm_of_its_own_did_not_only_receive_work() -> None:
    kv = ComponentEvidence(
        component=STACK.get("kv"),
        detections=(
            _detection("kv", "redis_commands_processed_total rate", INCIDENT),
            _detection("kv", "redis_evicted_keys_total rate", INCIDENT),
        ),
    )
    assert not only_asked_more(evidence=kv, tolerance=TOLERANCE)


def test_a_dependency_that_only_did_less_once_its_caller_froze_is_a_symptom() -> None:
    # one app instance freezes: its cache clients go idle (input buffers, client memory fall)
    fell = _detection("kv", "redis_mem_clients_normal", INCIDENT, kind=SignalKind.GAUGE)
    fell = Detection(
        signal=fell.signal,
        anomaly=replace(fell.anomaly, direction="down", value=0.2),
        exceedances=10,
        peak=0.2,
    )
    kv = ComponentEvidence(component=STACK.get("kv"), detections=(fell,))
    reason = load_symptom_reason(
        evidence=kv, blame=0.5, root="svc", root_blame=0.5, root_onset=INCIDENT, tolerance=30.0
    )
    assert reason == ASKED_LESS
    # the same fall before the root's onset is its own
    early = load_symptom_reason(
        evidence=kv, blame=0.5, root="svc", root_blame=0.5, root_onset=INCIDENT + 60, tolerance=30.0
    )
    assert early is None


def test_one_new_command_while_the_total_fell_is_no_more_work() -> None:
    # a KEYS loop against a cache: its own command count rises from 0, every other falls
    keys = _detection("kv", "redis_commands_total rate", INCIDENT)
    total = _detection("kv", "redis_commands_processed_total rate", INCIDENT)
    fell = Detection(
        signal=total.signal,
        anomaly=replace(total.anomaly, direction="down", value=0.6),
        exceedances=10,
        peak=0.6,
    )
    kv = ComponentEvidence(component=STACK.get("kv"), detections=(keys, fell))
    assert not took_over_work(evidence=kv, root_onset=INCIDENT, tolerance=TOLERANCE)
    assert not only_asked_more(evidence=kv, tolerance=TOLERANCE)
