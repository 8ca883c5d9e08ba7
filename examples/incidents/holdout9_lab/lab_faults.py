"""Round-9 faults injected into the real-software lab (``tests/lab``) and recorded.

    PYTHONPATH=operator:. python -m examples.incidents.holdout9_lab.lab_faults record NAME \
        [--out examples/incidents/holdout9_lab/lab] [--workdir out/rt9-lab]

Same procedure as rounds 5 to 8 (``holdout5.lab_faults.play``: a fresh lab, 30 s
warm-up, 90 s baseline, the fault for 90 s, the window closing while it still runs,
``bundle record`` and the ``expected.yaml`` the injection calls for, written before any
diagnosis; nothing is diagnosed here).  Faults, each bounded in time and always undone
(``README.md`` has the stories and their sources):

* ``mysql-user-connections``: a grant template gives the app's MariaDB account
  ``MAX_USER_CONNECTIONS 1`` (a limit meant for a batch account): the API opens one
  connection per query, so every connection beyond the first at a time is refused with
  "User ... has exceeded the 'max_user_connections' resource" (1226); set back to 0 at
  the end.
* ``redis-big-del``: a cleanup cron builds a big "report" set (500k members) and drops
  it with a blocking ``DEL`` (not ``UNLINK``) every 10 s: Redis does nothing else while
  it frees the members; the last set is deleted at the end.
* ``nginx-limit-req-typo``: a config push adds a rate limit for ``/api/`` meant as
  ``60r/s`` per client address but written ``60r/m`` (one a second): every shopper
  (three a second) gets ``503`` for most requests ("limiting requests"); the rule files
  are removed and nginx reloaded at the end.
* ``backend-fd-limit``: the second API instance is redeployed under a service unit whose
  open-files limit is far too low (``LimitNOFILE=10``, scaled to the lab's traffic):
  when a few requests overlap, its sockets fail with "[Errno 24] Too many open
  files"; its siblings are fine; the old instance is started again at the end.
* ``backend-restart-ok``: healthy: the second API instance is restarted once by a
  config-management run (SIGTERM, started again at once): a second or two of 502s for
  its share, then 85 s of normal service.
* ``client-cache-warmer``: healthy: a cron job (127.0.0.44) walks the first 60 items
  every 30 s, one request after the other, to keep them cached: bursts of 200s, the
  shoppers unaffected.
* ``redis-replicaof-typo``: a failover script sends ``REPLICAOF`` to the wrong node: the
  cache (the primary) becomes a replica of an address where nothing listens, keeps
  serving its data but refuses every write ("READONLY You can't write against a read
  only replica"), and logs a failed sync attempt every second; ``REPLICAOF NO ONE`` at
  the end.
* ``mysql-buffer-pool-resize``: healthy: a DBA grows InnoDB's buffer pool online
  (``SET GLOBAL innodb_buffer_pool_size``, 32 MiB to 256 MiB): MariaDB's error log notes
  the resize, the API is unaffected; shrunk back at the end.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import redis
from tests.lab import fault as lab_fault
from tests.lab import scenarios, stack, traffic
from tests.lab.config import RULES_DIR, root_connection
from tests.lab.stack import Lab
from tests.services.loki import REPO_ROOT
from tests.services.ports import free_port, start_process

from examples.incidents.holdout5.lab_faults import Inject, recorder

USER_CONNECTIONS = 1
BIG_SET_MEMBERS = 500_000
BIG_SET_CHUNK = 2_000
BIG_DEL_PERIOD = 10.0
BIG_DEL_MAX = 12
RATE_RULE = "ops-api-ratelimit"
# The rule as pushed: meant as 60r/s per address, written 60r/m.
RATE_HTTP = "limit_req_zone $binary_remote_addr zone=ops_api:1m rate=60r/m;\n"
RATE_SERVER = "limit_req zone=ops_api burst=5 nodelay;\n"
OPEN_FILES = 10
WARMER = "127.0.0.44"
WARMER_AGENT = "cache-warmer/1.0 (cron)"
WARMER_ITEMS = 60
WARMER_PERIOD = 30.0
WARMER_MAX = 400
BUFFER_POOL_GROWN = 256 << 20


def _bounded(seconds: float) -> float:
    return min(seconds, lab_fault.MAX_SECONDS)


def _user_limit(lab: Lab, limit: int) -> None:
    db = lab.state["mariadb"]
    with root_connection(lab.state) as connection, connection.cursor() as cursor:
        cursor.execute(
            f"ALTER USER %s@'127.0.0.1' WITH MAX_USER_CONNECTIONS {int(limit)}",
            (db["appUser"],),
        )


def mysql_user_connections(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """The app's account limited to one connection at a time (MAX_USER_CONNECTIONS 1)."""
    _user_limit(lab, USER_CONNECTIONS)
    try:
        stop.wait(_bounded(seconds))
    finally:
        _user_limit(lab, 0)


def redis_big_del(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """A cleanup cron: build a big set, drop it with a blocking DEL, every 10 s."""
    deadline = time.monotonic() + _bounded(seconds)
    cycles = 0
    client = lab.redis.client()
    try:
        while cycles < BIG_DEL_MAX and time.monotonic() < deadline and not stop.is_set():
            started = time.monotonic()
            key = f"report:visitors:{cycles}"
            _fill_set(client, key)
            client.delete(key)
            cycles += 1
            stop.wait(max(0.0, BIG_DEL_PERIOD - (time.monotonic() - started)))
    finally:
        with contextlib.suppress(redis.RedisError):
            for key in client.scan_iter("report:visitors:*", count=100):
                client.unlink(key)
        client.close()
    print(f"redis-big-del: {cycles} sets of {BIG_SET_MEMBERS} members deleted", flush=True)


def _fill_set(client: redis.Redis, key: str) -> None:
    pipe = client.pipeline(transaction=False)
    for start in range(0, BIG_SET_MEMBERS, BIG_SET_CHUNK):
        pipe.sadd(key, *(f"visitor-{n:08d}" for n in range(start, start + BIG_SET_CHUNK)))
    pipe.execute()


def nginx_limit_req_typo(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """A rate limit for /api/ pushed as 60r/m where 60r/s was meant."""
    http = lab.nginx.path_of(f"{RULES_DIR}/{RATE_RULE}-http.conf")
    server = lab.nginx.path_of(f"{RULES_DIR}/{RATE_RULE}-server.conf")
    http.write_text(RATE_HTTP, encoding="utf-8")
    server.write_text(RATE_SERVER, encoding="utf-8")
    try:
        lab.nginx.reload()
        stop.wait(_bounded(seconds))
    finally:
        http.unlink(missing_ok=True)
        server.unlink(missing_ok=True)
        lab.nginx.reload()


def _app_index(lab: Lab) -> int:
    host = lab.backends[lab_fault.DEGRADED].split(":")[0]
    return next(
        i for i, p in enumerate(lab.processes) if "tests.lab.app" in p.command and host in p.command
    )


def backend_fd_limit(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """The second API instance redeployed with an open-files limit of 10; the old one back."""
    index = _app_index(lab)
    command = list(lab.processes[index].command)
    limited = [
        shutil.which("prlimit") or "prlimit",
        f"--nofile={OPEN_FILES}:{OPEN_FILES}",
        "--",
        *command,
    ]
    _replace(lab, index, limited)
    try:
        stop.wait(_bounded(seconds))
    finally:
        _replace(lab, index, command)


def backend_restart_ok(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """The second API instance restarted once (SIGTERM, started again at once)."""
    index = _app_index(lab)
    _replace(lab, index, list(lab.processes[index].command))
    stop.wait(_bounded(seconds))


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


def client_cache_warmer(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """A cron job walks the first 60 items every 30 s, one request after the other."""
    deadline = time.monotonic() + _bounded(seconds)
    tally = traffic.Tally()
    sent = 0
    while sent < WARMER_MAX and time.monotonic() < deadline and not stop.is_set():
        started = time.monotonic()
        for item in range(1, WARMER_ITEMS + 1):
            if sent >= WARMER_MAX or stop.is_set() or time.monotonic() >= deadline:
                break
            path = f"/api/items?id={item}"
            tally.add(traffic.request(lab.nginx.url, path, client=WARMER, agent=WARMER_AGENT))
            sent += 1
        stop.wait(max(0.0, WARMER_PERIOD - (time.monotonic() - started)))
    print(f"client-cache-warmer: {sent} requests, {dict(tally.counts)}", flush=True)


def redis_replicaof_typo(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """The cache made a replica of an address where nothing listens; promoted back at the end."""
    host = lab.redis.host
    wrong = free_port(host)
    client = lab.redis.client()
    client.replicaof(host, wrong)
    print(f"redis-replicaof-typo: REPLICAOF {host} {wrong}", flush=True)
    try:
        stop.wait(_bounded(seconds))
    finally:
        client.replicaof("NO", "ONE")
        client.close()


def _buffer_pool(lab: Lab, size: int) -> int:
    """Set innodb_buffer_pool_size to ``size`` bytes; the size it had."""
    with root_connection(lab.state) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT @@GLOBAL.innodb_buffer_pool_size")
        row = cursor.fetchone()
        cursor.execute(f"SET GLOBAL innodb_buffer_pool_size = {int(size)}")
    return int(row[0]) if row else 0


def mysql_buffer_pool_resize(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """A DBA grows InnoDB's buffer pool online; shrunk back to its size at the end."""
    before = _buffer_pool(lab, BUFFER_POOL_GROWN)
    print(f"mysql-buffer-pool-resize: {before} -> {BUFFER_POOL_GROWN} bytes", flush=True)
    try:
        stop.wait(_bounded(seconds))
    finally:
        _buffer_pool(lab, before)


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


def _scenario(name: str, description: str, expect: scenarios.Expect) -> scenarios.Scenario:
    return scenarios.Scenario(name, name, description, expect)


FAULTS: dict[str, tuple[Inject, scenarios.Scenario]] = {
    "mysql-user-connections": (
        mysql_user_connections,
        _scenario(
            "mysql-user-connections",
            "the app's MariaDB account limited to MAX_USER_CONNECTIONS 1 by a grant "
            "template: every overlapping connection refused (1226), on all instances",
            _forbid(scenarios._expect("mysql", "connection exhaustion"), DRAIN, KILL, LIMIT),
        ),
    ),
    "redis-big-del": (
        redis_big_del,
        _scenario(
            "redis-big-del",
            "a cleanup cron drops a 500k-member set with a blocking DEL every 10 s: "
            "Redis stalls, the API's cache reads wait",
            _forbid(scenarios._expect("redis", "slow command"), DRAIN, KILL, LIMIT),
        ),
    ),
    "nginx-limit-req-typo": (
        nginx_limit_req_typo,
        _scenario(
            "nginx-limit-req-typo",
            "a rate limit for /api/ pushed as 60r/m instead of 60r/s: 503 for most "
            "requests of every shopper, the API healthy",
            _forbid(scenarios._expect("nginx", "misconfiguration"), DRAIN, KILL, LIMIT),
        ),
    ),
    "backend-fd-limit": (
        backend_fd_limit,
        _scenario(
            "backend-fd-limit",
            "the second API instance redeployed with an open-files limit far too low: "
            "'Too many open files' when requests overlap; its siblings fine",
            _forbid(
                scenarios._expect("api", None, affected=_one, remediations=_drain), KILL, LIMIT
            ),
        ),
    ),
    "backend-restart-ok": (
        backend_restart_ok,
        _scenario(
            "backend-restart-ok",
            "the second API instance restarted once by config management: a second or "
            "two of 502s for its share, then normal service; no incident",
            _forbid(scenarios._expect("none", None), DRAIN, KILL, LIMIT),
        ),
    ),
    "client-cache-warmer": (
        client_cache_warmer,
        _scenario(
            "client-cache-warmer",
            "a cron job (127.0.0.44) walks the first 60 items every 30 s to keep them "
            "cached: bursts of 200s, the shoppers unaffected; no incident",
            _forbid(scenarios._expect("none", None), DRAIN, KILL),
        ),
    ),
    "redis-replicaof-typo": (
        redis_replicaof_typo,
        _scenario(
            "redis-replicaof-typo",
            "a failover script turns the cache into a replica of a wrong address: reads "
            "served, every cache write refused (READONLY), sync retried every second",
            _forbid(scenarios._expect("redis", "read-only"), DRAIN, KILL, LIMIT),
        ),
    ),
    "mysql-buffer-pool-resize": (
        mysql_buffer_pool_resize,
        _scenario(
            "mysql-buffer-pool-resize",
            "a DBA grows InnoDB's buffer pool online (32 to 256 MiB): resize notes in "
            "MariaDB's error log, the API unaffected; no incident",
            _forbid(scenarios._expect("none", None), DRAIN, KILL, LIMIT),
        ),
    ),
}


def main(argv: list[str] | None = None) -> int:
    return recorder(
        argv,
        faults=FAULTS,
        round_label="round-9",
        out=Path(__file__).with_name("lab"),
        workdir=REPO_ROOT / "out/rt9-lab",
        width=25,
    )


if __name__ == "__main__":
    raise SystemExit(main())
