"""Faults for the lab, one at a time or the reference combination, each bounded in time.

    python -m tests.lab.fault NAME --workdir out/lab [--seconds 90]

reads the running lab's ``WORKDIR/lab.json`` and injects ``NAME`` for ``--seconds``
(at most ``MAX_SECONDS``) or until it is stopped (SIGTERM, SIGINT), then undoes what
it changed (index, Redis and nginx settings, a backend's own fault).
``python -m tests.lab.fault --list`` names them.  Every load here is bounded in
count and time and only loopback addresses take traffic.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pymysql
import redis

from tests.lab import traffic
from tests.lab.config import app_connection, root_connection
from tests.lab.stack import read_state

MAX_SECONDS = 300.0
FLOOD_CLIENT = "127.0.0.66"
RETRY_CLIENT = "127.0.0.77"
DEGRADED = 1  # the backend that degrades by itself: the second of three
NGINX_LIMITED_CONNECTIONS = 10
FLOOD_RATE = 600  # requests a second the flood's count bound allows over its time
# The flood's connections: the backends share the machine's CPU among the requests in
# flight, so the flood's share (and the others' slowdown) grows with them; at six, on the
# loaded 2-core machine, the users' mean latency doubled but the API's p95 (mostly the
# flood's own cached answers) stayed under 1.5 times its past and no alert fired.
FLOOD_CONNECTIONS = 24
# Where the lock-holding job of ``mysql-locks`` notes each MariaDB connection it holds the
# rows on (``WORKDIR/BLOCKERS``, one id a line): a kill aimed at it names one of them.
BLOCKERS = "mysql-locks-blockers.txt"

Fault = Callable[[dict[str, Any], float, threading.Event], None]


def _until(seconds: float) -> float:
    return time.monotonic() + min(seconds, MAX_SECONDS)


def mysql_locks(state: dict[str, Any], seconds: float, stop: threading.Event) -> None:
    """A transaction holding the hot rows for 20 s at a time, and two deadlocking writers."""
    deadline = _until(seconds)
    workers = [
        threading.Thread(target=_blocker, args=(state, deadline, stop), daemon=True),
        threading.Thread(target=_deadlocker, args=(state, deadline, stop, (7, 8)), daemon=True),
        threading.Thread(target=_deadlocker, args=(state, deadline, stop, (8, 7)), daemon=True),
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def _blocker(state: dict[str, Any], deadline: float, stop: threading.Event) -> None:
    """A job holding the hot rows in long transactions, as the app's own account.

    A job whose connection is killed stops (as a batch job would): its locks go.  Each
    connection's id is noted in ``WORKDIR/BLOCKERS`` once it holds the rows.
    """
    while time.monotonic() < deadline and not stop.is_set():
        try:
            with app_connection(state) as connection, connection.cursor() as cursor:
                cursor.execute("BEGIN")
                cursor.execute("SELECT * FROM item_stats WHERE item_id < 5 FOR UPDATE")
                cursor.execute("SELECT CONNECTION_ID()")
                _note_blocker(state, int(cursor.fetchone()[0]))
                stop.wait(min(20.0, max(0.0, deadline - time.monotonic())))
                cursor.execute("ROLLBACK")
        except pymysql.MySQLError as error:
            print(f"mysql-locks: the blocking job ended: {error}", flush=True)
            return


def _note_blocker(state: dict[str, Any], thread_id: int) -> None:
    with (Path(state["workdir"]) / BLOCKERS).open("a", encoding="utf-8") as out:
        out.write(f"{thread_id}\n")


def blocker_threads(workdir: Path) -> set[int]:
    """The MariaDB connections ``mysql-locks``' lock-holding job has held the rows on."""
    path = workdir / BLOCKERS
    if not path.exists():
        return set()
    return {int(line) for line in path.read_text(encoding="utf-8").split()}


def _deadlocker(
    state: dict[str, Any], deadline: float, stop: threading.Event, order: tuple[int, int]
) -> None:
    with app_connection(state) as connection, connection.cursor() as cursor:
        while time.monotonic() < deadline and not stop.is_set():
            try:
                cursor.execute("BEGIN")
                cursor.execute(
                    "UPDATE item_stats SET views = views + 1 WHERE item_id = %s", (order[0],)
                )
                time.sleep(0.3)
                cursor.execute(
                    "UPDATE item_stats SET views = views + 1 WHERE item_id = %s", (order[1],)
                )
                cursor.execute("COMMIT")
            except pymysql.MySQLError:
                cursor.execute("ROLLBACK")
            stop.wait(3.0)


def mysql_scans(state: dict[str, Any], seconds: float, stop: threading.Event) -> None:
    """A migration drops the orders index: every order lookup scans the table."""
    deadline = _until(seconds)
    with root_connection(state) as connection, connection.cursor() as cursor:
        cursor.execute("ALTER TABLE orders DROP INDEX idx_customer")
        try:
            stop.wait(max(0.0, deadline - time.monotonic()))
        finally:
            cursor.execute("ALTER TABLE orders ADD INDEX idx_customer (customer_id)")


def mysql_connections(state: dict[str, Any], seconds: float, stop: threading.Event) -> None:
    """A leaking client: opens connections until MariaDB refuses more, holds them."""
    deadline = _until(seconds)
    db = state["mariadb"]
    held: list[Any] = []
    try:
        while len(held) < 500 and time.monotonic() < deadline:
            try:
                held.append(
                    pymysql.connect(
                        host=db["host"],
                        port=int(db["port"]),
                        user=db["appUser"],
                        password=db["appPassword"],
                        database=db["database"],
                        connect_timeout=3,
                    )
                )
            except pymysql.MySQLError:
                break
        stop.wait(max(0.0, deadline - time.monotonic()))
    finally:
        for connection in held:
            connection.close()


def _redis(state: dict[str, Any]) -> redis.Redis:
    return redis.Redis(
        host=state["redis"]["host"], port=int(state["redis"]["port"]), socket_timeout=10
    )


def redis_evictions(state: dict[str, Any], seconds: float, stop: threading.Event) -> None:
    """Redis capped just above its use while a batch job writes 20 kB values: evictions."""
    deadline = _until(seconds)
    client = _redis(state)
    used = int(client.info("memory")["used_memory"])
    client.config_set("maxmemory", str(used + (4 << 20)))
    client.config_set("maxmemory-policy", "allkeys-lru")
    blob = b"x" * 20_000
    try:
        written = 0
        while time.monotonic() < deadline and not stop.is_set() and written < 100_000:
            client.set(f"batch:{written}", blob, ex=600)
            written += 1
            stop.wait(0.005)
    finally:
        client.config_set("maxmemory", "0")
        for key in client.scan_iter("batch:*", count=1000):
            client.delete(key)
        client.close()


_BUSY_SCRIPT = "local i = 0 while i < tonumber(ARGV[1]) do i = i + 1 end return i"


def redis_slow(state: dict[str, Any], seconds: float, stop: threading.Event) -> None:
    """A slow-command storm: Lua loops of about 100 ms each, back to back from two clients."""
    deadline = _until(seconds)

    def storm() -> None:
        client = _redis(state)
        while time.monotonic() < deadline and not stop.is_set():
            client.eval(_BUSY_SCRIPT, 0, 2_000_000)
            stop.wait(0.05)
        client.close()

    _all([threading.Thread(target=storm, daemon=True) for _ in range(2)])


def _post_fault(state: dict[str, Any], spec: dict[str, Any]) -> None:
    """The degraded backend's own trouble for ``spec["seconds"]`` (0: none from now on)."""
    address = state["backends"][DEGRADED]
    request = urllib.request.Request(
        f"http://{address}/fault",
        data=json.dumps(spec).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def backend_cpu(state: dict[str, Any], seconds: float, stop: threading.Event) -> None:
    """One backend instance burns CPU by itself (two busy threads, slower answers)."""
    seconds = min(seconds, MAX_SECONDS)
    _post_fault(state, {"cpuThreads": 2, "delay": 0.4, "seconds": seconds})
    try:
        stop.wait(seconds)
    finally:
        _post_fault(state, {"seconds": 0})


def backend_fail(state: dict[str, Any], seconds: float, stop: threading.Event) -> None:
    """One backend instance fails most requests by itself."""
    seconds = min(seconds, MAX_SECONDS)
    _post_fault(state, {"errorRatio": 0.6, "seconds": seconds})
    try:
        stop.wait(seconds)
    finally:
        _post_fault(state, {"seconds": 0})


def nginx_connections(state: dict[str, Any], seconds: float, stop: threading.Event) -> None:
    """nginx reloaded with too few worker connections for its traffic."""
    deadline = _until(seconds)
    conf = Path(state["nginxPrefix"]) / "conf" / "nginx.conf"
    original = conf.read_text(encoding="utf-8")
    limited = original.replace(
        "worker_connections 256;", f"worker_connections {NGINX_LIMITED_CONNECTIONS};"
    )
    _reload_nginx(state, conf, limited)
    try:
        # Browsers keeping connections open: a few idle sockets from several users.
        traffic.users(
            state["nginx"], seconds=max(0.0, deadline - time.monotonic()), rate=2.0, stop=stop
        )
    finally:
        _reload_nginx(state, conf, original)


def _reload_nginx(state: dict[str, Any], conf: Path, text: str) -> None:
    conf.write_text(text, encoding="utf-8")
    pid = int((Path(state["nginxPrefix"]) / "nginx.pid").read_text().strip())
    os.kill(pid, signal.SIGHUP)
    time.sleep(1.0)


def client_flood(state: dict[str, Any], seconds: float, stop: threading.Event) -> None:
    """One client address fetching in a tight loop from ``FLOOD_CONNECTIONS`` connections at
    once, for its whole time: its count bound grows with that time (``FLOOD_RATE``), so a
    machine that answers fast does not see it end within a minute, before any alert could
    fire."""
    seconds = min(seconds, MAX_SECONDS)
    traffic.hammer(
        state["nginx"],
        client=FLOOD_CLIENT,
        seconds=seconds,
        threads=FLOOD_CONNECTIONS,
        max_requests=int(FLOOD_RATE * seconds),
        stop=stop,
    )


def client_retry(state: dict[str, Any], seconds: float, stop: threading.Event) -> None:
    """One client retrying every failed request at once, in a tight loop."""
    traffic.hammer(
        state["nginx"],
        client=RETRY_CLIENT,
        seconds=min(seconds, MAX_SECONDS),
        threads=2,
        path="/api/items?id=9",  # a row no lock of the reference holds
        agent="python-requests/2.31",
        retry_only_failures=True,
        stop=stop,
    )


def reference(state: dict[str, Any], seconds: float, stop: threading.Event) -> None:
    """The reference combination: DB locks, one degraded backend, slow cache, retrying client."""
    seconds = min(seconds, MAX_SECONDS)
    _post_fault(state, {"cpuThreads": 1, "errorRatio": 0.4, "delay": 0.3, "seconds": seconds})
    try:
        _all(
            [
                threading.Thread(target=fault, args=(state, seconds, stop), daemon=True)
                for fault in (mysql_locks, _mild_redis_slow, client_retry)
            ]
        )
    finally:
        _post_fault(state, {"seconds": 0})


def _mild_redis_slow(state: dict[str, Any], seconds: float, stop: threading.Event) -> None:
    deadline = _until(seconds)
    client = _redis(state)
    while time.monotonic() < deadline and not stop.is_set():
        client.eval(_BUSY_SCRIPT, 0, 1_000_000)
        stop.wait(0.2)
    client.close()


def _all(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


FAULTS: dict[str, Fault] = {
    "mysql-locks": mysql_locks,
    "mysql-scans": mysql_scans,
    "mysql-connections": mysql_connections,
    "redis-evictions": redis_evictions,
    "redis-slow": redis_slow,
    "backend-cpu": backend_cpu,
    "backend-fail": backend_fail,
    "nginx-connections": nginx_connections,
    "client-flood": client_flood,
    "client-retry": client_retry,
    "reference": reference,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="inject one fault into the running lab")
    parser.add_argument("name", nargs="?", choices=sorted(FAULTS))
    parser.add_argument("--workdir", type=Path, default=Path("out/lab"))
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--list", action="store_true", help="name the faults and stop")
    args = parser.parse_args(argv)
    if args.list or args.name is None:
        for name, fault in sorted(FAULTS.items()):
            print(f"{name:<18} {(fault.__doc__ or '').strip()}")
        return 0
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    state = read_state(args.workdir)
    print(f"fault {args.name} for {min(args.seconds, MAX_SECONDS):.0f} s", flush=True)
    FAULTS[args.name](state, args.seconds, stop)
    print(f"fault {args.name} over", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
