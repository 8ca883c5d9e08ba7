"""load_bundle: the happy path and every malformed-bundle error, with its file:line."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from diagnosis_operator.adapters.bundle import (
    BundleError,
    background,
    load_bundle,
    loader,
    logs_jsonl,
    openmetrics,
)
from diagnosis_operator.models.signals import Labels, MetricType
from diagnosis_operator.models.timefmt import rfc3339_nanoseconds
from tests.unit.bundle_helpers import INCIDENT, LOGS, METRICS, T0, entry, write_bundle

T = TypeVar("T")


def error_of(folder: Path) -> str:
    with pytest.raises(BundleError) as caught:
        load_bundle(folder)
    return str(caught.value)


def test_tiny_bundle_loads(tmp_path: Path) -> None:
    bundle = load_bundle(write_bundle(tmp_path / "b"))
    assert bundle.name == "tiny"
    assert bundle.topology.names == ("web", "db")
    assert bundle.window.start == T0 + 600
    web_up = bundle.series_of({"job": "web"})
    assert len(web_up) == 1
    assert web_up[0].name == "up"
    assert web_up[0].type is MetricType.GAUGE
    assert web_up[0].timestamps_ms.tolist() == [(T0 + 600) * 1000, (T0 + 615) * 1000]
    assert [stream.labels for stream in bundle.streams] == [
        Labels({"job": "db", "instance": "d1"}),
        Labels({"job": "web", "instance": "w1"}),
    ]
    assert bundle.streams[0].timestamps_ns.tolist() == [(T0 + 720) * 10**9 + 500_000_000]


def test_label_escapes_exemplars_and_special_values(tmp_path: Path) -> None:
    metrics = (
        "# TYPE requests counter\n"
        f'requests_total{{job="web",path="a\\"b\\\\c\\nd",empty=""}} 1 {T0 + 600}\n'
        f'requests_total{{job="web",path="a\\"b\\\\c\\nd",empty=""}} +Inf {T0 + 615} '
        f'# {{trace_id="x y"}} 1 {T0 + 615}\n'
        "# TYPE temperature gauge\n"
        f"temperature NaN {T0 + 600}.5\n"
        f'up{{job="db"}} 1 {T0 + 600}\n'.replace("up{", "temperature{")
        + "# EOF\n"
    )
    bundle = load_bundle(write_bundle(tmp_path / "b", metrics=metrics))
    requests = bundle.series_of({"__name__": "requests_total"})
    assert len(requests) == 1
    # Empty label values are dropped, as Prometheus does.
    assert requests[0].labels == Labels({"job": "web", "path": 'a"b\\c\nd'})
    assert requests[0].values.tolist() == [1.0, math.inf]
    temperature = [s for s in bundle.series if s.name == "temperature" and not s.labels]
    assert temperature[0].timestamps_ms.tolist() == [(T0 + 600) * 1000 + 500]
    assert math.isnan(temperature[0].values[0])


def test_label_order_does_not_split_a_series(tmp_path: Path) -> None:
    metrics = (
        "# TYPE up gauge\n"
        f'up{{job="web",instance="w1"}} 1 {T0 + 600}\n'
        f'up{{instance="w1",job="web"}} 0 {T0 + 615}\n'
        f'up{{job="db"}} 1 {T0 + 600}\n'
        "# EOF\n"
    )
    bundle = load_bundle(write_bundle(tmp_path / "b", metrics=metrics))
    assert [s.values.tolist() for s in bundle.series_of({"job": "web"})] == [[1.0, 0.0]]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('up{job="web"} 1', "sample has no timestamp"),
        ('up{job="web"} one 1735690200', "bad value 'one'"),
        ('up{job="web"} 1 soon', "bad timestamp 'soon'"),
        ('up{job="web"} 1_0 1735690200', "bad value '1_0'"),
        (
            'down{job="web"} 1 1735690200',
            "sample 'down' belongs to no family declared with '# TYPE'",
        ),
        ('up{job="web} 1 1735690200', "label 'job': value not closed"),
        ('up{job="w\\eb"} 1 1735690200', "invalid escape '\\e'"),
        ('up{0job="web"} 1 1735690200', "invalid label name '0job'"),
        ("", "empty line"),
        ("# a stray comment", "unexpected comment"),
    ],
)
def test_bad_openmetrics_line_is_named(tmp_path: Path, line: str, problem: str) -> None:
    metrics = METRICS.replace("# EOF\n", line + "\n# EOF\n")
    message = error_of(write_bundle(tmp_path / "b", metrics=metrics))
    assert message.startswith(f"{tmp_path / 'b' / 'metrics.om'}:6: ")
    assert problem in message


def test_missing_eof_points_past_the_last_line(tmp_path: Path) -> None:
    message = error_of(write_bundle(tmp_path / "b", metrics=METRICS.replace("# EOF\n", "")))
    where = tmp_path / "b" / "metrics.om"
    assert message == f"{where}:6: missing '# EOF' at the end (OpenMetrics needs it last)"


def test_content_after_eof(tmp_path: Path) -> None:
    metrics = METRICS + f'up{{job="web"}} 1 {T0 + 700}\n'
    message = error_of(write_bundle(tmp_path / "b", metrics=metrics))
    assert message.startswith(f"{tmp_path / 'b' / 'metrics.om'}:7: content after '# EOF' (line 6)")


def test_non_increasing_timestamps_in_a_series(tmp_path: Path) -> None:
    metrics = METRICS.replace("# EOF\n", f'up{{job="web",instance="w1"}} 1 {T0 + 615}\n# EOF\n')
    message = error_of(write_bundle(tmp_path / "b", metrics=metrics))
    assert message.startswith(f"{tmp_path / 'b' / 'metrics.om'}:6: timestamp 1735690215.000 of up")
    assert "is not after its previous sample (1735690215.000)" in message


def test_second_type_line(tmp_path: Path) -> None:
    metrics = METRICS.replace("# EOF\n", "# TYPE up counter\n# EOF\n")
    assert error_of(write_bundle(tmp_path / "b", metrics=metrics)).startswith(
        f"{tmp_path / 'b' / 'metrics.om'}:6: second '# TYPE' for family 'up'"
    )


def test_errors_deep_in_a_large_file_keep_their_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small read blocks force many chunks through the vectorised path first.
    monkeypatch.setattr(openmetrics, "_READ_CHARS", 256)
    monkeypatch.setattr(logs_jsonl, "_READ_BYTES", 256)
    lines = ["# TYPE up gauge"]
    lines += [
        f'up{{job="web",instance="w{n % 3}"}} {n} {T0 + 600 + n // 3 * 15}' for n in range(300)
    ]
    lines += [f'up{{job="db"}} 1 {T0 + 600}', "# EOF"]
    good = write_bundle(tmp_path / "good", metrics="\n".join(lines) + "\n")
    bundle = load_bundle(good)
    assert [len(s.values) for s in bundle.series_of({"job": "web"})] == [100, 100, 100]
    assert bundle.series_of({"instance": "w2"})[0].values.tolist() == list(range(2, 300, 3))
    broken = list(lines)
    broken[250] = broken[250].rsplit(" ", 1)[0]  # line 251 loses its timestamp
    message = error_of(write_bundle(tmp_path / "bad", metrics="\n".join(broken) + "\n"))
    assert message.startswith(f"{tmp_path / 'bad' / 'metrics.om'}:251: sample has no timestamp")
    log_lines = [
        entry(f"2025-01-01T00:1{n // 60}:{n % 60:02d}Z", {"job": "web"}, f"line {n}")
        for n in range(200)
    ]
    log_lines[150] = log_lines[150].replace('"ts"', '"time"')
    message = error_of(write_bundle(tmp_path / "bad_logs", logs="\n".join(log_lines) + "\n"))
    assert message == f"{tmp_path / 'bad_logs' / 'logs.jsonl'}:151: entry has no 'ts'"


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('{"ts": "2025-01-01T00:11:00Z", "labels": {"job": "web"}, "line": "x"', "invalid JSON"),
        ('{"labels": {"job": "web"}, "line": "x"}', "entry has no 'ts'"),
        ('{"ts": "2025-01-01T00:11:00Z", "line": "x"}', "entry has no 'labels'"),
        ('{"ts": "2025-01-01T00:11:00Z", "labels": {"job": "web"}}', "entry has no 'line'"),
        (
            '{"ts": "2025-01-01 00:11:00", "labels": {"job": "web"}, "line": "x"}',
            "bad RFC 3339 timestamp '2025-01-01 00:11:00'",
        ),
        (
            '{"ts": "2025-13-01T00:11:00Z", "labels": {"job": "web"}, "line": "x"}',
            "bad RFC 3339 timestamp",
        ),
        ('{"ts": 1735690260, "labels": {"job": "web"}, "line": "x"}', "'ts' must be an RFC 3339"),
        (
            '{"ts": "2025-01-01T00:11:00Z", "labels": {"job": 7}, "line": "x"}',
            "label 'job' must be a string, got 7",
        ),
        (
            '{"ts": "2025-01-01T00:11:00Z", "labels": {"job": ["a"]}, "line": "x"}',
            "label 'job' must be a string",
        ),
        ('{"ts": "2025-01-01T00:11:00Z", "labels": {}, "line": "x"}', "at least one"),
        (
            '{"ts": "2025-01-01T00:11:00Z", "labels": {"job": "web"}, "line": "x", "level": 3}',
            "unknown field(s) 'level'",
        ),
        ('["2025-01-01T00:11:00Z"]', "must be a JSON object"),
    ],
)
def test_bad_log_entry_is_named(tmp_path: Path, line: str, problem: str) -> None:
    message = error_of(write_bundle(tmp_path / "b", logs=LOGS + line + "\n"))
    assert message.startswith(f"{tmp_path / 'b' / 'logs.jsonl'}:3: ")
    assert problem in message


def test_offsets_and_lowercase_rfc3339_are_accepted(tmp_path: Path) -> None:
    logs = (
        LOGS + entry("2025-01-01t01:11:00.25+01:00", {"job": "web", "instance": "w2"}, "x") + "\n"
    )
    bundle = load_bundle(write_bundle(tmp_path / "b", logs=logs))
    stream = bundle.streams_of({"instance": "w2"})[0]
    assert stream.timestamps_ns.tolist() == [(T0 + 660) * 10**9 + 250_000_000]


def test_duplicate_entries_are_dropped_like_loki(tmp_path: Path) -> None:
    same = entry("2025-01-01T00:11:00Z", {"job": "web", "instance": "w1"}, "GET / 200")
    other = entry("2025-01-01T00:11:00Z", {"job": "web", "instance": "w1"}, "GET / 500")
    bundle = load_bundle(write_bundle(tmp_path / "b", logs=LOGS + same + "\n" + other + "\n"))
    assert bundle.duplicate_lines == 1
    assert bundle.streams_of({"instance": "w1"})[0].lines == ("GET / 200", "GET / 500")


def test_unsorted_lines_are_sorted_per_stream(tmp_path: Path) -> None:
    logs = "\n".join(
        [
            entry("2025-01-01T00:13:00Z", {"job": "web"}, "third"),
            entry("2025-01-01T00:11:00Z", {"job": "web"}, "first"),
            entry("2025-01-01T00:12:00Z", {"job": "db"}, "db"),
            entry("2025-01-01T00:12:00Z", {"job": "web"}, "second"),
        ]
    )
    bundle = load_bundle(write_bundle(tmp_path / "b", logs=logs))
    assert bundle.streams_of({"job": "web"})[0].lines == ("first", "second", "third")


def test_selector_matching_nothing_names_the_selector_line(tmp_path: Path) -> None:
    incident = INCIDENT.replace("selector: {job: db}", "selector: {job: database}")
    message = error_of(write_bundle(tmp_path / "b", incident=incident))
    assert message == (
        f"{tmp_path / 'b' / 'incident.yaml'}:14: component 'db': selector "
        '{job="database"} matches no series in metrics.om and no stream in logs.jsonl'
    )


def test_window_outside_the_data(tmp_path: Path) -> None:
    incident = INCIDENT.replace("2025-01-01T00:10:00Z", "2025-02-01T00:10:00Z").replace(
        "2025-01-01T00:20:00Z", "2025-02-01T00:20:00Z"
    )
    message = error_of(write_bundle(tmp_path / "b", incident=incident))
    assert message.startswith(f"{tmp_path / 'b' / 'incident.yaml'}:3: window ")
    assert "holds no metric sample and no log line" in message
    assert "the data spans [2025-01-01T00:10:00Z, 2025-01-01T00:12:00.500Z]" in message


@pytest.mark.parametrize(
    ("change", "line", "problem"),
    [
        (("dependsOn: [db]", "dependsOn: [cache]"), 11, "dependsOn unknown component 'cache'"),
        (("selector: {job: db}", "selector: {job: db}\n      dependsOn: [web]"), 11, "cycle"),
        (
            ("format: incident-bundle/v1", "format: incident-bundle/v2"),
            1,
            "unknown format 'incident-bundle/v2'",
        ),
        (("kind: mysql", "kind: postgres"), 13, "topology.components.1.kind"),
        (('end: "2025-01-01T00:20:00Z"', 'end: "2025-01-01T00:05:00Z"'), 5, "is not after"),
        (
            ('start: "2025-01-01T00:10:00Z"', 'start: "2025-01-01T00:10:00"'),
            4,
            "window.start: needs a time zone",
        ),
        (("name: tiny", "name: tiny\nowner: me"), 3, "owner: Extra inputs are not permitted"),
        (("selector: {job: web}", "selector: {}"), 10, "selector"),
    ],
)
def test_bad_incident_yaml(
    tmp_path: Path, change: tuple[str, str], line: int, problem: str
) -> None:
    incident = INCIDENT.replace(*change)
    message = error_of(write_bundle(tmp_path / "b", incident=incident))
    assert message.startswith(f"{tmp_path / 'b' / 'incident.yaml'}:{line}: ")
    assert problem in message


def test_invalid_yaml_and_missing_files(tmp_path: Path) -> None:
    message = error_of(write_bundle(tmp_path / "a", incident="format: [\n"))
    assert message.startswith(f"{tmp_path / 'a' / 'incident.yaml'}:2: invalid YAML")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "missing: a bundle needs incident.yaml" in error_of(empty)
    only_yaml = write_bundle(tmp_path / "c", metrics=None, logs=None)
    assert "holds neither metrics.om nor logs.jsonl" in error_of(only_yaml)
    assert "not a directory" in error_of(tmp_path / "nowhere")


def test_metrics_only_bundle(tmp_path: Path) -> None:
    bundle = load_bundle(write_bundle(tmp_path / "b", logs=None))
    assert bundle.streams == ()


def test_progress_is_reported(tmp_path: Path) -> None:
    seen: list[tuple[str, int, bool]] = []
    load_bundle(
        write_bundle(tmp_path / "b"),
        progress=lambda p: seen.append((Path(p.file).name, p.lines_read, p.done)),
    )
    assert ("metrics.om", 6, True) in seen
    assert ("logs.jsonl", 2, True) in seen


@pytest.mark.parametrize("digits", [0, 1, 3, 6, 9])
def test_stamps_of_one_width_read_as_rfc3339(tmp_path: Path, digits: int) -> None:
    """A block whose stamps share a width is checked by column; the same instants result."""
    fraction = f".{'123456789'[:digits]}" if digits else ""
    stamps = [f"2025-01-01T00:1{n // 60}:{n % 60:02d}{fraction}Z" for n in range(120)]
    logs = "\n".join(entry(stamp, {"job": "web"}, f"line {n}") for n, stamp in enumerate(stamps))
    bundle = load_bundle(write_bundle(tmp_path / "b", logs=logs + "\n"))
    [stream] = bundle.streams_of({"job": "web"})
    assert stream.timestamps_ns.tolist() == [rfc3339_nanoseconds(stamp) for stamp in stamps]


@pytest.mark.parametrize(
    "stamp",
    ["2025-01-01T00:11:00.1x5Z", "2025-01-01T00:11:00,125Z",
     "2025/01-01T00:11:00.125Z", "2025-01-01T00:11:60.125Z", "2025-01-01T00:11:00.12\u00e9Z"],
)  # fmt: skip
def test_a_bad_stamp_among_stamps_of_its_width_is_named(tmp_path: Path, stamp: str) -> None:
    good = [entry(f"2025-01-01T00:11:{n:02d}.125Z", {"job": "web"}, "x") for n in range(40)]
    good[30] = entry(stamp, {"job": "web"}, "x")
    message = error_of(write_bundle(tmp_path / "b", logs="\n".join(good) + "\n"))
    assert message.startswith(f"{tmp_path / 'b' / 'logs.jsonl'}:31: bad RFC 3339 timestamp")


def _counting_forks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Force metrics.om into a forked child; record each start and each wait for it."""
    events: list[str] = []
    real = background.start_forked

    def start(function: Callable[[], T]) -> Callable[[], T]:
        events.append("forked")
        waiter = real(function)

        def waited() -> T:
            events.append("waited")
            return waiter()

        return waited

    monkeypatch.setattr(loader, "FORK_METRICS_BYTES", 0)
    monkeypatch.setattr(background, "start_forked", start)
    return events


def test_meanwhile_runs_once_while_metrics_are_parsed_in_a_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = write_bundle(tmp_path / "b")
    inline = load_bundle(folder)
    events = _counting_forks(monkeypatch)
    bundle = load_bundle(folder, meanwhile=lambda: events.append("meanwhile"))
    assert events == ["forked", "meanwhile", "waited"]
    assert [s.labels for s in bundle.series] == [s.labels for s in inline.series]
    assert [s.values.tolist() for s in bundle.series] == [s.values.tolist() for s in inline.series]
    assert [s.lines for s in bundle.streams] == [s.lines for s in inline.streams]


def test_a_failing_meanwhile_is_raised_after_the_child_is_reaped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = _counting_forks(monkeypatch)

    def fail() -> None:
        raise RuntimeError("import failed")

    with pytest.raises(RuntimeError, match="import failed"):
        load_bundle(write_bundle(tmp_path / "b"), meanwhile=fail)
    assert events == ["forked", "waited"]


def test_a_log_error_wins_over_the_metrics_child_and_reaps_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = _counting_forks(monkeypatch)
    folder = write_bundle(tmp_path / "b", metrics="garbage\n", logs="not json\n")
    with pytest.raises(BundleError, match=r"logs\.jsonl:1: invalid JSON"):
        load_bundle(folder, meanwhile=lambda: events.append("meanwhile"))
    assert events == ["forked", "waited"]


def test_series_of_through_its_index_picks_what_a_scan_picks(tmp_path: Path) -> None:
    lines = ["# TYPE req gauge", "# TYPE up gauge"]
    lines += [
        f'req{{job="{job}",instance="{job}{number}",code="{code}"}} 1 {T0 + 600}'
        for job in ("web", "db")
        for number in range(3)
        for code in ("200", "500", "")
    ]
    lines += [f'up{{job="web"}} 1 {T0 + 600}', "# EOF"]
    bundle = load_bundle(write_bundle(tmp_path / "b", metrics="\n".join(lines) + "\n"))
    selectors: list[dict[str, str]] = [
        {},
        {"job": "web"},
        {"job": "web", "code": "500"},
        {"__name__": "up"},
        {"__name__": "req", "instance": "db2"},
        {"code": ""},
        {"job": "nobody"},
        {"job": "web", "instance": "db1"},
    ]
    for selector in selectors:
        scanned = tuple(
            stored
            for stored in bundle.series
            if all(
                (stored.name if name == "__name__" else stored.labels.get(name)) == value
                for name, value in selector.items()
            )
        )
        assert bundle.series_of(selector) == scanned, selector
    assert len(bundle.series_of({"job": "web", "code": "500"})) == 3
