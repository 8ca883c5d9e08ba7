"""Round-8 faults injected into the real-software lab (``tests/lab``) and recorded.

    PYTHONPATH=operator:. python -m examples.incidents.holdout8_lab.lab_faults record NAME \
        [--out examples/incidents/holdout8_lab/lab] [--workdir out/rt8-lab]

Same procedure as rounds 5 to 7 (``holdout5.lab_faults.play``: a fresh lab, 30 s
warm-up, 90 s baseline, the fault for 90 s, the window closing while it still runs,
``bundle record`` and the ``expected.yaml`` the injection calls for, written before any
diagnosis; nothing is diagnosed here).  Faults, each bounded in time and always undone
(``README.md`` has the stories and their sources):

* ``redis-crash``: the Redis server is killed (SIGKILL, as the kernel's OOM killer
  does) and nothing restarts it within the window: every cache read of the API is
  refused ("Connection refused"), the order reads (MariaDB only) keep working;
  restarted (same command, same port) at the end.
* ``nginx-read-timeout``: a config push lowers nginx's ``proxy_read_timeout`` for
  ``/api/`` from 15 s to 500 ms; the API answers as fast as ever (hundreds of ms on this
  machine), nginx gives up on those slower than 500 ms and answers 504; reloaded back at the end.
* ``nginx-upstream-wrong-port``: a config push writes a wrong port (where nothing
  listens) for the second API server in nginx's upstream; that instance runs healthy
  at its real address, nginx gets "Connection refused" at the wrong one and answers
  502 for every request it sends there; reloaded back at the end.
* ``mysql-lock-tables``: a maintenance session (a DBA's consistency check) takes
  ``LOCK TABLES orders WRITE`` and keeps it while it counts rows now and then: every
  order read of the API waits for the table's metadata lock; the item reads, on other
  tables, go on.  ``UNLOCK TABLES`` at the end.
* ``backend-bad-secret``: a rollout replaces the second API instance (the canary) by one
  whose config carries a wrong MariaDB password (a secret from another environment):
  every request it takes fails with MariaDB's "Access denied" (1045), its siblings are
  fine; the old instance is started again at the end.
* ``redis-restart-blip``: healthy at the window's end: Redis is shut down on purpose
  (``SHUTDOWN NOSAVE``, as a package upgrade's restart does) and started again 12 s
  later, empty; cache reads fail for those seconds, then every item is a miss once
  (more MariaDB reads) and the cache fills again; 75 s of normal service follow.
* ``client-404-scanner``: healthy: one client address (127.0.0.99) runs a vulnerability
  scanner's word list (``/.env``, ``/wp-login.php``, ``/api/v1/admin``...) at about
  8 requests a second: 404s from nginx and from the API, nothing else.  No incident.
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pymysql
import redis
from tests.lab import fault as lab_fault
from tests.lab import scenarios, stack, traffic
from tests.lab.config import UPSTREAM_DIR, root_connection
from tests.lab.stack import Lab
from tests.services.loki import REPO_ROOT
from tests.services.ports import free_port, start_process

from examples.incidents.holdout5.lab_faults import Inject, recorder

SHORT_READ_TIMEOUT = "500ms"
SCANNER = "127.0.0.99"
SCANNER_AGENT = "Mozilla/5.0 zgrab/0.x"
SCANNER_THREADS = 2
SCANNER_PAUSE = 0.25  # each thread: about 4 requests a second, 8 in all
SCANNER_MAX = 2_000
LOCK_CHECK_PERIOD = 5.0
BLIP_SECONDS = 12.0
# A scanner's word list: files and admin pages of common software, and API guesses.
SCAN_PATHS = (
    "/.env",
    "/.git/config",
    "/wp-login.php",
    "/wp-admin/",
    "/xmlrpc.php",
    "/phpmyadmin/",
    "/admin/",
    "/administrator/",
    "/server-status",
    "/config.json",
    "/backup.zip",
    "/db.sql",
    "/.aws/credentials",
    "/actuator/env",
    "/console/",
    "/cgi-bin/luci",
    "/api/v1/admin",
    "/api/v1/users",
    "/api/admin/config",
    "/api/.env",
    "/api/swagger.json",
    "/api/graphql",
    "/api/debug/vars",
    "/api/users?id=1",
)


def _bounded(seconds: float) -> float:
    return min(seconds, lab_fault.MAX_SECONDS)


def redis_crash(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """Kill the Redis server (SIGKILL); start it again, same command and port, at the end."""
    index, target = next((i, p) for i, p in enumerate(lab.processes) if p is lab.redis.process)
    target.process.send_signal(signal.SIGKILL)
    target.process.wait(timeout=30)
    try:
        stop.wait(_bounded(seconds))
    finally:
        revived = start_process(target.name, target.command, log_path=target.log_path)
        lab.processes[index] = revived
        revived.wait_ready(lambda: _redis_answers(lab), timeout=60, what="revived redis")


def redis_restart_blip(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """Redis shut down on purpose and started again, empty, ``BLIP_SECONDS`` later."""
    deadline = time.monotonic() + _bounded(seconds)
    index, target = next((i, p) for i, p in enumerate(lab.processes) if p is lab.redis.process)
    with lab.redis.client() as client, contextlib.suppress(redis.RedisError):
        client.shutdown(nosave=True)
    target.process.wait(timeout=30)
    try:
        stop.wait(BLIP_SECONDS)
    finally:
        revived = start_process(target.name, target.command, log_path=target.log_path)
        lab.processes[index] = revived
        revived.wait_ready(lambda: _redis_answers(lab), timeout=60, what="restarted redis")
    stop.wait(max(0.0, deadline - time.monotonic()))


def _redis_answers(lab: Lab) -> bool:
    with lab.redis.client() as client:
        return bool(client.ping())


def _nginx_swap(lab: Lab, name: str, old: str, new: str) -> str:
    """Replace ``old`` by ``new`` in nginx's conf file ``name`` and reload; the old text."""
    path = lab.nginx.path_of(name)
    original = path.read_text(encoding="utf-8")
    if old not in original:
        raise RuntimeError(f"{old!r} is not in {path}")
    path.write_text(original.replace(old, new), encoding="utf-8")
    lab.nginx.reload()
    return original


def _nginx_restore(lab: Lab, name: str, original: str) -> None:
    lab.nginx.path_of(name).write_text(original, encoding="utf-8")
    lab.nginx.reload()


def nginx_read_timeout(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """nginx's proxy_read_timeout for /api/ lowered from 15 s to 500 ms (a config push)."""
    name = "http.d/servers.conf"
    original = _nginx_swap(
        lab, name, "proxy_read_timeout 15s;", f"proxy_read_timeout {SHORT_READ_TIMEOUT};"
    )
    try:
        stop.wait(_bounded(seconds))
    finally:
        _nginx_restore(lab, name, original)


def nginx_upstream_wrong_port(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """The second API server written into nginx's upstream with a port nothing listens on."""
    name = f"{UPSTREAM_DIR}/servers.conf"
    server = lab.backends[lab_fault.DEGRADED]
    host = server.split(":")[0]
    wrong = f"{host}:{free_port(host)}"
    original = _nginx_swap(lab, name, f"server {server} ", f"server {wrong} ")
    print(f"nginx-upstream-wrong-port: {server} written as {wrong}", flush=True)
    try:
        stop.wait(_bounded(seconds))
    finally:
        _nginx_restore(lab, name, original)


def mysql_lock_tables(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """A maintenance session holds LOCK TABLES orders WRITE, counting rows now and then."""
    deadline = time.monotonic() + _bounded(seconds)
    checks = 0
    with root_connection(lab.state) as connection, connection.cursor() as cursor:
        cursor.execute("LOCK TABLES orders WRITE")
        try:
            while time.monotonic() < deadline and not stop.is_set():
                cursor.execute(
                    "SELECT COUNT(*), SUM(total) FROM orders WHERE customer_id BETWEEN %s AND %s",
                    (checks * 50, checks * 50 + 49),
                )
                cursor.fetchall()
                checks += 1
                stop.wait(min(LOCK_CHECK_PERIOD, max(0.0, deadline - time.monotonic())))
        finally:
            with contextlib.suppress(pymysql.MySQLError):
                cursor.execute("UNLOCK TABLES")
    print(f"mysql-lock-tables: {checks} checks under the lock", flush=True)


def client_404_scanner(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """One client address walks a scanner's word list, about 8 requests a second."""
    deadline = time.monotonic() + _bounded(seconds)
    tally = traffic.Tally()
    sent = [0]
    lock = threading.Lock()

    def walk(offset: int) -> None:
        position = offset
        while time.monotonic() < deadline and not stop.is_set():
            with lock:
                if sent[0] >= SCANNER_MAX:
                    return
                sent[0] += 1
            path = SCAN_PATHS[position % len(SCAN_PATHS)]
            position += SCANNER_THREADS
            tally.add(
                traffic.request(
                    lab.nginx.url, path, client=SCANNER, agent=SCANNER_AGENT, timeout=10.0
                )
            )
            stop.wait(SCANNER_PAUSE)

    walkers = [
        threading.Thread(target=walk, args=(offset,), daemon=True)
        for offset in range(SCANNER_THREADS)
    ]
    for walker in walkers:
        walker.start()
    for walker in walkers:
        walker.join()
    print(f"client-404-scanner: {sent[0]} requests, {dict(tally.counts)}", flush=True)


def backend_bad_secret(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """The second API instance redeployed with a wrong database password; the old one back
    at the end."""
    host = lab.backends[lab_fault.DEGRADED].split(":")[0]
    index, old = next(
        (i, p)
        for i, p in enumerate(lab.processes)
        if "tests.lab.app" in p.command and host in p.command
    )
    command = list(old.command)
    config = Path(command[command.index("--config") + 1])
    settings = json.loads(config.read_text(encoding="utf-8"))
    settings["mysql"]["password"] = "staging-" + str(settings["mysql"]["password"])[:4]
    bad = config.with_name("app-canary.json")
    bad.write_text(json.dumps(settings), encoding="utf-8")
    bad.chmod(0o600)
    command[command.index("--config") + 1] = str(bad)
    _replace(lab, index, command)
    try:
        stop.wait(_bounded(seconds))
    finally:
        _replace(lab, index, list(old.command))


def _replace(lab: Lab, index: int, command: list[str]) -> None:
    """Stop the app process ``lab.processes[index]``; start ``command`` in its place."""
    old = lab.processes[index]
    old.stop()
    new = start_process(
        old.name,
        command,
        log_path=old.log_path,
        cwd=REPO_ROOT,
        env=scenarios._python_env(),
    )
    lab.processes[index] = new
    address = lab.backends[lab_fault.DEGRADED]
    new.wait_ready(lambda: stack._http_ok(f"http://{address}/healthz"), timeout=60, what="app")


def _forbid(expect: scenarios.Expect, *actions: str) -> scenarios.Expect:
    """``expect`` with the actions this fault makes wrong (``forbidden``)."""

    def build(state: dict[str, Any]) -> dict[str, Any]:
        return {**expect(state), "forbidden": list(actions)}

    return build


DRAIN, KILL, LIMIT = "drain-pod", "kill-mysql-queries", "rate-limit-client"


def _one(state: dict[str, Any]) -> list[str]:
    return [str(state["backends"][lab_fault.DEGRADED])]


def _drain(state: dict[str, Any]) -> list[tuple[str, str]]:
    return [(DRAIN, instance) for instance in _one(state)]


def _kill(_: object) -> list[tuple[str, str]]:
    return [(KILL, "mysql")]


FAULTS: dict[str, tuple[Inject, scenarios.Scenario]] = {
    "redis-crash": (
        redis_crash,
        scenarios.Scenario(
            "redis-crash",
            "redis-crash",
            "the Redis server killed and not restarted: every cache read of the API "
            "refused, order reads fine",
            _forbid(scenarios._expect("redis", "crash"), DRAIN, KILL, LIMIT),
        ),
    ),
    "nginx-read-timeout": (
        nginx_read_timeout,
        scenarios.Scenario(
            "nginx-read-timeout",
            "nginx-read-timeout",
            "nginx's proxy_read_timeout lowered to 500 ms by a config push: 504 for "
            "the healthy API answers slower than that",
            _forbid(scenarios._expect("nginx", "misconfiguration"), DRAIN, KILL, LIMIT),
        ),
    ),
    "nginx-upstream-wrong-port": (
        nginx_upstream_wrong_port,
        scenarios.Scenario(
            "nginx-upstream-wrong-port",
            "nginx-upstream-wrong-port",
            "nginx's upstream names the second API server with a wrong port: "
            "connection refused, 502 for a third of requests, the instance itself healthy",
            _forbid(scenarios._expect("nginx", "misconfiguration"), DRAIN, KILL, LIMIT),
        ),
    ),
    "mysql-lock-tables": (
        mysql_lock_tables,
        scenarios.Scenario(
            "mysql-lock-tables",
            "mysql-lock-tables",
            "a maintenance session holds LOCK TABLES orders WRITE: every order read "
            "waits for the table's metadata lock, item reads go on",
            _forbid(
                scenarios._expect("mysql", "lock contention", remediations=_kill), DRAIN, LIMIT
            ),
        ),
    ),
    "backend-bad-secret": (
        backend_bad_secret,
        scenarios.Scenario(
            "backend-bad-secret",
            "backend-bad-secret",
            "the second API instance redeployed with a wrong MariaDB password (a canary "
            "with another environment's secret): every request it takes fails, Access "
            "denied (1045); its siblings fine",
            _forbid(
                scenarios._expect("api", None, affected=_one, remediations=_drain), KILL, LIMIT
            ),
        ),
    ),
    "redis-restart-blip": (
        redis_restart_blip,
        scenarios.Scenario(
            "redis-restart-blip",
            "redis-restart-blip",
            "Redis shut down on purpose and started again, empty, 12 s later: a short "
            "burst of cache errors, a cold cache refilled, then normal service; no incident",
            _forbid(scenarios._expect("none", None), DRAIN, KILL, LIMIT),
        ),
    ),
    "client-404-scanner": (
        client_404_scanner,
        scenarios.Scenario(
            "client-404-scanner",
            "client-404-scanner",
            "one client address runs a vulnerability scanner's word list (~8 requests/s): "
            "404s only, the shoppers unaffected; no incident",
            _forbid(scenarios._expect("none", None), DRAIN, KILL),
        ),
    ),
}


def main(argv: list[str] | None = None) -> int:
    return recorder(
        argv,
        faults=FAULTS,
        round_label="round-8",
        out=Path(__file__).with_name("lab"),
        workdir=REPO_ROOT / "out/rt8-lab",
        width=26,
    )


if __name__ == "__main__":
    raise SystemExit(main())
