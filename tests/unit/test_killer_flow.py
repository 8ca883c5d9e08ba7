"""kill-mysql-queries through the port with a fake server; Secret parsing; version parsing."""

from __future__ import annotations

import base64

import pytest

from diagnosis_operator.adapters.mysql import parse_server_version, settings_from_secret_data
from diagnosis_operator.models.actions import (
    InnodbTransaction,
    KillAudit,
    KillMode,
    KillPolicy,
    ProcessRow,
    ServerFlavor,
)
from diagnosis_operator.service.remediate.mysql_kill import execute_kill, select_kill
from tests.fakes.mysql import FakeMySQLAdmin


def _server() -> FakeMySQLAdmin:
    fake = FakeMySQLAdmin(own_id=10)
    fake.add(ProcessRow(10, "diag", "10.0.0.1:1", None, "Query", 0, "executing", "SELECT ...", 900))
    fake.add(
        ProcessRow(
            11, "app", "10.0.0.2:1", "shop", "Query", 40, "User sleep", "SELECT SLEEP(60)", 901
        )
    )
    fake.add(
        ProcessRow(
            12,
            "app",
            "10.0.0.2:2",
            "shop",
            "Query",
            25,
            "Sending data",
            "SELECT COUNT(*) FROM a, b",
            902,
        )
    )
    fake.add(
        ProcessRow(
            13, "app", "10.0.0.2:3", "shop", "Query", 30, "Updating", "UPDATE t SET v = 1", 903
        )
    )
    fake.add(
        ProcessRow(
            14, "event_scheduler", "localhost", None, "Daemon", 500, "Waiting on empty queue", None
        )
    )
    fake.trx.append(InnodbTransaction(thread_id=13, rows_modified=10_000, state="RUNNING"))
    return fake


def test_select_then_kill_audits_every_victim() -> None:
    fake = _server()
    proposal = select_kill(
        admin=fake, policy=KillPolicy(busy_time=5, victims="all"), component="mysql"
    )
    assert proposal.action.thread_ids == (11, 12)
    protected = {s.row.id: s.reason for s in proposal.selection.skipped if s.protected}
    assert set(protected) == {10, 13, 14}
    audits: list[KillAudit] = []
    records = execute_kill(
        admin=fake, action=proposal.action, now=100.0, audit=audits.append, print_only=False
    )
    assert [r.outcome for r in records] == ["killed", "killed"]
    assert audits == list(records)
    assert [k.query_id for k in fake.kills] == [901, 902]  # MariaDB: KILL QUERY ID
    assert [r.command for r in records] == ["KILL QUERY ID 901", "KILL QUERY ID 902"]
    assert fake.rows[11].info is None and fake.rows[13].info == "UPDATE t SET v = 1"


def test_print_only_kills_nothing_but_reports() -> None:
    fake = _server()
    proposal = select_kill(
        admin=fake, policy=KillPolicy(busy_time=5, victims="all"), component="mysql"
    )
    audits: list[KillAudit] = []
    execute_kill(admin=fake, action=proposal.action, now=1.0, audit=audits.append, print_only=True)
    assert fake.kills == []
    assert [(a.thread_id, a.executed, a.outcome) for a in audits] == [
        (11, False, "print-only"),
        (12, False, "print-only"),
    ]


def test_a_thread_that_changed_since_selection_is_not_killed() -> None:
    fake = _server()
    proposal = select_kill(
        admin=fake,
        policy=KillPolicy(busy_time=5, victims="all", mode="connection"),
        component="mysql",
    )
    # Thread 12 finished and its id now runs someone else's statement.
    fake.rows[12] = ProcessRow(12, "other", "10.0.0.9:1", "shop", "Query", 1, "", "SELECT 1", 950)
    del fake.rows[11]
    records = execute_kill(
        admin=fake, action=proposal.action, now=1.0, audit=lambda _: None, print_only=False
    )
    assert [r.outcome for r in records] == ["gone", "changed"]
    assert fake.kills == [] and 12 in fake.rows


def test_kill_connection_only_when_asked() -> None:
    fake = _server()
    proposal = select_kill(
        admin=fake, policy=KillPolicy(busy_time=5, mode="connection"), component="mysql"
    )
    records = execute_kill(
        admin=fake, action=proposal.action, now=1.0, audit=lambda _: None, print_only=False
    )
    assert records[0].command == "KILL CONNECTION 11"
    assert fake.kills[0].mode is KillMode.CONNECTION and 11 not in fake.rows


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_settings_from_secret_data() -> None:
    settings = settings_from_secret_data(
        data={
            "host": _b64("mysql.shop.svc"),
            "port": _b64("3307"),
            "user": _b64("diag"),
            "password": _b64("s3cr3t"),
            "database": _b64("shop"),
            "other": "ignored",
        },
    )
    assert (settings.host, settings.port, settings.user, settings.database) == (
        "mysql.shop.svc",
        3307,
        "diag",
        "shop",
    )
    assert settings.password.get_secret_value() == "s3cr3t"
    assert "s3cr3t" not in repr(settings)
    assert (
        settings_from_secret_data(
            data={"host": _b64("h"), "user": _b64("u"), "password": _b64("")}
        ).port
        == 3306
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"host": _b64("h"), "user": _b64("u")}, "missing key(s) password"),
        ({"host": "***", "user": _b64("u"), "password": _b64("p")}, "key 'host' is not base64"),
        (
            {"host": _b64("h"), "user": _b64("u"), "password": _b64("p"), "port": _b64("33o6")},
            "'port' is not a number",
        ),
        (
            {"host": _b64("h"), "user": _b64("u"), "password": _b64("p"), "port": _b64("70000")},
            "port",
        ),
    ],
)
def test_settings_errors_name_the_secret_and_key(data: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match="Secret shop/mysql") as info:
        settings_from_secret_data(data=data, source="Secret shop/mysql")
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("version", "comment", "flavor", "numbers", "by_query_id"),
    [
        ("10.11.6-MariaDB-0+deb12u1", "Debian 12", ServerFlavor.MARIADB, (10, 11, 6), True),
        (
            "5.5.5-10.3.39-MariaDB",
            "mariadb.org binary distribution",
            ServerFlavor.MARIADB,
            (10, 3, 39),
            True,
        ),
        ("8.0.36", "MySQL Community Server - GPL", ServerFlavor.MYSQL, (8, 0, 36), False),
    ],
)
def test_parse_server_version(
    version: str,
    comment: str,
    flavor: ServerFlavor,
    numbers: tuple[int, int, int],
    by_query_id: bool,
) -> None:
    info = parse_server_version(version, comment)
    assert (info.flavor, info.version, info.kills_by_query_id) == (flavor, numbers, by_query_id)
