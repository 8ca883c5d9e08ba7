"""The Loki test server (``tests/loki_server``) for integration tests.

``loki_server`` (session) runs ``python -m tests.loki_server`` as a child process
on a free 127.0.0.1 port, like the other services.  ``loki`` (per test) hands out
a fresh tenant (``X-Scope-OrgID``) on that server, so tests never see each
other's streams without a restart.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from diagnosis_operator.adapters.loki import LokiClient
from tests.services.ports import LOOPBACK, ServiceProcess, clean_env, free_port, start_process

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class LokiTestServer:
    url: str
    process: ServiceProcess


@dataclass
class LokiTenant:
    """One tenant on the shared Loki test server."""

    url: str
    tenant: str

    def client(self, **options: Any) -> LokiClient:
        options.setdefault("retries", 0)
        options.setdefault("timeout", 30.0)
        return LokiClient(self.url, tenant=self.tenant, **options)


def start_loki_server(*, log_dir: Path, max_entries: int = 5000) -> LokiTestServer:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "tests.loki_server",
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--max-entries",
        str(max_entries),
    ]
    process = start_process(
        "loki-test-server",
        command,
        log_path=log_dir / "loki-test-server.log",
        cwd=REPO_ROOT,
        env=clean_env(),
    )
    url = f"http://{LOOPBACK}:{port}"
    process.wait_ready(
        lambda: requests.get(f"{url}/ready", timeout=1).status_code == 200,
        timeout=30,
        what=f"GET {url}/ready",
    )
    return LokiTestServer(url=url, process=process)


@pytest.fixture(scope="session")
def loki_server(tmp_path_factory: pytest.TempPathFactory) -> Generator[LokiTestServer, None, None]:
    server = start_loki_server(log_dir=tmp_path_factory.mktemp("loki"))
    try:
        yield server
    finally:
        server.process.stop()


@pytest.fixture
def loki(loki_server: LokiTestServer) -> LokiTenant:
    return LokiTenant(url=loki_server.url, tenant=f"test-{uuid.uuid4().hex[:12]}")
