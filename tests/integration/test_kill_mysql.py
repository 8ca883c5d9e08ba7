"""kill-mysql-queries on a real MariaDB.

Victims run in their own connections on threads; the operator's adapter (its own
least-privilege account) selects and kills them.  Waits are bounded polls that
fail the test after a deadline; nothing asserts on durations.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymysql
import pytest

from diagnosis_operator.adapters.mysql import MySQLConnectionSettings, PyMySQLAdmin
from diagnosis_operator.core.diagnosis.enrich import filter_columns, index_columns, table_references
from diagnosis_operator.models.actions import KillAudit, KillPolicy, ServerFlavor
from diagnosis_operator.models.sqltext import NotASelect
from diagnosis_operator.service.remediate.mysql_kill import execute_kill, select_kill
from tests.services.mariadb import MariaDBServer

pytestmark = pytest.mark.integration

DEADLINE = 30.0
SLEEP_SQL = "SELECT SLEEP(60) /* victim-sleep */"
SCAN_SQL = (
    "SELECT COUNT(*) FROM scan_t a, scan_t b, scan_t c WHERE a.v + b.v + c.v < 0 /* victim-scan */"
)
ER_QUERY_INTERRUPTED = 1317
CR_SERVER_LOST = (2013, 2006)


def poll(check: Callable[[], Any], *, what: str, deadline: float = DEADLINE) -> Any:
    end = time.monotonic() + deadline
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            pytest.fail(f"gave up after {deadline:.0f} s waiting for {what}")
        time.sleep(0.2)


@dataclass
class Runner:
    """One statement on its own connection in a thread; remembers how it ended."""

    params: dict[str, Any]
    statements: list[str]
    connection_id: int = 0
    error: BaseException | None = None
    result: Any = None
    started: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    keep_open: bool = False
    connection: Any = None

    def start(self) -> Runner:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if not self.started.wait(DEADLINE):
            pytest.fail(f"runner for {self.statements[-1]!r} did not connect")
        return self

    def _run(self) -> None:
        connection = pymysql.connect(**{**self.params, "autocommit": False, "read_timeout": 120})
        self.connection = connection
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT CONNECTION_ID()")
                self.connection_id = int(cursor.fetchone()[0])
                self.started.set()
                for statement in self.statements:
                    cursor.execute(statement)
                    self.result = cursor.fetchall()
        except BaseException as error:  # recorded for the assertion
            self.error = error
        finally:
            self.started.set()
            if not self.keep_open:
                with contextlib.suppress(pymysql.MySQLError):
                    connection.close()

    def join(self) -> None:
        assert self.thread is not None
        self.thread.join(DEADLINE)
        if self.thread.is_alive():
            pytest.fail(f"{self.statements[-1]!r} still running after {DEADLINE:.0f} s")


@pytest.fixture(scope="module")
def prepared(mariadb_server: MariaDBServer) -> MariaDBServer:
    with mariadb_server.app() as connection, connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS scan_t, ddl_t, write_t")
        cursor.execute("CREATE TABLE scan_t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB")
        cursor.execute("INSERT INTO scan_t SELECT seq, seq % 97 FROM seq_1_to_3000")
        cursor.execute("CREATE TABLE ddl_t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB")
        cursor.execute("INSERT INTO ddl_t VALUES (1, 1)")
        cursor.execute("CREATE TABLE write_t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB")
        cursor.execute("INSERT INTO write_t SELECT seq, 0 FROM seq_1_to_5000")
    return mariadb_server


@pytest.fixture(scope="module")
def operator_settings(prepared: MariaDBServer) -> MySQLConnectionSettings:
    params = prepared.create_user(
        name="diag_operator",
        password="diag-operator-pw",
        # Least privilege: see and kill threads; read the app schema so EXPLAIN can plan.
        grants=["PROCESS ON *.*", "CONNECTION ADMIN ON *.*", f"SELECT ON `{prepared.database}`.*"],
    )
    return MySQLConnectionSettings(
        host=params["host"], port=params["port"], user=params["user"], password=params["password"]
    )


@pytest.fixture
def admin(operator_settings: MySQLConnectionSettings) -> Generator[PyMySQLAdmin, None, None]:
    adapter = PyMySQLAdmin(settings=operator_settings, name="mariadb-test")
    yield adapter
    adapter.close()


@pytest.fixture
def cleanup(prepared: MariaDBServer) -> Generator[list[Runner], None, None]:
    runners: list[Runner] = []
    yield runners
    with prepared.root() as connection, connection.cursor() as cursor:
        for runner in runners:
            if runner.connection_id:
                with contextlib.suppress(pymysql.MySQLError):
                    cursor.execute("KILL CONNECTION %s", (runner.connection_id,))
    for runner in runners:
        if runner.thread is not None:
            runner.thread.join(DEADLINE)
        if runner.connection is not None and runner.connection.open:
            with contextlib.suppress(pymysql.MySQLError):
                runner.connection.close()


def _info(admin: PyMySQLAdmin, thread_id: int) -> str | None:
    row = admin.thread(thread_id)
    return None if row is None else row.info


def _busy(admin: PyMySQLAdmin, thread_id: int, *, over: float) -> bool:
    row = admin.thread(thread_id)
    return row is not None and row.info is not None and row.time > over


def test_server_flavor_is_detected(admin: PyMySQLAdmin) -> None:
    info = admin.server_info()
    assert info.flavor is ServerFlavor.MARIADB
    assert info.kills_by_query_id is True


def test_slow_queries_are_killed_and_protected_threads_are_left_alone(
    prepared: MariaDBServer, admin: PyMySQLAdmin, cleanup: list[Runner], tmp_path: Path
) -> None:
    app = prepared.connect_params()
    # Protected threads first.
    with prepared.root() as connection, connection.cursor() as cursor:
        cursor.execute("SET GLOBAL event_scheduler = ON")
    holder = Runner(app, ["BEGIN", "SELECT * FROM ddl_t"], keep_open=True).start()
    cleanup.append(holder)
    holder.join()  # the open transaction holds a metadata lock on ddl_t
    ddl = Runner(app, ["ALTER TABLE ddl_t ADD COLUMN extra INT"]).start()
    big_write = Runner(app, ["BEGIN", "UPDATE write_t SET v = v + 1", "SELECT SLEEP(60)"]).start()
    sleeper = Runner(app, [SLEEP_SQL]).start()
    scanner = Runner(app, [SCAN_SQL]).start()
    cleanup.extend([ddl, big_write, sleeper, scanner])

    policy = KillPolicy(busy_time=1, victims="all", max_rows_modified=1000)
    for runner in (ddl, big_write, sleeper, scanner):
        statement = runner.statements[-1]

        def busy(r: Runner = runner) -> bool:
            return _busy(admin, r.connection_id, over=1)

        poll(busy, what=f"{statement!r} busy")
    poll(
        lambda: any(row.user == "event_scheduler" for row in admin.processlist()),
        what="the event scheduler thread",
    )

    audit_file = tmp_path / "kills.jsonl"

    def write_audit(record: KillAudit) -> None:
        with audit_file.open("a") as out:
            out.write(json.dumps(record.to_json()) + "\n")

    proposal = select_kill(admin=admin, policy=policy, component="mariadb")
    assert set(proposal.action.thread_ids) == {sleeper.connection_id, scanner.connection_id}
    protected = {s.row.id: s.reason for s in proposal.selection.skipped if s.protected}
    assert "DDL" in protected[ddl.connection_id]
    assert "modified rows" in protected[big_write.connection_id]
    assert any("event scheduler" in reason for reason in protected.values())

    records = execute_kill(
        admin=admin, action=proposal.action, now=time.time(), audit=write_audit, print_only=False
    )
    assert [r.outcome for r in records] == ["killed", "killed"]

    for runner in (sleeper, scanner):
        runner.join()
    # Both clients see the kill: MariaDB interrupts SLEEP and the scan with error 1317.
    for runner in (sleeper, scanner):
        assert isinstance(runner.error, pymysql.err.OperationalError), runner.result
        assert runner.error.args[0] == ER_QUERY_INTERRUPTED
    for runner in (sleeper, scanner):

        def gone(r: Runner = runner) -> bool:
            return _info(admin, r.connection_id) is None

        poll(gone, what="killed statement gone")

    # Protected threads still run their statements.
    assert _info(admin, ddl.connection_id) == "ALTER TABLE ddl_t ADD COLUMN extra INT"
    assert _info(admin, big_write.connection_id) == "SELECT SLEEP(60)"
    assert any(row.user == "event_scheduler" for row in admin.processlist())

    lines = [json.loads(line) for line in audit_file.read_text().splitlines()]
    assert {line["threadId"] for line in lines} == {sleeper.connection_id, scanner.connection_id}
    for line in lines:
        assert line["user"] == prepared.app_user
        assert line["host"].startswith("127.0.0.1")
        assert line["db"] == prepared.database
        assert line["command"].startswith("KILL QUERY ID ")
        assert len(line["digest"]) == 16 and line["reason"].startswith("matched: busy")
        assert line["executed"] is True

    with prepared.root() as connection, connection.cursor() as cursor:
        cursor.execute("SET GLOBAL event_scheduler = OFF")


def test_print_only_kills_nothing_and_own_connection_is_protected(
    prepared: MariaDBServer, admin: PyMySQLAdmin, cleanup: list[Runner]
) -> None:
    sleeper = Runner(prepared.connect_params(), [SLEEP_SQL]).start()
    cleanup.append(sleeper)
    poll(lambda: _busy(admin, sleeper.connection_id, over=1), what="sleeper busy")

    policy = KillPolicy(match_all=True, victims="all", print_only=True)
    proposal = select_kill(admin=admin, policy=policy, component="mariadb")
    assert sleeper.connection_id in proposal.action.thread_ids
    own = {s.row.id: s.reason for s in proposal.selection.skipped}
    assert "own connection" in own[proposal.own_connection_id]

    audits: list[KillAudit] = []
    execute_kill(
        admin=admin,
        action=proposal.action,
        now=0.0,
        audit=audits.append,
        print_only=policy.print_only,
    )
    assert audits and all(a.outcome == "print-only" and not a.executed for a in audits)
    # Still running: print-only changed nothing.
    assert _info(admin, sleeper.connection_id) == SLEEP_SQL
    assert sleeper.thread is not None and sleeper.thread.is_alive()


def test_kill_connection_only_when_asked(
    prepared: MariaDBServer, admin: PyMySQLAdmin, cleanup: list[Runner]
) -> None:
    sleeper = Runner(prepared.connect_params(), [SLEEP_SQL]).start()
    cleanup.append(sleeper)
    poll(lambda: _busy(admin, sleeper.connection_id, over=1), what="sleeper busy")
    policy = KillPolicy(busy_time=1, match_info="victim-sleep", mode="connection")
    proposal = select_kill(admin=admin, policy=policy, component="mariadb")
    assert proposal.action.thread_ids == (sleeper.connection_id,)
    (record,) = execute_kill(
        admin=admin, action=proposal.action, now=0.0, audit=lambda _: None, print_only=False
    )
    assert record.command == f"KILL CONNECTION {sleeper.connection_id}"
    sleeper.join()
    assert isinstance(sleeper.error, pymysql.err.OperationalError)
    assert sleeper.error.args[0] in CR_SERVER_LOST
    poll(lambda: admin.thread(sleeper.connection_id) is None, what="connection gone")


def test_explain_only_for_single_selects(admin: PyMySQLAdmin, prepared: MariaDBServer) -> None:
    statement = f"SELECT * FROM `{prepared.database}`.scan_t WHERE v = 5"
    rows = admin.explain(statement=statement)
    assert rows[0].access_type == "ALL"
    (table,) = table_references(statement)
    assert index_columns(table=table, tables=[table], filters=filter_columns(statement)) == ("v",)
    for refused in (
        f"DELETE FROM `{prepared.database}`.scan_t",
        f"SELECT 1; DROP TABLE `{prepared.database}`.scan_t",
    ):
        with pytest.raises(NotASelect):
            admin.explain(statement=refused)
    with prepared.app() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM scan_t")
        assert cursor.fetchone()[0] == 3000


def test_the_idle_lock_holder_is_killed_not_the_updates_waiting_on_it(
    prepared: MariaDBServer, admin: PyMySQLAdmin, cleanup: list[Runner]
) -> None:
    """A transaction left open (Command=Sleep) blocks UPDATEs of its row: kill it, only it."""
    app = prepared.connect_params()
    update = "UPDATE write_t SET v = v + 1 WHERE id = 4242"
    holder = Runner(app, ["BEGIN", update], keep_open=True).start()
    cleanup.append(holder)
    holder.join()  # its statement is done; its transaction and row lock stay
    waiters = [Runner(app, ["BEGIN", f"{update} /* waiter {n} */"]).start() for n in range(3)]
    cleanup.extend(waiters)

    def all_waiting() -> bool:
        states = {trx.thread_id: trx.state for trx in admin.transactions()}
        return all(states.get(w.connection_id) == "LOCK WAIT" for w in waiters)

    poll(all_waiting, what="the updates waiting for the row lock", deadline=4.0)
    policy = KillPolicy(match_blocker=True, victims="all", mode="connection")
    proposal = select_kill(admin=admin, policy=policy, component="mariadb")
    assert proposal.action.thread_ids == (holder.connection_id,)
    (victim,) = proposal.selection.victims
    assert victim.row.command == "Sleep" and "blocker" in victim.reason
    (record,) = execute_kill(
        admin=admin, action=proposal.action, now=0.0, audit=lambda _: None, print_only=False
    )
    assert record.command == f"KILL CONNECTION {holder.connection_id}"
    for waiter in waiters:  # each gets the row in turn as the one before it ends
        waiter.join()
        assert waiter.error is None, waiter.error
