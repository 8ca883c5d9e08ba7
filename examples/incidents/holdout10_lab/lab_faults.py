"""Round-10 faults injected into the real-software lab (``tests/lab``) and recorded.

    PYTHONPATH=operator:. python -m examples.incidents.holdout10_lab.lab_faults record NAME \
        [--out examples/incidents/holdout10_lab/lab] [--workdir out/rt10-lab]

Same procedure as rounds 5 to 9 (``holdout5.lab_faults.play``: a fresh lab, 30 s
warm-up, 90 s baseline, the fault for 90 s, the window closing while it still runs,
``bundle record`` and the ``expected.yaml`` the injection calls for, written before any
diagnosis; nothing is diagnosed here).  Faults, each bounded in time and always undone
(``README.md`` has the stories and their sources):

* ``mysql-report-query``: a new BI dashboard, pointed at the primary with the app's
  credentials, runs a self-join report over ``orders`` from three sessions back to back:
  MariaDB's CPU goes to the report, every API query waits its turn; the report's queries
  are killed at the end.
* ``redis-snapshot-misconf``: a deploy turns RDB snapshots on (``save 60 1``) while the
  snapshot's path is a directory (a bind mount of a file that did not exist): every
  ``BGSAVE`` fails, and Redis refuses every write ("MISCONF ..."); snapshots off and
  the directory removed at the end.
* ``nginx-proxy-pass-slash``: a config push adds ``location /api/items`` with
  ``proxy_pass http://api/;`` (a trailing slash): nginx strips the prefix, the API gets
  ``/?id=N`` and answers 404 for every item request; the rule removed at the end.
* ``backend-cpu-throttle``: the second API instance is redeployed with a CPU limit of
  ``50m`` (meant ``500m``): a CFS quota of 5 ms per 100 ms (cgroup ``cpu``), its requests
  wait for CPU time; moved back to the root cgroup at the end.
* ``client-cache-penetration``: a partner's catalogue sync (127.0.0.57) walks item ids
  that do not exist, six at a time: every request misses the cache and reaches MariaDB.
* ``client-monitor-499``: healthy: an uptime monitor (127.0.0.33) probes an order
  lookup every 2 s with a 100 ms timeout and hangs up before the answer: 499s in
  nginx's log, the service fine.
* ``redis-bgsave-ok``: healthy: a backup cron takes an RDB snapshot (``BGSAVE``) every
  10 s: fork and save notes in Redis' log; the snapshot file removed at the end.
* ``mysql-analyze-table``: healthy: a DBA refreshes the optimizer's statistics
  (``ANALYZE TABLE ... PERSISTENT FOR ALL``) on ``orders`` then ``items``: a few
  seconds of full reads, slow-log entries, the API unaffected.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pymysql
import redis
from tests.lab import fault as lab_fault
from tests.lab import scenarios, traffic
from tests.lab.config import RULES_DIR, root_connection
from tests.lab.stack import Lab
from tests.services.loki import REPO_ROOT

from examples.incidents.holdout5.lab_faults import Inject, recorder

REPORT_SESSIONS = 3
REPORT_MAX = 60
REPORT_SQL = (
    "SELECT a.customer_id, COUNT(*) AS pairs, SUM(a.total * b.total) AS score "
    "FROM orders a JOIN orders b ON b.customer_id = a.customer_id "
    "WHERE a.customer_id < 1000 GROUP BY a.customer_id ORDER BY score DESC LIMIT 10"
)
SNAPSHOT_SAVE = "60 1"
ITEMS_RULE = "api-items-route"
# The rule as pushed: a location of its own for /api/items, proxy_pass with a trailing
# slash (the URI part replaces the matched prefix: /api/items?id=3 -> /?id=3).
ITEMS_SERVER = (
    "location /api/items {\n"
    "    proxy_pass http://api/;\n"
    "    proxy_connect_timeout 2s;\n"
    "    proxy_read_timeout 15s;\n"
    "    proxy_next_upstream off;\n"
    "}\n"
)
CPU_CGROUP = Path("/sys/fs/cgroup/cpu")
CPU_PERIOD_US, CPU_QUOTA_US = 100_000, 5_000  # limits.cpu: 50m
CRAWLER = "127.0.0.57"
CRAWLER_AGENT = "catalog-sync/0.3 (partner)"
CRAWLER_THREADS = 6
CRAWLER_MAX = 4_000
CRAWLER_FIRST_ID = 100_001
MONITOR = "127.0.0.33"
MONITOR_AGENT = "uptime-probe/2.4"
MONITOR_PATH = "/api/orders?customer=42"
MONITOR_TIMEOUT = 0.1
MONITOR_PERIOD = 2.0
MONITOR_MAX = 60
BGSAVE_PERIOD = 10.0
BGSAVE_MAX = 10
ANALYZE = ("orders", "items")
ANALYZE_GAP = 30.0


def _bounded(seconds: float) -> float:
    return min(seconds, lab_fault.MAX_SECONDS)


def _app_connection(lab: Lab) -> pymysql.connections.Connection[Any]:
    db = lab.state["mariadb"]
    return pymysql.connect(
        host=db["host"],
        port=int(db["port"]),
        user=db["appUser"],
        password=db["appPassword"],
        database=db["database"],
        autocommit=True,
        connect_timeout=5,
    )


class _Budget:
    """A shared count of what may still be sent (bounded loads)."""

    def __init__(self, count: int) -> None:
        self.left = count
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            if self.left <= 0:
                return False
            self.left -= 1
            return True


def _report_session(
    lab: Lab, deadline: float, stop: threading.Event, budget: _Budget, ids: list[int]
) -> None:
    try:
        connection = _app_connection(lab)
    except pymysql.MySQLError:
        return
    ids.append(int(connection.thread_id()))  # type: ignore[no-untyped-call]
    try:
        while time.monotonic() < deadline and not stop.is_set() and budget.take():
            with connection.cursor() as cursor:
                cursor.execute(REPORT_SQL)
                cursor.fetchall()
    except pymysql.MySQLError:
        pass
    finally:
        with contextlib.suppress(pymysql.MySQLError):
            connection.close()


def mysql_report_query(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """Three dashboard sessions run a self-join report back to back; killed at the end."""
    deadline = time.monotonic() + _bounded(seconds)
    budget, ids = _Budget(REPORT_MAX), list[int]()
    sessions = [
        threading.Thread(
            target=_report_session, args=(lab, deadline, stop, budget, ids), daemon=True
        )
        for _ in range(REPORT_SESSIONS)
    ]
    for session in sessions:
        session.start()
    try:
        while any(s.is_alive() for s in sessions) and time.monotonic() < deadline:
            if stop.wait(1.0):
                break
    finally:
        with root_connection(lab.state) as connection, connection.cursor() as cursor:
            for thread_id in ids:
                with contextlib.suppress(pymysql.MySQLError):
                    cursor.execute(f"KILL QUERY {int(thread_id)}")
        for session in sessions:
            session.join(timeout=15)
    print(f"mysql-report-query: {REPORT_MAX - budget.left} reports started", flush=True)


def redis_snapshot_misconf(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """Snapshots turned on while the snapshot's path is a directory: BGSAVE fails."""
    client = lab.redis.client()
    directory = Path(str(client.config_get("dir")["dir"]))
    target = directory / str(client.config_get("dbfilename")["dbfilename"])
    target.mkdir(exist_ok=True)
    (target / "README").write_text("backup volume (bind mount)\n", encoding="utf-8")
    try:
        client.config_set("save", SNAPSHOT_SAVE)
        with contextlib.suppress(redis.RedisError):
            client.bgsave()
        stop.wait(_bounded(seconds))
        print(f"redis-snapshot-misconf: {client.info('persistence')}", flush=True)
    finally:
        client.config_set("save", "")
        shutil.rmtree(target, ignore_errors=True)
        client.close()


def nginx_proxy_pass_slash(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """A location for /api/items pushed with ``proxy_pass http://api/;``."""
    server = lab.nginx.path_of(f"{RULES_DIR}/{ITEMS_RULE}-server.conf")
    server.write_text(ITEMS_SERVER, encoding="utf-8")
    try:
        lab.nginx.reload()
        stop.wait(_bounded(seconds))
    finally:
        server.unlink(missing_ok=True)
        lab.nginx.reload()


def _app_index(lab: Lab) -> int:
    host = lab.backends[lab_fault.DEGRADED].split(":")[0]
    return next(
        i for i, p in enumerate(lab.processes) if "tests.lab.app" in p.command and host in p.command
    )


def backend_cpu_throttle(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """The second API instance under a CFS quota of 5 ms per 100 ms (limits.cpu 50m)."""
    pid = lab.processes[_app_index(lab)].process.pid
    group = CPU_CGROUP / f"lab-api-canary-{pid}"
    group.mkdir()
    try:
        (group / "cpu.cfs_period_us").write_text(str(CPU_PERIOD_US))
        (group / "cpu.cfs_quota_us").write_text(str(CPU_QUOTA_US))
        (group / "cgroup.procs").write_text(str(pid))
        stop.wait(_bounded(seconds))
        print(f"backend-cpu-throttle: {(group / 'cpu.stat').read_text().split()}", flush=True)
    finally:
        with contextlib.suppress(OSError):
            (CPU_CGROUP / "cgroup.procs").write_text(str(pid))
        with contextlib.suppress(OSError):
            for task in (group / "tasks").read_text().split():
                (CPU_CGROUP / "tasks").write_text(task)
        group.rmdir()


def client_cache_penetration(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """A partner's sync walks item ids that do not exist, six requests at a time."""
    deadline = time.monotonic() + _bounded(seconds)
    tally, budget = traffic.Tally(), _Budget(CRAWLER_MAX)
    counter = iter(range(CRAWLER_FIRST_ID, CRAWLER_FIRST_ID + CRAWLER_MAX))
    lock = threading.Lock()

    def crawl() -> None:
        while time.monotonic() < deadline and not stop.is_set() and budget.take():
            with lock:
                item = next(counter)
            path = f"/api/items?id={item}"
            tally.add(traffic.request(lab.nginx.url, path, client=CRAWLER, agent=CRAWLER_AGENT))

    threads = [threading.Thread(target=crawl, daemon=True) for _ in range(CRAWLER_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=_bounded(seconds) + 30)
    print(f"client-cache-penetration: {dict(tally.counts)}", flush=True)


def client_monitor_499(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """An uptime monitor probes an order lookup every 2 s and hangs up after 100 ms."""
    deadline = time.monotonic() + _bounded(seconds)
    tally, sent = traffic.Tally(), 0
    while sent < MONITOR_MAX and time.monotonic() < deadline and not stop.is_set():
        started = time.monotonic()
        status = traffic.request(
            lab.nginx.url,
            MONITOR_PATH,
            client=MONITOR,
            agent=MONITOR_AGENT,
            timeout=MONITOR_TIMEOUT,
        )
        tally.add(status)
        sent += 1
        stop.wait(max(0.0, MONITOR_PERIOD - (time.monotonic() - started)))
    print(f"client-monitor-499: {sent} probes, {dict(tally.counts)}", flush=True)


def redis_bgsave_ok(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """A backup cron: ``BGSAVE`` every 10 s; the snapshot removed at the end."""
    deadline = time.monotonic() + _bounded(seconds)
    client = lab.redis.client()
    saves = 0
    try:
        while saves < BGSAVE_MAX and time.monotonic() < deadline and not stop.is_set():
            started = time.monotonic()
            with contextlib.suppress(redis.RedisError):
                client.bgsave()
                saves += 1
            stop.wait(max(0.0, BGSAVE_PERIOD - (time.monotonic() - started)))
    finally:
        directory = Path(str(client.config_get("dir")["dir"]))
        (directory / str(client.config_get("dbfilename")["dbfilename"])).unlink(missing_ok=True)
        client.close()
    print(f"redis-bgsave-ok: {saves} snapshots", flush=True)


def mysql_analyze_table(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """A DBA refreshes the statistics of ``orders``, then of ``items``, 30 s apart."""
    deadline = time.monotonic() + _bounded(seconds)
    with root_connection(lab.state) as connection, connection.cursor() as cursor:
        for table in ANALYZE:
            if stop.is_set() or time.monotonic() >= deadline:
                break
            started = time.monotonic()
            cursor.execute(f"ANALYZE TABLE {table} PERSISTENT FOR ALL")
            print(f"mysql-analyze-table: {table} {cursor.fetchall()}", flush=True)
            print(f"  in {time.monotonic() - started:.1f} s", flush=True)
            stop.wait(ANALYZE_GAP)
    stop.wait(max(0.0, deadline - time.monotonic()))


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


def _kill(_: dict[str, Any]) -> list[tuple[str, str]]:
    return [(KILL, "mysql")]


def _limit(_: dict[str, Any]) -> list[tuple[str, str]]:
    return [(LIMIT, CRAWLER)]


def _scenario(name: str, description: str, expect: scenarios.Expect) -> scenarios.Scenario:
    return scenarios.Scenario(name, name, description, expect)


_NONE = scenarios._expect("none", None)

FAULTS: dict[str, tuple[Inject, scenarios.Scenario]] = {
    "mysql-report-query": (
        mysql_report_query,
        _scenario(
            "mysql-report-query",
            "a BI dashboard runs a self-join report over orders from three sessions back "
            "to back on the primary: MariaDB busy with it, every API query slower",
            _forbid(scenarios._expect("mysql", "slow queries", remediations=_kill), DRAIN, LIMIT),
        ),
    ),
    "redis-snapshot-misconf": (
        redis_snapshot_misconf,
        _scenario(
            "redis-snapshot-misconf",
            "RDB snapshots turned on while the snapshot path is a directory: every BGSAVE "
            "fails, Redis refuses writes (MISCONF), the API's cache writes fail",
            _forbid(scenarios._expect("redis", "persistence failure"), DRAIN, KILL, LIMIT),
        ),
    ),
    "nginx-proxy-pass-slash": (
        nginx_proxy_pass_slash,
        _scenario(
            "nginx-proxy-pass-slash",
            "a location for /api/items pushed with proxy_pass http://api/; (trailing "
            "slash): the prefix stripped, the API answers 404 to every item request",
            _forbid(scenarios._expect("nginx", "misconfiguration"), DRAIN, KILL, LIMIT),
        ),
    ),
    "backend-cpu-throttle": (
        backend_cpu_throttle,
        _scenario(
            "backend-cpu-throttle",
            "the second API instance redeployed with limits.cpu 50m (meant 500m): CFS "
            "throttled to 5 ms per 100 ms, its requests slow; its siblings fine",
            _forbid(
                scenarios._expect("api", "cpu throttling", affected=_one, remediations=_drain),
                KILL,
                LIMIT,
            ),
        ),
    ),
    "client-cache-penetration": (
        client_cache_penetration,
        _scenario(
            "client-cache-penetration",
            "a partner's sync (127.0.0.57) walks item ids that do not exist, six at a "
            "time: every request misses the cache and reaches MariaDB",
            _forbid(
                scenarios._expect(
                    "client", "request flood", clients=(CRAWLER,), remediations=_limit
                ),
                DRAIN,
                KILL,
            ),
        ),
    ),
    "client-monitor-499": (
        client_monitor_499,
        _scenario(
            "client-monitor-499",
            "an uptime monitor (127.0.0.33) hangs up on an order lookup after 100 ms "
            "every 2 s: 499s in nginx's log, the service fine; no incident",
            _forbid(_NONE, DRAIN, KILL),
        ),
    ),
    "redis-bgsave-ok": (
        redis_bgsave_ok,
        _scenario(
            "redis-bgsave-ok",
            "a backup cron takes an RDB snapshot (BGSAVE) every 10 s: fork and save "
            "notes in Redis' log, the API unaffected; no incident",
            _forbid(_NONE, DRAIN, KILL, LIMIT),
        ),
    ),
    "mysql-analyze-table": (
        mysql_analyze_table,
        _scenario(
            "mysql-analyze-table",
            "a DBA refreshes the optimizer's statistics (ANALYZE TABLE ... PERSISTENT "
            "FOR ALL) of orders then items: slow-log entries, the API unaffected; no incident",
            _forbid(_NONE, DRAIN, KILL, LIMIT),
        ),
    ),
}


def main(argv: list[str] | None = None) -> int:
    return recorder(
        argv,
        faults=FAULTS,
        round_label="round-10",
        out=Path(__file__).with_name("lab"),
        workdir=REPO_ROOT / "out/rt10-lab",
        width=25,
    )


if __name__ == "__main__":
    raise SystemExit(main())
