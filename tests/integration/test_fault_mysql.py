"""Fault suite: MySQL authentication fails in the middle of a kill (real MariaDB).

Two slow statements are selected for a kill.  After the first kill is audited,
the operator's account loses its password and its connection is cut (as a
rotated Secret or a revoked grant would do), so the second kill cannot even log
in.  Then:

* end state: the first statement was killed, the second still runs; the
  remediation's outcome names the kill that failed and the server's error;
* nothing lost: one audit record per victim, the failed one with
  ``executed: false`` and the "Access denied" answer;
* nothing done twice: once the password is back, resuming (as the flow's
  ``resume`` does: read the processlist again, skip what the audit says was
  killed) kills only the second statement.
"""

from __future__ import annotations

import time
from typing import Any

import pymysql
import pytest

from diagnosis_operator.adapters.mysql import MySQLConnectionSettings, PyMySQLAdmin
from diagnosis_operator.api import RemediationState
from diagnosis_operator.models.actions import KillAudit, KillPolicy, KillQueries
from diagnosis_operator.models.sqltext import digest
from diagnosis_operator.service.remediate.kill import _kill_outcome
from diagnosis_operator.service.remediate.mysql_kill import execute_kill, select_kill
from tests.integration.test_kill_mysql import (
    ER_QUERY_INTERRUPTED,
    Runner,
    _busy,
    _info,
    cleanup,
    poll,
    prepared,
)
from tests.services.mariadb import MariaDBServer

pytestmark = pytest.mark.integration
__all__ = ["cleanup", "prepared"]  # fixtures, used by name

USER = "diag_rotated"
PASSWORD = "first-password"


def _account(server: MariaDBServer, *, password: str) -> None:
    with server.root() as connection, connection.cursor() as cursor:
        cursor.execute("ALTER USER %s@'127.0.0.1' IDENTIFIED BY %s", (USER, password))


def test_an_auth_failure_mid_kill_is_audited_and_resumed_without_repeating(
    prepared: MariaDBServer, cleanup: list[Runner]
) -> None:
    params = prepared.create_user(
        name=USER,
        password=PASSWORD,
        grants=["PROCESS ON *.*", "CONNECTION ADMIN ON *.*", f"SELECT ON `{prepared.database}`.*"],
    )
    _account(prepared, password=PASSWORD)
    settings = MySQLConnectionSettings(
        host=params["host"], port=params["port"], user=USER, password=PASSWORD
    )
    admin = PyMySQLAdmin(settings=settings, name="mariadb-rotated")
    app = prepared.connect_params()
    first = Runner(app, ["SELECT SLEEP(60) /* victim-one */"]).start()
    second = Runner(app, ["SELECT SLEEP(60) /* victim-two */"]).start()
    cleanup.extend([first, second])
    try:
        for runner in (first, second):

            def busy(r: Runner = runner) -> bool:
                return _busy(admin, r.connection_id, over=1)

            poll(busy, what="victim busy")
        policy = KillPolicy(busy_time=1, victims="all")
        proposal = select_kill(admin=admin, policy=policy, component="mariadb")
        ordered = sorted(proposal.action.victims, key=lambda row: row.id != first.connection_id)
        assert [row.id for row in ordered] == [first.connection_id, second.connection_id]
        action = KillQueries(
            component="mariadb", victims=tuple(ordered), mode=policy.mode, reason="busy"
        )
        audited: list[KillAudit] = []

        def audit(record: KillAudit) -> None:
            audited.append(record)
            if len(audited) == 1:  # the password rotates between the two kills
                _account(prepared, password="rotated-elsewhere")
                with prepared.root() as connection, connection.cursor() as cursor:
                    cursor.execute("KILL CONNECTION %s", (proposal.own_connection_id,))

        records = execute_kill(
            admin=admin, action=action, now=time.time(), audit=audit, print_only=False
        )
        assert records[0].outcome == "killed"
        assert records[1].executed is False and "Access denied" in records[1].outcome
        assert [r.thread_id for r in audited] == [first.connection_id, second.connection_id]
        state, reason = _kill_outcome("mariadb", records)
        assert state is RemediationState.SUCCEEDED
        assert "1 not killed" in reason and "Access denied" in reason
        first.join()
        assert isinstance(first.error, pymysql.err.OperationalError)
        assert first.error.args[0] == ER_QUERY_INTERRUPTED
        assert _info_as_root(prepared, second.connection_id) == "SELECT SLEEP(60) /* victim-two */"

        # The password is back: resume as KillFlow.resume does, skipping what was killed.
        _account(prepared, password=PASSWORD)
        done = {(r.thread_id, r.digest) for r in records if r.executed}
        again = select_kill(admin=admin, policy=policy, component="mariadb")
        remaining = tuple(
            row for row in again.action.victims if (row.id, digest(row.info or "")) not in done
        )
        assert [row.id for row in remaining] == [second.connection_id]
        resumed = execute_kill(
            admin=admin,
            action=KillQueries(
                component="mariadb", victims=remaining, mode=policy.mode, reason="busy"
            ),
            now=time.time(),
            audit=lambda _record: None,
            print_only=False,
        )
        assert [r.outcome for r in resumed] == ["killed"]
        second.join()
        assert _info(admin, second.connection_id) is None
    finally:
        admin.close()


def _info_as_root(server: MariaDBServer, thread_id: int) -> Any:
    with server.root() as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT INFO FROM information_schema.PROCESSLIST WHERE ID = %s", (thread_id,)
        )
        row = cursor.fetchone()
    return None if row is None else row[0]
