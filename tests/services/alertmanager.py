"""A real Alertmanager (Debian's ``/usr/bin/prometheus-alertmanager``) for integration tests.

``alertmanager_factory(receivers=[WebhookReceiver(...)], ...)`` writes a config that
routes alerts to webhook receivers (with ``http_config.authorization.credentials``,
the bearer token), starts Alertmanager on a free loopback port with clustering off
(``--cluster.listen-address=``) and a temp ``--storage.path``, and waits for
``/-/ready``.  ``post_alerts`` is ``POST /api/v2/alerts``, what Prometheus does.

Timing knobs (``group_wait``, ``group_interval``, ``repeat_interval``) are short so
that a test sees the first notification and its repeats within seconds.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
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
    start_process,
)

ALERTMANAGER_BINARY = "prometheus-alertmanager"


@dataclass(frozen=True)
class WebhookReceiver:
    """A webhook receiver, and the label matchers routing alerts to it."""

    name: str
    url: str
    token: str | None
    matchers: Mapping[str, str] = field(default_factory=dict)
    send_resolved: bool = True


@dataclass
class AlertmanagerServer:
    url: str
    config_path: Path
    process: ServiceProcess

    def post_alerts(self, alerts: Sequence[Mapping[str, Any]]) -> None:
        request = urllib.request.Request(
            f"{self.url}/api/v2/alerts",
            data=json.dumps(list(alerts)).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            if response.status != 200:
                raise AssertionError(f"POST /api/v2/alerts answered {response.status}")

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` whose labels include ``labels`` (its /metrics)."""
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=10) as response:
            text = response.read().decode()
        total = 0.0
        for line in text.splitlines():
            if line.startswith("#") or not line.startswith(name):
                continue
            series, _, value = line.rpartition(" ")
            metric_name, _, label_text = series.partition("{")
            if metric_name != name:
                continue
            if all(f'{key}="{wanted}"' in label_text for key, wanted in labels.items()):
                total += float(value)
        return total


def alertmanager_config(
    *,
    receivers: Sequence[WebhookReceiver],
    group_by: Sequence[str] = ("alertname",),
    group_wait: str = "1s",
    group_interval: str = "2s",
    repeat_interval: str = "3s",
) -> dict[str, Any]:
    """The config: the first receiver is the default route, the others match labels."""
    if not receivers:
        raise ValueError("at least one receiver")

    def receiver_config(receiver: WebhookReceiver) -> dict[str, Any]:
        webhook: dict[str, Any] = {"url": receiver.url, "send_resolved": receiver.send_resolved}
        if receiver.token is not None:
            webhook["http_config"] = {
                "authorization": {"type": "Bearer", "credentials": receiver.token}
            }
        return {"name": receiver.name, "webhook_configs": [webhook]}

    routes = [
        {
            "receiver": receiver.name,
            "matchers": [f'{key}="{value}"' for key, value in receiver.matchers.items()],
        }
        for receiver in receivers[1:]
    ]
    return {
        "route": {
            "receiver": receivers[0].name,
            "group_by": list(group_by),
            "group_wait": group_wait,
            "group_interval": group_interval,
            "repeat_interval": repeat_interval,
            "routes": routes,
        },
        "receivers": [receiver_config(receiver) for receiver in receivers],
    }


def start_alertmanager(*, workdir: Path, config: Mapping[str, Any]) -> AlertmanagerServer:
    binary = require_binary(ALERTMANAGER_BINARY)
    workdir.mkdir(parents=True, exist_ok=True)
    storage = workdir / "data"
    storage.mkdir(exist_ok=True)
    config_path = workdir / "alertmanager.yml"
    config_path.write_text(yaml.safe_dump(dict(config), sort_keys=False))
    port = free_port()
    command = [
        binary,
        f"--config.file={config_path}",
        f"--storage.path={storage}",
        f"--web.listen-address={LOOPBACK}:{port}",
        f"--web.external-url=http://{LOOPBACK}:{port}",
        # An empty address turns the HA gossip off: no other port, no peers.
        "--cluster.listen-address=",
        "--log.level=debug",
    ]
    process = start_process("alertmanager", command, log_path=workdir / "alertmanager.log")
    server = AlertmanagerServer(
        url=f"http://{LOOPBACK}:{port}", config_path=config_path, process=process
    )
    try:
        process.wait_ready(lambda: _ready(server.url), timeout=60, what="/-/ready")
    except ServiceStartError:
        process.stop()
        raise
    return server


def _ready(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
        return int(response.status) == 200


AlertmanagerFactory = Callable[..., AlertmanagerServer]


@pytest.fixture
def alertmanager_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Generator[AlertmanagerFactory, None, None]:
    """Start Alertmanager: ``factory(receivers=[...], group_wait=..., ...)``."""
    started: list[AlertmanagerServer] = []

    def factory(*, receivers: Sequence[WebhookReceiver], **timing: Any) -> AlertmanagerServer:
        server = start_alertmanager(
            workdir=tmp_path_factory.mktemp("alertmanager"),
            config=alertmanager_config(receivers=receivers, **timing),
        )
        started.append(server)
        return server

    yield factory
    for server in started:
        server.process.stop()
