"""Round-7 faults injected into the real-software lab (``tests/lab``) and recorded.

    PYTHONPATH=operator:. python -m examples.incidents.holdout7_lab.lab_faults record NAME \
        [--out examples/incidents/holdout7_lab/lab] [--workdir out/rt7-lab]

Same procedure as rounds 5 and 6 (``holdout5.lab_faults.play``: a fresh lab, 30 s
warm-up, 90 s baseline, the fault for 90 s, the window closing while it still runs,
``bundle record`` and the ``expected.yaml`` the injection calls for, written before any
diagnosis; nothing is diagnosed here).  Faults, each bounded in time and always undone
(``README.md`` has the stories and their sources):

* ``mysql-metadata-lock``: a reporting session leaves a transaction open after reading
  ``items``; a migration's ``ALTER TABLE items ADD COLUMN`` then waits for the table's
  metadata lock, and every later statement on ``items`` queues behind the ALTER
  ("Waiting for table metadata lock").  Undone: the session rolls back, the ALTER runs,
  the column is dropped again.
* ``mysql-read-only``: the primary is switched to ``read_only`` (as a failover or
  maintenance script demoting it does) while the app still writes to it: every write
  is refused at once (ERROR 1290 "--read-only option"), reads work.
* ``backend-crash``: the second API instance is killed (SIGKILL) and stays down: nginx
  gets "Connection refused" for it and answers 502 (``proxy_next_upstream off``: no
  retry on a sibling); restarted (same command, same port) at the end.
* ``nightly-dump``: a healthy window with a logical backup: ``mariadb-dump
  --single-transaction --quick`` of the shop's database, one run after the other with a
  pause, under the same users; long full-table SELECTs in the slow log, more rows read,
  no error.  No incident.
* ``client-slowloris``: one client address (127.0.0.88) opens 300 connections to nginx
  and sends each a request's first lines, then one more header line every 8 s, never
  the blank line that ends the headers (slowloris): nginx's single worker has 256
  connections, the shoppers' connections wait or fail.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pymysql
from tests.lab import fault as lab_fault
from tests.lab import scenarios
from tests.lab.config import app_connection, root_connection
from tests.lab.stack import Lab
from tests.services.loki import REPO_ROOT
from tests.services.ports import start_process

from examples.incidents.holdout5.lab_faults import Inject, recorder

DUMP_PAUSE = 12.0
DUMP_TIMEOUT = 60.0
SLOW_CLIENT = "127.0.0.88"
SLOW_SOCKETS = 300  # more than nginx's 256 worker connections
SLOW_PERIOD = 8.0


def _bounded(seconds: float) -> float:
    return min(seconds, lab_fault.MAX_SECONDS)


def mysql_metadata_lock(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """An idle open transaction on ``items``; an ALTER waits behind it, the readers behind that."""
    limit = _bounded(seconds)
    holder = app_connection(lab.state)
    migration = app_connection(lab.state)
    failure: list[BaseException] = []

    def alter() -> None:
        try:
            with migration.cursor() as cursor:
                # The migration gives up by itself if nothing else undoes the fault.
                cursor.execute(f"SET SESSION lock_wait_timeout = {int(limit) + 30}")
                cursor.execute("ALTER TABLE items ADD COLUMN description VARCHAR(255) NULL")
        except pymysql.MySQLError as error:
            failure.append(error)

    migrator = threading.Thread(target=alter, daemon=True)
    try:
        with holder.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute("SELECT COUNT(*), MAX(price) FROM items")
            cursor.fetchall()
        migrator.start()
        stop.wait(limit)
    finally:
        with contextlib.suppress(pymysql.MySQLError):
            holder.rollback()
            holder.close()
        if migrator.is_alive():
            migrator.join(timeout=60)
        with contextlib.suppress(pymysql.MySQLError):
            migration.close()
        with root_connection(lab.state) as connection, connection.cursor() as cursor:
            cursor.execute("ALTER TABLE items DROP COLUMN IF EXISTS description")
    if failure:
        print(f"mysql-metadata-lock: the ALTER ended with {failure[0]}", flush=True)


def mysql_read_only(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """The primary switched to read_only while the app still writes to it."""
    with root_connection(lab.state) as connection, connection.cursor() as cursor:
        cursor.execute("SET GLOBAL read_only = ON")
        try:
            stop.wait(_bounded(seconds))
        finally:
            cursor.execute("SET GLOBAL read_only = OFF")


def backend_crash(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """Kill one API instance (SIGKILL); start it again, same command and port, at the end."""
    host = lab.backends[lab_fault.DEGRADED].split(":")[0]
    index, target = next(
        (i, p)
        for i, p in enumerate(lab.processes)
        if "tests.lab.app" in p.command and host in p.command
    )
    target.process.send_signal(signal.SIGKILL)
    target.process.wait(timeout=30)
    try:
        stop.wait(_bounded(seconds))
    finally:
        revived = start_process(
            target.name,
            target.command,
            log_path=target.log_path,
            cwd=REPO_ROOT,
            env=scenarios._python_env(),
        )
        lab.processes[index] = revived
        revived.wait_ready(
            lambda: _healthy(lab.backends[lab_fault.DEGRADED]), timeout=60, what="revived"
        )


def _healthy(address: str) -> bool:
    with urllib.request.urlopen(f"http://{address}/healthz", timeout=2) as response:
        return int(response.status) == 200


def nightly_dump(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """A logical backup (mariadb-dump --single-transaction), run after run, no fault at all."""
    deadline = time.monotonic() + _bounded(seconds)
    db = lab.state["mariadb"]
    folder = lab.workdir / "backup"
    folder.mkdir(parents=True, exist_ok=True)
    options = folder / "backup.cnf"
    options.write_text(
        f"[client]\nuser=root\npassword={db['rootPassword']}\n"
        f"host={db['host']}\nport={db['port']}\nprotocol=tcp\n",
        encoding="utf-8",
    )
    options.chmod(0o600)
    runs = 0
    while time.monotonic() < deadline and not stop.is_set() and runs < 20:
        with (folder / f"shop-{runs}.sql").open("wb") as out:
            subprocess.run(
                [
                    "mariadb-dump",
                    f"--defaults-extra-file={options}",
                    "--single-transaction",
                    "--quick",
                    "--skip-lock-tables",
                    str(db["database"]),
                ],
                stdout=out,
                stderr=subprocess.DEVNULL,
                check=False,
                timeout=DUMP_TIMEOUT,
            )
        os.remove(folder / f"shop-{runs}.sql")
        runs += 1
        stop.wait(min(DUMP_PAUSE, max(0.0, deadline - time.monotonic())))
    print(f"nightly-dump: {runs} dumps", flush=True)


def _forbid(expect: scenarios.Expect, *actions: str) -> scenarios.Expect:
    """``expect`` with the actions this fault makes wrong (``forbidden``)."""

    def build(state: dict[str, Any]) -> dict[str, Any]:
        return {**expect(state), "forbidden": list(actions)}

    return build


DRAIN, KILL, LIMIT = "drain-pod", "kill-mysql-queries", "rate-limit-client"


def client_slowloris(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """One client holds hundreds of connections open, sending a header line now and then."""
    deadline = time.monotonic() + _bounded(seconds)
    parts = urllib.parse.urlsplit(lab.nginx.url)
    address = (parts.hostname or "127.0.0.1", int(parts.port or 80))
    held: list[socket.socket] = []
    sent = 0
    try:
        while time.monotonic() < deadline and not stop.is_set():
            _top_up(held, address)
            for sock in list(held):
                try:
                    sock.sendall(f"X-Keep-{sent}: {sent}\r\n".encode())
                except OSError:
                    held.remove(sock)
                    sock.close()
            sent += 1
            stop.wait(min(SLOW_PERIOD, max(0.0, deadline - time.monotonic())))
    finally:
        for sock in held:
            with contextlib.suppress(OSError):
                sock.close()
    print(f"client-slowloris: {len(held)} connections held at the end", flush=True)


def _top_up(held: list[socket.socket], address: tuple[str, int]) -> None:
    """Open connections from ``SLOW_CLIENT`` until ``SLOW_SOCKETS`` are held (bounded)."""
    for _ in range(SLOW_SOCKETS - len(held)):
        try:
            sock = socket.create_connection(address, timeout=2, source_address=(SLOW_CLIENT, 0))
            sock.sendall(
                b"GET /api/items?id=3 HTTP/1.1\r\nHost: shop\r\n"
                b"User-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n"
            )
        except OSError:
            return
        held.append(sock)


def _kill(_: object) -> list[tuple[str, str]]:
    return [("kill-mysql-queries", "mysql")]


def _one(state: dict[str, Any]) -> list[str]:
    return [str(state["backends"][lab_fault.DEGRADED])]


def _drain(state: dict[str, Any]) -> list[tuple[str, str]]:
    return [("drain-pod", instance) for instance in _one(state)]


FAULTS: dict[str, tuple[Inject, scenarios.Scenario]] = {
    "mysql-metadata-lock": (
        mysql_metadata_lock,
        scenarios.Scenario(
            "mysql-metadata-lock",
            "mysql-metadata-lock",
            "an ALTER TABLE on items waits for its metadata lock behind an idle open "
            "transaction; every later query on items queues behind the ALTER",
            _forbid(
                scenarios._expect("mysql", "lock contention", remediations=_kill), DRAIN, LIMIT
            ),
        ),
    ),
    "mysql-read-only": (
        mysql_read_only,
        scenarios.Scenario(
            "mysql-read-only",
            "mysql-read-only",
            "the primary switched to read_only while the API still writes to it: every "
            "write refused (ERROR 1290), reads fine",
            _forbid(scenarios._expect("mysql", "read-only"), DRAIN, KILL, LIMIT),
        ),
    ),
    "backend-crash": (
        backend_crash,
        scenarios.Scenario(
            "backend-crash",
            "backend-crash",
            "one API instance killed and not restarted: connection refused, nginx answers "
            "502 for every request it still sends there",
            _forbid(
                scenarios._expect("api", None, affected=_one, remediations=_drain), KILL, LIMIT
            ),
        ),
    ),
    "nightly-dump": (
        nightly_dump,
        scenarios.Scenario(
            "nightly-dump",
            "nightly-dump",
            "a logical backup (mariadb-dump --single-transaction) runs under normal "
            "traffic: long full-table reads, no error; no incident",
            _forbid(scenarios._expect("none", None), DRAIN, KILL, LIMIT),
        ),
    ),
    "client-slowloris": (
        client_slowloris,
        scenarios.Scenario(
            "client-slowloris",
            "client-slowloris",
            "one client address holds 300 half-sent requests open (slowloris): nginx's "
            "worker connections run out, the shoppers cannot get in",
            _forbid(
                scenarios._expect(
                    "client",
                    None,
                    clients=(SLOW_CLIENT,),
                    remediations=lambda _: [(LIMIT, SLOW_CLIENT)],
                ),
                DRAIN,
                KILL,
            ),
        ),
    ),
}


def main(argv: list[str] | None = None) -> int:
    return recorder(
        argv,
        faults=FAULTS,
        round_label="round-7",
        out=Path(__file__).with_name("lab"),
        workdir=REPO_ROOT / "out/rt7-lab",
        width=22,
    )


if __name__ == "__main__":
    raise SystemExit(main())
