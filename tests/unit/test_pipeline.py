"""The pure analysis on synthetic SignalSets: root, affected, aggravating, plan, quiet."""

from __future__ import annotations

import numpy as np

from diagnosis_operator.core.diagnosis.analyse import analyse
from diagnosis_operator.core.diagnosis.collected import SIGNIFICANT_LINES
from diagnosis_operator.models.findings import NO_INCIDENT, ActionType
from diagnosis_operator.models.signals import (
    ComponentSignals,
    Labels,
    LogCount,
    LogLine,
    LogStream,
    Series,
    SignalSet,
    Window,
)
from diagnosis_operator.models.topology import Component, ComponentKind, Topology

START = 2_000_000_000.0
WINDOW = Window(start=START, end=START + 3600.0)
STEP = 15.0
TS = tuple(START + STEP * i for i in range(241))
ONSET = 150  # grid index where the incident starts
RNG = np.random.default_rng(42)

TOPOLOGY = Topology(
    components=(
        Component("edge", ComponentKind.PROXY, Labels({"job": "edge"}), ("web",)),
        Component("web", ComponentKind.APP, Labels({"job": "web"}), ("db", "cache")),
        Component("db", ComponentKind.MYSQL, Labels({"job": "db"})),
        Component("cache", ComponentKind.REDIS, Labels({"job": "cache"})),
    )
)


def counter(name: str, labels: dict[str, str], per_step: np.ndarray) -> Series:
    return Series(name, Labels(labels), TS, tuple(np.cumsum(per_step)))


def noisy(level: float, spread: float) -> np.ndarray:
    return np.abs(RNG.normal(level, spread, len(TS)))


def web(degraded: set[str]) -> ComponentSignals:
    series = []
    for instance in ("w1", "w2", "w3"):
        labels = {"job": "web", "instance": instance}
        ok = np.rint(noisy(150, 5))
        bad = np.zeros(len(TS))
        cpu = noisy(0.25, 0.01) * STEP
        if instance in degraded:
            bad[ONSET + 10 :] = 60
            cpu[ONSET + 10 :] = 0.9 * STEP
        series += [
            counter("http_requests_total", {**labels, "code": "200"}, ok),
            counter("http_requests_total", {**labels, "code": "500"}, bad),
            counter("process_cpu_seconds_total", labels, cpu),
        ]
    return ComponentSignals(component="web", series=tuple(series))


def db(incident: bool) -> ComponentSignals:
    labels = {"job": "db", "instance": "db-0"}
    threads = noisy(20, 1.5)
    lines: list[LogLine] = []
    if incident:
        threads[ONSET:] = 150 + noisy(0, 3)[ONSET:]
        for k in range(4):
            lines.append(
                LogLine(
                    TS[ONSET] + 40 * k,
                    f"[ERROR] InnoDB: Deadlock found; UPDATE stock SET n=n-1 WHERE sku={k}",
                )
            )
        lines.append(LogLine(TS[ONSET] + 200, "[Warning] Too many connections"))
        lines.append(
            LogLine(
                TS[ONSET] + 300,
                "# Query_time: 6.2 Rows_sent: 2 Rows_examined: 800000\nSELECT * FROM ledger "
                "WHERE kind='x';",
            )
        )
    counts = (
        LogCount(
            Labels({"instance": "db-0"}),
            tuple(ln.ts + 1 for ln in lines),
            tuple(1.0 for _ in lines),
        ),
    )
    return ComponentSignals(
        component="db",
        series=(
            Series("mysql_global_status_threads_connected", Labels(labels), TS, tuple(threads)),
        ),
        log_samples=(LogStream(Labels({"instance": "db-0"}), tuple(lines)),) if lines else (),
        extracted={SIGNIFICANT_LINES: counts if lines else ()},
    )


def quiet(name: str) -> ComponentSignals:
    return ComponentSignals(
        component=name,
        series=(
            Series(
                "up_seconds",
                Labels({"job": name, "instance": f"{name}-0"}),
                TS,
                tuple(noisy(5, 0.2)),
            ),
        ),
    )


def signal_set(*, incident: bool, degraded: set[str]) -> SignalSet:
    return SignalSet(
        window=WINDOW,
        step=STEP,
        components={
            "edge": quiet("edge"),
            "web": web(degraded),
            "db": db(incident),
            "cache": quiet("cache"),
        },
    )


def test_database_root_with_one_degraded_instance() -> None:
    result = analyse(
        topology=TOPOLOGY, signals=signal_set(incident=True, degraded={"w2"}), symptom="edge"
    )
    assert result.root_cause.component == "db"
    assert result.root_cause.confidence >= 0.6
    assert [a.instance for a in result.affected] == ["w2"]
    actions = {(r.action, r.target) for r in result.remediations}
    assert (ActionType.DRAIN_POD, "w2") in actions
    assert (ActionType.KILL_MYSQL_QUERIES, "db") in actions
    assert not any(r.action is ActionType.RATE_LIMIT_CLIENT for r in result.remediations)
    web_role = next(c.role for c in result.candidates if c.component == "web")
    assert web_role == "symptom"
    assert any("index" in r.text and "ledger(kind)" in r.text for r in result.recommendations)
    assert result.evidence[0].component == "db"
    assert any(e.event == "first deadlock" for e in result.timeline)


def test_all_instances_hit_alike_lists_none_and_drains_nothing() -> None:
    result = analyse(
        topology=TOPOLOGY,
        signals=signal_set(incident=True, degraded={"w1", "w2", "w3"}),
        symptom=None,
    )
    assert result.root_cause.component == "db"
    assert result.affected == ()
    assert not any(r.action is ActionType.DRAIN_POD for r in result.remediations)


def test_quiet_window_is_no_incident() -> None:
    result = analyse(
        topology=TOPOLOGY, signals=signal_set(incident=False, degraded=set()), symptom=None
    )
    assert result.root_cause.component == NO_INCIDENT
    assert result.remediations == ()
    assert result.affected == () and result.clients == ()


def blip(steps: int) -> SignalSet:
    """One web instance fails most of its requests and burns CPU for ``steps`` steps, then heals."""
    series = []
    for instance in ("w1", "w2", "w3"):
        labels = {"job": "web", "instance": instance}
        ok = np.rint(noisy(150, 5))
        bad = np.zeros(len(TS))
        cpu = noisy(0.25, 0.01) * STEP
        if instance == "w2":
            bad[ONSET : ONSET + steps] = 120
            cpu[ONSET : ONSET + steps] = 0.95 * STEP
        series += [
            counter("http_requests_total", {**labels, "code": "200"}, ok),
            counter("http_requests_total", {**labels, "code": "500"}, bad),
            counter("process_cpu_seconds_total", labels, cpu),
        ]
    components = {name: quiet(name) for name in ("edge", "db", "cache")}
    components["web"] = ComponentSignals(component="web", series=tuple(series))
    return SignalSet(window=WINDOW, step=STEP, components=components)


def test_a_blip_that_healed_is_no_incident_but_is_reported() -> None:
    result = analyse(topology=TOPOLOGY, signals=blip(3), symptom="edge")
    assert result.root_cause.component == NO_INCIDENT
    assert "web" in result.root_cause.summary and "healed by itself" in result.root_cause.summary
    assert result.remediations == () and result.affected == ()
    assert result.evidence and all(e.component == "web" for e in result.evidence)


def test_the_same_failure_sustained_names_a_root_and_acts() -> None:
    result = analyse(topology=TOPOLOGY, signals=blip(40), symptom="edge")
    assert result.root_cause.component == "web"
    assert result.remediations


def test_what_an_exporter_says_about_itself_never_makes_its_component_the_root() -> None:
    # web w1 burns CPU and fails from ONSET + 10; the cache's exporter, earlier, changes
    # its own Go heap and scrape timings: no sign of the cache itself
    heap = noisy(8e6, 1e5)
    heap[ONSET - 20 :] = 4e7
    scrape = noisy(0.002, 0.0001)
    scrape[ONSET - 20 :] = 0.4
    labels = Labels({"job": "cache", "instance": "cache-0"})
    cache = ComponentSignals(
        component="cache",
        series=(
            Series("go_memstats_heap_inuse_bytes", labels, TS, tuple(heap)),
            Series("redis_exporter_last_scrape_duration_seconds", labels, TS, tuple(scrape)),
            *quiet("cache").series,
        ),
    )
    signals = signal_set(incident=False, degraded={"w1"})
    result = analyse(
        topology=TOPOLOGY,
        signals=SignalSet(
            window=WINDOW, step=STEP, components={**signals.components, "cache": cache}
        ),
        symptom="edge",
    )
    assert result.root_cause.component == "web"
    assert all(e.component != "cache" for e in result.evidence)
