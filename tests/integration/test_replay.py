"""`replay`: a bundle made here, backfilled into the real Prometheus and pushed to Loki.

The live path must give what the offline path gives: ``PrometheusAdapter.range_series``
against the replayed TSDB equals ``BundleSource.range_series`` on the bundle,
and the Loki holds the bundle's lines.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

from diagnosis_operator.adapters.bundle import BundleSource, load_bundle
from diagnosis_operator.adapters.loki import LokiLogSource
from diagnosis_operator.adapters.prometheus import PrometheusAdapter
from diagnosis_operator.adapters.replay import ReplayError, replay_bundle
from diagnosis_operator.entrypoints.cli.main import main
from diagnosis_operator.models.signals import Series, Window, isoformat_z
from tests.fakes.metrics import by_family, openmetrics_text, series
from tests.services.loki import LokiTenant
from tests.services.prometheus import PrometheusFactory

pytestmark = pytest.mark.integration

# 2024-03-02T10:00:00Z: an incident far older than any default retention.
START = 1_709_373_600.0
WINDOW = Window(start=START, end=START + 1800)


def _raw_series() -> list[Series]:
    before, after = START - 600, START + 2100
    return [
        series(
            "http_requests_total",
            {"job": "shop-api", "instance": "10.9.0.4:8080", "code": "200"},
            [(t, float(i * 7)) for i, t in enumerate(_every(before, after, 15))],
        ),
        series(
            "http_requests_total",
            {"job": "shop-api", "instance": "10.9.0.5:8080", "code": "503"},
            # Stops at START+600 for 8 minutes: lookback leaves a hole after 5.
            [
                (t, float(i))
                for i, t in enumerate(_every(before, after, 15))
                if not START + 600 < t < START + 1080
            ],
        ),
        series(
            "pg_locks_waiting",
            {"job": "ledger-db", "instance": "db-0", "note": 'quote " and \\ back'},
            [(t + 0.125, float(i % 9)) for i, t in enumerate(_every(before, after, 30))],
        ),
    ]


def _every(first: float, last: float, step: float) -> list[float]:
    count = int((last - first) // step) + 1
    return [first + step * index for index in range(count)]


API_5 = {"job": "shop-api", "instance": "10.9.0.5:8080"}
DB_0 = {"job": "ledger-db", "instance": "db-0"}
LOG_ENTRIES: list[tuple[float, dict[str, str], str]] = [
    (START + 5.25, API_5, '{"level":"error","msg":"upstream timeout","path":"/cart"}'),
    (START + 1.5, API_5, "GET /cart 503 üñí"),
    (START + 62.001, DB_0, "# Query_time: 12.5  Lock_time: 11.9\nUPDATE ledger SET x = 1;"),
]


def write_bundle(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "incident.yaml").write_text(
        "format: incident-bundle/v1\n"
        "name: ledger-lock-storm\n"
        "window:\n"
        f'  start: "{isoformat_z(WINDOW.start)}"\n'
        f'  end: "{isoformat_z(WINDOW.end)}"\n'
        "topology:\n"
        "  components:\n"
        "    - name: api\n"
        "      kind: app\n"
        "      selector: {job: shop-api}\n"
        "      dependsOn: [db]\n"
        "    - name: db\n"
        "      kind: other\n"
        "      selector: {job: ledger-db}\n"
    )
    (folder / "metrics.om").write_text(openmetrics_text(by_family(_raw_series())))
    with (folder / "logs.jsonl").open("w") as logs:
        for ts, labels, line in LOG_ENTRIES:
            logs.write(json.dumps({"ts": isoformat_z(ts), "labels": labels, "line": line}) + "\n")
    return folder


def test_replayed_metrics_equal_the_bundle_offline(
    tmp_path: Path, prometheus_factory: PrometheusFactory, loki: LokiTenant
) -> None:
    bundle_dir = write_bundle(tmp_path / "bundle")
    progress: list[str] = []
    result = replay_bundle(
        bundle_dir=bundle_dir,
        prometheus_data=tmp_path / "tsdb",
        loki_url=loki.url,
        loki_tenant=loki.tenant,
        batch_lines=2,
        progress=progress.append,
    )
    assert result.backfill is not None and result.backfill.blocks
    assert result.window == WINDOW
    assert (result.lines_pushed, result.streams_pushed) == (3, 2)
    assert any("pushed 2/3" in line for line in progress)
    assert any("pushed 3/3" in line for line in progress)

    server = prometheus_factory(data_dir=result.backfill.data_dir)
    offline = BundleSource(load_bundle(bundle_dir))
    with PrometheusAdapter(server.url) as live:
        for selector in ({"job": "shop-api"}, {"job": "ledger-db"}):
            for step in (15.0, 60.0, 45.5):
                expected = offline.range_series(selector=selector, window=WINDOW, step=step)
                got = live.range_series(selector=selector, window=WINDOW, step=step)
                assert expected, selector
                assert [(s.name, s.labels, s.timestamps, s.values) for s in got] == [
                    (s.name, s.labels, s.timestamps, s.values) for s in expected
                ], (selector, step)


def test_replayed_logs_are_in_loki(tmp_path: Path, loki: LokiTenant) -> None:
    bundle_dir = write_bundle(tmp_path / "bundle")
    (bundle_dir / "metrics.om").unlink()
    result = replay_bundle(bundle_dir=bundle_dir, loki_url=loki.url, loki_tenant=loki.tenant)
    assert result.backfill is None

    offline = BundleSource(load_bundle(bundle_dir))
    client = loki.client()
    try:
        live = LokiLogSource(client)
        for selector in ({"job": "shop-api"}, {"job": "ledger-db"}):
            want = offline.sample_lines(
                selector=selector, window=WINDOW, line_filter=None, limit=50
            )
            got = live.sample_lines(selector=selector, window=WINDOW, line_filter=None, limit=50)
            assert [(s.labels, s.lines) for s in got] == [(s.labels, s.lines) for s in want]
            assert sum(len(s.lines) for s in got) >= 1
    finally:
        client.close()


def test_replay_refuses_a_folder_with_other_data(tmp_path: Path) -> None:
    bundle_dir = write_bundle(tmp_path / "bundle")
    occupied = tmp_path / "tsdb"
    occupied.mkdir()
    (occupied / "wal").mkdir()
    with pytest.raises(ReplayError, match="not empty"):
        replay_bundle(bundle_dir=bundle_dir, prometheus_data=occupied)


def test_replay_command_prints_what_to_start(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    prometheus_factory: PrometheusFactory,
) -> None:
    bundle_dir = write_bundle(tmp_path / "bundle")
    data = tmp_path / "tsdb"
    assert main(["replay", "--bundle", str(bundle_dir), "--prometheus-data", str(data)]) == 0
    out, err = capsys.readouterr()
    assert f"--storage.tsdb.path={data}" in out
    assert "--storage.tsdb.retention.time=100y" in out
    assert isoformat_z(WINDOW.start) in out and isoformat_z(WINDOW.end) in out
    assert "no --loki-url" in err

    # The printed data dir really serves the incident.
    server = prometheus_factory(data_dir=data)
    with PrometheusAdapter(server.url) as live:
        assert live.range_series(selector={"job": "ledger-db"}, window=WINDOW, step=60)

    # Replaying again into the same folder is refused, with a reason.
    assert main(["replay", "--bundle", str(bundle_dir), "--prometheus-data", str(data)]) == 2
    assert "not empty" in capsys.readouterr().err


def test_replay_command_reports_a_bad_bundle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle_dir = write_bundle(tmp_path / "bundle")
    (bundle_dir / "metrics.om").write_text('# TYPE x gauge\nx{a="1"} 1 notatime\n# EOF\n')
    assert main(["replay", "--bundle", str(bundle_dir), "--quiet"]) == 2
    assert "metrics.om" in capsys.readouterr().err


def test_replay_command_reports_a_missing_promtool(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle_dir = write_bundle(tmp_path / "bundle")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    code = main(
        ["replay", "--bundle", str(bundle_dir), "--promtool", str(tmp_path / "no-promtool")]
    )
    assert code == 2
    assert "promtool not found" in capsys.readouterr().err
    assert list(scratch.iterdir()) == []  # the data folder it made for itself is gone


def test_the_reference_example_replays_to_the_same_series(
    tmp_path: Path, prometheus_factory: PrometheusFactory
) -> None:
    from examples.incidents.generate import generate

    bundle_dir = generate("reference", tmp_path / "bundles")
    result = replay_bundle(bundle_dir=bundle_dir, prometheus_data=tmp_path / "tsdb")
    assert result.backfill is not None
    bundle = load_bundle(bundle_dir)
    offline = BundleSource(bundle)
    server = prometheus_factory(data_dir=result.backfill.data_dir)
    with PrometheusAdapter(server.url) as live:
        for component in bundle.topology:
            selector = dict(component.selector)
            expected = offline.range_series(selector=selector, window=bundle.window, step=60)
            got = live.range_series(selector=selector, window=bundle.window, step=60)
            assert expected, component.name
            assert [(s.name, s.labels) for s in got] == [(s.name, s.labels) for s in expected]
            assert [(s.timestamps, s.values) for s in got] == [
                (s.timestamps, s.values) for s in expected
            ], component.name
