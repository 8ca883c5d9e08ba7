"""A real MariaDB (Debian's ``mariadbd``) for integration tests.

A fresh datadir made by ``mariadb-install-db``, a unix socket and a TCP port on
127.0.0.1, real accounts (no ``--skip-grant-tables``): ``root`` with a password
for setup, and an application user owning one database.  performance_schema is
on (the processlist and lock views the operator reads need it) and the slow
query log goes to a file inside the temp dir.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql
import pytest

from tests.services.ports import (
    LOOPBACK,
    ServiceProcess,
    ServiceStartError,
    free_port,
    require_binary,
    run_checked,
    start_process,
)

APP_DATABASE = "app"
APP_USER = "app"


@dataclass
class MariaDBServer:
    host: str
    port: int
    socket: Path
    root_password: str
    app_user: str
    app_password: str
    database: str
    slow_log: Path
    process: ServiceProcess

    def connect_params(
        self, *, user: str = APP_USER, password: str | None = None, database: str | None = None
    ) -> dict[str, Any]:
        """Keyword arguments for ``pymysql.connect`` over TCP.

        ``root`` and the app user need no password argument; the app user
        defaults to its database, other users to none.
        """
        if password is None:
            if user == "root":
                password = self.root_password
            elif user == self.app_user:
                password = self.app_password
            else:
                raise ValueError(f"no known password for MariaDB user {user!r}")
        if database is None and user == self.app_user:
            database = self.database
        params: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "user": user,
            "password": password,
            "connect_timeout": 10,
            "autocommit": True,
        }
        if database is not None:
            params["database"] = database
        return params

    def root(self) -> pymysql.connections.Connection[Any]:
        return pymysql.connect(**self.connect_params(user="root"))

    def app(self) -> pymysql.connections.Connection[Any]:
        return pymysql.connect(**self.connect_params())

    def create_user(self, *, name: str, password: str, grants: list[str]) -> dict[str, Any]:
        """Create ``name@127.0.0.1`` with ``grants`` (e.g. ``"PROCESS ON *.*"``); its params."""
        with self.root() as connection, connection.cursor() as cursor:
            cursor.execute(
                "CREATE USER IF NOT EXISTS %s@'127.0.0.1' IDENTIFIED BY %s", (name, password)
            )
            for grant in grants:
                # Grants are test-authored constants; the user name is still bound.
                cursor.execute(f"GRANT {grant} TO %s@'127.0.0.1'", (name,))
        return self.connect_params(user=name, password=password)


def start_mariadb(*, workdir: Path) -> MariaDBServer:
    server_binary = require_binary("mariadbd")
    install_db = require_binary("mariadb-install-db")
    datadir = workdir / "data"
    socket_path = workdir / "mysqld.sock"
    log_path = workdir / "mariadb.log"
    slow_log = workdir / "slow.log"
    run_as_root = os.geteuid() == 0
    install = [
        install_db,
        "--no-defaults",
        f"--datadir={datadir}",
        "--auth-root-authentication-method=normal",
        "--skip-test-db",
    ]
    if run_as_root:
        install.append("--user=root")
    run_checked(install, log_path=workdir / "install-db.log", timeout=180)
    port = free_port()
    command = [
        server_binary,
        "--no-defaults",
        f"--datadir={datadir}",
        f"--socket={socket_path}",
        f"--pid-file={workdir / 'mysqld.pid'}",
        f"--port={port}",
        f"--bind-address={LOOPBACK}",
        "--skip-name-resolve",
        "--performance-schema=ON",
        "--innodb-buffer-pool-size=32M",
        "--innodb-lock-wait-timeout=5",
        "--slow-query-log=ON",
        f"--slow-query-log-file={slow_log}",
        "--long-query-time=0.5",
        "--max-connections=100",
        f"--log-error={log_path.with_name('mariadb-error.log')}",
    ]
    if run_as_root:
        command.append("--user=root")
    process = start_process("mariadb", command, log_path=log_path)
    process.extra_logs.append(log_path.with_name("mariadb-error.log"))
    try:
        process.wait_ready(lambda: _socket_answers(socket_path), timeout=90, what="socket login")
        root_password = secrets.token_hex(12)
        app_password = secrets.token_hex(12)
        _bootstrap(socket_path, root_password=root_password, app_password=app_password)
    except (ServiceStartError, pymysql.MySQLError):
        process.stop()
        raise
    return MariaDBServer(
        host=LOOPBACK,
        port=port,
        socket=socket_path,
        root_password=root_password,
        app_user=APP_USER,
        app_password=app_password,
        database=APP_DATABASE,
        slow_log=slow_log,
        process=process,
    )


def _socket_answers(socket_path: Path) -> bool:
    # Right after install-db root has no password and may log in over the socket only.
    connection = pymysql.connect(
        unix_socket=str(socket_path), user="root", password="", connect_timeout=2
    )
    connection.close()
    return True


def _bootstrap(socket_path: Path, *, root_password: str, app_password: str) -> None:
    connection = pymysql.connect(
        unix_socket=str(socket_path), user="root", password="", autocommit=True
    )
    with connection, connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{APP_DATABASE}`")
        cursor.execute("CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'")
        cursor.execute("GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION")
        # install-db makes root@localhost, @127.0.0.1, @::1 and @<hostname>, all
        # without a password.  The hostname entry is unusable (and unalterable)
        # under --skip-name-resolve; the others get the password.
        for host in ("localhost", "127.0.0.1", "::1"):
            cursor.execute("ALTER USER IF EXISTS 'root'@%s IDENTIFIED BY %s", (host, root_password))
        cursor.execute("CREATE USER %s@'127.0.0.1' IDENTIFIED BY %s", (APP_USER, app_password))
        cursor.execute(f"GRANT ALL PRIVILEGES ON `{APP_DATABASE}`.* TO %s@'127.0.0.1'", (APP_USER,))
        cursor.execute("FLUSH PRIVILEGES")


@pytest.fixture(scope="session")
def mariadb_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Generator[MariaDBServer, None, None]:
    """One MariaDB for the session (root + app user); tests own their tables."""
    server = start_mariadb(workdir=tmp_path_factory.mktemp("mariadb"))
    yield server
    server.process.stop(timeout=60)


@pytest.fixture
def mariadb_params(mariadb_server: MariaDBServer) -> dict[str, Any]:
    """``pymysql.connect(**mariadb_params)`` as the application user."""
    return mariadb_server.connect_params()
