"""A real Redis (Debian's ``redis-server``) for integration tests.

Bound to 127.0.0.1 on a free port, no persistence (``--save ''``,
``--appendonly no``), its working dir in the test's temp dir.  The slow log
records every command slower than 10 ms so tests can provoke entries.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from tests.services.ports import (
    LOOPBACK,
    ServiceProcess,
    ServiceStartError,
    free_port,
    require_binary,
    start_process,
)


@dataclass
class RedisServer:
    host: str
    port: int
    process: ServiceProcess

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host=self.host, port=self.port, socket_timeout=10, decode_responses=True)


def start_redis(*, workdir: Path) -> RedisServer:
    binary = require_binary("redis-server")
    port = free_port()
    command = [
        binary,
        "--port",
        str(port),
        "--bind",
        LOOPBACK,
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
        "--daemonize",
        "no",
        "--protected-mode",
        "yes",
        "--slowlog-log-slower-than",
        "10000",
        "--loglevel",
        "notice",
    ]
    process = start_process("redis", command, log_path=workdir / "redis.log")
    server = RedisServer(host=LOOPBACK, port=port, process=process)

    def answers_ping() -> bool:
        with server.client() as client:
            return bool(client.ping())

    try:
        process.wait_ready(answers_ping, timeout=30, what="PING")
    except ServiceStartError:
        process.stop()
        raise
    return server


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Generator[RedisServer, None, None]:
    server = start_redis(workdir=tmp_path_factory.mktemp("redis"))
    yield server
    server.process.stop()


@pytest.fixture
def redis_db(redis_server: RedisServer) -> RedisServer:
    """The session Redis, emptied (keys and slow log) before the test."""
    with redis_server.client() as client:
        client.flushall()
        client.slowlog_reset()
    return redis_server
