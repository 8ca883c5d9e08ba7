"""General models of database failures (issue 10, round 6): each rule on small made-up data.

* a member of a component is named by its own service's exporter (``members``);
* a semi-synchronous primary depends on its replicas (``replication``);
* a caller's release leaking a server resource to its limit is the root (``leaks``);
* a caller's failure begins with its harm, not with more traffic (``harm_onset``);
* the catalogue knows error 1461 and Galera flow control (``modes_mysql_more``).
"""

from __future__ import annotations

import numpy as np

from diagnosis_operator.catalog.failure_modes import compiled, modes_of
from diagnosis_operator.catalog.mode_types import MYSQL
from diagnosis_operator.core.diagnosis.affected import AffectedFinding, find_affected
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.leaks import arrivals, climb, find_leak, rerooted
from diagnosis_operator.core.diagnosis.logs import ComponentLogs, LogCategory, read_event
from diagnosis_operator.core.diagnosis.members import by_own_exporter, host_of, own_members
from diagnosis_operator.core.diagnosis.modes import rank_modes
from diagnosis_operator.core.diagnosis.ranking import ROLE_ROOT, ROLE_SYMPTOM, Ranking, rank
from diagnosis_operator.core.diagnosis.replication import waits_for_replica, with_replicas
from diagnosis_operator.core.diagnosis.reported import reported_failures
from diagnosis_operator.core.diagnosis.signal_types import Detection, Signal, SignalKind
from diagnosis_operator.core.diagnosis.signals import grid_timestamps
from diagnosis_operator.models.findings import AffectedInstance, Anomaly, Candidate, RootCause
from diagnosis_operator.models.signals import Labels, Window
from diagnosis_operator.models.topology import Component, ComponentKind, Topology

T0 = 1_700_000_000.0
WINDOW = Window(start=T0, end=T0 + 3600.0)
STEP = 30.0
TS = grid_timestamps(window=WINDOW, step=STEP)


def _signal(
    component: str,
    name: str,
    values: np.ndarray,
    instance: str | None = None,
    kind: SignalKind = SignalKind.GAUGE,
) -> Signal:
    labels = Labels({"instance": instance} if instance else {})
    return Signal(component, instance, name, name, kind, name, values, labels)


def _detection(
    component: str,
    name: str,
    onset: float,
    *,
    direction: str = "up",
    kind: SignalKind = SignalKind.GAUGE,
    score: float = 80.0,
) -> Detection:
    values = np.where(onset <= TS, 1.0 if direction == "up" else 0.0, 0.5)
    anomaly = Anomaly(
        component=component,
        signal=name,
        instance=None,
        onset=onset,
        peak_ts=onset,
        value=1.0 if direction == "up" else 0.0,
        baseline=0.5,
        score=score,
        direction=direction,
        query=name,
    )
    signal = _signal(component, name, values, kind=kind)
    return Detection(signal=signal, anomaly=anomaly, exceedances=10, peak=anomaly.value)


def _logs(component: str, start: float, line: str, count: int = 20) -> ComponentLogs:
    events = tuple(
        read_event(component=component, instance=None, ts=start + 10 * i, line=line, query="")
        for i in range(count)
    )
    return ComponentLogs(component=component, events=events)


# --- a member named by its own service's exporter ---------------------------------------

DB = Component("db", ComponentKind.MYSQL, Labels({"service": "db"}))
APP = Component("app", ComponentKind.APP, Labels({"job": "app"}))


def _finding(component: str, instance: str, reason: str) -> AffectedFinding:
    return AffectedFinding(
        instance=AffectedInstance(component=component, instance=instance, reason=reason),
        detections=(),
    )


def test_a_database_host_is_named_by_its_mysqld_exporter_not_its_node_exporter() -> None:
    flat = np.zeros(TS.size)
    signals = [
        _signal("db", "mysql_global_status_threads_running", flat, f"10.0.0.{i}:9104")
        for i in (1, 2)
    ] + [_signal("db", "node_cpu_seconds_total rate", flat, f"10.0.0.{i}:9100") for i in (1, 2)]
    assert own_members(DB, signals)["10.0.0.2:9100"] == "10.0.0.2:9104"
    findings = [
        _finding("db", "10.0.0.2:9100", "iowait 60%"),
        _finding("db", "10.0.0.2:9104", "recv queue 300"),
    ]
    named, members = by_own_exporter(DB, signals, findings)
    assert [f.instance.instance for f in named] == ["10.0.0.2:9104"]
    assert "iowait" in named[0].instance.reason and "recv queue" in named[0].instance.reason
    assert members == 2


def test_an_application_or_an_ambiguous_host_keeps_its_instances() -> None:
    flat = np.zeros(TS.size)
    app = [_signal("app", "http_requests_total rate", flat, "10.0.0.1:8080")]
    app.append(_signal("app", "node_cpu_seconds_total rate", flat, "10.0.0.1:9100"))
    assert own_members(APP, app)["10.0.0.1:9100"] == "10.0.0.1:9100"
    # two mysqld exporters on one host (two servers): neither names the node's series
    two = [_signal("db", "mysql_up", flat, f"10.0.0.1:{port}") for port in (9104, 9105)]
    two.append(_signal("db", "node_load1", flat, "10.0.0.1:9100"))
    assert own_members(DB, two)["10.0.0.1:9100"] == "10.0.0.1:9100"
    assert host_of("[fd00::1]:9104") == "fd00::1"


# --- a semi-synchronous primary depends on its replicas ---------------------------------

PRIMARY = Component("primary", ComponentKind.MYSQL, Labels({"job": "primary"}))
REPLICA = Component("replica", ComponentKind.MYSQL, Labels({"job": "replica"}))
API = Component("api", ComponentKind.APP, Labels({"job": "api"}), ("primary",))
ORDERS = Topology(components=(API, PRIMARY, REPLICA))
DEATH = T0 + 1800.0


def _replica_down() -> ComponentEvidence:
    return ComponentEvidence(
        component=REPLICA, detections=(_detection("replica", "mysql_up", DEATH, direction="down"),)
    )


def _primary(waits: bool) -> ComponentEvidence:
    name = "mysql_global_status_rpl_semi_sync_source_wait_sessions" if waits else "mysql_x"
    return ComponentEvidence(
        component=PRIMARY,
        detections=(
            _detection("primary", name, DEATH + 15),
            _detection("primary", "mysql_global_status_threads_running", DEATH + 15),
        ),
    )


def test_a_primary_waiting_for_acks_depends_on_the_replica_that_went_down() -> None:
    evidence = {"api": ComponentEvidence(component=API), "replica": _replica_down()}
    evidence["primary"] = _primary(waits=True)
    assert waits_for_replica(evidence["primary"])
    implied = with_replicas(topology=ORDERS, evidence=evidence)
    assert implied.get("primary").depends_on == ("replica",)
    ranking = rank(topology=implied, evidence=evidence, clients=[], window=WINDOW, step=STEP)
    assert ranking.root_cause.component == "replica"


def test_a_primary_that_does_not_wait_for_acks_gains_no_dependency() -> None:
    evidence = {"api": ComponentEvidence(component=API), "replica": _replica_down()}
    evidence["primary"] = _primary(waits=False)
    assert with_replicas(topology=ORDERS, evidence=evidence) is ORDERS
    # waiting, but no other MySQL component failed: nothing to add either
    evidence = {"api": ComponentEvidence(component=API), "primary": _primary(waits=True)}
    evidence["replica"] = ComponentEvidence(component=REPLICA)
    assert with_replicas(topology=ORDERS, evidence=evidence) is ORDERS


# --- a release leaking a server resource up to the server's limit -----------------------

LIMIT = 16382.0
RELEASE = 10  # the step the leaking release starts (and the climb with it)
FULL = 60  # the step the usage reaches the limit


def _ramp(full_step: int = FULL) -> np.ndarray:
    steps = np.arange(TS.size, dtype=np.float64)
    climbing = 300.0 + (LIMIT - 300.0) * (steps - RELEASE) / (full_step - RELEASE)
    return np.clip(np.where(steps < RELEASE, 300.0, climbing), 300.0, LIMIT)


def test_a_steady_climb_to_the_limit_has_a_start_and_an_end() -> None:
    found = climb(_ramp(), limit=LIMIT, timestamps=TS)
    assert found is not None
    start, full = found
    # the start is read where the usage left its low (within a few steps), the end exactly
    assert TS[RELEASE] <= start <= TS[RELEASE] + 3 * STEP
    assert full in (TS[FULL - 1], TS[FULL])


def test_a_burst_to_the_limit_or_a_usage_below_it_is_no_leak() -> None:
    burst = np.where(np.arange(TS.size) < 50, 300.0, LIMIT)
    assert climb(burst, limit=LIMIT, timestamps=TS) is None
    assert climb(_ramp() * 0.5, limit=LIMIT, timestamps=TS) is None
    assert climb(_ramp(), limit=float("nan"), timestamps=TS) is None


def _leak_stack() -> tuple[Topology, dict[str, list[Signal]]]:
    db = Component("events-db", ComponentKind.MYSQL, Labels({"job": "events-db"}))
    api = Component("events-api", ComponentKind.APP, Labels({"job": "events-api"}), ("events-db",))
    worker = Component("worker", ComponentKind.APP, Labels({"job": "worker"}), ("events-db",))
    topology = Topology(components=(api, worker, db))
    present = np.ones(TS.size)
    arrived = np.where(np.arange(TS.size) >= RELEASE, 1.0, np.nan)
    signals = {
        "events-db": [
            _signal("events-db", "mysql_global_status_prepared_stmt_count", _ramp(), "db:9104"),
            _signal(
                "events-db",
                "mysql_global_variables_max_prepared_stmt_count",
                np.full(TS.size, LIMIT),
                "db:9104",
            ),
        ],
        "events-api": [_signal("events-api", "http_requests_total rate", present, "api:80")],
        "worker": [_signal("worker", "batches_total rate", arrived, "worker-new:8081")],
    }
    return topology, signals


def test_the_caller_whose_release_began_the_climb_leaked() -> None:
    topology, signals = _leak_stack()
    assert arrivals(signals["worker"], TS) == {"worker-new:8081": TS[RELEASE]}
    leak = find_leak(topology=topology, signals=signals, timestamps=TS, step=STEP)
    assert leak is not None
    assert (leak.database, leak.leaker, leak.instance) == ("events-db", "worker", "worker-new:8081")
    assert leak.resource.resource == "prepared statements"
    # the database, named root by its refusals at the limit, hands the root to the leaker
    ranking = Ranking(
        root_cause=RootCause(
            component="events-db", kind="mysql", instance=None, confidence=0.8, summary=""
        ),
        candidates=(Candidate(component="events-db", score=0.8, role=ROLE_ROOT),),
        scores=(),
        root_onset=float(TS[FULL]),
    )
    moved = rerooted(ranking=ranking, leak=leak, topology=topology, tolerance=60.0)
    assert moved.root_cause.component == "worker"
    assert {c.component: c.role for c in moved.candidates} == {
        "worker": ROLE_ROOT,
        "events-db": ROLE_SYMPTOM,
    }
    # a failure that began long before the limit was reached is not the leak's doing
    early = Ranking(ranking.root_cause, ranking.candidates, (), root_onset=float(TS[RELEASE]))
    assert rerooted(ranking=early, leak=leak, topology=topology, tolerance=60.0) is early


def test_no_release_or_several_at_the_climb_start_names_no_leaker() -> None:
    topology, signals = _leak_stack()
    signals["worker"] = [_signal("worker", "batches_total rate", np.ones(TS.size), "w:8081")]
    assert find_leak(topology=topology, signals=signals, timestamps=TS, step=STEP) is None
    topology, signals = _leak_stack()
    arrived = np.where(np.arange(TS.size) >= RELEASE, 1.0, np.nan)
    signals["events-api"] = [_signal("events-api", "http_requests_total rate", arrived, "a:80")]
    assert find_leak(topology=topology, signals=signals, timestamps=TS, step=STEP) is None


# --- a caller's failure begins with its harm --------------------------------------------

BLOG = Topology(
    components=(
        Component("php", ComponentKind.APP, Labels({"job": "php"}), ("blogdb",)),
        Component("blogdb", ComponentKind.MYSQL, Labels({"job": "blogdb"})),
    )
)


def test_more_traffic_before_the_database_failed_does_not_make_the_caller_the_root() -> None:
    surge, failed = T0 + 1800.0, T0 + 1950.0
    php = ComponentEvidence(
        component=BLOG.get("php"),
        detections=(
            _detection(
                "php", "http_request_duration_seconds_sum rate", surge, kind=SignalKind.RATE
            ),
            _detection(
                "php", "http_request_duration_seconds mean", failed + 60, kind=SignalKind.LATENCY
            ),
            _detection("php", "phpfpm_listen_queue", failed + 60),
        ),
    )
    assert php.onset == surge and php.harm_onset == failed + 60
    db = ComponentEvidence(
        component=BLOG.get("blogdb"),
        detections=(
            _detection("blogdb", "mysql_global_status_threads_running", failed),
            _detection(
                "blogdb", "mysql_global_status_slow_queries rate", failed, kind=SignalKind.RATE
            ),
        ),
        logs=_logs("blogdb", failed, "# Query_time: 2.1  Lock_time: 0.0 Rows_examined: 3"),
    )
    evidence = {"php": php, "blogdb": db}
    ranking = rank(topology=BLOG, evidence=evidence, clients=[], window=WINDOW, step=STEP)
    assert ranking.root_cause.component == "blogdb"


SHOP = Topology(
    components=(
        Component("api", ComponentKind.APP, Labels({"job": "api"}), ("cache", "shopdb")),
        Component("cache", ComponentKind.REDIS, Labels({"job": "cache"})),
        Component("shopdb", ComponentKind.MYSQL, Labels({"job": "shopdb"})),
    )
)


def test_a_first_change_another_dependency_explains_stays_the_callers_onset() -> None:
    evicted, moved, slowed, db_slow = T0 + 1800.0, T0 + 1830.0, T0 + 1890.0, T0 + 1905.0
    api = ComponentEvidence(
        component=SHOP.get("api"),
        detections=(
            _detection(
                "api", "http_request_duration_seconds_sum rate", moved, kind=SignalKind.RATE
            ),
            _detection(
                "api", "http_request_duration_seconds mean", slowed, kind=SignalKind.LATENCY
            ),
            _detection("api", "api_db_queries_total rate", moved, kind=SignalKind.RATE),
        ),
    )
    cache = ComponentEvidence(
        component=SHOP.get("cache"),
        detections=(
            _detection("cache", "redis_evicted_keys_total rate", evicted, kind=SignalKind.RATE),
            _detection("cache", "redis_keyspace_misses_total rate", evicted, kind=SignalKind.RATE),
        ),
    )
    db = ComponentEvidence(
        component=SHOP.get("shopdb"),
        detections=(
            *(
                _detection("shopdb", f"mysql_global_status_{name}", db_slow)
                for name in ("threads_running", "threads_connected", "innodb_rows_read")
            ),
            _detection(
                "shopdb", "mysql_global_status_slow_queries rate", db_slow, kind=SignalKind.RATE
            ),
        ),
        logs=_logs("shopdb", db_slow, "# Query_time: 2.1  Lock_time: 0.0 Rows_examined: 3"),
    )
    evidence = {"api": api, "cache": cache, "shopdb": db}
    # the cache's evictions came before the caller's first change: the cache is the root,
    # the database (slow only once the misses reached it) is not moved ahead by the harm onset
    ranking = rank(topology=SHOP, evidence=evidence, clients=[], window=WINDOW, step=STEP)
    assert ranking.root_cause.component == "cache"


# --- the catalogue: error 1461, Galera flow control -------------------------------------


def test_error_1461_is_the_mysql_prepared_statement_limit_in_its_callers_words() -> None:
    line = (
        'level=error msg="insert event" error="Error 1461 (42000): Can\'t create more than '
        'max_prepared_stmt_count statements (current value: 16382)"'
    )
    fits = rank_modes(modes_of([MYSQL]), metric_names=[], own_lines=[], caller_lines=[line] * 8)
    assert fits[0].mode.name == "prepared statement exhaustion"
    assert all(m.sources for m in modes_of([MYSQL]))
    db = Component("db", ComponentKind.MYSQL, Labels({"job": "db"}))
    api = Component("api", ComponentKind.APP, Labels({"job": "api"}), ("db",))
    topology = Topology(components=(api, db))
    evidence = {
        "db": ComponentEvidence(component=db),
        "api": ComponentEvidence(component=api, logs=_logs("api", T0 + 2400.0, line)),
    }
    reported = reported_failures(topology=topology, evidence=evidence, window=WINDOW)
    assert LogCategory.REFUSED in reported["db"]


def test_galera_flow_control_is_named_by_its_status_and_its_log() -> None:
    fits = rank_modes(
        modes_of([MYSQL]),
        metric_names=[
            "mysql_global_status_wsrep_flow_control_paused",
            "mysql_global_status_wsrep_local_recv_queue",
        ],
        own_lines=["WSREP: Flow-control: sent FC_PAUSE (recv queue 312 > fc_limit 256)"] * 4,
        caller_lines=[],
    )
    assert fits[0].mode.name == "flow control"
    assert any(
        compiled(p).search("mysql_global_status_wsrep_flow_control_sent")
        for p in fits[0].mode.metrics
    )


def test_one_server_seen_by_several_exporters_has_no_sibling_to_be_singled_out_from() -> None:
    # One PostgreSQL host: its own exporter (9187, which also labels the server's log)
    # and node_exporter (9100).  Two scrape targets, one server: its error lines are the
    # component's, not one instance's among healthy siblings.
    pg = Component("pg", ComponentKind.OTHER, Labels({"job": "pg"}))
    topology = Topology(components=(pg,))
    lines = np.zeros(TS.size)
    lines[TS.size // 2 :] = 5.0
    own = [
        _signal("pg", "pg_up", np.ones(TS.size), "10.0.0.5:9187"),
        _signal("pg", "log lines", lines, "10.0.0.5:9187", SignalKind.LOG_SIGNIFICANT),
    ]
    node = [
        _signal("pg", "node_load1", np.ones(TS.size), "10.0.0.5:9100"),
        _signal("pg", "log lines", np.zeros(TS.size), "10.0.0.5:9100", SignalKind.LOG_SIGNIFICANT),
    ]
    onset = float(TS[TS.size // 2])
    anomaly = Anomaly("pg", "log lines", "10.0.0.5:9187", onset, onset, 5.0, 0.0, 50.0, "up", "q")
    detection = Detection(own[1], anomaly, TS.size // 2, 50.0)
    found = find_affected(
        topology=topology,
        detections={"pg": [detection]},
        signals={"pg": own + node},
        timestamps=TS,
        upstream_errors={},
    )
    assert found == []
    # the same line on one of two servers (two hosts, each with its own exporters) is singled out
    other = [
        _signal("pg", "pg_up", np.ones(TS.size), "10.0.0.6:9187"),
        _signal("pg", "log lines", np.zeros(TS.size), "10.0.0.6:9187", SignalKind.LOG_SIGNIFICANT),
    ]
    found = find_affected(
        topology=topology,
        detections={"pg": [detection]},
        signals={"pg": own + node + other},
        timestamps=TS,
        upstream_errors={},
    )
    assert [f.instance.instance for f in found] == ["10.0.0.5:9187"]
