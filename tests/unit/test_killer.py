"""pt-kill-parity selection: protection, match/ignore, busy time, victims, kill commands."""

from __future__ import annotations

from dataclasses import replace

import pytest

from diagnosis_operator.core.remediation.killer import (
    audit_record,
    kill_command,
    select_victims,
)
from diagnosis_operator.models.actions import (
    InnodbTransaction,
    KillMode,
    KillPolicy,
    ProcessRow,
    ServerFlavor,
    ServerInfo,
)
from diagnosis_operator.models.sqltext import NotASelect, digest, fingerprint, validated_select

OWN = 99


def row(
    thread_id: int,
    *,
    user: str = "app",
    host: str = "10.9.8.7:40000",
    db: str | None = "shop",
    command: str = "Query",
    time: float = 30,
    state: str | None = "Sending data",
    info: str | None = "SELECT * FROM orders WHERE status = 'X'",
    query_id: int | None = None,
) -> ProcessRow:
    return ProcessRow(
        id=thread_id,
        user=user,
        host=host,
        db=db,
        command=command,
        time=time,
        state=state,
        info=info,
        query_id=query_id,
    )


def select(rows: list[ProcessRow], policy: KillPolicy, trx: list[InnodbTransaction] | None = None):  # type: ignore[no-untyped-def]
    return select_victims(
        processes=rows, transactions=trx or [], policy=policy, own_connection_id=OWN
    )


def ids(selection) -> list[int]:  # type: ignore[no-untyped-def]
    return [victim.row.id for victim in selection.victims]


def reasons(selection) -> dict[int, str]:  # type: ignore[no-untyped-def]
    return {skip.row.id: skip.reason for skip in selection.skipped}


ALL = KillPolicy(busy_time=10, victims="all")


def test_busy_time_matches_only_busy_commands_over_the_limit() -> None:
    rows = [
        row(1, time=11),
        row(2, time=10),
        row(3, command="Sleep", time=500),
        row(4, command="Execute", time=20),
    ]
    selection = select(rows, ALL)
    assert ids(selection) == [1, 4]
    assert "not over busyTime" in reasons(selection)[2]
    assert "not busy" in reasons(selection)[3]


def test_idle_time_matches_sleepers() -> None:
    rows = [row(1, command="Sleep", time=500, info=None), row(2, time=500)]
    selection = select(rows, KillPolicy(idle_time=300, victims="all"))
    assert ids(selection) == [1]


def test_busy_and_idle_time_are_exclusive() -> None:
    with pytest.raises(ValueError, match="mutually exclusive"):
        KillPolicy(busy_time=1, idle_time=1)


def test_nothing_matches_without_a_match_option_unless_match_all() -> None:
    rows = [row(1), row(2)]
    assert ids(select(rows, KillPolicy(victims="all"))) == []
    assert ids(select(rows, KillPolicy(match_all=True, victims="all"))) == [1, 2]


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("match_user", "^rep", [2]),
        ("match_host", r"^10\.0\.", [3]),
        ("match_db", "^analytics$", [2]),
        ("match_command", "^Execute$", [3]),
        ("match_state", "temporary", [2]),
        ("match_info", "(?i)from payments", [3]),
    ],
)
def test_match_options_are_regexes_on_their_field(
    option: str, value: str, expected: list[int]
) -> None:
    rows = [
        row(1),
        row(2, user="reporting", db="analytics", state="Copying to tmp table (temporary)"),
        row(3, host="10.0.0.4:1234", command="Execute", info="select * from payments"),
    ]
    policy = KillPolicy.model_validate({"busyTime": 10, "victims": "all", option: value})
    assert ids(select(rows, policy)) == expected


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("ignore_user", "^reporting$", [1, 3]),
        ("ignore_host", r"^10\.0\.", [1, 2]),
        ("ignore_db", "analytics", [1, 3]),
        ("ignore_command", "Execute", [1, 2]),
        ("ignore_state", "temporary", [1, 3]),
        ("ignore_info", "payments", [1, 2]),
    ],
)
def test_ignore_options_drop_matching_threads(option: str, value: str, expected: list[int]) -> None:
    rows = [
        row(1),
        row(2, user="reporting", db="analytics", state="Copying to tmp table (temporary)"),
        row(3, host="10.0.0.4:1234", command="Execute", info="select * from payments"),
    ]
    policy = KillPolicy.model_validate({"busyTime": 10, "victims": "all", option: value})
    selection = select(rows, policy)
    assert ids(selection) == expected
    assert any(r.startswith("ignored:") for r in reasons(selection).values())


def test_all_match_options_must_match() -> None:
    rows = [row(1, user="a", db="x"), row(2, user="a", db="y"), row(3, user="b", db="x")]
    policy = KillPolicy(busy_time=10, match_user="^a$", match_db="^x$", victims="all")
    assert ids(select(rows, policy)) == [1]


def test_victims_oldest_all_and_all_but_oldest() -> None:
    rows = [row(1, time=20), row(2, time=50), row(3, time=35)]
    assert ids(select(rows, KillPolicy(busy_time=10))) == [2]  # pt-kill default: oldest
    assert ids(select(rows, KillPolicy(busy_time=10, victims="all"))) == [1, 2, 3]
    selection = select(rows, KillPolicy(busy_time=10, victims="all-but-oldest"))
    assert ids(selection) == [1, 3]
    assert "oldest" in reasons(selection)[2]


def test_victims_apply_per_class() -> None:
    rows = [
        row(1, user="a", time=20),
        row(2, user="a", time=50),
        row(3, user="b", time=15),
        row(4, user="b", time=16),
    ]
    selection = select(rows, KillPolicy(busy_time=10, group_by="user"))
    assert ids(selection) == [2, 4]
    fp_rows = [
        row(1, info="SELECT 1 FROM t WHERE a = 1", time=20),
        row(2, info="select 1 from t where a = 7", time=40),
        row(3, info="UPDATE t SET a = 1", time=30),
    ]
    assert ids(select(fp_rows, KillPolicy(busy_time=10, group_by="fingerprint"))) == [2, 3]


@pytest.mark.parametrize(
    ("protected_row", "reason"),
    [
        (row(OWN), "own connection"),
        (
            row(
                2,
                user="system user",
                command="Connect",
                info=None,
                state="Waiting for master to send event",
            ),
            "replication",
        ),
        (
            row(
                3,
                user="repl",
                command="Binlog Dump",
                info=None,
                state="Master has sent all binlog to slave",
            ),
            "replication",
        ),
        (row(4, user="repl", command="Binlog Dump GTID", info=None), "replication"),
        (
            row(
                5,
                user="system user",
                command="Slave_SQL",
                info=None,
                state="Slave has read all relay log",
            ),
            "replication",
        ),
        (
            row(
                6,
                user="event_scheduler",
                command="Daemon",
                info=None,
                state="Waiting on empty queue",
            ),
            "event scheduler",
        ),
        (
            row(
                7,
                user="system user",
                host="",
                command="Daemon",
                info=None,
                state="InnoDB purge worker",
            ),
            "daemon",
        ),
        (row(8, user="root"), "protected user"),
        (row(9, info="ALTER TABLE orders ADD COLUMN x INT"), "DDL"),
        (row(10, info="/* tool */ OPTIMIZE TABLE orders"), "DDL"),
        (row(11, info="CREATE INDEX i ON orders (status)"), "DDL"),
        (row(12, info="repair table orders"), "DDL"),
        (row(13, command="Killed"), "daemon"),
    ],
)
def test_protected_threads_are_never_killed_even_with_match_all(
    protected_row: ProcessRow, reason: str
) -> None:
    selection = select([protected_row, row(50)], KillPolicy(match_all=True, victims="all"))
    assert ids(selection) == [50]
    skipped = selection.skipped[0]
    assert skipped.protected is True
    assert reason in skipped.reason


def test_large_write_transactions_are_protected_unless_allowed() -> None:
    rows = [
        row(1, info="UPDATE orders SET status = 'x'"),
        row(2, info="UPDATE orders SET status = 'y'"),
    ]
    trx = [
        InnodbTransaction(thread_id=1, rows_modified=50_000, state="RUNNING"),
        InnodbTransaction(thread_id=2, rows_modified=3, state="RUNNING"),
    ]
    policy = KillPolicy(busy_time=10, victims="all", max_rows_modified=1000)
    selection = select(rows, policy, trx)
    assert ids(selection) == [2]
    assert "50000 modified rows" in reasons(selection)[1]
    allowed = policy.model_copy(update={"allow_large_transactions": True})
    assert ids(select(rows, allowed, trx)) == [1, 2]


def test_ddl_killable_only_when_allowed() -> None:
    rows = [row(1, info="ALTER TABLE orders ENGINE=InnoDB")]
    assert ids(select(rows, KillPolicy(busy_time=10))) == []
    assert ids(select(rows, KillPolicy(busy_time=10, allow_ddl=True))) == [1]


def test_protected_users_are_configurable_and_case_insensitive() -> None:
    rows = [row(1, user="Admin"), row(2, user="root")]
    policy = KillPolicy(busy_time=10, victims="all", protected_users=("admin",))
    assert ids(select(rows, policy)) == [2]


def test_invalid_regex_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"matchInfo: invalid regex"):
        KillPolicy.model_validate({"matchInfo": "(unclosed"})


def test_every_row_is_accounted_for() -> None:
    rows = [row(i, time=i) for i in range(1, 30)] + [row(OWN), row(100, user="root")]
    selection = select(rows, KillPolicy(busy_time=10, victims="all-but-oldest"))
    seen = sorted(ids(selection) + [s.row.id for s in selection.skipped])
    assert seen == sorted(r.id for r in rows)


MARIADB = ServerInfo(
    flavor=ServerFlavor.MARIADB, version=(10, 11, 6), version_string="10.11.6-MariaDB"
)
MYSQL = ServerInfo(flavor=ServerFlavor.MYSQL, version=(8, 0, 36), version_string="8.0.36")


def test_kill_command_uses_query_id_on_mariadb_only() -> None:
    victim = row(7, query_id=1234)
    assert kill_command(row=victim, mode=KillMode.QUERY, server=MARIADB).query_id == 1234
    assert kill_command(row=victim, mode=KillMode.QUERY, server=MYSQL).query_id is None
    old = replace(MARIADB, version=(10, 0, 4))
    assert kill_command(row=victim, mode=KillMode.QUERY, server=old).query_id is None
    connection = kill_command(row=victim, mode=KillMode.CONNECTION, server=MARIADB)
    assert connection.query_id is None and connection.mode is KillMode.CONNECTION


def test_kill_command_refuses_non_int_ids() -> None:
    from diagnosis_operator.models.actions import KillCommand

    with pytest.raises(ValueError):
        KillCommand(thread_id="1; DROP TABLE x", mode=KillMode.QUERY)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        KillCommand(thread_id=0, mode=KillMode.QUERY)
    with pytest.raises(ValueError):
        KillCommand(thread_id=3, mode=KillMode.CONNECTION, query_id=5)


def test_fingerprint_folds_literals_and_lists() -> None:
    a = fingerprint("SELECT * FROM t WHERE id IN (1, 2, 3) AND name = 'bob' -- c\n")
    b = fingerprint('select *   from t where id in (7) and name = "al\\"ice"')
    assert a == b == "select * from t where id in(?+) and name = ?"
    assert digest("SELECT 1 FROM t WHERE a = 5") == digest("/* x */ select 1 from t where a = 99;")
    assert digest("SELECT 1 FROM t WHERE a = 5") != digest("SELECT 1 FROM u WHERE a = 5")
    assert fingerprint("SELECT * FROM t1 WHERE c2 = 0x1F") == "select * from t1 where c2 = ?"


def test_audit_record_carries_identity_digest_and_reason() -> None:
    selection = select([row(5, query_id=77)], KillPolicy(busy_time=10))
    victim = selection.victims[0]
    command = kill_command(row=victim.row, mode=KillMode.QUERY, server=MARIADB)
    audit = audit_record(
        victim=victim, command=command, server="mysql", at=1.0, executed=True, outcome="killed"
    )
    assert audit.command == "KILL QUERY ID 77"
    assert (audit.thread_id, audit.user, audit.host, audit.db, audit.time) == (
        5,
        "app",
        "10.9.8.7:40000",
        "shop",
        30,
    )
    assert audit.digest == digest(victim.row.info or "")
    assert "busy 30 s > 10 s" in audit.reason
    assert audit.to_json()["threadId"] == 5


def test_still_running_in_detects_reuse() -> None:
    before = row(5, time=30, query_id=8)
    assert before.still_running_in(replace(before, time=31))
    assert not before.still_running_in(replace(before, info="SELECT 2"))
    assert not before.still_running_in(replace(before, user="other"))
    assert not before.still_running_in(replace(before, time=1))  # a new statement started
    assert not before.still_running_in(replace(before, query_id=9))


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM payments WHERE status = 'FAILED'",
        "  /* app */ select a from t where b = ';' ;",
        "(SELECT 1) UNION (SELECT 2)",
    ],
)
def test_validated_select_accepts_single_selects(statement: str) -> None:
    assert validated_select(statement).lower().lstrip("( ").startswith("select")


@pytest.mark.parametrize(
    ("statement", "why"),
    [
        ("DELETE FROM t", "only SELECT"),
        ("SELECT 1; DROP TABLE t", "more than one statement"),
        ("SELECT 1 /* ; */; UPDATE t SET a = 1", "more than one statement"),
        ("SELECT * FROM t INTO OUTFILE '/tmp/x'", "INTO"),
        ("SELECT * FROM t FOR UPDATE", "FOR UPDATE"),
        ("SELECT 'unterminated", "unterminated"),
        ("   ", "empty"),
        ("-- only a comment\n", "only SELECT"),
    ],
)
def test_validated_select_refuses_everything_else(statement: str, why: str) -> None:
    with pytest.raises(NotASelect, match=why):
        validated_select(statement)


def test_class_filters_query_count_any_and_each_busy_time() -> None:
    rows = [row(1, user="a", time=5), row(2, user="a", time=50), row(3, user="b", time=6)]
    base = {"matchAll": True, "victims": "all", "groupBy": "user"}
    assert ids(select(rows, KillPolicy.model_validate({**base, "queryCount": 2}))) == [1, 2]
    assert ids(select(rows, KillPolicy.model_validate({**base, "anyBusyTime": 10}))) == [1, 2]
    assert ids(select(rows, KillPolicy.model_validate({**base, "eachBusyTime": 5.5}))) == [3]
    spared = reasons(select(rows, KillPolicy.model_validate({**base, "queryCount": 2})))
    assert "fewer than queryCount 2" in spared[3]
