"""Writing bundles (``adapters/bundle/writer.py``) and recording windows (``service/record.py``).

What ``bundle record`` writes must load as the bundle it was recorded from: the
family types as Prometheus' metadata API gives them, every series and every log
line (even two a shipper stamped within one millisecond).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from diagnosis_operator.adapters.bundle import BundleSource, load_bundle
from diagnosis_operator.adapters.bundle.writer import (
    BundleWriteError,
    family_of,
    incident_document,
    openmetrics_lines,
    write_bundle,
)
from diagnosis_operator.models.signals import Labels, LogLine, LogStream, MetricType, Series, Window
from diagnosis_operator.models.topology import Component, ComponentKind, Topology
from diagnosis_operator.service.record import record_window

T0 = 1_800_000_000.0
COUNTER, GAUGE = MetricType.COUNTER, MetricType.GAUGE
HISTOGRAM, SUMMARY = MetricType.HISTOGRAM, MetricType.SUMMARY
# As /api/v1/metadata names them: the exposed names, histogram and summary bases.
TYPES = {
    "http_requests_total": COUNTER,
    "mysql_global_status_queries": COUNTER,
    "go_memstats_alloc_bytes": GAUGE,
    "go_memstats_alloc_bytes_total": COUNTER,
    "http_request_duration_seconds": HISTOGRAM,
    "go_gc_duration_seconds": SUMMARY,
}


@pytest.mark.parametrize(
    ("name", "family", "family_type"),
    [
        ("http_requests_total", "http_requests", COUNTER),
        ("mysql_global_status_queries", "mysql_global_status_queries", COUNTER),
        ("go_memstats_alloc_bytes", "go_memstats_alloc_bytes", GAUGE),
        ("go_memstats_alloc_bytes_total", "go_memstats_alloc_bytes_total", COUNTER),
        ("http_request_duration_seconds_bucket", "http_request_duration_seconds", HISTOGRAM),
        ("http_request_duration_seconds_count", "http_request_duration_seconds", HISTOGRAM),
        ("go_gc_duration_seconds", "go_gc_duration_seconds", SUMMARY),
        ("go_gc_duration_seconds_sum", "go_gc_duration_seconds", SUMMARY),
        ("up", "up", GAUGE),
        ("never_described", "never_described", MetricType.UNKNOWN),
    ],
)
def test_family_of_follows_openmetrics(name: str, family: str, family_type: MetricType) -> None:
    assert family_of(name, TYPES) == (family, family_type)


def _series(name: str, value: float, **labels: str) -> Series:
    stamps = (T0, T0 + 15, T0 + 30)
    return Series(
        name=name,
        labels=Labels({"job": "api", "instance": "10.0.0.1:80", **labels}),
        timestamps=stamps,
        values=(value, value * 2, float("nan") if name == "up" else value * 3),
    )


SERIES = [
    _series("http_requests_total", 5, code="500"),
    _series("mysql_global_status_queries", 9),
    _series("go_memstats_alloc_bytes", 100),
    _series("go_memstats_alloc_bytes_total", 1000),
    _series("http_request_duration_seconds_bucket", 3, le="+Inf"),
    _series("http_request_duration_seconds_sum", 0.5),
    _series("http_request_duration_seconds_count", 3),
    _series("go_gc_duration_seconds", 0.001, quantile="0.5"),
    _series("up", 1),
    _series("never_described", 2.5, note='say "hi"\\ok'),
]
TOPOLOGY = Topology(
    components=(
        Component(
            name="api", kind=ComponentKind.APP, selector=Labels({"job": "api"}), depends_on=()
        ),
    )
)
WINDOW = Window(T0, T0 + 30)


def _write(folder: Path, streams: list[LogStream]) -> Path:
    incident = incident_document(
        name="unit", description="writer", window=WINDOW, topology=TOPOLOGY
    )
    return write_bundle(folder, incident=incident, series=SERIES, types=TYPES, streams=streams)


def test_written_bundle_loads_with_every_series_type_and_line(tmp_path: Path) -> None:
    labels = Labels({"job": "api", "instance": "10.0.0.1:80"})
    same_millisecond = (LogLine(ts=T0 + 1.000001, line="a"), LogLine(ts=T0 + 1.000002, line="a"))
    bundle = load_bundle(_write(tmp_path / "b", [LogStream(labels=labels, lines=same_millisecond)]))

    loaded = {(s.name, s.labels): s for s in bundle.series}
    assert len(loaded) == len(SERIES)
    for original in SERIES:
        stored = loaded[(original.name, original.labels)]
        assert len(stored.timestamps_ms) == 3
        assert stored.type == family_of(original.name, TYPES)[1]
    assert [len(stream) for stream in bundle.streams] == [2]
    assert [component.name for component in bundle.topology] == ["api"]
    assert bundle.duplicate_lines == 0
    text = (tmp_path / "b" / "metrics.om").read_text()
    assert text.count("# TYPE http_request_duration_seconds histogram") == 1
    assert text.rstrip().endswith("# EOF")


def test_openmetrics_lines_write_special_values_and_escapes() -> None:
    lines = list(openmetrics_lines(SERIES, TYPES))
    assert any(line.startswith("up{") and " NaN " in line for line in lines)
    assert any('le="+Inf"' in line for line in lines)
    assert any('note="say \\"hi\\"\\\\ok"' in line for line in lines)


def test_write_refuses_a_folder_that_holds_something(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "keep.txt").write_text("mine")
    with pytest.raises(BundleWriteError, match="not an empty folder"):
        _write(tmp_path / "b", [])
    assert (tmp_path / "b" / "keep.txt").read_text() == "mine"


def test_record_window_reads_each_component_and_names_truncation(tmp_path: Path) -> None:
    labels = Labels({"job": "api", "instance": "10.0.0.1:80"})
    lines = tuple(LogLine(ts=T0 + i, line=f"line {i}") for i in range(20))
    source = BundleSource(load_bundle(_write(tmp_path / "b", [LogStream(labels, lines)])))

    whole = record_window(
        topology=TOPOLOGY, window=WINDOW, step=15, series=source, logs=source, max_lines=100
    )
    assert {s.name for s in whole.series} == {s.name for s in SERIES}
    assert sum(len(s.lines) for s in whole.streams) == 20
    assert whole.truncated == ()

    cut = record_window(
        topology=TOPOLOGY, window=WINDOW, step=15, series=source, logs=source, max_lines=5
    )
    assert sum(len(s.lines) for s in cut.streams) == 5
    assert cut.truncated == ("api",)


def test_record_window_lookback_reaches_before_the_window(tmp_path: Path) -> None:
    source = BundleSource(load_bundle(_write(tmp_path / "b", [])))
    late = Window(T0 + 30, T0 + 31)
    plain = record_window(topology=TOPOLOGY, window=late, step=15, series=source, logs=source)
    back = record_window(
        topology=TOPOLOGY, window=late, step=15, series=source, logs=source, lookback=30
    )
    assert min(min(s.timestamps) for s in plain.series) >= late.start
    assert min(min(s.timestamps) for s in back.series) == T0
    with pytest.raises(ValueError, match="lookback"):
        record_window(
            topology=TOPOLOGY, window=late, step=15, series=source, logs=source, lookback=-1
        )
