"""Round-11 faults injected into the real-software lab (``tests/lab``) and recorded.

    PYTHONPATH=operator:. python -m examples.incidents.holdout11_lab.lab_faults record NAME \
        [--out examples/incidents/holdout11_lab/lab] [--workdir out/rt11-lab]

Same procedure as rounds 5 to 10 (``holdout5.lab_faults.play``: a fresh lab, 30 s
warm-up, 90 s baseline, the fault for 90 s, the window closing while it still runs,
``bundle record`` and the ``expected.yaml`` the injection calls for, written before any
diagnosis; nothing is diagnosed here).  Faults, each bounded in time and always undone
(``README.md`` has the stories and their sources):

* ``mysql-grant-revoked``: a least-privilege migration re-applies the app account's
  grants from a template without ``UPDATE``: every view count (an ``UPDATE`` of
  ``item_stats``) is refused (1142), every item request fails; ``ALL`` granted back at
  the end.
* ``redis-busy-script``: a deploy's cache-cleanup Lua script walks ``SCAN`` until the
  cursor equals the number 0, but the cursor is a string: it never ends, and past
  ``busy-reply-threshold`` (5 s) Redis answers every other command "BUSY"; the injector
  bounds the script by a deadline and sends ``SCRIPT KILL`` at the end.
* ``nginx-deny-cidr-typo``: a security ticket asks to block one scraper address
  (127.0.0.7); the rule is pushed as ``deny 127.0.0.7/29;``, which denies
  127.0.0.0-127.0.0.7: every shopper gets 403; the rule removed at the end.
* ``backend-strace-attached``: an engineer debugging the canary (the second API
  instance) attaches ``strace -f`` to it in production: every system call of every
  thread stops in the tracer, its requests slow down; strace stopped (detached) at the
  end.
* ``client-orders-enumeration``: a partner's script (127.0.0.71) enumerates every
  customer's orders (customer ids 0 upward), eight requests at a time: each an uncached
  MariaDB lookup.
* ``nginx-deny-scanner-ok``: healthy: a vulnerability scanner (127.0.0.98) is blocked
  by a deny rule for its one address as it starts; it keeps probing and gets 403 from
  nginx ("access forbidden by rule"); the shoppers fine.
* ``mysql-deadlock-jobs-ok``: healthy: two workers of a job queue claim the same two
  jobs in opposite orders every few seconds: InnoDB detects the deadlock, rolls one back
  (error log dumps), the job retries; a table of their own, the API unaffected.
* ``redis-replica-sync-ok``: healthy: an SRE attaches a temporary replica to the cache
  (to take a backup off it): a full resynchronisation (fork, transfer), a minute later
  the replica is stopped ("Connection with replica ... lost").
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pymysql
import redis
from tests.lab import fault as lab_fault
from tests.lab import scenarios, traffic
from tests.lab.config import RULES_DIR, app_connection, root_connection
from tests.lab.stack import Lab
from tests.services.loki import REPO_ROOT
from tests.services.ports import LOOPBACK, free_port, require_binary, start_process

from examples.incidents.holdout5.lab_faults import Inject, recorder

# The template the migration applied: no UPDATE (the app counts views with one).
GRANT_TEMPLATE = "SELECT, INSERT, DELETE"
# The cleanup as deployed: ``until cursor == 0`` compares SCAN's cursor (a string, "0")
# with a number, so the loop never ends.  The deadline (ARGV[1] seconds) is the
# injector's bound, not part of the story.
CLEANUP_LUA = """\
local started = tonumber(redis.call('TIME')[1])
local cursor = 0
local seen = 0
repeat
  local reply = redis.call('SCAN', cursor, 'MATCH', 'session:*', 'COUNT', 100)
  cursor = reply[1]
  seen = seen + #reply[2]
  local now = tonumber(redis.call('TIME')[1])
until cursor == 0 or now - started >= tonumber(ARGV[1])
return seen
"""
BLOCKLIST_RULE = "blocklist"
DENY_TYPO = "# SEC-1432: block the scraper seen at 127.0.0.7\ndeny 127.0.0.7/29;\n"
STRACE_ARGS = ("-f", "-tt", "-T", "-s", "256")
ENUMERATOR = "127.0.0.71"
ENUMERATOR_AGENT = "python-requests/2.31.0"
ENUMERATOR_THREADS = 8
ENUMERATOR_MAX = 5_000
SCANNER = "127.0.0.98"
SCANNER_AGENT = (
    "Mozilla/5.0 (compatible; Nuclei - Open-source project (github.com/projectdiscovery/nuclei))"
)
SCANNER_RATE = 4.0
SCANNER_MAX = 400
SCANNER_PATHS = (
    "/.env",
    "/.git/config",
    "/wp-login.php",
    "/api/../etc/passwd",
    "/actuator/env",
    "/server-status",
    "/api/items?id=1%27%20OR%201=1--",
    "/phpmyadmin/index.php",
    "/api/v2/swagger.json",
    "/.aws/credentials",
)
DENY_SCANNER = f"# SEC-1433: block the scanner seen at {SCANNER}\ndeny {SCANNER};\n"
JOB_TABLE = "job_queue"
JOB_ROWS = 20
JOB_ROUNDS = 20
JOB_PAUSE = 5.0
JOB_STEP = 0.3
REPLICA_SECONDS = 60.0


def _bounded(seconds: float) -> float:
    return min(seconds, lab_fault.MAX_SECONDS)


def _app_account(lab: Lab) -> tuple[str, str]:
    db = lab.state["mariadb"]
    return str(db["appUser"]), str(db["database"])


def mysql_grant_revoked(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """The app account's grants re-applied from a template without UPDATE."""
    user, database = _app_account(lab)
    with root_connection(lab.state) as connection, connection.cursor() as cursor:
        cursor.execute(f"REVOKE ALL PRIVILEGES ON `{database}`.* FROM %s@'127.0.0.1'", (user,))
        cursor.execute(f"GRANT {GRANT_TEMPLATE} ON `{database}`.* TO %s@'127.0.0.1'", (user,))
    try:
        stop.wait(_bounded(seconds))
    finally:
        with root_connection(lab.state) as connection, connection.cursor() as cursor:
            cursor.execute(f"GRANT ALL PRIVILEGES ON `{database}`.* TO %s@'127.0.0.1'", (user,))


def redis_busy_script(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """A cleanup script that never ends (bounded here): Redis answers BUSY; killed at the end."""
    bound = _bounded(seconds)
    killer = lab.redis.client()
    killer.ping()
    runner = redis.Redis(host=lab.redis.host, port=lab.redis.port, socket_timeout=bound + 30)
    outcome: list[str] = []

    def run() -> None:
        try:
            outcome.append(f"ended: {runner.eval(CLEANUP_LUA, 0, str(int(bound)))}")
        except redis.RedisError as problem:
            outcome.append(f"{type(problem).__name__}: {problem}")

    script = threading.Thread(target=run, daemon=True)
    script.start()
    try:
        stop.wait(bound)
    finally:
        with contextlib.suppress(redis.RedisError):
            killer.script_kill()
        script.join(timeout=15)
        killer.close()
        runner.close()
    print(f"redis-busy-script: {outcome}", flush=True)


def _pushed_rule(lab: Lab, text: str, seconds: float, stop: threading.Event) -> None:
    """A server-level rule file pushed and nginx reloaded; removed and reloaded at the end."""
    rule = lab.nginx.path_of(f"{RULES_DIR}/{BLOCKLIST_RULE}-server.conf")
    rule.write_text(text, encoding="utf-8")
    try:
        lab.nginx.reload()
        stop.wait(_bounded(seconds))
    finally:
        rule.unlink(missing_ok=True)
        lab.nginx.reload()


def nginx_deny_cidr_typo(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """``deny 127.0.0.7/29;`` pushed for one address: the whole /29 (every shopper) denied."""
    _pushed_rule(lab, DENY_TYPO, seconds, stop)


def _app_pid(lab: Lab) -> int:
    host = lab.backends[lab_fault.DEGRADED].split(":")[0]
    return next(
        p.process.pid for p in lab.processes if "tests.lab.app" in p.command and host in p.command
    )


def backend_strace_attached(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """``strace -f`` attached to the second API instance; stopped (detached) at the end."""
    pid = _app_pid(lab)
    trace = lab.workdir / "strace-api-canary.txt"
    tracer = subprocess.Popen(
        [require_binary("strace"), *STRACE_ARGS, "-o", str(trace), "-p", str(pid)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        stop.wait(_bounded(seconds))
    finally:
        tracer.terminate()
        try:
            tracer.wait(timeout=15)
        except subprocess.TimeoutExpired:
            tracer.kill()
            tracer.wait(timeout=15)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGCONT)
        lines = trace.read_text(errors="replace").count("\n") if trace.exists() else 0
        trace.unlink(missing_ok=True)
    print(f"backend-strace-attached: {lines} trace lines", flush=True)


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


def client_orders_enumeration(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """A partner's script walks every customer's orders, eight requests at a time."""
    deadline = time.monotonic() + _bounded(seconds)
    tally, budget = traffic.Tally(), _Budget(ENUMERATOR_MAX)
    customers = iter(range(ENUMERATOR_MAX))
    lock = threading.Lock()

    def walk() -> None:
        while time.monotonic() < deadline and not stop.is_set() and budget.take():
            with lock:
                customer = next(customers)
            path = f"/api/orders?customer={customer}"
            tally.add(
                traffic.request(lab.nginx.url, path, client=ENUMERATOR, agent=ENUMERATOR_AGENT)
            )

    threads = [threading.Thread(target=walk, daemon=True) for _ in range(ENUMERATOR_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=_bounded(seconds) + 30)
    print(f"client-orders-enumeration: {dict(tally.counts)}", flush=True)


def _scan(lab: Lab, seconds: float, stop: threading.Event) -> traffic.Tally:
    deadline = time.monotonic() + _bounded(seconds)
    tally = traffic.Tally()
    for sent in range(SCANNER_MAX):
        if time.monotonic() >= deadline or stop.is_set():
            break
        started = time.monotonic()
        path = SCANNER_PATHS[sent % len(SCANNER_PATHS)]
        tally.add(traffic.request(lab.nginx.url, path, client=SCANNER, agent=SCANNER_AGENT))
        stop.wait(max(0.0, 1.0 / SCANNER_RATE - (time.monotonic() - started)))
    return tally


def nginx_deny_scanner_ok(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """A scanner blocked by a deny rule for its one address keeps probing: 403s."""
    tallies: list[traffic.Tally] = []
    scanner = threading.Thread(
        target=lambda: tallies.append(_scan(lab, seconds, stop)), daemon=True
    )
    rule = lab.nginx.path_of(f"{RULES_DIR}/{BLOCKLIST_RULE}-server.conf")
    rule.write_text(DENY_SCANNER, encoding="utf-8")
    try:
        lab.nginx.reload()
        scanner.start()
        stop.wait(_bounded(seconds))
    finally:
        if scanner.ident is not None:
            scanner.join(timeout=30)
        rule.unlink(missing_ok=True)
        lab.nginx.reload()
    print(f"nginx-deny-scanner-ok: {[dict(t.counts) for t in tallies]}", flush=True)


def _job_worker(
    lab: Lab, name: str, order: tuple[int, ...], gate: threading.Barrier, done: threading.Event
) -> list[str]:
    """One queue worker: claims the jobs in ``order`` in a transaction, retries a deadlock."""
    outcomes: list[str] = []
    connection = app_connection(lab.state)
    try:
        for _ in range(JOB_ROUNDS):
            try:
                gate.wait()
            except threading.BrokenBarrierError:
                break
            try:
                connection.begin()
                with connection.cursor() as cursor:
                    for job in order:
                        cursor.execute(
                            f"UPDATE {JOB_TABLE} SET state = 'claimed', owner = %s WHERE id = %s",
                            (name, job),
                        )
                        time.sleep(JOB_STEP)
                connection.commit()
                outcomes.append("claimed")
            except pymysql.MySQLError as problem:
                with contextlib.suppress(pymysql.MySQLError):
                    connection.rollback()
                outcomes.append(str(problem.args[0]))
            if done.wait(JOB_PAUSE):
                break
    finally:
        with contextlib.suppress(pymysql.MySQLError):
            connection.close()
    return outcomes


def mysql_deadlock_jobs_ok(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """Two queue workers claim jobs 1 and 2 in opposite orders: a deadlock each round."""
    with root_connection(lab.state) as connection, connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {JOB_TABLE} (id INT PRIMARY KEY, state VARCHAR(16) NOT NULL, "
            "owner VARCHAR(16)) ENGINE=InnoDB"
        )
        cursor.execute(
            f"INSERT INTO {JOB_TABLE} (id, state) SELECT seq, 'queued' FROM seq_1_to_{JOB_ROWS}"
        )
    deadline = time.monotonic() + _bounded(seconds)
    gate, done = threading.Barrier(2, timeout=30), threading.Event()
    results: dict[str, list[str]] = {}
    workers = [
        threading.Thread(
            target=lambda n=name, o=order: results.update({n: _job_worker(lab, n, o, gate, done)}),
            daemon=True,
        )
        for name, order in (("worker-a", (1, 2)), ("worker-b", (2, 1)))
    ]
    try:
        for worker in workers:
            worker.start()
        stop.wait(max(0.0, deadline - time.monotonic()))
    finally:
        done.set()
        gate.abort()
        for worker in workers:
            worker.join(timeout=30)
        with root_connection(lab.state) as connection, connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {JOB_TABLE}")
    print(f"mysql-deadlock-jobs-ok: {results}", flush=True)


def redis_replica_sync_ok(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """A temporary replica attached to the cache for a minute (a full sync), then stopped."""
    directory = lab.workdir / "redis-replica"
    directory.mkdir(exist_ok=True)
    port = free_port()
    command = [
        require_binary("redis-server"),
        *("--port", str(port), "--bind", LOOPBACK),
        *("--replicaof", lab.redis.host, str(lab.redis.port)),
        *("--save", "", "--appendonly", "no", "--dir", str(directory)),
        *("--daemonize", "no", "--loglevel", "notice"),
    ]
    replica = start_process("redis-replica", command, log_path=directory / "redis.log")
    try:
        stop.wait(min(REPLICA_SECONDS, _bounded(seconds)))
        with lab.redis.client() as client:
            print(f"redis-replica-sync-ok: {client.info('replication')}", flush=True)
    finally:
        replica.stop()
        shutil.rmtree(directory, ignore_errors=True)
    stop.wait(max(0.0, _bounded(seconds) - REPLICA_SECONDS))


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


def _limit(_: dict[str, Any]) -> list[tuple[str, str]]:
    return [(LIMIT, ENUMERATOR)]


def _scenario(name: str, description: str, expect: scenarios.Expect) -> scenarios.Scenario:
    return scenarios.Scenario(name, name, description, expect)


_NONE = scenarios._expect("none", None)

FAULTS: dict[str, tuple[Inject, scenarios.Scenario]] = {
    "mysql-grant-revoked": (
        mysql_grant_revoked,
        _scenario(
            "mysql-grant-revoked",
            "the app account's grants re-applied from a template without UPDATE: every "
            "view count refused (1142), every item request fails; orders fine",
            _forbid(scenarios._expect("mysql", "permission denied"), DRAIN, KILL, LIMIT),
        ),
    ),
    "redis-busy-script": (
        redis_busy_script,
        _scenario(
            "redis-busy-script",
            "a cleanup Lua script loops forever (SCAN's cursor compared with a number): "
            "Redis answers BUSY to every other command, the API's cache reads fail",
            _forbid(scenarios._expect("redis", "busy script"), DRAIN, KILL, LIMIT),
        ),
    ),
    "nginx-deny-cidr-typo": (
        nginx_deny_cidr_typo,
        _scenario(
            "nginx-deny-cidr-typo",
            "a block for one address pushed as deny 127.0.0.7/29: nginx denies the whole "
            "/29, every shopper gets 403; the API idle",
            _forbid(scenarios._expect("nginx", "misconfiguration"), DRAIN, KILL, LIMIT),
        ),
    ),
    "backend-strace-attached": (
        backend_strace_attached,
        _scenario(
            "backend-strace-attached",
            "strace -f attached to the second API instance in production: its system "
            "calls stop in the tracer, its requests slow; its siblings fine",
            _forbid(
                scenarios._expect("api", "tracing overhead", affected=_one, remediations=_drain),
                KILL,
                LIMIT,
            ),
        ),
    ),
    "client-orders-enumeration": (
        client_orders_enumeration,
        _scenario(
            "client-orders-enumeration",
            "a partner's script (127.0.0.71) walks every customer's orders, eight at a "
            "time: uncached MariaDB lookups, the service slower for everyone",
            _forbid(
                scenarios._expect(
                    "client", "request flood", clients=(ENUMERATOR,), remediations=_limit
                ),
                DRAIN,
                KILL,
            ),
        ),
    ),
    "nginx-deny-scanner-ok": (
        nginx_deny_scanner_ok,
        _scenario(
            "nginx-deny-scanner-ok",
            "a scanner (127.0.0.98) blocked by a deny rule for its address keeps probing: "
            "403s and 'access forbidden by rule' in nginx's log; no incident",
            _forbid(_NONE, DRAIN, KILL),
        ),
    ),
    "mysql-deadlock-jobs-ok": (
        mysql_deadlock_jobs_ok,
        _scenario(
            "mysql-deadlock-jobs-ok",
            "two job-queue workers claim two jobs in opposite orders every few seconds: "
            "deadlocks detected and retried on a table of their own; no incident",
            _forbid(_NONE, DRAIN, KILL, LIMIT),
        ),
    ),
    "redis-replica-sync-ok": (
        redis_replica_sync_ok,
        _scenario(
            "redis-replica-sync-ok",
            "a temporary replica attached to the cache for a backup: a full sync, then "
            "the replica stopped a minute later; no incident",
            _forbid(_NONE, DRAIN, KILL, LIMIT),
        ),
    ),
}


def main(argv: list[str] | None = None) -> int:
    return recorder(
        argv,
        faults=FAULTS,
        round_label="round-11",
        out=Path(__file__).with_name("lab"),
        workdir=REPO_ROOT / "out/rt11-lab",
        width=26,
    )


if __name__ == "__main__":
    raise SystemExit(main())
