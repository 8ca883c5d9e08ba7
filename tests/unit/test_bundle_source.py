"""BundleSource: Prometheus and Loki semantics, exactly as adapters/ports.py writes them."""

from __future__ import annotations

from pathlib import Path

import pytest

from diagnosis_operator.adapters import logql, promql
from diagnosis_operator.adapters.bundle import BundleSource, load_bundle
from diagnosis_operator.adapters.bundle.regex_dialect import check_common_regex
from diagnosis_operator.models.signals import Labels, Window
from diagnosis_operator.models.timefmt import prometheus_ms
from diagnosis_operator.ports import LogSource, SeriesSource, SignalError
from tests.unit.bundle_helpers import INCIDENT, T0, entry, write_bundle


def iso(offset: float) -> str:
    whole = int(offset)
    millis = round((offset - whole) * 1000)
    minutes, seconds = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    return f"2025-01-01T{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}Z"


@pytest.fixture
def source(tmp_path: Path) -> BundleSource:
    metrics = "\n".join(
        [
            "# TYPE up gauge",
            # Samples at +600, +615, +630, then a gap to +1000 (more than 5 minutes).
            *(
                f'up{{job="web",instance="w1"}} {v} {T0 + t}'
                for t, v in ((600, 1), (615, 2), (630, 3), (1000, 4))
            ),
            f'up{{job="web",instance="w2"}} 7 {T0 + 400}',
            f'up{{job="db"}} 1 {T0 + 600}',
            "# TYPE errors counter",
            f'errors_total{{job="web",instance="w1"}} 5 {T0 + 600.0004}',
            "# EOF",
        ]
    )
    web = {"job": "web", "instance": "w1"}
    logs = [
        # Exactly on a step boundary (+660) and just after it.
        entry(iso(660), web, "client=10.0.0.1 GET /a 200"),
        entry(iso(660.001), web, "client=10.0.0.1 GET /a 500"),
        entry(iso(600), web, "client=10.0.0.2 GET /b 200"),
        entry(iso(599.999), web, "client=10.0.0.3 GET /b 200"),
        entry(iso(700), {"job": "web", "instance": "w2"}, "client=10.0.0.2 GET /c 502"),
        entry(iso(701), {"job": "web", "instance": "w2"}, "no client here 200"),
        entry(iso(702), {"job": "web", "instance": "w2"}, "client=10.0.0.9 GET /d 200"),
        entry(iso(1200), web, "client=10.0.0.4 at the window end"),
        entry(iso(650), {"job": "db"}, "ready"),
    ]
    bundle = load_bundle(
        write_bundle(tmp_path / "b", metrics=metrics + "\n", logs="\n".join(logs) + "\n")
    )
    return BundleSource(bundle)


def window(start: float, end: float) -> Window:
    return Window(start=T0 + start, end=T0 + end)


def test_implements_both_ports(source: BundleSource) -> None:
    series_source: SeriesSource = source
    log_source: LogSource = source
    assert series_source.describe_selector(selector={"job": "web"}) == promql.selector(
        {"job": "web"}
    )
    assert log_source is source


def test_range_series_takes_the_newest_sample_within_five_minutes(source: BundleSource) -> None:
    found = source.range_series(
        selector={"job": "web", "instance": "w1", "__name__": "up"},
        window=window(590, 1010),
        step=20,
    )
    assert len(found) == 1
    series = found[0]
    assert series.name == "up"
    assert series.labels == Labels({"job": "web", "instance": "w1"})
    steps = [T0 + 590 + 20 * k for k in range(22)]
    expected: list[tuple[float, float]] = []
    for t in steps:
        older = [(ts, v) for ts, v in ((600, 1), (615, 2), (630, 3), (1000, 4)) if T0 + ts <= t]
        if older and t - (T0 + older[-1][0]) <= 300:
            expected.append((t, float(older[-1][1])))
    assert list(zip(series.timestamps, series.values, strict=True)) == expected
    # +590 precedes every sample; +930 is exactly 5 min after +630 (kept), +950 is past it.
    assert series.timestamps[0] == T0 + 610
    assert T0 + 930 in series.timestamps
    assert T0 + 950 not in series.timestamps


def test_range_series_absent_when_no_sample_in_lookback(source: BundleSource) -> None:
    found = source.range_series(selector={"job": "web"}, window=window(1100, 1300), step=15)
    assert [s.labels["instance"] for s in found] == ["w1"]  # w2's only sample is too old
    assert found[0].timestamps == tuple(T0 + 1100 + 15 * k for k in range(14))
    assert set(found[0].values) == {4.0}


def test_range_series_rounds_to_milliseconds_like_prometheus(source: BundleSource) -> None:
    # errors_total's sample is at +600.0004 s: stored as +600.000 (promtool truncates to ms).
    found = source.range_series(
        selector={"__name__": "errors_total"}, window=window(600, 601), step=1
    )
    assert found[0].timestamps == (T0 + 600, T0 + 601)
    assert prometheus_ms(0.0006) == 1  # rounded, as the HTTP API parses start/end
    assert prometheus_ms(1735690200.123) == 1735690200123


def test_range_series_bad_step(source: BundleSource) -> None:
    with pytest.raises(SignalError, match="step must be at least 1 ms"):
        source.range_series(selector={"job": "web"}, window=window(0, 10), step=0.0001)


def test_count_lines_uses_half_open_steps(source: BundleSource) -> None:
    counts = source.count_lines(
        selector={"job": "web"}, window=window(600, 720), step=60, line_filter=None, by=["instance"]
    )
    by_instance = {
        c.labels["instance"]: dict(zip(c.timestamps, c.values, strict=True)) for c in counts
    }
    # (540, 600]: +599.999 and +600; (600, 660]: +660; (660, 720]: +660.001.
    assert by_instance["w1"] == {T0 + 600: 2.0, T0 + 660: 1.0, T0 + 720: 1.0}
    # Steps without lines are absent.
    assert by_instance["w2"] == {T0 + 720: 3.0}


def test_count_lines_filter_and_missing_group_label(source: BundleSource) -> None:
    counts = source.count_lines(
        selector={"job": "web"}, window=window(600, 720), step=120, line_filter=r" 5\d\d$", by=[]
    )
    assert [(c.labels, c.timestamps, c.values) for c in counts] == [
        (Labels({}), (T0 + 720,), (2.0,))
    ]
    grouped = source.count_lines(
        selector={"job": "db"}, window=window(600, 720), step=120, line_filter=None, by=["instance"]
    )
    # The db stream has no instance label: Loki groups it under {}.
    assert [c.labels for c in grouped] == [Labels({})]


def test_count_extracted_groups_by_named_groups_with_empty_for_no_match(
    source: BundleSource,
) -> None:
    counts = source.count_extracted(
        selector={"job": "web"},
        window=window(600, 720),
        step=120,
        line_filter=None,
        pattern=r"client=(?P<client>\S+)",
        by=["client"],
        top=10,
    )
    table = {c.labels.get("client", ""): c.values for c in counts}
    assert table == {
        "10.0.0.1": (2.0,),
        "10.0.0.2": (1.0, 1.0),
        "10.0.0.3": (1.0,),
        "10.0.0.9": (1.0,),
        "": (1.0,),
    }


def test_count_extracted_keeps_topk_per_step(source: BundleSource) -> None:
    counts = source.count_extracted(
        selector={"job": "web"},
        window=window(600, 720),
        step=120,
        line_filter=None,
        pattern=r"client=(?P<client>\S+)",
        by=["client"],
        top=1,
    )
    # Step +600: .2 and .3 tie at 1 (label order keeps .2); step +720: .1 has 2.
    assert [(c.labels.get("client"), c.timestamps) for c in counts] == [
        ("10.0.0.1", (T0 + 720,)),
        ("10.0.0.2", (T0 + 600,)),
    ]


def test_count_extracted_renames_groups_that_clash_with_stream_labels(source: BundleSource) -> None:
    counts = source.count_extracted(
        selector={"job": "db"},
        window=window(600, 720),
        step=120,
        line_filter=None,
        pattern=r"(?P<job>\w+)",
        by=["job", "job_extracted"],
        top=5,
    )
    assert [c.labels for c in counts] == [Labels({"job": "db", "job_extracted": "ready"})]


def test_sample_lines_oldest_first_limited_and_end_exclusive(source: BundleSource) -> None:
    streams = source.sample_lines(
        selector={"job": "web"}, window=window(600, 1200), line_filter=None, limit=4
    )
    flat = sorted(
        (line.ts, stream.labels["instance"], line.line)
        for stream in streams
        for line in stream.lines
    )
    assert [item[2] for item in flat] == [
        "client=10.0.0.2 GET /b 200",
        "client=10.0.0.1 GET /a 200",
        "client=10.0.0.1 GET /a 500",
        "client=10.0.0.2 GET /c 502",
    ]
    everything = source.sample_lines(
        selector={"job": "web"}, window=window(600, 1200), line_filter=None, limit=100
    )
    lines = [line.line for stream in everything for line in stream.lines]
    assert "client=10.0.0.4 at the window end" not in lines  # Loki reads [start, end)
    assert "client=10.0.0.3 GET /b 200" not in lines
    for stream in everything:
        assert list(stream.lines) == sorted(stream.lines, key=lambda line: line.ts)


def test_sample_lines_filter(source: BundleSource) -> None:
    streams = source.sample_lines(
        selector={"job": "web"}, window=window(0, 1300), line_filter="(?i)GET /[AB] 200", limit=10
    )
    assert sorted(line.line for stream in streams for line in stream.lines) == [
        "client=10.0.0.1 GET /a 200",
        "client=10.0.0.2 GET /b 200",
        "client=10.0.0.3 GET /b 200",
    ]


def test_describe_is_the_live_logql(source: BundleSource) -> None:
    selector = {"job": "web", "instance": 'w"1'}
    assert source.describe(selector=selector, line_filter="5..") == logql.log_query(
        selector=selector, line_filter="5.."
    )
    assert source.describe(
        selector=selector, line_filter=None, by=["instance"], step=60
    ) == logql.count_query(selector=selector, line_filter=None, by=["instance"], step=60)
    assert source.describe(
        selector=selector, line_filter="x", pattern="(?P<c>.)", by=["c"], step=60, top=5
    ) == logql.extract_count_query(
        selector=selector, line_filter="x", pattern="(?P<c>.)", by=["c"], step=60, top=5
    )


@pytest.mark.parametrize(
    "pattern",
    [
        r"(a)\1",
        r"a(?=b)",
        r"a(?!b)",
        r"(?<=a)b",
        r"(?<!a)b",
        r"a\Z",
        r"(?<name>a)",
        r"a{,3}",
        r"\p{L}",
        r"[[:alpha:]]",
    ],
)
def test_regexps_outside_the_common_subset_are_refused(source: BundleSource, pattern: str) -> None:
    with pytest.raises(ValueError):
        check_common_regex(pattern)
    with pytest.raises(SignalError) as caught:
        source.count_lines(
            selector={"job": "web"}, window=window(600, 720), step=60, line_filter=pattern, by=[]
        )
    assert "count_over_time" in str(caught.value)


@pytest.mark.parametrize(
    "pattern", [r"(?i)error", r"\d+\.\d+", r"client=(?P<ip>[0-9.]+)", r"[\]a]", r"\bGET\b"]
)
def test_common_regexps_are_accepted(pattern: str) -> None:
    check_common_regex(pattern)


def test_perl_classes_are_ascii_like_re2() -> None:
    assert check_common_regex(r"^\d+$").search("١٢") is None


def test_extracted_pattern_needs_a_named_group(source: BundleSource) -> None:
    with pytest.raises(SignalError, match="named group"):
        source.count_extracted(
            selector={"job": "web"},
            window=window(600, 720),
            step=60,
            line_filter=None,
            pattern="(a)",
            by=["a"],
            top=1,
        )


def test_selector_on_missing_component_returns_nothing(tmp_path: Path) -> None:
    bundle = load_bundle(write_bundle(tmp_path / "b", incident=INCIDENT))
    source = BundleSource(bundle)
    assert source.range_series(selector={"job": "nope"}, window=bundle.window, step=60) == []
    assert (
        source.count_lines(
            selector={"job": "nope"}, window=bundle.window, step=60, line_filter=None, by=[]
        )
        == []
    )
