"""The example generators: deterministic, loadable, and holding what their docs promise."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from examples.incidents import large
from examples.incidents.generate import SCENARIOS, expected_path, generate

from diagnosis_operator.adapters.bundle import BundleSource, load_bundle
from diagnosis_operator.models.bundle import Bundle


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Bundle]:
    out = tmp_path_factory.mktemp("bundles")
    return {name: load_bundle(generate(name, out)) for name in SCENARIOS}


def digest(folder: Path) -> str:
    hashed = hashlib.sha256()
    for name in ("incident.yaml", "metrics.om", "logs.jsonl"):
        hashed.update((folder / name).read_bytes())
    return hashed.hexdigest()


@pytest.mark.parametrize("name", ["reference", "client-flood"])
def test_generators_are_deterministic(tmp_path: Path, name: str) -> None:
    assert digest(generate(name, tmp_path / "a")) == digest(generate(name, tmp_path / "b"))


def test_unknown_scenario(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown scenario 'nope'"):
        generate("nope", tmp_path)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_scenario_loads_and_has_an_expectation(bundles: dict[str, Bundle], name: str) -> None:
    bundle = bundles[name]
    expected = yaml.safe_load(expected_path(name).read_text(encoding="utf-8"))
    assert expected["scenario"] == name
    root = expected["rootCause"]["component"]
    assert root in (*bundle.topology.names, "client", "none")
    for component in bundle.topology:
        assert bundle.series_of(component.selector), component.name
        assert bundle.streams_of(component.selector), component.name
    for affected in expected["affected"]:
        component = bundle.topology.get(affected["component"])
        instances = {s.labels.get("instance") for s in bundle.series_of(component.selector)}
        assert affected["instance"] in instances


def test_scenarios_differ_in_their_surface(bundles: dict[str, Bundle]) -> None:
    names = [bundle.topology.names for bundle in bundles.values()]
    assert len(set(names)) == len(names)
    windows = {bundle.window.start for bundle in bundles.values()}
    assert len(windows) == len(bundles)


def lines_of(bundle: Bundle, selector: dict[str, str]) -> list[tuple[float, str]]:
    return [
        (stamp / 1e9, line)
        for stream in bundle.streams_of(selector)
        for stamp, line in zip(stream.timestamps_ns.tolist(), stream.lines, strict=True)
    ]


def clock(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%H:%M:%S")


def test_reference_holds_the_reports_facts(bundles: dict[str, Bundle]) -> None:
    bundle = bundles["reference"]
    access = [line for _, line in lines_of(bundle, {"job": "nginx", "stream": "access"})]
    bad_gateway = [line for line in access if '" 502 ' in line]
    assert len(bad_gateway) == 12
    times = [float(re.search(r"rt=([\d.]+)", line).group(1)) for line in bad_gateway]  # type: ignore[union-attr]
    assert min(times) > 2 and sum(t > 5 for t in times) == 6
    assert sum('ua="10.0.2.101:8080"' in line for line in bad_gateway) == 11
    retries = [line for line in bad_gateway if line.startswith("192.168.10.100 ")]
    assert len(retries) == 7 and len(set(re.sub(r"rt=[\d.]+", "", line) for line in retries)) == 1
    assert all(
        "[11/Dec/2025:09:19:44 +0000]" in line and "Python-urllib/3.9" in line for line in retries
    )

    mysql = lines_of(bundle, {"job": "mysql"})
    deadlocks = [(t, line) for t, line in mysql if "Deadlock found when trying to get lock" in line]
    assert [clock(t) for t, _ in deadlocks] == ["09:07:07", "09:08:07", "09:09:07", "09:10:07"]
    dumps = " ".join(line for _, line in mysql if "deadlock detected" in line)
    assert all(f"`shop`.`{table}`" in dumps for table in ("payments", "orders", "products"))
    too_many = [(t, line) for t, line in mysql if "ERROR 1040: Too many connections" in line]
    assert [clock(t) for t, _ in too_many] == ["09:10:52"]
    assert "DELETE FROM carts WHERE user_id = 8" in too_many[0][1]
    slow = [line for _, line in mysql if "SELECT * FROM payments WHERE status='FAILED';" in line]
    assert len(slow) == 2
    for entry, when in zip(slow, ("9:12:22", "9:13:52"), strict=True):
        assert entry.startswith("# Time: 251211  " + when)
        query_time = float(re.search(r"# Query_time: ([\d.]+)", entry).group(1))  # type: ignore[union-attr]
        assert query_time > 4.2
        assert re.search(r"Rows_examined: \d{7}", entry)
        assert "\nSET timestamp=" in entry

    slowlog = [line for _, line in lines_of(bundle, {"job": "redis", "stream": "slowlog"})]
    durations = [int(re.search(r"duration_us=(\d+)", line).group(1)) for line in slowlog]  # type: ignore[union-attr]
    assert min(durations) > 100_000 and max(durations) == 498_211
    assert any("cart:22" in line for line in slowlog) and any(
        "counter:login" in line for line in slowlog
    )
    app = " ".join(line for _, line in lines_of(bundle, {"job": "api-server"}))
    for problem in ("key not found", "Connection lost", "Timeout reading"):
        assert problem in app


def test_reference_metrics_tell_the_story_in_order(bundles: dict[str, Bundle]) -> None:
    bundle = bundles["reference"]
    source = BundleSource(bundle)
    window = bundle.window

    def at(hms: str) -> float:
        return datetime.fromisoformat(f"2025-12-11T{hms}+00:00").timestamp()

    def rate_at(selector: dict[str, str], start: str, end: str) -> float:
        series = source.range_series(selector=selector, window=window, step=15)
        total = 0.0
        for one in series:
            points = dict(zip(one.timestamps, one.values, strict=True))
            total += (points[at(end)] - points[at(start)]) / (at(end) - at(start))
        return total

    cpu = {"__name__": "process_cpu_seconds_total", "job": "api-server"}
    assert rate_at({**cpu, "instance": "10.0.2.101:8080"}, "09:20:00", "09:25:00") == pytest.approx(
        0.917, abs=0.05
    )
    assert rate_at({**cpu, "instance": "10.0.2.102:8080"}, "09:20:00", "09:25:00") < 0.35
    assert rate_at({**cpu, "instance": "10.0.2.101:8080"}, "08:40:00", "08:50:00") < 0.35

    def success(instance: str) -> float:
        ok = rate_at(
            {"__name__": "http_requests_total", "instance": instance, "code": "200"},
            "09:12:00",
            "09:30:00",
        )
        failed = rate_at(
            {"__name__": "http_requests_total", "instance": instance, "code": "500"},
            "09:12:00",
            "09:30:00",
        )
        return ok / (ok + failed)

    assert success("10.0.2.101:8080") == pytest.approx(0.63, abs=0.07)
    assert success("10.0.2.102:8080") > 0.98
    assert success("10.0.3.101:8080") > 0.98

    connected = source.range_series(
        selector={"__name__": "mysql_global_status_threads_connected"}, window=window, step=15
    )[0]
    points = dict(zip(connected.timestamps, connected.values, strict=True))
    assert points[at("09:05:00")] < 60 and points[at("09:11:00")] == 151
    lock_waits = rate_at(
        {"__name__": "mysql_global_status_innodb_row_lock_waits"}, "09:08:00", "09:12:00"
    )
    assert lock_waits > 20 * rate_at(
        {"__name__": "mysql_global_status_innodb_row_lock_waits"}, "08:40:00", "09:00:00"
    )
    slowlog = source.range_series(
        selector={"__name__": "redis_slowlog_length"}, window=window, step=15
    )[0]
    slow_points = dict(zip(slowlog.timestamps, slowlog.values, strict=True))
    assert slow_points[at("09:07:45")] == 2 and slow_points[at("09:29:00")] > 20


def test_other_scenarios_hold_their_cause(bundles: dict[str, Bundle]) -> None:
    flood = bundles["client-flood"]
    access = [line for _, line in lines_of(flood, {"job": "lb"})]
    by_client: dict[str, int] = {}
    for line in access:
        client = line.split(" ", 1)[0]
        by_client[client] = by_client.get(client, 0) + 1
    top = sorted(by_client, key=by_client.__getitem__, reverse=True)[:3]
    assert set(top[:2]) == {"100.72.14.9", "100.72.14.10"}
    assert by_client[top[1]] > 20 * by_client[top[2]]

    pod = bundles["bad-pod"]
    memory = {
        s.labels["pod"]: s.values.max()
        for s in pod.series
        if s.name == "process_resident_memory_bytes"
    }
    assert max(memory, key=memory.__getitem__) == "checkout-6f7c9d8b4-x7k2p"
    assert sorted(memory.values())[-2] < 0.5e9

    outage = bundles["cache-outage"]
    up = next(s for s in outage.series if s.name == "redis_up")
    assert 0.0 in up.values.tolist() and up.values[-1] == 1.0

    storm = bundles["db-lock-storm"]
    storm_lines = " ".join(line for _, line in lines_of(storm, {"job": "billing-mysql"}))
    assert "[MY-012468] [InnoDB] Transactions deadlock detected" in storm_lines

    quiet = bundles["quiet"]
    quiet_access = [line for _, line in lines_of(quiet, {"service": "frontend"})]
    assert not any(
        '" 50' in line for line in quiet_access if '" 500 ' in line or '" 502 ' in line
    ) or (sum('" 500 ' in line for line in quiet_access) < 0.005 * len(quiet_access))
    assert any('" 404 ' in line for line in quiet_access)


def test_large_generator_with_small_sizes(tmp_path: Path) -> None:
    folder = large.write(tmp_path / "large", series=300, points=20, lines=3000)
    bundle = load_bundle(folder)
    assert len(bundle.series) == 300
    assert {len(s.values) for s in bundle.series} == {20}
    assert sum(len(stream) for stream in bundle.streams) == 3000
