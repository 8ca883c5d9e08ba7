"""Conformance of the bundle's OpenMetrics parser against ``prometheus_client``'s.

Every text here is parsed by ``adapters.bundle.openmetrics.parse_openmetrics`` and by
``prometheus_client.openmetrics.parser.text_string_to_metric_families``; both must
give the same samples (name, labels, value, timestamp in ms) and the same family
types.  The texts: hand-written edge cases (escaped label values, NaN/+Inf/-Inf,
exemplars, histograms, gauge histograms, summaries, info, stateset, ``# UNIT``,
``# HELP`` with escapes, fractional timestamps, colons in names) and a handful of
generated bundles (the large bundle at a small size, and scenario bundles of each
suite, thinned to their first timestamps so the pure-Python reference stays quick).

Two documented differences are normalised, not hidden:

- a bundle holds many points per series; ``prometheus_client`` reads one exposition
  (one point per histogram/summary group: it drops a group's later points as
  "timestamp truncation" duplicates), so the text is handed to it as one exposition
  per timestamp, and the samples of all of them are compared;
- labels with an empty value are the same as no label (Prometheus' rule); the bundle
  parser drops them, so they are dropped from ``prometheus_client``'s samples too;
- a counter whose samples carry the family's bare name (no ``_total``: what an
  exporter in the Prometheus text format exposes and a TSDB export keeps) is read by
  the bundle parser as that counter; ``prometheus_client`` rejects it (OpenMetrics
  wants ``_total``), so such a family is handed to it as ``unknown`` and its type is
  expected to be a counter.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from diagnosis_operator.adapters.bundle.openmetrics import parse_openmetrics
from diagnosis_operator.models.signals import MetricType

# prometheus_client's parser is untyped: typed here, at the one place it is used.
reference_parser: Callable[[str], Iterator[Any]] = text_string_to_metric_families
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

Sample = tuple[str, tuple[tuple[str, str], ...], int, str]

# prometheus_client's family types, as the bundle parser classifies them.
TYPES = {
    "counter": MetricType.COUNTER,
    "gauge": MetricType.GAUGE,
    "histogram": MetricType.HISTOGRAM,
    "gaugehistogram": MetricType.HISTOGRAM,
    "summary": MetricType.SUMMARY,
    "info": MetricType.GAUGE,
    "stateset": MetricType.GAUGE,
    "unknown": MetricType.UNKNOWN,
}


def _value(value: float) -> str:
    """A value compared exactly (repr), NaN equal to NaN."""
    return "NaN" if math.isnan(value) else repr(float(value))


def ours(text: str, folder: Path) -> tuple[set[Sample], dict[str, MetricType], int]:
    path = folder / "metrics.om"
    path.write_text(text, encoding="utf-8")
    series, types = parse_openmetrics(path)
    samples: set[Sample] = set()
    count = 0
    for stored in series:
        assert stored.type == types[_family_of(stored.name, types)], stored.name
        labels = tuple(sorted(stored.labels.items()))
        for stamp, value in zip(stored.timestamps_ms.tolist(), stored.values.tolist(), strict=True):
            samples.add((stored.name, labels, int(stamp), _value(value)))
            count += 1
    return samples, dict(types), count


def _family_of(name: str, types: dict[str, MetricType]) -> str:
    if name in types:
        return name
    suffixes = ("_total", "_created", "_bucket", "_count", "_sum", "_gcount", "_gsum", "_info")
    return next(name[: -len(s)] for s in suffixes if name.endswith(s) and name[: -len(s)] in types)


def bare_counters(text: str) -> set[str]:
    """Counter families with samples named exactly as the family (see the module doc)."""
    counters = {line.split(" ")[2] for line in text.split("\n") if line.endswith(" counter")}
    return {name for name in counters if f"\n{name}{{" in text or f"\n{name} " in text}


def expositions(text: str, bare: set[str]) -> Iterator[str]:
    """The bundle text as one OpenMetrics exposition per timestamp (see the module doc)."""
    headers: dict[str, list[str]] = {}
    by_stamp: dict[float, dict[str, list[str]]] = {}
    family = ""
    for line in text.split("\n"):
        if not line or line == "# EOF":
            continue
        if line.startswith("#"):
            family = line.split(" ", 3)[2]
            if family in bare and line.startswith("# TYPE "):
                line = f"# TYPE {family} unknown"
            headers.setdefault(family, []).append(line)
            continue
        stamp = float(line.split(" # ", 1)[0].rsplit(" ", 1)[1])
        by_stamp.setdefault(stamp, {}).setdefault(family, []).append(line)
    for stamp in sorted(by_stamp):
        lines = [
            line
            for name, block in headers.items()
            if name in by_stamp[stamp]
            for line in [*block, *by_stamp[stamp][name]]
        ]
        yield "\n".join([*lines, "# EOF", ""])


def theirs(text: str) -> tuple[set[Sample], dict[str, MetricType], int]:
    samples: set[Sample] = set()
    types: dict[str, MetricType] = {}
    count = 0
    bare = bare_counters(text)
    for exposition in expositions(text, bare):
        for family in reference_parser(exposition):
            kind = "counter" if family.name in bare else family.type
            types[family.name] = TYPES[kind]
            for sample in family.samples:
                stamp = sample.timestamp
                assert stamp is not None, f"{sample.name}: no timestamp"
                millis = stamp.sec * 1000 + stamp.nsec // 1_000_000
                labels = tuple(sorted((k, v) for k, v in sample.labels.items() if v))
                samples.add((sample.name, labels, millis, _value(sample.value)))
                count += 1
    return samples, types, count


def assert_conform(text: str, folder: Path) -> int:
    """Both parsers agree on ``text``; return how many samples it holds."""
    our_samples, our_types, our_count = ours(text, folder)
    their_samples, their_types, their_count = theirs(text)
    assert sorted(our_samples - their_samples)[:5] == []
    assert sorted(their_samples - our_samples)[:5] == []
    assert our_count == their_count == len(our_samples)
    assert our_types == their_types
    return our_count


def thinned(text: str, *, stamps: int) -> str:
    """Each family's samples at its first ``stamps`` timestamps (whole groups kept)."""
    out: list[str] = []
    kept: set[str] = set()
    for line in text.split("\n"):
        if line.startswith("#") or not line:
            if line.startswith("# TYPE"):
                kept = set()
            out.append(line)
            continue
        stamp = line.split(" # ", 1)[0].rsplit(" ", 1)[1]
        if stamp in kept or len(kept) < stamps:
            kept.add(stamp)
            out.append(line)
    return "\n".join(out)


EDGE_CASES = {
    "escaped label values": """\
# TYPE path_hits counter
# HELP path_hits Hits by path; a backslash \\\\ and a newline \\n in help.
path_hits_total{path="C:\\\\dir\\\\file",q="say \\"hi\\"",nl="one\\ntwo"} 3 1700000000
path_hits_total{path="C:\\\\dir\\\\file",q="say \\"hi\\"",nl="one\\ntwo"} 4 1700000015
path_hits_total{path="/a,b={c}",q="",nl="#"} 1 1700000000
# EOF
""",
    "special values": """\
# TYPE temperature gauge
temperature{room="a"} NaN 1700000000
temperature{room="a"} +Inf 1700000015
temperature{room="a"} -Inf 1700000030
temperature{room="a"} -2.5e-3 1700000045
temperature{room="b"} 1.5E3 1700000000
temperature{room="b"} 0 1700000015.5
temperature{room="b"} 17 1700000030.125
# EOF
""",
    "counter with created and exemplars": """\
# TYPE requests counter
# HELP requests Requests served.
requests_total{code="200"} 10 1700000000 # {trace_id="abc"} 1.0 1699999999.5
requests_created{code="200"} 1699990000 1700000000
requests_total{code="200"} 12 1700000015 # {trace_id="a b"} 2
requests_created{code="200"} 1699990000 1700000015
# EOF
""",
    "histogram": """\
# TYPE latency_seconds histogram
# UNIT latency_seconds seconds
# HELP latency_seconds Request latency.
latency_seconds_bucket{route="/",le="0.1"} 1 1700000000
latency_seconds_bucket{route="/",le="1.0"} 3 1700000000 # {trace_id="x"} 0.7 1700000000
latency_seconds_bucket{route="/",le="+Inf"} 4 1700000000
latency_seconds_sum{route="/"} 3.25 1700000000
latency_seconds_count{route="/"} 4 1700000000
latency_seconds_created{route="/"} 1699990000 1700000000
latency_seconds_bucket{route="/",le="0.1"} 2 1700000015
latency_seconds_bucket{route="/",le="1.0"} 5 1700000015
latency_seconds_bucket{route="/",le="+Inf"} 7 1700000015
latency_seconds_sum{route="/"} 9.5 1700000015
latency_seconds_count{route="/"} 7 1700000015
latency_seconds_created{route="/"} 1699990000 1700000015
# EOF
""",
    "gauge histogram": """\
# TYPE queue_size gaugehistogram
queue_size_bucket{le="10.0"} 2 1700000000
queue_size_bucket{le="+Inf"} 3 1700000000
queue_size_gcount 3 1700000000
queue_size_gsum 31 1700000000
# EOF
""",
    "summary": """\
# TYPE rpc_seconds summary
# UNIT rpc_seconds seconds
rpc_seconds{service="x",quantile="0.5"} 0.05 1700000000
rpc_seconds{service="x",quantile="0.99"} 0.8 1700000000
rpc_seconds_sum{service="x"} 12.5 1700000000
rpc_seconds_count{service="x"} 100 1700000000
rpc_seconds{service="x",quantile="0.5"} 0.06 1700000015
rpc_seconds{service="x",quantile="0.99"} NaN 1700000015
rpc_seconds_sum{service="x"} 13 1700000015
rpc_seconds_count{service="x"} 110 1700000015
# EOF
""",
    "info, stateset, unknown, colons": """\
# TYPE build info
build_info{version="1.2.3",commit="abc"} 1 1700000000
# TYPE feature stateset
feature{feature="a"} 1 1700000000
feature{feature="b"} 0 1700000000
# TYPE job:requests:rate5m unknown
job:requests:rate5m 4.5 1700000000
job:requests:rate5m 4.75 1700000015
# TYPE plain gauge
plain 1 1700000000
# TYPE bare_events counter
bare_events{pool="www"} 3 1700000000
bare_events{pool="www"} 5 1700000015
# EOF
""",
}


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_edge_cases_parse_as_prometheus_client_does(name: str, tmp_path: Path) -> None:
    assert assert_conform(EDGE_CASES[name], tmp_path) > 0


def test_a_difference_is_caught(tmp_path: Path) -> None:
    """The comparison itself fails on a sample that is not the same."""
    text = EDGE_CASES["special values"]
    our_samples, _, _ = ours(text, tmp_path)
    their_samples, _, _ = theirs(text.replace("1.5E3", "1.5E4"))
    assert our_samples != their_samples


def test_large_bundle_at_a_small_size(tmp_path: Path) -> None:
    from examples.incidents import large

    folder = large.write(tmp_path / "large", series=200, points=6, lines=10)
    text = (folder / "metrics.om").read_text(encoding="utf-8")
    assert assert_conform(text, tmp_path) == 200 * 6


# One scenario of each suite, chosen for their family types (summaries, unknowns).
SCENARIOS = (
    ("examples.incidents.generate", "quiet"),
    ("examples.incidents.holdout", "unknown-exporter"),
    ("examples.incidents.holdout2", "mysql-disk-full"),
    ("examples.incidents.holdout3", "forum-deadlock-pdo"),
)


@pytest.mark.parametrize(("suite", "name"), SCENARIOS)
def test_scenario_bundles(suite: str, name: str, tmp_path: Path) -> None:
    import importlib

    module = importlib.import_module(suite)
    if name not in module.SCENARIOS:
        pytest.fail(f"{suite} has no scenario {name!r} any more: pick another one")
    folder = Path(module.generate(name, tmp_path / "bundles"))
    text = (folder / "metrics.om").read_text(encoding="utf-8")
    assert assert_conform(thinned(text, stamps=3), tmp_path) > 0
