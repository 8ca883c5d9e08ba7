"""``LokiLogSource`` on the Loki test server keeps the ``ports.LogSource`` contract.

A small data set with hand-computed answers pins the semantics (steps over
``(t - step, t]``, absent zero steps, oldest-first bounded samples, topk per
step, empty label for unmatched lines); a larger one checks that the live
source and the in-memory fake (``tests/fakes/logs.py``) give the same answers.
"""

from __future__ import annotations

import random

import pytest

from diagnosis_operator.adapters.loki import LokiLogSource
from diagnosis_operator.models.signals import Labels, LogCount, LogLine, LogStream, Window
from tests.fakes.logs import FakeLogSource
from tests.services.loki import LokiTenant

pytestmark = pytest.mark.integration

T0 = 1_765_443_600.0  # a whole minute
PATTERN = r"^(?P<client>\d+\.\d+\.\d+\.\d+) "


def counts(series: list[LogCount]) -> dict[tuple[tuple[str, str], ...], dict[float, float]]:
    return {
        tuple(sorted(s.labels.items())): {
            ts - T0: value for ts, value in zip(s.timestamps, s.values, strict=True)
        }
        for s in series
    }


@pytest.fixture
def small(loki: LokiTenant) -> LokiLogSource:
    client = loki.client()
    nginx0 = [
        (0.0, "10.1.1.1 GET / 200"),  # exactly at the window start: step t=0 counts it
        (30.0, "10.1.1.1 GET / 502"),  # exactly at a step: belongs to (0, 30]
        (30.001, "10.1.1.2 GET / 502"),
        (45.0, "10.1.1.1 GET / 502"),
        (61.0, "bad request line"),  # after the window end (60): never counted
    ]
    nginx1 = [(10.0, "10.1.1.3 GET / 200"), (59.0, "10.1.1.3 GET / 502")]
    client.push(
        [
            LogStream(
                Labels({"job": "nginx", "instance": "nginx-0"}),
                tuple(LogLine(T0 + o, t) for o, t in nginx0),
            ),
            LogStream(
                Labels({"job": "nginx", "instance": "nginx-1"}),
                tuple(LogLine(T0 + o, t) for o, t in nginx1),
            ),
            LogStream(Labels({"job": "other"}), (LogLine(T0 + 20, "10.9.9.9 GET / 502"),)),
        ]
    )
    return LokiLogSource(client)


def test_count_lines_per_step(small: LokiLogSource) -> None:
    window = Window(T0, T0 + 60)
    got = small.count_lines(
        selector={"job": "nginx"}, window=window, step=30, line_filter=" 502$", by=("instance",)
    )
    assert counts(got) == {
        (("instance", "nginx-0"),): {30.0: 1.0, 60.0: 2.0},
        (("instance", "nginx-1"),): {60.0: 1.0},
    }
    total = small.count_lines(
        selector={"job": "nginx"}, window=window, step=30, line_filter=None, by=()
    )
    assert counts(total) == {(): {0.0: 1.0, 30.0: 2.0, 60.0: 3.0}}
    assert all(s.labels == Labels({}) for s in total)


def test_count_extracted_keeps_topk_per_step_and_empty_values(small: LokiLogSource) -> None:
    window = Window(T0, T0 + 60)
    got = small.count_extracted(
        selector={"job": "nginx"},
        window=window,
        step=60,
        line_filter=None,
        pattern=PATTERN,
        by=("client",),
        top=2,
    )
    # t=0 sees (-60, 0]: one line of 10.1.1.1; t=60 sees (0, 60]: 10.1.1.1 x2,
    # 10.1.1.3 x2, 10.1.1.2 x1, and keeps the top two.
    assert counts(got) == {
        (("client", "10.1.1.1"),): {0.0: 1.0, 60.0: 2.0},
        (("client", "10.1.1.3"),): {60.0: 2.0},
    }
    later = small.count_extracted(
        selector={"job": "nginx"},
        window=Window(T0 + 60, T0 + 120),
        step=60,
        line_filter=None,
        pattern=PATTERN,
        by=("client",),
        top=5,
    )
    # The line the pattern does not match is counted under an empty client.
    assert counts(later) == {
        (("client", "10.1.1.1"),): {60.0: 2.0},
        (("client", "10.1.1.2"),): {60.0: 1.0},
        (("client", "10.1.1.3"),): {60.0: 2.0},
        (("client", ""),): {120.0: 1.0},
    }


def test_sample_lines_are_bounded_and_oldest_first(small: LokiLogSource) -> None:
    window = Window(T0, T0 + 60)
    got = small.sample_lines(selector={"job": "nginx"}, window=window, line_filter="502", limit=3)
    lines = sorted((line.ts - T0, line.line, s.labels["instance"]) for s in got for line in s.lines)
    assert [round(ts, 3) for ts, _, _ in lines] == [30.0, 30.001, 45.0]
    for s in got:
        assert list(s.lines) == sorted(s.lines, key=lambda line: line.ts)


def random_streams(seed: int) -> list[LogStream]:
    rng = random.Random(seed)
    streams = []
    for instance in ("web-0", "web-1", "web-2"):
        lines = []
        for _ in range(300):
            offset = rng.choice([rng.uniform(0, 600), float(rng.randrange(0, 601, 15))])
            client = rng.choice(["192.0.2.1", "192.0.2.2", "198.51.100.7", "-"])
            status = rng.choice(["200", "200", "200", "502", "504"])
            lines.append(LogLine(T0 + round(offset, 3), f"{client} GET /x {status}"))
        streams.append(LogStream(Labels({"job": "web", "instance": instance}), tuple(lines)))
    return streams


def test_live_source_matches_the_contract_fake(loki: LokiTenant) -> None:
    streams = random_streams(seed=7)
    client = loki.client()
    client.push(streams)
    live = LokiLogSource(client)
    fake = FakeLogSource(streams=streams)
    window = Window(T0 + 30, T0 + 570)
    for step in (15.0, 60.0):
        for by in ((), ("instance",)):
            for line_filter in (None, r"\s50\d$"):
                kwargs = {
                    "selector": {"job": "web"},
                    "window": window,
                    "step": step,
                    "line_filter": line_filter,
                    "by": by,
                }
                assert live.count_lines(**kwargs) == fake.count_lines(**kwargs), kwargs  # type: ignore[arg-type]
        kwargs2 = {
            "selector": {"job": "web"},
            "window": window,
            "step": step,
            "line_filter": None,
            "pattern": PATTERN,
            "by": ("client",),
            "top": 2,
        }
        assert live.count_extracted(**kwargs2) == fake.count_extracted(**kwargs2)  # type: ignore[arg-type]
    for limit in (1, 17, 900):
        kwargs3 = {
            "selector": {"job": "web", "instance": "web-1"},
            "window": window,
            "line_filter": "502",
            "limit": limit,
        }
        assert live.sample_lines(**kwargs3) == fake.sample_lines(**kwargs3)  # type: ignore[arg-type]
    assert live.describe(selector={"job": "web"}, line_filter=None, by=("instance",), step=60) == (
        fake.describe(selector={"job": "web"}, line_filter=None, by=("instance",), step=60)
    )
