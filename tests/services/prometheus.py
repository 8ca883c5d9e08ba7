"""A real Prometheus (Debian's ``/usr/bin/prometheus``) for integration tests.

``prometheus_factory(openmetrics=FILE)`` backfills the file into a fresh TSDB
with ``promtool tsdb create-blocks-from openmetrics`` *before* starting
Prometheus on it (blocks are loaded at start), then waits for ``/-/ready`` and
for a query to return the backfilled data.  ``prometheus_factory(data_dir=DIR)``
starts on a TSDB made elsewhere (e.g. by ``diagnosis-operator replay``).
``rule_files``, ``alertmanagers`` (``host:port``) and ``evaluation_interval`` make
it evaluate alerting rules and send what fires to those Alertmanagers.

Retention is set far beyond any incident date: Prometheus deletes blocks older
than "newest block - retention", so old incident data would otherwise vanish.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.services.ports import (
    LOOPBACK,
    ServiceProcess,
    ServiceStartError,
    free_port,
    require_binary,
    run_checked,
    start_process,
)

PROMETHEUS_BINARY = "prometheus"
PROMTOOL_BINARY = "promtool"
RETENTION = "100y"

_CONFIG = """\
global:
  scrape_interval: 15s
  evaluation_interval: 15s
# No scrape jobs: the TSDB holds only what the test backfilled.
"""


def _config(
    *,
    rule_files: Sequence[Path],
    alertmanagers: Sequence[str],
    evaluation_interval: str,
    type_targets: Sequence[str] = (),
) -> str:
    if not rule_files and not alertmanagers and evaluation_interval == "15s" and not type_targets:
        return _CONFIG
    config: dict[str, Any] = {
        "global": {"scrape_interval": "15s", "evaluation_interval": evaluation_interval},
        "rule_files": [str(path) for path in rule_files],
    }
    if type_targets:
        # tests/services/type_exporter.py: the families' declared types, as scraping keeps them
        config["scrape_configs"] = [
            {
                "job_name": "bundle-types",
                "scrape_interval": "1s",
                "static_configs": [{"targets": list(type_targets)}],
            }
        ]
    if alertmanagers:
        config["alerting"] = {
            "alertmanagers": [{"static_configs": [{"targets": list(alertmanagers)}]}]
        }
    return yaml.safe_dump(config, sort_keys=False)


@dataclass
class PrometheusServer:
    url: str
    data_dir: Path
    process: ServiceProcess

    def api(self, path: str, **params: str) -> dict[str, Any]:
        """GET ``/api/v1/<path>`` and return the decoded JSON (any HTTP status)."""
        query = urllib.parse.urlencode(params)
        request = urllib.request.Request(f"{self.url}/api/v1/{path}?{query}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                body: dict[str, Any] = json.load(response)
        except urllib.error.HTTPError as error:
            body = json.load(error)
        return body

    def instant(self, promql: str, at: float) -> list[dict[str, Any]]:
        answer = self.api("query", query=promql, time=repr(at))
        if answer.get("status") != "success":
            raise AssertionError(f"query {promql!r} failed: {answer}")
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result


def backfill(
    *,
    openmetrics: Path,
    data_dir: Path,
    log_path: Path,
    max_block_duration: str | None = None,
) -> None:
    """``promtool tsdb create-blocks-from openmetrics FILE DIR`` (fails with promtool's output)."""
    promtool = require_binary(PROMTOOL_BINARY)
    command = [promtool, "tsdb", "create-blocks-from", "openmetrics"]
    if max_block_duration:
        command.append(f"--max-block-duration={max_block_duration}")
    command += [str(openmetrics), str(data_dir)]
    run_checked(command, log_path=log_path)


def newest_sample_time(openmetrics: Path) -> float | None:
    """The largest sample timestamp in an OpenMetrics file (test helper, not a parser)."""
    newest: float | None = None
    with openmetrics.open() as lines:
        for line in lines:
            if not line.strip() or line.startswith("#"):
                continue
            timestamp = float(line.rsplit(" ", 1)[-1])
            newest = timestamp if newest is None else max(newest, timestamp)
    return newest


def start_prometheus(
    *,
    workdir: Path,
    openmetrics: Path | None = None,
    data_dir: Path | None = None,
    admin_api: bool = False,
    max_block_duration: str | None = None,
    rule_files: Sequence[Path] = (),
    alertmanagers: Sequence[str] = (),
    evaluation_interval: str = "15s",
    type_targets: Sequence[str] = (),
    config: str | None = None,
) -> PrometheusServer:
    """``config`` replaces the default (no scrape jobs) configuration, e.g. the lab's."""
    binary = require_binary(PROMETHEUS_BINARY)
    workdir.mkdir(parents=True, exist_ok=True)
    data_dir = data_dir or workdir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "prometheus.log"
    if openmetrics is not None:
        backfill(
            openmetrics=openmetrics,
            data_dir=data_dir,
            log_path=log_path,
            max_block_duration=max_block_duration,
        )
    config_path = workdir / "prometheus.yml"
    config_path.write_text(
        config
        if config is not None
        else _config(
            rule_files=rule_files,
            alertmanagers=alertmanagers,
            evaluation_interval=evaluation_interval,
            type_targets=type_targets,
        )
    )
    port = free_port()
    command = [
        binary,
        f"--config.file={config_path}",
        f"--storage.tsdb.path={data_dir}",
        f"--storage.tsdb.retention.time={RETENTION}",
        f"--web.listen-address={LOOPBACK}:{port}",
        "--log.level=info",
    ]
    if admin_api:
        command.append("--web.enable-admin-api")
    process = start_process("prometheus", command, log_path=log_path)
    server = PrometheusServer(url=f"http://{LOOPBACK}:{port}", data_dir=data_dir, process=process)
    try:
        process.wait_ready(lambda: _ready(server.url), timeout=60, what="/-/ready")
        newest = newest_sample_time(openmetrics) if openmetrics is not None else None
        if newest is not None:
            # Ready does not promise the blocks are queryable; ask for the data.
            process.wait_ready(
                lambda: bool(server.instant('count({__name__=~".+"})', newest)),
                timeout=30,
                what="backfilled data queryable",
            )
        if type_targets:
            # scraped once: its metadata (if the bundle declares any type) is in
            process.wait_ready(
                lambda: _scraped(server), timeout=30, what="the bundle-types target scraped"
            )
    except ServiceStartError:
        process.stop()
        raise
    return server


def _scraped(server: PrometheusServer) -> bool:
    targets = server.api("targets").get("data", {}).get("activeTargets", [])
    return any(t.get("health") == "up" for t in targets)


def _ready(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
        return int(response.status) == 200


PrometheusFactory = Callable[..., PrometheusServer]


@pytest.fixture
def prometheus_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Generator[PrometheusFactory, None, None]:
    """Start Prometheus: ``factory(openmetrics=PATH | data_dir=PATH, admin_api=False)``."""
    started: list[PrometheusServer] = []

    def factory(
        *,
        openmetrics: Path | str | None = None,
        data_dir: Path | str | None = None,
        admin_api: bool = False,
        max_block_duration: str | None = None,
        **alerting: Any,
    ) -> PrometheusServer:
        server = start_prometheus(
            workdir=tmp_path_factory.mktemp("prometheus"),
            openmetrics=Path(openmetrics) if openmetrics is not None else None,
            data_dir=Path(data_dir) if data_dir is not None else None,
            admin_api=admin_api,
            max_block_duration=max_block_duration,
            **alerting,
        )
        started.append(server)
        return server

    yield factory
    for server in started:
        server.process.stop()


@pytest.fixture(scope="session")
def prometheus_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Generator[PrometheusServer, None, None]:
    """One empty Prometheus for the session: parse checks and escaping round-trips."""
    server = start_prometheus(workdir=tmp_path_factory.mktemp("prometheus-session"))
    yield server
    server.process.stop()
